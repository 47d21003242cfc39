"""The Kafka consumer-group worker, at-least-once and safe to scale.

* Offsets are committed (synchronously) only after a message was processed and its
  result written, so a consumer killed mid-message leaves that offset uncommitted and
  the partition's next owner processes it again: at-least-once, never at-most-once.
* Cooperative sticky assignment: when KEDA adds or removes a consumer, only the moving
  partitions pause; the others keep being consumed.
* SIGTERM (scale-down): stop fetching, finish the message in hand, commit it, leave the
  group (so the rebalance starts at once, not after the session timeout), exit 0. Each wait
  on the broker is bounded (see :class:`_Call`): a broker that stops answering cannot hold
  the stop past the pod's grace period.
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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

import redis
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from kedasuite.core import metrics
from kedasuite.core.errors import BrokerUnavailable, InputError
from kedasuite.core.clients import (
    check_kafka,
    ensure_topic,
    kafka_admin,
    kafka_client,
    kafka_config,
    kafka_error,
    redis_client,
    stop_retrying,
)
from kedasuite.core.stopping import StopFlag
from kedasuite.core.names import KAFKA_DLQ_REASON_HEADER, KAFKA_DLQ_SOURCE_HEADER, WORKLOAD_KAFKA, Env
from kedasuite.core.settings import KafkaSettings, KafkaWorkerSettings, LOG_FORMAT
from kedasuite.core.worktime import WorkTime
from kedasuite.workers.results import PoisonMessage, ResultStore, validate_record, worker_identity

log = logging.getLogger(__name__)

#: A stopping consumer waits this long for the answer to its last commit; without one it
#: leaves, and the partition's next owner processes that record again (a counted duplicate).
STOP_COMMIT_WAIT_S = 5.0
#: Longest ``close()`` (leaving the group) may take before the process exits without it; the
#: group then notices the member gone after ``session.timeout.ms``, as after a kill.
CLOSE_WAIT_S = 10.0
#: librdkafka's ``session.timeout.ms`` when the configuration sets none.
DEFAULT_SESSION_TIMEOUT_MS = 45_000
#: A running consumer waits for a commit's answer for its session timeout plus this: by then
#: librdkafka has given the member up, and the answer can no longer be a success.
COMMIT_MARGIN_S = 10.0

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


class _Call:
    """A librdkafka call on a daemon thread, so that its caller can stop waiting for it.

    A synchronous commit waits for the group coordinator with no deadline of its own: when
    the broker stops answering without closing the connection (frozen, partitioned away), the
    session times out, librdkafka hands the revocation to the application's next poll, and the
    commit, which holds the only thread that polls, waits for ever. ``close()`` in turn waits
    for any commit still pending. A thread left waiting dies with the process.
    """

    def __init__(self, name: str, call: Callable[[], object]) -> None:
        self.error: BaseException | None = None
        self._call = call
        self._done = threading.Event()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self.error = exc
        finally:
            self._done.set()

    def wait(self, seconds: float) -> bool:
        """True once the call returned (or raised), False if it is still running after ``seconds``."""
        return self._done.wait(seconds)


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
        self._stop = StopFlag()  # set by the signal handler (see kedasuite.core.stopping)
        #: When the stop was asked for (monotonic); bounds the waits that follow.
        self._stop_at: float | None = None
        #: A call still running on the consumer (a commit nobody answered): it must not be closed under it.
        self._pending: _Call | None = None
        self._results = ResultStore(redis_client(redis_url), WORKLOAD_KAFKA) if redis_url else None
        admin = kafka_admin(settings.bootstrap, settings.extra)
        check_kafka(admin, settings.bootstrap)
        ensure_topic(admin, settings.topic, settings.partitions, settings.replication)
        ensure_topic(admin, settings.dlq_topic, 1, settings.replication)
        self._dlq = kafka_client(Producer, kafka_config("producer", settings.bootstrap, {"enable.idempotence": True},
                                                        settings.extra))
        config = consumer_config(settings, work_time)
        session_s = int(config.get("session.timeout.ms", DEFAULT_SESSION_TIMEOUT_MS)) / 1000
        self._commit_patience = session_s + COMMIT_MARGIN_S
        self._consumer = kafka_client(Consumer, config)

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if not self._stop.is_set():
            self._stop_at = time.monotonic()
            log.info("stopping: finishing the message in hand, then leaving the group")
        self._stop.set()
        stop_retrying()  # a result save waiting for a lost Redis gives up: the record is not committed

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
                try:
                    self.handle(msg)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    if not self._stop.is_set():
                        raise
                    log.warning("stopping as asked with Redis unreachable (%s): %s[%d] offset %d is neither saved "
                                "nor committed; its next owner processes it again", exc, msg.topic(),
                                msg.partition(), msg.offset())
                    break
                if not self._commit(msg):
                    break
                handled += 1
                if max_messages is not None and handled >= max_messages:
                    break
        finally:
            self._close()  # leaves the group: the others rebalance at once
            self._dlq.flush(10)
            log.info("stopped: processed %d, duplicates %d, dead-lettered %d, commits refused %d",
                     self.counters.processed, self.counters.duplicates, self.counters.dead_lettered,
                     self.counters.commit_refused)
        return self.counters

    def _commit(self, msg: Message) -> bool:
        """Commit past ``msg``; a commit the group refuses is survived, not fatal. False when a
        stopping consumer gave up waiting for the answer (it leaves without it).

        After a rebalance this member's generation is stale (ILLEGAL_GENERATION,
        UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) and the partition may already be someone
        else's: the new owner starts from the last committed offset and processes ``msg``
        again, which the result store records as a duplicate. Dying here would only turn
        one duplicate into a restart. Only librdkafka's fatal errors end the worker.

        The commit is synchronous, but waited for on a thread of its own (:class:`_Call`): a
        running consumer waits ``session.timeout.ms`` plus :data:`COMMIT_MARGIN_S`, then exits
        with the error; a stopping one at most :data:`STOP_COMMIT_WAIT_S` past the stop.
        """
        where = f"{msg.topic()}[{msg.partition()}] offset {msg.offset()}"
        call = _Call("kafka-commit", lambda: self._consumer.commit(message=msg, asynchronous=False))
        if not self._wait(call, self._commit_patience):
            self._pending = call
            if self._stop.is_set():
                log.warning("the commit of %s was not answered within the %g s a stopping consumer waits (Kafka at "
                            "%s is not answering): leaving without it; its next owner may process it again", where,
                            STOP_COMMIT_WAIT_S, self.settings.bootstrap)
                return False
            raise BrokerUnavailable(
                f"Kafka at {self.settings.bootstrap} did not answer the commit of {where} within "
                f"{self._commit_patience:g} s (session.timeout.ms + {COMMIT_MARGIN_S:g} s); the worker exits "
                "so that a fresh one takes over, and the partition's next owner processes that record again")
        if call.error is None:
            return True
        if not isinstance(call.error, KafkaException):
            raise call.error
        error = kafka_error(call.error)
        if error is None or error.fatal():
            raise call.error
        self.counters.commit_refused += 1
        log.warning("commit of %s refused (%s): its next owner processes it again", where, error.str())
        return True

    def _wait(self, call: _Call, patience: float) -> bool:
        """Wait for ``call`` up to ``patience`` seconds, cut to :data:`STOP_COMMIT_WAIT_S` past a stop."""
        started = time.monotonic()
        deadline = started + patience
        while not call.wait(0.1):
            if self._stop_at is not None:
                deadline = min(deadline, max(self._stop_at, started) + STOP_COMMIT_WAIT_S)
            if time.monotonic() >= deadline:
                return False
        return True

    def _close(self) -> None:
        """Leave the group, waiting at most :data:`CLOSE_WAIT_S` for it.

        Not with a commit still running on the consumer: closing it under that call would free
        what the call uses. The process exits instead, and the group notices the member gone
        after ``session.timeout.ms``.
        """
        if self._pending is not None:
            log.warning("leaving without closing the consumer (a commit is still waiting for Kafka at %s): the "
                        "group notices after session.timeout.ms", self.settings.bootstrap)
            return
        call = _Call("kafka-close", self._consumer.close)
        if not call.wait(CLOSE_WAIT_S):
            self._pending = call
            log.warning("the consumer did not leave the group within %g s (Kafka at %s is not answering): exiting "
                        "without it; the group notices after session.timeout.ms", CLOSE_WAIT_S,
                        self.settings.bootstrap)
        elif call.error is not None:
            raise call.error

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
