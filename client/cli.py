"""`chokepoint`: the command line over the client. Tables for people, `--json` for machines, one-line errors.

Exit codes: 0 success; 1 the service refused or failed the call; 2 bad usage, or a file that cannot be read or
written; 3 the service is unreachable (docs/cli.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

import grpc
import polars as pl
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from client.client import ChokepointClient, LinkEvaluation, SupplyLink
from client.credentials import tls_credentials
from client.errors import ClientError, UnavailableError

DEFAULT_ADDRESS = "127.0.0.1:50051"
EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Piped output is not cut to a terminal's width.
    out = Console(width=None if sys.stdout.isatty() else 200)
    try:
        credentials = _channel_credentials(args)
        with ChokepointClient(
            args.address, timeout=args.timeout, credentials=credentials, token=args.token or None
        ) as client:
            result = args.run(client, args)
    except UnavailableError as error:
        print(f"error: cannot reach the service at {args.address}: {error.message}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ClientError as error:
        print(f"error: {error.message}", file=sys.stderr)
        for violation in error.violations[1:]:
            print(f"  {violation.description}", file=sys.stderr)
        if error.code is grpc.StatusCode.UNAUTHENTICATED:
            print("  pass a token with --token or CHOKEPOINT_TOKEN (docs/security.md)", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # a file that cannot be read or written: the user's to fix, so no traceback
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.json:
            print(json.dumps(_plain(result), indent=2, sort_keys=True))
        else:
            _show(out, result)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`| head`): its choice, not an error to trace back
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush does not fail again
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chokepoint", description="Query the Chokepoint exposure service.")
    parser.add_argument("--address", default=DEFAULT_ADDRESS, help=f"service host:port (default {DEFAULT_ADDRESS})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--scenario", default="", help="policy scenario (default: current)")
    parser.add_argument("--as-of", default="", help="evaluation date YYYY-MM-DD (default: today)")
    security = parser.add_argument_group("security (docs/security.md)")
    security.add_argument(
        "--token", default=os.environ.get("CHOKEPOINT_TOKEN", ""), help="bearer token [CHOKEPOINT_TOKEN]"
    )
    for flag, variable, text in (
        ("--tls-ca", "CHOKEPOINT_TLS_CA", "use TLS, trusting this CA certificate (PEM)"),
        ("--tls-cert", "CHOKEPOINT_TLS_CLIENT_CERT", "use TLS, presenting this client certificate (PEM)"),
        ("--tls-key", "CHOKEPOINT_TLS_CLIENT_KEY", "the client certificate's private key (PEM)"),
    ):
        security.add_argument(flag, type=Path, default=os.environ.get(variable) or None, help=f"{text} [{variable}]")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add_graph_commands(commands)
    _add_policy_commands(commands)
    _add_exposure_commands(commands)
    _add_batch_command(commands)
    return parser


def _channel_credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    """TLS when any TLS option is given (the system's roots when no CA is); plaintext otherwise."""
    if args.tls_ca is None and args.tls_cert is None and args.tls_key is None:
        return None
    return tls_credentials(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key)


def _add_batch_command(commands: Any) -> None:
    batch = commands.add_parser("batch", help="score a supplier list (CSV or Parquet) -> scored file + summary")
    batch.add_argument("input", type=Path)
    batch.add_argument("-o", "--output", type=Path, required=True, help="scored file (.csv or .parquet)")
    batch.add_argument("--buyer-country", default="", help="the buyer's country for rows without a buyer_country")
    batch.add_argument("--strict", action="store_true", help="refuse the whole list at the first bad row")
    batch.add_argument("--report", type=Path, help="also write a self-contained HTML summary with charts")
    batch.set_defaults(run=_run_batch)


def _run_explain(client: ChokepointClient, args: argparse.Namespace) -> Any:
    if args.out is not None:
        from client.files import check_destination

        check_destination(args.out, suffixes=(".svg", ".png"))
    explanation = client.explain_exposure(
        args.company_id,
        scenario=args.scenario,
        as_of=args.as_of,
        component=args.component,
        limit=args.limit,
        max_depth=args.depth,
        full=True,
    )
    if args.out is not None:
        from client.pictures import draw_paths

        draw_paths(asdict(explanation), args.company_id, args.out)
    return Report("explain", asdict(explanation))


def _run_batch(client: ChokepointClient, args: argparse.Namespace) -> Any:
    from client.files import check_destination, read_table, write_table
    from client.supplier_list import check_columns

    check_destination(args.output, suffixes=(".csv", ".parquet"))
    if args.report is not None:
        check_destination(args.report, suffixes=(".html", ".htm"))
    rows = read_table(args.input)
    check_columns(rows.columns, buyer_country=args.buyer_country, source=str(args.input))
    rows = rows.with_row_index("row", offset=1)
    with Progress(transient=True, disable=not sys.stderr.isatty(), console=Console(stderr=True)) as progress:
        task = progress.add_task("scoring", total=rows.height)
        result = client.score_supplier_list(
            rows,
            buyer_country=args.buyer_country,
            scenario=args.scenario,
            as_of=args.as_of,
            strict=args.strict,
            progress=lambda done: progress.advance(task, done),
        )
    scored = (
        rows.join(result.rows.with_columns(pl.col("row").cast(pl.UInt32)), on="row", how="left")
        if result.rows.height
        else rows
    )
    write_table(scored, args.output)
    if args.report is not None:
        from client.pictures import write_report

        write_report(
            asdict(result.summary),
            scored,
            args.report,
            title=f"Supplier list {args.input.name}",
        )
    for error in result.errors:
        print(f"refused: {error.message}", file=sys.stderr)
    return Report(
        "batch",
        {
            "output": str(args.output),
            **asdict(result.summary),
            "errors": [asdict(error) for error in result.errors],
            "context": asdict(result.context),
        },
    )


def _add_exposure_commands(commands: Any) -> None:
    score = commands.add_parser("score", help="all exposure components of one company")
    score.add_argument("company_id")
    score.add_argument("--material", action="append", default=[], help="look-through origins for (repeatable)")
    score.set_defaults(
        run=lambda client, args: Report(
            "score",
            asdict(
                client.score_company(
                    args.company_id, scenario=args.scenario, as_of=args.as_of, materials=tuple(args.material)
                )
            ),
        )
    )
    rank = commands.add_parser("rank", help="companies ordered by a component")
    rank.add_argument("--by", default="score", choices=("score", "disruption", "tariff_cost", "tariff_impact"))
    rank.add_argument("--country", default="")
    rank.add_argument("--tag", default="", help="only buyers of links with this tag")
    rank.add_argument("--limit", type=int, default=20)
    rank.set_defaults(
        run=lambda client, args: [
            {
                k: getattr(row, k)
                for k in ("company_id", "country", "score", "level", "disruption", "tariff_cost", "tariff_impact_usd")
            }
            for row in _first(
                client.rank_companies(
                    scenario=args.scenario, as_of=args.as_of, order_by=args.by, country=args.country, tag=args.tag
                ),
                args.limit,
            )
        ]
    )
    explain = commands.add_parser("explain", help="the upstream paths behind a company's exposure")
    explain.add_argument("company_id")
    explain.add_argument("--component", default="disruption", choices=("disruption", "tariff_cost"))
    explain.add_argument("--limit", type=int, default=5)
    explain.add_argument("--depth", type=int, default=6)
    explain.add_argument("--out", type=Path, help="also draw the paths as a tiered graph (.svg or .png)")
    explain.set_defaults(run=_run_explain)
    chokepoints = commands.add_parser("chokepoints", help="single points of failure upstream of a company")
    chokepoints.add_argument("company_id")
    chokepoints.add_argument("--material", default="")
    chokepoints.set_defaults(
        run=lambda client, args: Report(
            "chokepoints", asdict(client.find_chokepoints(args.company_id, material=args.material))
        )
    )
    compare = commands.add_parser("compare", help="per-company changes between two scenarios or dates")
    compare.add_argument("--baseline", default="", help="baseline scenario (default current)")
    compare.add_argument("--baseline-as-of", default="", help="baseline date (default today)")
    compare.add_argument("--limit", type=int, default=20)
    compare.set_defaults(
        run=lambda client, args: Report(
            "compare",
            asdict(
                client.compare_scenarios(
                    baseline_scenario=args.baseline,
                    baseline_as_of=args.baseline_as_of,
                    scenario=args.scenario,
                    as_of=args.as_of,
                    page_size=args.limit,
                    limit=args.limit,
                )
            ),
        )
    )


def _add_graph_commands(commands: Any) -> None:
    stats = commands.add_parser("stats", help="graph size, countries, lists, tags and version")
    stats.set_defaults(run=lambda client, _: client.graph_stats())

    company = commands.add_parser("company", help="one company")
    company.add_argument("company_id")
    company.set_defaults(run=lambda client, args: client.get_company(args.company_id))

    companies = commands.add_parser("companies", help="list companies")
    companies.add_argument("--country", default="")
    companies.add_argument("--list", dest="list_code", default="", help="only companies on this list")
    companies.add_argument("--limit", type=int, default=50)
    companies.set_defaults(
        run=lambda client, args: _first(
            client.list_companies(country=args.country, list_code=args.list_code), args.limit
        )
    )

    links = commands.add_parser("links", help="list supply links of a supplier and/or buyer")
    links.add_argument("--supplier", default="")
    links.add_argument("--buyer", default="")
    links.add_argument("--limit", type=int, default=50)
    links.set_defaults(
        run=lambda client, args: _first(
            client.list_supply_links(supplier_id=args.supplier, buyer_id=args.buyer), args.limit
        )
    )

    upload = commands.add_parser("import", help="upload a companies file and a links file (CSV or Parquet)")
    upload.add_argument("companies", type=Path, nargs="?")
    upload.add_argument("links", type=Path, nargs="?")
    upload.add_argument("--merge", action="store_true", help="upsert into the current graph instead of replacing it")
    upload.add_argument("--request-id", default="")
    upload.set_defaults(
        run=lambda client, args: client.import_graph(
            args.companies, args.links, merge=args.merge, request_id=args.request_id
        )
    )

    download = commands.add_parser("export", help="download the graph as companies and links files")
    download.add_argument("directory", type=Path)
    download.add_argument("--format", choices=("csv", "parquet"), default="csv")
    download.set_defaults(run=lambda client, args: client.export_graph(args.directory, fmt=args.format))


def _add_policy_commands(commands: Any) -> None:
    scenarios = commands.add_parser("scenarios", help="list, show, create, update or delete policy scenarios")
    actions = scenarios.add_subparsers(required=True, metavar="ACTION")
    actions.add_parser("list").set_defaults(run=lambda client, _: list(client.list_scenarios()))
    show = actions.add_parser("show", help="a scenario's own measures, as JSON (the file format)")
    show.add_argument("name")
    show.set_defaults(run=lambda client, args: client.get_scenario(args.name), json=True)
    for verb in ("create", "update"):
        action = actions.add_parser(verb, help=f"{verb} a user scenario from a JSON file (docs/policy.md)")
        action.add_argument("file", type=Path)
        action.set_defaults(run=lambda client, args, verb=verb: _send_scenario_file(client, verb, args.file))
    delete = actions.add_parser("delete")
    delete.add_argument("name")
    delete.set_defaults(run=lambda client, args: {"policy_version": client.delete_scenario(args.name)})

    measures = commands.add_parser("measures", help="list the measures of a scenario")
    measures.add_argument("--country", default="", help="importer or controlling country")
    measures.add_argument("--hs", default="", help="only measures covering this HS prefix")
    measures.add_argument("--in-force", action="store_true", help="only measures in force on --as-of (default today)")
    measures.add_argument("--tariff-authority", default="", help="e.g. SECTION_301")
    measures.add_argument("--control-authority", default="", help="e.g. CN_MOFCOM")
    measures.set_defaults(
        run=lambda client, args: list(
            client.list_measures(
                scenario=args.scenario,
                country=args.country,
                hs_prefix=args.hs,
                in_force_on=(args.as_of or date.today().isoformat()) if args.in_force else "",
                tariff_authority=args.tariff_authority,
                control_authority=args.control_authority,
            )
        )
    )

    evaluate = commands.add_parser("evaluate", help="measures, duty and control hazard for one hypothetical shipment")
    evaluate.add_argument("--hs", required=True, help="HS code, e.g. 8542.31")
    evaluate.add_argument("--origin", required=True, help="country of origin, e.g. CN")
    evaluate.add_argument("--to", dest="buyer_country", required=True, help="buyer's (importing) country")
    evaluate.add_argument("--from", dest="shipping_country", default="", help="shipping country (default: origin)")
    evaluate.add_argument("--route", default="", help="countries passed, e.g. CN>VN>US")
    evaluate.add_argument("--buyer-list", action="append", default=[], help="a list the buyer is on (repeatable)")
    evaluate.set_defaults(
        run=lambda client, args: client.evaluate_link(
            hs_code=args.hs,
            origin_country=args.origin,
            buyer_country=args.buyer_country,
            shipping_country=args.shipping_country,
            route=tuple(part for part in args.route.split(">") if part),
            buyer_lists=tuple(args.buyer_list),
            scenario=args.scenario,
            as_of=args.as_of,
        )
    )


def _send_scenario_file(client: ChokepointClient, verb: str, path: Path) -> Any:
    """Create or update from a file; the service's field errors are prefixed with the file's name."""
    try:
        return getattr(client, f"{verb}_scenario")(_read_json(path))
    except ClientError as error:
        error.message = f"{path.name}: {error.message}"
        raise


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        msg = f"{path}: {error.strerror}"
        raise ValueError(msg) from None
    except json.JSONDecodeError as error:
        msg = f"{path} line {error.lineno} column {error.colno}: {error.msg}"
        raise ValueError(msg) from None


@dataclass(frozen=True)
class Report:
    """A structured answer printed as a short report (or as its data with --json)."""

    kind: str
    data: dict[str, Any]


def _first(items: Iterable[Any], limit: int) -> list[Any]:
    return list(islice(items, limit))


def _plain(result: Any) -> Any:
    if isinstance(result, Report):
        return result.data
    if isinstance(result, list):
        return [_plain(item) for item in result]
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {key: _plain(value) for key, value in dataclasses.asdict(result).items()}
    if isinstance(result, Path):
        return str(result)
    if isinstance(result, tuple):
        return list(result)
    return result


def _show(out: Console, result: Any) -> None:
    rows = result if isinstance(result, list) else [result]
    if not rows:
        out.print("(none)")
        return
    if isinstance(result, LinkEvaluation):
        _show_evaluation(out, result)
        return
    if isinstance(result, Report):
        _show_report(out, result)
        return
    plain = [_link_view(row) if isinstance(row, SupplyLink) else _plain(row) for row in rows]
    if len(plain) == 1 and any(isinstance(value, dict) for value in plain[0].values()):
        _show_record(out, plain[0])
        return
    table = Table(show_edge=False, header_style="bold")
    for column in plain[0]:
        table.add_column(column, justify="right" if isinstance(plain[0][column], int | float) else "left")
    for row in plain:
        table.add_row(*(_cell(value) for value in row.values()))
    out.print(table)


def _link_view(link: SupplyLink) -> dict[str, Any]:
    """A link as people read it: the origin in effect, the route as `CN>VN>US`, user and derived tags together."""
    return {
        "supplier_id": link.supplier_id,
        "buyer_id": link.buyer_id,
        "hs_code": link.hs_code,
        "annual_value_usd": link.annual_value_usd,
        "origin": link.effective_origin_country,
        "route": ">".join(link.route),
        "tags": ";".join(sorted({*link.tags, *link.derived_tags})),
    }


def _show_report(out: Console, report: Report) -> None:
    data = report.data
    if report.kind == "score":
        score = data["score"]
        out.print(
            f"[bold]{score['company_id']}[/bold] ({score['country']}): score {score['score']:.1f} {score['level']} | "
            f"disruption {score['disruption']:.3f} (tier 1 {score['disruption_tier1']:.3f}, tier 2 "
            f"{score['disruption_tier2']:.3f}, tier 3+ {score['disruption_tier3_plus']:.3f}) | tariff cost "
            f"{score['tariff_cost']:.2%} = ${score['tariff_impact_usd']:,.0f} a year"
        )
        for name in ("disruption_by_material", "disruption_by_country"):
            items = ", ".join(f"{key} {value:.3f}" for key, value in score[name].items())
            out.print(f"{name}: {items or '-'}")
        for origin in data.get("origins", []):
            face = ", ".join(f"{key} {value:.0%}" for key, value in list(origin["face_value"].items())[:5])
            look = ", ".join(f"{key} {value:.0%}" for key, value in list(origin["look_through"].items())[:5])
            out.print(
                f"{origin['material']}: face value {face} (HHI {origin['face_value_hhi']:.2f}); "
                f"look-through {look} (HHI {origin['look_through_hhi']:.2f})"
            )
    elif report.kind == "explain":
        out.print(
            f"total {data['total']:.4f}, the {len(data.get('paths', []))} paths below explain {data['explained']:.4f}"
        )
        for path in data.get("paths", []):
            hops = " <- ".join([path["links"][0]["buyer_id"], *[link["supplier_id"] for link in path["links"]]])
            last = path["links"][-1]
            measure = (last["control"] or {}).get("measure_id") or ",".join(
                t["measure_id"] for t in last.get("tariffs", [])
            )
            out.print(
                f"{path['contribution']:.4f}  {hops}  "
                f"(hs {last['hs_code']}, hazard {last['hazard']:.2f}, duty {last['tariff_rate']:.2%}; {measure})"
            )
    elif report.kind == "chokepoints":
        dominators = ", ".join(d["company_id"] for d in data.get("dominators", []))
        out.print(f"all upstream supply passes through: {dominators or 'no single company'}")
        for item in data.get("pass_through", []):
            out.print(f"  {item['company_id']} ({item['country']}) {item['share']:.0%}")
        out.print("countries: " + ", ".join(f"{key} {value:.0%}" for key, value in data["countries"].items()))
    elif report.kind == "batch":
        out.print(
            f"{data.get('rows_scored', 0)} rows scored, {data.get('rows_refused', 0)} refused -> {data['output']}\n"
            f"spend ${data.get('total_spend_usd', 0):,.0f}: disruption {data.get('disruption', 0):.3f}, duty cost "
            f"{data.get('tariff_cost', 0):.2%} = ${data.get('tariff_impact_usd', 0):,.0f} a year, "
            f"China share {data.get('face_value_china_share', 0):.0%} face value, "
            f"{data.get('look_through_china_share', 0):.0%} look-through"
        )
        for name in ("spend_at_risk_by_material", "spend_at_risk_by_origin", "spend_at_risk_by_measure"):
            items = ", ".join(f"{key} ${value:,.0f}" for key, value in list(data[name].items())[:6])
            out.print(f"{name}: {items or '-'}")
    else:
        out.print(
            f"levels up {data['companies_level_up']}, down {data['companies_level_down']}; tariff impact change "
            f"${data['total_tariff_impact_change_usd']:,.0f} a year; {data['total_size']} companies changed"
        )
        for change in data.get("changes", []):
            out.print(
                f"  {change['company_id']}: {change['baseline_score']:.1f} {change['baseline_level']} -> "
                f"{change['score']:.1f} {change['level']} (disruption {change['disruption_change']:+.3f})"
            )


def _show_evaluation(out: Console, evaluation: LinkEvaluation) -> None:
    out.print(
        f"[bold]{evaluation.scenario}[/bold] as of {evaluation.as_of_date} (policy {evaluation.policy_version}): "
        f"duty {evaluation.tariff_rate_fraction:.2%}, control hazard {evaluation.hazard:.2f}"
        + (", transshipped" if evaluation.transshipment else "")
    )
    out.print(f"tags: {';'.join(evaluation.derived_tags) or '-'}")
    for heading, applied in (("tariffs", evaluation.tariffs), ("export controls", evaluation.export_controls)):
        table = Table(title=heading, show_edge=False, header_style="bold", title_justify="left")
        for column in ("measure_id", "basis", "rate/weight", "matched", "source"):
            table.add_column(column)
        for item in applied:
            table.add_row(item.measure_id, item.level, f"{item.value:.4g}", item.matched or "all goods", item.source)
        out.print(table if applied else f"{heading}: none")
    for measure_id, status in evaluation.inactive:
        out.print(f"not applied: {measure_id} ({status})")


def _show_record(out: Console, record: dict[str, Any]) -> None:
    for key, value in record.items():
        if isinstance(value, dict):
            counts = ", ".join(f"{name} {count}" for name, count in value.items())
            out.print(f"[bold]{key}[/bold]: {counts or '-'}")
        else:
            out.print(f"[bold]{key}[/bold]: {_cell(value)}")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 1000 else f"{value:,.2f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
