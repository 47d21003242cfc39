"""``kedasuite status``, ``kafka-lag`` and ``check-manifests``: what KEDA sees and decides, and
whether the manifests can work."""

from __future__ import annotations

import sys
from typing import Any

import click

from kedasuite.cli.options import (
    UserError,
    autoscale_run_dir_option,
    kafka_options,
    kafka_settings,
    keda_source_options,
    option,
    redis_url_option,
    reports_errors,
)
from kedasuite.core import config
from kedasuite.core.names import (
    Env,
)
from kedasuite.core.workloads import NAMES as WORKLOADS


@click.command("kafka-lag")
@kafka_options
@option("--group", setting=config.KAFKA_CONSUMER_GROUP)
@option("--lag-threshold", setting=config.KAFKA_LAG_THRESHOLD)
@option("--offset-reset-policy", setting=config.KAFKA_OFFSET_RESET)
@reports_errors
def kafka_lag(group: str, lag_threshold: int, offset_reset_policy: str, **kafka: Any) -> None:
    """Show the group's lag per partition and the metric KEDA's kafka trigger reports."""
    from confluent_kafka import KafkaException

    from kedasuite.core.clients import check_kafka, kafka_admin, kafka_error
    from kedasuite.keda.reads import fetch_offsets
    from kedasuite.keda.rules.kafka import KafkaTrigger, keda_lag

    settings = kafka_settings(group=group, **kafka)
    check_kafka(kafka_admin(settings.bootstrap, settings.extra), settings.bootstrap)
    try:
        # A failure is reported once, in words (AdvertisedBrokerUnreachable is a SuiteError and
        # passes as it is), not as librdkafka's log line per retry.
        offsets = fetch_offsets(settings.bootstrap, group, settings.topic, {"log_level": "0", **settings.extra})
    except LookupError as exc:
        raise UserError(f"{exc}: pump something first, or check --topic / {Env.KAFKA_TOPIC}") from exc
    except KafkaException as exc:
        error = kafka_error(exc)
        raise UserError(
            f"cannot read offsets from Kafka at {settings.bootstrap}: "
            f"{error.str() if error is not None else exc}; check {Env.KAFKA_BOOTSTRAP_SERVERS}"
        ) from exc
    trigger = KafkaTrigger(lag_threshold=lag_threshold, offset_reset_policy=offset_reset_policy)
    report = keda_lag(offsets, trigger)
    click.echo(f"topic {settings.topic}, group {group}")
    click.echo("partition  high-watermark  committed  lag")
    for p in offsets:
        committed = "-" if p.committed is None else str(p.committed)
        # A partition the broker's latest-offset answer left out has no high watermark, and KEDA counts no lag for it.
        latest = "-" if p.high_watermark is None else str(p.high_watermark)
        lag = report.per_partition.get(p.partition)
        click.echo(f"{p.partition:>9}  {latest:>14}  {committed:>9}  {'-' if lag is None else lag:>3}")
    click.echo(
        f"total lag {report.total}; KEDA metric {report.metric} (lagThreshold {lag_threshold}, "
        f"offsetResetPolicy {offset_reset_policy}, {report.partitions} partitions); "
        f"{'active' if report.active else 'not active'}"
    )


@click.command()
@redis_url_option
@kafka_options
@option("--group", setting=config.KAFKA_CONSUMER_GROUP)
@keda_source_options
@option("--workload", "-w", "workloads", setting=config.STATUS_WORKLOADS)
@option("--running-jobs", setting=config.STATUS_RUNNING_JOBS)
@option("--pending-jobs", setting=config.STATUS_PENDING_JOBS)
@option("--json", "as_json", setting=config.STATUS_JSON)
@option("--watch", setting=config.STATUS_WATCH)
@option("--interval", setting=config.STATUS_INTERVAL)
@autoscale_run_dir_option
@reports_errors
def status(
    redis_url: str,
    group: str,
    overlay: str | None,
    manifests: str | None,
    workloads: tuple[str, ...],
    running_jobs: int,
    pending_jobs: int,
    as_json: bool,
    watch: bool,
    interval: float,
    autoscale_run_dir: str,
    **kafka: Any,
) -> None:
    """What KEDA's triggers read right now and what KEDA and the HPA would decide.

    For each workload: the metric of each trigger of its ScaledObject / ScaledJob (list
    length by key type, Kafka lag with KEDA's rules), work in flight, results so far, the
    activation decision and the replica count (or new Jobs) KEDA and the HPA would target.
    When a local ``kedasuite autoscale`` runs (its run directory has a state.json), also what
    it runs, its model's count, the next step and why (marked stale once it is gone). A state
    that is not live, or a run directory with none while an autoscaler writes to another, is
    said in words: whose, how old, and the AUTOSCALE_RUN_DIR / --autoscale-run-dir that fixes it.
    """
    import json
    import time

    from kedasuite.keda.objects import load_scalers
    from kedasuite.tools.status import StatusReader, render_text

    scalers, source = load_scalers(manifests, overlay)
    reader = StatusReader(
        scalers,
        source,
        redis_url,
        kafka_settings(group=group, **kafka),
        list(workloads) or list(WORKLOADS),
        running_jobs=running_jobs,
        pending_jobs=pending_jobs,
        autoscale_run_dir=autoscale_run_dir or None,
    )
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


@click.command("check-manifests")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@option("--kubernetes-version", setting=config.KUBERNETES_VERSION)
@option("--strict", setting=config.CHECK_MANIFESTS_STRICT)
@reports_errors
def check_manifests(paths: tuple[str, ...], kubernetes_version: str | None, strict: bool) -> None:
    """Render each kustomization PATH and check it offline: KEDA v2.20.2 CRD schemas (strict),
    Kubernetes schemas, and agreement with the workloads' names; exit 1 on any problem. Then
    the lint: what the manifests will do that they probably should not, each finding with the
    numbers, why and the fix (docs/lint.md; suppress one with the kedasuite.io/lint-ignore
    annotation and a reason). Lint errors fail; warnings fail with --strict."""
    try:
        from kedasuite.keda import manifest_checks as mc
        from kedasuite.keda.lint import lint
    except ImportError as exc:
        raise UserError(
            f"check-manifests needs the 'check' extra ({exc.name} is missing): pip install 'kedasuite[check]'"
        ) from exc

    failed = False
    for path in paths:
        objs = mc.render(path)
        problems = mc.check(objs, kubernetes_version or mc.KUBERNETES_VERSION)
        report = lint(objs)
        for line in [*problems, *report.lines()]:
            click.echo(f"{path}: {line}")
        count = f"{len(problems) or 'no'} problem{'' if len(problems) == 1 else 's'}"
        click.echo(f"{path}: {len(objs)} objects, {count}; {report.summary()}")
        failed = failed or bool(problems) or report.fails(strict)
    if failed:
        sys.exit(1)
