"""Batch scoring of supplier lists: the CLI against the real server, and equality with graph scoring."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from client.cli import EXIT_REFUSED, EXIT_USAGE
from client.client import ChokepointClient, Company, SupplyLink
from server.config import DEFAULT_SEED_GRAPH
from tests.conftest import REPO, ServeFactory
from tests.conftest import run_cli as run

EXAMPLE = REPO / "graphs" / "examples" / "suppliers.csv"
DAY = "2026-01-15"


@pytest.fixture
def address(serve: ServeFactory) -> str:
    return serve(seed_graph=DEFAULT_SEED_GRAPH).address


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_batch_scores_good_rows_and_reports_bad_ones(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"scored{suffix}"
    code, out, err = run(
        capsys,
        "--address",
        address,
        "--as-of",
        DAY,
        "--json",
        "batch",
        str(EXAMPLE),
        "-o",
        str(output),
        "--buyer-country",
        "US",
    )
    assert code == 0
    summary = json.loads(out)
    assert (summary["rows_scored"], summary["rows_refused"]) == (9, 1)
    assert summary["errors"][0]["message"].startswith("row 9, column supplier_id: needs supplier_id")
    assert "row 9, column supplier_id" in err
    scored = pl.read_parquet(output) if suffix == ".parquet" else pl.read_csv(output, infer_schema=False)
    assert scored.height == 10  # every input row, the refused one with empty results
    by_row = {int(r["row"]): r for r in scored.to_dicts()}
    assert by_row[1]["match_method"] == "id"
    assert (by_row[3]["match_method"], by_row[3]["matched_company_id"]) == ("name+country", "NL-EUV-1")
    assert by_row[5]["match_method"] == "unmatched"
    assert str(by_row[2]["transshipment"]).lower() == "true"
    assert by_row[2]["effective_origin_country"] == "CN"
    assert by_row[9]["match_method"] in (None, "")


def test_strict_refuses_the_whole_list_naming_row_and_column(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"
    code, _, err = run(
        capsys, "--address", address, "batch", str(EXAMPLE), "-o", str(output), "--buyer-country", "US", "--strict"
    )
    assert code == EXIT_REFUSED
    assert "row 9, column supplier_id" in err
    assert not output.exists()


def test_batch_equals_adding_the_buyer_to_the_graph(address: str) -> None:
    """Every good row against a graph buyer holding that row's link alone, and the list against one buyer holding
    all of them: the row's exposure, duty cost and impact, and the portfolio totals, are ScoreCompany's."""
    rows = pl.read_csv(EXAMPLE, infer_schema=False)
    with ChokepointClient(address) as client:
        result = client.score_supplier_list(rows, buyer_country="US", as_of=DAY, batch_rows=3)
        scored = result.rows.sort("row")
        assert scored.height == rows.height - len(result.errors) == 9
        unmatched = scored.filter(pl.col("match_method") == "unmatched")
        new_suppliers = [
            Company(f"NEW-{r}", "new supplier", rows["country"][r - 1]) for r in unmatched["row"].to_list()
        ]
        buyers = [Company(f"ROW-{r}", f"Buyer of row {r}", "US") for r in scored["row"].to_list()]
        client.upsert_companies([Company("PORTFOLIO", "The batch buyer", "US"), *buyers, *new_suppliers])
        links = []
        for r, company in zip(scored["row"].to_list(), scored["matched_company_id"].to_list(), strict=True):
            row = rows.row(r - 1, named=True)
            for buyer in ("PORTFOLIO", f"ROW-{r}"):
                links.append(
                    SupplyLink(
                        company or f"NEW-{r}",
                        buyer,
                        row["hs_code"],
                        float(row["annual_spend_usd"]),
                        origin_country=row["origin_country"] or "",
                        route=tuple(row["route"].split(">")) if row["route"] else (),
                    )
                )
        client.upsert_supply_links(links)
        for row in scored.to_dicts():
            alone = client.score_company(f"ROW-{row['row']}", as_of=DAY).score
            assert row["export_control_exposure"] == pytest.approx(alone.disruption, abs=1e-9), row["row"]
            assert row["tariff_cost"] == pytest.approx(alone.tariff_cost, abs=1e-9), row["row"]
            assert row["tariff_impact_usd"] == pytest.approx(alone.tariff_impact_usd, rel=1e-9, abs=1e-6), row["row"]
        graph_score = client.score_company("PORTFOLIO", as_of=DAY).score
    assert result.summary.total_spend_usd == pytest.approx(graph_score.input_spend_usd, rel=1e-12)
    assert result.summary.disruption == pytest.approx(graph_score.disruption, abs=1e-9)
    assert result.summary.tariff_cost == pytest.approx(graph_score.tariff_cost, abs=1e-9)
    assert result.summary.tariff_impact_usd == pytest.approx(graph_score.tariff_impact_usd, rel=1e-9)
    assert scored["export_control_exposure"].max() > 0  # the list is exposed: the comparison is not of zeros
    assert scored["tariff_cost"].min() >= 0


def test_batches_of_any_size_give_the_same_rows(address: str) -> None:
    rows = pl.read_csv(EXAMPLE, infer_schema=False)
    with ChokepointClient(address) as client:
        whole = client.score_supplier_list(rows, buyer_country="US", as_of=DAY)
        pieces = client.score_supplier_list(rows, buyer_country="US", as_of=DAY, batch_rows=2)
    assert_frame_equal(whole.rows.sort("row"), pieces.rows.sort("row"))
    for field in dataclasses.fields(whole.summary):
        value = getattr(whole.summary, field.name)
        expected = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
        assert getattr(pieces.summary, field.name) == expected, field.name


def test_batch_report_is_a_well_formed_page_with_charts(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from html.parser import HTMLParser

    report = tmp_path / "report.html"
    code, _, _ = run(
        capsys,
        "--address",
        address,
        "--as-of",
        DAY,
        "batch",
        str(EXAMPLE),
        "-o",
        str(tmp_path / "s.csv"),
        "--buyer-country",
        "US",
        "--report",
        str(report),
    )
    assert code == 0

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.seen.append(tag)

    parser = Tags()
    parser.feed(report.read_text(encoding="utf-8"))
    assert parser.seen.count("svg") >= 2  # spend-at-risk charts, inline
    assert "table" in parser.seen
    assert "CN-MOFCOM-2025-18-RARE-EARTH" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_explain_draws_the_paths(address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str) -> None:
    picture = tmp_path / f"paths{suffix}"
    code, out, _ = run(capsys, "--address", address, "--as-of", DAY, "explain", "US-MOTOR-1", "--out", str(picture))
    assert code == 0
    assert "US-MOTOR-1 <- " in out
    if suffix == ".svg":
        import xml.etree.ElementTree as ET

        root = ET.parse(picture).getroot()
        assert root.tag.endswith("svg")
        drawn = picture.read_text(encoding="utf-8")
        assert "CN-MAG-1" in drawn
        assert "850511 from CN via CN&gt;VN&gt;US" in drawn  # the origin and route of the resold magnets
        assert "control CN-MOFCOM-2025-18-RARE-EARTH" in drawn
        assert "US-MFN-2017" in drawn  # tariff measures are named as well as controls
    else:
        import matplotlib.image

        pixels = matplotlib.image.imread(picture)
        height, width = pixels.shape[:2]
        assert min(height, width) > 100


def test_look_through_china_share_follows_suppliers_that_buy_the_material(address: str) -> None:
    rows = pl.DataFrame(
        {
            "supplier_id": ["CA-GA-REFINER-1", "CN-MAG-1"],
            "hs_code": ["8112.92", "8505.11"],
            "annual_spend_usd": ["75", "25"],
        }
    )
    with ChokepointClient(address) as client:
        result = client.score_supplier_list(rows, buyer_country="US", as_of=DAY)
        refiner = client.score_company("CA-GA-REFINER-1", as_of=DAY, materials=("gallium",)).origins[0]
        # magnets carry `magnet` and `rare_earth`; the magnet maker buys rare earths, not magnets
        magnets = client.score_company("CN-MAG-1", as_of=DAY, materials=("rare_earth",)).origins[0]
    assert result.summary.face_value_china_share == pytest.approx(0.25)  # only the magnets are Chinese at face value
    expected = 0.75 * refiner.look_through.get("CN", 0.0) + 0.25 * magnets.look_through.get("CN", 0.0)
    assert result.summary.look_through_china_share == pytest.approx(expected)
    assert result.summary.look_through_china_share > result.summary.face_value_china_share


def test_a_list_without_the_expected_headers_is_refused_naming_the_missing_columns(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "suppliers.csv"
    source.write_text("Supplier ID,HS code,Spend\nCN-MAG-1,8505.11,100\n")
    output = tmp_path / "scored.csv"
    code, out, err = run(capsys, "--address", address, "batch", str(source), "-o", str(output), "--buyer-country", "US")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.strip() == (
        f"error: {source}: missing columns supplier_id (or supplier_name and country), hs_code, annual_spend_usd "
        "(docs/batch.md); found Supplier ID, HS code, Spend"
    )
    assert not output.exists()


BAD_CELLS = "supplier_id,hs_code,annual_spend_usd,buyer_country\n" + "\n".join(
    ["CN-MAG-1,8505.11,abc,US", "CN-MAG-1,,100,US", "CN-MAG-1,8505.11,100,", "CN-MAG-1,8505.11,100,US"]
)


def test_bad_cells_are_reported_with_their_text_and_empty_ones_as_required(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "suppliers.csv"
    source.write_text(BAD_CELLS + "\n")
    code, out, _ = run(capsys, "--address", address, "--json", "batch", str(source), "-o", str(tmp_path / "scored.csv"))
    assert code == 0
    summary = json.loads(out)
    assert [error["message"] for error in summary["errors"]] == [
        "row 1, column annual_spend_usd: must be a finite number >= 0, got 'abc'",
        "row 2, column hs_code: is required",
        "row 3, column buyer_country: is required (column or --buyer-country)",
    ]
    assert (summary["rows_scored"], summary["rows_refused"]) == (1, 3)


def test_strict_names_the_bad_cell_by_its_text(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "suppliers.csv"
    source.write_text(BAD_CELLS + "\n")
    output = tmp_path / "scored.csv"
    code, _, err = run(capsys, "--address", address, "batch", str(source), "-o", str(output), "--strict")
    assert code == EXIT_REFUSED
    assert (
        err.splitlines()[0] == "error: strict: row 1, column annual_spend_usd: must be a finite number >= 0, got 'abc'"
    )
    assert not output.exists()


def test_batch_table_gives_counts_totals_and_spend_at_risk(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    output = tmp_path / "scored.csv"
    code, out, err = run(
        capsys, "--address", address, "--as-of", DAY, "batch", str(EXAMPLE), "-o", str(output), "--buyer-country", "US"
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == f"9 rows scored, 1 refused -> {output}"
    assert lines[1].startswith("spend $35,700,000: disruption ")
    assert lines[2].startswith("spend_at_risk_by_material: rare_earth $")
    assert lines[3].startswith("spend_at_risk_by_origin: CN $")
    assert lines[4].startswith("spend_at_risk_by_measure: CN-MOFCOM-2025-18-RARE-EARTH $")
    assert err.strip() == "refused: row 9, column supplier_id: needs supplier_id, or supplier_name and country"


def test_the_client_sends_the_columns_the_service_reads() -> None:
    from client.client import SUPPLIER_COLUMNS
    from server.core.batch import BATCH_COLUMNS

    assert SUPPLIER_COLUMNS == BATCH_COLUMNS
