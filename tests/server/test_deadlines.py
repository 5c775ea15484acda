"""Deadlines, cancellation and stalled clients: a call whose client gave up stops computing, caches nothing and
frees its worker; a client that stalls mid-upload without a deadline is cut off within the configured bounds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc

from client.client import ChokepointClient
from graphs.generate import generate_graph
from server.app import Service, build_server
from server.config import Config
from server.core.seeding import open_policy_store, open_store
from tests.conftest import ServeFactory

# About a million links: a whole-graph scoring takes 0.6 s the first time (with its supply order) and 0.19-0.26 s
# after, on this 2-core machine; the deadline must fall well inside the computation, not at its end.
BIG_COMPANIES = 200_000
SHORT_DEADLINE = 0.05


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Service]]:
    """One worker over a generated 200k-company graph, built once for the module."""
    directory = tmp_path_factory.mktemp("big")
    generated = generate_graph(companies=BIG_COMPANIES, seed=11)
    seed = directory / "seed"
    seed.mkdir()
    generated.companies.write_csv(seed / "companies.csv")
    generated.links.write_csv(seed / "links.csv")
    store = open_store(directory / "store", seed_graph=seed)
    policy = open_policy_store(directory / "store")
    service = build_server(Config(address="127.0.0.1:0", workers=1), store, policy)
    service.start()
    yield f"127.0.0.1:{service.port}", service
    service.stop(None)
    policy.close()
    store.close()


def _deadline_exceeded(call: grpc.UnaryUnaryMultiCallable[Any, Any], request: object) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call(request, timeout=SHORT_DEADLINE)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_whole_graph_scoring_past_its_deadline_stops_caches_nothing_and_frees_the_worker(
    big_server: tuple[str, Service],
) -> None:
    address, service = big_server
    with grpc.insecure_channel(address) as channel, ChokepointClient(address, timeout=60) as client:
        stub = exposure_pb2_grpc.ExposureServiceStub(channel)
        company = next(client.list_companies(page_size=1)).company_id
        for call, request in (
            (stub.RankCompanies, exposure_pb2.RankCompaniesRequest(as_of_date="2026-01-15")),
            (stub.ScoreCompany, exposure_pb2.ScoreCompanyRequest(company_id=company, as_of_date="2026-01-15")),
        ):
            _deadline_exceeded(call, request)
            # One worker: this call runs only once the expired call's handler has returned.
            assert client.graph_stats().company_count == BIG_COMPANIES
            # Had the expired computation run on to the end, its score table would be cached by now.
            assert len(service.scores) == 0
        # The same computation given time completes and is cached: the checks above could fail.
        assert client.score_company(company, as_of="2026-01-15").score.company_id == company
        assert len(service.scores) == 1


def _stalled_import(stub: graph_pb2_grpc.GraphServiceStub, release: threading.Event) -> grpc.Future[Any]:
    def chunks() -> Iterator[graph_pb2.ImportGraphRequest]:
        yield graph_pb2.ImportGraphRequest(
            file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV, data=b"company_id,name,country\n"
        )
        release.wait()  # then stall, with no deadline

    return stub.ImportGraph.future(chunks())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"upload_idle_seconds": 0.3}, grpc.StatusCode.CANCELLED),
        (
            {"upload_idle_seconds": 600, "max_connection_age_seconds": 0.5, "max_connection_age_grace_seconds": 0.5},
            grpc.StatusCode.UNAVAILABLE,
        ),
    ],
    ids=["upload-idle-timeout", "max-connection-age"],
)
def test_a_client_stalling_mid_upload_without_deadline_is_cut_off_and_frees_its_worker(
    serve: ServeFactory, settings: dict[str, float], code: grpc.StatusCode
) -> None:
    server = serve(workers=1, **settings)
    release = threading.Event()
    with grpc.insecure_channel(server.address) as channel, ChokepointClient(server.address, timeout=30) as client:
        stalled = _stalled_import(graph_pb2_grpc.GraphServiceStub(channel), release)
        try:
            with pytest.raises(grpc.RpcError) as caught:
                stalled.result(timeout=60)
            assert caught.value.code() == code
            # The only worker is free again, and nothing was imported.
            assert client.graph_stats().graph_version == 0
        finally:
            release.set()
