"""The RQ workload's task: the same simulated work and the same result as the others.

The worker is RQ's own (``kedasuite worker rq`` or ``rq worker`` with ``REDIS_URL`` and
``WORK_TIME`` in its environment). Each job runs in a forked work horse, so the task
reads its work time from the environment and reuses the worker's Redis connection.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time

from rq import get_current_job

from kedasuite.core import defaults, metrics
from kedasuite.core.names import WORKLOAD_RQ, Env
from kedasuite.core.results import PoisonMessage, ResultStore, validate_record
from kedasuite.core.worktime import parse_work_time

log = logging.getLogger(__name__)


def process_user(payload: str) -> str:
    """Simulate work on one user record (JSON text), then record the result once."""
    with metrics.working(WORKLOAD_RQ):  # in the work horse: counted in its own metrics file
        return _process_user(payload)


def _process_user(payload: str) -> str:
    job = get_current_job()
    assert job is not None, "process_user runs inside an RQ worker"
    store = ResultStore(job.connection, WORKLOAD_RQ)
    try:
        record = validate_record(json.loads(payload))
    except (PoisonMessage, TypeError, ValueError, RecursionError) as exc:
        store.park(payload, str(exc))  # no retry can fix it: park it instead of failing
        log.warning("dead-lettered a poison job %s: %s", job.id, exc)
        return "dead-lettered"
    seconds = parse_work_time(os.environ.get(Env.WORK_TIME, defaults.WORK_TIME)).sample()
    # The horse is forked per job; the worker that owns it is its parent.
    identity = f"{socket.gethostname()}:{os.getppid()}"
    log.info("processing %s for %.2f s as %s", record["id"], seconds, identity)
    time.sleep(seconds)
    return "saved" if store.save(record, identity) else "duplicate"
