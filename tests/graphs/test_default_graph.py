"""The embedded default graph: reproducible, faithful to the USGS and ETO figures, and valid per docs/data-format.md."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import polars as pl
import pycountry
import pytest

from graphs import default_graph
from server.core.schema import FILE_COMPANY_SCHEMA, FILE_LINK_SCHEMA
from tests.conftest import REPO, SHARED_DATA

IMPORT_SOURCES = SHARED_DATA / "usgs_mcs" / "import_sources.csv"
GRAPH_DIR = REPO / "graphs" / "default"
TAXONOMY_PATH = REPO / "server" / "core" / "taxonomy.csv"

TAXONOMY_SCHEMA = pl.Schema({"hs_prefix": pl.String, "tag": pl.String, "description": pl.String, "source": pl.String})
IMPORT_SOURCES_SCHEMA = pl.Schema(
    {
        "edition": pl.String,
        "commodity": pl.String,
        "category": pl.String,
        "period": pl.String,
        "country": pl.String,
        "share_pct": pl.Float64,
        "source_url": pl.String,
        "extracted_via": pl.String,
    }
)


@pytest.fixture(scope="module")
def companies() -> pl.DataFrame:
    return pl.read_csv(GRAPH_DIR / "companies.csv", schema=FILE_COMPANY_SCHEMA).with_columns(
        pl.col("lists").fill_null("")
    )


@pytest.fixture(scope="module")
def links(companies: pl.DataFrame) -> pl.DataFrame:
    """links.csv with empty optional columns as "" and the supplier's and buyer's countries joined on."""
    countries = companies.select("company_id", "country")
    return (
        pl.read_csv(GRAPH_DIR / "links.csv", schema=FILE_LINK_SCHEMA)
        .with_columns(pl.col("origin_country", "route", "tags").fill_null(""))
        .join(countries.rename({"company_id": "supplier_id", "country": "supplier_country"}), on="supplier_id")
        .join(countries.rename({"company_id": "buyer_id", "country": "buyer_country"}), on="buyer_id")
        .with_columns(
            pl.when(pl.col("origin_country") == "")
            .then(pl.col("supplier_country"))
            .otherwise(pl.col("origin_country"))
            .alias("effective_origin")
        )
    )


@pytest.fixture(scope="module")
def raw_links() -> pl.DataFrame:
    return pl.read_csv(GRAPH_DIR / "links.csv", schema=FILE_LINK_SCHEMA).with_columns(
        pl.col("origin_country", "route", "tags").fill_null("")
    )


@pytest.fixture(scope="module")
def taxonomy() -> pl.DataFrame:
    return pl.read_csv(TAXONOMY_PATH, schema=TAXONOMY_SCHEMA)


def starts_with_any(column: str, prefixes: Sequence[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(column).str.starts_with(prefix) for prefix in prefixes])


def carries_tag(tag: str, taxonomy: pl.DataFrame) -> pl.Expr:
    """A link carries `tag` if a taxonomy prefix for the tag starts its HS code or its stored tags list it."""
    prefixes = taxonomy.filter(pl.col("tag") == tag)["hs_prefix"].to_list()
    return starts_with_any("hs_code", prefixes) | pl.col("tags").str.split(";").list.contains(tag)


def country_code(name: str) -> str:
    """ISO alpha-2 for a USGS country name ("Russia" needs the fuzzy search)."""
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        return str(pycountry.countries.search_fuzzy(name)[0].alpha_2)


def is_country_code(code: str) -> bool:
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


# --- reproducibility ----------------------------------------------------------------------------------------


def test_generator_reproduces_the_committed_csvs_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "graphs.default_graph", "--output-dir", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    for name in ("companies.csv", "links.csv"):
        assert (tmp_path / name).read_bytes() == (GRAPH_DIR / name).read_bytes(), name


def test_generator_tables_match_the_committed_csvs() -> None:
    built_companies = default_graph.build_companies()
    built_links = default_graph.build_links(built_companies)
    default_graph.check_graph(built_companies, built_links)
    assert default_graph.render_companies_csv(built_companies) == (GRAPH_DIR / "companies.csv").read_text("utf-8")
    assert default_graph.render_links_csv(built_links) == (GRAPH_DIR / "links.csv").read_text("utf-8")


# --- USGS import-source shares --------------------------------------------------------------------------------

USGS_BUYERS = [
    pytest.param(
        "US-RE-BUYER-1", "rare_earths", "Rare-earth compounds and metals", ("2846", "280530"), id="rare-earths"
    ),
    pytest.param("US-GA-BUYER-1", "gallium", "Metal", ("811292",), id="gallium-metal"),
    pytest.param("US-GE-BUYER-1", "germanium", "Germanium metal", ("811292",), id="germanium-metal"),
    pytest.param("US-GE-BUYER-2", "germanium", "Germanium dioxide (Ge content)", ("282560",), id="germanium-dioxide"),
    pytest.param("US-SB-BUYER-1", "antimony", "Oxide", ("282580",), id="antimony-oxide"),
    pytest.param("US-SB-BUYER-2", "antimony", "Unwrought metal and powder", ("8110",), id="antimony-metal"),
    pytest.param("US-SB-BUYER-3", "antimony", "Ore and concentrates", ("261710",), id="antimony-ore"),
    pytest.param("US-GR-BUYER-1", "graphite_natural", "All natural graphite", ("2504",), id="natural-graphite"),
]


def read_usgs_shares(commodity: str, category: str) -> dict[str, float]:
    """USGS MCS 2026 US import sources 2021-24 for one category: country name -> percent."""
    sources = pl.read_csv(IMPORT_SOURCES, schema=IMPORT_SOURCES_SCHEMA).filter(
        (pl.col("edition") == "MCS2026")
        & (pl.col("period") == "2021-24")
        & (pl.col("commodity") == commodity)
        & (pl.col("category") == category)
    )
    return dict(zip(sources["country"], sources["share_pct"], strict=True))


@pytest.mark.parametrize(("buyer_id", "commodity", "category", "hs_prefixes"), USGS_BUYERS)
def test_us_buyer_inbound_values_split_by_supplier_country_as_usgs_import_sources(
    links: pl.DataFrame, buyer_id: str, commodity: str, category: str, hs_prefixes: tuple[str, ...]
) -> None:
    usgs = read_usgs_shares(commodity, category)
    assert usgs, f"no USGS rows for {commodity} / {category}"
    assert sum(usgs.values()) == pytest.approx(100)
    named = {country_code(name): pct for name, pct in usgs.items() if name != "other"}
    inbound = (
        links.filter((pl.col("buyer_id") == buyer_id) & starts_with_any("hs_code", hs_prefixes))
        .group_by("supplier_country")
        .agg(pl.col("annual_value_usd").sum())
    )
    total = float(inbound["annual_value_usd"].sum())
    shares = {country: value / total for country, value in inbound.iter_rows()}
    for country, pct in named.items():
        assert shares.get(country, 0.0) == pytest.approx(pct / 100, abs=1e-12), country
    other = {country: share for country, share in shares.items() if country not in named}
    assert sum(other.values()) == pytest.approx(usgs.get("other", 0) / 100, abs=1e-12)
    assert "US" not in other


@pytest.mark.parametrize(
    ("buyer_id", "tag", "expected"),
    [
        # face value 18%; one tier back (1.4 * 0.8 + 1.1 * 0.6 + 0.9 + 0.8 * 0.9 + 0.4 + 0.25 * 0.7 + 0.15) / 5.0
        # = 4.125 / 5 = 82.5% (Canada 80% Chinese feedstock, Japan 60%, Germany 90%, UK 100%, Slovakia 70%, Korea 100%)
        pytest.param("US-GA-BUYER-1", "gallium", (0.18, 0.825), id="gallium"),
        # face value 71%; one tier back 71 + 13 * 0.3 + 5 * 0.6 + 5 * 0.5 + 3 * 0.6 + 2 * 0.4 + 1 * 0.5 = 83.5%
        pytest.param("US-RE-BUYER-1", "rare_earth", (0.71, 0.835), id="rare-earths"),
        # face value 41%; one tier back 41 + 27 * 0.4 + 25 * 0.7 + 3 * 0 + 2 * 0.8 + 2 * 1.0 = 72.9%
        pytest.param("US-GE-BUYER-1", "germanium", (0.41, 0.729), id="germanium-metal"),
    ],
)
def test_china_share_one_tier_back_exceeds_face_value(
    links: pl.DataFrame, taxonomy: pl.DataFrame, buyer_id: str, tag: str, expected: tuple[float, float]
) -> None:
    """The feedstock splits in graphs/default/README.md: a non-Chinese supplier's value counts times the Chinese
    share of its own inbound material. This stops one tier back, at Chinese separators rather than Chinese mines;
    the engine's look-through, which follows the material to the mine, is checked in tests/server."""
    material = links.filter(carries_tag(tag, taxonomy))
    feedstock_china_share = material.group_by(pl.col("buyer_id").alias("supplier_id")).agg(
        (
            pl.col("annual_value_usd").filter(pl.col("effective_origin") == "CN").sum()
            / pl.col("annual_value_usd").sum()
        ).alias("supplier_china_share")
    )
    inbound = (
        material.filter(pl.col("buyer_id") == buyer_id)
        .join(feedstock_china_share, on="supplier_id", how="left")
        .with_columns(
            pl.when(pl.col("effective_origin") == "CN")
            .then(1.0)
            .otherwise(pl.col("supplier_china_share").fill_null(0.0))
            .alias("china_share")
        )
    )
    total = float(inbound["annual_value_usd"].sum())
    face = float(inbound.filter(pl.col("supplier_country") == "CN")["annual_value_usd"].sum()) / total
    seen_through = float((inbound["annual_value_usd"] * inbound["china_share"]).sum()) / total
    assert (face, seen_through) == pytest.approx(expected)
    assert seen_through > face


# --- semiconductors -------------------------------------------------------------------------------------------


def test_euv_tools_come_only_from_the_dutch_supplier(
    links: pl.DataFrame, companies: pl.DataFrame, taxonomy: pl.DataFrame
) -> None:
    euv = links.filter(carries_tag("euv", taxonomy))
    assert euv["supplier_id"].unique().to_list() == ["NL-EUV-1"]
    assert companies.filter(pl.col("company_id") == "NL-EUV-1")["country"].item() == "NL"
    assert {"TW", "KR", "US"} <= set(euv["buyer_country"])
    assert "CN" not in set(euv["buyer_country"])


def test_fabs_sell_integrated_circuits_to_atp_houses_in_asia(links: pl.DataFrame) -> None:
    to_atp = links.filter(
        pl.col("buyer_id").str.contains("-ATP-")
        & pl.col("supplier_id").str.contains("-FAB-")
        & pl.col("hs_code").is_in(["854231", "854232", "854239"])
    )
    assert {"MY", "CN", "TW"} <= set(to_atp["buyer_country"])
    from_atp = links.filter(pl.col("supplier_id").str.contains("-ATP-") & pl.col("hs_code").str.starts_with("8542"))
    assert {"US", "DE", "MX", "VN", "CN"} <= set(from_atp["buyer_country"])


def test_us_toolmakers_do_not_supply_entity_listed_fabs(links: pl.DataFrame, companies: pl.DataFrame) -> None:
    listed = companies.filter(pl.col("lists").str.contains("US_ENTITY_LIST"))["company_id"]
    shipped = links.filter(
        pl.col("buyer_id").is_in(listed)
        & (pl.col("supplier_country") == "US")
        & pl.col("hs_code").str.starts_with("8486")
    )
    assert shipped.is_empty()


# --- structure: cycles, transshipment, lists --------------------------------------------------------------------


def test_graph_has_supplier_cycles(links: pl.DataFrame) -> None:
    graph = nx.DiGraph(list(zip(links["supplier_id"], links["buyer_id"], strict=True)))
    assert nx.find_cycle(graph)
    # a fab buys tools from a toolmaker that buys its chips
    assert graph.has_edge("US-DEP-1", "US-FAB-1")
    assert graph.has_edge("US-FAB-1", "US-DEP-1")
    assert graph.has_edge("NL-EUV-1", "KR-FAB-1")
    assert graph.has_edge("KR-FAB-1", "NL-EUV-1")
    # the US rare-earth mine's ore comes back to it as motors, through China and a Vietnamese trader
    assert nx.has_path(graph, "US-RE-MINER-1", "US-MOTOR-1")
    assert graph.has_edge("US-MOTOR-1", "US-RE-MINER-1")
    assert len(list(nx.simple_cycles(graph, length_bound=3))) >= 5


@pytest.mark.parametrize("hub", ["VN", "MY", "TH", "MX", "HK"])
def test_some_shipments_are_routed_through_transit_hub(links: pl.DataFrame, hub: str) -> None:
    routed = links.filter(pl.col("route").str.split(">").list.slice(1, None).list.contains(hub))
    via_hub = routed.filter(pl.col("route").str.split(">").list.last() != hub)
    assert not via_hub.is_empty()
    assert (via_hub["effective_origin"] != via_hub["buyer_country"]).all()


def test_chinese_magnets_are_transshipped_through_vietnam_to_the_us(links: pl.DataFrame) -> None:
    resale = links.filter(
        (pl.col("supplier_id") == "VN-TRADE-1") & (pl.col("buyer_id") == "US-MOTOR-1") & (pl.col("hs_code") == "850511")
    )
    assert resale.select("origin_country", "route").row(0) == ("CN", "CN>VN>US")
    purchase = links.filter(
        (pl.col("supplier_id") == "CN-MAG-1") & (pl.col("buyer_id") == "VN-TRADE-1") & (pl.col("hs_code") == "850511")
    )
    assert purchase.height == 1


def test_hong_kong_traders_carry_chinese_gallium_and_germanium(links: pl.DataFrame) -> None:
    via_hk = links.filter(
        (pl.col("supplier_country") == "HK") & (pl.col("hs_code") == "811292") & (pl.col("origin_country") == "CN")
    )
    assert set(via_hk["buyer_country"]) >= {"US", "DE"}
    assert via_hk["route"].str.starts_with("CN>HK>").all()


def test_graph_contains_entity_listed_chinese_companies(companies: pl.DataFrame) -> None:
    listed = companies.filter(pl.col("lists").str.split(";").list.contains("US_ENTITY_LIST"))
    assert "CN" in set(listed["country"])
    assert {"CN-FAB-1", "HK-GA-TRADE-1", "RU-GE-1"} <= set(listed["company_id"])
    codes = set(companies["lists"].str.split(";").explode().drop_nulls()) - {""}
    assert codes == {"US_ENTITY_LIST", "US_MEU_LIST", "US_DOD_1260H", "US_UFLPA_ENTITY_LIST", "EU_833_ANNEX_IV"}


# --- docs/data-format.md rules ---------------------------------------------------------------------------------


def test_graph_has_a_few_hundred_companies_and_links(companies: pl.DataFrame, raw_links: pl.DataFrame) -> None:
    assert 200 <= companies.height <= 400
    assert 500 <= raw_links.height <= 1500


def test_company_ids_are_unique_and_well_formed(companies: pl.DataFrame) -> None:
    assert companies["company_id"].is_unique().all()
    assert companies["company_id"].str.contains(r"^[A-Za-z0-9._:\-]{1,128}$").all()
    assert (companies["name"].str.strip_chars().str.len_chars() > 0).all()
    assert (companies["name"].str.len_chars() <= 512).all()


def test_countries_origins_and_routes_are_iso_alpha_2(companies: pl.DataFrame, raw_links: pl.DataFrame) -> None:
    codes = (
        set(companies["country"])
        | (set(raw_links["origin_country"]) - {""})
        | set(raw_links["route"].str.split(">").explode().drop_nulls())
    ) - {""}
    assert {code for code in codes if not is_country_code(code)} == set()


def test_every_link_endpoint_is_a_company(companies: pl.DataFrame, raw_links: pl.DataFrame) -> None:
    ids = set(companies["company_id"])
    assert set(raw_links["supplier_id"]) - ids == set()
    assert set(raw_links["buyer_id"]) - ids == set()


def test_no_link_joins_a_company_to_itself(raw_links: pl.DataFrame) -> None:
    assert raw_links.filter(pl.col("supplier_id") == pl.col("buyer_id")).is_empty()


def test_one_link_per_supplier_buyer_and_hs_code(raw_links: pl.DataFrame) -> None:
    assert not raw_links.select("supplier_id", "buyer_id", "hs_code").is_duplicated().any()


def test_hs_codes_values_tags_and_list_codes_are_well_formed(companies: pl.DataFrame, raw_links: pl.DataFrame) -> None:
    assert raw_links["hs_code"].str.contains(r"^[0-9]{4,10}$").all()
    assert (raw_links["annual_value_usd"] >= 0).all()
    assert raw_links["annual_value_usd"].is_finite().all()
    tags = raw_links["tags"].str.split(";").explode().drop_nulls()
    assert tags.filter(tags != "").str.contains(r"^[a-z][a-z0-9_]{0,63}$").all()
    codes = companies["lists"].str.split(";").explode().drop_nulls()
    assert codes.filter(codes != "").str.contains(r"^[A-Z][A-Z0-9_]{0,63}$").all()


REAL_FIRMS = (
    "ASML", "TSMC", "Samsung", "Intel", "SMIC", "YMTC", "Yangtze Memory", "Lynas", "Umicore", "MP Materials",
    "Applied Materials", "Lam Research", "Tokyo Electron", "KLA", "Nikon", "Canon", "Shin-Etsu", "SUMCO",
    "Siltronic", "GlobalWafers", "Wacker", "Hemlock", "Tokuyama", "ASE", "Amkor", "JCET", "Foxconn", "Apple",
    "Nvidia", "AMD", "Qualcomm", "Broadcom", "Solvay", "Vacuumschmelze", "Hitachi", "TDK", "JL Mag", "Teck",
    "5N Plus", "AXT", "Dowa", "CATL", "BYD", "Panasonic", "Tesla", "Bosch", "Infineon", "Ericsson", "Advantest",
    "Teradyne", "Disco", "EBARA", "NAURA", "AMEC", "Piotech", "SMEE", "Zeiss", "Cymer", "Photronics", "Hoya",
    "JSR", "Air Liquide", "Linde", "Ibiden", "Kioxia", "Rapidus", "GlobalFoundries", "UMC", "Micron", "SK hynix",
    "Syrah", "Kennametal", "Sandvik", "Plansee", "Neo Performance", "Northern Rare Earth", "Axcelis", "Lasertec",
)  # fmt: skip


def test_company_names_are_fictional(companies: pl.DataFrame) -> None:
    pattern = re.compile(r"\b(" + "|".join(re.escape(firm) for firm in REAL_FIRMS) + r")\b", re.IGNORECASE)
    assert [name for name in companies["name"] if pattern.search(name)] == []


# --- taxonomy -------------------------------------------------------------------------------------------------

# HS prefix used in the graph -> the tag the taxonomy must give it.
MATERIAL_CODES = {
    "253090": "rare_earth",
    "2846": "rare_earth",
    "280530": "rare_earth",
    "850511": "magnet",
    "811292": "gallium",
    "282560": "germanium",
    "261710": "antimony",
    "282580": "antimony",
    "8110": "antimony",
    "2504": "graphite",
    "380110": "graphite",
    "2611": "tungsten",
    "284180": "tungsten",
    "8101": "tungsten",
    "280461": "silicon",
    "3818": "wafer",
    "8541": "semiconductor",
    "8542": "semiconductor",
    "8486": "semiconductor_equipment",
    "84862039": "lithography",
    "8486203950": "euv",
    "8507": "battery",
    "8501": "electric_motor",
}


def test_taxonomy_rows_are_well_formed(taxonomy: pl.DataFrame) -> None:
    assert taxonomy.columns == ["hs_prefix", "tag", "description", "source"]
    assert taxonomy["hs_prefix"].str.contains(r"^[0-9]{4,10}$").all()
    assert taxonomy["tag"].str.contains(r"^[a-z][a-z0-9_]{0,63}$").all()
    assert not taxonomy.select("hs_prefix", "tag").is_duplicated().any()
    assert (taxonomy["description"].str.len_chars() > 0).all()
    assert (taxonomy["source"].str.len_chars() > 0).all()
    required = {"rare_earth", "magnet", "gallium", "germanium", "antimony", "graphite", "tungsten", "silicon"}
    required |= {"semiconductor", "semiconductor_equipment", "lithography", "wafer", "battery"}
    assert required <= set(taxonomy["tag"])
    assert {"magnet", "rare_earth"} <= set(taxonomy.filter(pl.col("hs_prefix") == "850511")["tag"])


@pytest.mark.parametrize(("hs_prefix", "tag"), sorted(MATERIAL_CODES.items()))
def test_taxonomy_tags_every_material_link_in_the_graph(
    raw_links: pl.DataFrame, taxonomy: pl.DataFrame, hs_prefix: str, tag: str
) -> None:
    material = raw_links.filter(pl.col("hs_code").str.starts_with(hs_prefix))
    assert not material.is_empty(), f"the graph uses no {hs_prefix} code"
    untagged = material.filter(~carries_tag(tag, taxonomy))
    assert untagged.is_empty()
