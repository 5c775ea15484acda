"""`make bench-ceiling`: how many ScoreCompany calls a Python gRPC server can answer on this machine at all.

The issue's target is 5,000 calls/s with p99 <= 5 ms at 16 concurrent clients. `make bench` drives the service
with the thin Python client, which itself costs ~230 us of CPU per call on the same 2 cores. Here a C load
generator, h2load (Debian: `apt-get install nghttp2-client`), sends the same ScoreCompany request on 16 HTTP/2
connections, one call in flight on each, to:
- bare Python gRPC servers that return fixed bytes and do nothing else (sync with 16 workers, and asyncio on
  asyncio's own event loop and on uvloop's, the service's);
- bare asyncio servers that also do the least every call of ours must: an `x-request-id` trailer and the
  Prometheus call metrics;
- the real service on the default graph (its answers cached, as in `make bench`), checked afterwards through its
  own metrics: every call h2load counted must be an OK ScoreCompany there;
- the real service under `make bench`'s Python clients, for the ratio.
Results are printed and written to bench/ceiling-results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import uvloop
from chokepoint.v1 import exposure_pb2
from prometheus_client import CollectorRegistry, Counter, Histogram

from bench import h2load
from bench.load import AS_OF, score_company_throughput
from bench.report import machine
from bench.server_process import REPO, start_server, stop
from client.client import ChokepointClient

RESULTS = Path(__file__).with_name("ceiling-results.md")
SERVICE = "chokepoint.v1.ExposureService"
COMPANY = "TW-FAB-1"
CLIENTS = 16
SECONDS = 10
ANSWER: bytes = exposure_pb2.ScoreCompanyResponse().SerializeToString()
BARE = {
    "sync": "bare sync server, 16 workers",
    "aio": "bare asyncio server, asyncio's loop",
    "aio-uvloop": "bare asyncio server, uvloop",
    "aio-observed": "bare asyncio server + x-request-id trailer + metrics, asyncio's loop",
    "aio-observed-uvloop": "bare asyncio server + x-request-id trailer + metrics, uvloop",
}


@dataclass(frozen=True)
class Load:
    server: str
    load: str
    calls_per_s: float
    p50_ms: float
    p99_ms: float


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--serve", choices=sorted(BARE), help=argparse.SUPPRESS)  # a bare server, in its process
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port)
        return 0
    if not h2load.available():
        print("h2load is missing: apt-get install nghttp2-client (Debian)", file=sys.stderr)
        return 2
    rows = [_bare(kind) for kind in BARE]
    rows += _service()
    text = _render(rows)
    print(text)
    RESULTS.write_text(text)
    return 0


def _bare(kind: str) -> Load:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.ceiling", "--serve", kind, "--port", str(port)], cwd=REPO)
    try:
        _wait_for(port)
        return _h2load(port, BARE[kind])
    finally:
        process.terminate()
        process.wait(timeout=30)


def _service() -> list[Load]:
    metrics_port = _free_port()
    with tempfile.TemporaryDirectory(prefix="chokepoint-ceiling-") as directory:
        process, port, _ = start_server(Path(directory), "--metrics-address", f"127.0.0.1:{metrics_port}")
        try:
            with ChokepointClient(f"127.0.0.1:{port}", timeout=60) as client:
                default = REPO / "graphs" / "default"
                client.import_graph(default / "companies.csv", default / "links.csv")
                client.score_company(COMPANY, as_of=AS_OF)  # scores the graph once: every call below is answered
            before = _handled_ok(metrics_port)
            measured = _h2load(port, "the service, default graph")
            counted = _handled_ok(metrics_port) - before
            if counted < measured.calls_per_s * SECONDS:
                msg = (
                    f"the service counted {counted} OK ScoreCompany calls, h2load {measured.calls_per_s * SECONDS:.0f}"
                )
                raise RuntimeError(msg)
            python = score_company_throughput(f"127.0.0.1:{port}", [COMPANY], clients=CLIENTS, seconds=SECONDS)
        finally:
            stop(process)
    return [
        measured,
        Load("the service, default graph", "bench's Python clients", python.per_second, python.p50_ms, python.p99_ms),
    ]


def _h2load(port: int, server: str) -> Load:
    measured = h2load.score_company_load(port, COMPANY, AS_OF, clients=CLIENTS, seconds=SECONDS)
    return Load(server, "h2load", measured.per_second, measured.p50_ms, measured.p99_ms)


def _handled_ok(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("grpc_server_handled_total{")
        and 'grpc_method="ScoreCompany"' in line
        and 'grpc_code="OK"' in line
    )


def _serve(kind: str, port: int) -> None:
    if kind == "sync":
        server = grpc.server(ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((_handler(lambda request, context: ANSWER),))
        server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        server.wait_for_termination()
        return
    run = uvloop.run if kind.endswith("-uvloop") else asyncio.run
    run(_serve_aio(observed=kind.startswith("aio-observed"), port=port))


async def _serve_aio(*, observed: bool, port: int) -> None:
    registry = CollectorRegistry()
    labels = (SERVICE, "ScoreCompany", "unary")
    handled = Counter("handled", "", ("service", "method", "type", "code"), registry=registry).labels(*labels, "OK")
    seconds = Histogram("seconds", "", ("service", "method", "type"), registry=registry).labels(*labels)

    async def answer(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        if observed:
            started = time.perf_counter()
            context.set_trailing_metadata((("x-request-id", os.urandom(16).hex()),))
            handled.inc()
            seconds.observe(time.perf_counter() - started)
        return ANSWER

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler(answer),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def _handler(behaviour: Any) -> grpc.GenericRpcHandler[Any, Any]:
    return grpc.method_handlers_generic_handler(
        SERVICE, {"ScoreCompany": grpc.unary_unary_rpc_method_handler(behaviour)}
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(port: int) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    channel.close()


def _render(rows: list[Load]) -> str:
    version = h2load.version()
    lines = [
        "# ScoreCompany: the ceiling of a Python gRPC server on this machine",
        "",
        f"{machine()}; grpcio {grpc.__version__}; {version}. Reproduce: `make bench-ceiling`.",
        f"{CLIENTS} connections, one call in flight on each, {SECONDS} s after a 2 s warm-up; the same ScoreCompany"
        f" request ({COMPANY}) every call. Target: 5,000 calls/s with p99 <= 5 ms.",
        "",
        "| server | load generator | calls/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|",
        *(f"| {r.server} | {r.load} | {r.calls_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |" for r in rows),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
