"""The tests' server choice survives a Docker engine that answers but cannot pull.

On these machines a Docker engine can run while no container registry is reachable:
testcontainers then fails to pull its images, and every test that needed Redis or Kafka
used to error. The engine here is a stand-in for exactly that engine: it answers the
Docker API's ping and version (so ``docker_answers()`` is true) and refuses everything
else with the error a registry-less engine gives. What is under test is the suite's
fallback, not Docker.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from tests.support import servers

REFUSAL = "Get https://registry-1.docker.io/v2/: dial tcp: lookup registry-1.docker.io: no such host"


class RegistrylessEngine(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            self._answer(200, b"OK")
        elif path.endswith("/version"):
            self._answer(200, {"ApiVersion": "1.41", "Version": "20.10.24", "MinAPIVersion": "1.12"})
        elif "/images/" in path:
            self._answer(404, {"message": "No such image"})
        else:
            self._answer(500, {"message": REFUSAL})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer(500, {"message": REFUSAL})

    do_DELETE = do_POST  # noqa: N815

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registryless_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RegistrylessEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host = f"tcp://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("DOCKER_HOST", host)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    yield host
    server.shutdown()
    server.server_close()


def test_an_engine_that_cannot_pull_falls_back_to_the_embedded_redis(registryless_engine: str) -> None:
    assert servers.docker_answers(), "the stand-in engine should answer a ping"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with servers.redis_server(image="redis:7-alpine") as url:
            assert redis.Redis.from_url(url).ping()
    lines = [str(w.message) for w in caught if "could not start" in str(w.message)]
    assert len(lines) == 1, [str(w.message) for w in caught]
    assert lines[0].startswith("redis: container redis:7-alpine could not start (")
    assert "no such host" in lines[0] and lines[0].endswith("using the next choice")


def test_an_engine_that_cannot_pull_falls_back_to_the_embedded_kafka(
    registryless_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from confluent_kafka.admin import AdminClient

    monkeypatch.setenv("KAFKA_EMBEDDED", "tansu")  # the fallback is under test, not the broker: the quick one

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with servers.kafka_bootstrap() as bootstrap:
            metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
            assert metadata.brokers
    assert any(
        str(w.message).startswith(f"kafka: container {servers.KAFKA_IMAGE} could not start (") for w in caught
    ), [str(w.message) for w in caught]


def test_no_engine_means_no_container_and_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import refused_port

    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{refused_port()}")  # nothing listens: refused
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert not servers.docker_answers()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with servers.redis_server() as url:
            assert redis.Redis.from_url(url).ping()
    assert not [w for w in caught if "could not start" in str(w.message)]
