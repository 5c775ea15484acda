"""The service's settings: one frozen dataclass, from command-line flags over environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.logs import LOG_FORMATS

DEFAULT_SEED_GRAPH = Path(__file__).resolve().parent.parent / "graphs" / "default"


@dataclass(frozen=True)
class Config:
    address: str = "127.0.0.1:50051"
    data_dir: Path = Path(".chokepoint")
    seed_graph: Path | None = DEFAULT_SEED_GRAPH
    taxonomy: Path | None = None
    workers: int = 16
    max_concurrent_rpcs: int = 256
    max_message_bytes: int = 64 * 1024**2
    max_batch_items: int = 100_000
    max_import_bytes: int = 2 * 1024**3
    # More limits on one call's work, and the bounds on how long a slow or vanished client can hold a worker:
    # docs/limits.md has each, with what happens past it. All have a flag and a CHOKEPOINT_* variable (LIMIT_FLAGS).
    max_supplier_list_rows: int = 1_000_000
    max_graph_companies: int = 2_000_000
    max_graph_links: int = 10_000_000
    max_scenario_measures: int = 1_000
    max_scenario_lines: int = 100_000
    max_page_size: int = 1_000
    max_paths: int = 100
    max_path_depth: int = 12
    upload_idle_seconds: float = 60.0
    keepalive_seconds: float = 60.0
    keepalive_timeout_seconds: float = 20.0
    max_connection_age_seconds: float = 3600.0
    max_connection_age_grace_seconds: float = 600.0
    grace_seconds: float = 10.0
    log_level: str = "INFO"
    log_format: str = "text"
    metrics_address: str = ""
    # Security, off by default (docs/security.md): TLS when cert and key are set, mutual TLS when a client CA is
    # set too, bearer tokens when a tokens file is set.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    auth_tokens: Path | None = None

    @classmethod
    def from_args(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
        """Flags win over `CHOKEPOINT_*` environment variables, which win over the defaults."""
        env = os.environ if environ is None else environ
        parser = argparse.ArgumentParser(prog="python -m server", description="Chokepoint exposure scoring service")
        parser.add_argument(
            "--address",
            default=env.get("CHOKEPOINT_ADDRESS", cls.address),
            help="host:port to listen on (port 0 picks a free one) [CHOKEPOINT_ADDRESS]",
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(env.get("CHOKEPOINT_DATA_DIR", str(cls.data_dir))),
            help="directory of the store of record [CHOKEPOINT_DATA_DIR]",
        )
        parser.add_argument(
            "--seed-graph",
            type=Path,
            default=Path(env.get("CHOKEPOINT_SEED_GRAPH", str(DEFAULT_SEED_GRAPH))),
            help="directory with companies.csv and links.csv loaded into an empty store [CHOKEPOINT_SEED_GRAPH]",
        )
        parser.add_argument("--no-seed", action="store_true", help="start an empty store empty")
        parser.add_argument("--taxonomy", type=Path, default=None, help="product taxonomy CSV (default: built-in)")
        parser.add_argument("--workers", type=int, default=int(env.get("CHOKEPOINT_WORKERS", cls.workers)))
        for name, kind, text in LIMIT_FLAGS:
            variable = f"CHOKEPOINT_{name.upper()}"
            parser.add_argument(
                f"--{name.replace('_', '-')}",
                type=kind,
                default=kind(env.get(variable, getattr(cls, name))),
                help=f"{text} (default {getattr(cls, name)}) [{variable}]",
            )
        parser.add_argument(
            "--grace-seconds",
            type=float,
            default=cls.grace_seconds,
            help="how long in-flight calls may finish on SIGTERM",
        )
        parser.add_argument("--log-level", default=env.get("CHOKEPOINT_LOG_LEVEL", cls.log_level))
        parser.add_argument(
            "--log-format",
            default=env.get("CHOKEPOINT_LOG_FORMAT", cls.log_format),
            help=f"log line format, one of {', '.join(LOG_FORMATS)} [CHOKEPOINT_LOG_FORMAT]",
        )
        parser.add_argument(
            "--metrics-address",
            default=env.get("CHOKEPOINT_METRICS_ADDRESS", cls.metrics_address),
            help="host:port serving Prometheus metrics at /metrics; empty: off [CHOKEPOINT_METRICS_ADDRESS]",
        )
        for flag, variable, text in (
            ("--tls-cert", "CHOKEPOINT_TLS_CERT", "server certificate chain (PEM); with --tls-key turns on TLS"),
            ("--tls-key", "CHOKEPOINT_TLS_KEY", "server private key (PEM)"),
            ("--tls-client-ca", "CHOKEPOINT_TLS_CLIENT_CA", "CA (PEM) whose client certificates are required: mTLS"),
            ("--auth-tokens", "CHOKEPOINT_AUTH_TOKENS", "bearer tokens file (TOML); turns on authentication"),
        ):
            parser.add_argument(flag, default=env.get(variable, ""), help=f"{text} [{variable}]")
        args = parser.parse_args(argv)
        for name, _, _ in LIMIT_FLAGS:  # checked here: argparse does not check defaults from the environment
            if not getattr(args, name) > 0:
                parser.error(f"--{name.replace('_', '-')}: must be > 0, got {getattr(args, name)}")
        if args.log_format not in LOG_FORMATS:  # checked here: argparse does not check defaults from the environment
            parser.error(f"--log-format: must be one of {', '.join(LOG_FORMATS)}, got {args.log_format!r}")
        return cls(
            address=args.address,
            data_dir=args.data_dir,
            seed_graph=None if args.no_seed else args.seed_graph,
            taxonomy=args.taxonomy,
            workers=args.workers,
            grace_seconds=args.grace_seconds,
            log_level=args.log_level,
            log_format=args.log_format,
            metrics_address=args.metrics_address,
            **{name: getattr(args, name) for name, _, _ in LIMIT_FLAGS},
            tls_cert=_optional_path(args.tls_cert),
            tls_key=_optional_path(args.tls_key),
            tls_client_ca=_optional_path(args.tls_client_ca),
            auth_tokens=_optional_path(args.auth_tokens),
        )


LIMIT_FLAGS: tuple[tuple[str, type[int] | type[float], str], ...] = (
    ("max_concurrent_rpcs", int, "calls in progress at once; more are answered RESOURCE_EXHAUSTED"),
    ("max_message_bytes", int, "largest request or response message; larger is RESOURCE_EXHAUSTED"),
    ("max_batch_items", int, "items in one upsert, rows in one ScoreSupplierList message"),
    ("max_import_bytes", int, "bytes in one ImportGraph upload"),
    ("max_supplier_list_rows", int, "rows in one ScoreSupplierList call"),
    ("max_graph_companies", int, "companies the graph may hold after a write"),
    ("max_graph_links", int, "supply links the graph may hold after a write"),
    ("max_scenario_measures", int, "tariffs and export controls one user scenario defines"),
    ("max_scenario_lines", int, "tariff lines and control HS prefixes in one user scenario"),
    ("max_page_size", int, "largest page; a larger page_size is clamped to it"),
    ("max_paths", int, "largest ExplainExposure/FindChokepoints limit; larger is INVALID_ARGUMENT"),
    ("max_path_depth", int, "deepest ExplainExposure max_depth; deeper is INVALID_ARGUMENT"),
    ("upload_idle_seconds", float, "an ImportGraph/ScoreSupplierList stream silent this long is cancelled"),
    ("keepalive_seconds", float, "ping each connection after this long without activity"),
    ("keepalive_timeout_seconds", float, "close a connection whose ping is not answered within this"),
    ("max_connection_age_seconds", float, "ask clients to reconnect after this long (GOAWAY)"),
    ("max_connection_age_grace_seconds", float, "then close the old connection, ending its calls, after this"),
)


def _optional_path(value: str) -> Path | None:
    """A path flag where empty means unset (so an empty environment variable turns the feature off)."""
    return Path(value) if value else None
