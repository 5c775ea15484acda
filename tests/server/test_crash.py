"""Durability, proven: SIGKILL the real server while writes stream in, restart it, and check what survived.

Each seed runs one writer (every kind of write: company and link upserts, 50-link batches, deletes, MERGE
imports, scenario creates and updates) against `python -m server` and kills the process after a seeded random
delay, six times over the same data dir. After each kill the SQLite file must pass `PRAGMA integrity_check`; after
each restart the server must hold exactly the acknowledged writes, plus the one write in flight either whole or
not at all, at the matching version; retrying that write with its request_id must apply it exactly once.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from client.client import ChokepointClient, Company
from client.errors import UnavailableError
from server.core.snapshots import SNAPSHOTS_DIR
from server.core.store import STORE_FILE
from tests.conftest import REPO, ServerProcess, start_server_process
from tests.server.crash_workload import (
    Expected,
    Write,
    bootstrap_write,
    next_write,
    policy_revision,
    read_state,
    scenario_document,
    score_digest,
)

SEEDS = (11, 23, 37, 41)
KILLS_PER_SEED = 6


@dataclass
class Writer:
    """Sends writes one after another until one fails, keeping the expected state of the acknowledged ones."""

    rng: random.Random
    expected: Expected
    graph_version: int
    policy_revision: int
    files: Path
    serial: int = 0
    acknowledged: int = 0
    in_flight: Write | None = None
    unexpected: list[BaseException] = field(default_factory=list)

    def run(self, client: ChokepointClient) -> None:
        try:
            while self._send_next(client):
                pass
        except Exception as error:  # noqa: BLE001 (reported by the test thread, not lost in this one)
            self.unexpected.append(error)

    def _send_next(self, client: ChokepointClient) -> bool:
        self.serial += 1
        write = next_write(self.rng, self.expected, serial=self.serial, files=self.files)
        self.in_flight = write
        try:
            version = write.send(client)
        except UnavailableError:
            return False  # the server died with this write in flight (or before it was sent)
        self.in_flight = None
        self.acknowledged += 1
        self.expected = write.apply(self.expected)
        if write.moves_graph_version:
            assert version == self.graph_version + 1, (write.kind, version, self.graph_version)
            self.graph_version = version
        else:
            assert version == self.policy_revision + 1, (write.kind, version, self.policy_revision)
            self.policy_revision = version
        return True


def check_integrity(data_dir: Path) -> None:
    """`PRAGMA integrity_check` on the store as the kill left it (WAL included), opened read-only."""
    connection = sqlite3.connect(f"file:{data_dir / STORE_FILE}?mode=ro", uri=True)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        connection.close()


def recover(server: ServerProcess, writer: Writer) -> None:
    """The restarted server holds the acknowledged writes and the in-flight one whole or not at all; a retry with
    the same request_id then applies it exactly once."""
    with ChokepointClient(server.address) as client:
        state = read_state(client)
        version = client.graph_stats().graph_version
        revision = policy_revision(client)
        write = writer.in_flight
        if write is None:
            assert (state, version, revision) == (writer.expected, writer.graph_version, writer.policy_revision)
            return
        applied = write.apply(writer.expected)
        moved = (1, 0) if write.moves_graph_version else (0, 1)
        before = (writer.expected, writer.graph_version, writer.policy_revision)
        after = (applied, writer.graph_version + moved[0], writer.policy_revision + moved[1])
        assert (state, version, revision) in (before, after), f"{write.kind} half-applied or acknowledged lost"
        assert version >= writer.graph_version
        # Applied before the kill or not: the retry's answer is the version the write produced, once.
        if write.moves_graph_version:
            assert write.send(client) == writer.graph_version + 1
            assert client.graph_stats().graph_version == writer.graph_version + 1
        else:
            assert write.send(client) == writer.policy_revision + 1
            assert policy_revision(client) == writer.policy_revision + 1
        assert read_state(client) == applied
        writer.expected, writer.graph_version = applied, writer.graph_version + moved[0]
        writer.policy_revision = policy_revision(client)
        writer.in_flight = None


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_during_writes_loses_no_acknowledged_write_and_half_applies_none(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    data_dir = tmp_path / "store"
    server = start_server_process(data_dir, "--no-seed")
    writer = Writer(rng, Expected(), graph_version=0, policy_revision=0, files=tmp_path / "files")
    with ChokepointClient(server.address) as client:
        bootstrap = bootstrap_write(rng)
        writer.graph_version = bootstrap.send(client)
        writer.expected = bootstrap.apply(writer.expected)
    for _ in range(KILLS_PER_SEED):
        with ChokepointClient(server.address) as client:
            thread = threading.Thread(target=writer.run, args=(client,))
            thread.start()
            time.sleep(rng.uniform(0.05, 0.5))
            server.process.kill()
            server.process.communicate(timeout=60)
            thread.join(timeout=60)
        assert not thread.is_alive()
        assert not writer.unexpected, writer.unexpected
        check_integrity(data_dir)
        server = start_server_process(data_dir, "--no-seed")
        recover(server, writer)
    assert writer.acknowledged > 0
    # A clean restart of the recovered store serves the same version and the same scores, bit for bit.
    with ChokepointClient(server.address) as client:
        scenarios = sorted(writer.expected.scenarios)
        recovered = (client.graph_stats().graph_version, score_digest(client, scenarios))
    assert server.stop()[0] == 0
    server = start_server_process(data_dir, "--no-seed")
    try:
        with ChokepointClient(server.address) as client:
            assert (client.graph_stats().graph_version, score_digest(client, scenarios)) == recovered
            assert read_state(client) == writer.expected
    finally:
        server.stop()
    assert recovered[0] == writer.graph_version


def start_refused(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "--address", "127.0.0.1:0", "--data-dir", str(data_dir), "--no-seed"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def written_store(tmp_path: Path) -> Path:
    """A cleanly stopped store of many pages: 3000 companies and a few user scenarios."""
    data_dir = tmp_path / "store"
    server = start_server_process(data_dir, "--no-seed")
    with ChokepointClient(server.address) as client:
        client.upsert_companies([Company(f"CO-{n:05d}", f"Company number {n} " * 4, "DE") for n in range(3000)])
        for n in range(40):
            client.create_scenario(scenario_document(f"stored-{n:02d}", "x" * 400, 0.25))
    assert server.stop()[0] == 0
    return data_dir


def page_of(database: Path, table: str) -> tuple[int, int]:
    """The byte offset and size of a table's root page."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        (root,) = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    finally:
        connection.close()
    return (root - 1) * page_size, page_size


def assert_refused_naming(data_dir: Path) -> None:
    refused = start_refused(data_dir)
    assert refused.returncode == 2, refused.stderr
    assert "not starting" in refused.stderr
    assert str(data_dir / STORE_FILE) in refused.stderr


def test_bytes_overwritten_in_the_middle_of_the_store_are_refused_at_start(written_store: Path) -> None:
    database = written_store / STORE_FILE
    data = bytearray(database.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = random.Random(5).randbytes(8192)
    database.write_bytes(bytes(data))
    assert_refused_naming(written_store)


def test_a_corrupted_scenario_table_page_is_refused_at_start(written_store: Path) -> None:
    database = written_store / STORE_FILE
    offset, size = page_of(database, "scenarios")
    data = bytearray(database.read_bytes())
    data[offset : offset + size] = b"\x5a" * size
    database.write_bytes(bytes(data))
    assert_refused_naming(written_store)


@pytest.mark.parametrize("keep", [0.5, 0.01, 0.0], ids=["half", "first-page", "empty"])
def test_a_truncated_store_is_refused_at_start(written_store: Path, keep: float) -> None:
    database = written_store / STORE_FILE
    data = database.read_bytes()
    database.write_bytes(data[: int(len(data) * keep)])
    assert_refused_naming(written_store)


def test_a_stored_scenario_that_no_longer_parses_is_refused_at_start(written_store: Path) -> None:
    connection = sqlite3.connect(written_store / STORE_FILE)
    with connection:
        connection.execute("UPDATE scenarios SET definition = '{not json' WHERE name = 'stored-07'")
    connection.close()
    refused = start_refused(written_store)
    assert refused.returncode == 2, refused.stderr
    assert str(written_store / STORE_FILE) in refused.stderr
    assert "stored-07" in refused.stderr


def test_a_damaged_snapshot_file_is_refused_at_start_naming_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    server = start_server_process(data_dir)  # seeded: an import, so a snapshot
    with ChokepointClient(server.address) as client:
        version = client.graph_stats().graph_version
    assert server.stop()[0] == 0
    links = data_dir / SNAPSHOTS_DIR / str(version) / "links.parquet"
    data = bytearray(links.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = b"\x5a" * 64
    links.write_bytes(bytes(data))
    refused = start_refused(data_dir)
    assert refused.returncode == 2, refused.stderr
    assert "not starting" in refused.stderr
    assert f"snapshot file {links} is damaged" in refused.stderr


def test_sigkill_right_after_an_acknowledged_write_keeps_it(tmp_path: Path) -> None:
    """The acknowledgement is sent after COMMIT with synchronous=FULL: killing at once cannot lose it."""
    data_dir = tmp_path / "store"
    server = start_server_process(data_dir, "--no-seed")
    with ChokepointClient(server.address) as client:
        ack = client.upsert_companies([Company("KEPT", "Kept Ltd", "JP")], request_id="kept-1")
    server.stop(signal.SIGKILL)
    check_integrity(data_dir)
    server = start_server_process(data_dir, "--no-seed")
    try:
        with ChokepointClient(server.address) as client:
            assert client.get_company("KEPT") == Company("KEPT", "Kept Ltd", "JP")
            assert client.upsert_companies([Company("KEPT", "Other", "JP")], request_id="kept-1") == ack
            assert client.get_company("KEPT").name == "Kept Ltd"
    finally:
        server.stop()
