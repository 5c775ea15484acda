"""The transport's side of cooperative cancellation: a core `Check` built from the call's context."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

import grpc

from server.core.cancellation import Check
from server.core.errors import CancelledError, DeadlineExceededError

T = TypeVar("T")


def check_of(context: grpc.ServicerContext) -> Check:
    """A check raising once the call's deadline has passed or the call ended (client cancel, connection lost).

    Both tests are a lock and a clock read, cheap enough for every propagation tier. The deadline is read first:
    gRPC marks an expired call inactive too, and the client should see the expiry as DEADLINE_EXCEEDED.
    """

    def check() -> None:
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            msg = "the call's deadline passed; the computation was stopped and nothing was kept"
            raise DeadlineExceededError(msg)
        if not context.is_active():
            msg = "the call was cancelled or its connection lost; the computation was stopped and nothing was kept"
            raise CancelledError(msg)

    return check


def idle_bounded(requests: Iterable[T], context: grpc.ServicerContext, *, seconds: float) -> Iterator[T]:
    """The messages of a client stream; the call is cancelled when none arrives for `seconds`.

    A client that opens an upload and stalls would otherwise hold its worker until its connection dies: the
    handler blocks in gRPC's request iterator, which no check can interrupt. Cancelling the call wakes it.
    """
    iterator = iter(requests)
    while True:
        idle = threading.Event()

        def expire(flag: threading.Event = idle) -> None:
            flag.set()
            context.cancel()  # type: ignore[no-untyped-call]  # the server context has it, untyped

        timer = threading.Timer(seconds, expire)
        timer.daemon = True
        timer.start()
        try:
            request = next(iterator)
        except StopIteration:
            return
        except grpc.RpcError:
            if idle.is_set():
                msg = f"no request message for {seconds:g} s (upload_idle_seconds); the call was cancelled"
                raise CancelledError(msg) from None
            raise
        finally:
            timer.cancel()
        yield request
