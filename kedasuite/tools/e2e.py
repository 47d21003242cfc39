"""The end-to-end test on a real cluster: what to expect from KEDA, and whether it happened.

``scripts/e2e`` sets up a kind cluster with KEDA and the suite, then runs
``python -m kedasuite.tools.e2e run``. For each workload that does, as KEDA's own e2e tests
do, four things and checks each:

1. **idle**: nothing to do, so the workload stays at 0 replicas (0 running Jobs);
2. **below activation**: a load of at most the activation threshold keeps it at 0, since
   KEDA activates only when a metric is *strictly* above it;
3. **scale-out**: a burst scales it out to the count the KEDA/HPA formulas predict,
   within a deadline derived from ``pollingInterval`` and the HPA's scale-up rate;
4. **scale-in**: once the backlog is drained it returns to 0 within ``cooldownPeriod``
   plus one polling interval plus a margin (a ScaledJob: every Job completes, none fails),
   and every item pumped was processed.

The orchestration only *acts* (pumps, waits) and writes a timeline: one CSV row per
reading (time, workload, backlog, in-flight, replicas, failed Jobs) plus *mark* rows for
what it did and when. The verdicts come afterwards, from pure functions over that file
(:func:`evaluate`), so ``python -m kedasuite.tools.e2e check artifacts/e2e-timeline.csv``
re-judges a saved run and the tests feed the same functions hand-made timelines.

The formulas follow KEDA v2.20.2 (docs/keda-model.md#scaledobject-the-hpa and #scaledjob):

* ScaledObject, one AverageValue trigger: the HPA wants ``ceil(M / T)`` replicas, clamped
  to ``[max(min, 1), max]``; KEDA itself only moves 0 <-> N, activating when ``M > A`` and
  dropping to ``min`` once no trigger was active for ``cooldownPeriod``.
* kafka: the scaler caps ``M`` at ``P * T`` when ``floor(M / T) > P`` (integer division,
  so a lag between ``P*T`` and ``(P+1)*T`` passes uncapped and the HPA may ask for
  ``P + 1``; ``maxReplicaCount`` is what finally stops it).
* ScaledJob, ``accurate`` strategy: see :func:`expected_jobs_accurate`.

The live ScaledObjects and the ScaledJob are read from the cluster at the start, so the
expectations follow the manifests as deployed (one that cannot be read stops the run:
nothing would scale). :data:`DEFAULT_SPECS`, the values the manifests are meant to have,
serves ``plan`` and the tests.

Nothing here reads anything outside the repository; kubectl is the only external program.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

from kedasuite.core import defaults

from kedasuite.keda import scaling
from kedasuite.core.names import (
    CELERY_QUEUE,
    CELERY_UNACKED_HASH,
    KAFKA_CONSUMER_GROUP,
    KAFKA_TOPIC,
    RECORD_KEY_PREFIX,
    RQ_QUEUE_LIST,
    RQ_STARTED_REGISTRY,
    WORKLOAD_CELERY,
    WORKLOAD_KAFKA,
    WORKLOAD_RQ,
    WORKLOAD_WORKQUEUE,
    WORKQUEUE_LIST,
    WORKQUEUE_PROCESSING,
)
from kedasuite.keda.scaling import kafka_capped_metric, scaled_job_new_jobs

#: The order in which workloads are run and reported.
WORKLOADS: tuple[str, ...] = (WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE)

SCALED_OBJECT = "ScaledObject"
SCALED_JOB = "ScaledJob"

#: The namespace ``k8s/overlays/local`` deploys into.
NAMESPACE = "kedasuite"
#: Deployments of the brokers and the pump (``kubectl exec deploy/...``).
REDIS_DEPLOYMENT = "redis"
PUMP_DEPLOYMENT = "pump"
#: The Kafka bootstrap address inside the cluster (the ``kafka`` Service).
KAFKA_SERVICE_BOOTSTRAP = "kafka:9092"
#: KEDA labels the Jobs (and their pods) a ScaledJob creates with this.
SCALED_JOB_LABEL = "scaledjob.keda.sh/name"

#: The Kubernetes HPA controller's default sync period (``--horizontal-pod-autoscaler-sync-period``).
HPA_SYNC_SECONDS = 15.0

# KEDA's defaults when a ScaledObject / ScaledJob or a trigger leaves a field out.
KEDA_DEFAULT_POLLING_INTERVAL = scaling.DEFAULT_POLLING_INTERVAL
KEDA_DEFAULT_COOLDOWN_PERIOD = scaling.DEFAULT_COOLDOWN_PERIOD
KEDA_DEFAULT_MAX_REPLICAS = scaling.DEFAULT_MAX_REPLICAS
KEDA_DEFAULT_REDIS_LIST_LENGTH = scaling.DEFAULT_REDIS_LIST_LENGTH
KEDA_DEFAULT_KAFKA_LAG_THRESHOLD = scaling.DEFAULT_KAFKA_LAG_THRESHOLD


# --------------------------------------------------------------------------------------------
# What KEDA decides
# --------------------------------------------------------------------------------------------


def expected_replicas_scaledobject(metric: int, target: int, min_replicas: int = 0, max_replicas: int = 100,
                                   partitions: int | None = None, activation: int | None = None) -> int:
    """The replica count a ScaledObject with one AverageValue trigger settles at for ``metric``.

    ``min(max, max(min, ceil(M / T)))``, with two refinements from KEDA:

    * ``partitions`` (kafka): the scaler caps the metric first (:func:`kafka_capped_metric`);
    * ``activation``: at ``M <= A`` KEDA does not activate, so a workload at zero stays at
      ``min``; above it the HPA's floor is ``max(min, 1)``: even ``A < M < T`` gets 1 replica.

    HPA tolerance (10 %) and scale-up rate limits decide how fast, not where it settles.
    """
    if target <= 0:
        raise ValueError("the trigger's target must be positive")
    if activation is not None and metric <= activation:
        return min_replicas
    m = kafka_capped_metric(metric, target, partitions) if partitions is not None else metric
    if m <= 0:
        return min_replicas
    return min(max_replicas, max(min_replicas, 1, math.ceil(m / target)))


def expected_jobs_accurate(queue_len: int, target: int, max_replicas: int, running: int = 0, pending: int = 0,
                           min_replicas: int = 0, activation: int = 0) -> int:
    """How many Jobs a ScaledJob with the ``accurate`` strategy creates at one poll.

    KEDA v2.20.2, one trigger (``pkg/scaling/executor/scale_jobs.go``):

    * ``MIN = min(minReplicaCount, max)``; ``MAXC = max - MIN`` (``max`` when MIN > max);
    * ``m = min(q / T, MAXC)``; ``maxScale = ceil(m)``; ``scaleTo = ceil(q)`` (the raw queue
      length, not divided by the target);
    * with ``R`` running (unfinished) Jobs and ``P`` of them pending (no pod running yet):
      if ``R < MIN`` the top-up is ``MIN - R``; else with ``r = R - MIN``,
      ``E = MAXC - r`` if ``maxScale + r - P > MAXC`` else ``E = maxScale - P``;
    * Jobs are created only when active (``q > A``, or ``MIN > 0``): ``min(scaleTo, E)``.

    ``accurate`` assumes the queue *excludes* items running Jobs already hold, which is
    true of the work queue: a runner moves each item it leases to ``job:processing``.
    """
    return scaled_job_new_jobs(queue_len, target, max_replicas, running, pending, min_replicas,
                               active=queue_len > activation, strategy="accurate")


def hpa_scale_up_limit(current: int) -> int:
    """The most replicas the HPA allows one sync after ``current`` with the default behavior.

    Default scaleUp policies: +100 % or +4 pods per 15 s, whichever is larger.
    """
    return max(current + 4, 2 * current)


def hpa_scale_up_steps(start: int, goal: int) -> int:
    """HPA syncs needed to go from ``start`` replicas to ``goal`` under the default behavior.

    1 -> 10 takes two (1 -> 5 -> 10): the scale-out deadline has to allow for that ramp.
    """
    steps, current = 0, max(start, 1)
    while current < goal:
        current = hpa_scale_up_limit(current)
        steps += 1
    return steps


def below_activation_load(activation: int) -> int:
    """Items to pump to show that load *at or under* the activation threshold wakes nothing.

    Half the threshold, rounded up (3 for 5); a tiny threshold (1 or 2) is used as is,
    which also exercises KEDA's strict ``>``: 2 records of lag against
    ``activationLagThreshold: 2`` must not activate. 0 means no such phase (any item activates).
    """
    if activation <= 0:
        return 0
    if activation <= 2:
        return activation
    return math.ceil(activation / 2)


# --------------------------------------------------------------------------------------------
# What is deployed, and the plan for each workload
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """The scaling parameters of one workload's ScaledObject or ScaledJob."""

    workload: str
    kind: str  # SCALED_OBJECT or SCALED_JOB
    #: The ScaledObject / ScaledJob name.
    resource: str
    #: The Deployment a ScaledObject scales (``scaleTargetRef.name``); empty for a ScaledJob.
    deployment: str
    #: ``listLength`` / ``lagThreshold`` of the trigger on the backlog: ``T``.
    target: int
    #: ``activationListLength`` / ``activationLagThreshold``: ``A``.
    activation: int
    min_replicas: int
    max_replicas: int
    polling_interval: float
    #: ScaledObject only; a ScaledJob has no cooldown (Jobs end on their own).
    cooldown_period: float = 0.0
    #: kafka only: partitions of the topic, the scaler's cap.
    partitions: int | None = None


#: The values ``k8s/`` is meant to deploy (``plan`` and the tests use them; ``run`` reads the live objects).
DEFAULT_SPECS: Mapping[str, Spec] = {
    WORKLOAD_CELERY: Spec(WORKLOAD_CELERY, SCALED_OBJECT, "celery-worker", "celery-worker", target=10, activation=5,
                          min_replicas=0, max_replicas=10, polling_interval=15, cooldown_period=200),
    WORKLOAD_KAFKA: Spec(WORKLOAD_KAFKA, SCALED_OBJECT, "kafka-consumer", "kafka-consumer", target=5, activation=2,
                         min_replicas=0, max_replicas=5, polling_interval=15, cooldown_period=60,
                         partitions=defaults.KAFKA_PARTITIONS),
    WORKLOAD_RQ: Spec(WORKLOAD_RQ, SCALED_OBJECT, "rq-worker", "rq-worker", target=10, activation=5,
                      min_replicas=0, max_replicas=10, polling_interval=15, cooldown_period=120),
    WORKLOAD_WORKQUEUE: Spec(WORKLOAD_WORKQUEUE, SCALED_JOB, "workqueue", "", target=5, activation=2,
                             min_replicas=0, max_replicas=10, polling_interval=10),
}

#: The key each workload's primary trigger watches (its ``listName`` / topic).
BACKLOG_KEYS: Mapping[str, str] = {
    WORKLOAD_CELERY: CELERY_QUEUE,
    WORKLOAD_KAFKA: KAFKA_TOPIC,
    WORKLOAD_RQ: RQ_QUEUE_LIST,
    WORKLOAD_WORKQUEUE: WORKQUEUE_LIST,
}

#: Default burst per workload. Big enough that the backlog outlasts the HPA's ramp
#: (1 -> 5 -> 10 replicas takes two 15 s syncs after activation) with the default work
#: times (``uniform:1:9`` s per item; Kafka ``fixed:10``): a burst of 100 for Celery or RQ
#: can drain below 91 items before the HPA's third look, which would then ask for 9, not 10.
DEFAULT_BURST: Mapping[str, int] = {WORKLOAD_CELERY: 200, WORKLOAD_KAFKA: 100, WORKLOAD_RQ: 200,
                                    WORKLOAD_WORKQUEUE: 100}


def _int(value: Any, default: int) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    return int(str(value).strip())


def spec_from_object(workload: str, obj: Mapping[str, Any], partitions: int | None = None) -> Spec:
    """Read a live ScaledObject / ScaledJob (``kubectl get -o json``) with KEDA's defaults.

    The trigger used is the one on the workload's backlog (``listName`` = the list from
    :mod:`kedasuite.core.names`, or the ``kafka`` trigger); others (in-flight hashes) only
    raise the HPA's proposal while work is running and do not change the expectations.
    """
    base = DEFAULT_SPECS[workload]
    kind = obj.get("kind", base.kind)
    spec = obj.get("spec", {})
    triggers = spec.get("triggers") or []
    trigger: Mapping[str, Any] | None = None
    for candidate in triggers:
        meta = candidate.get("metadata") or {}
        if workload == WORKLOAD_KAFKA and candidate.get("type") == "kafka":
            trigger = candidate
            break
        if candidate.get("type", "").startswith("redis") and meta.get("listName") == BACKLOG_KEYS[workload]:
            trigger = candidate
            break
    if trigger is None:
        raise ValueError(f"{kind} {obj.get('metadata', {}).get('name', base.resource)!r} has no trigger on "
                         f"{BACKLOG_KEYS[workload]!r}")
    meta = trigger.get("metadata") or {}
    if workload == WORKLOAD_KAFKA:
        target = _int(meta.get("lagThreshold"), KEDA_DEFAULT_KAFKA_LAG_THRESHOLD)
        activation = _int(meta.get("activationLagThreshold"), 0)
    else:
        target = _int(meta.get("listLength"), KEDA_DEFAULT_REDIS_LIST_LENGTH)
        activation = _int(meta.get("activationListLength"), 0)
    is_job = kind == SCALED_JOB
    return Spec(
        workload=workload,
        kind=SCALED_JOB if is_job else SCALED_OBJECT,
        resource=obj.get("metadata", {}).get("name", base.resource),
        deployment="" if is_job else spec.get("scaleTargetRef", {}).get("name", base.deployment),
        target=target,
        activation=activation,
        min_replicas=_int(spec.get("minReplicaCount"), 0),
        max_replicas=_int(spec.get("maxReplicaCount"), KEDA_DEFAULT_MAX_REPLICAS),
        polling_interval=float(_int(spec.get("pollingInterval"), KEDA_DEFAULT_POLLING_INTERVAL)),
        cooldown_period=0.0 if is_job else float(_int(spec.get("cooldownPeriod"), KEDA_DEFAULT_COOLDOWN_PERIOD)),
        partitions=(partitions or base.partitions) if workload == WORKLOAD_KAFKA else None,
    )


@dataclass(frozen=True)
class Settings:
    """Knobs of a run; every one has an ``E2E_*`` variable (see :func:`main`)."""

    idle_s: float = 30.0
    hold_s: float = 30.0
    interval_s: float = 5.0
    margin_s: float = 60.0
    #: One burst size for every workload; ``None``: :data:`DEFAULT_BURST`.
    burst: int | None = None
    drain_timeout_s: float = 900.0
    hpa_sync_s: float = HPA_SYNC_SECONDS


@dataclass(frozen=True)
class Plan:
    """What will be done to one workload and what must be seen; stored in the timeline."""

    spec: Spec
    idle_s: float
    hold_s: float
    below: int
    burst: int
    #: The count the formulas predict for below + burst items.
    expected: int
    #: Scale-out passes when replicas reach ``at_least`` without passing ``at_most``.
    at_least: int
    at_most: int
    scale_out_deadline_s: float
    drain_timeout_s: float
    #: After the drain, back to 0 (no running Job) within this long.
    return_within_s: float
    settle_timeout_s: float
    #: How ``expected`` and the deadlines were computed, for the report.
    why: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(spec=Spec(**data.pop("spec")), **data)


def make_plan(spec: Spec, settings: Settings | None = None) -> Plan:
    """Loads, expectations and deadlines for one workload.

    Windows of "must stay at 0" last at least two polling intervals, so KEDA has looked
    at least once with the load in place. The scale-out deadline is one polling interval
    (KEDA activates 0 -> 1) plus one HPA sync per scale-up step and one more for the
    metric to reach the HPA, plus the margin (pods to be created, readings every few s).
    """
    settings = settings or Settings()
    below = below_activation_load(spec.activation)
    burst = settings.burst or DEFAULT_BURST[spec.workload]
    idle = max(settings.idle_s, 2 * spec.polling_interval)
    hold = max(settings.hold_s, 2 * spec.polling_interval)
    load = below + burst
    if spec.kind == SCALED_OBJECT:
        expected = expected_replicas_scaledobject(load, spec.target, spec.min_replicas, spec.max_replicas,
                                                  spec.partitions, spec.activation)
        steps = hpa_scale_up_steps(max(spec.min_replicas, 1), expected)
        deadline = spec.polling_interval + settings.hpa_sync_s * (steps + 1) + settings.margin_s
        within = spec.cooldown_period + spec.polling_interval + settings.margin_s
        at_least, at_most = expected, spec.max_replicas
        metric = (f"KEDA metric {kafka_capped_metric(load, spec.target, spec.partitions)} "
                  f"(lag {load}, {spec.partitions} partitions x lagThreshold {spec.target} cap)"
                  if spec.partitions is not None else f"metric {load}")
        why = (f"{metric}: min({spec.max_replicas}, max({spec.min_replicas}, ceil(M/{spec.target}))) = {expected}; "
               f"deadline = poll {spec.polling_interval:g} + {steps + 1} HPA syncs + margin {settings.margin_s:g} s; "
               f"scale-in = cooldown {spec.cooldown_period:g} + poll {spec.polling_interval:g} "
               f"+ margin {settings.margin_s:g} s")
    else:
        expected = expected_jobs_accurate(load, spec.target, spec.max_replicas, 0, 0, spec.min_replicas,
                                          spec.activation)
        deadline = spec.polling_interval + settings.margin_s
        # A runner exits 0 as soon as both the queue and the processing list are empty.
        within = spec.polling_interval + settings.margin_s
        at_least, at_most = max(1, spec.min_replicas), spec.max_replicas
        why = (f"accurate strategy, queue {load}, listLength {spec.target}, max {spec.max_replicas}: the first poll "
               f"creates {expected} Jobs; later polls never push running Jobs above {spec.max_replicas}")
    settle = spec.cooldown_period + spec.polling_interval + 2 * settings.margin_s
    return Plan(spec=spec, idle_s=idle, hold_s=hold, below=below, burst=burst, expected=expected,
                at_least=at_least, at_most=at_most, scale_out_deadline_s=deadline,
                drain_timeout_s=settings.drain_timeout_s, return_within_s=within, settle_timeout_s=settle, why=why)


# --------------------------------------------------------------------------------------------
# The timeline
# --------------------------------------------------------------------------------------------

COLUMNS = ("time", "workload", "backlog", "in_flight", "replicas", "failed", "mark", "value")

# Marks the driver writes, in the order it writes them.
MARK_PLAN = "plan"
MARK_SETTLED = "settled"
MARK_SETTLE_TIMEOUT = "settle-timeout"
MARK_IDLE_START = "idle-start"
MARK_IDLE_END = "idle-end"
MARK_BELOW = "below-activation"
MARK_BELOW_END = "below-activation-end"
MARK_BURST = "burst"
MARK_DRAINED = "drained"
MARK_DRAIN_TIMEOUT = "drain-timeout"
MARK_PROCESSED = "processed"
MARK_ERROR = "error"
MARK_END = "end"


@dataclass(frozen=True)
class Sample:
    """One reading of a workload.

    ``backlog`` is what the primary trigger measures (LLEN of the list; kafka: the
    group's total lag); ``in_flight`` is work taken but not finished (Celery's ``unacked``
    hash, RQ's started registry, the work queue's processing list); ``replicas`` is the
    Deployment's ``status.replicas`` or, for the ScaledJob, its unfinished Jobs; ``failed``
    counts the ScaledJob's failed Jobs. ``None``: the reading failed.
    """

    time: datetime
    workload: str
    backlog: int | None
    replicas: int | None
    in_flight: int | None = None
    failed: int | None = None

    @property
    def drained(self) -> bool:
        return self.backlog == 0 and not self.in_flight


@dataclass(frozen=True)
class Mark:
    time: datetime
    workload: str
    name: str
    value: str = ""


@dataclass
class Timeline:
    samples: list[Sample] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    def workloads(self) -> list[str]:
        """Workloads with a plan, in the order their plans were written."""
        seen: list[str] = []
        for mark in self.marks:
            if mark.name == MARK_PLAN and mark.workload not in seen:
                seen.append(mark.workload)
        return seen

    def mark(self, workload: str, name: str) -> Mark | None:
        """The last mark ``name`` of ``workload``."""
        found = [m for m in self.marks if m.workload == workload and m.name == name]
        return found[-1] if found else None

    def of(self, workload: str) -> list[Sample]:
        return [s for s in self.samples if s.workload == workload]


def _fmt_time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def sample_row(sample: Sample) -> list[str]:
    return [_fmt_time(sample.time), sample.workload, _opt(sample.backlog), _opt(sample.in_flight),
            _opt(sample.replicas), _opt(sample.failed), "", ""]


def mark_row(mark: Mark) -> list[str]:
    return [_fmt_time(mark.time), mark.workload, "", "", "", "", mark.name, mark.value]


def write_row(out: TextIO, item: Sample | Mark) -> None:
    """Append one row (and flush, so a run that dies still leaves its timeline)."""
    csv.writer(out).writerow(sample_row(item) if isinstance(item, Sample) else mark_row(item))
    out.flush()


def write_header(out: TextIO) -> None:
    csv.writer(out).writerow(COLUMNS)


def _parse_opt(text: str) -> int | None:
    return int(text) if text.strip() else None


def parse_timeline(lines: Iterable[str]) -> Timeline:
    timeline = Timeline()
    for row in csv.DictReader(lines):
        t = datetime.fromisoformat(row["time"])
        if row.get("mark"):
            timeline.marks.append(Mark(t, row["workload"], row["mark"], row.get("value") or ""))
        else:
            timeline.samples.append(Sample(t, row["workload"], _parse_opt(row["backlog"]),
                                           _parse_opt(row["replicas"]), _parse_opt(row["in_flight"]),
                                           _parse_opt(row["failed"])))
    timeline.samples.sort(key=lambda s: s.time)
    return timeline


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    with open(path, newline="") as f:
        return parse_timeline(f)


class TimelineWriter:
    """Thread-safe CSV appender shared by the sampler and the workload drivers."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        write_header(out)
        out.flush()

    def write(self, item: Sample | Mark) -> None:
        with self._lock:
            write_row(self._out, item)


# --------------------------------------------------------------------------------------------
# Checks: pure functions over samples
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    passed: bool
    observed: str


@dataclass(frozen=True)
class Result:
    workload: str
    phase: str
    expected: str
    observed: str
    passed: bool


def _secs(seconds: float) -> str:
    """``30`` for 30.0, ``0.15`` for 0.15: whole seconds in real runs, fractions in tests."""
    return f"{seconds:g}"


def _since(t: datetime, start: datetime) -> str:
    return f"+{(t - start).total_seconds():.0f} s"


def _window(samples: Sequence[Sample], workload: str, start: datetime, end: datetime | None) -> list[Sample]:
    return [s for s in samples if s.workload == workload and s.replicas is not None
            and s.time >= start and (end is None or s.time <= end)]


def check_stays_at(samples: Sequence[Sample], workload: str, start: datetime, end: datetime, value: int) -> Verdict:
    """Replicas equal ``value`` in every reading from ``start`` to ``end``.

    No reading at all in the window fails: a sampler that saw nothing proves nothing.
    """
    window = _window(samples, workload, start, end)
    if not window:
        return Verdict(False, "no readings in the window")
    for s in window:
        if s.replicas != value:
            return Verdict(False, f"{s.replicas} at {_since(s.time, start)}")
    backlogs = sorted({s.backlog for s in window if s.backlog is not None})
    backlog = f", backlog {'/'.join(map(str, backlogs))}" if backlogs else ""
    return Verdict(True, f"{value} in all {len(window)} readings{backlog}")


def check_reaches(samples: Sequence[Sample], workload: str, start: datetime, deadline: datetime, at_least: int,
                  at_most: int) -> Verdict:
    """Replicas reach ``at_least`` by ``deadline`` and never exceed ``at_most`` on the way."""
    window = _window(samples, workload, start, deadline)
    if not window:
        return Verdict(False, "no readings in the window")
    for s in window:
        if s.replicas is not None and s.replicas > at_most:
            return Verdict(False, f"{s.replicas} at {_since(s.time, start)}: above {at_most}")
    for s in window:
        if s.replicas is not None and s.replicas >= at_least:
            return Verdict(True, f"{s.replicas} at {_since(s.time, start)}")
    peak = max(s.replicas or 0 for s in window)
    low = [s.backlog for s in window if s.backlog is not None]
    hint = f"; backlog fell to {min(low)}" if low else ""
    return Verdict(False, f"peak {peak} by {_since(deadline, start)}{hint}")


def check_at_most(samples: Sequence[Sample], workload: str, start: datetime, end: datetime | None,
                  ceiling: int) -> Verdict:
    """Replicas never exceed ``ceiling`` (``maxReplicaCount``) from ``start`` on."""
    window = _window(samples, workload, start, end)
    if not window:
        return Verdict(False, "no readings in the window")
    peak = max(window, key=lambda s: s.replicas or 0)
    if (peak.replicas or 0) > ceiling:
        return Verdict(False, f"peak {peak.replicas} at {_since(peak.time, start)}")
    return Verdict(True, f"peak {peak.replicas}")


def find_drained_at(samples: Sequence[Sample], workload: str, after: datetime,
                    until: datetime | None = None) -> datetime | None:
    """The first reading after ``after`` from which backlog and in-flight stay 0 (to ``until``).

    From then on every trigger reads 0, so KEDA is inactive; it may have become inactive a
    little earlier (a metric at or under its activation threshold), which only makes the
    return to zero come sooner. Readings that failed (``None``) are skipped.
    """
    readings = [s for s in samples if s.workload == workload and s.backlog is not None and s.time > after
                and (until is None or s.time <= until)]
    drained_at: datetime | None = None
    for s in readings:
        if s.drained:
            if drained_at is None:
                drained_at = s.time
        else:
            drained_at = None
    return drained_at


def check_returns_to_zero(samples: Sequence[Sample], workload: str, drained_at: datetime, within: float,
                          until: datetime | None = None) -> Verdict:
    """After the drain, replicas reach 0 within ``within`` seconds and stay there."""
    window = _window(samples, workload, drained_at, until)
    limit = drained_at + timedelta(seconds=within)
    first_zero = next((s for s in window if s.replicas == 0), None)
    if first_zero is None:
        last = window[-1] if window else None
        seen = f"still {last.replicas} at {_since(last.time, drained_at)}" if last else "no readings after the drain"
        return Verdict(False, seen)
    if first_zero.time > limit:
        return Verdict(False, f"0 only at {_since(first_zero.time, drained_at)}")
    for s in window:
        if s.time > first_zero.time and s.replicas != 0:
            return Verdict(False, f"0 at {_since(first_zero.time, drained_at)}, then {s.replicas} at "
                                  f"{_since(s.time, drained_at)}")
    return Verdict(True, f"0 at {_since(first_zero.time, drained_at)}")


def check_no_failed_jobs(samples: Sequence[Sample], workload: str, start: datetime,
                         until: datetime | None = None) -> Verdict:
    """No Job failed after ``start``: the failed count never rises above its value then.

    Counting from a baseline keeps failed Jobs of an earlier run on a reused cluster
    (kept by ``failedJobsHistoryLimit``) out of this run's verdict.
    """
    readings = [s for s in samples if s.workload == workload and s.failed is not None
                and (until is None or s.time <= until)]
    before = [s.failed for s in readings if s.time <= start]
    baseline = before[-1] if before else 0
    after = [s for s in readings if s.time > start]
    if not after:
        return Verdict(False, "no readings")
    worst = max(after, key=lambda s: s.failed or 0)
    new = (worst.failed or 0) - (baseline or 0)
    if new > 0:
        return Verdict(False, f"{new} failed by {_since(worst.time, start)}")
    return Verdict(True, "0 failed")


# --------------------------------------------------------------------------------------------
# Judging a whole timeline
# --------------------------------------------------------------------------------------------


def _marked_count(mark: Mark | None) -> int:
    if mark is None:
        return 0
    try:
        return int(mark.value)
    except ValueError:
        return 0


def evaluate_workload(timeline: Timeline, workload: str) -> list[Result]:
    """Every phase's verdict for one workload, from its plan mark and the readings."""
    plan_mark = timeline.mark(workload, MARK_PLAN)
    if plan_mark is None:
        return [Result(workload, "plan", "a plan mark", "none", False)]
    plan = Plan.from_json(plan_mark.value)
    spec = plan.spec
    samples = timeline.of(workload)
    end_mark = timeline.mark(workload, MARK_END)
    end = end_mark.time if end_mark else None
    unit = "Jobs" if spec.kind == SCALED_JOB else "replicas"
    results: list[Result] = []

    def add(phase: str, expected: str, verdict: Verdict) -> None:
        results.append(Result(workload, phase, expected, verdict.observed, verdict.passed))

    error = timeline.mark(workload, MARK_ERROR)
    if error is not None:
        add("run", "no errors", Verdict(False, error.value))

    settled = timeline.mark(workload, MARK_SETTLED)
    settle_expected = f"0 {unit}, empty backlog within {_secs(plan.settle_timeout_s)} s"
    if settled is None:
        timeout = timeline.mark(workload, MARK_SETTLE_TIMEOUT)
        add("settle", settle_expected, Verdict(False, f"not settled: {timeout.value}" if timeout else "not settled"))
        return results
    add("settle", settle_expected, Verdict(True, f"after {(settled.time - plan_mark.time).total_seconds():.0f} s"))

    idle_start, idle_end = timeline.mark(workload, MARK_IDLE_START), timeline.mark(workload, MARK_IDLE_END)
    if idle_start and idle_end:
        add("idle", f"0 {unit} for {_secs(plan.idle_s)} s",
            check_stays_at(samples, workload, idle_start.time, idle_end.time, 0))
    else:
        add("idle", f"0 {unit} for {_secs(plan.idle_s)} s", Verdict(False, "not run"))
        return results

    below, below_end = timeline.mark(workload, MARK_BELOW), timeline.mark(workload, MARK_BELOW_END)
    if plan.below > 0:
        what = "lag" if workload == WORKLOAD_KAFKA else "items"
        expected = f"0 {unit} for {_secs(plan.hold_s)} s with {plan.below} {what} (activation: > {spec.activation})"
        if below and below_end:
            add("below activation", expected, check_stays_at(samples, workload, below.time, below_end.time, 0))
        else:
            add("below activation", expected, Verdict(False, "not run"))
            return results

    burst = timeline.mark(workload, MARK_BURST)
    if burst is None:
        add("scale-out", f">= {plan.at_least} {unit}", Verdict(False, "no burst was sent"))
        return results
    deadline = burst.time + timedelta(seconds=plan.scale_out_deadline_s)
    if spec.kind == SCALED_JOB:
        expected = (f"{plan.at_least}..{plan.at_most} {unit} within {_secs(plan.scale_out_deadline_s)} s "
                    f"(first poll: {plan.expected})")
    else:
        expected = f"{plan.expected} {unit} within {_secs(plan.scale_out_deadline_s)} s"
    add("scale-out", expected, check_reaches(samples, workload, burst.time, deadline, plan.at_least, plan.at_most))
    add("ceiling", f"<= {plan.at_most} {unit} (maxReplicaCount)",
        check_at_most(samples, workload, burst.time, end, plan.at_most))

    drain_limit = burst.time + timedelta(seconds=plan.drain_timeout_s)
    drained_at = find_drained_at(samples, workload, burst.time, end)
    if drained_at is None or drained_at > drain_limit:
        last = [s for s in samples if s.backlog is not None]
        seen = f"backlog {last[-1].backlog}, in flight {last[-1].in_flight or 0} at the end" if last else "no readings"
        if drained_at is not None:
            seen = f"drained only at {_since(drained_at, burst.time)}"
        add("drain", f"backlog 0 within {_secs(plan.drain_timeout_s)} s", Verdict(False, seen))
    else:
        add("drain", f"backlog 0 within {_secs(plan.drain_timeout_s)} s",
            Verdict(True, f"drained at {_since(drained_at, burst.time)}"))
        add("scale-in", f"0 {unit} within {_secs(plan.return_within_s)} s of the drain",
            check_returns_to_zero(samples, workload, drained_at, plan.return_within_s, end))

    if spec.kind == SCALED_JOB:
        add("jobs", "no Job fails", check_no_failed_jobs(samples, workload, burst.time, end))

    pumped = _marked_count(below) + _marked_count(burst)
    processed = timeline.mark(workload, MARK_PROCESSED)
    if workload == WORKLOAD_KAFKA:
        # Offsets are committed only after a record is processed: lag 0 means all were.
        last = [s for s in samples if s.backlog is not None]
        lag = last[-1].backlog if last else None
        results_note = f" ({processed.value} results in Redis)" if processed and processed.value else ""
        add("processed", f"all {pumped} records (lag 0)",
            Verdict(lag == 0, f"lag {lag if lag is not None else 'unknown'}{results_note}"))
    else:
        count = _marked_count(processed) if processed and processed.value else None
        add("processed", f"{pumped} results",
            Verdict(count == pumped, "not counted" if count is None else f"{count} results"))
    return results


def evaluate(timeline: Timeline) -> list[Result]:
    results: list[Result] = []
    for workload in timeline.workloads():
        results.extend(evaluate_workload(timeline, workload))
    return results


def render_table(results: Sequence[Result]) -> str:
    """A plain-text table (workload, phase, expected, observed, verdict) and a summary line."""
    header = ("workload", "phase", "expected", "observed", "verdict")
    rows = [(r.workload, r.phase, r.expected, r.observed, "PASS" if r.passed else "FAIL") for r in results]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]
    failed = sum(1 for r in results if not r.passed)
    summary = (f"{len(results) - failed} of {len(results)} checks passed" if results else "no checks ran")
    return "\n".join([*lines, "", summary + (f"; {failed} FAILED" if failed else "")])


# --------------------------------------------------------------------------------------------
# Reading the cluster (kubectl)
# --------------------------------------------------------------------------------------------


class KubectlError(RuntimeError):
    pass


class Probe(Protocol):
    """Everything the driver needs from the cluster; :class:`KubectlProbe` is the real one."""

    def spec(self, workload: str) -> Spec: ...

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Sample]: ...

    def pump(self, workload: str, count: int, id_prefix: str) -> None: ...

    def processed(self, workload: str, id_prefixes: Sequence[str]) -> int | None: ...


_INT = re.compile(r"(-?\d+)\s*$")
_KAFKA_LAG = re.compile(r"total lag (\d+); KEDA metric (\d+) \(.*?(\d+) partitions\); (active|not active)")
_PUMP = re.compile(r"sent (\d+), failed (\d+)")


def redis_commands(workload: str) -> list[str]:
    """The two readings for a Redis workload: its backlog and its in-flight work."""
    return {
        WORKLOAD_CELERY: [f"LLEN {CELERY_QUEUE}", f"HLEN {CELERY_UNACKED_HASH}"],
        WORKLOAD_RQ: [f"LLEN {RQ_QUEUE_LIST}", f"ZCARD {RQ_STARTED_REGISTRY}"],
        WORKLOAD_WORKQUEUE: [f"LLEN {WORKQUEUE_LIST}", f"LLEN {WORKQUEUE_PROCESSING}"],
    }[workload]


def parse_redis_replies(output: str, expected: int) -> list[int | None]:
    """Integer replies of ``redis-cli`` fed commands on stdin, one a line; ``None`` for errors.

    Accepts both the raw form (``3``) and the terminal form (``(integer) 3``).
    """
    lines = [line for line in output.splitlines() if line.strip()]
    values: list[int | None] = []
    for line in lines[:expected]:
        match = _INT.search(line)
        values.append(int(match.group(1)) if match and "ERR" not in line.upper() else None)
    values.extend([None] * (expected - len(values)))
    return values


@dataclass(frozen=True)
class KafkaLagLine:
    total: int
    metric: int
    partitions: int
    active: bool


def parse_kafka_lag(output: str) -> KafkaLagLine | None:
    """The last line of ``kedasuite kafka-lag``: ``total lag N; KEDA metric M (...); active``."""
    for line in reversed(output.splitlines()):
        match = _KAFKA_LAG.search(line)
        if match:
            return KafkaLagLine(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                                match.group(4) == "active")
    return None


def deployment_replicas(deployments: Mapping[str, Any], name: str) -> int | None:
    """``status.replicas`` of ``name`` in a ``kubectl get deploy -o json`` list (absent = 0)."""
    for item in deployments.get("items", []):
        if item.get("metadata", {}).get("name") == name:
            return int(item.get("status", {}).get("replicas") or 0)
    return None


def _condition_true(job: Mapping[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True"
               for c in job.get("status", {}).get("conditions") or [])


def job_counts(jobs: Mapping[str, Any]) -> tuple[int, int]:
    """(running, failed) Jobs, as KEDA counts them: running = no Complete/Failed condition True."""
    running = failed = 0
    for job in jobs.get("items", []):
        if _condition_true(job, "Failed"):
            failed += 1
        elif not _condition_true(job, "Complete"):
            running += 1
    return running, failed


def parse_pump_output(output: str) -> tuple[int, int] | None:
    match = _PUMP.search(output)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _now() -> datetime:
    return datetime.now(UTC)


class KubectlProbe:
    """Reads and drives the deployed suite with kubectl (exec into ``redis`` and ``pump``)."""

    def __init__(self, namespace: str = NAMESPACE, context: str | None = None, kubectl: str = "kubectl",
                 timeout: float = 120.0, log: Callable[[str], None] = print) -> None:
        self.namespace = namespace
        self.context = context
        self.kubectl = kubectl
        self.timeout = timeout
        self.log = log

    def run(self, *args: str, stdin: str | None = None, timeout: float | None = None) -> str:
        cmd = [self.kubectl, *(["--context", self.context] if self.context else []), "-n", self.namespace, *args]
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                                  timeout=timeout or self.timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise KubectlError(f"{' '.join(cmd)}: no answer in {exc.timeout:.0f} s") from exc
        except OSError as exc:
            raise KubectlError(f"{cmd[0]}: {exc}") from exc
        if proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            raise KubectlError(f"{' '.join(cmd)}: exit {proc.returncode}: {detail[-1] if detail else ''}")
        return proc.stdout

    def kafka_lag(self, lag_threshold: int) -> KafkaLagLine | None:
        try:
            out = self.run("exec", f"deploy/{PUMP_DEPLOYMENT}", "--", "kedasuite", "kafka-lag",
                           "--bootstrap-servers", KAFKA_SERVICE_BOOTSTRAP, "--group", KAFKA_CONSUMER_GROUP,
                           "--topic", KAFKA_TOPIC, "--lag-threshold", str(lag_threshold),
                           "--offset-reset-policy", "earliest")
        except KubectlError:
            return None  # no topic yet (nothing pumped), or the broker is not answering
        return parse_kafka_lag(out)

    def spec(self, workload: str) -> Spec:
        base = DEFAULT_SPECS[workload]
        resource = "scaledjob" if base.kind == SCALED_JOB else "scaledobject"
        obj = json.loads(self.run("get", resource, base.resource, "-o", "json"))
        partitions = None
        if workload == WORKLOAD_KAFKA:
            lag = self.kafka_lag(KEDA_DEFAULT_KAFKA_LAG_THRESHOLD)
            partitions = lag.partitions if lag else None
        return spec_from_object(workload, obj, partitions)

    def _redis(self, workloads: Sequence[str]) -> dict[str, tuple[int | None, int | None]]:
        wanted = [w for w in workloads if w != WORKLOAD_KAFKA]
        if not wanted:
            return {}
        commands = [c for w in wanted for c in redis_commands(w)]
        try:
            out = self.run("exec", "-i", f"deploy/{REDIS_DEPLOYMENT}", "--", "redis-cli",
                           stdin="\n".join(commands) + "\n")
            values = parse_redis_replies(out, len(commands))
        except KubectlError as exc:
            self.log(f"e2e: reading redis failed: {exc}")
            values = [None] * len(commands)
        return {w: (values[2 * i], values[2 * i + 1]) for i, w in enumerate(wanted)}

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Sample]:
        # Stamped when the round *starts*: every reading shows the state at or after this time,
        # so one begun before an action (a pump) is never taken for one made after it.
        now = _now()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            redis_f = pool.submit(self._redis, workloads)
            kafka_f = (pool.submit(self.kafka_lag, specs[WORKLOAD_KAFKA].target)
                       if WORKLOAD_KAFKA in workloads else None)
            deploy_f = pool.submit(self.run, "get", "deployments", "-o", "json")
            jobs_f = (pool.submit(self.run, "get", "jobs", "-l",
                                  f"{SCALED_JOB_LABEL}={specs[WORKLOAD_WORKQUEUE].resource}", "-o", "json")
                      if WORKLOAD_WORKQUEUE in workloads else None)
            redis_values = redis_f.result()
            kafka = kafka_f.result() if kafka_f else None
            try:
                deployments: Mapping[str, Any] | None = json.loads(deploy_f.result())
            except (KubectlError, ValueError) as exc:
                self.log(f"e2e: reading deployments failed: {exc}")
                deployments = None
            try:
                jobs: Mapping[str, Any] | None = json.loads(jobs_f.result()) if jobs_f else None
            except (KubectlError, ValueError) as exc:
                self.log(f"e2e: reading jobs failed: {exc}")
                jobs = None
        samples = []
        for w in workloads:
            spec = specs[w]
            failed: int | None = None
            if spec.kind == SCALED_JOB:
                running, failed = job_counts(jobs) if jobs is not None else (None, None)
                replicas = running
            else:
                replicas = deployment_replicas(deployments, spec.deployment) if deployments is not None else None
            if w == WORKLOAD_KAFKA:
                samples.append(Sample(now, w, kafka.total if kafka else None, replicas))
            else:
                backlog, in_flight = redis_values.get(w, (None, None))
                samples.append(Sample(now, w, backlog, replicas, in_flight, failed))
        return samples

    def pump(self, workload: str, count: int, id_prefix: str) -> None:
        out = self.run("exec", f"deploy/{PUMP_DEPLOYMENT}", "--", "kedasuite", "pump", workload, "--count", str(count),
                       "--id-prefix", id_prefix, "--no-progress", timeout=max(self.timeout, 300.0))
        counts = parse_pump_output(out)
        if counts is None or counts != (count, 0):
            raise KubectlError(f"pump {workload}: expected 'sent {count}, failed 0', got {out.strip()!r}")

    def processed(self, workload: str, id_prefixes: Sequence[str]) -> int | None:
        """Results written for the records pumped with these id prefixes (``users:<prefix>-N``)."""
        total = 0
        for prefix in id_prefixes:
            try:
                out = self.run("exec", f"deploy/{REDIS_DEPLOYMENT}", "--", "redis-cli", "--scan", "--pattern",
                               f"{RECORD_KEY_PREFIX}{prefix}-*")
            except KubectlError as exc:
                self.log(f"e2e: counting results failed: {exc}")
                return None
            total += sum(1 for line in out.splitlines() if line.strip())
        return total


# --------------------------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------------------------


def _empty(sample: Sample) -> bool:
    """Nothing pending, nothing in flight. Kafka's lag is unknown until the first pump creates
    the topic, which counts as empty; a failed Redis reading does not."""
    if sample.backlog is None:
        return sample.workload == WORKLOAD_KAFKA
    return sample.drained


class Driver:
    """Runs the phases against a :class:`Probe`, writing readings and marks to the timeline.

    One sampler thread reads every active workload each ``interval_s``; each workload's
    phases wait on those readings (never on a reading taken before the action they wait
    for), so the file holds exactly what the verdicts are computed from.
    """

    def __init__(self, probe: Probe, plans: Mapping[str, Plan], writer: TimelineWriter, settings: Settings,
                 log: Callable[[str], None] = print, run_id: str | None = None) -> None:
        self.probe = probe
        self.plans = plans
        self.specs = {w: p.spec for w, p in plans.items()}
        self.writer = writer
        self.settings = settings
        self.log = log
        self.run_id = run_id or uuid.uuid4().hex[:6]
        self._latest: dict[str, Sample] = {}
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()

    # -- sampling

    def _sample_once(self) -> None:
        with self._lock:
            active = [w for w in WORKLOADS if w in self._active]
        if not active:
            return
        try:
            samples = self.probe.sample(active, self.specs)
        except Exception as exc:  # noqa: BLE001 - one bad round must not end the run
            self.log(f"e2e: sampling failed: {exc}")
            return
        for s in samples:
            self.writer.write(s)
        with self._changed:
            for s in samples:
                self._latest[s.workload] = s
            self._changed.notify_all()

    def _sampler(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._sample_once()
            self._stop.wait(max(0.0, self.settings.interval_s - (time.monotonic() - started)))

    def wait_for(self, workload: str, predicate: Callable[[Sample], bool], since: datetime,
                 timeout: float) -> Sample | None:
        """The first reading taken after ``since`` that satisfies ``predicate``, or ``None``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                latest = self._latest.get(workload)
                if latest is not None and latest.time > since and predicate(latest):
                    return latest
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(min(left, max(self.settings.interval_s, 0.01)))

    def mark(self, workload: str, name: str, value: object = "") -> datetime:
        t = _now()
        self.writer.write(Mark(t, workload, name, str(value)))
        return t

    # -- one workload

    def drive(self, workload: str) -> None:
        plan = self.plans[workload]
        unit = "Jobs" if plan.spec.kind == SCALED_JOB else "replicas"
        with self._lock:
            self._active.add(workload)
        try:
            self._drive(workload, plan, unit)
        except Exception as exc:  # noqa: BLE001 - recorded in the timeline, judged as a failure
            self.log(f"{workload}: {exc}")
            self.mark(workload, MARK_ERROR, exc)
        finally:
            # One more reading after the last phase, so "stays at 0" has something to stand on.
            self.wait_for(workload, lambda s: True, _now(), 2 * self.settings.interval_s + 5)
            self.mark(workload, MARK_END)
            with self._lock:
                self._active.discard(workload)

    def _drive(self, workload: str, plan: Plan, unit: str) -> None:
        started = self.mark(workload, MARK_PLAN, plan.to_json())
        self.log(f"{workload}: {plan.why}")
        self.log(f"{workload}: waiting for 0 {unit} and an empty backlog (up to {_secs(plan.settle_timeout_s)} s)")
        settled = self.wait_for(workload, lambda s: s.replicas == 0 and _empty(s), started, plan.settle_timeout_s)
        if settled is None:
            last = self._latest.get(workload)
            self.mark(workload, MARK_SETTLE_TIMEOUT,
                      f"{last.replicas} {unit}, backlog {last.backlog}, in flight {last.in_flight}" if last else
                      "no readings")
            return
        self.mark(workload, MARK_SETTLED)

        self.log(f"{workload}: idle for {_secs(plan.idle_s)} s, expecting 0 {unit}")
        self.mark(workload, MARK_IDLE_START)
        self._stop.wait(plan.idle_s)
        self.mark(workload, MARK_IDLE_END)

        prefixes = []
        if plan.below > 0:
            prefix = f"e2e{self.run_id}-{workload}-below"
            self.probe.pump(workload, plan.below, prefix)
            prefixes.append(prefix)
            self.log(f"{workload}: pumped {plan.below} (activation > {plan.spec.activation}); "
                     f"holding {_secs(plan.hold_s)} s, expecting 0 {unit}")
            self.mark(workload, MARK_BELOW, plan.below)
            self._stop.wait(plan.hold_s)
            self.mark(workload, MARK_BELOW_END)

        prefix = f"e2e{self.run_id}-{workload}-burst"
        self.probe.pump(workload, plan.burst, prefix)
        prefixes.append(prefix)
        burst_at = self.mark(workload, MARK_BURST, plan.burst)
        self.log(f"{workload}: pumped a burst of {plan.burst}; expecting {plan.at_least}..{plan.at_most} {unit} "
                 f"within {_secs(plan.scale_out_deadline_s)} s, then a drain")

        drained = self.wait_for(workload, lambda s: s.drained, burst_at, plan.drain_timeout_s)
        if drained is None:
            self.mark(workload, MARK_DRAIN_TIMEOUT)
            self.log(f"{workload}: backlog not drained in {_secs(plan.drain_timeout_s)} s")
        else:
            self.mark(workload, MARK_DRAINED)
            self.log(f"{workload}: drained; expecting 0 {unit} within {_secs(plan.return_within_s)} s")
            self.wait_for(workload, lambda s: s.replicas == 0, drained.time,
                          plan.return_within_s + 2 * self.settings.interval_s)
        count = self.probe.processed(workload, prefixes)
        self.mark(workload, MARK_PROCESSED, "" if count is None else count)

    # -- all of them

    def run(self, workloads: Sequence[str], parallel: bool = False) -> None:
        sampler = threading.Thread(target=self._sampler, name="e2e-sampler", daemon=True)
        sampler.start()
        try:
            if parallel:
                threads = [threading.Thread(target=self.drive, args=(w,), name=f"e2e-{w}") for w in workloads]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            else:
                for w in workloads:
                    self.drive(w)
        finally:
            self._stop.set()
            sampler.join(timeout=max(self.settings.interval_s, 1.0) + 130.0)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def parse_workloads(names: Sequence[str]) -> list[str]:
    """Workloads named on the command line (commas allowed), in the standard order; none = all."""
    wanted = {n.strip() for name in names for n in name.split(",") if n.strip()}
    unknown = sorted(wanted - set(WORKLOADS))
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    return [w for w in WORKLOADS if w in wanted] if wanted else list(WORKLOADS)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(idle_s=args.idle, hold_s=args.hold, interval_s=args.interval, margin_s=args.margin,
                    burst=args.burst, drain_timeout_s=args.drain_timeout)


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("--idle", type=float, default=_env_float("E2E_IDLE_SECONDS", 30.0),
                   help="seconds the idle phase lasts ($E2E_IDLE_SECONDS)")
    p.add_argument("--hold", type=float, default=_env_float("E2E_HOLD_SECONDS", 30.0),
                   help="seconds the below-activation load is held ($E2E_HOLD_SECONDS)")
    p.add_argument("--interval", type=float, default=_env_float("E2E_INTERVAL", 5.0),
                   help="seconds between readings ($E2E_INTERVAL)")
    p.add_argument("--margin", type=float, default=_env_float("E2E_MARGIN", 60.0),
                   help="seconds added to every KEDA-derived deadline ($E2E_MARGIN)")
    p.add_argument("--burst", type=int, default=_env_int("E2E_BURST", None),
                   help="burst size for every workload ($E2E_BURST; default: "
                        + ", ".join(f"{w} {n}" for w, n in DEFAULT_BURST.items()) + ")")
    p.add_argument("--drain-timeout", type=float, default=_env_float("E2E_DRAIN_TIMEOUT", 900.0),
                   help="seconds the burst may take to drain ($E2E_DRAIN_TIMEOUT)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kedasuite.tools.e2e",
                                     description="KEDA end-to-end checks for the deployed suite.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="drive the deployed suite through every phase, then judge the timeline")
    _add_run_options(run)
    run.add_argument("--context", default=os.environ.get("E2E_CONTEXT") or None, help="kubectl context")
    run.add_argument("--namespace", default=NAMESPACE)
    run.add_argument("--kubectl", default="kubectl")
    run.add_argument("--timeline", default=os.environ.get("E2E_TIMELINE") or "artifacts/e2e-timeline.csv",
                     help="where the timeline CSV goes ($E2E_TIMELINE)")
    run.add_argument("--parallel", action="store_true", default=os.environ.get("E2E_PARALLEL", "") == "1",
                     help="run the workloads at the same time ($E2E_PARALLEL=1); needs a roomier cluster")

    check = sub.add_parser("check", help="judge a saved timeline and print the table")
    check.add_argument("timeline")

    plan = sub.add_parser("plan", help="print loads, expectations and deadlines for the default manifests")
    _add_run_options(plan)
    return parser


def _judge(path: str | os.PathLike[str], out: TextIO) -> int:
    results = evaluate(read_timeline(path))
    print(render_table(results), file=out)
    return 0 if results and all(r.passed for r in results) else 1


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Exit 0 when every check passed, 1 when one failed, 2 on bad usage or setup."""
    out = out or sys.stdout
    args = build_parser().parse_args(argv)

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    if args.command == "check":
        try:
            return _judge(args.timeline, out)
        except (OSError, ValueError, KeyError) as exc:
            print(f"e2e: cannot read the timeline {args.timeline}: {exc}", file=sys.stderr)
            return 2
    try:
        workloads = parse_workloads(args.workloads)
    except ValueError as exc:
        print(f"e2e: {exc}", file=sys.stderr)
        return 2
    settings = _settings(args)
    if args.command == "plan":
        for w in workloads:
            p = make_plan(DEFAULT_SPECS[w], settings)
            print(f"{w}: idle {p.idle_s:g} s; below activation {p.below} held {p.hold_s:g} s; burst {p.burst}; "
                  f"{p.why}", file=out)
        return 0

    probe = KubectlProbe(args.namespace, args.context, args.kubectl, log=log)
    plans = {}
    for w in workloads:
        # Without its live ScaledObject / ScaledJob nothing would scale: stop now rather
        # than after every phase has timed out.
        try:
            spec = probe.spec(w)
        except (KubectlError, ValueError) as exc:
            base = DEFAULT_SPECS[w]
            print(f"e2e: cannot read {base.kind} {base.resource!r} in namespace {args.namespace!r} "
                  f"(is k8s/overlays/local applied, with KEDA installed?): {exc}", file=sys.stderr)
            return 2
        plans[w] = make_plan(spec, settings)
    path = Path(args.timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        Driver(probe, plans, TimelineWriter(f), settings, log=log).run(workloads, parallel=args.parallel)
    log(f"timeline written to {path}")
    return _judge(path, out)


if __name__ == "__main__":
    sys.exit(main())
