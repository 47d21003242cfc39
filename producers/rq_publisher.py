"""Enqueue RQ jobs (``kedasuite.workers.rq_tasks.process_user``), a batch per pipeline.

The job names its function by import path, so the pump needs none of the worker's code;
each job carries a retry policy for when the task fails (a job whose worker was killed is
requeued by the suite's worker without spending a retry, see ``workers/rq_queue.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from rq import Queue, Retry

from kedasuite.core import config
from kedasuite.core.names import RQ_QUEUE, RQ_TASK, WORKLOAD_RQ
from kedasuite.producers.records import UserRecord
from kedasuite.producers.redis_publisher import RedisPublisher


class RQPublisher(RedisPublisher):
    workload = WORKLOAD_RQ

    def __init__(self, redis_url: str) -> None:
        super().__init__(redis_url)
        self._queue = Queue(RQ_QUEUE, connection=self._client)
        self._timeout = config.RQ_JOB_TIMEOUT.read()
        retries = config.RQ_RETRIES.read()
        self._retry = Retry(max=retries) if retries else None  # RQ refuses Retry(max=0)

    def publish(self, records: Sequence[UserRecord]) -> int:
        jobs = [
            Queue.prepare_data(
                RQ_TASK,
                args=(r.json,),
                job_id=f"user-{r.id}",
                timeout=self._timeout,
                retry=self._retry,
                description=f"process_user({r.id})",
            )
            for r in records
        ]

        def enqueue() -> None:
            with self._client.pipeline() as pipe:
                self._queue.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()

        self._send(enqueue)
        return len(jobs)
