"""Build the built-in policy library: `tariff_measures.csv`, `tariff_lines.csv` and `export_controls.csv`.

    python -m server.core.policy_data.build_library                    # rewrites the three CSVs byte for byte
    python -m server.core.policy_data.build_library --output-dir /tmp/library

Computed groups are read from `../shared/data` with explicit schemas: the US MFN schedule (2017), the Section 301
lists (as of 2020-01-01) and China's MFN and retaliation (PIIE, 2018-2019). Hand-written groups (the 2025-2026
regime and the export controls) are the tables below, one source per row. `README.md` beside this file lists every
uncertain reading with the default chosen; `docs/policy-format.md` defines the columns.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
LIBRARY_DIR = Path(__file__).resolve().parent
DEFAULT_LINKS = REPO_ROOT / "graphs" / "default" / "links.csv"
DEFAULT_TAXONOMY = REPO_ROOT / "server" / "core" / "taxonomy.csv"

MFN_FILE = "tariffs/usitc_tariff_database_2017_mfn.csv"
SECTION_301_FILE = "tariffs/usitc_china_tariffs_301_hts8_2020-01-01.csv"
US_ON_CHINA_FILE = "tariffs/us_tariffs_on_china_hs6_2018_2020.csv"
CHINA_ON_US_FILE = "tariffs/china_tariffs_on_us_hs6_2018_2019.csv"
GA_GE_ITEMS_FILE = "export_controls/china_mofcom_2023_23_ga_ge_items.csv"
POLICY_EVENTS_FILE = "export_controls/policy_events.csv"
REGIME_FILE = "policy/regime_2025_2026.csv"

MFN_SCHEMA = pl.Schema(
    {
        "hts8": pl.String,
        "brief_description": pl.String,
        "mfn_text_rate": pl.String,
        "mfn_ad_val_rate": pl.String,
        "mfn_specific_rate": pl.String,
        "col2_text_rate": pl.String,
        "begin_effect_date": pl.String,
        "end_effective_date": pl.String,
    }
)
SECTION_301_SCHEMA = pl.Schema({"hts8": pl.String, "ch99_heading": pl.String})
CHINA_ON_US_SCHEMA = pl.Schema({"time_of_tariff": pl.String, "hs6": pl.String, "tariff": pl.Float64})
GA_GE_ITEMS_SCHEMA = pl.Schema(
    {
        "item_group": pl.String,
        "item_no": pl.Int64,
        "item_en": pl.String,
        "china_customs_codes_ref": pl.String,
        "note": pl.String,
    }
)
TAXONOMY_SCHEMA = pl.Schema({"hs_prefix": pl.String, "tag": pl.String, "description": pl.String, "source": pl.String})

TARIFF_MEASURE_COLUMNS = (
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
)
TARIFF_LINE_COLUMNS = ("measure_id", "hs_prefix", "rate_fraction")
EXPORT_CONTROL_COLUMNS = (
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
)
LINES_SCHEMA = pl.Schema({"measure_id": pl.String, "hs_prefix": pl.String, "rate_fraction": pl.Float64})

MFN_VINTAGE_DAY = "2017-12-31"  # the 2017 database holds mid-year revisions: take the row in force at year end
NON_AD_VALOREM_PLACEHOLDER = 9999.0  # the database writes 9999.999999 where a rate is not expressible ad valorem
RATE_DECIMALS = 6
IEEPA_RULING = date(2026, 2, 20)  # Learning Resources v. Trump: IEEPA does not authorise tariffs
CHINA_EXTRA_HS6 = ("850511", "854231")  # the brief's check codes, kept even if the graph stops using them
SEMICONDUCTOR_HEADINGS = ("8541", "8542")

Period = tuple[date, date | None]


@dataclass(frozen=True, kw_only=True)
class TariffRow:
    """One row of `tariff_measures.csv`; a schedule measure has no `hs_prefixes` and its lines elsewhere."""

    measure_id: str
    title: str
    authority: str
    program: str
    importer: str
    origins: tuple[str, ...] = ()
    hs_prefixes: tuple[str, ...] = ()
    rate_fraction: float | None = None
    alternative_rate_fraction: float | None = None
    effective_from: date
    effective_until: date | None = None
    suspended: tuple[Period, ...] = ()
    voided_on: date | None = None
    source: str
    note: str = ""

    def record(self) -> dict[str, str]:
        return {
            "measure_id": self.measure_id,
            "title": self.title,
            "authority": self.authority,
            "program": self.program,
            "importer": self.importer,
            "origins": ";".join(self.origins),
            "hs_prefixes": ";".join(self.hs_prefixes),
            "rate_fraction": format_fraction(self.rate_fraction),
            "alternative_rate_fraction": format_fraction(self.alternative_rate_fraction),
            "effective_from": self.effective_from.isoformat(),
            "effective_until": format_day(self.effective_until),
            "suspended": format_periods(self.suspended),
            "voided_on": format_day(self.voided_on),
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True, kw_only=True)
class ControlRow:
    """One row of `export_controls.csv`."""

    measure_id: str
    title: str
    authority: str
    controlling_country: str
    hs_prefixes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    target_lists: tuple[str, ...] = ()
    severity: str
    effective_from: date
    effective_until: date | None = None
    suspended: tuple[Period, ...] = ()
    voided_on: date | None = None
    source: str
    note: str = ""

    def record(self) -> dict[str, str]:
        return {
            "measure_id": self.measure_id,
            "title": self.title,
            "authority": self.authority,
            "controlling_country": self.controlling_country,
            "hs_prefixes": ";".join(self.hs_prefixes),
            "tags": ";".join(self.tags),
            "destinations": ";".join(self.destinations),
            "target_lists": ";".join(self.target_lists),
            "severity": self.severity,
            "effective_from": self.effective_from.isoformat(),
            "effective_until": format_day(self.effective_until),
            "suspended": format_periods(self.suspended),
            "voided_on": format_day(self.voided_on),
            "source": self.source,
            "note": self.note,
        }


@dataclass(frozen=True)
class ScheduleStep:
    """A Section 301 measure whose lines are every HTS8 line of one list (and fully covered HS6 codes)."""

    measure: TariffRow
    list_key: str
    line_rate_fraction: float


@dataclass(frozen=True)
class Library:
    """The three tables, as written (every column a string)."""

    tariff_measures: pl.DataFrame
    tariff_lines: pl.DataFrame
    export_controls: pl.DataFrame


# --- Section 301 (USTR), one measure per list and rate step -------------------------------------------------------

SECTION_301_LIST_OF_HEADING = {
    "9903.88.01": "LIST1",
    "9903.88.02": "LIST2",
    "9903.88.03": "LIST3",
    "9903.88.04": "LIST3",
    "9903.88.15": "LIST4A",
    "9903.88.16": "LIST4B",
}
_301_LIST_SOURCE = f"HTS8 list: ../shared/data/{SECTION_301_FILE} (USITC 'China Tariffs', as of 2020-01-01)"
_301_LINE_RULE = (
    "Lines: every HTS8 of the list as an 8-digit prefix, plus the HS6 prefix where every HTS8 of that HS6 (2017 MFN "
    "database and the list file together) is on this list."
)
_LIST3_DATE_NOTE = (
    "25% from 2019-05-10 (legal date, 84 FR 20459: goods exported from then on); goods exported before 2019-05-10 "
    "kept 10% if entered by 2019-06-01 (later extended to 2019-06-15), and the shared us_tariffs file steps on "
    "2019-06-01: the other reading of the change date."
)
SECTION_301_STEPS = (
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST1",
            title="US Section 301 List 1 (9903.88.01): 25% on Chinese goods",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2018, 7, 6),
            source=f"USTR notice 83 FR 28710 (2018-06-20); {_301_LIST_SOURCE}; ../shared/data/{POLICY_EVENTS_FILE}",
            note=f"{_301_LINE_RULE} Product exclusions are not modelled.",
        ),
        "LIST1",
        0.25,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST2",
            title="US Section 301 List 2 (9903.88.02): 25% on Chinese goods",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2018, 8, 23),
            source=f"USTR notice 83 FR 40823 (2018-08-16); {_301_LIST_SOURCE}; ../shared/data/{POLICY_EVENTS_FILE}",
            note=f"{_301_LINE_RULE} Includes 8541.10, 8541.40.60 and 8542.31-.90 (integrated circuits).",
        ),
        "LIST2",
        0.25,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST3-10",
            title="US Section 301 List 3 (9903.88.03): 10% on Chinese goods, before the increase to 25%",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2018, 9, 24),
            effective_until=date(2019, 5, 10),
            source=f"USTR notice 83 FR 47974 (2018-09-21); {_301_LIST_SOURCE}; ../shared/data/{POLICY_EVENTS_FILE}",
            note=(
                f"{_301_LINE_RULE} Ends at the increase: {_LIST3_DATE_NOTE} The file lists no 9903.88.04 (partial "
                "List 3) lines."
            ),
        ),
        "LIST3",
        0.10,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST3-25",
            title="US Section 301 List 3 (9903.88.03): 25% on Chinese goods after the May 2019 increase",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2019, 5, 10),
            source=f"USTR notice 84 FR 20459 (2019-05-15); {_301_LIST_SOURCE}",
            note=f"{_301_LINE_RULE} {_LIST3_DATE_NOTE}",
        ),
        "LIST3",
        0.25,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST4A-15",
            title="US Section 301 List 4A (9903.88.15): 15% on Chinese goods, before the Phase One cut",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2019, 9, 1),
            effective_until=date(2020, 2, 14),
            source=f"USTR notices 84 FR 43304 and 84 FR 45821 (2019-08); {_301_LIST_SOURCE}",
            note=f"{_301_LINE_RULE} Cut to 7.5% from 2020-02-14 (US-301-LIST4A-7.5).",
        ),
        "LIST4A",
        0.15,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST4A-7.5",
            title="US Section 301 List 4A (9903.88.15): 7.5% on Chinese goods after the Phase One agreement",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2020, 2, 14),
            source=f"USTR notice 85 FR 3741 (2020-01-22, Phase One); {_301_LIST_SOURCE}",
            note=_301_LINE_RULE,
        ),
        "LIST4A",
        0.075,
    ),
    ScheduleStep(
        TariffRow(
            measure_id="US-301-LIST4B",
            title="US Section 301 List 4B (9903.88.16): 15% scheduled for 2019-12-15, suspended",
            authority="SECTION_301",
            program="US-301",
            importer="US",
            origins=("CN",),
            effective_from=date(2019, 12, 15),
            suspended=((date(2019, 12, 15), None),),
            source=(
                f"USTR notice 84 FR 69447 (2019-12-18, suspension); {_301_LIST_SOURCE}; "
                f"../shared/data/{POLICY_EVENTS_FILE} (row 2019-12-18)"
            ),
            note=f"{_301_LINE_RULE} Never collected: suspended indefinitely from its effective date.",
        ),
        "LIST4B",
        0.15,
    ),
)

SEMICONDUCTOR_2025 = TariffRow(
    measure_id="US-301-SEMI-2025",
    title="US Section 301 four-year review: 50% on Chinese semiconductors (HTS 8541, 8542) from 2025",
    authority="SECTION_301",
    program="US-301",
    importer="US",
    origins=("CN",),
    effective_from=date(2025, 1, 1),
    source=(
        f"../shared/data/{REGIME_FILE} (row 2025-01-01, US, Section 301); USTR notice of modification 89 FR 76581 "
        "(2024-09-18)"
    ),
    note=(
        "Same program as Lists 1-4B, so it must win there: its lines repeat every Section 301 line under 8541/8542 "
        "(same prefix, later effective_from wins) and add 8541 and 8542 for lines on no list. Other four-year-review "
        "increases (solar cells 50% from 2024-09-27; polysilicon and wafers 50% and critical minerals 25% from "
        "2024-09-27 or 2025-01-01; permanent magnets and natural graphite 25% from 2026-01-01) are not in the "
        "shared data and not modelled."
    ),
)

# --- The 2025-2026 regime (hand-written; every row cites its source) -----------------------------------------------

_REGIME = f"../shared/data/{REGIME_FILE}"
_VOID_NOTE = (
    "Void from 2026-02-20, the IEEPA ruling (default); CBP stopped collecting IEEPA duties from 2026-02-24 (the "
    "other reading of the end date; refunds are litigated)."
)
REGIME_2025_2026 = (
    TariffRow(
        measure_id="US-IEEPA-FENTANYL-10",
        title="US IEEPA fentanyl duty on Chinese goods: 10%",
        authority="IEEPA",
        program="US-IEEPA-FENTANYL",
        importer="US",
        origins=("CN", "HK"),
        hs_prefixes=("*",),
        rate_fraction=0.10,
        effective_from=date(2025, 2, 4),
        effective_until=date(2025, 3, 4),
        voided_on=IEEPA_RULING,
        source=f"Executive Order 14195 (2025-02-01; HTSUS 9903.01.20); {_REGIME} (rows 2025-05-12, 2026-02-20)",
        note=f"Products of China including Hong Kong. {_VOID_NOTE}",
    ),
    TariffRow(
        measure_id="US-IEEPA-FENTANYL-20",
        title="US IEEPA fentanyl duty on Chinese goods: 20%",
        authority="IEEPA",
        program="US-IEEPA-FENTANYL",
        importer="US",
        origins=("CN", "HK"),
        hs_prefixes=("*",),
        rate_fraction=0.20,
        effective_from=date(2025, 3, 4),
        effective_until=date(2025, 11, 10),
        voided_on=IEEPA_RULING,
        source=f"Executive Order 14228 (2025-03-03); {_REGIME} (rows 2025-05-12, 2025-11-10 US, 2026-02-20)",
        note=f"Products of China including Hong Kong. {_VOID_NOTE}",
    ),
    TariffRow(
        measure_id="US-IEEPA-FENTANYL-10-NOV2025",
        title="US IEEPA fentanyl duty on Chinese goods cut back to 10% (Trump-Xi arrangement)",
        authority="IEEPA",
        program="US-IEEPA-FENTANYL",
        importer="US",
        origins=("CN", "HK"),
        hs_prefixes=("*",),
        rate_fraction=0.10,
        effective_from=date(2025, 11, 10),
        voided_on=IEEPA_RULING,
        source=(
            f"{_REGIME} (row 2025-11-10, US, IEEPA); executive order of 2025-11-04 'Modifying Duties Addressing the "
            "Synthetic Opioid Supply Chain in the PRC' (HTSUS 9903.01.24)"
        ),
        note=f"Products of China including Hong Kong. {_VOID_NOTE}",
    ),
    TariffRow(
        measure_id="US-IEEPA-RECIPROCAL-CN-10-BASELINE",
        title="US IEEPA reciprocal duty on Chinese goods: 10% baseline before the country rate",
        authority="IEEPA",
        program="US-IEEPA-RECIPROCAL",
        importer="US",
        origins=("CN", "HK", "MO"),
        hs_prefixes=("*",),
        rate_fraction=0.10,
        alternative_rate_fraction=0.34,
        effective_from=date(2025, 4, 5),
        effective_until=date(2025, 4, 9),
        voided_on=IEEPA_RULING,
        source="Executive Order 14257 (2025-04-02), sec. 3 (10% on all partners from 2025-04-05) and Annex I (CN 34%)",
        note=(
            "EO 14257 put the 10% baseline on every partner from 2025-04-05 and China's 34% country rate from "
            "2025-04-09; summaries that date 34% from 2025-04-05 are the alternative (0.34). Products of China "
            f"including Hong Kong and Macau. {_VOID_NOTE}"
        ),
    ),
    TariffRow(
        measure_id="US-IEEPA-RECIPROCAL-CN-84",
        title="US IEEPA reciprocal duty on Chinese goods: 84% (one day)",
        authority="IEEPA",
        program="US-IEEPA-RECIPROCAL",
        importer="US",
        origins=("CN", "HK", "MO"),
        hs_prefixes=("*",),
        rate_fraction=0.84,
        alternative_rate_fraction=0.34,
        effective_from=date(2025, 4, 9),
        effective_until=date(2025, 4, 10),
        voided_on=IEEPA_RULING,
        source="Executive order of 2025-04-08 amending EO 14257 (34% -> 84%, effective 2025-04-09 12:01 a.m. EDT)",
        note=(
            "The Annex I rate of 34% was due on 2025-04-09 but was raised to 84% before it took effect; 0.34 is the "
            f"reading of sources that skip the amendment. {_VOID_NOTE}"
        ),
    ),
    TariffRow(
        measure_id="US-IEEPA-RECIPROCAL-CN-125",
        title="US IEEPA reciprocal duty on Chinese goods: 125%",
        authority="IEEPA",
        program="US-IEEPA-RECIPROCAL",
        importer="US",
        origins=("CN", "HK", "MO"),
        hs_prefixes=("*",),
        rate_fraction=1.25,
        effective_from=date(2025, 4, 10),
        effective_until=date(2025, 5, 14),
        voided_on=IEEPA_RULING,
        source=f"Executive Order 14266 (2025-04-09; HTSUS 9903.01.63); {_REGIME} (row 2025-05-12: 145% = 125 + 20)",
        note=f"With the 20% fentanyl duty: 145% on Chinese goods. {_VOID_NOTE}",
    ),
    TariffRow(
        measure_id="US-IEEPA-RECIPROCAL-CN-10-GENEVA",
        title="US IEEPA reciprocal duty on Chinese goods after Geneva: 10% (24 points of 34% suspended)",
        authority="IEEPA",
        program="US-IEEPA-RECIPROCAL",
        importer="US",
        origins=("CN", "HK", "MO"),
        hs_prefixes=("*",),
        rate_fraction=0.10,
        alternative_rate_fraction=0.34,
        effective_from=date(2025, 5, 14),
        voided_on=IEEPA_RULING,
        source=(
            f"{_REGIME} (rows 2025-05-12 Geneva, 2025-11-10 US, 2026-02-20); Executive Order 14298 (2025-05-12); "
            "executive orders of 2025-08-11 and 2025-11-04 extending the suspension"
        ),
        note=(
            "24 points suspended for 90 days (to 2025-08-12), extended to 2025-11-10 and then to 2026-11-10; 0.34 is "
            "the rate if the suspension lapsed (it never did before the ruling). " + _VOID_NOTE
        ),
    ),
    TariffRow(
        measure_id="US-TRANSSHIPMENT-40",
        title="US penalty duty on Chinese goods transshipped to evade the reciprocal duty: 40% in its place",
        authority="TRANSSHIPMENT_PENALTY",
        program="US-IEEPA-RECIPROCAL",
        importer="US",
        origins=("CN", "HK", "MO"),
        hs_prefixes=("*",),
        rate_fraction=0.40,
        effective_from=date(2025, 8, 7),
        voided_on=IEEPA_RULING,
        source=(
            f"{_REGIME} (row 2025-07-31); executive order of 2025-07-31 'Further Modifying the Reciprocal Tariff "
            "Rates', sec. 3 (effective 2025-08-07): 40 percent 'in lieu of the additional ad valorem rate of duty "
            "applicable to goods of the country of origin'"
        ),
        note=(
            "Replaces the origin's reciprocal rate rather than adding to it (the order's wording; the regime file's "
            "summary says only 'additional'), so it is in the reciprocal program and a penalty wins its program; "
            "the fentanyl duty still stacks. Applies only to transshipped links (CBP's finding is not modelled). "
            "Origins limited to China's (CN, HK, MO), the only reciprocal rates the library models: elsewhere the "
            "penalty would stand in for a rate that is missing. Issued under IEEPA, so the default reads it void "
            "with the 2026-02-20 ruling; status after the ruling is unclear (regime file): the other reading keeps "
            "it in force (remove voided_on)."
        ),
    ),
    TariffRow(
        measure_id="US-122-GLOBAL-2026",
        title="US Section 122 temporary import surcharge on all origins (150 days)",
        authority="SECTION_122",
        program="US-122",
        importer="US",
        hs_prefixes=("*",),
        rate_fraction=0.10,
        alternative_rate_fraction=0.15,
        effective_from=date(2026, 2, 24),
        effective_until=date(2026, 7, 24),
        source=(
            f"{_REGIME} (row 2026-02-20: reported rate 10% or 15%, sources disagree); proclamation of 2026-02-20 "
            "under Trade Act 1974 sec. 122 (19 U.S.C. 2132), effective 2026-02-24 through 2026-07-24 12:01 a.m."
        ),
        note=(
            "Default 10% (the proclamation); 15% (the statutory ceiling) was announced on 2026-02-21 and is the "
            "alternative. Ends after 150 days unless Congress extends it. Not modelled: the annexes exempt certain "
            "critical minerals, energy, pharmaceuticals, certain electronics, vehicles, aerospace, Section 232 goods "
            "and USMCA goods, so hs * overstates the duty on those."
        ),
    ),
    TariffRow(
        measure_id="CN-RETALIATION-2025-84",
        title="China's additional duty on US goods answering the US reciprocal duty: 84%",
        authority="RETALIATORY",
        program="CN-RETALIATION-2025",
        importer="CN",
        origins=("US",),
        hs_prefixes=("*",),
        rate_fraction=0.84,
        alternative_rate_fraction=0.34,
        effective_from=date(2025, 4, 10),
        effective_until=date(2025, 4, 12),
        source=(
            "State Council Tariff Commission announcements 2025 No. 4 (2025-04-04: 34% from 2025-04-10) and No. 5 "
            "(2025-04-09: 84% from 2025-04-10)"
        ),
        note="34% was announced first for the same day and raised to 84% before it took effect: 0.34 is that reading.",
    ),
    TariffRow(
        measure_id="CN-RETALIATION-2025-125",
        title="China's additional duty on US goods: 125%",
        authority="RETALIATORY",
        program="CN-RETALIATION-2025",
        importer="CN",
        origins=("US",),
        hs_prefixes=("*",),
        rate_fraction=1.25,
        effective_from=date(2025, 4, 12),
        effective_until=date(2025, 5, 14),
        source=f"State Council Tariff Commission announcement of 2025-04-11 (125% from 2025-04-12); {_REGIME} (row "
        "2025-05-12)",
        note="Stacks on China's 2018-2019 retaliation (program CN-RETALIATION) and MFN.",
    ),
    TariffRow(
        measure_id="CN-RETALIATION-2025-10",
        title="China's additional duty on US goods after Geneva: 10% (24 points of 34% suspended)",
        authority="RETALIATORY",
        program="CN-RETALIATION-2025",
        importer="CN",
        origins=("US",),
        hs_prefixes=("*",),
        rate_fraction=0.10,
        alternative_rate_fraction=0.34,
        effective_from=date(2025, 5, 14),
        source=f"{_REGIME} (row 2025-05-12 Geneva: China's from 125% to 10%); Geneva joint statement (2025-05-12)",
        note=(
            "24 points suspended with the US suspension (extended to 2026-11-10 in the November 2025 arrangement); "
            "0.34 if it lapsed. Not voided by the US ruling; its status after 2026-02-20 is not in the shared data. "
            "China's product-specific duties of 2025-02-10 (coal, LNG, crude, machinery, vehicles) and 2025-03-10 "
            "(farm goods, suspended from 2025-11-10) are not modelled."
        ),
    ),
)

# --- Export controls (hand-written; every row cites its source) ----------------------------------------------------

_EVENTS = f"../shared/data/{POLICY_EVENTS_FILE}"
ANTIMONY_PREFIXES = ("261710", "282580", "8110")  # ores and concentrates, oxides, metal (taxonomy tag antimony)
GRAPHITE_PREFIXES = ("250410", "380110")  # natural flake and spherical graphite, artificial graphite
RARE_EARTH_PREFIXES = ("280530", "284690", "850511")  # metals, compounds (not cerium 2846.10), metal magnets
SME_PREFIXES = ("8486", "903141", "903082")  # taxonomy tag semiconductor_equipment
EUV_PREFIXES = ("8486203950",)  # China's national code for EUV lithography machines (taxonomy tag euv)
US_CHINA_DESTINATIONS = ("CN", "HK", "MO")  # the EAR treats Hong Kong as China since 2020; the rules name Macau


def build_export_controls(ga_ge_prefixes: tuple[str, ...]) -> tuple[ControlRow, ...]:
    """The export controls; `ga_ge_prefixes` come from the MOFCOM 2023 No. 23 items file."""
    ga_ge_sb = (*ga_ge_prefixes, *ANTIMONY_PREFIXES)
    return (
        ControlRow(
            measure_id="CN-MOFCOM-2023-23-GA-GE",
            title="China: export licence for gallium and germanium items",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=ga_ge_prefixes,
            tags=("gallium", "germanium"),
            severity="LICENCE_REQUIRED",
            effective_from=date(2023, 8, 1),
            source=(
                f"MOFCOM/GAC Announcement 2023 No. 23 (2023-07-03); items: ../shared/data/{GA_GE_ITEMS_FILE}; "
                f"{_EVENTS} (rows 2023-07-03, 2023-08-01)"
            ),
            note=(
                "Prefixes: the HS6 of each listed China customs code where the taxonomy tags the whole HS6 gallium "
                "or germanium (8112.92, 8112.99, 2825.60); elsewhere the 10-digit code itself, because those HS6 "
                "lines are baskets (3818.00 holds silicon wafers, 3825.69, 2850.00, 2853.90, 2842.90, 2825.90) and "
                "an HS6 prefix would control them all. Germanium item 6 (germanium tetrachloride) has no code in "
                "the items file; the 2825600002 code is unverified (items file note)."
            ),
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2023-39-GRAPHITE",
            title="China: export licence for graphite items",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=GRAPHITE_PREFIXES,
            tags=("graphite",),
            severity="LICENCE_REQUIRED",
            effective_from=date(2023, 12, 1),
            source=f"MOFCOM/GAC Announcement 2023 No. 39 (2023-10-20); {_EVENTS} (row 2023-12-01)",
            note=(
                "Covers high-purity, high-strength and high-density artificial graphite and natural flake graphite "
                "and its products (spherical, expanded); HS6 prefixes and the graphite tag (which includes 2504.90) "
                "over-include. The shared event date comes from a third-party README."
            ),
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2024-33-ANTIMONY",
            title="China: export licence for antimony items",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=ANTIMONY_PREFIXES,
            tags=("antimony",),
            severity="LICENCE_REQUIRED",
            effective_from=date(2024, 9, 15),
            source=f"MOFCOM/GAC Announcement 2024 No. 33 (2024-08-15, in force 2024-09-15); {_EVENTS} (row 2024-08)",
            note="Antimony ores, metal, oxides and related technology; the same announcement controls superhard "
            "materials (not modelled).",
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2024-46-US-BAN",
            title="China: exports of gallium, germanium and antimony to the United States not permitted",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=ga_ge_sb,
            tags=("antimony", "gallium", "germanium"),
            destinations=("US",),
            severity="BAN",
            effective_from=date(2024, 12, 3),
            suspended=((date(2025, 11, 9), date(2026, 11, 27)),),
            source=(
                f"MOFCOM Announcement 2024 No. 46 (2024-12-03), clause 2; {_EVENTS} (rows 2024-12, 2025-11); "
                f"{_REGIME} (row 2025-11-10, CN); MOFCOM suspension of clause 2 announced 2025-11-09"
            ),
            note=(
                "Suspended 2025-11-09..2026-11-27 (MOFCOM's suspension of clause 2, as reported on 2025-11-09; "
                "default); the regime file reads it as lifted for one year from 2025-11-10 (..2026-11-10). Clause 1 "
                "(no dual-use items to US military end users) and the stricter graphite review stay in force and "
                "are not modelled."
            ),
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2025-18-RARE-EARTH",
            title="China: export licence for seven medium and heavy rare earths and magnets containing them",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=RARE_EARTH_PREFIXES,
            tags=("magnet", "rare_earth"),
            severity="LICENCE_REQUIRED",
            effective_from=date(2025, 4, 4),
            source=(
                f"MOFCOM/GAC Announcement 2025 No. 18 (2025-04-04); {_REGIME} (row 2025-04-04); {_EVENTS} (row 2025-04)"
            ),
            note=(
                "Sm, Gd, Tb, Dy, Lu, Sc, Y metals, alloys, oxides and compounds, and magnets containing them. In "
                "force; not part of the suspended October 2025 measures. Tags over-include (cerium compounds, "
                "ferrite magnets)."
            ),
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2025-61-62-RARE-EARTH",
            title="China: October 2025 rare-earth expansion (five more elements, technologies, extraterritorial rule)",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=RARE_EARTH_PREFIXES,
            tags=("magnet", "rare_earth"),
            severity="PRESUMPTION_OF_DENIAL",
            effective_from=date(2025, 10, 9),
            suspended=((date(2025, 11, 7), date(2026, 11, 10)),),
            source=(
                f"MOFCOM Announcements 2025 No. 61 and 62 (2025-10-09; also MOFCOM/GAC No. 57); {_REGIME} (row "
                f"2025-10-09); MOFCOM/GAC Announcement 2025 No. 70 (2025-11-07, suspension); {_EVENTS} (row 2025-10)"
            ),
            note=(
                "From 2025-10-09 (promulgation; default); the extraterritorial parts (foreign-made items with >=0.1% "
                "Chinese rare earths by value, items made with Chinese technology) were due 2025-12-01, the other "
                "reading. Presumption of denial is the reading for military end users and listed parties; chips at "
                "14 nm / 256 layers and below are case by case. Suspended from 2025-11-07 (No. 70, 'immediately') "
                "to 2026-11-10; the regime file dates the suspension from 2025-11-10."
            ),
        ),
        ControlRow(
            measure_id="CN-MOFCOM-2025-GENERAL-LICENCE-US",
            title="China: general licences for rare earths, gallium, germanium, antimony and graphite to US end users",
            authority="CN_MOFCOM",
            controlling_country="CN",
            hs_prefixes=(*ga_ge_sb, *GRAPHITE_PREFIXES, *RARE_EARTH_PREFIXES),
            tags=("antimony", "gallium", "germanium", "graphite", "rare_earth"),
            destinations=("US",),
            severity="GENERAL_LICENCE",
            effective_from=date(2025, 11, 10),
            source=f"{_REGIME} (row 2025-11-10, CN); {_EVENTS} (rows 2025-11)",
            note=(
                "Recorded, but it changes no number here: the hazard is the strongest control that applies, and every "
                "item it covers stays under one of the licence requirements above (LICENCE_REQUIRED), which it does "
                "not lift. The relief it brings (faster approval for US end users, for selected exporters only, "
                "USGS) would be modelled by suspending or narrowing those requirements, not by this row. No end date "
                "in the shared data."
            ),
        ),
        ControlRow(
            measure_id="US-EAR-2022-SME-CN",
            title="US EAR: licence for semiconductor manufacturing equipment to China (advanced-node fabs)",
            authority="US_EAR",
            controlling_country="US",
            hs_prefixes=SME_PREFIXES,
            tags=("semiconductor_equipment",),
            destinations=US_CHINA_DESTINATIONS,
            severity="LICENCE_REQUIRED",
            effective_from=date(2022, 10, 7),
            source=(
                "BIS interim final rule 'Implementation of Additional Export Controls: Certain Advanced Computing and "
                "Semiconductor Manufacturing Items', 87 FR 62186 (2022-10-13), in force 2022-10-07"
            ),
            note=(
                "The licence duty follows the item (3B090, 3B001...) and the end use (advanced-node fabs in China); "
                "matching all of HS 8486 over-includes. Later rules (2023-10-17, 2024-12-02) and advanced-computing "
                "chips are not modelled."
            ),
        ),
        ControlRow(
            measure_id="US-EAR-2022-SME-CN-ENTITY",
            title="US EAR: presumption of denial for fab equipment to Entity-Listed Chinese buyers",
            authority="US_EAR",
            controlling_country="US",
            hs_prefixes=SME_PREFIXES,
            tags=("semiconductor_equipment",),
            destinations=US_CHINA_DESTINATIONS,
            target_lists=("US_ENTITY_LIST",),
            severity="PRESUMPTION_OF_DENIAL",
            effective_from=date(2022, 10, 7),
            source="BIS interim final rule 87 FR 62186 (2022-10-13): Entity List entries with a presumption of denial",
            note=(
                "The Affiliates Rule (2025-09-29, 50%-owned affiliates treated as listed) is suspended until "
                "2026-11-10 and not modelled (regime and events files)."
            ),
        ),
        ControlRow(
            measure_id="US-EAR-2022-EUV-CN",
            title="US EAR: EUV lithography tools to China, presumption of denial",
            authority="US_EAR",
            controlling_country="US",
            hs_prefixes=EUV_PREFIXES,
            tags=("euv",),
            destinations=US_CHINA_DESTINATIONS,
            severity="PRESUMPTION_OF_DENIAL",
            effective_from=date(2022, 10, 7),
            source="BIS interim final rule 87 FR 62186 (2022-10-13); ECCN 3B001.f.1 (EUV) national-security controls",
            note=(
                "BAN-like: no EUV tool has been licensed to China. Reaches only US-shipped or US-origin tools; "
                "foreign-made tools reached through the de minimis and foreign direct product rules cannot be "
                "expressed in this format: see NL-EUV-CN."
            ),
        ),
        ControlRow(
            measure_id="NL-EUV-CN",
            title="Netherlands: EUV lithography tools to China, presumption of denial",
            authority="OTHER",
            controlling_country="NL",
            hs_prefixes=EUV_PREFIXES,
            tags=("euv",),
            destinations=("CN",),
            severity="PRESUMPTION_OF_DENIAL",
            effective_from=date(2021, 9, 9),
            source=(
                "Regulation (EU) 2021/821, Annex I item 3B001.f.1 (licence needed to export EUV tools from the EU; "
                "applies from 2021-09-09); Dutch licence practice as reported since 2019"
            ),
            note=(
                "The only EUV maker is Dutch (ETO Chip Explorer), so the US row alone would never reach a Dutch "
                "shipment. The licence duty predates 2021 (Regulation 428/2009); 2021-09-09 is the first date "
                "with a citable legal text here; no licence for China is known."
            ),
        ),
    )


# --- Formatting -----------------------------------------------------------------------------------------------------


def format_fraction(value: float | None) -> str:
    """`0.25`, `0`, `1.25`: at most six decimals, no trailing zeros; empty for None."""
    if value is None:
        return ""
    return f"{value:.{RATE_DECIMALS}f}".rstrip("0").rstrip(".")


def fraction_text(column: str) -> pl.Expr:
    """The same text as `format_fraction`, as a Polars expression."""
    return (
        pl.col(column)
        .round(RATE_DECIMALS)
        .cast(pl.String)
        .str.replace(r"(\.\d*?)0+$", "$1")
        .str.replace(r"\.$", "")
        .alias(column)
    )


def format_day(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def format_periods(periods: tuple[Period, ...]) -> str:
    return ";".join(f"{start.isoformat()}..{format_day(end)}" for start, end in periods)


# --- Reading the shared data ----------------------------------------------------------------------------------------


def read_graph_hs6(links_path: Path) -> list[str]:
    """The distinct HS6 codes (first six digits) of a links file, sorted."""
    links = pl.read_csv(links_path, columns=["hs_code"], schema_overrides={"hs_code": pl.String})
    return sorted(links.select(pl.col("hs_code").str.slice(0, 6).unique())["hs_code"].to_list())


def read_mfn_2017(data_dir: Path) -> pl.DataFrame:
    """US MFN rows in force on 2017-12-31: `hts8`, `hs6`, `rate_fraction` (ad valorem part; 0 when none)."""
    mfn = pl.read_csv(data_dir / MFN_FILE, schema=MFN_SCHEMA)
    ad_valorem = pl.col("mfn_ad_val_rate").cast(pl.Float64)
    return (
        mfn.filter((pl.col("begin_effect_date") <= MFN_VINTAGE_DAY) & (pl.col("end_effective_date") >= MFN_VINTAGE_DAY))
        .select(
            "hts8",
            pl.col("hts8").str.slice(0, 6).alias("hs6"),
            pl.when(ad_valorem.is_null() | (ad_valorem >= NON_AD_VALOREM_PLACEHOLDER))
            .then(0.0)
            .otherwise(ad_valorem)
            .alias("rate_fraction"),
        )
        .sort("hts8")
    )


def read_mfn_codes(data_dir: Path) -> pl.Series:
    """Every HTS8 code of the 2017 database (any vintage)."""
    mfn = pl.read_csv(data_dir / MFN_FILE, schema=MFN_SCHEMA)
    return mfn["hts8"].unique().sort()


def read_section_301(data_dir: Path) -> pl.DataFrame:
    """Section 301 lines: `hts8` (digits), `ch99_heading`, `list_key` (LIST1 ... LIST4B)."""
    lines = pl.read_csv(data_dir / SECTION_301_FILE, schema=SECTION_301_SCHEMA)
    unknown = sorted(set(lines["ch99_heading"].to_list()) - set(SECTION_301_LIST_OF_HEADING))
    if unknown:
        msg = f"{SECTION_301_FILE}: column ch99_heading has headings with no list: {unknown[:5]}"
        raise ValueError(msg)
    return lines.select(
        pl.col("hts8").str.replace_all(".", "", literal=True),
        "ch99_heading",
        pl.col("ch99_heading").replace_strict(SECTION_301_LIST_OF_HEADING).alias("list_key"),
    ).sort("hts8")


def read_ga_ge_prefixes(data_dir: Path, taxonomy_path: Path) -> tuple[str, ...]:
    """Control prefixes for MOFCOM 2023 No. 23: the HS6 where the taxonomy tags it Ga/Ge, else the full code."""
    items = pl.read_csv(data_dir / GA_GE_ITEMS_FILE, schema=GA_GE_ITEMS_SCHEMA)
    taxonomy = pl.read_csv(taxonomy_path, schema=TAXONOMY_SCHEMA)
    ga_ge_hs6 = taxonomy.filter(
        pl.col("tag").is_in(["gallium", "germanium"]) & (pl.col("hs_prefix").str.len_chars() <= 6)
    )["hs_prefix"]
    codes = (
        items.select(pl.col("china_customs_codes_ref").str.split(";").alias("code"))
        .explode("code")
        .filter(pl.col("code").is_not_null() & (pl.col("code") != ""))
        .select(
            pl.when(pl.col("code").str.slice(0, 6).is_in(ga_ge_hs6.implode()))
            .then(pl.col("code").str.slice(0, 6))
            .otherwise(pl.col("code"))
            .alias("prefix")
        )
    )
    return tuple(codes["prefix"].unique().sort().to_list())


# --- Computed groups ------------------------------------------------------------------------------------------------


def build_us_mfn(mfn: pl.DataFrame, scope_hs6: Sequence[str]) -> tuple[TariffRow, pl.DataFrame]:
    """`US-MFN-2017` and its lines: every HTS8 of the scope's HS6 codes, and each HS6 at its highest HTS8 rate."""
    in_scope = mfn.filter(pl.col("hs6").is_in(list(scope_hs6)))
    hts8_lines = in_scope.select(pl.col("hts8").alias("hs_prefix"), "rate_fraction")
    hs6_lines = in_scope.group_by("hs6").agg(pl.col("rate_fraction").max()).rename({"hs6": "hs_prefix"})
    measure = TariffRow(
        measure_id="US-MFN-2017",
        title="US MFN (HTSUS column 1 general) ad valorem rates, 2017 schedule",
        authority="MFN",
        program="US-MFN",
        importer="US",
        effective_from=date(2018, 1, 1),
        source=f"../shared/data/{MFN_FILE} (USITC tariff database 2017, mfn_ad_val_rate, rows in force 2017-12-31)",
        note=(
            "The 2017 schedule is the standing MFN rate from 2018-01-01: the only MFN vintage in the shared data. "
            "Each HTS8 line is an 8-digit prefix; each HS6 line carries the MAXIMUM ad valorem rate of its HTS8 "
            "lines (conservative: national lines beyond 6 digits differ by country, so the graph matches at HS6). "
            "Only the default graph's HS6 codes. Specific-only duties count as ad valorem 0 (2611.00.60, 37.5 "
            "cents/kg); compound duties keep their ad valorem part (2620.99.20: 3.8%); duties on content value that "
            "the database cannot express (7801.99.30/.90, 2.5% on the lead content) count as 0."
        ),
    )
    return measure, _lines(measure.measure_id, pl.concat([hts8_lines, hs6_lines]))


def fully_covered_hs6(section_301: pl.DataFrame, mfn_codes: pl.Series) -> pl.DataFrame:
    """HS6 codes all of whose HTS8 lines (2017 database and list file together) are on one list: `hs6`, `list_key`."""
    universe = pl.concat([mfn_codes.to_frame("hts8"), section_301.select("hts8")]).unique()
    return (
        universe.join(section_301.select("hts8", "list_key"), on="hts8", how="left")
        .group_by(pl.col("hts8").str.slice(0, 6).alias("hs6"))
        .agg(
            pl.col("list_key").n_unique().alias("lists"),
            pl.col("list_key").null_count().alias("uncovered"),
            pl.col("list_key").first(),
        )
        .filter((pl.col("lists") == 1) & (pl.col("uncovered") == 0))
        .select("hs6", "list_key")
        .sort("hs6")
    )


def build_section_301(section_301: pl.DataFrame, mfn_codes: pl.Series) -> tuple[list[TariffRow], pl.DataFrame]:
    """One measure per list and rate step; lines are the list's HTS8 codes and its fully covered HS6 codes."""
    covered = fully_covered_hs6(section_301, mfn_codes)
    lines = []
    for step in SECTION_301_STEPS:
        prefixes = pl.concat(
            [
                section_301.filter(pl.col("list_key") == step.list_key).select(pl.col("hts8").alias("hs_prefix")),
                covered.filter(pl.col("list_key") == step.list_key).select(pl.col("hs6").alias("hs_prefix")),
            ]
        )
        lines.append(
            _lines(step.measure.measure_id, prefixes.with_columns(pl.lit(step.line_rate_fraction).alias("rate")))
        )
    return [step.measure for step in SECTION_301_STEPS], pl.concat(lines)


def build_semiconductor_2025(section_301_lines: pl.DataFrame) -> tuple[TariffRow, pl.DataFrame]:
    """`US-301-SEMI-2025` at 50% on 8541 and 8542 and on every Section 301 line under them (so it wins the tie)."""
    under_semiconductors = pl.any_horizontal(
        pl.col("hs_prefix").str.starts_with(heading) for heading in SEMICONDUCTOR_HEADINGS
    )
    prefixes = pl.concat(
        [
            section_301_lines.filter(under_semiconductors).select("hs_prefix"),
            pl.DataFrame({"hs_prefix": list(SEMICONDUCTOR_HEADINGS)}),
        ]
    ).unique()
    return SEMICONDUCTOR_2025, _lines(SEMICONDUCTOR_2025.measure_id, prefixes.with_columns(pl.lit(0.50).alias("rate")))


def china_rate_steps(data_dir: Path, scope_hs6: Sequence[str]) -> pl.DataFrame:
    """China's rate on US goods per HS6 and date split into MFN and retaliation (fractions).

    The file holds totals only. MFN is the 2018-01-01 total, lowered to the total whenever the total falls below it
    (China cut MFN rates during 2018; retaliation is never negative): `mfn = running minimum of the total`,
    `retaliation = total - mfn`. Example: 3705.00 is 9% on 2018-01-01 and 4.5% on 2018-07-01 (MFN cut), then 9.5%
    on 2018-09-24: MFN 4.5% and retaliation 5%.
    """
    china = pl.read_csv(data_dir / CHINA_ON_US_FILE, schema=CHINA_ON_US_SCHEMA)
    return (
        china.filter(pl.col("hs6").is_in(list(scope_hs6)) & pl.col("tariff").is_not_null())
        .sort("hs6", "time_of_tariff")
        .with_columns((pl.col("tariff") / 100).round(RATE_DECIMALS).alias("total"))
        .with_columns(pl.col("total").cum_min().over("hs6").alias("mfn"))
        .with_columns(
            (pl.col("total") - pl.col("mfn")).round(RATE_DECIMALS).alias("retaliation"),
            (pl.col("mfn") != pl.col("mfn").shift(1).over("hs6")).fill_null(False).alias("mfn_cut"),
        )
        .with_columns(
            (pl.col("retaliation") != pl.col("retaliation").shift(1).over("hs6").fill_null(0.0)).alias(
                "retaliation_changed"
            )
        )
    )


def build_china(data_dir: Path, scope_hs6: Sequence[str]) -> tuple[list[TariffRow], pl.DataFrame]:
    """China's MFN (2018-01-01, plus inferred cuts) and one retaliation measure per step in the PIIE file."""
    steps = china_rate_steps(data_dir, scope_hs6)
    first_day = steps["time_of_tariff"].min()
    assert isinstance(first_day, str)
    without_base = sorted(set(steps["hs6"].to_list()) - set(steps.filter(pl.col("time_of_tariff") == first_day)["hs6"]))
    if without_base:
        msg = f"{CHINA_ON_US_FILE}: column tariff has no {first_day} value (the MFN base) for hs6 {without_base[:5]}"
        raise ValueError(msg)
    source = f"../shared/data/{CHINA_ON_US_FILE} (Bown-Jung-Zhang, PIIE; percent)"
    measures = [
        TariffRow(
            measure_id="CN-MFN-2018",
            title="China MFN ad valorem rates by HS6, 2018-01-01",
            authority="MFN",
            program="CN-MFN",
            importer="CN",
            effective_from=date.fromisoformat(first_day),
            source=f"{source}, rows of {first_day} (before any retaliation)",
            note="HS6 averages as PIIE gives them; only the default graph's HS6 codes plus 850511 and 854231.",
        )
    ]
    lines = [_lines("CN-MFN-2018", steps.filter(pl.col("time_of_tariff") == first_day).select("hs6", "mfn"))]
    cuts = steps.filter(pl.col("mfn_cut"))
    for day in sorted(set(cuts["time_of_tariff"].to_list())):
        measure_id = f"CN-MFN-CUT-{day}"
        measures.append(
            TariffRow(
                measure_id=measure_id,
                title=f"China MFN rate cuts from {day} (inferred)",
                authority="MFN",
                program="CN-MFN",
                importer="CN",
                effective_from=date.fromisoformat(day),
                source=f"{source}: the total on US goods falls below the MFN rate on {day}",
                note=(
                    "Inferred: retaliation is never negative, so a total below the MFN rate means MFN was cut (China "
                    "cut MFN rates on 2018-07-01 and 2018-11-01); the new MFN is taken as that total (retaliation 0 "
                    "that day). Same prefixes as CN-MFN-2018, later effective_from: these lines win."
                ),
            )
        )
        lines.append(_lines(measure_id, cuts.filter(pl.col("time_of_tariff") == day).select("hs6", "mfn")))
    change_days = sorted(set(steps.filter(pl.col("retaliation_changed"))["time_of_tariff"].to_list()))
    for index, day in enumerate(change_days):
        positive = steps.filter((pl.col("time_of_tariff") == day) & (pl.col("retaliation") > 0))
        if positive.is_empty():
            continue
        until = date.fromisoformat(change_days[index + 1]) if index + 1 < len(change_days) else None
        measure_id = f"CN-RETALIATION-{day}"
        measures.append(
            TariffRow(
                measure_id=measure_id,
                title=f"China's retaliatory duties on US goods, schedule in force from {day}",
                authority="RETALIATORY",
                program="CN-RETALIATION",
                importer="CN",
                origins=("US",),
                effective_from=date.fromisoformat(day),
                effective_until=until,
                source=f"{source}: total minus MFN on {day}",
                note=(
                    "One measure per date at which the retaliation changes for a line in scope, in force until the "
                    "next step; lines where total minus MFN is above 0. "
                    + (
                        "The last step is open-ended: the shared file ends in 2019; the 2020-02-14 halving of the "
                        "2019-09-01 tranche and later exclusions are not modelled (overstates those lines)."
                        if until is None
                        else ""
                    )
                ).strip(),
            )
        )
        lines.append(_lines(measure_id, positive.select("hs6", "retaliation")))
    return measures, pl.concat(lines)


def _lines(measure_id: str, prefixes_and_rates: pl.DataFrame) -> pl.DataFrame:
    """Lines of one measure from a two-column frame (prefix, rate), sorted by prefix."""
    prefix, rate = prefixes_and_rates.columns
    return (
        prefixes_and_rates.select(
            pl.lit(measure_id).alias("measure_id"),
            pl.col(prefix).alias("hs_prefix"),
            pl.col(rate).cast(pl.Float64).alias("rate_fraction"),
        )
        .unique("hs_prefix", keep="first", maintain_order=True)
        .sort("hs_prefix")
        .cast(LINES_SCHEMA)
    )


# --- The whole library ----------------------------------------------------------------------------------------------


def build_library(
    *,
    data_dir: Path = SHARED_DATA,
    links_path: Path = DEFAULT_LINKS,
    taxonomy_path: Path = DEFAULT_TAXONOMY,
) -> Library:
    """All three tables, in a fixed order, with every cell as text."""
    graph_hs6 = read_graph_hs6(links_path)
    mfn_codes = read_mfn_codes(data_dir)
    mfn_measure, mfn_lines = build_us_mfn(read_mfn_2017(data_dir), graph_hs6)
    s301_measures, s301_lines = build_section_301(read_section_301(data_dir), mfn_codes)
    semi_measure, semi_lines = build_semiconductor_2025(s301_lines)
    china_measures, china_lines = build_china(data_dir, sorted({*graph_hs6, *CHINA_EXTRA_HS6}))
    tariffs = [mfn_measure, *s301_measures, semi_measure, *china_measures, *REGIME_2025_2026]
    controls = build_export_controls(read_ga_ge_prefixes(data_dir, taxonomy_path))
    lines = pl.concat([mfn_lines, s301_lines, semi_lines, china_lines])
    _check_ids([row.measure_id for row in tariffs] + [row.measure_id for row in controls])
    _check_schedules(tariffs, lines)
    return Library(
        tariff_measures=_table([row.record() for row in tariffs], TARIFF_MEASURE_COLUMNS),
        tariff_lines=lines.with_columns(fraction_text("rate_fraction")),
        export_controls=_table([row.record() for row in controls], EXPORT_CONTROL_COLUMNS),
    )


def write_library(library: Library, output_dir: Path) -> None:
    """Write the three CSVs (UTF-8, `\\n` line ends, quotes only where needed)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    library.tariff_measures.write_csv(output_dir / "tariff_measures.csv", line_terminator="\n")
    library.tariff_lines.write_csv(output_dir / "tariff_lines.csv", line_terminator="\n")
    library.export_controls.write_csv(output_dir / "export_controls.csv", line_terminator="\n")


def _table(records: list[dict[str, str]], columns: tuple[str, ...]) -> pl.DataFrame:
    """Rows as a frame of text; empty cells become null so the CSV writes them bare, not as `""`."""
    table = pl.DataFrame(records, schema=dict.fromkeys(columns, pl.String), orient="row")
    return table.with_columns(pl.when(pl.col(column) != "").then(pl.col(column)).alias(column) for column in columns)


def _check_ids(measure_ids: list[str]) -> None:
    seen: set[str] = set()
    for measure_id in measure_ids:
        if measure_id in seen:
            msg = f"measure_id {measure_id!r} appears twice"
            raise ValueError(msg)
        seen.add(measure_id)


def _check_schedules(tariffs: list[TariffRow], lines: pl.DataFrame) -> None:
    with_lines = set(lines["measure_id"].unique().to_list())
    for row in tariffs:
        if bool(row.hs_prefixes) == (row.measure_id in with_lines):
            msg = f"measure {row.measure_id}: needs either hs_prefixes with rate_fraction or lines, not both or neither"
            raise ValueError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="the shared data directory")
    parser.add_argument("--output-dir", type=Path, default=LIBRARY_DIR, help="where to write the three CSVs")
    arguments = parser.parse_args(argv)
    library = build_library(data_dir=arguments.data_dir)
    write_library(library, arguments.output_dir)
    print(
        f"wrote {library.tariff_measures.height} tariff measures, {library.tariff_lines.height} tariff lines, "
        f"{library.export_controls.height} export controls to {arguments.output_dir}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
