"""The client depends on the API (grpc, protobuf, the generated code), never on `server/`: it ships alone."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

CLIENT = REPO / "client"


def server_modules_loaded_by(modules: list[str]) -> list[str]:
    """Import `modules` in a fresh interpreter; the `server` modules that came with them."""
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'server' or m.startswith('server.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def client_modules() -> list[str]:
    return [f"client.{path.stem}" for path in sorted(CLIENT.glob("*.py")) if path.stem != "__init__"]


def test_every_client_module_imports_nothing_from_the_server() -> None:
    modules = client_modules()
    assert {"client.client", "client.cli", "client.pictures", "client.supplier_list"} <= set(modules)
    assert server_modules_loaded_by(modules) == []


def test_the_probe_sees_a_server_import() -> None:
    assert "server.config" in server_modules_loaded_by(["client.client", "server.config"])
