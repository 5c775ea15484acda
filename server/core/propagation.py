"""Propagating per-link exposure up the supply graph with sparse algebra (no Python loop over companies).

For buyer b with inbound links e = (s -> b) of value v_e, the input share is w_e = v_e / sum of b's inbound values.
Given per-link direct terms x_e and carry factors k_e, the exposure solves

    E_b = sum_e w_e [ x_e + k_e E_s ]        i.e.   E = d + M E,   d_b = sum_e w_e x_e,   M[b, s] = sum_e w_e k_e

whose series E = d + M d + M^2 d + ... has as term k the contribution of tier k+1 suppliers. Two ways to solve it:
- above DIRECT_SOLVE_LIMIT companies, E is solved directly by block Gauss-Seidel sweeps in supply order
  (supply_order.py, sweeps.py); tier 2 is one product, M d, and tiers 3+ the rest of E;
- otherwise, or when the sweeps meet a closed loop, the series is summed term by term. Slowly draining cycles
  (carry close to 1 around a loop) would need many terms, so after `max_tiers` terms the remainder
  R = M t + M^2 t + ... of the last term t is solved from (I - M) R = M t (`_solve_remainder`).
A closed loop passing on everything (e.g. pass-through 1 with no input from outside the loop) has no finite value:
there the series stays cut at `max_tiers` and `converged` is False. Several direct-term columns (one per material,
per country...) propagate at once as a dense n x K block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from server.core._kernels import link_sums, links_times
from server.core.cancellation import Check, never_cancelled
from server.core.graph import Graph, entry_rows, row_pointers
from server.core.parallel import both
from server.core.products import halves, times
from server.core.supply_order import SupplyOrder, supply_order
from server.core.sweeps import MAX_TIERS, PASSES_EVERYTHING, TOLERANCE, Sweeps

# The sweeps' tolerance and tier cut are the propagation's: its callers read them here.
__all__ = [
    "DIRECT_SOLVE_LIMIT",
    "MAX_TIERS",
    "TOLERANCE",
    "Propagation",
    "input_shares",
    "propagate",
    "supply_order_of",
]

DIRECT_SOLVE_LIMIT = 5_000  # companies: sparse LU below this, GCROT above (LU fill-in grows fast on big graphs)


@dataclass(frozen=True)
class Propagation:
    """Per company (rows) and column: the total, and for the first `tiered` columns (propagate) the contributions
    of tier 1, tier 2 and tiers 3+."""

    total: np.ndarray
    tier1: np.ndarray
    tier2: np.ndarray
    tier3_plus: np.ndarray
    tiers_used: int
    converged: bool


def input_shares(graph: Graph) -> np.ndarray:
    """w_e: each link's share of its buyer's inbound value (0 where the buyer buys nothing of value)."""
    values = graph.links["annual_value_usd"].to_numpy()
    buyers = graph.links["buyer_idx"].to_numpy()
    totals = np.bincount(buyers, weights=values, minlength=graph.company_count)
    denominators = totals[buyers]
    shares: np.ndarray = np.divide(values, denominators, out=np.zeros_like(values), where=denominators > 0)
    return shares


def propagate(
    graph: Graph,
    direct: np.ndarray,
    carry: np.ndarray,
    *,
    shares: np.ndarray,
    signatures: np.ndarray | None = None,
    tiered: int | None = None,
    max_tiers: int = MAX_TIERS,
    check: Check = never_cancelled,
) -> Propagation:
    """Solve E = d + M E for each column of `direct` (rows x K, or a vector); `check` runs per tier or sweep.
    The rows of `direct` and `carry` are the links, or with `signatures` (each link's row) the shipment
    signatures: a link's terms are its signature's (thousands of rows instead of millions).
    `tiered`: how many leading columns need their tiers (all by default): each costs a product over every link.

    Example: A buys 60 from B and 40 from C; B buys everything from D. With x = 0.5 on D -> B only and carry 0.5:
    E_B = 1.0 x 0.5 = 0.5; E_A = 0.6 x (0 + 0.5 x E_B) = 0.15, all of it from tier 2.
    """
    single = direct.ndim == 1
    columns = np.ascontiguousarray(direct.reshape(-1, 1) if single else direct, dtype=np.float64)
    carry = np.ascontiguousarray(carry, dtype=np.float64)
    if signatures is None and columns.shape[0] != graph.link_count:
        raise ValueError(f"direct has {columns.shape[0]} rows for {graph.link_count} links")
    if carry.shape[0] != columns.shape[0] or shares.shape[0] != graph.link_count:
        raise ValueError(f"carry has {carry.shape[0]} rows for {columns.shape[0]}, shares {shares.shape[0]}")
    tiered = columns.shape[1] if tiered is None else tiered
    terms = _Terms(graph, shares, columns, carry, signatures)
    order = supply_order_of(graph) if graph.company_count > DIRECT_SOLVE_LIMIT else None
    ordered = None
    if order is not None:
        # M and tier 1 with rows (and M's columns) in supply order, built there directly from the links.
        matrix, tier1 = terms.system(order.indices, order.indptr, order.link_entry, scatter=order.position)
        ordered = order, matrix
        swept = _swept(order, matrix, tier1, tiered=tiered, check=check)
        if swept is not None:
            return _result(*swept, tiers=2, converged=True, single=single)
    matrix, tier1 = terms.system(*_supplier_pattern(graph))
    return _series(matrix, tier1, tiered=tiered, ordered=ordered, max_tiers=max_tiers, check=check, single=single)


@dataclass(frozen=True)
class _Terms:
    """A system's per-link terms (`propagate`): rows of `columns` and `carry` per link, or per shipment signature
    with `signatures` (each link's row)."""

    graph: Graph
    shares: np.ndarray
    columns: np.ndarray
    carry: np.ndarray
    signatures: np.ndarray | None

    def system(
        self, indices: np.ndarray, indptr: np.ndarray, entry: np.ndarray, *, scatter: np.ndarray | None = None
    ) -> tuple[sp.csr_array, np.ndarray]:
        """M (CSR structure `indices`, `indptr`; link l adds to entry[l]) and tier 1 (buyer b's row at scatter[b],
        or b). Each half of the buyers fills its own entries and rows, on two cores while one is free."""
        inbound, count = self.graph.inbound_indptr, self.graph.company_count
        # Only rows with a direct term are read (7% of the links at 1M companies have a disruption hazard).
        live = np.any(self.columns != 0.0, axis=1).view(np.uint8)
        weights, tier1 = np.zeros(indices.size), np.empty((count, self.columns.shape[1]))

        def fill(first: int, end: int) -> None:
            link_sums(inbound, entry, self.shares, self.carry, weights, self.signatures, first, end)
            links_times(inbound, self.shares, self.columns, live, tier1, self.signatures, scatter, first, end)

        halves(inbound, 0, count, fill)
        return sp.csr_array((weights, indices, indptr), shape=(count, count)), tier1


_Ordered: TypeAlias = tuple[SupplyOrder, sp.csr_array]  # a supply order, and M in it


def _swept(
    order: SupplyOrder, matrix: sp.csr_array, tier1: np.ndarray, *, tiered: int, check: Check
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(total, tier1, tier2, tiers 3+) in company order, by the sweeps over `matrix` (M in supply `order`) for
    E = tier1 + M E, from tier 1 in supply order (used up); None if they do not settle. The tiered columns' tier 2
    is M tier1, and tiers 3+ the rest of the total (within the sweeps' TOLERANCE, so rounding is held at 0)."""
    solution = Sweeps(order, matrix).solve(tier1, check=check)
    if solution is None:
        return None
    back = order.position
    first = np.take(tier1[:, :tiered], back, axis=0)
    second = np.take(times(matrix, tier1[:, :tiered]), back, axis=0)
    # Back in company order, the block into memory already in use (`tier1`: fresh memory costs its page faults),
    # in two halves at once (NumPy's gather runs without Python's lock). mode="clip": with "raise", NumPy gathers
    # into a buffer and copies it to `out` (21 against 36 ms at 1M x 10).
    half = back.size // 2
    both(
        lambda: np.take(solution, back[:half], axis=0, out=tier1[:half], mode="clip"),
        lambda: np.take(solution, back[half:], axis=0, out=tier1[half:], mode="clip"),
    )
    return tier1, first, second, np.maximum(tier1[:, :tiered] - first - second, 0.0)


def _series(
    matrix: sp.csr_array,
    tier1: np.ndarray,
    *,
    tiered: int,
    ordered: _Ordered | None,
    max_tiers: int,
    check: Check,
    single: bool,
) -> Propagation:
    """The series tier after tier, its remainder solved directly past `max_tiers` (module docstring)."""
    term = tier1  # rebound below, never written: no copy (at 10M companies a block column is 80 MB)
    tier2 = np.zeros_like(term)
    rest = np.zeros_like(term)
    tiers = 1
    while tiers < max_tiers and term.size and np.abs(term).max() > TOLERANCE:
        check()
        term = times(matrix, term)
        (tier2 if tiers == 1 else rest)[...] += term
        tiers += 1
    converged = True
    if term.size and np.abs(term).max() > TOLERANCE:
        remainder, converged = _solve_remainder(matrix, term, ordered=ordered, check=check)
        rest += remainder
    total = tier1 + tier2 + rest
    return _result(
        total, tier1[:, :tiered], tier2[:, :tiered], rest[:, :tiered], tiers=tiers, converged=converged, single=single
    )


def _result(
    total: np.ndarray,
    tier1: np.ndarray,
    tier2: np.ndarray,
    rest: np.ndarray,
    *,
    tiers: int,
    converged: bool,
    single: bool,
) -> Propagation:
    if single:
        return Propagation(total[:, 0], tier1[:, 0], tier2[:, 0], rest[:, 0], tiers, converged)
    return Propagation(total, tier1, tier2, rest, tiers, converged)


def supply_order_of(graph: Graph) -> SupplyOrder | None:
    """The graph's supply order (supply_order.py), built once per version from its links' input shares."""
    return graph.derived("supply_order", _supply_order)


def _supply_order(graph: Graph) -> SupplyOrder | None:
    """The order is built from the input shares, so per version; but versions that only re-value links share their
    structural caches, and among them the latest order built. A version whose strengths fall in that order's bands
    (SupplyOrder.fits: a re-valued link rarely moves a share across 0.1 or 0.2) would build the very same order,
    so it takes that one: 1.9 s less for the first score after such a write at 1M companies."""
    shares = graph.derived("input_shares", input_shares)
    latest: dict[str, SupplyOrder] = graph.structural("latest_supply_order", lambda _: {})
    if "order" in latest and latest["order"].fits(shares):
        return latest["order"]
    # The pattern in company order is needed only here and by the series: rebuilt when needed (50 ms at 5M links)
    # rather than kept (10 bytes a link).
    indices, indptr, entry = _supplier_pattern(graph)
    strength = np.bincount(entry, weights=shares, minlength=indices.size)
    order = supply_order(indices, indptr, strength, entry=entry)
    if order is not None:
        latest["order"] = order
    return order


def _supplier_pattern(graph: Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M's CSR structure (one entry per buyer-supplier pair, several products summed) and each link's entry.

    Links are sorted by (buyer, supplier, product), so a pair's links are adjacent: no sort is needed."""
    buyers, suppliers = graph.buyer_array, graph.supplier_array
    first = np.ones(buyers.size, dtype=bool)
    first[1:] = (buyers[1:] != buyers[:-1]) | (suppliers[1:] != suppliers[:-1])
    # Kept per graph version: the entry numbers in scipy's smallest index type (int32 below 2**31 links).
    entry = (np.cumsum(first) - 1).astype(sp.get_index_dtype(maxval=buyers.size))
    return suppliers[first], row_pointers(buyers[first], graph.company_count), entry


def _solve_remainder(
    matrix: sp.csr_array, term: np.ndarray, *, ordered: _Ordered | None, check: Check
) -> tuple[np.ndarray, bool]:
    """sum_{k>=1} M^k t for each column t of `term`, from (I - M) R = M t.

    Only the companies that can receive a remainder ("carrying": they buy, at any depth, from one with M t non-zero)
    take part; every other company's remainder is 0. A *closed loop* among them (a group buying from one another
    in which each passes on everything inside the group) keeps whatever enters it circulating for ever: its
    remainder diverges, so its series stays cut and the result is flagged not converged. Every other carrying
    company's remainder is solved with the closed loops' held at the cut: what it receives from one counts up to
    the cut, everything else exactly. Each of their groups passes on less than everything inside itself, so that
    system has its unique non-negative solution. With a supply order (`ordered`), it is solved by the level sweeps, the
    closed loops' rows emptied (so their remainder stays 0: held at the cut); otherwise, or when the sweeps do not
    settle, small systems by sparse LU (exact, no Krylov breakdown on rings) and large ones by GCROT.
    """
    right = times(matrix, term)
    carrying = _reaching(matrix, np.abs(right).max(axis=1) > 0, check=check)
    nodes = np.flatnonzero(carrying)
    remainder = np.zeros_like(term)
    if not nodes.size:
        return remainder, True
    sub = matrix[nodes][:, nodes]
    closed = _closed_loops(sub)
    converged = not closed.any()
    if ordered is not None:
        # At 3M companies GCROT took 21.6 s for one column, the sweeps 1.7 s.
        order, ordered_matrix = ordered
        held = np.zeros(matrix.shape[0], dtype=bool)
        held[nodes[closed]] = True
        weights = np.where(held[order.order][entry_rows(ordered_matrix.indptr)], 0.0, ordered_matrix.data)
        sweeps = Sweeps(
            order, sp.csr_array((weights, ordered_matrix.indices, ordered_matrix.indptr), shape=matrix.shape)
        )
        swept = sweeps.solve(np.take(np.where(held[:, None], 0.0, right), order.order, axis=0), check=check)
        if swept is not None:
            return np.maximum(np.take(swept, order.position, axis=0), 0.0), converged
    nodes, sub = nodes[~closed], sub[~closed][:, ~closed]
    if not nodes.size:
        return remainder, converged
    operator = (sp.identity(nodes.size, format="csc") - sub).tocsc()
    for column in range(term.shape[1]):
        check()
        rhs = right[nodes, column]
        if not rhs.any():
            continue
        if nodes.size <= DIRECT_SOLVE_LIMIT:
            solved = spla.spsolve(operator, rhs)
        else:
            # Large systems: GCROT(m, k), a restarted GMRES that keeps the k most useful directions across restarts,
            # so it needs short cycles (less orthogonalisation) without GMRES(m)'s stalls; no breakdown on
            # nonsingular systems, unlike BiCGSTAB. Checked by its residual. At 1M companies it needed 134 operator
            # products against GMRES(60)'s 173, in about 35% less time.
            solved, _ = spla.gcrotmk(operator, rhs, rtol=1e-12, atol=TOLERANCE, m=20, k=10, maxiter=500)
            if np.abs(operator @ solved - rhs).max() > 100 * TOLERANCE:
                return np.zeros_like(term), False
        remainder[nodes, column] = np.maximum(solved, 0.0)
    return remainder, converged


def _closed_loops(matrix: sp.csr_array) -> np.ndarray:
    """Companies in a closed loop: a strongly connected group in which each passes on everything inside the group
    (its spectral radius is 1). Any other group has a member passing on less inside it, so its radius is below 1."""
    count = matrix.shape[0]
    # Only positive entries are links here (csgraph would take a stored zero, a link worth nothing, for an edge).
    _, group = csgraph.connected_components(matrix > 0, directed=True, connection="strong")
    rows = entry_rows(matrix.indptr)
    inside = group[rows] == group[matrix.indices]
    passed_inside = np.bincount(rows[inside], weights=matrix.data[inside], minlength=count)
    short = np.bincount(group, weights=passed_inside < PASSES_EVERYTHING)
    closed: np.ndarray = short[group] == 0
    return closed


def _reaching(matrix: sp.csr_array, start: np.ndarray, *, check: Check) -> np.ndarray:
    """`start` plus every company that buys, at any depth, from a company in it (M[b, s] > 0 is an edge b -> s)."""
    pattern = (matrix > 0).astype(np.float64)
    reached = start.copy()
    frontier = start.astype(np.float64)
    while frontier.any():
        check()
        grown = (pattern @ frontier > 0) & ~reached
        reached |= grown
        frontier = grown.astype(np.float64)
    return reached
