"""Domain errors. Each knows its reason; the transport maps the class to a status code in one table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: its path (`links[3].annual_value_usd`, `links.csv[3].hs_code`) and what is wrong."""

    field: str
    description: str


class ChokepointError(Exception):
    """Base of every error the core raises on purpose; `reason` is a stable UPPER_SNAKE code for clients."""

    reason = "CHOKEPOINT_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason


class InvalidArgumentError(ChokepointError):
    """The request or file is malformed; `violations` names each bad field."""

    reason = "INVALID_ARGUMENT"

    def __init__(
        self, message: str, *, violations: list[FieldViolation] | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.violations = violations or []


class NotFoundError(ChokepointError):
    """The named entity does not exist."""

    reason = "NOT_FOUND"


class AlreadyExistsError(ChokepointError):
    """The entity to create exists already."""

    reason = "ALREADY_EXISTS"


class FailedPreconditionError(ChokepointError):
    """The request is well formed but the current state refuses it (e.g. a company still in use)."""

    reason = "FAILED_PRECONDITION"


class ResourceExhaustedError(ChokepointError):
    """A configured limit was exceeded."""

    reason = "LIMIT_EXCEEDED"


class CancelledError(ChokepointError):
    """The caller gave up (cancelled the call, or its connection died); the computation stopped and kept nothing."""

    reason = "CANCELLED"


class DeadlineExceededError(CancelledError):
    """The caller's deadline passed; the computation stopped and kept nothing."""

    reason = "DEADLINE_EXCEEDED"


class StoreCorruptError(ChokepointError):
    """The store of record failed its integrity check; the service must not serve it."""

    reason = "STORE_CORRUPT"
