"""The transport's side of cooperative cancellation: a core `Check` built from the call, and idle uploads."""

from __future__ import annotations

from typing import TypeVar

from server.core.cancellation import Check
from server.core.errors import CancelledError, DeadlineExceededError
from server.rpc.bridge import CallContext, StreamedRequests

T = TypeVar("T")


def check_of(context: CallContext) -> Check:
    """A check raising once the call's deadline has passed or the call ended (client cancel, connection lost).

    Both tests are attribute reads and a clock read, cheap enough for every propagation tier. The deadline is read
    first: an expired call has ended too, and the client should see the expiry as DEADLINE_EXCEEDED.
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


def idle_bounded(requests: StreamedRequests[T], *, seconds: float) -> StreamedRequests[T]:
    """`requests`, cancelling the call when no message arrives for `seconds`.

    A client that opens an upload and stalls would otherwise hold its worker thread until its connection died.
    """
    requests.idle_seconds = seconds
    return requests
