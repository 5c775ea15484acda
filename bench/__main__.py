"""`make bench`: engine, service and load figures at 100k and 1M companies, each beside a same-run baseline.

Printed and written to bench/results.md. `--companies` picks the sizes (about 5 links per company); the NetworkX
reference runs on the smallest size only (it takes about a minute at 100k companies), and the mixed read/write
load on the smallest size too.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.engine import build_timed, measure_engine, measure_networkx, scenario_book
from bench.load import AS_OF
from bench.report import render
from bench.service import measure_service
from graphs.generate import generate_graph

RESULTS = Path(__file__).with_name("results.md")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--companies", type=int, nargs="+", default=[100_000, 1_000_000], help="graph sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-networkx", action="store_true", help="skip the NetworkX reference")
    args = parser.parse_args()
    on = date.fromisoformat(AS_OF)
    sizes = sorted(args.companies)
    engine, service = [], []
    networkx = None
    book = scenario_book()
    with tempfile.TemporaryDirectory(prefix="chokepoint-bench-") as directory:
        for size in sizes:
            generated = generate_graph(companies=size, seed=args.seed)
            print(f"{size:,} companies, {generated.links.height:,} links", file=sys.stderr, flush=True)
            graph, build_s = build_timed(generated)
            figures, current = measure_engine(graph, build_s=build_s, book=book, on=on)
            engine.append(figures)
            if size == sizes[0] and not args.no_networkx:
                networkx = measure_networkx(graph, current)
            del graph, current
            gc.collect()
            service.append(measure_service(generated, workdir=Path(directory), with_mixed_load=size == sizes[0]))
            del generated
            gc.collect()
    report = render(engine, networkx, service)
    print(report)
    RESULTS.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
