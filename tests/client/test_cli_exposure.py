"""The exposure subcommands of the CLI against the real server on the default graph: tables and --json."""

from __future__ import annotations

import json

import pytest

from client.cli import EXIT_REFUSED
from server.config import DEFAULT_SEED_GRAPH
from tests.conftest import ServeFactory
from tests.conftest import run_cli as run

DAY = "2026-01-15"


@pytest.fixture
def address(serve: ServeFactory) -> str:
    return serve(seed_graph=DEFAULT_SEED_GRAPH).address


def test_score_prints_components_and_origins(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--as-of", DAY, "score", "US-GA-BUYER-1")
    assert code == 0
    assert out.startswith("US-GA-BUYER-1 (US): score ")
    assert "gallium: face value CA 28%" in out
    code, out, _ = run(capsys, "--address", address, "--as-of", DAY, "--json", "score", "US-GA-BUYER-1")
    assert json.loads(out)["score"]["company_id"] == "US-GA-BUYER-1"


def test_rank_table_and_json_agree(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--address", address, "--as-of", DAY, "--json", "rank", "--limit", "3", "--by", "disruption"
    )
    assert code == 0
    ranked = json.loads(out)
    assert [row["disruption"] for row in ranked] == sorted((row["disruption"] for row in ranked), reverse=True)
    code, table, _ = run(capsys, "--address", address, "--as-of", DAY, "rank", "--limit", "3", "--by", "disruption")
    assert all(row["company_id"] in table for row in ranked)


def test_explain_lists_paths_with_measures(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--as-of", DAY, "explain", "US-MOTOR-1", "--limit", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("total ")
    assert len(lines) == 4
    assert "CN-MOFCOM-2025-18-RARE-EARTH" in out


def test_chokepoints_names_the_euv_supplier(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "chokepoints", "TW-FAB-1", "--material", "euv")
    assert code == 0
    assert "all upstream supply passes through: NL-EUV-1" in out


def test_compare_reports_level_changes(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--address", address, "--as-of", DAY, "--scenario", "cn-rare-earth-ban-all")
    code, out, _ = run(capsys, *args, "compare", "--baseline-as-of", DAY, "--limit", "3")
    assert code == 0
    assert out.startswith("levels up ")
    code, out, _ = run(capsys, *args, "--json", "compare", "--baseline-as-of", DAY, "--limit", "3")
    assert int(json.loads(out)["companies_level_up"]) > 0


def test_unknown_company_and_bad_option_are_one_line_errors(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--address", address, "score", "GHOST")
    assert (code, out) == (EXIT_REFUSED, "")
    assert err.strip() == "error: company_id: company 'GHOST' not found"
    code, _, err = run(capsys, "--address", address, "--as-of", "yesterday", "rank")
    assert code == EXIT_REFUSED
    assert err.strip() == "error: as_of_date: must be a date YYYY-MM-DD, got 'yesterday'"


def test_explain_json_gives_paths_from_the_company_with_their_measures(
    address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--address", address, "--as-of", DAY, "--json", "explain", "US-MOTOR-1", "--limit", "3")
    assert code == 0
    explanation = json.loads(out)
    paths = explanation["paths"]
    assert len(paths) == 3
    contributions = [path["contribution"] for path in paths]
    assert contributions == sorted(contributions, reverse=True)
    assert explanation["explained"] == pytest.approx(sum(contributions))
    assert explanation["explained"] <= explanation["total"]
    for path in paths:
        assert path["links"][0]["buyer_id"] == "US-MOTOR-1"
        for buyer, supplier in zip(path["links"], path["links"][1:], strict=False):
            assert supplier["buyer_id"] == buyer["supplier_id"]  # each hop goes one tier further upstream
    assert paths[0]["links"][0]["control"]["measure_id"] == "CN-MOFCOM-2025-18-RARE-EARTH"
    assert explanation["context"]["as_of_date"] == DAY


def test_chokepoints_json_names_the_dominator_and_its_share(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--json", "chokepoints", "TW-FAB-1", "--material", "euv")
    assert code == 0
    chokepoints = json.loads(out)
    assert chokepoints["dominators"] == [{"company_id": "NL-EUV-1", "country": "NL", "share": 1.0}]
    assert chokepoints["countries"] == {"NL": 1.0}
    assert chokepoints["upstream_link_count"] == 1
