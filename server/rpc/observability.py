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
from collections.abc import Iterator
from contextlib import suppress
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import grpc

from server.logs import RequestContext, bind_request, unbind_request
from server.metrics import RpcMetrics
from server.rpc.handlers import Behaviour, Handler, MethodInterceptor, replace_behaviour

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


class _MethodMetrics:
    """One method's metric series, looked up once: `labels()` takes a lock and builds a key on every use."""

    def __init__(self, metrics: RpcMetrics, full_method: str, kind: str) -> None:
        service, _, method = full_method.lstrip("/").rpartition("/")
        service = service or "unknown"
        self.started = metrics.started.labels(service, method, kind)
        self.in_flight = metrics.in_flight.labels(service, method)
        self.handling_seconds = metrics.handling_seconds.labels(service, method, kind)
        self._handled = metrics.handled
        self._labels = (service, method, kind)
        self._handled_by_code: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        series = self._handled_by_code.get(code)
        if series is None:
            series = self._handled_by_code.setdefault(code, self._handled.labels(*self._labels, code.name))
        return series


@dataclass(frozen=True)
class _Started:
    token: Token[RequestContext | None]
    began: float


class ObservabilityInterceptor(MethodInterceptor):
    """Request ids and RPC metrics for all four handler kinds; must be first in the server's interceptor list."""

    def __init__(self, metrics: RpcMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, method: str, handler: Handler) -> Handler:
        series = _MethodMetrics(self._metrics, method, _KINDS[handler.request_streaming, handler.response_streaming])
        observe = _observe_stream if handler.response_streaming else _observe_unary
        return replace_behaviour(handler, lambda behaviour: observe(behaviour, series, method))


def _observe_unary(behaviour: Behaviour, series: _MethodMetrics, method: str) -> Behaviour:
    def observed(request: Any, context: grpc.ServicerContext) -> Any:
        started = _start(series, method, context)
        try:
            response = behaviour(request, context)
        except BaseException:
            _finish(started, series, _code_after_error(context))
            raise
        _finish(started, series, _code_after_return(context))
        return response

    return observed


def _observe_stream(behaviour: Behaviour, series: _MethodMetrics, method: str) -> Behaviour:
    def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = _start(series, method, context)
        try:
            yield from behaviour(request, context)
        except GeneratorExit:  # the client went away mid-stream
            _finish(started, series, grpc.StatusCode.CANCELLED)
            raise
        except BaseException:
            _finish(started, series, _code_after_error(context))
            raise
        _finish(started, series, _code_after_return(context))

    return observed


def _start(series: _MethodMetrics, full_method: str, context: grpc.ServicerContext) -> _Started:
    sent = _sent_request_id(context)
    request_id = sent if sent is not None and _VALID_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    token = bind_request(request_id, full_method)
    if sent is not None and sent != request_id:
        log.warning("ignored an invalid %s (%d characters); using %s", REQUEST_ID_HEADER, len(sent), request_id)
    series.started.inc()
    series.in_flight.inc()
    started = _Started(token, time.perf_counter())
    with suppress(grpc.RpcError):  # already cancelled: the handler will find out, and the call is still counted
        context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
    return started


def _finish(started: _Started, series: _MethodMetrics, code: grpc.StatusCode) -> None:
    seconds = time.perf_counter() - started.began
    series.in_flight.dec()
    series.handled(code).inc()
    series.handling_seconds.observe(seconds)
    if log.isEnabledFor(logging.DEBUG):  # the fields are not built for a record that is not kept
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
