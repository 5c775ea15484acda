"""Single points of failure upstream of a company, with NetworkX on the part of the graph the query needs.

- **Dominators**: companies through which *all* of b's upstream supply (of one material, or of everything)
  passes. On the upstream graph (edges buyer -> supplier, rooted at b) every company without inbound supply in it
  is a source of supply; a virtual node fed by all sources is dominated exactly by the companies every
  source-to-b path crosses (Lengauer-Tarjan via `networkx.immediate_dominators`).
- **Pass-through**: the share of b's input value flowing through each company: F_b = 1, F_s = sum over links
  e = (s -> t) in the upstream graph of F_t x share_e (capped at 1 on cycles).
- **Countries**: the share of b's supply flowing through at least one company of country c: one minus the share
  that reaches the sources when c's companies are removed.

Example: a fab whose only EUV supplier is a Dutch toolmaker: for material `euv` the toolmaker dominates; it passes
1.0 of the flow, and NL 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from server.core.cancellation import Check, never_cancelled
from server.core.graph import Graph
from server.core.upstream import MAX_DEPTH, Upstream, collect_upstream

SOURCES = -1  # the virtual node every source of supply feeds


@dataclass(frozen=True)
class Chokepoints:
    material: str | None
    dominators: list[int]
    pass_through: list[tuple[int, float]]
    countries: list[tuple[str, float]]
    upstream_links: int


def find_chokepoints(
    graph: Graph,
    root: int,
    *,
    material: str | None,
    top: int = 10,
    max_depth: int = MAX_DEPTH,
    check: Check = never_cancelled,
) -> Chokepoints:
    """Dominators (nearest to `root` first), top companies and countries by share of flow passing through them;
    `check` runs per upstream tier, between steps and per country."""
    upstream = collect_upstream(graph, root, material=material, max_depth=max_depth, check=check)
    if upstream.rows.size == 0:
        return Chokepoints(material, [], [], [], 0)
    buyers = graph.buyer_array[upstream.rows]
    suppliers = graph.supplier_array[upstream.rows]
    network = nx.DiGraph()
    network.add_edges_from(zip(buyers.tolist(), suppliers.tolist(), strict=True))
    network.add_edges_from((node, SOURCES) for node in list(network.nodes) if network.out_degree(node) == 0)
    check()
    dominators = _dominators(network, root)
    check()
    flow = _flow(upstream, buyers, suppliers, root, removed=None)
    ranked = sorted(
        ((share, node) for node, share in flow.items() if node != root), key=lambda item: (-item[0], item[1])
    )
    countries = graph.companies["country"].to_numpy()
    reached = _source_share(upstream, buyers, suppliers, root, removed=None)
    by_country = []
    for country in sorted({countries[node] for node in network.nodes if node not in (root, SOURCES)}):
        check()
        members = {node for node in network.nodes if node not in (root, SOURCES) and countries[node] == country}
        avoided = _source_share(upstream, buyers, suppliers, root, removed=members)
        by_country.append((country, 1.0 - avoided / reached if reached > 0 else 0.0))
    by_country.sort(key=lambda item: (-item[1], item[0]))
    return Chokepoints(
        material=material,
        dominators=dominators,
        pass_through=[(node, share) for share, node in ranked[:top]],
        countries=[(country, share) for country, share in by_country[:top] if share > 1e-12],
        upstream_links=int(upstream.rows.size),
    )


def _dominators(network: nx.DiGraph, root: int) -> list[int]:
    idom = nx.immediate_dominators(network, root)
    chain = []
    node = idom.get(SOURCES)
    while node is not None and node != root:
        chain.append(node)
        node = idom[node]
    return chain[::-1]


def _flow(
    upstream: Upstream, buyers: np.ndarray, suppliers: np.ndarray, root: int, *, removed: set[int] | None
) -> dict[int, float]:
    """F per company: the share of root's (material) input value flowing through it.

    Iterates F = e_root + A^T F over the upstream links (A[t, s] = share of t's inputs bought from s), as many times
    as the upstream graph is deep, so every path is counted once on acyclic graphs; cycles are capped at 1.
    """
    nodes = np.unique(np.concatenate([buyers, suppliers, [root]]))
    slot_of_buyer = np.searchsorted(nodes, buyers)
    slot_of_supplier = np.searchsorted(nodes, suppliers)
    keep = np.ones(buyers.size, dtype=bool)
    if removed:
        blocked = np.isin(nodes, list(removed))
        keep = ~blocked[slot_of_buyer] & ~blocked[slot_of_supplier]
    matrix = sp.csr_array(
        (upstream.share[keep], (slot_of_supplier[keep], slot_of_buyer[keep])), shape=(nodes.size, nodes.size)
    )
    seed = np.zeros(nodes.size)
    seed[np.searchsorted(nodes, root)] = 1.0
    flow = seed.copy()
    for _ in range(int(upstream.depth.max(initial=0)) + 1):
        flow = np.minimum(1.0, seed + matrix @ flow)
    return {int(node): float(share) for node, share in zip(nodes, flow, strict=True) if share > 0}


def _source_share(
    upstream: Upstream, buyers: np.ndarray, suppliers: np.ndarray, root: int, *, removed: set[int] | None
) -> float:
    """The share of root's flow arriving at sources (companies with no inbound supply upstream)."""
    flow = _flow(upstream, buyers, suppliers, root, removed=removed)
    sources = set(suppliers.tolist()) - set(buyers.tolist())
    return sum(share for node, share in flow.items() if node in sources)
