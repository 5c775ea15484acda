"""The store of record: SQLite (WAL, synchronous=FULL) holding the graph, plus the current in-memory `Graph`.

A write is validated against the current graph, applied to SQLite in one transaction that also bumps the graph
version, and acknowledged only after COMMIT returns. The new `Graph` is built from the same canonical tables while
SQLite writes, and swapped in with one reference assignment only after the COMMIT. Writers are serialised by a
lock; readers never wait.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from itertools import chain
from pathlib import Path

import polars as pl

from server.core import edits
from server.core.applied_requests import SCHEMA as APPLIED_REQUESTS_SCHEMA
from server.core.applied_requests import record_result, recorded_result
from server.core.cancellation import Check, never_cancelled
from server.core.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    StoreCorruptError,
)
from server.core.graph import Graph, build_graph
from server.core.queries import count_links_of, links_of, require_company
from server.core.schema import COMPANY_COLUMNS, LINK_COLUMNS, LINK_KEY, join_multi, split_multi
from server.core.validation import RowSource, normalise_hs_code, validate_companies, validate_links

STORE_FILE = "graph.sqlite3"
SCHEMA_VERSION = "1"
CACHE_KIB = 64 * 1024
ROWS_PER_INSERT = 64
INSERT_SLICE_ROWS = ROWS_PER_INSERT * 1024
# No secondary index on links: bulk imports run 3x faster without it, and deletes find their rows' primary keys
# in the in-memory graph (CSR slices) instead of scanning.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS companies (
    company_id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL, lists TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    supplier_id TEXT NOT NULL, buyer_id TEXT NOT NULL, hs_code TEXT NOT NULL, annual_value_usd REAL NOT NULL,
    origin_country TEXT, route TEXT NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (supplier_id, buyer_id, hs_code)
) WITHOUT ROWID;
"""


_DELETE_LINK = "DELETE FROM links WHERE supplier_id = ? AND buyer_id = ? AND hs_code = ?"


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

    def __init__(self, connection: sqlite3.Connection, graph: Graph, taxonomy: pl.DataFrame, path: Path) -> None:
        self._connection = connection
        self._graph = graph
        self._taxonomy = taxonomy
        self._lock = threading.Lock()
        self.path = path

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
            _check_integrity(connection, path)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            connection.executescript(_SCHEMA + APPLIED_REQUESTS_SCHEMA)
            connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            connection.execute("INSERT OR IGNORE INTO meta VALUES ('graph_version', '0')")
            graph = _load_graph(connection, taxonomy)
        except sqlite3.DatabaseError as error:
            msg = f"store {path} is unreadable ({error}); restore it from a backup or move it aside"
            raise StoreCorruptError(msg) from error
        return cls(connection, graph, taxonomy, path)

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
        def apply(graph: Graph, cursor: sqlite3.Cursor) -> _Change:
            new = validate_companies(raw, source=source)
            return _Change(
                edits.upsert_companies(graph.canonical_companies(), graph.canonical_links(), new),
                lambda cursor: _insert(cursor, "companies", COMPANY_COLUMNS, new),
            )

        return self._write("UpsertCompanies", request_id, apply, bounds=bounds)

    def upsert_links(
        self, raw: pl.DataFrame, *, source: RowSource, request_id: str = "", bounds: GraphSize = GraphSize()
    ) -> WriteResult:
        def apply(graph: Graph, cursor: sqlite3.Cursor) -> _Change:
            new = validate_links(raw, source=source, company_ids=graph.companies["company_id"])
            return _Change(
                edits.upsert_links(graph.canonical_companies(), graph.canonical_links(), new),
                lambda cursor: _insert(cursor, "links", LINK_COLUMNS, new),
            )

        return self._write("UpsertSupplyLinks", request_id, apply, bounds=bounds)

    def delete_company(self, company_id: str, *, cascade: bool, request_id: str = "") -> WriteResult:
        def apply(graph: Graph, cursor: sqlite3.Cursor) -> _Change:
            index = require_company(graph, company_id, field="company_id")
            sold, bought = count_links_of(graph, index)
            if (sold or bought) and not cascade:
                msg = (
                    f"company_id: company {company_id!r} is used by {sold + bought} links "
                    f"(supplier of {sold}, buyer of {bought}); set cascade to delete them too"
                )
                raise FailedPreconditionError(msg, reason="COMPANY_IN_USE")
            cursor.executemany(_DELETE_LINK, links_of(graph, index).select(LINK_KEY).iter_rows())
            cursor.execute("DELETE FROM companies WHERE company_id = ?", (company_id,))
            return _Change(edits.delete_company(graph.canonical_companies(), graph.canonical_links(), company_id))

        return self._write("DeleteCompany", request_id, apply)

    def delete_link(self, supplier_id: str, buyer_id: str, hs_code: str, *, request_id: str = "") -> WriteResult:
        key = (supplier_id, buyer_id, normalise_hs_code(hs_code, field="hs_code"))

        def apply(graph: Graph, cursor: sqlite3.Cursor) -> _Change:
            cursor.execute(_DELETE_LINK, key)
            if cursor.rowcount != 1:
                msg = f"supply link {supplier_id!r} -> {buyer_id!r} for hs_code {key[2]!r} not found"
                raise NotFoundError(msg, reason="LINK_NOT_FOUND")
            return _Change(edits.delete_link(graph.canonical_companies(), graph.canonical_links(), key))

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
        """Replace the graph with, or merge into it, a companies table and a links table; all or nothing. `check`
        runs after validation: an import whose caller gave up is rolled back."""

        def apply(graph: Graph, cursor: sqlite3.Cursor) -> _Change:
            if mode is ImportMode.REPLACE:
                if companies is None:
                    msg = "file: a replacing import needs a companies file"
                    raise InvalidArgumentError(msg, reason="COMPANIES_FILE_REQUIRED")
                base = edits.EditResult(graph.canonical_companies().clear(), graph.canonical_links().clear())
                cursor.execute("DELETE FROM links")
                cursor.execute("DELETE FROM companies")
            else:
                base = edits.EditResult(graph.canonical_companies(), graph.canonical_links())
            if companies is not None:
                new_companies = validate_companies(companies[0], source=companies[1])
                base = edits.upsert_companies(base.companies, base.links, new_companies)
            if links is not None:
                new_links = validate_links(links[0], source=links[1], company_ids=base.companies["company_id"])
                base = edits.upsert_links(base.companies, base.links, new_links)

            def record(cursor: sqlite3.Cursor) -> None:
                if companies is not None:
                    _insert(cursor, "companies", COMPANY_COLUMNS, new_companies)
                if links is not None:
                    _insert(cursor, "links", LINK_COLUMNS, new_links)

            return _Change(base, record)

        return self._write("ImportGraph", request_id, apply, bounds=bounds, check=check)

    def _write(
        self,
        method: str,
        request_id: str,
        apply: Callable[[Graph, sqlite3.Cursor], _Change],
        *,
        bounds: GraphSize = GraphSize(),
        check: Check = never_cancelled,
    ) -> WriteResult:
        with self._lock, self._transaction() as cursor:
            replay = recorded_result(cursor, request_id, method)
            if replay is not None:
                return WriteResult(**json.loads(replay))
            graph = self._graph
            change = apply(graph, cursor)
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
            # The compute form is built while SQLite writes: the build is Polars work that runs without the GIL,
            # the write is mostly SQLite's, so on two cores the import takes about the longer of the two.
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph-build") as builder:
                building = builder.submit(
                    build_graph, edit.companies, edit.links, version=version, taxonomy=self._taxonomy
                )
                change.record(cursor)
                cursor.execute("UPDATE meta SET value = ? WHERE key = 'graph_version'", (str(version),))
                record_result(cursor, request_id, method, json.dumps(asdict(result)))
                next_graph = building.result()
        # Committed: only now does anyone see the new version.
        self._graph = next_graph
        return result

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


@dataclass(frozen=True)
class _Change:
    """A validated write: the tables after it, and how to record it in SQLite (run inside the write's transaction)."""

    edit: edits.EditResult
    record: Callable[[sqlite3.Cursor], None] = lambda cursor: None


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
        connection.executescript(_SCHEMA + APPLIED_REQUESTS_SCHEMA)
        connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        connection.execute("INSERT INTO meta VALUES ('graph_version', '0')")
    finally:
        connection.close()
    with staging.open("rb+") as handle:
        os.fsync(handle.fileno())
    staging.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _check_integrity(connection: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        msg = f"store {path} failed its integrity check: {'; '.join(problems[:3])}"
        raise StoreCorruptError(msg)


def _load_graph(connection: sqlite3.Connection, taxonomy: pl.DataFrame) -> Graph:
    (version,) = connection.execute("SELECT value FROM meta WHERE key = 'graph_version'").fetchone()
    companies = _read_rows(connection, "companies", COMPANY_COLUMNS)
    links = _read_rows(connection, "links", LINK_COLUMNS)
    return build_graph(split_multi(companies), split_multi(links), version=int(version), taxonomy=taxonomy)


def _read_rows(connection: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> pl.DataFrame:
    cursor = connection.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 (fixed names)
    schema = {column: pl.Float64 if column == "annual_value_usd" else pl.String for column in columns}
    return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")


def _insert(cursor: sqlite3.Cursor, table: str, columns: tuple[str, ...], rows: pl.DataFrame) -> None:
    """INSERT OR REPLACE `rows`, many rows per statement: binding a statement's values runs in C, so one statement of
    `ROWS_PER_INSERT` rows costs about 40% less CPU than as many one-row executions (5M links: 8 s instead of 13 s).
    Values are made into Python objects one slice at a time, which bounds the memory the import leaves behind."""
    width = len(columns)
    head = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 (fixed names)
    one_row = f"({', '.join(['?'] * width)})"
    full = head + ", ".join([one_row] * ROWS_PER_INSERT)
    step = ROWS_PER_INSERT * width
    flat = join_multi(rows.select(columns))
    for start in range(0, flat.height, INSERT_SLICE_ROWS):
        part = flat.slice(start, INSERT_SLICE_ROWS)
        values = list(chain.from_iterable(zip(*(part[column].to_list() for column in columns), strict=True)))
        whole = part.height // ROWS_PER_INSERT * step
        cursor.executemany(full, (values[offset : offset + step] for offset in range(0, whole, step)))
        if whole < len(values):
            cursor.execute(head + ", ".join([one_row] * ((len(values) - whole) // width)), values[whole:])
