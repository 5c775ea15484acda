"""A shipment to evaluate, checked and tagged the same way a graph link is."""

from __future__ import annotations

from datetime import date
from typing import NoReturn

import polars as pl

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.evaluation import Shipment
from server.core.taxonomy import TRANSSHIPMENT, flag_transshipment, tags_of_code
from server.core.validation import COUNTRY_CODES, LIST_CODE_PATTERN, normalise_hs_code


def build_shipment(
    *,
    hs_code: str,
    origin_country: str,
    shipping_country: str,
    buyer_country: str,
    route: tuple[str, ...],
    buyer_lists: tuple[str, ...],
    taxonomy: dict[str, frozenset[str]],
) -> Shipment:
    """Validate the fields (each error names its field) and derive taxonomy tags and the transshipment flag."""
    code = normalise_hs_code(hs_code, field="hs_code")
    origin = _country(origin_country, "origin_country")
    shipping = _country(shipping_country, "shipping_country") if shipping_country else origin
    buyer = _country(buyer_country, "buyer_country")
    for index, country in enumerate(route):
        _country(country, f"route[{index}]")
    for index, code_name in enumerate(buyer_lists):
        if not pl.select(pl.lit(code_name).str.contains(LIST_CODE_PATTERN)).item():
            _refuse(f"buyer_lists[{index}]", f"must be a list code like US_ENTITY_LIST, got {code_name!r}")
    tags = tags_of_code(code, taxonomy)
    link = pl.DataFrame(
        {
            "route": [list(route)],
            "effective_origin_country": [origin],
            "supplier_country": [shipping],
            "buyer_country": [buyer],
        }
    )
    transshipment = bool(flag_transshipment(link)[0])
    return Shipment(
        hs_code=code,
        origin_country=origin,
        shipping_country=shipping,
        buyer_country=buyer,
        route=route,
        buyer_lists=frozenset(buyer_lists),
        tags=tags | ({TRANSSHIPMENT} if transshipment else set()),
        transshipment=transshipment,
    )


def parse_day(text: str, *, field: str, default: date) -> date:
    """An ISO date, or `default` when empty; errors name the field."""
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        _refuse(field, f"must be a date YYYY-MM-DD, got {text!r}")


def _country(code: str, field: str) -> str:
    if code not in COUNTRY_CODES:
        _refuse(field, f"must be an upper-case ISO 3166-1 alpha-2 country code, got {code!r}")
    return code


def _refuse(field: str, why: str) -> NoReturn:
    message = f"{field}: {why}"
    raise InvalidArgumentError(message, violations=[FieldViolation(field, message)])
