"""TLS and mutual TLS: the server's certificate, client certificates signed by the configured CA, plaintext refused."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from client.client import ChokepointClient
from client.credentials import tls_credentials
from client.errors import UnauthenticatedError, UnavailableError
from server.app import build_server
from server.certs import DevCertificates, main, write_dev_certificates
from server.config import Config
from server.core.errors import InvalidArgumentError
from server.core.seeding import open_policy_store, open_store
from server.principals import Role
from server.tokens import add_principal
from tests.conftest import ServeFactory, start_server_process


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    return write_dev_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_certs(tmp_path_factory: pytest.TempPathFactory) -> DevCertificates:
    """Certificates from a second, unrelated CA."""
    return write_dev_certificates(tmp_path_factory.mktemp("other-certs"), client_name="intruder")


def _stats_version(address: str, credentials: grpc.ChannelCredentials | None = None, token: str | None = None) -> int:
    with ChokepointClient(address, timeout=20, credentials=credentials, token=token) as client:
        return client.graph_stats().graph_version


def test_a_tls_server_serves_a_client_that_trusts_its_ca(serve: ServeFactory, certs: DevCertificates) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key)
    assert _stats_version(server.address, tls_credentials(ca=certs.ca_cert)) == 0


def test_a_tls_server_answers_localhost_by_name(serve: ServeFactory, certs: DevCertificates) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key)
    address = server.address.replace("127.0.0.1", "localhost")
    assert _stats_version(address, tls_credentials(ca=certs.ca_cert)) == 0


def test_a_plaintext_client_cannot_talk_to_a_tls_server(serve: ServeFactory, certs: DevCertificates) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key)
    with pytest.raises(UnavailableError):
        _stats_version(server.address)


def test_a_client_that_does_not_trust_the_servers_ca_is_refused(
    serve: ServeFactory, certs: DevCertificates, other_certs: DevCertificates
) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key)
    with pytest.raises(UnavailableError):
        _stats_version(server.address, tls_credentials(ca=other_certs.ca_cert))


def test_mutual_tls_refuses_a_client_without_a_certificate(serve: ServeFactory, certs: DevCertificates) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, tls_client_ca=certs.ca_cert)
    with pytest.raises(UnavailableError):
        _stats_version(server.address, tls_credentials(ca=certs.ca_cert))


def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(serve: ServeFactory, certs: DevCertificates) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, tls_client_ca=certs.ca_cert)
    credentials = tls_credentials(ca=certs.ca_cert, cert=certs.client_cert, key=certs.client_key)
    assert _stats_version(server.address, credentials) == 0


def test_mutual_tls_refuses_a_certificate_from_another_ca(
    serve: ServeFactory, certs: DevCertificates, other_certs: DevCertificates
) -> None:
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, tls_client_ca=certs.ca_cert)
    credentials = tls_credentials(ca=certs.ca_cert, cert=other_certs.client_cert, key=other_certs.client_key)
    with pytest.raises(UnavailableError):
        _stats_version(server.address, credentials)


def test_tokens_ride_along_tls_as_call_credentials(serve: ServeFactory, certs: DevCertificates, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    token = add_principal(tokens, "reader", Role.READER)
    server = serve(tls_cert=certs.server_cert, tls_key=certs.server_key, auth_tokens=tokens)
    assert _stats_version(server.address, tls_credentials(ca=certs.ca_cert), token=token) == 0
    with pytest.raises(UnauthenticatedError):
        _stats_version(server.address, tls_credentials(ca=certs.ca_cert))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"tls_cert": "server.pem"}, "tls_cert and tls_key"),
        ({"tls_key": "server.key"}, "tls_cert and tls_key"),
        ({"tls_client_ca": "ca.pem"}, "tls_client_ca"),
        ({"tls_cert": "server.pem", "tls_key": "absent.key"}, "tls_key"),
    ],
)
def test_incomplete_or_unreadable_tls_settings_stop_the_server(
    tmp_path: Path, certs: DevCertificates, settings: dict[str, str], field: str
) -> None:
    paths = {name: certs.ca_cert.parent / file for name, file in settings.items()}
    store = open_store(tmp_path / "store", seed_graph=None)
    policy = open_policy_store(tmp_path / "store")
    try:
        with pytest.raises(InvalidArgumentError, match=field):
            build_server(Config(address="127.0.0.1:0", **paths), store, policy)  # type: ignore[arg-type]
    finally:
        policy.close()
        store.close()


def test_client_tls_options_need_both_cert_and_key(certs: DevCertificates) -> None:
    with pytest.raises(ValueError, match="--tls-cert and --tls-key"):
        tls_credentials(ca=certs.ca_cert, cert=certs.client_cert)


def test_security_settings_come_from_flags_or_environment(tmp_path: Path) -> None:
    environ = {"CHOKEPOINT_TLS_CERT": "/env/server.pem", "CHOKEPOINT_TLS_KEY": "/env/server.key"}
    config = Config.from_args(["--tls-client-ca", "/flags/ca.pem", "--auth-tokens", "t.toml"], environ)
    assert (config.tls_cert, config.tls_key) == (Path("/env/server.pem"), Path("/env/server.key"))
    assert (config.tls_client_ca, config.auth_tokens) == (Path("/flags/ca.pem"), Path("t.toml"))
    default = Config.from_args([], {})
    assert (default.tls_cert, default.tls_key, default.tls_client_ca, default.auth_tokens) == (None, None, None, None)


def test_the_certs_command_writes_a_ca_server_and_client_pair_with_private_keys(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path / "certs")]) == 0
    names = sorted(path.name for path in (tmp_path / "certs").iterdir())
    assert names == ["ca.pem", "client.key", "client.pem", "server.key", "server.pem"]
    assert (tmp_path / "certs" / "server.key").stat().st_mode & 0o077 == 0


def test_the_server_process_serves_mutual_tls_from_its_flags(tmp_path: Path, certs: DevCertificates) -> None:
    process = start_server_process(
        tmp_path / "data",
        "--no-seed",
        "--tls-cert",
        str(certs.server_cert),
        "--tls-key",
        str(certs.server_key),
        "--tls-client-ca",
        str(certs.ca_cert),
    )
    try:
        credentials = tls_credentials(ca=certs.ca_cert, cert=certs.client_cert, key=certs.client_key)
        assert _stats_version(process.address, credentials) == 0
        with pytest.raises(UnavailableError):
            _stats_version(process.address, tls_credentials(ca=certs.ca_cert))
    finally:
        code, _ = process.stop()
    assert code == 0
