"""The benchmark table: printed and written to bench/results.md with the machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np
import polars as pl

from bench.engine import RUNS, EngineFigures, NetworkxFigures
from bench.load import AS_OF, Throughput
from bench.service import BATCH_RUNS, ServiceFigures


def machine() -> str:
    """The machine and run facts every bench report opens with."""
    return (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def render(engine: list[EngineFigures], networkx: NetworkxFigures | None, service: list[ServiceFigures]) -> str:
    lines = [
        "# Benchmark results\n",
        f"{machine()}; polars {pl.__version__}. "
        f"Scenario `current` as of {AS_OF}. Reproduce: `make bench` (sizes: `make bench ARGS='--companies N M'`).\n",
    ]
    lines += _engine(engine)
    if networkx is not None:
        lines += _networkx(networkx)
    lines += _service(service)
    return "\n".join(lines) + "\n"


def _engine(rows: list[EngineFigures]) -> list[str]:
    names = sorted({name for row in rows for name in row.what_if_full_s})
    lines = [
        "## Whole-graph scoring in-process (all components: disruption and tariff with tier, material and country "
        "breakdowns)\n",
        f"Medians of {RUNS} runs; the whole-graph score also gives its fastest and slowest run. A what-if "
        "re-scores one changed measure, from scratch and reusing the "
        "`current` scores for every component whose per-link inputs did not change (both give the same numbers; "
        "the bench checks), one run of each in turn.\n",
        "| companies | links | build compute form s | first score s | score s (median) | "
        + " | ".join(f"what-if `{n}` full s | reusing s | ratio" for n in names)
        + " |",
        "|---:|---:|---:|---:|---:|" + "---:|---:|---:|" * len(names),
    ]
    for r in rows:
        cells = [
            f"{r.companies:,}",
            f"{r.links:,}",
            f"{r.build_s:.2f}",
            f"{r.score_first_s:.2f}",
            f"{r.score_median_s:.2f} ({min(r.score_runs_s):.2f}-{max(r.score_runs_s):.2f})",
        ]
        for n in names:
            full, reuse = r.what_if_full_s[n], r.what_if_reuse_s[n]
            cells += [f"{full:.2f}", f"{reuse:.2f}", f"{full / reuse:.1f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _networkx(r: NetworkxFigures) -> list[str]:
    return [
        "\n## Propagation against the NetworkX reference (disruption X, same links, hazards and tolerance)\n",
        "| companies | links | NetworkX sweeps | NetworkX s | engine s | ratio | max difference |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r.companies:,} | {r.links:,} | {r.networkx_sweeps} | {r.networkx_s:.1f} | {r.engine_s:.3f} | "
        f"{r.networkx_s / r.engine_s:.0f}x | {r.max_difference:.1e} |",
    ]


def _service(rows: list[ServiceFigures]) -> list[str]:
    lines = [
        "\n## Graph import and restart (real `python -m server` process, real client)\n",
        "| companies | links | parquet MiB | baseline: read_parquet s | ImportGraph s | ratio to baseline "
        "| restart-to-serving s | RSS B/link after import | after the queries (scores cached) "
        "| after restart |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.companies:,} | {r.links:,} | {r.parquet_mib:.1f} | {r.baseline_read_s:.3f} | {r.import_s:.2f} | "
        f"{r.import_s / r.baseline_read_s:.0f}x | {r.restart_s:.2f} | {r.rss_import_bytes_per_link:.0f} | "
        f"{r.rss_queries_bytes_per_link:.0f} | {r.rss_restart_bytes_per_link:.0f} |"
        for r in rows
    ]
    lines += [
        "\n## Queries over gRPC (real server; sequential unless stated)\n",
        "| links | first ScoreCompany s (whole graph) | repeated ScoreCompany p50 ms | p99 ms "
        "| baseline: GetCompany p50 ms | ratio | other companies, first call p50 ms "
        "| 16 clients: ScoreCompany/s | p50 ms | p99 ms | errors "
        "| ExplainExposure p50 / p90 ms | FindChokepoints p50 / p90 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {r.first_score_s:.2f} | {r.score_p50_ms:.2f} | {r.score_p99_ms:.2f} | "
        f"{r.get_company_p50_ms:.2f} | {r.score_p50_ms / r.get_company_p50_ms:.1f}x | "
        f"{r.score_distinct_p50_ms:.2f} | {r.concurrent.per_second:,.0f} | {r.concurrent.p50_ms:.2f} | "
        f"{r.concurrent.p99_ms:.2f} | "
        f"{sum(r.concurrent.errors.values())} | {r.explain_ms[0]:.1f} / {r.explain_ms[1]:.1f} | "
        f"{r.chokepoints_ms[0]:.1f} / {r.chokepoints_ms[1]:.1f} |"
        for r in rows
    ]
    lines += [
        "\n## ScoreCompany throughput, 16 concurrent clients, cached answers: by load generator\n",
        "The bench's Python clients share the 2 cores with the server and cost about 230 us of CPU per call; h2load "
        "(C, `bench/h2load.py`) sends the same call on 16 HTTP/2 connections, one call in flight on each, in "
        "several runs of 10 s: each h2load figure is the median of the runs, with their range. "
        "Target: 5,000 calls/s with p99 <= 5 ms.\n",
        "| links | Python clients: calls/s | p50 ms | p99 ms | h2load: calls/s | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {r.concurrent.per_second:,.0f} | {r.concurrent.p50_ms:.2f} | {r.concurrent.p99_ms:.2f} | "
        + (
            _h2load_cells(r.concurrent_h2load)
            if r.concurrent_h2load is not None
            else "h2load not installed (apt-get install nghttp2-client) | | |"
        )
        for r in rows
    ]
    lines += [
        "\n## Batch scoring of a supplier list (100,000 rows drawn from the "
        "graph's links; Parquet file in -> scored Parquet file out, real server and client)\n",
        f"The same list {BATCH_RUNS} times: the median with the range, and the first run (the server's first list "
        "also pays one-time costs).\n",
        "| graph links | ScoreSupplierList rows/s | first run | baseline: one unary EvaluateLink per row, rows/s "
        "| ratio |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {statistics.median(r.batch_rows_per_s):,.0f} ({min(r.batch_rows_per_s):,.0f}-"
        f"{max(r.batch_rows_per_s):,.0f}) | {r.batch_rows_per_s[0]:,.0f} | {r.per_row_rpc_rows_per_s:,.0f} | "
        f"{statistics.median(r.batch_rows_per_s) / r.per_row_rpc_rows_per_s:.0f}x |"
        for r in rows
    ]
    lines += [
        "\n## Single writes at rest (real server and client): UpsertSupplyLinks of one link, then ScoreCompany "
        "(the whole graph scored again for the new version)\n",
        "A write that only re-values existing links keeps the in-memory graph and its structural caches; "
        "one that adds a link rebuilds them (docs/operations.md).\n",
        "| graph links | re-value one link s | next ScoreCompany s | baseline: add one link s "
        "| next ScoreCompany s | ratio, write | ratio, write + score |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.links:,} | {w.revalue_s:.2f} | {w.revalue_next_score_s:.2f} | {w.add_s:.2f} | "
        f"{w.add_next_score_s:.2f} | {w.add_s / w.revalue_s:.1f}x | "
        f"{(w.add_s + w.add_next_score_s) / (w.revalue_s + w.revalue_next_score_s):.1f}x |"
        for r in rows
        for w in (r.writes,)
    ]
    mixed = [r for r in rows if r.mixed is not None]
    if mixed:
        lines += [
            "\n## Mixed load: readers (ScoreCompany) and writers (one link re-valued every 0.5 s each)\n",
            "Every write makes a new graph version, so the next read re-scores the whole graph: read latency here "
            "is dominated by those re-scores.\n",
            "| graph links | role | clients | seconds | calls/s | p50 ms | p99 ms | errors | version went backwards |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in mixed:
            assert r.mixed is not None
            for role, figures in (("readers", r.mixed.readers), ("writers", r.mixed.writers)):
                lines.append(_mixed_line(r.links, role, figures, r.mixed.version_regressions))
    return lines


def _mixed_line(links: int, role: str, t: Throughput, regressions: int) -> str:
    errors = ", ".join(f"{code} {count}" for code, count in sorted(t.errors.items())) or "0"
    return (
        f"| {links:,} | {role} | {t.clients} | {t.seconds:.0f} | {t.per_second:,.1f} | {t.p50_ms:.1f} | "
        f"{t.p99_ms:.1f} | {errors} | {regressions} |"
    )


def _h2load_cells(runs: list[Throughput]) -> str:
    """Median (range) of each figure over the runs."""

    def cell(values: list[float], form: str) -> str:
        middle = float(np.median(values))
        return f"{middle:{form}} ({min(values):{form}}-{max(values):{form}})"

    return (
        f"{cell([run.per_second for run in runs], ',.0f')} | {cell([run.p50_ms for run in runs], '.2f')} | "
        f"{cell([run.p99_ms for run in runs], '.2f')} |"
    )
