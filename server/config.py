"""The service's settings: one frozen dataclass, from command-line flags over environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    grace_seconds: float = 10.0
    log_level: str = "INFO"

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
        parser.add_argument(
            "--grace-seconds",
            type=float,
            default=cls.grace_seconds,
            help="how long in-flight calls may finish on SIGTERM",
        )
        parser.add_argument("--log-level", default=env.get("CHOKEPOINT_LOG_LEVEL", cls.log_level))
        args = parser.parse_args(argv)
        return cls(
            address=args.address,
            data_dir=args.data_dir,
            seed_graph=None if args.no_seed else args.seed_graph,
            taxonomy=args.taxonomy,
            workers=args.workers,
            grace_seconds=args.grace_seconds,
            log_level=args.log_level,
        )
