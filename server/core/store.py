"""The store of record, log-structured: a Parquet snapshot of the whole graph plus a journal of changes over it in
SQLite (WAL, synchronous=FULL), and the current in-memory `Graph`.

SQLite's `meta` names the current snapshot (`snapshots.py`); the `companies` and `links` tables are the journal
(`journal.py`): rows upserted since that snapshot, and tombstones for rows deleted since. The graph is the snapshot
with the journal applied (an upsert replaces its key's row, a tombstone removes it). An import writes a new
snapshot of the whole resulting graph and, in the transaction that names it, empties the journal; a small write
appends to the journal, and folds it into a new snapshot instead once it outgrows `compaction_threshold`.

A write is validated against the current graph, recorded in one SQLite transaction that also bumps the graph
version, and acknowledged only after COMMIT returns. The new `Graph` is built from the same canonical tables while
the write is recorded (or, when the write only re-values links, made from the current one with the new values:
`revaluation.py`), and swapped in with one reference assignment only after the COMMIT. Writers are serialised by a
lock; readers never wait.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from functools import partial
from pathlib import Path

import polars as pl

from server.core import edits, journal
from server.core.applied_requests import SCHEMA as APPLIED_REQUESTS_SCHEMA
from server.core.applied_requests import record_result, recorded_result
from server.core.cancellation import Check, never_cancelled
from server.core.durable import fsync_directory, fsync_file
from server.core.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    StoreCorruptError,
)
from server.core.graph import Graph, build_graph
from server.core.queries import count_links_of, links_of, require_company
from server.core.revaluation import revaluation
from server.core.schema import (
    COMPANY_SCHEMA,
    LINK_KEY,
    LINK_SCHEMA,
)
from server.core.snapshots import (
    SNAPSHOTS_DIR,
    Snapshot,
    read_snapshot,
    recorded_snapshot,
    remove_other_snapshots,
    write_snapshot,
)
from server.core.validation import RowSource, normalise_hs_code, validate_companies, validate_links

STORE_FILE = "graph.sqlite3"
# 1: the whole graph in the `companies` and `links` tables. 2: those tables are a journal over a Parquet snapshot
# (a `deleted` column marks tombstones); a version-1 store is a journal over no snapshot, so opening one only adds
# the column.
SCHEMA_VERSION = "2"
# A small write folds the journal into a new snapshot once it would pass this many rows, or a quarter of the
# snapshot's rows if more. A journal row reads back about 17 times slower than a snapshot row (5M links: 14 s from
# SQLite, 0.85 s from Parquet), so a quarter-size journal adds at most about four snapshot reads to a restart
# (a few seconds at 5M links, beside a build of about 5); and each fold (a snapshot write, about a second per 5M
# links, beside the whole-graph build every write already does) comes at most once per quarter of the graph's size
# in small writes. The floor keeps a small graph from folding on every few writes.
MIN_COMPACTION_ROWS = 100_000
CACHE_KIB = 64 * 1024
# `meta` holds schema_version, graph_version and `snapshot` (the current one, as `Snapshot.to_json`).
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    + journal.SCHEMA
    + APPLIED_REQUESTS_SCHEMA
)


class ImportMode(Enum):
    REPLACE = "replace"
    MERGE = "merge"


@dataclass(frozen=True)
class GraphSize:
    """The most companies and links a write may leave in the graph. A write that would grow the graph past either is
    refused whole; one that shrinks or keeps an already larger graph (after the limit was lowered) goes through."""

    max_companies: int = sys.maxsize
    max_links: int = sys.maxsize


@dataclass(frozen=True)
class WriteResult:
    """What a committed write did, and the graph version it produced."""

    version: int
    company_count: int
    link_count: int
    created: int = 0
    updated: int = 0
    deleted_links: int = 0


class GraphStore:
    """The graph of record and its current compute form. Open with `GraphStore.open(data_dir, taxonomy=...)`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        graph: Graph,
        taxonomy: pl.DataFrame,
        path: Path,
        *,
        snapshot: Snapshot | None,
        journal_rows: int,
    ) -> None:
        self._connection = connection
        self._graph = graph
        self._taxonomy = taxonomy
        self._lock = threading.Lock()
        self.path = path
        self._snapshots = path.parent / SNAPSHOTS_DIR
        self._snapshot = snapshot
        # Rows written to the journal since the snapshot: an upper bound (a row that replaces one counts again).
        self._journal_rows = journal_rows

    @classmethod
    def open(cls, data_dir: Path, *, taxonomy: pl.DataFrame) -> GraphStore:
        """Open (or create) the store in `data_dir`, check its integrity and load the current graph."""
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / STORE_FILE
        try:
            if not path.exists():
                _create(path)
            elif path.stat().st_size == 0:
                # A store is only ever created whole (see `_create`), so an empty file was truncated.
                msg = f"store {path} is empty (truncated?); restore it from a backup or move it aside"
                raise StoreCorruptError(msg)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                _check_integrity(connection, path)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
                connection.executescript(_SCHEMA)
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('graph_version', '0')")
                _upgrade(connection, path)
                snapshot = _current_snapshot(connection, path)
                journal_rows = journal.count_rows(connection)
                graph = _load_graph(connection, data_dir / SNAPSHOTS_DIR, snapshot, taxonomy)
            except BaseException:
                connection.close()
                raise
        except sqlite3.DatabaseError as error:
            msg = f"store {path} is unreadable ({error}); restore it from a backup or move it aside"
            raise StoreCorruptError(msg) from error
        # Only the snapshot `meta` names counts: others are older ones, or orphans of a write that never committed.
        remove_other_snapshots(data_dir / SNAPSHOTS_DIR, keep=snapshot.name if snapshot else None)
        return cls(connection, graph, taxonomy, path, snapshot=snapshot, journal_rows=journal_rows)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @property
    def taxonomy(self) -> pl.DataFrame:
        return self._taxonomy

    @property
    def graph(self) -> Graph:
        """The current graph version; hold on to it to read one consistent version."""
        return self._graph

    def upsert_companies(
        self, raw: pl.DataFrame, *, source: RowSource, request_id: str = "", bounds: GraphSize = GraphSize()
    ) -> WriteResult:
        def apply(graph: Graph) -> _Change:
            new = validate_companies(raw, source=source)
            return _Change(
                edits.upsert_companies(graph.canonical_companies(), graph.canonical_links(), new),
                lambda cursor: journal.record_companies(cursor, new),
                journal_rows=new.height,
            )

        return self._write("UpsertCompanies", request_id, apply, bounds=bounds)

    def upsert_links(
        self, raw: pl.DataFrame, *, source: RowSource, request_id: str = "", bounds: GraphSize = GraphSize()
    ) -> WriteResult:
        def apply(graph: Graph) -> _Change:
            new = validate_links(raw, source=source, company_ids=graph.companies["company_id"])
            values = revaluation(graph, new)
            return _Change(
                edits.upsert_links(graph.canonical_companies(), graph.canonical_links(), new),
                lambda cursor: journal.record_links(cursor, new),
                journal_rows=new.height,
                build=None if values is None else partial(graph.revalued, values),
            )

        return self._write("UpsertSupplyLinks", request_id, apply, bounds=bounds)

    def delete_company(self, company_id: str, *, cascade: bool, request_id: str = "") -> WriteResult:
        def apply(graph: Graph) -> _Change:
            index = require_company(graph, company_id, field="company_id")
            sold, bought = count_links_of(graph, index)
            if (sold or bought) and not cascade:
                msg = (
                    f"company_id: company {company_id!r} is used by {sold + bought} links "
                    f"(supplier of {sold}, buyer of {bought}); set cascade to delete them too"
                )
                raise FailedPreconditionError(msg, reason="COMPANY_IN_USE")
            keys = links_of(graph, index).select(LINK_KEY)

            def record(cursor: sqlite3.Cursor) -> None:
                journal.record_deleted_links(cursor, keys.iter_rows())
                journal.record_deleted_company(cursor, company_id)

            edit = edits.delete_company(graph.canonical_companies(), graph.canonical_links(), company_id)
            return _Change(edit, record, journal_rows=keys.height + 1)

        return self._write("DeleteCompany", request_id, apply)

    def delete_link(self, supplier_id: str, buyer_id: str, hs_code: str, *, request_id: str = "") -> WriteResult:
        key = (supplier_id, buyer_id, normalise_hs_code(hs_code, field="hs_code"))

        def apply(graph: Graph) -> _Change:
            edit = edits.delete_link(graph.canonical_companies(), graph.canonical_links(), key)
            if edit.deleted_links != 1:
                msg = f"supply link {supplier_id!r} -> {buyer_id!r} for hs_code {key[2]!r} not found"
                raise NotFoundError(msg, reason="LINK_NOT_FOUND")
            return _Change(edit, lambda cursor: journal.record_deleted_links(cursor, [key]), journal_rows=1)

        return self._write("DeleteSupplyLink", request_id, apply)

    def import_graph(
        self,
        companies: tuple[pl.DataFrame, RowSource] | None,
        links: tuple[pl.DataFrame, RowSource] | None,
        *,
        mode: ImportMode,
        request_id: str = "",
        bounds: GraphSize = GraphSize(),
        check: Check = never_cancelled,
    ) -> WriteResult:
        """Replace the graph with, or merge into it, a companies table and a links table; all or nothing, recorded
        as a new snapshot. `check` runs after validation: an import whose caller gave up is rolled back."""

        def apply(graph: Graph) -> _Change:
            if mode is ImportMode.REPLACE:
                if companies is None:
                    msg = "file: a replacing import needs a companies file"
                    raise InvalidArgumentError(msg, reason="COMPANIES_FILE_REQUIRED")
                base = edits.EditResult(COMPANY_SCHEMA.to_frame(), LINK_SCHEMA.to_frame())
            else:
                base = edits.EditResult(graph.canonical_companies(), graph.canonical_links())
            if companies is not None:
                new_companies = validate_companies(companies[0], source=companies[1])
                base = edits.upsert_companies(base.companies, base.links, new_companies)
            if links is not None:
                new_links = validate_links(links[0], source=links[1], company_ids=base.companies["company_id"])
                base = edits.upsert_links(base.companies, base.links, new_links)
            return _Change(base)

        return self._write("ImportGraph", request_id, apply, bounds=bounds, check=check)

    def _write(
        self,
        method: str,
        request_id: str,
        apply: Callable[[Graph], _Change],
        *,
        bounds: GraphSize = GraphSize(),
        check: Check = never_cancelled,
    ) -> WriteResult:
        with self._lock:
            fold = False
            try:
                with self._transaction() as cursor:
                    replay = recorded_result(cursor, request_id, method)
                    if replay is not None:
                        return WriteResult(**json.loads(replay))
                    graph = self._graph
                    change = apply(graph)
                    edit = change.edit
                    _refuse_growth_past(bounds, graph, edit, method=method)
                    check()
                    version = graph.version + 1
                    result = WriteResult(
                        version=version,
                        company_count=edit.companies.height,
                        link_count=edit.links.height,
                        created=edit.created,
                        updated=edit.updated,
                        deleted_links=edit.deleted_links,
                    )
                    fold = change.journal is None or self._journal_rows + change.journal_rows > compaction_threshold(
                        self._snapshot
                    )
                    # The compute form is built while the write is recorded: the build is Polars work that runs
                    # without the GIL, and so is most of a snapshot's Parquet write.
                    build = change.build or partial(build_graph, edit.companies, edit.links, taxonomy=self._taxonomy)
                    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-build") as builder:
                        building = builder.submit(build, version=version)
                        if fold:
                            written = self._fold(cursor, str(version), edit)
                        elif change.journal is not None:
                            change.journal(cursor)
                        cursor.execute("UPDATE meta SET value = ? WHERE key = 'graph_version'", (str(version),))
                        record_result(cursor, request_id, method, json.dumps(asdict(result)))
                        next_graph = building.result()
            except BaseException:
                if fold:
                    self._remove_uncommitted_snapshots()
                raise
            # Committed: only now does anyone see the new version.
            self._graph = next_graph
            if fold:
                self._snapshot, self._journal_rows = written, 0
                remove_other_snapshots(self._snapshots, keep=written.name)
            else:
                self._journal_rows += change.journal_rows
        return result

    def _fold(self, cursor: sqlite3.Cursor, name: str, edit: edits.EditResult) -> Snapshot:
        """Record the whole graph as a new snapshot: the files first, then (in the write's transaction) `meta` names
        it and the journal it replaces is emptied."""
        written = write_snapshot(self._snapshots, name, edit.companies, edit.links)
        journal.clear(cursor)
        cursor.execute("INSERT OR REPLACE INTO meta VALUES ('snapshot', ?)", (written.to_json(),))
        return written

    def _remove_uncommitted_snapshots(self) -> None:
        """After a failed write: keep only the snapshot `meta` names, as read back from SQLite (a failed COMMIT
        could, in principle, have committed; then the new snapshot is the one to keep)."""
        try:
            current = _current_snapshot(self._connection, self.path)
        except (sqlite3.Error, StoreCorruptError):
            return  # the next open removes the orphan
        remove_other_snapshots(self._snapshots, keep=current.name if current else None)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed may have left the transaction open (and the next BEGIN refused) or ended it.
            if self._connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise


def compaction_threshold(snapshot: Snapshot | None) -> int:
    """The journal size (rows) past which a small write folds the journal into a new snapshot."""
    return max(MIN_COMPACTION_ROWS, (snapshot.rows if snapshot else 0) // 4)


@dataclass(frozen=True)
class _Change:
    """A validated write: the tables after it, and how to record it as journal rows (inside the write's
    transaction), or None to record the whole graph as a new snapshot. `build`: how to make the compute form of a
    given version from the current one without rebuilding it (revaluation.py); None: `build_graph` the tables."""

    edit: edits.EditResult
    journal: Callable[[sqlite3.Cursor], object] | None = None
    journal_rows: int = 0
    build: Callable[..., Graph] | None = None


def _refuse_growth_past(bounds: GraphSize, graph: Graph, edit: edits.EditResult, *, method: str) -> None:
    for noun, count, limit, before, setting in (
        ("companies", edit.companies.height, bounds.max_companies, graph.company_count, "max_graph_companies"),
        ("links", edit.links.height, bounds.max_links, graph.link_count, "max_graph_links"),
    ):
        if count > limit and count > before:
            msg = (
                f"{method}: the graph would hold {count} {noun}, over the limit of {limit} ({setting}); "
                f"it holds {before} now"
            )
            raise ResourceExhaustedError(msg, reason="GRAPH_TOO_LARGE")


def _create(path: Path) -> None:
    """A new store with its schema, written beside `path` and renamed into place: a crash at any moment leaves
    either no store or a whole one, never an empty file that could be mistaken for a truncated store."""
    staging = path.with_name(path.name + ".new")
    staging.unlink(missing_ok=True)
    connection = sqlite3.connect(staging, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.executescript(_SCHEMA)
        connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        connection.execute("INSERT INTO meta VALUES ('graph_version', '0')")
    finally:
        connection.close()
    fsync_file(staging)
    staging.replace(path)
    fsync_directory(path.parent)


def _upgrade(connection: sqlite3.Connection, path: Path) -> None:
    """Bring an older store to `SCHEMA_VERSION` in one transaction; refuse one written by a newer version."""
    (version,) = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version == SCHEMA_VERSION:
        return
    if version != "1":
        msg = f"store {path} has schema_version {version}, which this version cannot read (it reads 1 and 2)"
        raise StoreCorruptError(msg)
    connection.execute("BEGIN IMMEDIATE")
    try:
        journal.add_deleted_column(connection)
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,))
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _check_integrity(connection: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        msg = f"store {path} failed its integrity check: {'; '.join(problems[:3])}"
        raise StoreCorruptError(msg)


def _current_snapshot(connection: sqlite3.Connection, path: Path) -> Snapshot | None:
    """The snapshot `meta` names, or None when the graph is all journal (a new or a version-1 store)."""
    try:
        return recorded_snapshot(connection)
    except StoreCorruptError as error:
        msg = f"store {path}: {error}; restore it from a backup"
        raise StoreCorruptError(msg) from error


def _load_graph(
    connection: sqlite3.Connection, snapshots: Path, snapshot: Snapshot | None, taxonomy: pl.DataFrame
) -> Graph:
    """The snapshot (none: empty tables) with the journal applied."""
    (version,) = connection.execute("SELECT value FROM meta WHERE key = 'graph_version'").fetchone()
    if snapshot is None:
        companies, links = COMPANY_SCHEMA.to_frame(), LINK_SCHEMA.to_frame()
    else:
        companies, links = read_snapshot(snapshots, snapshot)
    companies, links = journal.apply_journal(connection, companies, links)
    return build_graph(companies, links, version=int(version), taxonomy=taxonomy)
