"""User scenarios of record (SQLite, beside the graph) over the read-only built-ins, with a policy version.

The policy version is `<library hash>.<n>`: it changes when the built-in library's files change or when any user
scenario is created, updated or deleted, so cached results keyed on it are invalidated exactly then.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from server.core.applied_requests import SCHEMA as APPLIED_REQUESTS_SCHEMA
from server.core.applied_requests import record_result, recorded_result
from server.core.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    StoreCorruptError,
)
from server.core.policy import Scenario
from server.core.policy_files import Library, scenario_from_json, scenario_to_json
from server.core.scenarios import ScenarioBook

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (name TEXT PRIMARY KEY, definition TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS policy_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO policy_meta VALUES ('revision', '0');
"""


@dataclass(frozen=True)
class PolicySnapshot:
    """One published state of the scenarios: the book and the version that names it, always read together."""

    book: ScenarioBook
    version: str


class PolicyStore:
    """Scenarios by name; writes are serialised, committed, then published as a new immutable `PolicySnapshot`."""

    def __init__(self, connection: sqlite3.Connection, library: Library, built_ins: dict[str, Scenario]) -> None:
        self._connection = connection
        self._library = library
        self._built_ins = built_ins
        self._lock = threading.Lock()
        self._snapshot = self._load()

    @classmethod
    def open(cls, path: Path, *, library: Library, built_ins: dict[str, Scenario]) -> PolicyStore:
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.executescript(_SCHEMA + APPLIED_REQUESTS_SCHEMA)
            return cls(connection, library, built_ins)
        except sqlite3.DatabaseError as error:
            msg = f"store {path} is unreadable ({error}); restore it from a backup or move it aside"
            raise StoreCorruptError(msg) from error
        except InvalidArgumentError as error:
            # A stored definition that no longer parses: refuse to serve rather than drop the scenario silently.
            msg = f"store {path} holds a scenario that cannot be read ({error.message}); restore it from a backup"
            raise StoreCorruptError(msg) from error

    @property
    def snapshot(self) -> PolicySnapshot:
        """The book and its version as of now. They are swapped in as one object, so a reader that takes one
        snapshot never pairs a book with another state's version (and never caches scores under the wrong key)."""
        return self._snapshot

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def create(self, scenario: Scenario, *, request_id: str = "") -> str:
        """Store a new user scenario; returns the policy version. A `request_id` seen before answers as the first
        time (the graph store's rule), so a retried write applies once."""
        with self._lock:
            if replay := recorded_result(self._connection, request_id, "CreateScenario"):
                return replay
            book = self._snapshot.book
            if scenario.name in book.scenarios:
                if book.scenarios[scenario.name].built_in:
                    book.check_new(scenario)  # raises SCENARIO_BUILT_IN
                msg = f"scenario.name: {scenario.name!r} already exists; use UpdateScenario"
                raise AlreadyExistsError(msg, reason="SCENARIO_EXISTS")
            book.check_new(scenario)
            return self._commit(
                "INSERT INTO scenarios VALUES (?, ?)",
                (scenario.name, _encode(scenario)),
                request=(request_id, "CreateScenario"),
            )

    def update(self, scenario: Scenario, *, request_id: str = "") -> str:
        with self._lock:
            if replay := recorded_result(self._connection, request_id, "UpdateScenario"):
                return replay
            book = self._snapshot.book
            book.get(scenario.name)
            book.check_new(scenario)
            return self._commit(
                "UPDATE scenarios SET definition = ? WHERE name = ?",
                (_encode(scenario), scenario.name),
                request=(request_id, "UpdateScenario"),
            )

    def delete(self, name: str, *, request_id: str = "") -> str:
        with self._lock:
            if replay := recorded_result(self._connection, request_id, "DeleteScenario"):
                return replay
            book = self._snapshot.book
            scenario = book.get(name)
            if scenario.built_in:
                msg = f"name: {name!r} is a built-in scenario and read-only"
                raise FailedPreconditionError(msg, reason="SCENARIO_BUILT_IN")
            dependants = sorted(s.name for s in book.scenarios.values() if s.base == name)
            if dependants:
                msg = f"name: scenario {name!r} is the base of {', '.join(dependants)}; delete or rebase them first"
                raise FailedPreconditionError(msg, reason="SCENARIO_IN_USE")
            return self._commit("DELETE FROM scenarios WHERE name = ?", (name,), request=(request_id, "DeleteScenario"))

    def _commit(self, statement: str, parameters: tuple[str, ...], *, request: tuple[str, str]) -> str:
        request_id, method = request
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            cursor.execute(statement, parameters)
            cursor.execute("UPDATE policy_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")
            snapshot = self._load(cursor)
            record_result(cursor, request_id, method, snapshot.version)
            cursor.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed may have left the transaction open (and the next BEGIN refused) or ended it.
            if self._connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        self._snapshot = snapshot
        return snapshot.version

    def _load(self, cursor: sqlite3.Cursor | None = None) -> PolicySnapshot:
        reader = cursor or self._connection.cursor()
        (revision,) = reader.execute("SELECT value FROM policy_meta WHERE key = 'revision'").fetchone()
        users = {
            name: _decode(name, definition)
            for name, definition in reader.execute("SELECT name, definition FROM scenarios").fetchall()
        }
        return PolicySnapshot(ScenarioBook({**users, **self._built_ins}), f"{self._library.version}.{int(revision)}")


def _decode(name: str, definition: str) -> Scenario:
    where = f"stored scenario {name!r}"
    try:
        document = json.loads(definition)
    except ValueError as error:
        msg = f"{where}: not a JSON document ({error})"
        raise InvalidArgumentError(msg) from error
    if not isinstance(document, dict):
        msg = f"{where}: not a JSON object"
        raise InvalidArgumentError(msg)
    return scenario_from_json(document, where=where)


def _encode(scenario: Scenario) -> str:
    return json.dumps(scenario_to_json(scenario), sort_keys=True)
