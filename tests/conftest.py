"""Shared fixtures: the real server on a loopback port (in-process or as a subprocess) and the real client."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from client.cli import main as cli_main
from client.client import ChokepointClient, Company, SupplyLink
from server.app import Service, build_server
from server.config import DEFAULT_SEED_GRAPH, Config
from server.core.policy_store import PolicyStore
from server.core.seeding import open_policy_store, open_store
from server.core.store import GraphStore

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@dataclass
class RunningServer:
    address: str
    store: GraphStore
    policy: PolicyStore
    service: Service
    data_dir: Path

    def client(self) -> ChokepointClient:
        return ChokepointClient(self.address, timeout=30)


ServeFactory = Callable[..., RunningServer]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeFactory]:
    """Start real servers on 127.0.0.1:0 over a fresh data dir; all are stopped at teardown."""
    running: list[RunningServer] = []

    def start(*, seed_graph: Path | None = None, data_dir: Path | None = None, **settings: object) -> RunningServer:
        directory = data_dir or tmp_path / f"store{len(running)}"
        store = open_store(directory, seed_graph=seed_graph)
        policy = open_policy_store(directory)
        service = build_server(Config(address="127.0.0.1:0", **settings), store, policy)  # type: ignore[arg-type]
        service.start()
        server = RunningServer(f"127.0.0.1:{service.port}", store, policy, service, directory)
        running.append(server)
        return server

    yield start
    for server in running:
        server.service.stop(None)
        server.policy.close()
        server.store.close()


@pytest.fixture
def client(serve: ServeFactory) -> Iterator[ChokepointClient]:
    """A client of an empty server."""
    with serve().client() as connected:
        yield connected


@pytest.fixture
def default_client(serve: ServeFactory) -> Iterator[ChokepointClient]:
    """A client of a server seeded with the embedded default graph."""
    with serve(seed_graph=DEFAULT_SEED_GRAPH).client() as connected:
        yield connected


TINY_COMPANIES = [
    Company("US-OEM", "Tiny Motors Inc.", "US"),
    Company("CN-MAG", "Tiny Magnet Works", "CN", ("US_ENTITY_LIST",)),
    Company("VN-TRADE", "Tiny Trading Co.", "VN"),
    Company("JP-REF", "Tiny Refining KK", "JP"),
]
TINY_LINKS = [
    SupplyLink("CN-MAG", "US-OEM", "8505.11", 600.0, route=("CN", "VN", "US")),
    SupplyLink("VN-TRADE", "US-OEM", "850511", 300.0, origin_country="CN"),
    SupplyLink("JP-REF", "US-OEM", "284690", 100.0),
    SupplyLink("CN-MAG", "JP-REF", "280530", 50.0),
    SupplyLink("US-OEM", "CN-MAG", "850132", 10.0),
]


@pytest.fixture
def tiny(client: ChokepointClient) -> ChokepointClient:
    """The empty server's client, after loading a hand-checkable four-company graph (with one cycle)."""
    client.upsert_companies(TINY_COMPANIES)
    client.upsert_supply_links(TINY_LINKS)
    return client


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`chokepoint ARGS` in this process: its exit code, stdout and stderr."""
    code = cli_main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    log_lines: list[str]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        _, rest = self.process.communicate(timeout=60)
        return self.process.returncode, "".join(self.log_lines) + rest


def start_server_process(data_dir: Path, *args: str, address: str = "127.0.0.1:0") -> ServerProcess:
    """`python -m server` as a real subprocess; waits for its start line and reads the port from it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--address", address, "--data-dir", str(data_dir), *args],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"serving on [\d.]+:(\d+)", line)
        if match:
            return ServerProcess(process, int(match.group(1)), lines)
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(lines) + process.stderr.read())
