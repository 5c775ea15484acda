"""The bounds on one call's work, in one place (docs/limits.md has each with its setting and status code).

Two kinds, answered consistently:
- More data than the service accepts (items or rows in a message or stream, bytes uploaded, graph or scenario
  size after a write): RESOURCE_EXHAUSTED, with the count, the limit and the setting's name in the message.
- A request field outside its documented range: INVALID_ARGUMENT naming the field and its range (`limit`,
  `max_depth`, negative sizes), except `page_size`, which AIP-158 has clamped to its maximum: paging clients
  follow `next_page_token` and never depend on the page's length.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.core.errors import FieldViolation, InvalidArgumentError, ResourceExhaustedError
from server.core.policy import Scenario
from server.core.store import GraphSize


@dataclass(frozen=True)
class Limits:
    """Per-call limits; `server.config.Config` sets each from a flag or `CHOKEPOINT_*` variable."""

    max_batch_items: int = 100_000  # items in one upsert; rows in one ScoreSupplierList message
    max_supplier_list_rows: int = 1_000_000  # rows over a whole ScoreSupplierList stream
    max_import_bytes: int = 2 * 1024**3  # bytes over a whole ImportGraph stream
    max_graph_companies: int = 2_000_000  # companies the graph may hold after a write
    max_graph_links: int = 10_000_000  # links the graph may hold after a write
    max_scenario_measures: int = 1_000  # tariffs and export controls a user scenario defines
    max_scenario_lines: int = 100_000  # tariff lines and control HS prefixes over those measures
    max_page_size: int = 1_000  # larger page_size values are clamped to this
    max_paths: int = 100  # ExplainExposure / FindChokepoints `limit`: larger values are INVALID_ARGUMENT
    max_path_depth: int = 12  # ExplainExposure `max_depth`: larger values are INVALID_ARGUMENT

    @property
    def graph_size(self) -> GraphSize:
        return GraphSize(max_companies=self.max_graph_companies, max_links=self.max_graph_links)


def clamped(value: int, field: str, *, default: int, maximum: int) -> int:
    """A paging hint (AIP-158): 0 means `default`, above `maximum` is clamped to it, negative is refused."""
    if value < 0:
        message = f"{field}: must be >= 0, got {value}"
        raise InvalidArgumentError(message, violations=[FieldViolation(field, message)])
    return min(value or default, maximum)


def bounded(value: int, field: str, *, default: int, maximum: int) -> int:
    """A ranged request field: 0 means `default`; outside [0, maximum] is refused."""
    if value < 0 or value > maximum:
        message = f"{field}: must be between 0 and {maximum}, got {value}"
        raise InvalidArgumentError(message, violations=[FieldViolation(field, message)])
    return value or default


def refuse_over_limit(
    what: str, *, count: int, limit: int, setting: str, advice: str, reason: str = "LIMIT_EXCEEDED"
) -> None:
    """RESOURCE_EXHAUSTED when `count` is over `limit`, naming both and the setting that raises the limit."""
    if count > limit:
        message = f"{what}: at most {limit} ({setting}), got {count}; {advice}"
        raise ResourceExhaustedError(message, reason=reason)


def refuse_large_scenario(scenario: Scenario, limits: Limits) -> None:
    """A user scenario defining more measures or lines than the limits allow is refused whole."""
    refuse_over_limit(
        "scenario: measures (tariffs and export_controls)",
        count=len(scenario.tariffs) + len(scenario.controls),
        limit=limits.max_scenario_measures,
        setting="max_scenario_measures",
        advice="split it into a chain of scenarios with `base`",
        reason="SCENARIO_TOO_LARGE",
    )
    refuse_over_limit(
        "scenario: tariff lines and control hs_prefixes",
        count=sum(len(t.lines) for t in scenario.tariffs) + sum(len(c.hs_prefixes) for c in scenario.controls),
        limit=limits.max_scenario_lines,
        setting="max_scenario_lines",
        advice="use shorter HS prefixes or split it into a chain of scenarios with `base`",
        reason="SCENARIO_TOO_LARGE",
    )
