"""Hostile messages: arbitrary bytes where each worker expects a message.

None may crash a worker, make it loop, or vanish: each is dead-lettered once, with a
reason, and the good message behind it is still processed. Hypothesis writes the bytes;
the workers are real processes on real brokers, one per module, so each example costs
only its own round trips (the work queue's runner, which ends when its queue is empty, runs
in the test's process against the same real Redis).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedasuite.core.clients import ensure_topic, kafka_admin
from kedasuite.core.names import (
    CELERY_QUEUE,
    KAFKA_DLQ_REASON_HEADER,
    KAFKA_DLQ_SOURCE_HEADER,
    RQ_QUEUE_LIST,
    WORKQUEUE_LIST,
)
from kedasuite.core.results import dead_letter_key, fetch_results
from kedasuite.core.settings import KafkaSettings
from kedasuite.producers.celery_publisher import CeleryMessageEncoder
from kedasuite.producers.records import RecordFactory, UserRecord
from tests.support import Proc, own_database, wait_for

pytestmark = pytest.mark.integration

HYPOTHESIS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Arbitrary bytes, plus the shapes most likely to get past a first check.
POISON = st.one_of(
    st.binary(max_size=80),
    st.text(max_size=40).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ).map(lambda v: json.dumps(v).encode()),
)
_ids = itertools.count(1)


def record(prefix: str) -> UserRecord:
    return next(RecordFactory(1).records(1, f"{prefix}-{next(_ids)}"))


@pytest.fixture(scope="module")
def db_url(redis_server: str, _databases: Iterator[int]) -> Iterator[str]:
    with own_database(redis_server, _databases) as url:
        yield url


@pytest.fixture(scope="module")
def module_spawn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Proc]]:
    procs: list[Proc] = []
    directory = tmp_path_factory.mktemp("poison")

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(list(args), directory / f"proc-{len(procs)}.log", env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


class Feed:
    """Push poison then one good record; wait until both are accounted for."""

    def __init__(self, url: str, workload: str, worker: Proc) -> None:
        self.client = redis.Redis.from_url(url)
        self.workload = workload
        self.worker = worker

    def parked(self) -> list[dict]:
        return [json.loads(x) for x in self.client.lrange(dead_letter_key(self.workload), 0, -1)]

    def run(self, push: Callable[[list[bytes], UserRecord], None], poison: list[bytes]) -> list[dict]:
        before = len(self.parked())
        good = record(self.workload)
        push(poison, good)

        def settled() -> bool:
            assert self.worker.popen.poll() is None, f"the worker died:\n{self.worker.log()[-3000:]}"
            return good.id in fetch_results(self.client, [good.id]) and len(self.parked()) >= before + len(poison)

        wait_for(settled, 30, f"{len(poison)} poison messages parked and the good record processed")
        new = self.parked()[before:]
        assert len(new) == len(poison), f"parked {len(new)} for {len(poison)} poison messages: {new}"
        assert all(entry["reason"] for entry in new)
        return new


# --- Celery --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def celery_feed(db_url: str, module_spawn: Callable[..., Proc]) -> Feed:
    worker = module_spawn("worker", "celery", "--redis-url", db_url, "--concurrency", "1", "--work-time", "0")
    worker.wait_for_log(r"ready\.", timeout=60)
    return Feed(db_url, "celery", worker)


def push_celery(feed: Feed) -> Callable[[list[bytes], UserRecord], None]:
    encoder = CeleryMessageEncoder()

    def push(poison: list[bytes], good: UserRecord) -> None:
        # LPUSH + BRPOP: the list is FIFO, so the good record comes after the poison.
        for item in poison:
            feed.client.lpush(CELERY_QUEUE, item)
        feed.client.lpush(CELERY_QUEUE, encoder.encode(good))

    return push


def test_celery_parks_each_kind_of_poison_with_its_reason(celery_feed: Feed) -> None:
    envelope = json.loads(CeleryMessageEncoder().encode(record("shape")))
    bad_body = {**envelope, "body": "!!not base64"}
    other_task = {**envelope, "headers": {**envelope["headers"], "task": "os.system"}}
    poison = [
        b"\xff\x00 not json",
        b'{"not": "an envelope"}',
        b"[1, 2, 3]",
        json.dumps(bad_body).encode(),
        json.dumps(other_task).encode(),
    ]
    parked = celery_feed.run(push_celery(celery_feed), poison)
    assert [p["reason"] for p in parked] == [
        "not a JSON message: Expecting value: line 1 column 1 (char 0)",
        "not a message envelope: no headers or properties",
        "not a message envelope: a JSON list",
        "undecodable message body: Only base64 data is allowed",
        "unknown task 'os.system': this worker runs workers.process_user",
    ]
    assert parked[0]["payload"] == "\\xff\x00 not json", "invalid UTF-8 is kept, escaped"


@given(poison=st.lists(POISON, min_size=1, max_size=4))
@HYPOTHESIS
def test_celery_survives_arbitrary_bytes(celery_feed: Feed, poison: list[bytes]) -> None:
    celery_feed.run(push_celery(celery_feed), poison)


# --- RQ ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rq_feed(db_url: str, module_spawn: Callable[..., Proc]) -> Feed:
    worker = module_spawn("worker", "rq", "--redis-url", db_url, "--work-time", "0")
    worker.wait_for_log(r"Listening on", timeout=60)
    return Feed(db_url, "rq", worker)


def push_rq(feed: Feed, as_job_argument: bool) -> Callable[[list[bytes], UserRecord], None]:
    from rq import Queue

    from kedasuite.core.names import RQ_QUEUE

    queue = Queue(RQ_QUEUE, connection=feed.client)

    def push(poison: list[bytes], good: UserRecord) -> None:
        for item in poison:
            if as_job_argument:
                queue.enqueue("kedasuite.workers.rq_tasks.process_user", item)  # a job whose payload is garbage
            else:
                feed.client.rpush(RQ_QUEUE_LIST, item)  # garbage where a job id belongs
        queue.enqueue("kedasuite.workers.rq_tasks.process_user", good.json)

    return push


def test_rq_parks_entries_that_are_not_jobs(rq_feed: Feed) -> None:
    parked = rq_feed.run(push_rq(rq_feed, as_job_argument=False), [b"\xff\xfe", b"no-such-job"])
    assert [p["reason"] for p in parked] == [
        "not a job id: not UTF-8 (invalid start byte at byte 0)",
        "no such job: 'rq:job:no-such-job' does not exist",
    ]


@given(poison=st.lists(POISON, min_size=1, max_size=3), as_job_argument=st.booleans())
@HYPOTHESIS
def test_rq_survives_arbitrary_bytes(rq_feed: Feed, poison: list[bytes], as_job_argument: bool) -> None:
    rq_feed.run(push_rq(rq_feed, as_job_argument), poison)


# --- the work queue ------------------------------------------------------------------------------


@given(items=st.lists(POISON, min_size=1, max_size=6))
@HYPOTHESIS
def test_work_queue_runner_ends_every_item_once(db_url: str, items: list[bytes]) -> None:
    """Any text is a valid item (``apple``); a JSON object that is not a record is poison.
    Either way each item ends exactly once, as a result or dead-lettered, and the runner ends
    with the queue empty (its exit 0). The runner exits when its queue is empty, so it runs in
    this process, once per example; ``tests/jobs/test_workqueue.py`` runs it as a process."""
    from kedasuite.core.worktime import parse_work_time
    from kedasuite.jobs.runner import Runner
    from kedasuite.jobs.workqueue import WorkQueue

    client = redis.Redis.from_url(db_url)
    client.flushdb()
    client.lpush(WORKQUEUE_LIST, *items)
    summary = Runner(WorkQueue(client), parse_work_time("0"), idle_timeout=5).run()
    assert summary.reason == "queue empty", summary
    results = int(client.get("processed:workqueue") or 0)
    parked = client.llen("job:deadletter") + client.llen(dead_letter_key("workqueue"))
    expected_poison = sum(1 for i in items if _is_json_object(i))
    assert (results + parked, parked) == (len(items), expected_poison), summary
    assert client.llen(WORKQUEUE_LIST) == 0 and client.llen("job:processing") == 0
    client.close()


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8", "backslashreplace")), dict)
    except (ValueError, RecursionError):
        return False


# --- Kafka ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_topic(
    kafka_bootstrap: str, kafka_env: dict[str, str], db_url: str, module_spawn: Callable[..., Proc]
) -> Iterator[KafkaSettings]:
    suffix = uuid.uuid4().hex[:8]
    k = KafkaSettings(bootstrap=kafka_bootstrap, topic=f"poison-{suffix}", group=f"poison-{suffix}")
    ensure_topic(kafka_admin(k.bootstrap), k.topic, 1, 1)
    consumer = module_spawn(
        "worker",
        "kafka",
        "--bootstrap-servers",
        k.bootstrap,
        "--topic",
        k.topic,
        "--group",
        k.group,
        "--work-time",
        "0",
        "--redis-url",
        db_url,
        env=kafka_env,
    )
    consumer.wait_for_log(rf"assigned {k.topic}\[", timeout=60)
    yield k


@given(poison=st.lists(POISON, min_size=1, max_size=4))
@HYPOTHESIS
def test_kafka_dead_letters_each_poison_record_once(
    kafka_topic: KafkaSettings, db_url: str, poison: list[bytes]
) -> None:
    k = kafka_topic
    client = redis.Redis.from_url(db_url)
    producer = Producer({"bootstrap.servers": k.bootstrap})
    key = uuid.uuid4().hex.encode()
    for item in poison:
        producer.produce(k.topic, item, key)
    good = record("kafka")
    producer.produce(k.topic, good.json.encode(), key)
    assert producer.flush(10) == 0
    wait_for(lambda: fetch_results(client, [good.id]), 30, "the good record after the poison")

    # assign, not subscribe: a group join costs seconds on Tansu (see conftest)
    reader = Consumer(
        {"bootstrap.servers": k.bootstrap, "group.id": f"dlq-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False}
    )
    # The worker parks each poison record (and waits for the broker's ack) before it takes the
    # next: once the good record is processed, the dead-letter topic holds all it will hold for
    # this key. Read it to its end offsets: a record parked twice would be there.
    partitions = reader.list_topics(k.dlq_topic, timeout=10).topics[k.dlq_topic].partitions
    ends = {p: reader.get_watermark_offsets(TopicPartition(k.dlq_topic, p), timeout=10)[1] for p in partitions}
    reader.assign([TopicPartition(k.dlq_topic, p, OFFSET_BEGINNING) for p in partitions])
    mine: list = []
    read_to: dict[int, int] = {}
    deadline = time.monotonic() + 30
    while any(read_to.get(p, 0) < end for p, end in ends.items()) and time.monotonic() < deadline:
        msg = reader.poll(0.5)
        if msg is None or msg.error():
            continue
        read_to[msg.partition()] = msg.offset() + 1
        if msg.key() == key:
            mine.append(msg)
    reader.close()
    assert all(read_to.get(p, 0) >= end for p, end in ends.items()), f"read {read_to} of the ends {ends} in 30 s"
    assert [m.value() or b"" for m in mine] == poison, "each poison record parked once, in order"
    sources = [dict(m.headers())[KAFKA_DLQ_SOURCE_HEADER] for m in mine]
    assert len(set(sources)) == len(sources)
    assert all(dict(m.headers())[KAFKA_DLQ_REASON_HEADER] for m in mine)
    client.close()
