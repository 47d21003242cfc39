"""Every query of the Grafana dashboard returns data from a real Prometheus scraping a local run.

tests/tools/test_dashboards.py proves the queries name only the contract's series; this proves the
series exist with the labels the queries select on. A Prometheus (Debian's ``prometheus``) scrapes
``kedasuite autoscale --metrics-port`` (KEDA's, kube-state-metrics' and kafka-exporter's series,
served from the model's state) and one worker per workload with its own metrics port (the
autoscaler's replicas serve none: they would share one port). Records are pumped to every
workload; then each panel's query, with the variables filled in as Grafana fills them (the default
namespace, each workload in turn), is evaluated over the run through Prometheus' HTTP API.

A query may come back empty only for a reason listed in :data:`MAY_BE_EMPTY` (a ScaledJob has no
HPA; nothing fails in this run, so no failure is counted).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kedasuite.core.defaults import KUBE_NAMESPACE
from kedasuite.core.workloads import WORKLOADS, Workload
from kedasuite.tools import dashboards
from tests.support import AutoscalerWatch, Proc, free_port, run_cli, tail, wait_for
from tests.support.autoscaler import START_MARGIN_S, WORKER_ENV, pump, start_autoscaler

PROMETHEUS = shutil.which("prometheus")
#: Scrapes and Grafana's ``$__rate_interval`` for them (at least four scrapes, as Grafana's rule).
SCRAPE_S = 1
RATE_INTERVAL = "10s"
#: Records per workload: at the test's own workers' 1 s each, a backlog above each trigger's activation
#: (listLength 10 and activation 5, lagThreshold 5, the ScaledJob's 5 and 2) for the autoscaler to
#: find once it is up; its own workers (0.2 s) drain the rest.
COUNTS = {"celery": 30, "kafka": 15, "rq": 30, "workqueue": 15}
#: The test's own workers are slower than the autoscaler's (0.2 s), so that the backlog they start on
#: outlasts the autoscaler's start: KEDA sees it, turns active and scales, and the annotation has a
#: change to mark.
OWN_WORK_TIME = "fixed:1"
#: The test's Job runner holds its item longer: a runner exits once the queue is drained, and its
#: series go with it. It must outlive the autoscaler's start, when a dozen processes start at once and
#: a 1 s scrape of it can time out, and then a few scrapes.
OWN_JOB_WORK_TIME = "fixed:15"
LABEL_VALUES = re.compile(r"label_values\((\w+), (\w+)\)")


#: Panels (title, and refId when one target only) whose query may return nothing for some workloads
#: in this run: for which (``None``: all) and why. Any other query must return data.
MAY_BE_EMPTY: dict[tuple[str, str | None], tuple[Callable[[Workload], bool] | None, str]] = {
    ("Scaler errors", None): (None, "KEDA counts a scaler error only when a read fails; every read succeeds here"),
    ("Replicas: desired, current, max", None): (lambda row: row.is_job, "a ScaledJob has no HPA"),
    ("annotation Replica changes", None): (lambda row: row.is_job, "a ScaledJob has no HPA"),
    ("ScaledJob Jobs: running, pending, succeeded, failed", None): (
        lambda row: not row.is_job,
        "only a ScaledJob creates Jobs",
    ),
    ("Processing rate", "B"): (None, "the test pumps with the pump's engine in this process, not the HTTP pump"),
    ("Redeliveries", None): (None, "no worker stops holding work in this run, so nothing is delivered twice"),
    ("Failures and dead letters", None): (None, "no record fails and none is poison in this run"),
}


def why_empty(title: str, ref: str, row: Workload) -> str | None:
    """Why the query of ``title`` (target ``ref``) may return nothing for ``row``; ``None``: it must not."""
    for key in ((title, ref), (title, None)):
        if key in MAY_BE_EMPTY:
            applies, reason = MAY_BE_EMPTY[key]
            return reason if applies is None or applies(row) else None
    return None


def test_every_reason_names_a_query_of_the_dashboard() -> None:
    """A renamed panel must not leave a reason behind that excuses nothing."""
    known = {(where, ref) for where, ref, _ in dashboards.queries(dashboards.as_dict())}
    stale = [key for key in MAY_BE_EMPTY if not any(w == key[0] and key[1] in (None, r) for w, r in known)]
    assert not stale, f"reasons for queries the dashboard does not have: {stale}"


def fill(expr: str, row: Workload, model: dict[str, Any]) -> str:
    """``expr`` with the variables as Grafana fills them for ``row`` alone (``${workload:pipe}`` of
    one option is its value) and the consumer group at its default, All."""
    groups = next(v for v in model["templating"]["list"] if v["name"] == "consumergroup")
    filled = (
        expr.replace(dashboards.SELECTED, dashboards.option_value(row))
        .replace("$namespace", KUBE_NAMESPACE)
        .replace("$consumergroup", groups["allValue"])
        .replace(dashboards.RATE, RATE_INTERVAL)
    )
    assert "$" not in filled, f"a variable the test does not fill: {filled}"
    return filled


# --- Prometheus -----------------------------------------------------------------------------------


def _get(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class Prometheus:
    """A Prometheus of the test's own: scrapes the given targets every second, answers on a free port."""

    def __init__(self, folder: Path, jobs: dict[str, list[str]], labels: dict[str, dict[str, str]]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": f"{SCRAPE_S}s"},
            "scrape_configs": [
                # honor_labels: a series' own namespace wins over the target's, as for KEDA's in a cluster.
                {
                    "job_name": job,
                    "honor_labels": True,
                    "static_configs": [{"targets": targets, "labels": labels.get(job, {})}],
                }
                for job, targets in jobs.items()
            ],
        }
        (folder / "prometheus.yml").write_text(json.dumps(config))  # YAML reads JSON
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "prometheus.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> bool:
        if self.popen.poll() is not None:
            raise AssertionError(f"prometheus exited {self.popen.returncode}:\n{tail(self.log())}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def query_range(self, expr: str, start: float) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"query": expr, "start": start, "end": time.time(), "step": SCRAPE_S})
        answer = _get(f"{self.url}/api/v1/query_range?{params}")
        assert answer["status"] == "success", (expr, answer)
        return [series for series in answer["data"]["result"] if series["values"]]

    def label_values(self, series: str, label: str, start: float) -> list[str]:
        """What Grafana's ``label_values(series, label)`` lists over the run."""
        params = urllib.parse.urlencode({"match[]": series, "start": start, "end": time.time()})
        answer = _get(f"{self.url}/api/v1/label/{label}/values?{params}")
        assert answer["status"] == "success", (series, label, answer)
        return list(answer["data"])

    def targets(self) -> str:
        """Each scrape target's health and last error: why a series is missing, often."""
        try:
            active = _get(f"{self.url}/api/v1/targets")["data"]["activeTargets"]
        except OSError as exc:
            return f"(targets unreadable: {exc})"
        return "\n".join(
            f"  {t['labels'].get('job')} {t['scrapeUrl']}: {t['health']} {t.get('lastError') or ''}".rstrip()
            for t in active
        )

    def close(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)
        self._log.close()


# --- the test -------------------------------------------------------------------------------------


def start_worker(spawn: Callable[..., Proc], row: Workload, redis_url: str, kafka: Any, port: int) -> Proc:
    """One worker (or Job runner) of ``row`` serving its metrics on ``port``, on the test's brokers."""
    brokers = ["--redis-url", redis_url]
    if row.broker == "kafka":
        brokers += ["--bootstrap-servers", kafka.bootstrap, "--topic", kafka.topic, "--group", kafka.group]
    work_time = OWN_JOB_WORK_TIME if row.is_job else OWN_WORK_TIME
    return spawn(*row.command, *brokers, "--metrics-port", str(port), "--work-time", work_time, env=WORKER_ENV)


def metrics_answer(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def serving(worker: Proc, port: int) -> None:
    wait_for(lambda: metrics_answer(port), START_MARGIN_S, f"{worker} to serve /metrics", seen=worker.describe)


@pytest.mark.integration
@pytest.mark.e2e  # a whole local run: the autoscaler, workers, Prometheus
@pytest.mark.skipif(PROMETHEUS is None, reason="no prometheus on PATH: scripts/bootstrap installs Debian's as root")
def test_every_panel_query_returns_data(spawn, redis_url, kafka, run_dir, tmp_path, monkeypatch) -> None:
    helped = run_cli("autoscale", "--help", timeout=60)
    if "--metrics-port" not in helped.stdout:
        pytest.skip(
            "kedasuite autoscale has no --metrics-port: nothing serves KEDA's, kube-state-metrics' and "
            "kafka-exporter's series locally for the dashboard's queries"
        )
    monkeypatch.setenv("KAFKA_PRODUCER_CONFIG_BATCH_NUM_MESSAGES", "1")  # Tansu's watermark (conftest)
    model = dashboards.as_dict()
    start = time.time()

    ports = {row.name: free_port() for row in WORKLOADS}
    autoscale_port = free_port()
    # A Job runner exits once its queue is empty: the test's own starts once its items are pumped.
    workers = {
        row.name: start_worker(spawn, row, redis_url, kafka, ports[row.name]) for row in WORKLOADS if not row.is_job
    }
    for name in workers:
        serving(workers[name], ports[name])
    kafka_worker = next(workers[row.name] for row in WORKLOADS if row.broker == "kafka")
    kafka_worker.wait_for_log(rf"assigned {kafka.topic}\[", timeout=START_MARGIN_S)

    prometheus = Prometheus(
        tmp_path / "prometheus",
        {
            "autoscale": [f"127.0.0.1:{autoscale_port}"],
            "workers": [f"127.0.0.1:{port}" for port in ports.values()],
        },
        # In a cluster the scrape adds the pod's namespace; the workers' series carry none.
        {"workers": {"namespace": KUBE_NAMESPACE}},
    )
    try:
        wait_for(prometheus.ready, 60, "prometheus to be ready", seen=lambda: tail(prometheus.log()))
        for workload, count in COUNTS.items():
            pump(redis_url, kafka, workload, count)
        for row in WORKLOADS:
            if row.is_job:
                workers[row.name] = start_worker(spawn, row, redis_url, kafka, ports[row.name])
                serving(workers[row.name], ports[row.name])
        # Last, so that the test's own workers have their first items before the autoscaler's start.
        auto = start_autoscaler(spawn, redis_url, kafka, run_dir, "--metrics-port", str(autoscale_port))
        watch = AutoscalerWatch(auto, run_dir)

        checks = [
            (where, ref, row, fill(expr, row, model))
            for where, ref, expr in dashboards.queries(model)
            if not where.startswith("variable ")
            for row in WORKLOADS
        ]
        required = [c for c in checks if why_empty(c[0], c[1], c[2]) is None]
        answered: dict[str, int] = {}
        # Each query variable must offer the value this run's series carry.
        offered = {"namespace": KUBE_NAMESPACE, "consumergroup": kafka.group}
        variables = [
            (where, expr, offered[where.removeprefix("variable ")])
            for where, _, expr in dashboards.queries(model)
            if where.startswith("variable ")
        ]

        def missing() -> list[str]:
            gone = []
            for where, expr, value in variables:
                series, label = LABEL_VALUES.fullmatch(expr).groups()  # type: ignore[union-attr]
                if value not in prometheus.label_values(series, label, start):
                    gone.append(f"{where}: {expr} does not list {value!r}")
            for where, ref, row, expr in required:
                key = f"{where} {ref} [{row.name}]"
                if key not in answered:
                    series = prometheus.query_range(expr, start)
                    if series:
                        answered[key] = len(series)
                    else:
                        gone.append(f"{key}: {expr}")
            return gone

        def report() -> str:
            left = missing()
            return "\n".join(
                [
                    f"{len(left)} of {len(required) + len(variables)} queries returned nothing:",
                    *(f"  {line}" for line in left),
                    "scrape targets:",
                    prometheus.targets(),
                    *(f"{name}'s log, last lines:\n{tail(proc.log())}" for name, proc in workers.items()),
                    watch.report(),
                ]
            )

        # A poll and a sync for KEDA and the HPA, the Jobs' runners and workers starting, the scrapes.
        # Each look runs every query: once a second is often enough.
        wait_for(
            lambda: not missing(),
            3 * START_MARGIN_S,
            "every panel query to return data",
            interval=1.0,
            longest_interval=2.0,
            seen=report,
        )
    finally:
        prometheus.close()  # the autoscaler, its pods and the workers go with the fixtures
    allowed = sorted({why_empty(*c[:3]) or "" for c in checks} - {""})
    print(f"\n{len(answered)} panel queries returned data; allowed to be empty: {allowed}")
