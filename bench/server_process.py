"""The real service as a subprocess for the benchmarks: start it on a store, read its port, measure its memory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def start_server(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], int, float]:
    """`python -m server` on `data_dir`; returns the process, its port and the seconds until it served."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "--address", "127.0.0.1:0", "--data-dir", str(data_dir), "--no-seed", *args],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    for line in process.stderr:
        match = re.search(r"serving on [\d.]+:(\d+)", line)
        if match:
            # Keep draining its log so a chatty server never blocks on a full pipe.
            _drain(process)
            return process, int(match.group(1)), time.perf_counter() - started
    msg = "server did not start"
    raise RuntimeError(msg)


def _drain(process: subprocess.Popen[str]) -> None:
    def read() -> None:
        assert process.stderr is not None
        for _ in process.stderr:
            pass

    threading.Thread(target=read, daemon=True).start()


def rss_bytes(pid: int) -> int:
    """Resident memory now."""
    return _status_bytes(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """The process's resident high-water mark so far."""
    return _status_bytes(pid, "VmHWM")


def _status_bytes(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=300)
