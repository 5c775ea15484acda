"""The upstream paths that make up a company's exposure, largest first.

Expanding X = d + M d + M^2 d + ... link by link, X_b is a sum over upstream paths b <- s1 <- ... <- sk of

    contribution(path) = w_e1 a_e1 (1 - h_e1) x ... x w_e(k-1) a_e(k-1) (1 - h_e(k-1)) x w_ek h_ek

(the disruption at the path's last link, carried down to b), and likewise C_b with p_e as the carry and r_e as
the direct term. The search is best-first: a partial path is ranked by its carry times the supplier's own exposure
(X_s or C_s), which is exactly the sum of all its extensions, so the k largest paths come out first without
enumerating the rest.

Example: A buys 60% from B, B buys all from D with h = 0.5, damping 0.5: the path A <- B <- D contributes
0.6 x 0.5 x (1 - 0) x 1.0 x 0.5 = 0.15.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import StrEnum

from server.core.cancellation import Check, never_cancelled
from server.core.graph import Graph
from server.core.scores import LinkInputs, Scores

MAX_EXPANSIONS = 100_000
CHECK_EVERY = 1024  # expansions between cancellation checks


class Component(StrEnum):
    DISRUPTION = "disruption"
    TARIFF = "tariff"


@dataclass(frozen=True)
class ExposurePath:
    """Link rows from the company's own supplier (tier 1) outward, and the path's contribution."""

    rows: tuple[int, ...]
    contribution: float


def top_paths(
    graph: Graph,
    scores: Scores,
    root: int,
    *,
    component: Component,
    limit: int,
    max_depth: int,
    check: Check = never_cancelled,
) -> list[ExposurePath]:
    """The `limit` largest contributions to `root`'s disruption (or tariff cost), paths at most `max_depth` long;
    `check` runs every `CHECK_EVERY` expansions."""
    links = scores.links
    exposure = scores.companies["disruption" if component is Component.DISRUPTION else "tariff_cost"].to_numpy()
    suppliers = graph.supplier_array
    found: list[ExposurePath] = []
    # Heap items: (-priority, tie, kind, rows, weight); kind 0 = a finished path worth `weight`, kind 1 = a partial
    # path whose extensions are worth weight x exposure(last supplier).
    heap: list[tuple[float, int, int, tuple[int, ...], float]] = []
    counter = 0

    def push_links_of(company: int, prefix: tuple[int, ...], weight: float) -> None:
        nonlocal counter
        start, end = int(graph.inbound_indptr[company]), int(graph.inbound_indptr[company + 1])
        # Only this company's inbound links are gathered: the score table keeps its inputs per signature.
        shares, direct, carry = _terms(links, component, slice(start, end))
        for offset, row in enumerate(range(start, end)):
            base = weight * shares[offset]
            if base <= 0:
                continue
            path = (*prefix, row)
            if direct[offset] > 0:
                counter += 1
                heapq.heappush(heap, (-base * direct[offset], counter, 0, path, base * direct[offset]))
            onward = base * carry[offset]
            if onward * exposure[suppliers[row]] > 0 and len(path) < max_depth:
                counter += 1
                heapq.heappush(heap, (-onward * exposure[suppliers[row]], counter, 1, path, onward))

    push_links_of(root, (), 1.0)
    expansions = 0
    while heap and len(found) < limit and expansions < MAX_EXPANSIONS:
        _, _, kind, path, weight = heapq.heappop(heap)
        if kind == 0:
            found.append(ExposurePath(path, weight))
        else:
            expansions += 1
            if expansions % CHECK_EVERY == 0:
                check()
            push_links_of(int(suppliers[path[-1]]), path, weight)
    return found


def _terms(links: LinkInputs, component: Component, rows: slice) -> tuple[list[float], list[float], list[float]]:
    """w, the direct term (h or r) and the carry (a (1 - h) or p) of the links `rows`."""
    shares = links.values("w", rows).tolist()
    if component is Component.DISRUPTION:
        hazard = links.values("hazard", rows)
        return shares, hazard.tolist(), (links.values("damping", rows) * (1.0 - hazard)).tolist()
    return shares, links.values("tariff_rate", rows).tolist(), links.values("pass_through", rows).tolist()
