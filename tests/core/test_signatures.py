"""The engine's shipment signatures (told apart by cheaper keys, link_policy) against the definition row by row
(tests/core/signatures.py): the same distinct signatures, numbered the same, and the same signature per link."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphs.generate import ENTITY_LIST_CODE, generate_graph
from server.config import DEFAULT_SEED_GRAPH
from server.core.graph import Graph, build_graph
from server.core.link_policy import SIGNATURE_KEYS, graph_signatures
from server.core.taxonomy import load_taxonomy
from server.core.validation import RowSource, validate_companies, validate_links
from tests.core.signatures import link_signatures


def from_frames(companies: pl.DataFrame, links: pl.DataFrame) -> Graph:
    company_table = validate_companies(companies, source=RowSource("companies"))
    link_table = validate_links(links, source=RowSource("links"), company_ids=company_table["company_id"])
    return build_graph(company_table, link_table, version=1, taxonomy=load_taxonomy())


def default_graph() -> Graph:
    return from_frames(
        pl.read_csv(DEFAULT_SEED_GRAPH / "companies.csv", infer_schema=False),
        pl.read_csv(DEFAULT_SEED_GRAPH / "links.csv", infer_schema=False),
    )


def generated_graph() -> Graph:
    # Entity-listed buyers, user tags (recycling, re-export) and transshipment routes all occur.
    generated = generate_graph(companies=20_000, seed=5)
    return from_frames(generated.companies, generated.links)


def look_alike_graph() -> Graph:
    """Links alike in everything but the user's tags, or but their buyer's lists."""
    companies = pl.DataFrame(
        {
            "company_id": ["A", "B", "S1", "S2"],
            "name": ["A", "B", "S1", "S2"],
            "country": ["DE", "DE", "CN", "CN"],
            "lists": [None, ENTITY_LIST_CODE, None, None],
        }
    )
    links = pl.DataFrame(
        {
            "supplier_id": ["S1", "S2", "S1"],
            "buyer_id": ["A", "A", "B"],
            "hs_code": ["850511"] * 3,
            "annual_value_usd": ["1000"] * 3,
            "tags": [None, "recycling", None],
        }
    )
    return from_frames(companies, links)


@pytest.mark.parametrize("make", [default_graph, generated_graph, look_alike_graph])
def test_signatures_are_the_distinct_rows_of_the_definition(make: Callable[[], Graph]) -> None:
    graph = make()
    table, link_signature = graph_signatures(graph)
    per_link = link_signatures(graph)
    keys = list(SIGNATURE_KEYS)
    expected = per_link.unique(maintain_order=True).with_row_index("shipment")
    assert_frame_equal(table, expected)
    assert_frame_equal(table[link_signature].select(keys), per_link)
    assert np.unique(link_signature).size == table.height


def test_the_generated_graph_has_every_case_the_cheaper_key_stands_in_for() -> None:
    graph = generated_graph()
    table, _ = graph_signatures(graph)
    assert table["buyer_lists"].list.len().gt(0).any()
    assert table["transshipment"].any()
    assert graph.links["tags"].list.len().gt(0).any()  # user tags


def test_links_differing_only_in_user_tags_or_buyer_lists_have_signatures_of_their_own() -> None:
    table, link_signature = graph_signatures(look_alike_graph())
    assert table.height == 3
    assert sorted(link_signature.tolist()) == [0, 1, 2]
