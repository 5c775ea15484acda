"""Single points of failure upstream of a company, with sparse arrays on the part of the graph the query needs.

- **Dominators**: companies through which *all* of b's upstream supply (of one material, or of everything)
  passes. On the upstream graph (edges buyer -> supplier, rooted at b) every company without inbound supply in it
  is a source of supply; a virtual node fed by all sources is dominated exactly by the companies every
  source-to-b path crosses. Each of them lies on any one such path, so the candidates are the companies of one
  shortest path, and a candidate dominates when the sources are out of reach once it passes nothing on: one
  breadth-first search per candidate, at most `MAX_DEPTH` of them. (At 1M companies the upstream graph of a
  query holds ~300k links; NetworkX's `immediate_dominators` took 3-4 s on it, plus 1-2 s to build the DiGraph,
  against ~0.1 s here. The tests check this against NetworkX on random graphs.)
- **Pass-through**: the share of b's input value flowing through each company: F_b = 1, F_s = sum over links
  e = (s -> t) in the upstream graph of F_t x share_e (capped at 1 on cycles).
- **Countries**: the share of b's supply flowing through at least one company of country c: one minus the share
  that reaches the sources when c's companies are removed.

Example: a fab whose only EUV supplier is a Dutch toolmaker: for material `euv` the toolmaker dominates; it passes
1.0 of the flow, and NL 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from server.core.cancellation import Check, never_cancelled
from server.core.graph import COUNTRY, COUNTRY_NAMES, Graph
from server.core.upstream import MAX_DEPTH, Upstream, collect_upstream

COUNTRY_BLOCK = 16  # countries whose flows are iterated together as one n x 16 block


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
    `check` runs per upstream tier, per dominator candidate and per block of countries."""
    upstream = collect_upstream(graph, root, material=material, max_depth=max_depth, check=check)
    if upstream.rows.size == 0:
        return Chokepoints(material, [], [], [], 0)
    buyers = graph.buyer_array[upstream.rows]
    suppliers = graph.supplier_array[upstream.rows]
    flows = _Flows(upstream, buyers, suppliers, graph.company_count)
    check()
    dominators = [int(node) for node in flows.nodes[_dominators(flows, check=check)]]
    check()
    flow = flows.through(np.zeros((flows.nodes.size, 1), dtype=bool))[:, 0]
    order = np.lexsort((flows.nodes, -flow))  # largest share first, then by company
    order = order[(flows.nodes[order] != root) & (flow[order] > 0)][:top]
    ranked = [(int(flows.nodes[i]), float(flow[i])) for i in order]
    reached = flows.at_sources(flow[:, None])[0]
    node_country = graph.companies["country"].gather(flows.nodes).cast(COUNTRY).to_physical().to_numpy()
    is_root = flows.nodes == root
    countries = np.unique(node_country[~is_root])
    by_country = []
    for start in range(0, countries.size, COUNTRY_BLOCK):
        check()
        block = countries[start : start + COUNTRY_BLOCK]
        blocked = (node_country[:, None] == block[None, :]) & ~is_root[:, None]
        avoided = flows.at_sources(flows.through(blocked))
        by_country += [
            (COUNTRY_NAMES[code], 1.0 - float(left) / reached if reached > 0 else 0.0)
            for code, left in zip(block.tolist(), avoided, strict=True)
        ]
    by_country.sort(key=lambda item: (-item[1], item[0]))
    return Chokepoints(
        material=material,
        dominators=dominators,
        pass_through=ranked,
        countries=[(country, share) for country, share in by_country[:top] if share > 1e-12],
        upstream_links=int(upstream.rows.size),
    )


def _dominators(flows: _Flows, *, check: Check) -> np.ndarray:
    """Slots of the companies every path from the root to a source crosses, nearest to the root first."""
    edges = flows.edges  # buyer -> supplier, plus every source -> the virtual sink
    sink = edges.shape[0] - 1
    _, predecessors = breadth_first_order(edges, flows.root, directed=True, return_predecessors=True)
    if predecessors[sink] < 0:
        return np.zeros(0, dtype=np.int64)  # nothing upstream ends at a source (closed loops only)
    path = []
    node = predecessors[sink]
    while node != flows.root:
        path.append(node)
        node = predecessors[node]
    dominating = []
    for candidate in reversed(path):  # nearest to the root first
        check()
        cut = edges.copy()
        cut.data[cut.indptr[candidate] : cut.indptr[candidate + 1]] = 0.0
        cut.eliminate_zeros()
        if sink not in breadth_first_order(cut, flows.root, directed=True, return_predecessors=False):
            dominating.append(candidate)
    return np.asarray(dominating, dtype=np.int64)


class _Flows:
    """F per company of the upstream graph: the share of root's (material) input value flowing through it.

    Iterates F = e_root + A^T F over the upstream links (A[t, s] = share of t's inputs bought from s), as many times
    as the upstream graph is deep, so every path is counted once on acyclic graphs; cycles are capped at 1.
    Blocking companies (a country's) removes every link into or out of them: they get no flow and pass none.
    Companies are numbered by slot: their index in `nodes` (ascending company numbers).
    """

    def __init__(self, upstream: Upstream, buyers: np.ndarray, suppliers: np.ndarray, count: int) -> None:
        # Marks over all `count` companies instead of sorting and searching: ~10x faster on 300k links.
        present = np.zeros(count, dtype=bool)
        present[buyers] = present[suppliers] = present[upstream.root] = True
        self.nodes = np.flatnonzero(present)
        slot = np.zeros(count, dtype=np.int64)
        slot[self.nodes] = np.arange(self.nodes.size)
        slot_of_buyer, slot_of_supplier = slot[buyers], slot[suppliers]
        size = self.nodes.size
        self.root = int(slot[upstream.root])
        self._matrix = sp.csr_array((upstream.share, (slot_of_supplier, slot_of_buyer)), shape=(size, size))
        self._seed = np.zeros((size, 1))
        self._seed[self.root] = 1.0
        self._rounds = int(upstream.depth.max(initial=0)) + 1
        # Sources of supply: companies nothing is bought from inside the upstream graph.
        buying = np.zeros(size, dtype=bool)
        buying[slot_of_buyer] = True
        self._sources = ~buying
        sources = np.flatnonzero(self._sources)
        self.edges = sp.csr_array(
            (
                np.ones(buyers.size + sources.size),
                (
                    np.concatenate([slot_of_buyer, sources]),
                    np.concatenate([slot_of_supplier, np.full_like(sources, size)]),
                ),
            ),
            shape=(size + 1, size + 1),
        )

    def through(self, blocked: np.ndarray) -> np.ndarray:
        """F for each column of `blocked` (nodes x K: the companies removed in that column)."""
        keep = (~blocked).astype(np.float64)
        flow = self._seed * keep
        for _ in range(self._rounds):
            flow = np.minimum(1.0, self._seed + self._matrix @ flow) * keep
        return flow

    def at_sources(self, flow: np.ndarray) -> np.ndarray:
        """Per column of `flow`: the share of root's flow arriving at sources of supply."""
        arrived: np.ndarray = flow[self._sources].sum(axis=0)
        return arrived
