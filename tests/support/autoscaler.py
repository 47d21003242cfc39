"""The live autoscaler in tests: starting it on the test's brokers, stopping it, reading its log.

Shared by the tests of ``kedasuite autoscale`` (tests/autoscale/); its run directory is the
``run_dir`` fixture of tests/autoscale/conftest.py.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedasuite.autoscale.actuator import read_state
from kedasuite.autoscale.targets import DEFAULT_GRACE_SECONDS
from tests.support import AutoscalerWatch, Proc, wait_for
from tests.support import pump as pump_records
from tests.support.whereabouts import missing_report

TIMINGS = ("--polling-interval", "1", "--cooldown-period", "3", "--sync-period", "1", "--stabilization-window", "2")
#: Python start-up of a dozen workers on 2 shared cores, a Kafka group join (Tansu: about 3 s).
START_MARGIN_S = 30.0
WORKER_ENV = {"WORK_TIME": "fixed:0.2", "WORKER_CONCURRENCY": "1", "WORKQUEUE_IDLE_TIMEOUT": "5"}
CHANGE = re.compile(r"^\[[\d:]+\]\s+[\d.]+s (\S+)\s+(?:replicas|Jobs)\s+(\d+) → (\d+)", re.MULTILINE)


def changes(log: str) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for workload, before, after in CHANGE.findall(log):
        out.setdefault(workload, []).append((int(before), int(after)))
    return out


def pump(redis_url: str, kafka: Any, workload: str, count: int) -> list[str]:
    return pump_records(workload, count, redis_url=redis_url, kafka=kafka)


def start_autoscaler(spawn: Callable[..., Proc], redis_url: str, kafka: Any, run_dir: Path, *args: str) -> Proc:
    """``kafka``: the test's topic and group, or ``None`` for a test of Redis workloads alone."""
    on_kafka: list[str] = []
    if kafka is not None:
        on_kafka = ["--bootstrap-servers", kafka.bootstrap, "--topic", kafka.topic, "--group", kafka.group]
    proc = spawn(
        "autoscale",
        "--redis-url",
        redis_url,
        *on_kafka,
        "--run-dir",
        str(run_dir),
        *TIMINGS,
        *args,
        env=WORKER_ENV,
    )
    proc.wait_for_log(r"autoscale: backend processes", timeout=START_MARGIN_S)
    return proc


def stop(watch: AutoscalerWatch, timeout: float) -> str:
    """SIGTERM the autoscaler and wait for it to stop its pods and exit 0; its log then."""
    proc = watch.proc
    proc.signal(signal.SIGTERM)

    def exited() -> bool:
        watch.look()  # a pod that outlives half its grace is dumped before the autoscaler SIGKILLs it
        return proc.popen.poll() is not None

    wait_for(exited, timeout, "the autoscaler to stop its pods and exit on SIGTERM", seen=watch.report)
    log = proc.log()
    assert proc.popen.returncode == 0, f"the autoscaler exited {proc.popen.returncode}\n{watch.report()}"
    assert log.rstrip().endswith("autoscale: stopped"), watch.report()
    return log


def no_sigkill(watch: AutoscalerWatch, log: str) -> None:
    """No pod needed a SIGKILL: each obeyed its SIGTERM within the grace period (else what it was doing)."""
    killed = re.findall(r"^\w+: SIGKILL .*$", log, re.MULTILINE)
    assert not killed, "\n".join(["a pod outlived its grace period:", *killed, watch.report()])


def grace_of(run_dir: Path) -> float:
    """The longest grace period the autoscaler gives a pod (the pod templates': 30 s)."""
    state = read_state(run_dir)
    return (
        max((w["grace_seconds"] for w in state["workloads"]), default=DEFAULT_GRACE_SECONDS)
        if state
        else DEFAULT_GRACE_SECONDS
    )


def missing(redis_client: Any, kafka: Any, ids_by_workload: dict[str, list[str]]) -> str:
    """Per workload with records lacking a result: how many, and where they are."""
    from kedasuite.core.results import fetch_results

    return (
        "\n".join(
            missing_report(w, redis_client, ids, kafka)
            for w, ids in ids_by_workload.items()
            if len(fetch_results(redis_client, ids)) < len(ids)
        )
        or "every record has its result"
    )
