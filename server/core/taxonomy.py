"""The product taxonomy (HS prefix -> material/category tags) and the tags derived for each link."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.validation import TAG_PATTERN

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.csv")
TAXONOMY_SCHEMA = pl.Schema({"hs_prefix": pl.String, "tag": pl.String, "description": pl.String, "source": pl.String})
TRANSSHIPMENT = "transshipment"


def load_taxonomy(path: Path = DEFAULT_TAXONOMY_PATH) -> pl.DataFrame:
    """Read and check the taxonomy table (`hs_prefix`, `tag`, `description`, `source`)."""
    taxonomy = pl.read_csv(path, schema=TAXONOMY_SCHEMA)
    bad = taxonomy.with_row_index("row").filter(
        ~pl.col("hs_prefix").str.contains(r"^[0-9]{2,10}$").fill_null(False)
        | ~pl.col("tag").str.contains(TAG_PATTERN).fill_null(False)
    )
    if bad.height:
        row, prefix, tag = bad.select("row", "hs_prefix", "tag").row(0)
        message = (
            f"{path.name} row {row + 1}: hs_prefix must be 2-10 digits and tag like rare_earth, got {prefix!r}, {tag!r}"
        )
        raise InvalidArgumentError(message, violations=[FieldViolation(f"{path.name}[{row + 1}]", message)])
    return taxonomy.unique(["hs_prefix", "tag"], maintain_order=True)


def tag_hs_codes(hs_codes: pl.Series, taxonomy: pl.DataFrame) -> pl.DataFrame:
    """Taxonomy tags for each distinct HS code: every row whose prefix starts the code adds its tag.

    Works on the distinct codes (a graph has few): each code's prefixes of the taxonomy's lengths, joined once.
    Returns `hs_code` (the distinct codes, sorted), `taxonomy_tags` (sorted, unique) and `transshipment_tags` (the
    same plus `transshipment`, sorted), so each link only picks one of two precomputed lists.
    """
    codes = hs_codes.unique().sort().to_frame("hs_code")
    lengths = taxonomy.select(pl.col("hs_prefix").str.len_chars().unique().alias("_length"))
    tagged = (
        codes.join(lengths, how="cross")
        .filter(pl.col("hs_code").str.len_chars() >= pl.col("_length"))
        .select("hs_code", pl.col("hs_code").str.slice(0, pl.col("_length")).alias("hs_prefix"))
        .join(taxonomy.select("hs_prefix", "tag"), on="hs_prefix")
        .group_by("hs_code")
        .agg(pl.col("tag").unique().sort().alias("taxonomy_tags"))
    )
    tags = codes.join(tagged, on="hs_code", how="left", maintain_order="left").with_columns(
        pl.col("taxonomy_tags").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    return tags.with_columns(
        pl.concat_list("taxonomy_tags", pl.lit([TRANSSHIPMENT])).list.unique().list.sort().alias("transshipment_tags")
    )


def index_taxonomy(taxonomy: pl.DataFrame) -> dict[str, frozenset[str]]:
    """HS prefix -> tags, for tagging one code with a few dictionary lookups (the per-request path)."""
    grouped = taxonomy.group_by("hs_prefix").agg(pl.col("tag"))
    return {prefix: frozenset(tags) for prefix, tags in grouped.iter_rows()}


def tags_of_code(code: str, index: dict[str, frozenset[str]]) -> frozenset[str]:
    """Every tag whose prefix starts `code`: the same rule as `tag_hs_codes`, for one code."""
    return frozenset().union(*(index.get(code[:length], frozenset()) for length in range(1, len(code) + 1)))


def flag_transshipment(links: pl.DataFrame) -> pl.Series:
    """Origin differs from the shipping (supplier's) country, or the route passes a third country.

    A third country is one that is neither the origin, the supplier's country nor the buyer's country. Needs the
    columns `effective_origin_country`, `supplier_country`, `buyer_country`, `route`. Only routed links are
    exploded, so the cost follows the (usually few) routed links, not the graph.
    """
    countries = ("effective_origin_country", "supplier_country", "buyer_country")
    routed = (
        links.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), "route", *countries)
        .filter(pl.col("route").list.len() > 0)
        .with_columns(pl.col(countries).cast(pl.String))  # as the route's text (the graph keeps them as enums)
    )
    via_third_country = (
        routed.explode("route")
        .filter(
            (pl.col("route") != pl.col("effective_origin_country"))
            & (pl.col("route") != pl.col("supplier_country"))
            & (pl.col("route") != pl.col("buyer_country"))
        )["row"]
        .unique()
    )
    return links.select(
        (pl.col("effective_origin_country") != pl.col("supplier_country"))
        | pl.int_range(pl.len(), dtype=pl.UInt32).is_in(via_third_country.implode())
    ).to_series()
