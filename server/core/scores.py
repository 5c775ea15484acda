"""Whole-graph exposure scores under one scenario on one date: disruption, tariff cost, breakdowns, 0-100 score.

Formulas (docs/scoring.md has the worked example):
- disruption  X_b = sum_e w_e [ h_e + a_e (1 - h_e) X_s ]   (h_e: link hazard, a_e: damping by product category)
- tariff cost C_b = sum_e w_e [ r_e + p_e C_s ]             (r_e: stacked duty rate, p_e: pass-through)
- dollar impact = C_b x b's annual input spend
- score = 100 x (0.7 X + 0.3 min(1, C / 0.25)); level low < 20 <= medium < 40 <= high < 60 <= critical
Breakdowns keep the propagation matrix of the full scenario and split the direct terms by the link's material
tags (taxonomy tags, derived or set by the user; a link may count for several materials) and by the controlling
country of its strongest control (each link counts once, so the country columns sum to X).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeAlias

import numpy as np
import polars as pl

from server.core.breakdowns import Breakdown
from server.core.cancellation import Check, never_cancelled
from server.core.graph import Graph
from server.core.link_policy import carries_by_signature, evaluate_links, graph_signatures
from server.core.parallel import both
from server.core.policy import PolicySet
from server.core.propagation import Propagation, input_shares, propagate

# Share of an upstream disruption passed on through a link, by what the link carries. Critical raw materials have
# no short-run substitute (a refinery without feed stops); chips a little more; installed fab tools keep running
# for years, so losing the toolmaker hurts slowly. Links carrying none of these use the scenario's default.
DAMPING_BY_TAG: dict[str, float] = {
    "rare_earth": 0.9,
    "gallium": 0.9,
    "germanium": 0.9,
    "antimony": 0.9,
    "graphite": 0.9,
    "tungsten": 0.9,
    "magnet": 0.8,
    "semiconductor": 0.8,
    "wafer": 0.8,
    "silicon": 0.8,
    "semiconductor_equipment": 0.5,
    "lithography": 0.5,
    "euv": 0.5,
}
SCORE_DISRUPTION_WEIGHT = 0.7
SCORE_TARIFF_WEIGHT = 0.3
SCORE_TARIFF_FULL = 0.25  # a 25% added duty on all inputs counts as fully exposed
LEVELS = ((60.0, "critical"), (40.0, "high"), (20.0, "medium"), (0.0, "low"))
# One byte per company instead of a 16-byte string view; categories in rising order.
LEVEL = pl.Enum([name for _, name in reversed(LEVELS)])
SignatureColumn = Literal["hazard", "tariff_rate", "damping", "pass_through"]
LinkColumn = Literal["w", SignatureColumn]


@dataclass(frozen=True)
class LinkInputs:
    """What each link of the graph puts into one score table, held at the size of what varies per table.

    The policy's answer depends only on a link's shipment signature, so it is kept per distinct signature
    (`signatures`: hazard, tariff_rate, control_id, control_country, tariff_ids; thousands of rows), with each link's
    signature number (`link_signature`). That array, the input shares `w` and the damping categories (per
    signature too: they follow the tags, which are part of it) are derived from the graph once per version and
    shared by all its tables; damping and pass-through are the scenario's parameters. Per-link values are gathered
    for the rows a query asks for: 5M-row columns kept per cached table cost about 120 bytes a link each.
    """

    signatures: pl.DataFrame
    link_signature: np.ndarray
    shares: np.ndarray
    damping_category: np.ndarray  # per signature: its category's damping, -1 where none (then `damping_default`)
    damping_default: float
    damping_override: float | None  # the request's damping for every link, category or not
    pass_through: float

    def values(self, column: LinkColumn, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """One input of the links `rows` (all by default), in row order."""
        if column == "w":
            return self.shares[rows]
        return np.take(self.by_signature(column), self.link_signature[rows])

    def by_signature(self, column: SignatureColumn) -> np.ndarray:
        """One input per shipment signature: every input but `w` is the same for all links of a signature."""
        count = self.signatures.height
        if column == "damping":
            if self.damping_override is not None:
                return np.full(count, self.damping_override)
            return _with_default(self.damping_category, self.damping_default)
        if column == "pass_through":
            return np.full(count, self.pass_through)
        return self.signatures[column].to_numpy()

    def row(self, row: int) -> dict[str, Any]:
        """Every input of one link by name: the numbers and the measures behind them."""
        one = slice(row, row + 1)
        return {
            **self.signatures.row(int(self.link_signature[row]), named=True),
            **{column: float(self.values(column, one)[0]) for column in ("w", "damping", "pass_through")},
        }


@dataclass(frozen=True)
class Scores:
    """One (graph version, scenario, date, parameters) result.

    `companies`: idx, company_id, country (the graph's own columns, shared), disruption (+ _tier1/_tier2/
    _tier3_plus), tariff_cost (+ tiers), input_spend_usd (the graph's, shared), tariff_impact_usd, score, level
    (`LEVEL`). `by_material` / `by_country`: each company's disruption by material and by controlling country
    (breakdowns.py). `links`: the inputs of every link (w, hazard, tariff_rate, damping,
    control_id, control_country, tariff_ids, pass_through), held per shipment signature.
    """

    companies: pl.DataFrame
    by_material: Breakdown
    by_country: Breakdown
    links: LinkInputs
    graph_version: int
    on: date
    # False: a closed loop passes on everything, and that component has no finite value there.
    disruption_converged: bool = True
    tariff_converged: bool = True

    @property
    def converged(self) -> bool:
        return self.disruption_converged and self.tariff_converged


def score_graph(
    graph: Graph,
    policy: PolicySet,
    *,
    on: date,
    damping: float | None = None,
    pass_through: float | None = None,
    check: Check = never_cancelled,
    reuse: Scores | None = None,
) -> Scores:
    """Score every company of `graph` under `policy` on day `on`; `damping`/`pass_through` override the defaults.

    `check` runs between steps and on every propagation tier: a caller that gives up stops the work within a tier.
    `reuse`: scores of the same graph version under another scenario or date (a what-if's base). A component
    whose per-link inputs are identical in both (disruption: hazard, damping and controlling country; tariff cost:
    rate and pass-through) is taken from it instead of being propagated again: same inputs, same numbers.
    """
    signatures, link_signature = evaluate_links(graph, policy, on=on)
    check()
    links = LinkInputs(
        signatures,
        link_signature,
        shares=graph.derived("input_shares", input_shares),
        damping_category=graph.structural("damping_category", _signature_damping_category),
        damping_default=policy.parameters.damping_default,
        damping_override=damping,
        pass_through=policy.parameters.pass_through_default if pass_through is None else pass_through,
    )
    base = reuse if reuse is not None and reuse.graph_version == graph.version else None

    def disruption_family() -> _DisruptionFamily:
        if base is not None and _same_inputs(
            base.links, links, columns=("hazard", "control_country"), parameters=("damping_default", "damping_override")
        ):
            stored = _stored(base.companies, "disruption", converged=base.disruption_converged)
            return stored, base.by_material, base.by_country
        return _disruption_family(graph, links, check=check)

    def tariff_cost() -> Propagation:
        if base is not None and _same_inputs(base.links, links, columns=("tariff_rate",), parameters=("pass_through",)):
            return _stored(base.companies, "tariff", converged=base.tariff_converged)
        rate, carry_through = links.by_signature("tariff_rate"), links.by_signature("pass_through")
        return propagate(graph, rate, carry_through, shares=links.shares, signatures=links.link_signature, check=check)

    # Independent systems: solved at once on two cores while one is free (parallel.both).
    (disruption, by_material, by_country), tariff = both(disruption_family, tariff_cost)
    check()
    spend = graph.derived("input_spend", _input_spend)
    score = 100.0 * (
        SCORE_DISRUPTION_WEIGHT * disruption.total
        + SCORE_TARIFF_WEIGHT * np.minimum(1.0, tariff.total / SCORE_TARIFF_FULL)
    )
    companies = graph.companies.select("idx", "company_id", "country").with_columns(
        pl.Series("disruption", disruption.total),
        pl.Series("disruption_tier1", disruption.tier1),
        pl.Series("disruption_tier2", disruption.tier2),
        pl.Series("disruption_tier3_plus", disruption.tier3_plus),
        pl.Series("tariff_cost", tariff.total),
        pl.Series("tariff_tier1", tariff.tier1),
        pl.Series("tariff_tier2", tariff.tier2),
        pl.Series("tariff_tier3_plus", tariff.tier3_plus),
        pl.Series("input_spend_usd", spend),
        pl.Series("tariff_impact_usd", tariff.total * spend),
        pl.Series("score", rounded := np.round(score, 2)),
        level_of(rounded),
    )
    return Scores(
        companies,
        by_material,
        by_country,
        links,
        graph.version,
        on,
        disruption_converged=disruption.converged,
        tariff_converged=tariff.converged,
    )


def level_of(score: np.ndarray) -> pl.Series:
    """The level for people: low < 20 <= medium < 40 <= high < 60 <= critical."""
    # A count of thresholds passed, gathered from the names: 6-19 ms at 1M companies, a when/then chain 27 ms.
    passed = sum((score >= threshold for threshold, _ in LEVELS[:-1]), start=np.zeros(score.shape, dtype=np.uint32))
    return _LEVEL_NAMES.gather(passed)


_LEVEL_NAMES = pl.Series("level", LEVEL.categories, dtype=LEVEL)


def damping_of_tags(tags: pl.Series, *, default: float) -> np.ndarray:
    """a_e per list of tags (derived or user): the highest `DAMPING_BY_TAG` value among them; the scenario default
    only where none is a category."""
    return _with_default(_damping_category(tags), default)


def _damping_category(tags: pl.Series) -> np.ndarray:
    """Per list of tags: the highest `DAMPING_BY_TAG` value among them, -1 where none is a category."""
    category = np.full(tags.len(), -1.0)
    carried = tags.to_frame("tags").select(pl.col("tags").list.contains(tag).alias(tag) for tag in DAMPING_BY_TAG)
    for tag, value in DAMPING_BY_TAG.items():
        category = np.where(carried[tag].to_numpy(), np.maximum(category, value), category)
    return category


def _signature_damping_category(graph: Graph) -> np.ndarray:
    signatures, _ = graph_signatures(graph)
    return _damping_category(signatures["tags"])


def _with_default(category: np.ndarray, default: float) -> np.ndarray:
    return np.where(category >= 0, category, default)


_DisruptionFamily: TypeAlias = tuple[Propagation, Breakdown, Breakdown]


def _disruption_family(graph: Graph, links: LinkInputs, *, check: Check) -> _DisruptionFamily:
    """X with its tiers, and its breakdowns by material and by controlling country: one propagation of the
    block [h, h restricted to each material, h restricted to each country], which share one matrix.

    Every input is a signature's (LinkInputs), so the block and the carry are built per signature (thousands of
    rows) and propagate reads them there: every signature is some link's, so a material or country is in the
    block exactly when an exposed link has it."""
    hazard = links.by_signature("hazard")
    hit = hazard > 0
    carried = {m: carries_by_signature(graph, m) for m in sorted(graph.material_tags)}
    materials = [m for m, mask in carried.items() if (mask & hit).any()]
    country = links.signatures["control_country"]
    countries = sorted(c for c in country.filter(hit).unique().to_list() if c)
    by_signature = np.column_stack(
        [hazard]
        + [hazard * carried[m] for m in materials]
        + [hazard * (country == c).fill_null(False).to_numpy() for c in countries]
    )
    carry = links.by_signature("damping") * (1.0 - hazard)
    result = propagate(
        graph, by_signature, carry, shares=links.shares, signatures=links.link_signature, tiered=1, check=check
    )
    disruption = Propagation(
        result.total[:, 0],
        result.tier1[:, 0],
        result.tier2[:, 0],
        result.tier3_plus[:, 0],
        result.tiers_used,
        result.converged,
    )
    split = 1 + len(materials)
    # Compiled passes without Python's lock: at once on two cores while one is free.
    by_material, by_country = both(
        lambda: Breakdown.of_block(result.total[:, 1:split], materials),
        lambda: Breakdown.of_block(result.total[:, split:], countries),
    )
    return disruption, by_material, by_country


def _same_inputs(base: LinkInputs, links: LinkInputs, *, columns: tuple[str, ...], parameters: tuple[str, ...]) -> bool:
    """Do two tables of one graph version give every link the same values of these inputs?

    Both share the graph's per-link signature numbers, and every signature is some link's, so the per-link values
    of a signature column are equal exactly when the signature tables' are. Damping and pass-through are the
    graph's shared categories plus the parameters: equal parameters give equal per-link values; unequal ones that
    happen to give equal values (a default no link uses) only cost a propagation, which gives the same numbers."""
    return base.signatures.select(columns).equals(links.signatures.select(columns)) and all(
        getattr(base, name) == getattr(links, name) for name in parameters
    )


# Where a component sits in the score table: its total column and the prefix of its tier columns.
_COMPONENT_COLUMNS = {"disruption": ("disruption", "disruption"), "tariff": ("tariff_cost", "tariff")}


def _stored(companies: pl.DataFrame, component: str, *, converged: bool) -> Propagation:
    """A component as stored in a score table (`tiers_used` is not stored: 0)."""
    total, tiers = _COMPONENT_COLUMNS[component]
    return Propagation(
        companies[total].to_numpy(),
        companies[f"{tiers}_tier1"].to_numpy(),
        companies[f"{tiers}_tier2"].to_numpy(),
        companies[f"{tiers}_tier3_plus"].to_numpy(),
        0,
        converged,
    )


def _input_spend(graph: Graph) -> np.ndarray:
    """Per company: the value of its inbound links (the same under every scenario)."""
    return np.bincount(graph.buyer_array, weights=graph.value_array, minlength=graph.company_count)
