"""Replays over time: a metric series through the control loop of :mod:`kedasuite.keda.model`.

``kedasuite simulate`` replays the series a user gives; :func:`step_response` is the shape
e2e and the demo expect from a burst (when it wakes, its peak and when, when it is back at 0).
Pure like the model: time is the series' own.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB
from kedasuite.keda.model import Options, Step, loop_for
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.rules.hpa import (
    DOWNSCALE_STABILIZATION,
)
from kedasuite.keda.rules.spec import Scaler

Read = Callable[[str, float], Value]
#: Observed (running, pending) Jobs at a time, when a cluster (or a series) knows them.
Jobs = Callable[[float], tuple[int, int]]


@dataclass(frozen=True)
class Series:
    """A trigger's raw value over time: each ``(t, value)`` holds until the next; 0 before the first."""

    points: tuple[tuple[float, Value], ...]
    _times: tuple[float, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        times = tuple(t for t, _ in self.points)
        if list(times) != sorted(times):
            raise InputError("a series' times must be in increasing order")
        object.__setattr__(self, "_times", times)

    def at(self, t: float) -> Value:
        i = bisect.bisect_right(self._times, t)
        return self.points[i - 1][1] if i else 0.0

    @property
    def last_change(self) -> float:
        return self.points[-1][0] if self.points else 0.0


def default_duration(scaler: Scaler, series: Mapping[str, Series], options: Options | None = None) -> float:
    """Long enough to see the last change play out: the last point, then the longest wait
    (cooldown, stabilization window, a Job's run) and a few polls and syncs."""
    options = options or Options()
    s = options.apply(scaler)
    waits = [s.cooldown_period, options.stabilization_window or DOWNSCALE_STABILIZATION]
    if scaler.kind == SCALED_JOB:
        waits = [options.job_seconds * (s.job_completions or 1) + options.job_pending_seconds]
    last = max((x.last_change for x in series.values()), default=0.0)
    return last + max(waits) + 4 * max(s.polling_interval, options.sync_period)


def replay(
    scaler: Scaler, series: Mapping[str, Series], duration: float | None = None, options: Options | None = None
) -> list[Step]:
    """Every step from 0 to ``duration`` with each trigger reading its series (0 when not given);
    for a ScaledJob, the ``running`` (and ``pending``) series, when given, replace the model's own Jobs."""
    options = options or Options()
    loop = loop_for(scaler, options)
    if duration is None:
        duration = default_duration(scaler, series, options)
    jobs: Jobs | None = None
    if scaler.kind == SCALED_JOB and "running" in series:
        running, pending = series["running"], series.get("pending", Series(((0.0, 0.0),)))

        def jobs(t: float) -> tuple[int, int]:
            return int(running.at(t) or 0), min(int(pending.at(t) or 0), int(running.at(t) or 0))

    def read(name: str, t: float) -> Value:
        return series[name].at(t) if name in series else 0.0

    return loop.advance(duration, read, jobs)


# --- for the e2e expectations --------------------------------------------------------------------


@dataclass(frozen=True)
class StepResponse:
    """What a step load does: ``load`` from ``start`` until ``start + hold``, 0 before and after."""

    steps: tuple[Step, ...]
    #: First time the count left 0 (a ScaledJob: its first Job), or ``None``.
    woke_at: float | None
    peak: int
    #: First time the count reached ``peak``.
    peak_at: float | None
    #: First time it was back at 0 (no unfinished Job) after the load went, or ``None``.
    zero_at: float | None

    def changes(self) -> list[tuple[float, int]]:
        return [(s.t, s.replicas) for s in self.steps if s.changed]


def step_response(
    scaler: Scaler,
    load: float,
    start: float = 0.0,
    hold: float = 600.0,
    trigger: str | None = None,
    options: Options | None = None,
    duration: float | None = None,
) -> StepResponse:
    """The expected trace when ``load`` (a raw value: items, lag) sits on ``trigger`` (default: the
    first) from ``start`` for ``hold`` seconds. Deadlines in e2e are ``peak_at`` and ``zero_at``
    plus a margin for pods to start and samples to be taken."""
    name = trigger or scaler.triggers[0].name
    if name not in {t.name for t in scaler.triggers}:
        raise InputError(f"{scaler.name} has no trigger {name!r}")
    series = {name: Series(((0.0, 0.0), (start, float(load)), (start + hold, 0.0)))}
    steps = tuple(replay(scaler, series, duration, options))
    peak = max((s.replicas for s in steps), default=0)
    woke = next((s.t for s in steps if s.replicas > 0), None)
    peak_at = next((s.t for s in steps if s.replicas == peak), None) if peak else None
    zero = next((s.t for s in steps if s.t >= start + hold and s.replicas == 0 and s.before > 0), None)
    return StepResponse(steps, woke, peak, peak_at, zero)


__all__ = ["Series", "StepResponse", "default_duration", "replay", "step_response"]
