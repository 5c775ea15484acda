"""The compiled sparse-times-dense loop (`_kernels.pyx`) and its two-core wrapper (`products.py`), against SciPy."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from server.core import products
from server.core._kernels import ABANDONED, link_sums, links_times, rows_times, store, sweep


def _random_matrix(rows: int, columns: int, *, index_type: type, seed: int) -> sp.csr_array:
    matrix = sp.random_array((rows, columns), density=0.01, format="csr", rng=seed)
    # SciPy picks int32 at this size: the loop is compiled for both index types.
    return sp.csr_array(
        (matrix.data, matrix.indices.astype(index_type), matrix.indptr.astype(index_type)), shape=matrix.shape
    )


@pytest.mark.parametrize("index_type", [np.int32, np.int64])
@pytest.mark.parametrize("columns", [0, 1, 3, 10, 70])
def test_times_equals_scipys_product(index_type: type, columns: int) -> None:
    matrix = _random_matrix(3_000, 2_000, index_type=index_type, seed=columns)
    block = np.random.default_rng(1).random((2_000, columns))
    np.testing.assert_allclose(products.times(matrix, block), matrix @ block, rtol=1e-13, atol=1e-15)


def test_a_block_of_another_shape_is_refused() -> None:
    matrix = _random_matrix(30, 20, index_type=np.int32, seed=0)
    with pytest.raises(ValueError, match="block of 21 rows"):
        products.times(matrix, np.zeros((21, 2)))


@pytest.mark.parametrize("split_rows", [1, 10_000])  # two halves on two cores, and one range on one
def test_a_range_of_rows_adds_what_is_given(monkeypatch: pytest.MonkeyPatch, split_rows: int) -> None:
    monkeypatch.setattr(products, "SPLIT_ROWS", split_rows)
    matrix = _random_matrix(5_000, 5_000, index_type=np.int32, seed=2)
    rng = np.random.default_rng(3)
    block, given = rng.random((5_000, 4)), rng.random((5_000, 4))
    out = np.full((1_500, 4), np.nan)
    products.rows_plus(matrix, block, out, first=2_000, given=given)
    np.testing.assert_allclose(out, (given + matrix @ block)[2_000:3_500], rtol=1e-13)


def test_rows_outside_the_matrix_are_refused() -> None:
    matrix = _random_matrix(30, 30, index_type=np.int32, seed=0)
    with pytest.raises(ValueError, match="outside the matrix"):
        rows_times(matrix.indptr, matrix.indices, matrix.data, np.zeros((30, 2)), np.zeros((5, 2)), 26)


def test_store_writes_the_rows_and_returns_the_largest_change() -> None:
    solution = np.zeros((6, 2))
    values = np.array([[0.5, -0.25], [0.0, 2.0]])
    assert store(values, solution, 3) == 2.0
    np.testing.assert_array_equal(solution[3:5], values)
    assert not solution[[0, 1, 2, 5]].any()
    assert store(values, solution, 3) == 0.0


def _links(buyers: int, *, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Row pointers of each buyer's links (some buy nothing), their shares, and the link count."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 6, buyers)
    indptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return indptr, rng.random(int(indptr[-1])), int(indptr[-1])


def _expected_gather(indptr: np.ndarray, shares: np.ndarray, per_link: np.ndarray) -> np.ndarray:
    buyers = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    gather = sp.csr_array((shares, (buyers, np.arange(shares.size))), shape=(indptr.size - 1, shares.size))
    expected: np.ndarray = gather @ per_link
    return expected


@pytest.mark.parametrize("row_type", [np.uint32, np.int64])
@pytest.mark.parametrize("columns", [1, 7])
def test_links_times_gathers_per_signature_terms_to_the_buyers_where_scattered(row_type: type, columns: int) -> None:
    indptr, shares, links = _links(2_000, seed=columns)
    rng = np.random.default_rng(8)
    per_row = rng.random((300, columns))
    per_row[::3] = 0.0  # rows without a term are skipped, as `live` says
    row = rng.integers(0, 300, links).astype(row_type)
    live = per_row.any(axis=1).view(np.uint8)
    scatter = rng.permutation(2_000).astype(np.int32)
    out = np.full((2_000, columns), np.nan)
    links_times(indptr, shares, per_row, live, out, row, scatter)
    expected = np.empty((2_000, columns))
    expected[scatter] = _expected_gather(indptr, shares, per_row[row])
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    unscattered = np.full((2_000, columns), np.nan)
    links_times(indptr, shares, per_row, np.ones(300, dtype=np.uint8), unscattered, row, None, 0, 777)
    np.testing.assert_allclose(unscattered[:777], expected[scatter][:777], rtol=1e-13)
    assert np.isnan(unscattered[777:]).all()  # only the buyers asked for


def test_links_times_skips_what_live_says_is_zero() -> None:
    indptr, shares = np.array([0, 2]), np.array([0.5, 0.5])
    per_row = np.array([[1.0], [3.0]])
    out = np.empty((1, 1))
    links_times(indptr, shares, per_row, np.array([1, 0], dtype=np.uint8), out, np.array([0, 1], dtype=np.int64))
    assert out[0, 0] == 0.5


def test_link_sums_adds_each_links_weighted_term_into_its_entry() -> None:
    indptr, shares, links = _links(3_000, seed=9)
    rng = np.random.default_rng(10)
    entry = rng.integers(0, links // 2, links).astype(np.int32)  # several links share an entry
    per_row, row = rng.random(50), rng.integers(0, 50, links).astype(np.uint32)
    out = np.zeros(links // 2)
    link_sums(indptr, entry, shares, per_row, out, row)
    expected = np.bincount(entry, weights=shares * per_row[row], minlength=links // 2)
    np.testing.assert_allclose(out, expected, rtol=1e-13)
    by_link = np.zeros(links // 2)
    link_sums(indptr, entry, shares, per_row[row], by_link)  # one row per link
    np.testing.assert_allclose(by_link, expected, rtol=1e-13)
    halves = np.zeros(links // 2)
    link_sums(indptr, entry, shares, per_row, halves, row, 0, 1_234)
    link_sums(indptr, entry, shares, per_row, halves, row, 1_234, 3_000)
    np.testing.assert_allclose(halves, expected, rtol=1e-13)


def test_rows_or_entries_outside_their_arrays_are_refused_naming_the_link() -> None:
    indptr, shares = np.array([0, 1, 3]), np.ones(3)
    row = np.array([0, 1, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="link 2: row out of range"):
        links_times(indptr, shares, np.ones((2, 1)), np.ones(2, dtype=np.uint8), np.empty((2, 1)), row)
    with pytest.raises(ValueError, match="link 2: entry or row out of range"):
        link_sums(indptr, np.array([0, 1, 1], dtype=np.int32), shares, np.ones(2), np.empty(2), row)
    with pytest.raises(ValueError, match="link 1: entry or row out of range"):
        link_sums(indptr, np.array([0, 2, 1], dtype=np.int32), shares, np.ones(3), np.empty(2))
    with pytest.raises(ValueError, match=r"buyers 1\.\.3 outside the 2"):
        link_sums(indptr, np.zeros(3, np.int32), shares, np.ones(3), np.empty(1), None, 1, 3)
    with pytest.raises(ValueError, match="scatter row out of range"):
        links_times(
            indptr, shares, np.ones((3, 1)), np.ones(3, dtype=np.uint8), np.empty((2, 1)), None, np.array([0, 2])
        )


def _cluster_blocks(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat inside and inverse blocks, their offsets and the member pointers of clusters with matrices `blocks`."""
    sizes = np.array([block.shape[0] for block in blocks])
    inside = np.concatenate([block.ravel() for block in blocks])
    inverse = np.concatenate([np.linalg.inv(np.eye(block.shape[0]) - block).ravel() for block in blocks])
    offsets = np.concatenate(([0], np.cumsum(sizes**2)))[:-1].astype(np.int64)
    return inside, inverse, offsets, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _sweep_case(seed: int) -> dict[str, np.ndarray]:
    """A matrix of 40 rows in three parts (0..16, 16..24 with two clusters, 24..40) and everything a sweep reads."""
    rng = np.random.default_rng(seed)
    matrix = sp.random_array((40, 40), density=0.15, format="csr", rng=seed) * 0.1
    blocks = [rng.random((3, 3)) * 0.3, rng.random((2, 2)) * 0.4]
    positions = np.array([18, 16, 17, 22, 19], dtype=np.int64)  # any rows of the part, by cluster
    inside, inverse, offsets, starts = _cluster_blocks(blocks)
    dense = matrix.toarray()
    for c, block in enumerate(blocks):  # the clusters' entries are M's too
        members = positions[starts[c] : starts[c + 1]]
        dense[np.ix_(members, members)] = block
    matrix = sp.csr_array(dense)
    parts = np.array([[0, 9, 16, 0, 0], [16, 20, 24, 0, 2], [24, 30, 40, 2, 2]], dtype=np.int64)
    return {
        "matrix": matrix,
        "dense": dense,
        "blocks": blocks,
        "positions": positions,
        "starts": starts,
        "offsets": offsets,
        "inverse": inverse,
        "inside": inside,
        "parts": parts,
        "given": rng.random((40, 3)),
        "solution": rng.random((40, 3)),
    }


def _run_sweep(case: dict[str, np.ndarray], solution: np.ndarray, *, threads: int, closed: np.ndarray) -> float:
    """One sweep over the case's parts, on `threads` threads at once."""
    matrix = case["matrix"]
    state = np.zeros(3, dtype=np.int64)
    values = np.empty((16, 3))
    scratch = np.empty((2, 3 * (1 + 2 * 3)))
    changes: list[float] = [0.0] * threads

    def share(me: int) -> None:
        changes[me] = sweep(
            matrix.indptr, matrix.indices, matrix.data, solution, case["given"], values, case["parts"],
            case["positions"], case["starts"], case["offsets"], case["inverse"], case["inside"], closed,
            scratch, state, me, threads,
        )  # fmt: skip

    helpers = [threading.Thread(target=share, args=(me,)) for me in range(1, threads)]
    for helper in helpers:
        helper.start()
    share(0)
    for helper in helpers:
        helper.join()
    assert len(set(changes)) == 1 or min(changes) >= 0
    return -1.0 if min(changes) < 0 else max(changes)


def test_a_sweep_computes_each_part_from_the_rows_stored_before_it_and_solves_its_clusters() -> None:
    case = _sweep_case(11)
    dense, given, last = case["dense"], case["given"], case["solution"]
    expected = last.copy()
    expected[:16] = given[:16] + dense[:16] @ expected  # Jacobi inside a part, Gauss-Seidel from part to part
    updated = given[16:24] + dense[16:24] @ expected
    starts = case["starts"]
    for c, block in enumerate(case["blocks"]):  # the product counted C at the last values: x = (I - C)^-1 (t - C last)
        members = case["positions"][starts[c] : starts[c + 1]]
        outside = updated[members - 16] - block @ last[members]
        updated[members - 16] = np.linalg.solve(np.eye(len(members)) - block, outside)
    expected[16:24] = updated
    expected[24:] = given[24:] + dense[24:] @ expected
    solved = {}
    for threads in (1, 2):
        solution = last.copy()
        change = _run_sweep(case, solution, threads=threads, closed=np.zeros(2, np.uint8))
        np.testing.assert_allclose(solution, expected, rtol=1e-12)
        assert change == pytest.approx(np.abs(expected - last).max(), rel=1e-12)
        solved[threads] = solution
    np.testing.assert_array_equal(solved[1], solved[2])  # who computed a row changes nothing, to the last bit


def test_a_sweep_stops_on_both_threads_when_a_closed_cluster_receives() -> None:
    case = _sweep_case(12)
    closed = np.array([0, 1], np.uint8)
    for threads in (1, 2):
        assert _run_sweep(case, case["solution"].copy(), threads=threads, closed=closed) == -1.0
    quiet = dict(case, given=np.zeros((40, 3)))  # nothing enters anywhere: the closed cluster holds its zeros
    assert _run_sweep(quiet, np.zeros((40, 3)), threads=2, closed=closed) == 0.0


def test_a_sweep_whose_other_thread_never_comes_returns_once_abandoned() -> None:
    case = _sweep_case(13)
    matrix = case["matrix"]
    state = np.zeros(3, dtype=np.int64)
    changes: list[float] = []

    def alone() -> None:  # thread 0 of 2, whose partner never starts
        change = sweep(
            matrix.indptr, matrix.indices, matrix.data, case["solution"], case["given"], np.empty((16, 3)),
            case["parts"], case["positions"], case["starts"], case["offsets"], case["inverse"], case["inside"],
            np.zeros(2, np.uint8), np.empty((2, 21)), state, 0, 2,
        )  # fmt: skip
        changes.append(change)

    waiting = threading.Thread(target=alone, daemon=True)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # it waits at its first meeting
    state[2] = ABANDONED
    waiting.join(5)
    assert not waiting.is_alive()
    assert changes == [-1.0]


def test_a_sweep_refuses_a_cluster_member_outside_its_part() -> None:
    case = _sweep_case(14)
    matrix = case["matrix"]
    parts = case["parts"].copy()
    parts[1, 2] = 20  # the second part ends before its cluster member at 22
    parts[2, 0] = 20
    with pytest.raises(ValueError, match="cluster 1: a member outside its part"):
        sweep(
            matrix.indptr, matrix.indices, matrix.data, case["solution"], case["given"], np.empty((20, 3)), parts,
            case["positions"], case["starts"], case["offsets"], case["inverse"], case["inside"],
            np.zeros(2, np.uint8), np.empty((2, 21)), np.zeros(3, np.int64), 0, 1,
        )  # fmt: skip
