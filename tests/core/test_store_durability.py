"""The stores of record: SQLite in WAL mode with synchronous=FULL, and a write whose COMMIT fails leaves nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from server.core.policy_files import scenario_from_json
from server.core.policy_store import PolicyStore
from server.core.seeding import open_policy_store, open_store
from server.core.store import STORE_FILE, GraphStore
from server.core.validation import RowSource

FULL = 2  # what PRAGMA synchronous answers for FULL
COMPANY = pl.DataFrame({"company_id": ["A"], "name": ["Alpha"], "country": ["US"]})


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[GraphStore, PolicyStore]]:
    graph_store, policy_store = open_store(tmp_path, seed_graph=None), open_policy_store(tmp_path)
    yield graph_store, policy_store
    policy_store.close()
    graph_store.close()


def connection_of(store: GraphStore | PolicyStore) -> sqlite3.Connection:
    # synchronous is a setting of each connection, so only the store's own connection can show it.
    connection: sqlite3.Connection = store._connection
    return connection


def deny_commit(connection: sqlite3.Connection) -> None:
    """Make SQLite refuse to prepare COMMIT on this connection: a real COMMIT failure, injected at the driver."""

    def authorise(action: int, operation: str | None, *_: str | None) -> int:
        refused = action == sqlite3.SQLITE_TRANSACTION and operation == "COMMIT"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    connection.set_authorizer(authorise)


def test_both_stores_run_in_wal_mode_with_full_sync(stores: tuple[GraphStore, PolicyStore], tmp_path: Path) -> None:
    for store in stores:
        connection = connection_of(store)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("PRAGMA synchronous").fetchone() == (FULL,)
    with closing(sqlite3.connect(tmp_path / STORE_FILE)) as reader:  # WAL is a property of the file itself
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_graph_write_whose_commit_fails_is_rolled_back(stores: tuple[GraphStore, PolicyStore]) -> None:
    store = stores[0]
    connection = connection_of(store)
    deny_commit(connection)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        store.upsert_companies(COMPANY, source=RowSource("companies"))
    assert not connection.in_transaction
    assert store.graph.version == 0
    assert connection.execute("SELECT count(*) FROM companies").fetchone() == (0,)

    connection.set_authorizer(None)
    result = store.upsert_companies(COMPANY, source=RowSource("companies"))  # the store still takes writes
    assert (result.version, result.created) == (1, 1)


def test_a_policy_write_whose_commit_fails_is_rolled_back(stores: tuple[GraphStore, PolicyStore]) -> None:
    store = stores[1]
    scenario = scenario_from_json({"name": "what-if", "base": "current"}, where="test")
    version = store.snapshot.version
    connection = connection_of(store)
    deny_commit(connection)
    with pytest.raises(sqlite3.DatabaseError, match="not authorized"):
        store.create(scenario)
    assert not connection.in_transaction
    assert (store.snapshot.version, "what-if" in store.snapshot.book.scenarios) == (version, False)
    assert connection.execute("SELECT count(*) FROM scenarios").fetchone() == (0,)

    connection.set_authorizer(None)
    assert store.create(scenario) != version
    assert "what-if" in store.snapshot.book.scenarios
