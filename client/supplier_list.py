"""A supplier list's columns and cells, checked before any row is sent (the columns are in docs/batch.md).

The wire carries spend as a number, so only the client still holds a cell's original text: a spend of `abc` would
otherwise be reported as `NaN`. Cells that are empty are reported as required, not as `got ''`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import grpc
import polars as pl

from client.errors import FieldViolation, InvalidArgumentError
from client.results import RowError

SUPPLIER_ID_RULE = "needs supplier_id, or supplier_name and country"


def check_columns(columns: Sequence[str], *, buyer_country: str, source: str = "supplier list") -> None:
    """ValueError naming every required column missing (one line), before any work is done."""
    present = set(columns)
    missing = [name for name in ("hs_code", "annual_spend_usd") if name not in present]
    if "supplier_id" not in present and not {"supplier_name", "country"} <= present:
        missing.insert(0, "supplier_id (or supplier_name and country)")
    if not buyer_country and "buyer_country" not in present:
        missing.append("buyer_country (or --buyer-country)")
    if missing:
        found = ", ".join(columns) or "none"
        msg = f"{source}: missing columns {', '.join(missing)} (docs/batch.md); found {found}"
        raise ValueError(msg)


def cell_errors(rows: pl.DataFrame, *, buyer_country: str) -> dict[tuple[int, str], RowError]:
    """The bad cells the client can judge itself, by (row, column), with the cell's original text.

    Rows count from 1 in the list's order. Required cells that are empty read `is required`; a spend that is not
    a number quotes the text as given. Other checks (codes, countries) are the service's.
    """

    def text(name: str) -> pl.Expr:
        if name not in rows.columns:
            return pl.lit(None, pl.String)
        cell = pl.col(name).cast(pl.String).str.strip_chars()
        return pl.when(cell != "").then(cell)

    cells = rows.select(
        text("supplier_id").alias("supplier_id"),
        text("supplier_name").alias("supplier_name"),
        text("country").alias("country"),
        text("hs_code").alias("hs_code"),
        text("annual_spend_usd").alias("spend_text"),
        text("buyer_country").alias("buyer_country"),
    ).with_row_index("row", offset=1)
    spend = pl.col("spend_text").cast(pl.Float64, strict=False)
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        (
            "supplier_id",
            pl.col("supplier_id").is_null() & (pl.col("supplier_name").is_null() | pl.col("country").is_null()),
            pl.lit(SUPPLIER_ID_RULE),
        ),
        ("hs_code", pl.col("hs_code").is_null(), pl.lit("is required")),
        ("annual_spend_usd", pl.col("spend_text").is_null(), pl.lit("is required")),
        (
            "annual_spend_usd",
            pl.col("spend_text").is_not_null() & spend.is_null(),
            pl.format("must be a finite number >= 0, got '{}'", pl.col("spend_text")),
        ),
    ]
    if not buyer_country:
        checks.append(
            ("buyer_country", pl.col("buyer_country").is_null(), pl.lit("is required (column or --buyer-country)"))
        )
    found: dict[tuple[int, str], RowError] = {}
    for column, bad, message in checks:
        flagged = cells.filter(bad).select("row", message.alias("message"))
        for row, text_ in flagged.iter_rows():
            found[(row, column)] = RowError(row, column, f"row {row}, column {column}: {text_}")
    return found


def restate(errors: Iterable[RowError], local: dict[tuple[int, str], RowError]) -> tuple[RowError, ...]:
    """The service's row errors, each replaced by the client's own when it judged the same cell from its text."""
    return tuple(local.get((error.row, error.column), error) for error in errors)


def first_refusal(local: dict[tuple[int, str], RowError]) -> InvalidArgumentError:
    """What `strict` refuses a list with when the client already sees a bad cell: no row is sent."""
    errors = sorted(local.values(), key=lambda error: error.row)
    return InvalidArgumentError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"strict: {errors[0].message}",
        reason="INVALID_ROWS",
        violations=tuple(FieldViolation(f"rows[{e.row}].{e.column}", e.message) for e in errors[:50]),
    )
