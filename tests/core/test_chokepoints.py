"""FindChokepoints against NetworkX: its dominators are NetworkX's immediate dominators of the virtual sources node,
and each country's share is the pass-through of its one company when every company has a country of its own."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise

import networkx as nx
import polars as pl
import pycountry
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from server.core.chokepoints import COUNTRY_BLOCK, find_chokepoints
from server.core.graph import Graph, build_graph
from server.core.queries import require_company
from server.core.taxonomy import load_taxonomy
from server.core.validation import RowSource, validate_companies, validate_links

COUNTRIES = sorted(country.alpha_2 for country in pycountry.countries)


def graph_of(countries: Sequence[str], links: Sequence[tuple[int, int, float]]) -> Graph:
    """Companies C0, C1... of the given countries; links (supplier, buyer, value in US$)."""
    ids = [f"C{i}" for i in range(len(countries))]
    companies = validate_companies(
        pl.DataFrame({"company_id": ids, "name": ids, "country": list(countries), "lists": [None] * len(ids)}),
        source=RowSource("companies"),
    )
    rows = pl.DataFrame(
        {
            "supplier_id": [ids[s] for s, _, _ in links],
            "buyer_id": [ids[b] for _, b, _ in links],
            "hs_code": ["2846.90"] * len(links),
            "annual_value_usd": [value for _, _, value in links],
        },
        schema={"supplier_id": pl.String, "buyer_id": pl.String, "hs_code": pl.String, "annual_value_usd": pl.Float64},
    )
    table = validate_links(rows, source=RowSource("links"), company_ids=companies["company_id"])
    return build_graph(companies, table, version=1, taxonomy=load_taxonomy())


def networkx_dominators(links: Sequence[tuple[int, int, float]], root: int) -> list[str]:
    """The reference: NetworkX's immediate dominators on the upstream graph (buyer -> supplier) of `root`, every
    company without suppliers feeding a virtual node, read from that node back to the root."""
    network = nx.DiGraph((f"C{b}", f"C{s}") for s, b, _ in links)
    upstream = network.subgraph(nx.descendants(network, f"C{root}") | {f"C{root}"}).copy()
    upstream.add_edges_from((node, "sources") for node in list(upstream) if upstream.out_degree(node) == 0)
    idom = nx.immediate_dominators(upstream, f"C{root}")
    chain = []
    node = idom.get("sources")
    while node is not None and node != f"C{root}":
        chain.append(node)
        node = idom[node]
    return chain[::-1]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_dominators_are_networkx_immediate_dominators_of_the_sources(data: st.DataObject) -> None:
    count = data.draw(st.integers(2, 10), label="companies")
    pairs = data.draw(
        st.lists(
            st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)).filter(lambda pair: pair[0] != pair[1]),
            min_size=1,
            max_size=3 * count,
            unique=True,
        ),
        label="supplier, buyer",
    )
    links = [(s, b, 1e6 * (1 + (s * 7 + b) % 5)) for s, b in pairs]
    root = data.draw(st.sampled_from(sorted({b for _, b, _ in links})), label="root")
    graph = graph_of(["DE"] * count, links)
    found = find_chokepoints(graph, require_company(graph, f"C{root}", field="company_id"), material=None)
    ids = graph.companies["company_id"].to_list()
    expected = networkx_dominators(links, root)
    event(f"{min(len(expected), 2)} dominators")
    assert [ids[node] for node in found.dominators] == expected


def test_a_chain_of_single_suppliers_dominates_in_order_nearest_first() -> None:
    # C3 <- C2 <- C1 <- C0, and C3 also buys from C4, which buys from C1: C1 and C0 carry everything, C2 does not
    links = [(2, 3, 5e6), (1, 2, 5e6), (0, 1, 5e6), (4, 3, 5e6), (1, 4, 5e6)]
    graph = graph_of(["DE"] * 5, links)
    found = find_chokepoints(graph, require_company(graph, "C3", field="company_id"), material=None)
    ids = graph.companies["company_id"].to_list()
    assert [ids[node] for node in found.dominators] == ["C1", "C0"] == networkx_dominators(links, 3)


def test_country_shares_across_blocks_are_each_lone_company_pass_through() -> None:
    # Four layers (1, 8, 16, 20 companies), each company in a country of its own, every company of a layer selling
    # to at least one of the layer above: removing a country removes exactly one company, so the flow no longer
    # reaching the sources is the flow through that company. 44 countries besides the root's: three blocks.
    rng = random.Random(3)
    layers = [[0], list(range(1, 9)), list(range(9, 25)), list(range(25, 45))]
    pairs = set()
    for above, below in pairwise(layers):
        pairs |= {(supplier, rng.choice(above)) for supplier in below}
        pairs |= {(supplier, buyer) for buyer in above for supplier in rng.sample(below, 2)}
    links = [(s, b, float(rng.randint(1, 9)) * 1e6) for s, b in sorted(pairs)]
    graph = graph_of(COUNTRIES[:45], links)
    found = find_chokepoints(graph, require_company(graph, "C0", field="company_id"), material=None, top=45)
    assert len(found.countries) == 44 > 2 * COUNTRY_BLOCK
    country_of = dict(zip(graph.companies["idx"].to_list(), graph.companies["country"].to_list(), strict=True))
    through = {country_of[node]: share for node, share in found.pass_through}
    assert dict(found.countries) == pytest.approx(through, rel=1e-12, abs=1e-12)
