"""ExposureService end to end on the embedded default graph (real server, real client)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import polars as pl
import pyarrow as pa
import pytest
from chokepoint.v1 import exposure_pb2, exposure_pb2_grpc, graph_pb2, graph_pb2_grpc
from polars.testing import assert_frame_equal

from client.client import ChokepointClient, Company, SupplyLink
from client.errors import InvalidArgumentError, NotFoundError, decode_error
from server.config import DEFAULT_SEED_GRAPH
from tests.conftest import RunningServer, ServeFactory

DAY = "2026-01-15"


@pytest.fixture
def seeded(serve: ServeFactory) -> RunningServer:
    return serve(seed_graph=DEFAULT_SEED_GRAPH)


@pytest.fixture
def client(seeded: RunningServer) -> ChokepointClient:
    return seeded.client()


def test_score_company_returns_every_component_and_its_context(client: ChokepointClient) -> None:
    result = client.score_company("US-MOTOR-1", as_of=DAY)
    score = result.score
    assert 0 < score.disruption <= 1
    assert score.disruption == pytest.approx(
        score.disruption_tier1 + score.disruption_tier2 + score.disruption_tier3_plus
    )
    assert score.tariff_impact_usd == pytest.approx(score.tariff_cost * score.input_spend_usd)
    assert sum(score.disruption_by_country.values()) == pytest.approx(score.disruption)
    assert set(score.disruption_by_material) >= {"magnet", "rare_earth"}
    assert score.level in {"low", "medium", "high", "critical"}
    context = result.context
    assert (context.scenario, context.as_of_date, context.graph_version) == ("current", DAY, 1)
    assert context.policy_version
    assert context.converged is True


def test_rare_earth_buyer_depends_on_china_beyond_face_value(client: ChokepointClient) -> None:
    (origin,) = client.score_company("US-RE-BUYER-1", as_of=DAY, materials=("rare_earth",)).origins
    face = origin.face_value
    assert max(face, key=face.__getitem__) == "CN"  # the USGS face-value split: China 71%
    assert face["CN"] == pytest.approx(0.71)
    look = origin.look_through
    assert max(look, key=look.__getitem__) == "CN"
    # worked by hand in graphs/default/README.md: its Japanese, Estonian, French... refiners buy Chinese oxides
    assert look["CN"] == pytest.approx(0.7552, abs=1e-4)
    assert look["CN"] > face["CN"]


@pytest.mark.parametrize(("buyer", "material"), [("US-GA-BUYER-1", "gallium"), ("US-GE-BUYER-1", "germanium")])
def test_look_through_china_share_exceeds_face_value(client: ChokepointClient, buyer: str, material: str) -> None:
    (origin,) = client.score_company(buyer, as_of=DAY, materials=(material,)).origins
    assert origin.look_through["CN"] > origin.face_value["CN"]
    assert origin.look_through_hhi > origin.face_value_hhi


def test_a_fab_buying_euv_has_the_single_euv_supplier_as_chokepoint(client: ChokepointClient) -> None:
    found = client.find_chokepoints("TW-FAB-1", material="euv")
    assert [d.company_id for d in found.dominators] == ["NL-EUV-1"]
    assert found.countries == {"NL": 1.0}
    everything = client.find_chokepoints("TW-FAB-1")
    assert everything.dominators == ()  # across all inputs no single company carries everything
    assert everything.upstream_link_count > found.upstream_link_count


def test_goods_routed_through_vietnam_carry_chinese_duties_and_the_flag(client: ChokepointClient) -> None:
    explained = client.explain_exposure("US-MOTOR-1", as_of=DAY, component="tariff_cost", limit=20, full=True)
    routed = [
        link
        for path in explained.paths
        for link in path.links
        if link.supplier_id == "VN-TRADE-1" and link.buyer_id == "US-MOTOR-1"
    ]
    assert routed
    link = routed[0]
    assert link.origin_country == "CN"
    assert link.route == ("CN", "VN", "US")
    assert "transshipment" in link.derived_tags
    duties = {t.measure_id for t in link.tariffs}
    assert duties >= {"US-IEEPA-FENTANYL-10-NOV2025", "US-TRANSSHIPMENT-40"}
    assert "US-IEEPA-RECIPROCAL-CN-10-GENEVA" not in duties  # the penalty is levied in its place
    assert all(t.source for t in link.tariffs)


def test_explanation_paths_add_up_towards_the_total(client: ChokepointClient) -> None:
    explained = client.explain_exposure("US-MOTOR-1", as_of=DAY, limit=100, max_depth=12)
    contributions = [path.contribution for path in explained.paths]
    assert contributions == sorted(contributions, reverse=True)
    assert 0 < explained.explained <= explained.total + 1e-12
    for path in explained.paths:
        assert [link.tier for link in path.links] == list(range(1, len(path.links) + 1))
        product = 1.0
        for link in path.links[:-1]:
            product *= link.input_share * link.carry
        last = path.links[-1]
        assert path.contribution == pytest.approx(product * last.input_share * last.hazard)


def test_rank_pages_through_all_companies_in_order(client: ChokepointClient) -> None:
    ranked = list(client.rank_companies(as_of=DAY, order_by="disruption", page_size=37))
    assert len(ranked) == 220
    values = [row.disruption for row in ranked]
    assert values == sorted(values, reverse=True)
    gallium_buyers = {row.company_id for row in client.rank_companies(as_of=DAY, tag="gallium")}
    assert "US-GA-BUYER-1" in gallium_buyers
    # exactly the buyers of a link carrying gallium, derived or user tag
    assert gallium_buyers == {
        link.buyer_id for link in client.list_supply_links() if "gallium" in {*link.tags, *link.derived_tags}
    }
    assert "TW-FAB-1" not in {row.company_id for row in client.rank_companies(as_of=DAY, country="US")}


def test_compare_scenarios_reports_movers_and_totals(client: ChokepointClient) -> None:
    result = client.compare_scenarios(baseline_as_of=DAY, scenario="cn-rare-earth-ban-all", as_of=DAY, page_size=5)
    assert result.companies_level_up > 0
    assert result.companies_level_down == 0  # adding a ban never lowers exposure
    changes = result.changes
    # Every page is read now, down to companies moved only by the iterative solve's tolerance (about 1e-11).
    assert all(change.disruption_change >= -1e-9 for change in changes)
    moves = [abs(change.score - change.baseline_score) for change in changes]
    assert moves == sorted(moves, reverse=True)
    dates = client.compare_scenarios(baseline_as_of="2019-06-01", as_of="2025-06-01", order_by="tariff_impact")
    assert dates.total_tariff_impact_change_usd > 0  # 2025 duties far above 2019's


def test_scores_are_cached_and_a_graph_write_invalidates_them(seeded: RunningServer, client: ChokepointClient) -> None:
    cache = seeded.service.scores
    first = client.score_company("US-AUTO-1", as_of=DAY)
    client.score_company("US-GA-BUYER-1", as_of=DAY)
    assert (cache.misses, cache.hits) == (1, 1)
    client.upsert_companies([Company("NEW-BUYER", "New Buyer Inc", "US")])
    client.upsert_supply_links([SupplyLink("CN-MAG-1", "NEW-BUYER", "850511", 1e6)])
    after = client.score_company("NEW-BUYER", as_of=DAY)
    assert cache.misses == 2
    assert after.context.graph_version == first.context.graph_version + 2
    assert after.score.disruption > 0
    # The replaced version's table is gone at once, not left to age out (about 180 MB each at 5M links).
    assert len(cache) == 1
    assert cache.latest(lambda scores: scores.graph_version == first.context.graph_version) is None


def test_updating_a_scenario_invalidates_its_cached_scores(seeded: RunningServer, client: ChokepointClient) -> None:
    cache = seeded.service.scores
    created = client.create_scenario({"name": "strict-licences", "base": "current"})
    before = client.score_company("US-RE-BUYER-1", scenario="strict-licences", as_of=DAY)
    assert before.context.policy_version == created.policy_version
    assert client.score_company("US-RE-BUYER-1", scenario="strict-licences", as_of=DAY) == before
    misses = cache.misses
    # China's rare-earth licensing, in force on DAY, now cuts off everything it covers
    strict = {"LICENCE_REQUIRED": 1.0}
    updated = client.update_scenario(
        {"name": "strict-licences", "base": "current", "parameters": {"severity_weights": strict}}
    )
    after = client.score_company("US-RE-BUYER-1", scenario="strict-licences", as_of=DAY)
    assert cache.misses == misses + 1  # recomputed, not the cached answer for the old definition
    assert after.context.policy_version == updated.policy_version != created.policy_version
    assert after.score.disruption > before.score.disruption


def test_a_cached_answer_is_never_served_for_another_version_scenario_or_date(
    seeded: RunningServer, client: ChokepointClient
) -> None:
    answers = seeded.service.answers
    client.create_scenario({"name": "what-if", "base": "current"})
    first = client.score_company("US-MOTOR-1", as_of=DAY, scenario="what-if")
    assert client.score_company("US-MOTOR-1", as_of=DAY, scenario="what-if") == first
    assert answers.hits == 1
    # Another scenario or day: the answer says which, and its numbers differ.
    banned = client.score_company("US-MOTOR-1", as_of=DAY, scenario="cn-rare-earth-ban-all")
    assert banned.context.scenario == "cn-rare-earth-ban-all"
    assert banned.score.disruption > first.score.disruption
    earlier = client.score_company("US-MOTOR-1", as_of="2019-06-01", scenario="what-if")
    assert earlier.context.as_of_date == "2019-06-01"
    assert earlier.score.tariff_cost != first.score.tariff_cost
    # A scenario write: a new policy version, whose answer drops the removed duty.
    client.update_scenario({"name": "what-if", "base": "current", "remove": ["US-IEEPA-FENTANYL-10-NOV2025"]})
    rewritten = client.score_company("US-MOTOR-1", as_of=DAY, scenario="what-if")
    assert rewritten.context.policy_version != first.context.policy_version
    assert rewritten.score.tariff_cost < first.score.tariff_cost
    # A graph write: a new graph version, whose answer counts the re-valued link.
    client.upsert_supply_links([SupplyLink("CN-MAG-1", "US-MOTOR-1", "850511", 5e7)])
    grown = client.score_company("US-MOTOR-1", as_of=DAY, scenario="what-if")
    assert grown.context.graph_version == rewritten.context.graph_version + 1
    assert grown.score.input_spend_usd != rewritten.score.input_spend_usd
    assert answers.hits == 1


def test_an_empty_date_is_answered_for_today(client: ChokepointClient) -> None:
    today = datetime.now(UTC).date().isoformat()
    implicit = client.score_company("US-MOTOR-1")
    assert implicit.context.as_of_date == today
    assert client.score_company("US-MOTOR-1", as_of=today) == implicit


def test_exposure_errors_name_the_field(client: ChokepointClient) -> None:
    with pytest.raises(NotFoundError) as unknown:
        client.score_company("GHOST", as_of=DAY)
    assert unknown.value.reason == "COMPANY_NOT_FOUND"
    with pytest.raises(NotFoundError):
        client.score_company("US-AUTO-1", scenario="no-such-scenario")
    with pytest.raises(InvalidArgumentError) as bad_date:
        client.score_company("US-AUTO-1", as_of="15/01/2026")
    assert [v.field for v in bad_date.value.violations] == ["as_of_date"]
    with pytest.raises(InvalidArgumentError) as too_many:
        client.explain_exposure("US-AUTO-1", limit=1000)
    assert [v.field for v in too_many.value.violations] == ["limit"]


def test_cached_look_through_follows_graph_writes(client: ChokepointClient) -> None:
    before = client.score_company("US-GA-BUYER-1", as_of=DAY, materials=("gallium",)).origins[0]
    assert client.score_company("US-GA-BUYER-1", as_of=DAY, materials=("gallium",)).origins[0] == before
    client.upsert_companies([Company("CN-GA-NEW", "New Gallium Smelter", "CN")])
    client.upsert_supply_links([SupplyLink("CN-GA-NEW", "US-GA-BUYER-1", "811292", 5e6)])
    after = client.score_company("US-GA-BUYER-1", as_of=DAY, materials=("gallium",)).origins[0]
    assert after.face_value["CN"] > before.face_value["CN"]


def _arrow_ipc(rows: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    return bytes(sink.getvalue().to_pybytes())


def _score_raw_rows(address: str, rows: bytes) -> Iterator[exposure_pb2.ScoreSupplierListResponse]:
    """ScoreSupplierList with one message of rows as given, past the Python client (as another language would)."""
    channel = grpc.insecure_channel(address)
    request = exposure_pb2.ScoreSupplierListRequest(buyer_country="US", as_of_date=DAY, rows_arrow_ipc=rows)
    try:
        yield from exposure_pb2_grpc.ExposureServiceStub(channel).ScoreSupplierList(iter([request]), timeout=30)
    finally:
        channel.close()


@pytest.mark.parametrize(
    ("rows", "field", "words"),
    [
        (b"not arrow at all", "requests[0].rows_arrow_ipc", "not a readable Arrow IPC stream"),
        (
            _arrow_ipc(pa.table({"hs_code": ["850511"], "supplier": ["CN-MAG-1"]})),
            "requests[0].rows_arrow_ipc.supplier",
            "column 'supplier' is not a supplier-list column",
        ),
        (
            _arrow_ipc(pa.table({"supplier_id": ["CN-MAG-1"], "hs_code": [850511]})),
            "requests[0].rows_arrow_ipc.hs_code",
            "column 'hs_code' must be text, got Arrow type int64",
        ),
        (
            _arrow_ipc(pa.table({"supplier_id": ["CN-MAG-1"], "annual_spend_usd": ["100"]})),
            "requests[0].rows_arrow_ipc.annual_spend_usd",
            "column 'annual_spend_usd' must be a number",
        ),
    ],
)
def test_supplier_rows_not_arrow_ipc_of_the_list_columns_are_refused_naming_field_and_column(
    seeded: RunningServer, rows: bytes, field: str, words: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        list(_score_raw_rows(seeded.address, rows))
    error = decode_error(caught.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert words in error.message
    assert [violation.field for violation in error.violations] == [field]


def test_supplier_rows_from_any_arrow_writer_score_as_the_client_sends_them(
    seeded: RunningServer, client: ChokepointClient
) -> None:
    """utf8 text and integer spend from pyarrow score like the Python client's large_utf8 text and float spend."""
    rows = {"supplier_id": ["CN-MAG-1", "", "NOT-IN-GRAPH"], "hs_code": ["8505.11", "8112.92", "8505"]}
    raw = _arrow_ipc(pa.table({**rows, "annual_spend_usd": pa.array([25, 75, 10], pa.int64())}))
    answers = list(_score_raw_rows(seeded.address, raw))
    scored = pl.read_ipc_stream(answers[0].rows_arrow_ipc)
    expected = client.score_supplier_list(
        pl.DataFrame({**rows, "annual_spend_usd": [25.0, 75.0, 10.0]}), as_of=DAY, buyer_country="US"
    )
    assert_frame_equal(scored, expected.rows)
    assert [(e.row, e.column) for e in answers[0].errors] == [(2, "supplier_id")]
    assert answers[-1].summary.rows_scored == expected.summary.rows_scored == 2
    assert answers[-1].summary.disruption == expected.summary.disruption


def test_a_cached_score_is_answered_while_every_worker_is_busy(serve: ServeFactory) -> None:
    # A cached ScoreCompany answer is looked up on the event loop; anything else needs a worker thread. With the
    # one worker held by a stalled upload, the cached answer still comes back (as the cached bytes), and a call
    # that needs a worker waits out its deadline.
    seeded = serve(seed_graph=DEFAULT_SEED_GRAPH, workers=1)
    stalled = threading.Event()
    release = threading.Event()

    def stalling_upload() -> Iterator[graph_pb2.ImportGraphRequest]:
        yield graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV)
        stalled.set()
        release.wait(timeout=60)

    with grpc.insecure_channel(seeded.address) as channel:
        scores = exposure_pb2_grpc.ExposureServiceStub(channel)
        graph = graph_pb2_grpc.GraphServiceStub(channel)
        request = exposure_pb2.ScoreCompanyRequest(company_id="US-MOTOR-1", as_of_date=DAY)
        first = scores.ScoreCompany(request, timeout=60)
        upload = graph.ImportGraph.future(stalling_upload(), timeout=60)
        try:
            assert stalled.wait(timeout=30)
            again = scores.ScoreCompany(request, timeout=5)
            with pytest.raises(grpc.RpcError) as waited:
                graph.GetGraphStats(graph_pb2.GetGraphStatsRequest(), timeout=1)
        finally:
            release.set()
        with pytest.raises(grpc.RpcError):
            upload.result()  # the upload had no data: refused
    assert again == first
    assert first.score.company_id == "US-MOTOR-1"
    assert seeded.service.answers.hits == 1
    assert waited.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
