"""The RQ workload: RQ's own worker, our task, a real Redis."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from kedasuite.autoscale.processes import descendants
from kedasuite.core.names import RQ_QUEUE_LIST
from kedasuite.core.results import fetch_results
from kedasuite.producers.records import record_ids
from tests.support import Proc, all_processed, run_cli, wait_for
from tests.support import pump as pump_records

pytestmark = pytest.mark.integration

READY = r"Listening on"


def start_worker(spawn: Callable[..., Proc], redis_url: str, work_time: str, *extra: str) -> Proc:
    worker = spawn("worker", "rq", "--redis-url", redis_url, "--work-time", work_time, *extra)
    worker.wait_for_log(READY, timeout=60)
    return worker


def pump(redis_url: str, count: int, prefix: str) -> list[str]:
    return pump_records("rq", count, prefix, redis_url=redis_url)


def test_two_rq_workers_process_all_100(spawn, redis_url, redis_client) -> None:
    for _ in range(2):
        start_worker(spawn, redis_url, "0.02")
    ids = pump(redis_url, 100, "rq")
    results = wait_for(all_processed(redis_client, ids), 90, "100 jobs")
    assert all(r.deliveries == 1 for r in results.values())
    assert redis_client.llen(RQ_QUEUE_LIST) == 0


@pytest.mark.faults  # a worker stopped or evicted mid-run: the faults tier
def test_sigterm_finishes_the_running_job(spawn, redis_url, redis_client) -> None:
    worker = start_worker(spawn, redis_url, "fixed:2")
    ids = pump(redis_url, 1, "term")
    worker.wait_for_log(r"processing term-1 ", timeout=30)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert len(fetch_results(redis_client, ids)) == 1


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_a_sigkilled_workers_job_is_done_by_the_other(spawn, redis_url, redis_client) -> None:
    """RQ calls the job abandoned once its heartbeat lapses (monitoring interval + 60 s) and,
    with retries left, puts it back on the queue."""
    victim = start_worker(spawn, redis_url, "fixed:5", "--job-monitoring-interval", "1")
    ids = pump(redis_url, 1, "kill")
    match = victim.wait_for_log(r"processing kill-1 for [\d.]+ s as (\S+)", timeout=30)
    victim.signal(signal.SIGKILL)
    victim.wait(10)

    rescuer = start_worker(spawn, redis_url, "0", "--maintenance-interval", "2")
    results = wait_for(lambda: fetch_results(redis_client, ids) or None, 120, "the abandoned job to be redone")
    assert results["kill-1"].worker != match.group(1)
    assert "processing kill-1 " in rescuer.log()


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_a_job_whose_worker_is_killed_more_often_than_its_retries_is_still_done(spawn, redis_url, redis_client) -> None:
    """A killed worker is not a failed job: with no retries at all (``RQ_RETRIES=0``), a job
    whose worker is SIGKILLed twice while running it is requeued each time, not failed."""
    done = run_cli(
        "pump",
        "rq",
        "--count",
        "1",
        "--id-prefix",
        "twice",
        "--workloads",
        "rq",
        "--redis-url",
        redis_url,
        env={"RQ_RETRIES": "0"},
    )
    assert done.returncode == 0, done.stderr
    ids = record_ids(1, "twice")
    for _ in range(2):
        victim = start_worker(
            spawn, redis_url, "fixed:30", "--job-monitoring-interval", "1", "--maintenance-interval", "1"
        )
        victim.wait_for_log(r"processing twice-1 ", timeout=60)
        victim.signal(signal.SIGKILL)
        victim.wait(10)
    start_worker(spawn, redis_url, "0", "--maintenance-interval", "1")
    results = wait_for(lambda: fetch_results(redis_client, ids) or None, 90, "the twice-abandoned job")
    assert results["twice-1"].deliveries >= 1
    failed = redis_client.zcard("rq:failed:default")
    assert failed == 0, f"{failed} job(s) in rq:failed:default: a kill spent the job's (zero) retries"


def test_requeue_is_once_and_stops_at_the_abandon_limit(redis_client) -> None:
    """The requeue step takes the job out of flight itself: a second clean-up finds nothing to
    requeue (no duplicate on the queue), and past the limit RQ's own rule is left to act."""
    from kedasuite.workers.rq_queue import ABANDONED_FIELD, requeue_abandoned

    queue, registry, job = "rq:queue:t-limit", "rq:wip:t-limit", "rq:job:j-limit"
    redis_client.delete(queue, registry, job)
    redis_client.hset(job, mapping={"status": "started"})
    redis_client.zadd(registry, {"j-limit:exec-1": 1})
    assert requeue_abandoned(redis_client, registry, "zset", "j-limit:exec-1", "j-limit", queue, limit=2) == 1
    assert requeue_abandoned(redis_client, registry, "zset", "j-limit:exec-1", "j-limit", queue, limit=2) == 0
    assert redis_client.lrange(queue, 0, -1) == [b"j-limit"]
    assert redis_client.hget(job, "status") == b"queued"

    redis_client.zadd(registry, {"j-limit:exec-2": 1})
    redis_client.hset(job, ABANDONED_FIELD, 2)
    assert requeue_abandoned(redis_client, registry, "zset", "j-limit:exec-2", "j-limit", queue, limit=2) == -1
    assert redis_client.zcard(registry) == 1 and redis_client.llen(queue) == 1


def test_a_stopping_worker_gives_back_the_job_it_moved_but_did_not_start(redis_url, redis_client) -> None:
    """A SIGTERM that lands just after BLMOVE leaves the job in the intermediate list, which
    neither KEDA's triggers nor a scaled-to-zero deployment look at; the stopping worker
    (RQ raises StopRequested out of its dequeue) puts it back on the queue. Only its own:
    a job another worker moved a moment ago is left to that worker."""
    from kedasuite.core.clients import redis_client as make_client
    from kedasuite.core.names import RQ_QUEUE
    from kedasuite.workers.rq_queue import PoisonSafeQueue, SuiteWorker

    pump(redis_url, 2, "handed")
    intermediate = f"{RQ_QUEUE_LIST}:intermediate"
    connection = make_client(redis_url)
    worker = SuiteWorker(
        [PoisonSafeQueue(RQ_QUEUE, connection=connection)], connection=connection, queue_class=PoisonSafeQueue
    )
    # this worker's dequeue moves user-handed-1; "another worker" moves user-handed-2
    assert PoisonSafeQueue.lmove(connection, RQ_QUEUE_LIST, None)[1] == b"user-handed-1"
    assert redis_client.lmove(RQ_QUEUE_LIST, intermediate, "LEFT", "RIGHT") == b"user-handed-2"
    assert worker.return_unstarted() == 1
    assert redis_client.lrange(RQ_QUEUE_LIST, 0, -1) == [b"user-handed-1"]
    assert redis_client.lrange(intermediate, 0, -1) == [b"user-handed-2"]
    assert worker.return_unstarted() == 0  # given back once


def test_a_stop_between_the_dequeue_and_the_start_gives_the_job_back(redis_url, redis_client) -> None:
    """The SIGTERM lands after the dequeue returned and before the job started: RQ, not busy
    yet, raises StopRequested there and leaves the loop. The job goes back on the queue, not
    stranded in the intermediate list (seen in a soak: a record left there at 0 replicas)."""
    from rq.exceptions import StopRequested

    from kedasuite.core.clients import redis_client as make_client
    from kedasuite.core.names import RQ_QUEUE
    from kedasuite.workers.rq_queue import PoisonSafeQueue, SuiteWorker

    class StoppedBeforeTheStart(SuiteWorker):
        def execute_job(self, job: Any, queue: Any) -> None:
            raise StopRequested()  # what RQ's handler raises when the signal lands here

    pump(redis_url, 1, "between")
    connection = make_client(redis_url)
    worker = StoppedBeforeTheStart(
        [PoisonSafeQueue(RQ_QUEUE, connection=connection)], connection=connection, queue_class=PoisonSafeQueue
    )
    worker.work(burst=True)
    intermediate = f"{RQ_QUEUE_LIST}:intermediate"
    assert redis_client.lrange(RQ_QUEUE_LIST, 0, -1) == [b"user-between-1"], (
        f"queue {redis_client.lrange(RQ_QUEUE_LIST, 0, -1)}, intermediate {redis_client.lrange(intermediate, 0, -1)}"
    )
    assert redis_client.llen(intermediate) == 0


#: The patience the two tests below give a worker (``REDIS_RETRY_SECONDS``), and the longest
#: RQ's idle loop can take to look again after it runs out: its retries come 1, 2, 4, ...
#: seconds apart, so the first look at or after the patience is before ``2 x patience + 1``.
PATIENCE_S = 2.0
GIVE_UP_WITHIN_S = 2 * PATIENCE_S + 1


@pytest.mark.faults  # a broker stopped for good: the faults tier
def test_an_idle_worker_whose_redis_is_gone_for_good_exits_after_its_patience(spawn) -> None:
    """RQ's own idle loop retries a lost Redis for ever; the suite's worker gives up after
    ``REDIS_RETRY_SECONDS``, as the other workers do, and says why."""
    from kedasuite.core.embedded import EmbeddedRedis

    with EmbeddedRedis(databases=1) as server:
        worker = spawn("worker", "rq", "--redis-url", server.url, env={"REDIS_RETRY_SECONDS": str(PATIENCE_S)})
        worker.wait_for_log(READY, timeout=60)
    # The server is gone; the worker must give up within its patience and RQ's next look
    # (plus a margin for a loaded machine), not retry for ever.
    code = worker.wait(GIVE_UP_WITHIN_S + 30)
    assert code == 2, worker.log()[-3000:]
    assert "did not come back within REDIS_RETRY_SECONDS (2 s)" in worker.log(), worker.log()[-3000:]


@pytest.mark.faults  # a broker stopped for good: the faults tier
def test_sigterm_while_redis_is_away_stops_the_worker_at_once(spawn) -> None:
    """A scale-down during an outage: the worker stops when asked instead of first waiting
    ``REDIS_RETRY_SECONDS`` (here far longer than the test) for Redis to come back."""
    from kedasuite.core.embedded import EmbeddedRedis

    with EmbeddedRedis(databases=1) as server:
        worker = spawn("worker", "rq", "--redis-url", server.url, env={"REDIS_RETRY_SECONDS": "600"})
        worker.wait_for_log(READY, timeout=60)
    worker.wait_for_log(r"could not connect to Redis instance", timeout=30)  # RQ's idle loop is retrying
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0, worker.log()[-3000:]
    # "..., with Redis unreachable" from RQ's idle loop, or "... while waiting for Redis" when
    # the outage had already ended RQ's loop (Redis gone during the worker's start-up clean-up).
    assert "stopping as asked" in worker.log(), worker.log()[-3000:]


@pytest.mark.faults  # a broker stopped for good: the faults tier
def test_sigterm_while_waiting_for_a_lost_redis_stops_the_wait(spawn) -> None:
    """Redis lost mid-job ends RQ's loop, and the worker waits for Redis; a SIGTERM then
    stops the wait (RQ's own handler would need Redis to stop) and the worker exits 0."""
    from kedasuite.core.embedded import EmbeddedRedis

    with EmbeddedRedis(databases=1) as server:
        worker = spawn(
            "worker",
            "rq",
            "--redis-url",
            server.url,
            "--work-time",
            "fixed:1",
            "--job-monitoring-interval",
            "1",
            env={"REDIS_RETRY_SECONDS": "600"},
        )
        worker.wait_for_log(READY, timeout=60)
        pump_records("rq", 1, "cut", redis_url=server.url)
        worker.wait_for_log(r"processing cut-1 ", timeout=30)
    # RQ notices at the job's end or its next heartbeat (1 s apart here); margin for a busy machine.
    worker.wait_for_log(r"lost Redis \(.*\); waiting for it to come back", timeout=1 + 1 + 30)
    # The job's work horse (a session of its own) may still be retrying its result; in a pod
    # it ends with the container, here the test ends it.
    horses = descendants(worker.pid)
    try:
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.log()[-3000:]
        assert "stopping as asked while waiting for Redis" in worker.log(), worker.log()[-3000:]
    finally:
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_stopping_worker_does_not_wait_for_a_pubsub_thread_that_read_the_reply_first(redis_url) -> None:
    """RQ stops its command channel's thread with redis-py's ``stop()``, which joins it with
    no timeout. When the thread has already read the unsubscribe reply, it is waiting a
    minute for a subscription that never comes, and RQ's teardown waited with it. Here the
    thread is put in that state on purpose: the worker's unsubscribe must return at once."""
    import threading

    from kedasuite.core.clients import redis_client as make_client
    from kedasuite.core.names import RQ_QUEUE
    from kedasuite.workers.rq_queue import PUBSUB_JOIN_S, PoisonSafeQueue, SuiteWorker

    connection = make_client(redis_url)
    worker = SuiteWorker(
        [PoisonSafeQueue(RQ_QUEUE, connection=connection)], connection=connection, queue_class=PoisonSafeQueue
    )
    worker.subscribe()
    assert worker.pubsub is not None and worker.pubsub_thread is not None
    pubsub, thread = worker.pubsub, worker.pubsub_thread
    # The race, made certain: the thread reads the unsubscribe reply before anyone stops it.
    pubsub.unsubscribe()
    wait_for(lambda: not pubsub.subscribed, 30, "the pubsub thread to read the unsubscribe reply")
    done = threading.Event()
    stopper = threading.Thread(target=lambda: (worker.unsubscribe(), done.set()), daemon=True)
    stopper.start()
    # A safety net: the bound is PUBSUB_JOIN_S; without it the wait is the thread's 60 s.
    stopper.join(PUBSUB_JOIN_S + 10)
    assert done.is_set(), (
        f"unsubscribe still waiting after {PUBSUB_JOIN_S + 10:g} s; pubsub thread alive: {thread.is_alive()}"
    )
    assert pubsub.connection is None, "the worker's pubsub connection was not given back"


#: Busy loops a contention test runs beside its workers on this 2-core machine: the RQ
#: shutdown hang showed in 6 of 15 burst workers beside three, in none without them.
BUSY_LOOPS = 3

#: How long a worker may take to stop in the contention test: its start (forked, imports
#: done) and its teardown on a machine with more runnable processes than cores. A safety
#: net, far above the second or so it takes and far below the minute of the hang.
STOP_DEADLINE_S = 20


@contextlib.contextmanager
def busy_cores(count: int):  # type: ignore[no-untyped-def]
    """``count`` processes that only burn CPU, stopped on the way out whatever happens."""
    import subprocess
    import sys

    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait(10)


def stopped(workers: list[Proc], deadline: float) -> list[str]:
    """Each worker that did not exit 0 within ``deadline`` seconds, with its log's tail."""
    import time

    problems = []
    ends = time.monotonic() + deadline
    for worker in workers:
        try:
            code = worker.wait(max(0.1, ends - time.monotonic()), "an RQ worker to stop")
        except AssertionError as hung:  # still running: its stacks and log, taken before its SIGKILL
            problems.append(str(hung))
            continue
        if code != 0:
            problems.append(f"{worker} exit {code}:\n{worker.log()[-1500:]}")
    return problems


@pytest.mark.faults  # workers stopped beside busy loops: the faults tier
def test_rq_workers_stop_promptly_with_the_cpu_contended(forked, redis_url) -> None:
    """Ten burst workers on an empty queue and ten idle workers sent SIGTERM all exit 0
    promptly beside busy loops, where RQ's own teardown could hang a minute (see above)."""
    with busy_cores(BUSY_LOOPS):
        bursts = [forked("worker", "rq", "--redis-url", redis_url, env={"RQ_BURST": "1"}) for _ in range(10)]
        problems = stopped(bursts, STOP_DEADLINE_S)
        idle = [forked("worker", "rq", "--redis-url", redis_url) for _ in range(10)]
        for worker in idle:
            worker.wait_for_log(READY, timeout=60)
        for worker in idle:
            worker.signal(signal.SIGTERM)
        problems += stopped(idle, STOP_DEADLINE_S)
    assert not problems, f"{len(problems)} of 20 RQ workers did not stop within {STOP_DEADLINE_S} s:\n" + "\n".join(
        problems
    )


def test_a_warm_shutdown_whose_stop_was_swallowed_still_stops_the_worker(redis_url, caplog) -> None:
    """RQ stops an idle worker by raising ``StopRequested`` from its SIGTERM handler, wherever the
    main thread is; inside logging's ``emit`` (which catches every exception) the request was
    lost and a SIGTERMed worker went on taking jobs. Here the raise is swallowed on purpose:
    the worker must still stop, before its next wait and from inside its idle loop."""
    import logging

    from rq.exceptions import StopRequested

    from kedasuite.core.clients import redis_client as make_client
    from kedasuite.core.names import RQ_QUEUE
    from kedasuite.workers.rq_queue import PoisonSafeQueue, SuiteWorker

    connection = make_client(redis_url)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def swallowed_stop() -> SuiteWorker:
        worker = SuiteWorker(
            [PoisonSafeQueue(RQ_QUEUE, connection=connection)], connection=connection, queue_class=PoisonSafeQueue
        )
        with contextlib.suppress(StopRequested):  # as logging's emit swallows it
            worker.request_stop(signal.SIGTERM, None)
        return worker

    try:
        # In the idle loop: the next look raises it again instead of waiting out max_idle_time.
        with pytest.raises(StopRequested):
            swallowed_stop().dequeue_job_and_maintain_ttl(1, max_idle_time=3)
        # In RQ's work loop: stopped on request before its first dequeue, not idle until it quits.
        with caplog.at_level(logging.INFO, logger="rq.worker"):
            swallowed_stop().work(max_idle_time=3, with_scheduler=False)
        assert "stopping on request" in caplog.text and "quitting" not in caplog.text, caplog.text
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
