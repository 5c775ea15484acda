"""The built-in policy library: rebuilt byte for byte, valid per docs/policy-format.md, and faithful to the shared data.

The shared files are read at test time; the expected duties come from them, never from numbers copied here. The
duty reference below is a small pure-Python version of the engine's rule: within a program the most specific line
wins (ties: the later `effective_from`), programs add up.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from server.core.policy_data.build_library import build_library, write_library
from server.core.validation import COUNTRY_CODES, LIST_CODE_PATTERN, TAG_PATTERN
from tests.conftest import REPO, SHARED_DATA

LIBRARY = REPO / "server" / "core" / "policy_data"
TARIFFS = SHARED_DATA / "tariffs"
FILES = ("tariff_measures.csv", "tariff_lines.csv", "export_controls.csv")
SECTION_301_FILE = "usitc_china_tariffs_301_hts8_2020-01-01.csv"
MFN_FILE = "usitc_tariff_database_2017_mfn.csv"

MEASURE_COLUMNS = [
    "measure_id",
    "title",
    "authority",
    "program",
    "importer",
    "origins",
    "hs_prefixes",
    "rate_fraction",
    "alternative_rate_fraction",
    "effective_from",
    "effective_until",
    "suspended",
    "voided_on",
    "source",
    "note",
]
LINE_COLUMNS = ["measure_id", "hs_prefix", "rate_fraction"]
CONTROL_COLUMNS = [
    "measure_id",
    "title",
    "authority",
    "controlling_country",
    "hs_prefixes",
    "tags",
    "destinations",
    "target_lists",
    "severity",
    "effective_from",
    "effective_until",
    "suspended",
    "voided_on",
    "source",
    "note",
]
TARIFF_AUTHORITIES = {
    "MFN",
    "SECTION_301",
    "SECTION_232",
    "IEEPA",
    "SECTION_122",
    "AD_CVD",
    "RETALIATORY",
    "TRANSSHIPMENT_PENALTY",
    "OTHER",
}
CONTROL_AUTHORITIES = {"US_EAR", "CN_MOFCOM", "OTHER"}
SEVERITIES = {"BAN", "PRESUMPTION_OF_DENIAL", "LICENCE_REQUIRED", "GENERAL_LICENCE"}
MEASURE_ID = re.compile(r"^[A-Z0-9][A-Z0-9_.:-]*$")
PROGRAM = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
HS_PREFIX = re.compile(r"^\d{2,10}$")
FRACTION = re.compile(r"^\d+(\.\d+)?$")
PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})?$")

# Which measures hold each Section 301 heading's lines (the policy, not data): List 3 and 4A have two rate steps.
MEASURES_OF_HEADING = {
    "9903.88.01": ("US-301-LIST1",),
    "9903.88.02": ("US-301-LIST2",),
    "9903.88.03": ("US-301-LIST3-10", "US-301-LIST3-25"),
    "9903.88.04": ("US-301-LIST3-10", "US-301-LIST3-25"),
    "9903.88.15": ("US-301-LIST4A-15", "US-301-LIST4A-7.5"),
    "9903.88.16": ("US-301-LIST4B",),
}
LIST_OF_HEADING = {"9903.88.04": "9903.88.03"}  # partial List 3 lines belong to List 3
# The shared us_tariffs file sums the two 2017 vintages of 3707.90.32 and .60 (4.8% + 3.2% = 8%, and twice the
# Section 301 rate): a defect of that file, reported in server/core/policy_data/README.md.
US_FILE_ARTIFACTS = {"370790"}


# --- reading ------------------------------------------------------------------------------------------------------


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def items(cell: str) -> list[str]:
    return [item for item in cell.split(";") if item]


def day(cell: str) -> date | None:
    return date.fromisoformat(cell) if cell else None


@dataclass(frozen=True)
class Measure:
    measure_id: str
    authority: str
    program: str
    importer: str
    origins: frozenset[str]
    lines: dict[str, float]
    effective_from: date
    effective_until: date | None
    suspended: tuple[tuple[date, date | None], ...]
    voided_on: date | None

    def in_force(self, on: date) -> bool:
        if on < self.effective_from or (self.effective_until is not None and on >= self.effective_until):
            return False
        if self.voided_on is not None and on >= self.voided_on:
            return False
        return not any(start <= on and (end is None or on < end) for start, end in self.suspended)


def load_measures() -> list[Measure]:
    lines: dict[str, dict[str, float]] = defaultdict(dict)
    for row in read_rows(LIBRARY / "tariff_lines.csv"):
        lines[row["measure_id"]][row["hs_prefix"]] = float(row["rate_fraction"])
    measures = []
    for row in read_rows(LIBRARY / "tariff_measures.csv"):
        own = {("" if prefix == "*" else prefix): float(row["rate_fraction"]) for prefix in items(row["hs_prefixes"])}
        start = day(row["effective_from"])
        assert start is not None
        measures.append(
            Measure(
                measure_id=row["measure_id"],
                authority=row["authority"],
                program=row["program"],
                importer=row["importer"],
                origins=frozenset(items(row["origins"])),
                lines=own or lines[row["measure_id"]],
                effective_from=start,
                effective_until=day(row["effective_until"]),
                suspended=tuple(
                    (date.fromisoformat(first), day(last))
                    for first, _, last in (period.partition("..") for period in items(row["suspended"]))
                ),
                voided_on=day(row["voided_on"]),
            )
        )
    return measures


def duty_rate(measures: Iterable[Measure], *, hs_code: str, origin: str, importer: str, on: date) -> float:
    """Sum over programs of the winning line: longest matching prefix, then the later effective_from."""
    winners: dict[str, tuple[int, date, float]] = {}
    for measure in measures:
        if measure.importer != importer or (measure.origins and origin not in measure.origins):
            continue
        if measure.authority == "TRANSSHIPMENT_PENALTY" or not measure.in_force(on):
            continue
        matching = [prefix for prefix in measure.lines if hs_code.startswith(prefix)]
        if not matching:
            continue
        prefix = max(matching, key=len)
        candidate = (len(prefix), measure.effective_from, measure.lines[prefix])
        if measure.program not in winners or candidate[:2] > winners[measure.program][:2]:
            winners[measure.program] = candidate
    return sum(rate for _, _, rate in winners.values())


def section_301_headings() -> dict[str, str]:
    """HTS8 digits -> chapter 99 heading, from the shared USITC list."""
    return {row["hts8"].replace(".", ""): row["ch99_heading"] for row in read_rows(TARIFFS / SECTION_301_FILE)}


def fully_covered_hs6() -> dict[str, str]:
    """HS6 -> heading, where every HTS8 of the HS6 (2017 MFN database and the list) is on that one list."""
    headings = section_301_headings()
    codes = {row["hts8"] for row in read_rows(TARIFFS / MFN_FILE)} | set(headings)
    lists_by_hs6: dict[str, set[str]] = defaultdict(set)
    uncovered: set[str] = set()
    for code in codes:
        heading = headings.get(code)
        if heading is None:
            uncovered.add(code[:6])
        else:
            lists_by_hs6[code[:6]].add(LIST_OF_HEADING.get(heading, heading))
    return {hs6: min(lists) for hs6, lists in lists_by_hs6.items() if len(lists) == 1 and hs6 not in uncovered}


@pytest.fixture(scope="module")
def measures() -> list[Measure]:
    return load_measures()


@pytest.fixture(scope="module")
def lines_by_measure() -> dict[str, dict[str, float]]:
    lines: dict[str, dict[str, float]] = defaultdict(dict)
    for row in read_rows(LIBRARY / "tariff_lines.csv"):
        lines[row["measure_id"]][row["hs_prefix"]] = float(row["rate_fraction"])
    return lines


# --- the files are the builder's output ---------------------------------------------------------------------------


def test_builder_reproduces_the_committed_csvs_byte_for_byte(tmp_path: Path) -> None:
    write_library(build_library(data_dir=SHARED_DATA), tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (LIBRARY / name).read_bytes(), name


# --- the format -----------------------------------------------------------------------------------------------------


def check_dates(row: dict[str, str], where: str) -> list[str]:
    problems = []
    try:
        start = date.fromisoformat(row["effective_from"])
        until, voided = day(row["effective_until"]), day(row["voided_on"])
    except ValueError:
        return [f"{where}: dates must be YYYY-MM-DD"]
    if until is not None and until <= start:
        problems.append(f"{where}: effective_until {until} not after effective_from {start}")
    if voided is not None and voided <= start:
        problems.append(f"{where}: voided_on {voided} not after effective_from {start}")
    for period in items(row["suspended"]):
        match = PERIOD.match(period)
        if match is None:
            problems.append(f"{where}: suspended {period!r} is not FROM..UNTIL")
            continue
        first, last = date.fromisoformat(match[1]), day(match[2] or "")
        if last is not None and last <= first:
            problems.append(f"{where}: suspended {period!r} ends before it starts")
    return problems


def check_fraction(cell: str, where: str) -> list[str]:
    if FRACTION.match(cell) and 0.0 <= float(cell) <= 10.0:
        return []
    return [f"{where}: {cell!r} is not a fraction in [0, 10]"]


def test_tariff_measures_follow_the_format() -> None:
    assert header(LIBRARY / "tariff_measures.csv") == MEASURE_COLUMNS
    scheduled = {row["measure_id"] for row in read_rows(LIBRARY / "tariff_lines.csv")}
    problems: list[str] = []
    for number, row in enumerate(read_rows(LIBRARY / "tariff_measures.csv"), start=1):
        where = f"tariff_measures.csv row {number} ({row['measure_id']})"
        if not MEASURE_ID.match(row["measure_id"]):
            problems.append(f"{where}: bad measure_id")
        if not row["title"] or not row["source"]:
            problems.append(f"{where}: title and source are required")
        if row["authority"] not in TARIFF_AUTHORITIES:
            problems.append(f"{where}: authority {row['authority']!r}")
        if not PROGRAM.match(row["program"]):
            problems.append(f"{where}: program {row['program']!r}")
        countries = [row["importer"], *items(row["origins"])]
        problems += [f"{where}: {code!r} is not ISO alpha-2" for code in countries if code not in COUNTRY_CODES]
        prefixes = items(row["hs_prefixes"])
        problems += [f"{where}: hs prefix {p!r}" for p in prefixes if p != "*" and not HS_PREFIX.match(p)]
        if prefixes:
            problems += check_fraction(row["rate_fraction"], where)
            if row["measure_id"] in scheduled:
                problems.append(f"{where}: has hs_prefixes and lines")
        elif row["rate_fraction"] or row["measure_id"] not in scheduled:
            problems.append(f"{where}: a schedule measure needs lines and no rate_fraction")
        if row["alternative_rate_fraction"]:
            problems += check_fraction(row["alternative_rate_fraction"], where)
        problems += check_dates(row, where)
    assert problems == []


def test_tariff_lines_follow_the_format() -> None:
    assert header(LIBRARY / "tariff_lines.csv") == LINE_COLUMNS
    schedule_ids = {row["measure_id"] for row in read_rows(LIBRARY / "tariff_measures.csv") if not row["hs_prefixes"]}
    seen: set[tuple[str, str]] = set()
    problems: list[str] = []
    for number, row in enumerate(read_rows(LIBRARY / "tariff_lines.csv"), start=1):
        where = f"tariff_lines.csv row {number}"
        key = (row["measure_id"], row["hs_prefix"])
        if row["measure_id"] not in schedule_ids:
            problems.append(f"{where}: {row['measure_id']} is not a schedule measure")
        if not HS_PREFIX.match(row["hs_prefix"]):
            problems.append(f"{where}: hs_prefix {row['hs_prefix']!r}")
        if key in seen:
            problems.append(f"{where}: duplicate line {key}")
        seen.add(key)
        problems += check_fraction(row["rate_fraction"], where)
    assert problems == []


def test_export_controls_follow_the_format() -> None:
    assert header(LIBRARY / "export_controls.csv") == CONTROL_COLUMNS
    known_tags = {row["tag"] for row in read_rows(REPO / "server" / "core" / "taxonomy.csv")}
    problems: list[str] = []
    for number, row in enumerate(read_rows(LIBRARY / "export_controls.csv"), start=1):
        where = f"export_controls.csv row {number} ({row['measure_id']})"
        if not MEASURE_ID.match(row["measure_id"]) or not row["title"] or not row["source"]:
            problems.append(f"{where}: measure_id, title and source are required")
        if row["authority"] not in CONTROL_AUTHORITIES or row["severity"] not in SEVERITIES:
            problems.append(f"{where}: authority {row['authority']!r} or severity {row['severity']!r}")
        countries = [row["controlling_country"], *items(row["destinations"])]
        problems += [f"{where}: {code!r} is not ISO alpha-2" for code in countries if code not in COUNTRY_CODES]
        problems += [f"{where}: hs prefix {p!r}" for p in items(row["hs_prefixes"]) if not HS_PREFIX.match(p)]
        tags = items(row["tags"])
        problems += [f"{where}: tag {t!r}" for t in tags if not re.match(TAG_PATTERN, t) or t not in known_tags]
        problems += [f"{where}: list {x!r}" for x in items(row["target_lists"]) if not re.match(LIST_CODE_PATTERN, x)]
        if not tags and not items(row["hs_prefixes"]):
            problems.append(f"{where}: needs hs_prefixes or tags")
        problems += check_dates(row, where)
    assert problems == []


def test_measure_ids_are_unique_across_tariffs_and_controls() -> None:
    ids = [row["measure_id"] for name in (FILES[0], FILES[2]) for row in read_rows(LIBRARY / name)]
    assert len(ids) == len(set(ids))


# --- Section 301 and MFN against the shared files -----------------------------------------------------------------


def test_every_section_301_hts8_is_in_its_lists_measures_only(lines_by_measure: dict[str, dict[str, float]]) -> None:
    all_301 = {measure_id for ids in MEASURES_OF_HEADING.values() for measure_id in ids}
    misplaced = []
    for hts8, heading in section_301_headings().items():
        expected = set(MEASURES_OF_HEADING[heading])
        holding = {measure_id for measure_id in all_301 if hts8 in lines_by_measure[measure_id]}
        if holding != expected:
            misplaced.append((hts8, heading, sorted(holding)))
    assert misplaced == []


def test_hs6_lines_of_section_301_are_exactly_the_fully_covered_codes(
    lines_by_measure: dict[str, dict[str, float]],
) -> None:
    covered = fully_covered_hs6()
    for heading, measure_ids in MEASURES_OF_HEADING.items():
        if heading in LIST_OF_HEADING:
            continue
        expected = {hs6 for hs6, list_heading in covered.items() if list_heading == heading}
        for measure_id in measure_ids:
            assert {p for p in lines_by_measure[measure_id] if len(p) == 6} == expected, measure_id


def test_mfn_plus_section_301_reproduces_the_shared_us_rates(measures: list[Measure]) -> None:
    """For every graph HS6 wholly on one list: US-MFN + US-301 (percent) equals the shared file at each date."""
    mfn_hs6 = {prefix for m in measures if m.measure_id == "US-MFN-2017" for prefix in m.lines if len(prefix) == 6}
    sample = (set(fully_covered_hs6()) & mfn_hs6) - US_FILE_ARTIFACTS
    shared = [row for row in read_rows(TARIFFS / "us_tariffs_on_china_hs6_2018_2020.csv") if row["hs6"] in sample]
    assert "854231" in {row["hs6"] for row in shared}
    assert len({row["hs6"] for row in shared}) >= 20
    mismatches = []
    for row in shared:
        if not row["tariff"]:
            continue
        on = date.fromisoformat(row["time_of_tariff"])
        ours = 100 * duty_rate(measures, hs_code=row["hs6"], origin="CN", importer="US", on=on)
        if abs(ours - float(row["tariff"])) > 1e-6:
            mismatches.append((row["hs6"], row["time_of_tariff"], row["tariff"], round(ours, 6)))
    assert mismatches == []


def test_the_known_us_file_artifact_still_differs(measures: list[Measure]) -> None:
    """If the shared file is ever corrected, 3707.90 can join the sample above."""
    start = date(2018, 1, 1)
    shared = {
        row["hs6"]: float(row["tariff"])
        for row in read_rows(TARIFFS / "us_tariffs_on_china_hs6_2018_2020.csv")
        if row["time_of_tariff"] == start.isoformat() and row["tariff"]
    }
    for hs6 in US_FILE_ARTIFACTS:
        assert shared[hs6] != pytest.approx(
            100 * duty_rate(measures, hs_code=hs6, origin="CN", importer="US", on=start)
        )


def test_integrated_circuits_pay_list_2_then_the_2025_semiconductor_rate(measures: list[Measure]) -> None:
    def us_301(on: date) -> float:
        return duty_rate(
            [m for m in measures if m.program == "US-301"], hs_code="854231", origin="CN", importer="US", on=on
        )

    assert us_301(date(2019, 6, 1)) == 0.25
    assert us_301(date(2025, 6, 1)) == 0.50
    assert duty_rate(measures, hs_code="85423100", origin="CN", importer="US", on=date(2025, 6, 1)) >= 0.50


# --- China against the shared file --------------------------------------------------------------------------------


def test_china_mfn_plus_retaliation_reproduces_every_shared_rate_in_scope(measures: list[Measure]) -> None:
    scope = {prefix for m in measures if m.measure_id == "CN-MFN-2018" for prefix in m.lines}
    assert {"850511", "854231"} <= scope
    shared = [row for row in read_rows(TARIFFS / "china_tariffs_on_us_hs6_2018_2019.csv") if row["hs6"] in scope]
    assert len({row["hs6"] for row in shared}) == len(scope)
    mismatches = []
    for row in shared:
        if not row["tariff"]:
            continue
        on = date.fromisoformat(row["time_of_tariff"])
        ours = 100 * duty_rate(measures, hs_code=row["hs6"], origin="US", importer="CN", on=on)
        if abs(ours - float(row["tariff"])) > 1e-6:
            mismatches.append((row["hs6"], row["time_of_tariff"], row["tariff"], round(ours, 6)))
    assert mismatches == []


def test_us_magnets_into_china_in_june_2019_pay_32_percent(measures: list[Measure]) -> None:
    shared = {
        (row["hs6"], row["time_of_tariff"]): float(row["tariff"])
        for row in read_rows(TARIFFS / "china_tariffs_on_us_hs6_2018_2019.csv")
        if row["tariff"]
    }
    ours = 100 * duty_rate(measures, hs_code="850511", origin="US", importer="CN", on=date(2019, 6, 1))
    assert ours == pytest.approx(shared[("850511", "2019-06-01")]) == pytest.approx(32.0)


def test_china_retaliation_applies_to_us_origin_only(measures: list[Measure]) -> None:
    on = date(2019, 6, 1)
    from_us = duty_rate(measures, hs_code="850511", origin="US", importer="CN", on=on)
    from_japan = duty_rate(measures, hs_code="850511", origin="JP", importer="CN", on=on)
    assert from_japan < from_us
