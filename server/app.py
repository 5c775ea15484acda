"""Assembles the gRPC server: servicers, health, reflection, the stages, TLS, and the listening port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc, policy_pb2, policy_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from server.config import Config
from server.core.caches import LruCache
from server.core.errors import InvalidArgumentError
from server.core.lookthrough import OriginShares
from server.core.policy_store import PolicyStore
from server.core.scores import Scores
from server.core.store import GraphStore
from server.loop_thread import LoopThread
from server.metrics import MetricsEndpoint, RpcMetrics, ServiceStateCollector, serve_metrics
from server.rpc.audit import Audit
from server.rpc.auth import WRITE_METHODS, Auth
from server.rpc.calls import Handler
from server.rpc.errors import Errors
from server.rpc.exposure_servicer import ExposureServicer
from server.rpc.graph_servicer import GraphServicer
from server.rpc.handlers import Registry
from server.rpc.limits import Limits
from server.rpc.observability import Observability
from server.rpc.policy_servicer import PolicyServicer
from server.tokens import load_tokens

SERVICE_NAMES = (
    graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name,
    policy_pb2.DESCRIPTOR.services_by_name["PolicyService"].full_name,
    exposure_pb2.DESCRIPTOR.services_by_name["ExposureService"].full_name,
)


# Whole-graph score tables are large (about 100 bytes per company and link); look-through answers are small.
SCORE_TABLES = 8
ORIGIN_ANSWERS = 20_000
# Serialized ScoreCompany answers are about a kilobyte each.
SCORE_ANSWERS = 50_000


class AddressInUseError(RuntimeError):
    """The listening address could not be bound (taken, or not a local address)."""


@dataclass
class Service:
    """A built server: its port, health, answer caches and metrics endpoint. `start` serves; `stop` drains.

    gRPC's asyncio server runs on an event loop in a thread of its own, so the thread that built the service stays
    free (the server's main thread for signals, a test for its client calls). Servicers run in the loop's worker
    threads (`server.rpc.bridge`), at most `workers` at a time.
    """

    server: grpc.aio.Server
    handlers: Registry
    loop: LoopThread
    port: int
    health: health.HealthServicer
    scores: LruCache[Any, Scores]
    answers: LruCache[Any, bytes]
    metrics: MetricsEndpoint | None = None  # serving only when `config.metrics_address` is set

    def add_method_handlers(self, service: str, handlers: Mapping[str, Handler]) -> None:
        """Serve more methods (synchronous handlers, wrapped like every other); before `start`."""
        self.handlers.add_registered_method_handlers(service, handlers)

    def start(self) -> None:
        self.loop.run(self.server.start())

    def stop(self, grace: float | None) -> None:
        """Refuse new calls, give those in flight `grace` seconds (None: cancel them now), then end the loop. Once
        stopped, a service stays stopped: stopping it again does nothing."""
        if self.loop.ended:
            return
        self.loop.run(self.server.stop(grace))
        if self.metrics is not None:
            self.metrics.close()
        self.loop.end()


def build_server(config: Config, store: GraphStore, policy: PolicyStore) -> Service:
    """A ready-to-start server bound to `config.address`; refuses an address another process holds."""
    loop = LoopThread(config.workers)
    try:
        return _build(config, store, policy, loop)
    except BaseException:
        loop.end()
        raise


def _build(config: Config, store: GraphStore, policy: PolicyStore, loop: LoopThread) -> Service:
    credentials = server_credentials(config)
    options = [
        ("grpc.so_reuseport", 0),  # gRPC shares ports by default; two services on one port must not start
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        *connection_options(config),
    ]
    server = loop.run(_new_server(options, config.max_concurrent_rpcs))
    registry = CollectorRegistry()  # one per server: tests run many servers in one process
    # Auth refuses before anything runs; audit sits inside it (to know the principal) and outside the error
    # stage (to see the status a failed write was answered with).
    auth = [Auth(load_tokens(config.auth_tokens))] if config.auth_tokens else []
    handlers = Registry(
        server,
        [
            Observability(RpcMetrics(registry)),  # first: it sees every call's final status
            *auth,
            Audit(WRITE_METHODS),
            Errors(),
        ],
    )
    limits = limits_of(config)
    idle = config.upload_idle_seconds
    handlers.add_servicer(
        graph_pb2_grpc.add_GraphServiceServicer_to_server, GraphServicer(store, limits, upload_idle_seconds=idle)
    )
    handlers.add_servicer(
        policy_pb2_grpc.add_PolicyServiceServicer_to_server, PolicyServicer(policy, store.taxonomy, limits)
    )
    scores: LruCache[Any, Scores] = LruCache(capacity=SCORE_TABLES)
    origins: LruCache[Any, OriginShares] = LruCache(capacity=ORIGIN_ANSWERS)
    answers: LruCache[Any, bytes] = LruCache(capacity=SCORE_ANSWERS)
    exposure = ExposureServicer(
        store, policy, limits, scores=scores, origins=origins, answers=answers, upload_idle_seconds=idle
    )
    handlers.add_servicer(
        exposure_pb2_grpc.add_ExposureServiceServicer_to_server,
        exposure,
        answer_now={"ScoreCompany": exposure.answered_score},
    )
    caches: dict[str, LruCache[Any, Any]] = {"scores": scores, "origins": origins, "answers": answers}
    registry.register(ServiceStateCollector(store, policy, caches))
    health_servicer = health.HealthServicer()
    handlers.add_servicer(health_pb2_grpc.add_HealthServicer_to_server, health_servicer)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    # Given the registry, not an asyncio server, reflection registers its synchronous servicer, as every other.
    names = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, handlers)  # type: ignore[arg-type]  # it needs add_*_handlers only
    try:
        port = (
            server.add_secure_port(config.address, credentials)
            if credentials
            else server.add_insecure_port(config.address)
        )
    except RuntimeError as error:
        msg = f"cannot listen on {config.address}: {error}"
        raise AddressInUseError(msg) from error
    if port == 0:
        msg = f"cannot listen on {config.address}: address in use or unavailable"
        raise AddressInUseError(msg)
    service = Service(server, handlers, loop, port, health_servicer, scores, answers)
    if config.metrics_address:
        try:
            service.metrics = _serve_metrics(config.metrics_address, registry)
        except AddressInUseError:
            loop.run(server.stop(None))  # release the gRPC port bound above
            raise
    return service


async def _new_server(options: list[tuple[str, Any]], max_concurrent_rpcs: int) -> grpc.aio.Server:
    # Made on the loop: an asyncio server belongs to the loop it was made on.
    return grpc.aio.server(options=options, maximum_concurrent_rpcs=max_concurrent_rpcs)


def limits_of(config: Config) -> Limits:
    """The per-call limits the servicers enforce, from the settings (docs/limits.md)."""
    return Limits(
        max_batch_items=config.max_batch_items,
        max_supplier_list_rows=config.max_supplier_list_rows,
        max_import_bytes=config.max_import_bytes,
        max_graph_companies=config.max_graph_companies,
        max_graph_links=config.max_graph_links,
        max_scenario_measures=config.max_scenario_measures,
        max_scenario_lines=config.max_scenario_lines,
        max_page_size=config.max_page_size,
        max_paths=config.max_paths,
        max_path_depth=config.max_path_depth,
    )


def connection_options(config: Config) -> list[tuple[str, int]]:
    """HTTP/2 settings bounding how long a dead or stalled client can hold a call (docs/limits.md).

    Keepalive pings find peers that vanished without closing (a crashed host, a dropped NAT entry); they are sent
    even on a stream with no data moving (`max_pings_without_data` 0), which is exactly a stalled upload. The
    connection age sends GOAWAY after `max_connection_age_seconds` (clients reconnect for new calls) and closes the
    connection, cancelling what still runs on it, after the grace: the upper bound on any call without a deadline.
    """

    def ms(seconds: float) -> int:
        return max(1, round(seconds * 1000))

    return [
        ("grpc.keepalive_time_ms", ms(config.keepalive_seconds)),
        ("grpc.keepalive_timeout_ms", ms(config.keepalive_timeout_seconds)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),  # clients may ping every 10 s
        ("grpc.max_connection_age_ms", ms(config.max_connection_age_seconds)),
        ("grpc.max_connection_age_grace_ms", ms(config.max_connection_age_grace_seconds)),
    ]


def _serve_metrics(address: str, registry: CollectorRegistry) -> MetricsEndpoint:
    try:
        return serve_metrics(address, registry)
    except (OSError, ValueError) as error:
        msg = f"cannot serve metrics on {address}: {error}"
        raise AddressInUseError(msg) from error


def server_credentials(config: Config) -> grpc.ServerCredentials | None:
    """TLS credentials when `tls_cert` and `tls_key` are set (requiring client certificates signed by
    `tls_client_ca` when that is set too); None for plaintext."""
    if config.tls_cert is None and config.tls_key is None:
        if config.tls_client_ca is not None:
            msg = f"tls_client_ca: mutual TLS needs tls_cert and tls_key too, got only {str(config.tls_client_ca)!r}"
            raise InvalidArgumentError(msg)
        return None
    if config.tls_cert is None or config.tls_key is None:
        msg = f"tls_cert and tls_key: set both or neither, got {config.tls_cert} and {config.tls_key}"
        raise InvalidArgumentError(msg)
    key, chain = _read_pem("tls_key", config.tls_key), _read_pem("tls_cert", config.tls_cert)
    if config.tls_client_ca is None:
        return grpc.ssl_server_credentials([(key, chain)])
    client_ca = _read_pem("tls_client_ca", config.tls_client_ca)
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=client_ca, require_client_auth=True)


def _read_pem(field: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        msg = f"{field}: cannot read {str(path)!r}: {error.strerror}"
        raise InvalidArgumentError(msg) from error
