"""The actuator: the model of KEDA's and the HPA's loop, driven by a clock and live reads,
and a backend that makes its replica counts real.

One :class:`Actuator` holds a loop (:func:`kedasuite.keda.model.loop_for`) per target. A pass
over a target runs every event due by now, one at a time (KEDA's polls, the HPA's syncs, a
ScaledJob's polls), reading the triggers live within one deadline per event, and after each
event hands the backend the model's count: a ScaledObject's replicas (the backend starts or stops workers,
like a ReplicaSet), a ScaledJob's new Jobs (the backend starts their runners; the Jobs it
reports running and pending are what the next poll counts). Between events the backend is
refreshed: exited processes are reaped, overdue ones killed, and a ScaledObject whose
actual count fell below the model's (a worker died) is brought back, as a ReplicaSet does.

:meth:`Actuator.run` gives each target a thread of its own, as KEDA runs one loop per
ScaledObject and ScaledJob: a broker that hangs or fails delays only the targets that read it,
while its own thread refreshes the backend and writes the state file. :meth:`Actuator.tick`
makes one pass over every target in turn, for callers that keep a simulated clock.

Nothing here reads the wall clock or the brokers by itself: ``clock``, the reads and the
backend are handed in, so a test drives it with a fake clock and a fake backend.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from kedasuite.autoscale.targets import Target
from kedasuite.core.stopping import StopFlag, Stoppable
from kedasuite.keda.model import Loop, Options, Step, loop_for
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.rules.spec import Trigger

#: The state file's name in the run directory (see :func:`read_state`).
STATE_FILE = "state.json"
#: Seconds between backend refreshes when no model event is due sooner.
REFRESH_SECONDS = 0.5
#: How long a stopping autoscaler waits for each target's thread to finish what it is doing.
JOIN_SECONDS = 10.0


@dataclass(frozen=True)
class JobStatus:
    """One Job of a ScaledJob as a backend knows it, in the terms of a Job's ``status``: its pods
    running (``active``), ready, and ended well or badly."""

    name: str
    active: int
    ready: int
    succeeded: int = 0
    failed: int = 0


class Reads(Protocol):
    """A trigger's raw value now (``None``: the read failed), and why reads failed."""

    errors: dict[tuple[str, str], str]

    def deadline(self) -> float | None:
        """When the reads of a poll starting now must have answered (``time.monotonic()``), or ``None``."""

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value: ...


class Backend(Protocol):
    """What runs the replicas: processes, containers, or nothing (``none``)."""

    name: str

    def replicas(self, target: Target) -> int:
        """Replicas running now (not counting ones that are terminating)."""

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        """Start or stop replicas until ``replicas`` run (stopping takes the grace period)."""

    def jobs(self, target: Target) -> tuple[int, int] | None:
        """(running, pending) Jobs of a ScaledJob, or ``None``: the model keeps its own count."""

    def ready(self, target: Target) -> int | None:
        """A ScaledObject's replicas running and ready now (what the HPA multiplies a ``Value``
        metric's ratio by), or ``None`` when the backend cannot tell: every replica counts."""

    def job_statuses(self, target: Target) -> list[JobStatus] | None:
        """A ScaledJob's Jobs one by one, running and recently finished, or ``None``: the backend
        cannot tell them apart."""

    def create_jobs(self, target: Target, count: int) -> None:
        """Start ``count`` new Jobs."""

    def refresh(self) -> None:
        """Reap exited processes, kill the ones past their grace period."""

    def close(self) -> None:
        """Stop everything (SIGTERM, then SIGKILL after the grace period)."""

    def describe(self, target: Target) -> dict[str, Any]:
        """Facts for the state file (pids, signals sent, exit codes)."""


class NoBackend:
    """``--backend none``: the model alone, for a cluster whose own KEDA acts."""

    name = "none"

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def replicas(self, target: Target) -> int:
        return self.counts.get(target.name, 0)

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        self.counts[target.name] = replicas

    def jobs(self, target: Target) -> tuple[int, int] | None:
        return None

    def ready(self, target: Target) -> int | None:
        return None

    def job_statuses(self, target: Target) -> list[JobStatus] | None:
        return None

    def create_jobs(self, target: Target, count: int) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self, target: Target) -> dict[str, Any]:
        return {}


@dataclass
class _Tracked:
    target: Target
    loop: Loop
    options: Options
    last: Step | None = None
    #: The last step of KEDA itself (a poll): what it does about failing reads.
    last_keda: Step | None = None
    #: The last raw value read per trigger (for the predicted next step).
    values: dict[str, Value] = field(default_factory=dict)
    jobs: tuple[int, int] | None = None
    #: The pods the backend last reported ready (a ScaledObject's; ``None``: it cannot tell).
    ready: int | None = None
    errors: tuple[str, ...] = ()
    #: Model time the model's count last moved away from the actual count; ``None``: they agree.
    behind_since: float | None = None
    #: Seconds the actual count trailed the model's, per change.
    lags: list[float] = field(default_factory=list)
    #: The model's next step if the triggers keep their last values (taken after each pass).
    next: Step | None = None
    #: Model time the read under way began (``None``: not reading).
    reading_since: float | None = None


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat()


def _clock_text(wall: float) -> str:
    return datetime.fromtimestamp(wall).strftime("%H:%M:%S")


def _same(counts: tuple[int, int], _t: float) -> tuple[int, int]:
    """The Jobs the backend reported, whatever the instant (a ScaledJob's cluster-side counts)."""
    return counts


class Actuator:
    """The model over every target, made real by ``backend``."""

    def __init__(
        self,
        targets: Sequence[Target],
        reads: Reads,
        backend: Backend,
        options: Options | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        emit: Callable[[str], None] = print,
        every_step: bool = False,
        source: str = "",
        state_path: Path | None = None,
        observe: Callable[[Target, Step], None] | None = None,
        after_pass: Callable[[Actuator], None] | None = None,
    ) -> None:
        """``observe``, when given, sees every step of every target as it is taken (a scenario keeps them);
        ``after_pass`` is called with the actuator each time the state is written (an exporter takes
        its counts then, so a scrape never waits for a backend)."""
        self.reads, self.backend, self.clock, self.wall, self.emit = reads, backend, clock, wall, emit
        self.observe, self.after_pass = observe, after_pass
        self.every_step, self.source, self.state_path = every_step, source, state_path
        self.options = options or Options()
        self.t0 = clock()
        self.started = wall()
        #: ``stopping`` / ``stopped``: what the state says about the end of this autoscaler.
        self.marks: dict[str, dict[str, Any]] = {}
        self._last_state: dict[str, Any] | None = None
        #: Held around each replica or Job change; once ``_closed``, no change is made (the backend closes).
        self._acting = threading.Lock()
        self._closed = False
        #: What ended a target's thread, raised again by :meth:`run`.
        self._failure: BaseException | None = None
        self.tracked: list[_Tracked] = []
        for target in targets:
            # A restarted autoscaler adopts the replicas it finds: the model starts from them.
            start = 0 if target.is_job else backend.replicas(target)
            opts = dataclasses.replace(self.options, start_replicas=start)
            self.tracked.append(_Tracked(target, loop_for(target.scaler, opts), opts))

    # --- time ----------------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds since the autoscaler started: the model's time."""
        return self.clock() - self.t0

    def next_event(self) -> float:
        return min((tr.loop.next_event() for tr in self.tracked), default=float("inf"))

    # --- one pass ------------------------------------------------------------------------------

    def tick(self) -> float:
        """One pass over every target in turn; the seconds until the next event."""
        self.backend.refresh()
        now = self.now()
        for tr in self.tracked:
            self._pass(tr, now)
        self.write_state()
        if self.after_pass is not None:
            self.after_pass(self)
        return max(0.0, self.next_event() - self.now())

    def _pass(self, tr: _Tracked, now: float) -> None:
        """Every event of ``tr`` due by ``now``, then the ReplicaSet's reconciliation and the read errors."""
        while tr.loop.next_event() <= now:
            self._event(tr, tr.loop.next_event())
        self._reconcile(tr)
        self._note_errors(tr)
        tr.next = self.predicted(tr)

    def _read_fn(self, tr: _Tracked) -> Callable[[str, float], Value]:
        """Reads for one event: each trigger once (a poll and a sync at one instant share it), all
        within one deadline."""
        by_name = {t.name: t for t in tr.target.scaler.triggers}
        cache: dict[tuple[str, float], Value] = {}
        deadline = self.reads.deadline()

        def read(name: str, t: float) -> Value:
            if (name, t) not in cache:
                tr.reading_since = self.now()
                try:
                    cache[(name, t)] = self.reads.value(by_name[name], deadline)
                finally:
                    tr.reading_since = None
            tr.values[name] = cache[(name, t)]
            return cache[(name, t)]

        return read

    def _ready_fn(self, tr: _Tracked) -> Callable[[float], int | None]:
        """The pods the backend has ready at each HPA sync, noted for the predicted next step: a
        ``Value`` metric's proposal multiplies by them, as the HPA's replica calculator does."""

        def ready(_t: float) -> int | None:
            tr.ready = self.backend.ready(tr.target)
            return tr.ready

        return ready

    def _event(self, tr: _Tracked, t: float) -> None:
        target = tr.target
        jobs_fn = None
        ready_fn = None
        if target.is_job:
            tr.jobs = self.backend.jobs(target)
            if tr.jobs is not None:
                jobs_fn = functools.partial(_same, tr.jobs)
        else:
            ready_fn = self._ready_fn(tr)
        # One instant may hold two events (KEDA's poll, then the HPA's sync): each is shown, the last one acted on.
        steps = tr.loop.advance(t, self._read_fn(tr), jobs_fn, ready_fn)
        for step in steps:
            if self.observe is not None:
                self.observe(target, step)
            tr.last = step
            if step.actor != "hpa":
                tr.last_keda = step
            if step.changed or self.every_step:
                self.emit(self.line(target, step))
            if target.is_job and step.created:
                with self._acting:
                    if self._closed:
                        return
                    self.backend.create_jobs(target, step.created)
                tr.lags.append(max(0.0, self.now() - step.t))
        step = steps[-1]
        if not target.is_job and step.replicas != self.backend.replicas(target):
            if tr.behind_since is None:
                tr.behind_since = next(s.t for s in steps if s.replicas != s.before or s is step)
            self._scale(target, step.replicas, step.reason)

    def _scale(self, target: Target, replicas: int, reason: str) -> None:
        with self._acting:
            if not self._closed:
                self.backend.scale(target, replicas, reason)

    def _reconcile(self, tr: _Tracked) -> None:
        """A ScaledObject's actual count follows the model's between events too (a worker died)."""
        if tr.target.is_job:
            return
        want = tr.loop.replicas
        if self.backend.replicas(tr.target) != want:
            if tr.behind_since is None:
                tr.behind_since = self.now()
            self._scale(tr.target, want, "the ReplicaSet keeps the count")
        if self.backend.replicas(tr.target) == want and tr.behind_since is not None:
            tr.lags.append(max(0.0, self.now() - tr.behind_since))
            tr.behind_since = None

    def _note_errors(self, tr: _Tracked) -> None:
        by_message: dict[str, list[str]] = {}
        for t in tr.target.scaler.triggers:
            message = self.reads.errors.get((t.type, t.source))
            if message is not None:
                by_message.setdefault(message, []).append(t.name)
        errors = tuple(f"{', '.join(names)}: {message}" for message, names in by_message.items())
        if errors != tr.errors:
            when = f"[{_clock_text(self.wall())}] {self.now():7.1f}s {tr.target.name:<9}"
            if errors:
                how = tr.last_keda.reason if tr.last_keda is not None else "the model holds"
                self.emit(f"{when} read failed: {'; '.join(errors)} → {how}")
            else:
                self.emit(f"{when} reads work again")
            tr.errors = errors

    def line(self, target: Target, step: Step) -> str:
        """One replica (or Job) change: time, workload, old → new, the model's reason in words."""
        count = f"{step.before} → {step.replicas}"
        extra = ([f"{step.finished} done"] if step.finished else []) + ([f"+{step.created}"] if step.created else [])
        if extra:
            count += f" ({', '.join(extra)})"
        wall = self.wall() - (self.now() - step.t)
        return f"[{_clock_text(wall)}] {step.t:7.1f}s {target.name:<9} {target.unit:<8} {count:<12} {step.reason}"

    # --- state for /status and the dashboard -----------------------------------------------------

    def predicted(self, tr: _Tracked) -> Step | None:
        """The model's next step if the triggers keep their last values (no broker is read)."""
        loop = copy.deepcopy(tr.loop)
        at = loop.next_event()
        counts, ready = tr.jobs, tr.ready
        try:
            steps = loop.advance(
                at,
                lambda name, _t: tr.values.get(name, 0.0),
                (lambda _t: counts) if counts is not None else None,
                lambda _t: ready,
            )
        except Exception:  # noqa: BLE001 - a prediction never stops the actuator
            return None
        return steps[0] if steps else None

    @staticmethod
    def model_count(tr: _Tracked) -> int:
        """The model's replicas; for a ScaledJob, the unfinished Jobs of its last poll (the running ones
        the backend reported plus those it created)."""
        if tr.target.is_job:
            return tr.last.replicas if tr.last is not None else 0
        return tr.loop.replicas

    def state(self) -> dict[str, Any]:
        """What ``/status`` and the dashboard can show: actual and model counts, next step, deviations."""
        now = self.now()
        out = []
        for tr in self.tracked:
            target, nxt, since = tr.target, tr.next, tr.reading_since
            # Jobs as the backend has them now, the ones this pass created among them: a Job that
            # runs for less than a polling interval would otherwise never be seen running.
            jobs = self.backend.jobs(target) if target.is_job else None
            actual = jobs[0] if jobs is not None else self.backend.replicas(target)
            lags = list(tr.lags)
            out.append(
                {
                    "workload": target.name,
                    "kind": target.scaler.kind,
                    "name": target.scaler.name,
                    "unit": target.unit,
                    "actual": actual,
                    "model": self.model_count(tr),
                    "last_step": tr.last.to_json() if tr.last else None,
                    "reason": tr.last.reason if tr.last else "no event yet",
                    "next_step": None
                    if nxt is None
                    else {
                        "in_seconds": round(max(0.0, nxt.t - now), 3),
                        "actor": nxt.actor,
                        "replicas": nxt.replicas,
                        "reason": nxt.reason,
                    },
                    "deviations": deviations(target, tr.options),
                    "polling_interval": tr.options.apply(target.scaler).polling_interval,
                    "grace_seconds": target.grace_seconds,
                    "grace_source": target.grace_source,
                    "read_errors": list(tr.errors),
                    "reading_for_seconds": None if since is None else round(max(0.0, now - since), 3),
                    "actuation_lag_seconds": {
                        "count": len(lags),
                        "median": statistics.median(lags) if lags else None,
                        "max": max(lags) if lags else None,
                    },
                    "backend": self.backend.describe(target),
                }
            )
        return {
            "time": _iso(self.wall()),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "backend": self.backend.name,
            "source": self.source,
            "seconds": round(now, 3),
            "started": _iso(self.started),
            "workloads": out,
            **copy.deepcopy(self.marks),
        }

    def write_state(self) -> None:
        if self.state_path is None:
            return
        self._write(self.state())

    def _write(self, state: dict[str, Any]) -> None:
        if self.state_path is None:
            return
        self._last_state = state
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_path)

    def mark_stopping(self, why: str) -> None:
        """Say in the state that this autoscaler is stopping its workers, and how long that may take.

        While the backend stops them (each its grace period) the state is not rewritten; without
        this mark the faces would call a cleanly stopping autoscaler hung after a few polls."""
        within = max((tr.target.grace_seconds for tr in self.tracked), default=0.0)
        self.marks["stopping"] = {"since": _iso(self.wall()), "why": why, "within_seconds": within}
        self._write_marks()

    def mark_stopped(self) -> None:
        """Say in the state that this autoscaler has stopped (its workers are gone): a face need not
        wait for the pid to vanish, nor trust that it did, to call the state stale."""
        self.marks["stopped"] = {"at": _iso(self.wall()), "why": self.marks.get("stopping", {}).get("why")}
        self._write_marks()

    def _write_marks(self) -> None:
        if self.state_path is None:
            return
        try:
            state = self.state()
        except Exception:  # noqa: BLE001 - a backend that cannot answer any more: its last counts, marked
            if self._last_state is None:
                return
            state = {**self._last_state, "time": _iso(self.wall()), **copy.deepcopy(self.marks)}
        self._write(state)

    def lag_summary(self) -> str:
        parts = []
        for tr in self.tracked:
            if tr.lags:
                parts.append(
                    f"{tr.target.name} median {statistics.median(tr.lags):.2f} s, max {max(tr.lags):.2f} s "
                    f"over {len(tr.lags)}"
                )
        return "; ".join(parts) or "no change to actuate"

    # --- the loop ------------------------------------------------------------------------------

    def run(self, stop: Stoppable, duration: float | None = None) -> None:
        """Every target in a thread of its own until ``stop`` is set (a signal) or ``duration``
        seconds have passed; this thread refreshes the backend and writes the state meanwhile.

        On the way out no replica or Job changes any more (the caller closes the backend next);
        a target's thread that failed stops them all, and its error is raised here."""
        done = StopFlag()
        threads = [
            threading.Thread(target=self._follow, args=(tr, done), daemon=True, name=f"autoscale {tr.target.name}")
            for tr in self.tracked
        ]
        for thread in threads:
            thread.start()
        try:
            while not stop.is_set() and not done.is_set():
                self.backend.refresh()
                self.write_state()
                if self.after_pass is not None:
                    self.after_pass(self)
                if duration is not None and self.now() >= duration:
                    break
                left = float("inf") if duration is None else duration - self.now()
                stop.wait(max(0.01, min(REFRESH_SECONDS, left)))
        finally:
            done.set()
            with self._acting:
                self._closed = True
            late = [t.name for t in threads if (t.join(JOIN_SECONDS), t.is_alive())[1]]
            if late:
                self.emit(
                    f"autoscale: {', '.join(late)} still busy {JOIN_SECONDS:g} s after the stop (a read or "
                    "a backend call); stopping without them"
                )
        if self._failure is not None:
            raise self._failure

    def _follow(self, tr: _Tracked, done: StopFlag) -> None:
        """One target's loop: a pass whenever an event is due, and every :data:`REFRESH_SECONDS`
        to keep the count (a worker that died is replaced)."""
        try:
            while not done.is_set():
                self._pass(tr, self.now())
                done.wait(max(0.01, min(tr.loop.next_event() - self.now(), REFRESH_SECONDS)))
        except BaseException as exc:  # noqa: BLE001 - raised again by run(), in the caller's thread
            self._failure = exc
            done.set()


def deviations(target: Target, options: Options) -> list[str]:
    """The overrides that differ from the manifest and apply to ``target`` (a ScaledJob has no HPA)."""
    found = options.deviations(target.scaler)
    return [d for d in found if d.startswith("pollingInterval")] if target.is_job else found


def read_state(run_dir: str | Path) -> Mapping[str, Any] | None:
    """The state an autoscaler using ``run_dir`` last wrote (``None``: none has run there).

    For ``/status`` and the dashboard: per workload the actual and the model's count, the
    last step's reason, the predicted next step, the deviations from the manifest.
    """
    path = Path(run_dir) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
