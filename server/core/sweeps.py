"""Sweeps in supply order: how `propagate` solves (I - M) E = d above DIRECT_SOLVE_LIMIT companies.

Block Gauss-Seidel over the levels of a supply order (supply_order.py): each level's rows are computed from their
suppliers' current values (this sweep's for the earlier levels, the last sweep's for the few backward links), the
tight loops ("clusters") of each level part solved exactly, until the sweeps settle within TOLERANCE. The columns of
a block are independent systems over one matrix, swept at once.

A sweep runs in one compiled call per thread (`_kernels.sweep`): two threads, one per core while a core is free
(`parallel.split`), each take their half of every part's rows (halves of equal links) and meet after the products,
the clusters and the stores, so every part reads only stored rows and the answer does not depend on who computed
what. Fixed halves rather than chunks claimed as they come: chunks (taken from both ends, 128 or 512 rows) would
let a thread slowed by other work do less, but the export-control what-if's sweeps at 1M companies took 254-266 ms
with 512-row chunks against 238-255 ms with halves (alternating rounds of 10, the slowest two of each left out).
Only a part with a cluster too large for a dense inverse goes through Python (a sparse LU), between compiled runs of
the other parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from server.core._kernels import ABANDONED, store, sweep
from server.core.cancellation import Check
from server.core.parallel import split
from server.core.products import rows_plus
from server.core.supply_order import ClusterLevel, SupplyOrder

TOLERANCE = 1e-10  # absolute, on exposures in [0, 1]: far below any figure reported
MAX_TIERS = 64
# A company passing on at least this share of what it receives (row sum of M) passes on everything: rounding.
PASSES_EVERYTHING = 1.0 - 1e-12
DENSE_CLUSTER_SIZE = 64  # clusters of a level part up to this many members each: dense inverses, else a sparse LU
# Rows of a part below which one thread computes it all (the threads meet after it all the same: 0.17 us a meeting,
# from 100,000 one-row parts swept by two threads and by one): a few rows are not worth two threads writing into
# the same cache lines.
SPLIT_ROWS = 64


class Sweeps:
    """Sweeps over `matrix` (M in supply `order`), level part by level part (`SupplyOrder.parts`)."""

    def __init__(self, order: SupplyOrder, matrix: sp.csr_array) -> None:
        self._matrix = matrix
        parts = np.array(order.parts(), dtype=np.int64).reshape(-1, 2)
        sparse = {
            part: clusters
            for part, clusters in order.cluster_levels.items()
            if clusters.blocks.members.max(initial=0) > DENSE_CLUSTER_SIZE
        }
        self._sparse = {part: _sparse_clusters(clusters, matrix.data) for part, clusters in sparse.items()}
        dense = {part: clusters for part, clusters in order.cluster_levels.items() if part not in sparse}
        self._clusters, cluster_bounds = _dense_clusters(dense, parts.shape[0], matrix.data)
        starts, ends = parts[:, 0], parts[:, 1]
        halfway = (matrix.indptr[starts].astype(np.int64) + matrix.indptr[ends]) // 2
        middle = np.clip(np.searchsorted(matrix.indptr, halfway), starts, ends)
        middle = np.where(ends - starts < SPLIT_ROWS, ends, middle)
        self._table = np.column_stack([starts, middle, ends, cluster_bounds[:-1], cluster_bounds[1:]])
        # The feeding parts (even) are swept until they settle, the others (odd) computed once.
        self._feeding, self._rest = self._runs(range(0, len(parts), 2)), self._runs(range(1, len(parts), 2))
        self._widest = int((ends - starts).max(initial=0))

    def solve(self, given: np.ndarray, *, check: Check) -> np.ndarray | None:
        """R with (I - M) R = `given` (rows in supply order, C-ordered float64; left as it is): the solution in supply
        order, or None when the sweeps do not settle within `MAX_TIERS`, or a closed loop (a cluster passing on
        everything) receives anything: then the series, which can tell those apart, takes over."""
        solution = np.zeros_like(given)
        values = np.empty((self._widest, given.shape[1]))
        widest_cluster = int(self._clusters.members.max(initial=0))
        scratch = np.empty((2, given.shape[1] * (1 + 2 * widest_cluster)))
        changes: list[float] = []
        for _ in range(MAX_TIERS):
            check()
            change = self._compute(self._feeding, given, solution, values, scratch)
            if change is None:
                return None
            changes.append(change)
            if _settled(changes):
                # What the feeding rows settled on is all the others read: one pass computes them.
                if self._compute(self._rest, given, solution, values, scratch) is None:
                    return None
                return solution
        return None

    def _runs(self, parts: range) -> list[np.ndarray | int]:
        """`parts` in order, as runs of consecutive parts for the compiled sweep (rows of the part table) and the
        single parts whose clusters need a sparse LU."""
        runs: list[np.ndarray | int] = []
        pending: list[int] = []
        for part in parts:
            if part in self._sparse:
                if pending:
                    runs.append(np.ascontiguousarray(self._table[pending]))
                pending = []
                runs.append(part)
            else:
                pending.append(part)
        if pending:
            runs.append(np.ascontiguousarray(self._table[pending]))
        return runs

    def _compute(
        self,
        runs: list[np.ndarray | int],
        given: np.ndarray,
        solution: np.ndarray,
        values: np.ndarray,
        scratch: np.ndarray,
    ) -> float | None:
        """Each run in turn, from the current solution: the largest change, or None if a closed loop received
        anything."""
        change = 0.0
        for run in runs:
            done = (
                self._sparse_part(run, given, solution, values)
                if isinstance(run, int)
                else self._sweep(run, given, solution, values, scratch)
            )
            if done is None:
                return None
            change = max(change, done)
        return change

    def _sweep(
        self, table: np.ndarray, given: np.ndarray, solution: np.ndarray, values: np.ndarray, scratch: np.ndarray
    ) -> float | None:
        matrix, clusters = self._matrix, self._clusters
        state = np.zeros(3, dtype=np.int64)

        def work(me: int, threads: int) -> float:
            return sweep(
                matrix.indptr,
                matrix.indices,
                matrix.data,
                solution,
                given,
                values,
                table,
                clusters.positions,
                clusters.starts,
                clusters.offsets,
                clusters.inverse,
                clusters.inside,
                clusters.closed,
                scratch,
                state,
                me,
                threads,
            )

        def abandon() -> None:
            state[2] = ABANDONED

        changes = split(work, abandon=abandon)
        return None if min(changes) < 0 else max(changes)

    def _sparse_part(self, part: int, given: np.ndarray, solution: np.ndarray, values: np.ndarray) -> float | None:
        start, _, end, _, _ = (int(bound) for bound in self._table[part])
        updated = values[: end - start]
        rows_plus(self._matrix, solution, updated, first=start, given=given)
        if not self._sparse[part](updated, solution, start):
            return None
        return store(updated, solution, start)


def _settled(changes: list[float]) -> bool:
    """Are the sweeps within `TOLERANCE` of the fixed point, given each sweep's largest change? The error left
    after a change `d` shrinking at a rate `q` per sweep is at most d q / (1 - q): so a sweep that moves a company
    by 1.5e-9 at q = 0.06 (disruption at 1M companies) is within 1e-10, and one that moves it by 1e-10 at q = 0.26
    (tariff cost) is not. The rate is the larger of the last two ratios; at least three sweeps are needed to see
    two. A change below a thousandth of the tolerance is settled whatever the rate (rounding can stall it)."""
    last = changes[-1]
    if last <= TOLERANCE / 1_000:
        return True
    if len(changes) < 3:
        return False
    rate = max(last / changes[-2], changes[-2] / changes[-3])
    return rate < 1.0 and last * rate / (1.0 - rate) <= TOLERANCE


@dataclass(frozen=True)
class _DenseClusters:
    """Every cluster of the compiled parts, numbered part after part: cluster c has the members
    positions[starts[c]:starts[c + 1]] (s of them), its entries C and (I - C)^-1 as s x s blocks at offsets[c] of
    `inside` and `inverse`; `closed`: it passes on everything inside itself (a closed loop)."""

    members: np.ndarray
    positions: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray
    inverse: np.ndarray
    inside: np.ndarray
    closed: np.ndarray


def _dense_clusters(
    levels: dict[int, ClusterLevel], parts: int, values: np.ndarray
) -> tuple[_DenseClusters, np.ndarray]:
    """The clusters of the parts in `levels` (`values`: M's entries in supply order), each (I - C) inverted as a
    dense block, in one call per cluster size; and per part, the bounds of its clusters' numbers (parts + 1).

    A closed loop's rows keep only their 1 on the diagonal, so its inverse is the identity: it holds 0 while it
    receives nothing, and the sweep stops once it does. At 1M companies the 746 clusters have at most 5 members:
    the compiled loop solves them within the sweep, where NumPy calls per part cost 30-60 ms per system and score.
    """
    counts = np.zeros(parts, dtype=np.int64)
    layouts = [(part, levels[part].blocks, levels[part]) for part in sorted(levels)]
    for part, layout, _ in layouts:
        counts[part] = layout.members.size
    bounds = np.concatenate(([0], np.cumsum(counts)))
    members = np.concatenate([layout.members for _, layout, _ in layouts] or [np.zeros(0, dtype=np.int64)])
    offsets = np.concatenate(([0], np.cumsum(members**2))).astype(np.int64)
    starts = np.concatenate(([0], np.cumsum(members))).astype(np.int64)
    inside, operator = np.zeros(offsets[-1]), np.zeros(offsets[-1])
    closed = np.zeros(members.size, dtype=np.uint8)
    for part, layout, clusters in layouts:
        first = bounds[part]
        shift = offsets[first] - layout.offsets[0]
        inner, kept, shut = _cluster_entries(clusters, values)
        closed[first : first + shut.size] = shut
        inside[layout.at + shift] = inner  # one entry per (row, column): the pattern merges a pair's links
        operator[layout.diagonal + shift] = 1.0
        operator[layout.at + shift] -= kept
    inverse = np.empty_like(operator)
    for size in np.unique(members):
        flat = offsets[:-1][members == size, None] + np.arange(size * size)
        inverse[flat] = np.linalg.inv(operator[flat].reshape(-1, size, size)).reshape(-1, size * size)
    positions = np.concatenate([layout.positions for _, layout, _ in layouts] or [np.zeros(0, dtype=np.int64)])
    return _DenseClusters(members, positions, starts, offsets[:-1].copy(), inverse, inside, closed), bounds


def _cluster_entries(clusters: ClusterLevel, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The clusters' entries of M (`values`: M's entries in supply order); the same with a closed loop's rows
    emptied, so that (I - C) keeps only its 1 on their diagonal; and per cluster, whether it is a closed loop (each
    of its rows passes on everything inside it)."""
    inner = values[clusters.entries]
    passed = np.bincount(clusters.local_rows, weights=inner, minlength=clusters.rows.size)
    closed = np.bincount(clusters.cluster_of_row, weights=passed < PASSES_EVERYTHING) == 0
    return inner, np.where(closed[clusters.cluster_of_row[clusters.local_rows]], 0.0, inner), closed


_SparseSolver: TypeAlias = Callable[[np.ndarray, np.ndarray, int], bool]


def _sparse_clusters(clusters: ClusterLevel, values: np.ndarray) -> _SparseSolver:
    """solve(updated, solution, first) for a part with a cluster of more than DENSE_CLUSTER_SIZE members: x with
    (I - C) x = t for the part's clusters C (`values`: M's entries in supply order), in `updated` (the part's rows
    from position `first`), from t + C x_last, by one sparse LU of the part. The sweep's product runs over all of
    M's entries, so it counts C at the cluster's values of the last sweep (still in `solution`), and taking that
    out costs a product over the clusters' entries where a copy of M without them would cost one of its size. A
    cluster whose rows each pass on everything inside it is a closed loop, singular: it keeps 0 while it receives
    nothing, and stops the sweep (False) once it does."""
    size = clusters.rows.size
    rows, columns = clusters.local_rows, clusters.local_columns
    inner, kept, closed_cluster = _cluster_entries(clusters, values)
    closed = closed_cluster[clusters.cluster_of_row]
    inside = sp.csc_array((inner, (rows, columns)), shape=(size, size))
    operator = sp.identity(size, format="csc") - sp.csc_array((kept, (rows, columns)), shape=(size, size))
    apply = spla.splu(operator).solve
    positions = clusters.rows

    def solve(updated: np.ndarray, solution: np.ndarray, first: int) -> bool:
        # A closed loop's members hold 0, so C x_last is exactly 0 on its rows: no rounding can make it receive.
        given = updated[positions - first] - inside @ solution[positions]
        if np.any(given[closed]):
            return False
        updated[positions - first] = apply(given)
        return True

    return solve
