"""In-process engine figures: whole-graph scoring, single-measure what-ifs, and the NetworkX reference.

The NetworkX baseline is the straightforward implementation a user would write: a MultiDiGraph with the link
weights as edge attributes and a Python sweep over the buyers, X_b <- sum_e w_e [h_e + a_e (1 - h_e) X_s], until
no company moves by more than the engine's tolerance. It is the reference, not the product; the bench checks
that both agree before reporting the ratio.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path

import networkx as nx
import numpy as np

from graphs.generate import GeneratedGraph
from server.core.graph import Graph, build_graph
from server.core.propagation import TOLERANCE, input_shares, propagate
from server.core.scenarios import ScenarioBook
from server.core.scores import Scores, score_graph
from server.core.seeding import open_policy_store
from server.core.tables import FileFormat, FileKind, row_source
from server.core.taxonomy import load_taxonomy
from server.core.validation import validate_companies, validate_links

# Built-in what-ifs that each change one measure of `current`: a tariff rate, and a control's suspension.
WHAT_IFS = ("section-122-at-15pct", "rare-earth-suspension-lapses")
# Each figure is the median of RUNS calls. On this machine (a VM on a shared host) a call is now and then 20-40%
# slower than the others, at random: in one process, 3 of 27 scores at 1M companies took 1.00-1.14 s and the rest
# 0.70-0.94 s. If one call in five is slow, the median of 3 is slow one time in ten, that of 5 one in seventeen.
RUNS = 5


@dataclass(frozen=True)
class EngineFigures:
    companies: int
    links: int
    build_s: float
    score_first_s: float
    score_runs_s: tuple[float, ...]
    what_if_full_s: dict[str, float]
    what_if_reuse_s: dict[str, float]

    @property
    def score_median_s(self) -> float:
        return statistics.median(self.score_runs_s)


@dataclass(frozen=True)
class NetworkxFigures:
    companies: int
    links: int
    networkx_s: float
    networkx_sweeps: int
    engine_s: float
    max_difference: float


def build(generated: GeneratedGraph) -> Graph:
    """The compute form of a generated graph, through the same validation as an import."""
    companies = validate_companies(generated.companies, source=row_source(FileKind.COMPANIES, FileFormat.PARQUET))
    links = validate_links(
        generated.links, source=row_source(FileKind.LINKS, FileFormat.PARQUET), company_ids=companies["company_id"]
    )
    return build_graph(companies, links, version=1, taxonomy=load_taxonomy())


def scenario_book() -> ScenarioBook:
    with tempfile.TemporaryDirectory(prefix="chokepoint-bench-policy-") as directory:
        store = open_policy_store(Path(directory))
        book = store.snapshot.book
        store.close()
    return book


def build_timed(generated: GeneratedGraph) -> tuple[Graph, float]:
    started = time.perf_counter()
    graph = build(generated)
    return graph, time.perf_counter() - started


def measure_engine(graph: Graph, *, build_s: float, book: ScenarioBook, on: date) -> tuple[EngineFigures, Scores]:
    """The figures, and the `current` scores (the NetworkX comparison takes its hazards from them)."""
    current = book.resolve("current")
    first, _ = _run(partial(score_graph, graph, current, on=on))
    score_runs, base = _runs(partial(score_graph, graph, current, on=on))
    full: dict[str, float] = {}
    reuse: dict[str, float] = {}
    for name in WHAT_IFS:
        policy = book.resolve(name)
        (full_runs, fresh), (reuse_runs, reusing) = _alternating(
            partial(score_graph, graph, policy, on=on), partial(score_graph, graph, policy, on=on, reuse=base)
        )
        full[name], reuse[name] = statistics.median(full_runs), statistics.median(reuse_runs)
        _check_same(fresh, reusing, base, name)
    figures = EngineFigures(
        graph.company_count,
        graph.link_count,
        build_s,
        first,
        tuple(score_runs),
        full,
        reuse,
    )
    return figures, base


def measure_networkx(graph: Graph, current: Scores) -> NetworkxFigures:
    """Disruption X only, both ways, on the same links, hazards and carries (those of the `current` scores)."""
    hazard = current.links.values("hazard")
    carry = current.links.values("damping") * (1.0 - hazard)
    shares = input_shares(graph)
    started = time.perf_counter()
    engine = propagate(graph, hazard, carry, shares=shares).total
    engine_s = time.perf_counter() - started
    started = time.perf_counter()
    reference, sweeps = networkx_disruption(graph, hazard, carry, shares)
    networkx_s = time.perf_counter() - started
    return NetworkxFigures(
        graph.company_count,
        graph.link_count,
        networkx_s,
        sweeps,
        engine_s,
        float(np.abs(reference - engine).max()),
    )


def networkx_disruption(
    graph: Graph, hazard: np.ndarray, carry: np.ndarray, shares: np.ndarray, *, max_sweeps: int = 500
) -> tuple[np.ndarray, int]:
    """The reference: X_b = sum over b's inbound edges of w (h + k X_s), swept until it stops moving."""
    network = nx.MultiDiGraph()
    network.add_nodes_from(range(graph.company_count))
    network.add_edges_from(
        (int(s), int(b), {"w": float(w), "h": float(h), "k": float(k)})
        for s, b, w, h, k in zip(graph.supplier_array, graph.buyer_array, shares, hazard, carry, strict=True)
    )
    exposure = dict.fromkeys(network.nodes, 0.0)
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 (the count is returned)
        updated = {
            buyer: sum(d["w"] * (d["h"] + d["k"] * exposure[s]) for s, _, d in network.in_edges(buyer, data=True))
            for buyer in network.nodes
        }
        moved = max(abs(updated[node] - exposure[node]) for node in network.nodes)
        exposure = updated
        if moved <= TOLERANCE:
            break
    return np.array([exposure[node] for node in range(graph.company_count)]), sweeps


def _check_same(full: Scores, reused: Scores, base: Scores, name: str) -> None:
    if full.companies.equals(base.companies):
        msg = f"what-if {name} changes nothing on this date: pick a date where its measure is in force"
        raise AssertionError(msg)
    difference = (
        np.abs(full.companies["disruption"].to_numpy() - reused.companies["disruption"].to_numpy()).max()
        + np.abs(full.companies["tariff_cost"].to_numpy() - reused.companies["tariff_cost"].to_numpy()).max()
    )
    if difference > 1e-9:
        msg = f"what-if {name}: reusing the base scores changed the answer by {difference:g}"
        raise AssertionError(msg)


def _run(call: Callable[[], Scores]) -> tuple[float, Scores]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _runs(call: Callable[[], Scores]) -> tuple[list[float], Scores]:
    """The seconds of `RUNS` calls, and the last result."""
    runs = [_run(call) for _ in range(RUNS)]
    return [seconds for seconds, _ in runs], runs[-1][1]


def _alternating(
    one: Callable[[], Scores], other: Callable[[], Scores]
) -> tuple[tuple[list[float], Scores], tuple[list[float], Scores]]:
    """`_runs` of both, one call of each in turn: the machine's slower spells, which last seconds, then weigh on
    both sides of a ratio alike instead of on whichever ran during them."""
    pairs = [(_run(one), _run(other)) for _ in range(RUNS)]
    return (
        ([seconds for (seconds, _), _ in pairs], pairs[-1][0][1]),
        ([seconds for _, (seconds, _) in pairs], pairs[-1][1][1]),
    )
