"""The embedded default supplier graph: fictional companies, structure taken from real public figures.

Every company name is invented; the shape of the graph follows the reference data in `../shared/data` (see
`graphs/default/README.md` for the provenance of each part and the assumptions):

- rare earths, gallium, germanium, antimony and natural graphite: one identifiable US buyer per USGS import
  category (`US-RE-BUYER-1`, `US-GA-BUYER-1`, ...) whose inbound values split by supplier country exactly as the
  USGS Mineral Commodity Summaries 2026 import-source shares (usgs_mcs/import_sources.csv), and non-Chinese
  tier-1 refiners that buy part of their feedstock from Chinese producers (look-through exposure);
- the advanced-semiconductor chain: fab tool purchases split by the ETO Chip Explorer 2025 market shares
  (eto_chip_explorer/provision.csv), one Dutch EUV supplier, wafers, polysilicon, fabs, ATP houses, OEMs;
- magnets made in China and shipped to motor makers, some re-exported unchanged through VN/MY/TH/MX/HK;
- batteries (graphite, lithium), tungsten and a small solar chain.

Run `python -m graphs.default_graph` to rewrite `graphs/default/companies.csv` and `links.csv`; the output is
deterministic (no randomness, integer arithmetic), so the committed files are reproduced byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Final

import pycountry

DEFAULT_DIR: Final = Path(__file__).resolve().parent / "default"

# List codes (documented in graphs/default/README.md).
ENTITY: Final = "US_ENTITY_LIST"  # BIS Entity List, 15 CFR 744 Supplement No. 4
MEU: Final = "US_MEU_LIST"  # BIS Military End-User List, 15 CFR 744 Supplement No. 7
DOD_1260H: Final = "US_DOD_1260H"  # DoD list of Chinese military companies (NDAA FY2021 section 1260H)
UFLPA: Final = "US_UFLPA_ENTITY_LIST"  # DHS Uyghur Forced Labor Prevention Act Entity List
EU_ANNEX_IV: Final = "EU_833_ANNEX_IV"  # EU Regulation 833/2014 Annex IV (Russia's military-industrial base)

_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_LIST_PATTERN: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_TAG_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_HS_PATTERN: Final = re.compile(r"^[0-9]{4,10}$")


@dataclass(frozen=True, slots=True)
class Company:
    """One row of companies.csv."""

    company_id: str
    name: str
    country: str
    lists: str = ""


@dataclass(frozen=True, slots=True)
class Link:
    """One row of links.csv: `supplier_id` sells `hs_code` goods worth `annual_value_usd` a year to `buyer_id`."""

    supplier_id: str
    buyer_id: str
    hs_code: str
    annual_value_usd: int
    origin_country: str = ""
    route: str = ""
    tags: str = ""


COMPANY_COLUMNS: Final = tuple(field.name for field in fields(Company))
LINK_COLUMNS: Final = tuple(field.name for field in fields(Link))


# ---------------------------------------------------------------------------------------------------------------
# Rare earths. USGS MCS 2026 rare earths (usgs_mcs/import_sources.csv): US imports of rare-earth compounds and
# metals 2021-24 by source: China 71%, Malaysia 13%, Japan 5%, Estonia 5%, other 6%. World mine production 2025e
# (usgs_mcs/world_production.csv): China 270,000 t REO of 390,000 t; Burma 22,000 t; US 51,000 t; Australia
# 29,000 t. HS 2530.90 ores/concentrates, 2846 compounds (oxides, carbonates), 2805.30 metals, 8505.11 magnets.
# ---------------------------------------------------------------------------------------------------------------
RARE_EARTH_COMPANIES: Final = (
    Company("CN-RE-MINER-1", "Bayan Steppe Bastnaesite Mining Co., Ltd.", "CN"),
    Company("CN-RE-MINER-2", "Red Clay Ionic Earths Co., Ltd.", "CN"),
    Company("MM-RE-MINER-1", "Kachin Hills Clay Minerals Co.", "MM"),
    Company("US-RE-MINER-1", "Mojave Pass Minerals Inc.", "US"),
    Company("AU-RE-MINER-1", "Red Gum Rare Earths Pty Ltd", "AU"),
    Company("BR-RE-MINER-1", "Serra Azul Argilas Raras Ltda.", "BR"),
    Company("KZ-RE-MINER-1", "Steppe Eagle Rare Metals JSC", "KZ"),
    Company("CN-RE-SEP-1", "Yellow River Rare Earth Separation Co., Ltd.", "CN"),
    Company("CN-RE-SEP-2", "Jade Hills Heavy Rare Earth Refining Co., Ltd.", "CN"),
    Company("CN-RE-SEP-3", "Lakeside Rare Earth Materials Co., Ltd.", "CN"),
    Company("CN-RE-METAL-1", "Silver Furnace Rare Earth Metals Co., Ltd.", "CN"),
    Company("CN-RE-METAL-2", "Eastbank Alloy & Rare Metals Co., Ltd.", "CN"),
    Company("MY-RE-REFINER-1", "Gebeng Coast Rare Earth Separation Sdn. Bhd.", "MY"),
    Company("JP-RE-REFINER-1", "Setouchi Rare Earth Chemicals K.K.", "JP"),
    Company("EE-RE-REFINER-1", "Narva Bay Rare Metals AS", "EE"),
    Company("FR-RE-REFINER-1", "Atlantique Terres Rares S.A.S.", "FR"),
    Company("VN-RE-REFINER-1", "Red River Rare Earth Processing JSC", "VN"),
    Company("GB-RE-METAL-1", "Pennine Rare Metals Ltd.", "GB"),
    Company("US-RE-SEP-1", "Mojave Pass Separation LLC", "US"),
    # The identifiable US buyer of rare-earth compounds and metals (catalysts, glass polishing, alloys).
    Company("US-RE-BUYER-1", "Monongahela Catalyst & Alloy Corp.", "US"),
    Company("US-RE-BUYER-2", "Quaker Hill Magnetics Inc.", "US"),
)

RARE_EARTH_LINKS: Final = (
    # US-RE-BUYER-1: 100,000,000 USD a year in exactly the USGS 2021-24 shares (China 71, Malaysia 13, Japan 5,
    # Estonia 5, other 6 = France 3 + Vietnam 2 + United Kingdom 1).
    Link("CN-RE-SEP-1", "US-RE-BUYER-1", "284690", 45_000_000),
    Link("CN-RE-METAL-1", "US-RE-BUYER-1", "280530", 26_000_000),
    Link("MY-RE-REFINER-1", "US-RE-BUYER-1", "284690", 13_000_000),
    Link("JP-RE-REFINER-1", "US-RE-BUYER-1", "284610", 5_000_000),
    Link("EE-RE-REFINER-1", "US-RE-BUYER-1", "284690", 5_000_000),
    Link("FR-RE-REFINER-1", "US-RE-BUYER-1", "284690", 3_000_000),
    Link("VN-RE-REFINER-1", "US-RE-BUYER-1", "284690", 2_000_000),
    Link("GB-RE-METAL-1", "US-RE-BUYER-1", "280530", 1_000_000),
    # Look-through: feedstock of the non-Chinese tier-1 refiners (assumed splits, README "Assumptions").
    # Malaysia: 70% Australian concentrate, 30% Chinese mixed rare-earth carbonate.
    Link("AU-RE-MINER-1", "MY-RE-REFINER-1", "253090", 280_000_000),
    Link("CN-RE-SEP-3", "MY-RE-REFINER-1", "284690", 120_000_000),
    # Japan: 60% Chinese separated oxides, 40% Malaysian oxides.
    Link("CN-RE-SEP-1", "JP-RE-REFINER-1", "284690", 180_000_000),
    Link("MY-RE-REFINER-1", "JP-RE-REFINER-1", "284690", 120_000_000),
    # Estonia: 50% Chinese, 30% Malaysian, 20% Kazakh concentrate.
    Link("CN-RE-SEP-3", "EE-RE-REFINER-1", "284690", 10_000_000),
    Link("MY-RE-REFINER-1", "EE-RE-REFINER-1", "284690", 6_000_000),
    Link("KZ-RE-MINER-1", "EE-RE-REFINER-1", "253090", 4_000_000),
    # France: 60% Chinese intermediates, 40% Australian concentrate.
    Link("CN-RE-SEP-1", "FR-RE-REFINER-1", "284690", 18_000_000),
    Link("AU-RE-MINER-1", "FR-RE-REFINER-1", "253090", 12_000_000),
    # Vietnam: 60% Malaysian NdPr oxide, 40% Chinese oxide.
    Link("MY-RE-REFINER-1", "VN-RE-REFINER-1", "284690", 30_000_000),
    Link("CN-RE-SEP-1", "VN-RE-REFINER-1", "284690", 20_000_000),
    # United Kingdom: 50% Malaysian, 50% Chinese oxides.
    Link("MY-RE-REFINER-1", "GB-RE-METAL-1", "284690", 5_000_000),
    Link("CN-RE-SEP-1", "GB-RE-METAL-1", "284690", 5_000_000),
    # Chinese mining and separation, valued at 5 M USD per 1,000 t REO so that value shares are tonnage shares.
    # USGS 2024 mine production: China 270,000 t, US 45,500 t, Burma 27,000 t, Brazil 560 t; Burma's and Brazil's
    # ionic-clay output and, until 2025, most of the US mine's concentrate went to Chinese separators. So their
    # feed is 80% Chinese-mined (1,350 M of 1,688 M USD), 12% US, 8% Burmese. Assumed: China's output is ~93%
    # bastnaesite (CN-RE-MINER-1) and ~7% ionic clay (CN-RE-MINER-2, heavy rare earths, blended with Burmese clay
    # at CN-RE-SEP-2); the US concentrate goes mostly to CN-RE-SEP-3, a little to CN-RE-SEP-1, whose light-rare-
    # earth compounds (cerium, lanthanum for catalysts and polishing) are refined almost only from Chinese ore.
    Link("CN-RE-MINER-1", "CN-RE-SEP-1", "253090", 900_000_000),
    Link("CN-RE-MINER-1", "CN-RE-SEP-3", "253090", 355_000_000),
    Link("CN-RE-MINER-2", "CN-RE-SEP-2", "284690", 95_000_000),
    Link("MM-RE-MINER-1", "CN-RE-SEP-2", "284690", 135_000_000),
    Link("BR-RE-MINER-1", "CN-RE-SEP-3", "284690", 3_000_000),
    Link("US-RE-MINER-1", "CN-RE-SEP-1", "253090", 50_000_000),
    Link("US-RE-MINER-1", "CN-RE-SEP-3", "253090", 150_000_000),
    Link("US-RE-MINER-1", "US-RE-SEP-1", "253090", 60_000_000),
    Link("CN-RE-SEP-1", "CN-RE-METAL-1", "284690", 700_000_000),
    Link("CN-RE-SEP-1", "CN-RE-METAL-2", "284690", 300_000_000),
    Link("CN-RE-SEP-2", "CN-RE-METAL-1", "284690", 200_000_000),
    Link("CN-RE-SEP-3", "CN-RE-METAL-2", "284690", 200_000_000),
    # Metals and heavy-rare-earth oxides to magnet makers.
    Link("CN-RE-METAL-1", "CN-MAG-1", "280530", 900_000_000),
    Link("CN-RE-METAL-1", "CN-MAG-2", "280530", 500_000_000),
    Link("CN-RE-METAL-2", "CN-MAG-3", "280530", 400_000_000),
    Link("CN-RE-METAL-2", "CN-MAG-4", "280530", 200_000_000),
    Link("CN-RE-METAL-1", "JP-MAG-1", "280530", 250_000_000),
    Link("CN-RE-SEP-2", "JP-MAG-1", "284690", 60_000_000),
    Link("CN-RE-METAL-2", "JP-MAG-2", "280530", 150_000_000),
    Link("CN-RE-METAL-1", "DE-MAG-1", "280530", 80_000_000),
    Link("CN-RE-METAL-2", "VN-MAG-1", "280530", 120_000_000),
    Link("JP-RE-REFINER-1", "JP-MAG-1", "280530", 130_000_000),
    Link("JP-RE-REFINER-1", "JP-MAG-2", "280530", 70_000_000),
    Link("VN-RE-REFINER-1", "VN-MAG-1", "280530", 40_000_000),
    Link("VN-RE-REFINER-1", "JP-MAG-2", "280530", 30_000_000),
    # US-RE-BUYER-2, a US magnet maker, buys NdPr metal (not one of the USGS-share buyers).
    Link("CN-RE-METAL-2", "US-RE-BUYER-2", "280530", 18_000_000),
    Link("JP-RE-REFINER-1", "US-RE-BUYER-2", "280530", 4_000_000),
    Link("US-RE-SEP-1", "US-RE-BUYER-2", "280530", 6_000_000),
    # Downstream of US-RE-BUYER-1: rare-earth catalysts (HS 3815.19) to carmakers.
    Link("US-RE-BUYER-1", "US-AUTO-2", "381519", 30_000_000),
    Link("US-RE-BUYER-1", "DE-AUTO-1", "381519", 12_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Magnets (HS 8505.11) and motors (HS 8501). China makes most NdFeB magnets; some leave China through traders in
# VN/MY/TH/MX/HK that resell them unchanged (origin CN, route CN>hub>buyer): the transshipment pattern.
# ---------------------------------------------------------------------------------------------------------------
MAGNET_COMPANIES: Final = (
    Company("CN-MAG-1", "Eastsea Permanent Magnet Co., Ltd.", "CN"),
    Company("CN-MAG-2", "Golden Phoenix NdFeB Materials Co., Ltd.", "CN"),
    Company("CN-MAG-3", "Mountain Gate Magnetics Co., Ltd.", "CN"),
    Company("CN-MAG-4", "Pearl Delta Magnet Works Co., Ltd.", "CN", MEU),
    Company("JP-MAG-1", "Kiso Valley Magnet Corp.", "JP"),
    Company("JP-MAG-2", "Harima Sintered Magnets K.K.", "JP"),
    Company("DE-MAG-1", "Hanau-Main Magnetwerk GmbH", "DE"),
    Company("VN-MAG-1", "Haiphong Magnet Components Co., Ltd.", "VN"),
    Company("VN-TRADE-1", "Saigon Bridge Trading Co., Ltd.", "VN"),
    Company("MY-TRADE-1", "Straits Meridian Trading Sdn. Bhd.", "MY"),
    Company("TH-TRADE-1", "Chao Phraya Components Trading Co., Ltd.", "TH"),
    Company("MX-TRADE-1", "Comercializadora Frontera Norte S.A. de C.V.", "MX"),
    Company("HK-TRADE-1", "Victoria Harbour Magnetics Trading Ltd.", "HK"),
    Company("US-MOTOR-1", "Great Lakes Traction Motors Inc.", "US"),
    Company("US-MOTOR-2", "Piedmont Servo Drives Inc.", "US"),
    Company("DE-MOTOR-1", "Neckar Antriebstechnik GmbH", "DE"),
    Company("JP-MOTOR-1", "Tenryu Precision Motor K.K.", "JP"),
    Company("MX-MOTOR-1", "Motores del Bajio S.A. de C.V.", "MX"),
    Company("CN-MOTOR-1", "Poyang E-Drive Motor Co., Ltd.", "CN"),
    Company("TH-MOTOR-1", "Ayutthaya Spindle Motor Co., Ltd.", "TH"),
    Company("KR-MOTOR-1", "Hangang E-Motor Co., Ltd.", "KR"),
    Company("US-AUTO-1", "Prairie Electric Vehicles Inc.", "US"),
    Company("US-AUTO-2", "Motor City Mobility Corp.", "US"),
    Company("DE-AUTO-1", "Schwarzwald Automobilwerke AG", "DE"),
    Company("JP-AUTO-1", "Chubu Motor Works K.K.", "JP"),
    Company("US-WIND-1", "High Plains Wind Turbines Inc.", "US"),
    Company("DK-WIND-1", "Jutland Vindkraft A/S", "DK"),
    Company("US-DEF-1", "Liberty Aerospace & Defense Systems Inc.", "US"),
    Company("US-HDD-1", "Coastal Range Data Storage Inc.", "US"),
    Company("US-ROBOT-1", "Rust Belt Robotics Inc.", "US"),
    Company("US-APPLIANCE-1", "Heartland Home Appliances Inc.", "US"),
)

MAGNET_LINKS: Final = (
    # Chinese magnet makers' sales.
    Link("CN-MAG-1", "CN-MOTOR-1", "850511", 600_000_000),
    Link("CN-MAG-1", "DE-MOTOR-1", "850511", 150_000_000),
    Link("CN-MAG-1", "US-MOTOR-1", "850511", 110_000_000),
    Link("CN-MAG-1", "MX-MOTOR-1", "850511", 90_000_000),
    Link("CN-MAG-1", "KR-MOTOR-1", "850511", 80_000_000),
    Link("CN-MAG-1", "TH-MOTOR-1", "850511", 70_000_000),
    Link("CN-MAG-1", "VN-TRADE-1", "850511", 120_000_000),
    Link("CN-MAG-2", "DK-WIND-1", "850511", 150_000_000),
    Link("CN-MAG-2", "JP-MOTOR-1", "850511", 100_000_000),
    Link("CN-MAG-2", "US-WIND-1", "850511", 70_000_000),
    Link("CN-MAG-2", "MY-TRADE-1", "850511", 60_000_000),
    # Shipped by the Chinese maker itself but routed through a Mexican bonded warehouse: a third country on route.
    Link("CN-MAG-2", "US-MOTOR-2", "850511", 45_000_000, route="CN>MX>US"),
    Link("CN-MAG-3", "HK-TRADE-1", "850511", 80_000_000),
    Link("CN-MAG-3", "MX-TRADE-1", "850511", 50_000_000),
    Link("CN-MAG-3", "TH-TRADE-1", "850511", 40_000_000),
    Link("CN-MAG-3", "US-ROBOT-1", "850511", 25_000_000),
    Link("CN-MAG-4", "CN-MOTOR-1", "850511", 200_000_000),
    Link("CN-MAG-4", "HK-TRADE-1", "850511", 30_000_000),
    # Traders reselling Chinese-origin magnets unchanged: origin CN, route through the hub.
    Link("VN-TRADE-1", "US-MOTOR-1", "850511", 110_000_000, origin_country="CN", route="CN>VN>US"),
    Link("VN-TRADE-1", "US-APPLIANCE-1", "850511", 8_000_000, origin_country="CN", route="CN>VN>US"),
    Link("MY-TRADE-1", "US-MOTOR-2", "850511", 50_000_000, origin_country="CN", route="CN>MY>US"),
    Link("TH-TRADE-1", "US-ROBOT-1", "850511", 15_000_000, origin_country="CN", route="CN>TH>US"),
    Link("TH-TRADE-1", "TH-MOTOR-1", "850511", 20_000_000, origin_country="CN", route="CN>TH"),
    Link("MX-TRADE-1", "US-MOTOR-1", "850511", 40_000_000, origin_country="CN", route="CN>MX>US"),
    Link("HK-TRADE-1", "US-MOTOR-2", "850511", 60_000_000, origin_country="CN", route="CN>HK>US"),
    Link("HK-TRADE-1", "KR-MOTOR-1", "850511", 20_000_000, origin_country="CN", route="CN>HK>KR"),
    # Non-Chinese magnet makers (their rare-earth metal is mostly Chinese, see RARE_EARTH_LINKS).
    Link("JP-MAG-1", "JP-MOTOR-1", "850511", 300_000_000),
    Link("JP-MAG-1", "US-MOTOR-1", "850511", 60_000_000),
    Link("JP-MAG-1", "DE-MOTOR-1", "850511", 40_000_000),
    Link("JP-MAG-2", "TH-MOTOR-1", "850511", 50_000_000),
    Link("JP-MAG-2", "US-HDD-1", "850511", 30_000_000),
    Link("JP-MAG-2", "KR-MOTOR-1", "850511", 20_000_000),
    Link("DE-MAG-1", "DE-MOTOR-1", "850511", 90_000_000),
    Link("DE-MAG-1", "US-DEF-1", "850511", 25_000_000),
    Link("VN-MAG-1", "JP-MOTOR-1", "850511", 60_000_000),
    Link("VN-MAG-1", "US-MOTOR-2", "850511", 30_000_000),
    Link("US-RE-BUYER-2", "US-MOTOR-1", "850511", 25_000_000),
    Link("US-RE-BUYER-2", "US-DEF-1", "850511", 20_000_000),
    # Motors: 8501.53 AC motors over 75 kW (traction), 8501.52 AC 750 W-75 kW, 8501.40 single-phase AC,
    # 8501.10 under 37.5 W (hard-disk spindle motors).
    Link("US-MOTOR-1", "US-AUTO-1", "850153", 400_000_000),
    Link("US-MOTOR-1", "US-AUTO-2", "850153", 250_000_000),
    Link("US-MOTOR-1", "US-ROBOT-1", "850152", 30_000_000),
    # A cycle: the US rare-earth mine buys haul-truck and mill motors from a motor maker downstream of its ore.
    Link("US-MOTOR-1", "US-RE-MINER-1", "850152", 5_000_000),
    Link("US-MOTOR-2", "US-ROBOT-1", "850152", 80_000_000),
    Link("US-MOTOR-2", "US-DEF-1", "850152", 60_000_000),
    Link("US-MOTOR-2", "US-APPLIANCE-1", "850140", 40_000_000),
    Link("DE-MOTOR-1", "DE-AUTO-1", "850153", 500_000_000),
    Link("DE-MOTOR-1", "US-AUTO-1", "850153", 100_000_000),
    Link("JP-MOTOR-1", "JP-AUTO-1", "850153", 400_000_000),
    Link("JP-MOTOR-1", "US-AUTO-2", "850153", 120_000_000),
    Link("MX-MOTOR-1", "US-AUTO-2", "850153", 200_000_000),
    Link("MX-MOTOR-1", "US-APPLIANCE-1", "850140", 60_000_000),
    Link("CN-MOTOR-1", "DE-AUTO-1", "850153", 150_000_000),
    Link("CN-MOTOR-1", "MX-TRADE-1", "850153", 70_000_000),
    Link("MX-TRADE-1", "US-AUTO-2", "850153", 70_000_000, origin_country="CN", route="CN>MX>US"),
    Link("TH-MOTOR-1", "US-HDD-1", "850110", 150_000_000),
    Link("KR-MOTOR-1", "US-AUTO-2", "850153", 100_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Gallium. USGS MCS 2026: US imports of gallium metal 2021-24: Canada 28%, Japan 22%, China 18%, Germany 16%,
# other 16%. Primary low-purity production 2025e: China 900,000 kg of a 900,000 kg world total (rounded); 2024:
# 839,000 of 848,000 kg (99%); Japan 3,000 kg, Russia 6,000 kg. HS 8112.92 (US HTS 8112.92.10). Comtrade
# (comtrade_china_exports): Hong Kong's share of China's 811292 exports rose from 7% (2018) to 61% (2024).
# ---------------------------------------------------------------------------------------------------------------
GALLIUM_COMPANIES: Final = (
    Company("CN-GA-PRIMARY-1", "Karst Plateau Alumina & Gallium Co., Ltd.", "CN"),
    Company("CN-GA-PRIMARY-2", "Yellow Earth Alumina Gallium Co., Ltd.", "CN"),
    Company("CN-GA-PRIMARY-3", "Western Basin Gallium Recovery Co., Ltd.", "CN"),
    Company("CN-GA-REFINER-1", "Pearl River High-Purity Metals Co., Ltd.", "CN"),
    Company("JP-GA-PRIMARY-1", "Hida Zinc Residue Recovery K.K.", "JP"),
    Company("RU-GA-PRIMARY-1", "Ural Alumina Byproducts JSC", "RU"),
    Company("HK-GA-TRADE-1", "Kowloon Minor Metals Trading Ltd.", "HK", ENTITY),
    Company("CA-GA-REFINER-1", "Laurentian Gallium Purification Inc.", "CA"),
    Company("JP-GA-REFINER-1", "Oumi High-Purity Gallium K.K.", "JP"),
    Company("DE-GA-REFINER-1", "Rheinland Reinstmetalle GmbH", "DE"),
    Company("GB-GA-REFINER-1", "Severn Minor Metals Ltd.", "GB"),
    Company("SK-GA-REFINER-1", "Tatra Metal Refining s.r.o.", "SK"),
    Company("KR-GA-REFINER-1", "Hanbit Compound Metals Co., Ltd.", "KR"),
    # The identifiable US buyer of gallium metal: a gallium-arsenide substrate maker.
    Company("US-GA-BUYER-1", "Sierra Compound Substrates Inc.", "US"),
    Company("US-GA-BUYER-2", "Lone Star GaN Epitaxy Inc.", "US"),
    Company("JP-GAAS-1", "Tsukuba Compound Wafer K.K.", "JP"),
    Company("US-RF-FAB-1", "Carolina RF Devices Inc.", "US"),
    Company("TW-RF-FAB-1", "Bamboo City Compound Foundry Co., Ltd.", "TW"),
)

GALLIUM_LINKS: Final = (
    # US-GA-BUYER-1: 5,000,000 USD a year in exactly the USGS shares (Canada 28, Japan 22, China 18, Germany 16,
    # other 16 = United Kingdom 8 + Slovakia 5 + South Korea 3).
    Link("CA-GA-REFINER-1", "US-GA-BUYER-1", "811292", 1_400_000),
    Link("JP-GA-REFINER-1", "US-GA-BUYER-1", "811292", 1_100_000),
    Link("CN-GA-REFINER-1", "US-GA-BUYER-1", "811292", 900_000),
    Link("DE-GA-REFINER-1", "US-GA-BUYER-1", "811292", 800_000),
    Link("GB-GA-REFINER-1", "US-GA-BUYER-1", "811292", 400_000),
    Link("SK-GA-REFINER-1", "US-GA-BUYER-1", "811292", 250_000),
    Link("KR-GA-REFINER-1", "US-GA-BUYER-1", "811292", 150_000),
    # Look-through: the refiners' low-purity feedstock (assumed splits; China makes ~99% of primary gallium).
    # Canada: 80% Chinese low-purity gallium, 20% process scrap from its US customer (a 2-cycle).
    Link("CN-GA-PRIMARY-1", "CA-GA-REFINER-1", "811292", 2_400_000),
    Link("US-GA-BUYER-1", "CA-GA-REFINER-1", "811292", 600_000),
    # Japan: 60% Chinese, 15% Japanese primary, 25% scrap returned by a Japanese GaAs wafer maker (a 2-cycle).
    Link("CN-GA-PRIMARY-2", "JP-GA-REFINER-1", "811292", 3_000_000),
    Link("JP-GA-PRIMARY-1", "JP-GA-REFINER-1", "811292", 750_000),
    Link("JP-GAAS-1", "JP-GA-REFINER-1", "811292", 1_250_000),
    # Germany: 90% Chinese-origin gallium bought through a Hong Kong trader, 10% Japanese primary.
    Link("HK-GA-TRADE-1", "DE-GA-REFINER-1", "811292", 1_800_000, origin_country="CN", route="CN>HK>DE"),
    Link("JP-GA-PRIMARY-1", "DE-GA-REFINER-1", "811292", 200_000),
    # United Kingdom: 100% Chinese. Slovakia: 70% Chinese, 30% Russian. South Korea: 100% Chinese via Hong Kong.
    Link("CN-GA-PRIMARY-3", "GB-GA-REFINER-1", "811292", 500_000),
    Link("CN-GA-PRIMARY-1", "SK-GA-REFINER-1", "811292", 350_000),
    Link("RU-GA-PRIMARY-1", "SK-GA-REFINER-1", "811292", 150_000),
    Link("HK-GA-TRADE-1", "KR-GA-REFINER-1", "811292", 400_000, origin_country="CN", route="CN>HK>KR"),
    # China's own high-purity refiner and the Hong Kong trader's Chinese source.
    Link("CN-GA-PRIMARY-2", "CN-GA-REFINER-1", "811292", 2_000_000),
    Link("CN-GA-PRIMARY-3", "HK-GA-TRADE-1", "811292", 3_000_000),
    # After China's December 2024 ban on gallium exports to the US, Chinese gallium reaches a US buyer via HK.
    Link("HK-GA-TRADE-1", "US-GA-BUYER-2", "811292", 600_000, origin_country="CN", route="CN>HK>US"),
    Link("JP-GA-REFINER-1", "US-GA-BUYER-2", "811292", 300_000),
    Link("JP-GA-REFINER-1", "JP-GAAS-1", "811292", 4_000_000),
    Link("CN-GA-REFINER-1", "JP-GAAS-1", "811292", 1_500_000),
    # Gallium-arsenide wafers (HS 3818) to RF fabs; RF amplifier ICs (8542.33) and GaN transistors (8541.29).
    Link("US-GA-BUYER-1", "US-RF-FAB-1", "381800", 18_000_000),
    Link("US-GA-BUYER-1", "TW-RF-FAB-1", "381800", 9_000_000),
    Link("JP-GAAS-1", "TW-RF-FAB-1", "381800", 25_000_000),
    Link("JP-GAAS-1", "US-RF-FAB-1", "381800", 10_000_000),
    Link("US-RF-FAB-1", "US-PHONE-1", "854233", 1_200_000_000),
    Link("US-RF-FAB-1", "US-DEF-1", "854233", 150_000_000),
    Link("US-RF-FAB-1", "US-TELCO-1", "854233", 200_000_000),
    Link("TW-RF-FAB-1", "US-FABLESS-2", "854233", 400_000_000),
    Link("TW-RF-FAB-1", "CN-ODM-1", "854233", 300_000_000),
    Link("US-GA-BUYER-2", "US-DEF-1", "854129", 40_000_000),
    Link("US-GA-BUYER-2", "US-TELCO-1", "854129", 60_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Germanium. USGS MCS 2026: US imports 2021-24 of germanium metal: China 41%, Belgium 27%, Germany 25%, Russia 3%,
# other 4%; of germanium dioxide (Ge content): Belgium 57%, Canada 37%, Japan 3%, other 3%. HS 8112.92 (US HTS
# 8112.92.60 unwrought germanium) and 2825.60 (germanium oxides).
# ---------------------------------------------------------------------------------------------------------------
GERMANIUM_COMPANIES: Final = (
    Company("CN-GE-PRIMARY-1", "Lignite Valley Germanium Co., Ltd.", "CN"),
    Company("CN-GE-PRIMARY-2", "Southwest Zinc & Germanium Smelting Co., Ltd.", "CN"),
    Company("HK-GE-TRADE-1", "Tsing Yi Rare Metals Ltd.", "HK"),
    Company("RU-GE-1", "Baikal Germanium Plant JSC", "RU", f"{ENTITY};{EU_ANNEX_IV}"),
    Company("CD-ZN-1", "Katanga Slag Residues SARL", "CD"),
    Company("BE-GE-REFINER-1", "Kempen Germanium & Specialty Materials NV", "BE"),
    Company("DE-GE-REFINER-1", "Harz Germanium GmbH", "DE"),
    Company("CA-GE-REFINER-1", "Kootenay Zinc & Germanium Ltd.", "CA"),
    Company("JP-GE-1", "Kyushu Optical Materials K.K.", "JP"),
    Company("GB-GE-1", "Cotswold Infrared Materials Ltd.", "GB"),
    # The identifiable US buyers: germanium metal (infrared optics) and germanium dioxide (optical fibre).
    Company("US-GE-BUYER-1", "Rocky Mountain Infrared Optics Inc.", "US"),
    Company("US-GE-BUYER-2", "Finger Lakes Fiber Preforms Inc.", "US"),
    Company("US-SOLAR-SPACE-1", "Mesa Space Photovoltaics Inc.", "US"),
)

GERMANIUM_LINKS: Final = (
    # US-GE-BUYER-1: germanium metal, 20,000,000 USD a year (China 41, Belgium 27, Germany 25, Russia 3,
    # other 4 = Japan 2 + United Kingdom 2).
    Link("CN-GE-PRIMARY-1", "US-GE-BUYER-1", "811292", 8_200_000),
    Link("BE-GE-REFINER-1", "US-GE-BUYER-1", "811292", 5_400_000),
    Link("DE-GE-REFINER-1", "US-GE-BUYER-1", "811292", 5_000_000),
    Link("RU-GE-1", "US-GE-BUYER-1", "811292", 600_000),
    Link("JP-GE-1", "US-GE-BUYER-1", "811292", 400_000),
    Link("GB-GE-1", "US-GE-BUYER-1", "811292", 400_000),
    # US-GE-BUYER-2: germanium dioxide, 10,000,000 USD a year (Belgium 57, Canada 37, Japan 3, other 3 =
    # Germany 2 + United Kingdom 1).
    Link("BE-GE-REFINER-1", "US-GE-BUYER-2", "282560", 5_700_000),
    Link("CA-GE-REFINER-1", "US-GE-BUYER-2", "282560", 3_700_000),
    Link("JP-GE-1", "US-GE-BUYER-2", "282560", 300_000),
    Link("DE-GE-REFINER-1", "US-GE-BUYER-2", "282560", 200_000),
    Link("GB-GE-1", "US-GE-BUYER-2", "282560", 100_000),
    # Look-through (assumed splits). Belgium: 40% Chinese germanium dioxide, 35% Congolese zinc-smelter residues
    # (HS 2620.99, tagged germanium on the link), 25% scrap returned by its US optics customer (a 2-cycle).
    Link("CN-GE-PRIMARY-2", "BE-GE-REFINER-1", "282560", 4_000_000),
    Link("CD-ZN-1", "BE-GE-REFINER-1", "262099", 3_500_000, tags="germanium"),
    Link("US-GE-BUYER-1", "BE-GE-REFINER-1", "811292", 2_500_000),
    # Germany: 70% Chinese-origin metal through Hong Kong, 30% Belgian.
    Link("HK-GE-TRADE-1", "DE-GE-REFINER-1", "811292", 2_800_000, origin_country="CN", route="CN>HK>DE"),
    Link("BE-GE-REFINER-1", "DE-GE-REFINER-1", "811292", 1_200_000),
    # Japan: 80% Chinese, 20% Canadian. United Kingdom: 100% Chinese. Canada and Russia: own zinc/coal
    # residues, not modelled as links (0% China).
    Link("CN-GE-PRIMARY-1", "JP-GE-1", "282560", 800_000),
    Link("CA-GE-REFINER-1", "JP-GE-1", "282560", 200_000),
    Link("CN-GE-PRIMARY-2", "GB-GE-1", "811292", 600_000),
    Link("CN-GE-PRIMARY-1", "HK-GE-TRADE-1", "811292", 4_000_000),
    # After China's December 2024 ban on germanium exports to the US, Chinese germanium reaches the US via HK.
    Link("HK-GE-TRADE-1", "US-SOLAR-SPACE-1", "811292", 500_000, origin_country="CN", route="CN>HK>US"),
    Link("BE-GE-REFINER-1", "US-SOLAR-SPACE-1", "381800", 12_000_000),
    # Downstream: infrared lens blanks (9001.90), optical fibre (9001.10), space solar cells (8541.42).
    Link("US-GE-BUYER-1", "US-DEF-1", "900190", 30_000_000),
    Link("US-GE-BUYER-1", "US-AUTO-1", "900190", 4_000_000),
    Link("US-GE-BUYER-2", "US-TELCO-1", "900110", 60_000_000),
    Link("US-GE-BUYER-2", "US-CLOUD-1", "900110", 25_000_000),
    Link("US-SOLAR-SPACE-1", "US-DEF-1", "854142", 45_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Antimony. USGS MCS 2026: US imports 2021-24 of antimony oxide: China 66%, Belgium 16%, Bolivia 6%, France 5%,
# other 7%; of unwrought metal and powder: China 22%, India 22%, Thailand 20%, Vietnam 13%, other 23%; of ore and
# concentrates: Mexico 86%, Italy 9%, other 5%. Mine production 2025e: China 40,000 t, Russia 32,000 t,
# Tajikistan 22,000 t of 110,000 t. HS 2825.80 oxide, 8110 metal, 2617.10 ore.
# ---------------------------------------------------------------------------------------------------------------
ANTIMONY_COMPANIES: Final = (
    Company("CN-SB-1", "Lotus Ridge Antimony Smelting Co., Ltd.", "CN"),
    Company("CN-SB-2", "Xiang River Antimony Chemicals Co., Ltd.", "CN"),
    Company("MM-SB-MINER-1", "Shan Highlands Stibnite Co.", "MM"),
    Company("TJ-SB-1", "Fann Mountains Antimony LLC", "TJ"),
    Company("OM-SB-1", "Sohar Antimony Roasting LLC", "OM"),
    Company("BO-SB-1", "Altiplano Antimonio S.A.", "BO"),
    Company("MX-SB-MINER-1", "Minera Sierra Antimonio S.A. de C.V.", "MX"),
    Company("IT-SB-1", "Tirrenica Minerali S.r.l.", "IT"),
    Company("TR-SB-MINER-1", "Anatolia Stibnite Madencilik A.S.", "TR"),
    Company("BE-SB-OXIDE-1", "Scheldt Antimony Oxides NV", "BE"),
    Company("FR-SB-OXIDE-1", "Loire Oxydes Metalliques S.A.S.", "FR"),
    Company("IN-SB-1", "Deccan Antimony Metals Pvt. Ltd.", "IN"),
    Company("TH-SB-1", "Siam Antimony Refining Co., Ltd.", "TH"),
    Company("VN-SB-1", "Ha Giang Antimony JSC", "VN"),
    Company("VN-SB-MINER-1", "Tuyen Quang Stibnite Co., Ltd.", "VN"),
    # The identifiable US buyers: oxide (flame retardants), metal (lead alloys), ore (a smelter).
    Company("US-SB-BUYER-1", "Gulf Coast Flame Retardants Inc.", "US"),
    Company("US-SB-BUYER-2", "Ohio Valley Lead Alloys Inc.", "US"),
    Company("US-SB-BUYER-3", "Bitterroot Antimony Smelting Inc.", "US"),
    Company("US-SB-BUYER-4", "Tidewater Munitions Metals Inc.", "US"),
    Company("US-LEADACID-1", "Blue Ridge Starter Batteries Inc.", "US"),
)

ANTIMONY_LINKS: Final = (
    # US-SB-BUYER-1: antimony oxide, 40,000,000 USD a year (China 66, Belgium 16, Bolivia 6, France 5,
    # other 7 = Thailand 4 + India 3).
    Link("CN-SB-2", "US-SB-BUYER-1", "282580", 26_400_000),
    Link("BE-SB-OXIDE-1", "US-SB-BUYER-1", "282580", 6_400_000),
    Link("BO-SB-1", "US-SB-BUYER-1", "282580", 2_400_000),
    Link("FR-SB-OXIDE-1", "US-SB-BUYER-1", "282580", 2_000_000),
    Link("TH-SB-1", "US-SB-BUYER-1", "282580", 1_600_000),
    Link("IN-SB-1", "US-SB-BUYER-1", "282580", 1_200_000),
    # US-SB-BUYER-2: unwrought antimony and powder, 20,000,000 USD a year (China 22, India 22, Thailand 20,
    # Vietnam 13, other 23 = Tajikistan 10 + Oman 8 + Bolivia 5).
    Link("CN-SB-1", "US-SB-BUYER-2", "811010", 4_400_000),
    Link("IN-SB-1", "US-SB-BUYER-2", "811010", 4_400_000),
    Link("TH-SB-1", "US-SB-BUYER-2", "811010", 4_000_000),
    Link("VN-SB-1", "US-SB-BUYER-2", "811010", 2_600_000),
    Link("TJ-SB-1", "US-SB-BUYER-2", "811010", 2_000_000),
    Link("OM-SB-1", "US-SB-BUYER-2", "811010", 1_600_000),
    Link("BO-SB-1", "US-SB-BUYER-2", "811010", 1_000_000),
    # US-SB-BUYER-3: antimony ore and concentrates, 5,000,000 USD a year (Mexico 86, Italy 9, other 5 = Bolivia).
    Link("MX-SB-MINER-1", "US-SB-BUYER-3", "261710", 4_300_000),
    Link("IT-SB-1", "US-SB-BUYER-3", "261710", 450_000),
    Link("BO-SB-1", "US-SB-BUYER-3", "261710", 250_000),
    # Look-through (assumed splits). Belgium: 50% Chinese metal, 30% Turkish ore, 20% Bolivian ore.
    Link("CN-SB-1", "BE-SB-OXIDE-1", "811010", 5_000_000),
    Link("TR-SB-MINER-1", "BE-SB-OXIDE-1", "261710", 3_000_000),
    Link("BO-SB-1", "BE-SB-OXIDE-1", "261710", 2_000_000),
    # France: 60% Chinese metal, 40% Turkish ore.
    Link("CN-SB-1", "FR-SB-OXIDE-1", "811010", 1_800_000),
    Link("TR-SB-MINER-1", "FR-SB-OXIDE-1", "261710", 1_200_000),
    # India: 40% Chinese metal, 30% Turkish ore, 30% Tajik concentrate.
    Link("CN-SB-1", "IN-SB-1", "811010", 2_000_000),
    Link("TR-SB-MINER-1", "IN-SB-1", "261710", 1_500_000),
    Link("TJ-SB-1", "IN-SB-1", "261710", 1_500_000),
    # Thailand: 50% Burmese ore, 50% Chinese metal. Vietnam: 70% Chinese metal, 30% domestic ore.
    Link("MM-SB-MINER-1", "TH-SB-1", "261710", 2_000_000),
    Link("CN-SB-1", "TH-SB-1", "811010", 2_000_000),
    Link("CN-SB-1", "VN-SB-1", "811010", 1_400_000),
    Link("VN-SB-MINER-1", "VN-SB-1", "261710", 600_000),
    # Oman: 50% Tajik, 50% Bolivian concentrate. Italy: 100% Turkish ore.
    Link("TJ-SB-1", "OM-SB-1", "261710", 1_000_000),
    Link("BO-SB-1", "OM-SB-1", "261710", 1_000_000),
    Link("TR-SB-MINER-1", "IT-SB-1", "261710", 400_000),
    # China's own chain: Burmese ore to the smelter, metal to the oxide maker.
    Link("MM-SB-MINER-1", "CN-SB-1", "261710", 8_000_000),
    Link("CN-SB-1", "CN-SB-2", "811010", 20_000_000),
    # After China's 2024 antimony restrictions: Chinese metal and oxide re-exported unchanged via TH and MX.
    Link("CN-SB-1", "TH-TRADE-1", "811010", 1_500_000),
    Link("TH-TRADE-1", "US-SB-BUYER-4", "811010", 1_500_000, origin_country="CN", route="CN>TH>US"),
    Link("CN-SB-2", "MX-TRADE-1", "282580", 900_000),
    Link("MX-TRADE-1", "US-SB-BUYER-4", "282580", 900_000, origin_country="CN", route="CN>MX>US"),
    # Downstream: lead-antimony alloys (7801.99) to battery makers; ammunition components (9306.30).
    Link("US-SB-BUYER-2", "US-LEADACID-1", "780199", 35_000_000),
    Link("US-LEADACID-1", "US-AUTO-2", "850710", 90_000_000),
    Link("US-SB-BUYER-4", "US-DEF-1", "930630", 20_000_000),
    Link("US-SB-BUYER-1", "US-APPLIANCE-1", "382499", 15_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Graphite and batteries. USGS MCS 2026: US imports 2021-24 of natural graphite: China 46%, Canada 13%,
# Mozambique 13%, Mexico 12%, other 16%. Mine production 2025e: China 1,400,000 t of 1,800,000 t. HS 2504 natural,
# 3801.10 artificial graphite; 8507.60 lithium-ion accumulators; 2825.20 lithium hydroxide, 2836.91 carbonate.
# ---------------------------------------------------------------------------------------------------------------
GRAPHITE_COMPANIES: Final = (
    Company("CN-GR-NAT-1", "Black Dragon Flake Graphite Co., Ltd.", "CN"),
    Company("CN-GR-NAT-2", "Northern Forest Spherical Graphite Co., Ltd.", "CN"),
    Company("CN-GR-SYN-1", "Grassland Synthetic Graphite Co., Ltd.", "CN"),
    Company("CN-GR-SYN-2", "Upper Gorge Graphitization Co., Ltd.", "CN"),
    Company("CN-ANODE-1", "Bright Anode Materials Co., Ltd.", "CN"),
    Company("CA-GR-1", "Laurentide Graphite Processing Inc.", "CA"),
    Company("CA-GR-MINE-1", "Boreal Flake Mining Inc.", "CA"),
    Company("MZ-GR-1", "Cabo Delgado Grafite Lda.", "MZ"),
    Company("MX-GR-1", "Grafitos de Sonora S.A. de C.V.", "MX"),
    Company("MG-GR-1", "Ile Rouge Graphite SARL", "MG"),
    Company("BR-GR-1", "Serra do Grafite Mineracao Ltda.", "BR"),
    Company("IN-GR-1", "Eastern Ghats Graphite Pvt. Ltd.", "IN"),
    # The identifiable US buyer of natural graphite: refractories and purified flake for anodes.
    Company("US-GR-BUYER-1", "Tidewater Carbon & Refractories Inc.", "US"),
    Company("US-ANODE-1", "Appalachian Anode Inc.", "US"),
    Company("KR-ANODE-1", "Geum River Anode Materials Co., Ltd.", "KR"),
    Company("JP-ANODE-1", "Shonan Carbon Materials K.K.", "JP"),
    Company("CN-LI-1", "Lakeland Lithium Hydroxide Co., Ltd.", "CN"),
    Company("CL-LI-1", "Atacama Salar Carbonatos SpA", "CL"),
    Company("KR-CATHODE-1", "Eastcoast Cathode Materials Co., Ltd.", "KR"),
    Company("KR-CELL-1", "Gyeonggi Energy Cells Co., Ltd.", "KR"),
    Company("US-CELL-1", "Bluegrass Battery Manufacturing LLC", "US"),
    Company("US-CELL-2", "Great Basin Cell Works Inc.", "US"),
    Company("CN-CELL-1", "Dragon Gate New Energy Technology Co., Ltd.", "CN", DOD_1260H),
    Company("US-ESS-1", "Lone Prairie Grid Storage Inc.", "US"),
)

GRAPHITE_LINKS: Final = (
    # US-GR-BUYER-1: natural graphite, 30,000,000 USD a year (China 46, Canada 13, Mozambique 13, Mexico 12,
    # other 16 = Madagascar 6 + Brazil 5 + India 5).
    Link("CN-GR-NAT-1", "US-GR-BUYER-1", "250410", 9_000_000),
    Link("CN-GR-NAT-2", "US-GR-BUYER-1", "250410", 4_800_000),
    Link("CA-GR-1", "US-GR-BUYER-1", "250410", 3_900_000),
    Link("MZ-GR-1", "US-GR-BUYER-1", "250410", 3_900_000),
    Link("MX-GR-1", "US-GR-BUYER-1", "250410", 3_600_000),
    Link("MG-GR-1", "US-GR-BUYER-1", "250410", 1_800_000),
    Link("BR-GR-1", "US-GR-BUYER-1", "250490", 1_500_000),
    Link("IN-GR-1", "US-GR-BUYER-1", "250410", 1_500_000),
    # Look-through: the Canadian processor takes 80% from a Canadian mine, 20% Chinese spherical graphite; the
    # Mozambican, Mexican, Malagasy, Brazilian and Indian suppliers are mines (0% China).
    Link("CA-GR-MINE-1", "CA-GR-1", "250410", 2_400_000),
    Link("CN-GR-NAT-2", "CA-GR-1", "250410", 600_000),
    # Anode materials: synthetic (3801.10) and spherical natural graphite to anode makers, anodes to cell makers.
    Link("US-GR-BUYER-1", "US-ANODE-1", "250410", 8_000_000),
    Link("CN-GR-SYN-1", "CN-ANODE-1", "380110", 900_000_000),
    Link("CN-GR-NAT-2", "CN-ANODE-1", "250410", 300_000_000),
    Link("CN-GR-SYN-1", "KR-ANODE-1", "380110", 250_000_000),
    Link("CN-GR-NAT-2", "KR-ANODE-1", "250410", 120_000_000),
    Link("CN-GR-SYN-2", "JP-ANODE-1", "380110", 150_000_000),
    Link("CN-ANODE-1", "CN-CELL-1", "380110", 1_400_000_000),
    Link("CN-ANODE-1", "US-CELL-2", "380110", 60_000_000),
    Link("KR-ANODE-1", "KR-CELL-1", "380110", 350_000_000),
    Link("KR-ANODE-1", "US-CELL-1", "380110", 180_000_000),
    Link("JP-ANODE-1", "US-CELL-2", "380110", 90_000_000),
    Link("US-ANODE-1", "US-CELL-2", "380110", 30_000_000),
    # Lithium and cathode material (2841.90 lithium metal oxides; HS6 cannot say lithium, so the link tag does).
    Link("CN-LI-1", "KR-CATHODE-1", "282520", 600_000_000),
    Link("CL-LI-1", "KR-CATHODE-1", "283691", 400_000_000),
    Link("CN-LI-1", "CN-CELL-1", "282520", 1_200_000_000),
    Link("KR-CATHODE-1", "KR-CELL-1", "284190", 900_000_000, tags="lithium"),
    Link("KR-CATHODE-1", "US-CELL-1", "284190", 500_000_000, tags="lithium"),
    # Lithium-ion cells and packs (8507.60) to carmakers and grid storage.
    Link("KR-CELL-1", "US-AUTO-1", "850760", 1_800_000_000),
    Link("KR-CELL-1", "DE-AUTO-1", "850760", 1_500_000_000),
    Link("US-CELL-1", "US-AUTO-2", "850760", 2_200_000_000),
    Link("US-CELL-2", "US-AUTO-1", "850760", 1_100_000_000),
    Link("CN-CELL-1", "DE-AUTO-1", "850760", 2_500_000_000),
    Link("CN-CELL-1", "US-ESS-1", "850760", 700_000_000),
    Link("CN-CELL-1", "JP-AUTO-1", "850760", 400_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Tungsten (illustrative; no USGS shares in ../shared/data). HS 2611 ores, 2841.80 tungstates (APT), 8101 metal.
# ---------------------------------------------------------------------------------------------------------------
TUNGSTEN_COMPANIES: Final = (
    Company("CN-W-1", "Southern Ridge Tungsten Co., Ltd.", "CN"),
    Company("CN-W-2", "Mountain Wolfram Materials Co., Ltd.", "CN"),
    Company("VN-W-1", "Northern Highlands Tungsten JSC", "VN"),
    Company("AT-W-1", "Alpenwolfram Verarbeitung GmbH", "AT"),
    Company("US-W-BUYER-1", "Keweenaw Carbide Corp.", "US"),
    Company("DE-W-1", "Swabian Carbide Tools GmbH", "DE"),
)

TUNGSTEN_LINKS: Final = (
    Link("CN-W-1", "US-W-BUYER-1", "284180", 12_000_000),
    Link("CN-W-2", "US-W-BUYER-1", "810110", 6_000_000),
    Link("VN-W-1", "US-W-BUYER-1", "284180", 8_000_000),
    Link("AT-W-1", "US-W-BUYER-1", "810110", 4_000_000),
    Link("CN-W-1", "AT-W-1", "284180", 5_000_000),
    Link("CN-W-2", "AT-W-1", "261100", 3_000_000),
    Link("CN-W-1", "DE-W-1", "284180", 10_000_000),
    Link("VN-W-1", "DE-W-1", "284180", 6_000_000),
    Link("AT-W-1", "DE-W-1", "810110", 7_000_000),
    Link("US-W-BUYER-1", "US-DEF-1", "810199", 15_000_000),
    Link("US-W-BUYER-1", "US-ROBOT-1", "820900", 9_000_000),
    Link("DE-W-1", "DE-AUTO-1", "820900", 20_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Advanced semiconductors (ETO Chip Explorer, eto_chip_explorer/provision.csv; CC BY-NC 4.0, Georgetown CSET).
# Tool market shares are ETO's 2025 firm shares ("CSET analysis of TechInsights data (2025)"); wafer shares are
# ETO's 2019 country shares (CSET, "The Semiconductor Supply Chain"); fab and ATP capacity by country (2022, SIA).
# Fictional firm -> the ETO provider whose shares it carries: NL-EUV-1 ASML (NL); JP-LITHO-1 Canon; JP-LITHO-2
# Nikon; US-DEP-1 Applied Materials; US-ETCH-1 Lam Research; JP-TRACK-1 Tokyo Electron; JP-CLEAN-1 Screen;
# NL-ALD-1 ASM International; JP-CMP-1 EBARA; US-PC-1 KLA; JP-PC-1 Lasertec; IL-PC-1 Nova; US-IMPLANT-1 Axcelis;
# KR-CLEAN-1 SEMES; CN-DEP-1 NAURA; CN-ETCH-1 AMEC; CN-CVD-1 Piotech; CN-CMP-1 Hwatsing; CN-LITHO-1 SMEE;
# JP-TEST-1 Advantest; US-TEST-1 Teradyne; JP-DICING-1 Disco.
# HS 8486.20 does not separate lithography from other front-end tools, so tool links use China's 2024 national
# split of 8486.20 (8486.2021 CVD, 8486.2022 PVD, 8486.2029 other film deposition, 8486.2039.xx lithography, with
# 8486.2039.50 = EUV), as the taxonomy does; other front-end tools (etch, clean, CMP, implant, tracks) stay at
# HS6 848620; process control is 9031.41, test equipment 9030.82, dicing 8486.40.
# ---------------------------------------------------------------------------------------------------------------
SEMICONDUCTOR_COMPANIES: Final = (
    # Silicon metal and polysilicon (2804.69, 2804.61).
    Company("NO-SIMETAL-1", "Fjord Silicon Metal AS", "NO"),
    Company("CN-SIMETAL-1", "Tianshan Metallurgical Silicon Co., Ltd.", "CN", UFLPA),
    Company("DE-POLY-1", "Inn Valley Polysilicon GmbH", "DE"),
    Company("US-POLY-1", "Saginaw Bay Polysilicon LLC", "US"),
    Company("JP-POLY-1", "Inland Sea Polysilicon K.K.", "JP"),
    Company("CN-POLY-1", "Tianshan Solar Silicon Co., Ltd.", "CN", UFLPA),
    Company("CN-POLY-2", "Min River Polysilicon Co., Ltd.", "CN"),
    # Wafers (3818).
    Company("JP-WAFER-1", "Tohoku Prime Wafer K.K.", "JP"),
    Company("JP-WAFER-2", "Kyushu Crystal Wafer K.K.", "JP"),
    Company("TW-WAFER-1", "Zhubei Silicon Wafer Corp.", "TW"),
    Company("DE-WAFER-1", "Erzgebirge Wafer GmbH", "DE"),
    Company("KR-WAFER-1", "Nakdong Silicon Wafer Co., Ltd.", "KR"),
    Company("CN-WAFER-1", "Huangpu Silicon Wafer Co., Ltd.", "CN"),
    # Equipment makers.
    Company("NL-EUV-1", "Lowlands Lithography B.V.", "NL"),
    Company("DE-OPTICS-1", "Swabian Precision Optics GmbH", "DE"),
    Company("US-LIGHT-1", "Pacific Light Source Inc.", "US"),
    Company("JP-LITHO-1", "Musashino Stepper K.K.", "JP"),
    Company("JP-LITHO-2", "Shinagawa Optical Scanners K.K.", "JP"),
    Company("US-DEP-1", "Santa Clara Thin Film Systems Inc.", "US"),
    Company("US-ETCH-1", "Fremont Plasma Etch Inc.", "US"),
    Company("JP-TRACK-1", "Akasaka Semiconductor Equipment K.K.", "JP"),
    Company("JP-CLEAN-1", "Kamo River Wet Process K.K.", "JP"),
    Company("NL-ALD-1", "Polder Atomic Layer B.V.", "NL"),
    Company("JP-CMP-1", "Haneda Planarization K.K.", "JP"),
    Company("US-PC-1", "Milpitas Inspection Systems Inc.", "US"),
    Company("JP-PC-1", "Yokohama Mask Inspection K.K.", "JP"),
    Company("IL-PC-1", "Rehovot Metrology Ltd.", "IL"),
    Company("US-IMPLANT-1", "Beverly Ion Beam Inc.", "US"),
    Company("KR-CLEAN-1", "Cheonan Wet Station Co., Ltd.", "KR"),
    Company("CN-DEP-1", "North Capital Semiconductor Equipment Co., Ltd.", "CN", ENTITY),
    Company("CN-ETCH-1", "Huangpu River Plasma Equipment Co., Ltd.", "CN", DOD_1260H),
    Company("CN-CVD-1", "Liaohe Thin Film Co., Ltd.", "CN", ENTITY),
    Company("CN-CMP-1", "Haihe Planarization Technology Co., Ltd.", "CN"),
    Company("CN-LITHO-1", "Pudong Lithography Equipment Co., Ltd.", "CN", ENTITY),
    Company("JP-TEST-1", "Nerima Test Systems K.K.", "JP"),
    Company("US-TEST-1", "North Reading Test Inc.", "US"),
    Company("JP-DICING-1", "Ota Dicing Saws K.K.", "JP"),
    # Fab materials: photoresists (3707.90), electronic gases (2812.90), photomasks (3705.00), substrates (8534).
    Company("JP-RESIST-1", "Kawasaki Photoresist K.K.", "JP"),
    Company("JP-RESIST-2", "Chiba Resist Chemicals K.K.", "JP"),
    Company("US-GAS-1", "Lehigh Specialty Gases Inc.", "US"),
    Company("FR-GAS-1", "Lyonnaise Gaz Electroniques S.A.", "FR"),
    Company("JP-MASK-1", "Ichigaya Photomask K.K.", "JP"),
    Company("US-MASK-1", "Housatonic Photomask Inc.", "US"),
    Company("JP-SUBSTRATE-1", "Ogaki Build-Up Substrates K.K.", "JP"),
    Company("TW-SUBSTRATE-1", "Luzhu Laminate Substrates Corp.", "TW"),
    # Fabs.
    Company("TW-FAB-1", "Jadeport Semiconductor Manufacturing Co., Ltd.", "TW"),
    Company("TW-FAB-2", "Keelung Mature Node Foundry Corp.", "TW"),
    Company("KR-FAB-1", "Arirang Semiconductor Co., Ltd.", "KR"),
    Company("KR-FAB-2", "Namsan Memory Co., Ltd.", "KR"),
    Company("US-FAB-1", "Cascade Microprocessor Corp.", "US"),
    Company("US-FAB-2", "Adirondack Foundry Inc.", "US"),
    Company("US-FAB-3", "Jadeport Arizona LLC", "US"),
    Company("JP-FAB-1", "Ishikari Advanced Logic K.K.", "JP"),
    Company("JP-FAB-2", "Ise Bay Flash Memory K.K.", "JP"),
    Company("CN-FAB-1", "Pudong Advanced Foundry Corp.", "CN", ENTITY),
    Company("CN-FAB-2", "Jianghan Flash Memory Co., Ltd.", "CN", ENTITY),
    Company("CN-FAB-3", "Taihu Mature Node Semiconductor Co., Ltd.", "CN"),
    Company("DE-FAB-1", "Elbe Automotive Semiconductors GmbH", "DE"),
    Company("SG-FAB-1", "Lion City Foundry Pte. Ltd.", "SG"),
    # Assembly, test and packaging (ATP).
    Company("TW-ATP-1", "Kaohsiung Advanced Packaging Corp.", "TW"),
    Company("TW-ATP-2", "Taichung Test & Assembly Co., Ltd.", "TW"),
    Company("MY-ATP-1", "Penang Backend Services Sdn. Bhd.", "MY"),
    Company("MY-ATP-2", "Kulim Test & Package Sdn. Bhd.", "MY"),
    Company("MY-ATP-3", "Melaka Contract Packaging Sdn. Bhd.", "MY"),
    Company("VN-ATP-1", "Saigon Hi-Tech Assembly Test Co., Ltd.", "VN"),
    Company("CN-ATP-1", "Grand Canal Packaging & Test Co., Ltd.", "CN"),
    # Fabless designers, ODMs, OEMs.
    Company("US-FABLESS-1", "Sunnyvale Graphics Compute Inc.", "US"),
    Company("US-FABLESS-2", "Torrey Pines Mobile Silicon Inc.", "US"),
    Company("US-FABLESS-3", "Barton Creek Server Processors Inc.", "US"),
    Company("TW-ODM-1", "Taoyuan Server Assembly Corp.", "TW"),
    Company("MX-ODM-1", "Ensambladora de Servidores de Jalisco S.A. de C.V.", "MX"),
    Company("CN-ODM-1", "Pearl Bay Electronics Assembly Co., Ltd.", "CN"),
    Company("VN-ODM-1", "Bac Ninh Device Assembly Co., Ltd.", "VN"),
    Company("IN-ODM-1", "Coromandel Handset Assembly Pvt. Ltd.", "IN"),
    Company("US-PHONE-1", "Orchard Mobile Devices Inc.", "US"),
    Company("US-OEM-PC-1", "Round Rock Personal Computers Inc.", "US"),
    Company("US-CLOUD-1", "Columbia River Cloud Inc.", "US"),
    Company("US-TELCO-1", "Lakeshore Network Equipment Inc.", "US"),
    Company("SE-TELCO-1", "Oresund Telecom Systems AB", "SE"),
    Company("DE-TIER1-1", "Filder Automotive Electronics GmbH", "DE"),
    Company("US-TIER1-1", "Dearborn Vehicle Electronics Inc.", "US"),
)


@dataclass(frozen=True, slots=True)
class Fab:
    """A fab's yearly purchases: `tool_budget_usd` split over tool categories by its `mix`."""

    fab_id: str
    tool_budget_usd: int
    mix: str
    silicon: bool = True


# Category weights (percent of a fab's tool budget) by fab type; each row sums to 100. Leading-edge logic spends
# about a fifth on EUV; mature and Chinese fabs (no EUV: Dutch export licensing since 2019) spend none.
TOOL_MIX_PCT: Final[Mapping[str, Mapping[str, int]]] = {
    "leading": {
        "euv": 22, "arfi": 8, "arf_dry": 1, "krf": 2, "iline": 1, "cvd": 10, "pvd": 4, "ald": 5,
        "dry_etch": 17, "wet_clean": 5, "cmp": 4, "implant": 3, "track": 4, "process_control": 14,
    },
    "memory": {
        "euv": 10, "arfi": 14, "arf_dry": 2, "krf": 4, "iline": 1, "cvd": 14, "pvd": 3, "ald": 7,
        "dry_etch": 22, "wet_clean": 6, "cmp": 4, "implant": 2, "track": 4, "process_control": 7,
    },
    "mature": {
        "euv": 0, "arfi": 10, "arf_dry": 5, "krf": 8, "iline": 4, "cvd": 12, "pvd": 5, "ald": 3,
        "dry_etch": 20, "wet_clean": 7, "cmp": 5, "implant": 5, "track": 5, "process_control": 11,
    },
    "compound": {
        "euv": 0, "arfi": 0, "arf_dry": 0, "krf": 5, "iline": 20, "cvd": 15, "pvd": 10, "ald": 0,
        "dry_etch": 25, "wet_clean": 8, "cmp": 0, "implant": 5, "track": 5, "process_control": 7,
    },
}  # fmt: skip

# Category -> the HS code its links carry.
TOOL_HS_CODES: Final[Mapping[str, str]] = {
    "euv": "8486203950",
    "arfi": "8486203940",
    "arf_dry": "8486203930",
    "krf": "8486203920",
    "iline": "8486203910",
    "cvd": "84862021",
    "pvd": "84862022",
    "ald": "84862029",
    "dry_etch": "848620",
    "wet_clean": "848620",
    "cmp": "848620",
    "implant": "848620",
    "track": "848620",
    "process_control": "903141",
}

# ETO Chip Explorer provision.csv, share_provided (percent, 2025) of the firms modelled, in tenths of a percent.
# Shares of firms not modelled ("Various companies", small vendors) are left out; each fab splits a category over
# the suppliers that may sell to it in proportion to these numbers.
TOOL_MARKET_SHARES: Final[Mapping[str, Mapping[str, int]]] = {
    "euv": {"NL-EUV-1": 1000},  # N20 EUV lithography tools: ASML 100.0
    "arfi": {"NL-EUV-1": 993, "JP-LITHO-2": 7},  # N22 ArF immersion: ASML 99.3, JPN 0.7
    "arf_dry": {"NL-EUV-1": 944, "JP-LITHO-2": 56},  # N21 ArF dry: ASML 94.4, Nikon 5.6
    "krf": {"NL-EUV-1": 660, "JP-LITHO-1": 310, "JP-LITHO-2": 30},  # N105 KrF: ASML 66.0, Canon 31.0, Nikon 3.0
    # N106 i-line: Canon 53.7, ASML 31.2, SMEE 4.2, Nikon 3.3
    "iline": {"JP-LITHO-1": 537, "NL-EUV-1": 312, "CN-LITHO-1": 42, "JP-LITHO-2": 33},
    # N47 CVD: Applied 47.0, Lam 28.5, TEL 6.6, Piotech 5.2, ASM 3.4
    "cvd": {"US-DEP-1": 470, "US-ETCH-1": 285, "JP-TRACK-1": 66, "CN-CVD-1": 52, "NL-ALD-1": 34},
    "pvd": {"US-DEP-1": 824, "CN-DEP-1": 147},  # N42 PVD: Applied 82.4, NAURA 14.7
    # N41 ALD: ASM 54.5, TEL 15.5, Lam 10.5, Applied 3.9
    "ald": {"NL-ALD-1": 545, "JP-TRACK-1": 155, "US-ETCH-1": 105, "US-DEP-1": 39},
    # N48 dry etch and clean: Lam 41.2, TEL 22.6, Applied 16.8, AMEC 6.1, NAURA 5.8
    "dry_etch": {"US-ETCH-1": 412, "JP-TRACK-1": 226, "US-DEP-1": 168, "CN-ETCH-1": 61, "CN-DEP-1": 58},
    # N49 wet etch and clean: Screen 32.0, Lam 22.1, TEL 19.1, SEMES 5.5
    "wet_clean": {"JP-CLEAN-1": 320, "US-ETCH-1": 221, "JP-TRACK-1": 191, "KR-CLEAN-1": 55},
    "cmp": {"US-DEP-1": 488, "JP-CMP-1": 361, "CN-CMP-1": 123},  # N86 CMP: Applied 48.8, EBARA 36.1, Hwatsing 12.3
    "implant": {"US-DEP-1": 626, "US-IMPLANT-1": 220},  # N17 ion implanters: Applied 62.6, Axcelis 22.0
    "track": {"JP-TRACK-1": 926, "JP-CLEAN-1": 26},  # N32 resist processing: TEL 92.6, Screen 2.6
    # N60 process control: KLA 56.8, Applied 11.2, Lasertec 6.4, ASML 5.9, Nova 4.3
    "process_control": {"US-PC-1": 568, "US-DEP-1": 112, "JP-PC-1": 64, "NL-EUV-1": 59, "IL-PC-1": 43},
}

FABS: Final = (
    Fab("TW-FAB-1", 20_000_000_000, "leading"),
    Fab("KR-FAB-1", 12_000_000_000, "leading"),
    Fab("US-FAB-1", 9_000_000_000, "leading"),
    Fab("US-FAB-3", 3_000_000_000, "leading"),
    Fab("JP-FAB-1", 1_500_000_000, "leading"),
    Fab("KR-FAB-2", 6_000_000_000, "memory"),
    Fab("JP-FAB-2", 2_500_000_000, "mature"),
    Fab("TW-FAB-2", 1_200_000_000, "mature"),
    Fab("US-FAB-2", 1_000_000_000, "mature"),
    Fab("DE-FAB-1", 1_500_000_000, "mature"),
    Fab("SG-FAB-1", 800_000_000, "mature"),
    Fab("CN-FAB-1", 6_000_000_000, "mature"),
    Fab("CN-FAB-2", 3_000_000_000, "mature"),
    Fab("CN-FAB-3", 2_000_000_000, "mature"),
    Fab("US-RF-FAB-1", 150_000_000, "compound", silicon=False),
    Fab("TW-RF-FAB-1", 200_000_000, "compound", silicon=False),
)

# Who may sell to whom (assumptions, README): Chinese toolmakers, wafer and polysilicon makers sell only in China;
# US toolmakers do not ship to entity-listed Chinese fabs (licence required, presumption of denial); a captive
# Korean tool supplier sells only to Korean fabs.
CAPTIVE_SUPPLIER_COUNTRY: Final[Mapping[str, str]] = {"KR-CLEAN-1": "KR"}

# ETO N26 wafers (2019): Japan 56, Taiwan 16, Germany 14, South Korea 10, China 4 (the Japanese share split 34/22
# between two firms). A fab buys wafers for 12% of its tool budget, resists 1.5%, gases 2%, photomasks 1.5%.
WAFER_SHARES: Final[Mapping[str, int]] = {
    "JP-WAFER-1": 34, "JP-WAFER-2": 22, "TW-WAFER-1": 16, "DE-WAFER-1": 14, "KR-WAFER-1": 10, "CN-WAFER-1": 4,
}  # fmt: skip
# Photoresists: Japanese firms dominate (ETO N31 lists JSR, Fujifilm, ... without shares): assumed 60/40.
RESIST_SHARES: Final[Mapping[str, int]] = {"JP-RESIST-1": 60, "JP-RESIST-2": 40}
GAS_SHARES: Final[Mapping[str, int]] = {"US-GAS-1": 50, "FR-GAS-1": 50}
# ETO N33 photomasks (2019): Japan 53, United States 40 (Taiwan's 7 is captive).
MASK_SHARES: Final[Mapping[str, int]] = {"JP-MASK-1": 53, "US-MASK-1": 40}
FAB_MATERIALS: Final = (
    # (HS code, permille of the tool budget, supplier shares)
    ("381800", 120, WAFER_SHARES),
    ("370790", 15, RESIST_SHARES),
    ("281290", 20, GAS_SHARES),
    ("370500", 15, MASK_SHARES),
)

# Test (9030.82; ETO N120 test tools 2025: Advantest 62.7, Teradyne 21.8) and dicing (8486.40; ETO N71: Disco 87.0)
# for ATP houses and integrated device makers: yearly test-equipment budget in USD.
TEST_BUDGETS_USD: Final[Mapping[str, int]] = {
    "TW-ATP-1": 600_000_000,
    "TW-ATP-2": 200_000_000,
    "MY-ATP-1": 150_000_000,
    "MY-ATP-2": 100_000_000,
    "MY-ATP-3": 20_000_000,
    "VN-ATP-1": 120_000_000,
    "CN-ATP-1": 300_000_000,
    "KR-FAB-1": 400_000_000,
    "KR-FAB-2": 300_000_000,
    "US-FAB-1": 250_000_000,
    "TW-FAB-1": 300_000_000,
}
TEST_SHARES: Final[Mapping[str, int]] = {"JP-TEST-1": 627, "US-TEST-1": 218}
DICING_PERMILLE_OF_TEST: Final = 150

# Polysilicon (2804.61) bought by each wafer maker: (supplier, percent); poly is 20% of the wafer maker's sales.
POLYSILICON_SOURCES_PCT: Final[Mapping[str, Mapping[str, int]]] = {
    "JP-WAFER-1": {"JP-POLY-1": 40, "DE-POLY-1": 35, "US-POLY-1": 25},
    "JP-WAFER-2": {"JP-POLY-1": 50, "DE-POLY-1": 50},
    "TW-WAFER-1": {"DE-POLY-1": 50, "US-POLY-1": 30, "JP-POLY-1": 20},
    "DE-WAFER-1": {"DE-POLY-1": 80, "US-POLY-1": 20},
    "KR-WAFER-1": {"DE-POLY-1": 60, "US-POLY-1": 40},
    "CN-WAFER-1": {"CN-POLY-2": 70, "CN-POLY-1": 30},
}
POLYSILICON_PERMILLE_OF_WAFER_SALES: Final = 200

SEMICONDUCTOR_LINKS: Final = (
    # Silicon metal to polysilicon makers.
    Link("NO-SIMETAL-1", "DE-POLY-1", "280469", 120_000_000),
    Link("NO-SIMETAL-1", "US-POLY-1", "280469", 60_000_000),
    Link("NO-SIMETAL-1", "JP-POLY-1", "280469", 50_000_000),
    Link("CN-SIMETAL-1", "CN-POLY-1", "280469", 900_000_000),
    Link("CN-SIMETAL-1", "CN-POLY-2", "280469", 400_000_000),
    # The EUV tool's own single-source inputs: optics and the light source (parts of photolithography equipment).
    Link("DE-OPTICS-1", "NL-EUV-1", "8486909910", 2_500_000_000),
    Link("US-LIGHT-1", "NL-EUV-1", "8486909910", 1_200_000_000),
    # Cycles: fabs sell chips to the toolmakers they buy from (tool controllers, memory).
    Link("KR-FAB-1", "NL-EUV-1", "854232", 30_000_000),
    Link("US-FAB-1", "US-DEP-1", "854231", 40_000_000),
    # Package substrates (8534) to ATP houses and the foundry's in-house advanced packaging.
    Link("JP-SUBSTRATE-1", "TW-FAB-1", "853400", 1_200_000_000),
    Link("JP-SUBSTRATE-1", "TW-ATP-1", "853400", 800_000_000),
    Link("JP-SUBSTRATE-1", "VN-ATP-1", "853400", 300_000_000),
    Link("JP-SUBSTRATE-1", "MY-ATP-1", "853400", 200_000_000),
    Link("TW-SUBSTRATE-1", "TW-ATP-2", "853400", 400_000_000),
    Link("TW-SUBSTRATE-1", "CN-ATP-1", "853400", 500_000_000),
    Link("TW-SUBSTRATE-1", "MY-ATP-2", "853400", 200_000_000),
    # Fabs to ATP houses (ETO S3 ATP capacity 2022: China 30, Taiwan 28, other 20, Korea 9, Japan 6, Europe 3,
    # US 3): processors/logic 8542.31, memories 8542.32, other ICs (analog, MCUs) 8542.39.
    Link("TW-FAB-1", "TW-ATP-1", "854231", 9_000_000_000),
    Link("TW-FAB-1", "TW-ATP-2", "854231", 3_000_000_000),
    Link("TW-FAB-1", "MY-ATP-1", "854231", 2_000_000_000),
    Link("TW-FAB-1", "CN-ATP-1", "854231", 1_200_000_000),
    Link("US-FAB-3", "TW-ATP-1", "854231", 1_500_000_000),
    Link("JP-FAB-1", "TW-ATP-1", "854231", 100_000_000),
    Link("TW-FAB-2", "TW-ATP-2", "854239", 1_800_000_000),
    Link("TW-FAB-2", "MY-ATP-2", "854239", 900_000_000),
    Link("TW-FAB-2", "CN-ATP-1", "854239", 700_000_000),
    Link("SG-FAB-1", "MY-ATP-2", "854239", 600_000_000),
    Link("US-FAB-2", "MY-ATP-2", "854239", 700_000_000),
    Link("CN-FAB-1", "CN-ATP-1", "854231", 3_000_000_000),
    Link("CN-FAB-1", "CN-ATP-1", "854239", 1_500_000_000),
    Link("CN-FAB-2", "CN-ATP-1", "854232", 2_000_000_000),
    Link("CN-FAB-3", "CN-ATP-1", "854239", 800_000_000),
    # A Malaysian contract packager working only on dies diffused in China: ICs take the country of diffusion as
    # origin (US customs practice), so its sales are Chinese-origin goods shipped from Malaysia.
    Link("CN-FAB-3", "MY-ATP-3", "854239", 500_000_000),
    Link("MY-ATP-3", "US-TIER1-1", "854239", 300_000_000, origin_country="CN", route="CN>MY>US"),
    Link("MY-ATP-3", "DE-TIER1-1", "854239", 150_000_000, origin_country="CN", route="CN>MY>DE"),
    Link("DE-FAB-1", "MY-ATP-1", "854239", 1_200_000_000),
    Link("JP-FAB-2", "TW-ATP-2", "854232", 800_000_000),
    # The US integrated device maker's own assembly sites in Vietnam and Malaysia (toll packaging: 2-cycles).
    Link("US-FAB-1", "VN-ATP-1", "854231", 4_000_000_000),
    Link("US-FAB-1", "MY-ATP-1", "854231", 2_500_000_000),
    Link("VN-ATP-1", "US-FAB-1", "854231", 3_600_000_000),
    Link("MY-ATP-1", "US-FAB-1", "854231", 2_300_000_000),
    # Memory: HBM to the foundry's advanced packaging; DRAM/NAND to device assemblers.
    Link("KR-FAB-2", "TW-FAB-1", "854232", 5_000_000_000),
    Link("KR-FAB-2", "MX-ODM-1", "854232", 1_500_000_000),
    Link("KR-FAB-2", "CN-ODM-1", "854232", 2_000_000_000),
    Link("KR-FAB-1", "VN-ODM-1", "854232", 5_000_000_000),
    Link("KR-FAB-1", "CN-ODM-1", "854232", 3_000_000_000),
    Link("KR-FAB-1", "TW-ODM-1", "854232", 4_000_000_000),
    Link("KR-FAB-1", "US-PHONE-1", "854232", 2_000_000_000),
    Link("JP-FAB-2", "CN-ODM-1", "854232", 1_500_000_000),
    # Packaged chips to fabless designers, ODMs and automotive tier-1s.
    Link("TW-FAB-1", "US-FABLESS-1", "854231", 14_000_000_000),
    Link("TW-ATP-1", "US-FABLESS-1", "854231", 1_500_000_000),
    Link("TW-ATP-1", "US-FABLESS-2", "854231", 5_000_000_000),
    Link("TW-ATP-1", "US-FABLESS-3", "854231", 3_000_000_000),
    Link("TW-ATP-1", "TW-ODM-1", "854231", 1_000_000_000),
    Link("TW-ATP-2", "US-FABLESS-2", "854231", 2_000_000_000),
    Link("TW-ATP-2", "DE-TIER1-1", "854239", 800_000_000),
    Link("TW-ATP-2", "CN-ODM-1", "854232", 600_000_000),
    Link("MY-ATP-1", "US-FABLESS-3", "854231", 1_500_000_000),
    Link("MY-ATP-1", "DE-TIER1-1", "854239", 1_100_000_000),
    Link("MY-ATP-2", "US-TIER1-1", "854239", 900_000_000),
    Link("MY-ATP-2", "DE-TIER1-1", "854239", 600_000_000),
    Link("VN-ATP-1", "MX-ODM-1", "854231", 300_000_000),
    Link("CN-ATP-1", "CN-ODM-1", "854231", 2_500_000_000),
    Link("CN-ATP-1", "CN-ODM-1", "854239", 1_800_000_000),
    Link("CN-ATP-1", "CN-ODM-1", "854232", 1_800_000_000),
    Link("CN-ATP-1", "US-FABLESS-2", "854231", 800_000_000),
    Link("CN-ATP-1", "VN-ODM-1", "854239", 400_000_000),
    Link("US-FAB-1", "TW-ODM-1", "854231", 3_000_000_000),
    Link("US-FAB-1", "US-DEF-1", "854231", 300_000_000),
    Link("US-FAB-2", "US-DEF-1", "854239", 200_000_000),
    Link("DE-FAB-1", "DE-TIER1-1", "854239", 1_500_000_000),
    Link("US-FABLESS-1", "TW-ODM-1", "854231", 12_000_000_000),
    Link("US-FABLESS-1", "MX-ODM-1", "854231", 3_000_000_000),
    Link("US-FABLESS-2", "CN-ODM-1", "854231", 4_000_000_000),
    Link("US-FABLESS-2", "VN-ODM-1", "854231", 1_500_000_000),
    Link("US-FABLESS-2", "IN-ODM-1", "854231", 800_000_000),
    Link("US-FABLESS-2", "DE-TIER1-1", "854231", 300_000_000),
    Link("US-FABLESS-3", "TW-ODM-1", "854231", 4_000_000_000),
    Link("US-FABLESS-3", "MX-ODM-1", "854231", 1_000_000_000),
    Link("US-FABLESS-3", "SE-TELCO-1", "854231", 200_000_000),
    Link("US-FABLESS-3", "US-TELCO-1", "854231", 300_000_000),
    # Buy-sell: the phone brand buys chips and resells them to its assemblers, which sell it phones (2-cycles).
    Link("US-PHONE-1", "CN-ODM-1", "854233", 800_000_000),
    Link("US-PHONE-1", "CN-ODM-1", "854232", 1_500_000_000),
    Link("US-PHONE-1", "VN-ODM-1", "854233", 200_000_000),
    Link("US-PHONE-1", "IN-ODM-1", "854232", 500_000_000),
    # Devices: smartphones 8517.13, laptops 8471.30, servers 8471.50, network gear 8517.62, ECUs 8537.10.
    Link("CN-ODM-1", "US-PHONE-1", "851713", 40_000_000_000),
    Link("CN-ODM-1", "US-OEM-PC-1", "847130", 8_000_000_000),
    Link("VN-ODM-1", "US-PHONE-1", "851713", 6_000_000_000),
    Link("VN-ODM-1", "US-OEM-PC-1", "847130", 1_000_000_000),
    Link("IN-ODM-1", "US-PHONE-1", "851713", 5_000_000_000),
    Link("TW-ODM-1", "US-CLOUD-1", "847150", 25_000_000_000),
    Link("TW-ODM-1", "US-OEM-PC-1", "847150", 3_000_000_000),
    Link("MX-ODM-1", "US-CLOUD-1", "847150", 8_000_000_000),
    Link("US-TELCO-1", "US-CLOUD-1", "851762", 2_000_000_000),
    Link("SE-TELCO-1", "US-CLOUD-1", "851762", 500_000_000),
    Link("DE-TIER1-1", "DE-AUTO-1", "853710", 800_000_000),
    Link("DE-TIER1-1", "US-AUTO-2", "853710", 200_000_000),
    Link("US-TIER1-1", "US-AUTO-2", "853710", 300_000_000),
    Link("US-TIER1-1", "US-AUTO-1", "853710", 150_000_000),
)

# ---------------------------------------------------------------------------------------------------------------
# Solar: polysilicon from a UFLPA-listed Xinjiang producer, wafers made in China, cells and modules assembled in
# Southeast Asia for the US market (the pattern behind the 2023 US anti-circumvention findings).
# ---------------------------------------------------------------------------------------------------------------
SOLAR_COMPANIES: Final = (
    Company("CN-SOLAR-WAFER-1", "Loess Plateau Solar Wafers Co., Ltd.", "CN"),
    Company("TH-SOLAR-1", "Rayong Photovoltaic Co., Ltd.", "TH"),
    Company("VN-SOLAR-1", "Bac Giang Solar Manufacturing Co., Ltd.", "VN"),
    Company("MY-SOLAR-1", "Kedah Solar Cells Sdn. Bhd.", "MY"),
    Company("US-SOLAR-MOD-1", "Piedmont Module Assembly Inc.", "US"),
    Company("US-SOLAR-DEV-1", "Sun Belt Solar Developers LLC", "US"),
)

SOLAR_LINKS: Final = (
    Link("CN-POLY-1", "CN-SOLAR-WAFER-1", "280461", 1_500_000_000),
    Link("CN-POLY-2", "CN-SOLAR-WAFER-1", "280461", 600_000_000),
    Link("CN-SOLAR-WAFER-1", "TH-SOLAR-1", "381800", 500_000_000),
    Link("CN-SOLAR-WAFER-1", "VN-SOLAR-1", "381800", 400_000_000),
    Link("CN-SOLAR-WAFER-1", "MY-SOLAR-1", "381800", 300_000_000),
    Link("TH-SOLAR-1", "US-SOLAR-DEV-1", "854143", 900_000_000),
    Link("VN-SOLAR-1", "US-SOLAR-DEV-1", "854143", 700_000_000),
    Link("MY-SOLAR-1", "US-SOLAR-MOD-1", "854142", 400_000_000),
    Link("US-SOLAR-MOD-1", "US-SOLAR-DEV-1", "854143", 600_000_000),
    Link("US-POLY-1", "US-SOLAR-SPACE-1", "280461", 3_000_000),
)

ALL_COMPANY_TABLES: Final = (
    RARE_EARTH_COMPANIES,
    MAGNET_COMPANIES,
    GALLIUM_COMPANIES,
    GERMANIUM_COMPANIES,
    ANTIMONY_COMPANIES,
    GRAPHITE_COMPANIES,
    TUNGSTEN_COMPANIES,
    SEMICONDUCTOR_COMPANIES,
    SOLAR_COMPANIES,
)
EXPLICIT_LINK_TABLES: Final = (
    RARE_EARTH_LINKS,
    MAGNET_LINKS,
    GALLIUM_LINKS,
    GERMANIUM_LINKS,
    ANTIMONY_LINKS,
    GRAPHITE_LINKS,
    TUNGSTEN_LINKS,
    SEMICONDUCTOR_LINKS,
    SOLAR_LINKS,
)


def split_by_shares(total_usd: int, shares: Mapping[str, int]) -> dict[str, int]:
    """Split `total_usd` over suppliers in proportion to integer `shares`, rounded down to thousands of USD.

    Example: split_by_shares(1_000_000, {"A": 3, "B": 1}) == {"A": 750_000, "B": 250_000}.
    """
    denominator = sum(shares.values())
    return {supplier: total_usd * share // denominator // 1000 * 1000 for supplier, share in shares.items()}


def may_supply(supplier: Company, buyer: Company) -> bool:
    """Whether a fab-tool or fab-material `supplier` sells to `buyer` in this graph (README "Assumptions")."""
    if supplier.country == "CN" and buyer.country != "CN":
        return False
    if supplier.country == "US" and ENTITY in buyer.lists.split(";"):
        return False
    captive_country = CAPTIVE_SUPPLIER_COUNTRY.get(supplier.company_id)
    return captive_country is None or captive_country == buyer.country


def sum_link_values(links: Iterable[Link]) -> list[Link]:
    """Merge links with the same (supplier, buyer, HS code) by adding their values; drop zero-value links."""
    totals: dict[tuple[str, str, str], int] = {}
    for link in links:
        key = (link.supplier_id, link.buyer_id, link.hs_code)
        totals[key] = totals.get(key, 0) + link.annual_value_usd
    return [Link(supplier, buyer, hs, value) for (supplier, buyer, hs), value in totals.items() if value > 0]


def build_fab_supply_links(companies: Mapping[str, Company]) -> list[Link]:
    """Tools, wafers and materials bought by each fab, split by the market shares above."""
    links: list[Link] = []
    for fab in FABS:
        buyer = companies[fab.fab_id]
        for category, pct in TOOL_MIX_PCT[fab.mix].items():
            eligible = {
                supplier: share
                for supplier, share in TOOL_MARKET_SHARES[category].items()
                if may_supply(companies[supplier], buyer)
            }
            if pct == 0 or not eligible:
                continue
            category_usd = fab.tool_budget_usd * pct // 100
            hs_code = TOOL_HS_CODES[category]
            links.extend(
                Link(supplier, fab.fab_id, hs_code, value)
                for supplier, value in split_by_shares(category_usd, eligible).items()
            )
        if not fab.silicon:
            continue
        for hs_code, permille, shares in FAB_MATERIALS:
            eligible = {s: share for s, share in shares.items() if may_supply(companies[s], buyer)}
            material_usd = fab.tool_budget_usd * permille // 1000
            links.extend(
                Link(supplier, fab.fab_id, hs_code, value)
                for supplier, value in split_by_shares(material_usd, eligible).items()
            )
    return sum_link_values(links)


def build_test_equipment_links() -> list[Link]:
    """Test equipment (9030.82) and dicing saws (8486.40) bought by ATP houses and device makers."""
    links: list[Link] = []
    for buyer_id, budget_usd in TEST_BUDGETS_USD.items():
        links.extend(
            Link(supplier, buyer_id, "903082", value)
            for supplier, value in split_by_shares(budget_usd, TEST_SHARES).items()
        )
        if "-ATP-" in buyer_id:
            links.append(Link("JP-DICING-1", buyer_id, "848640", budget_usd * DICING_PERMILLE_OF_TEST // 1000))
    return links


def build_polysilicon_links(fab_supply_links: Sequence[Link]) -> list[Link]:
    """Polysilicon (2804.61) bought by each wafer maker, sized on its wafer sales to the fabs."""
    wafer_sales: dict[str, int] = {}
    for link in fab_supply_links:
        if link.hs_code == "381800":
            wafer_sales[link.supplier_id] = wafer_sales.get(link.supplier_id, 0) + link.annual_value_usd
    links: list[Link] = []
    for wafer_maker, sources in POLYSILICON_SOURCES_PCT.items():
        poly_usd = wafer_sales[wafer_maker] * POLYSILICON_PERMILLE_OF_WAFER_SALES // 1000
        links.extend(
            Link(supplier, wafer_maker, "280461", value)
            for supplier, value in split_by_shares(poly_usd, sources).items()
        )
    return links


def build_companies() -> list[Company]:
    """Every company, in table order."""
    return [company for table in ALL_COMPANY_TABLES for company in table]


def build_links(companies: Sequence[Company]) -> list[Link]:
    """Every link: the explicit tables, then the links derived from the market-share tables."""
    by_id = {company.company_id: company for company in companies}
    fab_supply = build_fab_supply_links(by_id)
    explicit = [link for table in EXPLICIT_LINK_TABLES for link in table]
    return [*explicit, *fab_supply, *build_polysilicon_links(fab_supply), *build_test_equipment_links()]


def is_country_code(code: str) -> bool:
    """An upper-case ISO 3166-1 alpha-2 code."""
    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


def check_graph(companies: Sequence[Company], links: Sequence[Link]) -> None:
    """Raise ValueError on the first breach of docs/data-format.md."""
    ids: set[str] = set()
    for company in companies:
        if not _ID_PATTERN.match(company.company_id) or company.company_id in ids:
            msg = f"company_id {company.company_id!r}: must be unique and match {_ID_PATTERN.pattern}"
            raise ValueError(msg)
        ids.add(company.company_id)
        if not company.name.strip() or len(company.name) > 512:
            msg = f"company {company.company_id}: name must be non-blank, at most 512 characters"
            raise ValueError(msg)
        if not is_country_code(company.country):
            msg = f"company {company.company_id}: country must be ISO alpha-2, got {company.country!r}"
            raise ValueError(msg)
        if company.lists and not all(_LIST_PATTERN.match(code) for code in company.lists.split(";")):
            msg = f"company {company.company_id}: bad list code in {company.lists!r}"
            raise ValueError(msg)
    keys: set[tuple[str, str, str]] = set()
    for link in links:
        key = (link.supplier_id, link.buyer_id, link.hs_code)
        problems = [
            (link.supplier_id not in ids or link.buyer_id not in ids, "an endpoint is not a company"),
            (link.supplier_id == link.buyer_id, "self link"),
            (key in keys, "duplicate (supplier_id, buyer_id, hs_code)"),
            (not _HS_PATTERN.match(link.hs_code), "hs_code must be 4-10 digits"),
            (link.annual_value_usd < 0, "annual_value_usd must be >= 0"),
            (bool(link.origin_country) and not is_country_code(link.origin_country), "bad origin_country"),
            (bool(link.route) and not all(is_country_code(c) for c in link.route.split(">")), "bad route"),
            (bool(link.tags) and not all(_TAG_PATTERN.match(t) for t in link.tags.split(";")), "bad tags"),
        ]
        for failed, problem in problems:
            if failed:
                msg = f"link {key}: {problem}"
                raise ValueError(msg)
        keys.add(key)


def render_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV text with `\\n` line endings and minimal quoting."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def render_companies_csv(companies: Iterable[Company]) -> str:
    """companies.csv text."""
    return render_csv(COMPANY_COLUMNS, (astuple(company) for company in companies))


def render_links_csv(links: Iterable[Link]) -> str:
    """links.csv text."""
    return render_csv(LINK_COLUMNS, (astuple(link) for link in links))


def write_graph(directory: Path = DEFAULT_DIR) -> tuple[Path, Path]:
    """Check the graph and write companies.csv and links.csv (UTF-8) into `directory`."""
    companies = build_companies()
    links = build_links(companies)
    check_graph(companies, links)
    directory.mkdir(parents=True, exist_ok=True)
    companies_path = directory / "companies.csv"
    links_path = directory / "links.csv"
    companies_path.write_bytes(render_companies_csv(companies).encode("utf-8"))
    links_path.write_bytes(render_links_csv(links).encode("utf-8"))
    return companies_path, links_path


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m graphs.default_graph [--output-dir DIR]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_DIR, help="where to write the two CSV files")
    args = parser.parse_args(argv)
    companies_path, links_path = write_graph(args.output_dir)
    print(f"wrote {companies_path} and {links_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
