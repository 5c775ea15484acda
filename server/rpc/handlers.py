"""Method handlers: registered so that answers already serialized (bytes) go out as they are, and wrapped once per
method by the interceptors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
if TYPE_CHECKING:  # generic only in grpc-stubs
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
else:
    Handler = grpc.RpcMethodHandler


class MethodInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """An interceptor whose wrapping depends only on the method: each method's handler is wrapped on its first call
    and reused for every later one.

    gRPC asks every interceptor for a handler on every call; rebuilding the wrappers each time cost more than a cached
    ScoreCompany's own work. Anything that differs per call (the caller's token, its request id) is read from the
    context inside the wrapped behaviour. Every interceptor of a server must be one: a reused handler already holds
    the inner interceptors' wrapping, so they are not asked again.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def wrap(self, method: str, handler: Handler) -> Handler:
        """The handler to serve `method` with (`handler` itself when there is nothing to add)."""
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            inner = continuation(handler_call_details)
            if inner is None:  # no such method: gRPC answers UNIMPLEMENTED; not kept, so made-up names add nothing
                return None
            # Two first calls may race; both wrappings are equivalent and one is kept.
            handler = self._handlers.setdefault(method, self.wrap(method, inner))
        return handler


def add_servicer(add_to_server: Callable[[Any, Any], None], servicer: object, server: grpc.Server) -> None:
    """Register `servicer` through its generated `add_*_to_server`, each method's response serializer sending an
    answer the servicer already serialized (bytes, e.g. a cached ScoreCompany answer) as it is."""
    add_to_server(servicer, _PassingBytesRegistration(server))


def replace_behaviour(handler: Handler, wrap: Callable[[Behaviour], Behaviour]) -> Handler:
    """A handler of the same kind and (de)serializers whose behaviour is `wrap(behaviour)`."""
    return _rebuilt(handler, wrap(_behaviour(handler)), response_serializer=handler.response_serializer)


def _behaviour(handler: Handler) -> Behaviour:
    behaviour = handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    assert behaviour is not None  # one of the four is always set
    return behaviour


def _rebuilt(handler: Handler, behaviour: Behaviour, *, response_serializer: Callable[[Any], bytes] | None) -> Handler:
    serializers = {"request_deserializer": handler.request_deserializer, "response_serializer": response_serializer}
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(behaviour, **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(behaviour, **serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(behaviour, **serializers)
    return grpc.stream_stream_rpc_method_handler(behaviour, **serializers)


class _PassingBytesRegistration:
    """What generated `add_*_to_server` code sees as the server: it registers each method handler with a response
    serializer that passes bytes through. The generated code hands the same handlers to both calls; they are
    registered once, from the second."""

    def __init__(self, server: grpc.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Handler]) -> None:
        passing = {name: _passing(handler) for name, handler in handlers.items()}
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, passing),))
        # Not in grpc-stubs; the generated code calls it too: registered methods skip a lookup per call.
        self._server.add_registered_method_handlers(service, passing)  # type: ignore[attr-defined]


def _passing(handler: Handler) -> Handler:
    serializer = handler.response_serializer
    passing = None if serializer is None else _PassingBytes(serializer)
    return _rebuilt(handler, _behaviour(handler), response_serializer=passing)


class _PassingBytes:
    """A response serializer that sends bytes as they are and serializes anything else with `serializer`."""

    def __init__(self, serializer: Callable[[Any], bytes]) -> None:
        self._serializer = serializer

    def __call__(self, response: Any) -> bytes:
        return response if isinstance(response, bytes) else self._serializer(response)
