"""Graph files in and out: CSV or Parquet bytes <-> raw tables, errors naming the file, row and column."""

from __future__ import annotations

import io
from enum import Enum
from typing import NoReturn

import polars as pl

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.schema import COMPANY_COLUMNS, LINK_COLUMNS, join_multi
from server.core.validation import RowSource


class FileKind(Enum):
    COMPANIES = "companies"
    LINKS = "links"


class FileFormat(Enum):
    CSV = "csv"
    PARQUET = "parquet"


def file_name(kind: FileKind, fmt: FileFormat) -> str:
    """The name errors use for an uploaded file, e.g. `links.csv`."""
    return f"{kind.value}.{fmt.value}"


def row_source(kind: FileKind, fmt: FileFormat) -> RowSource:
    return RowSource(file_name(kind, fmt), is_file=True, has_lines=fmt is FileFormat.CSV)


def read_table(data: bytes, *, kind: FileKind, fmt: FileFormat) -> pl.DataFrame:
    """Parse a file into a raw table. CSV cells are all read as text, so typing is left to validation."""
    name = file_name(kind, fmt)
    if fmt is FileFormat.CSV:
        _check_utf8(data, name=name)
        try:
            return pl.read_csv(io.BytesIO(data), infer_schema=False)
        except (pl.exceptions.PolarsError, ValueError) as error:
            _raise_unreadable(name, error)
    try:
        return pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        _raise_unreadable(name, error)


def write_table(table: pl.DataFrame, *, kind: FileKind, fmt: FileFormat) -> bytes:
    """Serialise a canonical table in the import format (multi-valued columns joined)."""
    columns = COMPANY_COLUMNS if kind is FileKind.COMPANIES else LINK_COLUMNS
    flat = join_multi(table.select(columns)).with_columns(
        pl.when(pl.col(column) != "").then(pl.col(column)).alias(column)
        for column in _OPTIONAL_TEXT
        if column in columns
    )
    buffer = io.BytesIO()
    if fmt is FileFormat.CSV:
        flat.write_csv(buffer)
    else:
        flat.write_parquet(buffer)
    return buffer.getvalue()


_OPTIONAL_TEXT = ("lists", "origin_country", "route", "tags")


def _check_utf8(data: bytes, *, name: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        message = f"{name} line {line}: not valid UTF-8 (byte {data[error.start]:#04x} at offset {error.start})"
        raise InvalidArgumentError(
            message, violations=[FieldViolation(name, message)], reason="INVALID_ENCODING"
        ) from None


def _raise_unreadable(name: str, error: Exception) -> NoReturn:
    detail = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
    message = f"{name}: cannot be read: {detail}"
    raise InvalidArgumentError(message, violations=[FieldViolation(name, message)], reason="UNREADABLE_FILE") from None
