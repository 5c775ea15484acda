"""Propagating per-link exposure up the supply graph with sparse algebra (no Python loop over companies).

For buyer b with inbound links e = (s -> b) of value v_e, the input share is w_e = v_e / sum of b's inbound values.
Given per-link direct terms x_e and carry factors k_e, the exposure solves

    E_b = sum_e w_e [ x_e + k_e E_s ]        i.e.   E = d + M E,   d_b = sum_e w_e x_e,   M[b, s] = sum_e w_e k_e

and is summed as the series E = d + M d + M^2 d + ...: term k is the contribution of tier k+1 suppliers. The
series converges when the carry factors are below 1 on every cycle; it is cut at `max_tiers` terms regardless.
Several direct-term columns (one per material, per country...) propagate at once as a dense n x K block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from server.core.graph import Graph

TOLERANCE = 1e-10  # absolute, on exposures in [0, 1]: far below any figure reported
MAX_TIERS = 64


@dataclass(frozen=True)
class Propagation:
    """Per company (rows) and column: the total and the contributions of tier 1, tier 2 and tiers 3+."""

    total: np.ndarray
    tier1: np.ndarray
    tier2: np.ndarray
    tier3_plus: np.ndarray
    tiers_used: int


def input_shares(graph: Graph) -> np.ndarray:
    """w_e: each link's share of its buyer's inbound value (0 where the buyer buys nothing of value)."""
    values = graph.links["annual_value_usd"].to_numpy()
    buyers = graph.links["buyer_idx"].to_numpy()
    totals = np.bincount(buyers, weights=values, minlength=graph.company_count)
    denominators = totals[buyers]
    shares: np.ndarray = np.divide(values, denominators, out=np.zeros_like(values), where=denominators > 0)
    return shares


def propagate(
    graph: Graph, direct: np.ndarray, carry: np.ndarray, *, shares: np.ndarray, max_tiers: int = MAX_TIERS
) -> Propagation:
    """Solve E = d + M E tier by tier for each column of `direct` (links x K, or a vector).

    Example: A buys 60 from B and 40 from C; B buys everything from D. With x = 0.5 on D -> B only and carry 0.5:
    E_B = 1.0 x 0.5 = 0.5; E_A = 0.6 x (0 + 0.5 x E_B) = 0.15, all of it from tier 2.
    """
    single = direct.ndim == 1
    columns = direct.reshape(-1, 1) if single else direct
    count = graph.company_count
    buyers = graph.links["buyer_idx"].to_numpy()
    suppliers = graph.links["supplier_idx"].to_numpy()
    matrix = sp.csr_array((shares * carry, (buyers, suppliers)), shape=(count, count))
    gather = sp.csr_array((shares, (buyers, np.arange(buyers.size))), shape=(count, buyers.size))
    term = np.asarray(gather @ columns, dtype=np.float64)
    tier1 = term.copy()
    tier2 = np.zeros_like(term)
    rest = np.zeros_like(term)
    tiers = 1
    while tiers < max_tiers and term.size and np.abs(term).max() > TOLERANCE:
        term = matrix @ term
        (tier2 if tiers == 1 else rest)[...] += term
        tiers += 1
    total = tier1 + tier2 + rest
    if single:
        return Propagation(total[:, 0], tier1[:, 0], tier2[:, 0], rest[:, 0], tiers)
    return Propagation(total, tier1, tier2, rest, tiers)
