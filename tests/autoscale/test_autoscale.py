"""``kedasuite autoscale``: the model driven by a clock and live reads, replicas made real.

The actuator's logic is tested with a fake clock, fake reads and a backend that records what
it is asked (no server). The processes backend is driven through 0 → N → 0 for every
workload at once on the real brokers, with demo timings; every pumped record must have its
result, every scale-down must be a SIGTERM the worker obeyed (exit 0, no SIGKILL), every
Job runner must exit 0 by itself. A second run kills the autoscaler with SIGKILL mid-burst:
the next one adopts the workers it left and nothing is lost.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kedasuite.autoscale.actuator import Actuator, JobStatus, read_state
from kedasuite.autoscale.processes import PROCESSES_FILE, Pod, ProcessBackend, _start_ticks, pod_env
from kedasuite.autoscale.targets import DEFAULT_GRACE_SECONDS, Target, grace_period, load_targets
from kedasuite.cli import main
from kedasuite.core import metrics
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE, Env
from kedasuite.core.workloads import NAMES, SCALED_OBJECT
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.model import Options
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.objects import bundled_text, workload_of
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger, scalers_in
from tests.support import AutoscalerWatch, run_cli, wait_for
from tests.support.autoscaler import (
    START_MARGIN_S,
    changes,
    grace_of,
    missing,
    no_sigkill,
    pump,
    start_autoscaler,
    stop,
)

ROOT = Path(__file__).resolve().parents[2]

# --- the actuator's logic, with a fake clock, fake reads and a recording backend ---------------------


def bundled(workload: str) -> Scaler:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    return next(s for s in scalers_in(objs) if workload_of(s) == workload)


def target(workload: str) -> Target:
    return Target(workload_row(workload), bundled(workload), 30.0, "test")


class FakeReads:
    def __init__(self) -> None:
        self.values: dict[str, Value] = {}
        self.errors: dict[tuple[str, str], str] = {}

    def deadline(self) -> float | None:
        return None

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        value = self.values.get(trigger.source, 0.0)
        if value is None:
            self.errors[(trigger.type, trigger.source)] = "connection refused"
        else:
            self.errors.pop((trigger.type, trigger.source), None)
        return value


class FakeBackend:
    name = "fake"

    def __init__(self, start: int = 0) -> None:
        self.count = start
        self.running_jobs = 0
        #: The replicas ready (``None``: the backend cannot tell).
        self.ready_count: int | None = None
        self.actions: list[tuple[float, str, int]] = []
        self.now: Callable[[], float] = lambda: 0.0

    def replicas(self, target: Target) -> int:
        return self.count

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        self.actions.append((self.now(), "scale", replicas))
        self.count = replicas

    def jobs(self, target: Target) -> tuple[int, int] | None:
        return self.running_jobs, 0

    def ready(self, target: Target) -> int | None:
        return self.ready_count

    def create_jobs(self, target: Target, count: int) -> None:
        self.actions.append((self.now(), "jobs", count))
        self.running_jobs += count

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self, target: Target) -> dict[str, Any]:
        return {}


DEMO = Options(polling_interval=1, cooldown_period=3, stabilization_window=2, sync_period=1)


def actuator(
    t: Target, backend: FakeBackend, reads: FakeReads, options: Options = DEMO, state: Path | None = None
) -> tuple[Actuator, list[str], Callable[[float], None]]:
    clock = [100.0]
    lines: list[str] = []
    act = Actuator(
        [t],
        reads,
        backend,
        options,
        clock=lambda: clock[0],
        wall=lambda: 1_700_000_000 + clock[0],
        emit=lines.append,
        state_path=state,
    )
    backend.now = act.now

    def at(seconds: float) -> None:
        clock[0] = 100.0 + seconds
        act.tick()

    return act, lines, at


def test_the_actuator_follows_the_model_up_and_down_to_zero(tmp_path: Path) -> None:
    """Celery with the local overlay's numbers (listLength 10, activation 5, legacy HPA path) and
    demo timings: polls and syncs every 1 s, cooldown 3 s, stabilization window 2 s."""
    reads, backend = FakeReads(), FakeBackend()
    act, lines, at = actuator(target(WORKLOAD_CELERY), backend, reads, state=tmp_path / "state.json")
    at(0)
    assert backend.actions == [] and lines == []  # 0 <= activation: stays at 0
    reads.values["celery"] = 40
    at(1)
    # t=1: KEDA 0 → 1 (active); the HPA at the same instant: ceil(40/10) = 4 ≤ max(2 × 1, 4): 1 → 4.
    assert backend.actions == [(1, "scale", 4)]
    assert [ln.split()[4:7] for ln in lines] == [["0", "→", "1"], ["1", "→", "4"]]
    assert "max(minReplicaCount, 1)" in lines[0] and "celery" in lines[0] and "replicas" in lines[0]
    reads.values["celery"] = 0
    for t in (2, 3):
        at(t)  # the recommendation 4 of t=1 is in the 2 s window (it counts up to exactly 2 s old)
    assert backend.actions == [(1, "scale", 4)]
    at(4)  # the window [2, 4] holds only 1s (min 1): 4 → 1
    assert backend.actions[-1] == (4, "scale", 1)
    state = read_state(tmp_path)
    assert state is not None
    (w,) = state["workloads"]
    assert (w["actual"], w["model"]) == (1, 1)
    assert w["next_step"]["actor"] == "keda" and "cooldown" in w["next_step"]["reason"]
    assert "cooldownPeriod 3 s (manifest: 200 s)" in w["deviations"]
    at(5)  # last active at 1; 1 + 3 < 5: KEDA sets 0 directly
    assert backend.actions[-1] == (5, "scale", 0)
    assert "inactive for cooldownPeriod 3 s" in lines[-1]
    assert act.lag_summary().startswith("celery median 0.00 s")


def test_a_paused_object_gets_its_paused_count_and_nothing_else() -> None:
    """autoscaling.keda.sh/paused-replicas on the manifest: the actuator sets that count once and then,
    KEDA's scale loop stopped and its HPA deleted, leaves it whatever the backlog does."""
    pause = Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused-replicas": "2"})
    paused = dataclasses.replace(
        target(WORKLOAD_CELERY), scaler=dataclasses.replace(bundled(WORKLOAD_CELERY), pause=pause)
    )
    reads, backend = FakeReads(), FakeBackend()
    _act, lines, at = actuator(paused, backend, reads)
    reads.values["celery"] = 400
    for t in range(6):
        at(t)
    assert backend.actions == [(0, "scale", 2)]
    assert "paused (autoscaling.keda.sh/paused-replicas=2): scales 0 → 2" in lines[0]


def test_a_late_tick_runs_every_event_due_in_order() -> None:
    reads, backend = FakeReads(), FakeBackend()
    reads.values["celery"] = 100
    _act, lines, at = actuator(target(WORKLOAD_CELERY), backend, reads)
    at(2.5)  # events at 0 (poll, sync), 1 (poll, sync), 2 (poll, sync), acted on one instant at a time
    # ceil(100/10) = 10: 0 → 1 → 4 at t=0 (limit max(2 × 1, 4)), 4 → 8 at t=1 (max(2 × 4, 4)), 8 → 10 at t=2.
    assert backend.actions == [(2.5, "scale", 4), (2.5, "scale", 8), (2.5, "scale", 10)]
    assert [ln.split()[1] for ln in lines] == ["0.0s", "0.0s", "1.0s", "2.0s"], lines


def test_a_value_trigger_counts_only_the_ready_replicas() -> None:
    """A ``metricType: Value`` trigger's ratio is multiplied by the replicas running and ready, as
    Kubernetes' replica calculator does (``getReadyPodsCount``): 4 workers of which 2 are ready,
    30 queued for a target of 10: ceil(2 × 30/10) = 6. With the ready count unknown every replica
    counts: ceil(4 × 3) = 12, which the legacy limit max(2 × 4, 4) holds to 8."""
    celery = target(WORKLOAD_CELERY)
    valued = tuple(dataclasses.replace(t, metric_type="Value") for t in celery.scaler.triggers)
    workload = dataclasses.replace(celery, scaler=dataclasses.replace(celery.scaler, triggers=valued))
    for ready, expected in ((2, 6), (None, 8)):
        reads, backend = FakeReads(), FakeBackend(start=4)
        backend.ready_count = ready
        reads.values["celery"] = 30
        act, lines, at = actuator(workload, backend, reads)
        at(0)  # KEDA's poll keeps 4 (active); the HPA's sync at the same instant sets the count
        assert backend.actions == [(0, "scale", expected)], lines
        assert ("(2 of 4 ready)" in lines[-1]) == (ready == 2), lines
        assert act.state()["workloads"][0]["actual"] == expected


def test_a_dead_replica_is_replaced_between_events() -> None:
    reads, backend = FakeReads(), FakeBackend()
    reads.values["celery"] = 40
    _act, _lines, at = actuator(target(WORKLOAD_CELERY), backend, reads)
    at(0)
    backend.count = 3  # a worker exited by itself
    at(0.5)
    assert backend.actions[-1] == (0.5, "scale", 4)


def test_an_unreadable_broker_holds_the_count_and_says_so() -> None:
    reads, backend = FakeReads(), FakeBackend(start=2)
    _act, lines, at = actuator(target(WORKLOAD_CELERY), backend, reads)
    reads.values["celery"] = None
    for t in range(8):
        at(t)
    assert backend.actions == [], "no fallback in the manifest: KEDA and the HPA keep the count"
    failed = [ln for ln in lines if "read failed" in ln]
    assert len(failed) == 1 and "backlog, in-flight: connection refused" not in failed[0], lines
    assert "backlog: connection refused → KEDA: " in failed[0] and "no fallback: keeps 2" in failed[0], lines
    reads.values["celery"] = 0
    at(8)
    assert any("reads work again" in ln for ln in lines)


RQ_BACKLOG = "rq:queue:default"


class HangingReads(FakeReads):
    """Reads of the sources in ``hang`` block until ``release`` is set, as a broker that never answers."""

    def __init__(self, hang: set[str]) -> None:
        super().__init__()
        self.hang, self.release = hang, threading.Event()
        self.hanging = threading.Event()

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        if trigger.source in self.hang:
            self.hanging.set()
            self.release.wait(60)
        return super().value(trigger, deadline)


def test_a_hanging_read_delays_no_other_target(tmp_path: Path) -> None:
    """KEDA runs a loop per ScaledObject: with every read of celery's broker hanging, rq still
    scales on its first poll and sync, and the state file is still rewritten."""
    from kedasuite.autoscale.actuator import NoBackend

    reads = HangingReads({"celery"})
    reads.values[RQ_BACKLOG] = 40
    backend = NoBackend()
    act = Actuator(
        [target(WORKLOAD_CELERY), target(WORKLOAD_RQ)],
        reads,
        backend,
        DEMO,
        emit=lambda _line: None,
        state_path=tmp_path / "state.json",
    )
    stop = threading.Event()
    loop = threading.Thread(target=act.run, args=(stop,), daemon=True)
    loop.start()
    try:
        wait_for(reads.hanging.is_set, 10, "celery's read to start hanging")
        wait_for(
            lambda: backend.counts.get(WORKLOAD_RQ) == 4,
            10,
            "rq scaled 0 → 4 while celery's read hangs",
            seen=lambda: f"counts {backend.counts}, state {read_state(tmp_path)}",
        )
        first = read_state(tmp_path)
        wait_for(
            lambda: (read_state(tmp_path) or {}).get("time") != (first or {}).get("time"),
            5,
            "the state rewritten while celery's read hangs",
        )
        celery = next(w for w in read_state(tmp_path)["workloads"] if w["workload"] == WORKLOAD_CELERY)
        assert celery["reading_for_seconds"] is not None, celery
    finally:
        reads.release.set()
        stop.set()
        loop.join(15)
    assert not loop.is_alive(), "the actuator did not stop"


def test_no_replica_changes_once_the_actuator_stops(tmp_path: Path) -> None:
    """A read that answers after the stop does not start workers the backend is closing."""
    reads = HangingReads({RQ_BACKLOG})
    reads.values[RQ_BACKLOG] = 40
    backend = FakeBackend()
    act = Actuator([target(WORKLOAD_RQ)], reads, backend, DEMO, emit=lambda _line: None)
    stop = threading.Event()
    loop = threading.Thread(target=act.run, args=(stop,), daemon=True)
    loop.start()
    wait_for(reads.hanging.is_set, 10, "rq's read to start hanging")
    stop.set()
    wait_for(lambda: act._closed, 10, "the actuator to stop acting")
    reads.release.set()
    loop.join(15)
    assert not loop.is_alive() and backend.actions == [], backend.actions


def test_a_scaled_job_gets_the_jobs_the_strategy_asks_for() -> None:
    """The local ScaledJob: accurate, listLength 5, activation 2, max 10; the backend's running Jobs count."""
    reads, backend = FakeReads(), FakeBackend()
    _act, lines, at = actuator(target(WORKLOAD_WORKQUEUE), backend, reads)
    reads.values["job"] = 12
    at(0)  # ceil(12/5) = 3 new Jobs
    assert backend.actions == [(0, "jobs", 3)]
    reads.values["job"] = 2
    at(1)  # 2 <= activation 2: none
    backend.running_jobs = 0  # they finished
    at(2)
    assert backend.actions == [(0, "jobs", 3)]
    assert re.search(r"Jobs\s+3 → 0 \(3 done\)", lines[-1]), lines


def test_the_grace_period_comes_from_the_pod_template_or_the_default(tmp_path: Path) -> None:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    # The bundled render has no Deployments: k8s/base has them, else Kubernetes' default.
    assert grace_period(bundled(WORKLOAD_CELERY), objs, "bundled", ROOT / "k8s/base") == (
        30.0,
        f"Deployment celery-worker in {ROOT / 'k8s/base'}/",
    )
    seconds, where = grace_period(bundled(WORKLOAD_RQ), objs, "bundled", tmp_path)
    assert seconds == DEFAULT_GRACE_SECONDS and where.startswith("Kubernetes' default")
    assert grace_period(bundled(WORKLOAD_WORKQUEUE), objs, "bundled")[1].startswith(
        "ScaledJob workqueue's pod template"
    )


def write_manifests(tmp_path: Path, edit: Callable[[list[dict]], None]) -> str:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    edit(objs)
    path = tmp_path / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(objs))
    return str(path)


def test_the_processes_backend_counts_the_workers_that_said_they_are_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker creates its READY_FILE once it serves /metrics (``metrics.announce_ready``); the
    backend's ready replicas are the running ones that did, not those stopping. The pods here are
    this test's own process, so that they are alive without starting workers."""
    backend = ProcessBackend(tmp_path / "run", {}, emit=lambda _line: None)
    celery = target(WORKLOAD_CELERY)
    me, ticks = os.getpid(), _start_ticks(os.getpid()) or 0
    pods = [
        Pod(celery.name, f"celery-worker-{i}", me, ticks, 0.0, "log", ready_file=str(tmp_path / "ready" / f"w{i}"))
        for i in range(4)
    ]
    backend.pods.extend(pods)
    try:
        assert (backend.replicas(celery), backend.ready(celery)) == (4, 0)
        for pod in pods[:3]:
            monkeypatch.setenv(Env.READY_FILE, str(pod.ready_file))
            metrics.announce_ready()
        pods[2].terminating = 1.0  # asked to stop: no longer a replica, nor a ready one
        assert (backend.replicas(celery), backend.ready(celery)) == (3, 2)
    finally:
        backend.pods.clear()  # this process is no pod to stop
        backend.close()


def test_the_processes_backend_keeps_its_jobs_as_a_job_status_does(tmp_path: Path) -> None:
    """Real runner processes (a script standing in for the Python interpreter) that exit 0 and 3:
    each Job, once its runner ended, is kept as succeeded or failed."""
    runner = tmp_path / "runner"
    runner.write_text('#!/bin/sh\nexit "${RUNNER_EXIT:-0}"\n')
    runner.chmod(runner.stat().st_mode | stat.S_IXUSR)
    workqueue = target(WORKLOAD_WORKQUEUE)
    exits = {WORKLOAD_WORKQUEUE: {"RUNNER_EXIT": "0"}}
    backend = ProcessBackend(tmp_path / "run", exits, emit=lambda _line: None, python=str(runner))
    try:
        backend.create_jobs(workqueue, 1)
        exits[WORKLOAD_WORKQUEUE]["RUNNER_EXIT"] = "3"
        backend.create_jobs(workqueue, 1)
        running = backend.job_statuses(workqueue)
        assert running is not None and len(running) == 2 and all(j.succeeded == j.failed == 0 for j in running)

        def finished() -> list[JobStatus] | None:
            backend.refresh()
            jobs = backend.job_statuses(workqueue) or []
            return jobs if all(j.active == 0 for j in jobs) else None

        jobs = wait_for(finished, 10, "both runners to exit", seen=lambda: str(backend.job_statuses(workqueue)))
        assert sorted((j.succeeded, j.failed) for j in jobs) == [(0, 1), (1, 0)], jobs
    finally:
        backend.close()


def test_a_process_gets_its_pod_name_and_references_to_it_expand_as_the_kubelet_does() -> None:
    base = {"POD_NAME": "kafka-consumer-3", "READY_FILE": "/run/ready", "HOME": "/root"}
    env = pod_env(
        base,
        {
            "KAFKA_CONSUMER_CONFIG_GROUP_INSTANCE_ID": "$(POD_NAME)",
            "A": "$(HOME)/x-$(NOPE)",
            "B": "$$(POD_NAME) costs $$5",
            "POD_NAME": "mine",
        },
    )
    assert env["KAFKA_CONSUMER_CONFIG_GROUP_INSTANCE_ID"] == "kafka-consumer-3"
    assert env["A"] == "/root/x-$(NOPE)"  # an unknown name stays as written
    assert env["B"] == "$(POD_NAME) costs $5"  # $$ is a literal $
    assert env["POD_NAME"] == "kafka-consumer-3" and env["READY_FILE"] == "/run/ready"  # the backend's own


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    runner = CliRunner()

    def pump_target(objs: list[dict]) -> None:
        next(o for o in objs if o["metadata"]["name"] == "rq-worker")["spec"]["scaleTargetRef"]["name"] = "pump"

    done = runner.invoke(main, ["autoscale", "--manifests", write_manifests(tmp_path, pump_target)])
    assert done.exit_code == 2 and "scales Deployment 'pump', which has no worker command" in done.output, done.output
    done = runner.invoke(main, ["autoscale", "--backend", "kubernetes"])
    assert done.exit_code == 2 and "choose processes, compose or none" in done.output, done.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    done = runner.invoke(main, ["autoscale", "--overlay", str(broken)])
    assert done.exit_code == 2 and f"--overlay {broken}" in done.output, done.output
    assert load_targets(None, None, [WORKLOAD_RQ])[0][0].name == WORKLOAD_RQ


def test_an_unreachable_redis_is_a_visible_state(tmp_path: Path) -> None:
    from tests.support import refused_port

    done = run_cli(
        "autoscale",
        "--backend",
        "none",
        "-w",
        "rq",
        "--redis-url",
        f"redis://127.0.0.1:{refused_port()}/0",
        "--run-dir",
        str(tmp_path),
        "--polling-interval",
        "1",
        "--duration",
        "1.5",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"rq\s+read failed: backlog, in-flight: cannot reach Redis .* no fallback: keeps 0", done.stdout
    ), done.stdout
    state = read_state(tmp_path)
    assert state is not None and state["workloads"][0]["read_errors"], state


# --- the processes backend on real brokers ----------------------------------------------------------


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_processes_take_every_workload_from_zero_to_n_and_back(
    spawn, redis_url, redis_client, kafka, run_dir, monkeypatch
) -> None:
    monkeypatch.setenv("KAFKA_PRODUCER_CONFIG_BATCH_NUM_MESSAGES", "1")  # Tansu's watermark (conftest)
    auto = start_autoscaler(spawn, redis_url, kafka, run_dir)
    watch = AutoscalerWatch(auto, run_dir)
    # Above each target once (listLength 10, lagThreshold 5, the ScaledJob's 5): two replicas or
    # Jobs apiece; more records would only start more processes.
    counts = {WORKLOAD_CELERY: 12, WORKLOAD_KAFKA: 6, WORKLOAD_RQ: 12, WORKLOAD_WORKQUEUE: 6}
    by_workload = {workload: pump(redis_url, kafka, workload, n) for workload, n in counts.items()}
    ids = [i for workload_ids in by_workload.values() for i in workload_ids]

    from kedasuite.core.results import fetch_results

    def not_scaled_up() -> list[str]:
        return [w for w in NAMES if not any(after > 0 for _, after in changes(auto.log()).get(w, []))]

    # Deadlines from the timings: a poll and a sync to scale up, the workers' start, the work
    # (≤ 12 × 0.2 s on one replica), then cooldown + a poll, the window + a sync, and the SIGTERMs.
    wait_for(
        lambda: not not_scaled_up(),
        1 + 1 + START_MARGIN_S,
        "every workload scaled up from 0",
        seen=lambda: f"not scaled up: {', '.join(not_scaled_up())}\n{watch.report()}",
    )
    wait_for(
        lambda: len(fetch_results(redis_client, ids)) == len(ids),
        START_MARGIN_S + max(counts.values()) * 0.2,
        f"all {len(ids)} records processed",
        seen=lambda: f"{missing(redis_client, kafka, by_workload)}\n{watch.report()}",
    )

    def not_at_zero() -> list[str]:
        state = read_state(run_dir)
        if not state:
            return ["(no state written yet)"]
        return [
            f"{w['workload']} (actual {w['actual']}, model {w['model']}, {len(w['backend']['pods'])} pods)"
            for w in state["workloads"]
            if w["actual"] or w["model"] or w["backend"]["pods"]
        ]

    def all_at_zero() -> bool:
        watch.look()
        return not not_at_zero()

    # A scale-down is a SIGTERM the worker has the grace period to obey (the autoscaler SIGKILLs
    # it after that, which fails below with the pod's dump): cooldown + a poll, the window + a
    # sync, the grace, and the margin of a loaded machine.
    wait_for(
        all_at_zero,
        3 + 1 + 2 + 1 + grace_of(run_dir) + START_MARGIN_S,
        "every workload back at 0 with no process left",
        seen=lambda: f"not at 0: {', '.join(not_at_zero())}\n{watch.report()}",
    )
    log = stop(watch, 30)

    seen = changes(log)
    for workload in NAMES:
        steps = seen[workload]
        assert steps[0][0] == 0 and max(a for _, a in steps) >= 1 and steps[-1][1] == 0, (workload, steps)
    no_sigkill(watch, log)
    sigterms = re.findall(r"^(\w+): SIGTERM (\S+)", log, re.MULTILINE)
    obeyed = re.findall(r"^(\w+): (\S+) \(pid \d+\) exited 0 [\d.]+ s after SIGTERM", log, re.MULTILINE)
    assert sigterms and sorted(sigterms) == sorted(obeyed), log
    assert {w for w, _ in sigterms} == {WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ}, (
        "each worker scaled down by SIGTERM"
    )
    assert "by itself" not in log, "a worker exited without being asked"
    jobs = re.findall(r"^workqueue: Job \S+ finished: runner \S+ \(pid \d+\) exited (\d+)", log, re.MULTILINE)
    assert jobs and set(jobs) == {"0"}, log
    results = fetch_results(redis_client, ids)
    assert len(results) == len(ids), f"lost {len(ids) - len(results)} records"
    print(f"\nautoscale 0 → N → 0: {seen}\n" + next(ln for ln in log.splitlines() if "actuation lag" in ln))


@pytest.mark.integration
def test_a_killed_autoscaler_leaves_its_workers_to_the_next_one(spawn, redis_url, redis_client, kafka, run_dir) -> None:
    first = start_autoscaler(spawn, redis_url, kafka, run_dir, "-w", WORKLOAD_RQ)
    ids = pump(redis_url, kafka, WORKLOAD_RQ, 30)
    first.wait_for_log(r"rq: started ", timeout=1 + 1 + START_MARGIN_S)
    first.popen.kill()  # SIGKILL, the autoscaler alone: no chance to stop its workers
    first.wait(10)
    pods = json.loads((run_dir / PROCESSES_FILE).read_text())["pods"]
    assert pods and all(_start_ticks(p["pid"]) == p["ticks"] for p in pods), "its workers live on"

    second = start_autoscaler(spawn, redis_url, kafka, run_dir, "-w", WORKLOAD_RQ)
    watch = AutoscalerWatch(second, run_dir)
    second.wait_for_log(rf"rq: adopted {len(pods)} process", timeout=10)

    from kedasuite.core.results import fetch_results

    wait_for(
        lambda: len(fetch_results(redis_client, ids)) == len(ids),
        START_MARGIN_S + 30 * 0.2,
        "every record processed",
        seen=lambda: f"{missing(redis_client, kafka, {WORKLOAD_RQ: ids})}\n{watch.report()}",
    )
    # The adopted workers have their grace period to obey the SIGTERM, then the autoscaler exits.
    log = stop(watch, grace_of(run_dir) + 10)
    no_sigkill(watch, log)
    stopped = re.findall(
        r"^rq: (\S+) \(pid \d+\) exit code unknown \(adopted\) [\d.]+ s after SIGTERM", log, re.MULTILINE
    )
    assert sorted(stopped) == sorted(p["name"] for p in pods), watch.report()
    still = [p for p in pods if _start_ticks(p["pid"]) == p["ticks"]]
    assert not still, f"the adopted workers were stopped, yet these run: {still}\n{watch.report()}"
