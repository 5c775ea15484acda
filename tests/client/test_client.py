"""The client library against the real server: paged answers read in full."""

from __future__ import annotations

import pytest

from client.client import ChokepointClient
from server.config import DEFAULT_SEED_GRAPH
from tests.conftest import ServeFactory

DAY = "2026-01-15"


@pytest.fixture
def client(serve: ServeFactory) -> ChokepointClient:
    return serve(seed_graph=DEFAULT_SEED_GRAPH).client()


def test_compare_scenarios_reads_every_page(client: ChokepointClient) -> None:
    options = {"baseline_as_of": "2019-06-01", "as_of": "2025-06-01", "order_by": "tariff_impact"}
    with client:
        whole = client.compare_scenarios(**options, page_size=1000)
        paged = client.compare_scenarios(**options, page_size=3)
        limited = client.compare_scenarios(**options, page_size=3, limit=7)
    assert whole.total_size > 7  # several pages of 3
    assert len(whole.changes) == whole.total_size
    assert paged.changes == whole.changes
    assert limited.changes == whole.changes[:7]
    assert (paged.total_size, paged.companies_level_up, paged.companies_level_down) == (
        whole.total_size,
        whole.companies_level_up,
        whole.companies_level_down,
    )
