"""An order of the companies in which suppliers come before their buyers wherever the links allow, so that the
propagation can be solved by sweeps (propagation.py) instead of by summing the series tier after tier.

A supply graph is almost layered (mine -> refinery -> parts -> assembly -> brand), but only almost: peers buy from
each other and scrap flows back upstream, so half the companies of a large graph sit in one strongly connected web.
The order is built from the links that matter, those worth at least a "strong share" of their buyer's inputs:
- the strongly connected components of the strong links are tight loops ("clusters"; a sweep solves each exactly,
  so value circulating in a loop costs nothing) or single companies;
- those components in scipy's numbering (a topological order of the strong links' component graph, ascending =
  suppliers first) decide which of the other links point forward;
- components are ranked in levels, each one past the deepest component it buys from over a forward link, so every
  company's forward inputs sit in earlier levels. The few backward links left are weak by construction, and a sweep
  reads them from the previous sweep;
- inside a level, the companies that *feed* a backward link (its supplier, or a supplier of one, at any depth) come
  first. Only they carry anything from one sweep to the next: the others (a third of the companies and of the links
  at 1M companies: brands no one buys from, and their own suppliers) are computed once, after the sweeps settle.
The strong share is the smallest of `STRONG_SHARES` whose largest cluster has at most `CLUSTER_LIMIT` companies;
with none, the graph has no such order (`None`) and the propagation sums its series instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components

from server.core._kernels import component_levels
from server.core.graph import concat_ranges, entry_rows, row_pointers

STRONG_SHARES = (0.1, 0.2, 0.3, 0.5)
CLUSTER_LIMIT = 5_000  # companies in one tight loop: its sparse LU stays small


@dataclass(frozen=True)
class ClusterLevel:
    """The clusters of one part of a level: their companies (positions, ascending) and the matrix entries inside
    them."""

    rows: np.ndarray
    entries: np.ndarray  # entries of the ordered matrix linking two companies of the same cluster
    local_rows: np.ndarray  # their row and column as indices into `rows`
    local_columns: np.ndarray
    cluster_of_row: np.ndarray  # per row of `rows`: its cluster, numbered from 0 within the part

    @cached_property
    def blocks(self) -> ClusterBlocks:
        """The clusters laid out as dense per-cluster blocks; worked out once per order, not per score."""
        cluster = self.cluster_of_row
        members = np.bincount(cluster)
        by_cluster = np.argsort(cluster, kind="stable")
        starts = np.concatenate(([0], np.cumsum(members))).astype(np.int64)
        rank = np.empty(cluster.size, dtype=np.int64)  # a member's place in its cluster
        rank[by_cluster] = np.arange(cluster.size) - starts[cluster[by_cluster]]
        offsets = np.concatenate(([0], np.cumsum(members**2))).astype(np.int64)
        rows, columns = self.local_rows, self.local_columns
        return ClusterBlocks(
            members=members,
            positions=self.rows[by_cluster].astype(np.int64),
            starts=starts,
            offsets=offsets,
            at=offsets[cluster[rows]] + rank[rows] * members[cluster[rows]] + rank[columns],
            diagonal=offsets[cluster] + rank * members[cluster] + rank,
        )


@dataclass(frozen=True)
class ClusterBlocks:
    """Cluster c of a ClusterLevel has members[c] members, at positions[starts[c]:starts[c + 1]], and its s x s
    block (row-major, s = members[c]) at offsets[c] of a flat array (offsets[-1] long). Entry e of the level's
    `entries` sits at at[e] of its cluster's block; row i of `rows` has its diagonal at diagonal[i]."""

    members: np.ndarray
    positions: np.ndarray
    starts: np.ndarray
    offsets: np.ndarray
    at: np.ndarray
    diagonal: np.ndarray


@dataclass(frozen=True)
class SupplyOrder:
    """Company `order[p]` sits at position `p` (`position` is the inverse). Level `i` holds positions
    `level_starts[i]:level_starts[i + 1]`, those feeding a backward link first, up to `feeding_ends[i]`. The
    propagation matrix in this order (rows and columns permuted) has the CSR structure (`indices`, `indptr`); link
    `l` of the graph adds to its entry `link_entry[l]`. `cluster_levels[2 i]` holds the clusters of level
    `i`'s feeding part, `cluster_levels[2 i + 1]` those of the rest (a cluster is all feeding or not at all: its
    members supply one another)."""

    order: np.ndarray
    position: np.ndarray
    level_starts: np.ndarray
    feeding_ends: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    link_entry: np.ndarray
    cluster_levels: dict[int, ClusterLevel]
    strong_share: float
    # Per entry of the ordered matrix (uint8): how many of STRONG_SHARES, up to `strong_share`, its strength
    # reaches. The order reads the strengths through these alone, so it is the order of any strengths with the
    # same bands (`fits`).
    bands: np.ndarray

    @property
    def levels(self) -> int:
        return self.level_starts.size - 1

    def fits(self, shares: np.ndarray) -> bool:
        """Would `supply_order` build this very order for the same links with these input shares (per link)?"""
        strength = np.bincount(self.link_entry, weights=shares, minlength=self.indices.size)
        return bool(np.array_equal(_bands(strength, self.strong_share), self.bands))

    def parts(self) -> list[tuple[int, int]]:
        """Each part's positions (start, end) in sweep order, numbered as the keys of `cluster_levels`: part 2 i is
        level i's feeding companies, part 2 i + 1 the rest of the level."""
        starts, ends = self.level_starts[:-1], self.level_starts[1:]
        bounds = np.column_stack([starts, self.feeding_ends, self.feeding_ends, ends]).reshape(-1, 2)
        return [(int(start), int(end)) for start, end in bounds]


def supply_order(
    indices: np.ndarray, indptr: np.ndarray, strength: np.ndarray, *, entry: np.ndarray
) -> SupplyOrder | None:
    """The order for a matrix of pattern (`indices`, `indptr`): row = buyer, column = supplier, `strength` = the
    entry's share of the buyer's inputs, `entry` = each link's entry."""
    count = indptr.size - 1
    rows = entry_rows(indptr)
    for strong_share in STRONG_SHARES:
        strong = strength >= strong_share
        graph = sp.csr_array((np.ones(int(strong.sum())), (rows[strong], indices[strong])), shape=(count, count))
        _, component = connected_components(graph, directed=True, connection="strong")
        sizes = np.bincount(component)
        if sizes.max() <= CLUSTER_LIMIT:
            break
    else:
        return None
    level = _levels(component, indptr, indices)
    feeding = _feeding(indptr, indices, rows=rows, component=component, level=level)
    # The order is kept per graph version: its arrays take scipy's smallest index type (int32 below 2**31 links).
    index_type = sp.get_index_dtype(maxval=max(count, indices.size + 1))
    order = np.lexsort((component, ~feeding, level)).astype(index_type)
    position = np.empty(count, dtype=index_type)
    position[order] = np.arange(count)
    # Each row's entries with the rows in supply order (numbered as the pattern's), then the columns renumbered and
    # sorted within rows: 0.05 s at 5M entries for the columns, where SciPy's column indexing (`[:, order]`) took
    # 0.29 s.
    counts = np.diff(indptr)[order]
    source = concat_ranges(indptr[order], indptr[order + 1]).astype(index_type)
    ordered_indptr = np.concatenate(([0], np.cumsum(counts))).astype(index_type)
    permuted = sp.csr_array((source, position[indices[source]], ordered_indptr), shape=(count, count))
    permuted.sort_indices()
    source = permuted.data  # per entry of the ordered matrix: its entry in the pattern
    ordered_entry = np.empty(indices.size, dtype=index_type)
    ordered_entry[source] = np.arange(indices.size)
    ordered_rows = entry_rows(permuted.indptr)
    cluster = component[order]
    intra = cluster[ordered_rows] == cluster[permuted.indices]
    levels = int(level.max()) + 1
    level_starts = row_pointers(level, levels)
    part = 2 * level + ~feeding  # per company: its level's feeding part (2 i) or the rest (2 i + 1)
    return SupplyOrder(
        order=order,
        position=position,
        level_starts=level_starts,
        feeding_ends=level_starts[:-1] + np.bincount(level[feeding], minlength=levels),
        # scipy computes in its common index type (int64 here, from the pattern's row pointers): kept in the small one.
        indices=permuted.indices.astype(index_type, copy=False),
        indptr=permuted.indptr.astype(index_type, copy=False),
        link_entry=ordered_entry[entry],
        cluster_levels=_cluster_levels(
            in_cluster=sizes[cluster] > 1,
            cluster=cluster,
            part=part[order],
            rows=ordered_rows,
            columns=permuted.indices,
            intra=intra,
        ),
        strong_share=strong_share,
        bands=_bands(strength[source], strong_share),
    )


def _bands(strength: np.ndarray, strong_share: float) -> np.ndarray:
    """Per entry: how many of STRONG_SHARES up to `strong_share` it reaches (each decides `strength >= share`)."""
    tried = np.array([share for share in STRONG_SHARES if share <= strong_share])
    bands: np.ndarray = np.searchsorted(tried, strength, side="right").astype(np.uint8)
    return bands


def _levels(component: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Per company: its component's level, 0 without forward suppliers, else one past its deepest forward supplier.
    scipy numbers a component after those it reaches (suppliers first), so one compiled pass over the companies in
    component order finds them: 0.1 s at 1M companies, where Kahn's algorithm in NumPy (a frontier per level, ~190
    levels) took 0.6 s."""
    component = component.astype(np.int64, copy=False)
    by_component = np.argsort(component, kind="stable")
    level = np.zeros(int(component.max(initial=-1)) + 1, dtype=np.int64)
    component_levels(indptr, indices, component, by_component, level)
    per_company: np.ndarray = level[component]
    return per_company


def _feeding(
    indptr: np.ndarray, indices: np.ndarray, *, rows: np.ndarray, component: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Per company: does it supply, at any depth, a backward link's supplier, or is it one? (Pattern: row = buyer,
    column = supplier; `rows`: each entry's row.) A backward link joins two components with the supplier's level at
    or past the buyer's. Found by one breadth-first search from an extra row that buys from every such supplier."""
    count = level.size
    backward = (level[indices] >= level[rows]) & (component[indices] != component[rows])
    start = np.unique(indices[backward])
    pattern = sp.csr_array(
        (
            np.ones(indices.size + start.size, dtype=np.int8),
            np.concatenate([indices, start]),
            np.append(indptr, indptr[-1] + start.size),
        ),
        shape=(count + 1, count + 1),
    )
    reached = breadth_first_order(pattern, count, directed=True, return_predecessors=False)
    feeding = np.zeros(count + 1, dtype=bool)
    feeding[reached] = True
    return feeding[:count]


def _cluster_levels(
    *,
    in_cluster: np.ndarray,
    cluster: np.ndarray,
    part: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    intra: np.ndarray,
) -> dict[int, ClusterLevel]:
    """Per part of a level holding clusters (SupplyOrder.cluster_levels): their positions and inner entries
    (arguments indexed by position / entry)."""
    positions = np.flatnonzero(in_cluster)  # ascending, so each level's share is ascending too
    inner = np.flatnonzero(intra & in_cluster[rows])
    local = np.full(part.size, -1, dtype=np.int64)
    result: dict[int, ClusterLevel] = {}
    for value in np.unique(part[positions]):
        mine = positions[part[positions] == value]
        entries = inner[part[rows[inner]] == value]
        local[mine] = np.arange(mine.size)
        _, cluster_of_row = np.unique(cluster[mine], return_inverse=True)
        result[int(value)] = ClusterLevel(mine, entries, local[rows[entries]], local[columns[entries]], cluster_of_row)
    return result
