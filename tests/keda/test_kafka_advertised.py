"""A Kafka broker reachable at its bootstrap address but not at the address it advertises.

The most common Kafka mistake in Docker setups: the broker answers metadata at the published
port, then sends clients to ``kafka:9092``. Here real Tansu brokers advertise a closed loopback
port or a name under ``.invalid``: the lag read must fail within its one deadline and say which
address the broker advertised and which setting fixes it, on every face (``status``, the
autoscaler's reads, ``kafka-lag``). A relay in front of a broker this host can reach, slowing
or swallowing the watermark requests, shows that the one deadline bounds the whole read and
that librdkafka's own error stands when the advertised address is fine; the same broker,
relayed untouched, that a read that works pays nothing for the diagnosis.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from kedasuite.core.embedded import EmbeddedKafka
from kedasuite.core.settings import KafkaSettings
from kedasuite.keda.reads import AdvertisedBrokerUnreachable, ScalerReads, fetch_offsets
from kedasuite.keda.rules.kafka import PartitionOffsets
from kedasuite.keda.rules.spec import Trigger
from tests.support import refused_port, run_cli

pytestmark = pytest.mark.integration

LOCAL = str(Path(__file__).resolve().parents[2] / "k8s" / "overlays" / "local")

#: What ``status`` and ``autoscale`` give a lag read (``defaults.CONNECT_TIMEOUT_S``).
TIMEOUT = 3.0
#: How far past its timeout a read may end.
MARGIN = 0.5
#: A name that resolves nowhere (RFC 2606 reserves ``.invalid``).
UNRESOLVABLE = "kafka-broker.invalid"
#: Kafka's ListOffsets request, which reads the high watermarks.
LIST_OFFSETS = 2
#: The fix the message must name.
FIX = "advertised.listeners; KAFKA_ADVERTISED_LISTENERS"


@dataclass(frozen=True)
class Broker:
    bootstrap: str
    advertised: str
    topic: str

    def settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap=self.bootstrap, topic=self.topic, group=f"group-{uuid.uuid4().hex[:8]}")


def make_topic(bootstrap: str, topic: str) -> None:
    """Tansu creates a topic on a metadata request that allows it, which crosses the bootstrap
    connection only (CreateTopics would go to the advertised address)."""
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    meta = producer.list_topics(topic, timeout=10).topics[topic]
    assert meta.error is None and meta.partitions, meta


@contextlib.contextmanager
def broker_advertising(advertised: str) -> Iterator[Broker]:
    with EmbeddedKafka(advertised=advertised) as broker:
        topic = f"topic-{uuid.uuid4().hex[:8]}"
        make_topic(broker.bootstrap, topic)
        yield Broker(broker.bootstrap, advertised, topic)


@pytest.fixture(scope="module")
def closed_port() -> Iterator[Broker]:
    """Advertises a loopback port nothing listens on: connection refused."""
    with broker_advertising(f"127.0.0.1:{refused_port()}") as broker:
        yield broker


@pytest.fixture(scope="module")
def unresolvable() -> Iterator[Broker]:
    with broker_advertising(f"{UNRESOLVABLE}:9092") as broker:
        yield broker


def timed_failure(broker: Broker, timeout: float = TIMEOUT) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        fetch_offsets(
            broker.bootstrap, f"group-{uuid.uuid4().hex[:8]}", broker.topic, {"log_level": "0"}, timeout=timeout
        )
    return caught.value, time.monotonic() - start


def resolver_time(name: str, limit: float) -> str:
    """How long this host's resolver takes over ``name``, waiting at most ``limit`` seconds."""

    def lookup() -> None:
        with contextlib.suppress(OSError):
            socket.getaddrinfo(name, 9092)

    start = time.monotonic()
    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(limit)
    return f"still resolving after {limit:g} s" if thread.is_alive() else f"{time.monotonic() - start:.2f} s"


def assert_names_the_advertised_address(message: str, broker: Broker, why: tuple[str, ...]) -> None:
    assert message.startswith(
        f"the Kafka broker at {broker.bootstrap} answered, but it advertises itself as "
        f"{broker.advertised}, which this host cannot reach ("
    ), message
    assert any(f"cannot reach ({reason}" in message for reason in why), message
    assert FIX in message and "KAFKA_BOOTSTRAP_SERVERS (--bootstrap-servers)" in message, message
    assert "check KAFKA_BOOTSTRAP_SERVERS" not in message, message


def test_an_advertised_port_that_refuses_is_named_within_the_deadline(closed_port: Broker) -> None:
    error, elapsed = timed_failure(closed_port)
    assert isinstance(error, AdvertisedBrokerUnreachable), f"{type(error).__name__}: {error} after {elapsed:.2f} s"
    assert elapsed <= TIMEOUT + MARGIN, f"the read took {elapsed:.2f} s, its timeout is {TIMEOUT} s"
    assert_names_the_advertised_address(str(error), closed_port, ("connection refused",))
    assert error.unreachable == ((closed_port.advertised, "connection refused"),)


def test_an_advertised_name_that_does_not_resolve_is_named_within_the_deadline(unresolvable: Broker) -> None:
    # This machine's resolver may give up on .invalid at once or, without a network, hang for
    # many seconds: the read must end at its deadline either way (saying the name did not
    # resolve in time). The resolver's own time goes into the failure message.
    resolver = resolver_time(UNRESOLVABLE, TIMEOUT)
    error, elapsed = timed_failure(unresolvable)
    assert isinstance(error, AdvertisedBrokerUnreachable), f"{type(error).__name__}: {error} after {elapsed:.2f} s"
    assert elapsed <= TIMEOUT + MARGIN, f"the read took {elapsed:.2f} s (the resolver: {resolver})"
    assert_names_the_advertised_address(
        str(error), unresolvable, ("the name does not resolve", "the name did not resolve within")
    )


def test_status_shows_the_advertised_address_and_the_fix(closed_port: Broker, redis_url: str) -> None:
    k = closed_port.settings()
    start = time.monotonic()
    done = run_cli(
        "status",
        "--redis-url",
        redis_url,
        "--bootstrap-servers",
        k.bootstrap,
        "--topic",
        k.topic,
        "--group",
        k.group,
        "-w",
        "kafka",
        "--overlay",
        LOCAL,
        "--json",
        timeout=60,
    )
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["workloads"]
    assert_names_the_advertised_address(entry["error"], closed_port, ("connection refused",))
    (trigger,) = entry["triggers"]
    assert trigger["error"] == entry["error"] and entry["replicas"] is None
    assert elapsed < TIMEOUT + 10, f"status took {elapsed:.1f} s, Python's start-up included"


@pytest.mark.faults  # kafka-lag gives its read 10 s, so the diagnosis comes after 9
def test_kafka_lag_names_the_advertised_address_once(closed_port: Broker) -> None:
    k = closed_port.settings()
    done = run_cli("kafka-lag", "--bootstrap-servers", k.bootstrap, "--topic", k.topic, "--group", k.group, timeout=60)
    assert done.returncode == 2, done.stdout
    # One line, in words: not a traceback, nor librdkafka's log line per retry before it.
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    assert_names_the_advertised_address(line.removeprefix("Error: "), closed_port, ("connection refused",))


def test_the_autoscalers_reads_show_the_advertised_address_and_the_fix(unresolvable: Broker) -> None:
    k = unresolvable.settings()
    reads = ScalerReads(None, k, timeout=TIMEOUT)
    trigger = Trigger(name="lag", type="kafka", source=k.topic, target=5, activation=2)
    start = time.monotonic()
    try:
        assert reads.value(trigger) is None
    finally:
        reads.close()
    elapsed = time.monotonic() - start
    assert elapsed <= TIMEOUT + MARGIN, f"the read took {elapsed:.2f} s"
    assert_names_the_advertised_address(
        reads.errors[("kafka", k.topic)], unresolvable, ("the name does not resolve", "the name did not resolve within")
    )


# --- a reachable advertised address: fast when it answers, the deadline when it does not -------


class SlowRelay:
    """A TCP relay on a loopback port in front of a broker, forwarding Kafka requests frame by
    frame; a request whose API key is in ``delays`` is forwarded that many seconds late (never,
    for ``math.inf``): a broker this host reaches, answering slowly or not at all. The broker
    advertises the relay, so every request after the bootstrap metadata crosses it."""

    def __init__(self) -> None:
        self.target_port = 0
        #: API key → seconds each such request is held back.
        self.delays: dict[int, float] = {}
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="slow-relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:  # the broker's own start-up check comes before its port is known
                client.close()
                continue
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _exactly(sock: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while True:
                head = self._exactly(client, 4)
                body = self._exactly(client, struct.unpack(">i", head)[0])
                delay = self.delays.get(struct.unpack(">h", body[:2])[0], 0.0)
                if delay == math.inf:
                    continue
                time.sleep(delay)
                upstream.sendall(head + body)
        except OSError:
            pass
        finally:
            _hang_up(upstream)

    @staticmethod
    def _answers(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while chunk := upstream.recv(65536):
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            _hang_up(client)

    def stop(self) -> None:
        _hang_up(self._server)  # wakes the accept
        for sock in self._sockets:
            _hang_up(sock)


def _hang_up(sock: socket.socket) -> None:
    """Shut down, then close: the shutdown wakes a thread blocked reading the socket and tells the
    peer (a close alone does neither while that read is under way, and Tansu waits for its peers
    before it stops)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture(scope="module")
def relayed() -> Iterator[tuple[Broker, SlowRelay]]:
    relay = SlowRelay()
    with EmbeddedKafka(advertised=f"127.0.0.1:{relay.port}") as broker:
        try:
            relay.target_port = broker.port
            topic = f"topic-{uuid.uuid4().hex[:8]}"
            make_topic(broker.bootstrap, topic)
            yield Broker(broker.bootstrap, f"127.0.0.1:{relay.port}", topic), relay
        finally:
            relay.stop()  # first: Tansu waits for its open connections before it stops


def test_a_reachable_broker_reads_within_one_deadline_slow_or_stalled(relayed: tuple[Broker, SlowRelay]) -> None:
    broker, relay = relayed
    group = f"group-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": broker.bootstrap, "log_level": 0, "batch.num.messages": 1})
    for i in range(7):  # one record per batch: Tansu's high watermark counts batches (conftest)
        producer.produce(broker.topic, b"x", partition=i % 2)
    assert producer.flush(10) == 0
    committer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "log_level": 0})
    committer.commit(offsets=[TopicPartition(broker.topic, 0, 3)], asynchronous=False)
    committer.close()

    def read() -> tuple[list[PartitionOffsets], float]:
        start = time.monotonic()
        offsets = fetch_offsets(broker.bootstrap, group, broker.topic, {"log_level": "0"}, timeout=TIMEOUT)
        return offsets, time.monotonic() - start

    offsets, healthy = read()
    assert offsets[:2] == [PartitionOffsets(0, 4, 3), PartitionOffsets(1, 3, None)], offsets
    assert all(p.high_watermark == 0 and p.committed is None for p in offsets[2:]), offsets
    assert healthy < 1.0, f"a healthy read took {healthy:.2f} s"
    try:
        # Every watermark request answers a second late: read partition by partition, each
        # with the whole timeout, that was a second per partition, past the read's timeout.
        relay.delays[LIST_OFFSETS] = 1.0
        slow, elapsed = read()
        assert slow == offsets
        assert elapsed <= TIMEOUT + MARGIN, f"{len(offsets)} partitions took {elapsed:.2f} s (timeout {TIMEOUT} s)"
        # Never answered: the deadline ends the read, and since the advertised address is
        # reachable, librdkafka's own failure stands, not the diagnosis.
        relay.delays[LIST_OFFSETS] = math.inf
        start = time.monotonic()
        with pytest.raises(KafkaException) as caught:
            read()
        stalled = time.monotonic() - start
    finally:
        relay.delays.clear()
    assert not isinstance(caught.value, AdvertisedBrokerUnreachable), caught.value
    assert stalled <= TIMEOUT + MARGIN, f"a stalled read took {stalled:.2f} s, its timeout is {TIMEOUT} s"
