"""The log-structured store: a Parquet snapshot per import plus a SQLite journal of small writes over it.

Every test reopens the store from disk and compares the graph it loads with the graph the writes left in memory.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from server.config import DEFAULT_SEED_GRAPH
from server.core.errors import StoreCorruptError
from server.core.graph import Graph
from server.core.seeding import open_store, seed_store
from server.core.snapshots import SNAPSHOTS_DIR
from server.core.store import MIN_COMPACTION_ROWS, SCHEMA_VERSION, STORE_FILE, GraphStore, ImportMode
from server.core.validation import RowSource
from tests.conftest import REPO
from tests.core.test_store_durability import deny_commit

NEW_COMPANIES = pl.DataFrame(
    {
        "company_id": ["NEW-1", "NEW-2"],
        "name": ["New One", "New Two"],
        "country": ["VN", "DE"],
        "lists": ["US_ENTITY_LIST;EU_833_ANNEX_IV", ""],
    }
)
COMPANY_A = pl.DataFrame({"company_id": ["A"], "name": ["Alpha"], "country": ["CN"]})
NEW_LINKS = pl.DataFrame(
    {
        "supplier_id": ["NEW-1", "NEW-2"],
        "buyer_id": ["NEW-2", "NEW-1"],
        "hs_code": ["8505.11", "284690"],
        "annual_value_usd": ["1250000.5", "7"],
        "origin_country": ["CN", ""],
        "route": ["CN>VN>DE", ""],
        "tags": ["rare_earth;magnet", ""],
    }
)


def canonical(graph: Graph) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    companies = graph.canonical_companies().sort("company_id")
    links = graph.canonical_links().sort("supplier_id", "buyer_id", "hs_code")
    return graph.version, companies, links


def assert_same_graph(left: Graph, right: Graph) -> None:
    (left_version, *left_tables), (right_version, *right_tables) = canonical(left), canonical(right)
    assert left_version == right_version
    for left_table, right_table in zip(left_tables, right_tables, strict=True):
        assert_frame_equal(left_table, right_table)


def reopened(data_dir: Path) -> GraphStore:
    return open_store(data_dir, seed_graph=None)


def journal_rows(data_dir: Path) -> list[int]:
    """Rows in the journal tables (companies, links)."""
    with closing(sqlite3.connect(data_dir / STORE_FILE)) as reader:
        return [reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("companies", "links")]


def snapshot_names(data_dir: Path) -> list[str]:
    return sorted(entry.name for entry in (data_dir / SNAPSHOTS_DIR).iterdir())


def edit_after_import(store: GraphStore) -> None:
    """One of each small write, over a snapshot of the default graph."""
    store.upsert_companies(NEW_COMPANIES, source=RowSource("companies"))
    store.upsert_links(NEW_LINKS, source=RowSource("links"))
    first = store.graph.canonical_links().row(0, named=True)
    store.delete_link(first["supplier_id"], first["buyer_id"], first["hs_code"])
    victim = store.graph.canonical_companies()["company_id"][0]
    store.delete_company(victim, cascade=True)
    renamed = store.graph.canonical_companies().head(1).with_columns(pl.lit("Renamed Ltd").alias("name"))
    store.upsert_companies(renamed.with_columns(pl.col("lists").list.join(";")), source=RowSource("companies"))


def test_a_restart_after_an_import_and_journal_edits_loads_the_same_graph(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    imported = seed_store(store, DEFAULT_SEED_GRAPH)
    edit_after_import(store)
    before = store.graph
    store.close()
    assert snapshot_names(tmp_path) == [str(imported.version)]
    assert all(journal_rows(tmp_path))  # the edits are journal rows over that snapshot, not a new snapshot
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert store.graph.version == imported.version + 5
        assert store.graph.company_index("NEW-1") is not None
        link = (
            store.graph.with_company_ids(store.graph.links).filter(pl.col("supplier_id") == "NEW-1").row(0, named=True)
        )
        assert (link["annual_value_usd"], link["route"], link["tags"]) == (
            1250000.5,
            ["CN", "VN", "DE"],
            ["rare_earth", "magnet"],
        )
    finally:
        store.close()


def test_a_merge_import_writes_a_new_snapshot_and_a_replay_survives_a_restart(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    edit_after_import(store)
    tables = ((NEW_COMPANIES.head(1), RowSource("companies.csv", is_file=True)), None)
    merged = store.import_graph(*tables, mode=ImportMode.MERGE, request_id="merge-1")
    before = store.graph
    store.close()
    assert snapshot_names(tmp_path) == [str(merged.version)]  # the older snapshot is gone
    assert journal_rows(tmp_path) == [0, 0]
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert store.import_graph(*tables, mode=ImportMode.MERGE, request_id="merge-1") == merged
        assert store.graph.version == merged.version
    finally:
        store.close()


def test_an_import_whose_commit_fails_leaves_the_old_graph_and_no_new_snapshot(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    store.upsert_companies(NEW_COMPANIES, source=RowSource("companies"))
    before = store.graph
    connection: sqlite3.Connection = store._connection
    deny_commit(connection)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        seed_store(store, DEFAULT_SEED_GRAPH)
    assert store.graph is before
    assert snapshot_names(tmp_path) == ["1"]
    connection.set_authorizer(None)
    store.close()
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert seed_store(store, DEFAULT_SEED_GRAPH).version == before.version + 1  # the same name, written again
        assert snapshot_names(tmp_path) == [str(before.version + 1)]
    finally:
        store.close()


# A real crash between the snapshot's rename and COMMIT: the process dies when SQLite prepares the COMMIT.
_CRASH_AT_COMMIT = """
import os, sqlite3, sys
from pathlib import Path
from server.config import DEFAULT_SEED_GRAPH
from server.core.seeding import open_store, seed_store

store = open_store(Path(sys.argv[1]), seed_graph=None)

def die_at_commit(action, operation, *_):
    if action == sqlite3.SQLITE_TRANSACTION and operation == "COMMIT":
        os._exit(17)
    return sqlite3.SQLITE_OK

store._connection.set_authorizer(die_at_commit)
seed_store(store, DEFAULT_SEED_GRAPH)
"""


def test_a_crash_between_the_snapshot_rename_and_commit_keeps_the_old_graph_and_the_orphan_goes(
    tmp_path: Path,
) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    store.upsert_companies(NEW_COMPANIES, source=RowSource("companies"))
    before = store.graph
    store.close()
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASH_AT_COMMIT, str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert crashed.returncode == 17, crashed.stderr
    orphan = str(before.version + 1)
    assert snapshot_names(tmp_path) == ["1", orphan]  # renamed into place, never committed
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert snapshot_names(tmp_path) == ["1"]
    finally:
        store.close()


def test_a_damaged_snapshot_file_is_refused_naming_it(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    store.close()
    links = tmp_path / SNAPSHOTS_DIR / "1" / "links.parquet"
    data = bytearray(links.read_bytes())
    data[len(data) // 2] ^= 0xFF
    links.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError, match=f"snapshot file {links} is damaged"):
        reopened(tmp_path)
    assert links.exists()  # the service never removes the snapshot meta names


def test_a_missing_snapshot_file_is_refused_naming_it(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    store.close()
    companies = tmp_path / SNAPSHOTS_DIR / "1" / "companies.parquet"
    companies.unlink()
    with pytest.raises(StoreCorruptError, match=f"snapshot file {companies} is missing"):
        reopened(tmp_path)


def test_compaction_folds_the_journal_into_a_snapshot_and_keeps_the_graph(tmp_path: Path) -> None:
    store = reopened(tmp_path)
    seed_store(store, DEFAULT_SEED_GRAPH)
    edit_after_import(store)  # journal rows, tombstones included, that the fold must apply
    assert all(journal_rows(tmp_path))
    many = pl.DataFrame(
        {
            "company_id": [f"BULK-{n:06d}" for n in range(MIN_COMPACTION_ROWS)],
            "name": "Bulk Co",
            "country": "JP",
        }
    )
    folded = store.upsert_companies(many, source=RowSource("companies"))
    before = store.graph
    store.close()
    assert snapshot_names(tmp_path) == [str(folded.version)]
    assert journal_rows(tmp_path) == [0, 0]
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert store.graph.company_count == folded.company_count
    finally:
        store.close()


# The schema today's stores had before snapshots (schema_version 1): the whole graph in SQLite.
_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE companies (
    company_id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL, lists TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE links (
    supplier_id TEXT NOT NULL, buyer_id TEXT NOT NULL, hs_code TEXT NOT NULL, annual_value_usd REAL NOT NULL,
    origin_country TEXT, route TEXT NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (supplier_id, buyer_id, hs_code)
) WITHOUT ROWID;
CREATE TABLE applied_requests (
    request_id TEXT PRIMARY KEY, method TEXT NOT NULL, result TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema_version', '1'), ('graph_version', '7');
INSERT INTO companies VALUES ('A', 'Alpha', 'CN', 'US_ENTITY_LIST;EU_833_ANNEX_IV'), ('B', 'Beta', 'VN', ''),
    ('C', 'Gamma', 'US', '');
INSERT INTO links VALUES ('A', 'B', '850511', 1000.5, NULL, '', 'rare_earth'),
    ('B', 'C', '850511', 2000.0, 'CN', 'CN>VN>US', 'magnet;rare_earth');
INSERT INTO applied_requests VALUES ('old-1', 'UpsertCompanies', '{"version": 7, "company_count": 3,
    "link_count": 2, "created": 1, "updated": 0, "deleted_links": 0}');
"""


def test_a_schema_1_store_opens_with_the_same_graph(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / STORE_FILE)) as setup:
        setup.executescript(_V1_SCHEMA)
    store = reopened(tmp_path)
    try:
        version, companies, links = canonical(store.graph)
        assert version == 7
        assert companies.rows() == [
            ("A", "Alpha", "CN", ["US_ENTITY_LIST", "EU_833_ANNEX_IV"]),
            ("B", "Beta", "VN", []),
            ("C", "Gamma", "US", []),
        ]
        assert links.rows() == [
            ("A", "B", "850511", 1000.5, None, [], ["rare_earth"]),
            ("B", "C", "850511", 2000.0, "CN", ["CN", "VN", "US"], ["magnet", "rare_earth"]),
        ]
        assert store.upsert_companies(COMPANY_A, source=RowSource("companies"), request_id="old-1").version == 7
        store.delete_link("A", "B", "8505.11")
        before = store.graph
    finally:
        store.close()
    with closing(sqlite3.connect(tmp_path / STORE_FILE)) as reader:
        assert reader.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (SCHEMA_VERSION,)
    store = reopened(tmp_path)
    try:
        assert_same_graph(store.graph, before)
        assert store.graph.link_count == 1
    finally:
        store.close()
