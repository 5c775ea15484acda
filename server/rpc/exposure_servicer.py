"""ExposureService: validate the request, fetch (or compute once) the whole-graph scores, convert the answer.

ScoreCompany, the hot read, answers from a cache of serialized responses keyed by the graph version, the policy
version, the day and the whole request: a repeated call skips the lookups, the conversion and the serialization.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pyarrow as pa
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc

from server.core import batch, exposure_queries
from server.core.caches import LruCache
from server.core.cancellation import Check
from server.core.chokepoints import find_chokepoints
from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.explain import Component, top_paths
from server.core.graph import Graph
from server.core.lookthrough import OriginShares, origin_shares
from server.core.policy import PolicySet
from server.core.policy_store import PolicySnapshot, PolicyStore
from server.core.queries import require_company
from server.core.scenarios import CURRENT
from server.core.scores import Scores, score_graph
from server.core.shipments import parse_day
from server.core.store import GraphStore
from server.core.validation import COUNTRY_CODES
from server.rpc import paging, validation
from server.rpc.bridge import CallContext, StreamedRequests
from server.rpc.cancellation import check_of, idle_bounded
from server.rpc.limits import Limits, bounded, refuse_over_limit

COMPONENTS = {
    exposure_pb2.SCORE_COMPONENT_UNSPECIFIED: "score",
    exposure_pb2.SCORE_COMPONENT_SCORE: "score",
    exposure_pb2.SCORE_COMPONENT_DISRUPTION: "disruption",
    exposure_pb2.SCORE_COMPONENT_TARIFF_COST: "tariff_cost",
    exposure_pb2.SCORE_COMPONENT_TARIFF_IMPACT: "tariff_impact",
}


def _answer_key(graph: Graph, policies: PolicySnapshot, request: exposure_pb2.ScoreCompanyRequest) -> tuple[Any, str]:
    """ScoreCompany's cache key, and the day it answers for. The key holds everything the answer depends on: the
    versions, the day and every request field. An empty date means today: resolved once here, so the key and the
    answer name the same day."""
    as_of = request.as_of_date or datetime.now(UTC).date().isoformat()
    return (graph.version, policies.version, as_of, request.SerializeToString(deterministic=True)), as_of


class ExposureServicer(exposure_pb2_grpc.ExposureServiceServicer):
    def __init__(
        self,
        graphs: GraphStore,
        policies: PolicyStore,
        limits: Limits,
        *,
        scores: LruCache[Any, Scores],
        origins: LruCache[Any, OriginShares],
        answers: LruCache[Any, bytes],
        upload_idle_seconds: float,
    ) -> None:
        self._graphs = graphs
        self._policies = policies
        self._cache = scores
        self._origins = origins
        self._answers = answers
        self._limits = limits
        self._upload_idle_seconds = upload_idle_seconds

    def ScoreCompany(self, request: exposure_pb2.ScoreCompanyRequest, context: CallContext) -> bytes:
        """The serialized response (the handler sends bytes as they are; see `server.rpc.handlers`)."""
        graph, policies = self._graphs.graph, self._policies.snapshot
        key, as_of = _answer_key(graph, policies, request)
        check = check_of(context)
        # A failed call (unknown company, bad date) raises out of `get` and caches nothing.
        return self._answers.get(
            key,
            lambda: self._score_company(graph, policies, request, as_of, check=check).SerializeToString(),
            check=check,
        )

    def answered_score(self, request: exposure_pb2.ScoreCompanyRequest) -> bytes | None:
        """ScoreCompany's answer if it is cached, else None; cheap and non-blocking, so the server tries it on its
        event loop before handing the call to a worker thread."""
        return self._answers.cached(_answer_key(self._graphs.graph, self._policies.snapshot, request)[0])

    def _score_company(
        self,
        graph: Graph,
        policies: PolicySnapshot,
        request: exposure_pb2.ScoreCompanyRequest,
        as_of: str,
        *,
        check: Check,
    ) -> exposure_pb2.ScoreCompanyResponse:
        graph, scores, scenario_context = self._scores(
            request.scenario, as_of, request.overrides, graph=graph, policies=policies, check=check
        )
        index = require_company(graph, validation.required(request.company_id, "company_id"), field="company_id")
        materials = list(request.materials) or exposure_queries.bought_materials(graph, index)
        return exposure_pb2.ScoreCompanyResponse(
            score=_company_score(exposure_queries.company_breakdown(scores, index)),
            origins=[_origins(self._origin_shares(graph, index, material, check=check)) for material in materials],
            context=scenario_context,
        )

    def RankCompanies(
        self, request: exposure_pb2.RankCompaniesRequest, context: CallContext
    ) -> exposure_pb2.RankCompaniesResponse:
        component = COMPONENTS.get(request.order_by, "score")
        filters = (
            request.scenario,
            request.as_of_date,
            component,
            request.country,
            request.tag,
            str(request.overrides),
        )
        after = paging.decode_token(request.page_token, filters=filters, key_length=2)
        graph, scores, scenario_context = self._scores(
            request.scenario, request.as_of_date, request.overrides, check=check_of(context)
        )
        ranking = exposure_queries.rank_companies(
            graph,
            scores,
            component=component,
            country=request.country,
            tag=request.tag,
            after=after,
            limit=paging.page_size(request.page_size, maximum=self._limits.max_page_size),
        )
        rows = ranking.rows.to_dicts()
        last = exposure_queries.rank_key(rows[-1], component) if ranking.has_more else None
        return exposure_pb2.RankCompaniesResponse(
            scores=[_company_score(exposure_queries.CompanyBreakdown(row, [], [])) for row in rows],
            next_page_token=paging.token_after(last, filters=filters),
            total_size=ranking.total_size,
            context=scenario_context,
        )

    def ExplainExposure(
        self, request: exposure_pb2.ExplainExposureRequest, context: CallContext
    ) -> exposure_pb2.ExplainExposureResponse:
        limit = bounded(request.limit, "limit", default=10, maximum=self._limits.max_paths)
        depth = bounded(request.max_depth, "max_depth", default=6, maximum=self._limits.max_path_depth)
        check = check_of(context)
        policies = self._policies.snapshot  # the paths' measures come from the book the scores were computed on
        graph, scores, scenario_context = self._scores(
            request.scenario, request.as_of_date, request.overrides, check=check, policies=policies
        )
        index = require_company(graph, validation.required(request.company_id, "company_id"), field="company_id")
        component = (
            Component.TARIFF
            if request.component
            in (exposure_pb2.SCORE_COMPONENT_TARIFF_COST, exposure_pb2.SCORE_COMPONENT_TARIFF_IMPACT)
            else Component.DISRUPTION
        )
        paths = top_paths(graph, scores, index, component=component, limit=limit, max_depth=depth, check=check)
        policy = policies.book.resolve(scenario_context.scenario)
        full = request.view == exposure_pb2.EXPLAIN_VIEW_FULL
        total_column = "disruption" if component is Component.DISRUPTION else "tariff_cost"
        return exposure_pb2.ExplainExposureResponse(
            paths=[
                exposure_pb2.ExposurePath(
                    contribution=path.contribution,
                    links=[
                        _path_link(graph, scores, policy, row, tier=tier, component=component, full=full)
                        for tier, row in enumerate(path.rows, 1)
                    ],
                )
                for path in paths
            ],
            total=float(scores.companies[total_column][index]),
            explained=sum(path.contribution for path in paths),
            context=scenario_context,
        )

    def FindChokepoints(
        self, request: exposure_pb2.FindChokepointsRequest, context: CallContext
    ) -> exposure_pb2.FindChokepointsResponse:
        limit = bounded(request.limit, "limit", default=10, maximum=self._limits.max_paths)
        graph = self._graphs.graph
        index = require_company(graph, validation.required(request.company_id, "company_id"), field="company_id")
        found = find_chokepoints(graph, index, material=request.material or None, top=limit, check=check_of(context))
        ids, countries = graph.companies["company_id"], graph.companies["country"]
        share_of = dict(found.pass_through)
        return exposure_pb2.FindChokepointsResponse(
            dominators=[
                exposure_pb2.PassThrough(company_id=ids[node], country=countries[node], share=share_of.get(node, 1.0))
                for node in found.dominators
            ],
            pass_through=[
                exposure_pb2.PassThrough(company_id=ids[node], country=countries[node], share=share)
                for node, share in found.pass_through
            ],
            countries=[exposure_pb2.KeyValue(key=country, value=share) for country, share in found.countries],
            upstream_link_count=found.upstream_links,
            graph_version=graph.version,
        )

    def CompareScenarios(
        self, request: exposure_pb2.CompareScenariosRequest, context: CallContext
    ) -> exposure_pb2.CompareScenariosResponse:
        component = COMPONENTS.get(request.order_by, "score")
        filters = (
            request.baseline_scenario,
            request.baseline_as_of_date,
            request.scenario,
            request.as_of_date,
            component,
        )
        after = paging.decode_token(request.page_token, filters=filters, key_length=2)
        graph, policies = self._graphs.graph, self._policies.snapshot  # both sides on one graph and one book
        check = check_of(context)
        _, baseline, baseline_context = self._scores(
            request.baseline_scenario, request.baseline_as_of_date, None, graph=graph, policies=policies, check=check
        )
        _, compared, compared_context = self._scores(
            request.scenario, request.as_of_date, None, graph=graph, policies=policies, check=check
        )
        comparison = exposure_queries.compare_scores(
            baseline,
            compared,
            component=component,
            after=after,
            limit=paging.page_size(request.page_size, maximum=self._limits.max_page_size),
        )
        rows = comparison.rows.to_dicts()
        last = exposure_queries.change_key(rows[-1]) if comparison.has_more else None
        return exposure_pb2.CompareScenariosResponse(
            changes=[
                exposure_pb2.CompanyChange(
                    company_id=row["company_id"],
                    country=row["country"],
                    baseline_score=row["baseline_score"],
                    score=row["score"],
                    baseline_level=row["baseline_level"],
                    level=row["level"],
                    disruption_change=row["disruption_change"],
                    tariff_cost_change=row["tariff_cost_change"],
                    tariff_impact_change_usd=row["tariff_impact_change_usd"],
                )
                for row in rows
            ],
            next_page_token=paging.token_after(last, filters=filters),
            companies_level_up=comparison.level_up,
            companies_level_down=comparison.level_down,
            total_tariff_impact_change_usd=comparison.total_impact_change_usd,
            total_size=comparison.total_size,
            baseline_context=baseline_context,
            context=compared_context,
        )

    def ScoreSupplierList(
        self, request_iterator: StreamedRequests[exposure_pb2.ScoreSupplierListRequest], context: CallContext
    ) -> Iterator[exposure_pb2.ScoreSupplierListResponse]:
        settings: tuple[Graph, Scores, exposure_pb2.ScoreContext, PolicySet, str, bool] | None = None
        next_row, refused = 1, 0
        scored_parts: list[pl.DataFrame] = []
        check = check_of(context)
        requests = idle_bounded(request_iterator, seconds=self._upload_idle_seconds)
        for index, request in enumerate(requests):
            check()
            if settings is None:
                policies = self._policies.snapshot
                graph, scores, scenario_context = self._scores(
                    request.scenario, request.as_of_date, None, policies=policies, check=check
                )
                buyer_country = request.buyer_country
                if buyer_country and buyer_country not in COUNTRY_CODES:
                    message = f"buyer_country: must be an ISO 3166-1 alpha-2 code, got {buyer_country!r}"
                    raise InvalidArgumentError(message, violations=[FieldViolation("buyer_country", message)])
                policy = policies.book.resolve(scenario_context.scenario)
                settings = (graph, scores, scenario_context, policy, buyer_country, request.strict)
            graph, scores, scenario_context, policy, buyer_country, strict = settings
            raw = supplier_rows_table(request.rows_arrow_ipc, index=index, limit=self._limits.max_batch_items)
            refuse_over_limit(
                "rows: rows per supplier list",
                count=next_row - 1 + raw.height,
                limit=self._limits.max_supplier_list_rows,
                setting="max_supplier_list_rows",
                advice="score the list in several calls",
            )
            good, errors = batch.validate_rows(raw, first_row=next_row, buyer_country=buyer_country)
            next_row += raw.height
            if errors and strict:
                violations = [FieldViolation(f"rows[{e.row}].{e.column}", e.message) for e in errors[:50]]
                raise InvalidArgumentError(f"strict: {errors[0].message}", violations=violations, reason="INVALID_ROWS")
            scored = batch.score_rows(
                graph,
                scores,
                batch.match_suppliers(graph, good),
                policy,
                taxonomy=self._graphs.taxonomy,
                on=date.fromisoformat(scenario_context.as_of_date),
            )
            scored_parts.append(scored)
            refused += len(errors)
            yield exposure_pb2.ScoreSupplierListResponse(
                rows_arrow_ipc=scored_rows_ipc(scored),
                errors=[exposure_pb2.RowError(row=e.row, column=e.column, message=e.message) for e in errors],
                context=scenario_context,
            )
        if settings is None:
            _, _, scenario_context = self._scores("", "", None, check=check)
            portfolio = batch.summarise_portfolio(batch.empty_scored())
        else:
            scenario_context = settings[2]
            everything = pl.concat(scored_parts)
            portfolio = batch.summarise_portfolio(
                everything, look_through_china=batch.look_through_china_share(settings[0], everything, check=check)
            )
        yield exposure_pb2.ScoreSupplierListResponse(
            summary=portfolio_message(portfolio, refused=refused), context=scenario_context
        )

    def _origin_shares(self, graph: Graph, index: int, material: str, *, check: Check) -> OriginShares:
        """Look-through origins, computed per query on the upstream part, then kept for this graph version."""
        return self._origins.get(
            (graph.version, index, material), lambda: origin_shares(graph, index, material, check=check), check=check
        )

    def _scores(
        self,
        scenario: str,
        as_of: str,
        overrides: exposure_pb2.ScoringOverrides | None,
        *,
        check: Check,
        graph: Graph | None = None,
        policies: PolicySnapshot | None = None,
    ) -> tuple[Graph, Scores, exposure_pb2.ScoreContext]:
        """The cached whole-graph scores for this request, with the graph they belong to and their context; a
        computation stopped by `check` is not cached. One policy snapshot gives both the book and the version that
        keys the cache."""
        graph = graph or self._graphs.graph
        snapshot = policies or self._policies.snapshot
        book, policy_version = snapshot.book, snapshot.version
        name = scenario or CURRENT
        policy = book.resolve(name)
        day = parse_day(as_of, field="as_of_date", default=datetime.now(UTC).date())
        damping = _fraction(overrides, "damping")
        pass_through = _fraction(overrides, "pass_through")
        key = (graph.version, name, policy_version, day, damping, pass_through)

        def compute() -> Scores:
            # Tables of versions this one replaced are never read again (see server.core.caches).
            self._cache.discard(lambda scores: scores.graph_version < graph.version)
            # A what-if usually changes one family of measures: the other component comes from any score table
            # of this graph version whose per-link inputs for it are the same (score_graph checks).
            base = self._cache.latest(lambda scores: scores.graph_version == graph.version)
            return score_graph(
                graph, policy, on=day, damping=damping, pass_through=pass_through, check=check, reuse=base
            )

        scores = self._cache.get(key, compute, check=check)
        scenario_context = _context(
            name,
            day,
            graph_version=graph.version,
            policy_version=policy_version,
            policy=policy,
            damping=damping,
            pass_through=pass_through,
        )
        scenario_context.converged = scores.converged
        return graph, scores, scenario_context


TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view, pa.types.is_null)
NUMBER_TYPES = (pa.types.is_floating, pa.types.is_integer, pa.types.is_null)


def supplier_rows_table(data: bytes, *, index: int, limit: int) -> pl.DataFrame:
    """A batch's Arrow IPC stream as a table of the supplier-list columns (a column left out is absent in every
    row); an unreadable stream, an unknown column or a column of the wrong type is INVALID_ARGUMENT naming it."""
    field = f"requests[{index}].rows_arrow_ipc"
    table = _read_ipc(data, field=field) if data else pa.table({})
    refuse_over_limit(
        f"{field}: rows per message",
        count=table.num_rows,
        limit=limit,
        setting="max_batch_items",
        advice="send the list in more, smaller messages",
    )
    for name, kind in zip(table.schema.names, table.schema.types, strict=True):
        if name not in batch.BATCH_COLUMNS or table.schema.names.count(name) > 1:
            problem = "is not a supplier-list column" if name not in batch.BATCH_COLUMNS else "appears twice"
            message = f"{field}: column {name!r} {problem} (columns: {', '.join(batch.BATCH_COLUMNS)})"
            raise InvalidArgumentError(message, violations=[FieldViolation(f"{field}.{name}", message)])
        accepted = NUMBER_TYPES if name == "annual_spend_usd" else TEXT_TYPES
        if not any(accepts(kind) for accepts in accepted):
            wanted = "a number" if name == "annual_spend_usd" else "text"
            message = f"{field}: column {name!r} must be {wanted}, got Arrow type {kind}"
            raise InvalidArgumentError(message, violations=[FieldViolation(f"{field}.{name}", message)])
    rows = pl.DataFrame(table)
    columns = []
    for name in batch.BATCH_COLUMNS:
        dtype = pl.Float64 if name == "annual_spend_usd" else pl.String
        absent = pl.repeat(None, rows.height, dtype=dtype, eager=True).alias(name)
        columns.append(rows[name].cast(dtype) if name in rows.columns else absent)
    return pl.DataFrame(columns)


def _read_ipc(data: bytes, *, field: str) -> pa.Table:
    """The table of one Arrow IPC stream, fully validated: Polars trusts the buffers it is handed."""
    try:
        table = pa.ipc.open_stream(data).read_all()
        table.validate(full=True)
    except (pa.ArrowException, ValueError, OSError) as error:
        message = f"{field}: not a readable Arrow IPC stream ({error})"
        raise InvalidArgumentError(message, violations=[FieldViolation(field, message)]) from None
    return table


# The scored columns travel under their output names (docs/batch.md), absent ids as empty strings.
SCORED_COLUMNS = (
    pl.col("row"),
    pl.col("matched_company_id").fill_null(""),
    pl.col("match").alias("match_method"),
    pl.col("effective_origin_country"),
    pl.col("transshipment"),
    pl.col("hazard"),
    pl.col("tariff_rate"),
    pl.col("export_control_exposure"),
    pl.col("tariff_cost"),
    pl.col("tariff_impact_usd"),
    pl.col("top_control_id").fill_null(""),
    pl.col("tariff_measure_ids").list.join(";"),
)


def scored_rows_ipc(scored: pl.DataFrame) -> bytes:
    """A batch's scored rows as one Arrow IPC stream (plain `large_string` text, readable by any Arrow library)."""
    stream = io.BytesIO()
    scored.select(SCORED_COLUMNS).write_ipc_stream(stream, compat_level=pl.CompatLevel.oldest())
    return stream.getvalue()


def portfolio_message(portfolio: batch.Portfolio, *, refused: int) -> exposure_pb2.PortfolioSummary:
    return exposure_pb2.PortfolioSummary(
        rows_scored=portfolio.rows_scored,
        rows_refused=refused,
        total_spend_usd=portfolio.total_spend_usd,
        disruption=portfolio.disruption,
        tariff_cost=portfolio.tariff_cost,
        tariff_impact_usd=portfolio.tariff_impact_usd,
        spend_at_risk_by_material=_pairs(list(portfolio.spend_at_risk_by_material.items())),
        spend_at_risk_by_origin=_pairs(list(portfolio.spend_at_risk_by_origin.items())),
        spend_at_risk_by_measure=_pairs(list(portfolio.spend_at_risk_by_measure.items())),
        face_value_china_share=portfolio.face_value_china_share,
        look_through_china_share=portfolio.look_through_china_share,
    )


def _context(
    name: str,
    day: date,
    *,
    graph_version: int,
    policy_version: str,
    policy: PolicySet,
    damping: float | None,
    pass_through: float | None,
) -> exposure_pb2.ScoreContext:
    return exposure_pb2.ScoreContext(
        scenario=name,
        as_of_date=day.isoformat(),
        graph_version=graph_version,
        policy_version=policy_version,
        damping_default=policy.parameters.damping_default if damping is None else damping,
        pass_through=policy.parameters.pass_through_default if pass_through is None else pass_through,
    )


def _fraction(overrides: exposure_pb2.ScoringOverrides | None, field: str) -> float | None:
    if overrides is None or not overrides.HasField(field):
        return None
    value = float(getattr(overrides, field))
    if not 0.0 <= value <= 1.0:
        message = f"overrides.{field}: must be in [0, 1], got {value}"
        raise InvalidArgumentError(message, violations=[FieldViolation(f"overrides.{field}", message)])
    return value


def _pairs(items: list[tuple[str, float]]) -> list[exposure_pb2.KeyValue]:
    return [exposure_pb2.KeyValue(key=key, value=value) for key, value in items]


def _company_score(breakdown: exposure_queries.CompanyBreakdown) -> exposure_pb2.CompanyScore:
    row = breakdown.row
    return exposure_pb2.CompanyScore(
        company_id=row["company_id"],
        country=row["country"],
        disruption=row["disruption"],
        disruption_tier1=row["disruption_tier1"],
        disruption_tier2=row["disruption_tier2"],
        disruption_tier3_plus=row["disruption_tier3_plus"],
        disruption_by_material=_pairs(breakdown.by_material),
        disruption_by_country=_pairs(breakdown.by_country),
        tariff_cost=row["tariff_cost"],
        tariff_tier1=row["tariff_tier1"],
        tariff_tier2=row["tariff_tier2"],
        tariff_tier3_plus=row["tariff_tier3_plus"],
        input_spend_usd=row["input_spend_usd"],
        tariff_impact_usd=row["tariff_impact_usd"],
        score=row["score"],
        level=row["level"],
    )


def _origins(shares: OriginShares) -> exposure_pb2.OriginShares:
    return exposure_pb2.OriginShares(
        material=shares.material,
        face_value=_pairs(list(shares.face_value.items())),
        look_through=_pairs(list(shares.look_through.items())),
        face_value_hhi=shares.face_value_hhi,
        look_through_hhi=shares.look_through_hhi,
        coverage=shares.coverage,
    )


def _path_link(
    graph: Graph, scores: Scores, policy: PolicySet, row: int, *, tier: int, component: Component, full: bool
) -> exposure_pb2.PathLink:
    link = graph.link_row(row)
    fired = scores.links.row(row)

    def measure(measure_id: str) -> exposure_pb2.FiredMeasure:
        found = policy.tariffs.get(measure_id) or policy.controls.get(measure_id)
        if not full or found is None:
            return exposure_pb2.FiredMeasure(measure_id=measure_id)
        return exposure_pb2.FiredMeasure(measure_id=measure_id, title=found.title, source=found.source)

    message = exposure_pb2.PathLink(
        tier=tier,
        supplier_id=link["supplier_id"],
        buyer_id=link["buyer_id"],
        hs_code=link["hs_code"],
        annual_value_usd=link["annual_value_usd"],
        input_share=fired["w"],
        origin_country=link["effective_origin_country"],
        route=link["route"],
        hazard=fired["hazard"],
        tariff_rate=fired["tariff_rate"],
        carry=fired["damping"] * (1 - fired["hazard"]) if component is Component.DISRUPTION else fired["pass_through"],
        tariffs=[measure(measure_id) for measure_id in fired["tariff_ids"]],
        derived_tags=link["derived_tags"],
    )
    if fired["control_id"] is not None:
        message.control.CopyFrom(measure(fired["control_id"]))
    return message
