"""Where is a record that has no result? So that "lost" and "slow" are never confused.

A fault test that does not see every record says how many are missing, up to ten of
their ids, and for each where it is now: still in the backlog, in flight (and under which
key), dead-lettered, or nowhere. Only "nowhere" is a loss; the others mean the drain
deadline was too short or redelivery is stalled, and the key says which mechanism holds
the record. Every lookup reads the broker directly, the way a person with ``redis-cli``
(or a Kafka consumer) would.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import redis

from kedasuite.core.names import (
    CELERY_FETCH_INFIX,
    CELERY_QUEUE,
    CELERY_UNACKED_HASH,
    DEAD_LETTER_PREFIX,
    PROCESSED_COUNT_PREFIX,
    RQ_QUEUE_LIST,
    RQ_STARTED_REGISTRY,
    WORKLOAD_CELERY,
    WORKLOAD_KAFKA,
    WORKLOAD_RQ,
    WORKLOAD_WORKQUEUE,
    WORKQUEUE_ITEM_PREFIX,
    WORKQUEUE_LIST,
    WORKQUEUE_PROCESSING,
    WORKQUEUE_RETRY_PREFIX,
)
from kedasuite.core.results import fetch_results
from kedasuite.core.settings import KafkaSettings

NOWHERE = "nowhere"
_CELERY_ID = re.compile(rb"<user ([^>]+)>")
_JSON_ID = re.compile(rb'"id": ?"([^"]+)"')


def _ids_in(entries: Iterable[bytes], pattern: re.Pattern[bytes]) -> set[str]:
    found = set()
    for entry in entries:
        found.update(m.decode(errors="replace") for m in pattern.findall(entry))
    return found


def _scan_lists(client: redis.Redis, match: str) -> dict[str, list[bytes]]:
    return {key.decode(): client.lrange(key, 0, -1) for key in client.scan_iter(match=match, count=1000)}


def _celery(client: redis.Redis, wanted: set[str]) -> dict[str, str]:
    places: list[tuple[str, set[str]]] = [
        (f"backlog ({CELERY_QUEUE})", _ids_in(client.lrange(CELERY_QUEUE, 0, -1), _CELERY_ID)),
        (f"in flight ({CELERY_UNACKED_HASH})", _ids_in(client.hvals(CELERY_UNACKED_HASH), _CELERY_ID)),
    ]
    for key, entries in _scan_lists(client, f"{CELERY_QUEUE}{CELERY_FETCH_INFIX}*").items():
        places.append((f"in flight ({key})", _ids_in(entries, _CELERY_ID)))
    return _first_place(wanted, places, client, WORKLOAD_CELERY)


def _rq(client: redis.Redis, wanted: set[str]) -> dict[str, str]:
    def record_ids(job_ids: Iterable[bytes]) -> set[str]:
        return {j.decode().removeprefix("user-") for j in job_ids}

    places = [
        (f"backlog ({RQ_QUEUE_LIST})", record_ids(client.lrange(RQ_QUEUE_LIST, 0, -1))),
        (
            f"in flight ({RQ_QUEUE_LIST}:intermediate)",
            record_ids(client.lrange(f"{RQ_QUEUE_LIST}:intermediate", 0, -1)),
        ),
        (f"in flight ({RQ_STARTED_REGISTRY})", record_ids(client.zrange(RQ_STARTED_REGISTRY, 0, -1))),
    ]
    for key in client.scan_iter(match="rq:failed:*"):
        places.append((f"failed ({key.decode()})", record_ids(client.zrange(key, 0, -1))))
    where = _first_place(wanted, places, client, WORKLOAD_RQ)
    for record_id, place in where.items():
        if place == NOWHERE:
            status = client.hget(f"rq:job:user-{record_id}", "status")
            if status is not None:
                where[record_id] = f"{NOWHERE} (job hash rq:job:user-{record_id} says {status.decode()!r})"
    return where


def _workqueue(client: redis.Redis, wanted: set[str]) -> dict[str, str]:
    def item_of(token: bytes) -> bytes:
        return client.hget(f"{WORKQUEUE_ITEM_PREFIX}{token.decode()}", "item") or b""

    pending = []
    for entry in client.lrange(WORKQUEUE_LIST, 0, -1):
        pending.append(
            item_of(entry[len(WORKQUEUE_RETRY_PREFIX) :])
            if entry.startswith(WORKQUEUE_RETRY_PREFIX.encode())
            else entry
        )
    places = [
        (f"backlog ({WORKQUEUE_LIST})", _ids_in(pending, _JSON_ID)),
        (
            f"in flight ({WORKQUEUE_PROCESSING})",
            _ids_in(map(item_of, client.lrange(WORKQUEUE_PROCESSING, 0, -1)), _JSON_ID),
        ),
    ]
    return _first_place(wanted, places, client, WORKLOAD_WORKQUEUE)


def _mentions(entry: bytes, record_id: str) -> bool:
    return re.search(rb"(?<![\w-])" + re.escape(record_id.encode()) + rb"(?![\w-])", entry) is not None


def _first_place(
    wanted: set[str], places: Sequence[tuple[str, set[str]]], client: redis.Redis, workload: str
) -> dict[str, str]:
    dead_key = f"{DEAD_LETTER_PREFIX}{workload}"
    dead = client.lrange(dead_key, 0, -1)
    where = {}
    for record_id in wanted:
        where[record_id] = next((name for name, ids in places if record_id in ids), NOWHERE)
        if where[record_id] == NOWHERE and any(_mentions(entry, record_id) for entry in dead):
            where[record_id] = f"dead-lettered ({dead_key})"
    return where


def _kafka(settings: KafkaSettings, wanted: set[str]) -> dict[str, str]:
    """Read the topic and the DLQ: a record past its partition's committed offset is backlog."""
    from confluent_kafka import Consumer, TopicPartition

    from kedasuite.keda.reads import fetch_offsets

    committed = {p.partition: p.committed for p in fetch_offsets(settings.bootstrap, settings.group, settings.topic)}
    reader = Consumer(
        {
            "bootstrap.servers": settings.bootstrap,
            "group.id": f"{settings.group}-whereabouts",
            "enable.auto.commit": False,
        }
    )
    where: dict[str, str] = {}
    try:
        for topic in (settings.topic, settings.dlq_topic):
            meta = reader.list_topics(topic, timeout=10).topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            ends = {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
            reader.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
            left = {p for p, end in ends.items() if end > 0}
            while left:
                msg = reader.poll(5)
                if msg is None:
                    break
                if msg.error() is not None:
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    left.discard(msg.partition())
                for record_id in _ids_in([msg.value() or b""], _JSON_ID) & wanted:
                    if topic == settings.dlq_topic:
                        where[record_id] = f"dead-lettered ({topic})"
                    elif record_id not in where:
                        mark = committed.get(msg.partition())
                        at = f"{topic}[{msg.partition()}] offset {msg.offset()}, group committed {mark}"
                        where[record_id] = (
                            f"backlog ({at})"
                            if mark is None or msg.offset() >= mark
                            else f"{NOWHERE}: committed past it ({at})"
                        )
    finally:
        reader.close()
    return {record_id: where.get(record_id, f"{NOWHERE}: not on {settings.topic}") for record_id in wanted}


def locate(
    workload: str, client: redis.Redis, ids: Iterable[str], kafka: KafkaSettings | None = None
) -> dict[str, str]:
    """For each id: where the record is now (see the module docstring)."""
    wanted = set(ids)
    if workload == WORKLOAD_KAFKA:
        if kafka is None:
            raise ValueError("locating Kafka records needs the KafkaSettings of the run")
        return _kafka(kafka, wanted)
    finder: Callable[[redis.Redis, set[str]], dict[str, str]] = {
        WORKLOAD_CELERY: _celery,
        WORKLOAD_RQ: _rq,
        WORKLOAD_WORKQUEUE: _workqueue,
    }[workload]
    return finder(client, wanted)


def missing_report(
    workload: str, client: redis.Redis, ids: Sequence[str], kafka: KafkaSettings | None = None, shown: int = 10
) -> str:
    """'N of M <workload> records have no result', then up to ``shown`` ids with their places."""
    results = fetch_results(client, ids)
    missing = [i for i in ids if i not in results]
    if not missing:
        return f"all {len(ids)} {workload} records have a result"
    where = locate(workload, client, missing[:shown], kafka)
    tally: dict[str, int] = {}
    for place in where.values():
        kind = re.split(r" \(|:", place)[0]
        tally[kind] = tally.get(kind, 0) + 1
    lines = [
        f"{len(missing)} of {len(ids)} {workload} records have no result "
        f"(of the {len(where)} shown: " + ", ".join(f"{n} {k}" for k, n in sorted(tally.items())) + ")"
    ]
    lines += [f"  {record_id}: {where[record_id]}" for record_id in missing[:shown]]
    return "\n".join(lines)


def processed(client: redis.Redis, workload: str) -> int:
    """The workers' own count of distinct results (``processed:<workload>``): one GET."""
    return int(client.get(f"{PROCESSED_COUNT_PREFIX}{workload}") or 0)


def wait_processed(
    client: redis.Redis,
    workload: str,
    at_least: int,
    redelivery_bound: float,
    what: str,
    on_stall: Callable[[], str] = lambda: "",
) -> None:
    """Until the workers have written ``at_least`` distinct results; fail when none arrives
    for longer than the redelivery bound (+ 15 s for a loaded machine).

    Progress, not a fixed deadline: a slow machine drains slowly but steadily, while a lost
    record stops progress for good. ``on_stall`` adds a diagnosis to the failure.
    """
    patience = redelivery_bound + 15
    last_count, last_progress = -1, time.monotonic()
    while True:
        count = processed(client, workload)
        if count >= at_least:
            return
        now = time.monotonic()
        if count != last_count:
            last_count, last_progress = count, now
        elif now - last_progress > patience:
            raise AssertionError(
                f"no new {workload} result for {patience:g} s (redelivery bound "
                f"{redelivery_bound:g} s + 15 s) waiting for {what}, {count} so far\n" + on_stall()
            )
        threading.Event().wait(0.2)


def wait_drained(
    client: redis.Redis,
    workload: str,
    ids: Sequence[str],
    redelivery_bound: float,
    kafka: KafkaSettings | None = None,
    when: str = "",
    on_stall: Callable[[], str] = lambda: "",
) -> None:
    """Until every id has a result (see :func:`wait_processed`); a stall reports each missing
    id's place, then ``on_stall()`` (the workers: what they were doing)."""
    wait_processed(
        client,
        workload,
        len(ids),
        redelivery_bound,
        f"all {len(ids)} results {when}".rstrip(),
        lambda: "\n".join(filter(None, [missing_report(workload, client, ids, kafka), on_stall()])),
    )
    if len(fetch_results(client, ids)) != len(ids):
        raise AssertionError(
            f"{PROCESSED_COUNT_PREFIX}{workload} counts {len(ids)} results, but:\n"
            + missing_report(workload, client, ids, kafka)
        )
