"""The brokers read as KEDA's scalers read them: what ``status``, ``autoscale`` and ``timeline`` see.

* A Redis key's length by its type, as the ``redis`` scaler measures it (:data:`LENGTH_LUA`).
* A Kafka group's committed offsets and the topic's high watermarks, as the ``kafka`` scaler
  reads them (:func:`fetch_offsets`); the pure :func:`~kedasuite.keda.rules.kafka.keda_lag`
  turns them into KEDA's metric. Its ``timeout`` bounds the whole read. When the bootstrap
  broker answers but the brokers it advertises cannot be reached from here (the usual Docker
  mistake), it says so: :class:`AdvertisedBrokerUnreachable`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from kedasuite.core.clients import kafka_client, kafka_config
from kedasuite.core.errors import BrokerUnavailable
from kedasuite.core.names import Env
from kedasuite.keda.rules.kafka import PartitionOffsets

#: KEDA's redis scaler measures a key by its type (list, set, sorted set, hash; missing = 0).
#: Any other type is an error there, and -1 here.
LENGTH_LUA = """
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'list' or t == 'none' then return redis.call('LLEN', KEYS[1]) end
if t == 'set' then return redis.call('SCARD', KEYS[1]) end
if t == 'zset' then return redis.call('ZCARD', KEYS[1]) end
if t == 'hash' then return redis.call('HLEN', KEYS[1]) end
return -1
"""


class AdvertisedBrokerUnreachable(BrokerUnavailable):
    """The bootstrap broker answered, but a broker it advertises cannot be reached from this host.

    Its own class so that ``status`` and ``autoscale`` show its words as they are: the usual
    "check the bootstrap servers" would point at the one address that works.
    """

    def __init__(self, bootstrap: str, unreachable: Sequence[tuple[str, str]]) -> None:
        self.bootstrap = bootstrap
        #: ``(host:port, why)`` for each advertised broker this host cannot reach.
        self.unreachable = tuple(unreachable)
        if len(self.unreachable) == 1:
            ((address, why),) = self.unreachable
            where = f"it advertises itself as {address}, which this host cannot reach ({why})"
        else:
            where = "it advertises brokers this host cannot reach: " + ", ".join(
                f"{address} ({why})" for address, why in self.unreachable
            )
        super().__init__(
            f"the Kafka broker at {bootstrap} answered, but {where}; clients are sent to the advertised "
            "address for offsets, so no lag can be read. Fix the broker's advertised listeners "
            "(advertised.listeners; KAFKA_ADVERTISED_LISTENERS in compose files, where compose.autoscale.yaml "
            "adds a HOST listener advertising 127.0.0.1:${KAFKA_HOST_PORT:-19092}) to name an address this host "
            f"reaches, or point {Env.KAFKA_BOOTSTRAP_SERVERS} (--bootstrap-servers) at a listener that advertises one"
        )


#: Of a read's ``timeout``, the part kept back from librdkafka to check the advertised brokers
#: when it fails (at most; a third of short timeouts).
_DIAGNOSIS_RESERVE_S = 1.0
#: Of that, the part kept for closing the consumer.
_CLOSE_RESERVE_S = 0.2


class _Probe:
    """Can this host reach one advertised broker? Runs in a daemon thread: a resolver without
    a network can hang far past any deadline, and the read must not wait for it."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.address = f"{host}:{port}"
        self.host, self.port, self.deadline = host, port, deadline
        self.resolved = False
        #: ``True``: a TCP connection was made; a string: why not; ``None``: still trying.
        self.outcome: bool | str | None = None
        self.thread = threading.Thread(target=self._run, name=f"probe {self.address}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            addresses = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):  # UnicodeError: a name no resolver would take
            self.outcome = "the name does not resolve"
            return
        self.resolved = True
        why = None
        for family, kind, proto, _, sockaddr in addresses:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return
            try:
                with socket.socket(family, kind, proto) as sock:
                    sock.settimeout(left)
                    sock.connect(sockaddr)
                self.outcome = True
                return
            except ConnectionRefusedError:
                why = "connection refused"
            except TimeoutError:
                return
            except OSError as exc:
                why = why or (exc.strerror or str(exc)).lower()
        self.outcome = why or "it has no address"

    def wait(self, budget: float) -> str | None:
        """Why the broker cannot be reached, or ``None`` when it can."""
        self.thread.join(max(0.0, self.deadline - time.monotonic()))
        if self.outcome is True:
            return None
        if isinstance(self.outcome, str):
            return self.outcome
        if self.resolved:
            return f"no answer within {budget:.1f} s"
        return f"the name did not resolve within {budget:.1f} s"


def _diagnose(
    bootstrap: str, brokers: Sequence[tuple[str, int]], deadline: float
) -> AdvertisedBrokerUnreachable | None:
    """The advertised brokers this host cannot reach (checked side by side until ``deadline``)."""
    budget = max(0.0, deadline - time.monotonic())
    probes = [_Probe(host, port, deadline) for host, port in dict.fromkeys(brokers)]
    unreachable = [(p.address, why) for p in probes if (why := p.wait(budget)) is not None]
    return AdvertisedBrokerUnreachable(bootstrap, unreachable) if unreachable else None


def _close_within(consumer: Consumer, seconds: float) -> None:
    """Close the consumer, waiting at most ``seconds``: librdkafka's close waits for its broker
    threads, and one stuck resolving a name would hold the read past its deadline."""
    closing = threading.Thread(target=consumer.close, name="close kafka lag reader", daemon=True)
    closing.start()
    closing.join(max(0.05, seconds))


def fetch_offsets(
    bootstrap: str, group: str, topic: str, extra: Mapping[str, str] | None = None, timeout: float = 10.0
) -> list[PartitionOffsets]:
    """High watermarks and the group's committed offsets, as KEDA reads them each poll.

    ``timeout`` bounds the whole read: librdkafka gets what is left of it but a reserve, spent,
    when metadata came back and a later request failed, on checking the brokers the metadata
    advertises (:class:`AdvertisedBrokerUnreachable`). The consumer made here never subscribes,
    so it does not join (or disturb) the group.
    """
    deadline = time.monotonic() + timeout
    reserve = min(_DIAGNOSIS_RESERVE_S, timeout / 3)
    close_reserve = min(_CLOSE_RESERVE_S, reserve / 4)

    def left() -> float:
        """What librdkafka may wait now; a little even when late, so a call fails rather than hangs."""
        return max(0.01, deadline - reserve - time.monotonic())

    consumer = kafka_client(
        Consumer, kafka_config("consumer", bootstrap, {"group.id": group, "enable.auto.commit": False}, extra)
    )
    try:
        metadata = consumer.list_topics(topic, timeout=left())
        meta = metadata.topics[topic]
        if meta.error is not None:
            raise LookupError(f"topic {topic!r}: {meta.error.str()}")
        tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        try:
            committed = {tp.partition: tp for tp in consumer.committed(tps, timeout=left())}
            # One ListOffsets request per leader for every partition; -1 (OFFSET_END) is "latest".
            latest = consumer.offsets_for_times(
                [TopicPartition(topic, p, OFFSET_END) for p in sorted(meta.partitions)], timeout=left()
            )
            for tp in (*committed.values(), *latest):
                if tp.error is not None:
                    raise KafkaException(tp.error)
        except KafkaException as exc:
            advertised = [(b.host, b.port) for b in metadata.brokers.values()]
            unreachable = _diagnose(bootstrap, advertised, deadline - close_reserve)
            if unreachable is not None:
                raise unreachable from exc
            raise
        result = []
        for tp in sorted(latest, key=lambda tp: tp.partition):
            offset = committed[tp.partition].offset if tp.partition in committed else -1
            result.append(PartitionOffsets(tp.partition, tp.offset, offset if offset >= 0 else None))
        return result
    finally:
        _close_within(consumer, deadline - time.monotonic())
