"""`python -m server.backup --data-dir D --out DIR`: a consistent copy of every store, taken while serving.

Each `*.sqlite3` file in the data dir is copied with SQLite's online backup API in one step: the copy reads one
state inside a single read transaction, which in WAL mode never blocks the service's writers (and a step-wise
copy would restart on every write). The Parquet snapshot that copy's `meta` names is copied beside it (checked
against its recorded sizes and CRCs); if a newer import removed that snapshot meanwhile, the whole copy is taken
again. Each copy is written beside its final name, checked with `PRAGMA integrity_check`, and only then renamed
into place, so `DIR` never holds a half-written or damaged file.
Restore: stop the service, copy the files and `snapshots/` into the data dir (removing any `-wal`/`-shm` files
and `snapshots/` there), start it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from server.core.errors import StoreCorruptError
from server.core.snapshots import SNAPSHOTS_DIR, Snapshot, copy_snapshot, recorded_snapshot

STORE_PATTERN = "*.sqlite3"
# Versions worth printing, when the copied file has them: (label, table, key).
_VERSIONS = (("graph_version", "meta", "graph_version"), ("policy_revision", "policy_meta", "revision"))
# A newer import can replace the snapshot between the SQLite copy and the snapshot copy; that many imports in a row
# while one backup runs means something else is wrong.
COPY_ATTEMPTS = 5


class BackupError(RuntimeError):
    """The backup could not be taken or did not check out; nothing was left at the target path."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    size_bytes: int
    versions: dict[str, str]
    snapshot: str | None = None  # the snapshot directory copied beside it, relative to the output directory

    def describe(self) -> str:
        facts = [f"{self.size_bytes} bytes", "integrity ok", *(f"{k}={v}" for k, v in self.versions.items())]
        if self.snapshot is not None:
            facts.append(f"snapshot {self.snapshot}")
        return f"wrote {self.path} ({', '.join(facts)})"


def back_up(data_dir: Path, out_dir: Path) -> list[BackupFile]:
    """Copy every SQLite store in `data_dir` into `out_dir` (created if needed); refuses to overwrite a file."""
    sources = sorted(data_dir.glob(STORE_PATTERN))
    if not sources:
        msg = f"--data-dir: no {STORE_PATTERN} store in {data_dir}"
        raise BackupError(msg)
    targets = [out_dir / source.name for source in sources]
    taken = [str(target) for target in targets if target.exists()]
    if taken:
        msg = f"--out: {', '.join(taken)} already exists; choose a new directory for each backup"
        raise BackupError(msg)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [_back_up_store(source, target) for source, target in zip(sources, targets, strict=True)]


def _back_up_store(source: Path, target: Path) -> BackupFile:
    for _ in range(COPY_ATTEMPTS - 1):
        try:
            return back_up_file(source, target)
        except BackupError as error:
            if not isinstance(error.__cause__, StoreCorruptError):
                raise
    return back_up_file(source, target)


def back_up_file(source: Path, target: Path) -> BackupFile:
    """One store file, copied from a single read transaction, with the snapshot it names; both are checked before
    the file takes its final name."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(source, timeout=30)) as reader, closing(sqlite3.connect(partial)) as copy:
            reader.backup(copy)  # pages=-1: the whole database from one read transaction
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                msg = f"{source}: the copy failed its integrity check: {'; '.join(problems[:3])}"
                raise BackupError(msg)
            versions = _versions(copy)
            snapshot = _snapshot(copy)
            # One self-contained file: no -wal beside the copy, whatever mode the source runs in.
            copy.execute("PRAGMA journal_mode=DELETE")
        if snapshot is not None:
            copy_snapshot(source.parent / SNAPSHOTS_DIR, snapshot, target.parent / SNAPSHOTS_DIR)
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        msg = f"{source}: cannot back up ({error})"
        raise BackupError(msg) from error
    except StoreCorruptError as error:
        partial.unlink(missing_ok=True)
        msg = f"{source}: cannot back up its snapshot ({error})"
        raise BackupError(msg) from error
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    copied = None if snapshot is None else f"{SNAPSHOTS_DIR}/{snapshot.name}"
    return BackupFile(target, target.stat().st_size, versions, copied)


def _versions(connection: sqlite3.Connection) -> dict[str, str]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    found: dict[str, str] = {}
    for label, table, key in _VERSIONS:
        if table in tables:
            row = connection.execute(f"SELECT value FROM {table} WHERE key = ?", (key,)).fetchone()  # noqa: S608
            if row is not None:
                found[label] = str(row[0])
    return found


def _snapshot(connection: sqlite3.Connection) -> Snapshot | None:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        return None
    return recorded_snapshot(connection)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m server.backup", description="Back up the Chokepoint store while the service runs"
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="the service's data directory")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the copies into (new)")
    args = parser.parse_args(argv)
    try:
        written = back_up(args.data_dir, args.out)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for backup in written:
        print(backup.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
