"""The policy model: dated tariff and export-control measures, and scenarios that group them.

Pure data, no I/O: `policy_files.py` reads and writes it, `evaluation.py` applies it to a shipment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

from server.core.memo import memoised

T = TypeVar("T")


class TariffAuthority(StrEnum):
    MFN = "MFN"
    SECTION_301 = "SECTION_301"
    SECTION_232 = "SECTION_232"
    IEEPA = "IEEPA"
    SECTION_122 = "SECTION_122"
    AD_CVD = "AD_CVD"
    RETALIATORY = "RETALIATORY"
    TRANSSHIPMENT_PENALTY = "TRANSSHIPMENT_PENALTY"
    OTHER = "OTHER"


class ControlAuthority(StrEnum):
    US_EAR = "US_EAR"
    CN_MOFCOM = "CN_MOFCOM"
    OTHER = "OTHER"


class Severity(StrEnum):
    BAN = "BAN"
    PRESUMPTION_OF_DENIAL = "PRESUMPTION_OF_DENIAL"
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    GENERAL_LICENCE = "GENERAL_LICENCE"


# The expected share of a controlled flow that is cut off, by severity (docs/policy.md explains each value).
DEFAULT_SEVERITY_WEIGHTS: Mapping[Severity, float] = {
    Severity.BAN: 1.0,
    Severity.PRESUMPTION_OF_DENIAL: 0.9,
    Severity.LICENCE_REQUIRED: 0.4,
    Severity.GENERAL_LICENCE: 0.1,
}


@dataclass(frozen=True)
class Period:
    """Days from `start` (inclusive) to `end` (exclusive; None = open-ended)."""

    start: date
    end: date | None = None

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)


class Status(StrEnum):
    IN_FORCE = "IN_FORCE"
    NOT_YET_IN_FORCE = "NOT_YET_IN_FORCE"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    VOIDED = "VOIDED"


@dataclass(frozen=True)
class Validity:
    """When a measure is in force: from `effective_from` to `effective_until` (exclusive), minus suspensions,
    and never on or after `voided_on`."""

    effective_from: date
    effective_until: date | None = None
    suspended: tuple[Period, ...] = ()
    voided_on: date | None = None

    def status(self, day: date) -> Status:
        if self.voided_on is not None and day >= self.voided_on:
            return Status.VOIDED
        if day < self.effective_from:
            return Status.NOT_YET_IN_FORCE
        if self.effective_until is not None and day >= self.effective_until:
            return Status.EXPIRED
        if any(period.contains(day) for period in self.suspended):
            return Status.SUSPENDED
        return Status.IN_FORCE

    def in_force(self, day: date) -> bool:
        return self.status(day) is Status.IN_FORCE


@dataclass(frozen=True)
class TariffMeasure:
    """An ad valorem duty levied by `importer` on goods of `origins` (empty = all) for HS-prefix lines.

    `lines` maps HS digit prefixes to rates; the prefix "" covers all goods. Duties of different `program`s
    stack; within one program the most specific prefix wins (ties: the later `effective_from`).
    """

    measure_id: str
    title: str
    authority: TariffAuthority
    program: str
    importer: str
    origins: frozenset[str]
    lines: Mapping[str, float]
    validity: Validity
    source: str
    note: str = ""
    alternative_rate_fraction: float | None = None


@dataclass(frozen=True)
class ExportControl:
    """A control on goods shipped from or originating in `controlling_country`, matched by HS prefix or tag."""

    measure_id: str
    title: str
    authority: ControlAuthority
    controlling_country: str
    hs_prefixes: tuple[str, ...]
    tags: frozenset[str]
    destinations: frozenset[str]
    target_lists: frozenset[str]
    severity: Severity
    validity: Validity
    source: str
    note: str = ""


@dataclass(frozen=True)
class ScoringParameters:
    """Scenario-level parameters: severity weights, damping and pass-through defaults, which rate reading."""

    severity_weights: Mapping[Severity, float] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_WEIGHTS))
    damping_default: float = 0.5
    pass_through_default: float = 1.0
    use_alternative_rates: bool = False


@dataclass(frozen=True)
class ParameterSettings:
    """The parameters a scenario sets itself. Each one left unset (None, or a severity absent from the weights) is
    inherited from the base scenario, field by field, so a scenario that only reweights a severity keeps its base's
    damping and rate reading."""

    severity_weights: Mapping[Severity, float] = field(default_factory=dict)
    damping_default: float | None = None
    pass_through_default: float | None = None
    use_alternative_rates: bool | None = None

    def over(self, base: ScoringParameters) -> ScoringParameters:
        """`base` with the fields set here replaced."""
        return ScoringParameters(
            severity_weights={**base.severity_weights, **self.severity_weights},
            damping_default=base.damping_default if self.damping_default is None else self.damping_default,
            pass_through_default=(
                base.pass_through_default if self.pass_through_default is None else self.pass_through_default
            ),
            use_alternative_rates=(
                base.use_alternative_rates if self.use_alternative_rates is None else self.use_alternative_rates
            ),
        )


@dataclass(frozen=True)
class Scenario:
    """A named set of measures: a `base` scenario's measures minus `remove`, with `changes` applied (partial
    measures in the JSON form, merged over the base measure of the same id), plus `tariffs` and `controls` (an
    added measure with an existing id replaces it). A scenario without a base starts empty."""

    name: str
    description: str
    base: str | None = None
    tariffs: tuple[TariffMeasure, ...] = ()
    controls: tuple[ExportControl, ...] = ()
    remove: tuple[str, ...] = ()
    changes: tuple[Mapping[str, Any], ...] = ()
    parameters: ParameterSettings = field(default_factory=ParameterSettings)  # unset fields: the base's
    built_in: bool = False


@dataclass(frozen=True)
class PolicySet:
    """A scenario resolved through its bases: the measures it holds and its parameters."""

    scenario: Scenario
    tariffs: Mapping[str, TariffMeasure]
    controls: Mapping[str, ExportControl]
    parameters: ScoringParameters

    def derived(self, key: str, compute: Callable[[PolicySet], T]) -> T:
        """`compute(self)`, once per resolved policy: tables derived from the measures alone (the tariff lines) are
        shared by every evaluation against it. Two first callers may both compute it; both get an equal value."""
        return memoised(self, key, lambda: compute(self))
