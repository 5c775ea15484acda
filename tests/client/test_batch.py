"""Batch scoring of supplier lists: the CLI against the real server, and equality with graph scoring."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from client.cli import EXIT_REFUSED
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
    rows = pl.read_csv(EXAMPLE, infer_schema=False).head(8)
    with ChokepointClient(address) as client:
        result = client.score_supplier_list(rows, buyer_country="US", as_of=DAY, batch_rows=3)
        scored = result.rows.sort("row")
        unmatched = scored.filter(pl.col("match_method") == "unmatched")
        new_suppliers = [
            Company(f"NEW-{r}", "new supplier", rows["country"][r - 1]) for r in unmatched["row"].to_list()
        ]
        client.upsert_companies([Company("PORTFOLIO", "The batch buyer", "US"), *new_suppliers])
        links = []
        for r, company in zip(scored["row"].to_list(), scored["matched_company_id"].to_list(), strict=True):
            row = rows.row(r - 1, named=True)
            links.append(
                SupplyLink(
                    company or f"NEW-{r}",
                    "PORTFOLIO",
                    row["hs_code"],
                    float(row["annual_spend_usd"]),
                    origin_country=row["origin_country"] or "",
                    route=tuple((row["route"] or "").split(">")) if row["route"] else (),
                )
            )
        client.upsert_supply_links(links)
        graph_score = client.score_company("PORTFOLIO", as_of=DAY).score
    assert result.summary.disruption == pytest.approx(graph_score.disruption, abs=1e-9)
    assert result.summary.tariff_cost == pytest.approx(graph_score.tariff_cost, abs=1e-9)
    assert result.summary.tariff_impact_usd == pytest.approx(graph_score.tariff_impact_usd, rel=1e-9)


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
        assert "CN-MAG-1" in picture.read_text(encoding="utf-8")
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


def test_the_client_sends_the_columns_the_service_reads() -> None:
    from client.client import SUPPLIER_COLUMNS
    from server.core.batch import BATCH_COLUMNS

    assert SUPPLIER_COLUMNS == BATCH_COLUMNS
