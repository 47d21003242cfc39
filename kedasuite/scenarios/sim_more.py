"""Simulated Kafka consumers and work-queue Jobs for ``--model-only`` (see :mod:`kedasuite.scenarios.sim`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kedasuite.autoscale.processes import READY_CONDITIONS
from kedasuite.autoscale.targets import Target
from kedasuite.core.names import WORKLOAD_KAFKA, WORKLOAD_WORKQUEUE
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.rules.kafka import PartitionOffsets
from kedasuite.keda.rules.spec import Trigger
from kedasuite.scenarios.assignments import ASSIGNED, REVOKED, STOPPED, Change, ownership
from kedasuite.scenarios.base import Sample, Scenario, Variant
from kedasuite.scenarios.sim import DT, Pod, SimWorld

#: Seconds a round of a rebalance takes: members learn of it from a heartbeat's answer (the suite's
#: consumers beat every 0.5 s), rejoin, and get their share.
REBALANCE_S = 0.5
#: Assignors that give everything back at each rebalance (eager), as opposed to cooperative-sticky.
EAGER = ("range", "roundrobin")


@dataclass
class _Member(Pod):
    name: str = ""
    partitions: list[int] = field(default_factory=list)
    #: The record in hand: (partition, when it is done).
    hand: tuple[int, float] | None = None
    turn: int = 0
    #: When the process exited (its partitions go with it; a static member stays in the group).
    left_at: float | None = None


class SimKafka(SimWorld):
    """A consumer group on ``variant.partitions`` partitions, committing after each record.

    A change of membership is a rebalance: an eager assignor (range, roundrobin) takes every
    partition from every member and hands them out again once each has finished the record in
    hand (the whole group waits for its slowest member, one record's work at most);
    cooperative-sticky (the suite's) takes only those that move, and hands them on after a
    second round, :data:`REBALANCE_S` each. A static member (``group.instance.id``) that stops stays in the group,
    its partitions with nobody, until ``session.timeout.ms`` has passed.
    """

    #: The workload it stands in for.
    workload = WORKLOAD_KAFKA

    def __init__(self, scenario: Scenario, variant: Variant, target: Target) -> None:
        super().__init__(scenario, variant, target)
        n = variant.partitions
        self.high = [0] * n
        self.committed: list[int | None] = [None] * n
        self.group: tuple[int, ...] = ()
        self.next_partition = 0
        workers = variant.workers
        self.eager = workers.consumer_property("partition.assignment.strategy", "cooperative-sticky") in EAGER
        self.static = workers.consumer_property("group.instance.id") is not None
        self.session_s = float(workers.consumer_property("session.timeout.ms", "45000") or 45000) / 1000
        #: Assignments on their way: (when, member, partitions).
        self.pending: list[tuple[float, _Member, list[int]]] = []
        self.changes: list[Change] = []

    def arrive(self, count: int) -> None:
        for _ in range(count):  # keyed records spread over the partitions; here, round robin
            self.high[self.next_partition] += 1
            self.next_partition = (self.next_partition + 1) % len(self.high)

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        return tuple(PartitionOffsets(p, hw, c) for p, (hw, c) in enumerate(zip(self.high, self.committed)))

    def lag(self, p: int) -> int:
        return self.high[p] - (self.committed[p] or 0)

    def _stuck(self, p: int) -> bool:
        at = self.workers.stuck_at
        return at is not None and p == at[0] and (self.committed[p] or 0) >= at[1]

    def new_pod(self, created: float, ready_at: float) -> _Member:
        return _Member(created, ready_at, name=f"consumer-{len(self.pool) + 1}")

    def _give_up(self, m: _Member, partitions: list[int], event: str = REVOKED) -> None:
        """The member lets go (its own account in the log); a static member that stopped keeps its
        partitions in the group's eyes, with nobody consuming them."""
        if not (event == STOPPED and self.static):
            m.partitions = [p for p in m.partitions if p not in partitions]
        if not m.gone or event == STOPPED:
            self.changes.append(Change(self.now, m.name, event, tuple(partitions)))

    def _members(self, now: float) -> list[_Member]:
        """The group as its coordinator sees it: running members, and static ones within their session."""
        return [
            m
            for m in self.pool
            if now >= m.ready_at
            and (
                (m.term_at is None and not m.gone)
                or (self.static and m.left_at is not None and now < m.left_at + self.session_s)
                or (self.static and m.left_at is None and not m.gone)
            )
        ]

    def _rebalance(self, now: float, members: list[_Member]) -> None:
        self.pending = []
        n, count = len(self.high), len(members)
        if self.eager:
            for m in members:
                self._give_up(m, list(m.partitions))
            share = {id(m): [p for p in range(n) if p % count == i] for i, m in enumerate(members)}
            rejoined = max([m.hand[1] for m in members if m.hand is not None and not m.gone], default=now)
            self.pending = [(max(rejoined, now + DT), m, share[id(m)]) for m in members]
            return
        quota = [n // count + (i < n % count) for i in range(count)]
        free = [p for p in range(n) if not any(p in m.partitions for m in members)]
        for m, q in zip(members, quota):
            extra = m.partitions[q:]
            if extra:
                self._give_up(m, extra)
                free += extra
        for m, q in zip(members, quota):
            take, free = free[: q - len(m.partitions)], free[q - len(m.partitions) :]
            if take:
                self.pending.append((now + 2 * REBALANCE_S, m, take))

    def step(self, now: float) -> None:
        for m in self._alive():
            if m.hand is not None and m.hand[1] <= now:
                p = m.hand[0]
                self.committed[p] = (self.committed[p] or 0) + 1
                self.counts["processed"] += 1
                m.hand = None
            if m.term_at is not None and (m.hand is None or (m.kill_at is not None and now >= m.kill_at)):
                self.counts["sigkill"] += m.hand is not None
                m.gone, m.left_at = True, now
                self._give_up(m, list(m.partitions), STOPPED)
        members = self._members(now)
        group = tuple(id(m) for m in members)
        if group != self.group:  # a join or a leave: the partitions are handed out again
            self.group = group
            if members:
                self._rebalance(now, members)
        for due in [d for d in self.pending if d[0] <= now]:
            self.pending.remove(due)
            _, m, partitions = due
            m.partitions += partitions
            if not m.gone:  # a static member that stopped: given partitions nobody will consume
                self.changes.append(Change(now, m.name, ASSIGNED, tuple(partitions)))
        for m in self._alive():
            if m.hand is None and m.term_at is None and m.partitions:
                for i in range(len(m.partitions)):
                    p = m.partitions[(m.turn + i) % len(m.partitions)]
                    if self.lag(p) > 0 and not self._stuck(p):
                        m.hand, m.turn = (p, now + self.workers.work_seconds), m.turn + i + 1
                        break

    def sample(self, now: float, model: int, metric: float | None) -> Sample:
        alive = self._alive()
        stuck = self.workers.stuck_at[0] if self.workers.stuck_at else None
        idle = sum(1 for m in alive if m.term_at is None and now >= m.ready_at and not m.partitions)
        extra = {"idle_consumers": float(idle)}
        if stuck is not None:
            extra["stuck_lag"] = float(self.lag(stuck))
        return Sample(
            now,
            sum(self.lag(p) for p in range(len(self.high))),
            sum(1 for m in alive if m.hand is not None),
            self.replicas(self.target),
            model,
            len(alive),
            self.counts["processed"],
            metric,
            self.arrived,
            extra,
        )

    def finish(self) -> dict[str, float]:
        return super().finish() | ownership(self.changes, self.now)


@dataclass
class _Job:
    created: float
    ready_at: float
    hand: float | None = None
    items: int = 0
    idle_since: float | None = None
    done: bool = False


class SimWorkQueue(SimWorld):
    """Work-queue Jobs: one runner each, which starts up, then leases items until none is left."""

    #: The workload it stands in for.
    workload = WORKLOAD_WORKQUEUE

    def __init__(self, scenario: Scenario, variant: Variant, target: Target) -> None:
        super().__init__(scenario, variant, target)
        self.all_jobs: list[_Job] = []

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        return self.list_value(trigger, sum(1 for j in self.all_jobs if j.hand is not None))

    def _running(self) -> list[_Job]:
        return [j for j in self.all_jobs if not j.done]

    def replicas(self, target: Target) -> int:
        return len(self._running())

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        raise AssertionError("a ScaledJob is never scaled, only given Jobs")

    def jobs(self, target: Target) -> tuple[int, int] | None:
        running = self._running()
        if not READY_CONDITIONS & set(target.scaler.pending_pod_conditions):
            return len(running), 0
        return len(running), sum(1 for j in running if self.now < j.ready_at)

    def create_jobs(self, target: Target, count: int) -> None:
        ready = self.now + self.scenario.startup + self.workers.start_delay
        self.all_jobs += [_Job(self.now, ready) for _ in range(count)]
        self.counts["jobs_created"] += count

    def step(self, now: float) -> None:
        for job in self._running():
            if now < job.ready_at:
                continue
            if job.hand is not None and job.hand <= now:
                job.hand, job.items = None, job.items + 1
                self.counts["processed"] += 1
            if job.hand is not None:
                continue
            if self.queue:
                self.queue.popleft()
                job.hand, job.idle_since = now + self.workers.work_seconds, None
            elif not any(j.hand is not None for j in self.all_jobs):
                job.done = True  # nothing pending, nothing in flight: the runner exits 0
            else:
                job.idle_since = job.idle_since if job.idle_since is not None else now
                job.done = now - job.idle_since >= self.workers.idle_timeout
        self.counts["jobs_without_work"] = sum(1 for j in self.all_jobs if j.done and j.items == 0)

    def sample(self, now: float, model: int, metric: float | None) -> Sample:
        running = self._running()
        return Sample(
            now,
            len(self.queue),
            sum(1 for j in running if j.hand is not None),
            len(running),
            model,
            len(running),
            self.counts["processed"],
            metric,
            self.arrived,
            {
                "jobs_created": float(self.counts["jobs_created"]),
                "starting": float(sum(1 for j in running if now < j.ready_at)),
            },
        )
