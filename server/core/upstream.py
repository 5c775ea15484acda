"""The upstream part of the graph a query needs: a buyer's suppliers, their suppliers..., optionally only along
links carrying one material, bounded in depth. Per-query work stays proportional to that part, not the graph."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from server.core.cancellation import Check, never_cancelled
from server.core.graph import Graph, concat_ranges
from server.core.link_policy import carries

MAX_DEPTH = 12
MAX_LINKS = 200_000


@dataclass(frozen=True)
class Upstream:
    """Link rows (of `graph.links`) reached going upstream from `root`, and the depth each was reached at (1 = the
    root's own suppliers). `share` is each link's share of its buyer's inbound value among the selected links."""

    root: int
    rows: np.ndarray
    depth: np.ndarray
    share: np.ndarray
    material: str | None


def collect_upstream(
    graph: Graph, root: int, *, material: str | None, max_depth: int = MAX_DEPTH, check: Check = never_cancelled
) -> Upstream:
    """Breadth-first over inbound links (CSR by buyer), each company expanded once, at most `max_depth` tiers;
    `check` runs per tier."""
    suppliers = graph.supplier_array
    values = graph.value_array
    seen = np.zeros(graph.company_count, dtype=bool)
    seen[root] = True
    frontier = np.array([root])
    rows: list[np.ndarray] = []
    depths: list[np.ndarray] = []
    for depth in range(1, max_depth + 1):
        if not frontier.size:
            break
        check()
        level = concat_ranges(graph.inbound_indptr[frontier], graph.inbound_indptr[frontier + 1])
        if material is not None and level.size:
            level = level[carries(graph, material, level)]
        rows.append(level)
        depths.append(np.full(level.size, depth))
        if sum(part.size for part in rows) > MAX_LINKS:
            break
        reached = suppliers[level]
        _, first = np.unique(reached, return_index=True)
        frontier = reached[np.sort(first)]  # each supplier once, in the order first reached
        frontier = frontier[~seen[frontier]]
        seen[frontier] = True
    all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    _, buyer_slot = np.unique(graph.buyer_array[all_rows], return_inverse=True)
    denominators = np.bincount(buyer_slot, weights=values[all_rows])[buyer_slot] if all_rows.size else np.zeros(0)
    share = np.divide(values[all_rows], denominators, out=np.zeros(all_rows.size), where=denominators > 0)
    return Upstream(root, all_rows, np.concatenate(depths) if depths else np.zeros(0, dtype=np.int64), share, material)
