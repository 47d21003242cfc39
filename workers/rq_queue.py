"""RQ's queue, made safe against entries that are not job ids.

RQ's queue list holds job ids; the jobs themselves are hashes. Anything can be pushed
onto the list, though, and RQ 3 handles a bad entry badly: bytes that are not UTF-8 stop
the worker (``UnicodeDecodeError`` from its dequeue, exit status 0, the entry already
moved off the queue), and an id with no job hash is skipped without a trace. Here every
dequeued entry is checked first; one that is not a job id is parked in ``deadletter:rq``
with the reason and removed from RQ's intermediate list, and the dequeue goes on.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job

from kedasuite.names import WORKLOAD_RQ
from workers.results import ResultStore


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


class PoisonSafeQueue(Queue):
    """``Queue`` whose dequeue parks entries that are not job ids instead of crashing on them."""

    @classmethod
    def lmove(cls, connection: Redis, queue_key: str, timeout: int | None) -> Any:
        while True:
            result = super().lmove(connection, queue_key, timeout)
            if result is None or not cls._parked(connection, queue_key, result[1], intermediate=True):
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
