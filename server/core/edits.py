"""Pure edits of the canonical tables: each takes the current tables and a change and returns the new tables.

The store records the same change (as journal rows or a new snapshot) and builds the compute form from these tables,
so the compute form never drifts from the record. (A write that only re-values links patches the current compute
form instead, to what a build of these tables gives: revaluation.py, checked by its tests.)
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from server.core.schema import LINK_KEY


@dataclass(frozen=True)
class EditResult:
    """The tables after an edit and what it did."""

    companies: pl.DataFrame
    links: pl.DataFrame
    created: int = 0
    updated: int = 0
    deleted_links: int = 0


def upsert_companies(companies: pl.DataFrame, links: pl.DataFrame, new: pl.DataFrame) -> EditResult:
    """Create or replace companies by `company_id`."""
    if companies.is_empty():  # a replacing import: nothing to replace, and no copy of `new` to make
        return EditResult(new, links, created=new.height)
    existing = new["company_id"].is_in(companies["company_id"].implode())
    kept = companies.filter(~pl.col("company_id").is_in(new["company_id"].implode()))
    updated = int(existing.sum())
    return EditResult(pl.concat([kept, new]), links, created=new.height - updated, updated=updated)


def upsert_links(companies: pl.DataFrame, links: pl.DataFrame, new: pl.DataFrame) -> EditResult:
    """Create or replace links by (supplier_id, buyer_id, hs_code)."""
    if links.is_empty():  # a replacing import: skips hashing every new key to find none
        return EditResult(companies, new, created=new.height)
    kept = links.join(new.select(LINK_KEY), on=list(LINK_KEY), how="anti")
    updated = links.height - kept.height
    return EditResult(companies, pl.concat([kept, new]), created=new.height - updated, updated=updated)


def delete_company(companies: pl.DataFrame, links: pl.DataFrame, company_id: str) -> EditResult:
    """Remove a company and every link it sells or buys (the caller decides whether that is allowed)."""
    touching = (pl.col("supplier_id") == company_id) | (pl.col("buyer_id") == company_id)
    kept = links.filter(~touching)
    return EditResult(
        companies.filter(pl.col("company_id") != company_id), kept, deleted_links=links.height - kept.height
    )


def delete_link(companies: pl.DataFrame, links: pl.DataFrame, key: tuple[str, str, str]) -> EditResult:
    """Remove one link by its key (`deleted_links` is 0 when there is no such link)."""
    supplier_id, buyer_id, hs_code = key
    match = (pl.col("supplier_id") == supplier_id) & (pl.col("buyer_id") == buyer_id) & (pl.col("hs_code") == hs_code)
    kept = links.filter(~match)
    return EditResult(companies, kept, deleted_links=links.height - kept.height)
