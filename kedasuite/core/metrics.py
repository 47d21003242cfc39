"""Prometheus metrics: what every worker did, and the helper that serves them.

Names follow Prometheus conventions: prefix ``kedasuite_``, counters end in ``_total``,
durations are ``_seconds``, and every per-workload series carries one ``workload``
label (bounded: celery, kafka, rq, workqueue).

Why multiprocess mode, always, when a worker serves metrics: a prefork Celery worker
runs tasks in child processes, and RQ forks a new work horse for every job, so the
process that answers ``/metrics`` is never the one that counted. prometheus_client's
multiprocess mode has each process write its values to a memory-mapped file in
``PROMETHEUS_MULTIPROC_DIR`` and sums the files at scrape time. The directory must be
set before prometheus_client creates any value in the parent (children inherit it over
fork), so :func:`serve_worker_metrics` runs before the worker code counts anything, and
this module imports prometheus_client lazily for the same reason.

Dead processes: their live gauges (in-flight) are dropped, as prometheus_client
documents (``mark_process_dead``), and their counter and histogram files are folded
into one archive file per type at the next scrape, so an RQ worker that ran a million
jobs (a million work horses) still scrapes a handful of files, and its counts never go
backwards.
"""

from __future__ import annotations

import atexit
import functools
import glob
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.core.names import Env

log = logging.getLogger(__name__)

PREFIX = "kedasuite"
#: Work time buckets: the demo's 0.05-0.2 s, the default 1-9 s and 10 s, and slow outliers.
WORK_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0)
#: The file a dead process's counters (histograms) are folded into; the collector reads
#: ``<type>_<anything>.db`` and only gauges look at what follows the underscore.
ARCHIVE = "archive"
#: Methods the pump's request counter names as they are; anything else is "other", so
#: a client inventing methods cannot grow the label set.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class WorkerMetrics:
    """The worker series. Not registered anywhere: in multiprocess mode the scrape reads
    the files every process writes, not a registry."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        labels = ["workload"]
        self.processed = Counter(
            f"{PREFIX}_worker_items_processed",
            "Items whose result a worker wrote (first delivery only; redeliveries count as duplicates).",
            labels,
            registry=None,
        )
        self.duplicates = Counter(
            f"{PREFIX}_worker_items_duplicates",
            "Redelivered items whose result existed (at-least-once delivery after a crash).",
            labels,
            registry=None,
        )
        self.failed = Counter(
            f"{PREFIX}_worker_items_failed",
            "Items whose processing raised an error (they are retried or dead-lettered, per workload).",
            labels,
            registry=None,
        )
        self.dead_lettered = Counter(
            f"{PREFIX}_worker_items_dead_lettered",
            "Items parked for a person to look at: poison, or out of attempts.",
            labels,
            registry=None,
        )
        # livesum: the sum over processes that are alive; a killed process's items are not in flight.
        self.in_flight = Gauge(
            f"{PREFIX}_worker_items_in_flight",
            "Items being worked on now.",
            labels,
            registry=None,
            multiprocess_mode="livesum",
        )
        self.work_seconds = Histogram(
            f"{PREFIX}_worker_work_seconds",
            "Time to handle one item, any outcome.",
            labels,
            registry=None,
            buckets=WORK_SECONDS_BUCKETS,
        )


@functools.cache
def worker_metrics() -> WorkerMetrics:
    """The one set of worker series of this process (forked children share the objects;
    prometheus_client notices the new pid and writes its own file)."""
    return WorkerMetrics()


def count_processed(workload: str, n: int = 1) -> None:
    worker_metrics().processed.labels(workload).inc(n)


def count_duplicate(workload: str, n: int = 1) -> None:
    worker_metrics().duplicates.labels(workload).inc(n)


def count_failed(workload: str, n: int = 1) -> None:
    worker_metrics().failed.labels(workload).inc(n)


def count_dead_lettered(workload: str, n: int = 1) -> None:
    if n:
        worker_metrics().dead_lettered.labels(workload).inc(n)


@contextmanager
def working(workload: str) -> Iterator[None]:
    """Around the handling of one item: in flight while it runs, its time observed, and
    counted failed when it raises (the error goes on to the caller)."""
    m = worker_metrics()
    in_flight = m.in_flight.labels(workload)
    in_flight.inc()
    started = time.monotonic()
    try:
        yield
    except Exception:
        m.failed.labels(workload).inc()
        raise
    finally:
        in_flight.dec()
        m.work_seconds.labels(workload).observe(time.monotonic() - started)


# --- Serving a worker's metrics -----------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


def _pid_of(path: str) -> int | None:
    stem = os.path.basename(path)[: -len(".db")]
    tail = stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


class LiveProcessCollector:
    """prometheus_client's MultiProcessCollector, after tidying up after dead processes.

    The directory must belong to this worker alone (its own temp dir, or one
    ``PROMETHEUS_MULTIPROC_DIR`` per container): a pid that is not alive here is dead.
    """

    def __init__(self, directory: str) -> None:
        from prometheus_client.multiprocess import MultiProcessCollector

        self.directory = directory
        self._collector = MultiProcessCollector(None, directory)
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Any]:
        with self._lock:
            self.sweep()
            return list(self._collector.collect())

    def sweep(self) -> None:
        from prometheus_client import multiprocess

        me = os.getpid()
        dead = {
            pid
            for path in glob.glob(os.path.join(self.directory, "*.db"))
            if (pid := _pid_of(path)) is not None and pid != me and not _alive(pid)
        }
        for pid in sorted(dead):
            multiprocess.mark_process_dead(pid, self.directory)  # its in-flight items are not in flight
            for kind in ("counter", "histogram"):
                self._fold(os.path.join(self.directory, f"{kind}_{pid}.db"), kind)

    def _fold(self, path: str, kind: str) -> None:
        """Add a dead process's values to the archive file, then remove its file.

        Archive first, remove second: a crash in between counts that process twice at
        worst, never loses it, and counters may not go backwards.
        """
        from prometheus_client.mmap_dict import MmapedDict

        if not os.path.exists(path):
            return
        values = MmapedDict.read_all_values_from_file(path)
        archive = MmapedDict(os.path.join(self.directory, f"{kind}_{ARCHIVE}.db"))
        try:
            for key, value, _timestamp, _pos in values:
                archive.write_value(key, archive.read_value(key)[0] + value, 0.0)
        finally:
            archive.close()
        os.remove(path)


@dataclass
class MetricsServer:
    """A running metrics endpoint; :meth:`close` stops it and removes a private directory."""

    port: int
    directory: str
    private: bool
    _server: Any
    _owner: int

    def close(self) -> None:
        if os.getpid() != self._owner:
            return  # a forked child inherited the exit hook: the directory is not its to remove
        self._server.shutdown()
        self._server.server_close()
        if self.private:
            shutil.rmtree(self.directory, ignore_errors=True)


def prepare_multiprocess() -> tuple[str, bool]:
    """Point prometheus_client at a metrics directory, before any value exists.

    ``PROMETHEUS_MULTIPROC_DIR`` when the user set it (its old ``*.db`` files are removed:
    prometheus_client requires a clean directory per run), else a private temp dir
    that :meth:`MetricsServer.close` removes. Returns (directory, private).
    """
    directory = os.environ.get(Env.PROMETHEUS_MULTIPROC_DIR)
    private = not directory
    if directory:
        if not os.path.isdir(directory):
            raise InputError(
                f"{Env.PROMETHEUS_MULTIPROC_DIR}={directory} is not a directory: create it, or unset "
                "it and a private temporary directory is used"
            )
        for stale in glob.glob(os.path.join(directory, "*.db")):
            os.remove(stale)
    else:
        directory = tempfile.mkdtemp(prefix="kedasuite-metrics-")
        os.environ[Env.PROMETHEUS_MULTIPROC_DIR] = directory  # children inherit it over fork
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        # prometheus_client was imported before the variable was set (it picks its value
        # class at import); no value exists yet, so choosing again is safe.
        values.ValueClass = values.get_value_class()
    return directory, private


def announce_ready() -> None:
    """Create the file named in ``READY_FILE``, when set: this worker is ready for work. The local
    autoscaler counts it ready from then on, as the pods of ``k8s/base`` are once their metrics
    port answers (their readinessProbe), so a worker calls it right after :func:`serve_worker_metrics`."""
    path = os.environ.get(Env.READY_FILE)
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a"):
            pass


def declare_workload(workload: str) -> None:
    """Create the workload's series at 0 in this process, so they exist from the first scrape: a
    rate, an in-flight gauge or a quantile has data before the first item (RQ's in-flight gauge
    lives in each job's work horse, which is gone between jobs; this process's 0 stays)."""
    m = worker_metrics()
    for family in (m.processed, m.duplicates, m.failed, m.dead_lettered, m.in_flight, m.work_seconds):
        family.labels(workload)


def serve_worker_metrics(port: int, workload: str, host: str = "0.0.0.0") -> MetricsServer | None:
    """Serve ``/metrics`` for this worker and every process it forks, its ``workload``'s series
    declared at 0; None when port is 0.

    Call it first thing, before the worker counts anything. Stopped at exit.
    """
    if port == 0:
        return None
    directory, private = prepare_multiprocess()
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(LiveProcessCollector(directory))  # type: ignore[arg-type]
    try:
        server, _thread = start_http_server(port, host, registry)
    except OSError as exc:
        if private:
            shutil.rmtree(directory, ignore_errors=True)
        raise InputError(
            f"cannot serve metrics on port {port}: {exc.strerror or exc}; choose another port with "
            f"--metrics-port or {Env.METRICS_PORT} (0 turns metrics off)"
        ) from None
    running = MetricsServer(port, directory, private, server, os.getpid())
    atexit.register(running.close)
    declare_workload(workload)
    log.info("serving Prometheus metrics on %s:%d/metrics (files in %s)", host, port, directory)
    return running
