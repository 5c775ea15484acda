"""Values computed once per immutable object (a graph version, a policy book, a resolved scenario) and kept on it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
MEMO_ATTRIBUTE = "_memoised"  # the owner's `__dict__` entry holding its values


def memoised(owner: object, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per `owner` and `key`, kept in the owner's `__dict__` (frozen dataclasses included): the
    owner never changes, so neither does the value. Two first callers may both compute it; both get an equal value,
    and one is kept."""
    values: dict[Hashable, Any] = owner.__dict__.setdefault(MEMO_ATTRIBUTE, {})
    if key not in values:
        values[key] = compute()
    value: T = values[key]
    return value
