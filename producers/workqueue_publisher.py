"""Publish user records onto the work queue's list, as ``redis-cli RPUSH job ...`` would."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from kedasuite.clients import check_redis, redis_client, unreachable_redis
from kedasuite.names import WORKLOAD_WORKQUEUE, WORKQUEUE_LIST
from producers.records import UserRecord


class WorkQueuePublisher:
    workload = WORKLOAD_WORKQUEUE
    error = None

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._client = redis_client(redis_url)

    def check(self) -> None:
        check_redis(self._client, self._url)

    def publish(self, records: Sequence[UserRecord]) -> int:
        """One RPUSH per batch; runners LPOP, so the list is FIFO."""
        try:
            self._client.rpush(WORKQUEUE_LIST, *[r.json for r in records])
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable_redis(self._url, exc) from exc
        return len(records)

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        self._client.close()
