"""Benchmarks of the pumps, each printed as a ratio to a baseline measured in the same run.

Run with ``scripts/bench``. Uses ``REDIS_URL`` if set, else an embedded redis-server.
Speed is measured here, never in the tests.
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

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kedasuite.core.embedded import EmbeddedRedis  # noqa: E402
from kedasuite.core.names import CELERY_QUEUE, CELERY_TASK  # noqa: E402
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
        [sys.executable, "-c", _PUMP_WITH_PEAK, "pump", "celery", "--count", str(count), "--redis-url", url,
         "--no-progress", "--max-count", str(count)],
        capture_output=True, text=True, cwd=ROOT,
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
        [sys.executable, "-m", "kedasuite", "pump", "kafka", "--count", str(count), "--workloads", "kafka",
         "--bootstrap-servers", bootstrap, "--topic", topic, "--no-progress", "--max-count", str(count)],
        capture_output=True, text=True, cwd=ROOT,
    )
    match = re.search(r"sent (\d+), failed 0 in [\d.]+ s \(([\d,]+) msgs/s\)", proc.stdout)
    if proc.returncode or not match or int(match.group(1)) != count:
        raise SystemExit(f"kafka pump failed: {proc.stdout} {proc.stderr}")
    return float(match.group(2).replace(",", ""))


def kafka_drain(bootstrap: str, topic: str, count: int) -> float:
    """One consumer, zero work time, commit after every message: records per second."""
    from kedasuite.core.settings import KafkaSettings
    from kedasuite.core.worktime import parse_work_time
    from kedasuite.workers.kafka_consumer import KafkaWorker

    class TimedWorker(KafkaWorker):
        first: float | None = None

        def handle(self, msg):  # type: ignore[no-untyped-def]
            if self.first is None:
                self.first = time.perf_counter()
            super().handle(msg)

    os.environ.setdefault("KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS", "6000")
    worker = TimedWorker(KafkaSettings(bootstrap=bootstrap, topic=topic, group=f"{topic}-drain"),
                         parse_work_time("0"), redis_url=None)
    worker.run(max_messages=count)
    assert worker.first is not None and worker.counters.processed == count
    return (count - 1) / (time.perf_counter() - worker.first)


def bench_kafka(count: int, drain_count: int) -> None:
    from kedasuite.core.embedded import EmbeddedKafka

    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(EmbeddedKafka()).bootstrap
        records = list(RecordFactory(seed=2).records(count, "raw00000"))
        payloads = [(r.id, r.json) for r in records]
        del records
        suffix = str(int(time.time()))
        print(f"Kafka: {bootstrap}; record size: {len(payloads[0][1])} bytes")
        rate_c = kafka_raw(bootstrap, f"bench-raw-{suffix}", payloads)
        print(f"(c) raw confluent-kafka loop, pre-built payloads, {count:,}: {rate_c:10,.0f} msgs/s")
        rate_k = kafka_pump(bootstrap, f"bench-pump-{suffix}", count)
        print(f"    kedasuite pump kafka, {count:,} items:            {rate_k:10,.0f} msgs/s")
        print(f"pump / (c) = {rate_k / rate_c:6.1%}   (target >= 50%)")
        drain_topic = f"bench-drain-{suffix}"
        kafka_pump(bootstrap, drain_topic, drain_count)
        rate_d = kafka_drain(bootstrap, drain_topic, drain_count)
        print(f"one consumer draining {drain_count:,} records, zero work time, commit per record: {rate_d:,.0f} msgs/s")


def ping_rtt(client: redis.Redis, count: int = 20_000) -> float:
    """The round-trip floor: seconds per sequential PING."""
    start = time.perf_counter()
    for _ in range(count):
        client.ping()
    return (time.perf_counter() - start) / count


def workqueue_rate(url: str, count: int) -> float:
    """(d) one Job runner, zero work time: lease + complete-and-record per item."""
    from kedasuite.jobs.runner import Runner
    from kedasuite.jobs.workqueue import WorkQueue
    from kedasuite.core.worktime import WorkTime
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


def drain_rate(url: str, workload: str, count: int, stock: bool = False) -> float:
    """A worker with zero work time draining ``count`` records pumped before it started:
    records per second between the first and the last result it wrote. ``stock``: Celery
    on kombu's own transport instead of the suite's."""
    from datetime import datetime

    from kedasuite.producers.records import record_ids
    from kedasuite.workers.results import fetch_results

    prefix = f"drain{workload}{'stock' if stock else ''}"
    pumped = subprocess.run(
        [sys.executable, "-m", "kedasuite", "pump", workload, "--count", str(count), "--id-prefix", prefix,
         "--workloads", workload, "--redis-url", url, "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    if pumped.returncode:
        raise SystemExit(pumped.stderr)
    worker_args = {"celery": ["--concurrency", "1"], "rq": ["--burst"]}[workload]
    command = [sys.executable, "-c", STOCK_CELERY_WORKER] if stock else [
        sys.executable, "-m", "kedasuite", "worker", workload, "--redis-url", url, "--work-time", "0",
        "--loglevel", "WARNING", *worker_args]
    worker = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "REDIS_URL": url, "WORK_TIME": "0"})
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
    print(f"(d) work-queue runner, zero work, {wq_count:,} items: {rate_d:10,.0f} items/s = "
          f"{per_item / rtt:.1f} round trips per item (target <= 4)")
    stock = drain_rate(url, "celery", drain_count, stock=True)
    print(f"(e) celery worker on kombu's stock transport (1 process), zero work, {drain_count:,} records: "
          f"{stock:10,.0f} records/s")
    for workload in ("celery", "rq"):
        rate = drain_rate(url, workload, drain_count)
        versus = f" = {rate / stock:.2f} x (e), the atomic fetch's cost" if workload == "celery" else ""
        print(f"    {workload} worker (1 process), zero work, {drain_count:,} records: {rate:10,.0f} records/s{versus}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="items for the pump and baseline (a)")
    parser.add_argument("--naive-count", type=int, default=5_000, help="items for the naive loop (b)")
    parser.add_argument("--rss-count", type=int, default=1_000_000, help="items for the peak-RSS run (0: skip)")
    parser.add_argument("--kafka-count", type=int, default=200_000, help="records for the Kafka pump and raw loop")
    parser.add_argument("--drain-count", type=int, default=5_000, help="records for the consumer drain rate")
    parser.add_argument("--wq-count", type=int, default=20_000, help="items for the work-queue runner")
    parser.add_argument("--worker-drain-count", type=int, default=2_000, help="records for Celery/RQ drain rates")
    parser.add_argument("--only", choices=["pump", "kafka", "workers", "pacing"], default=None, help="run one group")
    args = parser.parse_args()
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
    print(f"    kedasuite pump celery, {count:,} items:          {rate_p:10,.0f} msgs/s "
          f"({wall:.2f} s wall, process start included)")
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


if __name__ == "__main__":
    main()
