"""Reading whole-graph score tables: one company's components, rankings, and comparisons of two tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from server.core.graph import Graph
from server.core.link_policy import carries
from server.core.propagation import TOLERANCE
from server.core.scores import Scores

COMPONENT_COLUMNS = {
    "score": "score",
    "disruption": "disruption",
    "tariff_cost": "tariff_cost",
    "tariff_impact": "tariff_impact_usd",
}
LEVEL_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
# Each table is solved to TOLERANCE, so two tables may differ by about that much where nothing changed: smaller
# differences are solver noise, not changes.
CHANGE_THRESHOLD = 10 * TOLERANCE


@dataclass(frozen=True)
class CompanyBreakdown:
    row: dict[str, object]
    by_material: list[tuple[str, float]]
    by_country: list[tuple[str, float]]


@dataclass(frozen=True)
class Ranking:
    rows: pl.DataFrame
    has_more: bool
    total_size: int


@dataclass(frozen=True)
class Comparison:
    rows: pl.DataFrame
    has_more: bool
    total_size: int
    level_up: int
    level_down: int
    total_impact_change_usd: float


def company_breakdown(scores: Scores, index: int) -> CompanyBreakdown:
    """One company's row and its material and controlling-country breakdowns, largest first."""

    return CompanyBreakdown(
        scores.companies.row(index, named=True), scores.by_material.of(index), scores.by_country.of(index)
    )


def bought_materials(graph: Graph, index: int) -> list[str]:
    """Tags on the company's inbound links (its directly bought materials), transshipment excluded."""
    start, end = int(graph.inbound_indptr[index]), int(graph.inbound_indptr[index + 1])
    tags = graph.links.select("derived_tags", "tags").slice(start, end - start)
    found = {tag for column in tags.iter_columns() for values in column.to_list() for tag in values}
    return sorted(found - {"transshipment"})


def rank_companies(
    graph: Graph, scores: Scores, *, component: str, country: str, tag: str, after: tuple[str, ...] | None, limit: int
) -> Ranking:
    """Companies by `component` (highest first, ties by id), filtered by country and inbound-link tag."""
    column = COMPONENT_COLUMNS[component]
    ranked = scores.companies
    if country:
        ranked = ranked.filter(pl.col("country") == country)
    if tag:
        buyers = np.unique(graph.buyer_array[carries(graph, tag, slice(None))])
        ranked = ranked.filter(pl.col("idx").is_in(pl.Series(buyers).implode()))
    ranked = ranked.with_columns((-pl.col(column)).alias("_order")).sort(["_order", "company_id"])
    if after is not None:
        order_value, company_id = float(after[0]), after[1]
        ranked_after = ranked.filter(
            (pl.col("_order") > order_value) | ((pl.col("_order") == order_value) & (pl.col("company_id") > company_id))
        )
    else:
        ranked_after = ranked
    page = ranked_after.head(limit + 1)
    return Ranking(page.head(limit).drop("_order"), page.height > limit, ranked.height)


def rank_key(row: dict[str, object], component: str) -> tuple[str, ...]:
    """The page-token key of a ranked row: the negated component value (exact repr) and the company id."""
    return (repr(-float(row[COMPONENT_COLUMNS[component]])), str(row["company_id"]))  # type: ignore[arg-type]


def compare_scores(
    baseline: Scores, compared: Scores, *, component: str, after: tuple[str, ...] | None, limit: int
) -> Comparison:
    """Per-company changes (compared - baseline), biggest absolute change of `component` first; unchanged dropped."""
    column = COMPONENT_COLUMNS[component]
    joined = compared.companies.join(
        baseline.companies.select(
            "company_id",
            *[
                pl.col(c).alias(f"baseline_{c}")
                for c in ("score", "level", "disruption", "tariff_cost", "tariff_impact_usd")
            ],
        ),
        on="company_id",
    ).with_columns(
        (pl.col("disruption") - pl.col("baseline_disruption")).alias("disruption_change"),
        (pl.col("tariff_cost") - pl.col("baseline_tariff_cost")).alias("tariff_cost_change"),
        (pl.col("tariff_impact_usd") - pl.col("baseline_tariff_impact_usd")).alias("tariff_impact_change_usd"),
        (pl.col(column) - pl.col(f"baseline_{column}")).abs().alias("_change"),
        pl.col("level").replace_strict(LEVEL_RANK).alias("_level"),
        pl.col("baseline_level").replace_strict(LEVEL_RANK).alias("_baseline_level"),
    )
    changed = (
        joined.filter(
            (pl.col("_change") > CHANGE_THRESHOLD)
            | (pl.col("disruption_change").abs() > CHANGE_THRESHOLD)
            | (pl.col("tariff_cost_change").abs() > CHANGE_THRESHOLD)
        )
        .with_columns((-pl.col("_change")).alias("_order"))
        .sort(["_order", "company_id"])
    )
    remaining = changed
    if after is not None:
        order_value, company_id = float(after[0]), after[1]
        remaining = changed.filter(
            (pl.col("_order") > order_value) | ((pl.col("_order") == order_value) & (pl.col("company_id") > company_id))
        )
    page = remaining.head(limit + 1)
    return Comparison(
        rows=page.head(limit),
        has_more=page.height > limit,
        total_size=changed.height,
        level_up=int((joined["_level"] > joined["_baseline_level"]).sum()),
        level_down=int((joined["_level"] < joined["_baseline_level"]).sum()),
        total_impact_change_usd=float(np.sum(joined["tariff_impact_change_usd"].to_numpy())),
    )


def change_key(row: dict[str, object]) -> tuple[str, ...]:
    return (repr(float(row["_order"])), str(row["company_id"]))  # type: ignore[arg-type]
