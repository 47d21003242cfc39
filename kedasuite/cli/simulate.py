"""``kedasuite simulate``: the face of :mod:`kedasuite.keda.simulate` (the replay, with no broker or cluster)."""

from __future__ import annotations

import json

import click

from kedasuite.cli.options import option, reports_errors
from kedasuite.core import config, defaults
from kedasuite.core.workloads import SCALED_JOB
from kedasuite.keda.model import Options
from kedasuite.keda.model.replay import default_duration, replay
from kedasuite.keda.simulate import describe, parse_series, render, scaler_for


@click.command()
@option("--workload", "-w", setting=config.SIMULATE_WORKLOAD)
@option("--object", "object_name", setting=config.SIMULATE_OBJECT)
@option(
    "--overlay",
    setting=config.KEDA_OVERLAY,
    show_default="the render of k8s/overlays/local bundled with the package",
    help="Kustomize directory to render with kubectl (as status reads it).",
)
@option("--manifests", setting=config.KEDA_MANIFESTS)
@option("--series", "series_specs", setting=config.SIMULATE_SERIES)
@option("--duration", setting=config.SIMULATE_DURATION)
@option("--json", "as_json", setting=config.SIMULATE_JSON)
@option("--polling-interval", setting=config.SIMULATE_POLLING_INTERVAL)
@option("--cooldown-period", setting=config.SIMULATE_COOLDOWN_PERIOD)
@option("--initial-cooldown-period", setting=config.SIMULATE_INITIAL_COOLDOWN_PERIOD)
@option("--stabilization-window", setting=config.SIMULATE_STABILIZATION_WINDOW)
@option("--sync-period", setting=config.SIMULATE_SYNC_PERIOD)
@option("--tolerance", setting=config.SIMULATE_TOLERANCE)
@option("--hpa-offset", setting=config.SIMULATE_HPA_OFFSET)
@option("--partitions", setting=config.SIMULATE_PARTITIONS)
@option("--start-replicas", setting=config.SIMULATE_START_REPLICAS)
@option("--job-seconds", setting=config.SIMULATE_JOB_SECONDS)
@option("--job-pending-seconds", setting=config.SIMULATE_JOB_PENDING_SECONDS)
@reports_errors
def simulate(
    workload: str,
    object_name: str | None,
    overlay: str | None,
    manifests: str | None,
    series_specs: tuple[str, ...],
    duration: float | None,
    as_json: bool,
    polling_interval: float | None,
    cooldown_period: float | None,
    initial_cooldown_period: float | None,
    stabilization_window: float | None,
    sync_period: float,
    tolerance: float,
    hpa_offset: float,
    partitions: int,
    start_replicas: int,
    job_seconds: float,
    job_pending_seconds: float,
) -> None:
    """Replay a metric series through KEDA's and the HPA's control loop, with no broker or cluster.

    \b
    kedasuite simulate -w celery --series backlog=0:0,30:95,400:0
    kedasuite simulate -w celery --series backlog=0:0,30:95,400:0 --cooldown-period 60 --json
    kedasuite simulate -w kafka --series lag=0:0,15:200 --partitions 3
    kedasuite simulate -w workqueue --series backlog=0:30 --job-seconds 25
    """
    scaler, source = scaler_for(workload, manifests, overlay, object_name)
    options = Options(
        polling_interval=polling_interval,
        cooldown_period=cooldown_period,
        initial_cooldown_period=initial_cooldown_period,
        stabilization_window=stabilization_window,
        sync_period=sync_period,
        tolerance=tolerance,
        hpa_offset=hpa_offset,
        partitions=partitions,
        start_replicas=start_replicas,
        job_seconds=job_seconds,
        job_pending_seconds=job_pending_seconds,
    )
    series = parse_series(series_specs, scaler)
    if duration is None:
        duration = default_duration(scaler, series, options)
    steps = replay(scaler, series, duration, options)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in steps]))
        return
    click.echo(describe(scaler, options, source))
    if not series:
        click.echo(f"(no --series: every trigger reads 0; e.g. --series {defaults.SIMULATE_EXAMPLE})")
    click.echo(render(steps, "Jobs" if scaler.kind == SCALED_JOB else "replicas"))
