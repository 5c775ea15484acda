"""The thin, typed Chokepoint client: one method per RPC, page iterators, errors decoded into `ClientError`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc, policy_pb2, policy_pb2_grpc
from google.protobuf import json_format

from client.credentials import BearerTokenInterceptor
from client.errors import decode_error
from client.results import (
    Chokepoints,
    CompanyChange,
    CompanyScore,
    CompanyScoreResult,
    Comparison,
    Explanation,
    PortfolioSummary,
    RowError,
    ScoreContext,
    from_message,
)

T = TypeVar("T")
UPLOAD_CHUNK_BYTES = 1024**2
# Reads are idempotent: retry them on UNAVAILABLE. Writes are not retried here; pass a request_id and retry yourself.
_RETRY_READS = json.dumps(
    {
        "methodConfig": [
            {
                "name": [
                    {"service": "chokepoint.v1.GraphService", "method": method}
                    for method in ("GetCompany", "ListCompanies", "ListSupplyLinks", "ExportGraph", "GetGraphStats")
                ]
                + [
                    {"service": "chokepoint.v1.PolicyService", "method": method}
                    for method in ("GetScenario", "ListScenarios", "ListMeasures", "EvaluateLink")
                ]
                + [{"service": "chokepoint.v1.ExposureService"}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)
_FORMATS: dict[str, int] = {".csv": graph_pb2.FILE_FORMAT_CSV, ".parquet": graph_pb2.FILE_FORMAT_PARQUET}
_FORMAT_NAMES: dict[str, int] = {"csv": graph_pb2.FILE_FORMAT_CSV, "parquet": graph_pb2.FILE_FORMAT_PARQUET}


@dataclass(frozen=True)
class Company:
    company_id: str
    name: str
    country: str
    lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class SupplyLink:
    supplier_id: str
    buyer_id: str
    hs_code: str
    annual_value_usd: float
    origin_country: str = ""
    route: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    derived_tags: tuple[str, ...] = ()
    effective_origin_country: str = ""


@dataclass(frozen=True)
class WriteAck:
    """A committed write: the graph version it produced and what it did."""

    graph_version: int
    created: int = 0
    updated: int = 0
    deleted_links: int = 0
    company_count: int = 0
    link_count: int = 0


@dataclass(frozen=True)
class GraphStats:
    company_count: int
    link_count: int
    total_annual_value_usd: float
    countries: dict[str, int]
    lists: dict[str, int]
    tags: dict[str, int]
    graph_version: int


@dataclass(frozen=True)
class ExportedGraph:
    companies_path: Path
    links_path: Path
    graph_version: int


@dataclass(frozen=True)
class ScenarioSummary:
    name: str
    description: str
    base: str
    built_in: bool
    measure_count: int
    policy_version: str


@dataclass(frozen=True)
class MeasureSummary:
    measure_id: str
    kind: str
    authority: str
    country: str
    status: str
    title: str
    source: str


@dataclass(frozen=True)
class AppliedMeasure:
    """A measure that fired: for tariffs `level` is the authority and `value` the rate; for controls the severity
    and its weight. `matched` is the HS line or what tied the control to the shipment."""

    measure_id: str
    title: str
    level: str
    value: float
    matched: str
    source: str


@dataclass(frozen=True)
class LinkEvaluation:
    tariff_rate_fraction: float
    hazard: float
    tariffs: tuple[AppliedMeasure, ...]
    export_controls: tuple[AppliedMeasure, ...]
    inactive: tuple[tuple[str, str], ...]
    derived_tags: tuple[str, ...]
    transshipment: bool
    scenario: str
    as_of_date: str
    policy_version: str


# The supplier-list columns the service reads (docs/batch.md); the others stay with the caller.
SUPPLIER_COLUMNS = (
    "supplier_id",
    "supplier_name",
    "country",
    "hs_code",
    "annual_spend_usd",
    "origin_country",
    "route",
    "buyer_country",
)


@dataclass(frozen=True)
class BatchResult:
    """Scored rows (a Polars frame keyed by `row`), refused rows, the portfolio summary and the scoring context."""

    rows: Any
    errors: tuple[RowError, ...]
    summary: PortfolioSummary
    context: ScoreContext


class ChokepointClient:
    """A connection to one Chokepoint service. Use as a context manager, or call `close()`.

    `credentials` (see `client.credentials.tls_credentials`) makes the channel TLS; `token` is sent as
    `authorization: Bearer <token>` on every call.
    """

    def __init__(
        self,
        address: str,
        *,
        timeout: float = 30.0,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
    ) -> None:
        options = [("grpc.service_config", _RETRY_READS), ("grpc.max_receive_message_length", 64 * 1024**2)]
        if credentials is not None:
            if token:
                credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(token))
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            # gRPC sends call credentials only over secure channels, so plaintext gets the token from an interceptor.
            plain = grpc.insecure_channel(address, options=options)
            self._channel = grpc.intercept_channel(plain, BearerTokenInterceptor(token)) if token else plain
        self._graph = graph_pb2_grpc.GraphServiceStub(self._channel)
        self._policy = policy_pb2_grpc.PolicyServiceStub(self._channel)
        self._exposure = exposure_pb2_grpc.ExposureServiceStub(self._channel)
        self.timeout = timeout

    def __enter__(self) -> ChokepointClient:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def get_company(self, company_id: str) -> Company:
        response = self._call(self._graph.GetCompany, graph_pb2.GetCompanyRequest(company_id=company_id))
        return _company(response.company)

    def list_companies(self, *, country: str = "", list_code: str = "", page_size: int = 0) -> Iterator[Company]:
        request = graph_pb2.ListCompaniesRequest(country=country, list_code=list_code, page_size=page_size)
        for response in self._pages(self._graph.ListCompanies, request):
            yield from (_company(company) for company in response.companies)

    def upsert_companies(self, companies: Iterable[Company], *, request_id: str = "") -> WriteAck:
        request = graph_pb2.UpsertCompaniesRequest(
            companies=[
                graph_pb2.Company(company_id=c.company_id, name=c.name, country=c.country, lists=c.lists)
                for c in companies
            ],
            request_id=request_id,
        )
        response = self._call(self._graph.UpsertCompanies, request)
        return WriteAck(response.graph_version, created=response.created_count, updated=response.updated_count)

    def delete_company(self, company_id: str, *, cascade: bool = False, request_id: str = "") -> WriteAck:
        request = graph_pb2.DeleteCompanyRequest(company_id=company_id, cascade=cascade, request_id=request_id)
        response = self._call(self._graph.DeleteCompany, request)
        return WriteAck(response.graph_version, deleted_links=response.deleted_link_count)

    def list_supply_links(
        self, *, supplier_id: str = "", buyer_id: str = "", page_size: int = 0
    ) -> Iterator[SupplyLink]:
        request = graph_pb2.ListSupplyLinksRequest(supplier_id=supplier_id, buyer_id=buyer_id, page_size=page_size)
        for response in self._pages(self._graph.ListSupplyLinks, request):
            yield from (_link(link) for link in response.links)

    def upsert_supply_links(self, links: Iterable[SupplyLink], *, request_id: str = "") -> WriteAck:
        request = graph_pb2.UpsertSupplyLinksRequest(
            links=[
                graph_pb2.SupplyLink(
                    supplier_id=link.supplier_id,
                    buyer_id=link.buyer_id,
                    hs_code=link.hs_code,
                    annual_value_usd=link.annual_value_usd,
                    origin_country=link.origin_country,
                    route=link.route,
                    tags=link.tags,
                )
                for link in links
            ],
            request_id=request_id,
        )
        response = self._call(self._graph.UpsertSupplyLinks, request)
        return WriteAck(response.graph_version, created=response.created_count, updated=response.updated_count)

    def delete_supply_link(self, supplier_id: str, buyer_id: str, hs_code: str, *, request_id: str = "") -> WriteAck:
        request = graph_pb2.DeleteSupplyLinkRequest(
            supplier_id=supplier_id, buyer_id=buyer_id, hs_code=hs_code, request_id=request_id
        )
        return WriteAck(self._call(self._graph.DeleteSupplyLink, request).graph_version, deleted_links=1)

    def import_graph(
        self, companies: Path | None, links: Path | None = None, *, merge: bool = False, request_id: str = ""
    ) -> WriteAck:
        """Upload a companies and/or a links file (format from the suffix); replaces the graph unless `merge`."""
        mode = graph_pb2.IMPORT_MODE_MERGE if merge else graph_pb2.IMPORT_MODE_REPLACE
        files = [
            (kind, path, _file_format(path))
            for kind, path in ((graph_pb2.GRAPH_FILE_COMPANIES, companies), (graph_pb2.GRAPH_FILE_LINKS, links))
            if path is not None
        ]
        response = self._call(self._graph.ImportGraph, _file_chunks(files, mode=mode, request_id=request_id))
        return WriteAck(response.graph_version, company_count=response.company_count, link_count=response.link_count)

    def export_graph(self, directory: Path, *, fmt: str = "csv") -> ExportedGraph:
        """Write `companies.<fmt>` and `links.<fmt>` into `directory`, all from one graph version."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            graph_pb2.GRAPH_FILE_COMPANIES: directory / f"companies.{fmt}",
            graph_pb2.GRAPH_FILE_LINKS: directory / f"links.{fmt}",
        }
        request = graph_pb2.ExportGraphRequest(format=_FORMAT_NAMES[fmt])
        contents: dict[int, bytearray] = {kind: bytearray() for kind in paths}
        version = 0
        try:
            for chunk in self._graph.ExportGraph(request, timeout=self.timeout):
                contents[chunk.file].extend(chunk.data)
                version = chunk.graph_version
        except grpc.RpcError as error:
            raise decode_error(error) from None
        for kind, path in paths.items():
            path.write_bytes(bytes(contents[kind]))
        return ExportedGraph(paths[graph_pb2.GRAPH_FILE_COMPANIES], paths[graph_pb2.GRAPH_FILE_LINKS], version)

    def graph_stats(self) -> GraphStats:
        response = self._call(self._graph.GetGraphStats, graph_pb2.GetGraphStatsRequest())
        return GraphStats(
            company_count=response.company_count,
            link_count=response.link_count,
            total_annual_value_usd=response.total_annual_value_usd,
            countries={item.key: item.count for item in response.countries},
            lists={item.key: item.count for item in response.lists},
            tags={item.key: item.count for item in response.tags},
            graph_version=response.graph_version,
        )

    def list_scenarios(self) -> Iterator[ScenarioSummary]:
        for response in self._pages(self._policy.ListScenarios, policy_pb2.ListScenariosRequest()):
            yield from (_scenario_summary(s, response.policy_version) for s in response.scenarios)

    def get_scenario(self, name: str) -> dict[str, Any]:
        """The scenario with its own measures, in the JSON form of `docs/policy.md` (what `create_scenario` takes)."""
        request = policy_pb2.GetScenarioRequest(name=name, view=policy_pb2.POLICY_VIEW_FULL)
        response = self._call(self._policy.GetScenario, request)
        return _message_dict(response.scenario)

    def create_scenario(self, scenario: dict[str, Any], *, request_id: str = "") -> ScenarioSummary:
        """Create a user scenario from its JSON form (docs/policy.md)."""
        request = policy_pb2.CreateScenarioRequest(scenario=scenario_message(scenario), request_id=request_id)
        response = self._call(self._policy.CreateScenario, request)
        return _scenario_summary(response.scenario, response.policy_version)

    def update_scenario(self, scenario: dict[str, Any], *, request_id: str = "") -> ScenarioSummary:
        request = policy_pb2.UpdateScenarioRequest(scenario=scenario_message(scenario), request_id=request_id)
        response = self._call(self._policy.UpdateScenario, request)
        return _scenario_summary(response.scenario, response.policy_version)

    def delete_scenario(self, name: str, *, request_id: str = "") -> str:
        """Delete a user scenario; returns the new policy version."""
        request = policy_pb2.DeleteScenarioRequest(name=name, request_id=request_id)
        response = self._call(self._policy.DeleteScenario, request)
        return str(response.policy_version)

    def list_measures(
        self,
        *,
        scenario: str = "",
        country: str = "",
        hs_prefix: str = "",
        in_force_on: str = "",
        tariff_authority: str = "",
        control_authority: str = "",
    ) -> Iterator[MeasureSummary]:
        request = policy_pb2.ListMeasuresRequest(
            scenario=scenario,
            country=country,
            hs_prefix=hs_prefix,
            in_force_on=in_force_on,
            tariff_authority=_enum_value(policy_pb2.TariffAuthority, "TARIFF_AUTHORITY_", tariff_authority),
            control_authority=_enum_value(policy_pb2.ControlAuthority, "CONTROL_AUTHORITY_", control_authority),
        )
        for response in self._pages(self._policy.ListMeasures, request):
            yield from (_measure_summary(measure) for measure in response.measures)

    def evaluate_link(
        self,
        *,
        hs_code: str,
        origin_country: str,
        buyer_country: str,
        shipping_country: str = "",
        route: tuple[str, ...] = (),
        buyer_lists: tuple[str, ...] = (),
        scenario: str = "",
        as_of: str = "",
    ) -> LinkEvaluation:
        """Every measure that applies to a hypothetical shipment, the stacked duty and the control hazard."""
        request = policy_pb2.EvaluateLinkRequest(
            scenario=scenario,
            as_of_date=as_of,
            hs_code=hs_code,
            origin_country=origin_country,
            shipping_country=shipping_country,
            route=route,
            buyer_country=buyer_country,
            buyer_lists=buyer_lists,
        )
        response = self._call(self._policy.EvaluateLink, request)
        return LinkEvaluation(
            tariff_rate_fraction=response.tariff_rate_fraction,
            hazard=response.hazard,
            tariffs=tuple(
                AppliedMeasure(
                    t.measure_id,
                    t.title,
                    policy_pb2.TariffAuthority.Name(t.authority).removeprefix("TARIFF_AUTHORITY_"),
                    t.rate_fraction,
                    t.hs_prefix,
                    t.source,
                )
                for t in response.tariffs
            ),
            export_controls=tuple(
                AppliedMeasure(
                    c.measure_id,
                    c.title,
                    policy_pb2.Severity.Name(c.severity).removeprefix("SEVERITY_"),
                    c.weight,
                    c.matched_on,
                    c.source,
                )
                for c in response.export_controls
            ),
            inactive=tuple((m.measure_id, m.status) for m in response.inactive_measures),
            derived_tags=tuple(response.derived_tags),
            transshipment=response.transshipment,
            scenario=response.scenario,
            as_of_date=response.as_of_date,
            policy_version=response.policy_version,
        )

    def score_company(
        self, company_id: str, *, scenario: str = "", as_of: str = "", materials: tuple[str, ...] = ()
    ) -> CompanyScoreResult:
        """All score components, origin shares per material and the context, as plain data."""
        request = exposure_pb2.ScoreCompanyRequest(
            company_id=company_id, scenario=scenario, as_of_date=as_of, materials=materials
        )
        return from_message(CompanyScoreResult, self._call(self._exposure.ScoreCompany, request))

    def rank_companies(
        self,
        *,
        scenario: str = "",
        as_of: str = "",
        order_by: str = "score",
        country: str = "",
        tag: str = "",
        page_size: int = 0,
    ) -> Iterator[CompanyScore]:
        request = exposure_pb2.RankCompaniesRequest(
            scenario=scenario,
            as_of_date=as_of,
            country=country,
            tag=tag,
            page_size=page_size,
            order_by=_enum_value(exposure_pb2.ScoreComponent, "SCORE_COMPONENT_", order_by.upper()),
        )
        for response in self._pages(self._exposure.RankCompanies, request):
            yield from (from_message(CompanyScore, score) for score in response.scores)

    def explain_exposure(
        self,
        company_id: str,
        *,
        scenario: str = "",
        as_of: str = "",
        component: str = "disruption",
        limit: int = 0,
        max_depth: int = 0,
        full: bool = False,
    ) -> Explanation:
        request = exposure_pb2.ExplainExposureRequest(
            company_id=company_id,
            scenario=scenario,
            as_of_date=as_of,
            limit=limit,
            max_depth=max_depth,
            component=_enum_value(exposure_pb2.ScoreComponent, "SCORE_COMPONENT_", component.upper()),
            view=exposure_pb2.EXPLAIN_VIEW_FULL if full else exposure_pb2.EXPLAIN_VIEW_BASIC,
        )
        return from_message(Explanation, self._call(self._exposure.ExplainExposure, request))

    def find_chokepoints(self, company_id: str, *, material: str = "", limit: int = 0) -> Chokepoints:
        request = exposure_pb2.FindChokepointsRequest(company_id=company_id, material=material, limit=limit)
        return from_message(Chokepoints, self._call(self._exposure.FindChokepoints, request))

    def compare_scenarios(
        self,
        *,
        baseline_scenario: str = "",
        baseline_as_of: str = "",
        scenario: str = "",
        as_of: str = "",
        order_by: str = "score",
        page_size: int = 0,
        limit: int = 0,
    ) -> Comparison:
        """The changes (biggest movers first; the first `limit` of them, or all when 0) and the totals.

        The changes are read page by page (`page_size` a page, the service's default when 0)."""
        request = exposure_pb2.CompareScenariosRequest(
            baseline_scenario=baseline_scenario,
            baseline_as_of_date=baseline_as_of,
            scenario=scenario,
            as_of_date=as_of,
            page_size=page_size,
            order_by=_enum_value(exposure_pb2.ScoreComponent, "SCORE_COMPONENT_", order_by.upper()),
        )
        pages = self._pages(self._exposure.CompareScenarios, request)
        comparison = from_message(Comparison, next(pages))  # the totals ride on every page
        changes = list(comparison.changes)
        while not limit or len(changes) < limit:  # no page is asked for beyond the limit
            response = next(pages, None)
            if response is None:
                break
            changes += (from_message(CompanyChange, change) for change in response.changes)
        return replace(comparison, changes=tuple(changes[:limit] if limit else changes))

    def score_supplier_list(
        self,
        rows: Any,
        *,
        buyer_country: str = "",
        scenario: str = "",
        as_of: str = "",
        strict: bool = False,
        batch_rows: int = 50_000,
        progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Score a supplier list (a Polars frame with the columns of docs/batch.md) in batches over one stream.

        `progress` is called with the number of rows answered after each batch.
        """
        import polars as pl  # only file work needs Polars; the rest of the client does not

        from client.supplier_list import cell_errors, check_columns, first_refusal, restate

        check_columns(rows.columns, buyer_country=buyer_country)
        local = cell_errors(rows, buyer_country=buyer_country)
        if strict and local:
            raise first_refusal(local)
        # Text as text and spend as a number, absent cells empty (NaN spend), as the service reads them.
        table = rows.select(
            pl.col(name).cast(pl.Float64, strict=False).fill_null(float("nan"))
            if name == "annual_spend_usd"
            else pl.col(name).cast(pl.String).fill_null("")
            for name in SUPPLIER_COLUMNS
            if name in rows.columns
        )

        def requests() -> Iterator[exposure_pb2.ScoreSupplierListRequest]:
            for start in range(0, max(table.height, 1), batch_rows):
                yield exposure_pb2.ScoreSupplierListRequest(
                    scenario=scenario if start == 0 else "",
                    as_of_date=as_of if start == 0 else "",
                    buyer_country=buyer_country if start == 0 else "",
                    strict=strict if start == 0 else False,
                    rows_arrow_ipc=_arrow_ipc(table.slice(start, batch_rows)),
                )

        scored: list[Any] = []
        errors: list[RowError] = []
        summary: PortfolioSummary | None = None
        context: ScoreContext | None = None
        try:
            for response in self._exposure.ScoreSupplierList(requests(), timeout=max(self.timeout, 600.0)):
                part = pl.read_ipc_stream(response.rows_arrow_ipc) if response.rows_arrow_ipc else None
                if part is not None and part.height:
                    scored.append(part)
                errors += [from_message(RowError, error) for error in response.errors]
                if response.HasField("summary"):
                    summary = from_message(PortfolioSummary, response.summary)
                context = from_message(ScoreContext, response.context)
                if progress is not None:
                    progress((part.height if part is not None else 0) + len(response.errors))
        except grpc.RpcError as error:
            raise decode_error(error) from None
        if summary is None or context is None:  # the service always ends the stream with a summary
            msg = "ScoreSupplierList ended without its summary"
            raise RuntimeError(msg)
        rows_frame = pl.concat(scored) if scored else pl.DataFrame()
        return BatchResult(rows_frame, restate(errors, local), summary, context)

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise decode_error(error) from None

    def _pages(self, method: Callable[..., Any], request: Any) -> Iterator[Any]:
        while True:
            response = self._call(method, request)
            yield response
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token


def _file_format(path: Path) -> int:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = f"{path}: the file name must end in .csv or .parquet"
        raise ValueError(msg)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise ValueError(msg)
    return fmt


def _file_chunks(
    files: list[tuple[int, Path, int]], *, mode: int, request_id: str
) -> Iterator[graph_pb2.ImportGraphRequest]:
    """Each file read and sent in chunks as the upload proceeds; options ride on the first message."""
    first = True
    for kind, path, fmt in files:
        with path.open("rb") as handle:
            while True:
                data = handle.read(UPLOAD_CHUNK_BYTES)
                if not data and not first:
                    break
                yield graph_pb2.ImportGraphRequest(
                    file=kind,
                    format=fmt,
                    data=data,
                    mode=mode if first else graph_pb2.IMPORT_MODE_UNSPECIFIED,
                    request_id=request_id if first else "",
                )
                first = False
                if not data:
                    break


def _company(message: graph_pb2.Company) -> Company:
    return Company(message.company_id, message.name, message.country, tuple(message.lists))


def _link(message: graph_pb2.SupplyLink) -> SupplyLink:
    return SupplyLink(
        supplier_id=message.supplier_id,
        buyer_id=message.buyer_id,
        hs_code=message.hs_code,
        annual_value_usd=message.annual_value_usd,
        origin_country=message.origin_country,
        route=tuple(message.route),
        tags=tuple(message.tags),
        derived_tags=tuple(message.derived_tags),
        effective_origin_country=message.effective_origin_country,
    )


def scenario_message(document: dict[str, Any]) -> policy_pb2.Scenario:
    """A scenario's JSON form (docs/policy.md) as a message; enum names may be given without their prefixes."""
    message = policy_pb2.Scenario(
        name=str(document.get("name", "")),
        description=str(document.get("description", "")),
        base=str(document.get("base") or ""),
        remove=[str(item) for item in document.get("remove", [])],
    )
    for change in document.get("changes", []):
        json_format.ParseDict(change, message.changes.add())
    for item in document.get("tariffs", []):
        tariff = message.tariffs.add(
            measure_id=item.get("measure_id", ""),
            title=item.get("title", ""),
            authority=_enum_value(policy_pb2.TariffAuthority, "TARIFF_AUTHORITY_", item.get("authority", "")),
            program=item.get("program", ""),
            importer=item.get("importer", ""),
            origins=_listed(item.get("origins")),
            source=item.get("source", ""),
            note=item.get("note", ""),
            validity=_validity(item),
        )
        lines = item.get("lines") or [
            {"hs_prefix": "" if prefix == "*" else prefix, "rate_fraction": item.get("rate_fraction", 0.0)}
            for prefix in _listed(item.get("hs_prefixes"))
        ]
        tariff.lines.extend(
            policy_pb2.TariffLine(hs_prefix=str(line["hs_prefix"]), rate_fraction=float(line["rate_fraction"]))
            for line in lines
        )
        if item.get("alternative_rate_fraction") not in (None, ""):
            tariff.alternative_rate_fraction = float(item["alternative_rate_fraction"])
    for item in document.get("export_controls", []):
        message.export_controls.add(
            measure_id=item.get("measure_id", ""),
            title=item.get("title", ""),
            authority=_enum_value(policy_pb2.ControlAuthority, "CONTROL_AUTHORITY_", item.get("authority", "")),
            controlling_country=item.get("controlling_country", ""),
            hs_prefixes=_listed(item.get("hs_prefixes")),
            tags=_listed(item.get("tags")),
            destinations=_listed(item.get("destinations")),
            target_lists=_listed(item.get("target_lists")),
            severity=_enum_value(policy_pb2.Severity, "SEVERITY_", item.get("severity", "")),
            source=item.get("source", ""),
            note=item.get("note", ""),
            validity=_validity(item),
        )
    parameters = document.get("parameters")
    if parameters is not None:
        message.parameters.SetInParent()
        if parameters.get("use_alternative_rates") is not None:
            message.parameters.use_alternative_rates = bool(parameters["use_alternative_rates"])
        for key in ("damping_default", "pass_through_default"):
            if parameters.get(key) is not None:
                setattr(message.parameters, key, float(parameters[key]))
        for severity, weight in (parameters.get("severity_weights") or {}).items():
            message.parameters.severity_weights.add(
                severity=_enum_value(policy_pb2.Severity, "SEVERITY_", severity), weight=float(weight)
            )
    return message


def _validity(item: dict[str, Any]) -> policy_pb2.Validity:
    suspended = []
    for period in _listed(item.get("suspended")):
        start, _, end = period.partition("..")
        suspended.append(policy_pb2.Period(start=start, end=end))
    return policy_pb2.Validity(
        effective_from=item.get("effective_from", ""),
        effective_until=item.get("effective_until") or "",
        suspended=suspended,
        voided_on=item.get("voided_on") or "",
    )


def _listed(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return [str(part) for part in value]


def _enum_value(enum_type: Any, prefix: str, name: str) -> int:
    """`MFN` or `TARIFF_AUTHORITY_MFN` -> its number; "" -> 0 (unset); an unknown name raises ValueError."""
    if not name:
        return 0
    full = name if name.startswith(prefix) else prefix + name
    try:
        return int(enum_type.Value(full))
    except ValueError:
        msg = (
            f"unknown value {name!r}; expected one of {', '.join(n.removeprefix(prefix) for n in enum_type.keys()[1:])}"
        )
        raise ValueError(msg) from None


def _message_dict(scenario: policy_pb2.Scenario) -> dict[str, Any]:
    """A scenario message back in the JSON form (enum names without prefixes)."""

    def validity(v: policy_pb2.Validity) -> dict[str, Any]:
        return {
            "effective_from": v.effective_from,
            "effective_until": v.effective_until,
            "suspended": [f"{p.start}..{p.end}" for p in v.suspended],
            "voided_on": v.voided_on,
        }

    return {
        "name": scenario.name,
        "description": scenario.description,
        "base": scenario.base,
        "built_in": scenario.built_in,
        "measure_count": scenario.measure_count,
        "remove": list(scenario.remove),
        "changes": [json_format.MessageToDict(change) for change in scenario.changes],
        "tariffs": [
            {
                "measure_id": t.measure_id,
                "title": t.title,
                "authority": policy_pb2.TariffAuthority.Name(t.authority).removeprefix("TARIFF_AUTHORITY_"),
                "program": t.program,
                "importer": t.importer,
                "origins": list(t.origins),
                "lines": [{"hs_prefix": line.hs_prefix, "rate_fraction": line.rate_fraction} for line in t.lines],
                **(
                    {"alternative_rate_fraction": t.alternative_rate_fraction}
                    if t.HasField("alternative_rate_fraction")
                    else {}
                ),
                **validity(t.validity),
                "source": t.source,
                "note": t.note,
            }
            for t in scenario.tariffs
        ],
        "export_controls": [
            {
                "measure_id": c.measure_id,
                "title": c.title,
                "authority": policy_pb2.ControlAuthority.Name(c.authority).removeprefix("CONTROL_AUTHORITY_"),
                "controlling_country": c.controlling_country,
                "hs_prefixes": list(c.hs_prefixes),
                "tags": list(c.tags),
                "destinations": list(c.destinations),
                "target_lists": list(c.target_lists),
                "severity": policy_pb2.Severity.Name(c.severity).removeprefix("SEVERITY_"),
                **validity(c.validity),
                "source": c.source,
                "note": c.note,
            }
            for c in scenario.export_controls
        ],
        **({"parameters": _parameters_dict(scenario.parameters)} if scenario.HasField("parameters") else {}),
    }


def _parameters_dict(parameters: policy_pb2.ScoringParameters) -> dict[str, Any]:
    """Only the parameters the scenario sets: the others are its base's."""
    document: dict[str, Any] = {}
    if parameters.severity_weights:
        document["severity_weights"] = {
            policy_pb2.Severity.Name(item.severity).removeprefix("SEVERITY_"): item.weight
            for item in parameters.severity_weights
        }
    for name in ("damping_default", "pass_through_default", "use_alternative_rates"):
        if parameters.HasField(name):
            document[name] = getattr(parameters, name)
    return document


def _scenario_summary(scenario: policy_pb2.Scenario, version: str) -> ScenarioSummary:
    return ScenarioSummary(
        scenario.name, scenario.description, scenario.base, scenario.built_in, scenario.measure_count, version
    )


def _measure_summary(measure: policy_pb2.Measure) -> MeasureSummary:
    if measure.HasField("tariff"):
        t = measure.tariff
        authority = policy_pb2.TariffAuthority.Name(t.authority).removeprefix("TARIFF_AUTHORITY_")
        return MeasureSummary(t.measure_id, "tariff", authority, t.importer, measure.status, t.title, t.source)
    c = measure.export_control
    authority = policy_pb2.ControlAuthority.Name(c.authority).removeprefix("CONTROL_AUTHORITY_")
    return MeasureSummary(
        c.measure_id, "export_control", authority, c.controlling_country, measure.status, c.title, c.source
    )


def _arrow_ipc(table: Any) -> bytes:
    """A Polars frame as one Arrow IPC stream (plain `large_string` text, readable by any Arrow library)."""
    import polars as pl

    stream = io.BytesIO()
    table.write_ipc_stream(stream, compat_level=pl.CompatLevel.oldest())
    return stream.getvalue()
