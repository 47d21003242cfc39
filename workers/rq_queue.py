"""RQ's queue and worker, made safe against poison and quick to recover from kills.

**Poison.** RQ's queue list holds job ids; the jobs themselves are hashes. Anything can be
pushed onto the list, though, and RQ 3 handles a bad entry badly: bytes that are not UTF-8
stop the worker (``UnicodeDecodeError`` from its dequeue, exit status 0, the entry already
moved off the queue), and an id with no job hash is skipped without a trace. Here every
dequeued entry is checked first; one that is not a job id is parked in ``deadletter:rq``
with the reason and removed from RQ's intermediate list, and the dequeue goes on.

**Kills.** RQ 3 fetches atomically already (``LMOVE`` into ``<queue>:intermediate``, then
one pipeline moves the job into the started registry), so a kill storm loses nothing. What
it found was slow recovery, from three fixed timings RQ chose for long-lived servers:

* the registry clean-up runs under a lock that expires after 899 s: a worker killed while
  cleaning stopped every clean-up, so every redelivery, for 15 minutes. Here the lock
  expires after two maintenance intervals (two clean-ups at once only retry a job twice,
  which the result store records as a duplicate);
* a job left in the intermediate list (its worker died between the ``LMOVE`` and the
  pipeline, milliseconds) is failed and retried a minute after a clean-up first saw it.
  Here after :data:`INTERMEDIATE_GRACE_S`;
* a started job is abandoned when its heartbeat, renewed every job monitoring interval,
  is 60 s overdue. Here when it is ``max(10, 2 x interval)`` overdue, which for the default
  interval (30 s) is RQ's own 60 s.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.utils import now

from kedasuite.names import WORKLOAD_RQ
from workers.results import ResultStore


def entry_problem(connection: Redis, raw: bytes | str) -> str | None:
    """Why a queue entry is not a job RQ can run, or None."""
    if isinstance(raw, bytes):
        try:
            job_id = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"not a job id: not UTF-8 ({exc.reason} at byte {exc.start})"
    else:
        job_id = raw
    if not connection.exists(Job.key_for(job_id)):
        return f"no such job: {Job.key_for(job_id)!r} does not exist"
    return None


#: A job this long in the intermediate list, not started, is failed and retried. A live
#: worker moves it on within milliseconds.
INTERMEDIATE_GRACE_S = 10


class QuickIntermediateQueue(IntermediateQueue):
    def should_be_cleaned_up(self, job_id: str) -> bool:
        first_seen = self.get_first_seen(job_id)
        return first_seen is not None and now() - first_seen > timedelta(seconds=INTERMEDIATE_GRACE_S)


class PoisonSafeQueue(Queue):
    """``Queue`` whose dequeue parks entries that are not job ids instead of crashing on them."""

    #: Seconds the registry clean-up lock lives; :class:`SuiteWorker` sets it from its interval.
    maintenance_lock_s = 60

    @property
    def intermediate_queue(self) -> IntermediateQueue:
        return QuickIntermediateQueue(self.key, connection=self.connection)

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=self.maintenance_lock_s))

    @classmethod
    def lmove(cls, connection: Redis, queue_key: str, timeout: int | None) -> Any:
        while True:
            result = super().lmove(connection, queue_key, timeout)
            if result is None or not cls._parked(connection, queue_key, result[1], intermediate=True):
                return result

    @classmethod
    def lpop(cls, queue_keys: Any, timeout: int | None, connection: Redis | None = None) -> Any:
        while True:
            result = super().lpop(queue_keys, timeout, connection=connection)
            if result is None or connection is None or not cls._parked(connection, result[0], result[1]):
                return result

    @classmethod
    def _parked(cls, connection: Redis, queue_key: Any, raw: bytes | str, intermediate: bool = False) -> bool:
        reason = entry_problem(connection, raw)
        if reason is None:
            return False
        ResultStore(connection, WORKLOAD_RQ).park(raw, reason)
        if intermediate:
            key = queue_key.decode() if isinstance(queue_key, bytes) else queue_key
            connection.lrem(IntermediateQueue(key, connection).key, 1, raw)
        return True


class SuiteWorker(Worker):
    """RQ's forking worker with the recovery timings above; everything else is RQ's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for queue in self.queues:
            if isinstance(queue, PoisonSafeQueue):
                queue.maintenance_lock_s = max(2 * int(self.maintenance_interval), 5)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(int(job.timeout - working_time), interval)
        return int(interval) + abandoned_grace(self.job_monitoring_interval)


def abandoned_grace(monitoring_interval: int) -> int:
    """How overdue a started job's heartbeat is before the job counts as abandoned."""
    return max(10, 2 * monitoring_interval)


def redelivery_bound(monitoring_interval: int, maintenance_interval: int) -> float:
    """Longest a SIGKILLed worker's job can take to be queued again (by its retry policy).

    Caught between the queue and the started registry: :data:`INTERMEDIATE_GRACE_S` after a
    clean-up first saw it; started: its heartbeat overdue by :func:`abandoned_grace`. Both
    are acted on by a clean-up, which runs every maintenance interval, and whose lock lapses
    after two intervals when its holder was killed.
    """
    return max(INTERMEDIATE_GRACE_S, monitoring_interval + abandoned_grace(monitoring_interval)) \
        + 3 * maintenance_interval
