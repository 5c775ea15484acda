"""Concurrent clients against the real service: ScoreCompany throughput, query latencies, a mixed read/write load.

Clients run in separate processes (spawned, a few threads each, one channel per thread) so the client side is not
one GIL; on a 2-core machine they share the cores with the server, which the figures include.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from client.client import ChokepointClient, SupplyLink
from client.errors import ClientError

AS_OF = "2026-03-16"  # the Section 122 surcharge and the rare-earth suspension both in force


@dataclass(frozen=True)
class Throughput:
    clients: int
    seconds: float
    calls: int
    errors: dict[str, int]
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds


@dataclass(frozen=True)
class MixedLoad:
    readers: Throughput
    writers: Throughput
    version_regressions: int


@dataclass(frozen=True)
class _Job:
    """One client process: `threads` callers of one `kind` ("score" or "write") over `items` for `seconds`."""

    address: str
    items: list[Any]
    threads: int
    seconds: float
    kind: str
    seed: int


@dataclass(frozen=True)
class _WorkerResult:
    latencies_ms: list[float]
    errors: Counter[str]
    regressions: int


def score_company_throughput(
    address: str, company_ids: Sequence[str], *, clients: int = 16, processes: int = 4, seconds: float = 10.0
) -> Throughput:
    """`clients` concurrent callers of ScoreCompany (cached scores), each calling back to back."""
    jobs = [_Job(address, list(company_ids), clients // processes, seconds, "score", seed) for seed in range(processes)]
    return _combine(_run(jobs), clients=clients, seconds=seconds)


def mixed_load(
    address: str,
    company_ids: Sequence[str],
    links: Sequence[SupplyLink],
    *,
    readers: int = 8,
    writers: int = 2,
    seconds: float = 20.0,
) -> MixedLoad:
    """Readers call ScoreCompany back to back; writers re-value one link every half second. Every client checks
    that the graph version it sees never goes backwards."""
    read_jobs = [_Job(address, list(company_ids), readers // 2, seconds, "score", seed) for seed in range(2)]
    write_jobs = [_Job(address, list(links), 1, seconds, "write", 100 + seed) for seed in range(writers)]
    results = _run(read_jobs + write_jobs)
    read_results, write_results = results[: len(read_jobs)], results[len(read_jobs) :]
    return MixedLoad(
        _combine(read_results, clients=readers, seconds=seconds),
        _combine(write_results, clients=writers, seconds=seconds),
        sum(result.regressions for result in results),
    )


def query_latencies(call: Callable[[str], object], company_ids: Sequence[str]) -> tuple[float, float]:
    """p50 and p90 milliseconds of `call` over the given companies (each company once, sequentially)."""
    times = []
    for company_id in company_ids:
        started = time.perf_counter()
        call(company_id)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 90))


def _run(jobs: list[_Job]) -> list[_WorkerResult]:
    context = multiprocessing.get_context("spawn")  # gRPC does not survive fork
    with context.Pool(len(jobs)) as pool:
        return pool.map(_worker, jobs)


def _combine(results: list[_WorkerResult], *, clients: int, seconds: float) -> Throughput:
    latencies = [value for result in results for value in result.latencies_ms]
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result.errors)
    return Throughput(
        clients,
        seconds,
        len(latencies),
        dict(errors),
        float(np.percentile(latencies, 50)) if latencies else float("nan"),
        float(np.percentile(latencies, 99)) if latencies else float("nan"),
    )


def _worker(job: _Job) -> _WorkerResult:
    address, items, seconds, kind, seed = job.address, job.items, job.seconds, job.kind, job.seed

    results: list[_WorkerResult] = []
    lock = threading.Lock()
    start = time.monotonic() + 1.0  # all threads begin together, after their warm-up call

    def run(thread: int) -> None:
        rng = random.Random(seed * 1000 + thread)  # noqa: S311 (reproducible load, not a secret)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        regressions = 0
        last_version = -1
        with ChokepointClient(address, timeout=60) as client:
            step = _reader(client) if kind == "score" else _writer(client, rng)
            step(rng.choice(items))  # warm-up: connection and caches
            time.sleep(max(0.0, start - time.monotonic()))
            while time.monotonic() < start + seconds:
                item = rng.choice(items)
                began = time.perf_counter()
                try:
                    version = step(item)
                except ClientError as error:
                    errors[error.code.name] += 1
                    continue
                latencies.append((time.perf_counter() - began) * 1000)
                regressions += version < last_version
                last_version = max(last_version, version)
                if kind == "write":
                    time.sleep(0.5)
        with lock:
            results.append(_WorkerResult(latencies, errors, regressions))

    workers = [threading.Thread(target=run, args=(thread,)) for thread in range(job.threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    merged: Counter[str] = Counter()
    for result in results:
        merged.update(result.errors)
    return _WorkerResult(
        [value for result in results for value in result.latencies_ms], merged, sum(r.regressions for r in results)
    )


def _reader(client: ChokepointClient) -> Callable[[str], int]:
    def read(company_id: str) -> int:
        return client.score_company(company_id, as_of=AS_OF).context.graph_version

    return read


def _writer(client: ChokepointClient, rng: random.Random) -> Callable[[SupplyLink], int]:
    def write(link: SupplyLink) -> int:
        revalued = SupplyLink(
            link.supplier_id,
            link.buyer_id,
            link.hs_code,
            round(link.annual_value_usd * rng.uniform(0.5, 1.5), 2),
            origin_country=link.origin_country,
            route=link.route,
            tags=link.tags,
        )
        return client.upsert_supply_links([revalued]).graph_version

    return write
