"""How `python -m server` configures Polars' allocator (jemalloc), before Polars loads.

Polars allocates through its own jemalloc, which by default keeps freed pages for a while and returns them only on
later allocator activity: an idle server kept an import's or a restart's transient gigabytes as resident memory
(1,743 MiB just after loading 5M links, 1,118 MiB once decayed).
"""

from __future__ import annotations

# A background thread returns pages left unused for a second, even while the server is idle; a second of reuse keeps
# allocation-heavy calls fast (a supplier list measured 229k rows/s against 190-195k with immediate return).
RETURN_FREED_PAGES = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
VARIABLE = "_RJEM_MALLOC_CONF"


def allocator_conf(inherited: str | None) -> str:
    """Ours appended last: jemalloc applies options in order and later ones win. Polars writes its own defaults into
    the environment when it loads, so a parent that imported Polars (a test harness, the benchmark, a supervisor
    in Python) hands them down; keeping the inherited value instead left the server with Polars' decay."""
    return f"{inherited},{RETURN_FREED_PAGES}" if inherited else RETURN_FREED_PAGES
