"""PolicyService end to end on the built-in library, checked against the shared source files."""

from __future__ import annotations

from pathlib import Path

import grpc
import polars as pl
import pytest
from chokepoint.v1 import policy_pb2, policy_pb2_grpc

from client.client import ChokepointClient, LinkEvaluation
from client.errors import (
    ClientError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from server.config import DEFAULT_SEED_GRAPH
from tests.conftest import SHARED_DATA, ServeFactory

TARIFFS = SHARED_DATA / "tariffs"


def us_rate_on_chinese_goods(hs6: str, day: str) -> float:
    """MFN + Section 301 on Chinese goods (percent) from the shared USITC-derived file, as a fraction."""
    rows = pl.read_csv(TARIFFS / "us_tariffs_on_china_hs6_2018_2020.csv", schema_overrides={"hs6": pl.String})
    steps = rows.filter((pl.col("hs6") == hs6) & (pl.col("time_of_tariff") <= day)).sort("time_of_tariff")
    return float(steps["tariff"][-1]) / 100


def cn_rate_on_us_goods(hs6: str, day: str) -> float:
    rows = pl.read_csv(TARIFFS / "china_tariffs_on_us_hs6_2018_2019.csv", schema_overrides={"hs6": pl.String})
    steps = rows.filter((pl.col("hs6") == hs6) & (pl.col("time_of_tariff") <= day)).sort("time_of_tariff")
    return float(steps["tariff"][-1]) / 100


def us_mfn(hts8: str) -> float:
    rows = pl.read_csv(TARIFFS / "usitc_tariff_database_2017_mfn.csv", schema_overrides={"hts8": pl.String})
    return float(rows.filter(pl.col("hts8") == hts8)["mfn_ad_val_rate"][0])


def fired(evaluation: LinkEvaluation) -> set[str]:
    return {t.measure_id for t in evaluation.tariffs} | {c.measure_id for c in evaluation.export_controls}


@pytest.fixture
def policy_client(serve: ServeFactory) -> ChokepointClient:
    return serve().client()


def test_chinese_processors_into_the_us_in_2019_pay_list_2_on_top_of_mfn(policy_client: ChokepointClient) -> None:
    result = policy_client.evaluate_link(hs_code="854231", origin_country="CN", buyer_country="US", as_of="2019-06-01")
    assert result.tariff_rate_fraction == pytest.approx(us_rate_on_chinese_goods("854231", "2019-06-01"))
    assert fired(result) == {"US-MFN-2017", "US-301-LIST2"}
    list2 = next(t for t in result.tariffs if t.measure_id == "US-301-LIST2")
    assert list2.value == pytest.approx(0.25)
    assert "9903.88.02" in list2.title
    assert all(t.source for t in result.tariffs)


def test_chinese_magnets_in_2019_pay_mfn_only(policy_client: ChokepointClient) -> None:
    on_list = pl.read_csv(TARIFFS / "usitc_china_tariffs_301_hts8_2020-01-01.csv", infer_schema=False)["hts8"]
    assert not on_list.str.starts_with("8505.11").any()  # the shared list: no Section 301 list covered magnets
    result = policy_client.evaluate_link(hs_code="8505.11", origin_country="CN", buyer_country="US", as_of="2019-06-01")
    assert fired(result) == {"US-MFN-2017"}
    assert result.tariff_rate_fraction == pytest.approx(us_mfn("85051100"))


def magnets_via_vietnam(client: ChokepointClient, day: str) -> LinkEvaluation:
    """Chinese magnets shipped from Vietnam to the US on `day`."""
    return client.evaluate_link(
        hs_code="850511",
        origin_country="CN",
        shipping_country="VN",
        route=("CN", "VN", "US"),
        buyer_country="US",
        as_of=day,
    )


def test_magnets_routed_through_vietnam_keep_chinese_origin(policy_client: ChokepointClient) -> None:
    direct = policy_client.evaluate_link(hs_code="850511", origin_country="CN", buyer_country="US", as_of="2025-06-01")
    routed = magnets_via_vietnam(policy_client, "2025-06-01")
    vietnamese = policy_client.evaluate_link(
        hs_code="850511", origin_country="VN", buyer_country="US", as_of="2025-06-01"
    )
    assert routed.transshipment
    assert "transshipment" in routed.derived_tags
    assert fired(direct) <= fired(routed)  # every duty on Chinese goods still applies
    assert routed.tariff_rate_fraction >= direct.tariff_rate_fraction > vietnamese.tariff_rate_fraction
    assert routed.hazard == direct.hazard  # China's magnet controls follow the origin


def test_transshipped_chinese_magnets_pay_the_penalty_in_place_of_the_reciprocal_rate(
    policy_client: ChokepointClient,
) -> None:
    day = "2025-09-01"  # inside the penalty's window, 2025-08-07 until the 2026-02-20 ruling
    routed = magnets_via_vietnam(policy_client, day)
    direct = policy_client.evaluate_link(hs_code="850511", origin_country="CN", buyer_country="US", as_of=day)
    mfn = us_mfn("85051100")
    assert {t.measure_id for t in routed.tariffs} == {"US-MFN-2017", "US-IEEPA-FENTANYL-20", "US-TRANSSHIPMENT-40"}
    assert routed.tariff_rate_fraction == pytest.approx(mfn + 0.20 + 0.40)  # 62.1%: the penalty replaces the 10%
    assert dict(routed.inactive)["US-IEEPA-RECIPROCAL-CN-10-GENEVA"] == "SUPERSEDED_BY US-TRANSSHIPMENT-40"
    assert {t.measure_id for t in direct.tariffs} == {
        "US-MFN-2017",
        "US-IEEPA-FENTANYL-20",
        "US-IEEPA-RECIPROCAL-CN-10-GENEVA",
    }
    assert direct.tariff_rate_fraction == pytest.approx(mfn + 0.20 + 0.10)
    assert {c.measure_id for c in routed.export_controls} == {"CN-MOFCOM-2025-18-RARE-EARTH"}
    assert all(m.source for m in (*routed.tariffs, *routed.export_controls))
    penalty = next(t for t in routed.tariffs if t.measure_id == "US-TRANSSHIPMENT-40")
    assert "in lieu of" in penalty.source


def test_the_transshipment_penalty_spares_origins_without_a_modelled_reciprocal_rate(
    policy_client: ChokepointClient,
) -> None:
    german = policy_client.evaluate_link(
        hs_code="850511", origin_country="DE", shipping_country="NL", buyer_country="US", as_of="2025-09-01"
    )
    assert german.transshipment
    assert {t.measure_id for t in german.tariffs} == {"US-MFN-2017"}
    assert german.tariff_rate_fraction == pytest.approx(us_mfn("85051100"))
    assert "US-TRANSSHIPMENT-40" not in dict(german.inactive)


def test_us_magnets_into_china_in_2019_pay_chinas_retaliatory_rate(policy_client: ChokepointClient) -> None:
    result = policy_client.evaluate_link(hs_code="850511", origin_country="US", buyer_country="CN", as_of="2019-06-01")
    assert result.tariff_rate_fraction == pytest.approx(cn_rate_on_us_goods("850511", "2019-06-01"))
    assert any(t.level == "RETALIATORY" for t in result.tariffs)


@pytest.mark.parametrize(
    ("day", "expected_rate", "must_fire", "must_be_inactive"),
    [
        ("2018-06-01", 0.0, {"US-MFN-2017"}, {"US-301-LIST2": "NOT_YET_IN_FORCE"}),
        ("2018-09-01", 0.25, {"US-301-LIST2"}, {}),
        (
            "2025-04-20",
            0.50 + 0.20 + 1.25,
            {"US-301-SEMI-2025", "US-IEEPA-FENTANYL-20", "US-IEEPA-RECIPROCAL-CN-125"},
            {},
        ),
        (
            "2025-06-01",
            0.50 + 0.20 + 0.10,
            {"US-IEEPA-RECIPROCAL-CN-10-GENEVA"},
            {"US-301-LIST2": "SUPERSEDED_BY US-301-SEMI-2025"},
        ),
        ("2025-12-01", 0.50 + 0.10 + 0.10, {"US-IEEPA-FENTANYL-10-NOV2025"}, {}),
        ("2026-03-01", 0.50 + 0.10, {"US-122-GLOBAL-2026"}, {"US-IEEPA-FENTANYL-10-NOV2025": "VOIDED"}),
        ("2026-08-01", 0.50, {"US-301-SEMI-2025"}, {"US-122-GLOBAL-2026": "EXPIRED"}),
    ],
    ids=[
        "before-301",
        "list2",
        "april-2025-peak",
        "after-geneva",
        "nov-2025-arrangement",
        "after-ieepa-ruling",
        "122-expired",
    ],
)
def test_one_link_walks_through_the_regime_changes(
    policy_client: ChokepointClient,
    day: str,
    expected_rate: float,
    must_fire: set[str],
    must_be_inactive: dict[str, str],
) -> None:
    result = policy_client.evaluate_link(hs_code="854231", origin_country="CN", buyer_country="US", as_of=day)
    assert result.tariff_rate_fraction == pytest.approx(expected_rate)
    assert must_fire <= fired(result)
    assert result.tariffs
    assert all(t.source for t in result.tariffs)  # every number traces to its legal text or data file
    inactive = dict(result.inactive)
    assert {measure: inactive.get(measure) for measure in must_be_inactive} == must_be_inactive


@pytest.mark.parametrize(
    ("day", "hazard", "strongest"),
    [
        ("2023-06-01", 0.0, None),
        ("2023-09-01", 0.4, "CN-MOFCOM-2023-23-GA-GE"),
        ("2025-01-15", 1.0, "CN-MOFCOM-2024-46-US-BAN"),
        ("2026-01-15", 0.4, "CN-MOFCOM-2023-23-GA-GE"),
        ("2026-12-15", 1.0, "CN-MOFCOM-2024-46-US-BAN"),
    ],
    ids=["before-2023", "licensing", "us-ban", "ban-suspended", "suspension-over"],
)
def test_gallium_to_the_us_walks_through_chinas_controls(
    policy_client: ChokepointClient, day: str, hazard: float, strongest: str | None
) -> None:
    result = policy_client.evaluate_link(hs_code="811292", origin_country="CN", buyer_country="US", as_of=day)
    assert result.hazard == pytest.approx(hazard)
    assert (result.export_controls[0].measure_id if result.export_controls else None) == strongest
    assert all(c.source for c in result.export_controls)
    assert all("MOFCOM" in c.source for c in result.export_controls[:1])  # the strongest cites China's announcement
    assert all(t.source for t in result.tariffs)


def test_rare_earth_suspension_lapsing_restores_the_october_controls(policy_client: ChokepointClient) -> None:
    kwargs = {"hs_code": "284690", "origin_country": "CN", "buyer_country": "US", "as_of": "2026-01-15"}
    current = policy_client.evaluate_link(**kwargs)  # type: ignore[arg-type]
    lapsed = policy_client.evaluate_link(scenario="rare-earth-suspension-lapses", **kwargs)  # type: ignore[arg-type]
    banned = policy_client.evaluate_link(scenario="cn-rare-earth-ban-all", **kwargs)  # type: ignore[arg-type]
    assert dict(current.inactive)["CN-MOFCOM-2025-61-62-RARE-EARTH"] == "SUSPENDED"
    assert "CN-MOFCOM-2025-61-62-RARE-EARTH" in fired(lapsed)
    assert current.hazard < lapsed.hazard < banned.hazard == 1.0


def test_expanded_us_chip_controls_reach_chips_and_raise_fab_tools_to_presumption_of_denial(
    policy_client: ChokepointClient,
) -> None:
    chips = {"hs_code": "854231", "origin_country": "US", "buyer_country": "CN", "as_of": "2026-01-15"}
    tools = {**chips, "hs_code": "848620"}
    current_chips = policy_client.evaluate_link(**chips)  # type: ignore[arg-type]
    expanded_chips = policy_client.evaluate_link(scenario="us-chip-controls-expanded", **chips)  # type: ignore[arg-type]
    assert (current_chips.hazard, current_chips.export_controls) == (0.0, ())  # no rule covers chips today
    (control,) = expanded_chips.export_controls
    assert (control.measure_id, control.level, control.value) == ("WHATIF-US-CHIPS-CN", "PRESUMPTION_OF_DENIAL", 0.9)
    assert control.matched == "tag semiconductor"
    assert control.source
    current_tools = policy_client.evaluate_link(**tools)  # type: ignore[arg-type]
    expanded_tools = policy_client.evaluate_link(scenario="us-chip-controls-expanded", **tools)  # type: ignore[arg-type]
    assert current_tools.export_controls[0].measure_id == "US-EAR-2022-SME-CN"
    assert (current_tools.hazard, expanded_tools.hazard) == (0.4, 0.9)
    assert expanded_tools.export_controls[0].measure_id == "WHATIF-US-CHIPS-CN"
    to_germany = policy_client.evaluate_link(
        scenario="us-chip-controls-expanded",
        **{**chips, "buyer_country": "DE"},  # type: ignore[arg-type]
    )
    assert to_germany.hazard == 0.0  # the what-if names China's destinations only


def test_section_122_at_the_other_reading(policy_client: ChokepointClient) -> None:
    kwargs = {"hs_code": "850132", "origin_country": "DE", "buyer_country": "US", "as_of": "2026-03-01"}
    default = policy_client.evaluate_link(**kwargs)  # type: ignore[arg-type]
    alternative = policy_client.evaluate_link(scenario="section-122-at-15pct", **kwargs)  # type: ignore[arg-type]
    assert alternative.tariff_rate_fraction - default.tariff_rate_fraction == pytest.approx(0.05)


def test_scenario_lifecycle_survives_a_restart(serve: ServeFactory, tmp_path: Path) -> None:
    first = serve(data_dir=tmp_path / "store")
    scenario = {
        "name": "no-301",
        "description": "Section 301 lifted",
        "base": "current",
        "remove": ["US-301-LIST2", "US-301-SEMI-2025"],
        "tariffs": [
            {
                "measure_id": "MY-DUTY",
                "title": "A test duty",
                "authority": "OTHER",
                "program": "TEST",
                "importer": "US",
                "origins": ["CN"],
                "hs_prefixes": ["8542"],
                "rate_fraction": 0.05,
                "effective_from": "2018-01-01",
                "source": "test",
            }
        ],
        "parameters": {"severity_weights": {"LICENCE_REQUIRED": 0.6}},
    }
    with first.client() as client:
        created = client.create_scenario(scenario)
        assert (created.name, created.base, created.built_in) == ("no-301", "current", False)
        result = client.evaluate_link(
            hs_code="854231", origin_country="CN", buyer_country="US", as_of="2019-06-01", scenario="no-301"
        )
        assert fired(result) == {"US-MFN-2017", "MY-DUTY"}
        gallium = client.evaluate_link(
            hs_code="811292", origin_country="CN", buyer_country="DE", as_of="2024-01-01", scenario="no-301"
        )
        assert gallium.hazard == pytest.approx(0.6)
        updated = client.update_scenario({**scenario, "remove": ["US-301-LIST2"]})
        assert updated.policy_version != created.policy_version
    first.service.stop(None)
    first.policy.close()
    first.store.close()
    with serve(data_dir=tmp_path / "store").client() as client:
        stored = client.get_scenario("no-301")
        assert stored["remove"] == ["US-301-LIST2"]
        assert [t["measure_id"] for t in stored["tariffs"]] == ["MY-DUTY"]
        assert "no-301" in {s.name for s in client.list_scenarios()}
        client.delete_scenario("no-301")
        with pytest.raises(NotFoundError):
            client.get_scenario("no-301")


def test_a_derived_scenario_inherits_each_parameter_it_leaves_unset(serve: ServeFactory) -> None:
    with serve(seed_graph=DEFAULT_SEED_GRAPH).client() as client:
        client.create_scenario(
            {
                "name": "alt-readings",
                "base": "current",
                "parameters": {"use_alternative_rates": True, "damping_default": 0.3, "severity_weights": {"BAN": 0.8}},
            }
        )
        child = {
            "name": "reweighted",
            "base": "alt-readings",
            "parameters": {"severity_weights": {"LICENCE_REQUIRED": 0.6}},
        }
        client.create_scenario(child)
        assert client.get_scenario("reweighted")["parameters"] == child["parameters"]  # only what it sets
        s122 = {"hs_code": "850511", "origin_country": "DE", "buyer_country": "US", "as_of": "2026-03-01"}
        default = client.evaluate_link(**s122)  # type: ignore[arg-type]
        inherited = client.evaluate_link(scenario="reweighted", **s122)  # type: ignore[arg-type]
        assert inherited.tariff_rate_fraction - default.tariff_rate_fraction == pytest.approx(0.05)  # 15% reading
        gallium = {"hs_code": "811292", "origin_country": "CN", "buyer_country": "US"}
        assert client.evaluate_link(scenario="reweighted", as_of="2025-01-15", **gallium).hazard == 0.8  # base's BAN
        assert client.evaluate_link(scenario="reweighted", as_of="2026-01-15", **gallium).hazard == 0.6  # its own
        context = client.score_company("US-MOTOR-1", scenario="reweighted", as_of="2026-01-15").context
        assert (context.damping_default, context.pass_through) == (0.3, 1.0)  # the base's, then the default


def test_built_in_scenarios_are_read_only(policy_client: ChokepointClient) -> None:
    with pytest.raises(FailedPreconditionError) as updating:
        policy_client.update_scenario({"name": "current", "base": ""})
    with pytest.raises(FailedPreconditionError) as deleting:
        policy_client.delete_scenario("current")
    with pytest.raises(FailedPreconditionError) as creating:
        policy_client.create_scenario({"name": "cn-rare-earth-ban-all", "base": "current"})
    assert {updating.value.reason, deleting.value.reason, creating.value.reason} == {"SCENARIO_BUILT_IN"}


def test_scenario_errors_name_the_field(policy_client: ChokepointClient) -> None:
    base = {"name": "bad", "base": "current"}
    cases: list[tuple[dict[str, object], str]] = [
        ({**base, "name": "Bad Name"}, "scenario.name"),
        ({**base, "base": "nope"}, "scenario.base"),
        ({**base, "remove": ["NOT-A-MEASURE"]}, "scenario.remove[0]"),
        (
            {
                **base,
                "tariffs": [
                    {
                        "measure_id": "X",
                        "title": "x",
                        "authority": "OTHER",
                        "program": "P",
                        "importer": "US",
                        "hs_prefixes": ["*"],
                        "rate_fraction": 25,
                        "effective_from": "2020-01-01",
                        "source": "s",
                    }
                ],
            },
            "scenario.tariffs[0].lines[0].rate_fraction",
        ),  # the client sends hs_prefixes + rate as lines
        (
            {
                **base,
                "export_controls": [
                    {
                        "measure_id": "Y",
                        "title": "y",
                        "authority": "CN_MOFCOM",
                        "controlling_country": "CN",
                        "tags": ["gallium"],
                        "severity": "BAN",
                        "effective_from": "2025-13-01",
                        "source": "s",
                    }
                ],
            },
            "scenario.export_controls[0].effective_from",
        ),
        (
            {**base, "changes": [{"measure_id": "US-122-GLOBAL-2026", "effective_until": "2020-01-01"}]},
            "scenario.changes[0].effective_until",
        ),
    ]
    for document, field in cases:
        with pytest.raises(InvalidArgumentError) as caught:
            policy_client.create_scenario(document)
        assert [v.field for v in caught.value.violations] == [field], caught.value.message


def test_deleting_a_base_of_another_scenario_is_refused(policy_client: ChokepointClient) -> None:
    policy_client.create_scenario({"name": "parent", "base": "current"})
    policy_client.create_scenario({"name": "child", "base": "parent"})
    with pytest.raises(FailedPreconditionError) as caught:
        policy_client.delete_scenario("parent")
    assert caught.value.reason == "SCENARIO_IN_USE"
    with pytest.raises(ClientError) as duplicate:
        policy_client.create_scenario({"name": "child", "base": "current"})
    assert duplicate.value.code == grpc.StatusCode.ALREADY_EXISTS


def test_list_measures_filters_and_pages(policy_client: ChokepointClient) -> None:
    mofcom = list(policy_client.list_measures(control_authority="CN_MOFCOM"))
    assert mofcom
    assert {m.kind for m in mofcom} == {"export_control"}
    assert all(m.country == "CN" and m.source for m in mofcom)
    in_force = {m.measure_id for m in policy_client.list_measures(country="US", in_force_on="2019-06-01")}
    assert {"US-MFN-2017", "US-301-LIST2"} <= in_force
    assert "US-122-GLOBAL-2026" not in in_force
    semis = {m.measure_id for m in policy_client.list_measures(hs_prefix="8542", tariff_authority="SECTION_301")}
    assert "US-301-SEMI-2025" in semis
    everything = [m.measure_id for m in policy_client.list_measures()]
    assert everything == sorted(everything)
    assert len(everything) == len(set(everything))


def test_list_measures_and_scenarios_cross_pages_of_five(serve: ServeFactory) -> None:
    server = serve()
    with server.client() as client:
        client.create_scenario({"name": "extra-a", "base": "current"})
        client.create_scenario({"name": "extra-b", "base": "current"})
        all_measures = [m.measure_id for m in client.list_measures()]
        all_scenarios = [s.name for s in client.list_scenarios()]
    with grpc.insecure_channel(server.address) as channel:
        stub = policy_pb2_grpc.PolicyServiceStub(channel)
        measure_pages: list[list[str]] = []
        request = policy_pb2.ListMeasuresRequest(page_size=5)
        while True:
            response = stub.ListMeasures(request)
            measure_pages.append([m.tariff.measure_id or m.export_control.measure_id for m in response.measures])
            assert response.total_size == len(all_measures)
            if not response.next_page_token:
                break
            request.page_token = response.next_page_token
        scenario_pages: list[list[str]] = []
        scenarios_request = policy_pb2.ListScenariosRequest(page_size=5)
        while True:
            scenarios_response = stub.ListScenarios(scenarios_request)
            scenario_pages.append([scenario.name for scenario in scenarios_response.scenarios])
            if not scenarios_response.next_page_token:
                break
            scenarios_request.page_token = scenarios_response.next_page_token
    assert len(measure_pages) == -(-len(all_measures) // 5) > 1
    assert all(len(page) == 5 for page in measure_pages[:-1])
    assert 0 < len(measure_pages[-1]) <= 5
    assert [measure for page in measure_pages for measure in page] == all_measures  # no gap, no repeat
    assert [len(page) for page in scenario_pages] == [5, len(all_scenarios) - 5]
    assert [name for page in scenario_pages for name in page] == all_scenarios == sorted(all_scenarios)
    assert {"extra-a", "extra-b", "current"} <= set(all_scenarios)


def test_evaluate_link_errors_name_the_field(policy_client: ChokepointClient) -> None:
    cases = [
        ({"hs_code": "", "origin_country": "CN", "buyer_country": "US"}, "hs_code"),
        ({"hs_code": "85x", "origin_country": "CN", "buyer_country": "US"}, "hs_code"),
        ({"hs_code": "8542", "origin_country": "China", "buyer_country": "US"}, "origin_country"),
        ({"hs_code": "8542", "origin_country": "CN", "buyer_country": "US", "route": ("CN", "??")}, "route[1]"),
        ({"hs_code": "8542", "origin_country": "CN", "buyer_country": "US", "as_of": "2025-02-30"}, "as_of_date"),
        (
            {"hs_code": "8542", "origin_country": "CN", "buyer_country": "US", "buyer_lists": ("bad list",)},
            "buyer_lists[0]",
        ),
    ]
    for kwargs, field in cases:
        with pytest.raises(InvalidArgumentError) as caught:
            policy_client.evaluate_link(**kwargs)  # type: ignore[arg-type]
        assert [v.field for v in caught.value.violations] == [field]
    with pytest.raises(NotFoundError) as unknown:
        policy_client.evaluate_link(hs_code="8542", origin_country="CN", buyer_country="US", scenario="nope")
    assert unknown.value.reason == "SCENARIO_NOT_FOUND"


def test_a_retried_scenario_write_with_its_request_id_applies_once(policy_client: ChokepointClient) -> None:
    scenario = {"name": "retried", "base": "current", "description": "created once"}
    created = policy_client.create_scenario(scenario, request_id="create-1")
    again = policy_client.create_scenario(scenario, request_id="create-1")  # no ALREADY_EXISTS: the same answer
    assert again.policy_version == created.policy_version
    updated = policy_client.update_scenario({**scenario, "description": "v2"}, request_id="update-1")
    assert policy_client.update_scenario({**scenario, "description": "v2"}, request_id="update-1") == updated
    deleted = policy_client.delete_scenario("retried", request_id="delete-1")
    assert policy_client.delete_scenario("retried", request_id="delete-1") == deleted  # not NOT_FOUND
    assert "retried" not in {s.name for s in policy_client.list_scenarios()}
    with pytest.raises(InvalidArgumentError) as refused:
        policy_client.delete_scenario("retried", request_id="create-1")
    assert refused.value.reason == "REQUEST_ID_REUSED"
    assert "CreateScenario" in refused.value.message
