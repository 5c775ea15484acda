"""Typed results of the exposure calls: frozen dataclasses mirroring the API's messages, filled generically.

Field names are the messages' own, so `docs/api.md` and the proto comments describe them. Lists of
`KeyValue` become dicts (key -> value, largest first), repeated messages tuples, 64-bit integers ints.
"""

from __future__ import annotations

import functools
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


@dataclass(frozen=True)
class ScoreContext:
    scenario: str
    as_of_date: str
    graph_version: int
    policy_version: str
    damping_default: float
    pass_through: float
    converged: bool


@dataclass(frozen=True)
class CompanyScore:
    company_id: str
    country: str
    disruption: float
    disruption_tier1: float
    disruption_tier2: float
    disruption_tier3_plus: float
    disruption_by_material: dict[str, float]
    disruption_by_country: dict[str, float]
    tariff_cost: float
    tariff_tier1: float
    tariff_tier2: float
    tariff_tier3_plus: float
    input_spend_usd: float
    tariff_impact_usd: float
    score: float
    level: str


@dataclass(frozen=True)
class OriginShares:
    material: str
    face_value: dict[str, float]
    look_through: dict[str, float]
    face_value_hhi: float
    look_through_hhi: float
    coverage: float


@dataclass(frozen=True)
class CompanyScoreResult:
    score: CompanyScore
    origins: tuple[OriginShares, ...]
    context: ScoreContext


@dataclass(frozen=True)
class FiredMeasure:
    measure_id: str
    title: str
    source: str


@dataclass(frozen=True)
class PathLink:
    tier: int
    supplier_id: str
    buyer_id: str
    hs_code: str
    annual_value_usd: float
    input_share: float
    origin_country: str
    route: tuple[str, ...]
    hazard: float
    tariff_rate: float
    carry: float
    control: FiredMeasure | None
    tariffs: tuple[FiredMeasure, ...]
    derived_tags: tuple[str, ...]


@dataclass(frozen=True)
class ExposurePath:
    contribution: float
    links: tuple[PathLink, ...]


@dataclass(frozen=True)
class Explanation:
    paths: tuple[ExposurePath, ...]
    total: float
    explained: float
    context: ScoreContext


@dataclass(frozen=True)
class PassThrough:
    company_id: str
    country: str
    share: float


@dataclass(frozen=True)
class Chokepoints:
    dominators: tuple[PassThrough, ...]
    pass_through: tuple[PassThrough, ...]
    countries: dict[str, float]
    upstream_link_count: int
    graph_version: int


@dataclass(frozen=True)
class CompanyChange:
    company_id: str
    country: str
    baseline_score: float
    score: float
    baseline_level: str
    level: str
    disruption_change: float
    tariff_cost_change: float
    tariff_impact_change_usd: float


@dataclass(frozen=True)
class Comparison:
    changes: tuple[CompanyChange, ...]
    companies_level_up: int
    companies_level_down: int
    total_tariff_impact_change_usd: float
    total_size: int
    baseline_context: ScoreContext
    context: ScoreContext


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


@dataclass(frozen=True)
class PortfolioSummary:
    rows_scored: int
    rows_refused: int
    total_spend_usd: float
    disruption: float
    tariff_cost: float
    tariff_impact_usd: float
    spend_at_risk_by_material: dict[str, float]
    spend_at_risk_by_origin: dict[str, float]
    spend_at_risk_by_measure: dict[str, float]
    face_value_china_share: float
    look_through_china_share: float


def from_message(cls: type[T], message: Any) -> T:
    """The dataclass `cls` filled from the message's fields of the same names."""
    return cls(**{name: convert(message) for name, convert in _converters(cls)})  # type: ignore[arg-type]


@functools.cache
def _converters(cls: type) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Each field's name and how to read it from a message, worked out once per class (resolving annotations is
    slow, and results are read on every call)."""
    hints = get_type_hints(cls)
    return tuple((field.name, _converter(hints[field.name], field.name)) for field in fields(cls))


def _converter(hint: Any, name: str) -> Callable[[Any], Any]:
    read = operator.attrgetter(name)
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):  # `X | None`: a message field that may be unset
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return lambda message: from_message(inner, read(message)) if message.HasField(name) else None
    if _is_result(hint):
        return lambda message: from_message(hint, read(message))
    if origin is tuple:
        item = get_args(hint)[0]
        if _is_result(item):
            return lambda message: tuple(from_message(item, element) for element in read(message))
        return lambda message: tuple(item(element) for element in read(message))
    if origin is dict:
        return lambda message: {pair.key: pair.value for pair in read(message)}
    return lambda message: hint(read(message))


def _is_result(hint: Any) -> bool:
    return isinstance(hint, type) and is_dataclass(hint)
