"""What the e2e driver reads and does on a deployed suite: through the pump's HTTP API and
the Kubernetes API, never by parsing a command's human-readable output.

* Backlog, in-flight work, results so far and KEDA's predicted count come from the pump's
  ``GET /status`` (:mod:`kedasuite.tools.status` inside the cluster, where the brokers are);
  ``scripts/e2e`` reaches the pump through ``kubectl port-forward``.
* Replicas running, the ScaledJob's running and failed Jobs, and the live ScaledObjects /
  ScaledJob come from the Kubernetes API (:class:`kedasuite.tools.timeline.sources.Cluster`,
  the ``kubernetes`` client of the ``[timeline]`` extra); the objects are parsed by
  :class:`kedasuite.keda.rules.spec.Scaler`, as status parses manifests.
* Load goes in with ``POST /pump`` and is followed on ``GET /pumps/<id>`` until sent.

A round's readings become :class:`kedasuite.tools.timeline.records.Row` s, the rows
``kedasuite timeline`` records, stamped with the time the round *started*: a reading begun
before an action (a pump) is never taken for one made after it.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from kedasuite.core import defaults
from kedasuite.core.workloads import workload as row_of
from kedasuite.tools.e2e.plan import Spec, spec_from_object
from kedasuite.tools.timeline.records import Row, rows_from_status
from kedasuite.tools.timeline.sources import HttpStatus, StatusUnavailable


class ProbeError(RuntimeError):
    """The cluster or the pump did not do what was asked; recorded as an ``error`` mark."""


class Probe(Protocol):
    """Everything the driver needs from a deployed suite; :class:`ClusterProbe` is the real one."""

    def spec(self, workload: str) -> Spec: ...

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Row]: ...

    def pump(self, workload: str, count: int) -> None: ...

    def processed(self, workload: str) -> int | None: ...


def now() -> datetime:
    return datetime.now(UTC)


class PumpApi:
    """The HTTP pump's JSON API: ``/status``, ``/pump`` and ``/pumps/<id>``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = defaults.CONNECT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.status = HttpStatus(f"{self.url}/status", timeout, token)

    def call(self, method: str, path: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(
            f"{self.url}{path}{query}",
            method=method,
            headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return dict(json.load(reply))
        except urllib.error.HTTPError as exc:
            try:
                detail = json.load(exc).get("error") or exc.reason
            except ValueError:
                detail = exc.reason
            raise ProbeError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (OSError, ValueError) as exc:
            raise ProbeError(f"{method} {self.url}{path}: {exc}; is the pump (or its port-forward) up?") from None

    def read_status(self) -> dict[str, Any]:
        try:
            return self.status.read()
        except StatusUnavailable as exc:
            raise ProbeError(str(exc)) from None


class ClusterProbe:
    """Reads and drives the deployed suite: the pump's API and a :class:`Cluster`."""

    def __init__(
        self,
        pump: PumpApi,
        cluster: Any,
        partitions: int = defaults.KAFKA_PARTITIONS,
        log: Callable[[str], None] = print,
        pump_timeout: float = 300.0,
        poll_s: float = 0.5,
    ) -> None:
        self.api = pump
        self.cluster = cluster
        self.partitions = partitions
        self.log = log
        self.pump_timeout = pump_timeout
        self.poll_s = poll_s

    def spec(self, workload: str) -> Spec:
        """The live ScaledObject / ScaledJob of ``workload``, as the shared parser reads it."""
        row = row_of(workload)
        return spec_from_object(workload, self.cluster.keda_object(row.keda_kind, row.keda_name), self.partitions)

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Row]:
        started = now()
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            status_f = pool.submit(self.api.read_status)
            actual, failed, _jobs, problems = self.cluster.read_counts(
                (w, specs[w].kind, specs[w].resource) for w in workloads
            )
            for problem in problems:
                self.log(f"e2e: {problem}")
            try:
                status = status_f.result()
            except ProbeError as exc:
                self.log(f"e2e: {exc}")
                status = {"workloads": [{"workload": w, "unit": _unit(specs[w])} for w in workloads]}
        return rows_from_status(status, actual, workloads, failed, when=started)

    def pump(self, workload: str, count: int) -> None:
        """Send ``count`` records to ``workload`` and wait until the pump has sent them all."""
        run = self.api.call("POST", "/pump", {"workload": workload, "count": count})
        deadline = time.monotonic() + self.pump_timeout
        while not run.get("done"):
            if time.monotonic() > deadline:
                raise ProbeError(f"pump {workload}: run {run.get('id')} not done after {self.pump_timeout:g} s")
            time.sleep(self.poll_s)
            run = self.api.call("GET", f"/pumps/{run['id']}")
        check_pumped(workload, count, run)

    def processed(self, workload: str) -> int | None:
        """Results written so far for ``workload`` (``processed`` in ``/status``)."""
        try:
            entries = self.api.read_status().get("workloads", [])
        except ProbeError as exc:
            self.log(f"e2e: counting results failed: {exc}")
            return None
        value = next((e.get("processed") for e in entries if e.get("workload") == workload), None)
        return None if value is None else int(value)


def _unit(spec: Spec) -> str:
    return "jobs" if row_of(spec.workload).is_job else "replicas"


def check_pumped(workload: str, count: int, run: Mapping[str, Any]) -> None:
    """A finished pump run (``GET /pumps/<id>``) must have sent every record and lost none."""
    stream = (run.get("workloads") or {}).get(workload) or run
    sent, failed = stream.get("sent"), stream.get("failed")
    if (sent, failed) != (count, 0):
        error = stream.get("error") or run.get("error")
        raise ProbeError(
            f"pump {workload}: expected 'sent {count}, failed 0', got 'sent {sent}, failed {failed}'"
            + (f": {error}" if error else "")
        )
