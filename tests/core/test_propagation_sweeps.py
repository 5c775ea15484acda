"""Large graphs: the propagation solved by sweeps in supply order (supply_order.py), checked against a direct solve.

Graphs here have more companies than DIRECT_SOLVE_LIMIT, so `propagate` takes the sweep path; `tiers_used == 2`
(tiers 1 and 2 summed, the rest solved) shows it did, and the series path reports more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from graphs.generate import GeneratedGraph, generate_graph
from server.core import parallel, propagation, sweeps
from server.core.graph import Graph, build_graph
from server.core.propagation import (
    DIRECT_SOLVE_LIMIT,
    MAX_TIERS,
    TOLERANCE,
    input_shares,
    propagate,
    supply_order_of,
)
from server.core.supply_order import supply_order
from server.core.taxonomy import load_taxonomy
from server.core.validation import RowSource, validate_companies, validate_links

COMPANIES = DIRECT_SOLVE_LIMIT + 3_000


@cache
def frames() -> GeneratedGraph:
    return generate_graph(companies=COMPANIES, seed=11)


def generated(extra_links: pl.DataFrame | None = None) -> Graph:
    """A generated graph (layers, peers, scrap flowing back, tight loops) with `extra_links` appended."""
    links = frames().links if extra_links is None else pl.concat([frames().links, extra_links])
    companies = validate_companies(frames().companies, source=RowSource("companies"))
    table = validate_links(links, source=RowSource("links"), company_ids=companies["company_id"])
    return build_graph(companies, table, version=1, taxonomy=load_taxonomy())


@cache
def plain() -> Graph:
    return generated()


def exact(graph: Graph, direct: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """E = d + M E by sparse LU on the whole graph, from the links alone."""
    shares = input_shares(graph)
    count = graph.company_count
    matrix = sp.csc_array((shares * carry, (graph.buyer_array, graph.supplier_array)), shape=(count, count))
    given = np.bincount(graph.buyer_array, weights=shares * direct, minlength=count)
    solved: np.ndarray = spla.spsolve(sp.identity(count, format="csc") - matrix, given)
    return solved


@pytest.fixture(params=["dense", "sparse"])
def cluster_solvers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways a level part's clusters are solved: dense per-cluster inverses (every part at this size, whose
    clusters have a few members) or a sparse LU of the part."""
    if request.param == "sparse":
        monkeypatch.setattr(sweeps, "DENSE_CLUSTER_SIZE", 0)


@pytest.mark.usefixtures("cluster_solvers")
@pytest.mark.parametrize("carry_value", [0.9, 1.0])
def test_sweeps_reach_the_fixed_point_of_a_generated_graph(carry_value: float) -> None:
    graph = plain()
    rng = np.random.default_rng(5)
    direct = np.where(rng.random(graph.link_count) < 0.1, rng.random(graph.link_count), 0.0)
    carry = np.full(graph.link_count, carry_value)
    result = propagate(graph, direct, carry, shares=input_shares(graph))
    assert result.converged
    assert result.tiers_used == 2  # solved by sweeps, not summed tier by tier
    reference = exact(graph, direct, carry)
    assert np.abs(result.total - reference).max() <= TOLERANCE  # the stopping rule bounds the error left
    assert result.tier3_plus.sum() > 0
    assert result.tier3_plus.min() >= 0.0


def test_sweeps_solve_every_column_of_a_block_alike() -> None:
    graph = plain()
    rng = np.random.default_rng(6)
    block = np.where(rng.random((graph.link_count, 3)) < 0.05, rng.random((graph.link_count, 3)), 0.0)
    carry = np.full(graph.link_count, 0.8)
    result = propagate(graph, block, carry, shares=input_shares(graph))
    assert result.tiers_used == 2
    for column in range(3):
        assert np.abs(result.total[:, column] - exact(graph, block[:, column], carry)).max() <= 10 * TOLERANCE


@pytest.mark.parametrize("companies", [DIRECT_SOLVE_LIMIT // 2, COMPANIES])  # the series path, and the sweeps
def test_terms_given_per_signature_propagate_as_the_same_terms_given_per_link(companies: int) -> None:
    graph = plain() if companies == COMPANIES else _small()
    rng = np.random.default_rng(12)
    signatures = rng.integers(0, 40, graph.link_count).astype(np.uint32)
    block = np.where(rng.random((40, 3)) < 0.3, rng.random((40, 3)), 0.0)
    carry = rng.uniform(0.3, 0.9, 40)
    shares = input_shares(graph)
    by_signature = propagate(graph, block, carry, shares=shares, signatures=signatures)
    by_link = propagate(graph, block[signatures], carry[signatures], shares=shares)
    assert by_signature.tiers_used == by_link.tiers_used
    for part in ("total", "tier1", "tier2", "tier3_plus"):
        np.testing.assert_allclose(getattr(by_signature, part), getattr(by_link, part), rtol=1e-12, atol=1e-15)
    assert by_signature.total.min() >= 0.0
    assert by_signature.total.max() > 0.0


@pytest.mark.usefixtures("cluster_solvers")
def test_sweeps_on_one_thread_and_on_two_give_the_same_numbers_to_the_last_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = plain()
    rng = np.random.default_rng(9)
    block = np.where(rng.random((graph.link_count, 4)) < 0.05, rng.random((graph.link_count, 4)), 0.0)
    carry = np.full(graph.link_count, 0.8)
    threads: list[int] = []
    split = sweeps.split

    def counted(work: Callable[[int, int], float], *, abandon: Callable[[], None]) -> list[float]:
        changes = split(work, abandon=abandon)
        threads.append(len(changes))
        return changes

    monkeypatch.setattr(sweeps, "split", counted)
    two = propagate(graph, block, carry, shares=input_shares(graph))
    if parallel.HELPERS > 1:
        assert set(threads) == {2}
    threads.clear()
    monkeypatch.setattr(parallel, "_free_cores", threading.Semaphore(0))  # every core busy: one thread sweeps
    one = propagate(graph, block, carry, shares=input_shares(graph))
    assert set(threads) == {1}
    assert two.tiers_used == one.tiers_used == 2
    for part in ("total", "tier1", "tier2", "tier3_plus"):
        np.testing.assert_array_equal(getattr(two, part), getattr(one, part))


def test_terms_of_the_wrong_length_are_refused() -> None:
    graph = _small()
    shares = input_shares(graph)
    with pytest.raises(ValueError, match=f"direct has 3 rows for {graph.link_count} links"):
        propagate(graph, np.zeros(3), np.zeros(3), shares=shares)
    with pytest.raises(ValueError, match="carry has 2 rows for 3"):
        propagate(graph, np.zeros(3), np.zeros(2), shares=shares, signatures=np.zeros(graph.link_count, np.uint32))
    with pytest.raises(ValueError, match="row out of range"):
        propagate(graph, np.zeros(3), np.zeros(3), shares=shares, signatures=np.full(graph.link_count, 3, np.uint32))


@pytest.mark.parametrize("companies", [DIRECT_SOLVE_LIMIT // 2, COMPANIES])  # the series path, and the sweeps
def test_untiered_columns_have_the_same_totals_and_the_tiered_ones_the_same_tiers(companies: int) -> None:
    graph = plain() if companies == COMPANIES else _small()
    rng = np.random.default_rng(8)
    block = np.where(rng.random((graph.link_count, 4)) < 0.05, rng.random((graph.link_count, 4)), 0.0)
    carry = np.full(graph.link_count, 0.7)
    every = propagate(graph, block, carry, shares=input_shares(graph))
    first = propagate(graph, block, carry, shares=input_shares(graph), tiered=1)
    assert first.tier1.shape == first.tier2.shape == first.tier3_plus.shape == (graph.company_count, 1)
    for tier in ("tier1", "tier2", "tier3_plus"):
        np.testing.assert_allclose(getattr(first, tier), getattr(every, tier)[:, :1], rtol=0, atol=2 * TOLERANCE)
    # The untiered columns are solved for their total directly, the tiered one past its tier 2: both to TOLERANCE.
    np.testing.assert_allclose(first.total, every.total, rtol=0, atol=2 * TOLERANCE)
    assert first.total[:, 1:].max() > first.total[:, 1:].min() >= 0.0


@cache
def _small() -> Graph:
    small = generate_graph(companies=DIRECT_SOLVE_LIMIT // 2, seed=3)
    companies = validate_companies(small.companies, source=RowSource("companies"))
    table = validate_links(small.links, source=RowSource("links"), company_ids=companies["company_id"])
    return build_graph(companies, table, version=1, taxonomy=load_taxonomy())


def test_the_order_puts_every_strong_link_forward_and_levels_follow_the_forward_links() -> None:
    graph = plain()
    order = supply_order_of(graph)
    assert order is not None
    assert np.array_equal(np.sort(order.order), np.arange(graph.company_count))
    assert np.array_equal(order.order[order.position], np.arange(graph.company_count))
    level = np.repeat(np.arange(order.levels), np.diff(order.level_starts))[order.position]
    in_cluster = np.zeros(graph.company_count, dtype=bool)
    cluster_rows = [clusters.rows for clusters in order.cluster_levels.values()]
    in_cluster[order.order[np.concatenate(cluster_rows)]] = True
    assert in_cluster.any()  # the generated graph has tight loops, solved as clusters
    shares = input_shares(graph)
    supplier_level, buyer_level = level[graph.supplier_array], level[graph.buyer_array]
    backward = supplier_level >= buyer_level
    inside = backward & in_cluster[graph.supplier_array] & in_cluster[graph.buyer_array]
    # A strong link is never read from the previous sweep: it runs forward or inside a cluster.
    assert not np.any(backward & ~inside & (shares >= order.strong_share))
    assert shares[backward & ~inside].sum() < 0.1 * shares.sum()


def test_each_level_puts_first_the_companies_feeding_a_backward_link_and_their_suppliers() -> None:
    graph = plain()
    order = supply_order_of(graph)
    assert order is not None
    level = np.repeat(np.arange(order.levels), np.diff(order.level_starts))
    feeding = np.zeros(graph.company_count, dtype=bool)  # by position
    for start, end in order.parts()[::2]:
        feeding[start:end] = True
    cluster = -np.arange(1, graph.company_count + 1)  # by position: its cluster, or a number of its own
    for part, clusters in order.cluster_levels.items():
        cluster[clusters.rows] = part * graph.company_count + clusters.cluster_of_row
    supplier, buyer = order.position[graph.supplier_array], order.position[graph.buyer_array]
    backward = (level[supplier] >= level[buyer]) & (cluster[supplier] != cluster[buyer])
    assert backward.any()
    # What a sweep reads from the previous one is feeding, and so is everything a feeding company buys from.
    assert feeding[supplier[backward]].all()
    assert feeding[supplier[feeding[buyer]]].all()
    # The rest is most of a generated graph's brands: many companies are read by no sweep.
    assert 0.2 < (~feeding).mean() < 0.8


def closed_loop(*, exposed: bool) -> tuple[Graph, np.ndarray, np.ndarray]:
    """The generated graph plus two mines that buy only from each other; a duty on one of their links if
    `exposed`, and on one ordinary link either way; and which links form the loop."""
    first, second = sorted(set(frames().companies["company_id"]) - set(frames().links["buyer_id"]))[:2]
    loop = pl.DataFrame(
        {"supplier_id": [first, second], "buyer_id": [second, first], "hs_code": ["260111", "260111"]}
    ).with_columns(
        pl.lit(1_000.0).alias("annual_value_usd"),
        *(pl.lit(None, dtype=pl.String).alias(name) for name in ("origin_country", "route", "tags")),
    )
    graph = generated(loop.select(frames().links.columns))
    ids = graph.companies["company_id"]
    pair = np.isin(graph.supplier_array, [ids.index_of(first), ids.index_of(second)])
    in_loop = pair & np.isin(graph.buyer_array, [ids.index_of(first), ids.index_of(second)])
    duty = np.zeros(graph.link_count)
    duty[graph.link_count // 2] = 0.3
    if exposed:
        duty[np.flatnonzero(in_loop)[0]] = 0.1
    return graph, duty, in_loop


@pytest.mark.usefixtures("cluster_solvers")
def test_a_closed_loop_receiving_nothing_keeps_zero_and_the_rest_is_solved_by_sweeps() -> None:
    graph, duty, in_loop = closed_loop(exposed=False)
    result = propagate(graph, duty, np.ones(graph.link_count), shares=input_shares(graph))
    assert result.converged
    assert result.tiers_used == 2
    # The loop holds 0 whatever it passes on; a reference passing on half there is not singular.
    reference = exact(graph, duty, np.where(in_loop, 0.5, 1.0))
    assert np.abs(result.total - reference).max() <= 10 * TOLERANCE
    assert not result.total[graph.buyer_array[in_loop]].any()


@pytest.mark.usefixtures("cluster_solvers")
def test_a_closed_loop_receiving_a_duty_is_left_to_the_series_and_reported_as_not_converged() -> None:
    graph, duty, _ = closed_loop(exposed=True)
    result = propagate(graph, duty, np.ones(graph.link_count), shares=input_shares(graph))
    assert not result.converged
    assert result.tiers_used == MAX_TIERS


@pytest.mark.usefixtures("cluster_solvers")
def test_a_closed_loop_receiving_a_duty_leaves_every_other_company_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the loop's series stays cut. Everyone else is solved exactly given what the loop holds: by the sweeps,
    # with the loop's rows held at the cut (GCROT took 21.6 s of a 3M-company score), not by the Krylov solver.
    def no_krylov(*args: object, **kwargs: object) -> None:
        raise AssertionError("the remainder went to GCROT")

    monkeypatch.setattr(spla, "gcrotmk", no_krylov)
    graph, duty, in_loop = closed_loop(exposed=True)
    carry = np.ones(graph.link_count)
    result = propagate(graph, duty, carry, shares=input_shares(graph))
    assert not result.converged
    loop = np.zeros(graph.company_count, dtype=bool)
    loop[graph.buyer_array[in_loop]] = True
    assert result.total[loop].min() > 0
    reference = exact_given(graph, duty, carry, held=loop, values=result.total[loop])
    assert np.abs(result.total[~loop] - reference).max() <= 10 * TOLERANCE


def exact_given(
    graph: Graph, direct: np.ndarray, carry: np.ndarray, *, held: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """E = d + M E for the companies not `held`, by sparse LU, the held ones taking `values`."""
    shares = input_shares(graph)
    count = graph.company_count
    matrix = sp.csr_array((shares * carry, (graph.buyer_array, graph.supplier_array)), shape=(count, count))
    given = np.bincount(graph.buyer_array, weights=shares * direct, minlength=count)
    free = ~held
    inside = matrix[free][:, free].tocsc()
    right = given[free] + matrix[free][:, held] @ values
    solved: np.ndarray = spla.spsolve(sp.identity(inside.shape[0], format="csc") - inside, right)
    return solved


def test_a_block_is_left_to_the_series_when_any_column_reaches_a_closed_loop() -> None:
    # A block's columns are swept together; one column meeting a closed loop sends the whole block to the series,
    # and the columns that would have settled keep their exact values there too.
    graph, exposed, _ = closed_loop(exposed=True)
    _, quiet, in_loop = closed_loop(exposed=False)
    block = np.column_stack([quiet, exposed])
    carry = np.ones(graph.link_count)
    result = propagate(graph, block, carry, shares=input_shares(graph))
    assert not result.converged
    assert result.tiers_used == MAX_TIERS
    reference = exact(graph, quiet, np.where(in_loop, 0.5, 1.0))
    assert np.abs(result.total[:, 0] - reference).max() <= 10 * TOLERANCE


def test_a_revalued_version_takes_the_latest_order_exactly_when_it_would_build_the_same_one() -> None:
    graph = generated()  # its own caches: the shared `plain()` graph stays as built
    order = supply_order_of(graph)
    assert order is not None
    # Doubling every value leaves every share as it is: the order is taken, and it is what a build would give.
    same = graph.revalued(graph.value_array * 2.0, version=2)
    assert supply_order_of(same) is order
    indices, indptr, entry = propagation._supplier_pattern(same)
    strength = np.bincount(entry, weights=input_shares(same), minlength=indices.size)
    built = supply_order(indices, indptr, strength, entry=entry)
    assert built is not None
    for field in ("order", "level_starts", "feeding_ends", "indices", "link_entry", "bands"):
        assert np.array_equal(getattr(built, field), getattr(order, field)), field
    # A weak link made worth most of its buyer's inputs becomes strong: a new order, built for these values.
    shares = input_shares(graph)
    weak = int(np.flatnonzero((shares < 0.05) & (np.bincount(graph.buyer_array)[graph.buyer_array] > 3))[0])
    values = graph.value_array.copy()
    values[weak] *= 1_000.0
    changed = graph.revalued(values, version=3)
    new = supply_order_of(changed)
    assert new is not None
    assert new is not order
    assert not order.fits(input_shares(changed))
    assert order.fits(input_shares(same))
    result = propagate(
        changed, np.full(changed.link_count, 0.1), np.full(changed.link_count, 0.8), shares=input_shares(changed)
    )
    reference = exact(changed, np.full(changed.link_count, 0.1), np.full(changed.link_count, 0.8))
    assert np.abs(result.total - reference).max() <= TOLERANCE
