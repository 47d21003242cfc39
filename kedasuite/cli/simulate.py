"""``kedasuite simulate``: the face of :mod:`kedasuite.keda.simulate` (the replay, with no broker or cluster)."""

from __future__ import annotations

import json

import click

from kedasuite.cli.options import option, reports_errors
from kedasuite.core.names import WORKLOAD_CELERY, Env
from kedasuite.core.workloads import NAMES
from kedasuite.keda.model import Options
from kedasuite.keda.model.replay import default_duration, replay
from kedasuite.keda.rules.hpa import TOLERANCE
from kedasuite.keda.rules.scaling import SCALED_JOB
from kedasuite.keda.simulate import EXAMPLE, describe, parse_series, render, scaler_for


@click.command()
@option(
    "--workload",
    "-w",
    envvar=Env.SIMULATE_WORKLOAD,
    default=WORKLOAD_CELERY,
    show_default=True,
    type=click.Choice(NAMES),
    help="The workload whose ScaledObject / ScaledJob to replay.",
)
@option(
    "--overlay",
    envvar=Env.KEDA_OVERLAY,
    default=None,
    show_default="the render of k8s/overlays/local bundled with the package",
    help="Kustomize directory to render with kubectl (as status reads it).",
)
@option(
    "--manifests",
    envvar=Env.KEDA_MANIFESTS,
    default=None,
    type=click.Path(dir_okay=False),
    help="A file of rendered manifests (kubectl kustomize ... > file); wins over --overlay.",
)
@option(
    "--series",
    "series_specs",
    envvar=Env.SIMULATE_SERIES,
    multiple=True,
    metavar="TRIGGER=S:V,...",
    help=f"A trigger's raw value over time, e.g. {EXAMPLE} (each value holds until the next; a trigger not "
    "given reads 0). VALUE: a number, 'error' (the read fails), or kafka per-partition lags 10/0/3. "
    "A ScaledJob also takes running=... and pending=... (Jobs a cluster reports). Repeatable.",
)
@option(
    "--duration",
    envvar=Env.SIMULATE_DURATION,
    type=click.FloatRange(min=0),
    default=None,
    show_default="the last change + the longest wait + 4 polls",
    help="Seconds to replay.",
)
@option("--json", "as_json", envvar=Env.SIMULATE_JSON, is_flag=True, help="Print every step as a JSON list.")
@option(
    "--polling-interval",
    envvar=Env.SIMULATE_POLLING_INTERVAL,
    type=click.FloatRange(min=1),
    default=None,
    help="What-if: pollingInterval in seconds (default: the manifest's).",
)
@option(
    "--cooldown-period",
    envvar=Env.SIMULATE_COOLDOWN_PERIOD,
    type=click.FloatRange(min=0),
    default=None,
    help="What-if: cooldownPeriod in seconds (default: the manifest's).",
)
@option(
    "--initial-cooldown-period",
    envvar=Env.SIMULATE_INITIAL_COOLDOWN_PERIOD,
    type=click.FloatRange(min=0),
    default=None,
    help="What-if: initialCooldownPeriod in seconds (default: the manifest's).",
)
@option(
    "--stabilization-window",
    envvar=Env.SIMULATE_STABILIZATION_WINDOW,
    type=click.FloatRange(min=0),
    default=None,
    help="What-if: the HPA's scale-down stabilization window (default: the behavior's, else 300 s).",
)
@option(
    "--sync-period",
    envvar=Env.SIMULATE_SYNC_PERIOD,
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Seconds between HPA syncs.",
)
@option(
    "--tolerance",
    envvar=Env.SIMULATE_TOLERANCE,
    type=click.FloatRange(min=0, max=1),
    default=TOLERANCE,
    show_default=True,
    help="The HPA's tolerance (a behavior's own tolerance wins).",
)
@option(
    "--hpa-offset",
    envvar=Env.SIMULATE_HPA_OFFSET,
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds from KEDA's first poll to the HPA's first sync.",
)
@option(
    "--partitions",
    envvar=Env.SIMULATE_PARTITIONS,
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Partitions of a kafka trigger's topic (its cap is partitions × lagThreshold).",
)
@option(
    "--start-replicas",
    envvar=Env.SIMULATE_START_REPLICAS,
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="ScaledObject: replicas at t = 0.",
)
@option(
    "--job-seconds",
    envvar=Env.SIMULATE_JOB_SECONDS,
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="ScaledJob: how long a Job's pods run (one wave of parallelism).",
)
@option(
    "--job-pending-seconds",
    envvar=Env.SIMULATE_JOB_PENDING_SECONDS,
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="ScaledJob: how long a new Job waits before its pod runs (counted as pending).",
)
@reports_errors
def simulate(
    workload: str,
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
    scaler, source = scaler_for(workload, manifests, overlay)
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
        click.echo(f"(no --series: every trigger reads 0; e.g. --series {EXAMPLE})")
    click.echo(render(steps, "Jobs" if scaler.kind == SCALED_JOB else "replicas"))
