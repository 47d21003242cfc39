"""Live reads for the actuator: each trigger's raw value as KEDA's scalers read it.

The same reads as ``status`` (:mod:`kedasuite.keda.reads`): a Redis key's length by its type
(the same Lua script), a Kafka group's lag per partition with the trigger's
``offsetResetPolicy`` (:mod:`kedasuite.keda.rules.kafka`). The model
(:class:`~kedasuite.keda.model.triggers.TriggerReader`) applies the caps and activation. A
read that fails gives ``None`` (the model then holds or follows ``fallback``, as KEDA does) and
leaves its reason in :attr:`LiveReads.errors`.

Every read is bounded by the deadline of the poll it belongs to, and runs in a thread of its
own: a broker that does not answer costs its poll that deadline and nothing more, and a read
still stuck from an earlier poll makes the next one fail at once instead of piling up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from kedasuite.core import defaults
from kedasuite.core.clients import redis_client, unreachable_redis
from kedasuite.core.names import Env
from kedasuite.core.settings import KafkaSettings
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.reads import LENGTH_LUA, fetch_offsets
from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets
from kedasuite.keda.rules.scaling import Trigger

#: How long past its deadline a read's thread is waited for: a library's own timeout
#: (a socket's, librdkafka's) ends a little after the time it was given.
DEADLINE_SLACK_S = 1.0


class LiveReads:
    """Reads triggers from the brokers; ``errors`` holds the last failure per trigger source.

    Safe to share between threads (the autoscaler's loops read at once)."""

    def __init__(
        self, redis_url: str | None, kafka: KafkaSettings | None, timeout: float = defaults.CONNECT_TIMEOUT_S
    ) -> None:
        """``timeout``: a poll's read deadline when the caller gives none."""
        self.redis_url, self.kafka, self.timeout = redis_url, kafka, timeout
        self._lock = threading.Lock()
        self._redis: tuple[redis.Redis, Any] | None = None
        #: ``(type, source)`` → the read of it under way (at most one each).
        self._inflight: dict[tuple[str, str], _Call] = {}
        #: ``(type, source)`` → why its last read failed (absent: the last read worked).
        self.errors: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        with self._lock:
            held, self._redis = self._redis, None
        if held is not None:
            held[0].close()

    def deadline(self) -> float:
        """A new poll's deadline (``time.monotonic()`` seconds), shared by each of its reads."""
        return time.monotonic() + self.timeout

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        """The trigger's raw value, or ``None`` (the reason in :attr:`errors`) by ``deadline``."""
        key = (trigger.type, trigger.source)
        try:
            value: Value = self._bounded(
                key, lambda left: self._read(trigger, left), self.deadline() if deadline is None else deadline
            )
        except _ReadError as exc:
            self.errors[key] = str(exc)
            return None
        self.errors.pop(key, None)
        return value

    def _read(self, trigger: Trigger, seconds: float) -> Value:
        if trigger.type == "kafka":
            return self._kafka(trigger, seconds)
        if trigger.type.startswith("redis"):
            return self._redis_length(trigger)
        raise _ReadError(f"{trigger.type} triggers are not read by kedasuite (only redis and kafka)")

    def _bounded(self, key: tuple[str, str], read: Callable[[float], Value], deadline: float) -> Value:
        """``read(seconds left)`` in a thread of its own, waited for until ``deadline`` (plus slack)."""
        left = deadline - time.monotonic()
        what = f"{key[0]} {key[1]!r}"
        if left <= 0:
            raise _ReadError(
                f"{what}: not read, the poll's {self.timeout:g} s read deadline was spent by the reads before it"
            )
        with self._lock:
            running = self._inflight.get(key)
            if running is not None:
                raise _ReadError(
                    f"{what}: the previous read has not answered for "
                    f"{time.monotonic() - running.started:.1f} s; not read again until it does"
                )
            call = self._inflight[key] = _Call()
        threading.Thread(target=self._run, args=(key, call, read, left), name=f"read {what}", daemon=True).start()
        if not call.done.wait(left + DEADLINE_SLACK_S):
            raise _ReadError(f"{what}: no answer within {left:.1f} s (the poll's read deadline)")
        if call.error is not None:
            raise call.error
        return call.result

    def _run(self, key: tuple[str, str], call: _Call, read: Callable[[float], Value], left: float) -> None:
        try:
            call.result = read(left)
        except _ReadError as exc:
            call.error = exc
        except Exception as exc:  # noqa: BLE001 - reported as the read's failure, never lost in a thread
            call.error = _ReadError(f"{key[0]} {key[1]!r}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            call.done.set()

    def _redis_length(self, trigger: Trigger) -> float:
        if self.redis_url is None:
            raise _ReadError(f"Redis is not configured: set {Env.REDIS_URL} or {Env.REDIS_ADDRESS}")
        try:
            with self._lock:
                if self._redis is None:
                    client = redis_client(self.redis_url, socket_timeout=self.timeout)
                    self._redis = (client, client.register_script(LENGTH_LUA))
                held = self._redis
            length = int(held[1](keys=[trigger.source]))
        except redis.RedisError as exc:
            self.close()
            raise _ReadError(unreachable_redis(self.redis_url, exc).message) from None
        if length < 0:
            raise _ReadError(
                f"key {trigger.source!r} is neither a list, set, sorted set nor hash: KEDA's redis scaler errors"
            )
        return float(length)

    def _kafka(self, trigger: Trigger, seconds: float) -> tuple[PartitionOffsets, ...]:
        if self.kafka is None:
            raise _ReadError(f"Kafka is not configured: set {Env.KAFKA_BOOTSTRAP_SERVERS}")
        try:
            KafkaTrigger.from_metadata(trigger.metadata)  # a bad trigger errors here, as KEDA's does
            offsets = fetch_offsets(
                self.kafka.bootstrap,
                self.kafka.group,
                self.kafka.topic,
                {"log_level": "0", **self.kafka.extra},
                timeout=seconds,
            )
        except ValueError as exc:
            raise _ReadError(f"trigger {trigger.name}: {exc}") from None
        except LookupError as exc:
            raise _ReadError(f"{exc} (it is created on the first pump)") from None
        except Exception as exc:  # noqa: BLE001 - librdkafka's KafkaException and timeouts alike
            from kedasuite.keda.reads import AdvertisedBrokerUnreachable

            if isinstance(exc, AdvertisedBrokerUnreachable):  # its words already name the address and the fix
                raise _ReadError(exc.message) from None
            raise _ReadError(
                f"cannot read offsets from Kafka at {self.kafka.bootstrap}: {exc}; check {Env.KAFKA_BOOTSTRAP_SERVERS}"
            ) from None
        # Offsets, not lags: the model applies offsetResetPolicy, and excludePersistentLag needs them.
        return tuple(offsets)


class _ReadError(Exception):
    pass


class _Call:
    """One read under way: its answer once ``done`` is set."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.done = threading.Event()
        self.result: Value = None
        self.error: _ReadError | None = None
