"""The embedded demo: every workload on one machine, no Docker.

It is the same path a cluster takes (a real redis-server, a real Kafka-protocol broker,
real Celery workers with a prefork pool, real consumer-group members, the pumps'
publishers), squeezed into one command that says at the end which process handled how
many records.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import IO

import click

from kedasuite.core.clients import redis_client
from kedasuite.core.embedded import EmbeddedKafka, EmbeddedRedis
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE, Env
from kedasuite.core.settings import KafkaSettings, redact_url
from kedasuite.core.workloads import workload as workload_row
from kedasuite.producers.engine import new_run, pump_stream
from kedasuite.producers.records import RecordFactory, record_ids
from kedasuite.producers.workloads import BrokerConfig, make_publisher
from kedasuite.workers.results import fetch_results, record_key

#: The workers must outlive no task by more than this after SIGTERM.
STOP_TIMEOUT_S = 30.0
#: Tansu takes about half the session timeout to let a member join; keep it short here.
DEMO_KAFKA_ENV = {"KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS": "6000",
                  "KAFKA_CONSUMER_CONFIG_HEARTBEAT_INTERVAL_MS": "1000"}


class _Workers:
    """Worker processes, each in its own process group (a pod), logging to one file."""

    def __init__(self, log: IO[str]) -> None:
        self.log = log
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "kedasuite", *args], stdout=self.log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **(env or {})})
        self.procs.append(proc)
        return proc

    def any_failed(self, jobs: Sequence[subprocess.Popen[bytes]] = ()) -> bool:
        """A worker exited (they should not), or a Job runner exited non-zero."""
        return any(p.poll() is not None and (p not in jobs or p.returncode != 0) for p in self.procs)

    def stop(self) -> None:
        """SIGTERM, as Kubernetes does on scale-down; SIGKILL only if one hangs."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def run_demo(redis_url: str | None, kafka_bootstrap: str | None, workloads: Sequence[str], count: int,
             work_time: str, concurrency: int, timeout: float) -> int:
    with contextlib.ExitStack() as stack:
        if not redis_url:
            redis_url = stack.enter_context(EmbeddedRedis()).url
            click.echo(f"started embedded redis-server at {redis_url}")
        else:
            click.echo(f"using Redis at {redact_url(redis_url)}")
        kafka_env: dict[str, str] = {}
        if WORKLOAD_KAFKA in workloads:
            if not kafka_bootstrap:
                kafka_bootstrap = stack.enter_context(EmbeddedKafka()).bootstrap
                kafka_env = {k: v for k, v in DEMO_KAFKA_ENV.items() if k not in os.environ}
                click.echo(f"started embedded Kafka broker (tansu) at {kafka_bootstrap}")
            else:
                click.echo(f"using Kafka at {kafka_bootstrap}")
        kafka = KafkaSettings.from_env(bootstrap=kafka_bootstrap) if kafka_bootstrap else None

        log = stack.enter_context(tempfile.NamedTemporaryFile("w+", prefix="kedasuite-demo-", suffix=".log"))
        workers = _Workers(log)
        stack.callback(workers.stop)
        if WORKLOAD_CELERY in workloads:
            workers.start([*workload_row(WORKLOAD_CELERY).command, "--redis-url", redis_url, "--concurrency", str(concurrency),
                           "--work-time", work_time, "--loglevel", "WARNING"])
            click.echo(f"started a Celery worker with {concurrency} processes, work time {work_time}")
        if kafka is not None:
            for _ in range(concurrency):
                workers.start([*workload_row(WORKLOAD_KAFKA).command, "--bootstrap-servers", kafka.bootstrap, "--redis-url",
                               redis_url, "--work-time", work_time, "--loglevel", "WARNING"],
                              env={**kafka_env, Env.KAFKA_TOPIC: kafka.topic})
            click.echo(f"started {concurrency} Kafka consumers in group '{kafka.group}', work time {work_time}")
        if WORKLOAD_RQ in workloads:
            for _ in range(concurrency):
                workers.start([*workload_row(WORKLOAD_RQ).command, "--redis-url", redis_url, "--work-time", work_time,
                               "--loglevel", "WARNING"])
            click.echo(f"started {concurrency} RQ workers, work time {work_time}")

        brokers = BrokerConfig(redis_url=redis_url, kafka=kafka)
        client = redis_client(redis_url)
        stack.callback(client.close)
        pumped: dict[str, list[str]] = {}
        for workload in workloads:
            publisher = make_publisher(workload, brokers)
            publisher.check()
            stream = pump_stream(publisher, RecordFactory(), new_run(count, [workload], None).streams[0], 1000)
            publisher.close()
            if stream.failed:
                click.echo(f"pumping {workload} failed: {stream.error}", err=True)
                return 1
            pumped[workload] = record_ids(count, stream.id_prefix)
            backlog_list = workload_row(workload).backlog if workload_row(workload).broker == "redis" else None
            backlog = f" (LLEN {backlog_list} = {client.llen(backlog_list)})" if backlog_list else ""
            click.echo(f"pumped {stream.sent} records into {workload}{backlog}")

        jobs: list[subprocess.Popen[bytes]] = []
        if WORKLOAD_WORKQUEUE in workloads:
            # Like a Job with parallelism (the Kubernetes work-queue pattern): runners start on a full queue and exit 0 once it is empty.
            jobs = [workers.start([*workload_row(WORKLOAD_WORKQUEUE).command, "--redis-url", redis_url, "--work-time", work_time,
                                   "--loglevel", "WARNING"]) for _ in range(concurrency)]
            click.echo(f"started {concurrency} work-queue Job runners, work time {work_time}")

        every_id = [i for ids in pumped.values() for i in ids]
        deadline = time.monotonic() + timeout
        results = fetch_results(client, every_id)
        while len(results) < len(every_id) and time.monotonic() < deadline and not workers.any_failed(jobs):
            time.sleep(0.2)
            results = fetch_results(client, every_id)
        if jobs:
            for runner in jobs:
                runner.wait(max(1.0, deadline - time.monotonic()))
            click.echo(f"work-queue runners exited with {', '.join(str(r.returncode) for r in jobs)}")
        if len(results) < len(every_id) or workers.any_failed(jobs):
            why = "a worker failed" if workers.any_failed(jobs) else f"{timeout:g} s passed"
            click.echo(f"only {len(results)} of {len(every_id)} records were processed before {why}; worker log:",
                       err=True)
            log.seek(0)
            click.echo(log.read()[-3000:], err=True)
            return 1

        for workload, ids in pumped.items():
            mine = [results[i] for i in ids]
            per_worker = collections.Counter(r.worker for r in mine)
            click.echo(f"{workload}: all {count} records processed, duplicates {sum(r.deliveries - 1 for r in mine)}")
            width = max(len("worker"), *(len(w) for w in per_worker))
            click.echo(f"  {'worker'.ljust(width)}  records")
            for name, n in sorted(per_worker.items()):
                click.echo(f"  {name.ljust(width)}  {n}")
        sample = record_key(next(iter(pumped.values()))[0])
        click.echo(f"HGETALL {sample}")
        for key, value in client.hgetall(sample).items():
            text = value.decode()
            click.echo(f"  {key.decode()}: {text!r}" if "\n" in text else f"  {key.decode()}: {text}")
    return 0
