"""Request ids and Prometheus metrics: the real server with its metrics endpoint on a second loopback port."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from client.errors import ClientError
from server.app import AddressInUseError, build_server
from server.config import DEFAULT_SEED_GRAPH, Config
from server.core.seeding import open_policy_store, open_store
from tests.conftest import RunningServer, ServeFactory

GRAPH = "chokepoint.v1.GraphService"
EXPOSURE = "chokepoint.v1.ExposureService"
DAY = "2026-01-15"


@pytest.fixture
def observed(serve: ServeFactory) -> Iterator[RunningServer]:
    """A server seeded with the default graph, serving metrics on a free loopback port."""
    server = serve(seed_graph=DEFAULT_SEED_GRAPH, metrics_address="127.0.0.1:0")
    yield server
    assert server.service.metrics is not None
    server.service.metrics.close()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: RunningServer) -> Samples:
    """Every sample on the metrics page, by (name, labels)."""
    assert server.service.metrics is not None
    url = f"http://127.0.0.1:{server.service.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        page = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def handled(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], service: str, method: str
) -> dict[str, float]:
    """Completed calls of one method, by status code name."""
    return {
        dict(labels)["grpc_code"]: count
        for (name, labels), count in samples.items()
        if name == "grpc_server_handled_total"
        and dict(labels)["grpc_service"] == service
        and dict(labels)["grpc_method"] == method
    }


def test_calls_are_counted_by_method_and_final_status_code(observed: RunningServer) -> None:
    with observed.client() as client:
        client.graph_stats()
        client.graph_stats()
        with pytest.raises(ClientError) as missing:
            client.get_company("NO-SUCH-COMPANY")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    samples = scrape(observed)
    # The error stage answers GetCompany NOT_FOUND; the observability stage outside it sees that, not OK or UNKNOWN.
    assert handled(samples, GRAPH, "GetCompany") == {"NOT_FOUND": 1}
    assert handled(samples, GRAPH, "GetGraphStats") == {"OK": 2}
    unary = {"grpc_service": GRAPH, "grpc_method": "GetGraphStats", "grpc_type": "unary"}
    assert value(samples, "grpc_server_started_total", **unary) == 2
    assert value(samples, "grpc_server_handling_seconds_count", **unary) == 2
    assert value(samples, "grpc_server_handling_seconds_bucket", **unary, le="+Inf") == 2
    assert value(samples, "grpc_server_in_flight", grpc_service=GRAPH, grpc_method="GetGraphStats") == 0
    with observed.client() as client:
        client.graph_stats()
    assert handled(scrape(observed), GRAPH, "GetGraphStats") == {"OK": 3}


def test_streaming_calls_of_every_kind_are_counted_with_their_status(observed: RunningServer, tmp_path: Path) -> None:
    with observed.client() as client:
        client.export_graph(tmp_path / "export")  # server streaming, succeeds
    with grpc.insecure_channel(observed.address) as channel:
        with pytest.raises(grpc.RpcError) as upload:  # client streaming, aborted: no file in the upload
            graph_pb2_grpc.GraphServiceStub(channel).ImportGraph(iter([graph_pb2.ImportGraphRequest()]), timeout=30)
        scoring = exposure_pb2_grpc.ExposureServiceStub(channel).ScoreSupplierList(
            iter([exposure_pb2.ScoreSupplierListRequest(scenario="no-such-scenario", as_of_date=DAY)]), timeout=30
        )
        with pytest.raises(grpc.RpcError) as batch:  # bidirectional, aborted: unknown scenario
            list(scoring)
    samples = scrape(observed)
    assert handled(samples, GRAPH, "ExportGraph") == {"OK": 1}
    assert handled(samples, GRAPH, "ImportGraph") == {upload.value.code().name: 1}
    assert handled(samples, EXPOSURE, "ScoreSupplierList") == {batch.value.code().name: 1}
    assert upload.value.code() != grpc.StatusCode.OK
    assert batch.value.code() != grpc.StatusCode.OK
    for method, kind in (("ExportGraph", "server_stream"), ("ImportGraph", "client_stream")):
        assert value(samples, "grpc_server_started_total", grpc_service=GRAPH, grpc_method=method, grpc_type=kind) == 1
    bidi = {"grpc_service": EXPOSURE, "grpc_method": "ScoreSupplierList", "grpc_type": "bidi_stream"}
    assert value(samples, "grpc_server_handling_seconds_count", **bidi) == 1


def test_graph_and_policy_gauges_match_what_the_service_reports(observed: RunningServer) -> None:
    with observed.client() as client:
        stats = client.graph_stats()
        context = client.score_company("US-GA-BUYER-1", as_of=DAY).context
    samples = scrape(observed)
    assert value(samples, "chokepoint_graph_companies") == stats.company_count > 0
    assert value(samples, "chokepoint_graph_links") == stats.link_count > 0
    assert value(samples, "chokepoint_graph_version") == stats.graph_version
    assert value(samples, "chokepoint_policy_info", version=context.policy_version) == 1
    with observed.client() as client:
        ack = client.delete_company("US-GA-BUYER-1", cascade=True)
        after = client.graph_stats()
    samples = scrape(observed)
    assert value(samples, "chokepoint_graph_version") == ack.graph_version == stats.graph_version + 1
    assert value(samples, "chokepoint_graph_companies") == after.company_count == stats.company_count - 1


def test_a_repeated_score_is_a_cache_hit_in_the_metrics(observed: RunningServer) -> None:
    with observed.client() as client:
        client.score_company("US-GA-BUYER-1", as_of=DAY)
        first = scrape(observed)
        client.score_company("US-GA-BUYER-1", as_of=DAY)  # the same answer: served from the answers cache
        second = scrape(observed)
        client.score_company("US-GA-BUYER-2", as_of=DAY, materials=("gallium",))  # another answer, the same scores
        third = scrape(observed)
    for cache in ("scores", "origins", "answers"):
        assert value(first, "chokepoint_cache_misses_total", cache=cache) >= 1
        assert value(first, "chokepoint_cache_entries", cache=cache) >= 1
        assert value(second, "chokepoint_cache_misses_total", cache=cache) == value(
            first, "chokepoint_cache_misses_total", cache=cache
        )
    assert value(second, "chokepoint_cache_hits_total", cache="answers") == 1
    assert value(third, "chokepoint_cache_misses_total", cache="answers") == 2
    assert value(third, "chokepoint_cache_hits_total", cache="scores") > value(
        second, "chokepoint_cache_hits_total", cache="scores"
    )


def test_x_request_id_is_echoed_or_generated(observed: RunningServer) -> None:
    with grpc.insecure_channel(observed.address) as channel:
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        _, sent = stub.GetGraphStats.with_call(
            graph_pb2.GetGraphStatsRequest(), metadata=[("x-request-id", "trace-42")], timeout=30
        )
        _, unsent = stub.GetGraphStats.with_call(graph_pb2.GetGraphStatsRequest(), timeout=30)
        _, too_long = stub.GetGraphStats.with_call(
            graph_pb2.GetGraphStatsRequest(), metadata=[("x-request-id", "x" * 129)], timeout=30
        )
        with pytest.raises(grpc.RpcError) as failed:
            stub.GetCompany(graph_pb2.GetCompanyRequest(company_id="NOPE"), metadata=[("x-request-id", "t-7")])
    assert dict(sent.trailing_metadata())["x-request-id"] == "trace-42"
    generated = dict(unsent.trailing_metadata())["x-request-id"]
    assert len(generated) == 32
    assert generated.isalnum()
    replaced = dict(too_long.trailing_metadata())["x-request-id"]
    assert replaced not in {"x" * 129, generated}
    assert len(replaced) == 32
    assert dict(failed.value.trailing_metadata())["x-request-id"] == "t-7"  # failing calls carry it too


def test_metrics_are_off_unless_an_address_is_given(serve: ServeFactory) -> None:
    assert serve().service.metrics is None


def test_a_taken_metrics_port_refuses_to_build(observed: RunningServer, tmp_path: Path) -> None:
    assert observed.service.metrics is not None
    store = open_store(tmp_path / "second", seed_graph=None)
    policy = open_policy_store(tmp_path / "second")
    try:
        taken = f"127.0.0.1:{observed.service.metrics.port}"
        with pytest.raises(AddressInUseError, match=f"cannot serve metrics on {taken}"):
            build_server(Config(address="127.0.0.1:0", metrics_address=taken), store, policy)
        with pytest.raises(AddressInUseError, match="metrics_address: must be host:port"):
            build_server(Config(address="127.0.0.1:0", metrics_address="9464"), store, policy)
    finally:
        policy.close()
        store.close()
