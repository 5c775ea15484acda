"""Seeded generator of realistic synthetic supplier graphs (docs/data-format.md), from a few to 10M companies.

Model (every constant is named below):

- Companies fall into five tiers, mining -> refining -> components -> assembly -> OEM, in the shares
  `TIER_COMPANY_SHARES`. Each company draws its country from its tier's `TIER_COUNTRY_WEIGHTS` (critical-mineral
  mining and refining China-heavy, components Asia-heavy, OEMs US/EU/JP-heavy) and a primary product from its
  tier's `TIER_HS_WEIGHTS`; a share `ENTITY_LIST_RATES` (mostly CN, HK, RU) is on `US_ENTITY_LIST`.
- A link draws its buyer's tier from `BUYER_TIER_LINK_SHARES` and its supplier's tier one step upstream, two
  steps (a skipped tier) or the same tier (`SUPPLIER_TIER_STEP_SHARES`). Inside a tier of n companies the one at
  rank floor(n * u ** e), u uniform, is picked: Zipf-like weights proportional to rank ** -(1 - 1/e), so with
  `SUPPLIER_POPULARITY_EXPONENT` = 3 the top 1% of a tier's suppliers get about 1% ** (1/3) = 22% of its links;
  buyers are skewed more mildly (`BUYER_SIZE_EXPONENT`). Ranks are shuffled over the ids.
- The product is the supplier's primary one with probability `PRIMARY_PRODUCT_SHARE`, else any of its tier's;
  values are lognormal (`VALUE_LOG_MEAN_USD`, `VALUE_LOG_SIGMA`). Duplicate (supplier, buyer, product) draws
  and self-links are dropped, so a graph has slightly fewer than companies * links_per_company links.
- `BACK_LINK_FRACTION` of links send recycled material (`RECYCLING_HS_CODE`, tag `recycling`) from a buyer's
  buyer (or the buyer itself, if it sells to no one) back to the supplier, closing 3- and 2-cycles.
- `ROUTED_FRACTION` of cross-border links ship through a hub of `TRANSIT_HUB_WEIGHTS` (route `CN>VN>US`, origin
  = the supplier's country); `RESALE_FRACTION` of the links sold by companies based in a hub resell goods from
  `RESALE_ORIGIN_WEIGHTS` (origin `CN`, route `CN>VN>US`, tag `reexport`).

All arrays are int32/int64 numpy indices until the end, where ids and codes become strings by vectorised gathers.
Measured once (seed 0, 10M companies -> 49,983,813 links, generate then write): peak RSS 8.6 GiB; 3 min 22 s wall
time on a 2-core machine shared with other work (57 s of CPU); 15 MB of companies and 583 MB of links Parquet.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from server.core.schema import FILE_COMPANY_SCHEMA

TIER_NAMES: Final = ("mining", "refining", "components", "assembly", "oem")
TIER_COMPANY_SHARES: Final = (0.05, 0.10, 0.35, 0.30, 0.20)
BUYER_TIER_LINK_SHARES: Final = (0.0, 0.12, 0.35, 0.30, 0.23)
# buyer tier minus supplier tier: 1 = the next tier upstream, 2 = a skipped tier, 0 = a peer in the same tier
SUPPLIER_TIER_STEP_SHARES: Final[Mapping[int, float]] = {1: 0.88, 2: 0.07, 0: 0.05}
SUPPLIER_POPULARITY_EXPONENT: Final = 3.0
BUYER_SIZE_EXPONENT: Final = 1.5
PRIMARY_PRODUCT_SHARE: Final = 0.8
BACK_LINK_FRACTION: Final = 0.01
RECYCLING_HS_CODE: Final = "854999"  # electrical and electronic waste and scrap
RECYCLING_VALUE_SCALE: Final = 0.05
ROUTED_FRACTION: Final = 0.03
RESALE_FRACTION: Final = 0.15
VALUE_LOG_MEAN_USD: Final = (15.0, 15.3, 14.5, 14.8, 15.5)  # ln(USD) by supplier tier; e ** 15 = 3.3M
VALUE_LOG_SIGMA: Final = 1.6
ENTITY_LIST_CODE: Final = "US_ENTITY_LIST"
ENTITY_LIST_RATES: Final[Mapping[str, float]] = {"CN": 0.04, "HK": 0.04, "RU": 0.04}
ENTITY_LIST_DEFAULT_RATE: Final = 0.001
MIN_COMPANIES: Final = len(TIER_NAMES)
MAX_COMPANIES: Final = 100_000_000  # keeps (supplier, buyer, product) keys inside int64
ID_PREFIX: Final = "C"
ID_MIN_DIGITS: Final = 7
NAME_PREFIX: Final = "Synthetic Co "

TRANSIT_HUB_WEIGHTS: Final[Mapping[str, float]] = {"VN": 0.30, "MY": 0.20, "TH": 0.15, "MX": 0.20, "HK": 0.15}
RESALE_ORIGIN_WEIGHTS: Final[Mapping[str, float]] = {"CN": 0.85, "RU": 0.05, "KR": 0.05, "TW": 0.05}

TIER_COUNTRY_WEIGHTS: Final[tuple[Mapping[str, float], ...]] = (
    {  # mining
        "CN": 30, "AU": 12, "CD": 6, "CL": 6, "BR": 5, "ZA": 5, "RU": 5, "ID": 5, "MM": 4, "PE": 4,
        "US": 4, "CA": 4, "KZ": 2, "MZ": 2, "MG": 2, "IN": 2,
    },
    {  # refining and materials
        "CN": 55, "JP": 6, "US": 5, "RU": 4, "KR": 4, "DE": 4, "MY": 4, "IN": 4, "BE": 3, "CA": 3,
        "AU": 3, "VN": 2, "KZ": 2, "EE": 1,
    },
    {  # components
        "CN": 30, "TW": 14, "KR": 10, "JP": 10, "US": 7, "MY": 6, "VN": 6, "DE": 6, "TH": 3, "PH": 2,
        "SG": 2, "MX": 2, "IN": 2,
    },
    {  # assembly
        "CN": 30, "VN": 10, "MX": 8, "US": 7, "TW": 6, "IN": 6, "DE": 6, "MY": 5, "TH": 5, "KR": 5,
        "JP": 4, "PL": 3, "CZ": 3, "HU": 2,
    },
    {  # OEM and brand
        "US": 30, "DE": 12, "JP": 12, "CN": 10, "KR": 7, "FR": 5, "GB": 5, "IT": 4, "NL": 3, "SE": 3,
        "TW": 3, "CH": 2, "CA": 2, "ES": 2,
    },
)  # fmt: skip

TIER_HS_WEIGHTS: Final[tuple[Mapping[str, float], ...]] = (
    {  # mining: graphite, antimony ores, rare-earth minerals, copper, bauxite, iron, Nb/Ta, tungsten, cobalt ores
        "2504": 12, "261710": 8, "253090": 10, "2603": 20, "2606": 15, "2601": 20, "2615": 5, "2611": 5,
        "2605": 5,
    },
    {  # refining: rare-earth compounds/metals, Ga/Ge, GeO2, antimony, synthetic graphite, silicon, Al, Cu, Co, Li
        "2846": 12, "280530": 6, "811292": 6, "282560": 4, "8110": 5, "380110": 8, "280461": 10,
        "7601": 15, "7403": 15, "8105": 4, "283691": 6,
    },
    {  # components: magnets, wafers, ICs, Li-ion cells, discretes, capacitors, connectors, metal/plastic parts
        "850511": 10, "3818": 8, "854231": 8, "854232": 6, "854239": 6, "850760": 8, "8541": 8, "8532": 6,
        "8536": 8, "7326": 10, "3926": 10, "8504": 6,
    },
    {  # assembly: motors, battery packs, fab equipment, computers, telecom, controls, parts, vehicle parts, LCDs
        "8501": 12, "850760": 10, "848620": 6, "8471": 10, "8517": 10, "8537": 10, "847330": 10,
        "8708": 15, "9013": 5,
    },
    {  # OEM: cars, computers, phones, aircraft, monitors, appliances
        "8703": 20, "8471": 10, "8517": 10, "8802": 3, "8528": 5, "8516": 8,
    },
)  # fmt: skip


IntArray = npt.NDArray[np.int64]
SmallIntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class GeneratedGraph:
    """A synthetic supplier graph: `companies` and `links` frames with the columns of docs/data-format.md."""

    companies: pl.DataFrame
    links: pl.DataFrame


@dataclass(frozen=True)
class TierTable:
    """Per-tier categorical weights over one shared code list, drawn from with a single `searchsorted`."""

    codes: tuple[str, ...]
    bounds: FloatArray  # tier + cumulative share, tiers one after another
    code_indices: SmallIntArray  # the code index of each bound

    def draw(self, rng: np.random.Generator, tiers: npt.NDArray[np.integer]) -> SmallIntArray:
        """Draw one code index per element of `tiers` from that tier's weights."""
        keys = tiers + rng.random(len(tiers))
        return self.code_indices[np.searchsorted(self.bounds, keys, side="right")]


def normalise_shares(weights: Iterable[float]) -> FloatArray:
    """Return `weights` scaled to sum to 1."""
    shares = np.asarray(list(weights), dtype=np.float64)
    return np.asarray(shares / shares.sum(), dtype=np.float64)


def build_tier_table(weights_by_tier: Sequence[Mapping[str, float]], *, codes: tuple[str, ...]) -> TierTable:
    """Build a `TierTable` for `weights_by_tier` over `codes` (each tier's cumulative shares offset by its tier)."""
    bounds: list[float] = []
    code_indices: list[int] = []
    for tier, weights in enumerate(weights_by_tier):
        cumulative = np.cumsum(normalise_shares(weights.values()))
        cumulative[-1] = 1.0  # so a draw of tier + u, u < 1, always lands inside its tier
        bounds.extend(tier + cumulative)
        code_indices.extend(codes.index(code) for code in weights)
    return TierTable(codes, np.asarray(bounds), np.asarray(code_indices, dtype=np.int32))


COUNTRY_CODES: Final = tuple(
    sorted(
        {code for weights in TIER_COUNTRY_WEIGHTS for code in weights}
        | set(TRANSIT_HUB_WEIGHTS)
        | set(RESALE_ORIGIN_WEIGHTS)
    )
)
HS_CODES: Final = tuple(sorted({code for weights in TIER_HS_WEIGHTS for code in weights} | {RECYCLING_HS_CODE}))
COUNTRY_TABLE: Final = build_tier_table(TIER_COUNTRY_WEIGHTS, codes=COUNTRY_CODES)
HS_TABLE: Final = build_tier_table(TIER_HS_WEIGHTS, codes=HS_CODES)


@dataclass(frozen=True)
class TierLayout:
    """Companies by tier: positions [starts[t], starts[t] + sizes[t]) of `companies_by_position` hold tier t."""

    sizes: IntArray
    starts: IntArray
    companies_by_position: SmallIntArray  # company index at each position; low positions in a tier are popular
    tiers: npt.NDArray[np.int8]  # tier of each company index


def draw_tier_layout(rng: np.random.Generator, *, companies: int) -> TierLayout:
    """Shuffle companies into tiers; `generate_graph` draws this first, so a seed alone gives back the tiers."""
    sizes = count_tier_companies(companies)
    companies_by_position = rng.permutation(companies).astype(np.int32)
    tiers = np.empty(companies, dtype=np.int8)
    tiers[companies_by_position] = np.repeat(np.arange(len(TIER_NAMES), dtype=np.int8), sizes)
    return TierLayout(sizes, np.concatenate(([0], np.cumsum(sizes)[:-1])), companies_by_position, tiers)


def count_tier_companies(companies: int) -> IntArray:
    """Split `companies` over the tiers by `TIER_COMPANY_SHARES`, at least one each."""
    shares = np.asarray(TIER_COMPANY_SHARES, dtype=np.float64)
    counts: IntArray = np.maximum(1, np.floor(shares * companies)).astype(np.int64)
    counts[int(np.argmax(TIER_COMPANY_SHARES))] += companies - int(counts.sum())
    return counts


def pick_ranked(rng: np.random.Generator, sizes: IntArray, *, exponent: float) -> IntArray:
    """Pick a rank in [0, size) for each size, rank floor(size * u ** exponent): low ranks are popular."""
    ranks = np.floor(sizes * rng.random(len(sizes)) ** exponent).astype(np.int64)
    return np.asarray(np.minimum(ranks, sizes - 1), dtype=np.int64)


def draw_forward_links(
    rng: np.random.Generator,
    *,
    count: int,
    layout: TierLayout,
    primary_products: SmallIntArray,
) -> tuple[SmallIntArray, SmallIntArray, SmallIntArray]:
    """Draw `count` downstream links as (supplier, buyer, hs index) arrays, before de-duplication."""
    buyer_tiers = rng.choice(len(TIER_NAMES), size=count, p=normalise_shares(BUYER_TIER_LINK_SHARES))
    steps = rng.choice(
        list(SUPPLIER_TIER_STEP_SHARES), size=count, p=normalise_shares(SUPPLIER_TIER_STEP_SHARES.values())
    )
    supplier_tiers = np.maximum(buyer_tiers - steps, 0)
    del steps
    buyer_ranks = pick_ranked(rng, layout.sizes[buyer_tiers], exponent=BUYER_SIZE_EXPONENT)
    buyers = layout.companies_by_position[layout.starts[buyer_tiers] + buyer_ranks]
    del buyer_ranks, buyer_tiers
    supplier_ranks = pick_ranked(rng, layout.sizes[supplier_tiers], exponent=SUPPLIER_POPULARITY_EXPONENT)
    suppliers = layout.companies_by_position[layout.starts[supplier_tiers] + supplier_ranks]
    del supplier_ranks
    uses_primary = rng.random(count) < PRIMARY_PRODUCT_SHARE
    products = np.where(uses_primary, primary_products[suppliers], HS_TABLE.draw(rng, supplier_tiers))
    return suppliers, buyers, products.astype(np.int32)


def encode_link_keys(
    suppliers: SmallIntArray, buyers: SmallIntArray, products: SmallIntArray, *, companies: int
) -> IntArray:
    """Encode (supplier, buyer, hs index) as one int64 key ordered by supplier, then buyer, then product."""
    return (suppliers.astype(np.int64) * companies + buyers) * len(HS_CODES) + products


def decode_link_keys(keys: IntArray, *, companies: int) -> tuple[SmallIntArray, SmallIntArray, SmallIntArray]:
    """Decode keys of `encode_link_keys` back into (supplier, buyer, hs index) arrays."""
    products = len(HS_CODES)
    return (
        (keys // (companies * products)).astype(np.int32),
        (keys // products % companies).astype(np.int32),
        (keys % products).astype(np.int32),
    )


def unique_sorted_keys(keys: IntArray) -> IntArray:
    """Return the distinct keys in ascending order (polars: multi-threaded, far faster than np.unique here)."""
    return pl.Series(keys, dtype=pl.Int64).unique().sort().to_numpy()


def draw_back_links(
    rng: np.random.Generator,
    *,
    suppliers: SmallIntArray,
    buyers: SmallIntArray,
    companies: int,
) -> IntArray:
    """Return sorted keys of recycling links closing a cycle over sampled links (sorted by supplier).

    For a sampled link s -> b, a random customer c of b (or b itself when b sells to no one) sends scrap back to s,
    closing s -> b -> c -> s (or s -> b -> s).
    """
    count = round(len(suppliers) * BACK_LINK_FRACTION)
    if count == 0:
        return np.empty(0, dtype=np.int64)
    sampled = rng.integers(0, len(suppliers), size=count)
    origins, middles = suppliers[sampled], buyers[sampled]
    starts = np.concatenate(([0], np.cumsum(np.bincount(suppliers, minlength=companies))))
    degrees = starts[middles + 1] - starts[middles]
    picks = np.minimum(starts[middles] + np.floor(rng.random(count) * degrees).astype(np.int64), len(buyers) - 1)
    senders = np.where(degrees > 0, buyers[picks], middles).astype(np.int32)
    keep = senders != origins
    recycled = np.full(int(keep.sum()), HS_CODES.index(RECYCLING_HS_CODE), dtype=np.int32)
    return unique_sorted_keys(encode_link_keys(senders[keep], origins[keep], recycled, companies=companies))


def pick_transit_hubs(
    rng: np.random.Generator, *, supplier_countries: SmallIntArray, buyer_countries: SmallIntArray
) -> SmallIntArray:
    """Pick a transit hub country for each routed link, never the supplier's nor the buyer's country."""
    hubs = np.asarray([COUNTRY_CODES.index(code) for code in TRANSIT_HUB_WEIGHTS], dtype=np.int32)
    choices = rng.choice(len(hubs), size=len(supplier_countries), p=normalise_shares(TRANSIT_HUB_WEIGHTS.values()))
    for _ in range(2):  # two countries are excluded, so two steps along the hub list always reach a free hub
        clashes = (hubs[choices] == supplier_countries) | (hubs[choices] == buyer_countries)
        choices = np.where(clashes, (choices + 1) % len(hubs), choices)
    return hubs[choices]


def gather_codes(codes: Sequence[str], indices: npt.NDArray[np.integer], *, name: str) -> pl.Series:
    """Return the string codes at `indices` (-1 gives null) as a String series."""
    positions = pl.Series(indices, dtype=pl.Int32)
    nullable = pl.select(pl.when(positions >= 0).then(positions)).to_series()
    return pl.Series(name, codes, dtype=pl.String).gather(nullable)


def build_company_ids(companies: int) -> pl.Series:
    """Return fixed-width ids `C0000001`... for companies 1..n, in order."""
    digits = max(ID_MIN_DIGITS, len(str(companies)))
    numbers = pl.int_range(1, companies + 1, eager=True, dtype=pl.Int64).cast(pl.String)
    return (ID_PREFIX + numbers.str.zfill(digits)).alias("company_id")


def build_companies(rng: np.random.Generator, *, company_ids: pl.Series, countries: SmallIntArray) -> pl.DataFrame:
    """Build the companies frame: ids, synthetic names, countries and entity-list membership."""
    rates = np.full(len(COUNTRY_CODES), ENTITY_LIST_DEFAULT_RATE)
    rates[[COUNTRY_CODES.index(code) for code in ENTITY_LIST_RATES]] = list(ENTITY_LIST_RATES.values())
    listed = rng.random(len(countries)) < rates[countries]
    numbers = pl.int_range(1, len(countries) + 1, eager=True, dtype=pl.Int64).cast(pl.String)
    return pl.DataFrame(
        [
            company_ids,
            (NAME_PREFIX + numbers).alias("name"),
            gather_codes(COUNTRY_CODES, countries, name="country"),
            gather_codes((ENTITY_LIST_CODE,), np.where(listed, 0, -1), name="lists"),
        ]
    ).select(FILE_COMPANY_SCHEMA.names())


def build_routes(
    *, firsts: SmallIntArray, vias: SmallIntArray, lasts: SmallIntArray, rows: IntArray, height: int
) -> pl.Series:
    """Return a route column of `height` rows: `first>via>last` at `rows` (`last` -1 is left out), else null."""
    parts = [gather_codes(COUNTRY_CODES, part, name=name) for name, part in (("a", firsts), ("b", vias), ("c", lasts))]
    routes = pl.select(pl.concat_str(parts, separator=">", ignore_nulls=True)).to_series()
    return pl.repeat(None, height, dtype=pl.String, eager=True).scatter(rows, routes).alias("route")


def draw_shipping(
    rng: np.random.Generator,
    *,
    supplier_countries: SmallIntArray,
    buyer_countries: SmallIntArray,
    recycling: BoolArray,
) -> tuple[pl.Series, pl.Series, BoolArray]:
    """Draw routed and resold links; return the origin_country and route columns and the resold mask.

    Routed: a cross-border link ships through a hub, origin = the supplier's country (`CN>VN>US`). Resold: a
    supplier based in a hub sells goods from elsewhere (origin `CN`, route `CN>VN>US`), never back to their origin.
    """
    height = len(supplier_countries)
    routed = (rng.random(height) < ROUTED_FRACTION) & (supplier_countries != buyer_countries) & ~recycling
    is_hub = np.isin(np.arange(len(COUNTRY_CODES)), [COUNTRY_CODES.index(code) for code in TRANSIT_HUB_WEIGHTS])
    candidates = np.flatnonzero(
        is_hub[supplier_countries] & (rng.random(height) < RESALE_FRACTION) & ~recycling & ~routed
    )
    origin_codes = np.asarray([COUNTRY_CODES.index(code) for code in RESALE_ORIGIN_WEIGHTS], dtype=np.int32)
    candidate_origins = origin_codes[
        rng.choice(len(origin_codes), size=len(candidates), p=normalise_shares(RESALE_ORIGIN_WEIGHTS.values()))
    ]
    kept = candidate_origins != buyer_countries[candidates]
    resold_rows, resale_origins = candidates[kept], candidate_origins[kept]
    routed_rows = np.flatnonzero(routed)
    hubs = pick_transit_hubs(
        rng, supplier_countries=supplier_countries[routed_rows], buyer_countries=buyer_countries[routed_rows]
    )

    origins = np.full(height, -1, dtype=np.int32)
    origins[routed_rows] = supplier_countries[routed_rows]
    origins[resold_rows] = resale_origins
    resellers, resale_buyers = supplier_countries[resold_rows], buyer_countries[resold_rows]
    routes = build_routes(
        firsts=np.concatenate((supplier_countries[routed_rows], resale_origins)),
        vias=np.concatenate((hubs, resellers)),
        lasts=np.concatenate((buyer_countries[routed_rows], np.where(resale_buyers == resellers, -1, resale_buyers))),
        rows=np.concatenate((routed_rows, resold_rows)),
        height=height,
    )
    resold = np.zeros(height, dtype=np.bool_)
    resold[resold_rows] = True
    return gather_codes(COUNTRY_CODES, origins, name="origin_country"), routes, resold


def build_links(
    rng: np.random.Generator,
    *,
    keys: IntArray,
    company_ids: pl.Series,
    tiers: npt.NDArray[np.int8],
    countries: SmallIntArray,
) -> pl.DataFrame:
    """Build the links frame from sorted link keys: values, routes, origins and tags."""
    suppliers, buyers, products = decode_link_keys(keys, companies=len(company_ids))
    height = len(keys)
    supplier_countries, buyer_countries = countries[suppliers], countries[buyers]
    recycling = products == HS_CODES.index(RECYCLING_HS_CODE)

    log_means = np.asarray(VALUE_LOG_MEAN_USD)[tiers[suppliers]]
    values = np.exp(log_means + VALUE_LOG_SIGMA * rng.standard_normal(height))
    values = np.round(np.where(recycling, values * RECYCLING_VALUE_SCALE, values), 2)

    origins, routes, resold = draw_shipping(
        rng, supplier_countries=supplier_countries, buyer_countries=buyer_countries, recycling=recycling
    )
    tag_indices = np.where(recycling, 0, np.where(resold, 1, -1))
    return pl.DataFrame(
        [
            company_ids.gather(suppliers).alias("supplier_id"),
            company_ids.gather(buyers).alias("buyer_id"),
            gather_codes(HS_CODES, products, name="hs_code"),
            pl.Series("annual_value_usd", values, dtype=pl.Float64),
            origins,
            routes,
            gather_codes(("recycling", "reexport"), tag_indices, name="tags"),
        ]
    )


def generate_graph(*, companies: int, links_per_company: float = 5.0, seed: int) -> GeneratedGraph:
    """Generate a synthetic supplier graph of `companies` companies and about `companies * links_per_company` links.

    Same arguments, same frames. Raises ValueError on a size out of range.
    """
    if not MIN_COMPANIES <= companies <= MAX_COMPANIES:
        msg = f"companies must be in [{MIN_COMPANIES}, {MAX_COMPANIES}], got {companies}"
        raise ValueError(msg)
    if not (math.isfinite(links_per_company) and links_per_company >= 0):
        msg = f"links_per_company must be a finite number >= 0, got {links_per_company}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    layout = draw_tier_layout(rng, companies=companies)
    countries = COUNTRY_TABLE.draw(rng, layout.tiers)
    primary_products = HS_TABLE.draw(rng, layout.tiers)

    suppliers, buyers, products = draw_forward_links(
        rng,
        count=round(companies * links_per_company * (1 - BACK_LINK_FRACTION)),
        layout=layout,
        primary_products=primary_products,
    )
    distinct = suppliers != buyers
    keys = unique_sorted_keys(
        encode_link_keys(suppliers[distinct], buyers[distinct], products[distinct], companies=companies)
    )
    del suppliers, buyers, products, distinct
    suppliers, buyers, _ = decode_link_keys(keys, companies=companies)
    back_keys = draw_back_links(rng, suppliers=suppliers, buyers=buyers, companies=companies)
    del suppliers, buyers
    keys = np.insert(keys, np.searchsorted(keys, back_keys), back_keys)

    company_ids = build_company_ids(companies)
    return GeneratedGraph(
        companies=build_companies(rng, company_ids=company_ids, countries=countries),
        links=build_links(rng, keys=keys, company_ids=company_ids, tiers=layout.tiers, countries=countries),
    )


def write_graph(graph: GeneratedGraph, out_dir: Path) -> tuple[Path, Path]:
    """Write `companies.parquet` and `links.parquet` into `out_dir` (created if missing); return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    companies_path, links_path = out_dir / "companies.parquet", out_dir / "links.parquet"
    graph.companies.write_parquet(companies_path)
    graph.links.write_parquet(links_path)
    return companies_path, links_path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line of `python -m graphs.generate`."""
    parser = argparse.ArgumentParser(prog="python -m graphs.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, required=True, help="number of companies")
    parser.add_argument("--links-per-company", type=float, default=5.0, help="links drawn per company (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="directory for companies.parquet and links.parquet")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a graph, write it as Parquet and print a one-line summary."""
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        graph = generate_graph(companies=args.companies, links_per_company=args.links_per_company, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    generated = time.perf_counter()
    write_graph(graph, args.out)
    written = time.perf_counter()
    print(
        f"{graph.companies.height} companies, {graph.links.height} links (seed {args.seed}) -> {args.out}: "
        f"generated in {generated - started:.2f} s, written in {written - generated:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
