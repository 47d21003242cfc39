"""Benchmarks of the pumps, each printed as a ratio to a baseline measured in the same run.

Run with ``scripts/bench``. Uses ``REDIS_URL`` if set, else an embedded redis-server.
Speed is measured here, never in the tests. ``--only autoscale``: each workload from 0
through the local autoscaler on embedded brokers, against a fixed pool (docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kedasuite.core.embedded import EmbeddedRedis  # noqa: E402
from kedasuite.core.names import CELERY_QUEUE, CELERY_TASK, RQ_QUEUE  # noqa: E402
from kedasuite.producers.celery_publisher import CeleryMessageEncoder  # noqa: E402
from kedasuite.producers.records import RecordFactory  # noqa: E402


def lpush_baseline(client: redis.Redis, count: int, size: int, batch: int = 1000) -> float:
    """(a) redis-py pipelined LPUSH, one command per item, payloads of the pump's size."""
    payload = b"x" * size
    start = time.perf_counter()
    for offset in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for _ in range(min(batch, count - offset)):
            pipe.lpush("bench:baseline", payload)
        pipe.execute()
    elapsed = time.perf_counter() - start
    assert client.llen("bench:baseline") == count
    client.delete("bench:baseline")
    return count / elapsed


def multi_value_lpush(client: redis.Redis, count: int, size: int, batch: int = 1000) -> float:
    """(a2) the transport's ceiling: one LPUSH carrying ``batch`` values per round trip."""
    values = [b"x" * size] * batch
    start = time.perf_counter()
    for offset in range(0, count, batch):
        client.lpush("bench:baseline", *values[: min(batch, count - offset)])
    elapsed = time.perf_counter() - start
    assert client.llen("bench:baseline") == count
    client.delete("bench:baseline")
    return count / elapsed


def naive_loop(url: str, count: int) -> float:
    """(b) the naive producer: a fresh Faker record and one ``send_task`` per item."""
    from celery import Celery
    from faker import Faker

    app = Celery(broker=url)
    fake = Faker()
    start = time.perf_counter()
    for n in range(count):
        record = {"id": f"naive-{n}", "name": fake.name(), "email": fake.email(), "address": fake.address()}
        app.send_task(CELERY_TASK, args=[record], ignore_result=True)
    elapsed = time.perf_counter() - start
    client = redis.Redis.from_url(url)
    assert client.llen(CELERY_QUEUE) == count
    client.delete(CELERY_QUEUE)
    return count / elapsed


#: Runs the CLI in-process and reports the process's peak RSS on exit. VmHWM, not
#: getrusage: Linux carries ru_maxrss across fork and exec, so a child of this (large)
#: benchmark process would report the parent's size.
_PUMP_WITH_PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
    "    print('peak-kb', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from kedasuite.cli import main\n"
    "main(sys.argv[1:], prog_name='kedasuite')\n"
)


def cli_pump(url: str, count: int) -> tuple[float, float, float]:
    """The CLI pump as users run it: (its reported publish rate, wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _PUMP_WITH_PEAK,
            "pump",
            "celery",
            "--count",
            str(count),
            "--redis-url",
            url,
            "--no-progress",
            "--max-count",
            str(count),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"pump failed: {proc.stdout} {proc.stderr}")
    match = re.search(r"sent (\d+), failed 0 in [\d.]+ s \(([\d,]+) msgs/s\)", proc.stdout)
    assert match and int(match.group(1)) == count, proc.stdout
    peak = re.search(r"peak-kb (\d+)", proc.stderr)
    assert peak, proc.stderr
    return float(match.group(2).replace(",", "")), wall, int(peak.group(1)) / 1024


def kafka_raw(bootstrap: str, topic: str, payloads: list[tuple[str, str]]) -> float:
    """(c) a raw confluent-kafka loop producing pre-built payloads, same producer settings."""
    from confluent_kafka import Producer

    from kedasuite.producers.kafka_publisher import PRODUCER_BASE

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_BASE})
    start = time.perf_counter()
    for key, value in payloads:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    return len(payloads) / (time.perf_counter() - start)


def kafka_pump(bootstrap: str, topic: str, count: int) -> float:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedasuite",
            "pump",
            "kafka",
            "--count",
            str(count),
            "--workloads",
            "kafka",
            "--bootstrap-servers",
            bootstrap,
            "--topic",
            topic,
            "--no-progress",
            "--max-count",
            str(count),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    match = re.search(r"sent (\d+), failed 0 in [\d.]+ s \(([\d,]+) msgs/s\)", proc.stdout)
    if proc.returncode or not match or int(match.group(1)) != count:
        raise SystemExit(f"kafka pump failed: {proc.stdout} {proc.stderr}")
    return float(match.group(2).replace(",", ""))


def kafka_raw_consume(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    """(g) a bare confluent-kafka Consumer draining ``topic`` with a fresh group: no processing,
    librdkafka's auto commit, the same session timeout as :func:`kafka_drain`. Timed the same
    way: records per second from the first record to the consumer closed (its final commit and
    its leave included), and to the last record."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-raw",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": int(os.environ.get("KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS", 6000)),
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe([topic])
    first: float | None = None
    seen = 0
    deadline = time.monotonic() + 300
    while seen < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"raw consumer: only {seen:,} of {count:,} records of {topic} in 300 s")
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        if first is None:
            first = time.perf_counter()
        seen += 1
    last = time.perf_counter()
    consumer.close()
    assert first is not None
    return (count - 1) / (time.perf_counter() - first), (count - 1) / (last - first)


def kafka_drain(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    """One consumer, zero work time, at-least-once commits: records per second from the first
    record to ``run()`` returned (everything committed, the group left), and to the last record."""
    from kedasuite.core.settings import KafkaSettings
    from kedasuite.core.worktime import parse_work_time
    from kedasuite.workers.kafka_consumer import KafkaWorker

    class TimedWorker(KafkaWorker):
        first: float | None = None
        last: float = 0.0

        def handle(self, msg):  # type: ignore[no-untyped-def]
            if self.first is None:
                self.first = time.perf_counter()
            super().handle(msg)
            self.last = time.perf_counter()

    os.environ.setdefault("KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS", "6000")
    worker = TimedWorker(
        KafkaSettings(bootstrap=bootstrap, topic=topic, group=f"{topic}-drain"), parse_work_time("0"), redis_url=None
    )
    worker.run(max_messages=count)
    assert worker.first is not None and worker.counters.processed == count
    return (count - 1) / (time.perf_counter() - worker.first), (count - 1) / (worker.last - worker.first)


def bench_kafka(count: int, drain_count: int) -> None:
    from kedasuite.core.embedded import embedded_kafka
    from kedasuite.workers.kafka_consumer import COMMIT_INTERVAL_S

    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        where = bootstrap
        if not bootstrap:
            broker = stack.enter_context(embedded_kafka())
            bootstrap, where = broker.bootstrap, f"embedded {broker.describe()}"
        records = list(RecordFactory(seed=2).records(count, "raw00000"))
        payloads = [(r.id, r.json) for r in records]
        del records
        suffix = str(int(time.time()))
        print(f"Kafka: {where}; record size: {len(payloads[0][1])} bytes")
        rate_c = kafka_raw(bootstrap, f"bench-raw-{suffix}", payloads)
        print(f"(c) raw confluent-kafka loop, pre-built payloads, {count:,}: {rate_c:10,.0f} msgs/s")
        rate_k = kafka_pump(bootstrap, f"bench-pump-{suffix}", count)
        print(f"    kedasuite pump kafka, {count:,} items:            {rate_k:10,.0f} msgs/s")
        print(f"pump / (c) = {rate_k / rate_c:6.1%}   (target >= 50%)")
        drain_topic = f"bench-drain-{suffix}"
        kafka_pump(bootstrap, drain_topic, drain_count)
        raw, raw_last = kafka_raw_consume(bootstrap, drain_topic, drain_count)
        print(
            f"(g) raw confluent-kafka consumer, fresh group, no processing, auto commit, {drain_count:,} records: "
            f"{raw:10,.0f} records/s (to the last record: {raw_last:,.0f})"
        )
        rate_d, rate_last = kafka_drain(bootstrap, drain_topic, drain_count)
        print(
            f"    one consumer draining {drain_count:,} records, zero work time, offsets committed every "
            f"{COMMIT_INTERVAL_S * 1000:g} ms: {rate_d:10,.0f} records/s (to the last record: {rate_last:,.0f})"
        )
        print(
            f"drain / (g) = {rate_d / raw:6.1%}   (to the last record: {rate_last / raw_last:.1%}; "
            "timed from the first record to the consumer closed, final commit included)"
        )


def ping_rtt(client: redis.Redis, count: int = 20_000) -> float:
    """The round-trip floor: seconds per sequential PING."""
    start = time.perf_counter()
    for _ in range(count):
        client.ping()
    return (time.perf_counter() - start) / count


def workqueue_rate(url: str, count: int) -> float:
    """(d) one Job runner, zero work time: lease + complete-and-record per item."""
    from kedasuite.core.worktime import WorkTime
    from kedasuite.jobs.runner import Runner
    from kedasuite.jobs.workqueue import WorkQueue
    from kedasuite.producers.workqueue_publisher import WorkQueuePublisher

    publisher = WorkQueuePublisher(url)
    for offset in range(0, count, 1000):
        publisher.publish(list(RecordFactory(seed=offset).records(min(1000, count - offset), "wqb", offset + 1)))
    publisher.close()
    client = redis.Redis.from_url(url)
    runner = Runner(WorkQueue(client), WorkTime(0, 0), idle_timeout=0)
    start = time.perf_counter()
    summary = runner.run()
    elapsed = time.perf_counter() - start
    assert summary.processed == count, summary
    return count / elapsed


#: A Celery worker on kombu's stock Redis transport (BRPOP, then HSET unacked): the
#: baseline for the suite's atomic fetch.
STOCK_CELERY_WORKER = (
    "from kedasuite.workers.celery_app import app, worker_argv; app.conf.broker_transport = 'redis'; "
    "app.worker_main(worker_argv(1, 'WARNING', 'stock@%h'))"
)


def stock_worker(workload: str, url: str) -> list[str]:
    """The library's own worker for ``workload``: Celery on kombu's stock transport; RQ's
    ``rq worker`` (whose work horses import the task module for every job)."""
    if workload == "celery":
        return [sys.executable, "-c", STOCK_CELERY_WORKER]
    return [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", url, "--logging_level", "WARNING", RQ_QUEUE]


def drain_rate(url: str, workload: str, count: int, stock: bool = False) -> float:
    """A worker with zero work time draining ``count`` records pumped before it started:
    records per second between the first and the last result it wrote. ``stock``: the
    library's own worker (:func:`stock_worker`) instead of the suite's."""
    from datetime import datetime

    from kedasuite.core.results import fetch_results
    from kedasuite.producers.records import record_ids

    prefix = f"drain{workload}{'stock' if stock else ''}"
    pumped = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedasuite",
            "pump",
            workload,
            "--count",
            str(count),
            "--id-prefix",
            prefix,
            "--workloads",
            workload,
            "--redis-url",
            url,
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if pumped.returncode:
        raise SystemExit(pumped.stderr)
    worker_args = {"celery": ["--concurrency", "1"], "rq": ["--burst"]}[workload]
    command = (
        stock_worker(workload, url)
        if stock
        else [
            sys.executable,
            "-m",
            "kedasuite",
            "worker",
            workload,
            "--redis-url",
            url,
            "--work-time",
            "0",
            "--loglevel",
            "WARNING",
            *worker_args,
        ]
    )
    worker = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "REDIS_URL": url, "WORK_TIME": "0"},
    )
    client = redis.Redis.from_url(url)
    ids = record_ids(count, prefix)
    deadline = time.monotonic() + 600
    while len(results := fetch_results(client, ids)) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    worker.terminate()
    worker.wait(60)
    stamps = sorted(datetime.fromisoformat(r.processed_at) for r in results.values())
    assert len(stamps) == count, f"{workload}: only {len(stamps)} of {count} processed"
    return (count - 1) / (stamps[-1] - stamps[0]).total_seconds()


def bench_redis_workers(url: str, wq_count: int, drain_count: int) -> None:
    client = redis.Redis.from_url(url)
    rtt = ping_rtt(client)
    print(f"Redis round trip (sequential PING): {rtt * 1e6:,.0f} us")
    rate_d = workqueue_rate(url, wq_count)
    per_item = 1 / rate_d
    print(
        f"(d) work-queue runner, zero work, {wq_count:,} items: {rate_d:10,.0f} items/s = "
        f"{per_item / rtt:.1f} round trips per item (target <= 4)"
    )
    stock = drain_rate(url, "celery", drain_count, stock=True)
    print(
        f"(e) celery worker on kombu's stock transport (1 process), zero work, {drain_count:,} records: "
        f"{stock:10,.0f} records/s"
    )
    rate = drain_rate(url, "celery", drain_count)
    print(
        f"    celery worker (1 process), zero work, {drain_count:,} records: {rate:10,.0f} records/s = "
        f"{rate / stock:.2f} x (e), the atomic fetch's cost"
    )
    stock_rq = drain_rate(url, "rq", drain_count, stock=True)
    print(f"(f) RQ's own rq worker (1 process), zero work, {drain_count:,} records: {stock_rq:10,.0f} records/s")
    rate = drain_rate(url, "rq", drain_count)
    print(
        f"    rq worker (1 process), zero work, {drain_count:,} records: {rate:10,.0f} records/s = "
        f"{rate / stock_rq:.2f} x (f), the task preloaded before the work horses fork"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="items for the pump and baseline (a)")
    parser.add_argument("--naive-count", type=int, default=5_000, help="items for the naive loop (b)")
    parser.add_argument("--rss-count", type=int, default=1_000_000, help="items for the peak-RSS run (0: skip)")
    parser.add_argument("--kafka-count", type=int, default=200_000, help="records for the Kafka pump and raw loop")
    # 50,000: at tens of thousands of records a second (hundreds of thousands for (g)), 5,000 take
    # about as long as a consumer's close (leaving the group), which both drain figures include.
    parser.add_argument(
        "--drain-count", type=int, default=50_000, help="records for the consumer drain rate and its baseline (g)"
    )
    parser.add_argument("--wq-count", type=int, default=20_000, help="items for the work-queue runner")
    parser.add_argument("--worker-drain-count", type=int, default=2_000, help="records for Celery/RQ drain rates")
    parser.add_argument("--autoscale-count", type=int, default=100, help="records pumped per workload (autoscale)")
    parser.add_argument(
        "--autoscale-workloads",
        default="celery,kafka,rq,workqueue",
        help="comma-separated workloads for the autoscale group",
    )
    parser.add_argument(
        "--autoscale-warmup",
        type=float,
        default=15.0,
        help="seconds the fixed pool (the autoscale baseline) runs before the pump",
    )
    parser.add_argument("--autoscale-timeout", type=float, default=120.0, help="seconds per autoscale run")
    parser.add_argument(
        "--only", choices=["pump", "kafka", "workers", "pacing", "autoscale"], default=None, help="run one group"
    )
    args = parser.parse_args()
    if args.only == "autoscale":
        bench_autoscale(
            args.autoscale_count, args.autoscale_workloads.split(","), args.autoscale_warmup, args.autoscale_timeout
        )
        return
    if args.only in (None, "kafka"):
        bench_kafka(args.kafka_count, args.drain_count)
    if args.only == "kafka":
        return

    server = None
    url = os.environ.get("REDIS_URL")
    if not url:
        server = EmbeddedRedis().start()
        url = server.url
    client = redis.Redis.from_url(url)
    cleanup(client)
    try:
        if args.only in (None, "pump"):
            bench_celery_pump(url, client, args.count, args.naive_count, args.rss_count)
        if args.only in (None, "workers"):
            bench_redis_workers(url, args.wq_count, args.worker_drain_count)
        if args.only in (None, "pacing"):
            bench_pacing(url, client)
    finally:
        cleanup(client)
        client.close()
        if server:
            server.stop()
    if args.only is None:
        bench_autoscale(
            args.autoscale_count, args.autoscale_workloads.split(","), args.autoscale_warmup, args.autoscale_timeout
        )


def cleanup(client: redis.Redis) -> None:
    """Delete what the benchmarks wrote (never FLUSHDB: REDIS_URL may hold someone's data)."""
    client.delete(CELERY_QUEUE, "bench:baseline", "unacked", "unacked_index")
    for pattern in ("users:drain*", "users:wqb-*", "rq:*", "job", "job:*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for offset in range(0, len(keys), 1000):
            client.delete(*keys[offset : offset + 1000])


def bench_celery_pump(url: str, client: redis.Redis, count: int, naive_count: int, rss_count: int) -> None:
    size = len(CeleryMessageEncoder().encode(next(RecordFactory(seed=1).records(1, "bench0000"))))
    print(f"Redis: {url}; message size: {size} bytes")
    rate_a = lpush_baseline(client, count, size)
    print(f"(a) redis-py pipelined LPUSH, {count:,} items:        {rate_a:10,.0f} msgs/s")
    rate_a2 = multi_value_lpush(client, count, size)
    print(f"(a2) one LPUSH of 1,000 values per round trip:       {rate_a2:10,.0f} msgs/s")
    rate_b = naive_loop(url, naive_count)
    print(f"(b) naive Faker + send_task loop, {naive_count:,} items:   {rate_b:10,.0f} msgs/s")
    rate_p, wall, _ = cli_pump(url, count)
    client.delete(CELERY_QUEUE)
    print(
        f"    kedasuite pump celery, {count:,} items:          {rate_p:10,.0f} msgs/s "
        f"({wall:.2f} s wall, process start included)"
    )
    print(f"pump / (a) = {rate_p / rate_a:6.1%}   (target >= 20%)")
    print(f"pump / (a2) = {rate_p / rate_a2:6.1%}  (target >= 20%; raw bytes, no encoding: the ceiling)")
    print(f"pump / (b) = {rate_p / rate_b:6.1f}x  (target >= 10x)")
    if rss_count:
        _, wall, rss = cli_pump(url, rss_count)
        client.delete(CELERY_QUEUE)
        print(f"peak RSS of the pump for {rss_count:,} items: {rss:.0f} MB in {wall:.1f} s (target < 200 MB)")


def bench_pacing(url: str, client: redis.Redis, seconds: float = 3.0) -> None:
    """Paced pumps: the achieved rate against the asked one, up to the pump's unpaced capacity.

    The capacity is measured first, in the same process and on the same server (an
    unpaced run of the engine); each paced run then asks for a rate for ``seconds``.
    """
    from kedasuite.producers.celery_publisher import CeleryPublisher
    from kedasuite.producers.engine import new_run, pump_stream
    from kedasuite.producers.profiles import steady

    def run(count: int, profile: object = None) -> object:
        publisher = CeleryPublisher(url)
        try:
            stream = new_run(count, ["celery"], 1, None, profile).streams[0]  # type: ignore[arg-type]
            pump_stream(publisher, RecordFactory(1), stream, 1000)
        finally:
            publisher.close()
            client.delete(CELERY_QUEUE)
        return stream

    capacity = run(50_000).rate  # type: ignore[attr-defined]
    print(f"unpaced engine, 50,000 items:                       {capacity:10,.0f} msgs/s (the capacity)")
    print("asked/s     achieved/s   achieved/asked   summary")
    for asked in (100, 1_000, 10_000, round(capacity * 0.5, -2), round(capacity * 0.9, -2), round(capacity * 1.5, -2)):
        shape = steady(asked, seconds)
        stream = run(shape.total, shape)
        note = stream.pace_note() or "kept up"  # type: ignore[attr-defined]
        print(f"{asked:10,.0f}  {stream.rate:11,.0f}   {stream.rate / asked:14.1%}   {note}")  # type: ignore[attr-defined]


# --- autoscale: a step load through the local autoscaler (issue 15) ---------------------------------


class _RecordingBackend:
    """A :class:`ProcessBackend` that notes when the actual count changes (Jobs running for a ScaledJob)."""

    def __init__(self, inner: Any, target: Any) -> None:
        self.inner, self.target, self.name = inner, target, inner.name
        self.changes: list[tuple[float, int]] = []  # (monotonic time, actual count)

    def _note(self) -> None:
        jobs = self.inner.jobs(self.target)
        n = jobs[0] if self.target.is_job and jobs is not None else self.inner.replicas(self.target)
        if not self.changes or self.changes[-1][1] != n:
            self.changes.append((time.monotonic(), n))

    def replicas(self, target: Any) -> int:
        return self.inner.replicas(target)

    def jobs(self, target: Any) -> tuple[int, int] | None:
        return self.inner.jobs(target)

    def ready(self, target: Any) -> int | None:
        return self.inner.ready(target)

    def scale(self, target: Any, replicas: int, reason: str) -> None:
        self.inner.scale(target, replicas, reason)
        self._note()

    def create_jobs(self, target: Any, count: int) -> None:
        self.inner.create_jobs(target, count)
        self._note()

    def refresh(self) -> None:
        self.inner.refresh()
        self._note()

    def close(self) -> None:
        self.inner.close()

    def describe(self, target: Any) -> dict[str, Any]:
        return self.inner.describe(target)


def _pump(workload: str, brokers: Any, count: int) -> list[str]:
    """Publish ``count`` records at once, as the demo does; their ids."""
    from kedasuite.producers.engine import new_run, pump_stream
    from kedasuite.producers.records import record_ids
    from kedasuite.producers.workloads import make_publisher

    publisher = make_publisher(workload, brokers)
    publisher.check()
    stream = pump_stream(publisher, RecordFactory(), new_run(count, [workload], None).streams[0], 1000)
    publisher.close()
    if stream.failed:
        raise SystemExit(f"pumping {workload} failed: {stream.error}")
    return record_ids(count, stream.id_prefix)


def _wait_results(client: redis.Redis, ids: list[str], deadline: float, also: Any = None) -> dict[str, Any]:
    """Poll the results until every id has one (and ``also()`` holds) or the deadline passes."""
    from kedasuite.core.results import fetch_results

    results = fetch_results(client, ids)
    while (len(results) < len(ids) or (also is not None and not also())) and time.monotonic() < deadline:
        time.sleep(0.1)
        if len(results) < len(ids):
            results = fetch_results(client, ids)
    return results


def _stamps(results: dict[str, Any], since_wall: float) -> list[float]:
    """Seconds from ``since_wall`` to each record's ``processed_at``, sorted."""
    from datetime import datetime

    return sorted(datetime.fromisoformat(r.processed_at).timestamp() - since_wall for r in results.values())


def _lags_from_timelines(model: list[tuple[float, int]], actual: list[tuple[float, int]]) -> list[float]:
    """Per change of the model's count: seconds until the actual count equals it (skipped when the
    model moved again first)."""
    lags = []
    for i, (t, want) in enumerate(model):
        until = model[i + 1][0] if i + 1 < len(model) else float("inf")
        before = [n for at, n in actual if at <= t]
        if before and before[-1] == want:
            lags.append(0.0)
            continue
        reached = next((at for at, n in actual if t < at <= until and n == want), None)
        if reached is not None:
            lags.append(reached - t)
    return lags


def _autoscaled_run(
    target: Any,
    options: Any,
    env: Any,
    brokers: Any,
    client: redis.Redis,
    count: int,
    timeout: float,
    beside: Any = None,
) -> dict[str, Any]:
    """One workload from 0 under the autoscaler: pump ``count`` at once, wait until drained and back at 0.

    ``beside``: (another target, the Kafka settings its reads use) the same autoscaler follows too."""
    import statistics
    import tempfile
    import threading

    from kedasuite.autoscale.actuator import STATE_FILE, Actuator, read_state
    from kedasuite.autoscale.processes import ProcessBackend
    from kedasuite.keda.reads import ScalerReads

    model: list[tuple[float, int]] = []  # (monotonic time, the model's count), each change

    class RecordingActuator(Actuator):
        def line(self, tgt: Any, step: Any) -> str:
            if tgt is target:
                model.append((self.t0 + step.t, step.replicas))
            return super().line(tgt, step)

    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kedasuite-bench-") as tmp:
        run_dir = Path(tmp)
        backend = _RecordingBackend(
            ProcessBackend(run_dir, env, {target.name: target.grace_seconds}, emit=lines.append), target
        )
        reads = ScalerReads(brokers.redis_url, beside[1] if beside else brokers.kafka)
        actuator = RecordingActuator(
            [target, *([beside[0]] if beside else [])],
            reads,
            backend,
            options,
            emit=lines.append,
            state_path=run_dir / STATE_FILE,
        )
        stop = threading.Event()
        loop = threading.Thread(target=actuator.run, args=(stop,), name="autoscale", daemon=True)
        loop.start()
        try:
            deadline = time.monotonic() + timeout
            while read_state(run_dir) is None and time.monotonic() < deadline:
                time.sleep(0.1)  # the first pass, at 0
            pump_mono, pump_wall = time.monotonic(), time.time()
            ids = _pump(target.name, brokers, count)

            def at_zero() -> bool:
                entry = ((read_state(run_dir) or {}).get("workloads") or [{}])[0]
                return entry.get("actual") == 0 and entry.get("model") == 0

            results = _wait_results(client, ids, time.monotonic() + timeout, at_zero)
            zero_ok = at_zero()
        finally:
            stop.set()
            loop.join(30)
            lag = actuator.state()["workloads"][0]["actuation_lag_seconds"]
            beside_errors = actuator.state()["workloads"][1]["read_errors"] if beside else []
            backend.close()
            reads.close()
    stamps = _stamps(results, pump_wall)
    model_rel = [(t - pump_mono, n) for t, n in model if t >= pump_mono - 0.001]
    actual_rel = [(t - pump_mono, n) for t, n in backend.changes]
    peak = max((n for _, n in model_rel), default=0)
    timeline_lags = _lags_from_timelines(model_rel, actual_rel)
    if not zero_ok:
        print(f"{target.name}: not back at 0 after {timeout:g} s; the autoscaler said:\n" + "\n".join(lines[-20:]))
    return {
        "processed": len(results),
        "duplicates": sum(r.deliveries - 1 for r in results.values()),
        "peak": peak,
        "first_replica": next((t for t, n in actual_rel if t >= 0 and n > 0), None),
        "first": stamps[0] if stamps else None,
        "at_peak": next((t for t, n in model_rel if n == peak), None) if peak else None,
        "drained": stamps[-1] if len(stamps) == count else None,
        "zero": actual_rel[-1][0] if zero_ok and actual_rel and actual_rel[-1][1] == 0 else None,
        "lag": lag,
        "timeline_lag": (statistics.median(timeline_lags), max(timeline_lags)) if timeline_lags else None,
        "beside_errors": beside_errors,
    }


def _fixed_pool_run(
    target: Any, replicas: int, env: Any, brokers: Any, client: redis.Redis, count: int, warmup: float, timeout: float
) -> dict[str, Any]:
    """The baseline, no autoscaler: ``replicas`` workers started ``warmup`` s before the same pump; for a
    ScaledJob ``replicas`` Jobs created right after it (a runner exits at once on an empty queue)."""
    import tempfile

    from kedasuite.autoscale.processes import ProcessBackend

    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kedasuite-bench-") as tmp:
        backend = ProcessBackend(Path(tmp), env, {target.name: target.grace_seconds}, emit=lines.append)
        try:
            if not target.is_job:
                backend.scale(target, replicas, "fixed pool")
                time.sleep(warmup)
                backend.refresh()
                if backend.replicas(target) != replicas:
                    raise SystemExit(
                        f"{target.name}: fixed pool has {backend.replicas(target)} of {replicas} "
                        f"after {warmup:g} s:\n" + "\n".join(lines[-10:])
                    )
            pump_wall = time.time()
            ids = _pump(target.name, brokers, count)
            if target.is_job:
                backend.create_jobs(target, replicas)
            results = _wait_results(client, ids, time.monotonic() + timeout)
        finally:
            backend.close()
    stamps = _stamps(results, pump_wall)
    return {
        "processed": len(results),
        "first": stamps[0] if stamps else None,
        "drained": stamps[-1] if len(stamps) == count else None,
    }


def bench_autoscale(count: int, workloads: list[str], warmup: float, timeout: float) -> None:
    """Per workload, a step load of ``count`` records through the local autoscaler with the demo's timings
    on embedded brokers, against a fixed pool of the model's peak replicas started up front."""
    from kedasuite.autoscale.processes import worker_env
    from kedasuite.autoscale.targets import load_targets
    from kedasuite.core import defaults, tansu
    from kedasuite.core.embedded import embedded_kafka
    from kedasuite.core.names import WORKLOAD_KAFKA, Env
    from kedasuite.core.settings import KafkaSettings
    from kedasuite.core.worktime import parse_work_time
    from kedasuite.keda.model import Options
    from kedasuite.producers.workloads import BrokerConfig
    from kedasuite.tools.demo import DEMO_JOB_IDLE_S, DEMO_TIMINGS

    work_time, concurrency = defaults.DEMO_WORK_TIME, 2
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(EmbeddedRedis())
        bootstrap = None
        if WORKLOAD_KAFKA in workloads:
            broker = stack.enter_context(embedded_kafka())
            bootstrap = broker.bootstrap
            print(f"embedded Kafka: {broker.describe()}")
            for key, value in tansu.workarounds(bootstrap, parse_work_time(work_time).max_seconds).items():
                os.environ.setdefault(key, value)
        kafka = KafkaSettings.from_env(bootstrap=bootstrap) if bootstrap else KafkaSettings.from_env()
        os.environ.update(
            {
                Env.WORK_TIME: work_time,
                Env.WORKER_CONCURRENCY: str(concurrency),
                Env.WORKQUEUE_IDLE_TIMEOUT: DEMO_JOB_IDLE_S,
                Env.LOG_LEVEL: "WARNING",
            }
        )
        brokers = BrokerConfig(redis_url=server.url, kafka=kafka if bootstrap else None)
        env = worker_env(server.url, kafka)
        client = redis.Redis.from_url(server.url)
        stack.callback(client.close)
        targets, source = load_targets(None, None, workloads)
        options = Options(**DEMO_TIMINGS)
        print(
            f"Autoscale: embedded brokers; {count} records pumped at once per workload, one workload at a time; "
            f"manifests from {source}; demo timings: "
            + ", ".join(f"{k.replace('_', ' ')} {v:g} s" for k, v in DEMO_TIMINGS.items())
            + f"; work time {work_time}, worker concurrency {concurrency}, Job idle timeout {DEMO_JOB_IDLE_S} s"
        )
        print("seconds from the pump (the moment publishing began):")
        print(
            f"{'workload':<10} {'peak':>4} {'1st replica':>11} {'1st record':>10} {'at peak':>7} {'drained':>7} "
            f"{'at 0':>5} {'lag med/max':>11} {'lag* med/max':>12} {'lost':>4} {'dup':>3} {'fixed pool':>10} "
            f"{'drained/fixed':>13}"
        )
        lost_total, jobs, alone = 0, [], {}
        for target in targets:
            auto = alone[target.name] = _autoscaled_run(target, options, env, brokers, client, count, timeout)
            fixed = (
                _fixed_pool_run(target, auto["peak"], env, brokers, client, count, warmup, timeout)
                if auto["peak"]
                else None
            )
            lost = count - auto["processed"]
            lost_total += lost + (count - fixed["processed"] if fixed else 0)
            jobs += [target.name] if target.is_job else []
            print(_autoscale_row(target.name, auto, fixed, lost), flush=True)
        lost_total += _beside_broken_kafka(
            [t for t in targets if t.name != WORKLOAD_KAFKA], alone, options, env, brokers, client, count, timeout
        )
    print(
        f"peak: the model's largest count (Jobs for {', '.join(jobs) or 'a ScaledJob'}); a replica counts from "
        "its process's start; lag: actual behind the model, per change, as the autoscaler records it (model "
        "step -> backend acted); lag*: the same from the recorded timelines; fixed pool: drained with the peak "
        f"count of replicas started {warmup:g} s before the same pump, or of Jobs created right after it; "
        f"lost over all runs (autoscaled and fixed): {lost_total} (target 0)"
    )
    if lost_total:
        raise SystemExit(f"{lost_total} records lost")


def _beside_broken_kafka(
    targets: list[Any],
    alone: dict[str, Any],
    options: Any,
    env: Any,
    brokers: Any,
    client: redis.Redis,
    count: int,
    timeout: float,
) -> int:
    """The Redis workloads again, each with the Kafka workload beside it in the same autoscaler, its
    broker answering metadata but advertising a closed port (every lag read waits out its deadline).
    The lag and the drain must match the runs alone: a broken scaler touches its own object only."""
    from confluent_kafka import Producer

    from kedasuite.autoscale.targets import load_targets
    from kedasuite.core.embedded import embedded_kafka, free_port
    from kedasuite.core.names import WORKLOAD_KAFKA
    from kedasuite.core.settings import KafkaSettings

    if not targets:
        return 0
    kafka_target = load_targets(None, None, [WORKLOAD_KAFKA])[0][0]
    lost_total = 0
    with embedded_kafka(advertised=f"127.0.0.1:{free_port()}") as broken:
        settings = KafkaSettings.from_env(bootstrap=broken.bootstrap)
        # A metadata request on the bootstrap connection creates the topic (auto-creation, on either
        # broker; Apache Kafka answers "unknown" until it has), so the reads get as far as the
        # offsets, which wait for the advertised address.
        asking = Producer({"bootstrap.servers": broken.bootstrap, "log_level": 0})
        deadline = time.monotonic() + 10
        while (
            asking.list_topics(settings.topic, timeout=10).topics[settings.topic].error is not None
            and time.monotonic() < deadline
        ):
            time.sleep(0.1)
        print(
            f"\nbeside a broken Kafka ({broken.describe()}, advertising {broken.advertised}): each Redis "
            "workload again, the Kafka workload in the same autoscaler"
        )
        print(
            f"{'workload':<10} {'lag alone':>11} {'lag beside':>11} {'drained alone':>13} {'drained beside':>14} "
            f"{'beside/alone':>12} {'lost':>4}"
        )
        said = ""
        for target in targets:
            auto = _autoscaled_run(
                target, options, env, brokers, client, count, timeout, beside=(kafka_target, settings)
            )
            lost = count - auto["processed"]
            lost_total += lost
            said = said or "; ".join(auto["beside_errors"])
            before = alone[target.name]

            ratio = f"{auto['drained'] / before['drained']:.2f} x" if auto["drained"] and before["drained"] else "-"
            print(
                f"{target.name:<10} {_lag_text(before['lag']):>11} {_lag_text(auto['lag']):>11} "
                f"{_secs(before['drained']):>13} {_secs(auto['drained']):>14} {ratio:>12} {lost:>4}",
                flush=True,
            )
        print(f"the Kafka workload's read error meanwhile: {said or '(none recorded)'}")
    return lost_total


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _lag_text(lag: dict[str, Any]) -> str:
    """An actuation lag summary (the state's ``actuation_lag_seconds``) as median/max."""
    return "-" if not lag["count"] else f"{lag['median']:.2f}/{lag['max']:.2f}"


def _autoscale_row(name: str, auto: dict[str, Any], fixed: dict[str, Any] | None, lost: int) -> str:
    s = _secs
    lag_text = _lag_text(auto["lag"])
    tl = auto["timeline_lag"]
    tl_text = "-" if tl is None else f"{tl[0]:.2f}/{tl[1]:.2f}"
    ratio = f"{auto['drained'] / fixed['drained']:.2f} x" if fixed and auto["drained"] and fixed["drained"] else "-"
    return (
        f"{name:<10} {auto['peak']:>4} {s(auto['first_replica']):>11} {s(auto['first']):>10} "
        f"{s(auto['at_peak']):>7} {s(auto['drained']):>7} {s(auto['zero']):>5} {lag_text:>11} {tl_text:>12} "
        f"{lost:>4} {auto['duplicates']:>3} {s(fixed['drained'] if fixed else None):>10} {ratio:>13}"
    )


if __name__ == "__main__":
    main()
