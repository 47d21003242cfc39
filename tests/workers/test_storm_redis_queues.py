"""Kill storms (``tests/support/storm.py``) on the work queue's Job runners and on RQ."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from kedasuite.core.names import RQ_QUEUE_LIST, RQ_STARTED_REGISTRY, WORKQUEUE_PROCESSING
from kedasuite.jobs.workqueue import redelivery_bound as workqueue_bound
from kedasuite.workers.rq_queue import redelivery_bound as rq_bound
from tests.support import Proc
from tests.support.storm import KILLS, Target, report, storm, timeout_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

LEASE = 2
#: An expired lease is reaped by the next lease call of any runner.
WORKQUEUE_BOUND = workqueue_bound(LEASE)

MONITORING, MAINTENANCE = 1, 2
#: A job stuck in the intermediate list is failed (and retried) INTERMEDIATE_GRACE_S after a
#: clean-up first saw it; a started job is abandoned once its heartbeat is overdue by the
#: grace. Each waits for a clean-up, which runs every maintenance interval (its lock lapses
#: after two if its holder was killed).
RQ_BOUND = rq_bound(MONITORING, MAINTENANCE)


@pytest.mark.timeout(timeout_for(KILLS, 2.0, WORKQUEUE_BOUND))
def test_work_queue_storm(forked: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    target = Target(
        "workqueue",
        # Many attempts: an item may be in hand at several kills in a row; here it must be
        # retried, not dead-lettered.
        lambda slot: forked(
            "job",
            "workqueue",
            "--redis-url",
            redis_url,
            "--work-time",
            "0.001",
            "--lease-seconds",
            str(LEASE),
            "--idle-timeout",
            "60",
            "--max-attempts",
            "1000",
        ),
        r"processing item",
        redelivery_bound=WORKQUEUE_BOUND,
        in_flight=lambda c: {t.decode() for t in c.lrange(WORKQUEUE_PROCESSING, 0, -1)},
        # A runner takes hundreds of items a second: a deep backlog keeps them from running dry.
        batch=1500,
        low_water=1000,
    )
    report("workqueue", storm(target, redis_client, redis_url))


@pytest.mark.timeout(timeout_for(KILLS, 2.0, RQ_BOUND))
def test_rq_storm(forked: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    target = Target(
        "rq",
        lambda slot: forked(
            "worker",
            "rq",
            "--redis-url",
            redis_url,
            "--work-time",
            "0",
            "--job-monitoring-interval",
            str(MONITORING),
            "--maintenance-interval",
            str(MAINTENANCE),
        ),
        r"Listening on",
        redelivery_bound=RQ_BOUND,
        in_flight=lambda c: {
            j.decode()
            for j in [*c.lrange(f"{RQ_QUEUE_LIST}:intermediate", 0, -1), *c.zrange(RQ_STARTED_REGISTRY, 0, -1)]
        },
    )
    report("rq", storm(target, redis_client, redis_url))
