"""Pictures people would rather look at than read: exposure paths as a tiered graph, and a batch report page.

Drawn with NetworkX (layout) and Matplotlib (rendering, headless `Agg`); the report is one self-contained HTML file
with its charts inline as SVG.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI

import matplotlib.pyplot as plt
import networkx as nx

HAZARD_COLOURS = ((0.9, "#b2182b"), (0.4, "#ef8a62"), (0.0001, "#fddbc7"), (0.0, "#bababa"))


def draw_paths(explanation: dict[str, Any], company_id: str, out: Path) -> None:
    """The explained paths as a graph in tiers (the company at tier 0 on the right, suppliers leftwards); edge
    width follows each link's summed contribution, colour its hazard; labels give HS code, origin and route, hazard,
    duty, and the control and tariff measures behind them."""
    image_format = _format(out)
    graph = nx.DiGraph()
    graph.add_node(company_id, tier=0)
    for path in explanation.get("paths", []):
        for link in path["links"]:
            tier = int(link["tier"])
            for node, column in ((link["buyer_id"], 1 - tier), (link["supplier_id"], -tier)):
                if node not in graph:  # a company reached at several tiers stays where it was first seen
                    graph.add_node(node, tier=column)
            key = (link["supplier_id"], link["buyer_id"])
            previous = graph.edges[key]["contribution"] if graph.has_edge(*key) else 0.0
            graph.add_edge(
                *key,
                contribution=previous + float(path["contribution"]),
                hazard=float(link["hazard"]),
                label=_edge_label(link),
            )
    positions = nx.multipartite_layout(graph, subset_key="tier")
    width = max(8.0, 3.2 * len({data["tier"] for _, data in graph.nodes(data=True)}))
    figure, axes = plt.subplots(figsize=(width, max(5.0, 0.7 * graph.number_of_nodes())))
    top = max((data["contribution"] for *_, data in graph.edges(data=True)), default=1.0) or 1.0
    nx.draw_networkx_nodes(graph, positions, ax=axes, node_color="#d1e5f0", node_size=900)
    nx.draw_networkx_labels(graph, positions, ax=axes, font_size=7)
    nx.draw_networkx_edges(
        graph,
        positions,
        ax=axes,
        width=[0.8 + 5 * data["contribution"] / top for *_, data in graph.edges(data=True)],
        edge_color=[_hazard_colour(data["hazard"]) for *_, data in graph.edges(data=True)],
        arrows=True,
        arrowsize=12,
        node_size=900,
    )
    nx.draw_networkx_edge_labels(
        graph, positions, ax=axes, font_size=6, edge_labels={(u, v): d["label"] for u, v, d in graph.edges(data=True)}
    )
    axes.set_title(
        f"{company_id}: top {len(explanation.get('paths', []))} exposure paths "
        f"(explaining {float(explanation.get('explained', 0)):.3f} of {float(explanation.get('total', 0)):.3f})"
    )
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(out, format=image_format)
    plt.close(figure)


def write_report(summary: dict[str, Any], rows: Any, out: Path, *, title: str) -> None:
    """A self-contained HTML page: the portfolio's totals and bar charts of spend at risk."""
    charts = [
        _bar_chart(summary.get(key, {}), heading)
        for key, heading in (
            ("spend_at_risk_by_material", "Spend at risk by material (USD a year)"),
            ("spend_at_risk_by_origin", "Spend at risk by origin country"),
            ("spend_at_risk_by_measure", "Spend at risk by export control"),
        )
        if summary.get(key)
    ]
    totals = [
        ("rows scored", summary.get("rows_scored", 0)),
        ("rows refused", summary.get("rows_refused", 0)),
        ("total spend (USD)", f"{float(summary.get('total_spend_usd', 0)):,.0f}"),
        ("disruption X", f"{float(summary.get('disruption', 0)):.3f}"),
        ("duty cost C", f"{float(summary.get('tariff_cost', 0)):.2%}"),
        ("duty impact (USD a year)", f"{float(summary.get('tariff_impact_usd', 0)):,.0f}"),
        ("China share, face value", f"{float(summary.get('face_value_china_share', 0)):.0%}"),
        ("China share, look-through", f"{float(summary.get('look_through_china_share', 0)):.0%}"),
    ]
    exposed = rows.sort("export_control_exposure", descending=True, nulls_last=True).head(20) if rows.height else rows
    columns = [
        c
        for c in (
            "row",
            "supplier_id",
            "supplier_name",
            "hs_code",
            "annual_spend_usd",
            "export_control_exposure",
            "tariff_rate",
            "top_control_id",
        )
        if c in exposed.columns
    ]
    table_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
        for row in exposed.select(columns).iter_rows()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}th{{background:#eee}}</style></head>
<body><h1>{html.escape(title)}</h1>
<table>{"".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in totals)}</table>
{"".join(charts)}
<h2>Most exposed rows</h2>
<table><tr>{"".join(f"<th>{html.escape(c)}</th>" for c in columns)}</tr>{table_rows}</table>
</body></html>
"""
    out.write_text(page, encoding="utf-8")


def _bar_chart(items: dict[str, float], heading: str) -> str:
    top = list(items.items())[:12][::-1]  # largest at the top of a horizontal bar chart
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(top) + 1.2))
    axes.barh([key for key, _ in top], [value for _, value in top], color="#ef8a62")
    axes.set_title(heading)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return f"<h2>{html.escape(heading)}</h2>\n" + svg[svg.index("<svg") :]


def _edge_label(link: dict[str, Any]) -> str:
    """`8505.11 from CN via CN>VN>US` / `h=1.00 duty=25%` / the control, then the tariffs, two ids a line."""
    route = ">".join(link.get("route") or ())
    where = f"{link['hs_code']} from {link['origin_country'] or '?'}" + (f" via {route}" if route else "")
    control = (link.get("control") or {}).get("measure_id")
    measures = [f"control {control}"] if control else []
    measures += [tariff["measure_id"] for tariff in link.get("tariffs", [])]
    lines = [where, f"h={float(link['hazard']):.2f} duty={float(link['tariff_rate']):.0%}"]
    lines += [", ".join(measures[i : i + 2]) for i in range(0, len(measures), 2)]
    return "\n".join(lines)


def _hazard_colour(hazard: float) -> str:
    return next(colour for threshold, colour in HAZARD_COLOURS if hazard >= threshold)


def _format(out: Path) -> str:
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png"):
        msg = f"{out}: the picture name must end in .svg or .png"
        raise ValueError(msg)
    return suffix


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    return "" if value is None else str(value)
