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
    ChokepointError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    StoreCorruptError,
)

ERROR_DOMAIN = "chokepoint.dev"
STATUS_BY_ERROR: dict[type[ChokepointError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    StoreCorruptError: grpc.StatusCode.DATA_LOSS,
}
log = logging.getLogger("chokepoint.rpc")


def status_code_of(error: ChokepointError) -> grpc.StatusCode:
    """The status for a domain error: its class's entry, else its nearest base class's, else INTERNAL."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def to_rpc_status(error: ChokepointError) -> status_pb2.Status:
    """A `google.rpc.Status` carrying ErrorInfo (reason, domain) and BadRequest field violations."""
    code = status_code_of(error)
    details = [error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)]
    if isinstance(error, InvalidArgumentError) and error.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
    return status_pb2.Status(
        code=getattr(code_pb2, code.name), message=error.message, details=[_pack(detail) for detail in details]
    )


class ErrorInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps every handler so domain errors and unexpected failures are answered the same way everywhere.

    Handlers raise domain errors and never call `context.abort` themselves: this is the one place that does.
    """

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _guard_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _guard_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _guard_unary(handler.stream_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        assert handler.stream_stream is not None  # one of the four is always set
        return grpc.stream_stream_rpc_method_handler(
            _guard_stream(handler.stream_stream, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


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
    if isinstance(error, ChokepointError):
        context.abort_with_status(rpc_status.to_status(to_rpc_status(error)))
    incident = uuid.uuid4().hex[:12]
    log.exception("unexpected error in %s (incident %s)", method, incident)
    internal = status_pb2.Status(
        code=code_pb2.INTERNAL,
        message=f"internal error (incident {incident}); the server log has the details",
        details=[_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))],
    )
    context.abort_with_status(rpc_status.to_status(internal))


def _pack(detail: Any) -> any_pb2.Any:
    holder = any_pb2.Any()
    holder.Pack(detail)
    return holder
