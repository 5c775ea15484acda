"""The server's allocator setting reaches Polars even when the parent process had loaded Polars itself, and the C
heap's freed pages go back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

import polars  # noqa: F401 (loaded on purpose: it writes its own jemalloc defaults into this process's environment)
import pytest

from server.allocator import RETURN_FREED_PAGES, VARIABLE, HeapTrimmer, allocator_conf

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


TRIM_PROBE = """
import ctypes, ctypes.util, os, time
from server.allocator import TRIM_SECONDS, HeapTrimmer

def resident_mib():
    return int(open(f"/proc/{os.getpid()}/status").read().split("VmRSS:")[1].split()[0]) // 1024

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
trim = HeapTrimmer()
blocks = [libc.malloc(64 * 1024) for _ in range(3200)]  # 200 MiB below the mmap threshold: from the heap
for block in blocks:
    ctypes.memset(block, 1, 64 * 1024)
pin = libc.malloc(64)  # above them, so that freeing them cannot shrink the heap from its top
for block in blocks:
    libc.free(block)
freed = resident_mib()
trim()  # too soon after the last trim: nothing
early = resident_mib()
time.sleep(TRIM_SECONDS)
trim()
print(freed, early, resident_mib())
"""


def test_the_heap_trimmer_returns_freed_heap_pages_at_most_once_a_second() -> None:
    if not HeapTrimmer().available:
        pytest.skip("the C library has no malloc_trim (not glibc)")
    freed, early, trimmed = map(
        int,
        subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True, check=True).stdout.split(),
    )
    assert early > freed - 20  # not trimmed yet
    assert trimmed < freed - 150  # most of the 200 MiB went back
