"""The `chokepoint` CLI against the real server: tables, --json, errors and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from client.cli import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE
from tests.conftest import REPO, TINY_COMPANIES, TINY_LINKS, ServeFactory
from tests.conftest import run_cli as run

EXAMPLE = REPO / "graphs" / "examples" / "suppliers.csv"


@pytest.fixture
def address(serve: ServeFactory) -> str:
    server = serve()
    with server.client() as client:
        client.upsert_companies(TINY_COMPANIES)
        client.upsert_supply_links(TINY_LINKS)
    return server.address


def test_stats_json_is_stable(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--json", "stats")
    assert code == 0
    stats = json.loads(out)
    assert (stats["company_count"], stats["link_count"], stats["graph_version"]) == (4, 5, 2)
    assert stats["lists"] == {"US_ENTITY_LIST": 1}


def test_stats_table_for_people(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "stats")
    assert code == 0
    assert "company_count: 4" in out
    assert "US_ENTITY_LIST 1" in out


def test_companies_table_lists_filtered_rows(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "companies", "--list", "US_ENTITY_LIST")
    assert code == 0
    assert "CN-MAG" in out
    assert "Tiny Magnet Works" in out
    assert "US-OEM" not in out


def test_links_json_carries_derived_tags(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--json", "links", "--buyer", "US-OEM")
    assert code == 0
    links = json.loads(out)
    assert [link["supplier_id"] for link in links] == ["CN-MAG", "JP-REF", "VN-TRADE"]
    assert "transshipment" in links[0]["derived_tags"]


def test_export_then_import_round_trip(address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "--address", address, "export", str(tmp_path), "--format", "parquet")[0] == 0
    code, out, _ = run(
        capsys,
        "--address",
        address,
        "--json",
        "import",
        str(tmp_path / "companies.parquet"),
        str(tmp_path / "links.parquet"),
    )
    assert code == 0
    ack = json.loads(out)
    assert (ack["company_count"], ack["link_count"], ack["graph_version"]) == (4, 5, 3)


def test_unknown_company_is_one_line_error_and_exit_1(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--address", address, "company", "GHOST")
    assert code == EXIT_REFUSED
    assert out == ""
    assert err.strip() == "error: company_id: company 'GHOST' not found"


def test_bad_file_error_names_row_and_column(address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "companies.csv"
    bad.write_text("company_id,name,country\nA,Alpha,USA\nB,Beta,cn\n")
    code, _, err = run(capsys, "--address", address, "import", str(bad))
    assert code == EXIT_REFUSED
    lines = err.strip().splitlines()
    assert "companies.csv row 1 (line 2), column country" in lines[0]
    assert "companies.csv row 2 (line 3), column country" in lines[1]
    assert "Traceback" not in err


def test_unreachable_service_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--address", "127.0.0.1:1", "--timeout", "2", "stats")
    assert code == EXIT_UNREACHABLE
    assert "cannot reach the service at 127.0.0.1:1" in err


def test_wrong_file_suffix_is_a_usage_error(address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--address", address, "import", str(tmp_path / "companies.xlsx"))
    assert code == 2
    assert "must end in .csv or .parquet" in err


def test_console_script_is_installed(address: str) -> None:
    script = shutil.which("chokepoint", path=str(Path(sys.executable).parent))
    assert script, "pyproject's [project.scripts] installs `chokepoint`"
    result = subprocess.run(
        [script, "--address", address, "--json", "company", "VN-TRADE"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(result.stdout)["country"] == "VN"


def test_links_table_shows_route_origin_and_all_tags(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "links", "--buyer", "US-OEM")
    assert code == 0
    routed = next(line for line in out.splitlines() if "CN-MAG" in line)
    assert "CN>VN>US" in routed
    assert "transshipment" in routed
    resold = next(line for line in out.splitlines() if "VN-TRADE" in line)
    assert " CN " in resold  # the origin in effect, not the seller's country


def test_evaluate_prints_duty_hazard_and_measures(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--address",
        address,
        "--as-of",
        "2019-06-01",
        "evaluate",
        "--hs",
        "8542.31",
        "--origin",
        "CN",
        "--to",
        "US",
    )
    assert code == 0
    assert "duty 25.00%" in out
    assert "US-301-LIST2" in out
    code, out, _ = run(
        capsys,
        "--address",
        address,
        "--json",
        "--as-of",
        "2025-01-15",
        "evaluate",
        "--hs",
        "811292",
        "--origin",
        "CN",
        "--to",
        "US",
    )
    evaluation = json.loads(out)
    assert evaluation["hazard"] == 1.0
    assert evaluation["export_controls"][0]["measure_id"] == "CN-MOFCOM-2024-46-US-BAN"


def test_scenarios_create_from_file_then_list_and_show(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "whatif.json"
    spec.write_text(
        json.dumps(
            {
                "name": "no-ieepa",
                "description": "IEEPA never happened",
                "base": "current",
                "remove": ["US-IEEPA-FENTANYL-20"],
            }
        )
    )
    assert run(capsys, "--address", address, "scenarios", "create", str(spec))[0] == 0
    code, out, _ = run(capsys, "--address", address, "scenarios", "list")
    assert code == 0
    assert "no-ieepa" in out
    assert "cn-rare-earth-ban-all" in out
    code, out, _ = run(capsys, "--address", address, "scenarios", "show", "no-ieepa")
    assert json.loads(out)["remove"] == ["US-IEEPA-FENTANYL-20"]


def test_scenario_file_with_bad_json_names_line_and_column(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "broken.json"
    spec.write_text('{"name": "x",\n "base": }')
    code, _, err = run(capsys, "--address", address, "scenarios", "create", str(spec))
    assert code == 2
    assert "broken.json line 2 column" in err


def test_measures_lists_in_force_measures(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--address",
        address,
        "--json",
        "--as-of",
        "2023-09-01",
        "measures",
        "--in-force",
        "--country",
        "CN",
        "--control-authority",
        "CN_MOFCOM",
    )
    assert code == 0
    listed = {m["measure_id"]: m["status"] for m in json.loads(out)}
    assert listed["CN-MOFCOM-2023-23-GA-GE"] == "IN_FORCE"
    assert "CN-MOFCOM-2025-18-RARE-EARTH" not in listed


def test_scenario_file_field_errors_name_the_file(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "whatif.json"
    spec.write_text(json.dumps({"name": "w", "base": "current", "remove": ["NO-SUCH-MEASURE"]}))
    code, _, err = run(capsys, "--address", address, "scenarios", "create", str(spec))
    assert code == EXIT_REFUSED
    assert err.startswith(
        "error: whatif.json: scenario.remove[0]: measure 'NO-SUCH-MEASURE' is not in the base scenario"
    )


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (("explain", "US-OEM", "--out", "/nonexistent/dir/p.svg"), "/nonexistent/dir/p.svg: no such directory"),
        (
            ("batch", str(EXAMPLE), "-o", "/nonexistent/dir/x.parquet", "--buyer-country", "US"),
            "/nonexistent/dir/x.parquet: no such directory",
        ),
        (
            ("batch", str(EXAMPLE), "-o", "scored.xlsx", "--buyer-country", "US"),
            "scored.xlsx: the output name must end in .csv or .parquet",
        ),
        (
            ("batch", str(EXAMPLE), "-o", "scored.csv", "--report", "/nonexistent/dir/r.html"),
            "/nonexistent/dir/r.html: no such directory",
        ),
    ],
)
def test_a_bad_destination_is_refused_before_the_service_is_called(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...], named: str
) -> None:
    # No service listens here: reaching it would exit 3, so exit 2 shows the destination was checked first.
    code, out, err = run(capsys, "--address", "127.0.0.1:1", "--timeout", "2", *command)
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith(f"error: {named}")
    assert len(err.strip().splitlines()) == 1


def test_export_into_an_unwritable_place_is_one_line_error(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--address", address, "export", "/proc/nope")
    assert (code, out) == (EXIT_USAGE, "")
    assert err.startswith("error: /proc/nope: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_scenarios_list_json_names_the_built_in_scenarios(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--address", address, "--json", "scenarios", "list")
    assert code == 0
    scenarios = {item["name"]: item for item in json.loads(out)}
    assert {"current", "cn-rare-earth-ban-all"} <= set(scenarios)
    assert scenarios["current"]["built_in"] is True
    assert scenarios["current"]["measure_count"] > 0
    assert set(scenarios["current"]) == {"name", "description", "base", "built_in", "measure_count", "policy_version"}


def test_measures_table_shows_one_row_per_measure(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--as-of", "2023-09-01", "measures", "--in-force", "--country", "CN", "--control-authority", "CN_MOFCOM")
    code, out, _ = run(capsys, "--address", address, *args)
    assert code == 0
    header = out.splitlines()[0].split()
    assert [word for word in header if word.isidentifier()] == [
        "measure_id",
        "kind",
        "authority",
        "country",
        "status",
        "title",
        "source",
    ]
    row = next(line for line in out.splitlines() if "CN-MOFCOM-2023-23-GA-GE" in line)
    assert "export_control" in row
    assert "IN_FORCE" in row
    assert "CN-MOFCOM-2025-18-RARE-EARTH" not in out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_the_graph_as_files(
    address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    code, out, _ = run(capsys, "--address", address, "--json", "export", str(tmp_path), "--format", fmt)
    assert code == 0
    written = json.loads(out)
    assert written["graph_version"] == 2

    def read(path: str) -> pl.DataFrame:
        return pl.read_csv(path, infer_schema=False) if fmt == "csv" else pl.read_parquet(path)

    companies = read(written["companies_path"])
    links = read(written["links_path"])
    assert sorted(companies["company_id"].to_list()) == sorted(c.company_id for c in TINY_COMPANIES)
    by_id = {row["company_id"]: row for row in companies.to_dicts()}
    for company in TINY_COMPANIES:
        assert (by_id[company.company_id]["name"], by_id[company.company_id]["country"]) == (
            company.name,
            company.country,
        )
    exported = sorted((row["supplier_id"], row["buyer_id"], float(row["annual_value_usd"])) for row in links.to_dicts())
    assert exported == sorted((link.supplier_id, link.buyer_id, link.annual_value_usd) for link in TINY_LINKS)


def test_a_reader_that_stops_early_gets_no_traceback(address: str) -> None:
    script = shutil.which("chokepoint", path=str(Path(sys.executable).parent))
    assert script
    reader = subprocess.Popen(
        [script, "--address", address, "scenarios", "show", "current"],  # megabytes of JSON, more than a pipe holds
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    assert reader.stdout.read(10).startswith(b"{")
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    with reader.stderr:
        assert b"Traceback" not in reader.stderr.read()
