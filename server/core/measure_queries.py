"""Listing the measures of a resolved scenario: filters, statuses as of a day, key-ordered pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.core.policy import ControlAuthority, ExportControl, PolicySet, Status, TariffAuthority, TariffMeasure

Measure = TariffMeasure | ExportControl


@dataclass(frozen=True)
class MeasurePage:
    measures: list[tuple[Measure, Status]]
    has_more: bool
    total_size: int


def list_measures(
    policy: PolicySet,
    *,
    tariff_authority: TariffAuthority | None,
    control_authority: ControlAuthority | None,
    country: str,
    hs_prefix: str,
    on: date,
    only_in_force: bool,
    after: str | None,
    limit: int,
) -> MeasurePage:
    """Measures ordered by id. An authority filter of one kind excludes the other kind; `hs_prefix` keeps
    measures with a line (or control prefix) that covers, or falls under, that prefix."""
    measures: list[Measure] = []
    if control_authority is None:
        measures += [
            m
            for m in policy.tariffs.values()
            if (tariff_authority is None or m.authority is tariff_authority)
            and (not country or m.importer == country)
            and (not hs_prefix or any(_overlaps(line, hs_prefix) for line in m.lines))
        ]
    if tariff_authority is None:
        measures += [
            c
            for c in policy.controls.values()
            if (control_authority is None or c.authority is control_authority)
            and (not country or c.controlling_country == country)
            and (not hs_prefix or any(_overlaps(prefix, hs_prefix) for prefix in c.hs_prefixes))
        ]
    rows = sorted(
        ((m, m.validity.status(on)) for m in measures if not only_in_force or m.validity.in_force(on)),
        key=lambda item: item[0].measure_id,
    )
    remaining = [row for row in rows if after is None or row[0].measure_id > after]
    return MeasurePage(remaining[:limit], len(remaining) > limit, len(rows))


def _overlaps(line: str, prefix: str) -> bool:
    return line.startswith(prefix) or prefix.startswith(line)
