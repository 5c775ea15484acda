"""ScoreCompany load from h2load, a C HTTP/2 load generator (Debian: `apt-get install nghttp2-client`).

The bench's Python clients cost about 230 us of CPU per call on the same 2 cores as the server, so they measure
themselves as much as the service. h2load sends the same ScoreCompany request, framed by hand as one uncompressed
gRPC message, on `clients` HTTP/2 connections with one call in flight on each.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from chokepoint.v1 import exposure_pb2

from bench.load import Throughput

SERVICE = "chokepoint.v1.ExposureService"
WARM_UP_SECONDS = 2


def available() -> bool:
    return shutil.which("h2load") is not None


def version() -> str:
    return subprocess.run(["h2load", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def score_company_load(port: int, company_id: str, as_of: str, *, clients: int = 16, seconds: int = 10) -> Throughput:
    """`clients` connections calling ScoreCompany for `company_id` back to back for `seconds`, after a warm-up.
    Raises if h2load saw any failed call: the figure counts answered calls only."""
    request = exposure_pb2.ScoreCompanyRequest(company_id=company_id, as_of_date=as_of).SerializeToString()
    with tempfile.TemporaryDirectory(prefix="chokepoint-h2load-") as directory:
        body, log = Path(directory) / "request", Path(directory) / "log"
        body.write_bytes(b"\x00" + struct.pack(">I", len(request)) + request)  # one uncompressed gRPC frame
        output = subprocess.run(
            [
                "h2load",
                f"--duration={seconds}",
                f"--warm-up-time={WARM_UP_SECONDS}",
                f"--clients={clients}",
                "--max-concurrent-streams=1",
                "--header=content-type: application/grpc",
                "--header=te: trailers",
                f"--data={body}",
                f"--log-file={log}",
                f"http://127.0.0.1:{port}/{SERVICE}/ScoreCompany",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        failed = re.search(r"requests: .* (\d+) failed, (\d+) errored", output)
        if failed is None or failed.group(1) != "0" or failed.group(2) != "0":
            msg = f"h2load saw failures:\n{output}"
            raise RuntimeError(msg)
        micros = np.array([int(line.split("\t")[2]) for line in log.read_text().splitlines()])
    percentiles = [float(np.percentile(micros, q)) / 1000 for q in (50, 99)]
    return Throughput(clients, float(seconds), int(micros.size), {}, *percentiles)
