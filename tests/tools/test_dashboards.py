"""The Grafana dashboard: the committed JSON is what the generator builds, and what it builds holds up.

Its variables select a namespace and workloads, every panel says what its numbers are (a unit, an
axis label) and runs a query, and every query reads only the series of issue 28's contract, the
names others export and write alert rules on. That the queries return data from a live Prometheus
is tests/tools/test_dashboard_queries.py's.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kedasuite.core import defaults, names
from kedasuite.core.workloads import NAMES, WORKLOADS, Workload
from kedasuite.tools import dashboards, derived

ROOT = Path(__file__).resolve().parents[2]

#: The suite's own, as a scrape shows them (a histogram as its three series).
SUITE = {
    "kedasuite_worker_items_processed_total",
    "kedasuite_worker_items_duplicates_total",
    "kedasuite_worker_items_failed_total",
    "kedasuite_worker_items_dead_lettered_total",
    "kedasuite_worker_items_in_flight",
    "kedasuite_worker_work_seconds_bucket",
    "kedasuite_worker_work_seconds_sum",
    "kedasuite_worker_work_seconds_count",
    "kedasuite_pump_http_requests_total",
    "kedasuite_pump_items_sent_total",
    "kedasuite_pump_items_failed_total",
    "kedasuite_pump_runs_in_progress",
}
#: The series of the contract (issue 28; ``names.CLUSTER_SERIES``) and the suite's. A dashboard query that
#: names any other series reads something no exporter promises.
CONTRACT = names.CLUSTER_SERIES | SUITE

# --- what a PromQL expression names ---------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}


def series_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects: what is left once strings, label matchers, ranges, label
    lists and function calls are taken out."""
    bare = _STRING.sub('""', expr)
    bare = _MATCHERS.sub("", _RANGE.sub("", _LABEL_LIST.sub("", bare)))
    return {name for name in _IDENTIFIER.findall(bare) if name not in _KEYWORDS}


def test_series_names_reads_promql_as_intended() -> None:
    expr = (
        'sum by (owner_name) (clamp_max(kube_job_status_active{namespace="$namespace"} - kube_job_status_ready, 1) '
        '* on (namespace, job_name) group_left (owner_name) kube_job_owner{owner_kind="ScaledJob", x=~"a|b"}) '
        "or histogram_quantile(0.95, rate(kedasuite_worker_work_seconds_bucket[$__rate_interval])) > bool 0"
    )
    assert series_names(expr) == {
        "kube_job_status_active",
        "kube_job_status_ready",
        "kube_job_owner",
        "kedasuite_worker_work_seconds_bucket",
    }
    assert series_names("label_values(kafka_consumergroup_lag, consumergroup)") == {
        "kafka_consumergroup_lag",
        "consumergroup",
    }


# --- the model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return dashboards.as_dict()


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that show data (rows hold none)."""
    found = []
    for each in model["panels"]:
        found += [p for p in [each, *each.get("panels", [])] if p["type"] != "row"]
    return found


def variable(model: dict[str, Any], name: str) -> dict[str, Any]:
    by_name = {v["name"]: v for v in model["templating"]["list"]}
    assert name in by_name, f"no variable {name!r} (there are {sorted(by_name)})"
    return by_name[name]


def test_the_committed_dashboards_are_current() -> None:
    stale = sorted(str(p.relative_to(ROOT)) for p in derived.stale_dashboards(ROOT))
    assert not stale, f"{', '.join(stale)}: not what kedasuite/tools/dashboards.py builds; run {derived.COMMAND}"


def test_a_missing_or_edited_dashboard_is_stale(tmp_path: Path) -> None:
    fresh = dashboards.render()
    first, second = (tmp_path / p for p in dashboards.PATHS)
    assert sorted(derived.stale_dashboards(tmp_path)) == sorted([first, second])
    for path in (first, second):
        path.parent.mkdir(parents=True)
        path.write_text(fresh)
    assert derived.stale_dashboards(tmp_path) == {}
    second.write_text(fresh.replace('"refresh": "10s"', '"refresh": "1m"'))
    assert derived.stale_dashboards(tmp_path) == {second: fresh}


def test_the_file_is_the_model_with_numbered_panels(model: dict[str, Any]) -> None:
    assert json.loads(dashboards.render()) == model
    assert [p["id"] for p in model["panels"]] == list(range(1, len(model["panels"]) + 1))
    assert model["uid"] == dashboards.UID


def test_the_namespace_variable_lists_the_namespaces_keda_reports(model: dict[str, Any]) -> None:
    namespace = variable(model, "namespace")
    assert namespace["type"] == "query"
    assert namespace["query"] == "label_values(keda_scaler_metrics_value, namespace)"
    assert namespace["current"]["value"] == defaults.KUBE_NAMESPACE


def test_the_workload_variable_offers_the_table(model: dict[str, Any]) -> None:
    workload = variable(model, "workload")
    assert workload["type"] == "custom" and workload["multi"] and workload["includeAll"]
    assert workload["current"]["value"] == "$__all"
    # Grafana splits a custom variable's query on commas, then each pair on " : " (text, value).
    pairs = [entry.split(" : ") for entry in workload["query"].split(",")]
    assert [text for text, _ in pairs] == list(NAMES)
    assert [(o["text"], o["value"]) for o in workload["options"][1:]] == [tuple(p) for p in pairs]


def _pipe(rows: list[Workload]) -> str:
    """What Grafana's ``${workload:pipe}`` becomes for a selection: the values joined with ``|``."""
    return "|".join(dashboards.option_value(row) for row in rows)


@pytest.mark.parametrize("selected", [[w] for w in WORKLOADS] + [list(WORKLOADS)], ids=[*NAMES, "all"])
def test_a_selection_matches_its_workers_and_its_keda_objects_only(selected: list[Workload]) -> None:
    """Prometheus anchors ``=~`` regexes; ``re.fullmatch`` does the same here."""
    regex = _pipe(selected)
    for row in WORKLOADS:
        chosen = row in selected
        assert bool(re.fullmatch(regex, row.name)) == chosen, (row.name, regex)  # workers' `workload`
        assert bool(re.fullmatch(regex, row.keda_name)) == chosen, (row.keda_name, regex)  # scaledObject, owner_name
        hpa = f"{dashboards.HPA_PREFIX}{row.keda_name}"
        assert bool(re.fullmatch(f"{dashboards.HPA_PREFIX}({regex})", hpa)) == chosen, (hpa, regex)


def test_the_names_leave_the_regex_unambiguous() -> None:
    assert dashboards.check_names() == []
    clash = [WORKLOADS[0], dataclasses.replace(WORKLOADS[1], keda_name=WORKLOADS[0].name)]
    assert dashboards.check_names(clash) == ["kafka: 'celery' is also celery's"]
    dotted = [dataclasses.replace(WORKLOADS[0], keda_name="celery.worker")]
    assert dashboards.check_names(dotted) == ["celery: 'celery.worker' is not a lower-case Kubernetes name"]


def test_every_panel_has_a_unit_an_axis_label_and_a_query(model: dict[str, Any]) -> None:
    found = panels(model)
    assert len(found) >= 10
    for each in found:
        defaults_ = each["fieldConfig"]["defaults"]
        assert defaults_.get("unit"), f"{each['title']}: no unit"
        assert defaults_.get("custom", {}).get("axisLabel"), f"{each['title']}: no axis label"
        assert each.get("targets"), f"{each['title']}: no query"
        for target in each["targets"]:
            assert target["expr"].strip() and target["legendFormat"], (each["title"], target)
        refs = [t["refId"] for t in each["targets"]]
        assert len(set(refs)) == len(refs), (each["title"], refs)


def test_every_query_names_only_series_of_the_contract(model: dict[str, Any]) -> None:
    outside = {}
    for where, ref, expr in dashboards.queries(model):
        names = series_names(expr)
        if where.startswith("variable "):
            names -= {"namespace", "consumergroup"}  # label_values(series, label): the label
        assert names, f"{where} {ref}: no series found in {expr!r}"
        if names - CONTRACT:
            outside[f"{where} {ref}".strip()] = sorted(names - CONTRACT)
    assert not outside, f"series outside the contract: {outside}"


def test_the_dashboard_shows_what_the_issue_asks_for(model: dict[str, Any]) -> None:
    used = set().union(*(series_names(expr) for _, _, expr in dashboards.queries(model)))
    wanted = {
        "keda_scaler_metrics_value",
        "keda_scaler_active",
        "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kedasuite_worker_items_processed_total",
        "kedasuite_worker_items_duplicates_total",
        "kedasuite_worker_items_dead_lettered_total",
        "kafka_consumergroup_lag",
        "kube_job_owner",
        "kube_job_status_active",
        "kube_job_status_ready",
        "kube_job_status_succeeded",
        "kube_job_status_failed",
    }
    assert wanted <= used, sorted(wanted - used)
    (annotation,) = model["annotations"]["list"]
    assert "kube_horizontalpodautoscaler_status_current_replicas" in series_names(annotation["expr"])


def test_every_query_but_kafkas_filters_by_namespace_and_workload(model: dict[str, Any]) -> None:
    """kafka-exporter's lag carries no namespace and no workload: its own variable picks the group."""
    for where, ref, expr in dashboards.queries(model):
        if where.startswith("variable "):
            continue
        if series_names(expr) == {names.KAFKA_CONSUMERGROUP_LAG}:
            assert 'consumergroup=~"$consumergroup"' in expr, (where, expr)
            continue
        assert dashboards.NS in expr and dashboards.SELECTED in expr, (where, ref, expr)


def test_the_suite_series_of_the_contract_are_the_ones_the_code_exports() -> None:
    """The names the dashboard reads are the ones kedasuite/core/metrics.py and producers/pump_metrics.py
    create, each metric as a scrape names it."""
    from kedasuite.core.metrics import WorkerMetrics
    from kedasuite.producers.pump_metrics import PumpMetrics

    def scraped(metric: Any) -> set[str]:
        name, kind = metric._name, metric._type
        return {"counter": {f"{name}_total"}, "histogram": {f"{name}_{s}" for s in ("bucket", "sum", "count")}}.get(
            kind, {name}
        )

    pump = SimpleNamespace(runs=SimpleNamespace(running=lambda: 0), settings=SimpleNamespace(workloads=[]))
    exported: set[str] = set()
    for group in (WorkerMetrics(), PumpMetrics(pump)):  # type: ignore[arg-type]
        for metric in vars(group).values():
            if hasattr(metric, "_type"):
                exported |= scraped(metric)
    assert exported == SUITE
