"""The brokers read as KEDA's scalers read them: what ``status``, ``autoscale`` and ``timeline`` see.

* :class:`ScalerReads`: each trigger's value from the live brokers, every read bounded by a
  deadline. A Redis key's length by its type, as the ``redis`` scaler measures it
  (:data:`_LENGTH_LUA`); several keys in one round trip where a caller wants one instant
  (:meth:`ScalerReads.redis_snapshot`). A Kafka group's offsets per partition, as the ``kafka``
  scaler reads them: raw for the model (:meth:`ScalerReads.value`), or as the lag KEDA reports
  by the trigger's rules (:meth:`ScalerReads.reading`, through
  :func:`~kedasuite.keda.rules.kafka.keda_lag`).
* A trigger whose metadata KEDA's scaler refuses is not read: KEDA never builds it, and the
  read fails naming the field (:mod:`kedasuite.keda.rules.kafka`, :mod:`kedasuite.keda.rules.redis`).
* :func:`fetch_offsets`: the Kafka read itself, partition by partition as the broker answers (one
  its latest-offset answer leaves out has no high watermark). Its ``timeout`` bounds the whole read. When
  the bootstrap broker answers but the brokers it advertises cannot be reached from here (the
  usual Docker mistake), it says so: :class:`AdvertisedBrokerUnreachable`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from kedasuite.core import defaults
from kedasuite.core.clients import kafka_client, kafka_config, redis_client, unreachable_redis
from kedasuite.core.errors import BrokerUnavailable
from kedasuite.core.names import Env
from kedasuite.core.settings import KafkaSettings
from kedasuite.keda.rules.kafka import KafkaTrigger, LagError, PartitionOffsets, keda_lag
from kedasuite.keda.rules.redis import REDIS_LIST_TYPES, RedisTrigger
from kedasuite.keda.rules.scaling import Reading
from kedasuite.keda.rules.spec import Trigger

#: KEDA's redis scaler measures a key by its type (list, set, sorted set, hash; missing = 0).
#: Any other type is an error there, and -1 here.
_LENGTH_LUA = """
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
        # As the broker answers: a partition its latest-offset answer leaves out is kept, without a
        # high watermark (KEDA's getTotalLag then skips it; rules.kafka.keda_lag does the same).
        latest_of = {tp.partition: tp.offset for tp in latest}
        result = []
        for partition in sorted(meta.partitions):
            offset = committed[partition].offset if partition in committed else -1
            result.append(PartitionOffsets(partition, latest_of.get(partition), offset if offset >= 0 else None))
        return result
    finally:
        _close_within(consumer, deadline - time.monotonic())


# --- each trigger's value, within a deadline ----------------------------------------------------

#: How long past its deadline a read's thread is waited for: a library's own timeout
#: (a socket's, librdkafka's) ends a little after the time it was given.
DEADLINE_SLACK_S = 1.0

#: One trigger's raw value: a Redis key's length, or a Kafka group's offsets per partition
#: (offsets, not lags: the model applies ``offsetResetPolicy``, and ``excludePersistentLag``
#: compares them with the previous read's).
Raw = float | tuple[PartitionOffsets, ...]

_T = TypeVar("_T")


class ReadFailed(Exception):
    """A read that gave no value; its message says why, in words for people."""


@dataclass(frozen=True)
class RedisSnapshot:
    """Redis keys read in one round trip: lengths as KEDA's redis scaler measures them, and counters."""

    #: Key → its length; ``None`` for a type the scaler errors on.
    lengths: Mapping[str, int | None]
    #: Key → its integer value (0 when the key is missing).
    counters: Mapping[str, int]
    #: Why nothing was read (both maps are then empty).
    error: str | None = None

    def length(self, key: str) -> int:
        """The key's length as the scaler reports it; :class:`ReadFailed` where the scaler errors."""
        if self.error is not None:
            raise ReadFailed(self.error)
        length = self.lengths[key]
        if length is None:
            raise ReadFailed(f"key {key!r} is neither a list, set, sorted set nor hash: KEDA's redis scaler errors")
        return length


class ScalerReads:
    """Reads triggers from the live brokers as KEDA's scalers do.

    ``redis_url`` or ``kafka`` may be ``None``: a read that needs one fails saying what to set.
    Every read runs in a thread of its own, waited for until a deadline: a broker that does not
    answer costs that deadline and nothing more, and a read still stuck from before makes the
    next read of the same keys fail at once instead of piling up. Safe to share between
    threads (the autoscaler's loops read at once).
    """

    def __init__(
        self, redis_url: str | None, kafka: KafkaSettings | None, timeout: float = defaults.CONNECT_TIMEOUT_S
    ) -> None:
        """``timeout``: a read's deadline when the caller gives none (and the Redis socket timeout)."""
        self.redis_url, self.kafka, self.timeout = redis_url, kafka, timeout
        self._lock = threading.Lock()
        self._redis: redis.Redis | None = None
        #: ``(type, keys)`` → the read of them under way (at most one each).
        self._inflight: dict[tuple[str, tuple[str, ...]], _Call] = {}
        #: ``(type, source)`` → why the trigger's last :meth:`value` failed (absent: it worked).
        self.errors: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        with self._lock:
            held, self._redis = self._redis, None
        if held is not None:
            held.close()

    def __enter__(self) -> ScalerReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def deadline(self) -> float:
        """A new poll's deadline (``time.monotonic()`` seconds), shared by each of its reads."""
        return time.monotonic() + self.timeout

    def value(self, trigger: Trigger, deadline: float | None = None) -> Raw | None:
        """The trigger's raw value for the model, or ``None`` (the reason in :attr:`errors`) by ``deadline``."""
        key = (trigger.type, trigger.source)
        try:
            value = self._bounded(trigger.type, [trigger.source], lambda s: self._raw(trigger, s), deadline)
        except ReadFailed as exc:
            self.errors[key] = str(exc)
            return None
        self.errors.pop(key, None)
        return value

    def reading(
        self, trigger: Trigger, deadline: float | None = None, snapshot: RedisSnapshot | None = None
    ) -> Reading:
        """The metric KEDA hands the HPA for the trigger now, or why there is none: a key's
        length; a group's lag by the trigger's rules, activation comparing the uncapped total.
        ``snapshot``: the trigger's key, already read with others (:meth:`redis_snapshot`)."""
        try:
            if snapshot is not None and trigger.type.startswith("redis"):
                _check_redis_trigger(trigger)
                return Reading(trigger, snapshot.length(trigger.source))
            value = self._bounded(trigger.type, [trigger.source], lambda s: self._raw(trigger, s), deadline)
        except ReadFailed as exc:
            return Reading(trigger, None, error=str(exc))
        if isinstance(value, tuple):
            try:
                report = keda_lag(value, KafkaTrigger.from_metadata(trigger.metadata))
            except LagError as exc:  # KEDA's read fails too (partitionLimitation names no partition)
                return Reading(trigger, None, error=str(exc))
            return Reading(trigger, report.metric, activation_metric=report.total)
        return Reading(trigger, value)

    def redis_snapshot(
        self, lengths: Sequence[str], counters: Sequence[str] = (), deadline: float | None = None
    ) -> RedisSnapshot:
        """The keys' lengths (as the redis scaler measures them) and the counters, in one round
        trip: one instant for all of them. A failure is the snapshot's ``error``."""
        lengths, counters = list(dict.fromkeys(lengths)), list(dict.fromkeys(counters))
        try:
            return self._bounded("redis", [*lengths, *counters], lambda _: self._redis_now(lengths, counters), deadline)
        except ReadFailed as exc:
            return RedisSnapshot({}, {}, str(exc))

    # --- the reads themselves, in a read's thread -----------------------------------------------

    def _raw(self, trigger: Trigger, seconds: float) -> Raw:
        if trigger.type == "kafka":
            return self._offsets(trigger, seconds)
        if trigger.type.startswith("redis"):
            _check_redis_trigger(trigger)
            return float(self._redis_now([trigger.source], []).length(trigger.source))
        raise ReadFailed(f"{trigger.type} triggers are not read by kedasuite (only redis and kafka)")

    def _redis_now(self, lengths: Sequence[str], counters: Sequence[str]) -> RedisSnapshot:
        if self.redis_url is None:
            raise ReadFailed(f"Redis is not configured: set {Env.REDIS_URL} or {Env.REDIS_ADDRESS}")
        try:
            with self._lock:
                if self._redis is None:
                    self._redis = redis_client(self.redis_url, socket_timeout=self.timeout)
                client = self._redis
            pipe = client.pipeline(transaction=False)
            for key in lengths:
                pipe.eval(_LENGTH_LUA, 1, key)
            for key in counters:
                pipe.get(key)
            replies = pipe.execute()
        except redis.RedisError as exc:
            self.close()
            raise ReadFailed(unreachable_redis(self.redis_url, exc).message) from None
        measured = {k: (int(v) if int(v) >= 0 else None) for k, v in zip(lengths, replies)}
        counted = {k: int(v or 0) for k, v in zip(counters, replies[len(lengths) :])}
        return RedisSnapshot(measured, counted)

    def _offsets(self, trigger: Trigger, seconds: float) -> tuple[PartitionOffsets, ...]:
        if self.kafka is None:
            raise ReadFailed(f"Kafka is not configured: set {Env.KAFKA_BOOTSTRAP_SERVERS}")
        try:
            KafkaTrigger.from_metadata(trigger.metadata)  # a bad trigger errors here, as KEDA's does
            # log_level 0: an unreachable broker is reported once, in the read's error, not logged per retry.
            offsets = fetch_offsets(
                self.kafka.bootstrap,
                self.kafka.group,
                self.kafka.topic,
                {"log_level": "0", **self.kafka.extra},
                timeout=seconds,
            )
        except ValueError as exc:
            raise ReadFailed(f"trigger {trigger.name}: {exc}") from None
        except LookupError as exc:
            raise ReadFailed(f"{exc}; pump into it first (it is created on first use)") from None
        except AdvertisedBrokerUnreachable as exc:  # its words already name the address and the fix
            raise ReadFailed(exc.message) from None
        except Exception as exc:  # noqa: BLE001 - librdkafka's KafkaException and timeouts alike
            raise ReadFailed(
                f"cannot read offsets from Kafka at {self.kafka.bootstrap}: {exc}; check {Env.KAFKA_BOOTSTRAP_SERVERS}"
            ) from None
        return tuple(offsets)

    # --- the deadline ---------------------------------------------------------------------------

    def _bounded(self, kind: str, keys: Sequence[str], read: Callable[[float], _T], deadline: float | None) -> _T:
        """``read(seconds left)`` of a trigger type's keys in a thread of its own, waited for until
        ``deadline`` (plus slack); now + :attr:`timeout` when it is ``None``."""
        what = f"{kind} {keys[0]!r}" if len(keys) == 1 else f"{kind} ({len(keys)} keys)"
        inflight = (kind, tuple(keys))
        left = (self.deadline() if deadline is None else deadline) - time.monotonic()
        if left <= 0:
            raise ReadFailed(
                f"{what}: not read, the poll's {self.timeout:g} s read deadline was spent by the reads before it"
            )
        with self._lock:
            running = self._inflight.get(inflight)
            if running is not None:
                raise ReadFailed(
                    f"{what}: the previous read has not answered for "
                    f"{time.monotonic() - running.started:.1f} s; not read again until it does"
                )
            call = self._inflight[inflight] = _Call()
        threading.Thread(
            target=self._run, args=(inflight, what, call, read, left), name=f"read {what}", daemon=True
        ).start()
        if not call.done.wait(left + DEADLINE_SLACK_S):
            raise ReadFailed(f"{what}: no answer within {left:.1f} s (the poll's read deadline)")
        if call.error is not None:
            raise call.error
        return call.result

    def _run(
        self, inflight: tuple[str, tuple[str, ...]], what: str, call: _Call, read: Callable[[float], Any], left: float
    ) -> None:
        try:
            call.result = read(left)
        except ReadFailed as exc:
            call.error = exc
        except Exception as exc:  # noqa: BLE001 - reported as the read's failure, never lost in a thread
            call.error = ReadFailed(f"{what}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._inflight.pop(inflight, None)
            call.done.set()


def _check_redis_trigger(trigger: Trigger) -> None:
    """:class:`ReadFailed` for a redis list trigger whose metadata KEDA refuses: it is never built, never read."""
    if trigger.type in REDIS_LIST_TYPES:
        try:
            RedisTrigger.from_metadata(trigger.metadata)
        except ValueError as exc:
            raise ReadFailed(f"trigger {trigger.name}: {exc}") from None


class _Call:
    """One read under way: its answer once ``done`` is set."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result: Any = None
        self.error: ReadFailed | None = None
