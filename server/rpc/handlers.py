"""How a call reaches a servicer. Each method's handler is wrapped once, when it is registered: the server's stages
(request id and metrics, auth, audit, errors) run on the event loop around the bridge (`server.rpc.bridge`), which
runs the servicer's synchronous behaviour in a worker thread. Answers already serialized (bytes) go out as they are.

Stages run on the loop, for every call: they must never block, and they do their per-method work (metric series,
role lookups) when they wrap, not per call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grpc

from server.rpc import bridge
from server.rpc.calls import AnswerNow, Handler, Method, Streaming, Unary


class Stage:
    """One layer around every method. The defaults add nothing."""

    def unary(self, method: Method, behaviour: Unary) -> Unary:
        return behaviour

    def streaming(self, method: Method, behaviour: Streaming) -> Streaming:
        return behaviour


class Registry:
    """What generated `add_*_to_server` code sees as the server: each method handler it registers is wrapped by
    `stages` (the first outermost) around the bridge to its synchronous behaviour, and registered on `server` with a
    response serializer that sends bytes as they are.

    The generated code hands the same handlers to two calls; they are registered once, from the second.
    """

    def __init__(self, server: grpc.aio.Server, stages: Sequence[Stage]) -> None:
        self._server = server
        self._stages = stages

    def add_servicer(
        self,
        add_to_server: Callable[[Any, Any], None],
        servicer: object,
        answer_now: Mapping[str, AnswerNow] | None = None,
    ) -> None:
        """Register `servicer` through its generated `add_*_to_server`; `answer_now` maps method names (without
        the service) to their cheap first try (see `server.rpc.bridge.unary`)."""
        add_to_server(servicer, _Registration(self, answer_now or {}))

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, Handler], answer_now: Mapping[str, AnswerNow] | None = None
    ) -> None:
        answers = answer_now or {}
        wrapped = {
            name: self._wrapped(f"/{service}/{name}", handler, answers.get(name)) for name, handler in handlers.items()
        }
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, wrapped),))
        self._server.add_registered_method_handlers(service, wrapped)  # type: ignore[attr-defined]  # not in stubs

    def _wrapped(self, name: str, handler: Handler, answer_now: AnswerNow | None) -> Handler:
        method = Method(name, handler.request_streaming, handler.response_streaming)
        serializers: dict[str, Any] = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": _passing(handler.response_serializer),
        }
        if method.response_streaming:
            streaming = bridge.streaming(handler)
            for stage in reversed(self._stages):
                streaming = stage.streaming(method, streaming)
            if method.request_streaming:
                return grpc.stream_stream_rpc_method_handler(streaming, **serializers)
            return grpc.unary_stream_rpc_method_handler(streaming, **serializers)
        unary = bridge.unary(handler, answer_now)
        for stage in reversed(self._stages):
            unary = stage.unary(method, unary)
        if method.request_streaming:
            return grpc.stream_unary_rpc_method_handler(unary, **serializers)
        return grpc.unary_unary_rpc_method_handler(unary, **serializers)


class _Registration:
    """What one servicer's generated `add_*_to_server` sees: the registry, with that servicer's `answer_now`."""

    def __init__(self, registry: Registry, answer_now: Mapping[str, AnswerNow]) -> None:
        self._registry = registry
        self._answer_now = answer_now

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Handler]) -> None:
        self._registry.add_registered_method_handlers(service, handlers, self._answer_now)


def _passing(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    return None if serializer is None else _PassingBytes(serializer)


class _PassingBytes:
    """A response serializer that sends bytes as they are and serializes anything else with `serializer`."""

    def __init__(self, serializer: Callable[[Any], bytes]) -> None:
        self._serializer = serializer

    def __call__(self, response: Any) -> bytes:
        return response if isinstance(response, bytes) else self._serializer(response)
