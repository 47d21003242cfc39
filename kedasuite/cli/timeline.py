"""``kedasuite timeline``: record backlog, in-flight and replicas to a CSV, then draw them.

The click face of :mod:`kedasuite.tools.timeline`; :mod:`kedasuite.cli` registers it on
the main group (this module uses the option helpers there, so it is imported by
``kedasuite.cli`` and nothing in the package imports it).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from kedasuite.cli.options import (
    autoscale_run_dir_option,
    kafka_options,
    kafka_settings,
    keda_source_options,
    option,
    redis_url_option,
    reports_errors,
)
from kedasuite.core import config
from kedasuite.core.errors import InputError
from kedasuite.core.stopping import StopFlag
from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.tools.timeline.picture import render
from kedasuite.tools.timeline.records import CsvWriter, read_csv
from kedasuite.tools.timeline.sources import Cluster, HttpStatus, LocalStatus, Notes, StatusSource, record


def _stderr(text: str) -> None:
    click.echo(text, err=True)


@click.command("timeline", context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@option("--csv", "csv_path", setting=config.TIMELINE_CSV)
@option("--png", setting=config.TIMELINE_PNG)
@option("--interval", setting=config.TIMELINE_INTERVAL)
@option("--duration", setting=config.TIMELINE_DURATION)
@option("--workload", "-w", "workloads", setting=config.TIMELINE_WORKLOADS)
@option("--status-url", setting=config.TIMELINE_STATUS_URL)
@option("--namespace", setting=config.TIMELINE_NAMESPACE)
@option("--kube-context", setting=config.TIMELINE_KUBE_CONTEXT)
@option("--no-cluster", setting=config.TIMELINE_NO_CLUSTER)
@option("--title", setting=config.TIMELINE_TITLE)
@option("--render-only", setting=config.TIMELINE_RENDER_ONLY)
@redis_url_option
@kafka_options
@option("--group", setting=config.KAFKA_CONSUMER_GROUP)
@keda_source_options
@autoscale_run_dir_option
@reports_errors
def timeline(
    csv_path: str,
    png: str | None,
    interval: float,
    duration: float | None,
    workloads: tuple[str, ...],
    status_url: str | None,
    namespace: str,
    kube_context: str | None,
    no_cluster: bool,
    title: str | None,
    render_only: str | None,
    redis_url: str,
    group: str,
    overlay: str | None,
    manifests: str | None,
    autoscale_run_dir: str,
    **kafka: Any,
) -> None:
    """Record backlog, in-flight and replicas over time to a CSV, then draw them as a PNG.

    Samples what ``kedasuite status --json`` reports every INTERVAL seconds (and, when
    a Kubernetes cluster answers, the replicas running there; without one, the replicas a
    local ``kedasuite autoscale`` runs) until DURATION has passed or it is interrupted
    (Ctrl-C, SIGTERM); then renders one panel per workload.
    """
    if render_only:
        out = render(read_csv(render_only), png or Path(render_only).with_suffix(".png"), title)
        click.echo(f"timeline: picture in {out}", err=True)
        return
    png_path = Path(png) if png else Path(csv_path).with_suffix(".png")
    note = Notes(_stderr)
    source: StatusSource
    if status_url:
        source = HttpStatus(status_url)
    else:
        from kedasuite.keda.objects import load_scalers
        from kedasuite.tools.status import StatusReader

        scalers, where = load_scalers(manifests, overlay)
        source = LocalStatus(
            StatusReader(
                scalers,
                where,
                redis_url,
                kafka_settings(group=group, **kafka),
                list(workloads) or list(WORKLOADS),
                autoscale_run_dir=autoscale_run_dir or None,
            )
        )
    cluster = None
    if not no_cluster:
        cluster, why = Cluster.connect(namespace, kube_context)
        if why:
            note(why)
    stop = StopFlag()  # set by the signal handler, waited on by this thread (see kedasuite.core.stopping)
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    _stderr(
        f"timeline: sampling every {interval:g} s into {csv_path}"
        + (f" for {duration:g} s" if duration is not None else " until Ctrl-C or SIGTERM")
    )
    try:
        with open(csv_path, "w", newline="") as out:
            samples = record(source, cluster, CsvWriter(out), interval, duration, stop, note, list(workloads) or None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        source.close()
    if samples == 0:
        raise InputError(
            f"no sample was taken, so {csv_path} has no rows and no picture was drawn; see the notes above"
        )
    render(read_csv(csv_path), png_path, title)
    _stderr(f"timeline: {samples} samples in {csv_path}; picture in {png_path}")
