"""Publish Celery tasks straight onto the Redis list, at pipeline speed.

``send_task`` builds a message, serialises it twice and makes one round trip per task:
about 1,700 tasks/s here. A pump needs tens of thousands. The messages below are byte
for byte the shape kombu's Redis transport writes for ``send_task`` (protocol 2, JSON,
base64 body; see ``tests/producers/test_celery_wire.py``, which compares them with a real
``send_task`` and has a stock Celery worker consume them), but the parts that never
change are rendered once, and a whole batch goes out in one ``LPUSH``.

Order: kombu pushes with LPUSH and workers pop with BRPOP, so the list is FIFO. One
LPUSH with many values keeps that: the first record of a batch is the first consumed.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import uuid
from base64 import b64encode
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _js  # type: ignore[attr-defined]

from kedasuite.core.names import CELERY_QUEUE, CELERY_TASK, WORKLOAD_CELERY
from kedasuite.producers.records import UserRecord
from kedasuite.producers.redis_publisher import RedisPublisher

#: Celery's "embed" part of the body: no callbacks, no chain, no chord.
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'

# {task}, {origin}, {reply_to} and {queue} are filled once per encoder; the %s, in order:
# body, task id (three times: id, root_id, correlation_id), argsrepr, delivery tag.
_ENVELOPE = (
    '{{"body": "%s", "content-encoding": "utf-8", "content-type": "application/json", '
    '"headers": {{"lang": "py", "task": {task}, "id": "%s", "shadow": null, "eta": null, '
    '"expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], '
    '"root_id": "%s", "parent_id": null, "argsrepr": %s, "kwargsrepr": "{{}}", '
    '"origin": {origin}, "ignore_result": true, "replaced_task_nesting": 0, '
    '"stamped_headers": null, "stamps": {{}}}}, '
    '"properties": {{"correlation_id": "%s", "reply_to": "{reply_to}", "delivery_mode": 2, '
    '"delivery_info": {{"exchange": "", "routing_key": {queue}}}, "priority": 0, '
    '"body_encoding": "base64", "delivery_tag": "%s"}}}}'
)


class _UuidSequence:
    """Distinct UUID-shaped strings without a syscall each (uuid4 costs ~6 µs here).

    A random version-4 UUID fixes the first 20 hex digits; the last 12 count up. Two
    sequences collide only if their random parts do (2**74 to one).
    """

    def __init__(self) -> None:
        self._head = str(uuid.uuid4())[:24]
        self._counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __next__(self) -> str:
        return f"{self._head}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


class CeleryMessageEncoder:
    """Renders one user record as the Redis-list entry of a ``process_user`` task."""

    def __init__(self, task: str = CELERY_TASK, queue: str = CELERY_QUEUE) -> None:
        self._template = _ENVELOPE.format(
            task=json.dumps(task),
            queue=json.dumps(queue),
            origin=json.dumps(f"{os.getpid()}@{socket.gethostname()}"),
            reply_to=uuid.uuid4(),
        )
        self._ids = _UuidSequence()
        self._tags = _UuidSequence()

    def encode(self, record: UserRecord) -> str:
        """The list entry for one record. ``argsrepr`` (only shown in worker logs) names
        the record instead of repeating it, which keeps messages a third smaller."""
        body = b64encode(f"[[{record.json}], {{}}, {_EMBED}]".encode()).decode("ascii")
        task_id = next(self._ids)
        argsrepr = _js(f"[<user {record.id}>]")
        return self._template % (body, task_id, task_id, argsrepr, task_id, next(self._tags))


class CeleryPublisher(RedisPublisher):
    """The pump's publisher for the Celery workload."""

    workload = WORKLOAD_CELERY

    def __init__(self, redis_url: str) -> None:
        super().__init__(redis_url)
        self._encoder = CeleryMessageEncoder()

    def publish(self, records: Sequence[UserRecord]) -> int:
        """Push the batch in one LPUSH: all of it reaches the queue, or an error is raised."""
        encode = self._encoder.encode
        payloads = [encode(r) for r in records]
        self._send(lambda: self._client.lpush(CELERY_QUEUE, *payloads))
        return len(payloads)
