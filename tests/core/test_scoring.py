"""Scoring: the worked example of docs/scoring.md by hand, and the vectorised engine against a slow reference.

The reference model below is plain Python over a list of links: shares by dict, the fixed point by iterating
E_b = sum_e w_e [x_e + k_e E_s] from E = 0 until no company moves by 1e-13. Per-link hazards and duties come from
`evaluate_shipment` (the one-shipment rules that `link_policy` vectorises); tags, origin and transshipment are
derived again here from the raw rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from server.config import DEFAULT_SEED_GRAPH
from server.core.breakdowns import Breakdown
from server.core.chokepoints import find_chokepoints
from server.core.evaluation import Shipment, evaluate_shipment
from server.core.explain import Component, top_paths
from server.core.graph import Graph, build_graph
from server.core.link_policy import evaluate_links
from server.core.lookthrough import origin_shares
from server.core.policy import (
    DEFAULT_SEVERITY_WEIGHTS,
    ControlAuthority,
    ExportControl,
    Period,
    PolicySet,
    Scenario,
    ScoringParameters,
    Severity,
    TariffAuthority,
    TariffMeasure,
    Validity,
)
from server.core.propagation import DIRECT_SOLVE_LIMIT, MAX_TIERS, TOLERANCE, input_shares, propagate
from server.core.queries import require_company
from server.core.scores import DAMPING_BY_TAG, Scores, score_graph
from server.core.seeding import open_policy_store, open_store
from server.core.validation import RowSource, validate_companies, validate_links
from tests.core.signatures import link_signatures

DAY = date(2025, 6, 1)
DAY_2026 = date(2026, 3, 16)  # the Section 122 surcharge and the rare-earth suspension both in force
SINCE_2020 = Validity(date(2020, 1, 1))
TAXONOMY = pl.DataFrame(
    {
        "hs_prefix": ["2846", "8505", "3818", "8486", "8486", "8542"],
        "tag": ["rare_earth", "magnet", "wafer", "semiconductor_equipment", "lithography", "semiconductor"],
        "description": [""] * 6,
        "source": [""] * 6,
    }
)
RAW_LINK_SCHEMA = {
    "supplier_id": pl.String,
    "buyer_id": pl.String,
    "hs_code": pl.String,
    "annual_value_usd": pl.Float64,
    "origin_country": pl.String,
    "route": pl.String,
    "tags": pl.String,
}
# The engine stops once a tier adds at most TOLERANCE; what the remaining tiers would add is of that order.
EXACT = {"rel": 1e-8, "abs": 10 * TOLERANCE}
# On random graphs with slowly draining cycles the tiers left out after one below TOLERANCE add up to more.
NEAR = {"rel": 1e-8, "abs": 1e-8}
REFERENCE_SWEEPS = 5_000  # beyond this the reference gives up: a cycle drains too slowly (or never) to compare


def graph_of(companies: Mapping[str, tuple[str, str | None]], links: Sequence[Mapping[str, object]]) -> Graph:
    """A validated graph from {company_id: (country, lists)} and raw link rows (file-style strings)."""
    company_table = validate_companies(
        pl.DataFrame(
            {
                "company_id": list(companies),
                "name": list(companies),
                "country": [country for country, _ in companies.values()],
                "lists": [lists for _, lists in companies.values()],
            },
            schema={"company_id": pl.String, "name": pl.String, "country": pl.String, "lists": pl.String},
        ),
        source=RowSource("companies"),
    )
    link_table = validate_links(
        pl.DataFrame(list(links), schema=RAW_LINK_SCHEMA),
        source=RowSource("links"),
        company_ids=company_table["company_id"],
    )
    return build_graph(company_table, link_table, version=1, taxonomy=TAXONOMY)


def policy_of(
    tariffs: Sequence[TariffMeasure] = (),
    controls: Sequence[ExportControl] = (),
    parameters: ScoringParameters | None = None,
) -> PolicySet:
    return PolicySet(
        Scenario("test", ""),
        {measure.measure_id: measure for measure in tariffs},
        {control.measure_id: control for control in controls},
        parameters or ScoringParameters(),
    )


def control(
    measure_id: str,
    country: str,
    severity: Severity,
    *,
    tags: frozenset[str] = frozenset(),
    prefixes: tuple[str, ...] = (),
    destinations: frozenset[str] = frozenset(),
) -> ExportControl:
    return ExportControl(
        measure_id,
        measure_id,
        ControlAuthority.OTHER,
        country,
        prefixes,
        tags,
        destinations,
        frozenset(),
        severity,
        SINCE_2020,
        "test",
    )


def tariff(
    measure_id: str, program: str, importer: str, lines: dict[str, float], *, origins: frozenset[str] = frozenset()
) -> TariffMeasure:
    return TariffMeasure(
        measure_id, measure_id, TariffAuthority.OTHER, program, importer, origins, lines, SINCE_2020, "test"
    )


def by_company(scores: Scores, column: str) -> dict[str, float]:
    return dict(zip(scores.companies["company_id"], scores.companies[column].to_list(), strict=True))


def breakdown(scores: Scores, split: Breakdown) -> dict[tuple[str, str], float]:
    """A breakdown's positive values as {(company_id, key): disruption}."""
    ids = scores.companies["company_id"].to_list()
    return {(ids[idx], key): value for idx in breakdown_idx(split) for key, value in split.of(idx)}


def assert_same_breakdown(got: Breakdown, expected: Breakdown) -> None:
    assert got.keys == expected.keys
    np.testing.assert_array_equal(got.rows, expected.rows)
    np.testing.assert_array_equal(got.codes, expected.codes)
    np.testing.assert_allclose(got.values, expected.values, rtol=1e-12, atol=1e-15)


def breakdown_idx(split: Breakdown) -> list[int]:
    """The companies with a value in a breakdown, from its row pointers."""
    return np.flatnonzero(np.diff(split.rows)).tolist()


# --- The worked example of docs/scoring.md -----------------------------------------------------------------------

EXAMPLE_COMPANIES: dict[str, tuple[str, str | None]] = {
    "REO": ("CN", None),  # rare-earth oxide producer
    "JPM": ("JP", None),  # magnet and wafer maker
    "FAB": ("TW", None),  # chip fab
    "TOOL": ("NL", None),  # lithography toolmaker
    "OEM": ("US", None),  # equipment maker
}
EXAMPLE_LINKS = (  # supplier, buyer, HS code, US$ million a year
    ("REO", "JPM", "2846.90", 40),
    ("REO", "OEM", "2846.90", 20),
    ("JPM", "TOOL", "8505.11", 10),
    ("JPM", "FAB", "3818.00", 60),
    ("JPM", "OEM", "8505.11", 30),
    ("TOOL", "FAB", "8486.20", 40),
    ("FAB", "TOOL", "8542.31", 30),
    ("FAB", "OEM", "8542.31", 50),
)
EXAMPLE_POLICY = policy_of(
    tariffs=[
        tariff("US-MFN", "US-MFN", "US", {"": 0.0, "8505": 0.02}),
        tariff("US-301", "US-301", "US", {"": 0.25}, origins=frozenset({"CN"})),
        tariff("US-RECIPROCAL", "US-IEEPA", "US", {"": 0.10, "8542": 0.0}),
        tariff("JP-MFN", "JP-MFN", "JP", {"2846": 0.05}),
    ],
    controls=[
        control("CN-RE-LICENCE", "CN", Severity.LICENCE_REQUIRED, tags=frozenset({"rare_earth"})),
        control("CN-RE-US-BAN", "CN", Severity.BAN, tags=frozenset({"rare_earth"}), destinations=frozenset({"US"})),
        control("NL-LITHO", "NL", Severity.LICENCE_REQUIRED, tags=frozenset({"lithography"})),
    ],
)


@pytest.fixture(scope="module")
def example_graph() -> Graph:
    links = [
        {"supplier_id": s, "buyer_id": b, "hs_code": hs, "annual_value_usd": value * 1e6}
        for s, b, hs, value in EXAMPLE_LINKS
    ]
    return graph_of(EXAMPLE_COMPANIES, links)


@pytest.fixture(scope="module")
def example(example_graph: Graph) -> Scores:
    return score_graph(example_graph, EXAMPLE_POLICY, on=DAY)


def test_worked_example_links_get_shares_hazards_damping_and_stacked_duties(
    example_graph: Graph, example: Scores
) -> None:
    pairs = [
        f"{s}>{b}"
        for s, b in example_graph.with_company_ids(example_graph.links).select("supplier_id", "buyer_id").iter_rows()
    ]
    rows = dict(zip(pairs, (example.links.row(row) for row in range(example_graph.link_count)), strict=True))
    expected = {  # pair: w, hazard, damping, rate, strongest control, tariff measures
        "REO>JPM": (1.0, 0.4, 0.9, 0.05, "CN-RE-LICENCE", ["JP-MFN"]),
        "REO>OEM": (0.2, 1.0, 0.9, 0.35, "CN-RE-US-BAN", ["US-301", "US-MFN", "US-RECIPROCAL"]),
        "JPM>TOOL": (0.25, 0.0, 0.8, 0.0, None, []),
        "JPM>FAB": (0.6, 0.0, 0.8, 0.0, None, []),
        "JPM>OEM": (0.3, 0.0, 0.8, 0.12, None, ["US-MFN", "US-RECIPROCAL"]),
        "TOOL>FAB": (0.4, 0.4, 0.5, 0.0, "NL-LITHO", []),
        "FAB>TOOL": (0.75, 0.0, 0.8, 0.0, None, []),
        "FAB>OEM": (0.5, 0.0, 0.8, 0.0, None, ["US-MFN", "US-RECIPROCAL"]),
    }
    assert set(rows) == set(expected)
    for pair, (w, hazard, damping, rate, control_id, tariff_ids) in expected.items():
        row = rows[pair]
        assert (row["w"], row["hazard"], row["damping"]) == pytest.approx((w, hazard, damping), **EXACT), pair
        assert row["tariff_rate"] == pytest.approx(rate, **EXACT), pair
        assert (row["control_id"], row["tariff_ids"]) == (control_id, tariff_ids), pair


def test_worked_example_disruption_splits_into_tiers_as_computed_by_hand(example: Scores) -> None:
    # X_FAB = 0.352 + 0.12 X_TOOL, X_TOOL = 0.08 + 0.6 X_FAB  =>  X_FAB = 0.3616 / 0.928 = 113/290
    expected = {  # company: X, tier 1 (d), tier 2 (M d), tiers 3+
        "REO": (0.0, 0.0, 0.0, 0.0),
        "JPM": (0.4, 0.4, 0.0, 0.0),
        "FAB": (113 / 290, 0.16, 0.192, 113 / 290 - 0.352),
        "TOOL": (91 / 290, 0.0, 0.176, 91 / 290 - 0.176),
        "OEM": (0.296 + 0.4 * 113 / 290, 0.2, 0.16, 0.296 + 0.4 * 113 / 290 - 0.2 - 0.16),
    }
    columns = ("disruption", "disruption_tier1", "disruption_tier2", "disruption_tier3_plus")
    got = {column: by_company(example, column) for column in columns}
    for company, values in expected.items():
        assert tuple(got[column][company] for column in columns) == pytest.approx(values, **EXACT), company
    assert got["disruption"]["OEM"] == pytest.approx(0.451862069, abs=1e-9)


def test_worked_example_material_breakdown_counts_a_link_for_each_of_its_tags(example: Scores) -> None:
    # TOOL -> FAB carries both semiconductor_equipment and lithography, so the materials overlap and sum above X
    lithography = {"FAB": 5 / 29, "TOOL": 3 / 29, "OEM": 2 / 29}
    rare_earth = {"JPM": 0.4, "FAB": 63 / 290, "TOOL": 61 / 290, "OEM": 0.296 + 0.4 * 63 / 290}
    expected = {
        **{(company, "rare_earth"): value for company, value in rare_earth.items()},
        **{(company, "lithography"): value for company, value in lithography.items()},
        **{(company, "semiconductor_equipment"): value for company, value in lithography.items()},
    }
    got = breakdown(example, example.by_material)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, **EXACT), key


def test_worked_example_country_breakdown_splits_disruption_exactly(example: Scores) -> None:
    expected = {
        ("JPM", "CN"): 0.4,
        ("FAB", "CN"): 63 / 290,
        ("FAB", "NL"): 5 / 29,
        ("TOOL", "CN"): 61 / 290,
        ("TOOL", "NL"): 3 / 29,
        ("OEM", "CN"): 0.296 + 0.4 * 63 / 290,
        ("OEM", "NL"): 2 / 29,
    }
    got = breakdown(example, example.by_country)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, **EXACT), key
    disruption = by_company(example, "disruption")
    for company in ("JPM", "FAB", "TOOL", "OEM"):
        total = sum(value for (who, _), value in got.items() if who == company)
        assert total == pytest.approx(disruption[company], **EXACT)


def test_breakdowns_are_kept_in_four_bytes_a_company_and_nine_a_value(example: Scores) -> None:
    # A cached table holds two: at 1M companies 6.5M material values and 1.9M country values.
    for split in (example.by_material, example.by_country):
        assert split.rows.dtype == np.int32
        assert split.codes.dtype == np.uint8
        assert split.values.dtype == np.float64


def test_worked_example_tariff_cost_dollar_impact_score_and_level(example: Scores) -> None:
    expected = {  # company: C, tier 1, tier 2, tiers 3+, input spend, dollar impact, score, level
        "REO": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "low"),
        "JPM": (0.05, 0.05, 0.0, 0.0, 40e6, 2.0e6, 34.0, "medium"),
        "FAB": (0.05, 0.0, 0.03, 0.02, 100e6, 5.0e6, 33.28, "medium"),
        "TOOL": (0.05, 0.0, 0.0125, 0.0375, 40e6, 2.0e6, 27.97, "medium"),
        "OEM": (0.146, 0.106, 0.015, 0.025, 100e6, 14.6e6, 49.15, "high"),
    }
    columns = (
        "tariff_cost",
        "tariff_tier1",
        "tariff_tier2",
        "tariff_tier3_plus",
        "input_spend_usd",
        "tariff_impact_usd",
        "score",
    )
    got = {column: by_company(example, column) for column in (*columns, "level")}
    for company, (*numbers, level) in expected.items():
        assert tuple(got[column][company] for column in columns) == pytest.approx(numbers, **EXACT), company
        assert got["level"][company] == level


def test_worked_example_paths_sum_to_each_exposure(example_graph: Graph, example: Scores) -> None:
    """Every path up to 60 links: each FAB-TOOL round trip multiplies a path by 0.072 (disruption) or 0.3 (cost),
    so what longer paths carry is below 1e-15."""
    suppliers = example_graph.with_company_ids(example_graph.links)["supplier_id"].to_list()
    top = top_paths(
        example_graph,
        example,
        require_company(example_graph, "FAB", field="company_id"),
        component=Component.DISRUPTION,
        limit=5,
        max_depth=60,
    )
    assert [([suppliers[row] for row in path.rows], path.contribution) for path in top] == [
        (["JPM", "REO"], pytest.approx(0.192)),
        (["TOOL"], pytest.approx(0.16)),
        (["TOOL", "FAB", "JPM", "REO"], pytest.approx(0.013824)),
        (["TOOL", "FAB", "TOOL"], pytest.approx(0.01152)),
        (["TOOL", "JPM", "REO"], pytest.approx(0.0096)),
    ]
    by_hand = {  # company: X, C (Steps 2 and 4)
        "JPM": (0.4, 0.05),
        "FAB": (113 / 290, 0.05),
        "TOOL": (91 / 290, 0.05),
        "OEM": (0.296 + 0.4 * 113 / 290, 0.146),
    }
    for company, totals in by_hand.items():
        index = require_company(example_graph, company, field="company_id")
        sums = tuple(
            sum(
                path.contribution
                for path in top_paths(example_graph, example, index, component=component, limit=10_000, max_depth=60)
            )
            for component in (Component.DISRUPTION, Component.TARIFF)
        )
        assert sums == pytest.approx(totals, rel=0, abs=1e-12), company


def rare_earth_graph(companies: Mapping[str, str], links: Sequence[tuple[str, str, int]]) -> Graph:
    """Companies {id: country} trading rare-earth compounds (HS 2846.90), values in US$ million a year."""
    return graph_of(
        {company: (country, None) for company, country in companies.items()},
        [
            {"supplier_id": s, "buyer_id": b, "hs_code": "2846.90", "annual_value_usd": value * 1e6}
            for s, b, value in links
        ],
    )


def test_look_through_worked_example_of_the_doc() -> None:
    # B buys 71 from a Chinese miner and 29 from a Malaysian refiner that buys 30% Chinese, 70% Australian feed
    graph = rare_earth_graph(
        {"B": "US", "CNM": "CN", "MYR": "MY", "AUM": "AU"},
        [("CNM", "B", 71), ("MYR", "B", 29), ("CNM", "MYR", 3), ("AUM", "MYR", 7)],
    )
    shares = origin_shares(graph, require_company(graph, "B", field="company_id"), "rare_earth")
    assert shares.face_value == pytest.approx({"CN": 0.71, "MY": 0.29})
    assert shares.look_through == pytest.approx({"CN": 0.71 + 0.29 * 0.3, "AU": 0.29 * 0.7})
    assert shares.face_value_hhi == pytest.approx(0.71**2 + 0.29**2)  # 0.588
    assert shares.look_through_hhi == pytest.approx(0.797**2 + 0.203**2)  # 0.676
    assert shares.coverage == pytest.approx(1.0)


def test_chokepoints_worked_example_of_the_doc() -> None:
    # B buys 71 from a Chinese separator S (80% Chinese ore from M, 20% US ore from U) and 29 from a Malaysian
    # refiner R (30% from S, 70% Australian ore from A)
    graph = rare_earth_graph(
        {"B": "DE", "S": "CN", "R": "MY", "M": "CN", "U": "US", "A": "AU"},
        [("S", "B", 71), ("R", "B", 29), ("M", "S", 80), ("U", "S", 20), ("S", "R", 3), ("A", "R", 7)],
    )
    ids = graph.companies["company_id"].to_list()
    found = find_chokepoints(graph, require_company(graph, "B", field="company_id"), material="rare_earth")
    assert found.dominators == []  # B <- R <- A avoids S, B <- S <- M avoids R
    through_s = 0.71 + 0.29 * 0.3
    assert [(ids[node], share) for node, share in found.pass_through] == [
        ("S", pytest.approx(through_s)),  # 0.797
        ("M", pytest.approx(through_s * 0.8)),  # 0.6376
        ("R", pytest.approx(0.29)),
        ("A", pytest.approx(0.29 * 0.7)),  # 0.203
        ("U", pytest.approx(through_s * 0.2)),  # 0.1594
    ]
    assert found.countries == [
        ("CN", pytest.approx(1 - 0.203)),  # only A's flow arrives without S and M
        ("MY", pytest.approx(1 - 0.71)),
        ("AU", pytest.approx(1 - 0.797)),
        ("US", pytest.approx(1 - (0.6376 + 0.203))),
    ]
    origins = origin_shares(graph, require_company(graph, "B", field="company_id"), "rare_earth")
    assert origins.look_through == pytest.approx({"CN": through_s * 0.8, "AU": 0.203, "US": through_s * 0.2})


# --- Cycles, categories and a link's own tags -------------------------------------------------------------


def test_cost_circulating_in_a_slowly_draining_cycle_reaches_the_fixed_point() -> None:
    # A buys 10 from H (10% duty) and 90 from B; B buys everything from A. With pass-through 1:
    # C_A = 0.1 x 0.1 + 0.9 C_B, C_B = C_A  =>  C_A = C_B = 0.1. The series alone, cut after 64 tiers, would
    # still miss 0.9^32 = 3.4% of it: the engine solves for that remainder.
    graph = graph_of(
        {"H": ("CN", None), "A": ("JP", None), "B": ("KR", None)},
        [
            {"supplier_id": "H", "buyer_id": "A", "hs_code": "720299", "annual_value_usd": 10.0},
            {"supplier_id": "B", "buyer_id": "A", "hs_code": "720299", "annual_value_usd": 90.0},
            {"supplier_id": "A", "buyer_id": "B", "hs_code": "720299", "annual_value_usd": 100.0},
        ],
    )
    duty = tariff("JP-CN", "JP-CN", "JP", {"": 0.1}, origins=frozenset({"CN"}))
    scores = score_graph(graph, policy_of([duty]), on=DAY)
    assert by_company(scores, "tariff_cost") == pytest.approx({"H": 0.0, "A": 0.1, "B": 0.1}, **EXACT)
    assert by_company(scores, "tariff_tier1") == pytest.approx({"H": 0.0, "A": 0.01, "B": 0.0}, **EXACT)


def test_a_closed_loop_that_passes_on_everything_is_reported_as_not_converged() -> None:
    # A and B buy only from each other; a duty on one link circulates for ever with carry 1: no fixed point.
    graph = graph_of(
        {"A": ("JP", None), "B": ("KR", None)},
        [
            {"supplier_id": "B", "buyer_id": "A", "hs_code": "720299", "annual_value_usd": 1.0},
            {"supplier_id": "A", "buyer_id": "B", "hs_code": "720299", "annual_value_usd": 1.0},
        ],
    )
    shares = input_shares(graph)
    diverging = propagate(graph, np.array([0.1, 0.0]), np.ones(2), shares=shares)
    assert not diverging.converged
    assert diverging.tiers_used == MAX_TIERS
    draining = propagate(graph, np.array([0.1, 0.0]), np.full(2, 0.5), shares=shares)
    assert draining.converged
    # links sorted by buyer: the duty is on B -> A. C_A = 0.1 + 0.5 C_B, C_B = 0.5 C_A  =>  C_A = 0.1 / 0.75
    assert draining.total.tolist() == pytest.approx([0.1 / 0.75, 0.05 / 0.75], **EXACT)


# A ring A -> B -> C -> A in which A buys half from D; D and E buy only from each other (a closed loop).
RING_BUYING_FROM_A_LOOP = [
    {"supplier_id": "A", "buyer_id": "B", "hs_code": "720299", "annual_value_usd": 1.0},
    {"supplier_id": "B", "buyer_id": "C", "hs_code": "720299", "annual_value_usd": 1.0},
    {"supplier_id": "C", "buyer_id": "A", "hs_code": "720299", "annual_value_usd": 1.0},
    {"supplier_id": "D", "buyer_id": "A", "hs_code": "720299", "annual_value_usd": 1.0},
    {"supplier_id": "D", "buyer_id": "E", "hs_code": "720299", "annual_value_usd": 1.0},
    {"supplier_id": "E", "buyer_id": "D", "hs_code": "720299", "annual_value_usd": 1.0},
]


def test_a_closed_loop_receiving_a_duty_leaves_the_rest_of_the_graph_exact() -> None:
    # D and E buy only from each other and a duty reaches them: no fixed point there (not converged). The ring
    # A -> B -> C -> A (10% on A -> B) drains at A, which buys half from D: it gets its exact values with D's
    # cost held at the 64-tier cut, so G, which buys only from the ring, is exact too. Before, the whole
    # remainder was dropped: the ring kept only its series, 2^-32 short.
    graph = graph_of(
        dict.fromkeys("ABCDEG", ("JP", None)),
        [
            *RING_BUYING_FROM_A_LOOP,
            {"supplier_id": "C", "buyer_id": "G", "hs_code": "720299", "annual_value_usd": 1.0},
            # Worth nothing, so no link: the loop still passes on everything inside itself.
            {"supplier_id": "A", "buyer_id": "D", "hs_code": "720299", "annual_value_usd": 0.0},
        ],
    )
    ids = graph.companies["company_id"].to_list()
    pairs = zip(graph.supplier_array.tolist(), graph.buyer_array.tolist(), strict=True)
    link = {(ids[supplier], ids[buyer]): i for i, (supplier, buyer) in enumerate(pairs)}
    rate = np.zeros(graph.link_count)
    rate[link["A", "B"]] = 0.1
    rate[link["E", "D"]] = 1e-30  # all it takes: whatever enters D and E circulates for ever
    result = propagate(graph, rate, np.ones(graph.link_count), shares=input_shares(graph))
    assert not result.converged
    costs = dict(zip(ids, result.total.tolist(), strict=True))
    # C_B = 0.1 + C_A, C_C = C_B, C_A = (C_C + C_D) / 2, C_G = C_C; C_D is 64 x 1e-30 at most: nothing here.
    assert {c: costs[c] for c in "ABCG"} == pytest.approx({"A": 0.1, "B": 0.2, "C": 0.2, "G": 0.2}, **EXACT)
    assert costs["D"] < 1e-27


def test_a_ring_buying_from_a_closed_loop_that_carries_nothing_drains_through_it() -> None:
    # D and E buy only from each other and nothing reaches them: their cost is 0, so A's half bought from D leaks.
    # With pass-through 1 and 10% on A -> B: C_B = 0.1 + C_A, C_C = C_B, C_A = C_C / 2  =>  C_A = 0.1, C_B = C_C = 0.2.
    graph = graph_of(dict.fromkeys("ABCDE", ("JP", None)), RING_BUYING_FROM_A_LOOP)
    ids = graph.companies["company_id"]
    rate = np.where((graph.supplier_array == ids.index_of("A")) & (graph.buyer_array == ids.index_of("B")), 0.1, 0.0)
    result = propagate(graph, rate, np.ones(graph.link_count), shares=input_shares(graph))
    assert result.converged
    assert dict(zip(ids, result.total.tolist(), strict=True)) == pytest.approx(
        {"A": 0.1, "B": 0.2, "C": 0.2, "D": 0.0, "E": 0.0}, **EXACT
    )


def test_a_slowly_draining_ring_reaches_the_fixed_point() -> None:
    # Six companies in a ring, each buying everything from the previous one; only C0 -> C1 has a hazard (0.01).
    # With damping 1: X_C1 = 0.01 + 0.99 X_C0 and X_next = X_previous, so every X is 1. 64 tiers give about 0.1.
    graph = graph_of(
        {"C0": ("US", None)} | {f"C{i}": ("CN", None) for i in range(1, 6)},
        [
            {"supplier_id": f"C{i}", "buyer_id": f"C{(i + 1) % 6}", "hs_code": "720299", "annual_value_usd": 1.0}
            for i in range(6)
        ],
    )
    weights = {**DEFAULT_SEVERITY_WEIGHTS, Severity.GENERAL_LICENCE: 0.01}
    licence = control("US-GL", "US", Severity.GENERAL_LICENCE, prefixes=("72",))
    policy = policy_of(controls=[licence], parameters=ScoringParameters(severity_weights=weights))
    scores = score_graph(graph, policy, on=DAY, damping=1.0)
    assert by_company(scores, "disruption") == pytest.approx(dict.fromkeys(graph.companies["company_id"], 1.0), **EXACT)


def test_a_closed_loop_of_three_with_full_pass_through_is_not_reported_as_converged() -> None:
    # A buys only from B, C only from A, B from A (655) and C (1): a closed loop. With a 150% duty on the 2846
    # links and pass-through 1 the cost grows without bound; the 64-tier series is about 48.
    rows = [
        ("A", "B", "284690", 655.0),
        ("A", "C", "284690", 1.0),
        ("C", "B", "284690", 1.0),
        ("B", "A", "850511", 1.0),
    ]
    graph = graph_of(
        {"A": ("CN", None), "B": ("CN", None), "C": ("CN", None)},
        [{"supplier_id": s, "buyer_id": b, "hs_code": hs, "annual_value_usd": value} for s, b, hs, value in rows],
    )
    assert has_closed_loop(graph)
    duty = np.where(graph.links["hs_code"].cast(pl.String).str.starts_with("28").to_numpy(), 1.5, 0.0)
    result = propagate(graph, duty, np.ones(graph.link_count), shares=input_shares(graph))
    assert not result.converged
    assert result.total.max() < 1e3


def test_the_default_damping_applies_only_to_links_without_a_category() -> None:
    graph = graph_of(
        {"TOOL": ("NL", None), "FAB": ("TW", None), "MILL": ("DE", None)},
        [
            {"supplier_id": "TOOL", "buyer_id": "FAB", "hs_code": "848620", "annual_value_usd": 1.0},
            {"supplier_id": "MILL", "buyer_id": "FAB", "hs_code": "720299", "annual_value_usd": 1.0},
        ],
    )
    scores = score_graph(graph, policy_of(parameters=ScoringParameters(damping_default=0.7)), on=DAY)
    assert scores.links.values("damping").tolist() == [0.7, 0.5]  # MILL -> FAB, TOOL -> FAB (sorted by supplier)
    overridden = score_graph(graph, policy_of(), on=DAY, damping=0.3)
    assert overridden.links.values("damping").tolist() == [0.3, 0.3]


def test_a_links_own_tags_count_for_controls_damping_and_the_material_breakdown() -> None:
    # HS 8541 is not in the taxonomy; the user says the link carries rare earths
    graph = graph_of(
        {"RE": ("CN", None), "FAB": ("TW", None)},
        [{"supplier_id": "RE", "buyer_id": "FAB", "hs_code": "8541", "annual_value_usd": 1.0, "tags": "rare_earth"}],
    )
    licence = control("CN-RE", "CN", Severity.LICENCE_REQUIRED, tags=frozenset({"rare_earth"}))
    scores = score_graph(graph, policy_of(controls=[licence]), on=DAY)
    assert [scores.links.row(0)[column] for column in ("hazard", "damping", "control_id")] == [0.4, 0.9, "CN-RE"]
    assert breakdown(scores, scores.by_material) == {("FAB", "rare_earth"): pytest.approx(0.4)}


def test_own_tags_outside_the_taxonomy_trigger_controls_but_name_no_material() -> None:
    graph = graph_of(
        {"RE": ("CN", None), "FAB": ("TW", None)},
        [{"supplier_id": "RE", "buyer_id": "FAB", "hs_code": "8541", "annual_value_usd": 1.0, "tags": "priority"}],
    )
    flagged = control("CN-PRIORITY", "CN", Severity.BAN, tags=frozenset({"priority"}))
    scores = score_graph(graph, policy_of(controls=[flagged]), on=DAY)
    assert by_company(scores, "disruption") == {"FAB": 1.0, "RE": 0.0}
    assert scores.by_material.size == 0
    assert breakdown(scores, scores.by_country) == {("FAB", "CN"): 1.0}


# --- The reference model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefLink:
    supplier: str
    buyer: str
    value: float


@dataclass(frozen=True)
class FixedPoint:
    """Per company: the fixed point, the tier-1 (d) and tier-2 (M d) terms, and how many sweeps it took."""

    total: dict[str, float]
    tier1: dict[str, float]
    tier2: dict[str, float]
    sweeps: int


def reference_shares(links: Sequence[RefLink]) -> list[float]:
    inbound: dict[str, float] = defaultdict(float)
    for link in links:
        inbound[link.buyer] += link.value
    return [link.value / inbound[link.buyer] if inbound[link.buyer] > 0 else 0.0 for link in links]


def reference_fixed_point(
    companies: Sequence[str],
    links: Sequence[RefLink],
    direct: Sequence[float],
    carry: Sequence[float],
    *,
    max_sweeps: int = 10_000,
) -> FixedPoint | None:
    """E_b = sum_e w_e [x_e + k_e E_s], iterated from E = 0 until no value moves by 1e-13 (None if it never
    settles within `max_sweeps`)."""
    shares = reference_shares(links)
    zero = dict.fromkeys(companies, 0.0)

    def sweep(previous: dict[str, float]) -> dict[str, float]:
        new = dict(zero)
        for link, w, x, k in zip(links, shares, direct, carry, strict=True):
            new[link.buyer] += w * (x + k * previous[link.supplier])
        return new

    tier1 = sweep(zero)
    tier2 = dict(zero)
    for link, w, k in zip(links, shares, carry, strict=True):
        tier2[link.buyer] += w * k * tier1[link.supplier]
    total = zero
    for sweeps in range(1, max_sweeps + 1):
        new = sweep(total)
        if max(abs(new[company] - total[company]) for company in companies) < 1e-13:
            return FixedPoint(new, tier1, tier2, sweeps)
        total = new
    return None


@dataclass(frozen=True)
class GraphCase:
    """Raw input tables: {company_id: (country, lists)} and link rows as a user would upload them."""

    companies: dict[str, tuple[str, str | None]]
    links: list[dict[str, object]]

    def graph(self) -> Graph:
        return graph_of(self.companies, self.links)


@dataclass(frozen=True)
class LinkFacts:
    link: RefLink
    hazard: float
    rate: float
    damping: float
    control_id: str | None
    control_country: str | None
    tariff_ids: list[str]
    materials: frozenset[str]


def reference_link_facts(case: GraphCase, policy: PolicySet, *, on: date) -> list[LinkFacts]:
    """Each raw link through the one-shipment rules, with tags, origin and transshipment derived by hand."""
    facts = []
    for row in case.links:
        supplier, buyer = str(row["supplier_id"]), str(row["buyer_id"])
        hs_code = str(row["hs_code"]).replace(".", "")
        shipping, buyer_country = case.companies[supplier][0], case.companies[buyer][0]
        origin = str(row["origin_country"] or shipping)
        route = tuple(str(row["route"]).split(">")) if row["route"] else ()
        transshipped = origin != shipping or any(c not in {origin, shipping, buyer_country} for c in route)
        derived = {tag for prefix, tag in TAXONOMY.select("hs_prefix", "tag").iter_rows() if hs_code.startswith(prefix)}
        own_tags = set(str(row["tags"]).split(";")) if row["tags"] else set()
        materials = frozenset((derived | own_tags) & set(TAXONOMY["tag"]))
        lists = case.companies[buyer][1]
        shipment = Shipment(
            hs_code,
            origin,
            shipping,
            buyer_country,
            route,
            frozenset({lists} if lists else ()),
            frozenset(derived | own_tags | ({"transshipment"} if transshipped else set())),
            transshipped,
        )
        evaluation = evaluate_shipment(policy, shipment, on=on)
        strongest = evaluation.strongest_control
        damping = max(
            (DAMPING_BY_TAG[tag] for tag in derived | own_tags if tag in DAMPING_BY_TAG),
            default=policy.parameters.damping_default,
        )
        facts.append(
            LinkFacts(
                RefLink(supplier, buyer, float(row["annual_value_usd"])),  # type: ignore[arg-type]
                evaluation.hazard,
                evaluation.tariff_rate_fraction,
                damping,
                None if strongest is None else strongest.measure.measure_id,
                None if strongest is None else strongest.measure.controlling_country,
                sorted(applied.measure.measure_id for applied in evaluation.tariffs),
                materials,
            )
        )
    return facts


@dataclass(frozen=True)
class ReferenceScores:
    disruption: FixedPoint
    tariff: FixedPoint
    by_material: dict[tuple[str, str], float]
    by_country: dict[tuple[str, str], float]
    spend: dict[str, float]
    score: dict[str, float]
    sweeps: int  # the most any of its fixed points needed


def reference_scores(case: GraphCase, policy: PolicySet, *, on: date, max_sweeps: int) -> ReferenceScores | None:
    """The whole model in loops; None when a fixed point needs more than `max_sweeps` sweeps."""
    facts = reference_link_facts(case, policy, on=on)
    companies = list(case.companies)
    links = [fact.link for fact in facts]
    carry = [fact.damping * (1.0 - fact.hazard) for fact in facts]
    pass_through = [policy.parameters.pass_through_default] * len(facts)
    disruption = reference_fixed_point(companies, links, [f.hazard for f in facts], carry, max_sweeps=max_sweeps)
    tariff_cost = reference_fixed_point(companies, links, [f.rate for f in facts], pass_through, max_sweeps=max_sweeps)
    if disruption is None or tariff_cost is None:
        return None

    sweeps = [disruption.sweeps, tariff_cost.sweeps]

    def split(key_of: dict[str, list[bool]]) -> dict[tuple[str, str], float] | None:
        values = {}
        for key, mask in key_of.items():
            direct = [fact.hazard if hit else 0.0 for fact, hit in zip(facts, mask, strict=True)]
            part = reference_fixed_point(companies, links, direct, carry, max_sweeps=max_sweeps)
            if part is None:
                return None
            sweeps.append(part.sweeps)
            values.update({(company, key): value for company, value in part.total.items() if value > 0})
        return values

    hazardous = [fact for fact in facts if fact.hazard > 0]
    materials = {m for fact in hazardous for m in fact.materials}
    countries = {fact.control_country for fact in hazardous if fact.control_country is not None}
    by_material = split({m: [m in fact.materials for fact in facts] for m in sorted(materials)})
    by_country = split({c: [fact.control_country == c for fact in facts] for c in sorted(countries)})
    if by_material is None or by_country is None:
        return None
    spend = dict.fromkeys(companies, 0.0)
    for link in links:
        spend[link.buyer] += link.value
    score = {
        company: 100.0 * (0.7 * disruption.total[company] + 0.3 * min(1.0, tariff_cost.total[company] / 0.25))
        for company in companies
    }
    return ReferenceScores(disruption, tariff_cost, by_material, by_country, spend, score, max(sweeps))


def has_closed_loop(graph: Graph) -> bool:
    """Some companies (two or more) buy everything of value from one another."""
    flows = nx.DiGraph(
        graph.canonical_links().filter(pl.col("annual_value_usd") > 0).select("supplier_id", "buyer_id").rows()
    )
    return any(
        len(loop) > 1 and all(supplier in loop for supplier, _ in flows.in_edges(loop))
        for loop in nx.strongly_connected_components(flows)
    )


def diverges(graph: Graph, policy: PolicySet) -> bool:
    """With full pass-through, duties inside a closed loop circulate for ever: the model has no value there."""
    return policy.parameters.pass_through_default >= 1.0 and has_closed_loop(graph)


def describe(graph: Graph, expected: ReferenceScores) -> str:
    """What a generated case exercises, for `--hypothesis-show-statistics`."""
    flows = nx.DiGraph(graph.canonical_links().select("supplier_id", "buyer_id").rows())
    cycle = "cycle" if flows.number_of_nodes() and not nx.is_directed_acyclic_graph(flows) else "no cycle"
    hazard = "hazard" if any(expected.disruption.total.values()) else "no hazard"
    duty = "duty" if any(expected.tariff.total.values()) else "no duty"
    return f"{cycle}, {hazard}, {duty}"


def level_for(score: float) -> str:
    return "critical" if score >= 60 else "high" if score >= 40 else "medium" if score >= 20 else "low"


# --- Strategies ----------------------------------------------------------------------------------------------

COUNTRIES = ("CN", "US", "NL", "JP")  # few, so that measures often match
HS_CODES = ("284690", "850511", "381800", "848620", "854231", "720299")
CONTROL_TAGS = ("rare_earth", "magnet", "lithography", "semiconductor", "wafer", "priority", "transshipment")
OWN_TAGS = ("priority", "rare_earth", "wafer")  # outside the taxonomy, or a material the HS code does not name
IN_FORCE = (Validity(date(2020, 1, 1)), Validity(date(2024, 1, 1)), Validity(date(2025, 3, 1)))
VALIDITIES = st.one_of(
    st.sampled_from(IN_FORCE),
    st.sampled_from(
        [
            Validity(date(2026, 1, 1)),  # not yet in force on DAY
            Validity(date(2020, 1, 1), date(2025, 1, 1)),  # expired
            Validity(date(2020, 1, 1), suspended=(Period(date(2025, 5, 1), date(2025, 7, 1)),)),
            Validity(date(2020, 1, 1), voided_on=DAY),
        ]
    ),
)
FEW_COUNTRIES = st.one_of(st.just(frozenset[str]()), st.frozensets(st.sampled_from(COUNTRIES), min_size=1, max_size=2))


@st.composite
def graph_cases(draw: st.DrawFn, *, max_companies: int = 12, max_links: int = 30) -> GraphCase:
    """2-12 companies, 0-30 links; the first `ring` companies (if at least 2) form a cycle, more arise at random."""
    count = draw(st.integers(2, max_companies))
    ids = [f"C{i:02d}" for i in range(count)]
    companies = {
        company: (draw(st.sampled_from(COUNTRIES)), draw(st.sampled_from([None, None, "US_ENTITY_LIST"])))
        for company in ids
    }
    hs_codes = st.sampled_from(HS_CODES)
    ring = draw(st.integers(0, count))
    edges = [(i, (i + 1) % ring, draw(hs_codes)) for i in range(ring)] if ring >= 2 else []
    others = st.tuples(st.integers(0, count - 1), st.integers(1, count - 1), hs_codes)
    edges += [(s, (s + offset) % count, hs) for s, offset, hs in draw(st.lists(others, max_size=max_links))]
    unique = list(dict.fromkeys(edges))[:max_links]
    links: list[dict[str, object]] = [
        {
            "supplier_id": ids[supplier],
            "buyer_id": ids[buyer],
            "hs_code": hs_code,
            "annual_value_usd": draw(st.sampled_from([0.0, 1.0, 40.0]) | st.floats(0.01, 1e3)),
            "origin_country": draw(st.none() | st.sampled_from(COUNTRIES)),
            "route": draw(st.none() | st.lists(st.sampled_from(COUNTRIES), min_size=1, max_size=3).map(">".join)),
            "tags": draw(st.none() | st.sampled_from(OWN_TAGS)),
        }
        for supplier, buyer, hs_code in unique
    ]
    return GraphCase(companies, links)


@st.composite
def export_controls(draw: st.DrawFn, measure_id: str, case: GraphCase) -> ExportControl:
    """A control at random, or (half the time) one aimed at a random link of `case` so that it fires."""
    if case.links and draw(st.booleans()):
        link = draw(st.sampled_from(case.links))
        shipping = case.companies[str(link["supplier_id"])][0]
        country = draw(st.sampled_from([shipping, str(link["origin_country"] or shipping)]))
        prefixes: tuple[str, ...] = (str(link["hs_code"])[: draw(st.sampled_from([2, 4, 6]))],)
        buyer = frozenset({case.companies[str(link["buyer_id"])][0]})
        return ExportControl(
            measure_id,
            measure_id,
            ControlAuthority.OTHER,
            country,
            prefixes,
            frozenset(),
            draw(st.sampled_from([frozenset(), buyer])),
            frozenset(),
            draw(st.sampled_from(Severity)),
            draw(st.sampled_from(IN_FORCE)),
            "test",
        )
    tags = draw(st.frozensets(st.sampled_from(CONTROL_TAGS), max_size=2))
    prefixes = tuple(draw(st.lists(st.sampled_from(("28", "2846", "8486", "854231")), max_size=2, unique=True)))
    return ExportControl(
        measure_id,
        measure_id,
        ControlAuthority.OTHER,
        draw(st.sampled_from(COUNTRIES)),
        prefixes if prefixes or tags else ("85",),
        tags,
        draw(FEW_COUNTRIES),
        draw(st.sampled_from([frozenset(), frozenset(), frozenset({"US_ENTITY_LIST"})])),
        draw(st.sampled_from(Severity)),
        draw(VALIDITIES),
        "test",
    )


@st.composite
def tariff_measures(draw: st.DrawFn, measure_id: str, case: GraphCase) -> TariffMeasure:
    """A duty at random, or (half the time) one levied by the buyer's country of a random link of `case`."""
    prefixes = st.sampled_from(("", "28", "2846", "284690", "85", "8505", "854231", "8486"))
    importer = draw(st.sampled_from(COUNTRIES))
    if case.links and draw(st.booleans()):
        importer = case.companies[str(draw(st.sampled_from(case.links))["buyer_id"])][0]
    return TariffMeasure(
        measure_id,
        measure_id,
        draw(st.sampled_from([TariffAuthority.OTHER, TariffAuthority.OTHER, TariffAuthority.TRANSSHIPMENT_PENALTY])),
        draw(st.sampled_from(("P1", "P2", "P3"))),
        importer,
        draw(FEW_COUNTRIES),
        draw(st.dictionaries(prefixes, st.floats(0.0, 1.5), min_size=1, max_size=3)),
        draw(VALIDITIES),
        "test",
        alternative_rate_fraction=draw(st.none() | st.floats(0.0, 1.5)),
    )


@st.composite
def scenarios(draw: st.DrawFn, *, min_controls: int = 1) -> tuple[GraphCase, PolicySet]:
    """A random graph and a random policy for it: controls, stacked duties and parameters."""
    case = draw(graph_cases())
    controls = [draw(export_controls(f"K{i}", case)) for i in range(draw(st.integers(min_controls, 5)))]
    tariffs = [draw(tariff_measures(f"T{i}", case)) for i in range(draw(st.integers(1, 5)))]
    parameters = ScoringParameters(
        severity_weights={severity: draw(st.floats(0.0, 1.0)) for severity in Severity},
        damping_default=draw(st.floats(0.0, 1.0)),
        pass_through_default=draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0)),
        use_alternative_rates=draw(st.booleans()),
    )
    return case, policy_of(tariffs, controls, parameters)


FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- Properties ----------------------------------------------------------------------------------------------


@FAST
@given(case=graph_cases(), data=st.data())
def test_propagate_reaches_the_reference_fixed_point_on_graphs_with_cycles(
    case: GraphCase, data: st.DataObject
) -> None:
    graph = case.graph()
    count = graph.link_count
    direct = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=count, max_size=count)), dtype=np.float64)
    carry = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=count, max_size=count)), dtype=np.float64)
    companies = graph.companies["company_id"].to_list()
    links = [
        RefLink(*row)
        for row in graph.canonical_links().select("supplier_id", "buyer_id", "annual_value_usd").iter_rows()
    ]
    expected = reference_fixed_point(companies, links, direct.tolist(), carry.tolist(), max_sweeps=REFERENCE_SWEEPS)
    assume(expected is not None)
    assert expected is not None
    got = propagate(graph, direct, carry, shares=input_shares(graph))
    for i, company in enumerate(companies):
        assert got.total[i] == pytest.approx(expected.total[company], **NEAR), company
        assert got.tier1[i] == pytest.approx(expected.tier1[company], rel=1e-9, abs=1e-12), company
        assert got.tier2[i] == pytest.approx(expected.tier2[company], **NEAR), company
    assert got.tier1 + got.tier2 + got.tier3_plus == pytest.approx(got.total, rel=1e-12, abs=1e-15)
    columns = propagate(graph, np.column_stack([direct, 0.5 * direct]), carry, shares=input_shares(graph))
    assert columns.total[:, 0] == pytest.approx(got.total, **NEAR)
    assert columns.total[:, 1] == pytest.approx(0.5 * got.total, **NEAR)


@FAST
@given(scenario=scenarios())
def test_score_graph_matches_the_reference_model_end_to_end(scenario: tuple[GraphCase, PolicySet]) -> None:
    case, policy = scenario
    expected = reference_scores(case, policy, on=DAY, max_sweeps=REFERENCE_SWEEPS)
    assume(expected is not None)
    assert expected is not None
    graph = case.graph()
    event(describe(graph, expected))
    scores = score_graph(graph, policy, on=DAY)
    for column, fixed_point in (("disruption", expected.disruption), ("tariff_cost", expected.tariff)):
        tier3 = {c: fixed_point.total[c] - fixed_point.tier1[c] - fixed_point.tier2[c] for c in fixed_point.total}
        prefix = "disruption" if column == "disruption" else "tariff"
        for suffix, values in (("", fixed_point.total), ("_tier1", fixed_point.tier1), ("_tier2", fixed_point.tier2)):
            name = column if not suffix else prefix + suffix
            assert by_company(scores, name) == pytest.approx(values, **NEAR), name
        assert by_company(scores, f"{prefix}_tier3_plus") == pytest.approx(tier3, **NEAR)
    assert by_company(scores, "input_spend_usd") == pytest.approx(expected.spend, rel=1e-12)
    for company, impact in by_company(scores, "tariff_impact_usd").items():
        spend = expected.spend[company]
        assert impact == pytest.approx(expected.tariff.total[company] * spend, rel=1e-8, abs=1e-8 * spend), company
    assert by_company(scores, "score") == pytest.approx(expected.score, abs=0.005 + 1e-6)
    for company, score in by_company(scores, "score").items():
        assert by_company(scores, "level")[company] == level_for(score)  # type: ignore[comparison-overlap]
    for got, want in (
        (breakdown(scores, scores.by_material), expected.by_material),
        (breakdown(scores, scores.by_country), expected.by_country),
    ):
        for key in got.keys() | want.keys():  # the reference stops short of values below 1e-13
            assert got.get(key, 0.0) == pytest.approx(want.get(key, 0.0), **NEAR), key


@FAST
@given(scenario=scenarios())
def test_link_policy_agrees_with_evaluate_shipment_on_every_link(scenario: tuple[GraphCase, PolicySet]) -> None:
    case, policy = scenario
    graph = case.graph()
    signatures, link_signature = evaluate_links(graph, policy, on=DAY)
    links = signatures[link_signature]
    hs_codes = [str(row["hs_code"]).replace(".", "") for row in case.links]
    reference = reference_link_facts(case, policy, on=DAY)
    facts = {(f.link.supplier, f.link.buyer, hs): f for f, hs in zip(reference, hs_codes, strict=True)}
    keys = graph.canonical_links().select("supplier_id", "buyer_id", "hs_code").rows()
    for key, row in zip(keys, links.iter_rows(named=True), strict=True):
        fact = facts[key]
        assert row["hazard"] == pytest.approx(fact.hazard, abs=1e-15), key
        assert row["tariff_rate"] == pytest.approx(fact.rate, rel=1e-12, abs=1e-15), key
        assert row["tariff_ids"] == fact.tariff_ids, key
        if fact.hazard > 0:  # with a severity weighted 0, evaluate_shipment still names a "strongest" control
            assert (row["control_id"], row["control_country"]) == (fact.control_id, fact.control_country), key


@FAST
@given(scenario=scenarios())
def test_disruption_is_a_share_and_needs_a_path_from_a_hazard(scenario: tuple[GraphCase, PolicySet]) -> None:
    case, policy = scenario
    graph = case.graph()
    assume(not diverges(graph, policy))
    scores = score_graph(graph, policy, on=DAY)
    disruption = scores.companies["disruption"].to_numpy()
    assert np.all((disruption >= 0.0) & (disruption <= 1.0 + 1e-12))
    flows = nx.DiGraph()
    flows.add_nodes_from(range(graph.company_count))
    flows.add_edges_from(graph.links.select("supplier_idx", "buyer_idx").rows())
    hit = graph.links.filter(pl.Series(scores.links.values("hazard") > 0))["buyer_idx"].unique().to_list()
    exposed = set(hit).union(*(nx.descendants(flows, buyer) for buyer in hit))
    for idx in set(range(graph.company_count)) - exposed:
        assert disruption[idx] == 0.0, scores.companies["company_id"][idx]
    shielded = set(range(graph.company_count)) - exposed
    assert not set(breakdown_idx(scores.by_material)) & shielded
    assert not set(breakdown_idx(scores.by_country)) & shielded
    for prefix in ("disruption", "tariff"):
        total = scores.companies["disruption" if prefix == "disruption" else "tariff_cost"].to_numpy()
        tiers = sum(scores.companies[f"{prefix}_{tier}"].to_numpy() for tier in ("tier1", "tier2", "tier3_plus"))
        assert tiers == pytest.approx(total, rel=1e-12, abs=1e-15)


@FAST
@given(scenario=scenarios(min_controls=0), data=st.data())
def test_adding_a_control_never_lowers_any_disruption(
    scenario: tuple[GraphCase, PolicySet], data: st.DataObject
) -> None:
    case, policy = scenario
    extra = data.draw(export_controls("K-EXTRA", case))
    graph = case.graph()
    assume(not diverges(graph, policy))
    before = score_graph(graph, policy, on=DAY).companies["disruption"].to_numpy()
    wider = replace(policy, controls={**policy.controls, extra.measure_id: extra})
    after = score_graph(graph, wider, on=DAY).companies["disruption"].to_numpy()
    assert np.all(after >= before * (1 - 1e-9) - 1e-9)


@FAST
@given(scenario=scenarios(), data=st.data())
def test_raising_a_tariff_rate_never_lowers_any_tariff_cost(
    scenario: tuple[GraphCase, PolicySet], data: st.DataObject
) -> None:
    case, policy = scenario
    graph = case.graph()
    assume(not diverges(graph, policy))
    measure = data.draw(st.sampled_from(sorted(policy.tariffs.values(), key=lambda m: m.measure_id)))
    prefix = data.draw(st.sampled_from(sorted(measure.lines)))
    step = data.draw(st.floats(0.01, 1.0))
    alternative = measure.alternative_rate_fraction
    raised = replace(
        measure,
        lines={**measure.lines, prefix: measure.lines[prefix] + step},
        alternative_rate_fraction=None if alternative is None else alternative + step,
    )
    before = score_graph(graph, policy, on=DAY).companies
    after = score_graph(graph, replace(policy, tariffs={**policy.tariffs, raised.measure_id: raised}), on=DAY).companies
    for column in ("tariff_cost", "tariff_impact_usd"):
        assert np.all(after[column].to_numpy() >= before[column].to_numpy() * (1 - 1e-9) - 1e-9), column


@FAST
@given(scenario=scenarios(), data=st.data())
def test_results_do_not_depend_on_the_order_of_companies_or_links(
    scenario: tuple[GraphCase, PolicySet], data: st.DataObject
) -> None:
    case, policy = scenario
    companies = data.draw(st.permutations(list(case.companies.items())))
    links = data.draw(st.permutations(case.links))
    graph = case.graph()
    assume(not diverges(graph, policy))
    original = score_graph(graph, policy, on=DAY)
    shuffled = score_graph(GraphCase(dict(companies), list(links)).graph(), policy, on=DAY)
    assert_frame_equal(original.companies, shuffled.companies, check_exact=False, rel_tol=1e-12, abs_tol=1e-15)
    for first, second in ((original.by_material, shuffled.by_material), (original.by_country, shuffled.by_country)):
        assert breakdown(original, first) == pytest.approx(breakdown(shuffled, second), rel=1e-12, abs=1e-15)


# --- The vectorised link policy against the one-shipment rules on the default graph ---------------------------


@pytest.fixture(scope="module")
def default_graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    store = open_store(tmp_path_factory.mktemp("store"), seed_graph=DEFAULT_SEED_GRAPH)
    graph = store.graph
    store.close()
    return graph


@pytest.mark.parametrize("scenario", ["current", "cn-rare-earth-ban-all"])
@pytest.mark.parametrize("on", [date(2019, 6, 1), date(2025, 4, 20), date(2025, 9, 1), date(2026, 1, 15)])
def test_link_policy_matches_evaluate_shipment_on_the_default_graph(
    default_graph: Graph, scenario: str, on: date, tmp_path: Path
) -> None:
    policy_store = open_policy_store(tmp_path)
    policy = policy_store.snapshot.book.resolve(scenario)
    policy_store.close()
    by_signature, link_signature = evaluate_links(default_graph, policy, on=on)
    links = by_signature[link_signature]
    evaluated: dict[tuple[object, ...], tuple[float, float, str | None, str | None, list[str]]] = {}
    signatures = link_signatures(default_graph).iter_rows(named=True)
    for signature, row in zip(signatures, links.iter_rows(named=True), strict=True):
        key = tuple(tuple(value) if isinstance(value, list) else value for value in signature.values())
        if key not in evaluated:
            shipment = Shipment(
                signature["hs_code"],
                signature["origin"],
                signature["shipping"],
                signature["buyer_country"],
                buyer_lists=frozenset(signature["buyer_lists"]),
                tags=frozenset(signature["tags"]),
                transshipment=signature["transshipment"],
            )
            result = evaluate_shipment(policy, shipment, on=on)
            strongest = result.strongest_control
            evaluated[key] = (
                result.hazard,
                result.tariff_rate_fraction,
                None if strongest is None else strongest.measure.measure_id,
                None if strongest is None else strongest.measure.controlling_country,
                sorted(applied.measure.measure_id for applied in result.tariffs),
            )
        hazard, rate, control_id, control_country, tariff_ids = evaluated[key]
        assert row["hazard"] == hazard, key
        assert row["tariff_rate"] == pytest.approx(rate, rel=1e-12, abs=1e-15), key
        assert (row["control_id"], row["control_country"], row["tariff_ids"]) == (
            control_id,
            control_country,
            tariff_ids,
        ), key


# --- What-ifs reusing a base scenario's scores ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what_if", "reused"),
    [
        ("section-122-at-15pct", "disruption"),  # a tariff rate changes: the export-control side is reused
        ("rare-earth-suspension-lapses", "tariff"),  # a control's suspension changes: the tariff side is reused
        ("cn-rare-earth-ban-all", "tariff"),
    ],
)
def test_a_what_if_reusing_the_base_scores_gives_the_same_numbers_and_skips_the_unchanged_side(
    default_graph: Graph, what_if: str, reused: str, tmp_path: Path
) -> None:
    policy_store = open_policy_store(tmp_path)
    base = score_graph(default_graph, policy_store.snapshot.book.resolve("current"), on=DAY_2026)
    policy = policy_store.snapshot.book.resolve(what_if)
    policy_store.close()
    fresh = score_graph(default_graph, policy, on=DAY_2026)
    reusing = score_graph(default_graph, policy, on=DAY_2026, reuse=base)
    assert_frame_equal(fresh.companies, reusing.companies, check_exact=False, rel_tol=1e-12, abs_tol=1e-15)
    for split in ("by_material", "by_country"):
        assert_same_breakdown(getattr(fresh, split), getattr(reusing, split))
    assert not fresh.companies.equals(base.companies)  # the what-if does change something
    if reused == "disruption":
        assert reusing.by_material is base.by_material
        assert reusing.companies["disruption"].equals(base.companies["disruption"])
    else:
        assert reusing.companies["tariff_cost"].equals(base.companies["tariff_cost"])
        assert reusing.by_material is not base.by_material


def test_scores_of_another_graph_version_are_never_reused(default_graph: Graph, tmp_path: Path) -> None:
    policy_store = open_policy_store(tmp_path)
    policy = policy_store.snapshot.book.resolve("current")
    policy_store.close()
    base = score_graph(default_graph, policy, on=DAY_2026)
    other = replace(base, graph_version=default_graph.version + 1)
    assert score_graph(default_graph, policy, on=DAY_2026, reuse=other).by_material is not other.by_material


def test_a_slowly_draining_web_beyond_the_direct_solve_limit_reaches_the_fixed_point() -> None:
    # The remainder on more companies than DIRECT_SOLVE_LIMIT is solved by the Krylov solver, not LU. Each company R_i
    # buys 1% from H (10% duty on every 13th such link), 60% from R_i+1 and 39% from R_7i+3 (mod n); pass-through 1
    # makes it drain slowly (0.99 a tier), so the series alone leaves half. The answer must solve C = d + M C.
    size = DIRECT_SOLVE_LIMIT + 1_000
    ring = [f"R{i:05d}" for i in range(size)]
    links = [{"supplier_id": "H", "buyer_id": r, "hs_code": "720299", "annual_value_usd": 1.0} for r in ring]
    links += [
        {"supplier_id": ring[(i + 1) % size], "buyer_id": r, "hs_code": "720299", "annual_value_usd": 60.0}
        for i, r in enumerate(ring)
    ]
    links += [
        {"supplier_id": ring[(7 * i + 3) % size], "buyer_id": r, "hs_code": "720300", "annual_value_usd": 39.0}
        for i, r in enumerate(ring)
    ]
    graph = graph_of({"H": ("CN", None)} | dict.fromkeys(ring, ("JP", None)), links)
    h = graph.companies["company_id"].index_of("H")
    rate = np.where((graph.supplier_array == h) & (graph.buyer_array % 13 == 0), 0.1, 0.0)
    shares = input_shares(graph)
    result = propagate(graph, rate, np.ones(graph.link_count), shares=shares)
    assert result.converged
    assert result.tiers_used == MAX_TIERS  # the series stopped there; the solver found the rest
    inbound = np.bincount(
        graph.buyer_array, weights=shares * (rate + result.total[graph.supplier_array]), minlength=size + 1
    )
    assert np.abs(result.total - inbound).max() <= 10 * TOLERANCE
    assert result.tier3_plus.sum() > result.tier1.sum()  # most of it arrives from tier 3 on
