"""``kedasuite pump`` (one run, then a summary) and ``kedasuite serve`` (the HTTP pump): faces of
:mod:`kedasuite.producers.engine`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from kedasuite.cli.options import (
    autoscale_run_dir_option,
    keda_source_options,
    option,
    pump_settings,
    pump_settings_options,
    reports_errors,
)
from kedasuite.core import config, defaults
from kedasuite.core.names import (
    Env,
)


@click.command()
@click.argument("workload", required=False, envvar=Env.PUMP_DEFAULT_WORKLOAD)
@option("--count", "-n", setting=config.PUMP_COUNT)
@option("--rate", setting=config.PUMP_RATE)
@option("--duration", setting=config.PUMP_DURATION)
@option("--profile", setting=config.PUMP_PROFILE)
@option("--seed", setting=config.PUMP_SEED)
@option("--id-prefix", setting=config.PUMP_ID_PREFIX)
@option("--progress/--no-progress", setting=config.PUMP_PROGRESS)
@pump_settings_options
@reports_errors
def pump(
    workload: str | None,
    count: str | None,
    rate: str | None,
    duration: str | None,
    profile: str | None,
    seed: str | None,
    id_prefix: str | None,
    progress: bool | None,
    **settings: Any,
) -> None:
    """Send COUNT fake user records to WORKLOAD (or 'all'), then print a summary.

    With --rate and --duration (or --count), or --profile, records go out on that
    schedule instead of as fast as the broker takes them; the summary says when the pump
    could not keep up. Exits 1 when any record did not reach its broker, 2 on bad input
    or an unreachable broker (nothing sent).
    """
    from kedasuite.producers.engine import prepare_run, pump_all

    s = pump_settings(**settings)
    run, publishers = prepare_run(
        s,
        count,
        workload,
        seed,
        id_prefix,
        rate=rate,
        duration=duration,
        profile=profile,
        default_count=defaults.PUMP_COUNT,
        any_workload=True,
    )
    n = run.count
    show = sys.stderr.isatty() if progress is None else progress
    shape = run.streams[0].profile
    if shape is not None:
        click.echo(f"pacing {shape.spec}: {n} items per workload over {shape.time_of(n):.1f} s", err=True)
    with click.progressbar(
        length=n * len(run.streams),
        label=",".join(st.workload for st in run.streams),
        file=sys.stderr if show else open(os.devnull, "w"),
    ) as bar:
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


@click.command()
@option("--host", setting=config.PUMP_HOST)
@option("--port", setting=config.PUMP_PORT)
@option("--threads", setting=config.PUMP_THREADS)
@option("--max-runs", setting=config.PUMP_MAX_RUNS)
@option("--max-queued-items", setting=config.PUMP_MAX_QUEUED_ITEMS)
@option("--token", setting=config.PUMP_TOKEN)
@pump_settings_options
@keda_source_options
@autoscale_run_dir_option
@reports_errors
def serve(
    host: str,
    port: int,
    threads: int,
    max_runs: int,
    max_queued_items: int,
    token: str | None,
    overlay: str | None,
    manifests: str | None,
    autoscale_run_dir: str,
    **settings: Any,
) -> None:
    """Run the HTTP pump under gunicorn: curl "localhost:8080/pump?count=100".

    Also serves GET /status (what KEDA would decide now, as ``kedasuite status --json``, with
    a local ``kedasuite autoscale``'s actual and model replicas when its run directory has them)
    and the live dashboard at /.
    """
    import dataclasses

    from kedasuite.producers.http_pump import create_app
    from kedasuite.producers.server import serve as run_server
    from kedasuite.tools.status import pump_status

    configured = dataclasses.replace(
        pump_settings(**settings),
        keda_overlay=overlay,
        keda_manifests=manifests,
        autoscale_run_dir=autoscale_run_dir or None,
        max_runs=max_runs,
        max_queued_items=max_queued_items,
        token=token or None,
    )
    run_server(create_app(configured, pump_status(configured)), host, port, threads)
