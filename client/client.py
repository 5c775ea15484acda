"""The thin, typed Chokepoint client: one method per RPC, page iterators, errors decoded into `ClientError`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from client.errors import decode_error

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
                ],
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


class ChokepointClient:
    """A connection to one Chokepoint service. Use as a context manager, or call `close()`."""

    def __init__(
        self, address: str, *, timeout: float = 30.0, credentials: grpc.ChannelCredentials | None = None
    ) -> None:
        options = [("grpc.service_config", _RETRY_READS), ("grpc.max_receive_message_length", 64 * 1024**2)]
        self._channel = (
            grpc.secure_channel(address, credentials, options=options)
            if credentials
            else grpc.insecure_channel(address, options=options)
        )
        self._graph = graph_pb2_grpc.GraphServiceStub(self._channel)
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
