"""Results computed once per key and reused: whole-graph scores per (graph version, scenario, policy version,
date, overrides), and per-query look-through origins per (graph version, company, material).

Keys carry the versions they depend on: any graph write changes the graph version and any scenario write the
policy version, so a stale entry can never be returned. Old entries age out of the LRU, except whole-graph score
tables of a graph version that a newer one has replaced: queries read the newest version, and at 5M links each
table holds about 170 MB of its own (Polars' and NumPy's sizes), so they are dropped as soon as a newer version is
scored. Concurrent requests for the same key compute it once; a computation that raises (a caller gave up) caches
nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from server.core.cancellation import Check, never_cancelled

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
GATE_POLL_SECONDS = 0.05  # how often a caller waiting for another's computation checks whether it gave up


class LruCache(Generic[K, V]):
    """A small thread-safe LRU where each missing key is computed by exactly one caller."""

    def __init__(self, *, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._pending: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def latest(self, match: Callable[[V], bool]) -> V | None:
        """The most recently used entry satisfying `match`, if any; it counts as neither a hit nor a use."""
        with self._lock:
            return next((value for value in reversed(self._entries.values()) if match(value)), None)

    def discard(self, stale: Callable[[V], bool]) -> int:
        """Drop every entry satisfying `stale` now, instead of letting it age out; how many were dropped."""
        with self._lock:
            keys = [key for key, value in self._entries.items() if stale(value)]
            for key in keys:
                del self._entries[key]
            return len(keys)

    def cached(self, key: K) -> V | None:
        """The entry for `key` if present (a hit), else None; never waits for a computation. Entries are never
        None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return value

    def get(self, key: K, compute: Callable[[], V], *, check: Check = never_cancelled) -> V:
        """The entry for `key`, computing it if missing. A caller waiting for another's computation of the same key
        runs `check` while it waits; a computation that raises (cancelled, failed) leaves nothing cached, and the
        next caller computes afresh."""
        found = self.cached(key)
        if found is not None:
            return found
        with self._lock:
            gate = self._pending.setdefault(key, threading.Lock())
        while not gate.acquire(timeout=GATE_POLL_SECONDS):
            check()
        try:
            with self._lock:
                if key in self._entries:
                    self.hits += 1
                    return self._entries[key]
                self.misses += 1
            value = compute()
            with self._lock:
                self._entries[key] = value
                self._entries.move_to_end(key)
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
            return value
        finally:
            with self._lock:
                if self._pending.get(key) is gate:
                    del self._pending[key]
            gate.release()
