"""Which Redis and Kafka the tests use: the README's order, with a fallback that says why.

Order: the environment (``REDIS_URL`` / ``KAFKA_BOOTSTRAP_SERVERS``), else a container from
testcontainers where a Docker engine answers, else the embedded server. An engine that
answers is not one that can run the container: with no registry reachable, pulling the
image (or testcontainers' Ryuk) fails, and every test that needed the server used to error.
Now the container's failure is one warning line, with the image and the engine's reason,
and the next choice is used.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

REDIS_IMAGE = "redis:7-alpine"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # testcontainers' KafkaContainer default


def docker_answers() -> bool:
    """True when a Docker engine answers a ping (whether or not it can pull)."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:  # noqa: BLE001 - no engine, no socket, no SDK: all mean "no"
        return False


def _reason(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "explanation", None) or exc).split())
    return text[:300] or type(exc).__name__


@contextlib.contextmanager
def container_or_none(kind: str, image: str, make: Callable[[], Any],
                      address: Callable[[Any], str]) -> Iterator[str | None]:
    """Start a container and yield its address, or warn in one line and yield None."""
    try:
        container = make()
        container.start()
    except Exception as exc:  # noqa: BLE001 - whatever the engine refused, the next choice works
        warnings.warn(f"{kind}: container {image} could not start ({_reason(exc)}); using the next choice",
                      stacklevel=1)
        yield None
        return
    try:
        yield address(container)
    finally:
        container.stop()


@contextlib.contextmanager
def _choose(variable: str, kind: str, image: str, make: Callable[[], Any], address: Callable[[Any], str],
            embedded: Callable[[], contextlib.AbstractContextManager[str]]) -> Iterator[str]:
    """The README's order: ``variable`` if set, else a container that starts, else ``embedded``."""
    configured = os.environ.get(variable)
    if configured:
        yield configured
        return
    if docker_answers():
        with container_or_none(kind, image, make, address) as found:
            if found:
                yield found
                return
    with embedded() as found:
        yield found


@contextlib.contextmanager
def _embedded_redis() -> Iterator[str]:
    from kedasuite.core.embedded import EmbeddedRedis

    with EmbeddedRedis(databases=64) as server:
        yield server.url


@contextlib.contextmanager
def _embedded_kafka() -> Iterator[str]:
    from kedasuite.core.embedded import EmbeddedKafka

    with EmbeddedKafka() as broker:
        yield broker.bootstrap


def redis_server(image: str = REDIS_IMAGE) -> contextlib.AbstractContextManager[str]:
    """A Redis URL: ``REDIS_URL``, else a container, else the embedded server."""

    def make() -> Any:
        from testcontainers.redis import RedisContainer

        return RedisContainer(image)

    def address(container: Any) -> str:
        return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"

    return _choose("REDIS_URL", "redis", image, make, address, _embedded_redis)


def kafka_bootstrap(image: str = KAFKA_IMAGE) -> contextlib.AbstractContextManager[str]:
    """Kafka bootstrap servers: ``KAFKA_BOOTSTRAP_SERVERS``, else a container, else Tansu."""

    def make() -> Any:
        from testcontainers.kafka import KafkaContainer

        return KafkaContainer(image).with_kraft()

    return _choose("KAFKA_BOOTSTRAP_SERVERS", "kafka", image, make, lambda c: c.get_bootstrap_server(),
                   _embedded_kafka)
