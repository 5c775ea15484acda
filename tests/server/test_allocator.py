"""The server's allocator setting reaches Polars even when the parent process had loaded Polars itself."""

from __future__ import annotations

import os
import subprocess
import sys

import polars  # noqa: F401 (loaded on purpose: it writes its own jemalloc defaults into this process's environment)

from server.allocator import RETURN_FREED_PAGES, VARIABLE, allocator_conf

PROBE = "import server.__main__, polars, os; print(os.environ['_RJEM_MALLOC_CONF'])"


def test_our_options_come_last_so_they_win() -> None:
    assert allocator_conf(None) == RETURN_FREED_PAGES
    assert allocator_conf("dirty_decay_ms:500") == f"dirty_decay_ms:500,{RETURN_FREED_PAGES}"


def test_a_server_started_by_a_process_that_loaded_polars_still_returns_freed_pages() -> None:
    inherited = os.environ[VARIABLE]  # what Polars wrote here when this test process loaded it
    assert "dirty_decay_ms:500" in inherited
    seen = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=dict(os.environ)
    ).stdout.strip()
    # What jemalloc reads once Polars has loaded in the server: the last value of each option wins.
    last = dict(option.split(":", 1) for option in seen.split(","))
    ours = dict(option.split(":", 1) for option in RETURN_FREED_PAGES.split(","))
    assert {name: last[name] for name in ours} == ours
    assert last["dirty_decay_ms"] != "500"
