"""The outermost stage: gives every call a request id (logged and echoed) and records its metrics.

It wraps the other stages, so it sees each call's final status: the error stage and auth set a failed call's
status on the context before they return, and a cancelled call raises out of the behaviour. The request id is the
client's `x-request-id` metadata when it is valid, else a fresh one; it is bound to the log context for the length
of the call and sent back in the trailing metadata, so a client can quote it and an operator can find the call's
log lines. Trailers, not headers: the server sends them with the status anyway, where headers would cost every call
a send of its own (about a fifth of a cached ScoreCompany's cost, measured under h2load).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextvars import Token
from dataclasses import dataclass
from typing import Any

import grpc

from server.logs import RequestContext, bind_request, unbind_request
from server.metrics import RpcMetrics
from server.rpc.calls import Context, Method, Streaming, Unary
from server.rpc.handlers import Stage

REQUEST_ID_HEADER = "x-request-id"
# Printable ASCII, bounded: the id goes into every log line and back to the client.
_VALID_REQUEST_ID = re.compile(r"[\x20-\x7e]{1,128}")
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


class Observability(Stage):
    """Request ids and RPC metrics for all four kinds of method; must be the server's first stage."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics

    def unary(self, method: Method, behaviour: Unary) -> Unary:
        series = _MethodMetrics(self._metrics, method.name, method.kind)

        async def observed(request: Any, context: Context) -> Any:
            started = _start(series, method.name, context)
            try:
                response = await behaviour(request, context)
            except BaseException as error:
                _finish(started, series, _code_after_error(error, context))
                raise
            _finish(started, series, _code_after_return(context))
            return response

        return observed

    def streaming(self, method: Method, behaviour: Streaming) -> Streaming:
        series = _MethodMetrics(self._metrics, method.name, method.kind)

        async def observed(request: Any, context: Context) -> AsyncIterator[Any]:
            started = _start(series, method.name, context)
            try:
                async for response in behaviour(request, context):
                    yield response
            except BaseException as error:  # GeneratorExit included: the client went away mid-stream
                _finish(started, series, _code_after_error(error, context))
                raise
            _finish(started, series, _code_after_return(context))

        return observed


def _start(series: _MethodMetrics, full_method: str, context: Context) -> _Started:
    sent = _sent_request_id(context)
    # 128 random bits in hex, as uuid4().hex gives, for a quarter of its cost (measured 0.45 against 2.0 us).
    request_id = sent if sent is not None and _VALID_REQUEST_ID.fullmatch(sent) else os.urandom(16).hex()
    token = bind_request(request_id, full_method)
    if sent is not None and sent != request_id:
        log.warning("ignored an invalid %s (%d characters); using %s", REQUEST_ID_HEADER, len(sent), request_id)
    series.started.inc()
    series.in_flight.inc()
    context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))
    return _Started(token, time.perf_counter())


def _finish(started: _Started, series: _MethodMetrics, code: grpc.StatusCode) -> None:
    seconds = time.perf_counter() - started.began
    series.in_flight.dec()
    series.handled(code).inc()
    series.handling_seconds.observe(seconds)
    if log.isEnabledFor(logging.DEBUG):  # the fields are not built for a record that is not kept
        log.debug("handled", extra={"code": code.name, "duration_ms": round(seconds * 1000, 3)})
    unbind_request(started.token)


def _sent_request_id(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER:
            return value if isinstance(value, str) else value.decode("ascii", "replace")
    return None


def _code_after_return(context: Context) -> grpc.StatusCode:
    code: grpc.StatusCode | None = context.code()
    if code is not None:
        return code
    return _code_after_cancel(context) if context.cancelled() else grpc.StatusCode.OK


def _code_after_cancel(context: Context) -> grpc.StatusCode:
    remaining = context.time_remaining()
    return grpc.StatusCode.DEADLINE_EXCEEDED if remaining is not None and remaining <= 0 else grpc.StatusCode.CANCELLED


def _code_after_error(error: BaseException, context: Context) -> grpc.StatusCode:
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):  # the client stopped waiting, or time ran out
        return _code_after_cancel(context)
    # An abort sets the code before raising; anything else escaping is answered UNKNOWN by grpc.
    code: grpc.StatusCode | None = context.code()
    return code if code is not None and code is not grpc.StatusCode.OK else grpc.StatusCode.UNKNOWN
