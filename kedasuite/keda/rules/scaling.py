"""What KEDA and the HPA will decide, from a ScaledObject or ScaledJob and metric values.

Pure functions, no I/O: ``status`` (:mod:`kedasuite.tools.status`, with :mod:`kedasuite.keda.reads`) reads the metrics from the brokers and
hands them here; the tests feed hand-computed cases from the rules in ``docs/keda-model.md``
(KEDA v2.20.2; its sections #activation, #scaledobject-the-hpa and #scaledjob).

* A **ScaledObject** is *active* when any trigger's metric is strictly above its
  activation threshold. Active, KEDA wakes the target to ``max(min, 1)`` and the HPA takes
  over: per trigger it proposes ``ceil(M / T)`` (AverageValue), takes the largest
  proposal, and clamps it to ``[max(min, 1), max]``. Inactive, KEDA steps down to ``min``
  (or ``idleReplicaCount``) once ``cooldownPeriod`` has passed since it was last active.
* A **ScaledJob** creates Jobs at each poll: :func:`scaled_job_new_jobs` follows
  ``scale_jobs.go`` for the four strategies; with several triggers each one's share of Jobs is
  capped at ``maxReplicaCount`` before ``multipleScalersCalculation`` combines them
  (:func:`is_scaled_job_active`).
* The pause annotations (``autoscaling.keda.sh/paused``, ``paused-replicas``, ``paused-scale-in``,
  ``paused-scale-out``) and ``force-activation`` are read into :class:`Pause`.
* The ``kafka`` trigger's metric already carries the partition cap
  (:func:`kedasuite.keda.rules.kafka.keda_lag`): it is handed over as KEDA would hand it to the HPA.

What the predictions leave out, on purpose: the HPA's 10 % tolerance, its scale-up
limit and its 300 s scale-down window (they decide how fast the count moves, not where it settles),
and the current replica count, which only a cluster knows.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT  # the kinds, named once (re-exported here)
from kedasuite.keda.rules.hpa import (
    MetricInput,
    behavior_from_manifest,
    compute_replicas_for_metrics,
    metric_proposal,
    tolerances_for_hpa,
)

# KEDA's defaults when a manifest leaves a field out.
DEFAULT_POLLING_INTERVAL = 30
DEFAULT_COOLDOWN_PERIOD = 300
DEFAULT_MAX_REPLICAS = 100
DEFAULT_REDIS_LIST_LENGTH = 5
DEFAULT_KAFKA_LAG_THRESHOLD = 10

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
#: What Go's ``strconv.ParseBool`` reads as false; KEDA takes anything else (a typo too) as true.
GO_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def get_bool_annotation(annotations: Mapping[str, Any], name: str) -> bool:
    """Whether a boolean annotation is set: absent is false, a Go boolean is itself, and any other
    value is true, so a typo still pauses. KEDA's ``getBoolAnnotation``
    (``apis/keda/v1alpha1/scaledobject_types.go``)."""
    if name not in annotations:
        return False
    return str(annotations[name]) not in GO_FALSE


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
        }
    return {
        "initial_cooldown_period": _number(spec.get("initialCooldownPeriod"), 0),
        "hpa_behavior": (advanced.get("horizontalPodAutoscalerConfig") or {}).get("behavior"),
        "fallback": spec.get("fallback"),
        "scaling_modifiers": advanced.get("scalingModifiers") or None,
    }


def scalers_in(objs: Iterable[Mapping[str, Any]]) -> list[Scaler]:
    """Every ScaledObject and ScaledJob among rendered manifests."""
    return [Scaler.from_manifest(o) for o in objs if o.get("kind") in (SCALED_OBJECT, SCALED_JOB)]


# --- The formulas ---------------------------------------------------------------------------------


def is_active(value: float, activation: float) -> bool:
    """Whether a metric activates its ScaledObject or ScaledJob: only strictly above its activation
    value, so the default 0 wakes on the first item and a value at the threshold does not. Each
    scaler's ``GetMetricsAndActivity`` (``pkg/scalers/redis_scaler.go``, ``pkg/scalers/kafka_scaler.go``:
    metric > activation), and ``getScaledObjectState`` (``pkg/scaling/scale_handler.go``) for the
    composite metric of ``scalingModifiers``."""
    return value > activation


def get_scaled_object_state(
    trigger_active: Sequence[bool], trigger_error: Sequence[bool], composite_active: bool | None = None
) -> tuple[bool, bool]:
    """(active, error) of a ScaledObject at one poll: active when any trigger is, or with
    ``scalingModifiers`` when the composite metric is, and then never while a trigger errors (the
    formula has no value); an error when any trigger's read failed. KEDA's ``getScaledObjectState``
    (``pkg/scaling/scale_handler.go``)."""
    error = any(trigger_error)
    if composite_active is not None:
        return composite_active and not error, error
    return any(trigger_active), error


def get_hpa_min_replicas(min_replica_count: int) -> int:
    """The ``minReplicas`` of the HPA KEDA creates, and the count it wakes a target at 0 to:
    ``minReplicaCount`` when above 0, else 1 (an HPA cannot hold 0; KEDA takes that step
    itself). KEDA's ``GetHPAMinReplicas`` (``apis/keda/v1alpha1/scaledobject_types.go``)."""
    return min_replica_count if min_replica_count > 0 else 1


def new_hpa_behavior(scaler: Scaler) -> Mapping[str, Any] | None:
    """The ``behavior`` of the HPA KEDA creates, as a manifest would write it: the ScaledObject's own
    (``None``: the HPA's legacy path), with ``selectPolicy: Disabled`` on scale-down under
    ``paused-scale-in`` and on scale-up under ``paused-scale-out``, creating the behavior if there is
    none (so a paused direction also moves the other onto the behavior path and its defaults).
    KEDA's ``newHPAForScaledObject`` (``controllers/keda/hpa.go``)."""
    if not (scaler.pause.scale_in or scaler.pause.scale_out):
        return scaler.hpa_behavior
    given = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (scaler.hpa_behavior or {}).items()}
    for direction, paused in (("scaleDown", scaler.pause.scale_in), ("scaleUp", scaler.pause.scale_out)):
        if paused:
            given[direction] = {**(given.get(direction) or {}), "selectPolicy": "Disabled"}
    return given


def hpa_proposal(metric: float, target: float) -> int:
    """One AverageValue metric's proposal: ``ceil(M / T)`` (the HPA's tolerance aside)."""
    if target <= 0:
        raise ValueError("the trigger's target must be positive")
    return math.ceil(metric / target) if metric > 0 else 0


def hpa_replicas(proposals: Sequence[int], min_replicas: int, max_replicas: int) -> int:
    """The HPA's choice: the largest proposal, clamped to ``[max(min, 1), max]``."""
    return min(max_replicas, max(get_hpa_min_replicas(min_replicas), *proposals))


def scaled_job_replica_counts(min_replicas: int, max_replicas: int) -> tuple[int, int]:
    """``(MIN, MAXC)`` of a ScaledJob: ``minReplicaCount`` and the Jobs its strategies may add on top,
    ``maxReplicaCount - minReplicaCount``; a minimum above the maximum becomes the maximum, and
    ``MAXC`` is then the whole maximum. KEDA's ``ScaledJob.MinReplicaCount`` and
    ``ScaledJob.MaxReplicaCount`` (``apis/keda/v1alpha1/scaledjob_types.go``)."""
    if min_replicas > max_replicas:
        return max_replicas, max_replicas
    return min_replicas, max_replicas - min_replicas


@dataclass(frozen=True)
class ScalerMetrics:
    """One ScaledJob trigger's numbers for a poll: its queue ``q``, ``min(q / T, MAXC)``, and whether
    it is active. KEDA's ``scaledjob.ScalerMetrics`` (``pkg/scaling/scaledjob/metrics.go``)."""

    queue_length: float
    max_value: float
    is_active: bool


def calculate_queue_length_and_max_value(queue: float, target: float, max_count: int) -> tuple[float, float]:
    """``(q, min(q / T, MAXC))`` for one trigger: each trigger's share of Jobs is capped at ``MAXC``
    *before* the triggers are combined, so one huge queue cannot outweigh the rest under ``avg`` or
    ``sum``. A target of 0 gives 0. KEDA's ``CalculateQueueLengthAndMaxValue``
    (``pkg/scaling/scaledjob/metrics.go``), called per trigger by ``getScaledJobMetrics``
    (``pkg/scaling/scale_handler.go``)."""
    if target == 0:
        return queue, 0.0
    return queue, min(queue / target, max_count)


def is_scaled_job_active(
    metrics: Sequence[ScalerMetrics], calculation: str, min_count: int, max_count: int
) -> tuple[bool, int, int]:
    """``(active, scaleTo, maxScale)`` of a ScaledJob from its triggers' numbers, combining the active
    ones by ``multipleScalersCalculation``: ``max`` the trigger with the longest queue, ``min`` the
    shortest, ``avg`` and ``sum`` the queues and the capped values separately; then ``maxScale`` is
    capped at ``MAXC`` again and both are rounded up. Active when a trigger is, or ``MIN > 0``. Ties and
    empty queues follow upstream's comparisons as written (under ``max`` an active trigger with an
    empty queue is not picked, so it does not make the ScaledJob active). KEDA's
    ``IsScaledJobActive`` (``pkg/scaling/scaledjob/metrics.go``)."""
    queue = value = 0.0
    active = False
    live = [m for m in metrics if m.is_active]
    if calculation == "min":
        for m in live:
            if queue == 0 or m.queue_length < queue:
                queue, value, active = m.queue_length, m.max_value, True
    elif calculation in ("avg", "sum"):
        if live:
            queue = sum(m.queue_length for m in live)
            value = sum(m.max_value for m in live)
            active = True
            if calculation == "avg":
                queue, value = queue / len(live), value / len(live)
    else:
        for m in live:
            if m.queue_length > queue:
                queue, value, active = m.queue_length, m.max_value, True
    if min_count > 0:
        active = True
    value = min(value, max_count)
    return active, math.ceil(queue), math.ceil(value)


def get_effective_max_scale(
    strategy: str,
    max_scale: int,
    running: int,
    pending: int,
    max_count: int,
    scale_to: int,
    deduction: int = 0,
    running_percentage: float | None = None,
) -> tuple[int, int]:
    """``(E, scaleTo)``: how many Jobs a strategy lets this poll create at most, and how many it asks
    for, from ``maxScale``, the running Jobs above the minimum (``r``), the pending ones (``P``) and
    ``MAXC``. ``default``: ``maxScale - r`` (the queue is taken to count the items running Jobs hold);
    ``accurate``: ``MAXC - r`` when ``maxScale + r - P > MAXC``, else ``maxScale - P``; ``eager``:
    ``min(MAXC - r - P, maxScale)`` and asks for ``MAXC``; ``custom``: ``min(maxScale - deduction -
    trunc(r × percentage), MAXC)``, or ``default`` without a percentage. Each strategy's
    ``GetEffectiveMaxScale`` and ``NewScalingStrategy`` (``pkg/scaling/executor/scale_jobs.go``)."""
    if strategy == "custom" and running_percentage is None:
        strategy = "default"
    if strategy == "accurate":
        if max_scale + running - pending > max_count:
            return max_count - running, scale_to
        return max_scale - pending, scale_to
    if strategy == "eager":
        return min(max_count - running - pending, max_scale), max_count
    if strategy == "custom":
        return min(max_scale - deduction - math.trunc(running * (running_percentage or 0.0)), max_count), scale_to
    return max_scale - running, scale_to


def get_scaling_decision(
    running: int,
    scale_to: int,
    max_scale: int,
    pending: int,
    min_count: int,
    max_count: int,
    strategy: str = "default",
    deduction: int = 0,
    running_percentage: float | None = None,
) -> tuple[int, int]:
    """``(E, scaleTo)`` for one poll: below ``minReplicaCount`` running Jobs, exactly the Jobs missing
    (whatever the queue); otherwise the strategy's, over the running Jobs above the minimum. KEDA's
    ``getScalingDecision`` (``pkg/scaling/executor/scale_jobs.go``)."""
    if running < min_count:
        return min_count - running, min_count - running
    return get_effective_max_scale(
        strategy, max_scale, running - min_count, pending, max_count, scale_to, deduction, running_percentage
    )


@dataclass(frozen=True)
class PodStatus:
    """What KEDA looks at in a Job's pod to tell whether the Job is still pending: its phase and the
    types of its conditions whose status is ``True``."""

    phase: str = ""
    conditions: frozenset[str] = frozenset()


def is_job_pending(pods: Sequence[PodStatus], pending_pod_conditions: Sequence[str] = ()) -> bool:
    """Whether one unfinished Job counts as pending (``P``). With ``pendingPodConditions``: until one of
    its pods has every one of them true (a name listed twice can never be met: upstream compares the
    count of distinct conditions met with the length of the list); without: until one of its pods is
    Running or Succeeded, so a Failed, Pending or Unknown pod leaves it pending. KEDA's
    ``getPendingJobCount``, ``areAllPendingPodConditionsFulfilled`` and ``isAnyPodRunningOrCompleted``
    (``pkg/scaling/executor/scale_jobs.go``)."""
    if pending_pod_conditions:
        required = set(pending_pod_conditions)
        return not any(len(required & pod.conditions) == len(pending_pod_conditions) for pod in pods)
    return not any(pod.phase in ("Running", "Succeeded") for pod in pods)


def create_jobs(active: bool, scale_to: int, effective_max_scale: int) -> int:
    """How many Jobs a poll creates: ``min(scaleTo, E)`` when active and ``E > 0``, else none: a poll
    never deletes Jobs. KEDA's ``RequestJobScale`` and ``createJobs``
    (``pkg/scaling/executor/scale_jobs.go``)."""
    effective = max(effective_max_scale, 0)
    if not active or effective <= 0:
        return 0
    return min(scale_to, effective)


def scaled_job_new_jobs(
    queue: float,
    target: float,
    max_replicas: int,
    running: int = 0,
    pending: int = 0,
    min_replicas: int = 0,
    active: bool = True,
    strategy: str = "default",
    deduction: int = 0,
    running_percentage: float | None = None,
) -> int:
    """How many Jobs a ScaledJob with one trigger creates at one poll (``scale_jobs.go``, KEDA v2.20.2).

    ``queue`` and ``target`` are the trigger's ``q`` and its target; ``running``
    (``R``) counts unfinished Jobs, ``pending`` (``P``) those with no pod running yet:

    * ``MIN = min(minReplicaCount, max)``; ``MAXC = max - MIN`` (``max`` when MIN > max);
    * ``maxScale = ceil(min(q / T, MAXC))``; ``scaleTo = ceil(q)`` (the raw queue length);
    * if ``R < MIN``: ``MIN - R`` Jobs; else with ``r = R - MIN`` the strategy gives the
      effective maximum ``E`` (default ``maxScale - r``; accurate ``MAXC - r`` when
      ``maxScale + r - P > MAXC`` else ``maxScale - P``; eager ``min(MAXC - r - P, maxScale)``
      with ``scaleTo = MAXC``; custom ``min(maxScale - deduction - trunc(r * pct), MAXC)``);
    * Jobs are created only when active (or ``MIN > 0``): ``min(scaleTo, max(E, 0))``.

    The steps are :func:`calculate_queue_length_and_max_value`, :func:`get_scaling_decision` and
    :func:`create_jobs`; one trigger needs no :func:`is_scaled_job_active` to combine it.
    """
    if target <= 0:
        raise ValueError("the trigger's target must be positive")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown scalingStrategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    minimum, max_count = scaled_job_replica_counts(min_replicas, max_replicas)
    q, value = calculate_queue_length_and_max_value(queue, target, max_count)
    active = active or minimum > 0
    effective, scale_to = get_scaling_decision(
        running,
        math.ceil(q),
        math.ceil(min(value, max_count)),
        pending,
        minimum,
        max_count,
        strategy,
        deduction,
        running_percentage,
    )
    return create_jobs(active, scale_to, effective)


# --- Decisions over readings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A trigger's metric right now, as KEDA would hand it to the HPA, or why it is unknown."""

    trigger: Trigger
    metric: float | None
    #: For activation, when it differs from ``metric`` (kafka compares the uncapped lag).
    activation_metric: float | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        value = self.activation_metric if self.activation_metric is not None else self.metric
        return value is not None and is_active(value, self.trigger.activation)


@dataclass(frozen=True)
class Decision:
    """What KEDA (and the HPA, for a ScaledObject) would target given the readings."""

    active: bool
    #: Replicas a ScaledObject settles at, or Jobs a ScaledJob creates at its next poll;
    #: ``None`` when a trigger error leaves KEDA keeping the current count.
    count: int | None
    unit: str
    proposals: Mapping[str, int | None]
    reason: str


def _reading_text(r: Reading) -> str:
    if r.metric is None:
        return f"{r.trigger.name}: unreadable ({r.error})"
    shown = r.activation_metric if r.activation_metric is not None else r.metric
    op = ">" if r.active else "<="
    return f"{r.trigger.name} {_fmt(shown)} {op} activation {_fmt(r.trigger.activation)}"


def hpa_tolerances(scaler: Scaler) -> tuple[float, float]:
    """The (up, down) tolerance of the HPA KEDA makes for ``scaler``: its behavior's own, else the
    controller's. A behavior the manifest check refuses counts as none here (the check names it)."""
    try:
        behavior = behavior_from_manifest(scaler.hpa_behavior)
    except InputError:
        behavior = None
    return tolerances_for_hpa(behavior)


def decide_scaled_object(scaler: Scaler, readings: Sequence[Reading], current: int | None = None) -> Decision:
    """KEDA's activation and the HPA's target for a ScaledObject (docs/keda-model.md#scaledobject-the-hpa).

    With ``current``, the replicas running, each proposal is the HPA's own at that count
    (:func:`~kedasuite.keda.rules.hpa.compute_replicas_for_metrics`, the model's rule: its
    tolerance included); without it, ``ceil(M / T)``, as no tolerance can apply.

    Paused (``paused``, ``paused-replicas``) the count is the paused one, or the current one; with a
    direction paused (``paused-scale-in`` / ``-out``) it cannot move that way from ``current``, and
    without ``current`` it is unknown. :class:`Pause` names the upstream functions."""
    if scaler.scaling_modifiers:
        decision = _decide_with_modifiers(scaler, readings, current)
    else:
        decision = _decide_unpaused(scaler, readings, current)
    pause = scaler.pause
    if pause.paused:
        if pause.replicas is not None:
            how = f"KEDA sets {pause.replicas} replicas and leaves them"
        elif pause.bad_replicas is not None:
            how = f"{PAUSED_REPLICAS} {pause.bad_replicas!r} is no count, so KEDA leaves the current count"
        else:
            how = "KEDA leaves the current count"
        reason = f"paused ({pause.text()}): no scale loop and no HPA, {how}; unpaused: {decision.reason}"
        return dataclasses.replace(decision, count=pause.replicas, reason=reason)
    blocked = [
        (word, name)
        for word, name, on in (("up", PAUSED_SCALE_OUT, pause.scale_out), ("down", PAUSED_SCALE_IN, pause.scale_in))
        if on
    ]
    if not blocked or decision.count is None:
        return decision
    words = " or ".join(word for word, _ in blocked)
    names = ", ".join(name for _, name in blocked)
    if current is None:
        reason = f"{decision.reason}; but {names}: the count cannot go {words} from the current one, unknown here"
        return dataclasses.replace(decision, count=None, reason=reason)
    count = decision.count
    if pause.scale_out:
        count = min(count, current)
    if pause.scale_in:
        count = max(count, current)
    if count == decision.count:
        return decision
    reason = f"{decision.reason}; but {names}: the count cannot go {words} from {current}, so {count}"
    return dataclasses.replace(decision, count=count, reason=reason)


def _decide_with_modifiers(scaler: Scaler, readings: Sequence[Reading], current: int | None) -> Decision:
    """With ``scalingModifiers`` the HPA scales on the composite metric alone and its activity decides
    (``getScaledObjectState``); the triggers are metric sources with no target of their own."""
    from kedasuite.keda.rules.modifiers import Modifiers, handle_scaling_modifiers  # it imports this module

    proposals: dict[str, int | None] = {r.trigger.name: None for r in readings}
    why = "; ".join(_reading_text(r) for r in readings)
    try:
        modifiers = Modifiers.from_manifest(scaler.scaling_modifiers, scaler.triggers)
    except InputError as exc:
        return Decision(False, None, "replicas", proposals, f"{why}: {exc.message}")
    assert modifiers is not None
    value, active, how = handle_scaling_modifiers(modifiers, {r.trigger.name: r.metric for r in readings})
    active = active or scaler.pause.force_activation
    if any(r.metric is None for r in readings):
        reason = f"{why}; {how}: KEDA keeps the current count while a trigger errors (no fallback here)"
        return Decision(False, None, "replicas", proposals, reason)
    if active:
        if value is None:
            proposal: int | None = None
        elif current:
            proposal, _ = metric_proposal(
                value, modifiers.target, current, modifiers.metric_type, *hpa_tolerances(scaler)
            )
        else:
            proposal = hpa_proposal(value, modifiers.target) if modifiers.metric_type != "Value" else None
        count = hpa_replicas([proposal] if proposal is not None else [], scaler.min_replicas, scaler.max_replicas)
        floor = get_hpa_min_replicas(scaler.min_replicas)
        reason = (
            f"{why}; {how}: active; composite metric over target {_fmt(modifiers.target)} asks for {proposal}, "
            f"within [{floor}, {scaler.max_replicas}] = {count}"
        )
        return Decision(True, count, "replicas", proposals, reason)
    rest = scaler.idle_replicas if scaler.idle_replicas is not None else scaler.min_replicas
    reason = (
        f"{why}; {how}: inactive; {rest} replicas once cooldownPeriod {_fmt(scaler.cooldown_period)} s "
        "has passed since it was last active"
    )
    return Decision(False, rest, "replicas", proposals, reason)


def _decide_unpaused(scaler: Scaler, readings: Sequence[Reading], current: int | None) -> Decision:
    proposals: dict[str, int | None] = {r.trigger.name: None for r in readings}
    hows: dict[str, str] = {}
    if current:
        _, computed, _ = compute_replicas_for_metrics(
            [MetricInput(r.trigger.name, r.metric, r.trigger.target, r.trigger.metric_type) for r in readings],
            current,
            *hpa_tolerances(scaler),
        )
        proposals |= {name: n for name, n, _ in computed}
        hows = {name: how for name, _, how in computed}
    else:
        # A Value metric's proposal, ceil(readyPods * M / T), depends on the pods running: unknown here.
        proposals |= {
            r.trigger.name: hpa_proposal(r.metric, r.trigger.target)
            for r in readings
            if r.metric is not None and r.trigger.metric_type != "Value"
        }
    # NeedToForceActivation (RequestScale): autoscaling.keda.sh/force-activation makes every poll active.
    active = any(r.active for r in readings) or scaler.pause.force_activation
    errors = [r for r in readings if r.metric is None]
    why = "; ".join(_reading_text(r) for r in readings)
    known = [p for p in proposals.values() if p is not None]
    if active:
        count = hpa_replicas(known, scaler.min_replicas, scaler.max_replicas)
        terms = ", ".join(
            hows.get(r.trigger.name) or f"ceil({_fmt(r.metric)}/{_fmt(r.trigger.target)})={proposals[r.trigger.name]}"
            for r in readings
            if proposals.get(r.trigger.name) is not None
        )
        floor = get_hpa_min_replicas(scaler.min_replicas)
        reason = f"{why}: active; max({terms}) within [{floor}, {scaler.max_replicas}] = {count}"
        if errors:
            reason += " (an unreadable trigger may raise it)"
        return Decision(True, count, "replicas", proposals, reason)
    if errors:
        return Decision(
            False,
            None,
            "replicas",
            proposals,
            f"{why}: KEDA keeps the current count while a trigger errors (no fallback here)",
        )
    rest = scaler.idle_replicas if scaler.idle_replicas is not None else scaler.min_replicas
    reason = (
        f"{why}: inactive; {rest} replicas once cooldownPeriod {_fmt(scaler.cooldown_period)} s "
        "has passed since it was last active"
    )
    return Decision(False, rest, "replicas", proposals, reason)


def decide_scaled_job(scaler: Scaler, readings: Sequence[Reading], running: int = 0, pending: int = 0) -> Decision:
    """How many Jobs KEDA creates at its next poll (docs/keda-model.md#scaledjob), given ``running`` /
    ``pending`` Jobs: each readable trigger's numbers (:func:`calculate_queue_length_and_max_value`),
    combined (:func:`is_scaled_job_active`), through the strategy (:func:`get_scaling_decision`). A
    paused ScaledJob creates none: KEDA stops its scale loop (``checkIfPaused``,
    ``controllers/keda/scaledjob_controller.go``)."""
    if scaler.strategy not in STRATEGIES:
        raise ValueError(f"unknown scalingStrategy {scaler.strategy!r}: one of {', '.join(STRATEGIES)}")
    proposals: dict[str, int | None] = {}
    usable = [r for r in readings if r.metric is not None and r.trigger.metric_type != "Value"]
    for r in readings:
        proposals[r.trigger.name] = (
            math.ceil(min(r.metric / r.trigger.target, scaler.max_replicas)) if r in usable else None
        )
    why = "; ".join(_reading_text(r) for r in readings)
    if scaler.pause.paused:
        reason = f"paused ({scaler.pause.text()}): KEDA's scale loop is stopped, no Jobs are created"
        return Decision(False, 0, "jobs", proposals, reason)
    minimum, max_count = scaled_job_replica_counts(scaler.min_replicas, scaler.max_replicas)
    metrics = [
        ScalerMetrics(*calculate_queue_length_and_max_value(r.metric or 0.0, r.trigger.target, max_count), r.active)
        for r in usable
    ]
    active, queue_length, max_scale = is_scaled_job_active(
        metrics, scaler.multiple_scalers_calculation, minimum, max_count
    )
    effective, scale_to = get_scaling_decision(
        running,
        queue_length,
        max_scale,
        pending,
        minimum,
        max_count,
        scaler.strategy,
        scaler.custom_deduction,
        scaler.custom_running_percentage,
    )
    jobs = create_jobs(active, scale_to, effective)
    state = "active" if active else "inactive"
    live = [r for r in usable if r.active]
    if len(live) > 1:
        queue = (
            f"{scaler.multiple_scalers_calculation} of {len(live)} active triggers: queue {queue_length}, "
            f"{max_scale} Jobs' worth (each trigger's capped at {max_count} first)"
        )
    else:
        q = (live[0].metric or 0.0) if live else 0.0
        t = live[0].trigger.target if live else next((r.trigger.target for r in usable), 1.0)
        queue = f"queue {_fmt(q)}, target {_fmt(t)}"
    reason = (
        f"{why}: {state}; {scaler.strategy} strategy, {queue}, "
        f"max {scaler.max_replicas}, {running} running ({pending} pending): {jobs} new Jobs"
    )
    return Decision(active, jobs, "jobs", proposals, reason)


def decide(
    scaler: Scaler,
    readings: Sequence[Reading],
    running_jobs: int = 0,
    pending_jobs: int = 0,
    replicas: int | None = None,
) -> Decision:
    """``replicas``: a ScaledObject's replicas running, when known (the HPA's tolerance compares with them)."""
    if scaler.kind == SCALED_JOB:
        return decide_scaled_job(scaler, readings, running_jobs, pending_jobs)
    return decide_scaled_object(scaler, readings, replicas)
