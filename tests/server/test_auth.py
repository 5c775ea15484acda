"""Bearer-token authentication, the authorisation table (deny by default), and the audit log of writes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from chokepoint.v1 import exposure_pb2, graph_pb2, policy_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from client.client import ChokepointClient, Company, SupplyLink
from client.errors import NotFoundError, PermissionDeniedError, UnauthenticatedError
from server.app import build_server
from server.config import Config
from server.core.errors import InvalidArgumentError
from server.core.seeding import open_policy_store, open_store
from server.principals import Principal, Role
from server.rpc.auth import PUBLIC_SERVICES, REQUIRED_ROLE, WRITE_METHODS, Refusal, authorise
from server.tokens import add_principal, load_tokens, main, mint_token, token_digest
from tests.conftest import REPO, ServeFactory

SERVICES = [
    service
    for module in (graph_pb2, policy_pb2, exposure_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
]
METHODS: list[MethodDescriptor] = [method for service in SERVICES for method in service.methods]
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
CALLERS = ("none", "bad-token", "reader", "writer", "admin")


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Tokens:
    file: Path
    by_role: dict[str, str]  # role name -> token; the principal is named after its role


def _write_tokens(directory: Path) -> Tokens:
    file = directory / "tokens.toml"
    return Tokens(file, {role.name.lower(): add_principal(file, role.name.lower(), role) for role in Role})


@dataclass
class AuthServer:
    address: str
    tokens: Tokens
    channel: grpc.Channel
    hidden_calls: list[str]  # calls that reached the handler of the method missing from the table


HIDDEN = "/chokepoint.v1.HiddenService/DropEverything"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """One real server with bearer tokens on, shared by the role x method matrix; it also serves a method that
    is not in the authorisation table."""
    directory = tmp_path_factory.mktemp("auth")
    tokens = _write_tokens(directory)
    store = open_store(directory / "store", seed_graph=None)
    policy = open_policy_store(directory / "store")
    service = build_server(Config(address="127.0.0.1:0", auth_tokens=tokens.file), store, policy)
    hidden_calls: list[str] = []

    def drop_everything(request: bytes, context: grpc.ServicerContext) -> bytes:
        hidden_calls.append("called")
        return b""

    service.add_method_handlers(
        "chokepoint.v1.HiddenService", {"DropEverything": grpc.unary_unary_rpc_method_handler(drop_everything)}
    )
    service.start()
    address = f"127.0.0.1:{service.port}"
    with grpc.insecure_channel(address) as channel:
        yield AuthServer(address, tokens, channel, hidden_calls)
    service.stop(None)
    policy.close()
    store.close()


def _metadata(server: AuthServer, caller: str) -> list[tuple[str, str]]:
    if caller == "none":
        return []
    if caller == "bad-token":
        return [("authorization", f"Bearer {mint_token()}")]  # well formed, the right length, not in the file
    return [("authorization", f"Bearer {server.tokens.by_role[caller]}")]


def _expected(method: str, caller: str) -> grpc.StatusCode | None:
    """UNAUTHENTICATED, PERMISSION_DENIED, or None for 'got past auth'."""
    if caller in ("none", "bad-token"):
        return grpc.StatusCode.UNAUTHENTICATED
    return grpc.StatusCode.PERMISSION_DENIED if Role.parse(caller) < REQUIRED_ROLE[method] else None


def _call_with_empty_request(channel: grpc.Channel, method: MethodDescriptor, metadata: Any) -> grpc.StatusCode:
    """Calls `method` with empty messages and returns the final status code."""
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kind = ("stream" if method.client_streaming else "unary") + "_" + ("stream" if method.server_streaming else "unary")
    callable_ = getattr(channel, kind)(
        _path(method),
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    request: Any = iter([request_class()]) if method.client_streaming else request_class()
    try:
        response = callable_(request, metadata=metadata, timeout=30)
        if method.server_streaming:
            for _ in response:
                pass
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        return code
    return grpc.StatusCode.OK


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "chokepoint.dev"
    return info.reason


def test_the_table_lists_every_method_of_every_service_and_nothing_else() -> None:
    api_methods = {_path(method) for method in METHODS}
    table_api = {method for method in REQUIRED_ROLE if method.startswith("/chokepoint.v1.")}
    assert table_api == api_methods
    assert set(REQUIRED_ROLE) - table_api == {REFLECTION}
    assert REQUIRED_ROLE[REFLECTION] is Role.READER
    assert {"grpc.health.v1.Health"} == PUBLIC_SERVICES


def test_only_graph_and_scenario_writes_need_more_than_reader_and_import_needs_admin() -> None:
    writes = {method.rpartition("/")[2] for method in WRITE_METHODS}
    assert writes == {
        "UpsertCompanies",
        "DeleteCompany",
        "UpsertSupplyLinks",
        "DeleteSupplyLink",
        "ImportGraph",
        "CreateScenario",
        "UpdateScenario",
        "DeleteScenario",
    }
    assert [m for m, role in REQUIRED_ROLE.items() if role is Role.ADMIN] == ["/chokepoint.v1.GraphService/ImportGraph"]


def test_every_write_answers_one_message_so_the_audit_sees_its_response() -> None:
    writes = [method for method in METHODS if _path(method) in WRITE_METHODS]
    assert len(writes) == len(WRITE_METHODS)
    assert not any(method.server_streaming for method in writes)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("method", METHODS, ids=_path)
def test_each_role_gets_exactly_the_methods_the_table_allows(
    auth_server: AuthServer, method: MethodDescriptor, caller: str
) -> None:
    code = _call_with_empty_request(auth_server.channel, method, _metadata(auth_server, caller))
    expected = _expected(_path(method), caller)
    if expected is None:
        assert code not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
    else:
        assert code == expected


@pytest.mark.parametrize(
    ("caller", "code"),
    [("none", grpc.StatusCode.UNAUTHENTICATED), ("reader", grpc.StatusCode.PERMISSION_DENIED)],
)
def test_refusals_carry_error_info_with_the_status_name_as_reason(
    auth_server: AuthServer, caller: str, code: grpc.StatusCode
) -> None:
    upsert = graph_pb2.UpsertCompaniesRequest(companies=[graph_pb2.Company(company_id="X", name="X", country="US")])
    call = auth_server.channel.unary_unary(
        "/chokepoint.v1.GraphService/UpsertCompanies",
        request_serializer=graph_pb2.UpsertCompaniesRequest.SerializeToString,
        response_deserializer=graph_pb2.UpsertCompaniesResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as raised:
        call(upsert, metadata=_metadata(auth_server, caller), timeout=30)
    assert raised.value.code() == code  # type: ignore[attr-defined]
    assert _reason(raised.value) == code.name


def test_a_method_missing_from_the_table_is_refused_even_to_an_admin(auth_server: AuthServer) -> None:
    call = auth_server.channel.unary_unary(HIDDEN)
    with pytest.raises(grpc.RpcError) as raised:
        call(b"", metadata=_metadata(auth_server, "admin"), timeout=30)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert "not in the authorisation table" in raised.value.details()  # type: ignore[attr-defined]
    assert auth_server.hidden_calls == []


def test_the_table_lookup_refuses_unlisted_methods_and_allows_listed_ones(tmp_path: Path) -> None:
    tokens = _write_tokens(tmp_path)
    book = load_tokens(tokens.file)
    admin = [("authorization", f"Bearer {tokens.by_role['admin']}")]
    refused = authorise(HIDDEN, admin, book)
    assert isinstance(refused, Refusal)
    assert refused.code is grpc.StatusCode.PERMISSION_DENIED
    assert authorise("/chokepoint.v1.GraphService/ImportGraph", admin, book) == Principal("admin", Role.ADMIN)


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer-token-without-scheme", "Token abc"]
)
def test_malformed_authorization_metadata_is_unauthenticated(tmp_path: Path, value: str) -> None:
    book = load_tokens(_write_tokens(tmp_path).file)
    refused = authorise("/chokepoint.v1.GraphService/GetGraphStats", [("authorization", value)], book)
    assert isinstance(refused, Refusal)
    assert refused.code is grpc.StatusCode.UNAUTHENTICATED


def test_the_bearer_scheme_is_case_insensitive(tmp_path: Path) -> None:
    tokens = _write_tokens(tmp_path)
    metadata = [("authorization", f"bearer {tokens.by_role['reader']}")]
    assert authorise("/chokepoint.v1.GraphService/GetGraphStats", metadata, load_tokens(tokens.file)) == Principal(
        "reader", Role.READER
    )


def test_health_answers_without_credentials(auth_server: AuthServer) -> None:
    health = health_pb2_grpc.HealthStub(auth_server.channel)
    response = health.Check(health_pb2.HealthCheckRequest(service="chokepoint.v1.GraphService"), timeout=30)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(("caller", "code"), [("none", grpc.StatusCode.UNAUTHENTICATED), ("reader", None)])
def test_reflection_needs_a_reader(auth_server: AuthServer, caller: str, code: grpc.StatusCode | None) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(auth_server.channel)
    requests = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    responses = reflection.ServerReflectionInfo(requests, metadata=_metadata(auth_server, caller), timeout=30)
    if code is None:
        services = {service.name for response in responses for service in response.list_services_response.service}
        assert "chokepoint.v1.GraphService" in services
    else:
        with pytest.raises(grpc.RpcError) as raised:
            list(responses)
        assert raised.value.code() == code  # type: ignore[attr-defined]


def test_a_wrong_token_of_the_right_length_is_refused(auth_server: AuthServer) -> None:
    real = auth_server.tokens.by_role["admin"]
    wrong = real[:-1] + ("A" if real[-1] != "A" else "B")
    assert len(wrong) == len(real)
    with (
        ChokepointClient(auth_server.address, timeout=30, token=wrong) as client,
        pytest.raises(UnauthenticatedError) as raised,
    ):
        client.graph_stats()
    assert raised.value.reason == "UNAUTHENTICATED"
    with ChokepointClient(auth_server.address, timeout=30, token=real) as client:
        assert client.graph_stats().graph_version >= 0


def test_the_client_sends_its_token_on_every_kind_of_call(auth_server: AuthServer, tmp_path: Path) -> None:
    with ChokepointClient(auth_server.address, timeout=30, token=auth_server.tokens.by_role["admin"]) as client:
        exported = client.export_graph(tmp_path / "export")  # server streaming
        ack = client.import_graph(exported.companies_path, exported.links_path)  # client streaming
        assert ack.graph_version >= exported.graph_version
        assert list(client.list_scenarios())  # unary


def test_the_tokens_file_keeps_only_hashes(tmp_path: Path) -> None:
    file = tmp_path / "tokens.toml"
    token = add_principal(file, "ci-loader", Role.WRITER)
    text = file.read_text()
    assert token not in text
    assert token_digest(token).hex() in text
    assert load_tokens(file).authenticate(token) == Principal("ci-loader", Role.WRITER)
    assert load_tokens(file).authenticate(token + "x") is None


def test_the_tokens_command_prints_the_token_once_and_stores_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "tokens.toml"
    assert main(["add", "alice", "admin", "--file", str(file)]) == 0
    token = capsys.readouterr().out.strip()
    assert re.fullmatch(r"cpt_[A-Za-z0-9_-]{43}", token)
    assert token not in file.read_text()
    assert load_tokens(file).authenticate(token) == Principal("alice", Role.ADMIN)
    assert main(["add", "alice", "reader", "--file", str(file)]) == 1
    assert "'alice' is already in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ('name = "a"\nrole = "owner"\nsha256 = "' + "0" * 64 + '"', "principal[0].role"),
        ('name = "a"\nrole = "reader"\nsha256 = "' + "0" * 63 + '"', "principal[0].sha256"),
        ('name = "a b"\nrole = "reader"\nsha256 = "' + "0" * 64 + '"', "principal[0].name"),
        ('name = "a"\nrole = "reader"\ntoken = "secret"', "principal[0]"),
    ],
)
def test_a_bad_tokens_file_is_refused_naming_the_field(tmp_path: Path, entry: str, field: str) -> None:
    file = tmp_path / "tokens.toml"
    file.write_text(f"[[principal]]\n{entry}\n")
    with pytest.raises(InvalidArgumentError, match=re.escape(field)):
        load_tokens(file)


def test_a_server_with_a_missing_tokens_file_does_not_start(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store", seed_graph=None)
    policy = open_policy_store(tmp_path / "store")
    try:
        with pytest.raises(InvalidArgumentError, match="auth_tokens"):
            build_server(Config(address="127.0.0.1:0", auth_tokens=tmp_path / "absent.toml"), store, policy)
    finally:
        policy.close()
        store.close()


def _audit_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "chokepoint.audit"]


def test_a_write_is_audited_with_principal_method_request_id_and_graph_version(
    serve: ServeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chokepoint.audit")
    tokens = _write_tokens(tmp_path)
    server = serve(auth_tokens=tokens.file)
    with ChokepointClient(server.address, timeout=30, token=tokens.by_role["writer"]) as client:
        ack = client.upsert_companies([Company("US-A", "A Inc.", "US")], request_id="req-42")
    [record] = _audit_records(caplog)
    assert record.principal == "writer"  # type: ignore[attr-defined]
    assert record.method == "/chokepoint.v1.GraphService/UpsertCompanies"  # type: ignore[attr-defined]
    assert record.request_id == "req-42"  # type: ignore[attr-defined]
    assert record.graph_version == ack.graph_version == 1  # type: ignore[attr-defined]
    assert record.code == "OK"  # type: ignore[attr-defined]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "write GraphService/UpsertCompanies by writer: OK"


def test_refused_and_failed_writes_are_audited_with_their_status(
    serve: ServeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chokepoint.audit")
    tokens = _write_tokens(tmp_path)
    server = serve(auth_tokens=tokens.file)
    with (
        ChokepointClient(server.address, timeout=30, token=tokens.by_role["reader"]) as client,
        pytest.raises(PermissionDeniedError),
    ):
        client.delete_company("US-A", request_id="req-1")
    with ChokepointClient(server.address, timeout=30) as client, pytest.raises(UnauthenticatedError):
        client.delete_company("US-A", request_id="req-2")
    with (
        ChokepointClient(server.address, timeout=30, token=tokens.by_role["writer"]) as client,
        pytest.raises(NotFoundError),
    ):
        client.delete_company("US-A", request_id="req-3")
    seen = [
        (r.principal, r.request_id, r.code, hasattr(r, "graph_version"), r.levelno)  # type: ignore[attr-defined]
        for r in _audit_records(caplog)
    ]
    assert seen == [
        ("reader", "req-1", "PERMISSION_DENIED", False, logging.WARNING),
        ("unauthenticated", "req-2", "UNAUTHENTICATED", False, logging.WARNING),
        ("writer", "req-3", "NOT_FOUND", False, logging.WARNING),
    ]


def test_an_import_is_audited_with_the_first_chunks_request_id(
    serve: ServeFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = _write_tokens(tmp_path)
    server = serve(auth_tokens=tokens.file)
    with ChokepointClient(server.address, timeout=30, token=tokens.by_role["admin"]) as client:
        client.upsert_companies([Company("US-A", "A Inc.", "US"), Company("CN-B", "B Ltd.", "CN")])
        client.upsert_supply_links([SupplyLink("CN-B", "US-A", "8505.11", 100.0)])
        exported = client.export_graph(tmp_path / "export")
        caplog.set_level(logging.INFO, logger="chokepoint.audit")
        ack = client.import_graph(exported.companies_path, exported.links_path, request_id="import-7")
    [record] = _audit_records(caplog)
    assert record.method == "/chokepoint.v1.GraphService/ImportGraph"  # type: ignore[attr-defined]
    assert record.principal == "admin"  # type: ignore[attr-defined]
    assert record.request_id == "import-7"  # type: ignore[attr-defined]
    assert record.graph_version == ack.graph_version  # type: ignore[attr-defined]


def test_a_scenario_write_is_audited_with_its_policy_version(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chokepoint.audit")
    with serve().client() as client:
        created = client.create_scenario({"name": "audited-what-if", "base": "current"})
    [record] = _audit_records(caplog)
    assert record.principal == "anonymous"  # auth is off by default  # type: ignore[attr-defined]
    assert record.method == "/chokepoint.v1.PolicyService/CreateScenario"  # type: ignore[attr-defined]
    assert record.policy_version == created.policy_version  # type: ignore[attr-defined]
    assert not hasattr(record, "graph_version")


def test_reads_are_not_audited(serve: ServeFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chokepoint.audit")
    with serve().client() as client:
        client.graph_stats()
        list(client.list_scenarios())
    assert _audit_records(caplog) == []


def test_without_a_tokens_file_no_credentials_are_needed(serve: ServeFactory) -> None:
    with serve().client() as client:
        assert client.upsert_companies([Company("US-A", "A Inc.", "US")]).graph_version == 1


def test_the_security_doc_lists_every_method_with_its_role() -> None:
    doc = (REPO / "docs" / "security.md").read_text()
    rows = dict(re.findall(r"^\| `(/[\w.]+/\w+)` \| (\w+) \|", doc, flags=re.MULTILINE))
    assert rows == {method: role.name.lower() for method, role in REQUIRED_ROLE.items()}
