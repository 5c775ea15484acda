"""Cooperative cancellation in the core: long computations call their check between steps, stop when it raises,
and leave nothing behind (no cached value, no committed write)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from server.config import DEFAULT_SEED_GRAPH
from server.core import explain
from server.core.batch import look_through_china_share
from server.core.caches import LruCache
from server.core.chokepoints import find_chokepoints
from server.core.errors import CancelledError, DeadlineExceededError
from server.core.explain import Component, top_paths
from server.core.lookthrough import origin_shares
from server.core.policy_store import PolicyStore
from server.core.queries import require_company
from server.core.scores import score_graph
from server.core.seeding import open_policy_store, open_store
from server.core.store import GraphStore, ImportMode
from server.core.tables import FileFormat, FileKind, read_table, row_source

DAY = date(2026, 1, 15)
CONCURRENT_SYSTEMS = 2  # the disruption block and the tariff cost


class CountingCheck:
    """A check that counts its calls and raises from call number `give_up_at` on (never, if None)."""

    def __init__(self, give_up_at: int | None = None, error: type[CancelledError] = CancelledError) -> None:
        self.calls = 0
        self.give_up_at = give_up_at
        self.error = error
        self._lock = threading.Lock()  # scoring calls it from two threads at once

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1
            calls = self.calls
        if self.give_up_at is not None and calls >= self.give_up_at:
            raise self.error("gave up")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[GraphStore, PolicyStore]:
    directory = tmp_path_factory.mktemp("default")
    return open_store(directory, seed_graph=DEFAULT_SEED_GRAPH), open_policy_store(directory)


def test_scoring_checks_per_step_and_gives_the_same_scores_when_not_cancelled(
    stores: tuple[GraphStore, PolicyStore],
) -> None:
    graph, policy = stores[0].graph, stores[1].snapshot.book.resolve("current")
    counting = CountingCheck()
    checked = score_graph(graph, policy, on=DAY, check=counting)
    assert counting.calls >= 4  # between steps and per propagation tier, not once per company or link
    assert counting.calls < graph.company_count
    assert checked.companies.equals(score_graph(graph, policy, on=DAY).companies)


@pytest.mark.parametrize("give_up_at", [1, 2, 5])
def test_scoring_stops_at_the_check_that_raises(stores: tuple[GraphStore, PolicyStore], give_up_at: int) -> None:
    check = CountingCheck(give_up_at, DeadlineExceededError)
    with pytest.raises(DeadlineExceededError):
        score_graph(stores[0].graph, stores[1].snapshot.book.resolve("current"), on=DAY, check=check)
    # The disruption and tariff systems are solved at once: each stops at its own next check, which raises too;
    # none runs on past it.
    assert give_up_at <= check.calls <= give_up_at + CONCURRENT_SYSTEMS - 1


def _queries(stores: tuple[GraphStore, PolicyStore]) -> dict[str, Callable[[CountingCheck], object]]:
    graph = stores[0].graph
    scores = score_graph(graph, stores[1].snapshot.book.resolve("current"), on=DAY)
    fab = require_company(graph, "TW-FAB-1", field="company_id")
    buyer = require_company(graph, "US-RE-BUYER-1", field="company_id")
    return {
        "chokepoints": lambda check: find_chokepoints(graph, fab, material=None, check=check),
        "look-through": lambda check: origin_shares(graph, buyer, "rare_earth", check=check),
        "explain": lambda check: top_paths(
            graph, scores, buyer, component=Component.DISRUPTION, limit=10, max_depth=12, check=check
        ),
    }


@pytest.mark.parametrize("name", ["chokepoints", "look-through", "explain"])
def test_per_query_computations_call_their_check_and_stop_when_it_raises(
    stores: tuple[GraphStore, PolicyStore], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(explain, "CHECK_EVERY", 1)  # the default graph's searches are shorter than one period
    query = _queries(stores)[name]
    counting = CountingCheck()
    query(counting)
    assert counting.calls >= 1
    with pytest.raises(CancelledError):
        query(CountingCheck(1))


def test_batch_look_through_checks_per_traced_supplier(stores: tuple[GraphStore, PolicyStore]) -> None:
    import polars as pl

    graph = stores[0].graph
    buyer = require_company(graph, "US-RE-BUYER-1", field="company_id")
    suppliers = graph.links.filter(pl.col("buyer_idx") == buyer)
    scored = pl.DataFrame(
        {
            "supplier_idx": suppliers["supplier_idx"],
            "derived_tags": suppliers["derived_tags"].cast(pl.List(pl.String)),  # as a supplier list's rows have them
            "annual_spend_usd": suppliers["annual_value_usd"],
            "effective_origin_country": suppliers["effective_origin_country"],
        }
    )
    expected = look_through_china_share(graph, scored)
    assert look_through_china_share(graph, scored, check=CountingCheck()) == expected
    with pytest.raises(CancelledError):
        look_through_china_share(graph, scored, check=CountingCheck(1))


def test_a_cancelled_computation_leaves_nothing_cached_and_the_next_caller_computes() -> None:
    cache: LruCache[str, int] = LruCache(capacity=4)

    def cancelled() -> int:
        raise CancelledError("gave up")

    with pytest.raises(CancelledError):
        cache.get("scores", cancelled)
    assert len(cache) == 0
    assert cache.get("scores", lambda: 7) == 7
    assert len(cache) == 1


def test_a_caller_waiting_for_anothers_computation_gives_up_on_its_own_check() -> None:
    cache: LruCache[str, int] = LruCache(capacity=4)
    started, finish = threading.Event(), threading.Event()
    results: list[int] = []

    def slow() -> int:
        started.set()
        finish.wait(timeout=60)
        return 1

    computing = threading.Thread(target=lambda: results.append(cache.get("scores", slow)))
    computing.start()
    try:
        assert started.wait(timeout=60)
        with pytest.raises(DeadlineExceededError):
            cache.get("scores", lambda: 2, check=CountingCheck(3, DeadlineExceededError))
    finally:
        finish.set()
        computing.join(timeout=60)
    assert results == [1]
    assert cache.get("scores", lambda: 2) == 1


def test_an_import_whose_caller_gave_up_is_rolled_back(tmp_path: Path) -> None:
    store = open_store(tmp_path, seed_graph=None)
    try:
        companies = b"company_id,name,country\nUS-A,A Inc.,US\n"
        table = read_table(companies, kind=FileKind.COMPANIES, fmt=FileFormat.CSV)
        source = row_source(FileKind.COMPANIES, FileFormat.CSV)
        with pytest.raises(CancelledError):
            store.import_graph((table, source), None, mode=ImportMode.REPLACE, check=CountingCheck(1))
        assert (store.graph.version, store.graph.company_count) == (0, 0)
        store.close()
        store = open_store(tmp_path, seed_graph=None)
        assert store.graph.company_count == 0  # nothing was committed either
        assert store.import_graph((table, source), None, mode=ImportMode.REPLACE).company_count == 1
    finally:
        store.close()
