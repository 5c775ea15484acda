"""PolicyService: validate the request, call the core, convert the answer."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
from chokepoint.v1 import policy_pb2, policy_pb2_grpc

from server.core.evaluation import evaluate_shipment
from server.core.measure_queries import list_measures
from server.core.policy_files import scenario_from_json
from server.core.policy_store import PolicyStore
from server.core.scenarios import CURRENT, ScenarioBook
from server.core.shipments import build_shipment, parse_day
from server.core.taxonomy import index_taxonomy
from server.rpc import paging, validation
from server.rpc.bridge import CallContext
from server.rpc.limits import Limits, refuse_large_scenario
from server.rpc.policy_convert import (
    CONTROL_AUTHORITY_FILTER,
    TARIFF_AUTHORITY_FILTER,
    evaluation_message,
    measure_message,
    scenario_document,
    scenario_message,
)


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    def __init__(self, store: PolicyStore, taxonomy: pl.DataFrame, limits: Limits) -> None:
        self._store = store
        self._taxonomy = index_taxonomy(taxonomy)
        self._limits = limits

    def GetScenario(
        self, request: policy_pb2.GetScenarioRequest, context: CallContext
    ) -> policy_pb2.GetScenarioResponse:
        snapshot = self._store.snapshot
        book, version = snapshot.book, snapshot.version
        scenario = book.get(validation.required(request.name, "name"))
        return policy_pb2.GetScenarioResponse(
            scenario=self._message(book, scenario.name, full=request.view == policy_pb2.POLICY_VIEW_FULL),
            policy_version=version,
        )

    def ListScenarios(
        self, request: policy_pb2.ListScenariosRequest, context: CallContext
    ) -> policy_pb2.ListScenariosResponse:
        after = paging.decode_token(request.page_token, filters=(), key_length=1)
        snapshot = self._store.snapshot
        book, version = snapshot.book, snapshot.version
        names = sorted(name for name in book.scenarios if after is None or name > after[0])
        size = paging.page_size(request.page_size, maximum=self._limits.max_page_size)
        page = names[:size]
        return policy_pb2.ListScenariosResponse(
            scenarios=[self._message(book, name, full=False) for name in page],
            next_page_token=paging.token_after((page[-1],) if len(names) > size else None, filters=()),
            policy_version=version,
        )

    def CreateScenario(
        self, request: policy_pb2.CreateScenarioRequest, context: CallContext
    ) -> policy_pb2.CreateScenarioResponse:
        scenario = scenario_from_json(scenario_document(request.scenario), where="scenario")
        refuse_large_scenario(scenario, self._limits)
        version = self._store.create(scenario, request_id=validation.request_id(request.request_id))
        return policy_pb2.CreateScenarioResponse(
            scenario=self._message(self._store.snapshot.book, scenario.name, full=True), policy_version=version
        )

    def UpdateScenario(
        self, request: policy_pb2.UpdateScenarioRequest, context: CallContext
    ) -> policy_pb2.UpdateScenarioResponse:
        scenario = scenario_from_json(scenario_document(request.scenario), where="scenario")
        refuse_large_scenario(scenario, self._limits)
        version = self._store.update(scenario, request_id=validation.request_id(request.request_id))
        return policy_pb2.UpdateScenarioResponse(
            scenario=self._message(self._store.snapshot.book, scenario.name, full=True), policy_version=version
        )

    def DeleteScenario(
        self, request: policy_pb2.DeleteScenarioRequest, context: CallContext
    ) -> policy_pb2.DeleteScenarioResponse:
        return policy_pb2.DeleteScenarioResponse(
            policy_version=self._store.delete(
                validation.required(request.name, "name"), request_id=validation.request_id(request.request_id)
            )
        )

    def ListMeasures(
        self, request: policy_pb2.ListMeasuresRequest, context: CallContext
    ) -> policy_pb2.ListMeasuresResponse:
        filters = (
            request.scenario,
            str(request.tariff_authority),
            str(request.control_authority),
            request.country,
            request.hs_prefix,
            request.in_force_on,
        )
        after = paging.decode_token(request.page_token, filters=filters, key_length=1)
        snapshot = self._store.snapshot
        book, version = snapshot.book, snapshot.version
        policy = book.resolve(request.scenario or CURRENT)
        day = parse_day(request.in_force_on, field="in_force_on", default=_today())
        page = list_measures(
            policy,
            tariff_authority=TARIFF_AUTHORITY_FILTER.get(request.tariff_authority),
            control_authority=CONTROL_AUTHORITY_FILTER.get(request.control_authority),
            country=request.country,
            hs_prefix=request.hs_prefix.replace(".", ""),
            on=day,
            only_in_force=bool(request.in_force_on),
            after=after[0] if after else None,
            limit=paging.page_size(request.page_size, maximum=self._limits.max_page_size),
        )
        full = request.view == policy_pb2.POLICY_VIEW_FULL
        last = (page.measures[-1][0].measure_id,) if page.has_more else None
        return policy_pb2.ListMeasuresResponse(
            measures=[measure_message(measure, status, full=full) for measure, status in page.measures],
            next_page_token=paging.token_after(last, filters=filters),
            total_size=page.total_size,
            policy_version=version,
        )

    def EvaluateLink(
        self, request: policy_pb2.EvaluateLinkRequest, context: CallContext
    ) -> policy_pb2.EvaluateLinkResponse:
        snapshot = self._store.snapshot
        book, version = snapshot.book, snapshot.version
        name = request.scenario or CURRENT
        policy = book.resolve(name)
        day = parse_day(request.as_of_date, field="as_of_date", default=_today())
        shipment = build_shipment(
            hs_code=validation.required(request.hs_code, "hs_code"),
            origin_country=validation.required(request.origin_country, "origin_country"),
            shipping_country=request.shipping_country,
            buyer_country=validation.required(request.buyer_country, "buyer_country"),
            route=tuple(request.route),
            buyer_lists=tuple(request.buyer_lists),
            taxonomy=self._taxonomy,
        )
        return evaluation_message(
            evaluate_shipment(policy, shipment, on=day),
            derived_tags=sorted(shipment.tags),
            transshipment=shipment.transshipment,
            scenario=name,
            as_of_date=day.isoformat(),
            policy_version=version,
        )

    def _message(self, book: ScenarioBook, name: str, *, full: bool) -> policy_pb2.Scenario:
        resolved = book.resolve(name)
        return scenario_message(book.get(name), full=full, measure_count=len(resolved.tariffs) + len(resolved.controls))


def _today() -> date:
    return datetime.now(UTC).date()
