"""Validation of companies and links tables (from files or requests) into canonical form.

Every check is a vectorised Polars expression over the whole table; a violation names the row, the column and the
bad value. Any violation refuses the whole table, so a bad row never half-applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import pycountry

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.schema import (
    COMPANY_COLUMNS,
    COMPANY_REQUIRED,
    COMPANY_SCHEMA,
    LINK_COLUMNS,
    LINK_KEY,
    LINK_REQUIRED,
    LINK_SCHEMA,
    LIST_SEPARATOR,
    ROUTE_SEPARATOR,
)

COUNTRY_CODES = frozenset(country.alpha_2 for country in pycountry.countries)
COMPANY_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"
LIST_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"
TAG_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
HS_PATTERN = r"^[0-9.]+$"
MAX_NAME_LENGTH = 512
MAX_REPORTED = 50
_ROW = "_row"
_VALUE_GIVEN = "_value_given"


@dataclass(frozen=True)
class RowSource:
    """Where rows came from, to name them in errors: a request's repeated field or a file.

    Request rows are 0-based, as in the message (`links[3].hs_code`); file rows are 1-based data rows, and CSV
    adds the line number (the header is line 1).
    """

    name: str
    is_file: bool = False
    has_lines: bool = False

    def field(self, row: int, column: str) -> str:
        return f"{self.name}[{row + 1 if self.is_file else row}].{column}"

    def where(self, row: int, column: str) -> str:
        if not self.is_file:
            return self.field(row, column)
        line = f" (line {row + 2})" if self.has_lines else ""
        return f"{self.name} row {row + 1}{line}, column {column}"


def normalise_hs_code(code: str, *, field: str) -> str:
    """HS digits of one code (`8505.11` -> `850511`), or InvalidArgumentError naming `field`."""
    digits = code.strip().replace(".", "")
    if not (
        code.strip() and all(part.isdigit() for part in code.strip().split(".") if part) and 4 <= len(digits) <= 10
    ):
        msg = f"{field}: must be 4-10 digits (dots allowed), got {code!r}"
        raise InvalidArgumentError(msg, violations=[FieldViolation(field, msg)])
    return digits


def validate_companies(raw: pl.DataFrame, *, source: RowSource) -> pl.DataFrame:
    """Check a companies table and return it in canonical form (`COMPANY_SCHEMA`), or raise with every problem."""
    _check_columns(raw, allowed=COMPANY_COLUMNS, required=COMPANY_REQUIRED, source=source)
    companies = _normalise(raw, columns=COMPANY_COLUMNS, source=source)
    checks = [
        *_required(COMPANY_REQUIRED),
        ("company_id", ~pl.col("company_id").str.contains(COMPANY_ID_PATTERN), _ID_RULE),
        ("name", pl.col("name").str.len_chars() > MAX_NAME_LENGTH, f"must be at most {MAX_NAME_LENGTH} characters"),
        ("country", ~pl.col("country").is_in(list(COUNTRY_CODES)), _COUNTRY_RULE),
    ]
    element_checks: list[ElementCheck] = [("lists", lambda code: code.str.contains(LIST_CODE_PATTERN), _LIST_RULE)]
    if _may_repeat(companies, ("company_id",)):
        checks.append(_repeat_check(("company_id",), "duplicates an earlier row's company_id"))
    _raise_if_any(companies, checks, element_checks, source=source, what="companies")
    return companies.select(COMPANY_SCHEMA.names()).cast(COMPANY_SCHEMA)


def validate_links(raw: pl.DataFrame, *, source: RowSource, company_ids: pl.Series) -> pl.DataFrame:
    """Check a links table against the known `company_ids` and return it in canonical form (`LINK_SCHEMA`)."""
    _check_columns(raw, allowed=LINK_COLUMNS, required=LINK_REQUIRED, source=source)
    links = _normalise(raw, columns=LINK_COLUMNS, source=source)
    # The value as given is kept (not a text copy of it) to show in errors; only reported rows are cast to text.
    links = links.with_columns(
        _parse_number(raw["annual_value_usd"]).alias("annual_value_usd"), raw["annual_value_usd"].alias(_VALUE_GIVEN)
    )
    known = _known(company_ids, links)
    hs_digits = pl.col("hs_code").str.replace_all(".", "", literal=True)
    checks = [
        *_required(("supplier_id", "buyer_id", "hs_code")),
        ("annual_value_usd", pl.col(_VALUE_GIVEN).is_null(), "is required"),
        ("supplier_id", ~pl.col("supplier_id").is_in(known), "must be an existing company_id"),
        ("buyer_id", ~pl.col("buyer_id").is_in(known), "must be an existing company_id"),
        ("buyer_id", pl.col("buyer_id") == pl.col("supplier_id"), "must differ from supplier_id"),
        (
            "hs_code",
            ~pl.col("hs_code").str.contains(HS_PATTERN) | ~hs_digits.str.len_chars().is_between(4, 10),
            "must be 4-10 digits (dots allowed)",
        ),
        (
            "annual_value_usd",
            pl.col(_VALUE_GIVEN).is_not_null() & pl.col("annual_value_usd").is_null(),
            "must be a number",
        ),
        (
            "annual_value_usd",
            ~pl.col("annual_value_usd").is_finite() | (pl.col("annual_value_usd") < 0),
            "must be a finite number >= 0",
        ),
        ("origin_country", ~pl.col("origin_country").is_in(list(COUNTRY_CODES)), _COUNTRY_RULE),
    ]
    element_checks: list[ElementCheck] = [
        ("route", lambda country: country.is_in(list(COUNTRY_CODES)), "must be '>'-separated ISO 3166-1 alpha-2 codes"),
        ("tags", lambda tag: tag.str.contains(TAG_PATTERN), _TAG_RULE),
    ]
    _raise_if_any(links, checks, element_checks, source=source, what="links")
    if links["hs_code"].str.contains(".", literal=True).any():  # else the codes are digits already: no copy
        links = links.with_columns(hs_digits.alias("hs_code"))
    # Repeats are looked for once every key is valid, hs_code as digits (so `8505.11` repeats `850511`).
    if _may_repeat(links, LINK_KEY):
        _raise_if_any(links, [_repeat_check(LINK_KEY, _DUPLICATE_LINK_RULE)], [], source=source, what="links")
    return links.select(LINK_SCHEMA.names()).cast(LINK_SCHEMA)


def _known(company_ids: pl.Series, links: pl.DataFrame) -> pl.Series:
    """The ids to test membership in, as one list: `is_in` hashes that list on every call, so a few rows written
    to a graph of 1M companies look up only the ids they name (11 ms instead of 0.2-0.25 s). An import, with more
    ids named than known, uses them all (and makes no copy of its own ids)."""
    if 2 * links.height < company_ids.len():
        named = pl.concat([links["supplier_id"], links["buyer_id"]]).drop_nulls()
        company_ids = company_ids.filter(company_ids.is_in(named.implode()))
    return company_ids.implode()


_ID_RULE = "must be 1-128 characters from letters, digits and '._:-'"
_COUNTRY_RULE = "must be an upper-case ISO 3166-1 alpha-2 country code"
_LIST_RULE = "must be ';'-separated list codes like US_ENTITY_LIST"
_TAG_RULE = "must be ';'-separated tags like rare_earth"
_DUPLICATE_LINK_RULE = "duplicates an earlier row's (supplier_id, buyer_id, hs_code)"

Check = tuple[str, pl.Expr, str]
# A rule for each element of a multi-valued column, given the exploded column.
ElementCheck = tuple[str, Callable[[pl.Expr], pl.Expr], str]
_MULTI_SEPARATORS = {"lists": LIST_SEPARATOR, "tags": LIST_SEPARATOR, "route": ROUTE_SEPARATOR}


def _required(columns: tuple[str, ...]) -> list[Check]:
    return [(column, pl.col(column).is_null(), "is required") for column in columns]


def _may_repeat(table: pl.DataFrame, key: tuple[str, ...]) -> bool:
    """Whether any row's `key` may repeat another's: a 64-bit hash per row, sorted in place (about 9 bytes a row,
    where `is_duplicated` over the key's values took about 240 at 5M links). False means no repeat; True (a
    repeat, or rarely a collision) calls for `_repeat_check`."""
    hashes = table.select(pl.struct(key).hash()).to_series().to_numpy(writable=True)
    hashes.sort()
    return bool((hashes[1:] == hashes[:-1]).any())


def _repeat_check(key: tuple[str, ...], rule: str) -> Check:
    """Rows whose `key` repeats an earlier row's (a group-by per key: only run once `_may_repeat` says so)."""
    first_row = pl.col(_ROW).min().over(list(key))
    return (key[-1], pl.struct(key).is_duplicated() & (first_row != pl.col(_ROW)), rule)


def _check_columns(
    raw: pl.DataFrame, *, allowed: tuple[str, ...], required: tuple[str, ...], source: RowSource
) -> None:
    problems = [
        FieldViolation(f"{source.name}.{column}", f"{source.name}: missing required column '{column}'")
        for column in required
        if column not in raw.columns
    ] + [
        FieldViolation(
            f"{source.name}.{column}", f"{source.name}: unknown column '{column}' (allowed: {', '.join(allowed)})"
        )
        for column in raw.columns
        if column not in allowed
    ]
    if problems:
        raise InvalidArgumentError(problems[0].description, violations=problems, reason="INVALID_COLUMNS")


def _normalise(raw: pl.DataFrame, *, columns: tuple[str, ...], source: RowSource) -> pl.DataFrame:
    """Every column as stripped text (empty -> null), multi-valued columns as lists, plus a row index."""
    normalised: list[pl.Series] = []
    for column in columns:
        series = raw[column] if column in raw.columns else pl.Series(column, [None] * raw.height, pl.String)
        if column in _MULTI_SEPARATORS:
            normalised.append(_split(series, _MULTI_SEPARATORS[column], keep_empty=column == "route"))
        elif column == "annual_value_usd":
            normalised.append(series)
        else:
            normalised.append(_as_text(series, source=source))
    return pl.DataFrame(normalised).with_row_index(_ROW)


def _as_text(series: pl.Series, *, source: RowSource) -> pl.Series:
    if series.dtype == pl.Binary or isinstance(series.dtype, pl.List | pl.Struct | pl.Array):
        message = f"{source.name}: column {series.name} must be text, got {series.dtype}"
        violations = [FieldViolation(f"{source.name}.{series.name}", message)]
        raise InvalidArgumentError(message, violations=violations, reason="INVALID_COLUMNS")
    # A column with nothing to strip or blank out is kept as it is: the canonical table then shares its buffers with
    # the file's instead of holding a second copy.
    text = series.cast(pl.String)
    stripped = text.str.strip_chars()
    if (stripped.str.len_bytes() != text.str.len_bytes()).any():
        text = stripped
    del stripped
    if (text == "").any():
        text = pl.select(pl.when(text != "").then(text).alias(series.name)).to_series()
    return text


def _split(series: pl.Series, separator: str, *, keep_empty: bool) -> pl.Series:
    if isinstance(series.dtype, pl.List):
        parts = series.cast(pl.List(pl.String))
    else:
        text = series.cast(pl.String).str.strip_chars()
        parts = pl.select(pl.when(text != "").then(text.str.split(separator))).to_series()
    stripped = parts.list.eval(pl.element().str.strip_chars())
    if not keep_empty:
        stripped = stripped.list.eval(pl.element().filter(pl.element() != "")).list.unique(maintain_order=True)
    return stripped.fill_null(pl.lit([], dtype=pl.List(pl.String))).alias(series.name)


def _parse_number(series: pl.Series) -> pl.Series:
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    return series.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _raise_if_any(
    table: pl.DataFrame,
    checks: list[Check],
    element_checks: list[ElementCheck],
    *,
    source: RowSource,
    what: str,
) -> None:
    found: list[tuple[int, int, FieldViolation]] = []
    order = {column: index for index, column in enumerate(table.columns)}
    for column, bad, rule in checks:
        hits = table.filter(bad.fill_null(False)).head(MAX_REPORTED)
        shown = _VALUE_GIVEN if column == "annual_value_usd" else column
        for row, value in hits.select(_ROW, pl.col(shown).cast(pl.String)).iter_rows():
            found.append((row, order[column], _violation(source, row, column, rule, value)))
    for column, ok, rule in element_checks:
        elements = table.select(_ROW, column).explode(column).drop_nulls(column)
        hits = elements.filter(~ok(pl.col(column)))
        for row, value in hits.head(MAX_REPORTED).iter_rows():
            found.append((row, order[column], _violation(source, row, column, rule, value)))
    if not found:
        return
    found.sort(key=lambda item: (item[0], item[1]))
    violations = [violation for _, _, violation in found[:MAX_REPORTED]]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    message = f"invalid {what}: {violations[0].description}{more}"
    raise InvalidArgumentError(message, violations=violations, reason=f"INVALID_{what.upper()}")


def _violation(source: RowSource, row: int, column: str, rule: str, value: object) -> FieldViolation:
    got = "" if value is None else f", got {_show(value)}"
    return FieldViolation(source.field(row, column), f"{source.where(row, column)}: {rule}{got}")


def _show(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")
