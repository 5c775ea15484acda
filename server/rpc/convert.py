"""Proto messages <-> the core's tables. No logic beyond shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from chokepoint.v1 import graph_pb2

from server.core.queries import GraphStats
from server.core.store import ImportMode
from server.core.tables import FileFormat, FileKind

_STRINGS = pl.String
_LISTS = pl.List(pl.String)


def companies_to_table(companies: Sequence[graph_pb2.Company]) -> pl.DataFrame:
    """Request companies as a raw table for validation (repeated fields as list columns)."""
    return pl.DataFrame(
        {
            "company_id": [c.company_id for c in companies],
            "name": [c.name for c in companies],
            "country": [c.country for c in companies],
            "lists": [list(c.lists) for c in companies],
        },
        schema={"company_id": _STRINGS, "name": _STRINGS, "country": _STRINGS, "lists": _LISTS},
    )


def links_to_table(links: Sequence[graph_pb2.SupplyLink]) -> pl.DataFrame:
    """Request links as a raw table; an unset `annual_value_usd` becomes null so validation reports it."""
    return pl.DataFrame(
        {
            "supplier_id": [link.supplier_id for link in links],
            "buyer_id": [link.buyer_id for link in links],
            "hs_code": [link.hs_code for link in links],
            "annual_value_usd": [
                link.annual_value_usd if link.HasField("annual_value_usd") else None for link in links
            ],
            "origin_country": [link.origin_country for link in links],
            "route": [list(link.route) for link in links],
            "tags": [list(link.tags) for link in links],
        },
        schema={
            "supplier_id": _STRINGS,
            "buyer_id": _STRINGS,
            "hs_code": _STRINGS,
            "annual_value_usd": pl.Float64,
            "origin_country": _STRINGS,
            "route": _LISTS,
            "tags": _LISTS,
        },
    )


def company_message(row: dict[str, Any]) -> graph_pb2.Company:
    return graph_pb2.Company(company_id=row["company_id"], name=row["name"], country=row["country"], lists=row["lists"])


def link_message(row: dict[str, Any]) -> graph_pb2.SupplyLink:
    return graph_pb2.SupplyLink(
        supplier_id=row["supplier_id"],
        buyer_id=row["buyer_id"],
        hs_code=row["hs_code"],
        annual_value_usd=row["annual_value_usd"],
        origin_country=row["origin_country"] or "",
        route=row["route"],
        tags=row["tags"],
        derived_tags=row["derived_tags"],
        effective_origin_country=row["effective_origin_country"],
    )


def company_messages(rows: pl.DataFrame) -> list[graph_pb2.Company]:
    return [company_message(row) for row in rows.to_dicts()]


def link_messages(rows: pl.DataFrame) -> list[graph_pb2.SupplyLink]:
    return [link_message(row) for row in rows.to_dicts()]


def stats_message(stats: GraphStats) -> graph_pb2.GetGraphStatsResponse:
    def counts(items: list[Any]) -> list[graph_pb2.KeyCount]:
        return [graph_pb2.KeyCount(key=item.key, count=item.count) for item in items]

    return graph_pb2.GetGraphStatsResponse(
        company_count=stats.company_count,
        link_count=stats.link_count,
        total_annual_value_usd=stats.total_annual_value_usd,
        countries=counts(stats.countries),
        lists=counts(stats.lists),
        tags=counts(stats.tags),
        graph_version=stats.version,
    )


FILE_KINDS = {graph_pb2.GRAPH_FILE_COMPANIES: FileKind.COMPANIES, graph_pb2.GRAPH_FILE_LINKS: FileKind.LINKS}
FILE_KIND_MESSAGES = {kind: value for value, kind in FILE_KINDS.items()}
FILE_FORMATS = {graph_pb2.FILE_FORMAT_CSV: FileFormat.CSV, graph_pb2.FILE_FORMAT_PARQUET: FileFormat.PARQUET}
FILE_FORMAT_MESSAGES = {fmt: value for value, fmt in FILE_FORMATS.items()}
EXPORT_FORMATS = {graph_pb2.FILE_FORMAT_UNSPECIFIED: FileFormat.CSV, **FILE_FORMATS}
IMPORT_MODES = {
    graph_pb2.IMPORT_MODE_UNSPECIFIED: ImportMode.REPLACE,
    graph_pb2.IMPORT_MODE_REPLACE: ImportMode.REPLACE,
    graph_pb2.IMPORT_MODE_MERGE: ImportMode.MERGE,
}
