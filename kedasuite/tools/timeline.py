"""The timeline recorder: ``scripts/timeline`` (or ``python -m kedasuite.tools.timeline``).

A scaling demo is convincing when you can *see* it: the backlog climbs, KEDA asks for
replicas, they arrive, the backlog drains, they go away. The Kafka scenario (docs/origins.md)
showed that with a Grafana panel; this draws the same picture with nothing but matplotlib, so it works on
a laptop, in CI and in the kind end-to-end run alike.

Every ``--interval`` seconds it takes one ``kedasuite status`` snapshot (the same reader,
in this process, or the pump's ``GET /status`` with ``--status-url``, which is how the
end-to-end script reaches the brokers inside a cluster) and appends one CSV row per
workload: backlog, in-flight, processed, the replicas (or, for the ScaledJob, new Jobs)
KEDA would target, whether KEDA would be active, and, when a Kubernetes cluster answers,
the replicas actually running (the scale target Deployment's ``.status.replicas``; the
ScaledJob's Jobs that have not finished). It stops after ``--duration`` or on Ctrl-C /
SIGTERM and renders a PNG: one panel per workload, backlog and in-flight on the left
axis, predicted and actual replicas as step lines on the right one.

The CSV is the record; ``--render-only CSV`` draws a saved one again.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TextIO

import click

from kedasuite.core import defaults
from kedasuite.cli import (
    EnvOption,
    kafka_options,
    kafka_settings,
    keda_source_options,
    redis_url_option,
    reports_errors,
)
from kedasuite.core.errors import InputError
from kedasuite.core.names import KAFKA_CONSUMER_GROUP, WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE, Env

#: The order workloads are drawn in (the order ``status`` reports them).
WORKLOADS: tuple[str, ...] = (WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE)

#: KEDA labels the Jobs (and their pods) a ScaledJob creates with this.
SCALED_JOB_LABEL = "scaledjob.keda.sh/name"
#: How long one Kubernetes API call may take before the sample leaves ``actual`` empty.
KUBE_TIMEOUT_S = 5.0

Number = int | float


# --------------------------------------------------------------------------------------------
# Rows and the CSV
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One workload at one moment: what KEDA sees, what it would do, what is running."""

    time: datetime
    workload: str
    backlog: Number | None
    in_flight: Number | None
    processed: Number | None
    #: Replicas KEDA and the HPA would target (ScaledJob: Jobs KEDA creates at its next poll).
    predicted: Number | None
    #: ``replicas`` or ``jobs``: what ``predicted`` and ``actual`` count.
    unit: str
    active: bool | None
    #: Replicas (ScaledJob: unfinished Jobs) in the cluster; ``None`` without a cluster.
    actual: int | None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)


def _number(text: str) -> Number | None:
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _bool(text: str) -> bool | None:
    return None if text == "" else text == "true"


def rows_from_status(status: Mapping[str, Any], actual: Mapping[str, int | None] | None = None,
                     workloads: Sequence[str] | None = None) -> list[Row]:
    """The rows of one ``status --json`` snapshot (the contract in :mod:`kedasuite.keda.status`)."""
    when = datetime.fromisoformat(status["time"])
    rows = []
    for entry in status.get("workloads", []):
        name = entry["workload"]
        if workloads and name not in workloads:
            continue
        rows.append(Row(time=when, workload=name, backlog=entry.get("backlog"), in_flight=entry.get("in_flight"),
                        processed=entry.get("processed"), predicted=entry.get("replicas"),
                        unit=entry.get("unit") or "replicas", active=entry.get("active"),
                        actual=(actual or {}).get(name)))
    return rows


class CsvWriter:
    """Writes the header, then rows; flushed after each sample so a killed run keeps its data."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(COLUMNS)
        out.flush()

    def write(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self._csv.writerow([_cell(getattr(row, c)) for c in COLUMNS])
        self._out.flush()


def parse_csv(lines: Iterable[str], where: str = "the CSV") -> list[Row]:
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{where} is not a timeline CSV: missing column(s) {', '.join(missing)}; "
                         "record one with scripts/timeline")
    rows = []
    for line, raw in enumerate(reader, start=2):
        try:
            actual = _number(raw["actual"])
            rows.append(Row(time=datetime.fromisoformat(raw["time"]), workload=raw["workload"],
                            backlog=_number(raw["backlog"]), in_flight=_number(raw["in_flight"]),
                            processed=_number(raw["processed"]), predicted=_number(raw["predicted"]),
                            unit=raw["unit"] or "replicas", active=_bool(raw["active"]),
                            actual=None if actual is None else int(actual)))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}, line {line}: {exc}; fix or delete that row") from None
    return rows


def read_csv(path: str | os.PathLike[str]) -> list[Row]:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file; pass a CSV written by scripts/timeline")
    with open(path, newline="") as f:
        return parse_csv(f, str(path))


# --------------------------------------------------------------------------------------------
# The picture
# --------------------------------------------------------------------------------------------


def _ordered(names: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(names))
    return [w for w in WORKLOADS if w in seen] + [w for w in seen if w not in WORKLOADS]


def _series(values: Iterable[Number | None]) -> list[float]:
    """NaN where a value is missing, so matplotlib leaves a gap instead of drawing zero."""
    return [math.nan if v is None else float(v) for v in values]


def render(rows: Sequence[Row], png: str | os.PathLike[str], title: str | None = None) -> Path:
    """Draw one panel per workload: backlog and in-flight (left), replicas (right, steps)."""
    if not rows:
        raise InputError("nothing to draw: the timeline has no samples; record for longer (--duration)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    start = min(r.time for r in rows)
    span = max((r.time - start).total_seconds() for r in rows)
    scale, unit_label = (60.0, "minutes") if span > 600 else (1.0, "seconds")
    workloads = _ordered(r.workload for r in rows)
    fig, axes = plt.subplots(len(workloads), 1, figsize=(10, 0.8 + 2.7 * len(workloads)), sharex=True,
                             squeeze=False)
    for ax, workload in zip(axes[:, 0], workloads):
        mine = sorted((r for r in rows if r.workload == workload), key=lambda r: r.time)
        x = [(r.time - start).total_seconds() / scale for r in mine]
        backlog = _series(r.backlog for r in mine)
        ax.fill_between(x, backlog, step="post", color="tab:blue", alpha=0.15, linewidth=0)
        ax.step(x, backlog, where="post", color="tab:blue", linewidth=1.6, label="backlog")
        ax.step(x, _series(r.in_flight for r in mine), where="post", color="tab:orange", linewidth=1.4,
                label="in flight")
        ax.set_ylabel("items")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)

        jobs = mine[-1].unit == "jobs"
        right = ax.twinx()
        predicted = _series(r.predicted for r in mine)
        actual = _series(r.actual for r in mine)
        right.step(x, predicted, where="post", color="tab:green", linestyle="--", linewidth=1.8,
                   label="KEDA: new Jobs next poll" if jobs else "KEDA target replicas")
        if any(not math.isnan(a) for a in actual):
            right.step(x, actual, where="post", color="tab:red", linewidth=2.0,
                       label="Jobs running" if jobs else "replicas running")
        top = max([v for v in predicted + actual if not math.isnan(v)] or [0.0])
        right.set_ylim(0, max(top, 1.0) * 1.15 + 0.2)
        right.yaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_ylabel("Jobs" if jobs else "replicas")

        processed = next((r.processed for r in reversed(mine) if r.processed is not None), None)
        heading = workload + (" (ScaledJob)" if jobs else " (ScaledObject)")
        if processed is not None:
            heading += f": {processed} processed"
        ax.set_title(heading, loc="left", fontsize=11)
        handles, labels = ax.get_legend_handles_labels()
        more_handles, more_labels = right.get_legend_handles_labels()
        # Above the panel, right of its title: inside, it would hide the peak it is about.
        ax.legend(handles + more_handles, labels + more_labels, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  ncol=4, fontsize=8, frameon=False, borderaxespad=0.2)
    axes[-1, 0].set_xlabel(f"{unit_label} since {start.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
    fig.suptitle(title or "Backlog and replicas over time", fontsize=13)
    fig.tight_layout()
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------
# Where snapshots come from
# --------------------------------------------------------------------------------------------


class StatusSource(Protocol):
    def read(self, running_jobs: int, pending_jobs: int) -> dict[str, Any]: ...

    def close(self) -> None: ...


class LocalStatus:
    """``kedasuite status --json`` computed in this process (one reader, reused)."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def read(self, running_jobs: int, pending_jobs: int) -> dict[str, Any]:
        # The ScaledJob's prediction depends on the Jobs already running; only a cluster knows.
        self.reader.running_jobs = running_jobs
        self.reader.pending_jobs = pending_jobs
        return self.reader.read()

    def close(self) -> None:
        self.reader.close()


class HttpStatus:
    """The pump's ``GET /status``: the same JSON, read where the brokers are (a cluster)."""

    def __init__(self, url: str, timeout: float = defaults.CONNECT_TIMEOUT_S) -> None:
        self.url = url
        self.timeout = timeout

    def read(self, running_jobs: int, pending_jobs: int) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as reply:
                return json.load(reply)
        except (OSError, ValueError) as exc:
            raise StatusUnavailable(f"cannot read {self.url}: {exc}; is the pump (or its port-forward) up?") from None

    def close(self) -> None:
        pass


class StatusUnavailable(Exception):
    """One snapshot could not be taken; the recorder notes it and tries again next interval."""


# --------------------------------------------------------------------------------------------
# What is running: the Kubernetes API
# --------------------------------------------------------------------------------------------


def _finished(job: Any) -> bool:
    """KEDA counts a Job as running until it has a Complete=True or Failed=True condition."""
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in (job.status.conditions or []))


class Cluster:
    """Replica counts as the Kubernetes API reports them (the ``kubernetes`` client)."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self._targets: dict[str, tuple[str, str]] = {}

    @classmethod
    def connect(cls, namespace: str, context: str | None = None,
                environ: Mapping[str, str] = os.environ) -> tuple[Cluster | None, str | None]:
        """The cluster, or ``None`` and why not (a kubeconfig, else the pod's service account)."""
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:
            return None, ("the kubernetes package is not installed (pip install 'kedasuite[timeline]'); "
                          "the actual column stays empty")
        configuration = client.Configuration()
        try:
            config.load_kube_config(config_file=environ.get("KUBECONFIG") or None, context=context,
                                    client_configuration=configuration)
        except ConfigException as exc:
            if context:
                return None, (f"no Kubernetes cluster: kubeconfig context {context!r}: {exc}; the actual column "
                              "stays empty; check --kube-context and KUBECONFIG")
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as in_pod:
                return None, (f"no Kubernetes cluster: no usable kubeconfig ({exc}) and not in a pod ({in_pod}); "
                              "the actual column stays empty; point KUBECONFIG or --kube-context at a cluster "
                              "to record running replicas")
        api_client = client.ApiClient(configuration)
        cluster = cls(api_client, namespace)
        try:
            cluster.core.read_namespace(namespace, _request_timeout=KUBE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - ApiException, connection refused, TLS: all mean "not usable"
            api_client.close()
            status = getattr(exc, "status", None)
            if status == 404:
                why = f"namespace {namespace!r} does not exist there; deploy the suite or pass --namespace"
            else:
                why = f"{configuration.host} does not answer ({_short(exc)})"
            return None, f"Kubernetes cluster unusable: {why}; the actual column stays empty"
        return cluster, None

    def _target(self, scaled_object: str) -> tuple[str, str]:
        if scaled_object not in self._targets:
            obj = self.custom.get_namespaced_custom_object("keda.sh", "v1alpha1", self.namespace, "scaledobjects",
                                                           scaled_object, _request_timeout=KUBE_TIMEOUT_S)
            ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
            self._targets[scaled_object] = (ref.get("kind") or "Deployment", ref["name"])
        return self._targets[scaled_object]

    def replicas(self, scaled_object: str) -> int:
        """``.status.replicas`` of the ScaledObject's scale target (absent means 0)."""
        kind, name = self._target(scaled_object)
        if kind == "Deployment":
            found = self.apps.read_namespaced_deployment(name, self.namespace, _request_timeout=KUBE_TIMEOUT_S)
        elif kind == "StatefulSet":
            found = self.apps.read_namespaced_stateful_set(name, self.namespace, _request_timeout=KUBE_TIMEOUT_S)
        else:
            raise LookupError(f"ScaledObject {scaled_object} scales a {kind}; only Deployments and "
                              "StatefulSets are counted")
        return int(found.status.replicas or 0)

    def jobs(self, scaled_job: str) -> tuple[int, int]:
        """(running, pending) Jobs of a ScaledJob, counted as KEDA counts them."""
        selector = f"{SCALED_JOB_LABEL}={scaled_job}"
        jobs = self.batch.list_namespaced_job(self.namespace, label_selector=selector,
                                              _request_timeout=KUBE_TIMEOUT_S).items
        running = [j.metadata.name for j in jobs if not _finished(j)]
        if not running:
            return 0, 0
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector,
                                             _request_timeout=KUBE_TIMEOUT_S).items
        started = {(p.metadata.labels or {}).get("job-name") for p in pods
                   if p.status.phase in ("Running", "Succeeded")}
        return len(running), sum(1 for name in running if name not in started)

    def counts(self, status: Mapping[str, Any]) -> tuple[dict[str, int | None], tuple[int, int], list[str]]:
        """Actual counts per workload, the ScaledJob's (running, pending), and what failed."""
        actual: dict[str, int | None] = {}
        jobs = (0, 0)
        problems = []
        for entry in status.get("workloads", []):
            workload, kind, name = entry["workload"], entry.get("kind"), entry.get("name")
            actual[workload] = None
            if not name:
                continue
            try:
                if kind == "ScaledJob":
                    jobs = self.jobs(name)
                    actual[workload] = jobs[0]
                else:
                    actual[workload] = self.replicas(name)
            except Exception as exc:  # noqa: BLE001 - one workload's error leaves only its cell empty
                problems.append(f"{workload}: cannot read {kind} {name} in namespace {self.namespace}: {_short(exc)}")
        return actual, jobs, problems


def _short(exc: BaseException) -> str:
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if status and reason:
        return f"HTTP {status} {reason}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------------------------
# The recording loop
# --------------------------------------------------------------------------------------------


class Notes:
    """Each distinct problem once on stderr: a recorder that repeats itself every sample is noise."""

    def __init__(self, err: Callable[[str], None]) -> None:
        self._err = err
        self._seen: set[str] = set()

    def __call__(self, text: str) -> None:
        if text not in self._seen:
            self._seen.add(text)
            self._err(f"timeline: {text}")


def record(source: StatusSource, cluster: Cluster | None, writer: CsvWriter, interval: float,
           duration: float | None, stop: threading.Event, note: Callable[[str], None],
           workloads: Sequence[str] | None = None) -> int:
    """Sample until ``duration`` has passed or ``stop`` is set; the number of snapshots written.

    Samples are scheduled on a fixed grid (not ``sleep(interval)`` after each), so slow
    reads do not stretch the time axis; a read slower than the interval skips grid points.
    The ScaledJob's running Jobs from one sample feed the next sample's prediction, as KEDA
    uses what was running at its last poll.
    """
    samples = 0
    jobs = (0, 0)
    start = time.monotonic()
    tick = start
    while not stop.is_set():
        try:
            status = source.read(*jobs)
        except StatusUnavailable as exc:
            note(str(exc))
        else:
            actual: dict[str, int | None] = {}
            if cluster is not None:
                actual, jobs, problems = cluster.counts(status)
                for problem in problems:
                    note(problem)
            for entry in status.get("workloads", []):
                if entry.get("error") and (not workloads or entry["workload"] in workloads):
                    note(f"{entry['workload']}: {entry['error']}")
            writer.write(rows_from_status(status, actual, workloads))
            samples += 1
        tick += interval
        behind = time.monotonic() - tick
        if behind > 0:  # a read took longer than the interval: skip the missed ticks, do not bunch up
            tick += math.ceil(behind / interval) * interval
        if duration is not None and tick - start > duration + 1e-9:
            break
        stop.wait(max(0.0, tick - time.monotonic()))
    return samples


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def _stderr(text: str) -> None:
    click.echo(text, err=True)


option = functools.partial(click.option, cls=EnvOption)


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@option("--csv", "csv_path", envvar=Env.TIMELINE_CSV, default=defaults.TIMELINE_CSV,
        type=click.Path(dir_okay=False), help="Where the samples go (the file is started afresh).")
@option("--png", envvar=Env.TIMELINE_PNG, default=None, type=click.Path(dir_okay=False),
        show_default="the CSV path with .png", help="Where the picture goes.")
@option("--interval", envvar=Env.TIMELINE_INTERVAL, default=defaults.TIMELINE_INTERVAL,
        type=click.FloatRange(min=0.1), help="Seconds between samples.")
@option("--duration", envvar=Env.TIMELINE_DURATION, default=None, type=click.FloatRange(min=0),
        show_default="until Ctrl-C or SIGTERM", help="Seconds to record.")
@option("--workload", "-w", "workloads", envvar=Env.TIMELINE_WORKLOADS, multiple=True,
        type=click.Choice(WORKLOADS), help="Only these workloads (repeatable); default: all four.")
@option("--status-url", envvar=Env.TIMELINE_STATUS_URL, default=None,
        help="Read snapshots from a pump's GET /status (e.g. through kubectl port-forward) instead of "
             "reading the brokers from here.")
@option("--namespace", envvar=Env.TIMELINE_NAMESPACE, default=defaults.KUBE_NAMESPACE,
        help="Kubernetes namespace of the ScaledObjects and the ScaledJob.")
@option("--kube-context", envvar=Env.TIMELINE_KUBE_CONTEXT, default=None, show_default="the current context",
        help="kubeconfig context of the cluster whose replicas are recorded.")
@option("--no-cluster", envvar=Env.TIMELINE_NO_CLUSTER, is_flag=True,
        help="Do not look for a cluster (the actual column stays empty).")
@option("--title", envvar=Env.TIMELINE_TITLE, default=None, help="Title of the picture.")
@option("--render-only", type=click.Path(dir_okay=False), default=None, metavar="CSV",
        help="Do not record: draw the picture of a saved CSV.")
@redis_url_option
@kafka_options
@option("--group", envvar=Env.KAFKA_CONSUMER_GROUP, default=KAFKA_CONSUMER_GROUP, help="Consumer group.")
@keda_source_options
@reports_errors
def timeline(csv_path: str, png: str | None, interval: float, duration: float | None,
             workloads: tuple[str, ...], status_url: str | None, namespace: str, kube_context: str | None,
             no_cluster: bool, title: str | None, render_only: str | None, redis_url: str, group: str,
             overlay: str | None, manifests: str | None, **kafka: Any) -> None:
    """Record backlog, in-flight and replicas over time to a CSV, then draw them as a PNG.

    Samples what ``kedasuite status --json`` reports every INTERVAL seconds (and, when
    a Kubernetes cluster answers, the replicas running there) until DURATION has passed
    or it is interrupted (Ctrl-C, SIGTERM); then renders one panel per workload.
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
        from kedasuite.keda.status import StatusReader, load_scalers

        scalers, where = load_scalers(manifests, overlay)
        source = LocalStatus(StatusReader(scalers, where, redis_url, kafka_settings(group=group, **kafka),
                                          list(workloads) or list(WORKLOADS)))
    cluster = None
    if not no_cluster:
        cluster, why = Cluster.connect(namespace, kube_context)
        if why:
            note(why)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    _stderr(f"timeline: sampling every {interval:g} s into {csv_path}"
            + (f" for {duration:g} s" if duration is not None else " until Ctrl-C or SIGTERM"))
    try:
        with open(csv_path, "w", newline="") as out:
            samples = record(source, cluster, CsvWriter(out), interval, duration, stop, note,
                             list(workloads) or None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        source.close()
    if samples == 0:
        raise InputError(f"no sample was taken, so {csv_path} has no rows and no picture was drawn; "
                         "see the notes above")
    render(read_csv(csv_path), png_path, title)
    _stderr(f"timeline: {samples} samples in {csv_path}; picture in {png_path}")


def main(argv: Sequence[str] | None = None) -> None:
    timeline.main(args=list(argv) if argv is not None else None, prog_name="scripts/timeline")


if __name__ == "__main__":
    main(sys.argv[1:])
