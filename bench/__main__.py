"""`make bench`: graph import and restart figures of the real service, each beside a same-run baseline.

For each size: generate a graph (graphs/generate.py) as Parquet, then
- baseline: `polars.read_parquet` of the two files (the floor for any import);
- ImportGraph through the real client into a real `python -m server` process (upload + validate + SQLite commit
  + compute-form build), reported as seconds and as a ratio to the baseline;
- restart: time from spawning the server on that store until it serves (integrity check + load + build);
- resident memory of the service process per link, after the import and after a restart;
- scoring: the first ScoreCompany (computes the whole graph under `current`) and then cached ScoreCompany latency
  (p50/p99 of sequential calls), beside GetCompany on the same server as the baseline of a trivial unary call.
Results are printed and written to bench/results.md with the machine description.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from client.client import ChokepointClient
from graphs.generate import generate_graph, write_graph

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results.md")
AS_OF = "2026-01-15"


@dataclass(frozen=True)
class Row:
    companies: int
    links: int
    parquet_mib: float
    baseline_read_s: float
    import_s: float
    restart_s: float
    rss_import_bytes_per_link: float
    rss_restart_bytes_per_link: float
    first_score_s: float
    score_p50_ms: float
    score_p99_ms: float
    get_company_p50_ms: float
    batch_rows_per_s: float
    per_row_rpc_rows_per_s: float


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], int, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--address", "127.0.0.1:0", "--data-dir", str(data_dir), "--no-seed"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"serving on [\d.]+:(\d+)", line)
        if match:
            return process, int(match.group(1)), time.perf_counter() - started
    msg = "server did not start"
    raise RuntimeError(msg)


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=120)


def measure(companies: int, *, seed: int, workdir: Path) -> Row:
    graph = generate_graph(companies=companies, seed=seed)
    companies_path, links_path = write_graph(graph, workdir / f"graph{companies}")
    link_count = graph.links.height
    started = time.perf_counter()
    pl.read_parquet(companies_path)
    pl.read_parquet(links_path)
    baseline = time.perf_counter() - started

    store = workdir / f"store{companies}"
    process, port, _ = start_server(store)
    with ChokepointClient(f"127.0.0.1:{port}", timeout=3600) as client:
        started = time.perf_counter()
        client.import_graph(companies_path, links_path)
        imported = time.perf_counter() - started
        company_id = str(graph.companies["company_id"][graph.companies.height // 2])
        started = time.perf_counter()
        client.score_company(company_id, as_of=AS_OF)
        first_score = time.perf_counter() - started
        score_ms = latencies(lambda: client.score_company(company_id, as_of=AS_OF))
        get_ms = latencies(lambda: client.get_company(company_id))
        batch_rate, per_row_rate = batch_rates(client, graph.links)
    rss_import = rss_bytes(process.pid)
    stop(process)
    process, _, restart = start_server(store)
    rss_restart = rss_bytes(process.pid)
    stop(process)
    size = (companies_path.stat().st_size + links_path.stat().st_size) / 1024**2
    return Row(
        companies,
        link_count,
        size,
        baseline,
        imported,
        restart,
        rss_import / link_count,
        rss_restart / link_count,
        first_score,
        float(np.percentile(score_ms, 50)),
        float(np.percentile(score_ms, 99)),
        float(np.percentile(get_ms, 50)),
        batch_rate,
        per_row_rate,
    )


def batch_rates(
    client: ChokepointClient, links: pl.DataFrame, *, rows: int = 100_000, per_row: int = 2_000
) -> tuple[float, float]:
    """Rows per second: a supplier list over the one streaming RPC, and (baseline) one unary EvaluateLink per row."""
    picked = links.sample(n=rows, with_replacement=True, seed=1).select(
        "supplier_id", "hs_code", pl.col("annual_value_usd").alias("annual_spend_usd"), "origin_country", "route"
    )
    started = time.perf_counter()
    client.score_supplier_list(picked, buyer_country="US", as_of=AS_OF)
    batch_rate = rows / (time.perf_counter() - started)
    sample = picked.head(per_row).to_dicts()
    started = time.perf_counter()
    for row in sample:
        client.evaluate_link(
            hs_code=row["hs_code"], origin_country=row["origin_country"] or "CN", buyer_country="US", as_of=AS_OF
        )
    return batch_rate, per_row / (time.perf_counter() - started)


def latencies(call: Callable[[], object], *, count: int = 300) -> np.ndarray:
    """Milliseconds per sequential call, after 20 warm-up calls."""
    for _ in range(20):
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def render(rows: list[Row]) -> str:
    lines = [
        f"# Benchmark results\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, polars {pl.__version__}; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n",
        "## Graph import and restart (real `python -m server` process, real client)\n",
        "| companies | links | parquet MiB | baseline: read_parquet s | ImportGraph s | ratio to baseline "
        "| restart-to-serving s | RSS B/link after import | RSS B/link after restart |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.companies:,} | {r.links:,} | {r.parquet_mib:.1f} | {r.baseline_read_s:.3f} | {r.import_s:.2f} | "
        f"{r.import_s / r.baseline_read_s:.0f}x | {r.restart_s:.2f} | {r.rss_import_bytes_per_link:.0f} | "
        f"{r.rss_restart_bytes_per_link:.0f} |"
        for r in rows
    ]
    lines += [
        "\n## Scoring (scenario `current`, as of " + AS_OF + "; real server, one client, sequential calls)\n",
        "| links | first ScoreCompany s (whole graph) | cached ScoreCompany p50 ms | p99 ms "
        "| baseline: GetCompany p50 ms | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {r.first_score_s:.2f} | {r.score_p50_ms:.2f} | {r.score_p99_ms:.2f} | "
        f"{r.get_company_p50_ms:.2f} | {r.score_p50_ms / r.get_company_p50_ms:.1f}x |"
        for r in rows
    ]
    lines += [
        "\n## Batch scoring of a supplier list (100,000 rows drawn from the graph's links; real server and client)\n",
        "| graph links | ScoreSupplierList rows/s | baseline: one unary EvaluateLink per row, rows/s | ratio |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {r.batch_rows_per_s:,.0f} | {r.per_row_rpc_rows_per_s:,.0f} | "
        f"{r.batch_rows_per_s / r.per_row_rpc_rows_per_s:.0f}x |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--companies", type=int, nargs="+", default=[20_000, 200_000], help="graph sizes (~5 links each)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chokepoint-bench-") as directory:
        rows = [measure(size, seed=args.seed, workdir=Path(directory)) for size in args.companies]
    report = render(rows)
    print(report)
    RESULTS.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
