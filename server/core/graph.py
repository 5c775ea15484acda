"""The in-memory compute form of one graph version: Polars tables plus CSR adjacency arrays.

A `Graph` is immutable. The store builds a new one after each committed write and swaps it in atomically, so a
reader holding a `Graph` always sees one consistent version.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import polars as pl

from server.core.memo import MEMO_ATTRIBUTE, memoised
from server.core.schema import COMPANY_SCHEMA, LINK_SCHEMA
from server.core.taxonomy import TRANSSHIPMENT, flag_transshipment, tag_hs_codes
from server.core.validation import COUNTRY_CODES

INDEX = pl.Int32
# Country columns of the compute form: one byte per value instead of a 16-byte string view (four such columns on
# every link). Categories are sorted, so the codes sort as the names do.
COUNTRY = pl.Enum(sorted(COUNTRY_CODES))
COUNTRY_NAMES = tuple(COUNTRY.categories.to_list())
T = TypeVar("T")
_STRUCTURAL = "structural"  # first part of the memo key of a `Graph.structural` value


@dataclass(frozen=True)
class Graph:
    """One graph version.

    `companies`: canonical columns + `idx`, sorted by `company_id` (so `idx` order is id order).
    `links`: canonical columns but the two ids + `supplier_idx`, `buyer_idx`, `supplier_country`, `buyer_country`,
    `effective_origin_country`, `derived_tags`; sorted by (buyer, supplier, hs_code), which is the order of
    (`buyer_idx`, `supplier_idx`, hs_code). Held lean (a fifth of the graph's memory was per-link text):
    - the companies' ids are not repeated per link (32 bytes a link): `with_company_ids` adds them, and `hs_code`
      as text, to the rows a query returns;
    - `hs_code` is an Enum of the graph's codes in their sorted order (comparing it with a code not in the graph
      is an error: cast it to text first);
    - `derived_tags` is a list of an Enum of the taxonomy's tags (cast it to `List(String)` to combine it with the
      user's `tags`);
    - the country columns (`origin_country` too) are `COUNTRY` enums.
    `canonical_links` gives all of them back as text.
    `inbound_indptr[i]:inbound_indptr[i+1]` are the rows of `links` bought by company `i` (CSR by buyer);
    `outbound_order[outbound_indptr[i]:outbound_indptr[i+1]]` are the rows sold by company `i` (CSR by supplier).
    """

    version: int
    companies: pl.DataFrame
    links: pl.DataFrame
    inbound_indptr: np.ndarray
    outbound_order: np.ndarray
    outbound_indptr: np.ndarray
    material_tags: frozenset[str] = frozenset()  # the taxonomy's tags: what a material breakdown may name

    @property
    def company_count(self) -> int:
        return self.companies.height

    @property
    def link_count(self) -> int:
        return self.links.height

    # Plain arrays of the link columns that per-query code walks; built on first use, then shared by all queries
    # of this version (a Graph never changes, so they never go stale).
    @cached_property
    def supplier_array(self) -> np.ndarray:
        return self.links["supplier_idx"].to_numpy()

    @cached_property
    def buyer_array(self) -> np.ndarray:
        return self.links["buyer_idx"].to_numpy()

    @cached_property
    def value_array(self) -> np.ndarray:
        return self.links["annual_value_usd"].to_numpy()

    @cached_property
    def origin_array(self) -> np.ndarray:
        """Each link's effective origin as its `COUNTRY` code (an index into `COUNTRY_NAMES`)."""
        return self.links["effective_origin_country"].to_physical().to_numpy()

    def derived(self, key: str, compute: Callable[[Graph], T]) -> T:
        """`compute(self)`, once per version: tables the scoring derives from the graph alone (input shares, the
        supply order) are shared by every scenario and date. Two first callers may both compute it; both get an
        equal value."""
        return memoised(self, key, lambda: compute(self))

    def structural(self, key: Hashable, compute: Callable[[Graph], T]) -> T:
        """Like `derived`, for what depends only on which links exist and what they carry (everything but their
        values: shipment signatures, material masks, the matrix pattern): kept by `revalued` versions."""
        return memoised(self, (_STRUCTURAL, key), lambda: compute(self))

    def revalued(self, values: np.ndarray, *, version: int) -> Graph:
        """This graph with new link values (`values`, per row of `links`) as version `version`: what `build_graph`
        makes of the same tables after a write that only re-values links, without rebuilding, and keeping the
        structural caches."""
        graph = replace(
            self, version=version, links=self.links.with_columns(pl.Series("annual_value_usd", values, pl.Float64))
        )
        # A copy first: queries may add values to this version meanwhile.
        memo = dict(self.__dict__.get(MEMO_ATTRIBUTE, {}))
        kept = {key: value for key, value in memo.items() if isinstance(key, tuple) and key[:1] == (_STRUCTURAL,)}
        graph.__dict__[MEMO_ATTRIBUTE] = kept
        return graph

    def company_index(self, company_id: str) -> int | None:
        """The `idx` of a company, or None; a binary search over the sorted ids."""
        ids = self.companies["company_id"]
        position = int(ids.search_sorted(company_id))
        return position if position < ids.len() and ids[position] == company_id else None

    def company_indices(self, company_ids: pl.Series) -> pl.Series:
        """`company_index` for a column of ids at once (null where absent or null), by one vectorised search."""
        ids = self.companies["company_id"]
        if ids.is_empty():
            return pl.Series(company_ids.name, [None] * company_ids.len(), dtype=INDEX)
        position = ids.search_sorted(company_ids, side="left").clip(upper_bound=ids.len() - 1)
        found = (ids.gather(position) == company_ids).fill_null(value=False)
        return pl.select(pl.when(found).then(position.cast(INDEX)).otherwise(None).alias(company_ids.name)).to_series()

    def canonical_companies(self) -> pl.DataFrame:
        return self.companies.select(COMPANY_SCHEMA.names())

    def canonical_links(self) -> pl.DataFrame:
        return self.with_company_ids(self.links).select(LINK_SCHEMA.names()).cast(LINK_SCHEMA)

    def link_row(self, row: int) -> dict[str, Any]:
        """One link (a row of `links`) by column name, with `supplier_id` and `buyer_id`: a path walk reads many
        single links: 6 us each, where a one-row table from `with_company_ids` took 270 us."""
        link = self.links.row(row, named=True)
        ids = self.companies["company_id"]
        return {"supplier_id": ids[link["supplier_idx"]], "buyer_id": ids[link["buyer_idx"]], **link}

    def with_company_ids(self, links: pl.DataFrame) -> pl.DataFrame:
        """`links` (rows of `self.links`) with `supplier_id` and `buyer_id` in front, from the companies, and
        `hs_code` as text: the rows a query returns, compared with a client's keys."""
        ids = self.companies["company_id"]
        return links.select(
            ids.gather(links["supplier_idx"]).alias("supplier_id"),
            ids.gather(links["buyer_idx"]).alias("buyer_id"),
            pl.all(),
        ).with_columns(pl.col("hs_code").cast(pl.String))


def build_graph(companies: pl.DataFrame, links: pl.DataFrame, *, version: int, taxonomy: pl.DataFrame) -> Graph:
    """Index canonical tables into a `Graph`: ids -> positions, derived tags, CSR arrays by buyer and supplier.

    HS codes become their rank among the graph's distinct codes, so the sort and the tag lookup are on integers.
    """
    companies = companies.sort("company_id").with_row_index("idx").with_columns(pl.col("idx").cast(INDEX))
    ids, countries = companies.select("company_id", "idx"), companies["country"].cast(COUNTRY)
    codes = tag_hs_codes(links["hs_code"], taxonomy)  # one row per distinct code, sorted: the row is the rank
    links = (
        links.with_columns(
            pl.col("origin_country").cast(COUNTRY),
            codes["hs_code"].search_sorted(links["hs_code"]).alias("_hs_rank"),
        )
        .join(ids.rename({"company_id": "supplier_id", "idx": "supplier_idx"}), on="supplier_id")
        .join(ids.rename({"company_id": "buyer_id", "idx": "buyer_idx"}), on="buyer_id")
        .sort("buyer_idx", "supplier_idx", "_hs_rank")
    )
    hs_rank = links["_hs_rank"]
    links = links.with_columns(
        # An Enum of the graph's distinct codes, in their (sorted) order: 1-2 bytes a link, not a 16-byte view.
        pl.col("hs_code").cast(pl.Enum(codes["hs_code"])),
        countries.gather(links["supplier_idx"]).alias("supplier_country"),
        countries.gather(links["buyer_idx"]).alias("buyer_country"),
    ).with_columns(pl.coalesce("origin_country", "supplier_country").alias("effective_origin_country"))
    # One gather from both lists of each code (a flagged link's at its rank past the untagged ones), not two
    # gathers of a list per link and a choice between them (about 300 MiB less at 5M links).
    # Tags as an Enum of the taxonomy's: a byte a tag instead of a 16-byte string view (about 10 bytes a link).
    tag = pl.Enum(sorted({*taxonomy["tag"].to_list(), TRANSSHIPMENT}))
    choices = pl.concat([codes["taxonomy_tags"], codes["transshipment_tags"]], rechunk=True).cast(pl.List(tag))
    picks = hs_rank + flag_transshipment(links).fill_null(value=False).cast(hs_rank.dtype) * codes.height
    links = links.with_columns(choices.gather(picks).alias("derived_tags")).select(
        *(name for name in LINK_SCHEMA.names() if name not in ("supplier_id", "buyer_id")),
        "supplier_idx",
        "supplier_country",
        "buyer_idx",
        "buyer_country",
        "effective_origin_country",
        "derived_tags",
    )
    count = companies.height
    buyers = links["buyer_idx"].to_numpy()
    suppliers = links["supplier_idx"].to_numpy()
    # Rows are in (buyer, supplier, hs_code) order, so a stable sort by supplier gives (supplier, buyer, hs_code).
    outbound_order = np.argsort(suppliers, kind="stable").astype(np.int32)
    return Graph(
        version=version,
        companies=companies,
        links=links,
        inbound_indptr=row_pointers(buyers, count),
        outbound_order=outbound_order,
        outbound_indptr=row_pointers(suppliers, count),
        material_tags=frozenset(taxonomy["tag"].to_list()),
    )


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of `arange(start, end)` for each pair, without a Python loop: the entries of several CSR
    rows at once (`starts`, `ends`: their row pointers)."""
    lengths = ends - starts
    total = int(lengths.sum())
    before = np.cumsum(lengths) - lengths
    return (np.repeat(starts - before, lengths) + np.arange(total)).astype(np.int64)


def entry_rows(indptr: np.ndarray) -> np.ndarray:
    """The row of each entry of a CSR structure with row pointers `indptr` (the inverse of `row_pointers`)."""
    return np.repeat(np.arange(indptr.size - 1), np.diff(indptr))


def row_pointers(rows: np.ndarray, count: int) -> np.ndarray:
    """CSR row pointers for entries sorted by row (`rows`: each entry's row, in [0, count)): counts, cumulated."""
    indptr = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=count), out=indptr[1:])
    return indptr
