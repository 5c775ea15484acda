"""Building the compute form: derived tags, transshipment, CSR adjacency, and key-ordered pages."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import InvalidArgumentError
from server.core.graph import Graph, build_graph
from server.core.queries import list_links
from server.core.validation import RowSource, validate_companies, validate_links

TAXONOMY = pl.DataFrame(
    {
        "hs_prefix": ["2846", "850511", "850511", "85"],
        "tag": ["rare_earth", "magnet", "rare_earth", "electrical"],
        "description": [""] * 4,
        "source": [""] * 4,
    }
)


def graph_of(companies: dict[str, str], links: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    company_table = validate_companies(
        pl.DataFrame({"company_id": list(companies), "name": list(companies), "country": list(companies.values())}),
        source=RowSource("companies"),
    )
    link_table = validate_links(pl.DataFrame(links), source=RowSource("links"), company_ids=company_table["company_id"])
    return build_graph(company_table, link_table, version=1, taxonomy=TAXONOMY)


def derived(graph, supplier: str, buyer: str) -> list[str]:  # type: ignore[no-untyped-def]
    row = graph.with_company_ids(graph.links).filter(
        (pl.col("supplier_id") == supplier) & (pl.col("buyer_id") == buyer)
    )
    return row["derived_tags"].to_list()[0]


@pytest.mark.parametrize(
    ("supplier_country", "origin", "route", "transshipment"),
    [
        ("CN", None, None, False),  # direct shipment
        ("CN", None, "CN>US", False),  # route through origin and buyer only
        ("CN", None, "CN>VN>US", True),  # passes a third country
        ("VN", "CN", None, True),  # Chinese-origin goods sold from Vietnam
        ("VN", "VN", "VN>US", False),  # Vietnamese goods shipped direct
        ("MX", None, "MX>US", False),
        ("KR", None, "KR>HK>US", True),
    ],
)
def test_transshipment_is_flagged_by_origin_or_third_country(
    supplier_country: str, origin: str | None, route: str | None, transshipment: bool
) -> None:
    graph = graph_of(
        {"S": supplier_country, "B": "US"},
        [
            {
                "supplier_id": "S",
                "buyer_id": "B",
                "hs_code": "8505.11",
                "annual_value_usd": 1.0,
                "origin_country": origin,
                "route": route,
            }
        ],
    )
    assert ("transshipment" in derived(graph, "S", "B")) is transshipment


def test_taxonomy_tags_come_from_every_matching_prefix() -> None:
    graph = graph_of(
        {"S": "CN", "B": "US"},
        [
            {"supplier_id": "S", "buyer_id": "B", "hs_code": "85051100", "annual_value_usd": 1.0},
            {"supplier_id": "S", "buyer_id": "B", "hs_code": "2846.90", "annual_value_usd": 1.0},
            {"supplier_id": "S", "buyer_id": "B", "hs_code": "1001", "annual_value_usd": 1.0},
        ],
    )
    tags = dict(zip(graph.links["hs_code"], graph.links["derived_tags"].to_list(), strict=True))
    assert tags == {"85051100": ["electrical", "magnet", "rare_earth"], "284690": ["rare_earth"], "1001": []}


def test_csr_arrays_index_each_companys_links() -> None:
    graph = graph_of(
        {"A": "US", "B": "CN", "C": "JP"},
        [
            {"supplier_id": "B", "buyer_id": "A", "hs_code": "2846", "annual_value_usd": 1.0},
            {"supplier_id": "C", "buyer_id": "A", "hs_code": "2846", "annual_value_usd": 2.0},
            {"supplier_id": "B", "buyer_id": "C", "hs_code": "2846", "annual_value_usd": 3.0},
            {"supplier_id": "A", "buyer_id": "B", "hs_code": "8501", "annual_value_usd": 4.0},
        ],
    )
    # companies sorted A, B, C -> idx 0, 1, 2; links sorted by (buyer, supplier, hs)
    assert graph.inbound_indptr.tolist() == [0, 2, 3, 4]
    assert graph.outbound_indptr.tolist() == [0, 1, 3, 4]
    values = graph.links["annual_value_usd"].to_numpy()
    sold_by_b = graph.outbound_order[graph.outbound_indptr[1] : graph.outbound_indptr[2]]
    assert sorted(values[sold_by_b].tolist()) == [1.0, 3.0]


# Links among companies N0..N7 (N8 and N9 are never in the graph).
EDGES = st.sets(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.sampled_from(["2846", "850511", "8501"])), max_size=30
)


def graph_of_edges(edges: set[tuple[int, int, str]]) -> Graph:
    links = [
        {"supplier_id": f"N{s}", "buyer_id": f"N{b}", "hs_code": hs, "annual_value_usd": 1.0}
        for s, b, hs in sorted(edges)
        if s != b
    ]
    return graph_of(
        {f"N{i}": "DE" for i in range(8)},
        links or [{"supplier_id": "N0", "buyer_id": "N1", "hs_code": "2846", "annual_value_usd": 1.0}],
    )


@settings(max_examples=40, deadline=None)
@given(
    edges=EDGES,
    page=st.integers(1, 5),
)
def test_paging_any_graph_yields_each_link_once_in_order(edges: set[tuple[int, int, str]], page: int) -> None:
    graph = graph_of_edges(edges)
    for supplier_id, buyer_id, order in (
        ("", "", ("buyer_id", "supplier_id", "hs_code")),
        ("N0", "", ("supplier_id", "buyer_id", "hs_code")),
        ("", "N1", ("buyer_id", "supplier_id", "hs_code")),
    ):
        seen: list[tuple[str, ...]] = []
        after = None
        while True:
            result = list_links(graph, supplier_id=supplier_id, buyer_id=buyer_id, after=after, limit=page)
            keys = [tuple(row) for row in result.rows.select(order).iter_rows()]
            seen.extend(keys)
            if not result.has_more:
                break
            after = keys[-1]
        expected = graph.with_company_ids(graph.links)
        if supplier_id:
            expected = expected.filter(pl.col("supplier_id") == supplier_id)
        if buyer_id:
            expected = expected.filter(pl.col("buyer_id") == buyer_id)
        assert seen == sorted(tuple(row) for row in expected.select(order).iter_rows())
        assert len(seen) == result.total_size
    assert np.all(np.diff(graph.inbound_indptr) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    edges=EDGES,
    # Buyers and suppliers N8, N9 and A are not in the graph (a page token whose company has since been deleted).
    key=st.tuples(
        st.sampled_from(["A", *(f"N{i}" for i in range(10))]),
        st.sampled_from(["", "A", *(f"N{i}" for i in range(10))]),
        st.sampled_from(["", "2846", "28461", "8501", "850511", "9"]),
    ),
)
def test_a_page_of_all_links_starts_right_after_any_key(edges: set[tuple[int, int, str]], key: tuple[str, ...]) -> None:
    # The unfiltered listing finds its start from the key's buyer alone: the links table no longer holds ids.
    graph = graph_of_edges(edges)
    order = ("buyer_id", "supplier_id", "hs_code")
    every = sorted(graph.canonical_links().select(order).iter_rows())
    result = list_links(graph, supplier_id="", buyer_id="", after=key, limit=3)
    assert list(result.rows.select(order).iter_rows()) == [row for row in every if row > key][:3]
    assert result.total_size == len(every)


def test_single_code_tagging_matches_the_table_tagging_on_every_default_graph_code() -> None:
    from server.config import DEFAULT_SEED_GRAPH
    from server.core.taxonomy import index_taxonomy, load_taxonomy, tag_hs_codes, tags_of_code

    taxonomy = load_taxonomy()
    codes = pl.read_csv(DEFAULT_SEED_GRAPH / "links.csv", infer_schema=False)["hs_code"].str.replace_all(
        ".", "", literal=True
    )
    table = tag_hs_codes(codes, taxonomy)
    index = index_taxonomy(taxonomy)
    assert table.height > 20
    for code, tags in table.select("hs_code", "taxonomy_tags").iter_rows():
        assert tags_of_code(code, index) == frozenset(tags), code


@pytest.mark.parametrize("known", [3, 1000], ids=["more ids named than known", "fewer ids named than known"])
def test_links_must_name_existing_companies_however_many_are_known(known: int) -> None:
    company_ids = pl.Series("company_id", ["A", "B", *(f"C{i}" for i in range(known - 2))])
    links = pl.DataFrame(
        {
            "supplier_id": ["B", "Q"],
            "buyer_id": ["A", "A"],
            "hs_code": ["850511", "850512"],
            "annual_value_usd": ["1", "2"],
        }
    )
    with pytest.raises(InvalidArgumentError) as raised:
        validate_links(links, source=RowSource("links"), company_ids=company_ids)
    assert "links[1].supplier_id: must be an existing company_id, got 'Q'" in str(raised.value)  # rows from 0
    assert validate_links(links.head(1), source=RowSource("links"), company_ids=company_ids).height == 1
