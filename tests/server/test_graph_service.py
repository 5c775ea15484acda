"""GraphService end to end: the real server on a loopback port, called through the real client."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from client.client import ChokepointClient, Company, SupplyLink
from client.errors import (
    ClientError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    decode_error,
)
from tests.conftest import TINY_COMPANIES, TINY_LINKS, ServeFactory


def fields_of(error: ClientError) -> list[str]:
    return [violation.field for violation in error.violations]


@pytest.fixture
def raw(serve: ServeFactory) -> Iterator[graph_pb2_grpc.GraphServiceStub]:
    """The generated stub of a server holding the tiny graph, for response fields and requests the client hides."""
    server = serve()
    with server.client() as client:
        client.upsert_companies(TINY_COMPANIES)
        client.upsert_supply_links(TINY_LINKS)
    with grpc.insecure_channel(server.address) as channel:
        yield graph_pb2_grpc.GraphServiceStub(channel)


def test_get_company_returns_the_company(tiny: ChokepointClient) -> None:
    company = tiny.get_company("CN-MAG")
    assert company == Company("CN-MAG", "Tiny Magnet Works", "CN", ("US_ENTITY_LIST",))


def test_reads_carry_the_graph_version_they_reflect_and_the_total_size(raw: graph_pb2_grpc.GraphServiceStub) -> None:
    tiny_version = 2  # one write for the companies, one for the links
    company = raw.GetCompany(graph_pb2.GetCompanyRequest(company_id="CN-MAG"))
    assert (company.company.name, company.graph_version) == ("Tiny Magnet Works", tiny_version)
    first = raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=1))
    second = raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=1, page_token=first.next_page_token))
    for page in (first, second):  # the count of all matches, not of the rest
        assert (len(page.companies), page.total_size, page.graph_version) == (1, 4, tiny_version)
    in_vietnam = raw.ListCompanies(graph_pb2.ListCompaniesRequest(country="VN"))
    assert (in_vietnam.total_size, in_vietnam.graph_version) == (1, tiny_version)
    bought = raw.ListSupplyLinks(graph_pb2.ListSupplyLinksRequest(buyer_id="US-OEM", page_size=2))
    assert (len(bought.links), bought.total_size, bought.graph_version) == (2, 3, tiny_version)
    every = raw.ListSupplyLinks(graph_pb2.ListSupplyLinksRequest())
    assert (len(every.links), every.total_size, every.graph_version) == (5, 5, tiny_version)

    raw.UpsertCompanies(
        graph_pb2.UpsertCompaniesRequest(
            companies=[graph_pb2.Company(company_id="DE-NEW", name="Neue GmbH", country="DE")]
        )
    )
    after = tiny_version + 1
    assert raw.GetCompany(graph_pb2.GetCompanyRequest(company_id="CN-MAG")).graph_version == after
    listed = raw.ListCompanies(graph_pb2.ListCompaniesRequest())
    assert (listed.total_size, listed.graph_version) == (5, after)
    assert raw.ListSupplyLinks(graph_pb2.ListSupplyLinksRequest()).graph_version == after


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


def test_list_companies_rejects_forged_token_changed_filters_and_negative_size(
    raw: graph_pb2_grpc.GraphServiceStub,
) -> None:
    first = raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=1))
    with pytest.raises(grpc.RpcError) as forged:
        raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_token="not-a-token"))
    with pytest.raises(grpc.RpcError) as changed:
        raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_token=first.next_page_token, country="CN"))
    with pytest.raises(grpc.RpcError) as negative:
        raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=-1))
    forged_error, changed_error, negative_error = (decode_error(c.value) for c in (forged, changed, negative))
    for error in (forged_error, changed_error, negative_error):
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (forged_error.reason, fields_of(forged_error)) == ("INVALID_PAGE_TOKEN", ["page_token"])
    assert (changed_error.reason, fields_of(changed_error)) == ("INVALID_PAGE_TOKEN", ["page_token"])
    assert "different filters" in changed_error.message
    assert (negative_error.reason, fields_of(negative_error)) == ("INVALID_ARGUMENT", ["page_size"])
    assert "got -1" in negative_error.message


def test_list_links_rejects_a_token_from_other_filters_or_another_list(raw: graph_pb2_grpc.GraphServiceStub) -> None:
    by_buyer = raw.ListSupplyLinks(graph_pb2.ListSupplyLinksRequest(buyer_id="US-OEM", page_size=1))
    companies = raw.ListCompanies(graph_pb2.ListCompaniesRequest(page_size=1))
    requests = [
        graph_pb2.ListSupplyLinksRequest(buyer_id="JP-REF", page_token=by_buyer.next_page_token),
        graph_pb2.ListSupplyLinksRequest(page_token=companies.next_page_token),  # a one-part key, links need two
        graph_pb2.ListSupplyLinksRequest(page_token="bm90IGpzb24"),  # base64 of "not json"
    ]
    for request in requests:
        with pytest.raises(grpc.RpcError) as caught:
            raw.ListSupplyLinks(request)
        error = decode_error(caught.value)
        assert (error.code, error.reason, fields_of(error)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_PAGE_TOKEN",
            ["page_token"],
        )


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


def test_delete_company_without_id_names_the_field_and_changes_nothing(tiny: ChokepointClient) -> None:
    before = tiny.graph_stats()
    with pytest.raises(InvalidArgumentError) as caught:
        tiny.delete_company("  ", cascade=True)
    assert (caught.value.reason, fields_of(caught.value)) == ("REQUIRED_FIELD", ["company_id"])
    assert tiny.graph_stats() == before


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
    with pytest.raises(NotFoundError) as by_supplier:
        list(tiny.list_supply_links(supplier_id="GHOST"))
    with pytest.raises(NotFoundError) as by_buyer:
        list(tiny.list_supply_links(buyer_id="GHOST"))
    assert by_supplier.value.reason == by_buyer.value.reason == "COMPANY_NOT_FOUND"
    assert "supplier_id" in by_supplier.value.message
    assert "buyer_id" in by_buyer.value.message


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


def test_link_without_annual_value_is_refused(raw: graph_pb2_grpc.GraphServiceStub) -> None:
    link = graph_pb2.SupplyLink(supplier_id="JP-REF", buyer_id="US-OEM", hs_code="2846")
    with pytest.raises(grpc.RpcError) as caught:
        raw.UpsertSupplyLinks(graph_pb2.UpsertSupplyLinksRequest(links=[link]))
    error = decode_error(caught.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_LINKS")
    assert fields_of(error) == ["links[0].annual_value_usd"]
    assert "links[0].annual_value_usd: is required" in error.message


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
