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
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
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
def container_or_none(
    kind: str, image: str, make: Callable[[], Any], address: Callable[[Any], str]
) -> Iterator[str | None]:
    """Start a container and yield its address, or warn in one line and yield None."""
    try:
        container = make()
        container.start()
    except Exception as exc:  # noqa: BLE001 - whatever the engine refused, the next choice works
        warnings.warn(
            f"{kind}: container {image} could not start ({_reason(exc)}); using the next choice", stacklevel=1
        )
        yield None
        return
    try:
        yield address(container)
    finally:
        container.stop()


@contextlib.contextmanager
def _choose(
    variable: str,
    kind: str,
    image: str,
    make: Callable[[], Any],
    address: Callable[[Any], str],
    embedded: Callable[[], contextlib.AbstractContextManager[str]],
) -> Iterator[str]:
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


#: The SCRAM user of the tests' Apache Kafka, on its second listener.
SCRAM_USER = "app"


@contextlib.contextmanager
def _embedded_kafka() -> Iterator[str]:
    from kedasuite.core.embedded import EmbeddedApacheKafka, embedded_kafka

    chosen = embedded_kafka()  # not started yet: KAFKA_EMBEDDED's choice
    if not isinstance(chosen, EmbeddedApacheKafka):
        with chosen as broker:
            _STARTED.append({"described": broker.describe()})
            yield broker.bootstrap
        return
    # One JVM for every client: a SCRAM listener beside the plain one, and two TLS listeners (SSL,
    # and SASL_SSL with the SCRAM user) serving a certificate of a CA made for the run.
    from tests.support.tls import make_pki

    with tempfile.TemporaryDirectory(prefix="kedasuite-kafka-pki-") as pki_dir:
        pki = make_pki(Path(pki_dir))
        with EmbeddedApacheKafka(
            scram_listener=True, username=SCRAM_USER, tls=(pki.server_cert, pki.server_key)
        ) as broker:
            _STARTED.append(
                {
                    "described": broker.describe(),
                    "scram": [broker.scram_bootstrap, broker.username, broker.password],
                    "tls": [broker.tls_bootstrap, broker.sasl_ssl_bootstrap, str(pki.ca)],
                }
            )
            yield broker.bootstrap


#: What the embedded broker said of itself once up, and its SCRAM listener if it has one.
_STARTED: list[dict[str, Any]] = []


def redis_server(image: str = REDIS_IMAGE) -> contextlib.AbstractContextManager[str]:
    """A Redis URL: ``REDIS_URL``, else a container, else the embedded server."""

    def make() -> Any:
        from testcontainers.redis import RedisContainer

        return RedisContainer(image)

    def address(container: Any) -> str:
        return f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"

    return _choose("REDIS_URL", "redis", image, make, address, _embedded_redis)


def kafka_bootstrap(image: str = KAFKA_IMAGE) -> contextlib.AbstractContextManager[str]:
    """Kafka bootstrap servers: ``KAFKA_BOOTSTRAP_SERVERS``, else a container, else the embedded
    broker (``KAFKA_EMBEDDED``: Apache Kafka where Java and its jars are, else Tansu)."""

    def make() -> Any:
        from testcontainers.kafka import KafkaContainer

        return KafkaContainer(image).with_kraft()

    return _choose("KAFKA_BOOTSTRAP_SERVERS", "kafka", image, make, lambda c: c.get_bootstrap_server(), _embedded_kafka)


@dataclass(frozen=True)
class KafkaUnderTest:
    """The Kafka the tests share: where, what it is, and whether it is Tansu (whose settings,
    :mod:`kedasuite.core.tansu`, then apply)."""

    bootstrap: str
    described: str
    tansu: bool
    #: The listener that demands a SCRAM login: (bootstrap, user, password); None where there is none.
    scram: tuple[str, str, str] | None = None
    #: The TLS listeners: (SSL bootstrap, SASL_SSL bootstrap with the SCRAM user, the CA file); None: none.
    tls: tuple[str, str, str] | None = None

    def client_env(self) -> dict[str, str]:
        """Tansu's settings on Tansu; nothing on Apache Kafka, where the product's defaults hold."""
        from kedasuite.core import tansu

        return dict(tansu.CLIENT_ENV) if self.tansu else {}


@contextlib.contextmanager
def kafka_under_test() -> Iterator[KafkaUnderTest]:
    """:func:`kafka_bootstrap`, said what it is (Tansu is known by its cluster id)."""
    from kedasuite.core import tansu

    _STARTED.clear()
    with kafka_bootstrap() as bootstrap:
        found = tansu.cluster_id(bootstrap, timeout=30)
        started = _STARTED[0] if _STARTED else {"described": f"Kafka at {bootstrap} (cluster {found})"}
        scram, tls = started.get("scram"), started.get("tls")
        yield KafkaUnderTest(
            bootstrap,
            started["described"],
            tansu.is_tansu(found),
            tuple(scram) if scram else None,
            tuple(tls) if tls else None,
        )


class SharedKafka:
    """One broker for every pytest-xdist worker, started by the controller in the background
    while the workers start: eight JVM start-ups on two cores would cost the fast tier a
    quarter of its time. The controller writes what it started (or why it could not) to
    ``path``; each worker waits for that file (:func:`wait_for_shared_kafka`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shared-kafka", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with kafka_under_test() as found:
                self._write(
                    {
                        "bootstrap": found.bootstrap,
                        "described": found.described,
                        "tansu": found.tansu,
                        "scram": found.scram,
                        "tls": found.tls,
                    }
                )
                self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - every worker's Kafka test reports it
            self._write({"error": f"{type(exc).__name__}: {exc}"})

    def _write(self, what: dict[str, object]) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(what))
        partial.replace(self.path)

    def said(self) -> str:
        """What was started (or why nothing was), once it is known; empty before."""
        try:
            found = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return ""
        return str(found.get("described") or f"did not start: {found.get('error')}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(60)


def wait_for_shared_kafka(path: Path, timeout: float = 240.0) -> KafkaUnderTest:
    """What the controller's :class:`SharedKafka` started; its error, raised, if it failed."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the shared Kafka broker was not up {timeout:g} s after the run began "
                f"(nothing in {path}); the controller starts it, see its output"
            )
        time.sleep(0.1)
    found = json.loads(path.read_text())
    if "error" in found:
        raise RuntimeError(f"the shared Kafka broker did not start: {found['error']}")
    scram, tls = found.get("scram"), found.get("tls")
    return KafkaUnderTest(
        found["bootstrap"],
        found["described"],
        bool(found["tansu"]),
        tuple(scram) if scram else None,
        tuple(tls) if tls else None,
    )
