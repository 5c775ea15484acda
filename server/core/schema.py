"""The graph's two tables: their columns, in the file format and in canonical (validated) form."""

from __future__ import annotations

import polars as pl

COMPANY_COLUMNS = ("company_id", "name", "country", "lists")
COMPANY_REQUIRED = ("company_id", "name", "country")
LINK_COLUMNS = ("supplier_id", "buyer_id", "hs_code", "annual_value_usd", "origin_country", "route", "tags")
LINK_REQUIRED = ("supplier_id", "buyer_id", "hs_code", "annual_value_usd")
LINK_KEY = ("supplier_id", "buyer_id", "hs_code")

# Separators of the multi-valued columns in files and in the store.
LIST_SEPARATOR = ";"
ROUTE_SEPARATOR = ">"

COMPANY_SCHEMA = pl.Schema(
    {"company_id": pl.String(), "name": pl.String(), "country": pl.String(), "lists": pl.List(pl.String())}
)
LINK_SCHEMA = pl.Schema(
    {
        "supplier_id": pl.String(),
        "buyer_id": pl.String(),
        "hs_code": pl.String(),
        "annual_value_usd": pl.Float64(),
        "origin_country": pl.String(),
        "route": pl.List(pl.String()),
        "tags": pl.List(pl.String()),
    }
)

# The same tables as they are in files (and in the store): multi-valued columns as joined strings.
FILE_COMPANY_SCHEMA = pl.Schema({name: pl.String() for name in COMPANY_COLUMNS})
FILE_LINK_SCHEMA = pl.Schema(
    {name: pl.Float64() if name == "annual_value_usd" else pl.String() for name in LINK_COLUMNS}
)


def join_multi(frame: pl.DataFrame) -> pl.DataFrame:
    """List columns joined into their file/store strings (`lists`, `tags` with `;`, `route` with `>`)."""
    separators = {"lists": LIST_SEPARATOR, "tags": LIST_SEPARATOR, "route": ROUTE_SEPARATOR}
    return frame.with_columns(pl.col(name).list.join(sep) for name, sep in separators.items() if name in frame.columns)


def split_multi(frame: pl.DataFrame) -> pl.DataFrame:
    """Inverse of `join_multi`: stored strings back to list columns (empty string -> empty list)."""
    separators = {"lists": LIST_SEPARATOR, "tags": LIST_SEPARATOR, "route": ROUTE_SEPARATOR}
    return frame.with_columns(
        pl.when(pl.col(name) != "")
        .then(pl.col(name).str.split(sep))
        .otherwise(pl.lit([], dtype=pl.List(pl.String)))
        .alias(name)
        for name, sep in separators.items()
        if name in frame.columns
    )
