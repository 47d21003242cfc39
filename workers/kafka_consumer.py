"""The Kafka consumer-group worker, at-least-once and safe to scale.

* Offsets are committed (synchronously) only after a message was processed and its
  result written, so a consumer killed mid-message leaves that offset uncommitted and
  the partition's next owner processes it again: at-least-once, never at-most-once.
* Cooperative sticky assignment: when KEDA adds or removes a consumer, only the moving
  partitions pause; the others keep being consumed.
* SIGTERM (scale-down): stop fetching, finish the message in hand, commit it, leave the
  group (so the rebalance starts at once, not after the session timeout), exit 0.
* Poison (not JSON, not a user record): copied to the dead-letter topic with the reason
  and its origin in headers, counted, and its offset committed, so it never blocks the
  partition and never crash-loops the pod.
* ``KAFKA_STUCK_AT=PARTITION:OFFSET`` (off unless set) makes the consumer act as one whose
  handler keeps failing on that record: it pauses the partition there and never commits past
  it, so its lag stays while its committed offset stays put. That is the stuck partition of
  ``kedasuite scenario kafka-persistent-lag`` (``excludePersistentLag`` sees only partitions
  with a committed offset, so the records before it are processed and committed);
  whichever member owns the partition, it stays stuck.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from kedasuite.core import metrics
from kedasuite.core.errors import InputError
from kedasuite.core.clients import (
    check_kafka,
    ensure_topic,
    kafka_admin,
    kafka_client,
    kafka_config,
    kafka_error,
    redis_client,
)
from kedasuite.core.names import KAFKA_DLQ_REASON_HEADER, KAFKA_DLQ_SOURCE_HEADER, WORKLOAD_KAFKA, Env
from kedasuite.core.settings import KafkaSettings, KafkaWorkerSettings, LOG_FORMAT
from kedasuite.core.worktime import WorkTime
from kedasuite.workers.results import PoisonMessage, ResultStore, validate_record, worker_identity

log = logging.getLogger(__name__)

CONSUMER_BASE: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "partition.assignment.strategy": "cooperative-sticky",
}


def consumer_config(settings: KafkaSettings, work_time: WorkTime) -> dict[str, Any]:
    return kafka_config(
        "consumer",
        settings.bootstrap,
        {
            **CONSUMER_BASE,
            "group.id": settings.group,
            "auto.offset.reset": settings.offset_reset,
            # A message in hand must not make the broker think the consumer is dead.
            "max.poll.interval.ms": max(300_000, int(work_time.max_seconds * 1000 * 3)),
        },
        settings.extra,
    )


@dataclass
class Counters:
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    commit_refused: int = 0


def decode(msg: Message) -> dict[str, str]:
    """The user record in a message, or :class:`PoisonMessage` saying why not."""
    raw = msg.value()
    if raw is None:
        raise PoisonMessage("empty message (no value)")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON; nesting too deep for the parser
        raise PoisonMessage(f"value is not JSON: {exc}") from None
    return validate_record(data)


class KafkaWorker:
    def __init__(self, settings: KafkaSettings, work_time: WorkTime, redis_url: str | None,
                 stuck_at: tuple[int, int] | None = None) -> None:
        self.settings = settings
        self.stuck_at = stuck_at
        self.work_time = work_time
        self.counters = Counters()
        self.identity = worker_identity()
        self._stop = threading.Event()
        self._results = ResultStore(redis_client(redis_url), WORKLOAD_KAFKA) if redis_url else None
        admin = kafka_admin(settings.bootstrap, settings.extra)
        check_kafka(admin, settings.bootstrap)
        ensure_topic(admin, settings.topic, settings.partitions, settings.replication)
        ensure_topic(admin, settings.dlq_topic, 1, settings.replication)
        self._dlq = kafka_client(Producer, kafka_config("producer", settings.bootstrap, {"enable.idempotence": True},
                                                        settings.extra))
        self._consumer = kafka_client(Consumer, consumer_config(settings, work_time))

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if not self._stop.is_set():
            log.info("stopping: finishing the message in hand, then leaving the group")
        self._stop.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Every processed message is already committed; nothing to flush here.
        log.info("revoked %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")

    def run(self, max_messages: int | None = None) -> Counters:
        consumer = self._consumer
        consumer.subscribe([self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log.info("consuming %s as group %s (%s)", self.settings.topic, self.settings.group, self.identity)
        handled = 0
        try:
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", msg.error())
                    continue
                if self.stuck_at is not None and msg.partition() == self.stuck_at[0] \
                        and msg.offset() >= self.stuck_at[1]:
                    # Never processed, never committed; paused so it is not fetched again. The
                    # pause ends with the assignment: a new owner gets here and stops the same way.
                    consumer.pause([TopicPartition(msg.topic(), msg.partition())])
                    log.warning("partition %d is stuck at offset %d (%s): not processing it, not committing",
                                msg.partition(), msg.offset(), Env.KAFKA_STUCK_AT)
                    continue
                self.handle(msg)
                self._commit(msg)
                handled += 1
                if max_messages is not None and handled >= max_messages:
                    break
        finally:
            consumer.close()  # leaves the group: the others rebalance at once
            self._dlq.flush(10)
            log.info("stopped: processed %d, duplicates %d, dead-lettered %d, commits refused %d",
                     self.counters.processed, self.counters.duplicates, self.counters.dead_lettered,
                     self.counters.commit_refused)
        return self.counters

    def _commit(self, msg: Message) -> None:
        """Commit past ``msg``; a commit the group refuses is survived, not fatal.

        After a rebalance this member's generation is stale (ILLEGAL_GENERATION,
        UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) and the partition may already be someone
        else's: the new owner starts from the last committed offset and processes ``msg``
        again, which the result store records as a duplicate. Dying here would only turn
        one duplicate into a restart. Only librdkafka's fatal errors end the worker.
        """
        try:
            self._consumer.commit(message=msg, asynchronous=False)
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is None or error.fatal():
                raise
            self.counters.commit_refused += 1
            log.warning("commit of %s[%d] offset %d refused (%s): its next owner processes it again",
                        msg.topic(), msg.partition(), msg.offset(), error.str())

    def handle(self, msg: Message) -> None:
        with metrics.working(WORKLOAD_KAFKA):
            self._handle(msg)

    def _handle(self, msg: Message) -> None:
        try:
            record = decode(msg)
        except PoisonMessage as exc:
            self.dead_letter(msg, str(exc))
            return
        seconds = self.work_time.sample()
        log.info("processing %s for %.2f s as %s (partition %d, offset %d)",
                 record["id"], seconds, self.identity, msg.partition(), msg.offset())
        _sleep(seconds)
        if self._results is None:
            metrics.count_processed(WORKLOAD_KAFKA)  # with Redis, ResultStore.save counts it
            self.counters.processed += 1
        elif self._results.save(record, self.identity):
            self.counters.processed += 1
        else:
            self.counters.duplicates += 1

    def dead_letter(self, msg: Message, reason: str) -> None:
        """Park the message on the DLQ topic; returns once the broker has it."""
        source = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
        headers: Mapping[str, bytes] = {
            KAFKA_DLQ_REASON_HEADER: reason.encode(),
            KAFKA_DLQ_SOURCE_HEADER: source.encode(),
        }
        self._dlq.produce(self.settings.dlq_topic, msg.value(), msg.key(), headers=list(headers.items()))
        if self._dlq.flush(30):
            raise RuntimeError(f"could not park poison message {source} on {self.settings.dlq_topic}")
        self.counters.dead_lettered += 1
        metrics.count_dead_lettered(WORKLOAD_KAFKA)
        log.warning("dead-lettered %s to %s: %s", source, self.settings.dlq_topic, reason)


def parse_stuck_at(text: str | None) -> tuple[int, int] | None:
    """``PARTITION:OFFSET`` (``KAFKA_STUCK_AT``) as numbers; empty or None: off."""
    if not text or not text.strip():
        return None
    partition, _, offset = text.strip().partition(":")
    try:
        found = int(partition), int(offset or 0)
    except ValueError:
        found = (-1, -1)
    if min(found) < 0:
        raise InputError(f"{Env.KAFKA_STUCK_AT}={text!r}: expected PARTITION:OFFSET, two integers >= 0 (e.g. 0:3)")
    return found


def redelivery_bound(session_timeout_ms: int) -> float:
    """Longest a SIGKILLed consumer's uncommitted records take to be read again.

    Its partitions move when its session times out; the group then rebalances (about half
    a session on the embedded broker, a few seconds on Apache Kafka) and the new owner
    starts from the last committed offset.
    """
    return 2 * session_timeout_ms / 1000 + 5


def _sleep(seconds: float) -> None:
    """The simulated work. Not interrupted by SIGTERM: the message in hand is finished."""
    threading.Event().wait(seconds)


def run(settings: KafkaWorkerSettings) -> Counters:
    """Run one consumer of the group until SIGTERM (or ``max_messages``); commits after processing."""
    from kedasuite.core.worktime import parse_work_time

    logging.basicConfig(level=settings.loglevel.upper(), format=LOG_FORMAT)
    metrics.serve_worker_metrics(settings.metrics_port)
    assert settings.kafka is not None, "KafkaWorkerSettings.kafka is required"
    consumer = KafkaWorker(settings.kafka, parse_work_time(settings.work_time), settings.redis_url,
                           settings.stuck_at)
    consumer.install_signal_handlers()
    return consumer.run(settings.max_messages)
