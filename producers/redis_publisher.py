"""What every Redis-backed publisher shares: one client, a ping check, synchronous confirmation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import redis

from kedasuite.core.clients import check_redis, redis_client, retry_redis, unreachable_redis
from kedasuite.producers.records import UserRecord

T = TypeVar("T")


class RedisPublisher:
    """Base of the Celery, work-queue and RQ publishers.

    Every Redis write returns only once the server has it, so ``publish`` confirms its
    whole batch or raises, and there is never anything left to ``flush``.
    """

    workload = ""
    error = None

    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._client = redis_client(redis_url)

    def check(self) -> None:
        check_redis(self._client, self._url)

    def _send(self, write: Callable[[], T]) -> T:
        """Run one write, riding out a Redis restart (:func:`retry_redis`); a connection
        still lost after that becomes the error that names the fix. A batch whose reply was
        lost with the connection may be pushed twice: at least once, never lost."""
        try:
            return retry_redis(write, self._url)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise unreachable_redis(self._url, exc) from exc

    def publish(self, records: Sequence[UserRecord]) -> int:
        raise NotImplementedError

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        self._client.close()
