"""Policy files: the library loads, broken entries are named by file, row and field, scenario JSON round-trips."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from server.core.errors import InvalidArgumentError
from server.core.policy_files import LIBRARY_DIR, load_library, read_scenario_file, scenario_from_json, scenario_to_json
from server.core.scenarios import CURRENT, ScenarioBook, built_in_scenarios


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "library"
    shutil.copytree(LIBRARY_DIR, copy)
    return copy


def corrupt(path: Path, row: int, column: str, value: str) -> None:
    table = pl.read_csv(path, infer_schema=False)
    table = table.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 1).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    table.write_csv(path)


@pytest.mark.parametrize(
    ("file", "column", "value", "expected"),
    [
        ("tariff_measures.csv", "rate_fraction", "25%", "must be a number"),
        ("tariff_measures.csv", "authority", "SECTION_999", "must be one of MFN"),
        ("tariff_measures.csv", "effective_from", "2025-02-30", "must be a date"),
        ("tariff_measures.csv", "origins", "China", "must match"),
        ("tariff_lines.csv", "rate_fraction", "abc", "must be a number in [0, 10]"),
        ("tariff_lines.csv", "rate_fraction", "25", "must be a number in [0, 10]"),
        ("tariff_lines.csv", "hs_prefix", "85.05", "must be 1 to 10 HS digits"),
        ("export_controls.csv", "severity", "MAYBE", "must be one of BAN"),
        ("export_controls.csv", "suspended", "2026-01-01..2025-01-01", "must end after it starts"),
        ("export_controls.csv", "controlling_country", "XX", "ISO 3166-1"),
    ],
)
def test_a_broken_library_entry_is_named_by_file_row_and_field(
    library_copy: Path, file: str, column: str, value: str, expected: str
) -> None:
    row = (
        2
        if file == "export_controls.csv"
        else next(
            index + 1
            for index, rate in enumerate(pl.read_csv(library_copy / file, infer_schema=False)[column].to_list())
            if rate
        )
    )
    corrupt(library_copy / file, row, column, value)
    with pytest.raises(InvalidArgumentError) as caught:
        load_library(library_copy)
    assert caught.value.message.startswith(f"{file} row {row}, field {column}: ")
    assert expected in caught.value.message
    assert [v.field for v in caught.value.violations] == [f"{file}[{row}].{column}"]


def test_duplicate_measure_ids_across_files_are_refused(library_copy: Path) -> None:
    corrupt(library_copy / "export_controls.csv", 1, "measure_id", "US-MFN-2017")
    with pytest.raises(InvalidArgumentError, match="'US-MFN-2017' appears twice"):
        load_library(library_copy)


def test_every_built_in_scenario_resolves_and_round_trips_through_json() -> None:
    library = load_library()
    book = ScenarioBook(built_in_scenarios(library))
    assert CURRENT in book.scenarios
    assert len(book.scenarios) >= 5
    for name, scenario in book.scenarios.items():
        resolved = book.resolve(name)
        assert resolved.tariffs or resolved.controls
        again = scenario_from_json(json.loads(json.dumps(scenario_to_json(scenario))), where=name)
        assert again == scenario.__class__(**{**scenario.__dict__, "built_in": False})


def test_scenario_file_errors_name_file_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps({"name": "mine", "base": "current", "export_controls": [{"measure_id": "X", "title": "x"}]})
    )
    with pytest.raises(InvalidArgumentError) as caught:
        read_scenario_file(path)
    assert (
        caught.value.message == "mine.json, export_controls[0], field hs_prefixes: a control needs hs_prefixes or tags"
    )
    path.write_text("[1, 2]")
    with pytest.raises(InvalidArgumentError, match=r"mine\.json: must hold one JSON object"):
        read_scenario_file(path)
