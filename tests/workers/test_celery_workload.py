"""The Celery workload against a real Redis and real Celery workers (separate processes)."""

from __future__ import annotations

import collections
import json
import signal
from collections.abc import Callable

import pytest

from kedasuite.core.names import CELERY_QUEUE, CELERY_UNACKED_HASH
from kedasuite.core.results import dead_letter_key, fetch_results
from tests.support import Proc, all_processed, missing_and_workers, run_cli, wait_for
from tests.support import pump as pump_records

pytestmark = pytest.mark.integration

READY = r"ready\."


def start_worker(
    spawn: Callable[..., Proc],
    redis_url: str,
    *,
    work_time: str = "0.01",
    concurrency: int = 1,
    visibility_timeout: int = 300,
) -> Proc:
    worker = spawn(
        "worker",
        "celery",
        "--redis-url",
        redis_url,
        "--concurrency",
        str(concurrency),
        "--work-time",
        work_time,
        "--visibility-timeout",
        str(visibility_timeout),
        "--loglevel",
        "INFO",
    )
    worker.wait_for_log(READY, timeout=60)
    return worker


def pump(redis_url: str, count: int, prefix: str) -> list[str]:
    return pump_records("celery", count, prefix, redis_url=redis_url)


def test_two_workers_process_every_record_exactly_once(spawn, redis_url, redis_client) -> None:
    workers = [start_worker(spawn, redis_url, work_time="0.01") for _ in range(2)]
    ids = pump(redis_url, 200, "twice")

    results = wait_for(
        all_processed(redis_client, ids),
        60,
        "200 records processed",
        seen=missing_and_workers(redis_client, "celery", ids, workers),
    )

    assert all(r.deliveries == 1 for r in results.values()), "a record was processed twice"
    per_worker = collections.Counter(r.worker for r in results.values())
    assert len(per_worker) == 2, f"both workers should take work: {per_worker}"
    assert redis_client.llen(CELERY_QUEUE) == 0
    wait_for(lambda: redis_client.hlen(CELERY_UNACKED_HASH) == 0, 10, "no unacked message left")
    assert sum(per_worker.values()) == 200
    assert {w.popen.poll() for w in workers} == {None}


@pytest.mark.faults  # a worker stopped or evicted mid-run: the faults tier
def test_sigterm_mid_backlog_then_a_new_worker_loses_nothing(spawn, redis_url, redis_client) -> None:
    first = start_worker(spawn, redis_url, work_time="0.05")
    ids = pump(redis_url, 200, "term")
    wait_for(
        lambda: len(fetch_results(redis_client, ids)) >= 20,
        60,
        "the first worker to make progress",
        seen=first.describe,
    )

    first.signal(signal.SIGTERM)  # what Kubernetes sends on scale-down
    assert first.wait(30, "a SIGTERMed Celery worker to stop") == 0, first.describe()
    left_behind = 200 - len(fetch_results(redis_client, ids))
    assert left_behind > 0, "the backlog should outlive the first worker"
    assert redis_client.hlen(CELERY_UNACKED_HASH) == 0, "SIGTERM must hand reserved tasks back, not keep them"

    second = start_worker(spawn, redis_url, work_time="0.01")
    results = wait_for(
        all_processed(redis_client, ids),
        60,
        "all 200 records processed",
        seen=missing_and_workers(redis_client, "celery", ids, [second]),
    )
    assert all(r.deliveries == 1 for r in results.values()), "a graceful stop must not cause duplicates"


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_sigkilled_workers_task_is_processed_by_another(spawn, redis_url, redis_client) -> None:
    victim = start_worker(spawn, redis_url, work_time="fixed:2", visibility_timeout=4)
    ids = pump(redis_url, 3, "kill")
    match = victim.wait_for_log(r"processing (kill-\d+) for [\d.]+ s as (\S+)", timeout=30)
    in_hand, victim_identity = match.group(1), match.group(2)

    victim.signal(signal.SIGKILL)  # the pod is gone: no shutdown, no ack
    victim.wait(10, "the SIGKILLed Celery worker to go")
    assert redis_client.hlen(CELERY_UNACKED_HASH) == 1, "the killed worker's task should be unacknowledged"

    rescuer = start_worker(spawn, redis_url, work_time="fixed:0.1", visibility_timeout=4)
    results = wait_for(
        all_processed(redis_client, ids),
        60,
        "every record, the killed one included",
        seen=missing_and_workers(redis_client, "celery", ids, [rescuer]),
    )

    assert results[in_hand].worker != victim_identity
    assert results[in_hand].deliveries == 1
    assert f"processing {in_hand} " in rescuer.log()


def test_poison_records_are_dead_lettered_and_the_worker_goes_on(spawn, redis_url, redis_client) -> None:
    from celery import Celery

    from kedasuite.core.names import CELERY_TASK

    client_app = Celery(broker=redis_url)
    client_app.send_task(CELERY_TASK, args=["not a record"], ignore_result=True)
    client_app.send_task(CELERY_TASK, args=[{"id": "p-1", "name": "No Email"}], ignore_result=True)
    ids = pump(redis_url, 5, "good")
    worker = start_worker(spawn, redis_url)

    wait_for(
        all_processed(redis_client, ids),
        30,
        "the good records after the poison ones",
        seen=missing_and_workers(redis_client, "celery", ids, [worker]),
    )
    parked = [json.loads(x) for x in redis_client.lrange(dead_letter_key("celery"), 0, -1)]
    assert [p["reason"] for p in parked] == [
        "expected a JSON object with id, name, email, address, got str",
        "record lacks string field(s): email, address",
    ]
    assert parked[0]["payload"] == "not a record"


def test_a_visibility_timeout_shorter_than_the_longest_task_is_refused(redis_url) -> None:
    done = run_cli(
        "worker", "celery", "--redis-url", redis_url, "--work-time", "uniform:1:9", "--visibility-timeout", "5"
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "Error: CELERY_VISIBILITY_TIMEOUT (5 s) must be longer than the longest task "
        "(9 s from WORK_TIME=uniform:1:9), or a slow task is delivered twice"
    )


@pytest.mark.faults  # a broker that stops answering mid-run: the faults tier
def test_a_worker_stops_in_time_when_redis_stops_answering(spawn) -> None:
    """Redis gone silent without closing the connection (frozen, failing over, partitioned
    away): with no socket timeout, Celery's warm shutdown waited for ever on the
    remote-control channel's close. The worker must exit 0 within a few broker timeouts."""
    import redis

    from kedasuite.core.embedded import EmbeddedRedis
    from kedasuite.workers.celery_app import BROKER_SOCKET_TIMEOUT_S

    with EmbeddedRedis(databases=1) as server:
        worker = start_worker(spawn, server.url)
        ids = pump(server.url, 3, "silent")
        with redis.Redis.from_url(server.url) as client:
            wait_for(all_processed(client, ids), 30, "the records before the silence", seen=worker.describe)
        server.freeze()
        try:
            worker.signal(signal.SIGTERM)
            # About three broker waits (the remote-control channel, the fetch, its list), and room to spare.
            assert (
                worker.wait(
                    4 * BROKER_SOCKET_TIMEOUT_S + 15, "a SIGTERMed Celery worker whose Redis went silent to stop"
                )
                == 0
            ), worker.describe()
        finally:
            server.thaw()
