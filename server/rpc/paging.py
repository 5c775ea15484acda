"""AIP-158 paging: page sizes and opaque, filter-bound page tokens carrying the last key of a page."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import NoReturn

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.queries import Page
from server.rpc.limits import clamped

DEFAULT_PAGE_SIZE = 100


def page_size(requested: int, *, maximum: int) -> int:
    """0 means the default; above `maximum` (Limits.max_page_size) is clamped to it (AIP-158); negative is refused."""
    return clamped(requested, "page_size", default=min(DEFAULT_PAGE_SIZE, maximum), maximum=maximum)


def encode_token(key: tuple[str, ...], *, filters: tuple[str, ...]) -> str:
    """A token resuming after `key`, valid only with the same `filters`."""
    payload = json.dumps({"k": list(key), "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_token(token: str, *, filters: tuple[str, ...], key_length: int) -> tuple[str, ...] | None:
    """The key a token resumes after (None for no token), refusing tokens that are forged or from other filters."""
    if not token:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = tuple(str(part) for part in payload["k"])
        fingerprint = payload["f"]
    except (ValueError, KeyError, TypeError):
        _refuse("is not a token this service issued")
    if len(key) != key_length:
        _refuse("is not a token for this list")
    if fingerprint != _fingerprint(filters):
        _refuse("was issued for different filters; keep the filters unchanged while paging")
    return key


def _fingerprint(filters: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(filters).encode()).hexdigest()[:16]


def _refuse(why: str) -> NoReturn:
    msg = f"page_token: {why}"
    raise InvalidArgumentError(msg, violations=[FieldViolation("page_token", msg)], reason="INVALID_PAGE_TOKEN")


def next_page_token(page: Page, *, order: tuple[str, ...], filters: tuple[str, ...]) -> str:
    """The token for the page after `page` (its last row's key), or empty on the last page."""
    last = tuple(str(part) for part in page.rows.select(order).row(-1)) if page.has_more else None
    return token_after(last, filters=filters)


def token_after(key: tuple[str, ...] | None, *, filters: tuple[str, ...]) -> str:
    """A token resuming after `key`; empty when there is no next page (`key` None)."""
    return "" if key is None else encode_token(key, filters=filters)
