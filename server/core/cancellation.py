"""Cooperative cancellation: long computations call a `Check` between steps, and it raises once the caller gave up.

The core knows nothing of the transport: the caller passes a `Check` that raises `CancelledError` (or
`DeadlineExceededError`) when whoever asked for the result no longer waits for it. Computations call it per tier,
per column or per batch of work, never per row, so a check costs nothing measurable; a computation that stops
this way returns nothing and caches nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Check = Callable[[], None]


def never_cancelled() -> None:
    """The check of a caller that never gives up (start-up seeding, scripts, benchmarks)."""
