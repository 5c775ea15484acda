"""Scenarios: the built-in ones (the real regime `current` and shipped what-ifs) and user scenarios, resolved
through their bases into the measures they hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from server.core.errors import FailedPreconditionError, FieldViolation, InvalidArgumentError, NotFoundError
from server.core.memo import memoised
from server.core.policy import ExportControl, PolicySet, Scenario, ScoringParameters, TariffMeasure
from server.core.policy_files import LIBRARY_DIR, Library, apply_change, scenario_from_json

CURRENT = "current"
WHAT_IFS_PATH = LIBRARY_DIR / "scenarios.json"
MAX_BASE_DEPTH = 16


def _apply(
    tariffs: dict[str, TariffMeasure],
    controls: dict[str, ExportControl],
    change: Mapping[str, Any],
    *,
    where: str,
    field: str,
) -> None:
    measure_id = str(change["measure_id"])
    base = tariffs.get(measure_id) or controls.get(measure_id)
    if base is None:
        msg = f"{where}: measure {measure_id!r} is not in the base scenario"
        raise InvalidArgumentError(msg, violations=[FieldViolation(f"{field}.measure_id", msg)])
    changed = apply_change(base, change, where=where, field=field)
    if isinstance(changed, TariffMeasure):
        tariffs[measure_id] = changed
    else:
        controls[measure_id] = changed


def built_in_scenarios(library: Library, what_ifs: Path = WHAT_IFS_PATH) -> dict[str, Scenario]:
    """`current` (every library measure, evaluated as of the request date) and the what-ifs from `what_ifs`."""
    current = Scenario(
        name=CURRENT,
        description="The real regime: every measure of the built-in library, each in force on its own dates.",
        tariffs=tuple(library.tariffs.values()),
        controls=tuple(library.controls.values()),
        built_in=True,
    )
    documents = json.loads(what_ifs.read_text(encoding="utf-8"))
    scenarios = [
        replace(scenario_from_json(document, where=f"{what_ifs.name}[{index}]"), built_in=True)
        for index, document in enumerate(documents)
    ]
    return {scenario.name: scenario for scenario in (current, *scenarios)}


@dataclass(frozen=True)
class ScenarioBook:
    """Every scenario by name (built-in and user), and their resolution into policy sets."""

    scenarios: Mapping[str, Scenario]

    def get(self, name: str) -> Scenario:
        scenario = self.scenarios.get(name)
        if scenario is None:
            msg = f"scenario: {name!r} not found"
            raise NotFoundError(msg, reason="SCENARIO_NOT_FOUND")
        return scenario

    def resolve(self, name: str) -> PolicySet:
        """The measures and parameters of scenario `name`: its base's, minus `remove`, plus its own; each parameter
        it leaves unset is its base's (the defaults at the root).

        Resolved once per book (a book never changes; a scenario write makes a new one), so what a policy set
        derives (its tariff lines) is shared by every request. Two first callers may both resolve; both get an
        equal value."""
        return memoised(self, ("resolve", name), lambda: self._resolve(name))

    def _resolve(self, name: str) -> PolicySet:
        chain = [self.get(name)]
        while chain[-1].base is not None:
            if len(chain) > MAX_BASE_DEPTH or chain[-1].base in {s.name for s in chain}:
                msg = f"scenario {name!r}: its bases form a cycle or are deeper than {MAX_BASE_DEPTH}"
                raise FailedPreconditionError(msg, reason="SCENARIO_BASE_CYCLE")
            chain.append(self.get(chain[-1].base))
        tariffs: dict[str, TariffMeasure] = {}
        controls: dict[str, ExportControl] = {}
        parameters = ScoringParameters()
        for scenario in reversed(chain):
            for measure_id in scenario.remove:
                tariffs.pop(measure_id, None)
                controls.pop(measure_id, None)
            for index, change in enumerate(scenario.changes):
                _apply(
                    tariffs,
                    controls,
                    change,
                    where=f"scenario {scenario.name!r}, changes[{index}]",
                    field=f"scenario.changes[{index}]",
                )
            tariffs.update((measure.measure_id, measure) for measure in scenario.tariffs)
            controls.update((control.measure_id, control) for control in scenario.controls)
            parameters = scenario.parameters.over(parameters)
        return PolicySet(chain[0], tariffs, controls, parameters)

    def check_new(self, scenario: Scenario) -> None:
        """Refuse a user scenario that names a missing base, removes what its base lacks, or clashes with a
        built-in; called before it is stored."""
        existing = self.scenarios.get(scenario.name)
        if existing is not None and existing.built_in:
            msg = f"scenario.name: {scenario.name!r} is a built-in scenario and read-only"
            raise FailedPreconditionError(msg, reason="SCENARIO_BUILT_IN")
        if scenario.base is not None and scenario.base not in self.scenarios:
            msg = f"scenario.base: scenario {scenario.base!r} not found"
            raise InvalidArgumentError(msg, violations=[FieldViolation("scenario.base", msg)], reason="UNKNOWN_BASE")
        candidate = ScenarioBook({**self.scenarios, scenario.name: scenario})
        base = candidate.resolve(scenario.base) if scenario.base else None
        missing = [m for m in scenario.remove if base is None or (m not in base.tariffs and m not in base.controls)]
        if missing:
            index = scenario.remove.index(missing[0])
            msg = f"scenario.remove[{index}]: measure {missing[0]!r} is not in the base scenario"
            raise InvalidArgumentError(msg, violations=[FieldViolation(f"scenario.remove[{index}]", msg)])
        candidate.resolve(scenario.name)
