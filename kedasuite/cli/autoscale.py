"""``kedasuite autoscale``: the model of KEDA's and the HPA's loop against the live brokers,
with replica counts made real by a backend."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from kedasuite.autoscale.view import register, unregister
from kedasuite.cli.options import (
    kafka_options,
    kafka_settings,
    keda_source_options,
    option,
    redis_url_option,
    reports_errors,
)
from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.names import KAFKA_CONSUMER_GROUP, Env
from kedasuite.core.settings import redact_url
from kedasuite.core.stopping import StopFlag
from kedasuite.core.workloads import NAMES

BACKENDS = ("processes", "compose", "none")
#: The compose project ``--backend compose`` scales by default (compose.yaml's ``name:``).
COMPOSE_PROJECT = "kedasuite"


@click.command()
@option(
    "--backend",
    envvar=Env.AUTOSCALE_BACKEND,
    default="processes",
    show_default=True,
    help="What runs the replicas: 'processes' (kedasuite worker / job processes here), 'compose' (the "
    "services of a docker compose project) or 'none' (the model only, for a cluster whose KEDA acts).",
)
@option(
    "--compose-project",
    envvar=Env.AUTOSCALE_COMPOSE_PROJECT,
    default=COMPOSE_PROJECT,
    show_default=True,
    help="--backend compose: the compose project whose services are scaled (docker compose -p).",
)
@option(
    "--compose-file",
    "compose_files",
    envvar=Env.AUTOSCALE_COMPOSE_FILE,
    multiple=True,
    type=click.Path(dir_okay=False),
    help="--backend compose: the compose file(s) (docker compose -f, repeatable; default: compose's own "
    "lookup, compose.yaml in the current directory).",
)
@option(
    "--workload",
    "-w",
    "workloads",
    envvar=Env.AUTOSCALE_WORKLOADS,
    multiple=True,
    type=click.Choice(NAMES),
    help="Only these workloads (repeatable); default: every ScaledObject / ScaledJob of the manifests.",
)
@keda_source_options
@redis_url_option
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@option(
    "--polling-interval",
    envvar=Env.AUTOSCALE_POLLING_INTERVAL,
    type=click.FloatRange(min=1),
    default=None,
    help="Override pollingInterval (seconds; default: the manifest's). Printed as a deviation.",
)
@option(
    "--cooldown-period",
    envvar=Env.AUTOSCALE_COOLDOWN_PERIOD,
    type=click.FloatRange(min=0),
    default=None,
    help="Override cooldownPeriod (seconds; default: the manifest's). Printed as a deviation.",
)
@option(
    "--stabilization-window",
    envvar=Env.AUTOSCALE_STABILIZATION_WINDOW,
    type=click.FloatRange(min=0),
    default=None,
    help="Override the HPA's scale-down stabilization window (default: the behavior's, else 300 s).",
)
@option(
    "--sync-period",
    envvar=Env.AUTOSCALE_SYNC_PERIOD,
    type=click.FloatRange(min=1),
    default=None,
    help="Override the HPA's sync period (default: Kubernetes' 15 s).",
)
@option(
    "--run-dir",
    envvar=Env.AUTOSCALE_RUN_DIR,
    default=defaults.autoscale_run_dir,
    show_default="<tmp>/kedasuite-autoscale-<uid>",
    type=click.Path(file_okay=False),
    help="Workers' logs, the process bookkeeping a restarted autoscaler adopts "
    "from, and state.json (what /status can show).",
)
@option(
    "--duration",
    envvar=Env.AUTOSCALE_DURATION,
    type=click.FloatRange(min=0),
    default=None,
    help="Stop after this many seconds (default: until SIGINT / SIGTERM).",
)
@option(
    "--every-step",
    envvar=Env.AUTOSCALE_EVERY_STEP,
    is_flag=True,
    help="Print every step of the model (each poll and sync), not only changes.",
)
@reports_errors
def autoscale(
    backend: str,
    compose_project: str,
    compose_files: tuple[str, ...],
    workloads: tuple[str, ...],
    overlay: str | None,
    manifests: str | None,
    redis_url: str,
    group: str,
    polling_interval: float | None,
    cooldown_period: float | None,
    stabilization_window: float | None,
    sync_period: float | None,
    run_dir: str,
    duration: float | None,
    every_step: bool,
    **kafka: Any,
) -> None:
    """Act KEDA and the HPA out locally: the model of their loop, fed by the live brokers, with
    real workers following its replica counts.

    \b
    kedasuite autoscale                                   # every workload, the manifests' timings
    kedasuite autoscale -w celery --polling-interval 1 --cooldown-period 10 --sync-period 2
    kedasuite autoscale --backend compose                 # the services of `docker compose up`
    kedasuite autoscale --backend none                    # the model only, beside a real cluster

    Prints one line per replica (or Job) change: time, workload, old → new and the model's
    reason; writes RUN_DIR/state.json each pass. On SIGINT / SIGTERM it stops the workers it
    runs with SIGTERM (SIGKILL after their grace period).
    """
    from kedasuite.autoscale.actuator import STATE_FILE, Actuator, Backend, NoBackend, deviations
    from kedasuite.autoscale.reads import LiveReads
    from kedasuite.autoscale.targets import load_targets
    from kedasuite.keda.model import Options
    from kedasuite.keda.rules.hpa import SYNC_PERIOD
    from kedasuite.keda.simulate import describe

    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: choose {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    options = Options(
        polling_interval=polling_interval,
        cooldown_period=cooldown_period,
        stabilization_window=stabilization_window,
        sync_period=SYNC_PERIOD if sync_period is None else sync_period,
    )
    targets, source = load_targets(manifests, overlay, workloads)
    settings = kafka_settings(group=group, **kafka)
    echo: Callable[[str], None] = click.echo
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    chosen: Backend
    if backend == "processes":
        from kedasuite.autoscale.processes import ProcessBackend, worker_env

        chosen = ProcessBackend(
            run, worker_env(redis_url, settings), {t.name: t.grace_seconds for t in targets}, emit=echo
        )
    elif backend == "compose":
        from kedasuite.autoscale.compose import ComposeBackend, check_compose

        version = check_compose()
        click.echo(
            f"autoscale: {version}; project {compose_project}"
            + (f", file(s) {', '.join(compose_files)}" if compose_files else "")
        )
        chosen = ComposeBackend(compose_project, compose_files, emit=echo, targets=targets)
    else:
        chosen = NoBackend()
    reads = LiveReads(redis_url, settings)
    stop = StopFlag()  # set by the signal handler, waited on by this thread (see kedasuite.core.stopping)
    signalled: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        signalled.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    actuator: Actuator | None = None
    listed: Path | None = None
    why = "it failed"
    try:
        actuator = Actuator(
            targets,
            reads,
            chosen,
            options,
            emit=echo,
            every_step=every_step,
            source=source,
            state_path=run / STATE_FILE,
        )
        # The faces reading another run directory can name this one.
        listed = register(run, backend, datetime.fromtimestamp(actuator.started, UTC).isoformat())
        click.echo(
            f"autoscale: backend {backend}, manifests {source}, Redis {redact_url(redis_url)}, "
            f"Kafka {settings.bootstrap} (topic {settings.topic}, group {settings.group}); run dir {run}"
        )
        for target in targets:
            if target.is_job:
                s = options.apply(target.scaler)
                head = (
                    f"ScaledJob {s.name} from {source}: pollingInterval {s.polling_interval:g} s, max "
                    f"{s.max_replicas} Jobs, strategy {s.strategy}, {target.parallelism} runner(s) per Job"
                )
            else:
                head = describe(target.scaler, options, source).split("\n")[0]
                head += f"; grace period {target.grace_seconds:g} s ({target.grace_source})"
            click.echo(f"{target.name}: {head}")
            if deviations(target, options):
                click.echo(f"  deviations from the manifest: {'; '.join(deviations(target, options))}")
        actuator.run(stop, duration)
        why = signalled[0] if signalled else f"--duration {duration:g} s reached"
        click.echo(f"autoscale: stopping; actuation lag (model step → backend acted): {actuator.lag_summary()}")
    finally:
        if actuator is not None:
            _quietly(actuator.mark_stopping, why)
        chosen.close()
        reads.close()
        if actuator is not None:
            _quietly(actuator.mark_stopped)
        if listed is not None:
            unregister(listed)
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo("autoscale: stopped")


def _quietly(write: Callable[..., None], *args: Any) -> None:
    """A state write on the way out: one that fails (a full disk) must not keep the workers running."""
    try:
        write(*args)
    except OSError as exc:
        click.echo(f"autoscale: could not write the state ({exc}); the faces will call it stale by its age", err=True)
