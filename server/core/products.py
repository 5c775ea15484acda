"""Sparse rows times a dense block of columns, on two cores: every product of the propagation but the sweeps' (which
run whole in one compiled call per thread: sweeps.py) goes through here.

The loop itself is compiled (`_kernels.pyx`, which says why it is not SciPy's) and runs without the GIL, so the
two halves of a long range of rows run at once while a core is free (`parallel.both`). Splitting by rows keeps
each half's K sums per row together; splitting the block's columns instead costs more in all (at 1M companies,
51 ms for 5 columns against 69 ms for 10).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from server.core._kernels import rows_times
from server.core.parallel import both

# Rows below which a range stays on one core: handing half of it to a helper costs about 50 us.
SPLIT_ROWS = 4_096


def times(matrix: sp.csr_array, block: np.ndarray) -> np.ndarray:
    """matrix @ block, for a block of matrix.shape[1] rows and any number of columns."""
    rows = matrix.shape[0]
    out = np.empty((rows, block.shape[1]))
    block = np.ascontiguousarray(block, dtype=np.float64)
    _check(matrix, block)
    halves(matrix.indptr, 0, rows, lambda start, end: rows_times(*_csr(matrix), block, out[start:end], start))
    return out


def rows_plus(
    matrix: sp.csr_array, block: np.ndarray, out: np.ndarray, *, first: int, given: np.ndarray | None = None
) -> None:
    """out = given[first:first + len(out)] + (matrix @ block)[first:first + len(out)], without the rows outside
    (`given` None: 0). `block`, `out` and `given`: C-ordered float64; `block` has matrix.shape[1] rows."""
    _check(matrix, block)
    halves(
        matrix.indptr,
        first,
        out.shape[0],
        lambda start, end: rows_times(*_csr(matrix), block, out[start - first : end - first], start, given),
    )


def _check(matrix: sp.csr_array, block: np.ndarray) -> None:
    # The compiled loop reads block rows by the matrix's column indices without a bounds check.
    if block.shape[0] != matrix.shape[1]:
        raise ValueError(f"a {matrix.shape} matrix times a block of {block.shape[0]} rows")


def _csr(matrix: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return matrix.indptr, matrix.indices, matrix.data


def halves(pointers: np.ndarray, first: int, rows: int, work: Callable[[int, int], None]) -> None:
    """work(start, end) over the rows first..first + rows of a CSR structure (row `pointers`), in two halves of
    equal entries on two cores when long."""
    if rows < SPLIT_ROWS:
        work(first, first + rows)
        return
    # Halves of equal work, not of equal rows: in supply order a level's first rows buy more (1.3x the links of
    # its second half at 1M companies), and the core with the lighter half would wait for the other.
    halfway = (int(pointers[first]) + int(pointers[first + rows])) // 2
    middle = first + min(max(int(np.searchsorted(pointers[first : first + rows + 1], halfway)), 1), rows - 1)
    both(lambda: work(first, middle), lambda: work(middle, first + rows))
