"""The audit log of writes: one record per write call on logger `chokepoint.audit`, whatever its outcome.

Each record's `extra` fields (which the text and JSON formatters print): `principal`, `method` (full gRPC name),
`code` (the status name: OK, or why the write failed or was refused), `request_id` (the write request's own; when
it has none, the call id the log context adds stands in), and `graph_version` or `policy_version` (what a
successful write produced, whichever its response carries).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from server.principals import current_principal
from server.rpc.calls import Context, Method, Unary
from server.rpc.handlers import Stage

log = logging.getLogger("chokepoint.audit")


def record_write(
    *, principal: str, method: str, request_id: str, code: grpc.StatusCode, response: Message | None = None
) -> None:
    """Log one write: INFO when it succeeded, WARNING when it failed or was refused."""
    fields: dict[str, Any] = {"principal": principal, "method": method, "code": code.name}
    if request_id:  # else the call id the log context adds (x-request-id) stands in
        fields["request_id"] = request_id
    for name in ("graph_version", "policy_version"):
        value = _field(response, name)
        if value is not None:
            fields[name] = value
    level = logging.INFO if code is grpc.StatusCode.OK else logging.WARNING
    # The text stays short: text and JSON formatters both add the extra fields.
    log.log(level, "write %s by %s: %s", method.rpartition(".")[2], principal, code.name, extra=fields)


def request_id_of(request: Any) -> str:
    """The request's `request_id`, or "" when it has none (or is a stream, read by the handler itself)."""
    return str(_field(request, "request_id") or "")


def _field(message: Any, name: str) -> Any:
    if isinstance(message, Message) and name in message.DESCRIPTOR.fields_by_name:
        return getattr(message, name)
    return None


class Audit(Stage):
    """Records every call of `methods` (the writes) after it ends, with the caller's principal.

    Sits outside the error stage, so a failed write is recorded with the status that was sent. Writes answer with
    one message; for a streamed request (ImportGraph) the request id is the first chunk's.
    """

    def __init__(self, methods: frozenset[str]) -> None:
        self._methods = methods

    def unary(self, method: Method, behaviour: Unary) -> Unary:
        if method.name not in self._methods:
            return behaviour
        name = method.name

        async def audited(request: Any, context: Context) -> Any:
            request_ids = [request_id_of(request)]
            if method.request_streaming:
                request = _noting_first_request_id(request, request_ids)
            try:
                response = await behaviour(request, context)
            except BaseException:
                # The error stage inside answers every error with its status, so only a cancellation gets here.
                code = context.code() or grpc.StatusCode.CANCELLED
                record_write(principal=current_principal().name, method=name, request_id=request_ids[-1], code=code)
                raise
            code = context.code() or grpc.StatusCode.OK  # a failed write's status, set by the error stage
            record_write(
                principal=current_principal().name,
                method=name,
                request_id=request_ids[-1],
                code=code,
                response=response,
            )
            return response

        return audited


async def _noting_first_request_id(requests: AsyncIterator[Any], request_ids: list[str]) -> AsyncIterator[Any]:
    first = True
    async for request in requests:
        if first:
            request_ids.append(request_id_of(request))
            first = False
        yield request
