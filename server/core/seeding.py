"""Opening the stores the service runs on: the graph (seeding an empty one with the default graph) and policy."""

from __future__ import annotations

import logging
from pathlib import Path

from server.core.errors import FailedPreconditionError
from server.core.policy_files import LIBRARY_DIR, load_library
from server.core.policy_store import PolicyStore
from server.core.scenarios import built_in_scenarios
from server.core.store import STORE_FILE, GraphStore, ImportMode, WriteResult
from server.core.tables import FileFormat, FileKind, read_table, row_source
from server.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy

log = logging.getLogger("chokepoint.store")


def open_store(data_dir: Path, *, seed_graph: Path | None, taxonomy_path: Path | None = None) -> GraphStore:
    """The store in `data_dir`; if it has never been written and `seed_graph` is set, load that graph."""
    store = GraphStore.open(data_dir, taxonomy=load_taxonomy(taxonomy_path or DEFAULT_TAXONOMY_PATH))
    if store.graph.version == 0 and seed_graph is not None:
        result = seed_store(store, seed_graph)
        log.info(
            "seeded the empty store from %s: %d companies, %d links",
            seed_graph,
            result.company_count,
            result.link_count,
        )
    return store


def seed_store(store: GraphStore, directory: Path) -> WriteResult:
    """Replace the graph with `companies.csv` and `links.csv` from `directory`."""
    paths = {kind: directory / f"{kind.value}.csv" for kind in FileKind}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        msg = f"seed graph: {', '.join(missing)} not found"
        raise FailedPreconditionError(msg, reason="SEED_GRAPH_MISSING")
    tables = {
        kind: (read_table(path.read_bytes(), kind=kind, fmt=FileFormat.CSV), row_source(kind, FileFormat.CSV))
        for kind, path in paths.items()
    }
    return store.import_graph(tables[FileKind.COMPANIES], tables[FileKind.LINKS], mode=ImportMode.REPLACE)


def open_policy_store(data_dir: Path, *, library_dir: Path = LIBRARY_DIR) -> PolicyStore:
    """User scenarios from the store in `data_dir`, over the built-in library and scenarios in `library_dir`."""
    library = load_library(library_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return PolicyStore.open(data_dir / STORE_FILE, library=library, built_ins=built_in_scenarios(library))
