"""The bridge from the asyncio server to the synchronous servicers: worker threads are given back when calls end."""

from __future__ import annotations

import concurrent.futures

import grpc
import uvloop
from chokepoint.v1 import graph_pb2, graph_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.rpc.bridge import CallContext
from tests.conftest import ServeFactory


def test_a_health_watch_gives_its_worker_back_when_the_client_cancels(serve: ServeFactory) -> None:
    # The health service's Watch blocks its worker until the status changes; it learns that its client went away
    # through a callback on the call's end. With one worker, the next call is served only if that ran.
    server = serve(workers=1)
    with grpc.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
        stats = graph_pb2_grpc.GraphServiceStub(channel).GetGraphStats(graph_pb2.GetGraphStatsRequest(), timeout=10)
    assert stats.graph_version == 0


def test_the_server_answers_calls_from_uvloop(serve: ServeFactory) -> None:
    # The loop is the ScoreCompany throughput limit; asyncio's own loop served about 10% fewer calls (bench).
    server = serve()
    assert isinstance(server.service.loop.loop, uvloop.Loop)
    with grpc.insecure_channel(server.address) as channel:
        stats = graph_pb2_grpc.GraphServiceStub(channel).GetGraphStats(graph_pb2.GetGraphStatsRequest(), timeout=10)
    assert stats.graph_version == 0


class _OpenCall:
    """The two things CallContext reads of gRPC's context, for a call still open."""

    def time_remaining(self) -> float | None:
        return None

    def done(self) -> bool:
        return False


def test_a_call_ends_once_running_its_callbacks_and_cancelling_a_pending_read() -> None:
    # The health service's Watch leaves a callback to forget its watcher; without it each cancelled watch stays
    # registered. A worker waiting for a request message is released by its read being cancelled.
    call = CallContext(_OpenCall())  # type: ignore[arg-type]
    ran: list[str] = []
    call.add_callback(lambda: ran.append("forgot the watcher"))
    pending: concurrent.futures.Future[object] = concurrent.futures.Future()
    call.watch(pending)
    assert call.is_active()
    call.end()
    call.end()
    assert ran == ["forgot the watcher"]
    assert pending.cancelled()
    assert not call.is_active()
