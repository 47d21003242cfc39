"""Consumer-group lag exactly as KEDA's ``kafka`` trigger computes it (v2.20.2).

The rules (from KEDA's ``pkg/scalers/kafka_scaler.go``, summarised in
``docs/keda-model.md#kafka``): per partition, lag is the high watermark minus the committed offset; a
partition with no committed offset counts 1 under ``offsetResetPolicy: latest`` and the
whole high watermark under ``earliest`` (0 either way with
``scaleToZeroOnInvalidOffset``). The total is then capped so that KEDA never asks for
more consumers than partitions: ``if total // T > upper: total = upper * T``, an
integer division, so a total between ``P*T`` and ``(P+1)*T`` passes uncapped.
Activation compares the uncapped sum with ``activationLagThreshold``, strictly.

``excludePersistentLag``: a partition whose committed offset is the same as at the scaler's
previous read of it reports 0 to the metric (but still counts for activation), and the offsets
are remembered per read (``getLagForPartition``; KEDA keeps them in the scaler, so its polls and
the HPA's metric requests share them). A stuck partition then stops asking for replicas, but
keeps the workload active: it never goes from 1 to 0.

``fetch_offsets`` reads the same two numbers KEDA reads from the broker; the pure
:func:`keda_lag` turns them into KEDA's metric. Its ``timeout`` bounds the whole read. When the
bootstrap broker answers but the brokers it advertises cannot be reached from here (the usual
Docker mistake), it says so: :class:`AdvertisedBrokerUnreachable`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from kedasuite.core.clients import kafka_client, kafka_config
from kedasuite.core.errors import BrokerUnavailable
from kedasuite.core.names import Env

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    high_watermark: int
    #: The group's committed offset; ``None`` when the group never committed here.
    committed: int | None


@dataclass(frozen=True)
class KafkaTrigger:
    """The kafka trigger metadata that changes the lag KEDA reports."""

    lag_threshold: int = 10
    activation_lag_threshold: int = 0
    offset_reset_policy: str = "latest"
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False
    scale_to_zero_on_invalid_offset: bool = False
    exclude_persistent_lag: bool = False

    def __post_init__(self) -> None:
        if self.lag_threshold <= 0:
            raise ValueError("lagThreshold must be positive number")
        if self.activation_lag_threshold < 0:
            raise ValueError("activationLagThreshold must be positive number")
        if self.offset_reset_policy not in ("latest", "earliest"):
            raise ValueError(f"offsetResetPolicy must be latest or earliest, got {self.offset_reset_policy!r}")
        if self.allow_idle_consumers and self.limit_to_partitions_with_lag:
            raise ValueError("allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously")
        if self.limit_to_partitions_with_lag and self.ensure_even_distribution_of_partitions:
            raise ValueError("limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set simultaneously")

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> KafkaTrigger:
        """Read a trigger's ``metadata`` map (all strings) with KEDA's defaults."""

        def flag(key: str) -> bool:
            return metadata.get(key, "false").strip() in _TRUE

        return cls(
            lag_threshold=int(metadata.get("lagThreshold", "").strip() or 10),
            activation_lag_threshold=int(metadata.get("activationLagThreshold", "").strip() or 0),
            offset_reset_policy=metadata.get("offsetResetPolicy", "").strip() or "latest",
            allow_idle_consumers=flag("allowIdleConsumers"),
            limit_to_partitions_with_lag=flag("limitToPartitionsWithLag"),
            ensure_even_distribution_of_partitions=flag("ensureEvenDistributionOfPartitions"),
            scale_to_zero_on_invalid_offset=flag("scaleToZeroOnInvalidOffset"),
            exclude_persistent_lag=flag("excludePersistentLag"),
        )


@dataclass(frozen=True)
class LagReport:
    per_partition: Mapping[int, int]
    #: Sum of the partition lags, before the cap: what activation looks at.
    total: int
    #: The metric KEDA hands the HPA (after the partition cap).
    metric: int
    active: bool
    #: ``excludePersistentLag``: the partitions left out of the metric this read (their lag).
    persistent: Mapping[int, int] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return len(self.per_partition)


def partition_lag(offsets: PartitionOffsets, trigger: KafkaTrigger) -> int:
    if offsets.committed is None or offsets.committed < 0:
        if trigger.scale_to_zero_on_invalid_offset:
            return 0
        return 1 if trigger.offset_reset_policy == "latest" else offsets.high_watermark
    return offsets.high_watermark - offsets.committed


def _smallest_balancing_factor(total: int, partitions: int, threshold: int) -> int:
    for factor in (f for f in range(1, partitions + 1) if partitions % f == 0):
        if factor * threshold >= total:
            return factor
    return partitions


def _persistent(p: PartitionOffsets, trigger: KafkaTrigger, previous: dict[int, int] | None) -> bool:
    """``excludePersistentLag``: the committed offset has not moved since the previous read (and is
    remembered for the next one). Partitions without a committed offset are never persistent."""
    if not trigger.exclude_persistent_lag or previous is None or p.committed is None or p.committed < 0:
        return False
    before = previous.get(p.partition)
    previous[p.partition] = p.committed
    return before == p.committed


def keda_lag(partitions: Sequence[PartitionOffsets], trigger: KafkaTrigger,
             previous: dict[int, int] | None = None) -> LagReport:
    """KEDA's metric for one read; ``previous`` is the scaler's memory of committed offsets
    (``excludePersistentLag``), updated in place: pass the same dict to every read."""
    lags = {p.partition: partition_lag(p, trigger) for p in partitions}
    total = sum(lags.values())
    persistent = {p.partition: lags[p.partition] for p in partitions if _persistent(p, trigger, previous)}
    counted = {k: (0 if k in persistent else v) for k, v in lags.items()}
    metric = sum(counted.values())
    t = trigger.lag_threshold
    if (not trigger.allow_idle_consumers or trigger.limit_to_partitions_with_lag
            or trigger.ensure_even_distribution_of_partitions):
        upper = len(lags)
        if trigger.ensure_even_distribution_of_partitions:
            metric = _smallest_balancing_factor(metric, len(lags), t) * t
        if trigger.limit_to_partitions_with_lag:
            upper = sum(1 for lag in counted.values() if lag > 0)
        if metric // t > upper:
            metric = upper * t
    return LagReport(per_partition=lags, total=total, metric=max(metric, 0),
                     active=total > trigger.activation_lag_threshold, persistent=persistent)


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
            (address, why), = self.unreachable
            where = f"it advertises itself as {address}, which this host cannot reach ({why})"
        else:
            where = ("it advertises brokers this host cannot reach: "
                     + ", ".join(f"{address} ({why})" for address, why in self.unreachable))
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


def _diagnose(bootstrap: str, brokers: Sequence[tuple[str, int]],
              deadline: float) -> AdvertisedBrokerUnreachable | None:
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


def fetch_offsets(bootstrap: str, group: str, topic: str, extra: Mapping[str, str] | None = None,
                  timeout: float = 10.0) -> list[PartitionOffsets]:
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

    consumer = kafka_client(Consumer, kafka_config("consumer", bootstrap, {"group.id": group, "enable.auto.commit": False},
                                                   extra))
    try:
        metadata = consumer.list_topics(topic, timeout=left())
        meta = metadata.topics[topic]
        if meta.error is not None:
            raise LookupError(f"topic {topic!r}: {meta.error.str()}")
        tps = [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        try:
            committed = {tp.partition: tp for tp in consumer.committed(tps, timeout=left())}
            # One ListOffsets request per leader for every partition; -1 (OFFSET_END) is "latest".
            latest = consumer.offsets_for_times([TopicPartition(topic, p, OFFSET_END) for p in sorted(meta.partitions)],
                                                timeout=left())
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
