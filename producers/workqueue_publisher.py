"""Publish user records onto the work queue's list, as ``redis-cli RPUSH job ...`` would."""

from __future__ import annotations

from collections.abc import Sequence

from kedasuite.core.names import WORKLOAD_WORKQUEUE, WORKQUEUE_LIST
from kedasuite.producers.records import UserRecord
from kedasuite.producers.redis_publisher import RedisPublisher


class WorkQueuePublisher(RedisPublisher):
    workload = WORKLOAD_WORKQUEUE

    def publish(self, records: Sequence[UserRecord]) -> int:
        """One RPUSH per batch; runners LPOP, so the list is FIFO."""
        self._send(lambda: self._client.rpush(WORKQUEUE_LIST, *[r.json for r in records]))
        return len(records)
