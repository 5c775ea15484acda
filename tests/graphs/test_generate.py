"""Behaviour of the synthetic supplier-graph generator (graphs/generate.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import pycountry
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from graphs.generate import (
    RECYCLING_HS_CODE,
    TRANSIT_HUB_WEIGHTS,
    GeneratedGraph,
    draw_tier_layout,
    generate_graph,
    write_graph,
)
from server.core.schema import FILE_COMPANY_SCHEMA, FILE_LINK_SCHEMA

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPANIES = 2_000
LINKS_PER_COMPANY = 5.0
SEED = 7
ISO_ALPHA2 = frozenset(country.alpha_2 for country in pycountry.countries)


@pytest.fixture(scope="module")
def graph() -> GeneratedGraph:
    return generate_graph(companies=COMPANIES, links_per_company=LINKS_PER_COMPANY, seed=SEED)


def check_hard_guarantees(graph: GeneratedGraph) -> None:
    """Assert every rule of docs/data-format.md that the service refuses a file for."""
    companies, links = graph.companies, graph.links
    assert companies.schema == FILE_COMPANY_SCHEMA
    assert links.schema == FILE_LINK_SCHEMA

    assert companies["company_id"].is_unique().all()
    assert companies["company_id"].str.contains(r"^[A-Za-z0-9._:-]{1,128}$").all()
    assert (companies["name"].str.strip_chars().str.len_chars() > 0).all()
    assert (companies["name"].str.len_chars() <= 512).all()
    assert set(companies["country"].to_list()) <= ISO_ALPHA2
    assert companies["lists"].drop_nulls().str.contains(r"^[A-Z][A-Z0-9_]{0,63}(;[A-Z][A-Z0-9_]{0,63})*$").all()

    known = companies["company_id"]
    assert links["supplier_id"].is_in(known.implode()).all()
    assert links["buyer_id"].is_in(known.implode()).all()
    assert (links["supplier_id"] != links["buyer_id"]).all()
    assert not links.select("supplier_id", "buyer_id", "hs_code").is_duplicated().any()
    assert links["hs_code"].str.contains(r"^[0-9]{4,10}$").all()
    values = links["annual_value_usd"]
    assert values.null_count() == 0
    assert values.is_finite().all()
    assert (values >= 0).all()
    assert set(links["origin_country"].drop_nulls().to_list()) <= ISO_ALPHA2
    route_countries = links["route"].drop_nulls().str.split(">").explode()
    assert set(route_countries.to_list()) <= ISO_ALPHA2
    assert links["tags"].drop_nulls().str.contains(r"^[a-z][a-z0-9_]{0,63}(;[a-z][a-z0-9_]{0,63})*$").all()


def with_countries(graph: GeneratedGraph) -> pl.DataFrame:
    """Return the links with the supplier's and buyer's countries joined on."""
    countries = graph.companies.select("company_id", "country")
    return graph.links.join(
        countries.rename({"company_id": "supplier_id", "country": "supplier_country"}), on="supplier_id"
    ).join(countries.rename({"company_id": "buyer_id", "country": "buyer_country"}), on="buyer_id")


def test_same_seed_gives_identical_frames(graph: GeneratedGraph) -> None:
    again = generate_graph(companies=COMPANIES, links_per_company=LINKS_PER_COMPANY, seed=SEED)
    assert_frame_equal(graph.companies, again.companies)
    assert_frame_equal(graph.links, again.links)


def test_different_seeds_give_different_graphs(graph: GeneratedGraph) -> None:
    other = generate_graph(companies=COMPANIES, links_per_company=LINKS_PER_COMPANY, seed=SEED + 1)
    assert not graph.links.equals(other.links)
    assert not graph.companies.equals(other.companies)


def test_generated_graph_meets_the_data_format(graph: GeneratedGraph) -> None:
    check_hard_guarantees(graph)


def test_company_ids_are_fixed_width_and_names_synthetic(graph: GeneratedGraph) -> None:
    assert graph.companies["company_id"].head(2).to_list() == ["C0000001", "C0000002"]
    assert graph.companies["company_id"].str.len_chars().n_unique() == 1
    assert graph.companies["name"].str.contains(r"^Synthetic Co [0-9]+$").all()


def test_link_count_is_slightly_below_requested(graph: GeneratedGraph) -> None:
    requested = COMPANIES * LINKS_PER_COMPANY
    assert 0.9 * requested <= graph.links.height <= requested


def test_graph_contains_two_and_longer_cycles(graph: GeneratedGraph) -> None:
    network = nx.DiGraph(graph.links.select("supplier_id", "buyer_id").rows())
    cycles = list(nx.simple_cycles(network, length_bound=3))
    assert {len(cycle) for cycle in cycles} >= {2, 3}


def test_recycling_links_run_upstream_and_the_rest_downstream(graph: GeneratedGraph) -> None:
    tiers = pl.Series(draw_tier_layout(np.random.default_rng(SEED), companies=COMPANIES).tiers)
    tier_by_id = pl.DataFrame({"company_id": graph.companies["company_id"], "tier": tiers})
    links = graph.links.join(
        tier_by_id.rename({"company_id": "supplier_id", "tier": "supplier_tier"}), on="supplier_id"
    ).join(tier_by_id.rename({"company_id": "buyer_id", "tier": "buyer_tier"}), on="buyer_id")
    recycling = pl.col("hs_code") == RECYCLING_HS_CODE
    steps = links.select(
        downstream=(pl.col("supplier_tier") < pl.col("buyer_tier")).filter(~recycling).mean(),
        next_tier=(pl.col("buyer_tier") - pl.col("supplier_tier") == 1).filter(~recycling).mean(),
        upstream_recycling=(pl.col("supplier_tier") >= pl.col("buyer_tier")).filter(recycling).mean(),
    ).row(0, named=True)
    assert steps["downstream"] > 0.9
    assert steps["next_tier"] > 0.8
    assert steps["upstream_recycling"] > 0.9


def test_top_percent_of_suppliers_carry_a_large_share_of_links(graph: GeneratedGraph) -> None:
    buyers_per_supplier = graph.links["supplier_id"].value_counts(sort=True)["count"]
    top = max(1, buyers_per_supplier.len() // 100)
    assert buyers_per_supplier.head(top).sum() / graph.links.height > 0.1


def test_routed_links_ship_through_a_third_country_hub(graph: GeneratedGraph) -> None:
    routed = with_countries(graph).filter(pl.col("route").is_not_null() & pl.col("tags").is_null())
    parts = routed["route"].str.split(">")
    assert routed.height > 0
    assert (routed["origin_country"] == routed["supplier_country"]).all()
    assert (parts.list.first() == routed["supplier_country"]).all()
    assert (parts.list.last() == routed["buyer_country"]).all()
    hubs = parts.list.get(1)
    assert hubs.is_in(list(TRANSIT_HUB_WEIGHTS)).all()
    assert ((hubs != routed["supplier_country"]) & (hubs != routed["buyer_country"])).all()


def test_resold_links_carry_a_foreign_origin_through_the_reseller(graph: GeneratedGraph) -> None:
    resold = with_countries(graph).filter(pl.col("tags") == "reexport")
    assert resold.height > 0
    assert resold["supplier_country"].is_in(list(TRANSIT_HUB_WEIGHTS)).all()
    assert (resold["origin_country"] != resold["supplier_country"]).all()
    assert (resold["origin_country"] == "CN").sum() > 0.5 * resold.height
    assert (resold["route"].str.split(">").list.first() == resold["origin_country"]).all()


def test_entity_listed_companies_are_few_and_mostly_chinese(graph: GeneratedGraph) -> None:
    listed = graph.companies.filter(pl.col("lists") == "US_ENTITY_LIST")
    assert 0 < listed.height < 0.05 * COMPANIES
    assert listed["country"].is_in(["CN", "HK"]).sum() > 0.5 * listed.height


def test_zero_links_per_company_gives_empty_typed_links() -> None:
    graph = generate_graph(companies=10, links_per_company=0, seed=0)
    assert graph.links.height == 0
    check_hard_guarantees(graph)


@pytest.mark.parametrize(
    ("companies", "links_per_company"), [(4, 5.0), (-1, 5.0), (10, -1.0), (10, float("nan")), (10, float("inf"))]
)
def test_out_of_range_sizes_are_refused(companies: int, links_per_company: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        generate_graph(companies=companies, links_per_company=links_per_company, seed=0)


def test_write_graph_round_trips_through_parquet(graph: GeneratedGraph, tmp_path: Path) -> None:
    companies_path, links_path = write_graph(graph, tmp_path / "out")
    assert (companies_path.name, links_path.name) == ("companies.parquet", "links.parquet")
    assert_frame_equal(pl.read_parquet(companies_path), graph.companies)
    assert_frame_equal(pl.read_parquet(links_path), graph.links)


def test_cli_writes_the_graph_and_prints_a_summary(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "graphs.generate", "--companies", "300", "--seed", "3", "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120)
    expected = generate_graph(companies=300, seed=3)
    assert result.stdout.count("\n") == 1
    assert f"300 companies, {expected.links.height} links" in result.stdout
    assert_frame_equal(pl.read_parquet(tmp_path / "links.parquet"), expected.links)
    assert_frame_equal(pl.read_parquet(tmp_path / "companies.parquet"), expected.companies)


@settings(max_examples=25, deadline=None)
@given(
    companies=st.integers(min_value=5, max_value=400),
    links_per_company=st.floats(min_value=0, max_value=8),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_small_graph_meets_the_data_format(companies: int, links_per_company: float, seed: int) -> None:
    check_hard_guarantees(generate_graph(companies=companies, links_per_company=links_per_company, seed=seed))
