"""GraphService end to end: the real server on a loopback port, called through the real client."""

from __future__ import annotations

import grpc
import pytest

from client.client import ChokepointClient, Company, SupplyLink
from client.errors import (
    ClientError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
)
from tests.conftest import TINY_COMPANIES, TINY_LINKS, ServeFactory


def fields_of(error: ClientError) -> list[str]:
    return [violation.field for violation in error.violations]


def test_get_company_returns_the_company_and_graph_version(tiny: ChokepointClient) -> None:
    company = tiny.get_company("CN-MAG")
    assert company == Company("CN-MAG", "Tiny Magnet Works", "CN", ("US_ENTITY_LIST",))
    assert tiny.graph_stats().graph_version == 2  # one write for companies, one for links


def test_get_company_unknown_is_not_found_with_reason(tiny: ChokepointClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        tiny.get_company("NOPE")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND
    assert caught.value.reason == "COMPANY_NOT_FOUND"
    assert "company_id" in caught.value.message


def test_get_company_without_id_names_the_field(tiny: ChokepointClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.get_company("")
    assert caught.value.reason == "REQUIRED_FIELD"
    assert fields_of(caught.value) == ["company_id"]


def test_list_companies_pages_through_all_in_id_order(tiny: ChokepointClient) -> None:
    listed = [company.company_id for company in tiny.list_companies(page_size=1)]
    assert listed == sorted(company.company_id for company in TINY_COMPANIES)


def test_list_companies_filters_by_country_and_list(tiny: ChokepointClient) -> None:
    assert [c.company_id for c in tiny.list_companies(country="VN")] == ["VN-TRADE"]
    assert [c.company_id for c in tiny.list_companies(list_code="US_ENTITY_LIST")] == ["CN-MAG"]
    assert list(tiny.list_companies(country="DE")) == []


def test_page_token_survives_a_write_between_pages(serve: ServeFactory) -> None:
    with serve().client() as client:
        client.upsert_companies([Company(f"C{i}", f"Co {i}", "DE") for i in range(5)])
        pages = client.list_companies(page_size=2)
        first_two = [next(pages).company_id, next(pages).company_id]
        client.upsert_companies([Company("C0a", "inserted before the cursor", "DE"), Company("C9", "after", "DE")])
        rest = [company.company_id for company in pages]
    assert first_two == ["C0", "C1"]
    assert rest == ["C2", "C3", "C4", "C9"]


def test_list_companies_rejects_forged_token_and_changed_filters(tiny: ChokepointClient, serve: ServeFactory) -> None:
    from chokepoint.v1 import graph_pb2, graph_pb2_grpc

    stub = graph_pb2_grpc.GraphServiceStub(grpc.insecure_channel(tiny._channel._channel.target().decode()))  # type: ignore[attr-defined]
    first = stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=1))
    with pytest.raises(grpc.RpcError) as forged:
        stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_token="not-a-token"))
    with pytest.raises(grpc.RpcError) as changed:
        stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_token=first.next_page_token, country="CN"))
    with pytest.raises(grpc.RpcError) as negative:
        stub.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=-1))
    for caught in (forged, changed, negative):
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in forged.value.details()
    assert "different filters" in changed.value.details()
    assert "page_size" in negative.value.details()


def test_upsert_companies_counts_created_and_updated_and_bumps_version(tiny: ChokepointClient) -> None:
    before = tiny.graph_stats().graph_version
    ack = tiny.upsert_companies([Company("US-OEM", "Renamed Motors", "US"), Company("DE-NEW", "Neue GmbH", "DE")])
    assert (ack.created, ack.updated, ack.graph_version) == (1, 1, before + 1)
    assert tiny.get_company("US-OEM").name == "Renamed Motors"


def test_upsert_companies_rejects_bad_rows_naming_each_field_and_changes_nothing(tiny: ChokepointClient) -> None:
    before = tiny.graph_stats()
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.upsert_companies(
            [
                Company("OK-1", "Fine", "DE"),
                Company("bad id", "Spaces", "DE"),
                Company("OK-2", "", "de"),
                Company("OK-3", "Lists", "FR", ("lowercase",)),
            ]
        )
    assert caught.value.reason == "INVALID_COMPANIES"
    assert fields_of(caught.value) == [
        "companies[1].company_id",
        "companies[2].name",
        "companies[2].country",
        "companies[3].lists",
    ]
    assert "got 'de'" in caught.value.violations[2].description
    assert tiny.graph_stats() == before
    with pytest.raises(NotFoundError):
        tiny.get_company("OK-1")


def test_upsert_companies_needs_at_least_one(tiny: ChokepointClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.upsert_companies([])
    assert fields_of(caught.value) == ["companies"]


def test_upsert_over_the_batch_limit_is_resource_exhausted(serve: ServeFactory) -> None:
    with serve(max_batch_items=2).client() as client, pytest.raises(ResourceExhaustedError) as caught:
        client.upsert_companies(TINY_COMPANIES[:3])
    assert caught.value.reason == "LIMIT_EXCEEDED"


def test_delete_company_in_use_is_refused_without_cascade(tiny: ChokepointClient) -> None:
    with pytest.raises(FailedPreconditionError) as caught:
        tiny.delete_company("VN-TRADE")
    assert caught.value.reason == "COMPANY_IN_USE"
    assert "1 links" in caught.value.message
    assert tiny.get_company("VN-TRADE").country == "VN"


def test_delete_company_with_cascade_removes_its_links(tiny: ChokepointClient) -> None:
    ack = tiny.delete_company("CN-MAG", cascade=True)
    assert ack.deleted_links == 3
    stats = tiny.graph_stats()
    assert (stats.company_count, stats.link_count) == (3, 2)
    with pytest.raises(NotFoundError):
        tiny.delete_company("CN-MAG")


def test_delete_unused_company_needs_no_cascade(tiny: ChokepointClient) -> None:
    tiny.upsert_companies([Company("LONE", "Lonely Ltd", "GB")])
    assert tiny.delete_company("LONE").deleted_links == 0


def test_list_links_by_buyer_and_supplier_in_key_order_with_derived_tags(tiny: ChokepointClient) -> None:
    bought = list(tiny.list_supply_links(buyer_id="US-OEM", page_size=2))
    assert [(link.supplier_id, link.hs_code) for link in bought] == [
        ("CN-MAG", "850511"),
        ("JP-REF", "284690"),
        ("VN-TRADE", "850511"),
    ]
    routed, refined, resold = bought
    assert "transshipment" in routed.derived_tags  # CN>VN>US passes a third country
    assert {"magnet", "rare_earth"} <= set(routed.derived_tags)
    assert "transshipment" not in refined.derived_tags
    assert resold.effective_origin_country == "CN"  # Chinese-origin goods sold from Vietnam
    assert "transshipment" in resold.derived_tags
    sold = [(link.buyer_id, link.hs_code) for link in tiny.list_supply_links(supplier_id="CN-MAG", page_size=1)]
    assert sold == [("JP-REF", "280530"), ("US-OEM", "850511")]
    both = list(tiny.list_supply_links(supplier_id="CN-MAG", buyer_id="JP-REF"))
    assert [link.hs_code for link in both] == ["280530"]
    assert len(list(tiny.list_supply_links(page_size=2))) == len(TINY_LINKS)


def test_list_links_of_unknown_company_is_not_found(tiny: ChokepointClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        list(tiny.list_supply_links(supplier_id="GHOST"))
    assert "supplier_id" in caught.value.message


def test_upsert_links_rejects_bad_links_with_field_paths(tiny: ChokepointClient) -> None:
    before = tiny.graph_stats()
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.upsert_supply_links(
            [
                SupplyLink("CN-MAG", "GHOST", "850511", 1.0),
                SupplyLink("JP-REF", "JP-REF", "12", -5.0),
                SupplyLink("CN-MAG", "US-OEM", "8505", float("nan"), route=("CN", "XX")),
            ]
        )
    assert caught.value.reason == "INVALID_LINKS"
    assert fields_of(caught.value) == [
        "links[0].buyer_id",
        "links[1].buyer_id",
        "links[1].hs_code",
        "links[1].annual_value_usd",
        "links[2].annual_value_usd",
        "links[2].route",
    ]
    assert tiny.graph_stats() == before


def test_upsert_links_rejects_duplicate_keys_in_one_request(tiny: ChokepointClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.upsert_supply_links(
            [SupplyLink("JP-REF", "US-OEM", "2846.90", 1.0), SupplyLink("JP-REF", "US-OEM", "284690", 2.0)]
        )
    assert fields_of(caught.value) == ["links[1].hs_code"]


def test_upsert_links_replaces_by_key_with_hs_dots_ignored(tiny: ChokepointClient) -> None:
    ack = tiny.upsert_supply_links([SupplyLink("JP-REF", "US-OEM", "2846.90", 250.0)])
    assert (ack.created, ack.updated) == (0, 1)
    values = {
        link.supplier_id: link.annual_value_usd
        for link in tiny.list_supply_links(buyer_id="US-OEM")
        if link.hs_code == "284690"
    }
    assert values == {"JP-REF": 250.0}


def test_link_without_annual_value_is_refused(tiny: ChokepointClient) -> None:
    from chokepoint.v1 import graph_pb2, graph_pb2_grpc

    stub = graph_pb2_grpc.GraphServiceStub(grpc.insecure_channel(tiny._channel._channel.target().decode()))  # type: ignore[attr-defined]
    link = graph_pb2.SupplyLink(supplier_id="JP-REF", buyer_id="US-OEM", hs_code="2846")
    with pytest.raises(grpc.RpcError) as caught:
        stub.UpsertSupplyLinks(graph_pb2.UpsertSupplyLinksRequest(links=[link]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "links[0].annual_value_usd: is required" in caught.value.details()


def test_delete_link_by_key_and_not_found_after(tiny: ChokepointClient) -> None:
    before = tiny.graph_stats()
    ack = tiny.delete_supply_link("CN-MAG", "US-OEM", "8505.11")
    assert ack.graph_version == before.graph_version + 1
    assert tiny.graph_stats().link_count == before.link_count - 1
    with pytest.raises(NotFoundError) as caught:
        tiny.delete_supply_link("CN-MAG", "US-OEM", "850511")
    assert caught.value.reason == "LINK_NOT_FOUND"


def test_delete_link_with_bad_hs_code_names_the_field(tiny: ChokepointClient) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.delete_supply_link("CN-MAG", "US-OEM", "85x")
    assert fields_of(caught.value) == ["hs_code"]
    with pytest.raises(InvalidArgumentError) as missing:
        tiny.delete_supply_link("", "US-OEM", "8505")
    assert fields_of(missing.value) == ["supplier_id"]


def test_graph_stats_counts_countries_lists_and_tags(tiny: ChokepointClient) -> None:
    stats = tiny.graph_stats()
    assert (stats.company_count, stats.link_count) == (4, 5)
    assert stats.total_annual_value_usd == pytest.approx(1060.0)
    assert stats.countries == {"CN": 1, "JP": 1, "US": 1, "VN": 1}
    assert stats.lists == {"US_ENTITY_LIST": 1}
    assert stats.tags["transshipment"] == 2
    assert stats.tags["rare_earth"] >= 3


def test_request_id_makes_a_retried_write_apply_once(tiny: ChokepointClient) -> None:
    first = tiny.upsert_companies([Company("RETRY", "Retry Ltd", "GB")], request_id="req-1")
    again = tiny.upsert_companies([Company("RETRY", "Retry Ltd", "GB")], request_id="req-1")
    assert again == first
    assert tiny.graph_stats().graph_version == first.graph_version
    with pytest.raises(InvalidArgumentError) as reused:
        tiny.delete_company("RETRY", request_id="req-1")
    assert reused.value.reason == "REQUEST_ID_REUSED"
