"""Redis itself restarted mid-run: the pump and the workers ride it out, nothing is lost.

Redis runs with an append-only file fsynced on every write, so it comes back with every
write it acknowledged. The pump and the workers wait for it with backoff
(``REDIS_RETRY_SECONDS``); RQ's own loop does not survive a lost connection, so
``kedasuite worker rq`` waits and starts a fresh worker. Its own file, so that pytest-xdist
can run it beside the kill-and-replace tests.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest
import redis

from kedasuite.core.results import fetch_results
from kedasuite.jobs.workqueue import redelivery_bound as workqueue_bound
from kedasuite.producers.records import record_ids
from kedasuite.workers.celery_app import redelivery_bound as celery_bound
from kedasuite.workers.rq_queue import redelivery_bound as rq_bound
from tests.support import FAULT_ROWS, Proc, describe_procs, wait_for
from tests.support import pump as pump_records
from tests.support.whereabouts import processed, wait_drained

pytestmark = [pytest.mark.integration, pytest.mark.faults]


#: From the timings given to the workers below, as in the chaos tests.
REDELIVERY_BOUNDS = {
    "celery": celery_bound(5),
    "rq": rq_bound(1, 2),
    "workqueue": workqueue_bound(2),
}


@pytest.mark.parametrize("workload", ["celery", "rq", "workqueue"])
def test_redis_restart_mid_run(workload: str, spawn: Callable[..., Proc]) -> None:
    """Redis (append-only, fsync on every write) is SIGKILLed while the pump sends and the
    workers work, and started again a second later on the same port and data: the pump and
    the workers ride it out with backoff (REDIS_RETRY_SECONDS) and nothing is lost."""
    from kedasuite.core.embedded import EmbeddedRedis

    count = 400
    with EmbeddedRedis(databases=1, appendonly=True) as server:
        url = server.url
        client = redis.Redis.from_url(url)
        prefix = f"restart-{workload}"
        if workload == "workqueue":  # runners stop when they find the queue empty: fill it first
            pump_records(workload, count, prefix, redis_url=url)
            pump = None
            workers = [
                spawn(
                    "job",
                    "workqueue",
                    "--redis-url",
                    url,
                    "--work-time",
                    "uniform:0.02:0.06",
                    "--lease-seconds",
                    "2",
                    "--idle-timeout",
                    "30",
                )
                for _ in range(2)
            ]
        else:
            if workload == "celery":
                workers = [
                    spawn(
                        "worker",
                        "celery",
                        "--redis-url",
                        url,
                        "--concurrency",
                        "1",
                        "--work-time",
                        "uniform:0.02:0.06",
                        "--visibility-timeout",
                        "5",
                    )
                    for _ in range(2)
                ]
            else:
                workers = [
                    spawn(
                        "worker",
                        "rq",
                        "--redis-url",
                        url,
                        "--work-time",
                        "uniform:0.02:0.06",
                        "--job-monitoring-interval",
                        "1",
                        "--maintenance-interval",
                        "2",
                    )
                    for _ in range(2)
                ]
            # paced, so that the restart falls in the middle of the run
            pump = spawn(
                "pump",
                workload,
                "--rate",
                "80",
                "--duration",
                "5",
                "--id-prefix",
                prefix,
                "--workloads",
                workload,
                "--redis-url",
                url,
            )
        began = time.monotonic()
        everyone = [*workers, *([pump] if pump is not None else [])]
        wait_for(
            lambda: processed(client, workload) >= 60,
            60,
            f"60 {workload} items before the restart",
            seen=lambda: f"{processed(client, workload)} processed\n{describe_procs(everyone)}",
        )
        server.crash()
        time.sleep(1.0)  # the outage itself: Redis is gone for a second
        server.restart()
        ids = record_ids(count, prefix)
        # Clients retry every 2 s at most (retry_redis), then redelivery takes its usual bound.
        wait_drained(
            client,
            workload,
            ids,
            2 + REDELIVERY_BOUNDS[workload],
            when="after the restart",
            on_stall=lambda: describe_procs(everyone),
        )
        results = fetch_results(client, ids)
        drained = time.monotonic() - began
        if pump is not None:
            assert pump.wait(60, "the paced pump to finish") == 0, pump.describe()
            assert f"{workload}: sent {count}, failed 0 in " in pump.log(), pump.log()[-2000:]
        duplicates = sum(r.deliveries - 1 for r in results.values())
        FAULT_ROWS.append(
            {
                "fault test": "redis restart",
                "workload": workload,
                "kills": "redis x1",
                "sigterms": 0,
                "lost": count - len(results),
                "duplicates": duplicates,
                "interrupted (bound)": "-",
                "seconds to drain": f"{drained:.1f}",
            }
        )
        for worker in workers:
            if workload != "workqueue":
                worker.signal(signal.SIGTERM)
        for worker in workers:
            code = worker.wait(
                60,
                f"a {workload} worker to exit "
                + ("once drained" if workload == "workqueue" else "on SIGTERM after the restart"),
            )
            assert code == 0, worker.describe()
        client.close()
