"""The shapes of a call as the stages and the bridge see it (`server.rpc.handlers`, `server.rpc.bridge`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:  # generic only in grpc-stubs
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
    Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Context = grpc.aio.ServicerContext

Unary: TypeAlias = Callable[[Any, Context], Awaitable[Any]]
Streaming: TypeAlias = Callable[[Any, Context], AsyncIterator[Any]]
# A cheap, non-blocking answer from what is already computed (a cache), or None to run the behaviour.
AnswerNow: TypeAlias = Callable[[Any], Any]

# grpc_type by (request streaming, response streaming), as grpc-ecosystem names them.
_KINDS = {
    (False, False): "unary",
    (True, False): "client_stream",
    (False, True): "server_stream",
    (True, True): "bidi_stream",
}


@dataclass(frozen=True)
class Method:
    name: str  # the full name, "/package.Service/Method"
    request_streaming: bool
    response_streaming: bool

    @property
    def kind(self) -> str:
        return _KINDS[self.request_streaming, self.response_streaming]
