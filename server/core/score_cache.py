"""Whole-graph scores computed once per (graph version, scenario, policy version, date, overrides) and reused.

Any graph write changes the graph version and any scenario write the policy version, so a stale entry can never be
returned; old entries simply age out of the small LRU. Concurrent requests for the same key compute it once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from server.core.scores import Scores

CacheKey = tuple[int, str, str, date, float | None, float | None]


class ScoreCache:
    def __init__(self, *, capacity: int = 8) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[CacheKey, Scores] = OrderedDict()
        self._pending: dict[CacheKey, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey, compute: Callable[[], Scores]) -> Scores:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            gate = self._pending.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._entries:
                    self.hits += 1
                    return self._entries[key]
                self.misses += 1
            scores = compute()
            with self._lock:
                self._entries[key] = scores
                self._entries.move_to_end(key)
                while len(self._entries) > self._capacity:
                    self._entries.popitem(last=False)
                self._pending.pop(key, None)
            return scores
