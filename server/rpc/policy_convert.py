"""Policy proto messages <-> the core's policy model. Requests go through the core's JSON form, so a scenario
sent over gRPC and one read from a file are checked by the same code."""

from __future__ import annotations

from typing import Any

from chokepoint.v1 import policy_pb2
from google.protobuf import json_format

from server.core.evaluation import Evaluation
from server.core.measure_queries import Measure
from server.core.policy import (
    ControlAuthority,
    ExportControl,
    ParameterSettings,
    Scenario,
    Severity,
    Status,
    TariffAuthority,
    TariffMeasure,
    Validity,
)


def _enum_name(enum_type: Any, value: int, prefix: str) -> str:
    """`TARIFF_AUTHORITY_MFN` -> `MFN`; unset values become "" so the core reports the field as required, and
    numbers this server does not know (proto3 enums are open) stay numbers so the core refuses them by value."""
    if value == 0:
        return ""
    if value not in enum_type.values():
        return str(value)
    return str(enum_type.Name(value)).removeprefix(prefix)


def scenario_document(message: policy_pb2.Scenario) -> dict[str, Any]:
    """A request's scenario in the core's JSON form (docs/policy.md)."""
    document: dict[str, Any] = {
        "name": message.name,
        "description": message.description,
        "base": message.base,
        "remove": list(message.remove),
        "changes": [json_format.MessageToDict(change) for change in message.changes],
        "tariffs": [_tariff_document(measure) for measure in message.tariffs],
        "export_controls": [_control_document(control) for control in message.export_controls],
    }
    if message.HasField("parameters"):
        parameters = message.parameters
        document["parameters"] = {
            "severity_weights": {
                _enum_name(policy_pb2.Severity, item.severity, "SEVERITY_"): item.weight
                for item in parameters.severity_weights
            },
            "damping_default": parameters.damping_default if parameters.HasField("damping_default") else None,
            "pass_through_default": (
                parameters.pass_through_default if parameters.HasField("pass_through_default") else None
            ),
            "use_alternative_rates": (
                parameters.use_alternative_rates if parameters.HasField("use_alternative_rates") else None
            ),
        }
    return document


def _validity_document(validity: policy_pb2.Validity) -> dict[str, Any]:
    return {
        "effective_from": validity.effective_from,
        "effective_until": validity.effective_until,
        "suspended": [f"{period.start}..{period.end}" for period in validity.suspended],
        "voided_on": validity.voided_on,
    }


def _tariff_document(measure: policy_pb2.TariffMeasure) -> dict[str, Any]:
    return {
        "measure_id": measure.measure_id,
        "title": measure.title,
        "authority": _enum_name(policy_pb2.TariffAuthority, measure.authority, "TARIFF_AUTHORITY_"),
        "program": measure.program,
        "importer": measure.importer,
        "origins": list(measure.origins),
        "lines": [{"hs_prefix": line.hs_prefix, "rate_fraction": line.rate_fraction} for line in measure.lines],
        "alternative_rate_fraction": (
            measure.alternative_rate_fraction if measure.HasField("alternative_rate_fraction") else None
        ),
        **_validity_document(measure.validity),
        "source": measure.source,
        "note": measure.note,
    }


def _control_document(control: policy_pb2.ExportControl) -> dict[str, Any]:
    return {
        "measure_id": control.measure_id,
        "title": control.title,
        "authority": _enum_name(policy_pb2.ControlAuthority, control.authority, "CONTROL_AUTHORITY_"),
        "controlling_country": control.controlling_country,
        "hs_prefixes": list(control.hs_prefixes),
        "tags": list(control.tags),
        "destinations": list(control.destinations),
        "target_lists": list(control.target_lists),
        "severity": _enum_name(policy_pb2.Severity, control.severity, "SEVERITY_"),
        **_validity_document(control.validity),
        "source": control.source,
        "note": control.note,
    }


def validity_message(validity: Validity) -> policy_pb2.Validity:
    return policy_pb2.Validity(
        effective_from=validity.effective_from.isoformat(),
        effective_until=validity.effective_until.isoformat() if validity.effective_until else "",
        suspended=[
            policy_pb2.Period(start=p.start.isoformat(), end=p.end.isoformat() if p.end else "")
            for p in validity.suspended
        ],
        voided_on=validity.voided_on.isoformat() if validity.voided_on else "",
    )


def tariff_message(measure: TariffMeasure, *, full: bool) -> policy_pb2.TariffMeasure:
    message = policy_pb2.TariffMeasure(
        measure_id=measure.measure_id,
        title=measure.title,
        authority=TARIFF_AUTHORITIES[measure.authority],
        program=measure.program,
        importer=measure.importer,
        origins=sorted(measure.origins),
        lines=[policy_pb2.TariffLine(hs_prefix=p, rate_fraction=r) for p, r in sorted(measure.lines.items())]
        if full
        else [],
        validity=validity_message(measure.validity),
        source=measure.source,
        note=measure.note,
        line_count=len(measure.lines),
    )
    if measure.alternative_rate_fraction is not None:
        message.alternative_rate_fraction = measure.alternative_rate_fraction
    return message


def control_message(control: ExportControl) -> policy_pb2.ExportControl:
    return policy_pb2.ExportControl(
        measure_id=control.measure_id,
        title=control.title,
        authority=CONTROL_AUTHORITIES[control.authority],
        controlling_country=control.controlling_country,
        hs_prefixes=control.hs_prefixes,
        tags=sorted(control.tags),
        destinations=sorted(control.destinations),
        target_lists=sorted(control.target_lists),
        severity=SEVERITIES[control.severity],
        validity=validity_message(control.validity),
        source=control.source,
        note=control.note,
    )


def parameters_message(parameters: ParameterSettings) -> policy_pb2.ScoringParameters:
    """The parameters the scenario sets; unset ones stay unset on the wire (inherited from the base)."""
    return policy_pb2.ScoringParameters(
        severity_weights=[
            policy_pb2.SeverityWeight(severity=SEVERITIES[severity], weight=weight)
            for severity, weight in parameters.severity_weights.items()
        ],
        damping_default=parameters.damping_default,
        pass_through_default=parameters.pass_through_default,
        use_alternative_rates=parameters.use_alternative_rates,
    )


def scenario_message(scenario: Scenario, *, full: bool, measure_count: int) -> policy_pb2.Scenario:
    message = policy_pb2.Scenario(
        name=scenario.name,
        description=scenario.description,
        base=scenario.base or "",
        remove=scenario.remove,
        built_in=scenario.built_in,
        measure_count=measure_count,
    )
    for change in scenario.changes:
        json_format.ParseDict(dict(change), message.changes.add())
    if full:
        message.tariffs.extend(tariff_message(measure, full=True) for measure in scenario.tariffs)
        message.export_controls.extend(control_message(control) for control in scenario.controls)
    if scenario.parameters != ParameterSettings():
        message.parameters.CopyFrom(parameters_message(scenario.parameters))
    return message


def measure_message(measure: Measure, status: Status, *, full: bool) -> policy_pb2.Measure:
    if isinstance(measure, TariffMeasure):
        return policy_pb2.Measure(tariff=tariff_message(measure, full=full), status=status.value)
    return policy_pb2.Measure(export_control=control_message(measure), status=status.value)


def evaluation_message(evaluation: Evaluation, **context: Any) -> policy_pb2.EvaluateLinkResponse:
    return policy_pb2.EvaluateLinkResponse(
        tariffs=[
            policy_pb2.AppliedTariff(
                measure_id=applied.measure.measure_id,
                title=applied.measure.title,
                authority=TARIFF_AUTHORITIES[applied.measure.authority],
                program=applied.measure.program,
                hs_prefix=applied.hs_prefix,
                rate_fraction=applied.rate_fraction,
                source=applied.measure.source,
            )
            for applied in evaluation.tariffs
        ],
        tariff_rate_fraction=evaluation.tariff_rate_fraction,
        export_controls=[
            policy_pb2.AppliedControl(
                measure_id=applied.measure.measure_id,
                title=applied.measure.title,
                authority=CONTROL_AUTHORITIES[applied.measure.authority],
                severity=SEVERITIES[applied.measure.severity],
                weight=applied.weight,
                matched_on=applied.matched_on,
                source=applied.measure.source,
            )
            for applied in evaluation.controls
        ],
        hazard=evaluation.hazard,
        inactive_measures=[
            policy_pb2.InactiveMeasure(measure_id=item.measure_id, title=item.title, status=item.status)
            for item in evaluation.inactive
        ],
        **context,
    )


TARIFF_AUTHORITIES = {a: policy_pb2.TariffAuthority.Value(f"TARIFF_AUTHORITY_{a.value}") for a in TariffAuthority}
CONTROL_AUTHORITIES = {a: policy_pb2.ControlAuthority.Value(f"CONTROL_AUTHORITY_{a.value}") for a in ControlAuthority}
SEVERITIES = {s: policy_pb2.Severity.Value(f"SEVERITY_{s.value}") for s in Severity}
TARIFF_AUTHORITY_FILTER = {value: authority for authority, value in TARIFF_AUTHORITIES.items()}
CONTROL_AUTHORITY_FILTER = {value: authority for authority, value in CONTROL_AUTHORITIES.items()}
