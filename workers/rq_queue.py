"""RQ's queue and worker, made safe against poison and quick to recover from kills.

**Poison.** RQ's queue list holds job ids; the jobs themselves are hashes. Anything can be
pushed onto the list, though, and RQ 3 handles a bad entry badly: bytes that are not UTF-8
stop the worker (``UnicodeDecodeError`` from its dequeue, exit status 0, the entry already
moved off the queue), and an id with no job hash is skipped without a trace. Here every
dequeued entry is checked first; one that is not a job id is parked in ``deadletter:rq``
with the reason and removed from RQ's intermediate list, and the dequeue goes on.

**Kills.** RQ 3 fetches atomically already (``LMOVE`` into ``<queue>:intermediate``, then
one pipeline moves the job into the started registry), so a kill storm loses nothing. What
it found was that RQ treats a lost worker as a failed job: each kill spent one of the job's
retries, and a job whose workers were killed ``RQ_RETRIES + 1`` times went to the failed
registry (40 of 1,800 jobs in a 2,000-kill storm) although it never failed. Here a job
whose worker vanished is put back on the front of its queue *without* spending a retry, in
one Lua step guarded by the ``ZREM``/``LREM`` that takes it out of flight (two clean-ups at
once cannot both requeue it, a kill between the two writes cannot lose it). Only a job
abandoned :data:`~kedasuite.core.defaults.RQ_ABANDON_LIMIT` times, which looks like one that
kills its worker (out of memory), is left to RQ's rule: its retries, then the failed
registry. The storm also found slow recovery, from three fixed timings RQ chose for
long-lived servers:

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

import signal
import time
from datetime import timedelta
from typing import Any

import redis
from redis import Redis
from rq import Queue, Worker
from rq.exceptions import StopRequested
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.utils import current_timestamp, now, parse_composite_key
from rq.worker import WorkerStatus

from kedasuite.core import defaults
from kedasuite.core.errors import BrokerUnavailable
from kedasuite.core.names import WORKLOAD_RQ, Env
from kedasuite.core.results import ResultStore
from kedasuite.core.settings import RQWorkerSettings, redact_url


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


#: Longest a stopping worker waits for its pubsub thread (RQ's command channel) to end.
#: The thread reads the unsubscribe reply within a round trip; one waiting for a
#: subscription instead is left to die with the process.
PUBSUB_JOIN_S = 1.0

#: Field of the job hash counting how often the job's worker vanished while holding it.
ABANDONED_FIELD = "suite_abandoned"

# Put an abandoned job back on the front of its queue, once: KEYS = the list or registry
# holding it, the job hash, the queue list; ARGV = 'list' | 'zset', the member, the job id,
# the abandon limit. Returns the new abandon count, 0 when another clean-up took it
# first, -1 when the job is over the limit (RQ's own rule then applies).
_REQUEUE = """
local held, job, queue = KEYS[1], KEYS[2], KEYS[3]
local kind, member, id, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if tonumber(redis.call('HGET', job, ARGV[5]) or '0') >= limit then return -1 end
local taken
if kind == 'list' then taken = redis.call('LREM', held, 1, member)
else taken = redis.call('ZREM', held, member) end
if taken == 0 then return 0 end
local n = redis.call('HINCRBY', job, ARGV[5], 1)
redis.call('HSET', job, 'status', 'queued')
redis.call('LPUSH', queue, id)
return n
"""


def requeue_abandoned(
    connection: Redis,
    held: str,
    kind: str,
    member: str,
    job_id: str,
    queue_key: str,
    limit: int = defaults.RQ_ABANDON_LIMIT,
) -> int:
    """Put a job whose worker vanished back on its queue without spending a retry.

    Returns the job's abandon count after this one, 0 when it was no longer held (another
    clean-up requeued it), -1 when it is over ``limit`` and RQ's own rule should apply.
    """
    script = connection.register_script(_REQUEUE)
    return int(script(keys=[held, Job.key_for(job_id), queue_key], args=[kind, member, job_id, limit, ABANDONED_FIELD]))


class QuickIntermediateQueue(IntermediateQueue):
    """RQ's intermediate list, whose stuck jobs go back on the queue after a short grace.

    A job stuck here never started: its worker died between the ``LMOVE`` and the pipeline
    that registers it. RQ fails it (a retry spent); here it is requeued as it was.
    """

    def should_be_cleaned_up(self, job_id: str) -> bool:
        first_seen = self.get_first_seen(job_id)
        return first_seen is not None and now() - first_seen > timedelta(seconds=INTERMEDIATE_GRACE_S)

    def cleanup(self, worker: Any, queue: Queue) -> None:
        started = {
            parse_composite_key(m.decode())[0] for m in self.connection.zrange(queue.started_job_registry.key, 0, -1)
        }
        for job_id in self.get_job_ids():
            if job_id in started or self.set_first_seen(job_id) or not self.should_be_cleaned_up(job_id):
                continue
            if not self.connection.exists(Job.key_for(job_id)):
                self.remove(job_id)
            elif requeue_abandoned(self.connection, self.key, "list", job_id, job_id, queue.key) >= 0:
                self.connection.delete(self.get_first_seen_key(job_id))
        super().cleanup(worker, queue)  # over the abandon limit: RQ's rule (its retries, then failed)


class PoisonSafeQueue(Queue):
    """``Queue`` whose dequeue parks entries that are not job ids instead of crashing on them."""

    #: Seconds the registry clean-up lock lives; :class:`SuiteWorker` sets it from its interval.
    maintenance_lock_s = 60

    @property
    def intermediate_queue(self) -> IntermediateQueue:
        return QuickIntermediateQueue(self.key, connection=self.connection)

    def acquire_maintenance_lock(self) -> bool:
        return bool(self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=self.maintenance_lock_s))

    #: The job this process last moved into an intermediate list (one worker per process):
    #: what a worker stopped in its dequeue gives back (:meth:`SuiteWorker.return_unstarted`).
    moved: list[tuple[str, str]] = []

    @classmethod
    def lmove(cls, connection: Redis, queue_key: str, timeout: int | None) -> Any:
        PoisonSafeQueue.moved.clear()
        while True:
            result = super().lmove(connection, queue_key, timeout)
            if result is None:
                return result
            raw = result[1]
            # Noted before the poison check (a round trip a SIGTERM can land in); an entry that is
            # not UTF-8 is no job and is parked, never given back.
            job_id = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            PoisonSafeQueue.moved[:] = [(queue_key, job_id)]
            if not cls._parked(connection, queue_key, raw, intermediate=True):
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

    def __init__(self, *args: Any, redis_patience: float = defaults.REDIS_RETRY_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for queue in self.queues:
            if isinstance(queue, PoisonSafeQueue):
                queue.maintenance_lock_s = max(2 * int(self.maintenance_interval), 5)
        self.redis_patience = redis_patience
        self._unreachable_since: float | None = None
        #: Set when Redis stayed away longer than ``redis_patience``: the worker is giving up.
        self.gave_up = False
        #: Set by a SIGTERM or SIGINT (RQ's warm shutdown): the worker is stopping as asked.
        self.stop_asked = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        """RQ's warm shutdown, remembered, so that it cannot be lost.

        An idle RQ worker stops by raising ``StopRequested`` from the signal handler, wherever
        the main thread is. Where that is inside an ``except Exception`` (logging's ``emit``,
        for one, which prints "--- Logging error ---" and goes on) the request vanished: the
        signal handler was already RQ's cold-stop one, and the worker went on taking jobs until
        the kubelet's SIGKILL. Here the request is also kept as RQ's own flag, which its loop
        reads before each dequeue, and :meth:`heartbeat`, which RQ's idle loop calls before
        each wait, raises it again. :func:`run` does not then wait for a lost Redis either.
        """
        self.stop_asked = True
        self._stop_requested = True
        super().request_stop(signum, frame)

    def unsubscribe(self) -> None:
        """RQ's unsubscribe, with a shutdown that cannot wait on the pubsub thread for long.

        RQ unsubscribes first and then stops its pubsub thread, whose ``stop()`` (redis-py 8)
        joins it with no timeout. When the thread reads the unsubscribe reply before that
        stop clears its flag, it loops into another ``get_message(timeout=60)``, and with no
        channel left that wait runs its full minute: the worker hung a minute in its
        teardown, after the kubelet's grace period in a pod. Here the flag is cleared first,
        so whatever the thread reads next ends its loop, and the join is bounded (the thread
        is a daemon: one still waiting for a subscription ends by itself, or with the process).
        """
        thread, pubsub = self.pubsub_thread, self.pubsub
        if thread is None or pubsub is None:
            return
        self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
        try:
            thread.stop(timeout=0)  # clears the flag; joins for no time
        except TypeError:
            thread.stop()  # redis-py before 8: stop() only clears the flag
        try:
            pubsub.unsubscribe()
        finally:
            thread.join(timeout=PUBSUB_JOIN_S)
            # A thread still alive waits for a subscription, not on the socket: closing is safe.
            pubsub.close()
            self.pubsub_thread = None

    def heartbeat(self, *args: Any, **kwargs: Any) -> Any:
        """RQ's heartbeat, which here also bounds an outage.

        RQ's idle loop retries a lost Redis for ever (``dequeue_job_and_maintain_ttl``
        catches the connection error and sleeps, with backoff, up to a minute at a time),
        and each retry starts with this heartbeat. Once Redis has been unreachable for
        ``redis_patience`` (``REDIS_RETRY_SECONDS``), the heartbeat raises
        :class:`BrokerUnavailable`, which that loop does not catch: the worker exits with
        the error, as the other workers do, instead of idling for ever against nothing. It
        also raises a warm shutdown again whose first raise was swallowed (:meth:`request_stop`).
        """
        if self.stop_asked and self.get_state() != WorkerStatus.BUSY:
            raise StopRequested()  # a warm shutdown whose first StopRequested was swallowed
        try:
            result = super().heartbeat(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            moment = time.monotonic()
            if self._unreachable_since is None:
                self._unreachable_since = moment
            if moment - self._unreachable_since >= self.redis_patience:
                self.gave_up = True
                raise BrokerUnavailable(
                    f"Redis was unreachable for {moment - self._unreachable_since:.0f} s, longer "
                    f"than {Env.REDIS_RETRY_SECONDS} ({self.redis_patience:g} s): {exc}"
                ) from exc
            raise
        self._unreachable_since = None
        return result

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        """RQ's dequeue; a SIGTERM that lands in it gives back what it had moved, not started.

        An idle RQ worker stops on SIGTERM by raising out of its dequeue. When the signal
        lands just after ``BLMOVE`` returned, the job is in the intermediate list and nobody
        runs it: a scale-down that takes the last worker (KEDA's triggers read the queue and
        the started registry, not that list) would leave it there until a worker comes back.
        Here the worker puts the job it moved back on the front of the queue before it
        exits (the ``LREM`` in the requeue step finds it only if it is still there, unstarted).
        """
        try:
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        except StopRequested:
            self.return_unstarted()
            raise

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """RQ's loop; on its way out, the job this worker moved and never started goes back.

        The dequeue gives it back when the SIGTERM lands inside it (above). One that lands
        after the dequeue returned and before the job started (RQ is not busy yet, so it
        raises ``StopRequested`` there) left the job in the intermediate list, which no
        trigger counts: a scale-down to 0 stranded it (1 record in 4 soak runs)."""
        try:
            return bool(super().work(*args, **kwargs))
        finally:
            try:
                self.return_unstarted()
            except redis.RedisError as exc:  # Redis gone: the clean-up's grace brings it back later
                self.log.warning("could not give back the job moved and not started: %s", exc)

    def return_unstarted(self) -> int:
        """Put the job this worker moved into an intermediate list, and did not start, back on
        its queue. Only its own: another worker's job in that list is that worker's to run."""
        returned = 0
        for queue_key, job_id in PoisonSafeQueue.moved:
            if self.connection.hget(Job.key_for(job_id), "status") == b"queued":
                intermediate = IntermediateQueue(queue_key, self.connection).key
                returned += requeue_abandoned(self.connection, intermediate, "list", job_id, job_id, queue_key) > 0
        PoisonSafeQueue.moved.clear()
        return returned

    def clean_registries(self) -> None:
        """Requeue abandoned jobs without a retry, then RQ's own maintenance (under its lock).

        The requeue needs no lock: each job is taken out of the started registry by one
        ``ZREM`` inside the script, so only one worker's clean-up requeues it.
        """
        for queue in self.queues:
            registry = StartedJobRegistry(
                queue.name, connection=self.connection, job_class=self.job_class, serializer=self.serializer
            )
            for raw in self.connection.zrangebyscore(registry.key, 0, current_timestamp()):
                member = raw.decode()
                job_id = parse_composite_key(member)[0]
                status = self.connection.hget(Job.key_for(job_id), "status")
                if status == b"started":
                    requeue_abandoned(self.connection, registry.key, "zset", member, job_id, queue.key)
        super().clean_registries()

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
    return (
        max(INTERMEDIATE_GRACE_S, monitoring_interval + abandoned_grace(monitoring_interval)) + 3 * maintenance_interval
    )


def _gone(url: str, patience: float, error: BaseException | str) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"Redis at {redact_url(url)} did not come back within {Env.REDIS_RETRY_SECONDS} ({patience:g} s): {error}"
    )


def _stop_waiting(signum: int, frame: Any) -> None:
    raise StopRequested()


def run(settings: RQWorkerSettings) -> None:
    """Run RQ's worker (with the timings above) on the suite's queue until SIGTERM or done.

    RQ's own loop does not survive a lost Redis: here a restart or failover is waited for,
    with backoff (``REDIS_RETRY_SECONDS``), and a fresh worker starts; a job cut off meanwhile
    is abandoned and requeued by the clean-up (at least once). An idle worker gives up after
    the same patience (:meth:`SuiteWorker.heartbeat`), and one told to stop meanwhile (SIGTERM)
    stops at once: it could not deregister, and its registration expires by itself.
    """
    import logging
    import os

    from kedasuite.core import metrics
    from kedasuite.core.clients import check_redis, redis_client, redis_patience, retry_redis
    from kedasuite.core.names import RQ_QUEUE
    from kedasuite.core.settings import LOG_FORMAT
    from kedasuite.core.worktime import parse_work_time

    parse_work_time(settings.work_time)  # fail now, not in every job
    metrics.serve_worker_metrics(settings.metrics_port, WORKLOAD_RQ)  # each job's work horse is forked: it inherits it
    metrics.announce_ready()
    # Every job runs in a fresh fork of this process: what the task needs is imported here,
    # once, not in each work horse (prometheus_client's import alone was 19 ms of a 0-second
    # job's 43 ms of CPU). The series are only declared; each horse writes its own values.
    import kedasuite.workers.rq_tasks  # noqa: F401 - preloaded for the work horses

    metrics.worker_metrics()
    os.environ[Env.WORK_TIME] = settings.work_time  # the forked work horses read it
    # RQ sets up its own 'rq.worker' logger; the task's lines need one too.
    task_log = logging.getLogger("kedasuite.workers")
    task_log.setLevel(settings.loglevel.upper())
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    task_log.addHandler(handler)
    connection = redis_client(settings.redis_url, socket_timeout=None)
    check_redis(connection, settings.redis_url)
    while True:
        # An idle RQ worker blocks in its dequeue for worker_ttl - 15 s (405 s by default) and
        # looks for abandoned jobs only between dequeues: tie the two together.
        worker = SuiteWorker(
            [PoisonSafeQueue(RQ_QUEUE, connection=connection)],
            connection=connection,
            queue_class=PoisonSafeQueue,
            maintenance_interval=settings.maintenance_interval,
            job_monitoring_interval=settings.job_monitoring_interval,
            worker_ttl=settings.maintenance_interval + 15,
            redis_patience=redis_patience(),
        )
        try:
            worker.work(
                burst=settings.burst,
                max_jobs=settings.max_jobs,
                max_idle_time=settings.max_idle_time,
                logging_level=settings.loglevel.upper(),
                with_scheduler=False,
            )
            if worker.gave_up:  # RQ's loop logged our error and quit; Redis answered its teardown
                raise _gone(settings.redis_url, worker.redis_patience, "it answered only after the worker gave up")
            return
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # RQ's teardown (deregistering) needs Redis too: its error may stand in for ours.
            if worker.gave_up:
                raise _gone(settings.redis_url, worker.redis_patience, exc) from exc
            if worker.stop_asked:
                task_log.warning(
                    "stopping as asked, with Redis unreachable (%s): this worker could not "
                    "deregister; its registration expires by itself",
                    exc,
                )
                return
            task_log.warning("lost Redis (%s); waiting for it to come back", exc)
            # RQ's signal handlers need Redis to stop: while waiting, a SIGTERM stops the wait.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, _stop_waiting)
            try:
                retry_redis(connection.ping, settings.redis_url, worker.redis_patience)
            except StopRequested:
                task_log.warning(
                    "stopping as asked while waiting for Redis; a job the outage cut off is "
                    "requeued by the clean-up once Redis is back"
                )
                return
            except (redis.ConnectionError, redis.TimeoutError) as final:
                raise _gone(settings.redis_url, worker.redis_patience, final) from final
