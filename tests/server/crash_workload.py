"""A seeded stream of writes for the crash tests, and the state the server must hold after each of them.

Every write is generated from a `random.Random` and the expected state so far; `Expected` is what an acknowledged
write leaves behind, so after a crash the server's state must equal the expected state, or the expected state
with the one write that was in flight applied whole.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from client.client import ChokepointClient, Company, SupplyLink

COMPANY_IDS = tuple(f"C{n:02d}" for n in range(40))
COUNTRIES = ("US", "CN", "DE", "JP", "VN", "TW", "KR")
HS_CODES = ("850511", "284690", "854231", "811292", "850132", "848620")
SCENARIO_NAMES = tuple(f"crash-{n}" for n in range(4))
LINK_BATCH = 50
SCORE_DAY = "2026-01-15"

LinkKey = tuple[str, str, str]


@dataclass(frozen=True)
class Expected:
    """The graph and user scenarios as the acknowledged writes left them."""

    companies: dict[str, Company] = field(default_factory=dict)
    links: dict[LinkKey, SupplyLink] = field(default_factory=dict)
    scenarios: dict[str, tuple[str, float]] = field(default_factory=dict)  # name -> (description, rate)


@dataclass(frozen=True)
class Write:
    """One write: what it sends, and what it does to the expected state if applied."""

    kind: str
    request_id: str
    send: Callable[[ChokepointClient], int]  # the acknowledged graph version (policy revision for scenario writes)
    apply: Callable[[Expected], Expected]

    @property
    def moves_graph_version(self) -> bool:
        return self.kind != "scenario"


def next_write(rng: random.Random, expected: Expected, *, serial: int, files: Path) -> Write:
    """A random write that is valid against `expected` (so it can only fail because the server died)."""
    choices = ["companies", "scenario"]
    if len(expected.companies) >= 4:
        choices += ["links", "links", "import"]
    if expected.links:
        choices.append("delete")
    kind = rng.choice(choices)
    request_id = f"w{serial}-{rng.getrandbits(32):08x}"
    if kind == "companies":
        return _upsert_companies(rng, request_id)
    if kind == "links":
        return _upsert_links(rng, expected, request_id)
    if kind == "delete":
        return _delete_link(rng, expected, request_id)
    if kind == "import":
        return _import_merge(rng, expected, request_id, files / request_id)
    return _scenario_write(rng, expected, request_id)


def bootstrap_write(rng: random.Random) -> Write:
    """Enough companies that every kind of write is possible from the first kill on."""
    companies = [_company(rng, company_id) for company_id in COMPANY_IDS[:8]]
    return _companies_write(companies, "bootstrap")


def _company(rng: random.Random, company_id: str) -> Company:
    lists = ("US_ENTITY_LIST",) if rng.random() < 0.2 else ()
    return Company(company_id, f"{company_id} Works {rng.randrange(10**6)}", rng.choice(COUNTRIES), lists)


def _companies_write(companies: list[Company], request_id: str) -> Write:
    def apply(state: Expected) -> Expected:
        return replace(state, companies={**state.companies, **{c.company_id: c for c in companies}})

    def send(client: ChokepointClient) -> int:
        return client.upsert_companies(companies, request_id=request_id).graph_version

    return Write("companies", request_id, send, apply)


def _upsert_companies(rng: random.Random, request_id: str) -> Write:
    ids = rng.sample(COMPANY_IDS, rng.randint(1, 8))
    return _companies_write([_company(rng, company_id) for company_id in ids], request_id)


def _random_links(rng: random.Random, company_ids: list[str], count: int) -> list[SupplyLink]:
    links: dict[LinkKey, SupplyLink] = {}
    while len(links) < count:
        supplier, buyer = rng.sample(company_ids, 2)
        hs_code = rng.choice(HS_CODES)
        origin = rng.choice(("", "", *COUNTRIES))
        # Quarter dollars are exact in binary floating point, so values compare exactly after any round trip.
        links[(supplier, buyer, hs_code)] = SupplyLink(supplier, buyer, hs_code, rng.randint(1, 4 * 10**7) / 4, origin)
    return list(links.values())


def _links_apply(links: list[SupplyLink]) -> Callable[[Expected], Expected]:
    def apply(state: Expected) -> Expected:
        return replace(state, links={**state.links, **{key_of(link): link for link in links}})

    return apply


def _upsert_links(rng: random.Random, expected: Expected, request_id: str) -> Write:
    links = _random_links(rng, sorted(expected.companies), LINK_BATCH)

    def send(client: ChokepointClient) -> int:
        return client.upsert_supply_links(links, request_id=request_id).graph_version

    return Write("links", request_id, send, _links_apply(links))


def _delete_link(rng: random.Random, expected: Expected, request_id: str) -> Write:
    key = rng.choice(sorted(expected.links))

    def apply(state: Expected) -> Expected:
        return replace(state, links={k: v for k, v in state.links.items() if k != key})

    def send(client: ChokepointClient) -> int:
        return client.delete_supply_link(*key, request_id=request_id).graph_version

    return Write("delete", request_id, send, apply)


def _import_merge(rng: random.Random, expected: Expected, request_id: str, directory: Path) -> Write:
    """A MERGE import of a small companies file and a links file that uses the new companies too."""
    companies = [_company(rng, company_id) for company_id in rng.sample(COMPANY_IDS, 3)]
    links = _random_links(rng, sorted({*expected.companies, *(c.company_id for c in companies)}), 10)
    directory.mkdir(parents=True)
    companies_csv = "company_id,name,country,lists\n" + "".join(
        f"{c.company_id},{c.name},{c.country},{';'.join(c.lists)}\n" for c in companies
    )
    links_csv = "supplier_id,buyer_id,hs_code,annual_value_usd,origin_country\n" + "".join(
        f"{link.supplier_id},{link.buyer_id},{link.hs_code},{link.annual_value_usd!r},{link.origin_country}\n"
        for link in links
    )
    (directory / "companies.csv").write_text(companies_csv)
    (directory / "links.csv").write_text(links_csv)
    upsert_companies = _companies_write(companies, request_id).apply
    upsert_links = _links_apply(links)

    def send(client: ChokepointClient) -> int:
        return client.import_graph(
            directory / "companies.csv", directory / "links.csv", merge=True, request_id=request_id
        ).graph_version

    return Write("import", request_id, send, lambda state: upsert_links(upsert_companies(state)))


def scenario_document(name: str, description: str, rate: float) -> dict[str, object]:
    return {
        "name": name,
        "base": "current",
        "description": description,
        "tariffs": [
            {
                "measure_id": f"{name.upper()}-DUTY",
                "title": "a crash-test duty",
                "authority": "OTHER",
                "program": "CRASH",
                "importer": "US",
                "origins": ["CN"],
                "hs_prefixes": ["85"],
                "rate_fraction": rate,
                "effective_from": "2018-01-01",
                "source": "crash test",
            }
        ],
    }


def _scenario_write(rng: random.Random, expected: Expected, request_id: str) -> Write:
    name = rng.choice(SCENARIO_NAMES)
    description, rate = f"revision {rng.randrange(10**6)}", rng.randint(1, 64) / 64
    exists = name in expected.scenarios

    def apply(state: Expected) -> Expected:
        return replace(state, scenarios={**state.scenarios, name: (description, rate)})

    def send(client: ChokepointClient) -> int:
        document = scenario_document(name, description, rate)
        summary = (client.update_scenario if exists else client.create_scenario)(document, request_id=request_id)
        return int(summary.policy_version.rsplit(".", 1)[1])

    return Write("scenario", request_id, send, apply)


def key_of(link: SupplyLink) -> LinkKey:
    return (link.supplier_id, link.buyer_id, link.hs_code)


def read_state(client: ChokepointClient) -> Expected:
    """What the server holds, in the form of `Expected` (only the fields the workload writes)."""
    companies = {c.company_id: c for c in client.list_companies(page_size=1000)}
    links = {
        key_of(link): SupplyLink(
            link.supplier_id, link.buyer_id, link.hs_code, link.annual_value_usd, link.origin_country
        )
        for link in client.list_supply_links(page_size=1000)
    }
    scenarios: dict[str, tuple[str, float]] = {}
    for summary in client.list_scenarios():
        if summary.built_in:
            continue
        document = client.get_scenario(summary.name)
        (duty,) = document["tariffs"]
        (line,) = duty["lines"]
        scenarios[summary.name] = (document["description"], line["rate_fraction"])
    return Expected(companies, links, scenarios)


def policy_revision(client: ChokepointClient) -> int:
    """The user-scenario revision: the `<n>` of the policy version `<library hash>.<n>`."""
    version = next(client.list_scenarios()).policy_version
    return int(version.rsplit(".", 1)[1])


def score_digest(client: ChokepointClient, scenarios: list[str]) -> str:
    """A hash of the whole score table (every company, every component) under `current` and the user scenarios."""
    digest = hashlib.sha256()
    for scenario in ["", *sorted(scenarios)]:
        rows = sorted(
            repr(score) for score in client.rank_companies(scenario=scenario, as_of=SCORE_DAY, page_size=1000)
        )
        digest.update(f"{scenario}:{len(rows)}\n".encode())
        digest.update("\n".join(rows).encode())
    return digest.hexdigest()
