"""Where the timeline's readings come from: a status snapshot, and what a cluster runs.

A snapshot is ``kedasuite status --json``: computed in this process (:class:`LocalStatus`)
or read from a pump's ``GET /status`` (:class:`HttpStatus`, how scripts/e2e reaches the
brokers inside a cluster through a port-forward). What runs comes from the Kubernetes API
(:class:`Cluster`, the ``kubernetes`` client of the ``[timeline]`` extra, imported only
here): the scale target's ``.status.replicas``, the ScaledJob's unfinished and failed Jobs.
Without a cluster, a local ``kedasuite autoscale``'s replicas (its state, in each snapshot's
``autoscale`` block) are what runs (:func:`local_actual`).
:func:`record` is the recorder's loop; ``kedasuite e2e`` samples through the same classes.
"""

from __future__ import annotations

import json
import math
import os
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from kedasuite.core import defaults
from kedasuite.core.stopping import Stoppable
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.tools.timeline.records import CsvWriter, rows_from_status

#: KEDA labels the Jobs (and their pods) a ScaledJob creates with this.
SCALED_JOB_LABEL = "scaledjob.keda.sh/name"
#: How long one Kubernetes API call may take before the sample leaves ``actual`` empty.
KUBE_TIMEOUT_S = 5.0
#: The plural of each KEDA kind in the ``keda.sh/v1alpha1`` API.
KEDA_PLURALS: Mapping[str, str] = {SCALED_OBJECT: "scaledobjects", SCALED_JOB: "scaledjobs"}


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
    """The pump's ``GET /status``: the same JSON, read where the brokers are (a cluster).

    ``token``: the pump's bearer token (``PUMP_TOKEN``), when it has one.
    """

    def __init__(self, url: str, timeout: float = defaults.CONNECT_TIMEOUT_S, token: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.token = token

    def read(self, running_jobs: int = 0, pending_jobs: int = 0) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url, headers={"Authorization": f"Bearer {self.token}"} if self.token else {}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
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


def _condition(job: Any, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in (job.status.conditions or []))


def count_jobs(jobs: Iterable[Any]) -> tuple[list[str], int]:
    """The names of the running Jobs and the number of failed ones, as KEDA counts them:
    a Job runs until it has a Complete=True or Failed=True condition."""
    running, failed = [], 0
    for job in jobs:
        if _condition(job, "Failed"):
            failed += 1
        elif not _condition(job, "Complete"):
            running.append(job.metadata.name)
    return running, failed


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
    def connect(
        cls, namespace: str, context: str | None = None, environ: Mapping[str, str] = os.environ
    ) -> tuple[Cluster | None, str | None]:
        """The cluster, or ``None`` and why not (a kubeconfig, else the pod's service account)."""
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:
            return None, (
                "the kubernetes package is not installed (pip install 'kedasuite[timeline]'); "
                "the actual column stays empty"
            )
        configuration = client.Configuration()
        try:
            config.load_kube_config(
                config_file=environ.get("KUBECONFIG") or None, context=context, client_configuration=configuration
            )
        except ConfigException as exc:
            if context:
                return None, (
                    f"no Kubernetes cluster: kubeconfig context {context!r}: {exc}; the actual column "
                    "stays empty; check --kube-context and KUBECONFIG"
                )
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as in_pod:
                return None, (
                    f"no Kubernetes cluster: no usable kubeconfig ({exc}) and not in a pod ({in_pod}); "
                    "the actual column stays empty; point KUBECONFIG or --kube-context at a cluster "
                    "to record running replicas"
                )
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

    def keda_object(self, kind: str, name: str) -> dict[str, Any]:
        """A ScaledObject or ScaledJob as the API serves it (a dict, as in a manifest)."""
        return self.custom.get_namespaced_custom_object(
            "keda.sh", "v1alpha1", self.namespace, KEDA_PLURALS[kind], name, _request_timeout=KUBE_TIMEOUT_S
        )

    def _target(self, scaled_object: str) -> tuple[str, str]:
        if scaled_object not in self._targets:
            obj = self.keda_object(SCALED_OBJECT, scaled_object)
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
            raise LookupError(
                f"ScaledObject {scaled_object} scales a {kind}; only Deployments and StatefulSets are counted"
            )
        return int(found.status.replicas or 0)

    def job_counts(self, scaled_job: str) -> tuple[int, int, int]:
        """(running, pending, failed) Jobs of a ScaledJob; pending: running with no pod started."""
        selector = f"{SCALED_JOB_LABEL}={scaled_job}"
        jobs = self.batch.list_namespaced_job(
            self.namespace, label_selector=selector, _request_timeout=KUBE_TIMEOUT_S
        ).items
        running, failed = count_jobs(jobs)
        if not running:
            return 0, 0, failed
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=selector, _request_timeout=KUBE_TIMEOUT_S
        ).items
        started = {
            (p.metadata.labels or {}).get("job-name") for p in pods if p.status.phase in ("Running", "Succeeded")
        }
        return len(running), sum(1 for name in running if name not in started), failed

    def read_counts(
        self, objects: Iterable[tuple[str, str | None, str | None]]
    ) -> tuple[dict[str, int | None], dict[str, int | None], tuple[int, int], list[str]]:
        """For (workload, KEDA kind, KEDA name) triples: replicas (a ScaledJob: running Jobs) and
        failed Jobs per workload, the ScaledJob's (running, pending), and what could not be read."""
        actual: dict[str, int | None] = {}
        failed: dict[str, int | None] = {}
        jobs = (0, 0)
        problems = []
        for workload, kind, name in objects:
            actual[workload] = failed[workload] = None
            if not name:
                continue
            try:
                if kind == SCALED_JOB:
                    running, pending, failed[workload] = self.job_counts(name)
                    jobs = (running, pending)
                    actual[workload] = running
                else:
                    actual[workload] = self.replicas(name)
            except Exception as exc:  # noqa: BLE001 - one workload's error leaves only its cell empty
                problems.append(f"{workload}: cannot read {kind} {name} in namespace {self.namespace}: {_short(exc)}")
        return actual, failed, jobs, problems


def _short(exc: BaseException) -> str:
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if status and reason:
        return f"HTTP {status} {reason}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# --------------------------------------------------------------------------------------------
# The recording loop
# --------------------------------------------------------------------------------------------


class Notes:
    """Each distinct problem once on stderr: a recorder that repeats itself every sample is noise.

    A note whose words change from sample to sample (an age) passes a ``key``: once per key."""

    def __init__(self, err: Callable[[str], None]) -> None:
        self._err = err
        self._seen: set[str] = set()

    def __call__(self, text: str, key: str | None = None) -> None:
        if (key or text) not in self._seen:
            self._seen.add(key or text)
            self._err(f"timeline: {text}")


def local_actual(
    status: Mapping[str, Any], note: Callable[..., None], workloads: Sequence[str] | None = None
) -> dict[str, int | None]:
    """Without a cluster: the replicas (a ScaledJob: running Jobs) a local ``kedasuite autoscale``
    runs, from each entry's ``autoscale`` block; nothing from a stale or stopping state or
    ``--backend none`` (which runs nothing). A state that is not live is noted with whose it
    is, how old, and what fixes it; so is a run directory with no state while an autoscaler
    writes to another."""
    from kedasuite.autoscale.view import ago, fix, stopping_text
    from kedasuite.autoscale.view import note as words

    summary = status.get("autoscaler") if isinstance(status.get("autoscaler"), Mapping) else None
    actual: dict[str, int | None] = {}
    for entry in status.get("workloads", []):
        block = entry.get("autoscale")
        if not block or (workloads and entry["workload"] not in workloads):
            continue
        where = f"the local autoscaler (pid {block.get('pid')}, backend {block.get('backend')}, {block.get('run_dir')})"
        if block.get("stale"):
            remedy = fix(str(block.get("run_dir")), list(summary.get("elsewhere") or [])) if summary else ""
            note(
                f"{entry['workload']}: {where} is stale ({block.get('stale_reason')}): actual left empty; its "
                f"state is {ago(block.get('age_seconds'))} old" + (f"; {remedy}" if remedy else ""),
                key=f"{entry['workload']} stale {block.get('stale_reason')}",
            )
        elif block.get("stopping"):
            note(f"{entry['workload']}: {where} is {stopping_text(block['stopping'])}: actual left empty")
        elif block.get("actual") is None:
            note(f"{entry['workload']}: {where} runs nothing (model only): actual left empty")
        else:
            note(f"{entry['workload']}: actual {block.get('unit') or 'replicas'} from {where}")
            actual[entry["workload"]] = int(block["actual"])
    if summary is not None and summary.get("state") == "absent":
        note(f"{words(summary)}; the actual column stays empty")
    return actual


def record(
    source: StatusSource,
    cluster: Cluster | None,
    writer: CsvWriter,
    interval: float,
    duration: float | None,
    stop: Stoppable,
    note: Callable[..., None],
    workloads: Sequence[str] | None = None,
) -> int:
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
            failed: dict[str, int | None] = {}
            if cluster is not None:
                actual, failed, jobs, problems = cluster.read_counts(
                    (e["workload"], e.get("kind"), e.get("name")) for e in status.get("workloads", [])
                )
                for problem in problems:
                    note(problem)
            else:
                actual = local_actual(status, note, workloads)
            for entry in status.get("workloads", []):
                if entry.get("error") and (not workloads or entry["workload"] in workloads):
                    note(f"{entry['workload']}: {entry['error']}")
            writer.write(rows_from_status(status, actual, workloads, failed))
            samples += 1
        tick += interval
        behind = time.monotonic() - tick
        if behind > 0:  # a read took longer than the interval: skip the missed ticks, do not bunch up
            tick += math.ceil(behind / interval) * interval
        if duration is not None and tick - start > duration + 1e-9:
            break
        stop.wait(max(0.0, tick - time.monotonic()))
    return samples
