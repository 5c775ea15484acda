"""The one place domain errors become gRPC statuses: a table of codes and the stage applying it.

Errors go out as `google.rpc.Status` with one `ErrorInfo` (reason, domain) and, for bad input, a `BadRequest`
listing each field violation. Anything unexpected is logged with its traceback and answered INTERNAL with a
generic message, so no internals leak to clients.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.core.errors import (
    AlreadyExistsError,
    CancelledError,
    ChokepointError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    StoreCorruptError,
)
from server.rpc.calls import Context, Method, Streaming, Unary
from server.rpc.handlers import Stage

ERROR_DOMAIN = "chokepoint.dev"
STATUS_BY_ERROR: dict[type[ChokepointError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StoreCorruptError: grpc.StatusCode.DATA_LOSS,
    CancelledError: grpc.StatusCode.CANCELLED,
    DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
}
# The status travels in trailers, which clients refuse above 8 KiB (gRPC's default soft limit) with an opaque
# RESOURCE_EXHAUSTED: the message goes twice (grpc-message, percent-encoded so up to 3x its bytes, and inside
# grpc-status-details-bin, base64) and the violations once. Echoed input (a 5000-character id) must not push it over.
MAX_MESSAGE_BYTES = 512
MAX_VIOLATION_BYTES = 256
MAX_VIOLATIONS_BYTES = 3000
log = logging.getLogger("chokepoint.rpc")


def status_code_of(error: ChokepointError) -> grpc.StatusCode:
    """The status for a domain error: its class's entry, else its nearest base class's, else INTERNAL."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def to_rpc_status(error: ChokepointError) -> status_pb2.Status:
    """A `google.rpc.Status` carrying ErrorInfo (reason, domain) and BadRequest field violations, small enough
    to travel as trailers (see `MAX_MESSAGE_BYTES`)."""
    code = status_code_of(error)
    details = [error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)]
    if isinstance(error, InvalidArgumentError) and error.violations:
        bad_request = error_details_pb2.BadRequest()
        for v in error.violations:
            bad_request.field_violations.add(
                field=_clip(v.field, MAX_VIOLATION_BYTES), description=_clip(v.description, MAX_VIOLATION_BYTES)
            )
            if bad_request.ByteSize() > MAX_VIOLATIONS_BYTES:
                del bad_request.field_violations[-1]  # the message says how many there were
                break
        details.append(bad_request)
    return status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message=_clip(error.message, MAX_MESSAGE_BYTES),
        details=[_pack(detail) for detail in details],
    )


def _clip(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of `text`, cut on a character boundary and marked with an ellipsis."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore") + "..."


class Errors(Stage):
    """Wraps every behaviour so domain errors and unexpected failures are answered the same way everywhere.

    Behaviours raise domain errors and never end the call with a status themselves: this is the one place that
    does.
    """

    def unary(self, method: Method, behaviour: Unary) -> Unary:
        async def guarded(request: Any, context: Context) -> Any:
            try:
                return await behaviour(request, context)
            except Exception as error:  # noqa: BLE001 (translated once, here)
                _answer(error, context, method.name)
                return None

        return guarded

    def streaming(self, method: Method, behaviour: Streaming) -> Streaming:
        async def guarded(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                async for response in behaviour(request, context):
                    yield response
            except Exception as error:  # noqa: BLE001 (translated once, here)
                _answer(error, context, method.name)

        return guarded


def _answer(error: Exception, context: Context, method: str) -> None:
    if isinstance(error, CancelledError):
        log.info("%s stopped: %s", method, error.message)
    if isinstance(error, ChokepointError):
        end_with(context, rpc_status.to_status(to_rpc_status(error)))
        return
    incident = uuid.uuid4().hex[:12]
    log.exception("unexpected error in %s (incident %s)", method, incident)
    message = f"internal error (incident {incident}); the server log has the details"
    end_with(context, status_with_reason(grpc.StatusCode.INTERNAL, message, reason="INTERNAL"))


def end_with(context: Context, status: grpc.Status) -> None:
    """Answer the call with `status` when its behaviour returns (it must then return nothing), keeping the trailing
    metadata already set (the request id) beside the status's own.

    Not `context.abort`, which sends the status at once: a client could then see the error before the outer stages
    had recorded the call (its metrics, its audit record).
    """
    context.set_code(status.code)
    context.set_details(status.details)
    context.set_trailing_metadata((*(context.trailing_metadata() or ()), *(status.trailing_metadata or ())))


def status_with_reason(code: grpc.StatusCode, message: str, *, reason: str) -> grpc.Status:
    """A status for `end_with` carrying one ErrorInfo(reason, domain), for refusals made outside
    the domain (authentication, authorisation, unexpected failures)."""
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name),
        message=message,
        details=[_pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))],
    )
    return rpc_status.to_status(status)


def _pack(detail: Any) -> any_pb2.Any:
    holder = any_pb2.Any()
    holder.Pack(detail)
    return holder
