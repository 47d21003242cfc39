"""The embedded demo: the whole Celery workload on one machine, no Docker.

It is the same path a cluster takes (a real redis-server, a real Celery worker with a
prefork pool, the pump's publisher), only squeezed into one command that says at the
end which process handled how many records.
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

import click

from kedasuite.clients import redis_client
from kedasuite.embedded import EmbeddedRedis
from kedasuite.names import CELERY_QUEUE, WORKLOAD_CELERY
from kedasuite.settings import redact_url
from producers.celery_publisher import CeleryPublisher
from producers.engine import new_run, pump_stream
from producers.records import RecordFactory, record_ids
from workers.results import fetch_results, record_key

#: The worker must outlive no task by more than this after SIGTERM.
STOP_TIMEOUT_S = 30.0


def run_demo(redis_url: str | None, count: int, work_time: str, concurrency: int, timeout: float) -> int:
    with contextlib.ExitStack() as stack:
        if not redis_url:
            server = stack.enter_context(EmbeddedRedis())
            redis_url = server.url
            click.echo(f"started embedded redis-server at {redis_url}")
        else:
            click.echo(f"using Redis at {redact_url(redis_url)}")
        log = stack.enter_context(tempfile.NamedTemporaryFile("w+", prefix="celery-worker-", suffix=".log"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "kedasuite", "worker", WORKLOAD_CELERY, "--redis-url", redis_url,
             "--concurrency", str(concurrency), "--work-time", work_time, "--loglevel", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        stack.callback(_stop, worker)
        click.echo(f"started a Celery worker (pid {worker.pid}) with {concurrency} processes, work time {work_time}")

        publisher = CeleryPublisher(redis_url)
        publisher.check()
        run = new_run(count, [WORKLOAD_CELERY], seed=None)
        stream = pump_stream(publisher, RecordFactory(), run.streams[0], batch_size=1000)
        publisher.close()
        if stream.failed:
            click.echo(f"pump failed: {stream.error}", err=True)
            return 1
        client = redis_client(redis_url)
        click.echo(f"pumped {stream.sent} records into '{CELERY_QUEUE}' (LLEN {CELERY_QUEUE} = {client.llen(CELERY_QUEUE)})")

        ids = record_ids(count, stream.id_prefix)
        deadline = time.monotonic() + timeout
        results = fetch_results(client, ids)
        while len(results) < count and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.2)
            results = fetch_results(client, ids)
        if len(results) < count:
            why = "the worker exited" if worker.poll() is not None else f"{timeout:g} s passed"
            click.echo(f"only {len(results)} of {count} records were processed before {why}; worker log:", err=True)
            log.seek(0)
            click.echo(log.read()[-3000:], err=True)
            return 1

        per_worker = collections.Counter(r.worker for r in results.values())
        click.echo(f"all {count} records processed; records per worker:")
        width = max(len(w) for w in per_worker)
        click.echo(f"  {'worker'.ljust(width)}  records")
        for name, n in sorted(per_worker.items()):
            click.echo(f"  {name.ljust(width)}  {n}")
        duplicates = sum(r.deliveries - 1 for r in results.values())
        click.echo(f"  duplicates: {duplicates}")
        sample = record_key(ids[0])
        click.echo(f"HGETALL {sample}")
        for key, value in client.hgetall(sample).items():
            click.echo(f"  {key.decode()}: {value.decode()!r}" if b"\n" in value else f"  {key.decode()}: {value.decode()}")
        client.close()
    return 0


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as Kubernetes does on scale-down; SIGKILL only if it hangs."""
    if worker.poll() is not None:
        return
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
