"""``kedasuite worker <workload>`` and ``kedasuite job workqueue``: each builds its settings and
calls the worker module's ``run``."""

from __future__ import annotations

from typing import Any

import click

from kedasuite.cli.options import (
    F,
    kafka_options,
    kafka_settings,
    metrics_port_option,
    option,
    redis_url_option,
    reports_errors,
)
from kedasuite.core import defaults
from kedasuite.core.names import (
    KAFKA_CONSUMER_GROUP,
    WORKLOAD_CELERY,
    WORKLOAD_KAFKA,
    WORKLOAD_RQ,
    WORKLOAD_WORKQUEUE,
    Env,
)


@click.group()
def worker() -> None:
    """Run a workload's worker (the process KEDA scales)."""


@worker.command(WORKLOAD_CELERY)
@redis_url_option
@option(
    "--concurrency",
    "-c",
    envvar=Env.WORKER_CONCURRENCY,
    default=defaults.WORKER_CONCURRENCY,
    type=click.IntRange(min=1),
    help="Pool processes in this worker.",
)
@option(
    "--work-time",
    envvar=Env.WORK_TIME,
    default=defaults.WORK_TIME,
    help="Simulated work per task: seconds, 'fixed:S' or 'uniform:MIN:MAX'.",
)
@option(
    "--visibility-timeout",
    envvar=Env.CELERY_VISIBILITY_TIMEOUT,
    default=defaults.CELERY_VISIBILITY_TIMEOUT,
    type=click.IntRange(min=1),
    help="Seconds before an unacknowledged task (its worker died) goes to another worker.",
)
@option("--name", envvar=Env.WORKER_NAME, default=None, help="Celery node name (default: celery.<pid>@<hostname>).")
@option(
    "--prefetch-multiplier",
    envvar=Env.CELERY_PREFETCH_MULTIPLIER,
    default=defaults.CELERY_PREFETCH_MULTIPLIER,
    type=click.IntRange(min=1),
    help="Messages each pool process reserves (Celery's default is 4: they wait "
    "inside the worker, off the list KEDA reads).",
)
@option(
    "--acks-late/--acks-early",
    envvar=Env.CELERY_ACKS_LATE,
    default=defaults.CELERY_ACKS_LATE,
    help="Acknowledge a task after it ran (the suite's) or when it starts (Celery's default).",
)
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def celery_worker(
    redis_url: str,
    concurrency: int,
    work_time: str,
    visibility_timeout: int,
    name: str | None,
    prefetch_multiplier: int,
    acks_late: bool,
    loglevel: str,
    metrics_port: int,
) -> None:
    """Consume the 'celery' queue; SIGTERM finishes running tasks, then exits."""
    from kedasuite.core.settings import CeleryWorkerSettings
    from kedasuite.workers.celery_app import run

    run(
        CeleryWorkerSettings(
            redis_url=redis_url,
            concurrency=concurrency,
            work_time=work_time,
            visibility_timeout=visibility_timeout,
            name=name,
            loglevel=loglevel,
            metrics_port=metrics_port,
            prefetch_multiplier=prefetch_multiplier,
            acks_late=acks_late,
        )
    )


@worker.command(WORKLOAD_KAFKA)
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@option(
    "--dlq-topic",
    envvar=Env.KAFKA_DLQ_TOPIC,
    default=None,
    help="Dead-letter topic for poison messages (default: <topic>.dlq).",
)
@option(
    "--offset-reset",
    envvar=Env.KAFKA_OFFSET_RESET,
    default=defaults.KAFKA_OFFSET_RESET,
    type=click.Choice(["earliest", "latest"]),
    help="Where a group with no committed offset starts.",
)
@option(
    "--work-time",
    envvar=Env.WORK_TIME,
    default=defaults.KAFKA_WORK_TIME,
    help="Simulated work per message: seconds, 'fixed:S' or 'uniform:MIN:MAX'.",
)
@option(
    "--redis-url",
    envvar=Env.REDIS_URL,
    default=None,
    help="Record results in this Redis (default: only when REDIS_URL or REDIS_ADDRESS is set).",
)
@option(
    "--max-messages",
    envvar=Env.WORKER_MAX_MESSAGES,
    default=None,
    type=click.IntRange(min=1),
    help="Exit 0 after this many messages.",
)
@option(
    "--stuck-at",
    envvar=Env.KAFKA_STUCK_AT,
    default=None,
    metavar="PARTITION:OFFSET",
    help="Act as a handler that keeps failing on this record, so its partition never moves past it: for "
    "'kedasuite scenario kafka-persistent-lag'.",
)
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def kafka_worker(
    group: str,
    dlq_topic: str | None,
    offset_reset: str,
    work_time: str,
    redis_url: str | None,
    max_messages: int | None,
    stuck_at: str | None,
    loglevel: str,
    metrics_port: int,
    **kafka: Any,
) -> None:
    """Consume the topic in the consumer group; commit after processing; SIGTERM leaves cleanly."""
    from kedasuite.core.settings import KafkaWorkerSettings, redis_url_if_configured
    from kedasuite.workers.kafka_consumer import parse_stuck_at, run

    run(
        KafkaWorkerSettings(
            kafka=kafka_settings(group=group, dlq_topic=dlq_topic, offset_reset=offset_reset, **kafka),
            redis_url=redis_url or redis_url_if_configured(),
            max_messages=max_messages,
            work_time=work_time,
            loglevel=loglevel,
            metrics_port=metrics_port,
            stuck_at=parse_stuck_at(stuck_at),
        )
    )


@worker.command(WORKLOAD_RQ)
@redis_url_option
@option(
    "--work-time",
    envvar=Env.WORK_TIME,
    default=defaults.WORK_TIME,
    help="Simulated work per job: seconds, 'fixed:S' or 'uniform:MIN:MAX'.",
)
@option("--burst", envvar=Env.RQ_BURST, is_flag=True, default=False, help="Exit once the queue is empty.")
@option(
    "--max-jobs",
    envvar=Env.WORKER_MAX_MESSAGES,
    default=None,
    type=click.IntRange(min=1),
    help="Exit 0 after this many jobs.",
)
@option(
    "--max-idle-time",
    envvar=Env.RQ_MAX_IDLE_TIME,
    default=None,
    type=click.IntRange(min=1),
    help="Exit 0 after this many seconds with nothing to do.",
)
@option(
    "--maintenance-interval",
    envvar=Env.RQ_MAINTENANCE_INTERVAL,
    default=defaults.RQ_MAINTENANCE_INTERVAL,
    type=click.IntRange(min=1),
    help="Seconds between looks for abandoned jobs (their worker died).",
)
@option(
    "--job-monitoring-interval",
    envvar=Env.RQ_JOB_MONITORING_INTERVAL,
    default=defaults.RQ_JOB_MONITORING_INTERVAL,
    type=click.IntRange(min=1),
    help="Heartbeat period of a running job; a killed worker's job is abandoned after this + 60 s.",
)
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def rq_worker(
    redis_url: str,
    work_time: str,
    burst: bool,
    max_jobs: int | None,
    max_idle_time: int | None,
    maintenance_interval: int,
    job_monitoring_interval: int,
    loglevel: str,
    metrics_port: int,
) -> None:
    """RQ's own worker on the 'default' queue; SIGTERM finishes the running job, then exits."""
    from kedasuite.core.settings import RQWorkerSettings
    from kedasuite.workers.rq_queue import run

    run(
        RQWorkerSettings(
            redis_url=redis_url,
            burst=burst,
            max_jobs=max_jobs,
            max_idle_time=max_idle_time,
            maintenance_interval=maintenance_interval,
            job_monitoring_interval=job_monitoring_interval,
            work_time=work_time,
            loglevel=loglevel,
            metrics_port=metrics_port,
        )
    )


@click.group()
def job() -> None:
    """Run the lease-based work queue as Kubernetes Job pods do."""


def workqueue_options(func: F) -> F:
    options = [
        redis_url_option,
        option(
            "--lease-seconds",
            envvar=Env.WORKQUEUE_LEASE_SECONDS,
            default=defaults.WORKQUEUE_LEASE_SECONDS,
            type=click.FloatRange(min=0.1),
            help="How long a lease outlives a silent runner.",
        ),
        option(
            "--max-attempts",
            envvar=Env.WORKQUEUE_MAX_ATTEMPTS,
            default=defaults.WORKQUEUE_MAX_ATTEMPTS,
            type=click.IntRange(min=1),
            help="Leases an item may take before it is dead-lettered.",
        ),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


@job.command(WORKLOAD_WORKQUEUE)
@workqueue_options
@option(
    "--work-time",
    envvar=Env.WORK_TIME,
    default=defaults.WORK_TIME,
    help="Simulated work per item: seconds, 'fixed:S' or 'uniform:MIN:MAX'.",
)
@option(
    "--max-items",
    envvar=Env.WORKQUEUE_MAX_ITEMS,
    default=None,
    type=click.IntRange(min=1),
    help="Exit 0 after this many items.",
)
@option(
    "--idle-timeout",
    envvar=Env.WORKQUEUE_IDLE_TIMEOUT,
    default=defaults.WORKQUEUE_IDLE_TIMEOUT,
    type=click.FloatRange(min=0),
    help="Exit 0 after this long with nothing to lease while others hold items.",
)
@option(
    "--grace-period",
    envvar=Env.WORKQUEUE_GRACE_PERIOD,
    default=defaults.WORKQUEUE_GRACE_PERIOD,
    type=click.FloatRange(min=0),
    help="On SIGTERM, finish the item in hand if it needs at most this long.",
)
@option(
    "--fail-pattern",
    envvar=Env.WORKQUEUE_FAIL_PATTERN,
    default=None,
    help="Simulate failures: items matching this regular expression fail every attempt.",
)
@option(
    "--start-delay",
    envvar=Env.WORKQUEUE_START_DELAY,
    default=defaults.WORKQUEUE_START_DELAY,
    type=click.FloatRange(min=0),
    help="Seconds of start-up before the first lease (a slow-starting pod).",
)
@option(
    "--ready-file",
    envvar=Env.READY_FILE,
    default=None,
    type=click.Path(dir_okay=False),
    help="Create this file once ready for work (after --start-delay): the local autoscaler's readiness probe.",
)
@option("--loglevel", envvar=Env.LOG_LEVEL, default=defaults.LOG_LEVEL, help="Log level.")
@metrics_port_option
@reports_errors
def workqueue_job(
    redis_url: str,
    lease_seconds: float,
    max_attempts: int,
    work_time: str,
    max_items: int | None,
    idle_timeout: float,
    grace_period: float,
    fail_pattern: str | None,
    start_delay: float,
    ready_file: str | None,
    loglevel: str,
    metrics_port: int,
) -> None:
    """Lease and process items from 'job' until the queue is empty, then exit 0."""
    from kedasuite.core.settings import WorkQueueJobSettings
    from kedasuite.jobs.runner import run

    runner, summary = run(
        WorkQueueJobSettings(
            redis_url=redis_url,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            max_items=max_items,
            idle_timeout=idle_timeout,
            grace_period=grace_period,
            fail_pattern=fail_pattern,
            work_time=work_time,
            loglevel=loglevel,
            metrics_port=metrics_port,
            start_delay=start_delay,
            ready_file=ready_file,
        )
    )
    click.echo(
        f"runner {runner.holder} done ({summary.reason}): processed {summary.processed}, "
        f"failed {summary.failed}, dead-lettered {summary.dead_lettered}, released {summary.released}, "
        f"lost leases {summary.lost_leases}, duplicates {summary.duplicates}"
    )


@job.command("reap")
@workqueue_options
@reports_errors
def workqueue_reap(redis_url: str, lease_seconds: float, max_attempts: int) -> None:
    """Return items whose lease expired to the queue (or the dead-letter list), once."""
    from kedasuite.core.clients import check_redis, redis_client
    from kedasuite.jobs.workqueue import WorkQueue

    client = redis_client(redis_url)
    check_redis(client, redis_url)
    queue = WorkQueue(client, max_attempts=max_attempts, lease_seconds=lease_seconds)
    requeued, dead = queue.reap()
    pending, in_flight = queue.backlog()
    click.echo(f"re-queued {requeued}, dead-lettered {dead}; now {pending} pending, {in_flight} in flight")
