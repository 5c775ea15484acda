"""Rebuilding a method handler around a wrapped behaviour, for interceptors that act before or after a call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]


def replace_behaviour(
    handler: grpc.RpcMethodHandler[Any, Any], wrap: Callable[[Behaviour], Behaviour]
) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same kind and (de)serializers whose behaviour is `wrap(behaviour)`."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary), **serializers)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream), **serializers)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary), **serializers)
    assert handler.stream_stream is not None  # one of the four is always set
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream), **serializers)
