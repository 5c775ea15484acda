"""The API passes `buf lint` (STANDARD) and every element carries a comment."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUF = Path(os.environ.get("BUF", REPO / ".tools" / "node_modules" / ".bin" / "buf"))


def test_buf_lint_standard_is_clean() -> None:
    assert BUF.exists(), f"buf not found at {BUF}; `make test` installs it (npm @bufbuild/buf)"
    result = subprocess.run([str(BUF), "lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_field_and_rpc_is_commented() -> None:
    for proto in (REPO / "proto").rglob("*.proto"):
        lines = proto.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*(rpc|message|enum|service|(optional |repeated )?[\w.]+ \w+ = \d+;|\w+ = \d+;)", line):
                assert lines[number - 1].strip().startswith("//"), f"{proto.name}:{number + 1} lacks a comment: {line}"
