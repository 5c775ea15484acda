"""The per-link shipment signature as defined, row by row: the reference the engine's signature table is checked
against (link_policy derives the same table without hashing list columns)."""

from __future__ import annotations

import polars as pl

from server.core.graph import Graph
from server.core.taxonomy import TRANSSHIPMENT


def link_signatures(graph: Graph) -> pl.DataFrame:
    """What the policy rules look at, per link: HS code, origin, shipping and buyer country, buyer lists, tags
    (derived, then the user's) and the transshipment flag."""
    buyer_lists = graph.companies.select(pl.col("idx").alias("buyer_idx"), pl.col("lists").alias("buyer_lists"))
    return (
        graph.links.select(
            "hs_code",
            pl.col("effective_origin_country").alias("origin"),
            pl.col("supplier_country").alias("shipping"),
            "buyer_country",
            "buyer_idx",
            pl.concat_list(pl.col("derived_tags").cast(pl.List(pl.String)), "tags").alias("tags"),
            pl.col("derived_tags").list.contains(TRANSSHIPMENT).alias("transshipment"),
        )
        .join(buyer_lists, on="buyer_idx", how="left", maintain_order="left")
        .select("hs_code", "origin", "shipping", "buyer_country", "buyer_lists", "tags", "transshipment")
        .cast({"hs_code": pl.String, "origin": pl.String, "shipping": pl.String, "buyer_country": pl.String})
    )
