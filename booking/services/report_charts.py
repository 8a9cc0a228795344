"""The report's charts as inline SVG, drawn on the server with pygal.

pygal's SVG carries its own ``<style>``, a ``<script>`` for tooltips and ``style``
attributes; a strict Content-Security-Policy would block all three in a page. They are
taken out here, and ``static/css/reports.css`` styles the classes pygal leaves (its
``color-N`` series, ``axis``, ``guide``, ``value``...). Values are printed on the bars, so
nothing needs a pointer, and the charts print as they show.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import pygal
from flask_babel import gettext as _
from pygal.style import Style

from booking.services.reports import MANUAL, Report
from booking.timeutil import to_local

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

WIDTH = 720
BAR_HEIGHT = 34  # px per bar (or group of bars) of a horizontal chart
MIN_HEIGHT = 180
# Font sizes pygal lays the chart out with; static/css/reports.css draws with the same.
STYLE = Style(
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=12,
    legend_font_size=13,
    title_font_size=15,
)


@dataclass(frozen=True)
class Series:
    """One series of a chart: its name and one value per label."""

    name: str
    values: Sequence[float]


def _clean(svg: str, title: str) -> str:
    """pygal's SVG without style, script, ids or tooltips, labelled as an image."""
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            classes = (child.get("class") or "").split()
            if tag in ("defs", "style", "script") or "tooltip-overlay" in classes:
                parent.remove(child)
    for element in root.iter():
        for attribute in ("id", "style"):
            element.attrib.pop(attribute, None)
    root.set("role", "img")
    root.set("aria-label", title)
    root.set("class", "pygal-chart report-chart")
    return ET.tostring(root, encoding="unicode")


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "",
    percent: bool = False,
) -> str:
    """A horizontal bar chart, one bar per label and series, values printed on the bars.

    Args:
        title: the chart's title, also its accessible name.
        labels: the name of each bar (or group of bars), top to bottom.
        series: the values; a legend is shown when there are several.
        unit: appended to each printed value (" km").
        percent: values are fractions, printed as percentages.
    """

    def formatter(value: float) -> str:
        if percent:
            return f"{value * 100:.0f} %"
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
        return text + unit

    chart = pygal.HorizontalBar(
        js=[],
        disable_xml_declaration=True,
        no_prefix=True,
        style=STYLE,
        width=WIDTH,
        height=max(MIN_HEIGHT, 90 + BAR_HEIGHT * len(labels) * max(1, len(series))),
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        print_values=True,
        print_values_position="top",
        # The values are printed on the bars: the value axis would repeat them.
        show_x_labels=False,
        value_formatter=formatter,
        truncate_label=40,
        margin=10,
    )
    chart.title = title
    # pygal draws the first label at the bottom of a horizontal chart: reverse, so that
    # the chart reads top to bottom in the order given.
    chart.x_labels = list(reversed(labels))
    for one in series:
        chart.add(one.name, list(reversed([float(v) for v in one.values])))
    if percent:
        chart.range = (0, max(1.0, *(float(v) for s in series for v in s.values)))
    return _clean(str(chart.render(is_unicode=True)), title)


def refusal_labels() -> dict[str, str]:
    """The words of each refusal reason key of a report, in the current language."""
    return {
        "NO_SUCH_EQUIPMENT": _("No such equipment"),
        "EXCEEDS_STOCK": _("More than the whole stock"),
        "OUTSIDE_HORIZON": _("Outside the planning period"),
        "MAINTENANCE": _("Equipment in maintenance"),
        "BUSY": _("Equipment already lent"),
        "TRAVEL": _("No time to bring it"),
        "COMBINATION": _("Never all free together"),
        "LOWER_PRIORITY_TRADEOFF": _("Gave way to higher priorities"),
        "NOT_SELECTED": _("Left out by the optimiser"),
        MANUAL: _("Declined by the fleet manager"),
    }


def report_charts(report: Report) -> list[str]:
    """The charts of ``report`` that have something to show, as inline SVG."""
    charts = [
        bar_chart(
            _("Requests"),
            [_("Requests made"), _("Served"), _("Refused"), _("Cancelled"), _("Pending")],
            [
                Series(
                    _("Requests"),
                    [report.made, report.served, report.refused, report.cancelled, report.pending],
                )
            ],
        )
    ]
    if report.refusals:
        words = refusal_labels()
        charts.append(
            bar_chart(
                _("Refusals by reason"),
                [words.get(r.key, r.key) for r in report.refusals],
                [Series(_("Refused"), [r.count for r in report.refusals])],
            )
        )
    used = [t for t in report.types if t.days_used]
    if used:
        charts.append(
            bar_chart(
                _("Days of use per type"),
                [t.type.name for t in used],
                [Series(_("Days"), [t.days_used for t in used])],
            )
        )
    lendable = [t for t in report.types if t.occupancy is not None]
    if used and lendable:
        charts.append(
            bar_chart(
                _("Occupancy of the fleet"),
                [t.type.name for t in lendable],
                [Series(_("Occupancy"), [t.occupancy or 0.0 for t in lendable])],
                percent=True,
            )
        )
    if report.plans:
        names = [
            _("Plan %(id)d of %(day)s", id=p.plan_id, day=to_local(p.approved_at).date())
            for p in report.plans
        ]
        charts.append(
            bar_chart(
                _("Requests served: the plan against first come, first served"),
                names,
                [
                    Series(_("Plan"), [p.served for p in report.plans]),
                    Series(_("First come, first served"), [p.fcfs_served for p in report.plans]),
                ],
            )
        )
        charts.append(
            bar_chart(
                _("km: the plan against first come, first served"),
                names,
                [
                    Series(_("Plan"), [p.km for p in report.plans]),
                    Series(_("First come, first served"), [p.fcfs_km for p in report.plans]),
                ],
                unit=" km",
            )
        )
    return charts
