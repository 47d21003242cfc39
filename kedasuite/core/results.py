"""What a worker leaves behind: one Redis HASH per processed record, and parked poison.

``HGETALL users:<id>`` shows name, email, address, the worker that did it
(pod or host name and pid) and ``processed_at``. A record is written once: a redelivered
message (at-least-once delivery after a crash) only bumps ``deliveries``, so the first
worker's result stays and duplicates are counted instead of hidden.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from kedasuite.core import metrics
from kedasuite.core.clients import retry_redis
from kedasuite.core.names import (
    DEAD_LETTER_PREFIX,
    ITEM_KEY_PREFIX,
    KAFKA_ASSIGNMENTS_PREFIX,
    PROCESSED_COUNT_PREFIX,
    RECORD_KEY_PREFIX,
    REDELIVERED_COUNT_PREFIX,
)

REQUIRED_FIELDS = ("id", "name", "email", "address")

#: A Lua function other scripts embed (the work queue completes and saves in one step).
#: ``fields`` = {field, value, ...}; returns 1 when written, 0 when the result existed.
#: A first write also counts the result in ``processed:<workload>``, so ``status`` and the
#: dashboard can show progress with one GET instead of scanning every result.
SAVE_ONCE_LUA = """
local function save_once(key, fields)
  if redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'deliveries', 1)
    return 0
  end
  redis.call('HSET', key, 'deliveries', 1, unpack(fields))
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'workload' then redis.call('INCR', PREFIX .. fields[i + 1]) end
  end
  return 1
end
""".replace("PREFIX", json.dumps(PROCESSED_COUNT_PREFIX))
_SAVE_ONCE = SAVE_ONCE_LUA + "return save_once(KEYS[1], ARGV)"


class PoisonMessage(ValueError):
    """A message no retry can fix: it is parked in the dead-letter list, not retried."""


def worker_identity() -> str:
    """``<pod or host name>:<pid>``; in Kubernetes the host name is the pod name."""
    return f"{socket.gethostname()}:{os.getpid()}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


def record_key(record_id: str) -> str:
    return f"{RECORD_KEY_PREFIX}{record_id}"


def item_key(token: str) -> str:
    return f"{ITEM_KEY_PREFIX}{token}"


def result_fields(record: Mapping[str, str], workload: str, worker: str | None = None) -> list[str]:
    """The HASH fields of a result, flattened for HSET: the record's, then who and when."""
    if "id" in record:
        fields = {k: record.get(k, "") for k in ("name", "email", "address", "created_at")}
    else:
        fields = {"item": record["item"]}
    fields.update(workload=workload, worker=worker or worker_identity(), processed_at=utc_now())
    return [x for kv in fields.items() for x in kv]


def processed_count_key(workload: str) -> str:
    return f"{PROCESSED_COUNT_PREFIX}{workload}"


def redelivered_count_key(workload: str) -> str:
    return f"{REDELIVERED_COUNT_PREFIX}{workload}"


def assignments_key(group: str) -> str:
    """The stream of a Kafka group's assignment changes (see :data:`~kedasuite.core.names.KAFKA_ASSIGNMENTS_PREFIX`)."""
    return f"{KAFKA_ASSIGNMENTS_PREFIX}{group}"


def dead_letter_key(workload: str) -> str:
    return f"{DEAD_LETTER_PREFIX}{workload}"


def validate_record(obj: Any) -> dict[str, str]:
    """The record as a dict of strings, or :class:`PoisonMessage` naming what is wrong."""
    if not isinstance(obj, Mapping):
        raise PoisonMessage(f"expected a JSON object with {', '.join(REQUIRED_FIELDS)}, got {type(obj).__name__}")
    missing = [f for f in REQUIRED_FIELDS if not isinstance(obj.get(f), str) or not obj.get(f)]
    if missing:
        raise PoisonMessage(f"record lacks string field(s): {', '.join(missing)}")
    return {k: str(v) for k, v in obj.items() if v is not None}


class ResultStore:
    def __init__(self, client: redis.Redis, workload: str) -> None:
        self._client = client
        self._workload = workload
        self._save = client.register_script(_SAVE_ONCE)
        kwargs = client.connection_pool.connection_kwargs
        self._where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"

    def save(self, record: Mapping[str, str], worker: str | None = None) -> bool:
        """Write the result unless it exists; True when this call wrote it.

        A Redis restart is waited out (:func:`retry_redis`): the item in hand is saved when
        the server is back instead of failing. Saving twice is harmless: it is save-once
        (a retry whose first reply was lost counts as a duplicate delivery).
        """
        argv = result_fields(record, self._workload, worker)
        written = bool(retry_redis(lambda: self._save(keys=[record_key(record["id"])], args=argv), self._where))
        (metrics.count_processed if written else metrics.count_duplicate)(self._workload)
        return written

    def count_redelivered(self) -> None:
        """One more delivery of a message handed out before (its first worker stopped or died holding it)."""
        retry_redis(lambda: self._client.incr(redelivered_count_key(self._workload)), self._where)

    def park(self, payload: Any, reason: str) -> None:
        """Dead-letter a poison message with the reason, for a person to look at."""
        entry = {"reason": reason, "payload": _printable(payload), "worker": worker_identity(), "at": utc_now()}
        retry_redis(lambda: self._client.rpush(dead_letter_key(self._workload), json.dumps(entry)), self._where)
        metrics.count_dead_lettered(self._workload)


def _printable(payload: Any) -> Any:
    if isinstance(payload, bytes):
        return payload.decode("utf-8", "backslashreplace")
    try:
        json.dumps(payload)
        return payload
    except (TypeError, ValueError):
        return repr(payload)


@dataclass(frozen=True)
class Result:
    worker: str
    deliveries: int
    processed_at: str


def fetch_results(
    client: redis.Redis, ids: Iterable[str], chunk: int = 1000, prefix: str = RECORD_KEY_PREFIX
) -> dict[str, Result]:
    """The results recorded for ``ids`` (missing ids are absent from the answer)."""
    found: dict[str, Result] = {}
    id_list = list(ids)
    for start in range(0, len(id_list), chunk):
        part = id_list[start : start + chunk]
        pipe = client.pipeline(transaction=False)
        for record_id in part:
            pipe.hmget(f"{prefix}{record_id}", "worker", "deliveries", "processed_at")
        for record_id, (worker, deliveries, processed_at) in zip(part, pipe.execute()):
            if worker is not None:
                found[record_id] = Result(worker.decode(), int(deliveries or 0), (processed_at or b"").decode())
        # a chunk at a time keeps memory flat for large checks
    return found
