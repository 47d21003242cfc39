"""Predict, then verify: the model's replica trace beside the one a cluster produced.

A run on a real cluster is the model's calibration. :func:`calibrate` takes one workload's
readings from a saved e2e timeline (the backlog and in-flight counts the pump's ``/status``
reported, the replicas or Jobs the cluster ran) and replays the observed readings through
the same model ``kedasuite simulate`` and ``kedasuite autoscale`` use
(:func:`kedasuite.keda.model.replay.replay`), with the live object's settings from the plan
mark. Each reading then has a predicted count beside the observed one, and each change the
model made has the time the cluster reached the same count: the lag of the real controllers
behind the model.

What a difference means: the model's polls start at the run's first reading, KEDA's at some
unknown moment, so a lag up to one ``pollingInterval`` plus one HPA sync (15 s) is phase,
not error; pods take time to be created and start (the model counts a replica when the HPA
asks for it, the cluster when it runs); the readings are samples every few seconds. A
difference that persists beyond that, or a count the cluster never reaches, is what a
calibration is for: it points at a setting the model does not know (a cluster's own
``--horizontal-pod-autoscaler-sync-period``, a tolerance, a quota that stops pods).

Pure: a timeline in, a report out. ``kedasuite e2e check`` prints it for a saved run;
``kedasuite e2e run`` also writes it as a CSV beside the timeline.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from kedasuite.core.defaults import KAFKA_PARTITIONS
from kedasuite.core.workloads import by_trigger
from kedasuite.core.workloads import workload as row_of
from kedasuite.keda.model import Options, Step
from kedasuite.keda.model.replay import Series, replay
from kedasuite.tools.e2e.plan import HPA_SYNC_SECONDS, Plan
from kedasuite.tools.e2e.verdicts import MARK_PLAN, Timeline
from kedasuite.tools.timeline.records import Row

#: The columns of the calibration CSV ``kedasuite e2e run`` writes beside the timeline.
CSV_COLUMNS = ("workload", "t", "observed", "predicted", "difference", "reason")


@dataclass(frozen=True)
class Point:
    """One reading: seconds from the first, the cluster's count and the model's."""

    t: float
    observed: int | None
    predicted: int
    #: Why the model's count is what it is (the reason of its last step).
    reason: str

    @property
    def difference(self) -> int | None:
        return None if self.observed is None else self.observed - self.predicted


@dataclass(frozen=True)
class Change:
    """A change of the model's count, and when the cluster first showed the same count."""

    t: float
    before: int
    after: int
    reason: str
    #: Seconds from the model's change to the first reading that reached ``after``; ``None``: never.
    lag: float | None


@dataclass(frozen=True)
class Calibration:
    workload: str
    unit: str
    points: tuple[Point, ...]
    changes: tuple[Change, ...]
    #: A lag up to this long is the unknown phase of KEDA's polls and the HPA's syncs.
    phase_allowance: float
    #: Triggers the readings do not carry (read as 0 by the replay), named for the report.
    unread: tuple[str, ...] = ()

    @property
    def agreement(self) -> float:
        """The fraction of readings (with an observed count) where both counts are equal."""
        known = [p for p in self.points if p.observed is not None]
        return sum(p.difference == 0 for p in known) / len(known) if known else 0.0

    @property
    def max_difference(self) -> int:
        return max((abs(p.difference) for p in self.points if p.difference is not None), default=0)

    @property
    def lags(self) -> list[float]:
        return [c.lag for c in self.changes if c.lag is not None]

    @property
    def missed(self) -> list[Change]:
        """Model changes the cluster never matched."""
        return [c for c in self.changes if c.lag is None]

    def summary(self) -> str:
        lags = self.lags
        lag_text = (
            (
                f"lag behind the model median {statistics.median(lags):.1f} s, max {max(lags):.1f} s "
                f"(phase allows {self.phase_allowance:g} s)"
            )
            if lags
            else "no change matched"
        )
        missed = f"; never reached: {', '.join(str(c.after) for c in self.missed)}" if self.missed else ""
        unread = f"; not in the readings (read as 0): {', '.join(self.unread)}" if self.unread else ""
        return (
            f"{self.workload}: {len(self.changes)} model changes, {lag_text}{missed}; "
            f"{self.agreement:.0%} of {len(self.points)} readings agree, largest difference "
            f"{self.max_difference} {self.unit}{unread}"
        )


def _series(rows: Sequence[Row], t0: float, column: str) -> Series:
    points: list[tuple[float, float]] = []
    for row in rows:
        value = getattr(row, column)
        if value is None:  # a failed read: hold the last value, as the series does between points
            continue
        t = row.time.timestamp() - t0
        if not points or points[-1][1] != float(value):
            points.append((t, float(value)))
    return Series(tuple(points))


def calibrate(timeline: Timeline, workload: str) -> Calibration | None:
    """The model's trace for ``workload``'s observed readings, beside the observed counts;
    ``None`` when the timeline has no plan or no readings for it."""
    plan_mark = timeline.mark(workload, MARK_PLAN)
    rows = [r for r in timeline.of(workload) if r.time >= plan_mark.time] if plan_mark else []
    if plan_mark is None or not rows:
        return None
    plan = Plan.from_json(plan_mark.value)
    spec, row = plan.spec, row_of(workload)
    t0 = rows[0].time.timestamp()
    series: dict[str, Series] = {}
    unread: list[str] = []
    for trigger in spec.scaler.triggers:
        if by_trigger(trigger.type, trigger.source) == row:
            series[trigger.name] = _series(rows, t0, "backlog")
        elif row.in_flight is not None and trigger.source == row.in_flight:
            series[trigger.name] = _series(rows, t0, "in_flight")
        else:
            unread.append(trigger.name)
    if row.is_job:
        # KEDA counts the cluster's unfinished Jobs at each poll; the model then says how many it adds.
        series["running"] = _series(rows, t0, "actual")
    first = next((r.actual for r in rows if r.actual is not None), 0)
    options = Options(partitions=spec.partitions or KAFKA_PARTITIONS, start_replicas=0 if row.is_job else first)
    duration = rows[-1].time.timestamp() - t0
    steps = replay(spec.scaler, series, duration, options)
    points = tuple(_point(r.time.timestamp() - t0, r.actual, steps) for r in rows)
    changes = tuple(_change(s, points) for s in steps if (s.created if row.is_job else s.replicas != s.before))
    return Calibration(
        workload,
        "Jobs" if row.is_job else "replicas",
        points,
        changes,
        spec.polling_interval + HPA_SYNC_SECONDS,
        tuple(unread),
    )


def _point(t: float, observed: int | None, steps: Sequence[Step]) -> Point:
    last = None
    for step in steps:
        if step.t > t:
            break
        last = step
    if last is None:
        return Point(t, observed, steps[0].before if steps else 0, "before the first poll")
    return Point(t, observed, last.replicas, last.reason)


def _change(step: Step, points: Sequence[Point]) -> Change:
    """A rise is met by the first reading at or above the model's count, a fall at or below it:
    a cluster whose readings skip an intermediate count (1 -> 5 where the model went 1 -> 4 -> 8)
    has still reached it."""
    up = step.replicas > step.before

    def reached(observed: int | None) -> bool:
        return observed is not None and (observed >= step.replicas if up else observed <= step.replicas)

    lag = next((p.t - step.t for p in points if p.t >= step.t and reached(p.observed)), None)
    return Change(step.t, step.before, step.replicas, step.reason, lag)


def calibrate_all(timeline: Timeline) -> list[Calibration]:
    return [c for w in timeline.workloads() if (c := calibrate(timeline, w)) is not None]


def render(calibrations: Sequence[Calibration]) -> str:
    """The report: one summary line per workload, then each model change and the cluster's lag."""
    lines = ["Model (predicted) vs cluster (observed):"]
    for cal in calibrations:
        lines.append(f"  {cal.summary()}")
        for c in cal.changes:
            seen = f"cluster after {c.lag:.1f} s" if c.lag is not None else "cluster never reached it"
            lines.append(f"    t={c.t:7.1f} s  {c.before:>3} -> {c.after:<3} {seen}; {c.reason}")
    return "\n".join(lines)


def write_csv(calibrations: Sequence[Calibration], out: TextIO) -> None:
    """Every reading with both counts and their difference (``observed - predicted``)."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for cal in calibrations:
        for p in cal.points:
            writer.writerow(
                [
                    cal.workload,
                    f"{p.t:.3f}",
                    "" if p.observed is None else p.observed,
                    p.predicted,
                    "" if p.difference is None else p.difference,
                    p.reason,
                ]
            )


__all__ = ["CSV_COLUMNS", "Calibration", "Change", "Point", "calibrate", "calibrate_all", "render", "write_csv"]
