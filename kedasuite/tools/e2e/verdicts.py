"""Whether a run did what its plan expected: pure checks over a saved timeline.

The driver (:mod:`.driver`) only acts and records; every verdict is computed afterwards
from the timeline CSV (the format of :mod:`kedasuite.tools.timeline.records`: readings
plus the driver's marks), so ``kedasuite e2e check artifacts/e2e-timeline.csv`` re-judges
a saved run and the tests feed these functions hand-made timelines. A reading's
``actual`` is the replicas running (a ScaledJob: its unfinished Jobs), ``failed`` the
ScaledJob's failed Jobs; ``None`` means that reading failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kedasuite.core.workloads import SCALED_JOB
from kedasuite.core.workloads import workload as row_of
from kedasuite.tools.e2e.plan import Plan
from kedasuite.tools.timeline.records import Mark, Row, parse_records, read_records

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


@dataclass
class Timeline:
    samples: list[Row] = field(default_factory=list)
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

    def of(self, workload: str) -> list[Row]:
        return [s for s in self.samples if s.workload == workload]


def parse_timeline(lines: Iterable[str], where: str = "the timeline") -> Timeline:
    samples, marks = parse_records(lines, where)
    return Timeline(samples, marks)


def read_timeline(path: str | os.PathLike[str]) -> Timeline:
    samples, marks = read_records(path)
    return Timeline(samples, marks)


def drained(sample: Row) -> bool:
    """Nothing pending and nothing in flight."""
    return sample.backlog == 0 and not sample.in_flight


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


def _window(samples: Sequence[Row], workload: str, start: datetime, end: datetime | None) -> list[Row]:
    return [
        s
        for s in samples
        if s.workload == workload and s.actual is not None and s.time >= start and (end is None or s.time <= end)
    ]


def check_stays_at(samples: Sequence[Row], workload: str, start: datetime, end: datetime, value: int) -> Verdict:
    """Replicas equal ``value`` in every reading from ``start`` to ``end``.

    No reading at all in the window fails: a sampler that saw nothing proves nothing.
    """
    window = _window(samples, workload, start, end)
    if not window:
        return Verdict(False, "no readings in the window")
    for s in window:
        if s.actual != value:
            return Verdict(False, f"{s.actual} at {_since(s.time, start)}")
    backlogs = sorted({s.backlog for s in window if s.backlog is not None})
    backlog = f", backlog {'/'.join(map(str, backlogs))}" if backlogs else ""
    return Verdict(True, f"{value} in all {len(window)} readings{backlog}")


def check_reaches(
    samples: Sequence[Row], workload: str, start: datetime, deadline: datetime, at_least: int, at_most: int
) -> Verdict:
    """Replicas reach ``at_least`` by ``deadline`` and never exceed ``at_most`` on the way."""
    window = _window(samples, workload, start, deadline)
    if not window:
        return Verdict(False, "no readings in the window")
    for s in window:
        if s.actual is not None and s.actual > at_most:
            return Verdict(False, f"{s.actual} at {_since(s.time, start)}: above {at_most}")
    for s in window:
        if s.actual is not None and s.actual >= at_least:
            return Verdict(True, f"{s.actual} at {_since(s.time, start)}")
    peak = max(s.actual or 0 for s in window)
    low = [s.backlog for s in window if s.backlog is not None]
    hint = f"; backlog fell to {min(low)}" if low else ""
    return Verdict(False, f"peak {peak} by {_since(deadline, start)}{hint}")


def check_at_most(
    samples: Sequence[Row], workload: str, start: datetime, end: datetime | None, ceiling: int
) -> Verdict:
    """Replicas never exceed ``ceiling`` (``maxReplicaCount``) from ``start`` on."""
    window = _window(samples, workload, start, end)
    if not window:
        return Verdict(False, "no readings in the window")
    peak = max(window, key=lambda s: s.actual or 0)
    if (peak.actual or 0) > ceiling:
        return Verdict(False, f"peak {peak.actual} at {_since(peak.time, start)}")
    return Verdict(True, f"peak {peak.actual}")


def find_drained_at(
    samples: Sequence[Row], workload: str, after: datetime, until: datetime | None = None
) -> datetime | None:
    """The first reading after ``after`` from which backlog and in-flight stay 0 (to ``until``).

    From then on every trigger reads 0, so KEDA is inactive; it may have become inactive a
    little earlier (a metric at or under its activation threshold), which only makes the
    return to zero come sooner. Readings that failed (``None``) are skipped.
    """
    readings = [
        s
        for s in samples
        if s.workload == workload and s.backlog is not None and s.time > after and (until is None or s.time <= until)
    ]
    drained_at: datetime | None = None
    for s in readings:
        if drained(s):
            if drained_at is None:
                drained_at = s.time
        else:
            drained_at = None
    return drained_at


def check_returns_to_zero(
    samples: Sequence[Row], workload: str, drained_at: datetime, within: float, until: datetime | None = None
) -> Verdict:
    """After the drain, replicas reach 0 within ``within`` seconds and stay there."""
    window = _window(samples, workload, drained_at, until)
    limit = drained_at + timedelta(seconds=within)
    first_zero = next((s for s in window if s.actual == 0), None)
    if first_zero is None:
        last = window[-1] if window else None
        seen = f"still {last.actual} at {_since(last.time, drained_at)}" if last else "no readings after the drain"
        return Verdict(False, seen)
    if first_zero.time > limit:
        return Verdict(False, f"0 only at {_since(first_zero.time, drained_at)}")
    for s in window:
        if s.time > first_zero.time and s.actual != 0:
            return Verdict(
                False, f"0 at {_since(first_zero.time, drained_at)}, then {s.actual} at {_since(s.time, drained_at)}"
            )
    return Verdict(True, f"0 at {_since(first_zero.time, drained_at)}")


def check_no_failed_jobs(
    samples: Sequence[Row], workload: str, start: datetime, until: datetime | None = None
) -> Verdict:
    """No Job failed after ``start``: the failed count never rises above its value then.

    Counting from a baseline keeps failed Jobs of an earlier run on a reused cluster
    (kept by ``failedJobsHistoryLimit``) out of this run's verdict.
    """
    readings = [
        s for s in samples if s.workload == workload and s.failed is not None and (until is None or s.time <= until)
    ]
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
        add(
            "idle",
            f"0 {unit} for {_secs(plan.idle_s)} s",
            check_stays_at(samples, workload, idle_start.time, idle_end.time, 0),
        )
    else:
        add("idle", f"0 {unit} for {_secs(plan.idle_s)} s", Verdict(False, "not run"))
        return results

    below, below_end = timeline.mark(workload, MARK_BELOW), timeline.mark(workload, MARK_BELOW_END)
    if plan.below > 0:
        kafka = row_of(workload).broker == "kafka"
        what = "lag" if kafka else "items"
        expected = f"0 {unit} for {_secs(plan.hold_s)} s with {plan.below} {what} (activation: > {spec.activation:g})"
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
        expected = (
            f"{plan.at_least}..{plan.at_most} {unit} within {_secs(plan.scale_out_deadline_s)} s "
            f"(first poll: {plan.expected})"
        )
    else:
        expected = f"{plan.expected} {unit} within {_secs(plan.scale_out_deadline_s)} s"
    add("scale-out", expected, check_reaches(samples, workload, burst.time, deadline, plan.at_least, plan.at_most))
    add(
        "ceiling",
        f"<= {plan.at_most} {unit} (maxReplicaCount)",
        check_at_most(samples, workload, burst.time, end, plan.at_most),
    )

    drain_limit = burst.time + timedelta(seconds=plan.drain_timeout_s)
    drained_at = find_drained_at(samples, workload, burst.time, end)
    if drained_at is None or drained_at > drain_limit:
        last = [s for s in samples if s.backlog is not None]
        seen = f"backlog {last[-1].backlog}, in flight {last[-1].in_flight or 0} at the end" if last else "no readings"
        if drained_at is not None:
            seen = f"drained only at {_since(drained_at, burst.time)}"
        add("drain", f"backlog 0 within {_secs(plan.drain_timeout_s)} s", Verdict(False, seen))
    else:
        add(
            "drain",
            f"backlog 0 within {_secs(plan.drain_timeout_s)} s",
            Verdict(True, f"drained at {_since(drained_at, burst.time)}"),
        )
        add(
            "scale-in",
            f"0 {unit} within {_secs(plan.return_within_s)} s of the drain",
            check_returns_to_zero(samples, workload, drained_at, plan.return_within_s, end),
        )

    if spec.kind == SCALED_JOB:
        add("jobs", "no Job fails", check_no_failed_jobs(samples, workload, burst.time, end))

    pumped = _marked_count(below) + _marked_count(burst)
    processed = timeline.mark(workload, MARK_PROCESSED)
    if row_of(workload).broker == "kafka":
        # Offsets are committed only after a record is processed: lag 0 means all were.
        last = [s for s in samples if s.backlog is not None]
        lag = last[-1].backlog if last else None
        results_note = f" ({processed.value} results in Redis)" if processed and processed.value else ""
        add(
            "processed",
            f"all {pumped} records (lag 0)",
            Verdict(lag == 0, f"lag {lag if lag is not None else 'unknown'}{results_note}"),
        )
    else:
        count = _marked_count(processed) if processed and processed.value else None
        add(
            "processed",
            f"{pumped} results",
            Verdict(count == pumped, "not counted" if count is None else f"{count} results"),
        )
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
    summary = f"{len(results) - failed} of {len(results)} checks passed" if results else "no checks ran"
    return "\n".join([*lines, "", summary + (f"; {failed} FAILED" if failed else "")])
