"""Two independent computations at once, on a second core.

Whole-graph scoring is a few independent systems (the disruption block's columns, the tariff cost) whose sparse
products run in SciPy's and NumPy's compiled loops, which release the GIL: two threads use two cores. Measured at
1M companies on 2 cores: a score fell from about 3.3 s to 2.3 s, with the same numbers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")

# One helper per core: a helper's work never waits for another helper's (see `both`), so any number of callers
# share them safely; extra work queues.
HELPERS = max(1, os.cpu_count() or 1)
_helpers = ThreadPoolExecutor(max_workers=HELPERS, thread_name_prefix="engine")
_here = threading.local()
# Cores free for a helper (the caller's thread holds one): work handed to a helper while every core is busy would
# only share a core with other work, so then `both` runs the two in turn.
_free_cores = threading.Semaphore(max(0, (os.cpu_count() or 1) - 1))


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """`first()` in this thread while a helper runs `second()`; both results, or the first error of either.

    When either raises (a cancelled call's check), the other is waited for before the error goes up: no work of
    this call outlives it. A helper that calls `both` runs the two in turn, so no helper ever waits for another;
    so does any caller while every core is busy. A helper frees its core as soon as `second` returns. At 1M
    companies the disruption's sweep products do not split while the tariff cost runs beside them (8% less CPU
    than three threads on two cores), and split again once it is done: a score then took 0.81 and 0.94 s against
    0.92 and 0.98 s, and an export-control what-if, whose tariff cost comes back at once from its base, ran its
    sweeps on two cores instead of one (0.42-0.54 s against 0.55-0.62 s).
    """
    together = _at_once(first, second)
    return (first(), second()) if together is None else together


def split(work: Callable[[int, int], A], *, abandon: Callable[[], None]) -> list[A]:
    """Work shared by two threads that wait for each other (a compiled sweep's halves meet after every part):
    `work(0, 2)` in this thread and `work(1, 2)` on a helper, at once, when a core is free; else `work(0, 1)` here,
    all of it. Never the two shares in turn: the first would wait for the second for ever. A share that fails calls
    `abandon()`, which must release the other share from its waits; the error goes up once both are done."""

    def share(me: int) -> A:
        try:
            return work(me, 2)
        except BaseException:
            abandon()
            raise

    together = _at_once(lambda: share(0), lambda: share(1))
    return [work(0, 1)] if together is None else list(together)


def _at_once(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B] | None:
    """`first()` here while a helper runs `second()`, when this is not a helper and a core is free; else None,
    and neither has run. On an error of `first`, `second` is waited for before it goes up."""
    if getattr(_here, "helper", False) or HELPERS < 2 or not _free_cores.acquire(blocking=False):
        return None
    try:
        other = _helpers.submit(_as_helper, second)
    except BaseException:
        _free_cores.release()
        raise
    try:
        mine = first()
    except BaseException:
        other.exception()  # wait; its own error, if any, is secondary
        raise
    return mine, other.result()


def _as_helper(work: Callable[[], B]) -> B:
    """Run `work` as a helper, and free its core as soon as it is done: the caller's side may still be running,
    and its own `both` calls can then use that core."""
    _here.helper = True
    try:
        return work()
    finally:
        _free_cores.release()
