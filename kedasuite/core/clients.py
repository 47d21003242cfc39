"""Client factories: every connection to a broker is made here, with the same timeouts."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from kedasuite.core import config, defaults
from kedasuite.core.errors import BrokerUnavailable, InputError
from kedasuite.core.names import Env
from kedasuite.core.settings import redact_url, redis_tls_options, require_pem_file
from kedasuite.core.stopping import StopFlag


def redis_client(url: str, *, socket_timeout: float | None = 30.0) -> redis.Redis:
    """A Redis client that fails fast when the server is not there.

    ``decode_responses`` stays off: queue payloads are bytes and are passed on untouched.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=defaults.CONNECT_TIMEOUT_S,
        socket_timeout=socket_timeout,
        health_check_interval=30,
        **redis_tls_options(url),
    )


T = TypeVar("T")
_log = logging.getLogger(__name__)


def redis_patience() -> float:
    """Seconds a worker waits for a lost Redis to come back (``REDIS_RETRY_SECONDS``)."""
    return config.REDIS_RETRY_SECONDS.read()


#: Set once this process was asked to stop: :func:`retry_redis` no longer waits for a lost Redis.
_stop_retrying = StopFlag()


def stop_retrying() -> None:
    """This process was asked to stop (its SIGTERM handler calls this): every :func:`retry_redis`
    gives the error up at its next retry instead of waiting out ``REDIS_RETRY_SECONDS``, longer
    than a pod's grace period. The work in hand is not lost: unsaved, it is delivered again (its
    lease expires, its offset was not committed)."""
    _stop_retrying.set()


def retry_redis(operation: Callable[[], T], url: str, patience: float | None = None) -> T:
    """Run a Redis operation; while the server is away (restarting, failing over, loading
    its append-only file), retry with exponential backoff for up to ``patience`` seconds
    (``REDIS_RETRY_SECONDS``), then let the error through; at once after :func:`stop_retrying`.

    Only for work in progress: start-up checks fail fast instead (:func:`check_redis`).
    Every operation retried here is idempotent or, like a queue push, at-least-once by design.
    An attempt itself is bounded by the client's socket timeouts (:func:`redis_client`).
    """
    if patience is None:
        patience = redis_patience()
    end = time.monotonic() + patience
    delay = 0.05
    while True:
        try:
            return operation()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if _stop_retrying.is_set() or time.monotonic() + delay > end:
                raise
            _log.warning("Redis at %s is unreachable (%s); retrying in %.2f s", redact_url(url), exc, delay)
            if _stop_retrying.wait(delay):
                _log.warning("stopping as asked: no longer waiting for Redis at %s", redact_url(url))
                raise
            delay = min(delay * 2, 2.0)


def unreachable_redis(url: str, exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"cannot reach Redis at {redact_url(url)} ({str(exc).rstrip('.')}). "
        f"Start Redis there, or point {Env.REDIS_URL} (or {Env.REDIS_ADDRESS}) at a reachable server"
    )


def check_redis(client: redis.Redis, url: str) -> None:
    """Ping the server; raise :class:`BrokerUnavailable` with the fix in the message."""
    try:
        client.ping()
    except (redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError) as exc:
        raise refused_credentials(url, exc) from exc
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise refused_credentials(url, exc) from exc
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        if "SSL" in str(exc) or "certificate" in str(exc).lower():
            raise BrokerUnavailable(
                f"TLS with Redis at {redact_url(url)} failed ({str(exc).rstrip('.')}). Check {Env.REDIS_TLS_CA_FILE} "
                f"(the CA that signed the server's certificate), and {Env.REDIS_TLS_CERT_FILE} / "
                f"{Env.REDIS_TLS_KEY_FILE} if the server wants a client certificate"
            ) from exc
        # A server that accepts the connection and then hangs up on the first command is
        # usually a TLS port talked to in plain text.
        hung_up = any(word in str(exc).lower() for word in ("closed", "reset by peer", "error while reading"))
        if urlsplit(url).scheme == "redis" and hung_up:
            raise BrokerUnavailable(
                f"Redis at {redact_url(url)} hung up ({str(exc).rstrip('.')}). If it speaks TLS, "
                f"use rediss:// (or {Env.REDIS_TLS}=true)"
            ) from exc
        raise unreachable_redis(url, exc) from exc


def refused_credentials(url: str, exc: BaseException) -> BrokerUnavailable:
    """Names the user (never the password) and the variables to fix."""
    user = urlsplit(url).username or "default"
    return BrokerUnavailable(
        f"Redis at {redact_url(url)} refused the credentials of user {user!r} ({str(exc).rstrip('.')}). "
        f"Check {Env.REDIS_USERNAME} / {Env.REDIS_PASSWORD} (or the user and password in {Env.REDIS_URL})"
    )


# --- Kafka -----------------------------------------------------------------------------------

_KAFKA_LOG = logging.getLogger("kedasuite.librdkafka")


#: The plainly named security variables and the librdkafka property each sets. They come
#: first; a ``KAFKA_CONFIG_*`` variable for the same property wins.
KAFKA_SECURITY_VARIABLES: Mapping[str, str] = {
    Env.KAFKA_SECURITY_PROTOCOL: "security.protocol",
    Env.KAFKA_SASL_MECHANISM: "sasl.mechanism",
    Env.KAFKA_SASL_USERNAME: "sasl.username",
    Env.KAFKA_SASL_PASSWORD: "sasl.password",
    Env.KAFKA_SSL_CA_FILE: "ssl.ca.location",
}


def kafka_overrides(role: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """librdkafka properties from the environment: the security variables, ``KAFKA_CONFIG_*``,
    then the role's own.

    ``KAFKA_CONFIG_SECURITY_PROTOCOL=SASL_SSL`` becomes ``security.protocol``. This is how
    managed Kafka (SASL/SCRAM, TLS CA files) and test-only settings reach the clients
    without a flag for each of librdkafka's hundreds of properties.
    """
    config: dict[str, str] = {
        prop: environ[var].strip() for var, prop in KAFKA_SECURITY_VARIABLES.items() if environ.get(var, "").strip()
    }
    if "ssl.ca.location" in config:
        require_pem_file(Env.KAFKA_SSL_CA_FILE, config["ssl.ca.location"])
    prefixes = [Env.KAFKA_CONFIG_PREFIX]
    if role == "producer":
        prefixes.append(Env.KAFKA_PRODUCER_CONFIG_PREFIX)
    elif role == "consumer":
        prefixes.append(Env.KAFKA_CONSUMER_CONFIG_PREFIX)
    for prefix in prefixes:
        for key, value in sorted(environ.items()):
            if key.startswith(prefix) and len(key) > len(prefix):
                config[key[len(prefix) :].lower().replace("_", ".")] = value
    return config


def parse_kafka_properties(pairs: Iterable[str]) -> dict[str, str]:
    """``key=value`` items from ``-X`` flags (as kcat takes them)."""
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"Kafka property {pair!r} is not key=value, e.g. -X batch.num.messages=1")
        config[key.strip()] = value
    return config


def kafka_config(
    role: str, bootstrap: str, base: Mapping[str, Any], extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Client configuration: our settings, then the environment's, then the command line's."""
    return {
        "bootstrap.servers": bootstrap,
        "logger": _KAFKA_LOG,
        **base,
        **kafka_overrides(role),
        **(extra or {}),
    }


C = TypeVar("C")


def kafka_error(exc: KafkaException) -> KafkaError | None:
    """The KafkaError a KafkaException carries, if it carries one."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None


def kafka_client(factory: Callable[[dict[str, Any]], C], config: dict[str, Any]) -> C:
    """Make a librdkafka client; a property it refuses (a bad value, an unreadable CA file)
    becomes an error that says where such properties come from."""
    try:
        return factory(config)
    except KafkaException as exc:
        error = kafka_error(exc)
        reason = error.str() if error is not None else str(exc)
        raise InputError(
            f"the Kafka client refused its configuration ({reason}). Check the {Env.KAFKA_SECURITY_PROTOCOL}, "
            f"{Env.KAFKA_SSL_CA_FILE} and KAFKA_SASL_* variables, {Env.KAFKA_CONFIG_PREFIX}* and -X properties"
        ) from exc


class KafkaAdmin(AdminClient):
    """An AdminClient that keeps the errors librdkafka reports on the side.

    A failed metadata request says only "Broker transport failure"; the reason (a TLS
    certificate the CA file does not vouch for, SASL credentials the broker refused)
    arrives through ``error_cb``, and :func:`check_kafka` turns it into the message.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.reported: list[KafkaError] = []
        self.sasl_user = config.get("sasl.username", "")
        self.sasl_mechanism = config.get("sasl.mechanism", "GSSAPI")
        super().__init__({"error_cb": self._record, **config})

    def _record(self, error: KafkaError) -> None:
        if len(self.reported) < 50:
            self.reported.append(error)


def kafka_admin(bootstrap: str, extra: Mapping[str, str] | None = None) -> KafkaAdmin:
    return kafka_client(KafkaAdmin, kafka_config("admin", bootstrap, {}, extra))


def unreachable_kafka(bootstrap: str, exc: BaseException | str) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"cannot reach Kafka at {bootstrap} ({exc}). "
        f"Start a broker there, or point {Env.KAFKA_BOOTSTRAP_SERVERS} at a reachable one"
    )


#: check_kafka asks in slices this long, and reads the errors librdkafka reported between them.
_CHECK_SLICE_S = 0.5


def check_kafka(admin: KafkaAdmin, bootstrap: str, timeout: float = defaults.CONNECT_TIMEOUT_S) -> None:
    """Ask the broker for metadata within ``timeout``; a broker that refuses the TLS handshake or
    the login fails at once (waiting longer changes nothing), one that does not answer fails at
    the deadline (it may be starting)."""
    admin.reported.clear()  # only this check's errors explain its failure
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            admin.list_topics(timeout=max(0.05, min(_CHECK_SLICE_S, left)))
            return
        except KafkaException as exc:
            # error_cb runs only from poll; the FAIL lines it would also log say what the
            # message below says, so they are held back
            _KAFKA_LOG.disabled = True
            try:
                admin.poll(0.2 if left <= _CHECK_SLICE_S else 0)
            finally:
                _KAFKA_LOG.disabled = False
            refused = refused_by_kafka(admin, bootstrap)
            if refused is not None:
                raise refused from exc
            if left <= _CHECK_SLICE_S:
                error = kafka_error(exc)
                raise unreachable_kafka(bootstrap, error.str() if error is not None else exc) from exc


def _reason(error: KafkaError) -> str:
    """librdkafka's text without the broker prefix and the state suffix it adds."""
    text = error.str()
    _, sep, rest = text.partition("/bootstrap: ")
    text = rest if sep else text
    return re.sub(r" \(after \d+ms in state \w+\)$", "", text)


def refused_by_kafka(admin: KafkaAdmin, bootstrap: str) -> BrokerUnavailable | None:
    """The broker answered but the handshake failed: say which one, and what to change."""
    for error in admin.reported:
        if error.code() == KafkaError._SSL:
            return BrokerUnavailable(
                f"the TLS handshake with Kafka at {bootstrap} failed ({_reason(error)}). Point "
                f"{Env.KAFKA_SSL_CA_FILE} at the CA that signed the broker's certificate, and check "
                f"{Env.KAFKA_SECURITY_PROTOCOL} (SSL or SASL_SSL)"
            )
        if error.code() == KafkaError._AUTHENTICATION:
            return BrokerUnavailable(
                f"Kafka at {bootstrap} refused {admin.sasl_mechanism} authentication of user "
                f"{admin.sasl_user!r} ({_reason(error)}). Check {Env.KAFKA_SASL_USERNAME} / "
                f"{Env.KAFKA_SASL_PASSWORD} and {Env.KAFKA_SASL_MECHANISM}"
            )
    return None


def ensure_topic(admin: AdminClient, topic: str, partitions: int, replication: int, timeout: float = 15.0) -> int:
    """Create ``topic`` unless it exists; return its partition count."""
    existing = admin.list_topics(timeout=timeout).topics.get(topic)
    if existing is None or existing.error is not None:
        future = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=replication)])[
            topic
        ]
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    deadline = time.monotonic() + timeout
    while True:
        meta = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is not None and meta.error is None and meta.partitions:
            return len(meta.partitions)
        if time.monotonic() > deadline:
            raise BrokerUnavailable(f"topic {topic!r} did not appear on the broker within {timeout:g} s")
        time.sleep(0.1)
