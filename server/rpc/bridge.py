"""The servicers are plain synchronous code; the server is asyncio. This runs a servicer's behaviour in a worker
thread (the loop's default executor) and hands it a `CallContext`, its synchronous view of the call.

Contextvars set on the loop before the hop (the request id bound for logging, the caller's principal) travel with
the work: `asyncio.to_thread` runs it in a copy of the calling context.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, Generic, TypeVar

from server.core.errors import CancelledError
from server.rpc.calls import AnswerNow, Context, Handler, Streaming, Unary

T = TypeVar("T")
_END = object()


class CallContext:
    """What a servicer running in a worker thread may ask of its call: how long it has, and whether anyone is still
    waiting for the answer (a cancelled or expired call ends the thread's work at its next check)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._ended = False
        self._reads: set[concurrent.futures.Future[Any]] = set()
        self._callbacks: list[Callable[[], object]] = []

    def time_remaining(self) -> float | None:
        remaining: float | None = self._context.time_remaining()
        return remaining

    def is_active(self) -> bool:
        return not self._ended and not self._context.done()

    def watch(self, read: concurrent.futures.Future[Any]) -> None:
        """Cancel `read` (a request being read for the thread) if the call ends before it completes."""
        self._reads.add(read)

    def unwatch(self, read: concurrent.futures.Future[Any]) -> None:
        self._reads.discard(read)

    def add_callback(self, callback: Callable[[], object]) -> bool:
        """Run `callback` when the call ends (gRPC's servicer-context method: the health service's Watch uses it to
        stop a watcher whose client went away)."""
        self._callbacks.append(callback)
        return True

    def end(self) -> None:
        """The call is over on the loop's side (answered, cancelled or expired): stop waiting for its requests, and
        run the callbacks added (once)."""
        if self._ended:
            return
        self._ended = True
        for read in list(self._reads):
            read.cancel()
        for callback in self._callbacks:
            callback()


class StreamedRequests(Generic[T]):
    """A client stream's messages for a worker thread: each read runs on the call's event loop and the thread waits
    for it, at most `idle_seconds` when set (a client that opens an upload and stalls would otherwise hold the
    thread until its connection died)."""

    def __init__(self, requests: AsyncIterator[T], call: CallContext, loop: asyncio.AbstractEventLoop) -> None:
        self._requests = requests
        self._call = call
        self._loop = loop
        self.idle_seconds: float | None = None

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        read = asyncio.run_coroutine_threadsafe(_next(self._requests), self._loop)
        self._call.watch(read)
        try:
            message = read.result(timeout=self.idle_seconds)
        except concurrent.futures.TimeoutError:
            read.cancel()
            msg = f"no request message for {self.idle_seconds:g} s (upload_idle_seconds); the call was cancelled"
            raise CancelledError(msg) from None
        except concurrent.futures.CancelledError:
            msg = "the call ended while its requests were being read"
            raise CancelledError(msg) from None
        finally:
            self._call.unwatch(read)
        if message is _END:
            raise StopIteration
        return message  # type: ignore[no-any-return]


async def _next(requests: AsyncIterator[Any]) -> Any:
    return await anext(requests, _END)


def unary(handler: Handler, answer_now: AnswerNow | None) -> Unary:
    """The handler's behaviour for one response, run in a worker thread unless `answer_now` has the answer: a
    cheap, non-blocking lookup of what is already computed, tried on the loop first (a thread hop costs more than
    a cached ScoreCompany's whole work)."""
    # The servicers are written against CallContext, not gRPC's context.
    behaviour: Callable[[Any, CallContext], Any] | None = handler.unary_unary or handler.stream_unary  # type: ignore[assignment]
    assert behaviour is not None
    streamed = handler.request_streaming

    async def run(request: Any, context: Context) -> Any:
        if answer_now is not None:
            answer = answer_now(request)
            if answer is not None:
                return answer
        call = CallContext(context)
        if streamed:
            request = StreamedRequests(request, call, asyncio.get_running_loop())
        work = asyncio.ensure_future(asyncio.to_thread(behaviour, request, call))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            # The client went away or time ran out. The worker stops at its next check; its outcome (a write it
            # committed, the error it stopped with) is what the outer stages record.
            call.end()
            return await work
        finally:
            call.end()

    return run


def streaming(handler: Handler) -> Streaming:
    """The handler's behaviour for a response stream: the servicer's iterator advances in a worker thread, one
    message per hop."""
    behaviour: Callable[[Any, CallContext], Iterable[Any]] | None = handler.unary_stream or handler.stream_stream  # type: ignore[assignment]
    assert behaviour is not None
    streamed = handler.request_streaming

    async def run(request: Any, context: Context) -> AsyncIterator[Any]:
        call = CallContext(context)
        if streamed:
            request = StreamedRequests(request, call, asyncio.get_running_loop())
        responses = await asyncio.to_thread(lambda: iter(behaviour(request, call)))
        try:
            while (response := await asyncio.to_thread(next, responses, _END)) is not _END:
                yield response
        finally:
            call.end()
            _close(responses)

    return run


def _close(responses: Iterator[Any]) -> None:
    """Close the servicer's generator (its `finally` blocks run) unless a worker is still advancing it; that worker
    finds the call ended at its next check."""
    close = getattr(responses, "close", None)
    if close is not None:
        with suppress(ValueError):  # a worker is still advancing it
            close()
