"""``kedasuite worker <workload>`` and ``kedasuite job workqueue``: each builds its settings and
calls the worker module's ``run``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kedasuite.cli.options import (
    F,
    kafka_options,
    kafka_settings,
    option,
    redis_url_option,
    reports_errors,
)
from kedasuite.core import config, defaults
from kedasuite.core.names import (
    WORKLOAD_CELERY,
    WORKLOAD_KAFKA,
    WORKLOAD_RQ,
    WORKLOAD_WORKQUEUE,
)


def worker_options(work_time: str = defaults.WORK_TIME) -> Callable[[F], F]:
    """``--work-time``, ``--loglevel`` and ``--metrics-port``: what every worker and the Job runner take
    (``WorkerCommon``'s fields). The Kafka consumer's records take longer by default (the seed's 10 s)."""
    shared = [
        option("--work-time", setting=config.WORK_TIME, default=work_time),
        option("--loglevel", setting=config.LOG_LEVEL),
        option("--metrics-port", setting=config.METRICS_PORT),
    ]

    def decorate(func: F) -> F:
        for add in reversed(shared):
            func = add(func)
        return func

    return decorate


@click.group()
def worker() -> None:
    """Run a workload's worker (the process KEDA scales)."""


@worker.command(WORKLOAD_CELERY)
@redis_url_option
@option("--concurrency", "-c", setting=config.WORKER_CONCURRENCY)
@option("--visibility-timeout", setting=config.CELERY_VISIBILITY_TIMEOUT)
@option("--name", setting=config.WORKER_NAME)
@option("--prefetch-multiplier", setting=config.CELERY_PREFETCH_MULTIPLIER)
@option("--acks-late/--acks-early", setting=config.CELERY_ACKS_LATE)
@worker_options()
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
@option("--group", setting=config.KAFKA_CONSUMER_GROUP)
@option("--dlq-topic", setting=config.KAFKA_DLQ_TOPIC)
@option("--offset-reset", setting=config.KAFKA_OFFSET_RESET)
@option(
    "--redis-url",
    setting=config.REDIS_URL,
    default=None,
    help="Record results in this Redis (default: only when REDIS_URL or REDIS_ADDRESS is set).",
    show_default=None,
)
@option("--max-messages", setting=config.WORKER_MAX_MESSAGES)
@option("--stuck-at", setting=config.KAFKA_STUCK_AT)
@worker_options(work_time=defaults.KAFKA_WORK_TIME)
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
@option("--burst", setting=config.RQ_BURST)
@option("--max-jobs", setting=config.WORKER_MAX_MESSAGES)
@option("--max-idle-time", setting=config.RQ_MAX_IDLE_TIME)
@option("--maintenance-interval", setting=config.RQ_MAINTENANCE_INTERVAL)
@option("--job-monitoring-interval", setting=config.RQ_JOB_MONITORING_INTERVAL)
@worker_options()
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
        option("--lease-seconds", setting=config.WORKQUEUE_LEASE_SECONDS),
        option("--max-attempts", setting=config.WORKQUEUE_MAX_ATTEMPTS),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


@job.command(WORKLOAD_WORKQUEUE)
@workqueue_options
@option("--max-items", setting=config.WORKQUEUE_MAX_ITEMS)
@option("--idle-timeout", setting=config.WORKQUEUE_IDLE_TIMEOUT)
@option("--grace-period", setting=config.WORKQUEUE_GRACE_PERIOD)
@option("--fail-pattern", setting=config.WORKQUEUE_FAIL_PATTERN)
@option("--start-delay", setting=config.WORKQUEUE_START_DELAY)
@option("--ready-file", setting=config.READY_FILE)
@worker_options()
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
