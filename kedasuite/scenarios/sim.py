"""Simulated workers for ``kedasuite scenario --model-only``: the model's replica counts acted on
by stand-ins of the suite's workers, on a simulated clock, with no broker and no process.

The model of KEDA and the HPA is not simulated here: the real :class:`~kedasuite.autoscale.actuator.Actuator`
drives these stand-ins exactly as it drives processes (they are its ``reads`` and its
``backend``). What is simulated is the workload, as simply as the pitfalls allow:

* **Celery** (:class:`SimCelery`): a list; workers with ``concurrency`` pool slots that reserve
  up to ``prefetch × concurrency`` unacknowledged messages (running ones count when acks are
  late); ``unacked`` holds what is reserved and not acknowledged. SIGTERM is a warm shutdown
  (running tasks finish, reserved ones go back to the list); a worker still running at the end
  of its grace period is killed, and its tasks come back after the visibility timeout, put back
  by a running worker's restore sweep (kombu's consumers do it: at 0 replicas, nobody does).
* **Kafka** (:class:`SimKafka`, :mod:`kedasuite.scenarios.sim_more`): partitions with a high
  watermark and a committed offset; members own partitions round robin and process one record
  at a time, committing after each; a membership change pauses the group for a rebalance.
* **Work-queue Jobs** (:class:`SimWorkQueue`, :mod:`kedasuite.scenarios.sim_more`): runners that
  start up, then lease items until nothing is pending or in flight.

Every worker needs ``startup`` seconds before it takes work (a Python process's imports; a
group join). The figures a simulated run gives are the model's, and are printed as such.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from kedasuite.autoscale.targets import Target
from kedasuite.core.names import WORKLOAD_CELERY
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.rules.spec import Trigger
from kedasuite.scenarios.base import Pump, Sample, Scenario, Variant

#: Seconds per step of the simulated workers (records start and end on these steps).
DT = 0.05


class SimWorld:
    """The simulated clock, the load's arrivals and the backend protocol's bookkeeping."""

    #: The workload a subclass stands in for.
    workload: str = ""

    name = "simulated"

    def __init__(self, scenario: Scenario, variant: Variant, target: Target) -> None:
        self.scenario, self.variant, self.target = scenario, variant, target
        self.workers = variant.workers
        self.now = 0.0
        self.arrivals: list[float] = []
        self.errors: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()
        #: A Redis list's items (Celery's tasks, the work queue's items), numbered as they arrive.
        self.queue: deque[int] = deque()
        self.seq = 0
        #: Records that reached the broker so far.
        self.arrived = 0
        #: A ScaledObject's replicas, terminating and gone ones included.
        self.pool: list[Any] = []

    # --- time and load ---------------------------------------------------------------------------

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        until = self.now + max(seconds, 0.01)
        while self.now < until - 1e-9:
            self.now = min(self.now + DT, until)
            due = [t for t in self.arrivals if t <= self.now + 1e-9]
            if due:
                self.arrivals = self.arrivals[len(due) :]
                self.arrive(len(due))
                self.arrived += len(due)
            self.step(self.now)

    def pump(self, pump: Pump) -> int:
        if pump.rate:
            self.arrivals += [pump.at + i / pump.rate for i in range(pump.count)]
            self.arrivals.sort()
        else:
            self.arrive(pump.count)
            self.arrived += pump.count
        return pump.count

    def arrive(self, count: int) -> None:
        for _ in range(count):
            self.seq += 1
            self.queue.append(self.seq)

    def step(self, now: float) -> None:
        raise NotImplementedError

    def deadline(self) -> float | None:
        """No read deadline: a simulated read answers at once."""
        return None

    def list_value(self, trigger: Trigger, in_flight: int) -> Value:
        """A redis trigger on the workload's backlog list or its in-flight key."""
        row = self.target.workload
        if trigger.source == row.backlog:
            return float(len(self.queue))
        return float(in_flight) if trigger.source == row.in_flight else 0.0

    # --- the backend protocol (what the Actuator calls) ------------------------------------------

    def _alive(self) -> list[Any]:
        return [w for w in self.pool if not w.gone]

    def replicas(self, target: Target) -> int:
        return sum(1 for w in self._alive() if w.term_at is None)

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        """Start replicas (ready ``startup`` seconds later), or SIGTERM the newest, as the ReplicaSet does."""
        active = [w for w in self._alive() if w.term_at is None]
        for _ in range(replicas - len(active)):
            self.pool.append(self.new_pod(self.now, self.now + self.scenario.startup))
            self.counts["started"] += 1
        for w in sorted(active, key=lambda w: w.created, reverse=True)[: max(len(active) - replicas, 0)]:
            w.term_at, w.kill_at = self.now, self.now + self.variant.grace_seconds
            self.counts["sigterm"] += 1

    def new_pod(self, created: float, ready_at: float) -> Any:
        raise NotImplementedError

    def ready(self, target: Target) -> int | None:
        """Replicas past their start-up and not stopping."""
        return sum(1 for w in self._alive() if w.term_at is None and w.ready_at <= self.now)

    def jobs(self, target: Target) -> tuple[int, int] | None:
        return None

    def create_jobs(self, target: Target, count: int) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self, target: Target) -> dict[str, Any]:
        return dict(self.counts)

    def finish(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.counts.items()}


@dataclass
class Pod:
    """A simulated replica: started, ready to work, terminating (SIGTERM), killed or gone."""

    created: float
    ready_at: float
    term_at: float | None = None
    kill_at: float | None = None
    gone: bool = False


@dataclass
class _Worker(Pod):
    running: list[tuple[int, float]] = field(default_factory=list)
    reserved: deque[int] = field(default_factory=deque)


class SimCelery(SimWorld):
    """Celery workers on a Redis list, as ``workers/celery_app.py`` configures them (or not)."""

    #: The workload it stands in for.
    workload = WORKLOAD_CELERY

    def __init__(self, scenario: Scenario, variant: Variant, target: Target) -> None:
        super().__init__(scenario, variant, target)
        #: Delivered and not acknowledged: task → when it was delivered.
        self.unacked: dict[int, float] = {}
        self.restores: list[tuple[float, int]] = []
        self.restored: set[int] = set()
        self.done: Counter[int] = Counter()

    def new_pod(self, created: float, ready_at: float) -> _Worker:
        return _Worker(created, ready_at)

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        return self.list_value(trigger, len(self.unacked))

    def _give_back(self, task: int, at: float) -> None:
        """Back on the list at ``at``: the visibility timeout's restore, done by a running consumer's sweep."""
        self.restores.append((at, task))

    def _hand_back(self, task: int) -> None:
        """Back on the list now: a stopping worker's channel restores what it reserved as it closes."""
        self.unacked.pop(task, None)
        self.queue.append(task)
        self.restored.add(task)

    def step(self, now: float) -> None:
        w_ = self.workers
        # kombu's consumers restore what is overdue in unacked: with no worker running, nobody does.
        sweeping = any(w.term_at is None and now >= w.ready_at for w in self._alive())
        for at, task in [r for r in self.restores if r[0] <= now and sweeping]:
            self.restores.remove((at, task))
            self._hand_back(task)
        for w in self._alive():
            for task, end in [r for r in w.running if r[1] <= now]:
                w.running.remove((task, end))
                self.done[task] += 1
                self.unacked.pop(task, None)
            if w.term_at is not None:
                if not w.running:  # warm shutdown done: the channel closes, reserved tasks go back
                    for task in w.reserved:
                        self._hand_back(task)
                    w.gone = True
                elif w.kill_at is not None and now >= w.kill_at:
                    self.counts["sigkill"] += 1
                    self.counts["interrupted"] += len(w.running)
                    for task, _ in w.running:
                        if w_.acks_late:
                            self._give_back(task, self.unacked.get(task, now) + w_.visibility_timeout)
                        else:
                            self.counts["lost"] += 1
                    for task in w.reserved:
                        self._give_back(task, self.unacked.get(task, now) + w_.visibility_timeout)
                    w.gone = True
                continue
            if now < w.ready_at:
                continue
            window = w_.prefetch * w_.concurrency
            while self.queue and len(w.reserved) + (len(w.running) if w_.acks_late else 0) < window:
                task = self.queue.popleft()
                w.reserved.append(task)
                self.unacked[task] = now
                if len(w.running) < w_.concurrency:
                    self._start(w, now)
            while w.reserved and len(w.running) < w_.concurrency:
                self._start(w, now)

    def _start(self, w: _Worker, now: float) -> None:
        task = w.reserved.popleft()
        w.running.append((task, now + self.workers.work_seconds))
        if task in self.restored:
            self.restored.discard(task)
            self.counts["redelivered"] += 1
        if not self.workers.acks_late:
            self.unacked.pop(task, None)

    def sample(self, now: float, model: int, metric: float | None) -> Sample:
        alive = self._alive()
        return Sample(
            now,
            len(self.queue),
            len(self.unacked),
            self.replicas(self.target),
            model,
            len(alive),
            len(self.done),
            metric,
            self.arrived,
            {"running": sum(len(w.running) for w in alive), "waiting": sum(len(w.reserved) for w in alive)},
        )

    def finish(self) -> dict[str, float]:
        self.counts["processed"] = len(self.done)
        self.counts["duplicates"] = sum(n - 1 for n in self.done.values())
        return super().finish()
