"""Writes applied once per client `request_id`: the table both stores keep in the one SQLite file, and its rule.

A write that carries a `request_id` records its result in the same transaction as its change; a retry with that id
answers the recorded result instead of writing again, and an id already used by another method is refused.
"""

from __future__ import annotations

import sqlite3

from server.core.errors import InvalidArgumentError

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied_requests (
    request_id TEXT PRIMARY KEY, method TEXT NOT NULL, result TEXT NOT NULL
) WITHOUT ROWID;
"""


def recorded_result(reader: sqlite3.Connection | sqlite3.Cursor, request_id: str, method: str) -> str | None:
    """The result recorded for `request_id` by `method`, or None when the id is new (or empty)."""
    if not request_id:
        return None
    row = reader.execute("SELECT method, result FROM applied_requests WHERE request_id = ?", (request_id,)).fetchone()
    if row is None:
        return None
    if row[0] != method:
        msg = f"request_id: {request_id!r} was already used by {row[0]}"
        raise InvalidArgumentError(msg, reason="REQUEST_ID_REUSED")
    return str(row[1])


def record_result(cursor: sqlite3.Cursor, request_id: str, method: str, result: str) -> None:
    """Record a write's result inside its transaction (nothing for a write without a `request_id`)."""
    if request_id:
        cursor.execute("INSERT INTO applied_requests VALUES (?, ?, ?)", (request_id, method, result))
