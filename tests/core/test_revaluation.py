"""Writes that only re-value links: the store keeps the compute form and its structural caches instead of
rebuilding, and the result is what a rebuild (and a restart) makes of the same record, number for number."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from server.config import DEFAULT_SEED_GRAPH
from server.core.graph import Graph, build_graph
from server.core.link_policy import carries, graph_signatures
from server.core.propagation import input_shares
from server.core.revaluation import revaluation
from server.core.scores import score_graph
from server.core.seeding import open_policy_store, open_store
from server.core.store import GraphStore
from server.core.validation import RowSource, validate_links

DAY = date(2026, 3, 16)


def raw_rows(graph: Graph, rows: list[int]) -> pl.DataFrame:
    """Links `rows` as a client would send them (file-style strings), values doubled."""
    return (
        graph.canonical_links()[rows]
        .with_columns(
            pl.col("annual_value_usd") * 2,
            pl.col("route").list.join(">"),
            pl.col("tags").list.join(";"),
        )
        .with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in ("route", "tags"))
    )


@pytest.fixture
def store(tmp_path: Path) -> GraphStore:
    return open_store(tmp_path, seed_graph=DEFAULT_SEED_GRAPH)


def test_a_write_that_only_revalues_keeps_the_structure_and_equals_a_rebuild(store: GraphStore, tmp_path: Path) -> None:
    before = store.graph
    signatures = graph_signatures(before)
    rare_earth = carries(before, "rare_earth", slice(None))
    rows = [0, 7, 300, before.link_count - 1]
    result = store.upsert_links(raw_rows(before, rows), source=RowSource("links"))
    after = store.graph
    assert (result.updated, result.created, after.version) == (4, 0, before.version + 1)
    # the structural caches came along (the same objects), values were derived again
    assert graph_signatures(after) is signatures
    assert np.array_equal(carries(after, "rare_earth", slice(None)), rare_earth)
    rebuilt = build_graph(
        after.canonical_companies(), after.canonical_links(), version=after.version, taxonomy=store.taxonomy
    )
    assert_frame_equal(after.links, rebuilt.links)
    assert_frame_equal(after.companies, rebuilt.companies)
    assert np.array_equal(input_shares(after), input_shares(rebuilt))
    assert np.array_equal(after.value_array[rows], 2 * before.value_array[rows])
    # scores equal those of the store reopened from its record (a restart rebuilds from snapshot and journal)
    policy = open_policy_store(tmp_path).snapshot.book.resolve("current")
    scored = score_graph(after, policy, on=DAY)
    store.close()
    reopened = open_store(tmp_path, seed_graph=None)
    try:
        assert reopened.graph.version == after.version
        # the reopened store derived its signatures afresh, and they are the ones the write carried over
        assert_frame_equal(graph_signatures(reopened.graph)[0], signatures[0])
        assert np.array_equal(graph_signatures(reopened.graph)[1], signatures[1])
        assert_frame_equal(score_graph(reopened.graph, policy, on=DAY).companies, scored.companies)
    finally:
        reopened.close()


def test_the_same_fields_with_new_values_are_a_revaluation(store: GraphStore) -> None:
    graph = store.graph
    values = revaluation(graph, validated(graph, raw_rows(graph, [3, 4])))
    assert values is not None
    assert np.array_equal(values[[3, 4]], 2 * graph.value_array[[3, 4]])
    assert np.array_equal(np.delete(values, [3, 4]), np.delete(graph.value_array, [3, 4]))


@pytest.mark.parametrize(
    ("column", "value"),
    [("origin_country", "VN"), ("route", "CN>MX"), ("tags", "rare_earth"), ("hs_code", "9999.99")],
)
def test_changing_anything_but_the_value_is_not_a_revaluation(store: GraphStore, column: str, value: str) -> None:
    graph = store.graph
    changed = raw_rows(graph, [2, 3]).with_columns(
        pl.when(pl.int_range(2) == 1).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    assert revaluation(graph, validated(graph, changed)) is None


def validated(graph: Graph, rows: pl.DataFrame) -> pl.DataFrame:
    return validate_links(rows, source=RowSource("links"), company_ids=graph.companies["company_id"])
