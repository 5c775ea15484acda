"""The one place domain errors become gRPC statuses: a table of codes and an interceptor applying it.

Errors go out as `google.rpc.Status` with one `ErrorInfo` (reason, domain) and, for bad input, a `BadRequest`
listing each field violation. Anything unexpected is logged with its traceback and answered INTERNAL with a
generic message, so no internals leak to clients.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
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
from server.rpc.handlers import Handler, MethodInterceptor, replace_behaviour

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


class ErrorInterceptor(MethodInterceptor):
    """Wraps every handler so domain errors and unexpected failures are answered the same way everywhere.

    Handlers raise domain errors and never call `context.abort` themselves: this is the one place that does.
    """

    def wrap(self, method: str, handler: Handler) -> Handler:
        guard = _guard_stream if handler.response_streaming else _guard_unary
        return replace_behaviour(handler, lambda behaviour: guard(behaviour, method))


def _guard_unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
    def guarded(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behaviour(request, context)
        except Exception as error:  # noqa: BLE001 (translated once, here)
            _abort(error, context, method)

    return guarded


def _guard_stream(behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str) -> Callable[..., Any]:
    def guarded(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from behaviour(request, context)
        except Exception as error:  # noqa: BLE001 (translated once, here)
            _abort(error, context, method)

    return guarded


def _abort(error: Exception, context: grpc.ServicerContext, method: str) -> None:
    if isinstance(error, grpc.RpcError) and not context.is_active():
        # A request stream raises this when its call ends mid-upload: the client went away, not a bug of ours.
        error = CancelledError("the call ended while its requests were being read")
    if isinstance(error, CancelledError):
        log.info("%s stopped: %s", method, error.message)
    if isinstance(error, ChokepointError):
        context.abort_with_status(rpc_status.to_status(to_rpc_status(error)))
    incident = uuid.uuid4().hex[:12]
    log.exception("unexpected error in %s (incident %s)", method, incident)
    message = f"internal error (incident {incident}); the server log has the details"
    context.abort_with_status(status_with_reason(grpc.StatusCode.INTERNAL, message, reason="INTERNAL"))


def status_with_reason(code: grpc.StatusCode, message: str, *, reason: str) -> grpc.Status:
    """A status for `context.abort_with_status` carrying one ErrorInfo(reason, domain), for refusals made outside
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
