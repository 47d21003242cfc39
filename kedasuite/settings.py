"""Settings resolved from the environment (12-factor); CLI flags override them.

Redis is configured either by one URL or by the pieces a Kubernetes pod gets from a
Secret (address, username, password, TLS). The pieces exist because KEDA's redis
trigger reads ``addressFromEnv`` / ``passwordFromEnv`` from the scaled container: the
worker and KEDA then read the very same variables, so they cannot point at different
servers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from kedasuite import defaults
from kedasuite.errors import InputError
from kedasuite.names import Env

_TRUE = {"1", "true", "yes", "on"}


def env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def redis_url_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The Redis URL: ``REDIS_URL`` if set, else built from ``REDIS_ADDRESS`` and friends."""
    url = environ.get(Env.REDIS_URL, "").strip()
    if url:
        return url
    address = environ.get(Env.REDIS_ADDRESS, "").strip()
    if not address:
        return defaults.REDIS_URL
    scheme = "rediss" if env_flag(environ.get(Env.REDIS_TLS)) else "redis"
    username = environ.get(Env.REDIS_USERNAME, "")
    password = environ.get(Env.REDIS_PASSWORD, "")
    userinfo = ""
    if username or password:
        userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    db = environ.get(Env.REDIS_DB, "0").strip() or "0"
    return f"{scheme}://{userinfo}{address}/{db}"


def redact_url(url: str) -> str:
    """The URL with its password replaced, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def with_redis_db(url: str, db: int) -> str:
    """The same server, another database number (tests give each test its own)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def parse_workload_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(f"{Env.PUMP_WORKLOADS} is empty: name at least one workload, e.g. {defaults.PUMP_DEFAULT_WORKLOAD!r}")
    return names
