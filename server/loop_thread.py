"""The asyncio event loop the gRPC server runs on, in a thread of its own, with the worker threads that run the
servicers (`server.rpc.bridge`).

The loop is uvloop's. The loop thread is what saturates first under many small calls (a cached ScoreCompany costs
it about 200 us, mostly gRPC's own work and the loop's scheduling), and uvloop's scheduling in C took the service
from 4,776-4,910 to 5,222-5,646 calls/s under h2load (16 connections) on the 2-core development machine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")
# How long a stopping server waits for the workers of cancelled calls to reach their next cancellation check.
SETTLE_SECONDS = 10.0


class LoopThread:
    """An event loop running in a thread of its own, with `workers` threads for the servicers."""

    def __init__(self, workers: int) -> None:
        self.loop = uvloop.new_event_loop()
        self._workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc")
        self.loop.set_default_executor(self._workers)
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc-loop", daemon=True)
        self._thread.start()

    async def _settle(self) -> None:
        # A cancelled call's task waits for its worker to stop (server.rpc.bridge), which it does at its next
        # check; the loop must not stop under it.
        calls = asyncio.all_tasks() - {asyncio.current_task()}
        if calls:
            await asyncio.wait(calls, timeout=SETTLE_SECONDS)
        await self.loop.shutdown_asyncgens()

    @property
    def ended(self) -> bool:
        return self.loop.is_closed()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def end(self) -> None:
        """Stop the loop and its thread. Workers still finishing a cancelled call end on their own, at the call's
        next cancellation check."""
        self.run(self._settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
        self._workers.shutdown(wait=False, cancel_futures=True)
