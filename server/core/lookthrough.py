"""Where a company's supply of a material really comes from: look-through origin shares against face value.

Face value: the shares of the buyer's inbound links carrying material m, by the goods' origin country.
Look-through: each such link passes on its supplier's own origin mix for m when the supplier buys m itself
(a refiner, a trader), and its own origin when it does not (the last tier the graph knows):

    mix(s) = sum over s's inbound m-links e of share_e x ( mix(supplier_e) if supplier_e buys m else origin_e )

solved by iteration over the upstream m-subgraph, `max_depth` tiers deep; mass still in flight at the cut (long
cycles) is reported as `coverage` < 1 and the shares are normalised over what arrived.
HHI = sum of squared shares (1 = a single country).

Example: B buys rare earths 71 from a Chinese miner and 29 from a Malaysian refiner that buys 30% Chinese and 70%
Australian feed.
Face value: CN 0.71, MY 0.29. Look-through: CN 0.71 + 0.29 x 0.3 = 0.797, AU 0.29 x 0.7 = 0.203.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from server.core.cancellation import Check, never_cancelled
from server.core.graph import COUNTRY_NAMES, Graph
from server.core.upstream import MAX_DEPTH, collect_upstream

_COUNTRY_NAMES = np.array(COUNTRY_NAMES, dtype=object)


@dataclass(frozen=True)
class OriginShares:
    material: str
    face_value: dict[str, float]
    look_through: dict[str, float]
    face_value_hhi: float
    look_through_hhi: float
    coverage: float


def origin_shares(
    graph: Graph, root: int, material: str, *, max_depth: int = MAX_DEPTH, check: Check = never_cancelled
) -> OriginShares:
    """Face-value and look-through origin shares of `root`'s supply of `material` (empty when it buys none);
    `check` runs per tier."""
    upstream = collect_upstream(graph, root, material=material, max_depth=max_depth, check=check)
    if upstream.rows.size == 0:
        return OriginShares(material, {}, {}, 0.0, 0.0, 0.0)
    buyers = graph.buyer_array[upstream.rows]
    origins = _COUNTRY_NAMES[graph.origin_array[upstream.rows]]
    # Countries and companies numbered in sorted order, by array operations (no per-link Python).
    countries, origin_columns = np.unique(origins, return_inverse=True)
    nodes, node_slots = np.unique(np.concatenate([buyers, graph.supplier_array[upstream.rows]]), return_inverse=True)
    buyer_slots, supplier_slots = node_slots[: buyers.size], node_slots[buyers.size :]
    buys_material = np.zeros(nodes.size, dtype=bool)
    buys_material[buyer_slots] = True
    passes_on = buys_material[supplier_slots]
    leaf = sp.csr_array(
        (upstream.share * ~passes_on, (buyer_slots, origin_columns)), shape=(nodes.size, countries.size)
    )
    through = sp.csr_array((upstream.share * passes_on, (buyer_slots, supplier_slots)), shape=(nodes.size, nodes.size))
    leaf_block = leaf.toarray()
    mix = np.zeros((nodes.size, countries.size))
    for _ in range(max_depth):
        check()
        mix = leaf_block + through @ mix
    root_mix = mix[int(np.searchsorted(nodes, root))]
    coverage = float(root_mix.sum())
    tier1 = buyers == root
    face = np.bincount(origin_columns[tier1], weights=upstream.share[tier1], minlength=countries.size)
    look = root_mix / coverage if coverage > 0 else root_mix
    return OriginShares(
        material=material,
        face_value=_shares(countries.tolist(), face),
        look_through=_shares(countries.tolist(), look),
        face_value_hhi=float(np.square(face).sum()),
        look_through_hhi=float(np.square(look).sum()),
        coverage=coverage,
    )


def _shares(countries: list[str], values: np.ndarray) -> dict[str, float]:
    ranked = sorted(((float(v), c) for c, v in zip(countries, values, strict=True) if v > 0), reverse=True)
    return {country: value for value, country in ranked}
