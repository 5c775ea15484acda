"""How `python -m server` keeps memory it no longer uses from staying resident: Polars' allocator (jemalloc) is
configured before Polars loads, and the C heap is trimmed once a second.

Polars allocates through its own jemalloc, which by default keeps freed pages for a while and returns them only on
later allocator activity: an idle server kept an import's or a restart's transient gigabytes as resident memory
(1,743 MiB just after loading 5M links, 1,118 MiB once decayed).

NumPy and SciPy allocate through the C library's malloc. Once glibc has raised its mmap threshold (it does after
the first large arrays are freed), their temporaries of tens of MiB come from the heap, and glibc keeps freed heap
pages: at 1M companies 210 MiB stayed resident after a whole-graph score, and as much again after a few
FindChokepoints. `malloc_trim(0)` returns them in 4-7 ms. A fixed, low mmap threshold would return them too, but
then every temporary faults its pages in afresh: scoring took 4.2-4.7 s instead of 3.3 s.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

# A background thread returns pages left unused for a second, even while the server is idle; a second of reuse keeps
# allocation-heavy calls fast (a supplier list measured 229k rows/s against 190-195k with immediate return).
RETURN_FREED_PAGES = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
VARIABLE = "_RJEM_MALLOC_CONF"
TRIM_SECONDS = 1.0  # like jemalloc's decay above: pages freed for about a second go back


def allocator_conf(inherited: str | None) -> str:
    """Ours appended last: jemalloc applies options in order and later ones win. Polars writes its own defaults into
    the environment when it loads, so a parent that imported Polars (a test harness, the benchmark, a supervisor
    in Python) hands them down; keeping the inherited value instead left the server with Polars' decay."""
    return f"{inherited},{RETURN_FREED_PAGES}" if inherited else RETURN_FREED_PAGES


class HeapTrimmer:
    """Call it often (the server's main thread does, 5 times a second): at most once a `TRIM_SECONDS` it returns
    the C heap's free pages to the system. A no-op where the C library has no `malloc_trim` (not glibc)."""

    def __init__(self) -> None:
        library = ctypes.util.find_library("c")
        self._trim = getattr(ctypes.CDLL(library), "malloc_trim", None) if library else None
        self._last = time.monotonic()

    @property
    def available(self) -> bool:
        return self._trim is not None

    def __call__(self) -> None:
        now = time.monotonic()
        if self._trim is None or now - self._last < TRIM_SECONDS:
            return
        self._last = now
        self._trim(0)  # ctypes releases the GIL for the call
