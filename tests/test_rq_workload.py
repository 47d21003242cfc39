"""The RQ workload: RQ's own worker, our task, a real Redis."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from kedasuite.names import RQ_QUEUE_LIST
from producers.records import record_ids
from tests.support import Proc, all_processed, run_cli, wait_for
from workers.results import fetch_results

pytestmark = pytest.mark.integration

READY = r"Listening on"


def start_worker(spawn: Callable[..., Proc], redis_url: str, work_time: str, *extra: str) -> Proc:
    worker = spawn("worker", "rq", "--redis-url", redis_url, "--work-time", work_time, *extra)
    worker.wait_for_log(READY, timeout=60)
    return worker


def pump(redis_url: str, count: int, prefix: str) -> list[str]:
    done = run_cli("pump", "rq", "--count", str(count), "--id-prefix", prefix, "--workloads", "rq",
                   "--redis-url", redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"rq: sent {count}, failed 0 in "), done.stdout
    return record_ids(count, prefix)


def test_two_rq_workers_process_all_100(spawn, redis_url, redis_client) -> None:
    for _ in range(2):
        start_worker(spawn, redis_url, "0.02")
    ids = pump(redis_url, 100, "rq")
    results = wait_for(all_processed(redis_client, ids), 90, "100 jobs")
    assert all(r.deliveries == 1 for r in results.values())
    assert redis_client.llen(RQ_QUEUE_LIST) == 0


def test_sigterm_finishes_the_running_job(spawn, redis_url, redis_client) -> None:
    worker = start_worker(spawn, redis_url, "fixed:2")
    ids = pump(redis_url, 1, "term")
    worker.wait_for_log(r"processing term-1 ", timeout=30)
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert len(fetch_results(redis_client, ids)) == 1


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
