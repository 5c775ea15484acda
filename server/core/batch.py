"""Scoring a supplier list (a spreadsheet of suppliers, products and spend) as one virtual buyer.

Each row is one inbound link of a buyer that is not in the graph: matched to a graph company by `supplier_id`, else
by normalised name and country, else left unmatched (scored on its direct link alone, as a supplier with no
upstream exposure). Because the virtual buyer sells to no one, adding it to the graph changes no other score, so
the batch gives exactly what adding the buyer and its links and calling ScoreCompany would:

    row disruption  x_r = h_r + a_r (1 - h_r) X_s        row duty cost  c_r = r_r + p_r C_s
    portfolio       X   = sum_r w_r x_r                  C = sum_r w_r c_r,   w_r = spend_r / total spend
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from server.core.cancellation import Check, never_cancelled
from server.core.graph import INDEX, Graph
from server.core.link_policy import carries, evaluate_signatures
from server.core.lookthrough import origin_shares
from server.core.policy import PolicySet
from server.core.scores import Scores, damping_of_tags
from server.core.taxonomy import TRANSSHIPMENT, flag_transshipment, tag_hs_codes
from server.core.validation import COUNTRY_CODES, HS_PATTERN

LOOK_THROUGH_LIMIT = 500  # look-through walks per list: each costs about 1 ms on a 1M-link graph
BATCH_COLUMNS = (
    "supplier_id",
    "supplier_name",
    "country",
    "hs_code",
    "annual_spend_usd",
    "origin_country",
    "route",
    "buyer_country",
)


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


def normalise_name(name: pl.Expr) -> pl.Expr:
    """Lower case, letters and digits only, common legal suffixes dropped: 'ACME Metals, Inc.' -> 'acmemetals'."""
    suffixes = (
        r"\b(incorporated|inc|corp|corporation|co|company|ltd|limited|llc|gmbh|ag|sa|bv|kk|plc|jsc|pte|sdn bhd)\b"
    )
    # Dots and apostrophes join (B.V. -> bv), other punctuation separates words, then suffixes go.
    return (
        name.str.to_lowercase()
        .str.replace_all(r"[.']", "")
        .str.replace_all(r"[^\w\s]", " ")
        .str.replace_all(suffixes, " ")
        .str.replace_all(r"[\W_]+", "")
    )


def validate_rows(raw: pl.DataFrame, *, first_row: int, buyer_country: str) -> tuple[pl.DataFrame, list[RowError]]:
    """Check a batch of rows (all columns as text except spend); bad rows are returned as errors, good rows kept.

    Row numbers count from 1 over the whole list (`first_row` is the number of this batch's first row).
    """
    text = {c: pl.col(c).cast(pl.String).str.strip_chars() for c in BATCH_COLUMNS if c != "annual_spend_usd"}
    rows = raw.select(
        pl.int_range(first_row, first_row + pl.len(), dtype=pl.Int64).alias("row"),
        *[
            pl.when(expr != "").then(expr).alias(c) if c in raw.columns else pl.lit(None, pl.String).alias(c)
            for c, expr in text.items()
        ],
        pl.col("annual_spend_usd").cast(pl.Float64, strict=False).alias("annual_spend_usd")
        if "annual_spend_usd" in raw.columns
        else pl.lit(None, pl.Float64).alias("annual_spend_usd"),
    ).with_columns(pl.col("buyer_country").fill_null(pl.lit(buyer_country or None, pl.String)))
    countries = sorted(COUNTRY_CODES)
    hs_digits = pl.col("hs_code").str.replace_all(".", "", literal=True)
    route = pl.col("route").str.split(">")
    checks = [
        (
            "supplier_id",
            pl.col("supplier_id").is_null() & (pl.col("supplier_name").is_null() | pl.col("country").is_null()),
            "needs supplier_id, or supplier_name and country",
        ),
        (
            "country",
            pl.col("country").is_not_null() & ~pl.col("country").is_in(countries),
            "must be an ISO 3166-1 alpha-2 code",
        ),
        (
            "hs_code",
            pl.col("hs_code").is_null()
            | ~pl.col("hs_code").str.contains(HS_PATTERN)
            | ~hs_digits.str.len_chars().is_between(4, 10),
            "must be 4-10 digits (dots allowed)",
        ),
        (
            "annual_spend_usd",
            ~pl.col("annual_spend_usd").is_finite().fill_null(False) | (pl.col("annual_spend_usd") < 0),
            "must be a finite number >= 0",
        ),
        (
            "origin_country",
            pl.col("origin_country").is_not_null() & ~pl.col("origin_country").is_in(countries),
            "must be an ISO 3166-1 alpha-2 code",
        ),
        (
            "route",
            pl.col("route").is_not_null() & ~route.list.eval(pl.element().is_in(countries)).list.all(),
            "must be '>'-separated ISO codes",
        ),
        (
            "buyer_country",
            pl.col("buyer_country").is_null() | ~pl.col("buyer_country").is_in(countries),
            "must be an ISO alpha-2 code (column or --buyer-country)",
        ),
    ]
    flagged = rows.with_columns(
        [check.fill_null(False).alias(f"_bad_{column}_{i}") for i, (column, check, _) in enumerate(checks)]
    )
    errors: list[RowError] = []
    bad = np.zeros(rows.height, dtype=bool)
    for i, (column, _, message) in enumerate(checks):
        mask = flagged[f"_bad_{column}_{i}"].to_numpy()
        if not mask.any():
            continue
        bad |= mask
        raw_values = raw[column].cast(pl.String).to_list() if column in raw.columns else [None] * raw.height
        errors += [
            RowError(int(row), column, f"row {row}, column {column}: {message}, got {raw_values[index]!r}")
            for index, row in zip(np.flatnonzero(mask).tolist(), rows["row"].to_numpy()[mask].tolist(), strict=True)
        ]
    good = rows.filter(pl.Series(~bad)).with_columns(hs_digits.alias("hs_code"))
    return good, sorted(errors, key=lambda error: (error.row, BATCH_COLUMNS.index(error.column)))


def _companies_by_name(graph: Graph) -> pl.DataFrame:
    """(normalised name, country) -> the first company with them; derived once per graph version, since
    normalising every name of a large graph costs more than scoring a batch of rows."""
    return graph.companies.select(
        normalise_name(pl.col("name")).alias("_name"),
        pl.col("country").alias("_country"),
        pl.col("idx").alias("_by_name"),
    ).unique(["_name", "_country"], keep="first", maintain_order=True)


def match_suppliers(graph: Graph, rows: pl.DataFrame) -> pl.DataFrame:
    """Adds `supplier_idx` (null when unmatched) and `match` (`id`, `name+country` or `unmatched`).

    Ids are found by binary search in the graph's sorted ids; only rows left unmatched that carry a name are joined
    against the (name, country) index, so a batch costs its own size, not the graph's."""
    by_id = graph.company_indices(rows["supplier_id"])
    matched = rows.with_columns(by_id.alias("_by_id"), pl.lit(None, dtype=INDEX).alias("_by_name"))
    by_name_needed = matched["_by_id"].is_null() & matched["supplier_name"].is_not_null()
    if by_name_needed.any():
        by_name = graph.structural("companies_by_name", _companies_by_name)
        named = (
            matched.select(normalise_name(pl.col("supplier_name")).alias("_name"), pl.col("country").alias("_country"))
            .join(by_name, on=["_name", "_country"], how="left", maintain_order="left")
            .get_column("_by_name")
        )
        matched = matched.with_columns(named.cast(INDEX).alias("_by_name"))
    return matched.with_columns(
        pl.coalesce("_by_id", "_by_name").alias("supplier_idx"),
        pl.when(pl.col("_by_id").is_not_null())
        .then(pl.lit("id"))
        .when(pl.col("_by_name").is_not_null())
        .then(pl.lit("name+country"))
        .otherwise(pl.lit("unmatched"))
        .alias("match"),
    ).drop("_by_id", "_by_name")


def score_rows(
    graph: Graph, scores: Scores, rows: pl.DataFrame, policy: PolicySet, *, taxonomy: pl.DataFrame, on: date
) -> pl.DataFrame:
    """Matched rows scored: hazard, duty, row disruption and duty cost, dollar impact, the measures behind them."""
    # Row i of the companies and score tables is company idx i: gathers, not joins against million-row tables.
    supplier = rows["supplier_idx"]
    rows = rows.with_columns(
        graph.companies["company_id"].gather(supplier).alias("matched_company_id"),
        graph.companies["country"].gather(supplier).alias("_company_country"),
        scores.companies["disruption"].gather(supplier).alias("_x"),
        scores.companies["tariff_cost"].gather(supplier).alias("_c"),
    )
    shipping = pl.coalesce("_company_country", "country")
    signatures = rows.select(
        "hs_code",
        pl.coalesce("origin_country", shipping).alias("effective_origin_country"),
        shipping.alias("supplier_country"),
        "buyer_country",
        pl.col("route").str.split(">").fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("route"),
    )
    transshipped = flag_transshipment(signatures)
    tags = signatures.select("hs_code").join(
        tag_hs_codes(signatures["hs_code"], taxonomy), on="hs_code", how="left", maintain_order="left"
    )
    signature_frame = pl.DataFrame(
        {
            "hs_code": signatures["hs_code"],
            "origin": signatures["effective_origin_country"],
            "shipping": signatures["supplier_country"],
            "buyer_country": signatures["buyer_country"],
            "buyer_lists": pl.select(pl.repeat(pl.lit([], dtype=pl.List(pl.String)), rows.height)).to_series(),
            "tags": pl.select(
                pl.when(transshipped).then(tags["transshipment_tags"]).otherwise(tags["taxonomy_tags"])
            ).to_series(),
            "transshipment": transshipped,
        }
    )
    fired = evaluate_signatures(signature_frame, policy, on=on)
    hazard = fired["hazard"].to_numpy()
    damping = damping_of_tags(signature_frame["tags"], default=policy.parameters.damping_default)
    upstream_x = rows["_x"].fill_null(0.0).to_numpy()
    upstream_c = rows["_c"].fill_null(0.0).to_numpy()
    spend = rows["annual_spend_usd"].to_numpy()
    row_disruption = hazard + damping * (1.0 - hazard) * upstream_x
    row_tariff = fired["tariff_rate"].to_numpy() + policy.parameters.pass_through_default * upstream_c
    return rows.drop("_x", "_c", "_company_country").with_columns(
        signatures["effective_origin_country"].alias("effective_origin_country"),
        signature_frame["tags"].alias("derived_tags"),
        transshipped.alias("transshipment"),
        fired["hazard"].alias("hazard"),
        fired["tariff_rate"].alias("tariff_rate"),
        pl.Series("export_control_exposure", row_disruption),
        pl.Series("tariff_cost", row_tariff),
        pl.Series("tariff_impact_usd", row_tariff * spend),
        fired["control_id"].alias("top_control_id"),
        fired["tariff_ids"].alias("tariff_measure_ids"),
    )


def empty_scored() -> pl.DataFrame:
    """A scored table with no rows (an empty supplier list)."""
    return pl.DataFrame(
        schema={
            "annual_spend_usd": pl.Float64,
            "export_control_exposure": pl.Float64,
            "tariff_cost": pl.Float64,
            "tariff_impact_usd": pl.Float64,
            "effective_origin_country": pl.String,
            "derived_tags": pl.List(pl.String),
            "top_control_id": pl.String,
            "supplier_idx": pl.Int32,
        }
    )


@dataclass(frozen=True)
class Portfolio:
    """The virtual buyer's totals and where its spend at risk sits."""

    total_spend_usd: float
    disruption: float
    tariff_cost: float
    tariff_impact_usd: float
    spend_at_risk_by_material: dict[str, float]
    spend_at_risk_by_origin: dict[str, float]
    spend_at_risk_by_measure: dict[str, float]
    face_value_china_share: float
    look_through_china_share: float
    rows_scored: int


def look_through_china_share(
    graph: Graph, scored: pl.DataFrame, *, max_suppliers: int = LOOK_THROUGH_LIMIT, check: Check = never_cancelled
) -> float:
    """Spend share of Chinese origin looking through matched suppliers that buy the row's material themselves.

    A row counts with its supplier's look-through China share for the first of the row's material tags that the
    supplier itself buys, and with its own origin otherwise (face value). Only the `max_suppliers` largest
    (supplier, material) pairs by spend are traced; the rest count at face value. `check` runs per traced pair.
    """
    total = float(scored["annual_spend_usd"].sum()) if scored.height else 0.0
    if total <= 0:
        return 0.0
    materials = sorted(graph.material_tags)
    rows = (
        scored.select("supplier_idx", "derived_tags", "annual_spend_usd", "effective_origin_country")
        .with_row_index("_row")
        .with_columns(
            pl.col("derived_tags").list.eval(pl.element().filter(pl.element().is_in(materials))).alias("_material")
        )
    )
    candidates = rows.filter(pl.col("supplier_idx").is_not_null()).explode("_material").drop_nulls("_material")
    pairs = (
        candidates.group_by("supplier_idx", "_material")
        .agg(pl.col("annual_spend_usd").sum())
        .sort(["annual_spend_usd", "supplier_idx", "_material"], descending=[True, False, False])
        .head(max_suppliers)
    )
    traced = []
    for supplier, material, _ in pairs.iter_rows():
        start, end = int(graph.inbound_indptr[supplier]), int(graph.inbound_indptr[supplier + 1])
        if carries(graph, material, slice(start, end)).any():
            shares_of = origin_shares(graph, supplier, material, check=check)
            traced.append((supplier, material, shares_of.look_through.get("CN", 0.0)))
    shares = pl.DataFrame(
        traced, schema={"supplier_idx": pl.Int32, "_material": pl.String, "_cn": pl.Float64}, orient="row"
    )
    per_row = (
        candidates.join(shares, on=["supplier_idx", "_material"])
        .sort("_row", "_material")
        .group_by("_row", maintain_order=True)
        .agg(pl.col("_cn").first())
    )
    china = (
        rows.join(per_row, on="_row", how="left")
        .select(
            (
                pl.col("annual_spend_usd")
                * pl.coalesce("_cn", (pl.col("effective_origin_country") == "CN").cast(pl.Float64))
            ).sum()
        )
        .item()
    )
    return float(china) / total


def summarise_portfolio(scored: pl.DataFrame, *, look_through_china: float = 0.0) -> Portfolio:
    """Spend-weighted totals; spend at risk = spend x row disruption, grouped by material, origin and measure."""
    spend = scored["annual_spend_usd"].to_numpy()
    total = float(spend.sum())
    at_risk = scored.select(
        "derived_tags",
        "effective_origin_country",
        "top_control_id",
        (pl.col("annual_spend_usd") * pl.col("export_control_exposure")).alias("_risk"),
    )

    def grouped(frame: pl.DataFrame, key: str) -> dict[str, float]:
        sums = frame.filter(pl.col(key).is_not_null() & (pl.col("_risk") > 0)).group_by(key).agg(pl.col("_risk").sum())
        return dict(sorted(((str(k), float(v)) for k, v in sums.iter_rows()), key=lambda item: (-item[1], item[0])))

    weight = spend / total if total > 0 else np.zeros_like(spend)
    # An unmatched supplier without a country has no origin: not Chinese at face value.
    chinese = (scored["effective_origin_country"] == "CN").fill_null(value=False).to_numpy()
    china = float(spend[chinese].sum() / total) if total > 0 else 0.0
    return Portfolio(
        total_spend_usd=total,
        disruption=float(np.dot(weight, scored["export_control_exposure"].to_numpy())),
        tariff_cost=float(np.dot(weight, scored["tariff_cost"].to_numpy())),
        # numpy sums the contiguous column: the same total whatever the batch sizes the rows arrived in.
        tariff_impact_usd=float(scored["tariff_impact_usd"].to_numpy().sum()),
        spend_at_risk_by_material=grouped(
            at_risk.explode("derived_tags")
            .rename({"derived_tags": "_material"})
            .filter(pl.col("_material") != TRANSSHIPMENT),
            "_material",
        ),
        spend_at_risk_by_origin=grouped(at_risk, "effective_origin_country"),
        spend_at_risk_by_measure=grouped(at_risk, "top_control_id"),
        face_value_china_share=china,
        look_through_china_share=look_through_china,
        rows_scored=scored.height,
    )
