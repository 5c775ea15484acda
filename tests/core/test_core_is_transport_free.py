"""The domain core imports neither gRPC nor protobuf nor the generated API: the transport stays a thin shell."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "server" / "core"
FORBIDDEN = ("grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.protobuf", "google.rpc", "chokepoint")
# Imports every server.core module (and `extra` ones) in a fresh interpreter; prints the modules imported and the
# transport modules that came with them, however indirectly.
LOADED_TRANSPORT = """
import importlib, json, pkgutil, sys
import server.core
modules = [m.name for m in pkgutil.walk_packages(server.core.__path__, "server.core.")] + sys.argv[2:]
for name in modules:
    importlib.import_module(name)
banned = tuple(sys.argv[1].split(","))
leaks = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in banned))
print(json.dumps({"modules": modules, "leaks": leaks}))
"""


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_modules_import_no_transport() -> None:
    sources = sorted(CORE.rglob("*.py"))
    assert len(sources) > 5
    leaks = {
        f"{path.relative_to(CORE)}: {name}"
        for path in sources
        for name in imported_modules(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN)
    }
    assert CORE / "policy_data" / "build_library.py" in sources  # subpackages are checked too
    assert leaks == set()


def loaded_transport(*extra: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED_TRANSPORT, ",".join(FORBIDDEN), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: dict[str, list[str]] = json.loads(done.stdout)
    return loaded


def test_importing_every_core_module_loads_no_transport() -> None:
    """Catches what the source check cannot: a transport module pulled in through another package."""
    loaded = loaded_transport()
    assert "server.core.policy_data.build_library" in loaded["modules"]
    assert loaded["leaks"] == []


def test_the_check_sees_a_transport_import(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import grpc\nfrom google.protobuf import any_pb2\n")
    assert imported_modules(leaky) == {"grpc", "google.protobuf"}
    loaded = loaded_transport("server.rpc.errors")  # the transport's error table imports grpc and google.rpc
    assert {"grpc", "google.rpc.status_pb2"} <= set(loaded["leaks"])
