"""Generate the suite's Grafana dashboards (dashboards as code, with grafana-foundation-sdk).

    .venv/bin/python deploy/grafana/generate.py           # rewrite deploy/grafana/dashboards/*.json
    .venv/bin/python deploy/grafana/generate.py --check   # exit 1 if the committed JSON is out of date

The JSON is committed because Grafana provisions it from disk (docker-compose mounts the folder); this
file is the source, the JSON is its output. Street, channel and category lists come from the project's
reference data, so a new street appears in the dashboards on the next generation. Every panel query is
evaluated against a live Prometheus by tests/deploy/test_live_prometheus.py.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from shared.contracts.reference import CATEGORIES, DEPARTMENTS, STREETS
from shared.contracts.vocabulary import CHANNELS

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
SLA_UID = "yangpu-sla-overview"
PIPELINE_UID = "yangpu-pipeline"
TARGET = 0.9

_CHANNEL_LABELS = {
    "grid": "网格 grid", "hotline_12345": "12345 热线 hotline", "online_helpdesk": "在线帮办 online help desk",
    "fallback_window": "办不成事窗口 fallback window", "walk_in": "窗口来访 walk-in",
}
CHANNEL_NAMES = {code: _CHANNEL_LABELS.get(code, code) for code in CHANNELS}
STREET_NAMES = {code: street.name_zh for code, street in STREETS.items()}
CATEGORY_NAMES = {code: category.name_zh for code, category in CATEGORIES.items()}
# Department clocks' holder groups: the departments, and the street's own officers ("street").
DEPARTMENT_NAMES = {"street": "街道 street officers", **{code: d.name_zh for code, d in DEPARTMENTS.items()}}
HOLDER = "yangpu_sla_holder_business_seconds"
SECONDS_PER_WORKING_DAY = 28_800

# Label filters driven by the SLA dashboard's variables. Metrics without a category label (met clocks,
# warnings) cannot honour the category variable; their panels say so.
F_STREET = 'street=~"$street"'
F_SC = 'street=~"$street", channel=~"$channel"'
F_SCC = 'street=~"$street", channel=~"$channel", category=~"$category"'
F_SERVICE = 'service=~"$service"'
MET = "yangpu_sla_clocks_met_total"
BREACHED = "yangpu_sla_clocks_breached_total"
RESOLUTIONS = "yangpu_sla_resolutions_total"
HTTP = "yangpu_http_request_duration_seconds"
# Prometheus' own scrapes and the probes would drown the API's traffic in the HTTP panels.
NOT_PROBES = 'route!~"/metrics|/healthz|/readyz"'


# --- small helpers over the SDK's builders --------------------------------------------------------------


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False, table_format: bool = False) -> Dataquery:
    """A Prometheus query; instant for single figures (stat, bar gauge, table), range for graphs."""
    q = Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant()
    else:
        q = q.range()
    if table_format:
        q = q.format(PromQueryFormat.TABLE)
    return q


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(
        [model.Threshold(value=value, color=color) for value, color in steps])


TARGET_STEPS = ((None, "red"), (TARGET, "green"))


def display_names(panel: Any, names: dict[str, str]) -> Any:
    """Show reference codes (legend ``{{street}}``) as their Chinese names."""
    for code, name in names.items():
        panel = panel.override_by_name(code, [model.DynamicConfigValue(id_val="displayName", value=name)])
    return panel


def stat_panel(title: str, description: str, expr: str, unit: str, steps: tuple, width: int = 6) -> stat.Panel:
    """One big figure, its background coloured by the thresholds."""
    return (stat.Panel().title(title).description(description).datasource(DATASOURCE)
            .with_target(query(expr, instant=True))
            .unit(unit).decimals(1 if unit == "percentunit" else 0).thresholds(thresholds(*steps))
            .color_mode(common.BigValueColorMode.BACKGROUND).graph_mode(common.BigValueGraphMode.NONE)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
            .height(5).span(width))


def bar_panel(title: str, description: str, expr: str, legend: str, unit: str = "short",
              steps: tuple = ((None, "green"),), names: dict[str, str] | None = None, width: int = 8) -> Any:
    """One horizontal bar per series (a street, a category), for comparing them at a glance."""
    panel = (bargauge.Panel().title(title).description(description).datasource(DATASOURCE)
             .with_target(query(expr, legend=legend, instant=True))
             .unit(unit).min(0).thresholds(thresholds(*steps))
             .orientation(common.VizOrientation.HORIZONTAL).display_mode(common.BarGaugeDisplayMode.BASIC)
             .show_unfilled(True)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
             .height(9).span(width))
    return display_names(panel, names or {})


def ts_panel(title: str, description: str, targets: list[Dataquery], unit: str = "short",
             width: int = 12, bars: bool = False, target_line: bool = False) -> timeseries.Panel:
    """A graph over time; ``target_line`` draws the 90% target dashed on a 0-100% axis."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(targets).unit(unit).height(8).span(width)
             .legend(common_builders.VizLegendOptions().show_legend(True)
                     .display_mode(common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM)))
    if bars:
        panel = (panel.draw_style(common.GraphDrawStyle.BARS).fill_opacity(80)
                 .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL)))
    if target_line:
        panel = (panel.min(0).max(1).thresholds(thresholds(*TARGET_STEPS))
                 .thresholds_style(common_builders.GraphThresholdsStyleConfig()
                                   .mode(common.GraphThresholdsStyleMode.DASHED)))
    return panel


# The windows of the recorded ratios (deploy/prometheus/rules/sla.rules.yml): query ref, rule suffix, label.
WINDOWS = (("A", "1d", "1 day"), ("B", "7d", "7 days"), ("C", "30d", "30 days"))


def ratio_table(title: str, description: str, metric: str) -> table.Panel:
    """One row per street, one column per window (1, 7, 30 days), coloured against the 90% target."""
    # `max by (street)` drops the metric name, which differs per window and would keep the rows apart.
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets([query(f"max by (street) (street:{metric}:ratio{w}{{{F_STREET}}})", ref=ref, instant=True,
                             table_format=True) for ref, w, _ in WINDOWS])
             .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(model.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True},
                 "renameByName": {"street": "Street 街道", **{f"Value #{ref}": text for ref, _, text in WINDOWS}},
             }))
             .unit("percentunit").decimals(1).thresholds(thresholds(*TARGET_STEPS))
             .cell_options(common.TableColorTextCellOptions())
             .mappings([model.ValueMap(options={code: model.ValueMappingResult(text=name)
                                                for code, name in STREET_NAMES.items()})])
             .height(10).span(12))
    return panel


def holder_table(title: str, description: str) -> table.Panel:
    """One row per department: the median and 90th percentile holding time in working days over the range."""
    quantiles = (("A", 0.5, "Median (working days)"), ("B", 0.9, "p90 (working days)"))
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets([query(f"histogram_quantile({q}, sum by (le, department) (increase({HOLDER}_bucket[$__range])))"
                             f" / {SECONDS_PER_WORKING_DAY}", ref=ref, instant=True, table_format=True)
                       for ref, q, _ in quantiles])
             .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
             .with_transformation(model.DataTransformerConfig(id_val="organize", options={
                 "excludeByName": {"Time": True},
                 "renameByName": {"department": "Department 部门", **{f"Value #{ref}": text
                                                                     for ref, _, text in quantiles}},
             }))
             .unit("short").decimals(1).thresholds(thresholds((None, "green"), (3, "orange"), (5, "red")))
             .cell_options(common.TableColorTextCellOptions())
             .mappings([model.ValueMap(options={code: model.ValueMappingResult(text=name)
                                                for code, name in DEPARTMENT_NAMES.items()})])
             .height(10).span(24))
    return panel


def district_trend(title: str, description: str, metric: str) -> timeseries.Panel:
    """The district's recorded ratio over a rolling 1, 7 and 30 days, against the dashed 90% target."""
    return ts_panel(title, description, [query(f"district:{metric}:ratio{w}", text, ref) for ref, w, text in WINDOWS],
                    unit="percentunit", target_line=True)


def custom_variable(name: str, label: str, options: dict[str, str]) -> dash.CustomVariable:
    """A multi-select variable showing names, querying codes; "All" matches everything (``.*``)."""
    values = ",".join(f"{text} : {code}" for code, text in options.items())
    choices = [model.VariableOption(selected=True, text="All", value="$__all")] + [
        model.VariableOption(selected=False, text=text, value=code) for code, text in options.items()]
    return (dash.CustomVariable(name).label(label).values(values).multi(True).include_all(True).all_value(".*")
            .current(model.VariableOption(selected=True, text=["All"], value=["$__all"])).options(choices))


def finish(builder: dash.Dashboard) -> dict[str, Any]:
    """Build, give every panel a stable id, and return plain JSON data."""
    board = builder.build()
    for number, panel in enumerate(board.panels or [], start=1):
        panel.id_val = number
    return json.loads(JSONEncoder(sort_keys=True).encode(board))


def base(uid: str, title: str, description: str, tags: list[str], time_from: str, refresh: str) -> dash.Dashboard:
    return (dash.Dashboard(title).uid(uid).description(description).tags(["yangpu", *tags])
            .time(time_from, "now").refresh(refresh).timezone("browser").editable()
            .tooltip(model.DashboardCursorSync.CROSSHAIR)
            .link(dash.DashboardLink("Yangpu dashboards").type(model.DashboardLinkType.DASHBOARDS)
                  .tags(["yangpu"]).as_dropdown(True).include_vars(False).keep_time(True)))


# --- SLA overview -------------------------------------------------------------------------------------------


def sla_overview() -> dict[str, Any]:
    """For supervisors and the district office: are the plan's promises kept, where, and what is waiting."""
    fr_met = f'sum(increase({MET}{{kind="first_response", {F_SC}}}[$__range]))'
    fr_breached = f'sum(increase({BREACHED}{{kind="first_response", {F_SC}}}[$__range]))'
    within_minute = (
        f'sum(increase(yangpu_sla_first_response_seconds_bucket{{le="60.0", channel="online_helpdesk", {F_STREET}}}'
        f'[$__range]))\n/ (sum(increase(yangpu_sla_first_response_seconds_count'
        f'{{channel="online_helpdesk", {F_STREET}}}[$__range])) > 0)'
    )
    resolved = f'sum(increase({RESOLUTIONS}{{outcome="resolved", {F_SCC}}}[$__range]))'
    closed = f'sum(increase({RESOLUTIONS}{{{F_SCC}}}[$__range]))'
    board = (
        base(SLA_UID, "Yangpu · SLA overview (SLA 总览)",
             "Are we keeping the promises of the Yangpu business-environment plan? First response within "
             "1 minute (online help desk) or 1 working day, 90% of demands resolved. See docs/operations.md.",
             ["sla"], "now-7d", "1m")
        .with_variable(custom_variable("street", "Street 街道", STREET_NAMES))
        .with_variable(custom_variable("channel", "Channel 渠道", CHANNEL_NAMES))
        .with_variable(custom_variable("category", "Category 类别", CATEGORY_NAMES))
        .with_row(dash.Row("Promises in the selected time range"))
        .with_panel(stat_panel(
            "First-response compliance",
            "First-response clocks met / (met + breached) in the selected time range. Promise: 1 minute on the "
            "online help desk, 1 working day on every other channel; target 90%. The category filter does "
            "not apply (met clocks carry no category).",
            f"({fr_met} or vector(0))\n/ (({fr_met} or vector(0)) + ({fr_breached} or vector(0)) > 0)",
            "percentunit", TARGET_STEPS))
        .with_panel(stat_panel(
            "Online help desk answered within 1 minute",
            "Share of online help-desk demands whose first response came within 60 business seconds "
            "(the 1-minute promise, from the first-response histogram).",
            within_minute, "percentunit", TARGET_STEPS))
        .with_panel(stat_panel(
            "Resolution rate",
            "Demands closed with outcome \"resolved\" / all closed demands (resolved, explained, "
            "unresolvable) in the selected time range. Target 90%.",
            f"({resolved} or vector(0))\n/ ({closed} > 0)", "percentunit", TARGET_STEPS))
        .with_panel(stat_panel(
            "Key-enterprise breaches",
            "Clocks of key enterprises' (重点企业) demands that passed their target in the selected time "
            "range. Should be 0; each one pages the on-call supervisor.",
            f'round(sum(increase({BREACHED}{{key_enterprise="true", {F_SCC}}}[$__range])) or vector(0))',
            "short", ((None, "green"), (1, "red"))))
        .with_row(dash.Row("Compliance by street: 1, 7 and 30 days"))
        .with_panel(ratio_table(
            "First-response compliance by street",
            "Recorded ratios (deploy/prometheus/rules/sla.rules.yml) over the last 1, 7 and 30 days, red "
            "below 90%. Empty when nothing was judged in the window.",
            "yangpu_sla_first_response_compliance"))
        .with_panel(ratio_table(
            "Resolution rate by street",
            "Closed with outcome \"resolved\" / all closed, over the last 1, 7 and 30 days; red below 90%.",
            "yangpu_sla_resolution_rate"))
        .with_panel(district_trend(
            "First-response compliance, whole district",
            "The district's first-response compliance over a rolling 1, 7 and 30 days; dashed line: 90%.",
            "yangpu_sla_first_response_compliance"))
        .with_panel(district_trend(
            "Resolution rate, whole district",
            "The district's resolution rate over a rolling 1, 7 and 30 days; dashed line: the 90% target.",
            "yangpu_sla_resolution_rate"))
        .with_row(dash.Row("Breaches and warnings"))
        .with_panel(bar_panel(
            "Breaches by street",
            "Clocks (first response and resolution) that passed their target in the selected time range.",
            f"sum by (street) (increase({BREACHED}{{{F_SCC}}}[$__range]))", "{{street}}",
            steps=((None, "green"), (1, "orange"), (10, "red")), names=STREET_NAMES))
        .with_panel(bar_panel(
            "Warnings by street",
            "Clocks that reached 80% of their target in the selected time range: act before they breach. "
            "The category filter does not apply.",
            "sum by (street) (increase(yangpu_sla_warnings_total{" + F_SC + "}[$__range]))", "{{street}}",
            steps=((None, "green"), (1, "yellow")), names=STREET_NAMES))
        .with_panel(bar_panel(
            "Top breaching categories",
            "The 10 demand categories with the most breaches in the selected time range.",
            f"topk(10, sum by (category) (increase({BREACHED}{{{F_SCC}}}[$__range])))", "{{category}}",
            steps=((None, "orange"),), names=CATEGORY_NAMES))
        .with_panel(ts_panel(
            "Breaches and warnings over time",
            "Breaches by kind of clock, and warnings, per interval.",
            [query(f"sum by (kind) (increase({BREACHED}{{{F_SCC}}}[$__rate_interval]))", "breached: {{kind}}", "A"),
             query("sum by (kind) (increase(yangpu_sla_warnings_total{" + F_SC + "}[$__rate_interval]))",
                   "warning: {{kind}}", "B")],
            width=24, bars=True))
        .with_row(dash.Row("Department clocks (OLA)"))
        .with_panel(holder_table(
            "Holding time per department",
            "How long each holder had a demand before handing it on or resolving it, in working days (time "
            "awaiting the enterprise excluded): median and 90th percentile of the holding periods that ended in "
            "the selected time range, per department (\"street\": the street's own officers). Orange from 3 "
            "working days (the policy's default holder target), red from 5. The street, channel and category "
            "filters do not apply (the metric carries the department only)."))
        .with_row(dash.Row("Open work now"))
        .with_panel(bar_panel(
            "Open demands per street",
            "Demands whose resolution clock is running or paused (not yet resolved), counted from the SLA "
            "database at scrape time.",
            f'max by (street) (yangpu_sla_open_clocks{{kind="resolution", {F_STREET}}})', "{{street}}",
            names=STREET_NAMES, width=6))
        .with_panel(bar_panel(
            "Waiting for a first response",
            "Demands nobody has acknowledged yet (open first-response clocks), per street.",
            f'max by (street) (yangpu_sla_open_clocks{{kind="first_response", {F_STREET}}})', "{{street}}",
            names=STREET_NAMES, width=6))
        .with_panel(bar_panel(
            "Oldest unanswered demand",
            "How long the street's oldest demand without a first response has been waiting (wall-clock "
            "time since it was reported). Orange after 4 hours, red after a day.",
            f"time() - min by (street) (yangpu_sla_oldest_unanswered_timestamp_seconds{{{F_STREET}}})",
            "{{street}}", unit="dtdurations",
            steps=((None, "green"), (4 * 3600, "orange"), (86400, "red")), names=STREET_NAMES, width=6))
        .with_panel(bar_panel(
            "Unassigned demands per street",
            "Demands routing could not give to anyone (no eligible officer), waiting in the street's "
            "unassigned queue for its supervisor.",
            f"max by (street) (yangpu_routing_unassigned_demands{{{F_STREET}}})", "{{street}}",
            steps=((None, "green"), (1, "red")), names=STREET_NAMES, width=6))
    )
    return finish(board)


# --- Pipeline -------------------------------------------------------------------------------------------------


def pipeline() -> dict[str, Any]:
    """For operators: are the processes up and the events flowing on time."""
    ours = 'job=~"yangpu-web|yangpu-worker", app=~"$service"'
    http_all = f"sum by (service) (rate({HTTP}_count{{{F_SERVICE}}}[$__rate_interval]))"
    http_5xx = f'sum by (service) (rate({HTTP}_count{{status=~"5..", {F_SERVICE}}}[$__rate_interval]))'
    board = (
        base(PIPELINE_UID, "Yangpu · Pipeline (事件管道)",
             "Is the event pipeline healthy? Processes, throughput, end-to-end latency, consumer lag, "
             "outbox backlog, dead letters and errors of the three services. See docs/operations.md.",
             ["pipeline"], "now-1h", "30s")
        .with_variable(custom_variable("service", "Service", {s: s for s in ("intake", "routing", "sla")}))
        .with_row(dash.Row("Processes"))
        .with_panel(stat_panel(
            "Processes up", "Web and worker processes Prometheus scrapes successfully (2 per service).",
            f"sum(up{{{ours}}})", "short", ((None, "red"), (1, "green"))))
        .with_panel(stat_panel(
            "Processes down", "Web and worker processes that do not answer Prometheus. Should be 0.",
            f"count(up{{{ours}}} == 0) or vector(0)", "short", ((None, "green"), (1, "red"))))
        .with_panel(stat_panel(
            "Dead letters since start",
            "Events the workers moved to a dead-letter topic since they started. Should be 0.",
            f"sum(yangpu_dead_letters_total{{{F_SERVICE}}}) or vector(0)", "short", ((None, "green"), (1, "red"))))
        .with_panel(bar_panel(
            "Running versions",
            "How many processes (web and worker) run each build: after a release, only the new version.",
            'count by (service, version) (yangpu_build_info{service=~"($service)(-worker)?"})',
            "{{service}} {{version}}", width=6).height(5))
        .with_row(dash.Row("Throughput"))
        .with_panel(ts_panel(
            "HTTP requests per second", "API requests answered, per service (probes and scrapes excluded).",
            [query(f"sum by (service) (rate({HTTP}_count{{{NOT_PROBES}, {F_SERVICE}}}[$__rate_interval]))",
                   "{{service}}")], unit="reqps", width=8))
        .with_panel(ts_panel(
            "Events handled per second",
            "Events the workers took off the bus, by outcome: handled, duplicate (a redelivery, skipped), "
            "ignored (not for this service), dead_lettered.",
            [query(f"sum by (service, outcome) (rate(yangpu_events_consumed_total{{{F_SERVICE}}}[$__rate_interval]))",
                   "{{service}} {{outcome}}")], unit="ops", width=8))
        .with_panel(ts_panel(
            "Events published per second",
            "Events the outbox relays published to the bus, per service.",
            [query(f"sum by (service) (rate(yangpu_outbox_published_total{{{F_SERVICE}}}[$__rate_interval]))",
                   "{{service}}")], unit="ops", width=8))
        .with_row(dash.Row("Latency"))
        .with_panel(ts_panel(
            "End-to-end event latency",
            "From an event's creation (the state change in the producing service) to the end of its handling "
            "in the consuming service: p50 and p99 per consuming service.",
            [query("histogram_quantile(0.99, sum by (le, service) (rate(yangpu_event_delivery_seconds_bucket"
                   f"{{{F_SERVICE}}}[$__rate_interval])))", "{{service}} p99", "A"),
             query("histogram_quantile(0.5, sum by (le, service) (rate(yangpu_event_delivery_seconds_bucket"
                   f"{{{F_SERVICE}}}[$__rate_interval])))", "{{service}} p50", "B")],
            unit="s", width=8))
        .with_panel(ts_panel(
            "HTTP latency p99",
            "99th percentile of API response time per service (probes and scrapes excluded).",
            [query(f"histogram_quantile(0.99, sum by (le, service) (rate({HTTP}_bucket{{{NOT_PROBES}, {F_SERVICE}}}"
                   "[$__rate_interval])))", "{{service}}")], unit="s", width=8))
        .with_panel(ts_panel(
            "Event handler time p99",
            "99th percentile of the time one handler transaction takes (the event's effects + dedupe record).",
            [query("histogram_quantile(0.99, sum by (le, service) (rate(yangpu_event_handler_duration_seconds_bucket"
                   f"{{{F_SERVICE}}}[$__rate_interval])))", "{{service}}")], unit="s", width=8))
        .with_row(dash.Row("Backlog"))
        .with_panel(ts_panel(
            "Consumer lag",
            "Messages each consumer group has not committed yet, per topic. Near 0 when healthy.",
            [query(f"max by (group, topic) (yangpu_consumer_lag_messages{{{F_SERVICE}}})", "{{group}} {{topic}}")],
            width=8))
        .with_panel(ts_panel(
            "Outbox depth", "Events written by a service and not yet published by its relay.",
            [query(f"max by (service) (yangpu_outbox_depth{{{F_SERVICE}}})", "{{service}}")], width=8))
        .with_panel(ts_panel(
            "Oldest event in the outbox",
            "Age of the oldest unpublished event; 0 when the outbox is empty. Minutes mean the relay is stuck.",
            [query(f"max by (service) (yangpu_outbox_oldest_age_seconds{{{F_SERVICE}}})", "{{service}}")],
            unit="s", width=8))
        .with_row(dash.Row("Errors"))
        .with_panel(ts_panel(
            "Dead letters",
            "Events moved to a dead-letter topic per interval: the service that gave up, and the topic the "
            "event came from (it went to <topic>.dlq).",
            [query(f"sum by (service, topic) (increase(yangpu_dead_letters_total{{{F_SERVICE}}}[$__rate_interval]))",
                   "{{service}}: {{topic}} → {{topic}}.dlq")], width=8, bars=True))
        .with_panel(ts_panel(
            "HTTP server errors (5xx ratio)", "Share of requests answered with a 5xx status, per service.",
            [query(f"({http_5xx} or 0 * {http_all})\n/ ({http_all} > 0)", "{{service}}")],
            unit="percentunit", width=8))
        .with_panel(ts_panel(
            "Refused requests (4xx) per second",
            "Requests refused as invalid (400/422), unauthorised (401/403), missing (404) or conflicting "
            "(409), per route. A jump after a release points at a client/server mismatch.",
            [query(f'sum by (service, route, status) (rate({HTTP}_count{{status=~"4..", {F_SERVICE}}}'
                   "[$__rate_interval]))", "{{service}} {{status}} {{route}}")], unit="reqps", width=8))
        .with_row(dash.Row("Routing"))
        .with_panel(ts_panel(
            "Routing decisions by rule",
            "Which rule assigned each demand: key enterprise → chief service officer, fallback window → "
            "street supervisor, hotline → department specialist, street commissioner, or unassigned.",
            [query("sum by (rule) (increase(yangpu_routing_decisions_total[$__rate_interval]))", "{{rule}}")],
            width=24, bars=True))
    )
    return finish(board)


DASHBOARDS = {"sla-overview.json": sla_overview, "pipeline.json": pipeline}


def render(build: Any) -> str:
    """Stable text (sorted keys, Chinese kept readable) so that regenerating gives identical files."""
    return json.dumps(build(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON differs")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT_DIR / name
        text = render(build)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if args.check:
            if current != text:
                stale.append(name)
                sys.stdout.writelines(difflib.unified_diff(
                    current.splitlines(keepends=True), text.splitlines(keepends=True),
                    f"committed/{name}", f"generated/{name}", n=2))
        elif current != text:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: .venv/bin/python deploy/grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
