"""Every configured limit, end to end: the status code, the reason, and the limit named in the message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import polars as pl
import pytest
from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from client.client import ChokepointClient, Company
from client.errors import ClientError
from server.config import DEFAULT_SEED_GRAPH, Config
from tests.conftest import TINY_COMPANIES, TINY_LINKS, ServeFactory


def _tiny_files(directory: Path) -> tuple[Path, Path]:
    companies = directory / "companies.csv"
    links = directory / "links.csv"
    companies.write_text(
        "company_id,name,country,lists\n" + "".join(f"{c.company_id},{c.name},{c.country},\n" for c in TINY_COMPANIES)
    )
    links.write_text(
        "supplier_id,buyer_id,hs_code,annual_value_usd\n"
        + "".join(f"{x.supplier_id},{x.buyer_id},{x.hs_code},{x.annual_value_usd}\n" for x in TINY_LINKS)
    )
    return companies, links


def _exhausted(caught: pytest.ExceptionInfo[ClientError], reason: str, *names: str) -> None:
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.reason == reason
    for name in names:
        assert name in caught.value.message


def test_an_upsert_over_max_batch_items_is_resource_exhausted_naming_the_limit(serve: ServeFactory) -> None:
    with serve(max_batch_items=2).client() as client:
        with pytest.raises(ClientError) as caught:
            client.upsert_companies(TINY_COMPANIES[:3])
        _exhausted(caught, "LIMIT_EXCEEDED", "companies", "at most 2", "max_batch_items", "got 3")
        assert client.upsert_companies(TINY_COMPANIES[:2]).graph_version == 1


def test_an_upload_over_max_import_bytes_is_resource_exhausted_and_imports_nothing(
    serve: ServeFactory, tmp_path: Path
) -> None:
    companies, links = _tiny_files(tmp_path)
    with serve(max_import_bytes=100).client() as client:
        with pytest.raises(ClientError) as caught:
            client.import_graph(companies, links)
        _exhausted(caught, "IMPORT_TOO_LARGE", "at most 100", "max_import_bytes")
        assert client.graph_stats().graph_version == 0


@pytest.mark.parametrize(
    ("settings", "noun", "setting", "count"),
    [
        ({"max_graph_companies": 3}, "companies", "max_graph_companies", 4),
        ({"max_graph_links": 4}, "links", "max_graph_links", 5),
    ],
)
def test_an_import_leaving_the_graph_over_its_size_limit_is_refused_whole(
    serve: ServeFactory, tmp_path: Path, settings: dict[str, int], noun: str, setting: str, count: int
) -> None:
    companies, links = _tiny_files(tmp_path)
    with serve(**settings).client() as client:
        with pytest.raises(ClientError) as caught:
            client.import_graph(companies, links)
        _exhausted(caught, "GRAPH_TOO_LARGE", f"{count} {noun}", f"limit of {settings[setting]}", setting)
        stats = client.graph_stats()
        assert (stats.company_count, stats.link_count, stats.graph_version) == (0, 0, 0)


def test_upserts_may_not_grow_the_graph_past_its_limit_but_may_update_it(serve: ServeFactory) -> None:
    with serve(max_graph_companies=4).client() as client:
        client.upsert_companies(TINY_COMPANIES)
        with pytest.raises(ClientError) as caught:
            client.upsert_companies([Company("DE-NEW", "New GmbH", "DE")])
        _exhausted(caught, "GRAPH_TOO_LARGE", "5 companies", "max_graph_companies")
        renamed = Company(TINY_COMPANIES[0].company_id, "Renamed Inc.", "US")
        assert client.upsert_companies([renamed]).graph_version == 2
        assert client.get_company(renamed.company_id).name == "Renamed Inc."


def _duty(measure_id: str, prefixes: list[str]) -> dict[str, Any]:
    return {
        "measure_id": measure_id,
        "title": "A test duty",
        "authority": "OTHER",
        "program": "TEST",
        "importer": "US",
        "origins": ["CN"],
        "hs_prefixes": prefixes,
        "rate_fraction": 0.05,
        "effective_from": "2018-01-01",
        "source": "test",
    }


@pytest.mark.parametrize(
    ("settings", "tariffs", "setting"),
    [
        ({"max_scenario_measures": 1}, [_duty("A", ["8542"]), _duty("B", ["8541"])], "max_scenario_measures"),
        ({"max_scenario_lines": 2}, [_duty("A", ["8542", "8541", "8505"])], "max_scenario_lines"),
    ],
)
def test_a_scenario_over_its_size_limits_is_refused_on_create_and_update(
    serve: ServeFactory, settings: dict[str, int], tariffs: list[dict[str, Any]], setting: str
) -> None:
    with serve(**settings).client() as client:
        small = {"name": "my-duty", "base": "current", "tariffs": [_duty("A", ["8542"])]}
        client.create_scenario(small)
        for call in (client.create_scenario, client.update_scenario):
            with pytest.raises(ClientError) as caught:
                call({**small, "name": "my-duty" if call == client.update_scenario else "big", "tariffs": tariffs})
            _exhausted(caught, "SCENARIO_TOO_LARGE", setting, f"at most {settings[setting]}")


def test_page_size_over_max_page_size_is_clamped_and_negative_is_refused(serve: ServeFactory) -> None:
    server = serve(max_page_size=2)
    with server.client() as client:
        client.upsert_companies(TINY_COMPANIES)
    with grpc.insecure_channel(server.address) as channel:
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        page = stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=50), timeout=10)
        assert len(page.companies) == 2
        assert page.next_page_token
        assert len(stub.ListCompanies(graph_pb2.ListCompaniesRequest(), timeout=10).companies) == 2
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=-1), timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "page_size" in (caught.value.details() or "")


def test_explain_limit_and_depth_over_their_maxima_are_invalid_arguments(serve: ServeFactory) -> None:
    with serve(seed_graph=DEFAULT_SEED_GRAPH, max_paths=2, max_path_depth=8).client() as client:
        assert len(client.explain_exposure("US-MOTOR-1", as_of="2026-01-15", limit=2, max_depth=8).paths) <= 2
        for call, field, got in (
            (lambda: client.explain_exposure("US-MOTOR-1", as_of="2026-01-15", max_depth=9), "max_depth", "8, got 9"),
            (lambda: client.explain_exposure("US-MOTOR-1", as_of="2026-01-15", limit=3), "limit", "2, got 3"),
            (lambda: client.find_chokepoints("TW-FAB-1", limit=3), "limit", "2, got 3"),
        ):
            with pytest.raises(ClientError) as caught:
                call()
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert [v.field for v in caught.value.violations] == [field]
            assert f"between 0 and {got}" in caught.value.message


def _supplier_rows(count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_name": [f"Supplier {i}" for i in range(count)],
            "country": ["CN"] * count,
            "hs_code": ["850511"] * count,
            "annual_spend_usd": [100.0] * count,
            "buyer_country": ["US"] * count,
        }
    )


def test_a_supplier_list_message_over_max_batch_items_is_resource_exhausted(serve: ServeFactory) -> None:
    with serve(max_batch_items=2).client() as client:
        with pytest.raises(ClientError) as caught:
            client.score_supplier_list(_supplier_rows(3), batch_rows=3)
        _exhausted(caught, "LIMIT_EXCEEDED", "requests[0].rows", "at most 2", "max_batch_items", "got 3")


def test_a_supplier_list_over_max_supplier_list_rows_is_resource_exhausted(serve: ServeFactory) -> None:
    with serve(max_supplier_list_rows=3).client() as client:
        assert client.score_supplier_list(_supplier_rows(3), batch_rows=2).summary is not None
        with pytest.raises(ClientError) as caught:
            client.score_supplier_list(_supplier_rows(4), batch_rows=2)
        _exhausted(caught, "LIMIT_EXCEEDED", "at most 3", "max_supplier_list_rows", "got 4")


def test_a_message_over_max_message_bytes_is_resource_exhausted_by_grpc(serve: ServeFactory) -> None:
    with serve(max_message_bytes=4096).client() as client:
        with pytest.raises(ClientError) as caught:
            client.upsert_companies([Company("US-BIG", "x" * 10_000, "US")])
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert client.upsert_companies([Company("US-SMALL", "Small Inc.", "US")]).graph_version == 1


def _stalled_import(stub: graph_pb2_grpc.GraphServiceStub, release: threading.Event) -> grpc.Future[Any]:
    def chunks() -> Iterator[graph_pb2.ImportGraphRequest]:
        yield graph_pb2.ImportGraphRequest(
            file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV, data=b"company_id,name,country\n"
        )
        release.wait()

    return stub.ImportGraph.future(chunks())  # type: ignore[no-any-return]  # no deadline: it holds its slot


def test_calls_past_max_concurrent_rpcs_are_resource_exhausted_until_slots_free(serve: ServeFactory) -> None:
    server = serve(max_concurrent_rpcs=2)
    release = threading.Event()
    with grpc.insecure_channel(server.address) as channel, ChokepointClient(server.address, timeout=10) as client:
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        try:
            held, refused = _hold_two_slots(stub, client, release)
            assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "Concurrent RPC limit" in refused.message
        finally:
            release.set()
        for call in held:
            assert call.result(timeout=30).company_count == 0  # a header-only companies file, once released
        assert client.graph_stats().graph_version == 2


def _hold_two_slots(
    stub: graph_pb2_grpc.GraphServiceStub, client: ChokepointClient, release: threading.Event
) -> tuple[list[grpc.Future[Any]], ClientError]:
    """Keep two stalled uploads open and probe with a quick call until the probe is the one refused.

    A held upload that reaches the server while a probe is in flight is itself refused; it is replaced.
    """
    held: list[grpc.Future[Any]] = []
    for _ in range(200):
        held = [call for call in held if not call.done()]
        held += [_stalled_import(stub, release) for _ in range(2 - len(held))]
        try:
            client.graph_stats()
        except ClientError as error:
            if not any(call.done() for call in held):
                return held, error
        time.sleep(0.05)
    raise AssertionError("no call was refused while two uploads held both slots")


def test_config_from_args_reads_every_limit_from_flags_and_environment() -> None:
    config = Config.from_args(
        ["--max-graph-links", "7", "--upload-idle-seconds", "1.5"],
        environ={"CHOKEPOINT_MAX_PAGE_SIZE": "20", "CHOKEPOINT_MAX_GRAPH_LINKS": "9"},
    )
    assert (config.max_graph_links, config.upload_idle_seconds, config.max_page_size) == (7, 1.5, 20)
    with pytest.raises(SystemExit):
        Config.from_args([], environ={"CHOKEPOINT_MAX_PATHS": "0"})
