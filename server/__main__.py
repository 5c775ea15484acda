"""`python -m server`: flags -> config -> store -> build_server -> serve until SIGTERM/SIGINT, then drain."""

from __future__ import annotations

import os

from server.allocator import VARIABLE, HeapTrimmer, allocator_conf

os.environ[VARIABLE] = allocator_conf(os.environ.get(VARIABLE))  # before Polars loads: before the imports below

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from server.app import AddressInUseError, build_server
from server.config import Config
from server.core.errors import ChokepointError
from server.core.seeding import open_policy_store, open_store
from server.logs import setup_logging

log = logging.getLogger("chokepoint")
SIGNAL_POLL_SECONDS = 0.2


def main(argv: Sequence[str] | None = None) -> int:
    config = Config.from_args(argv)
    setup_logging(level=config.log_level, log_format=config.log_format)
    try:
        store = open_store(config.data_dir, seed_graph=config.seed_graph, taxonomy_path=config.taxonomy)
        policy = open_policy_store(config.data_dir)
        service = build_server(config, store, policy)
    except (ChokepointError, AddressInUseError) as error:
        log.error("not starting: %s", error)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service.start()
    graph = store.graph
    host = config.address.rsplit(":", 1)[0]
    log.info(
        "chokepoint %s serving on %s:%d graph_version=%d companies=%d links=%d policy_version=%s scenarios=%d store=%s",
        _package_version(),
        host,
        service.port,
        graph.version,
        graph.company_count,
        graph.link_count,
        policy.snapshot.version,
        len(policy.snapshot.book.scenarios),
        store.path,
    )
    if service.metrics is not None:
        log.info("metrics on http://%s:%d/metrics", config.metrics_address.rpartition(":")[0], service.metrics.port)
    log.info(
        "security: tls=%s client_certificates=%s bearer_tokens=%s (docs/security.md)",
        "on" if config.tls_cert else "off",
        "required" if config.tls_client_ca else "off",
        "required" if config.auth_tokens else "off",
    )
    # A signal may land on any thread (gRPC's, polars', the allocator's); Python runs its handler on this thread
    # once it runs again, so it waits in short slices instead of for ever, and trims the C heap meanwhile.
    trim = HeapTrimmer()
    while not stop.wait(timeout=SIGNAL_POLL_SECONDS):
        trim()
    log.info("draining in-flight calls (up to %.0f s)", config.grace_seconds)
    service.health.enter_graceful_shutdown()
    service.stop(config.grace_seconds)
    policy.close()
    store.close()
    log.info("stopped")
    return 0


def _package_version() -> str:
    try:
        return version("chokepoint")
    except PackageNotFoundError:
        return "dev"


if __name__ == "__main__":
    sys.exit(main())
