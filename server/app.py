"""Assembles the gRPC server: servicers, health, reflection, the error interceptor, and the listening port."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc, policy_pb2, policy_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from server.config import Config
from server.core.caches import LruCache
from server.core.lookthrough import OriginShares
from server.core.policy_store import PolicyStore
from server.core.scores import Scores
from server.core.store import GraphStore
from server.rpc.errors import ErrorInterceptor
from server.rpc.exposure_servicer import ExposureServicer
from server.rpc.graph_servicer import GraphLimits, GraphServicer
from server.rpc.policy_servicer import PolicyServicer

SERVICE_NAMES = (
    graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name,
    policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name,
    exposure_pb2.DESCRIPTOR.services_by_name["ExposureService"].full_name,
)


# Whole-graph score tables are large (about 100 bytes per company and link); look-through answers are small.
SCORE_TABLES = 8
ORIGIN_ANSWERS = 20_000


class AddressInUseError(RuntimeError):
    """The listening address could not be bound (taken, or not a local address)."""


@dataclass(frozen=True)
class Service:
    server: grpc.Server
    port: int
    health: health.HealthServicer
    scores: LruCache[Any, Scores]


def build_server(config: Config, store: GraphStore, policy: PolicyStore) -> Service:
    """A ready-to-start server bound to `config.address`; refuses an address another process holds."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="rpc"),
        interceptors=[ErrorInterceptor()],
        options=[
            ("grpc.so_reuseport", 0),  # gRPC shares ports by default; two services on one port must not start
            ("grpc.max_receive_message_length", config.max_message_bytes),
            ("grpc.max_send_message_length", config.max_message_bytes),
        ],
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
    )
    limits = GraphLimits(max_batch_items=config.max_batch_items, max_import_bytes=config.max_import_bytes)
    graph_pb2_grpc.add_GraphServiceServicer_to_server(GraphServicer(store, limits), server)
    policy_pb2_grpc.add_PolicyServiceServicer_to_server(PolicyServicer(policy, store.taxonomy), server)
    scores: LruCache[Any, Scores] = LruCache(capacity=SCORE_TABLES)
    origins: LruCache[Any, OriginShares] = LruCache(capacity=ORIGIN_ANSWERS)
    exposure_pb2_grpc.add_ExposureServiceServicer_to_server(ExposureServicer(store, policy, scores, origins), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(config.address)
    except RuntimeError as error:
        msg = f"cannot listen on {config.address}: {error}"
        raise AddressInUseError(msg) from error
    if port == 0:
        msg = f"cannot listen on {config.address}: address in use or unavailable"
        raise AddressInUseError(msg)
    return Service(server=server, port=port, health=health_servicer, scores=scores)
