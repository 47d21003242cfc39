"""The suite's Grafana dashboard, built in code from the workload table; ``scripts/derive`` writes it.

Kept as code, not as hand-edited JSON, so that adding a row to :mod:`kedasuite.core.workloads`
adds the workload to the dashboard, and so that every query is a line a reviewer can read. The
JSON goes to two places, both derived files: the monitoring component of ``k8s/`` (its
ConfigMap generator) and ``observe/`` (Grafana's provisioning under compose).

Every query reads only the series of issue 28's contract: what KEDA, kube-state-metrics and
kafka-exporter export in a cluster, which ``kedasuite autoscale --metrics-port`` serves from its
model on a laptop, and what the workers and the pump export themselves.

The ``workload`` variable: KEDA labels its series by object name (``scaledObject="celery-worker"``,
``horizontalpodautoscaler="keda-hpa-celery-worker"``, ``owner_name="workqueue"``), the workers by
workload name (``workload="celery"``). Each option's text is the workload's name and its value
the regex ``<workload>|<object>``, which matches both; queries use Grafana's ``pipe`` format,
which joins the selected values with ``|`` and escapes nothing, so any selection, "All"
included, is one alternation every matcher can use (``=~"${workload:pipe}"``,
``=~"keda-hpa-(${workload:pipe})"``). Prometheus anchors the regex, so ``celery`` does not
match ``celery-worker-2``; the names are Kubernetes names (``[a-z0-9-]``), nothing to escape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models

from kedasuite.core import defaults, names
from kedasuite.core.workloads import WORKLOADS, Workload

UID: Final = "kedasuite"
TITLE: Final = "kedasuite: KEDA autoscaling end to end"
#: Where the JSON lives in the repository: the cluster's ConfigMap and compose's provisioning.
PATHS: Final = (
    "k8s/components/monitoring/dashboards/kedasuite.json",
    "observe/grafana/dashboards/kedasuite.json",
)

#: Each panel's and the annotation's datasource: the one the ``datasource`` variable picks.
DATASOURCE: Final = models.DataSourceRef(type_val="prometheus", uid="${datasource}")
NS: Final = 'namespace="$namespace"'
#: Every workload selected, as one regex alternation (see the module's docstring).
SELECTED: Final = "${workload:pipe}"
RATE: Final = "$__rate_interval"
#: KEDA names a ScaledObject's HPA ``keda-hpa-<ScaledObject>``.
HPA_PREFIX: Final = "keda-hpa-"
#: The worker metric prefix of kedasuite.core.metrics, spelled once here for the queries.
WORKER: Final = "kedasuite_worker_items"

#: Grafana units: custom suffixes read better than ``short`` where a count has a name.
ITEMS_PER_S: Final = "suffix: items/s"
COUNT: Final = "short"


def option_value(row: Workload) -> str:
    """The ``workload`` option's value for ``row``: a regex matching its name and its KEDA object's."""
    return "|".join(dict.fromkeys((row.name, row.keda_name)))


def workload_options(rows: Iterable[Workload] = WORKLOADS) -> str:
    """A custom variable's query: ``text : value`` pairs, comma-separated, in the table's order."""
    return ",".join(f"{row.name} : {option_value(row)}" for row in rows)


# --- building blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One target: the PromQL and the legend that tells its series apart."""

    expr: str
    legend: str


def _target(query: Query, ref: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref).range().datasource(DATASOURCE)
    )


def panel(
    title: str,
    description: str,
    queries: Iterable[Query],
    *,
    unit: str,
    axis: str,
    width: int = 12,
    decimals: int | None = None,
    stepped: bool = False,
    bounds: tuple[float, float] | None = None,
) -> timeseries.Panel:
    """A time series panel: every one has a unit, an axis label and a table legend with the last and
    largest values (what someone proving a scale-up reads off first)."""
    built = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .axis_label(axis)
        .span(width)
        .height(8)
        .fill_opacity(10)
        .line_interpolation(common.LineInterpolation.STEP_AFTER if stepped else common.LineInterpolation.LINEAR)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
    )
    if decimals is not None:
        built = built.decimals(decimals)
    if bounds is not None:
        built = built.min(bounds[0]).max(bounds[1])
    for ref, query in zip("ABCDEFGH", queries):
        built = built.with_target(_target(query, ref))
    return built


def _keda(metric: str) -> str:
    """A KEDA per-trigger series of the selected workloads, in the selected namespace."""
    return f'{metric}{{{NS}, scaledObject=~"{SELECTED}"}}'


def _hpa(metric: str) -> str:
    return f'{metric}{{{NS}, horizontalpodautoscaler=~"{HPA_PREFIX}({SELECTED})"}}'


def _worker_rate(counter: str) -> str:
    return f'sum by (workload) (rate({counter}{{{NS}, workload=~"{SELECTED}"}}[{RATE}]))'


def _scaled_job_jobs(per_job: str) -> str:
    """``per_job`` (a value per Job, 0 or 1) summed per ScaledJob: kube-state-metrics labels a Job's
    series by ``job_name`` only, ``kube_job_owner`` says which ScaledJob created it."""
    owner = (
        f'max by (namespace, job_name, owner_name) (kube_job_owner{{{NS}, owner_kind="ScaledJob", '
        f'owner_name=~"{SELECTED}"}})'
    )
    return f"sum by (owner_name) ({per_job} * on (namespace, job_name) group_left (owner_name) {owner})"


def _job(metric: str) -> str:
    return f"{metric}{{{NS}}}"


# --- the panels -----------------------------------------------------------------------------------


def keda_panels() -> list[timeseries.Panel]:
    by_trigger = "scaledObject, type, triggerIndex, scaler, metric"
    return [
        panel(
            "Trigger metric: backlog, in flight, lag",
            "What KEDA hands the HPA for each trigger (keda_scaler_metrics_value): a Redis list's length, "
            "the in-flight work a second trigger counts, a Kafka group's lag. The HPA divides it by the "
            "trigger's target.",
            [
                Query(
                    f"max by ({by_trigger}) ({_keda('keda_scaler_metrics_value')})",
                    "{{scaledObject}} #{{triggerIndex}} {{metric}}",
                )
            ],
            unit=COUNT,
            axis="trigger metric (items)",
        ),
        panel(
            "Trigger active",
            "keda_scaler_active: 1 while the trigger's metric is above its activation threshold. KEDA "
            "scales 0 → 1 when a trigger turns active and back to 0 a cooldown after the last one turned "
            "inactive.",
            [
                Query(
                    f"max by ({by_trigger}) ({_keda('keda_scaler_active')})",
                    "{{scaledObject}} #{{triggerIndex}} {{metric}}",
                )
            ],
            unit="bool_on_off",
            axis="active",
            decimals=0,
            stepped=True,
            bounds=(0, 1),
        ),
        panel(
            "Scaler errors",
            "keda_scaler_detail_errors_total per trigger: reads of the broker that failed. A ScaledObject "
            "without a fallback keeps its replicas while they fail.",
            [
                Query(
                    f"sum by (scaledObject, triggerIndex, scaler) "
                    f"(rate({_keda('keda_scaler_detail_errors_total')}[{RATE}]))",
                    "{{scaledObject}} #{{triggerIndex}} {{scaler}}",
                )
            ],
            unit="suffix: errors/s",
            axis="failed reads per second",
            width=24,
        ),
    ]


def hpa_panels() -> list[timeseries.Panel]:
    return [
        panel(
            "Replicas: desired, current, max",
            "The HPA KEDA made for each ScaledObject (keda-hpa-<name>): the replicas it wants, those it "
            "has, and maxReplicaCount. Desired above current is a scale-up in progress; desired at max "
            "is a cap.",
            [
                Query(
                    f"max by (horizontalpodautoscaler) "
                    f"({_hpa('kube_horizontalpodautoscaler_status_desired_replicas')})",
                    "{{horizontalpodautoscaler}} desired",
                ),
                Query(
                    f"max by (horizontalpodautoscaler) "
                    f"({_hpa('kube_horizontalpodautoscaler_status_current_replicas')})",
                    "{{horizontalpodautoscaler}} current",
                ),
                Query(
                    f"max by (horizontalpodautoscaler) ({_hpa('kube_horizontalpodautoscaler_spec_max_replicas')})",
                    "{{horizontalpodautoscaler}} max",
                ),
            ],
            unit=COUNT,
            axis="replicas",
            decimals=0,
            stepped=True,
            width=24,
        ),
    ]


def worker_panels() -> list[timeseries.Panel]:
    return [
        panel(
            "Processing rate",
            "Items whose result the workers wrote, per second (first deliveries only), beside the items "
            "the HTTP pump had the broker confirm: out above in drains the backlog.",
            [
                Query(_worker_rate(f"{WORKER}_processed_total"), "{{workload}} processed"),
                Query(_worker_rate("kedasuite_pump_items_sent_total"), "{{workload}} sent by the pump"),
            ],
            unit=ITEMS_PER_S,
            axis="items per second",
        ),
        panel(
            "Items in flight (workers)",
            "Items the workers are working on now, as they count them; KEDA's in-flight trigger counts "
            "the broker's side of the same work.",
            [
                Query(
                    f'sum by (workload) ({WORKER}_in_flight{{{NS}, workload=~"{SELECTED}"}})',
                    "{{workload}} in flight",
                )
            ],
            unit=COUNT,
            axis="items",
            decimals=0,
        ),
        panel(
            "Redeliveries",
            "Items delivered again whose result already existed: the broker handed out again what a "
            "stopped or killed worker held (at-least-once delivery at work).",
            [Query(_worker_rate(f"{WORKER}_duplicates_total"), "{{workload}} redelivered")],
            unit=ITEMS_PER_S,
            axis="items per second",
        ),
        panel(
            "Failures and dead letters",
            "Items whose processing raised (retried or parked, per workload), and items parked in the "
            "dead-letter list or topic for a person to look at.",
            [
                Query(_worker_rate(f"{WORKER}_failed_total"), "{{workload}} failed"),
                Query(_worker_rate(f"{WORKER}_dead_lettered_total"), "{{workload}} dead-lettered"),
            ],
            unit=ITEMS_PER_S,
            axis="items per second",
        ),
        panel(
            "Work time per item (p50, p95)",
            "How long a worker took over one item, any outcome (kedasuite_worker_work_seconds).",
            [
                Query(
                    f"histogram_quantile({q}, sum by (workload, le) "
                    f'(rate(kedasuite_worker_work_seconds_bucket{{{NS}, workload=~"{SELECTED}"}}[{RATE}])))',
                    f"{{{{workload}}}} p{round(q * 100)}",
                )
                for q in (0.5, 0.95)
            ],
            unit="s",
            axis="seconds per item",
            width=24,
        ),
    ]


def kafka_panels() -> list[timeseries.Panel]:
    return [
        panel(
            "Kafka consumer lag per partition",
            "kafka-exporter's kafka_consumergroup_lag: messages each partition's committed offset is "
            "behind its end. KEDA's kafka trigger sums these (capped per partition when "
            "allowIdleConsumers is off), and never scales past the partition count.",
            [
                Query(
                    'sum by (consumergroup, topic, partition) (kafka_consumergroup_lag{consumergroup=~"$consumergroup"})',
                    "{{topic}}/{{partition}} ({{consumergroup}})",
                )
            ],
            unit=COUNT,
            axis="messages behind",
            decimals=0,
            width=24,
        ),
    ]


def job_panels() -> list[timeseries.Panel]:
    return [
        panel(
            "ScaledJob Jobs: running, pending, succeeded, failed",
            "Jobs each ScaledJob created, by state (kube-state-metrics' Job series joined on "
            "kube_job_owner): running has a pod active, pending has an active pod not ready yet, "
            "succeeded and failed have a pod that did. Finished Jobs count until KEDA's history limits "
            "delete them.",
            [
                Query(
                    _scaled_job_jobs(f"clamp_max({_job('kube_job_status_active')}, 1)"),
                    "{{owner_name}} running",
                ),
                Query(
                    _scaled_job_jobs(
                        f"clamp_max(clamp_min({_job('kube_job_status_active')} - {_job('kube_job_status_ready')}, 0), 1)"
                    ),
                    "{{owner_name}} pending",
                ),
                Query(
                    _scaled_job_jobs(f"clamp_max({_job('kube_job_status_succeeded')}, 1)"),
                    "{{owner_name}} succeeded",
                ),
                Query(
                    _scaled_job_jobs(f"clamp_max({_job('kube_job_status_failed')}, 1)"),
                    "{{owner_name}} failed",
                ),
            ],
            unit=COUNT,
            axis="Jobs",
            decimals=0,
            stepped=True,
            width=24,
        ),
    ]


#: The dashboard's rows, in order: each a title and its panels.
ROWS: Final = (
    ("KEDA: triggers", keda_panels),
    ("HPA: replicas of each ScaledObject", hpa_panels),
    ("Workers", worker_panels),
    ("Kafka", kafka_panels),
    ("ScaledJob: Jobs", job_panels),
)

#: The annotation that marks each change of a ScaledObject's replicas on every panel.
REPLICA_CHANGES: Final = f"changes({_hpa('kube_horizontalpodautoscaler_status_current_replicas')}[1m]) > 0"


# --- variables and annotations --------------------------------------------------------------------


def variables() -> list[cogbuilder.Builder[models.VariableModel]]:
    namespace = defaults.KUBE_NAMESPACE
    all_option = models.VariableOption(selected=True, text="All", value="$__all")
    return [
        dash.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        dash.QueryVariable("namespace")
        .label("namespace")
        .description("The Kubernetes namespace of the KEDA objects and the workers (locally: KUBE_NAMESPACE).")
        .datasource(DATASOURCE)
        .query("label_values(keda_scaler_metrics_value, namespace)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .current(models.VariableOption(selected=True, text=namespace, value=namespace)),
        dash.CustomVariable("workload")
        .label("workload")
        .description(
            "Workloads of kedasuite/core/workloads.py; each selects its workers' series (by workload name) "
            "and its KEDA object's (by object name)."
        )
        .values(workload_options())
        .multi(True)
        .include_all(True)
        .current(all_option)
        .options(
            [all_option]
            + [models.VariableOption(selected=False, text=w.name, value=option_value(w)) for w in WORKLOADS]
        ),
        dash.QueryVariable("consumergroup")
        .label("Kafka consumer group")
        .description(f"Groups kafka-exporter reports (the kafka workload's: {names.KAFKA_CONSUMER_GROUP}).")
        .datasource(DATASOURCE)
        .query("label_values(kafka_consumergroup_lag, consumergroup)")
        .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(models.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(all_option),
    ]


class PrometheusAnnotation(models.AnnotationQuery):
    """An annotation query with the Prometheus fields Grafana reads (step, title, tags), which the
    SDK's generic model for Grafana 10.1 does not carry."""

    def __init__(self, *, step: str, title_format: str, tag_keys: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step, self.title_format, self.tag_keys = step, title_format, tag_keys

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "step": self.step, "titleFormat": self.title_format, "tagKeys": self.tag_keys}


@dataclass
class _Built(cogbuilder.Builder[models.AnnotationQuery]):
    model: models.AnnotationQuery

    def build(self) -> models.AnnotationQuery:
        return self.model


def annotations() -> list[cogbuilder.Builder[models.AnnotationQuery]]:
    return [
        _Built(
            PrometheusAnnotation(
                name="Replica changes",
                datasource=DATASOURCE,
                enable=True,
                hide=False,
                icon_color="orange",
                expr=REPLICA_CHANGES,
                step="30s",
                title_format="{{horizontalpodautoscaler}}: replicas changed",
                tag_keys="horizontalpodautoscaler",
            )
        )
    ]


# --- the dashboard --------------------------------------------------------------------------------


def build() -> dash.Dashboard:
    board = (
        dash.Dashboard(TITLE)
        .uid(UID)
        .description(
            "Backlog, KEDA's view of it, the replicas and Jobs it leads to, and what the workers do, per "
            "workload. Generated by kedasuite/tools/dashboards.py (scripts/derive); edits here are lost."
        )
        .tags(["kedasuite", "keda", "autoscaling"])
        .editable()
        .time("now-30m", "now")
        .refresh("10s")
        .timezone("browser")
        .tooltip(models.DashboardCursorSync.CROSSHAIR)
        .variables(variables())
        .annotations(annotations())
    )
    for title, panels in ROWS:
        board = board.with_row(dash.Row(title))
        for each in panels():
            board = board.with_panel(each)
    return board


def as_dict() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, panels numbered in order (Grafana needs unique ids)."""
    model: dict[str, Any] = json.loads(JSONEncoder().encode(build().build()))
    for number, each in enumerate(model["panels"], start=1):
        each["id"] = number
    return model


def render() -> str:
    """The file's text: stable key order and indentation, so that a regeneration diffs line by line."""
    return json.dumps(as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def queries(model: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(where, refId, PromQL) of every query a dashboard model runs: panels' targets, annotations',
    and query variables'."""
    found = []
    for each in model.get("panels", []):
        for inner in [each, *each.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner.get("title", ""), target.get("refId", ""), target["expr"]))
    for annotation in model.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append((f"annotation {annotation['name']}", "", annotation["expr"]))
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            found.append((f"variable {variable['name']}", "", query if isinstance(query, str) else query["query"]))
    return found


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def check_names(rows: Iterable[Workload] = WORKLOADS) -> list[str]:
    """What would break the ``workload`` variable's regex: a name that is not a plain Kubernetes
    name, or one workload's name that is another's (a selection would match both)."""
    problems, seen = [], {}
    for row in rows:
        for name in dict.fromkeys((row.name, row.keda_name)):
            if not _NAME.match(name):
                problems.append(f"{row.name}: {name!r} is not a lower-case Kubernetes name")
            if seen.setdefault(name, row.name) != row.name:
                problems.append(f"{row.name}: {name!r} is also {seen[name]}'s")
    return problems
