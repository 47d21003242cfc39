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
from kedasuite.core import config
from kedasuite.core.errors import InputError
from kedasuite.core.settings import redact_url
from kedasuite.core.stopping import StopFlag

BACKENDS = ("processes", "compose", "none")


@click.command()
@option("--backend", setting=config.AUTOSCALE_BACKEND)
@option("--compose-project", setting=config.AUTOSCALE_COMPOSE_PROJECT)
@option("--compose-file", "compose_files", setting=config.AUTOSCALE_COMPOSE_FILE)
@option("--workload", "-w", "workloads", setting=config.AUTOSCALE_WORKLOADS)
@keda_source_options
@redis_url_option
@kafka_options
@option("--group", setting=config.KAFKA_CONSUMER_GROUP)
@option("--polling-interval", setting=config.AUTOSCALE_POLLING_INTERVAL)
@option("--cooldown-period", setting=config.AUTOSCALE_COOLDOWN_PERIOD)
@option("--stabilization-window", setting=config.AUTOSCALE_STABILIZATION_WINDOW)
@option("--sync-period", setting=config.AUTOSCALE_SYNC_PERIOD)
@option(
    "--run-dir",
    setting=config.AUTOSCALE_RUN_DIR,
)
@option("--duration", setting=config.AUTOSCALE_DURATION)
@option("--every-step", setting=config.AUTOSCALE_EVERY_STEP)
@option("--metrics-port", setting=config.AUTOSCALE_METRICS_PORT)
@option("--namespace", setting=config.AUTOSCALE_NAMESPACE)
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
    metrics_port: int,
    namespace: str,
    **kafka: Any,
) -> None:
    """Act KEDA and the HPA out locally: the model of their loop, fed by the live brokers, with
    real workers following its replica counts.

    \b
    kedasuite autoscale                                   # every workload, the manifests' timings
    kedasuite autoscale -w celery --polling-interval 1 --cooldown-period 10 --sync-period 2
    kedasuite autoscale --backend compose                 # the services of `docker compose up`
    kedasuite autoscale --backend none                    # the model only, beside a real cluster
    kedasuite autoscale --metrics-port 9022               # KEDA's and kube-state-metrics' series

    Prints one line per replica (or Job) change: time, workload, old → new and the model's
    reason; writes RUN_DIR/state.json each pass. With --metrics-port it serves /metrics: the
    series a cluster's KEDA, kube-state-metrics and kafka-exporter serve, under their names. On
    SIGINT / SIGTERM it stops the workers it runs with SIGTERM (SIGKILL after their grace period).
    """
    from kedasuite.autoscale.actuator import STATE_FILE, Actuator, Backend, NoBackend, deviations
    from kedasuite.autoscale.metrics import AutoscaleMetrics
    from kedasuite.autoscale.targets import load_targets
    from kedasuite.keda.model import Options
    from kedasuite.keda.reads import ScalerReads
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
    reads = ScalerReads(redis_url, settings)
    stop = StopFlag()  # set by the signal handler, waited on by this thread (see kedasuite.core.stopping)
    signalled: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        signalled.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    actuator: Actuator | None = None
    listed: Path | None = None
    exporter: AutoscaleMetrics | None = None
    server: Any = None
    why = "it failed"
    try:
        if metrics_port:
            exporter = AutoscaleMetrics(namespace, settings.group, settings.topic)
            server = exporter.serve(metrics_port)
        actuator = Actuator(
            targets,
            reads,
            chosen,
            options,
            emit=echo,
            every_step=every_step,
            source=source,
            state_path=run / STATE_FILE,
            observe=None if exporter is None else exporter.observe,
            after_pass=None if exporter is None else exporter.update,
        )
        # The faces reading another run directory can name this one.
        listed = register(run, backend, datetime.fromtimestamp(actuator.started, UTC).isoformat())
        click.echo(
            f"autoscale: backend {backend}, manifests {source}, Redis {redact_url(redis_url)}, "
            f"Kafka {settings.bootstrap} (topic {settings.topic}, group {settings.group}); run dir {run}"
        )
        if exporter is not None:
            click.echo(
                f"autoscale: serving KEDA's, kube-state-metrics' and kafka-exporter's series on "
                f"http://0.0.0.0:{metrics_port}/metrics (namespace {namespace})"
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
        if server is not None:  # last: the final counts stay scrapable while the workers stop
            server.shutdown()
            server.server_close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    click.echo("autoscale: stopped")


def _quietly(write: Callable[..., None], *args: Any) -> None:
    """A state write on the way out: one that fails (a full disk) must not keep the workers running."""
    try:
        write(*args)
    except OSError as exc:
        click.echo(f"autoscale: could not write the state ({exc}); the faces will call it stale by its age", err=True)
