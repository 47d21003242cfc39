"""The e2e driver: runs each workload's phases against a :class:`~.probe.Probe` and records.

For each workload, as KEDA's own e2e tests do: wait until it has settled (0 replicas, no
backlog), stay **idle**, pump a load **below activation** and hold it, pump a **burst**
and wait for the **drain** and the **scale-in**, then count the results. It only *acts*
and writes: every reading and a *mark* for each action go to the timeline CSV; the
verdicts come afterwards from that file alone (:mod:`.verdicts`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.core.workloads import workload as row_of
from kedasuite.tools.e2e.plan import Plan, Settings
from kedasuite.tools.e2e.probe import Probe, now
from kedasuite.tools.e2e.verdicts import (
    MARK_BELOW,
    MARK_BELOW_END,
    MARK_BURST,
    MARK_DRAIN_TIMEOUT,
    MARK_DRAINED,
    MARK_END,
    MARK_ERROR,
    MARK_IDLE_END,
    MARK_IDLE_START,
    MARK_PLAN,
    MARK_PROCESSED,
    MARK_SETTLE_TIMEOUT,
    MARK_SETTLED,
    drained,
)
from kedasuite.tools.timeline.records import CsvWriter, Mark, Row


def _secs(seconds: float) -> str:
    return f"{seconds:g}"


def _empty(sample: Row) -> bool:
    """Nothing pending, nothing in flight. Kafka's lag is unknown until the first pump creates
    the topic, which counts as empty; a failed Redis reading does not."""
    if sample.backlog is None:
        return row_of(sample.workload).broker == "kafka"
    return drained(sample)


class Driver:
    """Runs the phases against a :class:`Probe`, writing readings and marks to the timeline.

    One sampler thread reads every active workload each ``interval_s``; each workload's
    phases wait on those readings (never on a reading taken before the action they wait
    for), so the file holds exactly what the verdicts are computed from.
    """

    def __init__(
        self,
        probe: Probe,
        plans: Mapping[str, Plan],
        writer: CsvWriter,
        settings: Settings,
        log: Callable[[str], None] = print,
    ) -> None:
        self.probe = probe
        self.plans = plans
        self.specs = {w: p.spec for w, p in plans.items()}
        self.writer = writer
        self.settings = settings
        self.log = log
        self._latest: dict[str, Row] = {}
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
        self.writer.write(samples)
        with self._changed:
            for s in samples:
                self._latest[s.workload] = s
            self._changed.notify_all()

    def _sampler(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._sample_once()
            self._stop.wait(max(0.0, self.settings.interval_s - (time.monotonic() - started)))

    def wait_for(self, workload: str, predicate: Callable[[Row], bool], since: datetime, timeout: float) -> Row | None:
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
        t = now()
        self.writer.write([Mark(t, workload, name, str(value))])
        return t

    # -- one workload

    def drive(self, workload: str) -> None:
        plan = self.plans[workload]
        unit = "Jobs" if row_of(workload).is_job else "replicas"
        with self._lock:
            self._active.add(workload)
        try:
            self._drive(workload, plan, unit)
        except Exception as exc:  # noqa: BLE001 - recorded in the timeline, judged as a failure
            self.log(f"{workload}: {exc}")
            self.mark(workload, MARK_ERROR, exc)
        finally:
            # One more reading after the last phase, so "stays at 0" has something to stand on.
            self.wait_for(workload, lambda s: True, now(), 2 * self.settings.interval_s + 5)
            self.mark(workload, MARK_END)
            with self._lock:
                self._active.discard(workload)

    def _drive(self, workload: str, plan: Plan, unit: str) -> None:
        started = self.mark(workload, MARK_PLAN, plan.to_json())
        self.log(f"{workload}: {plan.why}")
        self.log(f"{workload}: waiting for 0 {unit} and an empty backlog (up to {_secs(plan.settle_timeout_s)} s)")
        settled = self.wait_for(workload, lambda s: s.actual == 0 and _empty(s), started, plan.settle_timeout_s)
        if settled is None:
            last = self._latest.get(workload)
            self.mark(
                workload,
                MARK_SETTLE_TIMEOUT,
                f"{last.actual} {unit}, backlog {last.backlog}, in flight {last.in_flight}" if last else "no readings",
            )
            return
        self.mark(workload, MARK_SETTLED)

        self.log(f"{workload}: idle for {_secs(plan.idle_s)} s, expecting 0 {unit}")
        self.mark(workload, MARK_IDLE_START)
        self._stop.wait(plan.idle_s)
        self.mark(workload, MARK_IDLE_END)

        # Results are counted by the workload's counter (one per record first processed):
        # with nothing in flight since the settle, what it gains from here is this run's.
        before = self.probe.processed(workload)
        if plan.below > 0:
            self.probe.pump(workload, plan.below)
            self.log(
                f"{workload}: pumped {plan.below} (activation > {plan.spec.activation:g}); "
                f"holding {_secs(plan.hold_s)} s, expecting 0 {unit}"
            )
            self.mark(workload, MARK_BELOW, plan.below)
            self._stop.wait(plan.hold_s)
            self.mark(workload, MARK_BELOW_END)

        self.probe.pump(workload, plan.burst)
        burst_at = self.mark(workload, MARK_BURST, plan.burst)
        self.log(
            f"{workload}: pumped a burst of {plan.burst}; expecting {plan.at_least}..{plan.at_most} {unit} "
            f"within {_secs(plan.scale_out_deadline_s)} s, then a drain"
        )

        emptied = self.wait_for(workload, drained, burst_at, plan.drain_timeout_s)
        if emptied is None:
            self.mark(workload, MARK_DRAIN_TIMEOUT)
            self.log(f"{workload}: backlog not drained in {_secs(plan.drain_timeout_s)} s")
        else:
            self.mark(workload, MARK_DRAINED)
            self.log(f"{workload}: drained; expecting 0 {unit} within {_secs(plan.return_within_s)} s")
            self.wait_for(
                workload, lambda s: s.actual == 0, emptied.time, plan.return_within_s + 2 * self.settings.interval_s
            )
        after = self.probe.processed(workload)
        count = None if before is None or after is None else after - before
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
