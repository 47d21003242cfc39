"""KEDA's ScaledObjects and ScaledJobs as the rules read them: triggers, pause annotations, timings.

Parsed once from a manifest (``Scaler.from_manifest``), with KEDA's defaults for what a manifest
leaves out (``apis/keda/v1alpha1/scaledobject_types.go``, ``scaledjob_types.go``). And the names
KEDA gives what it creates and records: a trigger's external metric, the ``scaler`` label of its
metrics, the HPA of a ScaledObject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT  # the kinds, named once (re-exported here)
from kedasuite.keda.rules.scalersconfig import GO_FALSE

# KEDA's defaults when a manifest leaves a field out.
DEFAULT_POLLING_INTERVAL = 30


DEFAULT_COOLDOWN_PERIOD = 300


DEFAULT_MAX_REPLICAS = 100


DEFAULT_REDIS_LIST_LENGTH = 5


DEFAULT_KAFKA_LAG_THRESHOLD = 10


#: A ScaledJob's finished Jobs KEDA keeps, the succeeded and the failed ones each, unless
#: ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit`` say otherwise (``pkg/scaling/executor/scale_jobs.go``).
DEFAULT_JOBS_HISTORY_LIMIT = 100


STRATEGIES = ("default", "custom", "accurate", "eager")


def _number(value: Any, default: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return float(str(value).strip())


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Trigger:
    """One trigger of a ScaledObject / ScaledJob, its numbers read with KEDA's defaults."""

    name: str
    type: str
    #: What it measures: a Redis key (``listName``), a Kafka topic, a Prometheus query.
    source: str
    target: float
    activation: float
    metadata: Mapping[str, str] = field(default_factory=dict)
    metric_type: str = "AverageValue"
    #: ``useCachedMetrics``: the HPA gets the value of KEDA's last poll instead of a live read.
    use_cached_metrics: bool = False

    @classmethod
    def from_manifest(cls, index: int, spec: Mapping[str, Any]) -> Trigger:
        meta = trigger_metadata(spec)
        kind = str(spec.get("type", ""))
        if kind.startswith("redis"):
            source, target = meta.get("listName", ""), _number(meta.get("listLength"), DEFAULT_REDIS_LIST_LENGTH)
            activation = _number(meta.get("activationListLength"), 0)
        elif kind == "kafka":
            source, target = meta.get("topic", ""), _number(meta.get("lagThreshold"), DEFAULT_KAFKA_LAG_THRESHOLD)
            activation = _number(meta.get("activationLagThreshold"), 0)
        elif kind == "prometheus":
            source, target = meta.get("query", ""), _number(meta.get("threshold"), 0)
            activation = _number(meta.get("activationThreshold"), 0)
        elif kind == "metrics-api":
            # pkg/scalers/metrics_api_scaler.go: targetValue (optional as a scalingModifiers metric
            # source), activationTargetValue (default 0).
            source, target = meta.get("url", ""), _number(meta.get("targetValue"), 0)
            activation = _number(meta.get("activationTargetValue"), 0)
        else:
            source, target = "", _number(meta.get("value") or meta.get("threshold"), 0)
            activation = _number(meta.get("activationValue") or meta.get("activationThreshold"), 0)
        return cls(
            name=trigger_name(index, spec),
            type=kind,
            source=source,
            target=target,
            activation=activation,
            metadata=meta,
            metric_type=str(spec.get("metricType") or "AverageValue"),
            use_cached_metrics=str(spec.get("useCachedMetrics", "")).strip().lower() == "true",
        )


def trigger_name(index: int, spec: Mapping[str, Any]) -> str:
    """A trigger's ``name``, or the one KEDA's metric names use when it has none (``s0-redis``)."""
    return str(spec.get("name") or f"s{index}-{spec.get('type', '')}")


def trigger_metadata(spec: Mapping[str, Any]) -> dict[str, str]:
    """A trigger's ``metadata`` as strings (KEDA's map is of strings; the contract checks flag others)."""
    return {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}


#: The annotations KEDA v2.20.2 reads to pause or force scaling (``apis/keda/v1alpha1/scaledobject_types.go``).
PAUSED = "autoscaling.keda.sh/paused"


PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"


PAUSED_SCALE_IN = "autoscaling.keda.sh/paused-scale-in"


PAUSED_SCALE_OUT = "autoscaling.keda.sh/paused-scale-out"


FORCE_ACTIVATION = "autoscaling.keda.sh/force-activation"


PAUSE_ANNOTATIONS = (PAUSED, PAUSED_REPLICAS, PAUSED_SCALE_IN, PAUSED_SCALE_OUT, FORCE_ACTIVATION)


def get_bool_annotation(annotations: Mapping[str, Any], name: str) -> bool:
    """Whether a boolean annotation is set: absent is false, a Go boolean is itself, and any other
    value is true, so a typo still pauses. KEDA's ``getBoolAnnotation``
    (``apis/keda/v1alpha1/scaledobject_types.go``)."""
    if name not in annotations:
        return False
    return str(annotations[name]) not in GO_FALSE  # Go's false; anything else, a typo too, is true


@dataclass(frozen=True)
class Pause:
    """What an object's pause annotations ask of KEDA (``docs/keda-model.md#pause-annotations``).

    ``paused`` stops the scale loop and deletes the HPA, leaving the count where it is or, with
    ``replicas``, setting it to that; ``scale_in`` / ``scale_out`` block one direction only (KEDA's own
    step and, through a ``Disabled`` selectPolicy, the HPA's); ``force_activation`` makes every poll
    active. A ScaledJob reads ``autoscaling.keda.sh/paused`` alone."""

    paused: bool = False
    #: ``paused-replicas`` when it is a count; ``None`` without one (or when it does not parse).
    replicas: int | None = None
    #: ``paused-replicas`` as written when it is no count (KEDA pauses, but cannot set it).
    bad_replicas: str | None = None
    scale_in: bool = False
    scale_out: bool = False
    force_activation: bool = False
    #: The annotations as written, in :data:`PAUSE_ANNOTATIONS` order: what ``simulate`` shows.
    given: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_annotations(cls, kind: str, annotations: Mapping[str, Any] | None) -> Pause:
        """The pause a ScaledObject's or ScaledJob's annotations ask for. A ScaledObject is paused by
        ``paused-replicas`` whatever its value, or by ``paused`` read as a boolean
        (``NeedToBePausedByAnnotation``); a ScaledJob by ``paused`` only
        (``apis/keda/v1alpha1/scaledjob_types.go``)."""
        found = annotations or {}
        if kind == SCALED_JOB:
            names: tuple[str, ...] = (PAUSED,)
        else:
            names = PAUSE_ANNOTATIONS
        given = tuple((n, str(found[n])) for n in names if n in found)
        if kind == SCALED_JOB:
            return cls(paused=get_bool_annotation(found, PAUSED), given=given)
        replicas, bad = None, None
        if PAUSED_REPLICAS in found:
            raw = str(found[PAUSED_REPLICAS])
            # GetPausedReplicaCount: strconv.ParseInt(value, 10, 32); a negative count the scale
            # subresource refuses, so both leave the count where it is.
            if re.fullmatch(r"[+-]?[0-9]+", raw) and 0 <= int(raw) < 2**31:
                replicas = int(raw)
            else:
                bad = raw
        return cls(
            paused=PAUSED_REPLICAS in found or get_bool_annotation(found, PAUSED),
            replicas=replicas,
            bad_replicas=bad,
            scale_in=get_bool_annotation(found, PAUSED_SCALE_IN),
            scale_out=get_bool_annotation(found, PAUSED_SCALE_OUT),
            force_activation=get_bool_annotation(found, FORCE_ACTIVATION),
            given=given,
        )

    def text(self) -> str:
        """The annotations in words, e.g. ``autoscaling.keda.sh/paused-replicas=3``; empty without any."""
        return ", ".join(f"{name}={value}" for name, value in self.given)


@dataclass(frozen=True)
class Scaler:
    """A ScaledObject or a ScaledJob as rendered, with KEDA's defaults filled in."""

    kind: str
    name: str
    triggers: tuple[Trigger, ...]
    min_replicas: int = 0
    max_replicas: int = DEFAULT_MAX_REPLICAS
    polling_interval: float = DEFAULT_POLLING_INTERVAL
    #: ScaledObject only.
    cooldown_period: float = DEFAULT_COOLDOWN_PERIOD
    idle_replicas: int | None = None
    #: The Deployment a ScaledObject scales; empty for a ScaledJob.
    target: str = ""
    #: ScaledJob only: ``scalingStrategy``.
    strategy: str = "default"
    multiple_scalers_calculation: str = "max"
    custom_deduction: int = 0
    custom_running_percentage: float | None = None
    # Read by the time-stepped model (kedasuite.keda.model); kept as written in the manifest
    # (plain mappings), the model applies the defaults. ScaledObject only:
    #: ``initialCooldownPeriod``: after creation, no scale to 0 before this long (default 0).
    initial_cooldown_period: float = 0
    #: ``advanced.horizontalPodAutoscalerConfig.behavior``; ``None``: the HPA's legacy path.
    hpa_behavior: Mapping[str, Any] | None = None
    #: ``fallback`` (``failureThreshold``, ``replicas``, ``behavior``).
    fallback: Mapping[str, Any] | None = None
    #: ``advanced.scalingModifiers`` (``formula``, ``target``, ``activationTarget``, ``metricType``).
    scaling_modifiers: Mapping[str, Any] | None = None
    #: ScaledJob only: the Job's ``parallelism`` and ``completions`` (``None``: not set).
    job_parallelism: int | None = None
    job_completions: int | None = None
    #: ScaledJob only: ``scalingStrategy.pendingPodConditions``: a Job counts as pending until a pod of
    #: it has every one of these conditions true (empty: until a pod is Running or Succeeded).
    pending_pod_conditions: tuple[str, ...] = ()
    #: The ``autoscaling.keda.sh/paused…`` and ``force-activation`` annotations.
    pause: Pause = field(default_factory=Pause)
    #: ScaledObject only: ``advanced.horizontalPodAutoscalerConfig.name`` (empty: KEDA names the HPA).
    hpa_config_name: str = ""
    #: ScaledJob only: the finished Jobs KEDA keeps, succeeded and failed.
    successful_jobs_history_limit: int = DEFAULT_JOBS_HISTORY_LIMIT
    failed_jobs_history_limit: int = DEFAULT_JOBS_HISTORY_LIMIT

    @classmethod
    def from_manifest(cls, obj: Mapping[str, Any]) -> Scaler:
        spec = obj.get("spec") or {}
        kind = str(obj.get("kind"))
        triggers = tuple(Trigger.from_manifest(i, t) for i, t in enumerate(spec.get("triggers") or []))
        strategy = spec.get("scalingStrategy") or {}
        percentage = strategy.get("customScalingRunningJobPercentage")
        try:
            pct = float(percentage) if percentage not in (None, "") else None
        except ValueError:
            pct = None  # KEDA silently falls back to the default strategy
        idle = spec.get("idleReplicaCount")
        max_default = DEFAULT_MAX_REPLICAS
        return cls(
            kind=kind,
            name=str((obj.get("metadata") or {}).get("name", "")),
            triggers=triggers,
            min_replicas=int(_number(spec.get("minReplicaCount"), 0)),
            max_replicas=int(_number(spec.get("maxReplicaCount"), max_default)),
            polling_interval=_number(spec.get("pollingInterval"), DEFAULT_POLLING_INTERVAL),
            cooldown_period=_number(spec.get("cooldownPeriod"), DEFAULT_COOLDOWN_PERIOD)
            if kind == SCALED_OBJECT
            else 0,
            idle_replicas=int(idle) if idle is not None else None,
            target=str((spec.get("scaleTargetRef") or {}).get("name", "")),
            strategy=str(strategy.get("strategy") or "default"),
            multiple_scalers_calculation=str(strategy.get("multipleScalersCalculation") or "max"),
            custom_deduction=int(_number(strategy.get("customScalingQueueLengthDeduction"), 0)),
            custom_running_percentage=pct,
            pause=Pause.from_annotations(kind, (obj.get("metadata") or {}).get("annotations")),
            **_timed_fields(spec, kind),
        )


def _timed_fields(spec: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The fields only the time-stepped model reads (``kedasuite.keda.model``), as written."""
    advanced = spec.get("advanced") or {}
    job = spec.get("jobTargetRef") or {}

    def optional_int(value: Any) -> int | None:
        return None if value in (None, "") else int(_number(value, 0))

    if kind == SCALED_JOB:
        conditions = (spec.get("scalingStrategy") or {}).get("pendingPodConditions") or []
        return {
            "job_parallelism": optional_int(job.get("parallelism")),
            "job_completions": optional_int(job.get("completions")),
            "pending_pod_conditions": tuple(str(c) for c in conditions),
            "successful_jobs_history_limit": int(
                _number(spec.get("successfulJobsHistoryLimit"), DEFAULT_JOBS_HISTORY_LIMIT)
            ),
            "failed_jobs_history_limit": int(_number(spec.get("failedJobsHistoryLimit"), DEFAULT_JOBS_HISTORY_LIMIT)),
        }
    return {
        "initial_cooldown_period": _number(spec.get("initialCooldownPeriod"), 0),
        "hpa_behavior": (advanced.get("horizontalPodAutoscalerConfig") or {}).get("behavior"),
        "fallback": spec.get("fallback"),
        "scaling_modifiers": advanced.get("scalingModifiers") or None,
        "hpa_config_name": str((advanced.get("horizontalPodAutoscalerConfig") or {}).get("name") or ""),
    }


def scalers_in(objs: Iterable[Mapping[str, Any]]) -> list[Scaler]:
    """Every ScaledObject and ScaledJob among rendered manifests."""
    return [Scaler.from_manifest(o) for o in objs if o.get("kind") in (SCALED_OBJECT, SCALED_JOB)]


# --- The names KEDA gives what it creates and records ---------------------------------------------

#: The ``scaler`` label KEDA records for an unnamed trigger: the Go type of the scaler
#: ``buildScaler`` (``pkg/scaling/scalers_builder.go``) makes for the trigger's ``type``.
SCALER_TYPES = {
    "redis": "redisScaler",
    "redis-cluster": "redisScaler",
    "redis-sentinel": "redisScaler",
    "redis-streams": "redisStreamsScaler",
    "redis-cluster-streams": "redisStreamsScaler",
    "redis-sentinel-streams": "redisStreamsScaler",
    "kafka": "kafkaScaler",
    "apache-kafka": "apacheKafkaScaler",
    "prometheus": "prometheusScaler",
    "metrics-api": "metricsAPIScaler",
    "cpu": "cpuMemoryScaler",
    "memory": "cpuMemoryScaler",
    "cron": "cronScaler",
}
#: The ``scaler`` and ``metric`` KEDA records the composite metric of ``scalingModifiers`` under
#: (``CompositeMetricName``, ``apis/keda/v1alpha1/scaledobject_types.go``).
COMPOSITE_METRIC_NAME = "composite-metric"


def normalize_string(text: str) -> str:
    """A name made safe for a metric: slashes, dots, colons, percent signs and parentheses become
    dashes. KEDA's ``NormalizeString`` (``pkg/util/normalize_string.go``)."""
    for char in "/.:%()":
        text = text.replace(char, "-")
    return text


def generate_metric_name_with_index(trigger_index: int, metric_name: str) -> str:
    """The external metric's name: the trigger's index in front of its scaler's metric name, so two
    triggers on one list stay apart (``s0-redis-celery``). KEDA's ``GenerateMetricNameWithIndex``
    (``pkg/scalers/scaler.go``)."""
    return f"s{trigger_index}-{metric_name}"


def get_metric_spec_for_scaling(trigger_index: int, trigger: Trigger) -> str:
    """The name of the external metric a trigger's scaler declares to the HPA: what KEDA's metrics
    carry as ``metric``. Each scaler's ``GetMetricSpecForScaling``: redis ``redis-<listName>``
    (``pkg/scalers/redis_scaler.go``), kafka ``kafka-<topic>``, or ``kafka-<consumerGroup>-topics``
    without a topic (``pkg/scalers/kafka_scaler.go``), prometheus ``prometheus``
    (``prometheus_scaler.go``), metrics-api ``metric-api-<valueLocation>`` (``metrics_api_scaler.go``),
    each normalized. Another type gets its type name in that place (not modelled)."""
    meta = trigger.metadata
    if trigger.type in ("redis", "redis-cluster", "redis-sentinel"):
        name = f"redis-{meta.get('listName', '')}"
    elif trigger.type == "kafka":
        topic = meta.get("topic", "")
        name = f"kafka-{topic}" if topic else f"kafka-{meta.get('consumerGroup', '')}-topics"
    elif trigger.type == "prometheus":
        name = "prometheus"
    elif trigger.type == "metrics-api":
        name = f"metric-api-{meta.get('valueLocation', '')}"
    else:
        name = trigger.type
    return generate_metric_name_with_index(trigger_index, normalize_string(name))


def scaler_label(trigger_index: int, trigger: Trigger) -> str:
    """The ``scaler`` label of KEDA's metrics for a trigger: the trigger's ``name`` when the manifest
    gives one, else the scaler's Go type (``redisScaler``). As ``getScalerState`` and
    ``getScaledJobMetrics`` (``pkg/scaling/scale_handler.go``) pick it. (A trigger explicitly named
    like the placeholder :func:`trigger_name` gives, ``s0-redis``, reads as unnamed here.)"""
    if trigger.name != trigger_name(trigger_index, {"type": trigger.type}):
        return trigger.name
    return SCALER_TYPES.get(trigger.type, trigger.type)


def get_hpa_name(scaler: Scaler) -> str:
    """The name of the HPA KEDA creates for a ScaledObject: ``horizontalPodAutoscalerConfig.name``
    when set, else ``keda-hpa-<name>``. KEDA's ``getHPAName`` (``controllers/keda/hpa.go``)."""
    return scaler.hpa_config_name or f"keda-hpa-{scaler.name}"
