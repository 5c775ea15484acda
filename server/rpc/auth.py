"""Who may call what: the one authorisation table, and the stage that enforces it with bearer tokens.

Deny by default: a method missing from the table is refused even to an admin, so a new RPC is unreachable until
someone decides its role here (a test walks every service descriptor against this table). Health needs no
credentials, so orchestrators can probe a locked-down service.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from server.principals import Principal, Role, act_as
from server.rpc.audit import record_write, request_id_of
from server.rpc.calls import Context, Method, Streaming, Unary
from server.rpc.errors import end_with, status_with_reason
from server.rpc.handlers import Stage
from server.tokens import TokenBook

_GRAPH = "/chokepoint.v1.GraphService/"
_POLICY = "/chokepoint.v1.PolicyService/"
_EXPOSURE = "/chokepoint.v1.ExposureService/"

# Reads, scoring, evaluation and export need reader; graph and scenario writes need writer; ImportGraph, which can
# replace the whole graph, needs admin.
REQUIRED_ROLE: dict[str, Role] = {
    _GRAPH + "GetCompany": Role.READER,
    _GRAPH + "ListCompanies": Role.READER,
    _GRAPH + "ListSupplyLinks": Role.READER,
    _GRAPH + "ExportGraph": Role.READER,
    _GRAPH + "GetGraphStats": Role.READER,
    _GRAPH + "UpsertCompanies": Role.WRITER,
    _GRAPH + "DeleteCompany": Role.WRITER,
    _GRAPH + "UpsertSupplyLinks": Role.WRITER,
    _GRAPH + "DeleteSupplyLink": Role.WRITER,
    _GRAPH + "ImportGraph": Role.ADMIN,
    _POLICY + "GetScenario": Role.READER,
    _POLICY + "ListScenarios": Role.READER,
    _POLICY + "ListMeasures": Role.READER,
    _POLICY + "EvaluateLink": Role.READER,
    _POLICY + "CreateScenario": Role.WRITER,
    _POLICY + "UpdateScenario": Role.WRITER,
    _POLICY + "DeleteScenario": Role.WRITER,
    _EXPOSURE + "ScoreCompany": Role.READER,
    _EXPOSURE + "RankCompanies": Role.READER,
    _EXPOSURE + "ExplainExposure": Role.READER,
    _EXPOSURE + "FindChokepoints": Role.READER,
    _EXPOSURE + "CompareScenarios": Role.READER,
    _EXPOSURE + "ScoreSupplierList": Role.READER,
    # Reflection describes the API (and so what exists); it needs a token like any read.
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": Role.READER,
}
PUBLIC_SERVICES = frozenset({"grpc.health.v1.Health"})
WRITE_METHODS = frozenset(method for method, role in REQUIRED_ROLE.items() if role >= Role.WRITER)

log = logging.getLogger("chokepoint.auth")


@dataclass(frozen=True)
class Refusal:
    code: grpc.StatusCode
    message: str
    principal: str  # who was refused: a known principal's name, or "unauthenticated"


def authorise(
    method: str, metadata: Iterable[tuple[str, str | bytes]] | None, tokens: TokenBook
) -> Principal | Refusal:
    """The caller's principal if its bearer token allows `method`, else why not (401 before 403, as HTTP does)."""
    principal = _authenticate(metadata, tokens)
    if isinstance(principal, Refusal):
        return principal
    required = REQUIRED_ROLE.get(method)
    if required is None:
        msg = f"{method} is not in the authorisation table, so no role may call it"
        return Refusal(grpc.StatusCode.PERMISSION_DENIED, msg, principal.name)
    if principal.role < required:
        msg = (
            f"{method} needs role {required.name.lower()}; "
            f"principal {principal.name!r} has role {principal.role.name.lower()}"
        )
        return Refusal(grpc.StatusCode.PERMISSION_DENIED, msg, principal.name)
    return principal


def _authenticate(metadata: Iterable[tuple[str, str | bytes]] | None, tokens: TokenBook) -> Principal | Refusal:
    values = [value for key, value in metadata or () if key == "authorization"]
    if not values:
        msg = "missing credentials: send the metadata 'authorization: Bearer <token>'"
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, msg, "unauthenticated")
    value = values[0]
    scheme, _, token = (value.decode(errors="replace") if isinstance(value, bytes) else value).partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer" or not token.strip():
        msg = "malformed credentials: expected exactly one metadata 'authorization: Bearer <token>'"
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, msg, "unauthenticated")
    principal = tokens.authenticate(token.strip())
    if principal is None:
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, "unknown bearer token", "unauthenticated")
    return principal


class Auth(Stage):
    """Refuses calls whose bearer token is missing, unknown or too weak; a stage only when tokens are configured.

    Refusals go out as UNAUTHENTICATED or PERMISSION_DENIED with ErrorInfo reasons of the same names. An allowed
    call runs with its principal available through `server.principals.current_principal()`. The token is checked on
    every call, before the call's own behaviour runs.
    """

    def __init__(self, tokens: TokenBook) -> None:
        self._tokens = tokens

    def unary(self, method: Method, behaviour: Unary) -> Unary:
        if _public(method):
            return behaviour

        async def checked(request: Any, context: Context) -> Any:
            if not self._admit(method.name, request, context):
                return None
            return await behaviour(request, context)

        return checked

    def streaming(self, method: Method, behaviour: Streaming) -> Streaming:
        if _public(method):
            return behaviour

        async def checked(request: Any, context: Context) -> AsyncIterator[Any]:
            if not self._admit(method.name, request, context):
                return
            async for response in behaviour(request, context):
                yield response

        return checked

    def _admit(self, method: str, request: Any, context: Context) -> bool:
        """Act as the caller's principal; or refuse the call (answered when the behaviour returns) and say so."""
        decision = authorise(method, context.invocation_metadata(), self._tokens)
        if isinstance(decision, Refusal):
            _refuse(decision, method, request, context)
            return False
        act_as(decision)
        return True


def _public(method: Method) -> bool:
    return method.name.split("/")[1] in PUBLIC_SERVICES


def _refuse(refusal: Refusal, method: str, request: Any, context: Context) -> None:
    log.warning(
        "refused %s to %s: %s %s",
        method,
        refusal.principal,
        refusal.code.name,
        refusal.message,
        extra={"principal": refusal.principal, "method": method, "code": refusal.code.name},
    )
    if method in WRITE_METHODS:
        record_write(principal=refusal.principal, method=method, request_id=request_id_of(request), code=refusal.code)
    end_with(context, status_with_reason(refusal.code, refusal.message, reason=refusal.code.name))
