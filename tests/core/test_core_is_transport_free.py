"""The domain core imports neither gRPC nor protobuf nor the generated API: the transport stays a thin shell."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "server" / "core"
FORBIDDEN = ("grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.protobuf", "google.rpc", "chokepoint")


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
    sources = sorted(CORE.glob("*.py"))
    assert len(sources) > 5
    leaks = {
        f"{path.name}: {name}"
        for path in sources
        for name in imported_modules(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN)
    }
    assert leaks == set()


def test_the_check_sees_a_transport_import(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import grpc\nfrom google.protobuf import any_pb2\n")
    assert imported_modules(leaky) == {"grpc", "google.protobuf"}
