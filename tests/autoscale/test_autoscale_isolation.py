"""One workload's broken broker delays nothing of another's, as in KEDA, where each ScaledObject
and ScaledJob has a loop of its own and a scaler's timeout touches its own object alone.

Real servers of the tests' own: a Kafka broker that answers its bootstrap address but
advertises one nobody can reach (every lag read waits for offsets that cannot come), and a
Redis frozen with SIGSTOP for 30 s (every read of it waits for its socket timeout). Meanwhile
the other workloads must scale up and back to 0 with the actuation lag they have when nothing
is broken, and the state file must keep being rewritten (``status`` would call a silent
autoscaler stale after 10 s).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import Producer

from kedasuite.autoscale.actuator import read_state
from kedasuite.core.clients import ensure_topic, kafka_admin
from kedasuite.core.embedded import EmbeddedKafka, EmbeddedRedis
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE
from kedasuite.core.settings import KafkaSettings
from tests.support import AutoscalerWatch, Proc, refused_port, wait_for
from tests.support import pump as pump_records
from tests.support.autoscaler import (
    START_MARGIN_S,
    TIMINGS,
    WORKER_ENV,
    changes,
    grace_of,
    missing,
    no_sigkill,
    stop,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration]

#: The longest a model step may wait for the backend to act on it (the processes backend acts
#: within the pass that took the step: milliseconds, a few hundred on a loaded machine).
LAG_BOUND_S = 2.0
#: The longest the state file may go unwritten: well under the 10 s after which ``status``
#: calls the autoscaler stale, and well over its 0.5 s rhythm on a loaded machine.
STATE_GAP_BOUND_S = 5.0
OUTAGE_S = 30.0
LAG_LINE = re.compile(r"(\w+) median ([\d.]+) s, max ([\d.]+) s over (\d+)")


def make_topic(bootstrap: str, topic: str) -> None:
    """Create ``topic`` on a broker of our own that advertises an unreachable address, through a
    metadata request on the bootstrap connection (Tansu creates it then): a CreateTopics request
    would go to the advertised address. The shared broker gets CreateTopics (``ensure_topic``)."""
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 0})
    meta = producer.list_topics(topic, timeout=10).topics[topic]
    assert meta.error is None and meta.partitions, meta


@dataclass
class StateSampler:
    """Reads ``state.json`` every 50 ms in a thread: each distinct write (its ``time``), so the
    longest the autoscaler left it unwritten is known, and the workloads it showed."""

    run_dir: Path
    writes: list[float] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, set[str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._sample, name="state sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            state = read_state(self.run_dir)
            if not state or "stopping" in state:
                continue
            written = datetime.fromisoformat(state["time"]).timestamp()
            if not self.writes or written > self.writes[-1]:
                self.writes.append(written)
                self.last = state
                for w in state["workloads"]:
                    self.errors.setdefault(w["workload"], set()).update(w["read_errors"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.writes, self.writes[1:])), default=float("inf"))

    def entry(self, workload: str) -> dict[str, Any]:
        return next((w for w in self.last.get("workloads", []) if w["workload"] == workload), {})


def start(spawn: Callable[..., Proc], redis_url: str, kafka: KafkaSettings, directory: Path) -> Proc:
    proc = spawn(
        "autoscale",
        "--redis-url",
        redis_url,
        "--bootstrap-servers",
        kafka.bootstrap,
        "--topic",
        kafka.topic,
        "--group",
        kafka.group,
        "--run-dir",
        str(directory),
        *TIMINGS,
        env=WORKER_ENV,
    )
    proc.wait_for_log(r"autoscale: backend processes", timeout=START_MARGIN_S)
    return proc


def lags(log: str) -> dict[str, tuple[float, float, int]]:
    """The autoscaler's closing line: per workload, the actuation lag's median, max and count."""
    line = next((ln for ln in log.splitlines() if "actuation lag" in ln), "")
    return {w: (float(med), float(most), int(n)) for w, med, most, n in LAG_LINE.findall(line)}


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    try:
        yield server
    finally:
        server.thaw()
        server.stop()


@pytest.fixture(params=["healthy", "advertised-unreachable"])
def kafka_beside(request: pytest.FixtureRequest, kafka: KafkaSettings) -> Iterator[tuple[str, KafkaSettings, str]]:
    """The Kafka the autoscaler reads beside the Redis workloads, and the address it advertises:
    the shared broker, or a broker of this test's own that advertises a closed loopback port."""
    if request.param == "healthy":
        ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, kafka.partitions, kafka.replication)
        yield request.param, kafka, kafka.bootstrap
        return
    advertised = f"127.0.0.1:{refused_port()}"
    with EmbeddedKafka(advertised=advertised) as broker:
        broken = KafkaSettings(bootstrap=broker.bootstrap, topic=kafka.topic, group=kafka.group)
        make_topic(broken.bootstrap, broken.topic)
        yield request.param, broken, advertised


def test_redis_workloads_scale_on_time_beside_any_kafka(spawn, own_redis, kafka_beside, run_dir) -> None:  # noqa: F811
    """Celery, RQ and the work queue go 0 → N → 0 with the same actuation lag whether the Kafka
    beside them works or hangs every read; the Kafka workload's read error says what is wrong."""
    case, kafka, advertised = kafka_beside
    auto = start(spawn, own_redis.url, kafka, run_dir)
    watch = AutoscalerWatch(auto, run_dir)
    sampler = StateSampler(run_dir)
    client = redis.Redis.from_url(own_redis.url)
    try:
        counts = {WORKLOAD_CELERY: 12, WORKLOAD_RQ: 12, WORKLOAD_WORKQUEUE: 6}
        by_workload = {w: pump_records(w, n, redis_url=own_redis.url) for w, n in counts.items()}
        ids = [i for workload_ids in by_workload.values() for i in workload_ids]

        from kedasuite.core.results import fetch_results

        def not_back() -> list[str]:
            seen = changes(auto.log())
            return [
                w
                for w in counts
                if not (
                    any(a > 0 for _, a in seen.get(w, []))
                    and sampler.entry(w).get("actual") == 0
                    and sampler.entry(w).get("model") == 0
                )
            ]

        wait_for(
            lambda: len(fetch_results(client, ids)) == len(ids),
            1 + 1 + START_MARGIN_S + 12 * 0.2,
            f"all {len(ids)} records processed",
            seen=lambda: f"{missing(client, kafka, by_workload)}\n{watch.report()}",
        )
        wait_for(
            lambda: not not_back(),
            3 + 1 + 2 + 1 + grace_of(run_dir) + START_MARGIN_S,
            "celery, rq and workqueue scaled up and back at 0",
            seen=lambda: f"not yet: {', '.join(not_back())}\n{watch.report()}",
        )
        kafka_errors = sampler.errors.get(WORKLOAD_KAFKA, set())
        gap = sampler.longest_gap()
    finally:
        sampler.close()
        client.close()
    log = stop(watch, 30)
    no_sigkill(watch, log)
    measured = lags(log)
    print(f"\n{case} Kafka beside: actuation lag {measured}; state rewritten at least every {gap:.2f} s")
    for workload in counts:
        assert workload in measured, f"no actuation lag for {workload}:\n{log}"
        median, most, _n = measured[workload]
        assert most <= LAG_BOUND_S, (
            f"{workload}: a model step waited {most:.2f} s for the backend with a "
            f"{case} Kafka beside it (bound {LAG_BOUND_S:g} s)\n{watch.report()}"
        )
    assert gap <= STATE_GAP_BOUND_S, f"state.json went {gap:.1f} s unwritten ({case} Kafka)\n{watch.report()}"
    if case == "healthy":
        assert not kafka_errors, kafka_errors
    else:
        said = " ".join(kafka_errors)
        assert advertised in said and "cannot reach" in said, (
            f"the Kafka read error does not name the advertised {advertised} it cannot reach: {kafka_errors}"
        )


def test_a_redis_outage_leaves_the_kafka_workload_scaling(
    spawn,
    own_redis,
    kafka,
    run_dir,  # noqa: F811
    monkeypatch,
) -> None:
    """Redis frozen for 30 s: every read of it hangs until its deadline, and the Kafka workload
    (read from the broker alone) still scales up on time, the state file still fresh."""
    # A consumer saving a result waits out the outage inside its handler. On Tansu the tests'
    # max.poll.interval.ms (10 s, a bound on Tansu's rebalances) would evict it mid-outage, and
    # Tansu can hold the rejoin that follows past this test's deadline (seen once in 4 soak
    # runs); the product's default is 300 s, so outlasting the outage is what users get.
    monkeypatch.setenv("KAFKA_CONSUMER_CONFIG_MAX_POLL_INTERVAL_MS", str(int(2 * OUTAGE_S * 1000)))
    ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, kafka.partitions, kafka.replication)
    auto = start(spawn, own_redis.url, kafka, run_dir)
    watch = AutoscalerWatch(auto, run_dir)
    wait_for(lambda: read_state(run_dir) is not None, 10, "the autoscaler's first state", seen=watch.report)
    sampler = StateSampler(run_dir)
    own_redis.freeze()
    frozen_at = time.monotonic()
    try:
        ids = pump_records(WORKLOAD_KAFKA, 6, kafka=kafka)  # the Kafka pump alone: Redis is not touched

        def kafka_up() -> bool:
            return any(a > 0 for _, a in changes(auto.log()).get(WORKLOAD_KAFKA, []))

        wait_for(
            kafka_up,
            1 + 1 + 5,
            "the Kafka workload scaled up while Redis was frozen",
            seen=lambda: f"Redis frozen {time.monotonic() - frozen_at:.1f} s ago\n{watch.report()}",
        )
        up_after = time.monotonic() - frozen_at
        wait_for(
            lambda: WORKLOAD_CELERY in sampler.errors and sampler.errors[WORKLOAD_CELERY],
            10,
            "celery's reads of the frozen Redis reported as failing",
            seen=watch.report,
        )
        # The outage lasts its 30 s; the state must stay fresh through all of it.
        wait_for(
            lambda: time.monotonic() - frozen_at >= OUTAGE_S, OUTAGE_S + 5, f"{OUTAGE_S:g} s of outage", interval=0.5
        )
        gap = sampler.longest_gap()
        during = sampler.entry(WORKLOAD_KAFKA)
    finally:
        own_redis.thaw()
        sampler.close()
    client = redis.Redis.from_url(own_redis.url)
    try:
        from kedasuite.core.results import fetch_results

        wait_for(
            lambda: len(fetch_results(client, ids)) == len(ids),
            START_MARGIN_S + 30,
            "the Kafka records processed once Redis is back",
            seen=lambda: f"{missing(client, kafka, {WORKLOAD_KAFKA: ids})}\n{watch.report()}",
        )
    finally:
        client.close()
    log = stop(watch, grace_of(run_dir) + 30)
    measured = lags(log)
    print(
        f"\nRedis frozen {OUTAGE_S:g} s: Kafka scaled up {up_after:.1f} s into it; actuation lag {measured}; "
        f"state rewritten at least every {gap:.2f} s"
    )
    assert during.get("model", 0) >= 1, f"the Kafka workload was not up during the outage: {during}"
    assert gap <= STATE_GAP_BOUND_S, f"state.json went {gap:.1f} s unwritten while Redis was frozen\n{watch.report()}"
    assert WORKLOAD_KAFKA in measured and measured[WORKLOAD_KAFKA][1] <= LAG_BOUND_S, (
        f"the Kafka workload's actuation lag while Redis was frozen: {measured}\n{log}"
    )


def test_one_deadline_bounds_all_the_reads_of_a_poll(own_redis) -> None:
    """A frozen Redis: the poll's four reads end together at its one deadline (each read alone
    would wait for the socket timeout); a read stuck past its deadline is not started again."""
    from kedasuite.keda.reads import DEADLINE_SLACK_S, ScalerReads
    from kedasuite.keda.rules.spec import Trigger

    keys = ["celery", "unacked", "rq:queue:default", "rq:wip:default"]
    triggers = [Trigger(k, "redis", k, 1.0, 0.0) for k in keys]
    reads = ScalerReads(own_redis.url, None, timeout=1.0)
    try:
        assert [reads.value(t) for t in triggers] == [0.0] * 4, reads.errors
        own_redis.freeze()
        began = time.monotonic()
        deadline = reads.deadline()
        values = [reads.value(t, deadline) for t in triggers]
        spent = time.monotonic() - began
        assert values == [None] * 4, values
        assert spent <= 1.0 + DEADLINE_SLACK_S, f"four reads of a frozen Redis took {spent:.2f} s: {reads.errors}"
        assert "cannot reach Redis" in reads.errors[("redis", "celery")], reads.errors
        assert "deadline was spent" in reads.errors[("redis", "rq:wip:default")], reads.errors
    finally:
        reads.close()
    slow = ScalerReads(own_redis.url, None, timeout=5.0)  # a socket timeout longer than the poll's deadline
    try:
        began = time.monotonic()
        assert slow.value(triggers[0], time.monotonic() + 0.5) is None
        spent = time.monotonic() - began
        assert spent <= 0.5 + DEADLINE_SLACK_S + 0.3, f"a read given 0.5 s took {spent:.2f} s"
        assert "no answer within 0.5 s" in slow.errors[("redis", "celery")], slow.errors
        assert slow.value(triggers[0], time.monotonic() + 0.5) is None
        assert "previous read has not answered" in slow.errors[("redis", "celery")], slow.errors
    finally:
        own_redis.thaw()
        slow.close()
