"""Read queries over one `Graph` version: lookups, key-ordered pages, and summary statistics.

Pages are keyed, not offset: a page starts after the last key of the previous one, so a write between two pages
neither repeats nor skips a row that was there before and after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from server.core.errors import NotFoundError
from server.core.graph import Graph


@dataclass(frozen=True)
class Page:
    """Rows of one page, whether more follow, and how many rows match in all."""

    rows: pl.DataFrame
    has_more: bool
    total_size: int


@dataclass(frozen=True)
class KeyCount:
    key: str
    count: int


@dataclass(frozen=True)
class GraphStats:
    company_count: int
    link_count: int
    total_annual_value_usd: float
    countries: list[KeyCount]
    lists: list[KeyCount]
    tags: list[KeyCount]
    version: int


COMPANY_ORDER = ("company_id",)
BUYER_ORDER = ("buyer_id", "supplier_id", "hs_code")
SUPPLIER_ORDER = ("supplier_id", "buyer_id", "hs_code")


def get_company(graph: Graph, company_id: str) -> pl.DataFrame:
    """The company's one-row table; NotFoundError names the id."""
    index = require_company(graph, company_id, field="company_id")
    return graph.companies.slice(index, 1)


def require_company(graph: Graph, company_id: str, *, field: str) -> int:
    """The company's index, or NotFoundError naming `field` and the id."""
    index = graph.company_index(company_id)
    if index is None:
        msg = f"{field}: company {company_id!r} not found"
        raise NotFoundError(msg, reason="COMPANY_NOT_FOUND")
    return index


def list_companies(
    graph: Graph, *, country: str | None, list_code: str | None, after: tuple[str, ...] | None, limit: int
) -> Page:
    """Companies ordered by id, filtered by country and list membership, starting after the key `after`."""
    matching = graph.companies
    if country:
        matching = matching.filter(pl.col("country") == country)
    if list_code:
        matching = matching.filter(pl.col("lists").list.contains(list_code))
    return _page(matching, order=COMPANY_ORDER, after=after, limit=limit)


def list_links(
    graph: Graph, *, supplier_id: str | None, buyer_id: str | None, after: tuple[str, ...] | None, limit: int
) -> Page:
    """Links of a buyer and/or supplier (or all), in key order, starting after the key `after`.

    One company's links are a CSR slice, so a page costs the size of that company's neighbourhood, not the graph;
    a page of all links costs its own rows and the previous key's buyer's.
    """
    if supplier_id:
        supplier = require_company(graph, supplier_id, field="supplier_id")
        rows = graph.outbound_order[graph.outbound_indptr[supplier] : graph.outbound_indptr[supplier + 1]]
        matching = graph.with_company_ids(graph.links[np.sort(rows)]).sort(SUPPLIER_ORDER)
        if buyer_id:
            require_company(graph, buyer_id, field="buyer_id")
            matching = matching.filter(pl.col("buyer_id") == buyer_id)
        return _page(matching, order=SUPPLIER_ORDER, after=after, limit=limit)
    if buyer_id:
        buyer = require_company(graph, buyer_id, field="buyer_id")
        start, end = int(graph.inbound_indptr[buyer]), int(graph.inbound_indptr[buyer + 1])
        return _page(
            graph.with_company_ids(graph.links.slice(start, end - start)), order=BUYER_ORDER, after=after, limit=limit
        )
    start = 0 if after is None else _first_link_after(graph, after)
    page = graph.with_company_ids(graph.links.slice(start, limit + 1))
    return Page(rows=page.head(limit), has_more=page.height > limit, total_size=graph.link_count)


def _first_link_after(graph: Graph, key: tuple[str, ...]) -> int:
    """The first row of `graph.links` after `key` in `BUYER_ORDER`, the table's own order (ids sort as their
    indices): the rows of buyers before the key's come first, and only that buyer's rows need their ids."""
    buyer_id = key[0]
    ids = graph.companies["company_id"]
    buyer = int(ids.search_sorted(buyer_id, side="left"))
    start = int(graph.inbound_indptr[buyer])
    if buyer == ids.len() or ids[buyer] != buyer_id:  # gone since the previous page, or never there
        return start
    bought = graph.with_company_ids(graph.links.slice(start, int(graph.inbound_indptr[buyer + 1]) - start))
    return start + bought.height - bought.filter(_after_key(BUYER_ORDER, key)).height


def links_of(graph: Graph, index: int) -> pl.DataFrame:
    """Every link the company at `index` sells or buys (a self-link cannot exist, so none is listed twice), with
    the companies' ids."""
    sold = graph.outbound_order[graph.outbound_indptr[index] : graph.outbound_indptr[index + 1]]
    bought = np.arange(graph.inbound_indptr[index], graph.inbound_indptr[index + 1])
    return graph.with_company_ids(graph.links[np.concatenate([sold, bought])])


def count_links_of(graph: Graph, index: int) -> tuple[int, int]:
    """How many links the company at `index` sells and buys."""
    sold = int(graph.outbound_indptr[index + 1] - graph.outbound_indptr[index])
    bought = int(graph.inbound_indptr[index + 1] - graph.inbound_indptr[index])
    return sold, bought


def summarise_graph(graph: Graph) -> GraphStats:
    """Counts by country, list and tag (user and derived), and the total annual value."""
    companies, links = graph.companies, graph.links
    tags = links.select(
        pl.concat_list("tags", pl.col("derived_tags").cast(pl.List(pl.String))).list.unique().alias("key")
    ).explode("key")
    return GraphStats(
        company_count=companies.height,
        link_count=links.height,
        total_annual_value_usd=float(links["annual_value_usd"].sum()),
        countries=_count_keys(companies.select(pl.col("country").alias("key"))),
        lists=_count_keys(companies.select(pl.col("lists").alias("key")).explode("key")),
        tags=_count_keys(tags),
        version=graph.version,
    )


def _count_keys(keys: pl.DataFrame) -> list[KeyCount]:
    counted = keys.drop_nulls().group_by("key").len().sort(["len", "key"], descending=[True, False])
    return [KeyCount(key, count) for key, count in counted.iter_rows()]


def _page(matching: pl.DataFrame, *, order: tuple[str, ...], after: tuple[str, ...] | None, limit: int) -> Page:
    remaining = matching if after is None else matching.filter(_after_key(order, after))
    rows = remaining.head(limit + 1)
    return Page(rows=rows.head(limit), has_more=rows.height > limit, total_size=matching.height)


def _after_key(order: tuple[str, ...], key: tuple[str, ...]) -> pl.Expr:
    """Rows strictly after `key` in the lexicographic order of the `order` columns."""
    column, *rest = order
    value, *rest_values = key
    if not rest:
        return pl.col(column) > value
    return (pl.col(column) > value) | ((pl.col(column) == value) & _after_key(tuple(rest), tuple(rest_values)))
