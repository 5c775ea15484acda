"""The compiled sparse-times-dense loop (`_kernels.pyx`) and its two-core wrapper (`products.py`), against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from server.core import products
from server.core._kernels import rows_times, store


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


@pytest.mark.parametrize("split_rows", [1, 10_000])
@pytest.mark.parametrize("columns", [1, 6])
def test_a_scattered_product_puts_each_row_where_it_is_sent(
    monkeypatch: pytest.MonkeyPatch, split_rows: int, columns: int
) -> None:
    monkeypatch.setattr(products, "SPLIT_ROWS", split_rows)
    matrix = _random_matrix(5_000, 3_000, index_type=np.int64, seed=4)
    block = np.random.default_rng(5).random((3_000, columns))
    scatter = np.random.default_rng(6).permutation(5_000).astype(np.int32)
    expected = np.empty((5_000, columns))
    expected[scatter] = matrix @ block
    np.testing.assert_allclose(products.times(matrix, block, scatter=scatter), expected, rtol=1e-13)


@pytest.mark.parametrize("scatter", [np.array([0, 1, 3]), np.array([0, -1, 2]), np.array([0, 1])])
def test_a_scatter_outside_the_result_is_refused(scatter: np.ndarray) -> None:
    matrix = _random_matrix(3, 4, index_type=np.int32, seed=0)
    with pytest.raises(ValueError, match="scatter is not 3 rows"):
        products.times(matrix, np.zeros((4, 2)), scatter=scatter)
