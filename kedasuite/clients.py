"""Client factories: every connection to a broker is made here, with the same timeouts."""

from __future__ import annotations

import redis

from kedasuite import defaults
from kedasuite.errors import BrokerUnavailable
from kedasuite.names import Env
from kedasuite.settings import redact_url


def redis_client(url: str, *, socket_timeout: float | None = 30.0) -> redis.Redis:
    """A Redis client that fails fast when the server is not there.

    ``decode_responses`` stays off: queue payloads are bytes and are passed on untouched.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=defaults.CONNECT_TIMEOUT_S,
        socket_timeout=socket_timeout,
        health_check_interval=30,
    )


def unreachable_redis(url: str, exc: BaseException) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"cannot reach Redis at {redact_url(url)} ({str(exc).rstrip('.')}). "
        f"Start Redis there, or point {Env.REDIS_URL} (or {Env.REDIS_ADDRESS}) at a reachable server"
    )


def check_redis(client: redis.Redis, url: str) -> None:
    """Ping the server; raise :class:`BrokerUnavailable` with the fix in the message."""
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        raise BrokerUnavailable(
            f"Redis at {redact_url(url)} refused the credentials ({str(exc).rstrip('.')}). "
            f"Check {Env.REDIS_USERNAME} / {Env.REDIS_PASSWORD} (or the password in {Env.REDIS_URL})"
        ) from exc
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise unreachable_redis(url, exc) from exc
