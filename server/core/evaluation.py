"""Applying a policy set to one shipment on one day: which measures fire, the stacked duty, the control hazard.

Rules (docs/policy.md has the worked examples):
- A tariff applies when its importer is the buyer's country, the goods' **origin** (not the shipping country) is
  among its origins (or it has none), one of its HS lines prefixes the HS code, and it is in force on the day.
  A transshipment penalty applies only to transshipped goods.
- Within a program one measure wins: a transshipment penalty that applies (it is levied *in lieu of* its program's
  rate), else the most specific line (ties: the later `effective_from`); programs stack:
  `rate = sum over programs of the winning line's rate`.
- An export control applies when its controlling country is the goods' origin or the shipping country, the buyer
  is abroad (a domestic sale is no export), the buyer's country is among its destinations (or it has none), the
  buyer is on one of its target lists (or it has none), and an HS prefix or a taxonomy tag matches. The hazard is
  the weight of the strongest control that applies: `hazard = max(weight(severity))`, 0 when none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.core.policy import (
    ExportControl,
    PolicySet,
    Status,
    TariffAuthority,
    TariffMeasure,
)


@dataclass(frozen=True)
class Shipment:
    """A (hypothetical or real) flow of goods: what, from where, through where, to whom."""

    hs_code: str
    origin_country: str
    shipping_country: str
    buyer_country: str
    route: tuple[str, ...] = ()
    buyer_lists: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    transshipment: bool = False


@dataclass(frozen=True)
class AppliedTariff:
    measure: TariffMeasure
    hs_prefix: str
    rate_fraction: float


@dataclass(frozen=True)
class AppliedControl:
    measure: ExportControl
    weight: float
    matched_on: str


@dataclass(frozen=True)
class InactiveMeasure:
    """A measure that covers the shipment but was not in force on the day (with why), or lost within its program."""

    measure_id: str
    title: str
    status: str


@dataclass(frozen=True)
class Evaluation:
    tariffs: tuple[AppliedTariff, ...]
    tariff_rate_fraction: float
    controls: tuple[AppliedControl, ...]
    hazard: float
    inactive: tuple[InactiveMeasure, ...]

    @property
    def strongest_control(self) -> AppliedControl | None:
        """The control setting the hazard (first by id among equals); None when no control weighs anything."""
        strongest = max(self.controls, key=lambda applied: applied.weight, default=None)
        return strongest if strongest is not None and strongest.weight > 0 else None


def evaluate_shipment(policy: PolicySet, shipment: Shipment, *, on: date) -> Evaluation:
    """Every measure of `policy` that applies to `shipment` on day `on`, the stacked duty and the hazard.

    Example: Chinese-origin HS 854231 into the US on 2019-06-01 matches US-MFN (0%) and Section 301 List 2 (25%):
    two programs, so the rate is 0 + 0.25 = 0.25.
    """
    inactive: list[InactiveMeasure] = []
    winners: dict[str, AppliedTariff] = {}
    for measure in policy.tariffs.values():
        matched = _tariff_line(measure, shipment)
        if matched is None:
            continue
        status = measure.validity.status(on)
        if status is not Status.IN_FORCE:
            inactive.append(InactiveMeasure(measure.measure_id, measure.title, status.value))
            continue
        rate = matched[1]
        if policy.parameters.use_alternative_rates and measure.alternative_rate_fraction is not None:
            rate = measure.alternative_rate_fraction
        candidate = AppliedTariff(measure, matched[0], rate)
        current = winners.get(measure.program)
        if current is None or _precedence(candidate) > _precedence(current):
            if current is not None:
                inactive.append(_superseded(current, candidate))
            winners[measure.program] = candidate
        else:
            inactive.append(_superseded(candidate, current))
    controls: list[AppliedControl] = []
    for control in policy.controls.values():
        matched_on = _control_match(control, shipment)
        if matched_on is None:
            continue
        status = control.validity.status(on)
        if status is not Status.IN_FORCE:
            inactive.append(InactiveMeasure(control.measure_id, control.title, status.value))
            continue
        controls.append(AppliedControl(control, policy.parameters.severity_weights[control.severity], matched_on))
    tariffs = tuple(sorted(winners.values(), key=lambda applied: applied.measure.program))
    return Evaluation(
        tariffs=tariffs,
        tariff_rate_fraction=sum(applied.rate_fraction for applied in tariffs),
        controls=tuple(sorted(controls, key=lambda applied: (-applied.weight, applied.measure.measure_id))),
        hazard=max((applied.weight for applied in controls), default=0.0),
        inactive=tuple(sorted(inactive, key=lambda item: item.measure_id)),
    )


def _tariff_line(measure: TariffMeasure, shipment: Shipment) -> tuple[str, float] | None:
    """The measure's most specific line covering the shipment, if the measure covers it at all."""
    if measure.importer != shipment.buyer_country:
        return None
    if measure.origins and shipment.origin_country not in measure.origins:
        return None
    if measure.authority is TariffAuthority.TRANSSHIPMENT_PENALTY and not shipment.transshipment:
        return None
    code = shipment.hs_code
    for length in range(len(code), -1, -1):
        rate = measure.lines.get(code[:length])
        if rate is not None:
            return code[:length], rate
    return None


def _precedence(applied: AppliedTariff) -> tuple[bool, int, date, str]:
    """A penalty first (it replaces its program's rate), then the most specific line, then the later measure; the id
    breaks exact ties so the choice never depends on order."""
    measure = applied.measure
    penalty = measure.authority is TariffAuthority.TRANSSHIPMENT_PENALTY
    return penalty, len(applied.hs_prefix), measure.validity.effective_from, measure.measure_id


def _superseded(loser: AppliedTariff, winner: AppliedTariff) -> InactiveMeasure:
    status = f"SUPERSEDED_BY {winner.measure.measure_id}"
    return InactiveMeasure(loser.measure.measure_id, loser.measure.title, status)


def _control_match(control: ExportControl, shipment: Shipment) -> str | None:
    """What ties the control to the shipment (`hs 8112` or `tag gallium`), or None when it does not apply."""
    if control.controlling_country not in (shipment.origin_country, shipment.shipping_country):
        return None
    if shipment.buyer_country == control.controlling_country:
        return None  # a sale inside the controlling country is no export
    if control.destinations and shipment.buyer_country not in control.destinations:
        return None
    if control.target_lists and not control.target_lists & shipment.buyer_lists:
        return None
    prefix = next((p for p in control.hs_prefixes if shipment.hs_code.startswith(p)), None)
    if prefix is not None:
        return f"hs {prefix}"
    tag = min(control.tags & shipment.tags, default=None)
    return None if tag is None else f"tag {tag}"
