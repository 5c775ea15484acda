"""The outermost interceptor: gives every call a request id (logged and echoed) and records its metrics.

It wraps the other interceptors, so it sees each call's final status: an abort (by the error table, or by auth)
raises out of the handler with the code already set on the context. The request id is the client's
`x-request-id` metadata when it is valid, else a fresh one; it is bound to the log context for the length of the
call and sent back as initial metadata, so a client can quote it and an operator can find the call's log lines.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import grpc

from server.logs import RequestContext, bind_request, unbind_request
from server.metrics import RpcMetrics
from server.rpc.handlers import Behaviour, replace_behaviour

REQUEST_ID_HEADER = "x-request-id"
# Printable ASCII, bounded: the id goes into every log line and back to the client.
_VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")
# grpc_type by (request streaming, response streaming), as grpc-ecosystem names them.
_KINDS = {
    (False, False): "unary",
    (True, False): "client_stream",
    (False, True): "server_stream",
    (True, True): "bidi_stream",
}
log = logging.getLogger("chokepoint.rpc.access")


@dataclass(frozen=True)
class _Rpc:
    service: str
    method: str
    kind: str  # grpc_type

    @classmethod
    def of(cls, full_method: str, kind: str) -> _Rpc:
        service, _, method = full_method.lstrip("/").rpartition("/")
        return cls(service or "unknown", method, kind)


@dataclass(frozen=True)
class _Started:
    rpc: _Rpc
    token: Token[RequestContext | None]
    began: float


class ObservabilityInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Request ids and RPC metrics for all four handler kinds; must be first in the server's interceptor list."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rpc = _Rpc.of(method, _KINDS[handler.request_streaming, handler.response_streaming])
        observe = self._observe_stream if handler.response_streaming else self._observe_unary
        return replace_behaviour(handler, lambda behaviour: observe(behaviour, rpc, method))

    def _observe_unary(self, behaviour: Behaviour, rpc: _Rpc, method: str) -> Behaviour:
        def observed(request: Any, context: grpc.ServicerContext) -> Any:
            started = self._start(rpc, method, context)
            try:
                response = behaviour(request, context)
            except BaseException:
                self._finish(started, _code_after_error(context))
                raise
            self._finish(started, _code_after_return(context))
            return response

        return observed

    def _observe_stream(self, behaviour: Behaviour, rpc: _Rpc, method: str) -> Behaviour:
        def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = self._start(rpc, method, context)
            try:
                yield from behaviour(request, context)
            except GeneratorExit:  # the client went away mid-stream
                self._finish(started, grpc.StatusCode.CANCELLED)
                raise
            except BaseException:
                self._finish(started, _code_after_error(context))
                raise
            self._finish(started, _code_after_return(context))

        return observed

    def _start(self, rpc: _Rpc, full_method: str, context: grpc.ServicerContext) -> _Started:
        sent = _sent_request_id(context)
        request_id = sent if sent is not None and _VALID_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        token = bind_request(request_id, full_method)
        if sent is not None and sent != request_id:
            log.warning("ignored an invalid %s (%d characters); using %s", REQUEST_ID_HEADER, len(sent), request_id)
        self._metrics.started.labels(rpc.service, rpc.method, rpc.kind).inc()
        self._metrics.in_flight.labels(rpc.service, rpc.method).inc()
        started = _Started(rpc, token, time.perf_counter())
        with suppress(grpc.RpcError):  # already cancelled: the handler will find out, and the call is still counted
            context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
        return started

    def _finish(self, started: _Started, code: grpc.StatusCode) -> None:
        rpc = started.rpc
        seconds = time.perf_counter() - started.began
        self._metrics.in_flight.labels(rpc.service, rpc.method).dec()
        self._metrics.handled.labels(rpc.service, rpc.method, rpc.kind, code.name).inc()
        self._metrics.handling_seconds.labels(rpc.service, rpc.method, rpc.kind).observe(seconds)
        log.debug("handled", extra={"code": code.name, "duration_ms": round(seconds * 1000, 3)})
        unbind_request(started.token)


def _sent_request_id(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return value if isinstance(value, str) else value.decode("ascii", "replace")
    return None


def _code_after_return(context: grpc.ServicerContext) -> grpc.StatusCode:
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]  # grpc-stubs lacks it
    if code is not None:
        return code
    if not context.is_active():  # the handler finished after the client stopped waiting
        return grpc.StatusCode.DEADLINE_EXCEEDED if context.time_remaining() == 0 else grpc.StatusCode.CANCELLED
    return grpc.StatusCode.OK


def _code_after_error(context: grpc.ServicerContext) -> grpc.StatusCode:
    # `abort` sets the code before raising; anything else escaping a handler is answered UNKNOWN by grpc.
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    return code if code is not None and code is not grpc.StatusCode.OK else grpc.StatusCode.UNKNOWN
