"""Evaluation rules on hand-built measures: stacking, precedence, origin, transshipment, controls, dates."""

from __future__ import annotations

from datetime import date

import pytest

from server.core.evaluation import Shipment, evaluate_shipment
from server.core.policy import (
    ControlAuthority,
    ExportControl,
    Period,
    PolicySet,
    Scenario,
    ScoringParameters,
    Severity,
    Status,
    TariffAuthority,
    TariffMeasure,
    Validity,
)

DAY = date(2019, 6, 1)


def tariff(
    measure_id: str,
    program: str,
    lines: dict[str, float],
    *,
    origins: frozenset[str] = frozenset({"CN"}),
    start: date = date(2018, 1, 1),
    authority: TariffAuthority = TariffAuthority.OTHER,
    validity: Validity | None = None,
    alternative: float | None = None,
) -> TariffMeasure:
    return TariffMeasure(
        measure_id,
        measure_id,
        authority,
        program,
        "US",
        origins,
        lines,
        validity or Validity(start),
        "test",
        alternative_rate_fraction=alternative,
    )


def control(
    measure_id: str,
    severity: Severity,
    *,
    tags: frozenset[str] = frozenset(),
    prefixes: tuple[str, ...] = (),
    destinations: frozenset[str] = frozenset(),
    lists: frozenset[str] = frozenset(),
    validity: Validity | None = None,
) -> ExportControl:
    return ExportControl(
        measure_id,
        measure_id,
        ControlAuthority.CN_MOFCOM,
        "CN",
        prefixes,
        tags,
        destinations,
        lists,
        severity,
        validity or Validity(date(2018, 1, 1)),
        "test",
    )


def policy(*measures: TariffMeasure | ExportControl, parameters: ScoringParameters | None = None) -> PolicySet:
    return PolicySet(
        Scenario("t", ""),
        {m.measure_id: m for m in measures if isinstance(m, TariffMeasure)},
        {m.measure_id: m for m in measures if isinstance(m, ExportControl)},
        parameters or ScoringParameters(),
    )


def ship(
    hs: str = "854231",
    *,
    origin: str = "CN",
    shipping: str = "CN",
    buyer: str = "US",
    tags: frozenset[str] = frozenset(),
    lists: frozenset[str] = frozenset(),
    transshipment: bool = False,
) -> Shipment:
    return Shipment(hs, origin, shipping, buyer, (), lists, tags, transshipment)


def test_programs_stack_and_within_a_program_the_most_specific_line_wins() -> None:
    rules = policy(
        tariff("MFN", "MFN", {"8542": 0.02, "854231": 0.0}, origins=frozenset()),
        tariff("L2", "301", {"85423100": 0.25}),
        tariff("BROAD", "301", {"": 0.10}),
    )
    result = evaluate_shipment(rules, ship("85423100"), on=DAY)
    assert {(a.measure.measure_id, a.hs_prefix, a.rate_fraction) for a in result.tariffs} == {
        ("MFN", "854231", 0.0),
        ("L2", "85423100", 0.25),
    }
    assert result.tariff_rate_fraction == pytest.approx(0.25)
    assert [(i.measure_id, i.status) for i in result.inactive] == [("BROAD", "SUPERSEDED_BY L2")]


def test_equal_specificity_goes_to_the_later_measure() -> None:
    rules = policy(
        tariff("OLD", "301", {"8542": 0.25}, start=date(2018, 8, 23)),
        tariff("NEW", "301", {"8542": 0.50}, start=date(2025, 1, 1)),
    )
    assert evaluate_shipment(rules, ship(), on=date(2025, 6, 1)).tariff_rate_fraction == 0.50
    assert evaluate_shipment(rules, ship(), on=date(2024, 6, 1)).tariff_rate_fraction == 0.25


def test_origin_not_shipping_country_decides_the_duty() -> None:
    rules = policy(tariff("CN-ONLY", "301", {"": 0.25}))
    assert evaluate_shipment(rules, ship(origin="CN", shipping="VN"), on=DAY).tariff_rate_fraction == 0.25
    assert evaluate_shipment(rules, ship(origin="VN", shipping="VN"), on=DAY).tariff_rate_fraction == 0.0


def test_transshipment_penalty_needs_a_transshipped_shipment() -> None:
    rules = policy(
        tariff("PENALTY", "T", {"": 0.40}, origins=frozenset(), authority=TariffAuthority.TRANSSHIPMENT_PENALTY)
    )
    assert evaluate_shipment(rules, ship(transshipment=True), on=DAY).tariff_rate_fraction == 0.40
    assert evaluate_shipment(rules, ship(transshipment=False), on=DAY).tariff_rate_fraction == 0.0


def test_a_transshipment_penalty_replaces_its_programs_rate_and_other_programs_stack() -> None:
    penalty_authority = TariffAuthority.TRANSSHIPMENT_PENALTY
    rules = policy(
        tariff("FENTANYL", "F", {"": 0.20}),
        tariff("RECIPROCAL", "R", {"854231": 0.10}, start=date(2019, 1, 1)),  # more specific and later: still loses
        tariff("PENALTY", "R", {"": 0.40}, authority=penalty_authority),
    )
    routed = evaluate_shipment(rules, ship(transshipment=True), on=DAY)
    assert routed.tariff_rate_fraction == pytest.approx(0.20 + 0.40)
    assert [(i.measure_id, i.status) for i in routed.inactive] == [("RECIPROCAL", "SUPERSEDED_BY PENALTY")]
    assert evaluate_shipment(rules, ship(transshipment=False), on=DAY).tariff_rate_fraction == pytest.approx(0.30)


def test_statuses_walk_through_suspension_expiry_and_voiding() -> None:
    validity = Validity(
        date(2025, 1, 1), date(2027, 1, 1), (Period(date(2025, 6, 1), date(2025, 9, 1)),), date(2026, 2, 20)
    )
    assert validity.status(date(2024, 12, 31)) is Status.NOT_YET_IN_FORCE
    assert validity.status(date(2025, 1, 1)) is Status.IN_FORCE
    assert validity.status(date(2025, 6, 1)) is Status.SUSPENDED
    assert validity.status(date(2025, 9, 1)) is Status.IN_FORCE
    assert validity.status(date(2026, 2, 20)) is Status.VOIDED
    assert Validity(date(2025, 1, 1), date(2026, 1, 1)).status(date(2026, 1, 1)) is Status.EXPIRED
    rules = policy(tariff("IEEPA", "I", {"": 0.2}, validity=validity))
    result = evaluate_shipment(rules, ship(), on=date(2026, 3, 1))
    assert result.tariff_rate_fraction == 0.0
    assert [(i.measure_id, i.status) for i in result.inactive] == [("IEEPA", "VOIDED")]


def test_alternative_rate_reading_is_used_when_the_scenario_asks() -> None:
    measure = tariff("S122", "122", {"": 0.10}, origins=frozenset(), alternative=0.15)
    assert evaluate_shipment(policy(measure), ship(), on=DAY).tariff_rate_fraction == 0.10
    alternative = policy(measure, parameters=ScoringParameters(use_alternative_rates=True))
    assert evaluate_shipment(alternative, ship(), on=DAY).tariff_rate_fraction == 0.15


def test_hazard_is_the_strongest_applicable_control() -> None:
    rules = policy(
        control("LICENCE", Severity.LICENCE_REQUIRED, tags=frozenset({"gallium"})),
        control("BAN-US", Severity.BAN, prefixes=("8112",), destinations=frozenset({"US"})),
        control(
            "ENTITY", Severity.PRESUMPTION_OF_DENIAL, tags=frozenset({"gallium"}), lists=frozenset({"US_ENTITY_LIST"})
        ),
    )
    to_us = evaluate_shipment(rules, ship("811292", tags=frozenset({"gallium"})), on=DAY)
    assert [(c.measure.measure_id, c.matched_on) for c in to_us.controls] == [
        ("BAN-US", "hs 8112"),
        ("LICENCE", "tag gallium"),
    ]
    assert to_us.hazard == 1.0
    to_de = evaluate_shipment(rules, ship("811292", buyer="DE", tags=frozenset({"gallium"})), on=DAY)
    assert to_de.hazard == pytest.approx(0.4)
    listed = evaluate_shipment(
        rules, ship("811292", buyer="DE", tags=frozenset({"gallium"}), lists=frozenset({"US_ENTITY_LIST"})), on=DAY
    )
    assert listed.hazard == pytest.approx(0.9)


def test_controls_follow_origin_or_shipping_country() -> None:
    rules = policy(control("CN-RE", Severity.BAN, tags=frozenset({"rare_earth"})))
    via_vietnam = ship("850511", origin="CN", shipping="VN", tags=frozenset({"rare_earth"}))
    from_japan = ship("850511", origin="JP", shipping="JP", tags=frozenset({"rare_earth"}))
    assert evaluate_shipment(rules, via_vietnam, on=DAY).hazard == 1.0
    assert evaluate_shipment(rules, from_japan, on=DAY).hazard == 0.0


def test_suspended_control_does_not_fire_and_says_why() -> None:
    suspended = Validity(date(2025, 10, 9), suspended=(Period(date(2025, 11, 10), date(2026, 11, 10)),))
    rules = policy(control("OCT", Severity.PRESUMPTION_OF_DENIAL, tags=frozenset({"rare_earth"}), validity=suspended))
    shipment = ship("284690", tags=frozenset({"rare_earth"}))
    assert evaluate_shipment(rules, shipment, on=date(2025, 11, 1)).hazard == pytest.approx(0.9)
    during = evaluate_shipment(rules, shipment, on=date(2026, 1, 1))
    assert during.hazard == 0.0
    assert [(i.measure_id, i.status) for i in during.inactive] == [("OCT", "SUSPENDED")]
    assert evaluate_shipment(rules, shipment, on=date(2026, 11, 10)).hazard == pytest.approx(0.9)
