"""Scale check (issue 7): one graph of 10M companies / ~50M links through the real service, within the machine.

`python -m bench.scale [--companies N]` (`make bench-scale`): generates the graph in a child process (so its
memory is gone before the server starts), starts `python -m server` with the graph limits raised, imports the
Parquet files over gRPC, asks ScoreCompany for one company (the whole graph is scored), ExplainExposure for it,
then restarts the server. It prints one table, also written to `bench/scale-results.md`, with each step's time
and the server's resident memory: peak (VmHWM) and settled. Not part of `make bench`: it takes many minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load import AS_OF
from bench.report import machine
from bench.server_process import REPO, peak_rss_bytes, rss_bytes, start_server, stop
from client.client import ChokepointClient

RESULTS = REPO / "bench" / "scale-results.md"
LIMITS = ("--max-graph-companies", "20000000", "--max-graph-links", "100000000")
GIB = 1024**3
SETTLE_SECONDS = 2


@dataclass(frozen=True)
class Step:
    name: str
    seconds: float
    peak_bytes: int
    settled_bytes: int


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chokepoint-scale-") as directory:
        workdir = Path(directory)
        steps, links = run(args.companies, args.seed, workdir)
    report = render(args.companies, links, steps)
    print(report)
    RESULTS.write_text(report)
    return 0


def run(companies: int, seed: int, workdir: Path) -> tuple[list[Step], int]:
    graph_dir = workdir / "graph"
    started = time.perf_counter()
    command = ["-m", "graphs.generate", "--companies", str(companies), "--seed", str(seed), "--out", str(graph_dir)]
    generator = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    generated_s = time.perf_counter() - started
    print(generator.stdout.strip() or generator.stderr.strip(), flush=True)
    steps = [Step("generate + write Parquet (child process)", generated_s, 0, 0)]
    store = workdir / "store"
    process, port, served_s = start_server(store, *LIMITS)
    steps.append(_step("start empty server", served_s, process.pid))
    with ChokepointClient(f"127.0.0.1:{port}", timeout=6 * 3600) as client:
        started = time.perf_counter()
        result = client.import_graph(graph_dir / "companies.parquet", graph_dir / "links.parquet")
        steps.append(_step("ImportGraph (REPLACE) over gRPC", time.perf_counter() - started, process.pid))
        print(steps[-1], flush=True)
        company_id = next(client.list_companies(page_size=1)).company_id
        started = time.perf_counter()
        client.score_company(company_id, as_of=AS_OF)
        steps.append(_step("first ScoreCompany: the whole graph scored", time.perf_counter() - started, process.pid))
        print(steps[-1], flush=True)
        started = time.perf_counter()
        client.score_company(company_id, as_of=AS_OF)
        steps.append(_step("ScoreCompany again (cached)", time.perf_counter() - started, process.pid))
        started = time.perf_counter()
        client.explain_exposure(company_id, as_of=AS_OF)
        steps.append(_step("ExplainExposure", time.perf_counter() - started, process.pid))
    stop(process)
    process, _, served_s = start_server(store, *LIMITS)
    time.sleep(SETTLE_SECONDS)
    if process.poll() is not None:  # it must still be serving
        _, rest = process.communicate()
        msg = f"the restarted server exited with code {process.returncode}: {rest[-2000:]}"
        raise RuntimeError(msg)
    steps.append(_step("restart: serving again", served_s, process.pid))
    stop(process)
    return steps, result.link_count


def _step(name: str, seconds: float, pid: int) -> Step:
    peak = peak_rss_bytes(pid)
    time.sleep(SETTLE_SECONDS)  # the allocator returns pages unused for a second (server/allocator.py)
    return Step(name, seconds, peak, rss_bytes(pid))


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def render(companies: int, links: int, steps: list[Step]) -> str:
    lines = [
        "# Scale check\n",
        f"{machine()}; {_memory_bytes() / GIB:.1f} GiB. {companies:,} companies, {links:,} links. "
        "Reproduce: `make bench-scale`.\n",
        "Server memory: peak = the process's high-water mark so far (VmHWM), settled = resident 2 s after the step.\n",
        "| step | s | server peak GiB | settled GiB | settled B/link |",
        "|---|---:|---:|---:|---:|",
    ]
    for step in steps:
        memory = (
            f"{step.peak_bytes / GIB:.2f} | {step.settled_bytes / GIB:.2f} | {step.settled_bytes / links:.0f}"
            if step.settled_bytes
            else "— | — | —"
        )
        lines.append(f"| {step.name} | {step.seconds:.1f} | {memory} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
