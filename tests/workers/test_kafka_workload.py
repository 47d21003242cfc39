"""The Kafka workload against a real Kafka-protocol broker and real consumer processes."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import signal
import time
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kedasuite.core.clients import ensure_topic, kafka_admin
from kedasuite.core.names import KAFKA_DLQ_REASON_HEADER, KAFKA_DLQ_SOURCE_HEADER, Env
from kedasuite.core.results import assignments_key, fetch_results, record_key
from kedasuite.core.settings import KafkaSettings
from kedasuite.keda.reads import fetch_offsets
from kedasuite.keda.rules.kafka import KafkaTrigger, keda_lag
from kedasuite.workers.kafka_consumer import COMMIT_INTERVAL_S
from tests.support import KAFKA_FAILOVER_ENV, Proc, all_processed, missing_and_workers, refused_port, run_cli, wait_for
from tests.support import pump as pump_records

pytestmark = pytest.mark.integration


def kafka_args(k: KafkaSettings) -> list[str]:
    return ["--bootstrap-servers", k.bootstrap, "--topic", k.topic]


def pump(k: KafkaSettings, count: int, prefix: str) -> list[str]:
    """The pump's producer as it ships (on Tansu, the ``kafka`` fixture's settings add one record per batch)."""
    return pump_records("kafka", count, prefix, kafka=k)


def start_consumer(
    spawn: Callable[..., Proc],
    k: KafkaSettings,
    redis_url: str,
    work_time: str = "0.01",
    *extra: str,
    env: dict[str, str] | None = None,
) -> Proc:
    consumer = spawn(
        "worker",
        "kafka",
        *kafka_args(k),
        "--group",
        k.group,
        "--work-time",
        work_time,
        "--redis-url",
        redis_url,
        *extra,
        env=env,
    )
    consumer.wait_for_log(rf"assigned {k.topic}\[", timeout=60)
    return consumer


def kill_repeats(work: float) -> int:
    """The most records a SIGKILLed consumer can leave done but not committed, to be processed
    again by its successor: those of two commit intervals (one, and the answer's delay on a busy
    machine) at ``work`` seconds each, and one more."""
    return int(2 * COMMIT_INTERVAL_S / work) + 2


def lag(k: KafkaSettings, policy: str = "earliest") -> int:
    return keda_lag(fetch_offsets(k.bootstrap, k.group, k.topic), KafkaTrigger(offset_reset_policy=policy)).total


def test_two_consumers_share_the_partitions_and_process_each_record_once(spawn, kafka, redis_url, redis_client) -> None:
    # Both join at once: one rebalance, not a second member's join and the cooperative
    # hand-over that follows (each round takes seconds on the embedded broker).
    consumers = [
        spawn(
            "worker",
            "kafka",
            *kafka_args(kafka),
            "--group",
            kafka.group,
            "--work-time",
            "0.01",
            "--redis-url",
            redis_url,
        )
        for _ in range(2)
    ]
    wait_for(
        lambda: all(re.search(rf"assigned {kafka.topic}\[", c.log()) for c in consumers),
        60,
        "both consumers assigned partitions",
    )
    ids = pump(kafka, 500, "pair")

    results = wait_for(all_processed(redis_client, ids), 90, "500 records processed")

    assert all(r.deliveries == 1 for r in results.values()), "a record was processed twice"
    per_worker = collections.Counter(r.worker for r in results.values())
    assert len(per_worker) == 2, f"both consumers should take partitions: {per_worker}"
    wait_for(lambda: lag(kafka) == 0, 30, "the group's lag to reach 0")


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_a_sigkilled_consumers_uncommitted_records_are_processed_by_the_other(
    spawn, kafka, redis_url, redis_client
) -> None:
    victim = start_consumer(spawn, kafka, redis_url, "0.02")
    survivor = start_consumer(spawn, kafka, redis_url, "0.02")
    ids = pump(kafka, 500, "kill")
    wait_for(lambda: "processing kill-" in victim.log(), 60, "the victim to be working")

    victim.signal(signal.SIGKILL)
    victim.wait(10)

    results = wait_for(all_processed(redis_client, ids), 120, "all 500 records, the victim's included")
    duplicates = sum(r.deliveries - 1 for r in results.values())
    assert duplicates <= kill_repeats(0.02), f"{duplicates} duplicates: more than the victim did since its last commit"
    assert survivor.popen.poll() is None


def committed_offset(reader: Consumer, topic: str) -> int:
    """The group's committed offset of ``topic``'s partition 0 (0 when none): one OffsetFetch."""
    [found] = reader.committed([TopicPartition(topic, 0)], timeout=10)
    assert found.error is None, found.error
    return max(found.offset, 0)


def group_reader(k: KafkaSettings) -> Consumer:
    """A consumer of the group's committed offsets that never subscribes, so never joins the group."""
    return Consumer({"bootstrap.servers": k.bootstrap, "group.id": k.group, "enable.auto.commit": False})


def test_offsets_are_committed_after_the_work_in_batches_not_one_per_record(
    spawn, kafka, redis_url, redis_client
) -> None:
    """One partition, so offset i is the i-th record pumped. Read every few milliseconds while a
    consumer works (5 ms a record), the committed offset is never past a record whose result is
    not saved yet; it moves in steps of many records (a commit per record would show about one
    value per record); and it reaches the end while the consumer still runs: the timer committed it."""
    ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, 1, 1)
    count = 300
    ids = pump(kafka, count, "batch")
    consumer = start_consumer(spawn, kafka, redis_url, "0.005")
    reader = group_reader(kafka)
    seen: list[int] = []
    checked = 0  # ids[:checked] were saved when last looked at: results are never removed

    def sample() -> bool:
        nonlocal checked
        committed = committed_offset(reader, kafka.topic)  # first the offset, then the results
        if committed > checked:
            saved = redis_client.exists(*(record_key(i) for i in ids[checked:committed]))
            assert saved == committed - checked, (
                f"offset {committed} committed with only {checked + saved} of the first {committed} records saved"
            )
            checked = committed
        if not seen or seen[-1] != committed:
            seen.append(committed)
        return committed == count

    try:
        wait_for(
            sample,
            60,
            f"the group's committed offset to reach {count}",
            interval=0.005,
            longest_interval=0.005,
            seen=lambda: f"committed offsets seen {seen}\n{consumer.describe()}",
        )
    finally:
        reader.close()
    assert consumer.popen.poll() is None, "the commit of the last records came from the timer, the consumer still runs"
    assert 3 <= len(seen) <= count // 5, f"committed offsets seen, in order: {seen}"
    assert [(p.high_watermark, p.committed) for p in fetch_offsets(kafka.bootstrap, kafka.group, kafka.topic)] == [
        (count, count)
    ]
    results = all_processed(redis_client, ids)()
    assert results and all(r.deliveries == 1 for r in results.values()), results
    consumer.signal(signal.SIGTERM)
    assert consumer.wait(30) == 0, consumer.describe(dump=False)


def test_partitions_taken_by_a_new_consumer_are_committed_before_they_move(
    spawn, kafka, redis_url, redis_client
) -> None:
    """A consumer joining mid-run takes partitions from one that is working on them. The records
    done on those are committed when they are revoked, before they move (while the group
    rebalances no timed commit is confirmed), so the newcomer starts after them and processes
    none of them again. Small batches and fetches make the first consumer work on every
    partition at once, and quick records (2 ms) leave several done and not yet committed on
    each, so whichever partitions move have some."""
    interleaved = {"KAFKA_CONSUMER_CONFIG_MAX_PARTITION_FETCH_BYTES": "1024"}
    count = 6000
    first = start_consumer(spawn, kafka, redis_url, "0.002", env=interleaved)
    # Batches of four, unless the broker's settings set them (Tansu: one record each, kedasuite/core/tansu.py).
    batches = (
        {} if os.environ.get(f"{Env.KAFKA_PRODUCER_CONFIG_PREFIX}BATCH_NUM_MESSAGES") else {"batch.num.messages": "4"}
    )
    ids = pump(dataclasses.replace(kafka, extra={**kafka.extra, **batches}), count, "moved")
    wait_for(
        lambda: len(fetch_results(redis_client, ids)) >= 500,
        60,
        "the first consumer to do 500 records",
        seen=first.describe,
    )
    second = start_consumer(spawn, kafka, redis_url, "0.002", env=interleaved)
    results = wait_for(
        all_processed(redis_client, ids),
        120,
        f"all {count} records",
        seen=missing_and_workers(redis_client, "kafka", ids, [first, second], kafka),
    )
    assert re.search(rf"revoked {kafka.topic}\[", first.log()), first.describe(dump=False)
    per_worker = collections.Counter(r.worker for r in results.values())
    assert len(per_worker) == 2, f"the newcomer was to take partitions while records were left: {per_worker}"
    repeated = sorted(i for i, r in results.items() if r.deliveries > 1)
    assert not repeated, f"{len(repeated)} records processed twice after the hand-over: {repeated[:10]}"


@pytest.mark.faults  # a worker killed mid-run: the faults tier
def test_a_sigkilled_consumer_loses_nothing_and_its_successor_repeats_only_what_was_not_committed(
    spawn, kafka, redis_url, redis_client
) -> None:
    """Killed between two timed commits, a consumer leaves records done but not committed. Its
    successor starts at the committed offset: every record is processed, and the duplicates are
    exactly the records saved past that offset (never one before it: the commit is never ahead)."""
    ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, 1, 1)
    count, work = 300, 0.02
    ids = pump(kafka, count, "killed")
    victim = start_consumer(spawn, kafka, redis_url, str(work), env=KAFKA_FAILOVER_ENV)
    reader = group_reader(kafka)
    try:
        wait_for(
            lambda: committed_offset(reader, kafka.topic) >= 50,
            60,
            "the victim to commit 50 records",
            seen=victim.describe,
        )
    finally:
        reader.close()
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    saved = len(fetch_results(redis_client, ids))
    assert saved < count, "the victim was to be killed mid-run"

    successor = start_consumer(spawn, kafka, redis_url, str(work), env=KAFKA_FAILOVER_ENV)
    results = wait_for(
        all_processed(redis_client, ids),
        120,
        f"all {count} records, the victim's included",
        seen=missing_and_workers(redis_client, "kafka", ids, [successor], kafka),
    )
    start = int(re.search(r"processing \S+ .*\(partition 0, offset (\d+)\)", successor.log()).group(1))
    duplicates = sum(r.deliveries - 1 for r in results.values())
    assert start <= saved, f"offset {start} was committed with only {saved} records saved"
    assert duplicates == saved - start, f"{duplicates} duplicates; {saved} saved by the victim, successor from {start}"
    assert saved - start <= kill_repeats(work), f"{saved - start} records done and not committed"
    wait_for(lambda: lag(kafka) == 0, 30, "the group's lag to reach 0")


@pytest.mark.faults  # a worker stopped or evicted mid-run: the faults tier
def test_sigterm_leaves_the_group_in_time_and_loses_nothing(spawn, kafka, redis_url, redis_client) -> None:
    leaving = start_consumer(spawn, kafka, redis_url, "0.02")
    start_consumer(spawn, kafka, redis_url, "0.02")
    ids = pump(kafka, 500, "term")
    wait_for(lambda: "processing term-" in leaving.log(), 60, "the leaving consumer to be working")

    started = time.monotonic()
    leaving.signal(signal.SIGTERM)
    assert leaving.wait(30) == 0, leaving.log()[-2000:]
    assert time.monotonic() - started < 30
    assert "stopped: processed" in leaving.log()

    results = wait_for(all_processed(redis_client, ids), 120, "all 500 records")
    assert all(r.deliveries == 1 for r in results.values()), "a graceful leave must not cause duplicates"
    # Each member logged its partitions as they changed: the leaver gave its up, and stopped.
    log = [{k.decode(): v.decode() for k, v in f.items()} for _, f in redis_client.xrange(assignments_key(kafka.group))]
    mine = [(e["event"], e["partitions"]) for e in log if e["member"].endswith(f":{leaving.pid}")]
    assert mine[0][0] == "assigned" and mine[-1] == ("stopped", ""), log
    assert any(event == "revoked" and parts for event, parts in mine), log
    assert len({e["member"] for e in log}) == 2, log


@pytest.mark.faults  # a worker stopped or evicted mid-run: the faults tier
def test_a_commit_refused_after_the_group_moved_on_is_survived(spawn, kafka, redis_url, redis_client) -> None:
    """A member that held a record past max.poll.interval.ms is dropped from the group, and
    its commit is refused (Unknown member). The worker must not die of it: it rejoins, the
    record is processed again (a duplicate the result store records), and it exits 0."""
    ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, 1, 1)
    ids = pump(kafka, 1, "stale")
    worker = spawn(
        "worker",
        "kafka",
        *kafka_args(kafka),
        "--group",
        kafka.group,
        "--work-time",
        "9",
        "--redis-url",
        redis_url,
        "--max-messages",
        "2",
        env={**KAFKA_FAILOVER_ENV, "KAFKA_CONSUMER_CONFIG_MAX_POLL_INTERVAL_MS": "6000"},
    )
    assert worker.wait(90) == 0, worker.log()[-3000:]
    assert f"commit of {kafka.topic}[0] offset 0 refused (Commit failed: Broker: Unknown member)" in worker.log()
    assert "commits refused 2" in worker.log(), worker.log()[-2000:]
    results = all_processed(redis_client, ids)()
    assert results and results[ids[0]].deliveries == 2, results


def test_poison_goes_to_the_dead_letter_topic_and_the_next_record_is_processed(
    spawn, kafka, redis_url, redis_client
) -> None:
    admin = kafka_admin(kafka.bootstrap)
    ensure_topic(admin, kafka.topic, 1, 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    producer.produce(kafka.topic, b"\xff not json", b"bad-1")
    producer.produce(kafka.topic, json.dumps({"id": "bad-2", "name": "No Email"}), b"bad-2")
    assert producer.flush(10) == 0
    ids = pump(kafka, 1, "after")
    start_consumer(spawn, kafka, redis_url)

    wait_for(all_processed(redis_client, ids), 60, "the good record after the poison ones")
    reader = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"{kafka.group}-dlq-reader",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    reader.subscribe([kafka.dlq_topic])
    parked = []
    deadline = time.monotonic() + 60
    while len(parked) < 2 and time.monotonic() < deadline:
        msg = reader.poll(0.5)
        if msg is not None and not msg.error():
            parked.append(msg)
    reader.close()
    assert [m.key() for m in parked] == [b"bad-1", b"bad-2"]
    reasons = [dict(m.headers())[KAFKA_DLQ_REASON_HEADER].decode() for m in parked]
    assert reasons[0].startswith("value is not JSON: ")
    assert reasons[1] == "record lacks string field(s): email, address"
    assert dict(parked[0].headers())[KAFKA_DLQ_SOURCE_HEADER] == f"{kafka.topic}/0/0".encode()
    assert parked[0].value() == b"\xff not json"


def count_unconsumed(k: KafkaSettings) -> int:
    """Read every record after the group's committed offsets: what lag should count."""
    offsets = fetch_offsets(k.bootstrap, k.group, k.topic)
    reader = Consumer({"bootstrap.servers": k.bootstrap, "group.id": f"{k.group}-counter", "enable.auto.commit": False})
    reader.assign(
        [TopicPartition(k.topic, p.partition, p.committed if p.committed is not None else 0) for p in offsets]
    )
    expected_ends = {p.partition: p.high_watermark for p in offsets}
    positions = {p.partition: (p.committed or 0) for p in offsets}
    count = 0
    deadline = time.monotonic() + 30
    while any(positions[p] < expected_ends[p] for p in positions) and time.monotonic() < deadline:
        msg = reader.poll(0.5)
        if msg is not None and not msg.error():
            count += 1
            positions[msg.partition()] = msg.offset() + 1
    reader.close()
    return count


def test_lag_agrees_with_the_broker_before_and_after_commits(spawn, kafka, redis_url) -> None:
    pump(kafka, 7, "lag")

    offsets = fetch_offsets(kafka.bootstrap, kafka.group, kafka.topic)
    assert [p.committed for p in offsets] == [None] * 5
    assert sum(p.high_watermark for p in offsets) == 7
    assert lag(kafka, "earliest") == 7 == count_unconsumed(kafka)
    assert lag(kafka, "latest") == 5, "no commit under 'latest' counts 1 per partition"

    consumer = spawn(
        "worker",
        "kafka",
        *kafka_args(kafka),
        "--group",
        kafka.group,
        "--work-time",
        "0",
        "--redis-url",
        redis_url,
        "--max-messages",
        "3",
    )
    assert consumer.wait(60) == 0, consumer.log()[-2000:]

    report = keda_lag(
        fetch_offsets(kafka.bootstrap, kafka.group, kafka.topic), KafkaTrigger(offset_reset_policy="earliest")
    )
    assert report.total == 4 == count_unconsumed(kafka)
    assert report.metric == 4 and report.active

    shown = run_cli(
        "kafka-lag",
        *kafka_args(kafka),
        "--group",
        kafka.group,
        "--lag-threshold",
        "5",
        "--offset-reset-policy",
        "earliest",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == (
        "total lag 4; KEDA metric 4 (lagThreshold 5, offsetResetPolicy earliest, 5 partitions); active"
    )


def test_pump_to_an_unreachable_kafka_exits_2_and_names_the_fix() -> None:
    bootstrap = f"127.0.0.1:{refused_port()}"
    done = run_cli("pump", "kafka", "--count", "5", "--workloads", "kafka", "--bootstrap-servers", bootstrap)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: cannot reach Kafka at {bootstrap} (")
    assert done.stderr.endswith("Start a broker there, or point KAFKA_BOOTSTRAP_SERVERS at a reachable one\n")


def test_a_consumer_with_no_broker_exits_2_and_names_the_fix() -> None:
    bootstrap = f"127.0.0.1:{refused_port()}"
    done = run_cli("worker", "kafka", "--bootstrap-servers", bootstrap, "--work-time", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: cannot reach Kafka at {bootstrap} (Failed to get metadata: Local: Broker transport failure). "
        "Start a broker there, or point KAFKA_BOOTSTRAP_SERVERS at a reachable one"
    )


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_a_kafka_broker_lost_mid_run_is_reported_exactly() -> None:
    """sent counts acknowledged records only; everything else is failed, with the reason."""
    from kedasuite.core.embedded import EmbeddedKafka
    from kedasuite.core.settings import PumpSettings
    from kedasuite.producers.http_pump import create_app
    from kedasuite.producers.workloads import BrokerConfig

    with EmbeddedKafka() as broker:
        # A small producer queue keeps the pump at the broker's pace, so the crash lands mid-run.
        kafka = KafkaSettings(
            bootstrap=broker.bootstrap, extra={"message.timeout.ms": "3000", "queue.buffering.max.messages": "2000"}
        )
        settings = PumpSettings(
            brokers=BrokerConfig(redis_url=None, kafka=kafka), workloads=["kafka"], default_workload="kafka"
        )
        client = create_app(settings).test_client()
        response = client.get("/pump?count=1000000")
        assert response.status_code == 202
        status_url = response.get_json()["status_url"]
        wait_for(lambda: client.get(status_url).get_json()["sent"] >= 20_000, 60, "some records acknowledged")
        broker.crash()
    final = wait_for(lambda: (b := client.get(status_url).get_json())["done"] and b, 90, "the run to give up")
    assert final["state"] == "failed"
    assert final["sent"] + final["failed"] == 1_000_000
    assert 20_000 <= final["sent"] < 1_000_000
    assert final["workloads"]["kafka"]["error"].startswith(f"Kafka at {broker.bootstrap} did not take ")


@pytest.mark.faults  # a broker that stops answering mid-run: the faults tier
def test_a_consumer_stops_in_time_when_the_broker_stops_answering(spawn, redis_url, redis_client) -> None:
    """A broker that goes silent without closing its connections (frozen, partitioned away):
    librdkafka's synchronous commit then waits for ever (the session times out and the
    revocation waits for a poll the commit itself holds up), and close() waits for that
    commit. A SIGTERMed consumer must still finish and save the record in hand, give the
    commit up after STOP_COMMIT_WAIT_S and exit 0, well within a pod's grace period."""
    from kedasuite.core import tansu
    from kedasuite.core.embedded import EmbeddedKafka
    from kedasuite.workers.kafka_consumer import CLOSE_WAIT_S, STOP_COMMIT_WAIT_S

    work = 2.0
    with EmbeddedKafka() as broker:
        k = KafkaSettings(bootstrap=broker.bootstrap, topic="silent", group="silent-group")
        consumer = spawn(
            "worker",
            "kafka",
            *kafka_args(k),
            "--group",
            k.group,
            "--work-time",
            str(work),
            "--redis-url",
            redis_url,
            env=dict(tansu.CLIENT_ENV),
        )
        consumer.wait_for_log(rf"assigned {k.topic}\[", timeout=60)
        ids = pump(k, 1, "silent")
        consumer.wait_for_log("processing silent-1", timeout=60)
        broker.freeze()
        try:
            consumer.signal(signal.SIGTERM)
            # The work left, the stop's wait for the commit, a close (skipped here), and room to spare.
            assert (
                consumer.wait(
                    work + STOP_COMMIT_WAIT_S + CLOSE_WAIT_S + 15,
                    "a SIGTERMed consumer whose broker went silent to stop",
                )
                == 0
            ), consumer.describe()
        finally:
            broker.thaw()
    assert all_processed(redis_client, ids)(), "the record in hand must be finished and saved"
    assert f"the commit of {k.topic}[" in consumer.log() and "leaving without it" in consumer.log(), consumer.describe(
        dump=False
    )


@pytest.mark.faults  # Redis lost mid-run: the faults tier
def test_a_consumer_waiting_for_a_lost_redis_stops_at_once_on_sigterm(spawn, kafka) -> None:
    """The result save waits for a lost Redis up to REDIS_RETRY_SECONDS (60 s here), longer than a
    pod's grace period. A SIGTERM ends that wait: the record is neither saved nor committed (its
    partition's next owner processes it), and the consumer leaves the group and exits 0."""
    from kedasuite.core.defaults import CONNECT_TIMEOUT_S
    from kedasuite.core.embedded import EmbeddedRedis
    from kedasuite.workers.kafka_consumer import CLOSE_WAIT_S

    with EmbeddedRedis(databases=1) as server:
        consumer = start_consumer(spawn, kafka, server.url, "0.1")
        server.crash()
        pump(kafka, 1, "lost")
        consumer.wait_for_log(r"Redis at \S+ is unreachable", timeout=60)
        consumer.signal(signal.SIGTERM)
        assert (
            consumer.wait(
                2 * CONNECT_TIMEOUT_S + CLOSE_WAIT_S + 10, "a SIGTERMed consumer waiting for a lost Redis to stop"
            )
            == 0
        ), consumer.describe()
    assert "stopping as asked with Redis unreachable" in consumer.log(), consumer.describe(dump=False)
    assert "is neither saved nor committed" in consumer.log()


def test_a_partition_revoked_while_paused_is_consumed_when_it_comes_back(kafka, redis_url) -> None:
    """librdkafka keeps a partition's pause across its revocation and a later reassignment. The
    consumer pauses its partitions while its commits go unconfirmed (a rebalance), so under
    cooperative-sticky a partition revoked then would come back paused and its lag never drain
    (a kafka-rebalance run in a soak: 4 records left on one consumer for 260 s). The worker's own
    rebalance callbacks, on a real group: the partition that comes back is consumed."""
    from kedasuite.core.worktime import parse_work_time
    from kedasuite.workers.kafka_consumer import HEARTBEAT_INTERVAL_MS, KafkaWorker

    settings = dataclasses.replace(kafka, partitions=2)
    worker = KafkaWorker(settings, parse_work_time("0"), redis_url)
    consumer = worker._consumer
    other = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": kafka.group,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.auto.commit": False,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        }
    )
    try:
        consumer.subscribe(
            [kafka.topic], on_assign=worker._on_assign, on_revoke=worker._on_revoke, on_lost=worker._on_lost
        )

        def owned() -> set[int]:
            consumer.poll(0.1)
            return {p.partition for p in consumer.assignment()}

        wait_for(lambda: owned() == {0, 1}, 60, "the worker's consumer to own both partitions")
        consumer.pause(consumer.assignment())  # as the worker's hold does
        other.subscribe([kafka.topic])

        def moved() -> bool:
            other.poll(0.1)
            return len(owned()) == 1 and len(other.assignment()) == 1

        wait_for(moved, 60, "a partition to move to the second member")
        consumer.resume(consumer.assignment())  # the hold ends for what the worker still owns
        other.close()
        wait_for(lambda: owned() == {0, 1}, 60, "the partition to come back when the second member leaves")

        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        for partition in (0, 1):
            for _ in range(3):
                producer.produce(kafka.topic, value=b"{}", partition=partition)
        producer.flush(10)
        seen: collections.Counter[int] = collections.Counter()

        def both_consumed() -> bool:
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                seen[msg.partition()] += 1
            return seen[0] >= 3 and seen[1] >= 3

        wait_for(
            both_consumed,
            60,
            "three records from each partition",
            seen=lambda: f"consumed per partition: {dict(seen)}; assigned {sorted(owned())}",
        )
    finally:
        consumer.close()
