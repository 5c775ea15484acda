"""Method handlers wrapped once per method by the interceptors, and answers that are already serialized bytes."""

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


def replace_behaviour(handler: Handler, wrap: Callable[[Behaviour], Behaviour]) -> Handler:
    """A handler of the same kind whose behaviour is `wrap(behaviour)`; its serializer sends a behaviour's answer as
    it is when the behaviour already serialized it (bytes, e.g. a cached ScoreCompany answer)."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": _passing_bytes(handler.response_serializer),
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), **serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), **serializers)
    assert handler.stream_stream is not None  # one of the four is always set
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream), **serializers)


def _passing_bytes(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    if serializer is None or isinstance(serializer, _PassingBytes):  # wrapped once, however many layers rebuild
        return serializer
    return _PassingBytes(serializer)


class _PassingBytes:
    """A response serializer that sends bytes as they are and serializes anything else with `serializer`."""

    def __init__(self, serializer: Callable[[Any], bytes]) -> None:
        self._serializer = serializer

    def __call__(self, response: Any) -> bytes:
        return response if isinstance(response, bytes) else self._serializer(response)
