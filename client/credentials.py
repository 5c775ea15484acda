"""Client credentials: TLS channel credentials from PEM files, and a bearer token on every call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import grpc


def tls_credentials(
    *, ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials:
    """TLS trusting `ca` (default: the system roots), presenting the client certificate `cert`/`key` if given
    (mutual TLS). Raises ValueError naming the bad option."""
    if (cert is None) != (key is None):
        msg = f"--tls-cert and --tls-key: give both or neither, got {cert} and {key}"
        raise ValueError(msg)
    return grpc.ssl_channel_credentials(
        root_certificates=_read("--tls-ca", ca),
        private_key=_read("--tls-key", key),
        certificate_chain=_read("--tls-cert", cert),
    )


def _read(option: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        msg = f"{option}: cannot read {str(path)!r}: {error.strerror}"
        raise ValueError(msg) from error


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _ClientCallDetails(_CallDetails, grpc.ClientCallDetails):
    """gRPC wants an instance of its abstract details class; this one is a plain record."""


class BearerTokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Adds `authorization: Bearer <token>` to every call. For plaintext channels, where gRPC refuses to send call
    credentials; over TLS the client uses `grpc.access_token_call_credentials` instead."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> _ClientCallDetails:
        return _ClientCallDetails(
            details.method,
            details.timeout,
            [*(details.metadata or ()), self._header],
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)
