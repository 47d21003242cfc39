"""The Kafka consumer-group worker, at-least-once and safe to scale.

* A record's offset is *stored* only once the record was processed and its result written (a
  poison record: once its dead letter is acknowledged), and only stored offsets are *committed*:
  asynchronously from the poll loop, every :data:`COMMIT_INTERVAL_S` while records wait and
  at once (at most every :data:`CAUGHT_UP_COMMIT_S`) when none does; for the partitions being
  revoked, before librdkafka hands them on; and on the way out (synchronously, bounded). A
  consumer killed mid-run leaves the records done since its last confirmed commit uncommitted:
  their next owner processes them again (duplicates the result store counts), never skips one.
  At-least-once, never at-most-once.
* One commit per interval, not one round trip per record. The price: the committed offset (the
  lag KEDA reads) trails the records done by up to an interval plus a commit's round trip, or
  one record's work time when a record longer than that is in hand (commits go out between
  records). While the group rebalances its coordinator confirms no commit, so the committed
  offset stays put; a consumer whose commits go unconfirmed for :data:`UNCONFIRMED_LIMIT_S`
  takes no new record until one is, so a kill makes its successor repeat at most about
  :func:`repeat_bound` seconds of its work (and the record in hand).
* Cooperative sticky assignment: when KEDA adds or removes a consumer, only the moving
  partitions pause; the others keep being consumed. Heartbeats every 0.5 s, so members learn
  of a rebalance within that (``kedasuite scenario kafka-rebalance`` measures both choices).
  Each change of partitions is logged to Redis, ``kafka:assignments:<group>``, when results go there.
* SIGTERM (scale-down): stop fetching, finish the message in hand, commit what is stored, leave
  the group (so the rebalance starts at once, not after the session timeout), exit 0. Each wait
  on the broker is bounded (see :class:`_Call`): a broker that stops answering cannot hold
  the stop past the pod's grace period.
* Poison (not JSON, not a user record): copied to the dead-letter topic with the reason
  and its origin in headers, counted, and its offset stored once the broker has the copy, so it
  never blocks the partition and never crash-loops the pod.
* ``KAFKA_STUCK_AT=PARTITION:OFFSET`` (off unless set) makes the consumer act as one whose
  handler keeps failing on that record: it pauses the partition there and never stores (so never
  commits) past it, so its lag stays while its committed offset stays put. That is the stuck
  partition of ``kedasuite scenario kafka-persistent-lag`` (``excludePersistentLag`` sees only
  partitions with a committed offset, so the records before it are processed and committed);
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
from kedasuite.core.errors import BrokerUnavailable, InputError
from kedasuite.core.names import KAFKA_DLQ_REASON_HEADER, KAFKA_DLQ_SOURCE_HEADER, WORKLOAD_KAFKA, Env
from kedasuite.core.results import PoisonMessage, ResultStore, assignments_key, validate_record, worker_identity
from kedasuite.core.settings import LOG_FORMAT, KafkaSettings, KafkaWorkerSettings
from kedasuite.core.stopping import StopFlag
from kedasuite.core.worktime import WorkTime

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
#: What was stored is committed this often (asynchronously, between two records or while
#: waiting for one). It bounds how far the committed offset, the lag KEDA reads, trails the
#: records done, and what a kill makes the successor repeat. Far below the shortest
#: ``pollingInterval`` the suite runs (1 s: scenarios, demo; 15 s in k8s/): ``excludePersistentLag``
#: calls a partition stuck when its committed offset did not move between two reads, so an
#: interval near or past the polling interval would make a partition being consumed look stuck
#: and drop its lag from the metric. Cost: ten small requests a second per busy consumer at most.
#: (Not librdkafka's auto-commit: it skips its ticks while the group rebalances.)
COMMIT_INTERVAL_S = 0.1
#: A consumer with no record waiting (caught up) commits what it stored at once, but at most
#: this often: one that keeps up with a trickle of records commits as it goes, with a few dozen
#: small requests a second at most, and a burst it finished is committed before it has idled
#: out an interval (a consumer killed right after one repeats none of it).
CAUGHT_UP_COMMIT_S = 0.02
#: How long one ``poll`` waits for a record when no commit is due sooner.
POLL_WAIT_S = 0.5
#: A consumer whose commits have gone unconfirmed this long while it has records done stops
#: taking new ones until one is confirmed. While the group rebalances its coordinator answers
#: no commit (each waits behind the pending JoinGroup, then is refused for its old generation),
#: for up to a session timeout when it waits for a dead member; without this the records done
#: meanwhile would all be repeated if this consumer died or lost the partition. It bounds the
#: work done and not committed, what a kill makes the successor repeat, to about this.
UNCONFIRMED_LIMIT_S = 1.0
#: The assignment log (``kafka:assignments:<group>``) keeps about this many entries.
ASSIGNMENT_LOG_LENGTH = 10_000
#: Longest a write to the assignment log may hold a rebalance callback.
ASSIGNMENT_LOG_TIMEOUT_S = 1.0
#: A poison record's dead letter must be acknowledged within this long, or the worker stops.
DLQ_WAIT_S = 30.0

#: librdkafka's ``heartbeat.interval.ms`` for the suite's consumers (see :data:`CONSUMER_BASE`).
HEARTBEAT_INTERVAL_MS = 500

CONSUMER_BASE: dict[str, Any] = {
    # Offsets are stored by the worker after the work (never on delivery) and committed by it.
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "partition.assignment.strategy": "cooperative-sticky",
    # Members learn that the group rebalances from a heartbeat's answer: at librdkafka's 3 s, each
    # consumer KEDA adds or removes can keep partitions unconsumed for up to 3 s a round (and
    # cooperative-sticky takes two rounds); at 0.5 s, about a second in all. Two small requests a second.
    "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
}


def consumer_config(
    settings: KafkaSettings,
    work_time: WorkTime,
    on_commit: Callable[[KafkaError | None, list[TopicPartition]], None] | None = None,
) -> dict[str, Any]:
    config = kafka_config(
        "consumer",
        settings.bootstrap,
        {
            **CONSUMER_BASE,
            "group.id": settings.group,
            "auto.offset.reset": settings.offset_reset,
            # A message in hand must not make the broker think the consumer is dead.
            "max.poll.interval.ms": max(300_000, int(work_time.max_seconds * 1000 * 3)),
            **({"on_commit": on_commit} if on_commit else {}),
        },
        settings.extra,
    )
    if str(config["enable.auto.offset.store"]).lower() not in ("false", "0"):
        raise InputError(
            f"enable.auto.offset.store={config['enable.auto.offset.store']} would commit records before they are "
            f"processed (at-most-once): unset {Env.KAFKA_CONFIG_PREFIX}ENABLE_AUTO_OFFSET_STORE and "
            f"{Env.KAFKA_CONSUMER_CONFIG_PREFIX}ENABLE_AUTO_OFFSET_STORE, and drop -X enable.auto.offset.store"
        )
    return config


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
    #: Commits the group refused (or could no longer take: a lost assignment), once per partition
    #: until one of its commits is confirmed again: a rebalance refuses every commit meanwhile.
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


#: A partition, as the commit bookkeeping keys it.
Partition = tuple[str, int]


class KafkaWorker:
    def __init__(
        self,
        settings: KafkaSettings,
        work_time: WorkTime,
        redis_url: str | None,
        stuck_at: tuple[int, int] | None = None,
    ) -> None:
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
        #: Per partition, the offset after the last record done (and its leader epoch), as stored.
        self._stored: dict[Partition, tuple[int, int | None]] = {}
        #: Per partition, the highest offset the group confirmed committed.
        self._committed: dict[Partition, int] = {}
        #: Per partition, the offset of the last commit asked for (answered or not).
        self._sent: dict[Partition, int] = {}
        #: Per partition, the first offset refused since its last confirmed commit (or, after it
        #: moved, its first record here again): a rebalance refuses every commit until it
        #: completes, and counts (and logs) once, late answers of an earlier assignment not at all.
        self._refused: dict[Partition, int] = {}
        #: Something was stored that no commit has asked for yet.
        self._unsent = False
        #: A commit was refused for a partition still this member's: the next timed commit asks again.
        self._retry = False
        #: When the last commit was asked for (monotonic).
        self._last_commit = 0.0
        #: Per partition with records done and not confirmed committed: since when the oldest of
        #: them waits (monotonic; the send time of its last confirmed commit, when one came).
        self._waiting_since: dict[Partition, float] = {}
        #: Per partition and offset, when a commit of it was asked for (monotonic).
        self._sent_at: dict[tuple[Partition, int], float] = {}
        #: The partitions paused until a commit is confirmed (see :data:`UNCONFIRMED_LIMIT_S`);
        #: None: not holding.
        self._held: list[TopicPartition] | None = None
        #: The partitions paused at ``KAFKA_STUCK_AT``: they stay paused.
        self._stuck: set[Partition] = set()
        self._results = ResultStore(redis_client(redis_url), WORKLOAD_KAFKA) if redis_url else None
        #: Writes the assignment log: a client of its own, with a short timeout (see :meth:`_note`).
        self._log_client = redis_client(redis_url, socket_timeout=ASSIGNMENT_LOG_TIMEOUT_S) if redis_url else None
        admin = kafka_admin(settings.bootstrap, settings.extra)
        check_kafka(admin, settings.bootstrap)
        ensure_topic(admin, settings.topic, settings.partitions, settings.replication)
        ensure_topic(admin, settings.dlq_topic, 1, settings.replication)
        self._dlq = kafka_client(
            Producer, kafka_config("producer", settings.bootstrap, {"enable.idempotence": True}, settings.extra)
        )
        config = consumer_config(settings, work_time, self._on_commit)
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
        """A partition (re)gained starts afresh: what this member knew of it belongs to an older
        generation. Unpaused, too: librdkafka keeps a partition's pause across its revocation and
        a later reassignment (cooperative-sticky), so one revoked while this member held
        (:meth:`_hold_while_unconfirmed`) or stuck would come back paused, and never be consumed."""
        self._forget(partitions)
        for p in partitions:
            self._stuck.discard((p.topic, p.partition))
        if partitions:
            consumer.resume(partitions)
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")
        self._note("assigned", partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what was stored for the revoked partitions before giving them up, so that their
        next owner starts after the last record done here, not at the last timed commit.

        Asynchronously: librdkafka completes the unassignment, and so rejoins the group that
        hands the partitions on, only once its outstanding commits are answered. A synchronous
        commit here could not be bounded: confluent-kafka runs one call at a time on a consumer,
        so a commit on a :class:`_Call` thread would wait for the ``poll`` running this callback.
        """
        log.info("revoked %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")
        self._note("revoked", partitions)
        self._commit_async(self._uncommitted({(p.topic, p.partition) for p in partitions}))
        self._forget(partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group gave these partitions away without asking (this member missed its session or
        ``max.poll.interval.ms``): no commit of them can succeed now. What was stored and not
        committed is refused: its next owner processes it again."""
        log.info("lost %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")
        self._note("lost", partitions)
        lost = KafkaError(KafkaError._ASSIGNMENT_LOST)
        for p in self._uncommitted({(p.topic, p.partition) for p in partitions}):
            self._settle((p.topic, p.partition), p.offset, lost)
        self._forget(partitions)

    def _note(self, event: str, partitions: list[TopicPartition]) -> None:
        """Add the change to the group's assignment log in Redis, when results go to one: the
        rebalances as this member lived them. Best effort, and quick: a rebalance callback must not
        wait on Redis, so a failed write is logged and dropped."""
        if self._log_client is None:
            return
        entry = {
            "member": self.identity,
            "event": event,
            "at": f"{time.time():.6f}",
            "partitions": ",".join(str(p.partition) for p in partitions),
        }
        try:
            self._log_client.xadd(
                assignments_key(self.settings.group),
                entry,  # type: ignore[arg-type]
                maxlen=ASSIGNMENT_LOG_LENGTH,
                approximate=True,
            )
        except redis.RedisError as exc:
            log.warning("could not log %s partitions %s to Redis: %s", event, entry["partitions"], exc)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {(p.topic, p.partition) for p in partitions}
        if self._held is not None:
            self._held = [p for p in self._held if (p.topic, p.partition) not in gone]
        for p in partitions:
            for known in (self._stored, self._committed, self._sent, self._waiting_since):
                known.pop((p.topic, p.partition), None)
        self._sent_at = {k: t for k, t in self._sent_at.items() if k[0] not in gone}

    @property
    def _unconfirmed_since(self) -> float | None:
        """Since when the oldest record done waits for a confirmed commit; None: none waits."""
        return min(self._waiting_since.values(), default=None)

    def run(self, max_messages: int | None = None) -> Counters:
        consumer = self._consumer
        consumer.subscribe(
            [self.settings.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info("consuming %s as group %s (%s)", self.settings.topic, self.settings.group, self.identity)
        handled = 0
        try:
            while not self._stop.is_set():
                self._commit_when_due(caught_up=False)
                self._hold_while_unconfirmed()
                msg = consumer.poll(self._poll_wait())
                if msg is None:
                    self._commit_when_due(caught_up=True)
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer error: %s", msg.error())
                    continue
                if (
                    self.stuck_at is not None
                    and msg.partition() == self.stuck_at[0]
                    and msg.offset() >= self.stuck_at[1]
                ):
                    # Never processed, never stored; paused so it is not fetched again. The
                    # pause ends with the assignment: a new owner gets here and stops the same way.
                    consumer.pause([TopicPartition(msg.topic(), msg.partition())])
                    self._stuck.add((msg.topic(), msg.partition()))
                    log.warning(
                        "partition %d is stuck at offset %d (%s): not processing it, not committing",
                        msg.partition(),
                        msg.offset(),
                        Env.KAFKA_STUCK_AT,
                    )
                    continue
                try:
                    self.handle(msg)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    if not self._stop.is_set():
                        raise
                    log.warning(
                        "stopping as asked with Redis unreachable (%s): %s[%d] offset %d is neither saved "
                        "nor committed; its next owner processes it again",
                        exc,
                        msg.topic(),
                        msg.partition(),
                        msg.offset(),
                    )
                    break
                self._store(msg)
                handled += 1
                if max_messages is not None and handled >= max_messages:
                    break
            self._commit_stored()
        finally:
            self._close()  # leaves the group: the others rebalance at once
            self._note("stopped", [])
            self._dlq.flush(10)
            log.info(
                "stopped: processed %d, duplicates %d, dead-lettered %d, commits refused %d",
                self.counters.processed,
                self.counters.duplicates,
                self.counters.dead_lettered,
                self.counters.commit_refused,
            )
        return self.counters

    def _store(self, msg: Message) -> None:
        """Mark ``msg`` done: the next commit (timed, revocation, way out) goes past it. Only
        ever called after the work, so nothing is committed before it is done."""
        key = (msg.topic(), msg.partition())
        try:
            self._consumer.store_offsets(message=msg)
        except KafkaException as exc:
            # The partition is no longer this member's (its assignment was lost): the commit
            # would be refused, and its next owner processes the record again.
            error = kafka_error(exc)
            if error is None or error.fatal():
                raise
            self._settle(key, msg.offset() + 1, error)
            return
        if key not in self._stored:  # the first record of this assignment: older refusals are told
            self._refused.pop(key, None)
        self._stored[key] = (msg.offset() + 1, msg.leader_epoch())
        self._unsent = True
        self._waiting_since.setdefault(key, time.monotonic())

    def _poll_wait(self) -> float:
        """How long the next ``poll`` may wait for a record: not past the moment a commit would
        be due if none came (see :meth:`_commit_when_due`), else :data:`POLL_WAIT_S`."""
        if self._unsent:
            spacing = CAUGHT_UP_COMMIT_S
        elif self._retry or self._held is not None:
            spacing = COMMIT_INTERVAL_S
        else:
            return POLL_WAIT_S
        return min(POLL_WAIT_S, max(0.0, self._last_commit + spacing - time.monotonic()))

    def _hold_while_unconfirmed(self) -> None:
        """Pause the assignment while commits go unconfirmed past :data:`UNCONFIRMED_LIMIT_S`;
        resume it once one is confirmed (or nothing waits for one any more). ``poll`` meanwhile
        serves the commits' answers and the rebalance; a paused partition is fetched again from
        the record after the last one done, so nothing is skipped."""
        since = self._unconfirmed_since
        if since is not None and time.monotonic() - since > UNCONFIRMED_LIMIT_S:
            if self._held is None:
                self._held = [p for p in self._consumer.assignment() if (p.topic, p.partition) not in self._stuck]
                if self._held:
                    self._consumer.pause(self._held)
                log.info(
                    "no commit confirmed for %.1f s (the group is rebalancing?): taking no new record until one is",
                    time.monotonic() - since,
                )
        elif self._held is not None:
            assigned = {(p.topic, p.partition) for p in self._consumer.assignment()}
            resumed = [
                p
                for p in self._held
                if (p.topic, p.partition) in assigned and (p.topic, p.partition) not in self._stuck
            ]
            if resumed:
                self._consumer.resume(resumed)
            self._held = None
            log.info("commits confirmed again: taking records")

    def _commit_when_due(self, caught_up: bool) -> None:
        """Commit what was stored since the last commit asked for, without waiting for the answer
        (it comes to :meth:`_on_commit` through ``poll``): between two records at most every
        :data:`COMMIT_INTERVAL_S`, and when no record waits (``caught_up``) at most every
        :data:`CAUGHT_UP_COMMIT_S`. From this thread: confluent-kafka runs one call at a time on
        a consumer, so a commit from another thread would wait for the polls of this one."""
        if not (self._unsent or self._retry):
            return
        now = time.monotonic()
        spacing = CAUGHT_UP_COMMIT_S if caught_up and self._unsent else COMMIT_INTERVAL_S
        if now < self._last_commit + spacing:
            return
        self._last_commit = now
        self._unsent = self._retry = False
        self._commit_async(self._uncommitted(unsent=True))

    def _commit_async(self, offsets: list[TopicPartition]) -> None:
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except KafkaException as exc:
            error = kafka_error(exc)
            if error is None or error.fatal():
                raise
            log.warning("could not ask for a commit (%s): the next one tries again", error.str())
            self._retry = True
            return
        now = time.monotonic()
        for p in offsets:
            self._sent[(p.topic, p.partition)] = p.offset
            self._sent_at[((p.topic, p.partition), p.offset)] = now

    def _uncommitted(self, partitions: set[Partition] | None = None, unsent: bool = False) -> list[TopicPartition]:
        """The stored offsets the group has not confirmed committed (of ``partitions``, or all;
        ``unsent``: only those no commit has asked for yet)."""
        return [
            TopicPartition(topic, partition, offset, leader_epoch=epoch)
            for (topic, partition), (offset, epoch) in self._stored.items()
            if (partitions is None or (topic, partition) in partitions)
            and offset > self._committed.get((topic, partition), -1)
            and not (unsent and offset <= self._sent.get((topic, partition), -1))
        ]

    def _commit_stored(self) -> None:
        """On the way out: commit what is stored and not known committed, and wait for the answer."""
        if self._pending is not None:
            log.warning(
                "not committing on the way out (a commit is still waiting for Kafka at %s): the next "
                "owners process the records since the last commit again",
                self.settings.bootstrap,
            )
            return
        offsets = self._uncommitted()
        if offsets:
            self._commit(offsets)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The answer to an asynchronous commit (served by ``poll`` and ``close``)."""
        for p in partitions:
            self._settle((p.topic, p.partition), p.offset, p.error or error)

    def _settle(self, key: Partition, offset: int, error: KafkaError | None) -> None:
        """Record a commit's answer; a commit the group refuses is survived (counted, logged), not fatal.

        After a rebalance this member's generation is stale (ILLEGAL_GENERATION,
        UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) and the partition may already be someone
        else's: the new owner starts from the last committed offset and processes the records
        since again, which the result store records as duplicates. Dying here would only turn
        them into a restart. Only librdkafka's fatal errors end the worker.
        """
        if error is None:
            self._refused.pop(key, None)
            sent = self._sent_at.pop((key, offset), None)
            self._sent_at = {k: t for k, t in self._sent_at.items() if k[0] != key or k[1] > offset}
            if key in self._stored and offset > self._committed.get(key, -1):
                self._committed[key] = offset
                if self._stored[key][0] > offset:  # records done after that commit was asked for wait
                    self._waiting_since[key] = sent if sent is not None else time.monotonic()
                else:
                    self._waiting_since.pop(key, None)
            return
        if error.code() == KafkaError._NO_OFFSET:  # nothing to commit
            return
        if error.fatal():
            raise KafkaException(error)
        if key in self._stored and offset <= self._committed.get(key, -1):
            return  # a later commit of this partition went through: nothing is repeated
        if key in self._stored:  # still ours, as far as this member knows: the next timed commit tries again
            self._sent.pop(key, None)
            self._retry = True
        if key in self._refused:
            return  # counted already: the first refusal since the partition's last confirmed commit
        self._refused[key] = offset
        self.counters.commit_refused += 1
        log.warning(
            "commit of %s[%d] offset %d refused (%s): unless a later commit lands, the partition's next "
            "owner processes the records up to it again",
            key[0],
            key[1],
            offset - 1,
            error.str(),
        )

    def _commit(self, offsets: list[TopicPartition]) -> bool:
        """Commit ``offsets`` and wait for the answer. False when a stopping consumer gave up
        waiting for it (it leaves without it).

        The commit is synchronous, but waited for on a thread of its own (:class:`_Call`): a
        running consumer waits ``session.timeout.ms`` plus :data:`COMMIT_MARGIN_S`, then exits
        with the error; a stopping one at most :data:`STOP_COMMIT_WAIT_S` past the stop. Only
        from outside the consumer's callbacks (see :meth:`_on_revoke`).
        """
        where = ", ".join(f"{p.topic}[{p.partition}] offset {p.offset - 1}" for p in offsets)
        answers: list[TopicPartition] = []
        call = _Call(
            "kafka-commit", lambda: answers.extend(self._consumer.commit(offsets=offsets, asynchronous=False) or [])
        )
        if not self._wait(call, self._commit_patience):
            self._pending = call
            if self._stop.is_set():
                log.warning(
                    "the commit of %s was not answered within the %g s a stopping consumer waits (Kafka at "
                    "%s is not answering): leaving without it; its next owner may process it again",
                    where,
                    STOP_COMMIT_WAIT_S,
                    self.settings.bootstrap,
                )
                return False
            raise BrokerUnavailable(
                f"Kafka at {self.settings.bootstrap} did not answer the commit of {where} within "
                f"{self._commit_patience:g} s (session.timeout.ms + {COMMIT_MARGIN_S:g} s); the worker exits "
                "so that a fresh one takes over, and the partitions' next owners process those records again"
            )
        if call.error is not None:
            if not isinstance(call.error, KafkaException):
                raise call.error
            error = kafka_error(call.error)
            if error is None or error.fatal():
                raise call.error
            for p in offsets:
                self._settle((p.topic, p.partition), p.offset, error)
            return True
        for p in answers or offsets:
            self._settle((p.topic, p.partition), p.offset, p.error)
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
            log.warning(
                "leaving without closing the consumer (a commit is still waiting for Kafka at %s): the "
                "group notices after session.timeout.ms",
                self.settings.bootstrap,
            )
            return
        call = _Call("kafka-close", self._consumer.close)
        if not call.wait(CLOSE_WAIT_S):
            self._pending = call
            log.warning(
                "the consumer did not leave the group within %g s (Kafka at %s is not answering): exiting "
                "without it; the group notices after session.timeout.ms",
                CLOSE_WAIT_S,
                self.settings.bootstrap,
            )
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
        log.info(
            "processing %s for %.2f s as %s (partition %d, offset %d)",
            record["id"],
            seconds,
            self.identity,
            msg.partition(),
            msg.offset(),
        )
        _sleep(seconds)
        if self._results is None:
            metrics.count_processed(WORKLOAD_KAFKA)  # with Redis, ResultStore.save counts it
            self.counters.processed += 1
        elif self._results.save(record, self.identity):
            self.counters.processed += 1
        else:
            self.counters.duplicates += 1

    def dead_letter(self, msg: Message, reason: str) -> None:
        """Park the message on the DLQ topic; returns once the broker has acknowledged it.

        Its offset is stored only after this returns: a poison record is never committed
        before its dead letter is safe. Not delivered (refused, or no answer within
        :data:`DLQ_WAIT_S`): the worker stops with the error, and the record is read again.
        """
        source = f"{msg.topic()}/{msg.partition()}/{msg.offset()}"
        headers: Mapping[str, bytes] = {
            KAFKA_DLQ_REASON_HEADER: reason.encode(),
            KAFKA_DLQ_SOURCE_HEADER: source.encode(),
        }
        reports: list[KafkaError | None] = []
        self._dlq.produce(
            self.settings.dlq_topic,
            msg.value(),
            msg.key(),
            headers=list(headers.items()),
            on_delivery=lambda error, _: reports.append(error),
        )
        if self._dlq.flush(DLQ_WAIT_S) or not reports or reports[0] is not None:
            why = reports[0].str() if reports and reports[0] is not None else f"no answer within {DLQ_WAIT_S:g} s"
            raise RuntimeError(
                f"could not park poison message {source} on {self.settings.dlq_topic} ({why}); it is "
                f"not committed, so the partition's next owner tries again: check that Kafka at "
                f"{self.settings.bootstrap} takes writes to {self.settings.dlq_topic}"
            )
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


def repeat_bound() -> float:
    """Seconds of a SIGKILLed consumer's finished work that its partitions' next owners may
    repeat: the records done since its last confirmed commit, to which it adds none once that
    is :data:`UNCONFIRMED_LIMIT_S` old, and those done while the commit confirming the ones
    before was on its way (an interval and the answer). The record in hand comes on top.
    """
    return UNCONFIRMED_LIMIT_S + 2 * COMMIT_INTERVAL_S


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
    metrics.serve_worker_metrics(settings.metrics_port, WORKLOAD_KAFKA)
    metrics.announce_ready()
    assert settings.kafka is not None, "KafkaWorkerSettings.kafka is required"
    consumer = KafkaWorker(settings.kafka, parse_work_time(settings.work_time), settings.redis_url, settings.stuck_at)
    consumer.install_signal_handlers()
    return consumer.run(settings.max_messages)
