"""The CLI's security options: a bearer token (flag or environment) and TLS / mutual TLS files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.cli import EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE
from server.certs import DevCertificates, write_dev_certificates
from server.principals import Role
from server.tokens import add_principal
from tests.conftest import ServeFactory
from tests.conftest import run_cli as run


@pytest.fixture
def tokens(tmp_path: Path) -> tuple[Path, str]:
    file = tmp_path / "tokens.toml"
    return file, add_principal(file, "analyst", Role.READER)


def test_the_token_flag_authenticates(
    serve: ServeFactory, tokens: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(auth_tokens=tokens[0])
    code, out, _ = run(capsys, "--address", server.address, "--token", tokens[1], "--json", "stats")
    assert code == 0
    assert json.loads(out)["graph_version"] == 0


def test_the_token_comes_from_the_environment(
    serve: ServeFactory, tokens: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(auth_tokens=tokens[0])
    monkeypatch.setenv("CHOKEPOINT_TOKEN", tokens[1])
    code, _, _ = run(capsys, "--address", server.address, "stats")
    assert code == 0


def test_without_a_token_the_cli_says_how_to_pass_one(
    serve: ServeFactory, tokens: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(auth_tokens=tokens[0])
    code, _, err = run(capsys, "--address", server.address, "stats")
    assert code == EXIT_REFUSED
    assert "error: missing credentials" in err
    assert "--token or CHOKEPOINT_TOKEN" in err


def test_a_reader_token_cannot_write(
    serve: ServeFactory, tokens: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(auth_tokens=tokens[0])
    code, _, err = run(capsys, "--address", server.address, "--token", tokens[1], "scenarios", "delete", "x")
    assert code == EXIT_REFUSED
    assert "needs role writer; principal 'analyst' has role reader" in err


@pytest.fixture
def certs(tmp_path: Path) -> DevCertificates:
    return write_dev_certificates(tmp_path / "certs")


def test_the_tls_flags_reach_a_mutual_tls_server(
    serve: ServeFactory, certs: DevCertificates, capsys: pytest.CaptureFixture[str]
) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, tls_client_ca=certs.ca_cert)
    tls = ["--tls-ca", str(certs.ca_cert), "--tls-cert", str(certs.client_cert), "--tls-key", str(certs.client_key)]
    code, out, _ = run(capsys, "--address", server.address, *tls, "--json", "stats")
    assert code == 0
    assert json.loads(out)["company_count"] == 0
    code, _, _ = run(capsys, "--address", server.address, "--timeout", "5", "--tls-ca", str(certs.ca_cert), "stats")
    assert code == EXIT_UNREACHABLE


def test_the_tls_files_come_from_the_environment(
    serve: ServeFactory, certs: DevCertificates, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, tls_client_ca=certs.ca_cert)
    monkeypatch.setenv("CHOKEPOINT_TLS_CA", str(certs.ca_cert))
    monkeypatch.setenv("CHOKEPOINT_TLS_CLIENT_CERT", str(certs.client_cert))
    monkeypatch.setenv("CHOKEPOINT_TLS_CLIENT_KEY", str(certs.client_key))
    code, _, _ = run(capsys, "--address", server.address, "stats")
    assert code == 0


def test_a_client_certificate_without_its_key_is_a_usage_error(
    certs: DevCertificates, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--tls-ca", str(certs.ca_cert), "--tls-cert", str(certs.client_cert), "stats")
    assert code == EXIT_USAGE
    assert "--tls-cert and --tls-key: give both or neither" in err
