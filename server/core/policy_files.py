"""Policy files in and out: the built-in library's CSVs and scenario JSON, checked field by field.

Every problem names the file, the entry (row or measure) and the field, e.g.
`tariff_measures.csv row 12, field rate_fraction: must be a number in [0, 10], got 'abc'`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.policy import (
    ControlAuthority,
    ExportControl,
    ParameterSettings,
    Period,
    Scenario,
    Severity,
    TariffAuthority,
    TariffMeasure,
    Validity,
)
from server.core.validation import COUNTRY_CODES, LIST_CODE_PATTERN, TAG_PATTERN

LIBRARY_DIR = Path(__file__).with_name("policy_data")
MEASURE_ID_PATTERN = r"^[A-Z0-9][A-Z0-9_.:\-]{0,127}$"
SCENARIO_NAME_PATTERN = r"^[a-z0-9][a-z0-9\-]{0,62}$"
MAX_RATE = 10.0  # 1,000%: above any duty ever levied; catches percent-for-fraction mistakes beyond that
E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class Library:
    """The built-in measures and a content hash that changes whenever a library file does."""

    tariffs: Mapping[str, TariffMeasure]
    controls: Mapping[str, ExportControl]
    version: str


class Entry:
    """One row or JSON object being parsed; every accessor raises naming `where` and the field."""

    def __init__(self, values: Mapping[str, Any], *, where: str, field_prefix: str) -> None:
        self.values = values
        self.where = where
        self.field_prefix = field_prefix

    def fail(self, field: str, why: str) -> InvalidArgumentError:
        value = self.values.get(field) if isinstance(self.values, Mapping) else self.values
        got = "" if value in (None, "") else f", got {str(value)[:60]!r}"
        message = f"{self.where}, field {field}: {why}{got}"
        return InvalidArgumentError(message, violations=[FieldViolation(f"{self.field_prefix}.{field}", message)])

    def text(self, field: str, *, required: bool = True) -> str:
        value = self.values.get(field)
        text = "" if value is None else str(value).strip()
        if required and not text:
            raise self.fail(field, "is required")
        return text

    def items(self, field: str, *, pattern: str, separator: str = ";") -> tuple[str, ...]:
        value = self.values.get(field)
        parts = (
            [str(item).strip() for item in value]
            if isinstance(value, list)
            else self.text(field, required=False).split(separator)
        )
        items = tuple(part for part in parts if part)
        if any(not re.match(pattern, item) for item in items):
            raise self.fail(field, f"each item must match {pattern}")
        return items

    def countries(self, field: str) -> frozenset[str]:
        countries = frozenset(self.items(field, pattern=r"^[A-Z]{2}$"))
        if not countries <= COUNTRY_CODES:
            raise self.fail(field, "must be ISO 3166-1 alpha-2 country codes")
        return countries

    def country(self, field: str) -> str:
        code = self.text(field)
        if code not in COUNTRY_CODES:
            raise self.fail(field, "must be an ISO 3166-1 alpha-2 country code")
        return code

    def day(self, field: str, *, required: bool = True) -> date | None:
        text = self.text(field, required=required)
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self.fail(field, "must be a date YYYY-MM-DD") from None

    def fraction(self, field: str, *, required: bool = True, upper: float = MAX_RATE) -> float | None:
        text = self.text(field, required=required)
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise self.fail(field, f"must be a number in [0, {upper:g}]") from None
        if not 0.0 <= number <= upper:
            raise self.fail(field, f"must be a number in [0, {upper:g}]")
        return number

    def choice(self, field: str, kind: type[E]) -> E:
        text = self.text(field)
        try:
            return kind(text)
        except ValueError:
            raise self.fail(field, f"must be one of {', '.join(member.value for member in kind)}") from None

    def validity(self) -> Validity:
        start = self.day("effective_from")
        assert start is not None
        until = self.day("effective_until", required=False)
        if until is not None and until <= start:
            raise self.fail("effective_until", "must be after effective_from")
        return Validity(start, until, self.periods("suspended"), self.day("voided_on", required=False))

    def periods(self, field: str) -> tuple[Period, ...]:
        periods = []
        for item in self.items(field, pattern=r"^\d{4}-\d{2}-\d{2}\.\.(\d{4}-\d{2}-\d{2})?$"):
            start_text, _, end_text = item.partition("..")
            try:
                start, end = date.fromisoformat(start_text), date.fromisoformat(end_text) if end_text else None
            except ValueError:
                raise self.fail(field, "must be FROM..UNTIL date ranges") from None
            if end is not None and end <= start:
                raise self.fail(field, "each range must end after it starts")
            periods.append(Period(start, end))
        return tuple(periods)


def load_library(directory: Path = LIBRARY_DIR) -> Library:
    """Read `tariff_measures.csv`, `tariff_lines.csv` and `export_controls.csv`; ids must be unique across them."""
    files = [directory / name for name in ("tariff_measures.csv", "tariff_lines.csv", "export_controls.csv")]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()[:12]
    lines = _read_lines(files[1])
    tariffs = [
        tariff_from_entry(
            Entry(row, where=f"{files[0].name} row {index + 1}", field_prefix=f"{files[0].name}[{index + 1}]"), lines
        )
        for index, row in enumerate(_read_csv(files[0]))
    ]
    controls = [
        control_from_entry(
            Entry(row, where=f"{files[2].name} row {index + 1}", field_prefix=f"{files[2].name}[{index + 1}]")
        )
        for index, row in enumerate(_read_csv(files[2]))
    ]
    _check_unique([m.measure_id for m in tariffs] + [c.measure_id for c in controls], where=directory.name)
    unknown = set(lines) - {measure.measure_id for measure in tariffs}
    if unknown:
        message = f"{files[1].name}: lines for unknown measures {sorted(unknown)[:5]}"
        raise InvalidArgumentError(message, violations=[FieldViolation(f"{files[1].name}.measure_id", message)])
    return Library({m.measure_id: m for m in tariffs}, {c.measure_id: c for c in controls}, digest)


def tariff_from_entry(entry: Entry, lines: Mapping[str, dict[str, float]] | None = None) -> TariffMeasure:
    """A tariff measure from a CSV row or a JSON object (JSON may carry `lines`: [{hs_prefix, rate_fraction}])."""
    measure_id = entry.text("measure_id")
    if not re.match(MEASURE_ID_PATTERN, measure_id):
        raise entry.fail("measure_id", f"must match {MEASURE_ID_PATTERN}")
    prefixes = entry.items("hs_prefixes", pattern=r"^(\*|\d{1,10})$")
    rate = entry.fraction("rate_fraction", required=bool(prefixes))
    measure_lines = dict((lines or {}).get(measure_id, {}))
    for index, line in enumerate(entry.values.get("lines") or []):
        line_entry = Entry(
            line, where=f"{entry.where}, lines[{index}]", field_prefix=f"{entry.field_prefix}.lines[{index}]"
        )
        prefix = line_entry.items("hs_prefix", pattern=r"^\d{0,10}$")
        measure_lines[prefix[0] if prefix else ""] = line_entry.fraction("rate_fraction") or 0.0
    if prefixes:
        measure_lines.update({"" if p == "*" else p: rate or 0.0 for p in prefixes})
    if not measure_lines:
        raise entry.fail("hs_prefixes", "a measure needs hs_prefixes with a rate_fraction, or lines")
    return TariffMeasure(
        measure_id=measure_id,
        title=entry.text("title"),
        authority=entry.choice("authority", TariffAuthority),
        program=entry.text("program"),
        importer=entry.country("importer"),
        origins=entry.countries("origins"),
        lines=measure_lines,
        validity=entry.validity(),
        source=entry.text("source"),
        note=entry.text("note", required=False),
        alternative_rate_fraction=entry.fraction("alternative_rate_fraction", required=False),
    )


def control_from_entry(entry: Entry) -> ExportControl:
    """An export control from a CSV row or a JSON object."""
    measure_id = entry.text("measure_id")
    if not re.match(MEASURE_ID_PATTERN, measure_id):
        raise entry.fail("measure_id", f"must match {MEASURE_ID_PATTERN}")
    prefixes = entry.items("hs_prefixes", pattern=r"^\d{2,10}$")
    tags = frozenset(entry.items("tags", pattern=TAG_PATTERN))
    if not prefixes and not tags:
        raise entry.fail("hs_prefixes", "a control needs hs_prefixes or tags")
    return ExportControl(
        measure_id=measure_id,
        title=entry.text("title"),
        authority=entry.choice("authority", ControlAuthority),
        controlling_country=entry.country("controlling_country"),
        hs_prefixes=prefixes,
        tags=tags,
        destinations=entry.countries("destinations"),
        target_lists=frozenset(entry.items("target_lists", pattern=LIST_CODE_PATTERN)),
        severity=entry.choice("severity", Severity),
        validity=entry.validity(),
        source=entry.text("source"),
        note=entry.text("note", required=False),
    )


def scenario_from_json(document: Mapping[str, Any], *, where: str) -> Scenario:
    """A user scenario from its JSON form (docs/policy.md): name, description, base, remove, tariffs,
    export_controls, parameters."""
    entry = Entry(document, where=where, field_prefix="scenario")
    name = entry.text("name")
    if not re.match(SCENARIO_NAME_PATTERN, name):
        raise entry.fail("name", f"must match {SCENARIO_NAME_PATTERN}")
    tariffs = tuple(
        tariff_from_entry(Entry(item, where=f"{where}, tariffs[{i}]", field_prefix=f"scenario.tariffs[{i}]"))
        for i, item in enumerate(_objects(entry, "tariffs"))
    )
    controls = tuple(
        control_from_entry(
            Entry(item, where=f"{where}, export_controls[{i}]", field_prefix=f"scenario.export_controls[{i}]")
        )
        for i, item in enumerate(_objects(entry, "export_controls"))
    )
    _check_unique([m.measure_id for m in tariffs] + [c.measure_id for c in controls], where=where)
    return Scenario(
        name=name,
        description=entry.text("description", required=False),
        base=entry.text("base", required=False) or None,
        tariffs=tariffs,
        controls=controls,
        remove=entry.items("remove", pattern=MEASURE_ID_PATTERN),
        changes=tuple(_changes(entry)),
        parameters=_parameters(
            Entry(document.get("parameters") or {}, where=f"{where}, parameters", field_prefix="scenario.parameters")
        ),
    )


def scenario_to_json(scenario: Scenario) -> dict[str, Any]:
    """The JSON form `scenario_from_json` reads back to an equal scenario."""
    return {
        "name": scenario.name,
        "description": scenario.description,
        "base": scenario.base or "",
        "remove": list(scenario.remove),
        "changes": [dict(change) for change in scenario.changes],
        "tariffs": [tariff_to_json(measure) for measure in scenario.tariffs],
        "export_controls": [control_to_json(control) for control in scenario.controls],
        "parameters": parameters_to_json(scenario.parameters),
    }


def parameters_to_json(parameters: ParameterSettings) -> dict[str, Any]:
    """Only the parameters the scenario sets: an absent one is inherited from the base."""
    document: dict[str, Any] = {}
    if parameters.severity_weights:
        document["severity_weights"] = {
            severity.value: weight for severity, weight in parameters.severity_weights.items()
        }
    for name in ("damping_default", "pass_through_default", "use_alternative_rates"):
        if getattr(parameters, name) is not None:
            document[name] = getattr(parameters, name)
    return document


def tariff_to_json(measure: TariffMeasure) -> dict[str, Any]:
    return {
        "measure_id": measure.measure_id,
        "title": measure.title,
        "authority": measure.authority.value,
        "program": measure.program,
        "importer": measure.importer,
        "origins": sorted(measure.origins),
        "lines": [{"hs_prefix": prefix, "rate_fraction": rate} for prefix, rate in sorted(measure.lines.items())],
        "alternative_rate_fraction": ""
        if measure.alternative_rate_fraction is None
        else measure.alternative_rate_fraction,
        **_validity_json(measure.validity),
        "source": measure.source,
        "note": measure.note,
    }


def control_to_json(control: ExportControl) -> dict[str, Any]:
    return {
        "measure_id": control.measure_id,
        "title": control.title,
        "authority": control.authority.value,
        "controlling_country": control.controlling_country,
        "hs_prefixes": list(control.hs_prefixes),
        "tags": sorted(control.tags),
        "destinations": sorted(control.destinations),
        "target_lists": sorted(control.target_lists),
        "severity": control.severity.value,
        **_validity_json(control.validity),
        "source": control.source,
        "note": control.note,
    }


def read_scenario_file(path: Path) -> Scenario:
    """A scenario from a JSON file; JSON syntax errors name the line and column."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        message = f"{path.name} line {error.lineno} column {error.colno}: {error.msg}"
        raise InvalidArgumentError(message, violations=[FieldViolation(path.name, message)]) from None
    if not isinstance(document, dict):
        message = f"{path.name}: must hold one JSON object"
        raise InvalidArgumentError(message, violations=[FieldViolation(path.name, message)])
    return scenario_from_json(document, where=path.name)


def _validity_json(validity: Validity) -> dict[str, Any]:
    return {
        "effective_from": validity.effective_from.isoformat(),
        "effective_until": validity.effective_until.isoformat() if validity.effective_until else "",
        "suspended": [f"{p.start.isoformat()}..{p.end.isoformat() if p.end else ''}" for p in validity.suspended],
        "voided_on": validity.voided_on.isoformat() if validity.voided_on else "",
    }


def _parameters(entry: Entry) -> ParameterSettings:
    """The parameters set in the JSON; an absent or null one stays unset (inherited)."""
    if not isinstance(entry.values, Mapping):
        raise entry.fail("parameters", "must be an object")
    weights: dict[Severity, float] = {}
    raw_weights = entry.values.get("severity_weights") or {}
    if not isinstance(raw_weights, Mapping):
        raise entry.fail("severity_weights", "must be an object of severity -> weight")
    for key, value in raw_weights.items():
        item = Entry(
            {"severity": key, "weight": value},
            where=f"{entry.where}, severity_weights",
            field_prefix=f"{entry.field_prefix}.severity_weights",
        )
        weights[item.choice("severity", Severity)] = item.fraction("weight", upper=1.0) or 0.0
    alternative = entry.values.get("use_alternative_rates")
    if alternative is not None and not isinstance(alternative, bool):
        raise entry.fail("use_alternative_rates", "must be true or false")
    return ParameterSettings(
        severity_weights=weights,
        damping_default=entry.fraction("damping_default", required=False, upper=1.0),
        pass_through_default=entry.fraction("pass_through_default", required=False, upper=1.0),
        use_alternative_rates=alternative,
    )


def _objects(entry: Entry, field: str) -> Sequence[Mapping[str, Any]]:
    value = entry.values.get(field) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise entry.fail(field, "must be a list of objects")
    return value


def _changes(entry: Entry) -> list[Mapping[str, Any]]:
    changes = _objects(entry, "changes")
    for index, change in enumerate(changes):
        if not re.match(MEASURE_ID_PATTERN, str(change.get("measure_id", ""))):
            raise entry.fail(f"changes[{index}].measure_id", "must name the base measure to change")
    return list(changes)


def apply_change(
    measure: TariffMeasure | ExportControl, change: Mapping[str, Any], *, where: str, field: str
) -> TariffMeasure | ExportControl:
    """The base measure with the fields of `change` replaced, checked like any measure."""
    entry_prefix = field
    if isinstance(measure, TariffMeasure):
        merged = {**tariff_to_json(measure), **change}
        if "hs_prefixes" in change:
            merged.pop("lines")
        return tariff_from_entry(Entry(merged, where=where, field_prefix=entry_prefix))
    return control_from_entry(Entry({**control_to_json(measure), **change}, where=where, field_prefix=entry_prefix))


def _check_unique(ids: list[str], *, where: str) -> None:
    seen: set[str] = set()
    for measure_id in ids:
        if measure_id in seen:
            message = f"{where}: measure_id {measure_id!r} appears twice"
            raise InvalidArgumentError(message, violations=[FieldViolation(f"{where}.measure_id", message)])
        seen.add(measure_id)


def _read_csv(path: Path) -> list[dict[str, Any]]:
    return pl.read_csv(path, infer_schema=False).to_dicts()


def _read_lines(path: Path) -> dict[str, dict[str, float]]:
    """`tariff_lines.csv` grouped by measure: {measure_id: {hs_prefix: rate}}.

    Read as text and cast leniently, so a bad cell is reported by row and field like any other library error
    rather than failing inside the CSV reader."""
    text = pl.read_csv(path, schema={"measure_id": pl.String, "hs_prefix": pl.String, "rate_fraction": pl.String})
    lines = text.with_columns(pl.col("rate_fraction").str.strip_chars().cast(pl.Float64, strict=False))
    checks = {
        "measure_id": (pl.col("measure_id").str.contains(MEASURE_ID_PATTERN), f"must match {MEASURE_ID_PATTERN}"),
        "hs_prefix": (pl.col("hs_prefix").str.contains(r"^\d{1,10}$"), "must be 1 to 10 HS digits"),
        "rate_fraction": (pl.col("rate_fraction").is_between(0, MAX_RATE), f"must be a number in [0, {MAX_RATE:g}]"),
    }
    broken = (
        lines.select((~valid.fill_null(False)).alias(field) for field, (valid, _) in checks.items())
        .with_row_index("row")
        .filter(pl.any_horizontal(*checks))
    )
    if broken.height:
        first = broken.row(0, named=True)
        field = next(field for field in checks if first[field])
        row = first["row"] + 1
        entry = Entry(text.row(row - 1, named=True), where=f"{path.name} row {row}", field_prefix=f"{path.name}[{row}]")
        raise entry.fail(field, checks[field][1])
    grouped: dict[str, dict[str, float]] = {}
    for measure_id, prefixes, rates in (
        lines.group_by("measure_id", maintain_order=True).agg("hs_prefix", "rate_fraction").iter_rows()
    ):
        grouped[measure_id] = dict(zip(prefixes, rates, strict=True))
    return grouped
