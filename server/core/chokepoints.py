"""Single points of failure upstream of a company, with NetworkX on the part of the graph the query needs.

- **Dominators**: companies through which *all* of b's upstream supply (of one material, or of everything)
  passes. On the upstream graph (edges buyer -> supplier, rooted at b) every company without inbound supply in it
  is a source of supply; a virtual node fed by all sources is dominated exactly by the companies every
  source-to-b path crosses (`networkx.immediate_dominators`, the Cooper-Harvey-Kennedy iterative algorithm).
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
    flows = _Flows(upstream, buyers, suppliers, root)
    flow = flows.through(blocked=None)
    order = np.lexsort((flows.nodes, -flow))  # largest share first, then by company
    order = order[(flows.nodes[order] != root) & (flow[order] > 0)][:top]
    ranked = [(int(flows.nodes[i]), float(flow[i])) for i in order]
    reached = flows.at_sources(flow)
    node_country = graph.companies["country"].to_numpy()[flows.nodes]
    is_root = flows.nodes == root
    by_country = []
    for country in np.unique(node_country[~is_root]).tolist():
        check()
        avoided = flows.at_sources(flows.through(blocked=(node_country == country) & ~is_root))
        by_country.append((str(country), 1.0 - avoided / reached if reached > 0 else 0.0))
    by_country.sort(key=lambda item: (-item[1], item[0]))
    return Chokepoints(
        material=material,
        dominators=dominators,
        pass_through=ranked,
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


class _Flows:
    """F per company of the upstream graph: the share of root's (material) input value flowing through it.

    Iterates F = e_root + A^T F over the upstream links (A[t, s] = share of t's inputs bought from s), as many times
    as the upstream graph is deep, so every path is counted once on acyclic graphs; cycles are capped at 1.
    Blocking companies (a country's) removes every link into or out of them: they get no flow and pass none.
    """

    def __init__(self, upstream: Upstream, buyers: np.ndarray, suppliers: np.ndarray, root: int) -> None:
        self.nodes = np.unique(np.concatenate([buyers, suppliers, [root]]))
        slot_of_buyer = np.searchsorted(self.nodes, buyers)
        slot_of_supplier = np.searchsorted(self.nodes, suppliers)
        size = self.nodes.size
        self._matrix = sp.csr_array((upstream.share, (slot_of_supplier, slot_of_buyer)), shape=(size, size))
        self._seed = np.zeros(size)
        self._seed[np.searchsorted(self.nodes, root)] = 1.0
        self._rounds = int(upstream.depth.max(initial=0)) + 1
        # Sources of supply: companies nothing is bought from inside the upstream graph.
        self._sources = ~np.isin(self.nodes, buyers) & np.isin(self.nodes, suppliers)

    def through(self, *, blocked: np.ndarray | None) -> np.ndarray:
        flow = self._seed.copy()
        for _ in range(self._rounds):
            flow = np.minimum(1.0, self._seed + self._matrix @ flow)
            if blocked is not None:
                flow[blocked] = 0.0
        return flow

    def at_sources(self, flow: np.ndarray) -> float:
        """The share of root's flow arriving at sources of supply."""
        return float(flow[self._sources].sum())
