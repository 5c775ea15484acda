"""Online backup: copies taken while a writer commits open as a consistent store; bad targets are refused."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

from client.client import Company
from server.config import DEFAULT_SEED_GRAPH
from server.core.snapshots import SNAPSHOTS_DIR
from server.core.store import STORE_FILE
from tests.conftest import REPO, ServeFactory

ACKS_BEFORE_BACKUP = 5


def run_backup(data_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.backup", "--data-dir", str(data_dir), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_backup_taken_during_writes_restores_a_consistent_graph(serve: ServeFactory, tmp_path: Path) -> None:
    live = serve()
    acks: dict[str, int] = {}  # company id -> graph version its write was acknowledged at
    acks_lock = threading.Lock()
    enough = threading.Event()
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        with live.client() as client:
            try:
                while not stop.is_set():
                    company_id = f"W-{len(acks)}"
                    version = client.upsert_companies([Company(company_id, "Writer Co", "US")]).graph_version
                    with acks_lock:
                        acks[company_id] = version
                    if len(acks) >= ACKS_BEFORE_BACKUP:
                        enough.set()
            except Exception as error:  # noqa: BLE001 (reported by the test thread)
                failures.append(error)
                enough.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert enough.wait(timeout=120)
        with acks_lock:
            acknowledged = max(acks.values())
        backup = run_backup(live.data_dir, tmp_path / "backup")
    finally:
        stop.set()
        writer.join()
    assert not failures
    assert backup.returncode == 0, backup.stderr
    copy = tmp_path / "backup" / STORE_FILE
    assert backup.stdout.startswith(f"wrote {copy} (")
    assert "integrity ok" in backup.stdout
    assert sorted(path.name for path in copy.parent.iterdir()) == [STORE_FILE]  # no -wal, no .partial
    with closing(sqlite3.connect(copy)) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    restored_dir = tmp_path / "restored"  # restore: copy the files into a data dir and start on it
    restored_dir.mkdir()
    shutil.copy2(copy, restored_dir / STORE_FILE)
    with serve(data_dir=restored_dir).client() as client:
        version = client.graph_stats().graph_version
        restored = {company.company_id for company in client.list_companies()}
    assert version >= acknowledged
    assert f"graph_version={version}" in backup.stdout
    # One snapshot: exactly the writes committed at or before the copied version, none after.
    assert restored == {company_id for company_id, at in acks.items() if at <= version}


def test_a_backup_copies_the_snapshot_and_restores_the_graph_over_it(serve: ServeFactory, tmp_path: Path) -> None:
    live = serve(seed_graph=DEFAULT_SEED_GRAPH)  # the seed is an import: a snapshot, then a journal row over it
    with live.client() as client:
        version = client.upsert_companies([Company("JOURNAL-1", "Journal Co", "US")]).graph_version
        expected = (version, list(client.list_companies()), list(client.list_supply_links()))
    backup = run_backup(live.data_dir, tmp_path / "backup")
    assert backup.returncode == 0, backup.stderr
    assert f"snapshot {SNAPSHOTS_DIR}/1)" in backup.stdout
    restored_dir = tmp_path / "restored"
    shutil.copytree(tmp_path / "backup", restored_dir)  # restore: the file and its snapshots/
    assert sorted(path.name for path in (restored_dir / SNAPSHOTS_DIR).iterdir()) == ["1"]  # no .partial left
    with serve(data_dir=restored_dir).client() as client:
        restored = (client.graph_stats().graph_version, list(client.list_companies()), list(client.list_supply_links()))
    assert restored == expected


def test_backup_refuses_an_existing_target_and_an_empty_data_dir(serve: ServeFactory, tmp_path: Path) -> None:
    live = serve()
    assert run_backup(live.data_dir, tmp_path / "out").returncode == 0
    again = run_backup(live.data_dir, tmp_path / "out")
    assert again.returncode == 1
    assert f"--out: {tmp_path / 'out' / STORE_FILE} already exists" in again.stderr
    (tmp_path / "empty").mkdir()
    empty = run_backup(tmp_path / "empty", tmp_path / "out2")
    assert empty.returncode == 1
    assert "--data-dir: no *.sqlite3 store in" in empty.stderr
    assert not (tmp_path / "out2").exists()


def test_a_damaged_store_leaves_no_backup_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    damaged = data_dir / STORE_FILE
    with closing(sqlite3.connect(damaged)) as setup, setup:
        setup.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        setup.executemany("INSERT INTO t VALUES (?, ?)", ((i, "x" * 200) for i in range(2000)))
    page_size = 4096
    with damaged.open("r+b") as raw:
        raw.seek(3 * page_size)  # inside the table's b-tree, past the schema page
        raw.write(b"\xff" * page_size)
    result = run_backup(data_dir, tmp_path / "out")
    assert result.returncode == 1
    assert str(damaged) in result.stderr
    assert list((tmp_path / "out").iterdir()) == []
