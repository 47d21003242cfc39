"""KEDA's and the HPA's control loop over time, for one ScaledObject or ScaledJob: a pure model.

No I/O and no clock of its own: a loop is built from the same parsed :class:`~kedasuite.keda.rules.spec.Scaler`
``status`` uses, and :meth:`ScaledObjectLoop.advance` is handed ``now`` (seconds since the
object was created) and a ``read(trigger_name, t)`` callable giving each trigger's raw value.
It runs every event due by then, in order (KEDA's polls every ``pollingInterval`` from 0,
the HPA's syncs every 15 s; at the same instant KEDA first), and returns one :class:`Step`
per event with the replica count, each trigger's metric and activity, the HPA's
recommendation and the reason in words. :func:`replay` does that over a metric series
(``kedasuite simulate``); an actuator calls ``advance`` with the wall clock and live reads.

The loops hold the clocks and the state (replicas, last active time, Jobs); every decision is
a rule of :mod:`kedasuite.keda.rules`: KEDA's poll (:func:`~kedasuite.keda.rules.executor.request_scale`),
the HPA's sync (:mod:`kedasuite.keda.rules.hpa`, through :class:`~kedasuite.keda.model.hpa.HPA`),
the ScaledJob's strategies (:mod:`kedasuite.keda.rules.scaling`). The rules and their upstream
sources: ``docs/keda-model.md#the-model-the-control-loop-over-time``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.defaults import KAFKA_PARTITIONS
from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB
from kedasuite.keda.model.hpa import HPA
from kedasuite.keda.model.triggers import TriggerReader, TriggerState, Value
from kedasuite.keda.rules.activation import get_scaled_object_state
from kedasuite.keda.rules.executor import request_scale
from kedasuite.keda.rules.hpa import (
    DOWNSCALE_STABILIZATION,
    SYNC_PERIOD,
    TOLERANCE,
    MetricInput,
    behavior_from_manifest,
    legacy_scale_up_limit,
    legacy_scale_up_syncs,
)
from kedasuite.keda.rules.scaling import Reading, decide_scaled_job, get_hpa_min_replicas, new_hpa_behavior
from kedasuite.keda.rules.spec import Scaler

Read = Callable[[str, float], Value]
#: Observed (running, pending) Jobs at a time, when a cluster (or a series) knows them.
Jobs = Callable[[float], tuple[int, int]]
#: A ScaledObject's pods running and ready at a time, when a cluster (or a backend) knows them;
#: ``None``: unknown, every replica counts as ready.
Ready = Callable[[float], int | None]


@dataclass(frozen=True)
class Options:
    """The controllers' settings and what-if overrides; ``None`` means the manifest's value."""

    polling_interval: float | None = None
    cooldown_period: float | None = None
    initial_cooldown_period: float | None = None
    #: The HPA's scale-down stabilization window: the legacy path's, and the behavior's scale-down window.
    stabilization_window: float | None = None
    sync_period: float = SYNC_PERIOD
    tolerance: float = TOLERANCE
    #: Seconds after KEDA's first poll that the HPA's first sync comes (0: together, KEDA first).
    hpa_offset: float = 0.0
    #: Partitions of a kafka trigger's topic (the cap is partitions × lagThreshold).
    partitions: int = KAFKA_PARTITIONS
    start_replicas: int = 0
    #: ScaledJob: how long a Job's pods run (per wave of ``parallelism``), and wait before they run.
    job_seconds: float = 60.0
    job_pending_seconds: float = 0.0

    def __post_init__(self) -> None:
        checks = [
            ("polling interval", self.polling_interval, 1),
            ("sync period", self.sync_period, 1),
            ("job seconds", self.job_seconds, 1),
            ("partitions", self.partitions, 1),
        ]
        for what, value, low in checks:
            if value is not None and value < low:
                raise InputError(f"{what} must be at least {low} (got {value:g})")
        for what, value in [
            ("cooldown period", self.cooldown_period),
            ("initial cooldown period", self.initial_cooldown_period),
            ("stabilization window", self.stabilization_window),
            ("tolerance", self.tolerance),
            ("HPA offset", self.hpa_offset),
            ("start replicas", self.start_replicas),
            ("job pending seconds", self.job_pending_seconds),
        ]:
            if value is not None and value < 0:
                raise InputError(f"{what} must not be negative (got {value:g})")

    def apply(self, scaler: Scaler) -> Scaler:
        """The scaler with this run's overrides of its own fields."""
        changes = {
            k: v
            for k, v in (
                ("polling_interval", self.polling_interval),
                ("cooldown_period", self.cooldown_period),
                ("initial_cooldown_period", self.initial_cooldown_period),
            )
            if v is not None
        }
        return dataclasses.replace(scaler, **changes)

    def deviations(self, scaler: Scaler) -> list[str]:
        """Each override that differs from the manifest (or the controller default), in words."""
        out = [
            f"{name} {v:g} s (manifest: {getattr(scaler, attr):g} s)"
            for name, attr, v in (
                ("pollingInterval", "polling_interval", self.polling_interval),
                ("cooldownPeriod", "cooldown_period", self.cooldown_period),
                ("initialCooldownPeriod", "initial_cooldown_period", self.initial_cooldown_period),
            )
            if v is not None and v != getattr(scaler, attr)
        ]
        if self.stabilization_window is not None and self.stabilization_window != DOWNSCALE_STABILIZATION:
            out.append(
                f"scale-down stabilization {self.stabilization_window:g} s (default {DOWNSCALE_STABILIZATION:g} s)"
            )
        if self.sync_period != SYNC_PERIOD:
            out.append(f"HPA sync {self.sync_period:g} s (default {SYNC_PERIOD:g} s)")
        if self.tolerance != TOLERANCE:
            out.append(f"HPA tolerance {self.tolerance:g} (default {TOLERANCE:g})")
        return out


@dataclass(frozen=True)
class Step:
    """One event: KEDA's poll (``keda``), the HPA's sync (``hpa``) or a ScaledJob's poll (``jobs``)."""

    t: float
    actor: str
    before: int
    #: Replicas after the event; for a ScaledJob, unfinished Jobs.
    replicas: int
    reason: str
    triggers: tuple[TriggerState, ...] = ()
    active: bool | None = None
    #: The HPA: the largest proposal, the stabilized recommendation, the upper bound this sync.
    recommendation: int | None = None
    stabilized: int | None = None
    limit: int | None = None
    #: ScaledJob: Jobs created at this poll, Jobs not yet running, pods running.
    created: int | None = None
    pending: int | None = None
    pods: int | None = None
    #: ScaledJob: Jobs that finished since the last poll.
    finished: int | None = None

    @property
    def changed(self) -> bool:
        return self.replicas != self.before or bool(self.created)

    def to_json(self) -> dict[str, Any]:
        data = {
            "t": self.t,
            "actor": self.actor,
            "replicas_before": self.before,
            "replicas": self.replicas,
            "active": self.active,
            "triggers": {s.name: s.to_json() for s in self.triggers},
            "recommendation": self.recommendation,
            "stabilized": self.stabilized,
            "limit": self.limit,
            "reason": self.reason,
        }
        if self.actor == "jobs":
            data |= {"created": self.created, "finished": self.finished, "pending": self.pending, "pods": self.pods}
        return data


def _states_text(states: Sequence[TriggerState], scaler: Scaler) -> str:
    by_name = {t.name: t for t in scaler.triggers}
    parts = []
    for s in states:
        if s.metric is None:
            parts.append(f"{s.name} {s.error}")
        elif s.fallback:
            parts.append(f"{s.name} {s.note}")
        else:
            op = ">" if s.active else "<="
            parts.append(f"{s.name} {s.raw:g} {op} {by_name[s.name].activation:g}" + (f" ({s.note})" if s.note else ""))
    return ", ".join(parts)


class _Clock:
    """KEDA's polls at 0, P, 2P, ... and the HPA's syncs at offset, offset + S, ...: whichever is next."""

    def __init__(self, poll: float, sync: float | None, offset: float) -> None:
        self.poll, self.sync, self.offset = poll, sync, offset
        self.polls = self.syncs = 0

    def next(self) -> tuple[float, str]:
        t_poll = self.polls * self.poll
        if self.sync is None:
            return t_poll, "keda"
        t_sync = self.offset + self.syncs * self.sync
        return (t_poll, "keda") if t_poll <= t_sync else (t_sync, "hpa")

    def tick(self, actor: str) -> None:
        if actor == "hpa":
            self.syncs += 1
        else:
            self.polls += 1


class ScaledObjectLoop:
    """KEDA's operator loop and the HPA it creates, acting on one scale target."""

    def __init__(self, scaler: Scaler, options: Options | None = None) -> None:
        self.options = options = options or Options()
        self.scaler = scaler = options.apply(scaler)
        if not scaler.triggers:
            raise InputError(f"{scaler.name}: a ScaledObject needs at least one trigger")
        # With scalingModifiers the triggers are metric sources (the scale handler builds them with
        # asMetricSource): the HPA scales on the composite metric and its target alone.
        if not scaler.scaling_modifiers:
            for t in scaler.triggers:
                if t.target <= 0:
                    raise InputError(f"{scaler.name}: trigger {t.name} has target {t.target:g}; it must be positive")
        self.reader = TriggerReader(scaler, options.partitions)
        window = options.stabilization_window
        raw_behavior = new_hpa_behavior(scaler)
        if raw_behavior is not None and window is not None:
            down = dict(raw_behavior.get("scaleDown") or {}) | {"stabilizationWindowSeconds": window}
            raw_behavior = dict(raw_behavior) | {"scaleDown": down}
        self.behavior = behavior_from_manifest(raw_behavior, DOWNSCALE_STABILIZATION if window is None else window)
        self.hpa_min = get_hpa_min_replicas(scaler.min_replicas)
        self.hpa = HPA(
            self.hpa_min,
            scaler.max_replicas,
            self.behavior,
            DOWNSCALE_STABILIZATION if window is None else window,
            options.tolerance,
        )
        self.replicas = options.start_replicas
        self.last_active: float | None = None
        self.cached: dict[str, TriggerState] = {}
        self.clock = _Clock(scaler.polling_interval, options.sync_period, options.hpa_offset)

    def next_event(self) -> float:
        return self.clock.next()[0]

    def advance(self, now: float, read: Read, jobs: Jobs | None = None, ready: Ready | None = None) -> list[Step]:
        """Every event due at or before ``now``, in order; ``ready`` tells the HPA's syncs the pods ready."""
        steps = []
        while True:
            t, actor = self.clock.next()
            if t > now:
                return steps
            self.clock.tick(actor)
            steps.append(self.poll(t, read) if actor == "keda" else self.sync(t, read, ready))

    # --- KEDA: pkg/scaling/scale_handler.go, pkg/scaling/executor/scale_scaledobjects.go -------------

    def _read_all(self, t: float, read: Read) -> tuple[tuple[TriggerState, ...], bool, bool, str]:
        states = tuple(self.reader.read(tr, read(tr.name, t), self.replicas) for tr in self.scaler.triggers)
        text = _states_text(states, self.scaler)
        composite = None
        if self.reader.modifiers is not None:
            _, composite, how = self.reader.composite(states)
            text = f"{text}; {how}"
        active, errors = get_scaled_object_state(
            [s.active for s in states], [s.metric is None for s in states], composite
        )
        return states, active, errors, text

    def poll(self, t: float, read: Read) -> Step:
        cur = self.replicas
        if self.scaler.pause.paused:  # the scale loop is stopped: no reads, only the paused count
            request = request_scale(self.scaler, t, cur, False, False, self.last_active, self.reader.fallback)
            self.replicas = request.replicas
            return Step(t, "keda", cur, request.replicas, f"KEDA: {request.reason}")
        states, active, error, text = self._read_all(t, read)
        self.cached = {s.name: s for s in states}
        request = request_scale(self.scaler, t, cur, active, error, self.last_active, self.reader.fallback)
        self.replicas, self.last_active = request.replicas, request.last_active
        return Step(t, "keda", cur, request.replicas, f"KEDA: {text}: {request.reason}", states, active)

    # --- the HPA: controllers/keda/hpa.go, Kubernetes' horizontal.go and replica_calculator.go -------

    def sync(self, t: float, read: Read, ready: Ready | None = None) -> Step:
        cur = self.replicas
        if self.scaler.pause.paused:  # handlePause deletes the HPA
            return Step(t, "hpa", cur, cur, f"HPA: none (KEDA deleted it while paused: {self.scaler.pause.text()})")
        inputs: list[MetricInput] = []
        states: tuple[TriggerState, ...] = ()
        if cur > 0 or self.hpa_min == 0:
            live = []
            for tr in self.scaler.triggers:
                cached = self.cached.get(tr.name)
                if tr.use_cached_metrics and cached is not None:
                    live.append(cached)
                else:
                    live.append(self.reader.read(tr, read(tr.name, t), cur))
            states = tuple(live)
            if self.reader.modifiers is not None:
                value, _, how = self.reader.composite(states)
                m = self.reader.modifiers
                inputs = [
                    MetricInput("composite-metric", value, m.target, m.metric_type, None if value is not None else how)
                ]
            else:
                by_name = {tr.name: tr for tr in self.scaler.triggers}
                inputs = [
                    MetricInput(st.name, st.metric, by_name[st.name].target, by_name[st.name].metric_type, st.error)
                    for st in states
                ]
        result = self.hpa.sync(t, cur, inputs, None if ready is None else ready(t))
        self.replicas = result.desired
        reason = result.reason + "".join(f" [{st.name} {st.note}]" for st in states if st.fallback)
        return Step(
            t, "hpa", cur, result.desired, reason, states, None, result.recommendation, result.stabilized, result.limit
        )


@dataclass
class _Job:
    created: float
    starts: float
    ends: float


class ScaledJobLoop:
    """KEDA's ScaledJob loop (``pkg/scaling/executor/scale_jobs.go``): Jobs created at each poll."""

    def __init__(self, scaler: Scaler, options: Options | None = None) -> None:
        self.options = options = options or Options()
        self.scaler = scaler = options.apply(scaler)
        if not scaler.triggers:
            raise InputError(f"{scaler.name}: a ScaledJob needs at least one trigger")
        if any(t.metric_type != "AverageValue" for t in scaler.triggers):
            raise InputError(f"{scaler.name}: a ScaledJob trigger must not set metricType (KEDA refuses it)")
        self.reader = TriggerReader(
            dataclasses.replace(scaler, fallback=None, scaling_modifiers=None), options.partitions
        )
        p, c = scaler.job_parallelism, scaler.job_completions
        self.parallelism = p if p is not None else 1
        self.completions = c if c is not None else (1 if p is None else None)
        waves = math.ceil(self.completions / self.parallelism) if self.completions else 1
        self.run_seconds = options.job_seconds * waves
        self.jobs: list[_Job] = []
        #: Unfinished Jobs after the last poll.
        self.last = 0
        self.clock = _Clock(scaler.polling_interval, None, 0.0)

    @property
    def replicas(self) -> int:
        return len(self.jobs)

    def next_event(self) -> float:
        return self.clock.next()[0]

    def advance(self, now: float, read: Read, jobs: Jobs | None = None, ready: Ready | None = None) -> list[Step]:
        """Every poll due at or before ``now``; ``ready`` is for a ScaledObject's HPA (a ScaledJob has none)."""
        steps = []
        while (t := self.clock.next()[0]) <= now:
            self.clock.tick("keda")
            steps.append(self.poll(t, read, jobs))
        return steps

    def _pods(self, t: float, running_jobs: int) -> int:
        width = min(self.parallelism, self.completions) if self.completions else self.parallelism
        return running_jobs * width

    def poll(self, t: float, read: Read, jobs: Jobs | None = None) -> Step:
        before = self.last
        self.jobs = [j for j in self.jobs if j.ends > t]
        if jobs is not None:
            running, pending = jobs(t)
            started = running - pending
        else:
            running = len(self.jobs)
            pending = sum(1 for j in self.jobs if j.starts > t)
            started = running - pending
        # Paused, the scale loop is stopped: no trigger is read (checkIfPaused, scaledjob_controller.go).
        paused = self.scaler.pause.paused
        states = tuple(self.reader.read(tr, read(tr.name, t), running) for tr in self.scaler.triggers if not paused)
        readings = [
            Reading(tr, st.metric, activation_metric=st.raw, error=st.error)
            for tr, st in zip(self.scaler.triggers, states)
        ]
        decision = decide_scaled_job(self.scaler, readings, running, pending)
        n = decision.count or 0
        for _ in range(n):
            starts = t + self.options.job_pending_seconds
            self.jobs.append(_Job(t, starts, starts + self.run_seconds))
        after = running + n
        if jobs is None:
            pending += sum(1 for j in self.jobs[len(self.jobs) - n :] if j.starts > t)
            started = after - pending
        self.last = after
        return Step(
            t,
            "jobs",
            before,
            after,
            f"KEDA: {decision.reason}",
            states,
            decision.active,
            created=n,
            pending=pending,
            pods=self._pods(t, started),
            finished=max(before - running, 0),
        )


Loop = ScaledObjectLoop | ScaledJobLoop


def loop_for(scaler: Scaler, options: Options | None = None) -> Loop:
    return ScaledJobLoop(scaler, options) if scaler.kind == SCALED_JOB else ScaledObjectLoop(scaler, options)


# --- replaying a series --------------------------------------------------------------------------


__all__ = [
    "Jobs",
    "Loop",
    "Options",
    "Read",
    "Ready",
    "ScaledJobLoop",
    "ScaledObjectLoop",
    "Step",
    "TriggerState",
    "legacy_scale_up_limit",
    "legacy_scale_up_syncs",
    "loop_for",
]
