"""Errors the client raises: every gRPC failure decoded into a `ClientError` with code, reason and field paths."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class ClientError(Exception):
    """A call failed: `code` (gRPC status), `reason` (ErrorInfo), `message`, and `violations` for bad input."""

    def __init__(
        self, code: grpc.StatusCode, message: str, *, reason: str = "", violations: tuple[FieldViolation, ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.violations = violations

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgumentError(ClientError):
    """The request (or an uploaded file) was malformed; see `violations`."""


class NotFoundError(ClientError):
    """The named company or link does not exist."""


class FailedPreconditionError(ClientError):
    """The current state refuses the request (e.g. deleting a company still in use)."""


class ResourceExhaustedError(ClientError):
    """A server limit was exceeded."""


class UnavailableError(ClientError):
    """The service could not be reached."""


class UnauthenticatedError(ClientError):
    """The service wants a bearer token, and none (or an unknown one) was sent."""


class PermissionDeniedError(ClientError):
    """The token's role may not call this method."""


_BY_CODE: dict[grpc.StatusCode, type[ClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def decode_error(error: grpc.RpcError) -> ClientError:
    """The `ClientError` subclass for a failed call, with ErrorInfo reason and BadRequest violations unpacked."""
    call: grpc.Call = error  # type: ignore[assignment]  # every RpcError raised by a call is also a Call
    code = call.code()
    reason = ""
    violations: list[FieldViolation] = []
    status = rpc_status.from_call(call)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason = info.reason
        elif detail.Unpack(bad_request):
            violations.extend(FieldViolation(v.field, v.description) for v in bad_request.field_violations)
    return _BY_CODE.get(code, ClientError)(code, call.details() or "", reason=reason, violations=tuple(violations))
