"""Figures of the real service (a `python -m server` process and the real client), each beside a same-run baseline.

- import: ImportGraph of the Parquet files, beside `polars.read_parquet` of the same files (the floor of any import);
- restart: spawn to serving on the stored graph; resident memory per link 2 s after the import, after all the
  queries below (with their score tables cached), and 2 s after a restart (the allocator returns pages left
  unused for a second);
- ScoreCompany: the first call (whole-graph scoring), sequential repeated calls beside GetCompany (a trivial unary
  call), the first call for each of 39 other companies (whole-graph scores cached, their answers not), and
  throughput with 16 concurrent clients: the bench's Python clients, and h2load (a C load generator, when
  installed: `bench/h2load.py`) for what the service answers when the load generator is not the limit;
- ExplainExposure and FindChokepoints p50/p90 over random companies;
- batch: a 100,000-row supplier list file in -> scored file out over the one stream, beside one unary EvaluateLink
  per row;
- a mixed load of readers and writers, checking that no client ever sees the graph version go backwards;
- single writes (after the memory is read): re-valuing one link, beside adding one (which rebuilds the graph),
  each with the ScoreCompany after it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench import h2load
from bench.load import AS_OF, MixedLoad, Throughput, mixed_load, query_latencies, score_company_throughput
from bench.server_process import rss_bytes, start_server, stop
from client.client import ChokepointClient, SupplyLink
from client.files import read_table, write_table
from graphs.generate import GeneratedGraph, write_graph

BATCH_ROWS = 100_000
PER_ROW_SAMPLE = 2_000
QUERY_SAMPLE = 40
H2LOAD_RUNS = 3  # the machine's noise is about 10% from one 10 s run to the next: the report gives the median
# The same supplier list scored this many times: the figure is the median. The first run of a server also pays
# one-time costs (at 1M companies 193k rows/s against 211-229k for the next four, in one measurement).
BATCH_RUNS = 3


@dataclass(frozen=True)
class ServiceFigures:
    companies: int
    links: int
    parquet_mib: float
    baseline_read_s: float
    import_s: float
    restart_s: float
    rss_import_bytes_per_link: float
    rss_queries_bytes_per_link: float
    rss_restart_bytes_per_link: float
    first_score_s: float
    score_p50_ms: float
    score_p99_ms: float
    score_distinct_p50_ms: float
    get_company_p50_ms: float
    concurrent: Throughput
    concurrent_h2load: list[Throughput] | None  # `H2LOAD_RUNS` runs; None when h2load is not installed
    explain_ms: tuple[float, float]
    chokepoints_ms: tuple[float, float]
    batch_rows_per_s: tuple[float, ...]  # `BATCH_RUNS` runs, in order
    per_row_rpc_rows_per_s: float
    writes: Writes
    mixed: MixedLoad | None


@dataclass(frozen=True)
class Writes:
    """Seconds: one UpsertSupplyLinks and the ScoreCompany after it (the whole graph scored again), for a write that
    re-values an existing link and, as the baseline, one that adds a link (the graph is rebuilt)."""

    revalue_s: float
    revalue_next_score_s: float
    add_s: float
    add_next_score_s: float


def measure_service(generated: GeneratedGraph, *, workdir: Path, with_mixed_load: bool) -> ServiceFigures:
    companies_path, links_path = write_graph(generated, workdir / f"graph{generated.companies.height}")
    started = time.perf_counter()
    pl.read_parquet(companies_path)
    pl.read_parquet(links_path)
    baseline = time.perf_counter() - started
    link_count = generated.links.height
    rng = random.Random(7)  # noqa: S311 (a reproducible sample, not a secret)
    ids = generated.companies["company_id"].to_list()
    sample = rng.sample(ids, QUERY_SAMPLE)

    store = workdir / f"store{generated.companies.height}"
    process, port, _ = start_server(store)
    address = f"127.0.0.1:{port}"
    with ChokepointClient(address, timeout=3600) as client:
        started = time.perf_counter()
        client.import_graph(companies_path, links_path)
        imported = time.perf_counter() - started
        rss_import = _settled_rss(process.pid)
        company_id = sample[0]
        started = time.perf_counter()
        client.score_company(company_id, as_of=AS_OF)
        first_score = time.perf_counter() - started
        score_ms = _latencies(lambda: client.score_company(company_id, as_of=AS_OF))
        distinct_ms = _distinct_latencies(lambda c: client.score_company(c, as_of=AS_OF), sample[1:])
        get_ms = _latencies(lambda: client.get_company(company_id))
        concurrent = score_company_throughput(address, sample)
        concurrent_h2load = (
            [h2load.score_company_load(port, company_id, AS_OF) for _ in range(H2LOAD_RUNS)]
            if h2load.available()
            else None
        )
        explain = query_latencies(lambda c: client.explain_exposure(c, as_of=AS_OF), sample)
        chokepoints = query_latencies(client.find_chokepoints, sample)
        batch_rates, per_row_rate = _batch_rates(client, generated.links, workdir=workdir)
        mixed = mixed_load(address, sample, _links_of(generated.links, rng)) if with_mixed_load else None
        rss_queries = _settled_rss(process.pid)
        writes = _write_latencies(client, generated.links, company_id)
    stop(process)
    process, _, restart = start_server(store)
    rss_restart = _settled_rss(process.pid)
    stop(process)
    return ServiceFigures(
        generated.companies.height,
        link_count,
        (companies_path.stat().st_size + links_path.stat().st_size) / 1024**2,
        baseline,
        imported,
        restart,
        rss_import / link_count,
        rss_queries / link_count,
        rss_restart / link_count,
        first_score,
        float(np.percentile(score_ms, 50)),
        float(np.percentile(score_ms, 99)),
        float(np.percentile(distinct_ms, 50)),
        float(np.percentile(get_ms, 50)),
        concurrent,
        concurrent_h2load,
        explain,
        chokepoints,
        batch_rates,
        per_row_rate,
        writes,
        mixed,
    )


def _batch_rates(client: ChokepointClient, links: pl.DataFrame, *, workdir: Path) -> tuple[tuple[float, ...], float]:
    """Rows per second, file in -> file out over the one streaming RPC (`BATCH_RUNS` runs); and one unary
    EvaluateLink per row."""
    picked = links.sample(n=BATCH_ROWS, with_replacement=True, seed=1).select(
        "supplier_id", "hs_code", pl.col("annual_value_usd").alias("annual_spend_usd"), "origin_country", "route"
    )
    source, scored = workdir / "suppliers.parquet", workdir / "scored.parquet"
    picked.write_parquet(source)
    batch_rates = []
    for _ in range(BATCH_RUNS):
        started = time.perf_counter()
        rows = read_table(source).with_row_index("row", offset=1)
        result = client.score_supplier_list(rows, buyer_country="US", as_of=AS_OF)
        write_table(rows.join(result.rows.with_columns(pl.col("row").cast(pl.UInt32)), on="row", how="left"), scored)
        batch_rates.append(BATCH_ROWS / (time.perf_counter() - started))
    sample = picked.head(PER_ROW_SAMPLE).to_dicts()
    started = time.perf_counter()
    for row in sample:
        client.evaluate_link(
            hs_code=row["hs_code"], origin_country=row["origin_country"] or "CN", buyer_country="US", as_of=AS_OF
        )
    return tuple(batch_rates), PER_ROW_SAMPLE / (time.perf_counter() - started)


def _write_latencies(client: ChokepointClient, links: pl.DataFrame, company_id: str) -> Writes:
    link = _supply_link(links.row(0, named=True))
    taken = set(links.filter(pl.col("buyer_id") == link.buyer_id)["hs_code"].to_list())
    new_code = next(code for code in (f"9999{n:02d}" for n in range(100)) if code not in taken)
    figures = []
    for changed in (replace(link, annual_value_usd=link.annual_value_usd * 1.5), replace(link, hs_code=new_code)):
        started = time.perf_counter()
        client.upsert_supply_links([changed])
        written = time.perf_counter()
        client.score_company(company_id, as_of=AS_OF)
        figures += [written - started, time.perf_counter() - written]
    return Writes(*figures)


def _links_of(links: pl.DataFrame, rng: random.Random, *, count: int = 200) -> list[SupplyLink]:
    return [_supply_link(row) for row in links.sample(n=count, seed=rng.randrange(1 << 30)).to_dicts()]


def _supply_link(row: dict[str, Any]) -> SupplyLink:
    return SupplyLink(
        row["supplier_id"],
        row["buyer_id"],
        row["hs_code"],
        row["annual_value_usd"],
        origin_country=row["origin_country"] or "",
        route=tuple(row["route"].split(">")) if row["route"] else (),
        tags=tuple(row["tags"].split(";")) if row["tags"] else (),
    )


def _settled_rss(pid: int) -> int:
    """Resident bytes once the allocator has returned what a second left unused (docs/operations.md)."""
    time.sleep(2)
    return rss_bytes(pid)


def _distinct_latencies(call: Callable[[str], object], companies: list[str]) -> np.ndarray:
    """Milliseconds of the first call for each company: the whole-graph scores are cached, its answer is not."""
    times = []
    for company_id in companies:
        started = time.perf_counter()
        call(company_id)
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def _latencies(call: Callable[[], object], *, count: int = 300) -> np.ndarray:
    """Milliseconds per sequential call, after 20 warm-up calls."""
    for _ in range(20):
        call()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)
