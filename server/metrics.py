"""Prometheus metrics of one server, and the HTTP endpoint that serves them on their own port.

RPC metrics follow the grpc-ecosystem names (`grpc_server_started_total`, `grpc_server_handled_total`,
`grpc_server_handling_seconds`) so stock dashboards work. The graph, policy and cache figures are read from the
live objects at scrape time instead of being pushed on every change. Each server has its own registry, so many
servers can run in one process (the tests do).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric

from server.core.caches import LruCache
from server.core.policy_store import PolicyStore
from server.core.store import GraphStore

# Whole-graph scoring of a large graph takes seconds, so the buckets reach a minute.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_CALL_LABELS = ("grpc_service", "grpc_method", "grpc_type")


class RpcMetrics:
    """Calls started, finished (by status code), in flight, and how long they took."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "grpc_server_started_total", "RPCs started on the server.", _CALL_LABELS, registry=registry
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, by gRPC status code.",
            (*_CALL_LABELS, "grpc_code"),
            registry=registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its last response or error, in seconds.",
            _CALL_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "grpc_server_in_flight", "RPCs being handled right now.", ("grpc_service", "grpc_method"), registry=registry
        )


class ServiceStateCollector:
    """The served graph's size and version, the policy version, and the result caches' hits, misses and sizes."""

    def __init__(self, store: GraphStore, policy: PolicyStore, caches: Mapping[str, LruCache[Any, Any]]) -> None:
        self._store = store
        self._policy = policy
        self._caches = caches

    def collect(self) -> Iterator[Metric]:
        graph = self._store.graph  # one version for all three figures
        yield GaugeMetricFamily("chokepoint_graph_companies", "Companies in the served graph.", graph.company_count)
        yield GaugeMetricFamily("chokepoint_graph_links", "Supply links in the served graph.", graph.link_count)
        yield GaugeMetricFamily(
            "chokepoint_graph_version", "Version of the served graph; every committed write adds one.", graph.version
        )
        yield InfoMetricFamily(
            "chokepoint_policy",
            "Version of the policy book (library.revision).",
            {"version": self._policy.snapshot.version},
        )
        hits = CounterMetricFamily(
            "chokepoint_cache_hits", "Result cache lookups answered from the cache.", labels=["cache"]
        )
        misses = CounterMetricFamily(
            "chokepoint_cache_misses", "Result cache lookups that had to compute.", labels=["cache"]
        )
        entries = GaugeMetricFamily("chokepoint_cache_entries", "Results held in the cache.", labels=["cache"])
        for name, cache in self._caches.items():
            hits.add_metric([name], cache.hits)
            misses.add_metric([name], cache.misses)
            entries.add_metric([name], len(cache))
        yield hits
        yield misses
        yield entries


@dataclass(frozen=True)
class MetricsEndpoint:
    """The HTTP server answering `GET /metrics`; `port` is the bound one (useful when asked for port 0)."""

    port: int
    http: WSGIServer
    thread: threading.Thread

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def serve_metrics(address: str, registry: CollectorRegistry) -> MetricsEndpoint:
    """Serve `registry` on `host:port` (port 0 picks a free one) from a daemon thread; OSError if it cannot bind."""
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit():
        msg = f"metrics_address: must be host:port, got {address!r}"
        raise ValueError(msg)
    http, thread = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0", registry=registry)  # noqa: S104
    return MetricsEndpoint(port=http.server_port, http=http, thread=thread)
