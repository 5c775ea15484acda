"""Reading and writing the CLI's tables (CSV or Parquet by file suffix); CSV cells are read as text."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl


def read_table(path: Path) -> pl.DataFrame:
    """A CSV (all columns as text, so nothing is guessed) or Parquet file; ValueError names the file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        msg = f"{path}: the file name must end in .csv or .parquet"
        raise ValueError(msg)
    try:
        return pl.read_csv(path, infer_schema=False) if suffix == ".csv" else pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        msg = f"{path}: cannot be read: {str(error).splitlines()[0]}"
        raise ValueError(msg) from None


def check_destination(path: Path, *, suffixes: tuple[str, ...]) -> None:
    """ValueError unless `path` has one of `suffixes` and its directory exists and is writable: checked before any
    work is asked of the service, so a typo in an output name wastes nothing."""
    if path.suffix.lower() not in suffixes:
        msg = f"{path}: the output name must end in {' or '.join(suffixes)}"
        raise ValueError(msg)
    directory = path.parent
    if not directory.is_dir():
        msg = f"{path}: no such directory {str(directory)!r}"
        raise ValueError(msg)
    if not os.access(directory, os.W_OK):
        msg = f"{path}: the directory {str(directory)!r} is not writable"
        raise ValueError(msg)


def write_table(table: pl.DataFrame, path: Path) -> None:
    """CSV (list columns joined with `;`) or Parquet, by suffix."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table.write_parquet(path)
    elif suffix == ".csv":
        lists = [name for name, dtype in table.schema.items() if isinstance(dtype, pl.List)]
        table.with_columns(pl.col(name).list.join(";") for name in lists).write_csv(path)
    else:
        msg = f"{path}: the output name must end in .csv or .parquet"
        raise ValueError(msg)
