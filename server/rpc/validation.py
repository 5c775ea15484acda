"""Request-level checks that come before the core: required fields, sizes, ids."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import TypeVar

from server.core.errors import FieldViolation, InvalidArgumentError
from server.rpc.limits import refuse_over_limit

MAX_REQUEST_ID_LENGTH = 128
T = TypeVar("T")


def required(value: str, field: str) -> str:
    """The value, or INVALID_ARGUMENT naming the empty required field."""
    if not value.strip():
        msg = f"{field}: is required"
        raise InvalidArgumentError(msg, violations=[FieldViolation(field, msg)], reason="REQUIRED_FIELD")
    return value.strip()


def choice(value: int, choices: Mapping[int, T], field: str) -> T:
    """What an enum field's number means, or INVALID_ARGUMENT naming the field: an unknown number (a newer
    client's value, or garbage) is refused rather than guessed."""
    if value not in choices:
        msg = f"{field}: unknown value {value}, expected one of {', '.join(map(str, sorted(choices)))}"
        raise InvalidArgumentError(msg, violations=[FieldViolation(field, msg)])
    return choices[value]


def request_id(value: str) -> str:
    """An optional client request id: at most 128 characters."""
    if len(value) > MAX_REQUEST_ID_LENGTH:
        msg = f"request_id: must be at most {MAX_REQUEST_ID_LENGTH} characters, got {len(value)}"
        raise InvalidArgumentError(msg, violations=[FieldViolation("request_id", msg)])
    return value


def batch(items: Sized, field: str, *, limit: int) -> None:
    """A repeated field must hold 1..limit items."""
    if len(items) == 0:
        msg = f"{field}: at least one item is required"
        raise InvalidArgumentError(msg, violations=[FieldViolation(field, msg)], reason="REQUIRED_FIELD")
    refuse_over_limit(
        f"{field}: items per call",
        count=len(items),
        limit=limit,
        setting="max_batch_items",
        advice="split the batch or use ImportGraph",
    )
