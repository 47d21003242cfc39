"""Publish user records to the Kafka topic (the Kafka scenario's producer), counting only acks.

The producer is idempotent (no duplicates from its own retries, order kept per
partition) and keyed by record id, so records spread evenly over the partitions and
KEDA sees lag on all of them.

Counting acks without a Python call per record: librdkafka gives every record exactly
one delivery report, and with ``delivery.report.only.error`` only the failed ones reach
Python. ``len(producer)`` counts records still queued, in flight or awaiting their
report. So at any moment ``acked = produced - len(producer) - failed``, exactly; a
per-record callback would cost a third of the pump's speed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kedasuite.core import defaults
from kedasuite.core.clients import check_kafka, ensure_topic, kafka_admin, kafka_client, kafka_config, unreachable_kafka
from kedasuite.core.names import WORKLOAD_KAFKA
from kedasuite.core.settings import KafkaSettings
from kedasuite.producers.records import UserRecord

log = logging.getLogger(__name__)


PRODUCER_BASE = {
    "enable.idempotence": True,  # implies acks=all and bounded in-flight requests
    "linger.ms": 20,
    "batch.num.messages": 10_000,
    "queue.buffering.max.messages": 500_000,
    "message.timeout.ms": defaults.KAFKA_MESSAGE_TIMEOUT_MS,
    "delivery.report.only.error": True,
}


class _Failures:
    """Receives the delivery reports librdkafka sends: failed records only."""

    def __init__(self) -> None:
        self.count = 0
        self.first_error: str | None = None

    def report(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.count += 1
            if self.first_error is None:
                self.first_error = err.str()


class KafkaPublisher:
    workload = WORKLOAD_KAFKA

    def __init__(self, target: KafkaSettings) -> None:
        self._target = target
        self._admin = kafka_admin(target.bootstrap, target.extra)
        self._producer: Producer | None = None
        self._failures = _Failures()
        self._produced = 0
        self._reported = 0

    def check(self) -> None:
        check_kafka(self._admin, self._target.bootstrap)

    def _ready_producer(self) -> Producer:
        if self._producer is None:
            t = self._target
            ensure_topic(self._admin, t.topic, t.partitions, t.replication)
            config = {**PRODUCER_BASE, "on_delivery": self._failures.report}
            self._producer = kafka_client(Producer, kafka_config("producer", t.bootstrap, config, t.extra))
        return self._producer

    def _take_acked(self) -> int:
        """Acks since the last call (see the module docstring for why this is exact)."""
        pending = len(self._producer) if self._producer is not None else 0
        acked = self._produced - pending - self._failures.count
        new, self._reported = acked - self._reported, acked
        return new

    def publish(self, records: Sequence[UserRecord]) -> int:
        """Queue the batch; return the acks that arrived meanwhile (the rest come in :meth:`flush`)."""
        producer = self._ready_producer()
        produce, topic = producer.produce, self._target.topic
        for record in records:
            while True:
                try:
                    produce(topic, record.json, record.id)
                    self._produced += 1
                    break
                except BufferError:  # librdkafka's queue is full: let deliveries drain it
                    producer.poll(0.1)
                except KafkaException as exc:
                    raise unreachable_kafka(self._target.bootstrap, exc) from exc
        producer.poll(0)
        return self._take_acked()

    def flush(self) -> int:
        """Wait for every outstanding delivery report; return the acks among them."""
        if self._producer is not None:
            remaining = self._producer.flush(defaults.KAFKA_MESSAGE_TIMEOUT_MS / 1000 + 5)
            if remaining and self._failures.first_error is None:
                self._failures.first_error = f"{remaining} records had no delivery report in time"
        return self._take_acked()

    @property
    def error(self) -> str | None:
        first = self._failures.first_error
        if first is None:
            return None
        return f"Kafka at {self._target.bootstrap} did not take {self._failures.count or 'some'} records: {first}"

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
            self._producer = None
