"""``kedasuite autoscale --metrics-port``: the series a cluster's KEDA, kube-state-metrics and
kafka-exporter serve, under their names and labels, taken from the model and the backend.

So one dashboard and one rule file read a cluster and a laptop alike (``docs/autoscale.md#metrics``).

* KEDA's own (``pkg/metricscollector/prommetrics.go`` of v2.20.2) are recorded step by step, as
  KEDA records them while it polls and answers the HPA (:class:`KedaRecorder`): a gauge keeps its
  last value through failed reads, an error counter counts what KEDA counts (including its
  quirks, see :meth:`KedaRecorder.record`).
* kube-state-metrics' HPA and Job series and kafka-exporter's lag describe the state at the end
  of the autoscaler's last pass (:func:`observed`): the model's replicas as the HPA's desired
  count, the backend's as its current one, the Jobs the backend runs and has finished, and the
  offsets the last kafka read fetched.

A scrape reads only what was taken then (:class:`AutoscaleMetrics`): it never waits for a broker
or a backend. :func:`families` builds the series from plain data and is what the tests check.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kedasuite.autoscale.actuator import JobStatus
from kedasuite.autoscale.targets import Target
from kedasuite.core import names
from kedasuite.core.errors import InputError
from kedasuite.core.names import Env
from kedasuite.core.workloads import SCALED_JOB
from kedasuite.keda.model import Step
from kedasuite.keda.rules.kafka import PartitionOffsets
from kedasuite.keda.rules.modifiers import Modifiers, handle_scaling_modifiers
from kedasuite.keda.rules.spec import (
    COMPOSITE_METRIC_NAME,
    Scaler,
    get_hpa_name,
    get_metric_spec_for_scaling,
    scaler_label,
)

if TYPE_CHECKING:
    from kedasuite.autoscale.actuator import Actuator

log = logging.getLogger(__name__)

#: The labels of KEDA's per-trigger series, in order (``metricLabels`` in prommetrics.go).
TRIGGER_LABELS = ("namespace", "metric", "scaledObject", "scaler", "triggerIndex", "type")
#: Label tuples: a series' label values in the order of its family's label names.
Labels = tuple[str, ...]


def resource_type(scaler: Scaler) -> str:
    """The ``type`` label: KEDA's ``getResourceType``."""
    return "scaledjob" if scaler.kind == SCALED_JOB else "scaledobject"


@dataclass
class Recorded:
    """What KEDA's collector holds, by family: label values → value."""

    values: dict[Labels, float] = field(default_factory=dict)
    active: dict[Labels, float] = field(default_factory=dict)
    scaler_errors: dict[Labels, float] = field(default_factory=dict)
    object_errors: dict[Labels, float] = field(default_factory=dict)
    job_errors: dict[Labels, float] = field(default_factory=dict)

    def copy(self) -> Recorded:
        return Recorded(
            dict(self.values),
            dict(self.active),
            dict(self.scaler_errors),
            dict(self.object_errors),
            dict(self.job_errors),
        )


class KedaRecorder:
    """KEDA's metric recording, fed with the model's steps instead of KEDA's own reads."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._lock = threading.Lock()
        self._recorded = Recorded()
        self._modifiers: dict[str, Modifiers | None] = {}

    def snapshot(self) -> Recorded:
        with self._lock:
            return self._recorded.copy()

    def record(self, scaler: Scaler, step: Step) -> None:
        """Record one step as KEDA records the reads behind it (``pkg/scaling/scale_handler.go``).

        * A ScaledObject's poll (``getScalerState``): per trigger read, its metric and its activity
          (fallback counts as active); a failed read adds 1 to the trigger's errors and 2 to the
          ScaledObject's (``RecordScalerError`` counts it once, ``getScaledObjectState`` again).
          With ``scalingModifiers`` the activity is the composite metric's, recorded under
          ``composite-metric``, and only when no trigger failed.
        * The HPA's request (``GetScaledObjectMetrics``): the metric of each trigger read; a failed
          read adds 1 to the trigger's errors and 1 to the ScaledObject's.
        * A ScaledJob's poll (``getScaledJobMetrics``): metric and activity per trigger read; a failed
          read adds 1 to the ScaledJob's errors and none to the trigger's (KEDA skips that call).

        Nothing is recorded while paused: KEDA's loop does not run."""
        if not step.triggers:
            return
        ns, name, kind = self.namespace, scaler.name, resource_type(scaler)
        by_name = {t.name: (i, t) for i, t in enumerate(scaler.triggers)}
        with self._lock:
            rec = self._recorded
            owner, owner_errors = ((ns, name), rec.job_errors if kind == "scaledjob" else rec.object_errors)
            owner_errors.setdefault(owner, 0.0)
            for state in step.triggers:
                index, trigger = by_name[state.name]
                metric, label = get_metric_spec_for_scaling(index, trigger), scaler_label(index, trigger)
                labels = (ns, metric, name, label, str(index), kind)
                failed = state.metric is None
                if kind == "scaledjob":
                    if failed:
                        owner_errors[owner] += 1
                        continue
                    rec.scaler_errors.setdefault(labels, 0.0)
                    rec.values[labels] = float(state.metric or 0.0)
                    rec.active[labels] = float(state.active)
                    continue
                if failed:
                    rec.scaler_errors[labels] = rec.scaler_errors.get(labels, 0.0) + 1
                    owner_errors[owner] += 2 if step.actor == "keda" else 1
                    continue
                rec.scaler_errors.setdefault(labels, 0.0)
                rec.values[labels] = float(state.metric or 0.0)
                if step.actor == "keda" and not scaler.scaling_modifiers:
                    rec.active[labels] = float(state.active)
            if step.actor == "keda" and scaler.scaling_modifiers:
                self._record_composite(scaler, step)

    def _record_composite(self, scaler: Scaler, step: Step) -> None:
        """``scalingModifiers``: the formula's value and activity, as one more series (under the lock)."""
        if scaler.name not in self._modifiers:
            self._modifiers[scaler.name] = Modifiers.from_manifest(scaler.scaling_modifiers, scaler.triggers)
        modifiers = self._modifiers[scaler.name]
        if modifiers is None or any(s.metric is None for s in step.triggers):
            return
        fallen = next((s.metric for s in step.triggers if s.fallback), None)
        value, active, _ = handle_scaling_modifiers(modifiers, {s.name: s.metric for s in step.triggers}, fallen)
        if value is None:
            return
        labels = (self.namespace, COMPOSITE_METRIC_NAME, scaler.name, COMPOSITE_METRIC_NAME, "0", "scaledobject")
        self._recorded.values[labels] = float(value)
        self._recorded.active[labels] = float(active)


@dataclass(frozen=True)
class Observed:
    """One target at the end of a pass: what kube-state-metrics and kafka-exporter would show of it."""

    scaler: Scaler
    #: ScaledObject: the model's replicas (the HPA's desired count) and the backend's (its current one).
    desired: int = 0
    current: int = 0
    #: ScaledObject: the HPA's ``minReplicas`` (``minReplicaCount``, at least 1).
    hpa_min: int = 1
    #: ScaledJob: its Jobs, running and finished (``None``: the backend cannot tell them apart).
    jobs: tuple[JobStatus, ...] | None = None
    #: The offsets the last read of a kafka trigger fetched (``None``: none, or it failed).
    offsets: tuple[PartitionOffsets, ...] | None = None


def consumergroup_lag(offsets: Sequence[PartitionOffsets]) -> dict[int, int]:
    """Each partition's lag as kafka-exporter reports it (``kafka_exporter.go``, danielqsj/kafka_exporter):
    the latest offset minus the group's committed one; -1 where the group committed nothing (so an
    alert can see it); no partition at all while the group committed nothing on the topic. A partition
    whose latest offset the broker did not give is left out."""
    if all(p.committed is None or p.committed < 0 for p in offsets):
        return {}
    lags = {}
    for p in offsets:
        if p.committed is None or p.committed < 0:
            lags[p.partition] = -1
        elif p.high_watermark is not None:
            lags[p.partition] = p.high_watermark - p.committed
    return lags


def observed(actuator: Actuator) -> list[Observed]:
    """Every target of ``actuator`` now, asking its backend (call it from the actuator's thread)."""
    out = []
    for tr in actuator.tracked:
        target, loop = tr.target, tr.loop
        offsets = None
        for trigger in target.scaler.triggers:
            value = tr.values.get(trigger.name)
            if (
                trigger.type == "kafka"
                and isinstance(value, tuple)
                and value
                and isinstance(value[0], PartitionOffsets)
            ):
                offsets = value
        if target.is_job:
            jobs = actuator.backend.job_statuses(target)
            out.append(Observed(loop.scaler, jobs=None if jobs is None else tuple(jobs), offsets=offsets))
        else:
            hpa_min = getattr(loop, "hpa_min", 1)
            current = actuator.backend.replicas(target)
            out.append(Observed(loop.scaler, loop.replicas, current, hpa_min, offsets=offsets))
    return out


def families(recorded: Recorded, seen: Iterable[Observed], namespace: str, group: str, topic: str) -> list[Any]:
    """Every series, as prometheus_client metric families: KEDA's from ``recorded``, kube-state-metrics'
    and kafka-exporter's from ``seen`` (the HPA's are left out while a ScaledObject is paused: KEDA
    deletes its HPA). ``group`` and ``topic`` are what the kafka reads read."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    def family(kind: type, name: str, text: str, labels: Sequence[str], rows: Mapping[Labels, float]) -> Any:
        fam = kind(name, text, labels=list(labels))
        for values, value in sorted(rows.items()):
            fam.add_metric(list(values), value)
        return fam

    gauge, counter = GaugeMetricFamily, CounterMetricFamily
    seen = list(seen)
    paused = {(namespace, o.scaler.name): float(o.scaler.pause.paused) for o in seen if o.scaler.kind != SCALED_JOB}
    hpa: dict[str, dict[Labels, float]] = {"desired": {}, "current": {}, "max": {}, "min": {}}
    jobs: dict[str, dict[Labels, float]] = {"owner": {}, "active": {}, "ready": {}, "succeeded": {}, "failed": {}}
    lag: dict[Labels, float] = {}
    for o in seen:
        if o.scaler.kind != SCALED_JOB and not o.scaler.pause.paused:
            key = (namespace, get_hpa_name(o.scaler))
            hpa["desired"][key], hpa["current"][key] = float(o.desired), float(o.current)
            hpa["max"][key], hpa["min"][key] = float(o.scaler.max_replicas), float(o.hpa_min)
        for job in o.jobs or ():
            key = (namespace, job.name)
            jobs["owner"][(*key, "ScaledJob", o.scaler.name, "true")] = 1.0
            jobs["active"][key], jobs["ready"][key] = float(job.active), float(job.ready)
            jobs["succeeded"][key], jobs["failed"][key] = float(job.succeeded), float(job.failed)
        for partition, value in consumergroup_lag(o.offsets or ()).items():
            lag[(group, topic, str(partition))] = float(value)
    hpa_labels, job_labels = ("namespace", "horizontalpodautoscaler"), ("namespace", "job_name")
    return [
        family(
            gauge,
            names.KEDA_SCALER_METRICS_VALUE,
            "The metric KEDA hands the HPA, per trigger.",
            TRIGGER_LABELS,
            recorded.values,
        ),
        family(
            gauge,
            names.KEDA_SCALER_ACTIVE,
            "Whether a trigger is active (1) or not (0).",
            TRIGGER_LABELS,
            recorded.active,
        ),
        family(
            counter,
            names.KEDA_SCALER_DETAIL_ERRORS,
            "Failed reads of a trigger.",
            TRIGGER_LABELS,
            recorded.scaler_errors,
        ),
        family(
            counter,
            names.KEDA_SCALED_OBJECT_ERRORS,
            "Errors of a ScaledObject's reads.",
            ("namespace", "scaledObject"),
            recorded.object_errors,
        ),
        family(
            counter,
            names.KEDA_SCALED_JOB_ERRORS,
            "Errors of a ScaledJob's reads.",
            ("namespace", "scaledJob"),
            recorded.job_errors,
        ),
        family(
            gauge,
            names.KEDA_SCALED_OBJECT_PAUSED,
            "Whether a ScaledObject is paused.",
            ("namespace", "scaledObject"),
            paused,
        ),
        family(
            gauge,
            names.KSM_HPA_DESIRED_REPLICAS,
            "The HPA's desired replicas: the model's.",
            hpa_labels,
            hpa["desired"],
        ),
        family(
            gauge, names.KSM_HPA_CURRENT_REPLICAS, "The replicas running: the backend's.", hpa_labels, hpa["current"]
        ),
        family(gauge, names.KSM_HPA_MAX_REPLICAS, "The HPA's maxReplicas.", hpa_labels, hpa["max"]),
        family(gauge, names.KSM_HPA_MIN_REPLICAS, "The HPA's minReplicas.", hpa_labels, hpa["min"]),
        family(
            gauge,
            names.KSM_JOB_OWNER,
            "The ScaledJob a Job belongs to.",
            (*job_labels, "owner_kind", "owner_name", "owner_is_controller"),
            jobs["owner"],
        ),
        family(gauge, names.KSM_JOB_ACTIVE, "A Job's pods running.", job_labels, jobs["active"]),
        family(gauge, names.KSM_JOB_READY, "A Job's pods ready.", job_labels, jobs["ready"]),
        family(gauge, names.KSM_JOB_SUCCEEDED, "A Job's pods that succeeded.", job_labels, jobs["succeeded"]),
        family(gauge, names.KSM_JOB_FAILED, "A Job's pods that failed.", job_labels, jobs["failed"]),
        family(
            gauge,
            names.KAFKA_CONSUMERGROUP_LAG,
            "A consumer group's lag per partition.",
            ("consumergroup", "topic", "partition"),
            lag,
        ),
    ]


class AutoscaleMetrics:
    """The collector ``kedasuite autoscale`` serves: hand :meth:`observe` to the actuator as its
    ``observe`` and :meth:`update` as its ``after_pass``."""

    def __init__(self, namespace: str, group: str, topic: str) -> None:
        self.namespace, self.group, self.topic = namespace, group, topic
        self.recorder = KedaRecorder(namespace)
        self._seen: list[Observed] = []

    def observe(self, target: Target, step: Step) -> None:
        self.recorder.record(target.scaler, step)

    def update(self, actuator: Actuator) -> None:
        self._seen = observed(actuator)

    def collect(self) -> list[Any]:
        return families(self.recorder.snapshot(), self._seen, self.namespace, self.group, self.topic)

    def serve(self, port: int, host: str = "0.0.0.0") -> Any:
        """Serve ``/metrics`` on ``port`` in a thread; the server (``shutdown()`` stops it)."""
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry()
        registry.register(self)  # type: ignore[arg-type]
        try:
            server, _thread = start_http_server(port, host, registry)
        except OSError as exc:
            raise InputError(
                f"cannot serve metrics on port {port}: {exc.strerror or exc}; choose another port with "
                f"--metrics-port or {Env.AUTOSCALE_METRICS_PORT} (0 turns metrics off)"
            ) from None
        log.info("serving KEDA's, kube-state-metrics' and kafka-exporter's series on %s:%d/metrics", host, port)
        return server
