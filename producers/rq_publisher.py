"""Enqueue RQ jobs (``workers.rq_tasks.process_user``), a batch per pipeline.

The job names its function by import path, so the pump needs none of the worker's code;
each job carries a retry policy, which is also what brings back a job whose worker was
killed (RQ retries abandoned jobs that have retries left).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import redis
from rq import Queue, Retry

from kedasuite import defaults
from kedasuite.clients import check_redis, redis_client, unreachable_redis
from kedasuite.names import RQ_QUEUE, RQ_TASK, WORKLOAD_RQ, Env
from producers.records import UserRecord


class RQPublisher:
    workload = WORKLOAD_RQ
    error = None

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._client = redis_client(redis_url)
        self._queue = Queue(RQ_QUEUE, connection=self._client)
        self._timeout = int(os.environ.get(Env.RQ_JOB_TIMEOUT, defaults.RQ_JOB_TIMEOUT))
        self._retry = Retry(max=int(os.environ.get(Env.RQ_RETRIES, defaults.RQ_RETRIES)))

    def check(self) -> None:
        check_redis(self._client, self._url)

    def publish(self, records: Sequence[UserRecord]) -> int:
        jobs = [
            Queue.prepare_data(RQ_TASK, args=(r.json,), job_id=f"user-{r.id}", timeout=self._timeout,
                               retry=self._retry, description=f"process_user({r.id})")
            for r in records
        ]
        try:
            with self._client.pipeline() as pipe:
                self._queue.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable_redis(self._url, exc) from exc
        return len(jobs)

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        self._client.close()
