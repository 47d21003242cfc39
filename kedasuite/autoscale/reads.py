"""Live reads for the actuator: each trigger's raw value as KEDA's scalers read it.

The same reads as ``status`` (:mod:`kedasuite.keda.status`): a Redis key's length by its type
(the same Lua script), a Kafka group's lag per partition with the trigger's
``offsetResetPolicy`` (:mod:`kedasuite.keda.kafka_lag`). The model
(:class:`~kedasuite.keda.model_triggers.TriggerReader`) applies the caps and activation. A
read that fails gives ``None`` (the model then holds or follows ``fallback``, as KEDA does) and
leaves its reason in :attr:`LiveReads.errors`.
"""

from __future__ import annotations

from typing import Any

import redis

from kedasuite.core import defaults
from kedasuite.core.clients import redis_client, unreachable_redis
from kedasuite.core.names import Env
from kedasuite.core.settings import KafkaSettings
from kedasuite.keda.kafka_lag import KafkaTrigger, PartitionOffsets, fetch_offsets
from kedasuite.keda.model_triggers import Value
from kedasuite.keda.scaling import Trigger
from kedasuite.keda.status import _LENGTH_LUA


class LiveReads:
    """Reads triggers from the brokers; ``errors`` holds the last failure per trigger source."""

    def __init__(self, redis_url: str | None, kafka: KafkaSettings | None,
                 timeout: float = defaults.CONNECT_TIMEOUT_S) -> None:
        self.redis_url, self.kafka, self.timeout = redis_url, kafka, timeout
        self._client: redis.Redis | None = None
        self._length: Any = None
        #: ``(type, source)`` → why its last read failed (absent: the last read worked).
        self.errors: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def value(self, trigger: Trigger) -> Value:
        key = (trigger.type, trigger.source)
        try:
            if trigger.type == "kafka":
                value: Value = self._kafka(trigger)
            elif trigger.type.startswith("redis"):
                value = self._redis(trigger)
            else:
                raise _ReadError(f"{trigger.type} triggers are not read by kedasuite (only redis and kafka)")
        except _ReadError as exc:
            self.errors[key] = str(exc)
            return None
        self.errors.pop(key, None)
        return value

    def _redis(self, trigger: Trigger) -> float:
        if self.redis_url is None:
            raise _ReadError(f"Redis is not configured: set {Env.REDIS_URL} or {Env.REDIS_ADDRESS}")
        try:
            if self._client is None:
                self._client = redis_client(self.redis_url, socket_timeout=self.timeout)
                self._length = self._client.register_script(_LENGTH_LUA)
            length = int(self._length(keys=[trigger.source]))
        except redis.RedisError as exc:
            self.close()
            raise _ReadError(unreachable_redis(self.redis_url, exc).message) from None
        if length < 0:
            raise _ReadError(f"key {trigger.source!r} is neither a list, set, sorted set nor hash: KEDA's redis "
                             "scaler errors")
        return float(length)

    def _kafka(self, trigger: Trigger) -> tuple[PartitionOffsets, ...]:
        if self.kafka is None:
            raise _ReadError(f"Kafka is not configured: set {Env.KAFKA_BOOTSTRAP_SERVERS}")
        try:
            KafkaTrigger.from_metadata(trigger.metadata)  # a bad trigger errors here, as KEDA's does
            offsets = fetch_offsets(self.kafka.bootstrap, self.kafka.group, self.kafka.topic,
                                    {"log_level": "0", **self.kafka.extra}, timeout=self.timeout)
        except ValueError as exc:
            raise _ReadError(f"trigger {trigger.name}: {exc}") from None
        except LookupError as exc:
            raise _ReadError(f"{exc} (it is created on the first pump)") from None
        except Exception as exc:  # noqa: BLE001 - librdkafka's KafkaException and timeouts alike
            raise _ReadError(f"cannot read offsets from Kafka at {self.kafka.bootstrap}: {exc}; check "
                             f"{Env.KAFKA_BOOTSTRAP_SERVERS}") from None
        # Offsets, not lags: the model applies offsetResetPolicy, and excludePersistentLag needs them.
        return tuple(offsets)


class _ReadError(Exception):
    pass
