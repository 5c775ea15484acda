"""GraphService: validate the request, call the core, convert the answer. No data loops here."""

from __future__ import annotations

from collections.abc import Iterator

from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from server.core import queries
from server.core.store import GraphStore, WriteResult
from server.core.tables import FileKind, write_table
from server.core.validation import RowSource
from server.rpc import convert, paging, validation
from server.rpc.bridge import CallContext, StreamedRequests
from server.rpc.cancellation import check_of, idle_bounded
from server.rpc.limits import Limits
from server.rpc.uploads import collect_upload

EXPORT_CHUNK_BYTES = 1024**2


class GraphServicer(graph_pb2_grpc.GraphServiceServicer):
    def __init__(self, store: GraphStore, limits: Limits, *, upload_idle_seconds: float) -> None:
        self._store = store
        self._limits = limits
        self._upload_idle_seconds = upload_idle_seconds

    def GetCompany(self, request: graph_pb2.GetCompanyRequest, context: CallContext) -> graph_pb2.GetCompanyResponse:
        company_id = validation.required(request.company_id, "company_id")
        graph = self._store.graph
        company = queries.get_company(graph, company_id)
        return graph_pb2.GetCompanyResponse(company=convert.company_messages(company)[0], graph_version=graph.version)

    def ListCompanies(
        self, request: graph_pb2.ListCompaniesRequest, context: CallContext
    ) -> graph_pb2.ListCompaniesResponse:
        filters = (request.country, request.list_code)
        after = paging.decode_token(request.page_token, filters=filters, key_length=len(queries.COMPANY_ORDER))
        graph = self._store.graph
        page = queries.list_companies(
            graph,
            country=request.country,
            list_code=request.list_code,
            after=after,
            limit=paging.page_size(request.page_size, maximum=self._limits.max_page_size),
        )
        return graph_pb2.ListCompaniesResponse(
            companies=convert.company_messages(page.rows),
            next_page_token=paging.next_page_token(page, order=queries.COMPANY_ORDER, filters=filters),
            total_size=page.total_size,
            graph_version=graph.version,
        )

    def UpsertCompanies(
        self, request: graph_pb2.UpsertCompaniesRequest, context: CallContext
    ) -> graph_pb2.UpsertCompaniesResponse:
        validation.batch(request.companies, "companies", limit=self._limits.max_batch_items)
        result = self._store.upsert_companies(
            convert.companies_to_table(request.companies),
            source=RowSource("companies"),
            request_id=validation.request_id(request.request_id),
            bounds=self._limits.graph_size,
        )
        return graph_pb2.UpsertCompaniesResponse(
            created_count=result.created, updated_count=result.updated, graph_version=result.version
        )

    def DeleteCompany(
        self, request: graph_pb2.DeleteCompanyRequest, context: CallContext
    ) -> graph_pb2.DeleteCompanyResponse:
        result = self._store.delete_company(
            validation.required(request.company_id, "company_id"),
            cascade=request.cascade,
            request_id=validation.request_id(request.request_id),
        )
        return graph_pb2.DeleteCompanyResponse(deleted_link_count=result.deleted_links, graph_version=result.version)

    def ListSupplyLinks(
        self, request: graph_pb2.ListSupplyLinksRequest, context: CallContext
    ) -> graph_pb2.ListSupplyLinksResponse:
        filters = (request.supplier_id, request.buyer_id)
        order = queries.SUPPLIER_ORDER if request.supplier_id else queries.BUYER_ORDER
        after = paging.decode_token(request.page_token, filters=filters, key_length=len(order))
        graph = self._store.graph
        page = queries.list_links(
            graph,
            supplier_id=request.supplier_id,
            buyer_id=request.buyer_id,
            after=after,
            limit=paging.page_size(request.page_size, maximum=self._limits.max_page_size),
        )
        return graph_pb2.ListSupplyLinksResponse(
            links=convert.link_messages(page.rows),
            next_page_token=paging.next_page_token(page, order=order, filters=filters),
            total_size=page.total_size,
            graph_version=graph.version,
        )

    def UpsertSupplyLinks(
        self, request: graph_pb2.UpsertSupplyLinksRequest, context: CallContext
    ) -> graph_pb2.UpsertSupplyLinksResponse:
        validation.batch(request.links, "links", limit=self._limits.max_batch_items)
        result = self._store.upsert_links(
            convert.links_to_table(request.links),
            source=RowSource("links"),
            request_id=validation.request_id(request.request_id),
            bounds=self._limits.graph_size,
        )
        return graph_pb2.UpsertSupplyLinksResponse(
            created_count=result.created, updated_count=result.updated, graph_version=result.version
        )

    def DeleteSupplyLink(
        self, request: graph_pb2.DeleteSupplyLinkRequest, context: CallContext
    ) -> graph_pb2.DeleteSupplyLinkResponse:
        result = self._store.delete_link(
            validation.required(request.supplier_id, "supplier_id"),
            validation.required(request.buyer_id, "buyer_id"),
            validation.required(request.hs_code, "hs_code"),
            request_id=validation.request_id(request.request_id),
        )
        return graph_pb2.DeleteSupplyLinkResponse(graph_version=result.version)

    def ImportGraph(
        self, request_iterator: StreamedRequests[graph_pb2.ImportGraphRequest], context: CallContext
    ) -> graph_pb2.ImportGraphResponse:
        requests = idle_bounded(request_iterator, seconds=self._upload_idle_seconds)
        upload = collect_upload(requests, max_bytes=self._limits.max_import_bytes)
        result: WriteResult = self._store.import_graph(
            upload.table(FileKind.COMPANIES),
            upload.table(FileKind.LINKS),
            mode=upload.mode,
            request_id=validation.request_id(upload.request_id),
            bounds=self._limits.graph_size,
            check=check_of(context),
        )
        return graph_pb2.ImportGraphResponse(
            company_count=result.company_count, link_count=result.link_count, graph_version=result.version
        )

    def ExportGraph(
        self, request: graph_pb2.ExportGraphRequest, context: CallContext
    ) -> Iterator[graph_pb2.ExportGraphResponse]:
        fmt = validation.choice(request.format, convert.EXPORT_FORMATS, "format")
        graph = self._store.graph
        tables = {FileKind.COMPANIES: graph.canonical_companies(), FileKind.LINKS: graph.canonical_links()}
        size = EXPORT_CHUNK_BYTES
        for kind, table in tables.items():
            data = write_table(table, kind=kind, fmt=fmt)
            for start in range(0, len(data), size):
                yield graph_pb2.ExportGraphResponse(
                    file=convert.FILE_KIND_MESSAGES[kind],
                    format=convert.FILE_FORMAT_MESSAGES[fmt],
                    data=data[start : start + size],
                    graph_version=graph.version,
                )

    def GetGraphStats(
        self, request: graph_pb2.GetGraphStatsRequest, context: CallContext
    ) -> graph_pb2.GetGraphStatsResponse:
        return convert.stats_message(queries.summarise_graph(self._store.graph))
