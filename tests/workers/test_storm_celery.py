"""Kill storms on Celery (``tests/support/storm.py``), and the reproduction of the lost task.

Before the atomic fetch (``workers/celery_transport.py``), one worker killed 40 times while
it worked through 3,000 millisecond tasks lost one of them for good: taken off ``celery``
by ``BRPOP`` and killed before kombu wrote it to ``unacked``.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable

import pytest
import redis

from kedasuite.core.names import CELERY_FETCHERS, CELERY_UNACKED_HASH
from kedasuite.core.results import fetch_results
from kedasuite.workers.celery_app import redelivery_bound as celery_bound
from tests.support import FAULT_ROWS, Proc, pump
from tests.support.storm import KILLS, SEED, Target, report, storm, timeout_for
from tests.support.whereabouts import wait_drained

pytestmark = [pytest.mark.integration, pytest.mark.faults]

VISIBILITY = 3
#: unacked: back after the visibility timeout, found by the next sweep (whose lock lapses
#: after two intervals if its holder was killed); fetched only: back after the lease.
REDELIVERY_BOUND = celery_bound(VISIBILITY)


def celery_in_flight(client: redis.Redis) -> set[str]:
    keys = {k.decode() for k in client.hkeys(CELERY_UNACKED_HASH)}
    for fetch_list in client.zrange(CELERY_FETCHERS, 0, -1):
        keys.update(
            f"{fetch_list.decode()}/{e.decode(errors='replace')[-60:]}" for e in client.lrange(fetch_list, 0, -1)
        )
    return keys


@pytest.mark.timeout(timeout_for(KILLS, 2.5, REDELIVERY_BOUND))
def test_celery_storm(forked: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    target = Target(
        "celery",
        lambda slot: forked(
            "worker",
            "celery",
            "--redis-url",
            redis_url,
            "--concurrency",
            "1",
            "--work-time",
            "0",
            "--visibility-timeout",
            str(VISIBILITY),
        ),
        r"ready\.",
        redelivery_bound=REDELIVERY_BOUND,
        in_flight=celery_in_flight,
    )
    report("celery", storm(target, redis_client, redis_url))


def test_one_worker_killed_40_times_loses_nothing(
    forked: Callable[..., Proc], redis_url: str, redis_client: redis.Redis
) -> None:
    """The issue's reproduction as a user ran it: 3,000 records, one worker, 40 kills, each
    0.3 to 1.1 s after the worker's start. The workers are forked (``tests/support/forkserver.py``),
    so the kills land in its consuming rather than in its interpreter's imports."""
    count, kills = 3000, 40
    pump("celery", count, "repro", redis_url=redis_url)
    args = [
        "worker",
        "celery",
        "--redis-url",
        redis_url,
        "--concurrency",
        "1",
        "--work-time",
        "fixed:0.005",
        "--visibility-timeout",
        str(VISIBILITY),
    ]
    rng = random.Random(SEED)
    for _ in range(kills):
        worker = forked(*args)
        threading.Event().wait(rng.uniform(0.3, 1.1))  # the kill moment is the random variable
        worker.signal(signal.SIGKILL)
        worker.wait(10)
        worker.stop()
    last = forked(*args)
    began = time.monotonic()
    ids = [f"repro-{n}" for n in range(1, count + 1)]
    wait_drained(redis_client, "celery", ids, REDELIVERY_BOUND, when=f"after {kills} kills of one worker")
    results = fetch_results(redis_client, ids)
    FAULT_ROWS.append(
        {
            "fault test": "one worker, 40 kills",
            "workload": "celery",
            "kills": kills,
            "sigterms": 0,
            "records": count,
            "lost": count - len(results),
            "duplicates": sum(r.deliveries - 1 for r in results.values()),
            "seconds to drain": f"{time.monotonic() - began:.1f}",
        }
    )
    last.signal(signal.SIGTERM)
    assert last.wait(60) == 0
