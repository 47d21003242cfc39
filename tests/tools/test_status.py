"""``kedasuite status`` and ``GET /status``: KEDA's decision from what KEDA would read now.

Two kinds of test. Hand-computed cases from docs/keda-model.md (#scaledobject-the-hpa, #scaledjob)
pin the formulas. Then real brokers: items are pumped, step by step, to counts just
under, at and over each threshold of the manifests in ``k8s/overlays/local``, and the
prediction is checked at each step against the number worked out by hand here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from kedasuite.core.names import CELERY_UNACKED_HASH, WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE
from kedasuite.core.settings import KafkaSettings
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.keda.manifest_checks import render
from kedasuite.keda.objects import BUNDLED, bundled_text, keda_objects, load_scalers, workload_of
from kedasuite.keda.reads import ScalerReads
from kedasuite.keda.rules.kafka import capped_total_lag
from kedasuite.keda.rules.scaledjob import scaled_job_new_jobs
from kedasuite.keda.rules.scaling import Reading, decide_scaled_job, decide_scaled_object
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger
from kedasuite.producers import workloads as wl
from kedasuite.producers.engine import new_run, pump_stream
from kedasuite.producers.records import RecordFactory
from kedasuite.tools.status import StatusReader
from tests.support import Proc, own_tmpdir, run_cli

ROOT = Path(__file__).resolve().parents[2]
LOCAL = str(ROOT / "k8s" / "overlays" / "local")


# --- the formulas, by hand --------------------------------------------------------------------


def so(*triggers: Trigger, min_replicas: int = 0, max_replicas: int = 10, cooldown: float = 200) -> Scaler:
    return Scaler(
        kind=SCALED_OBJECT,
        name="so",
        triggers=triggers,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cooldown_period=cooldown,
    )


def redis_trigger(name: str = "backlog", target: float = 10, activation: float = 5) -> Trigger:
    return Trigger(name=name, type="redis", source=name, target=target, activation=activation)


@pytest.mark.parametrize(
    ("metric", "active", "replicas"),
    [
        (0, False, 0),
        (5, False, 0),  # activation is strict: 5 is not > 5
        (6, True, 1),  # A < M < T: the HPA's floor is 1, never 0
        (10, True, 1),
        (11, True, 2),  # ceil(11 / 10)
        (95, True, 10),
        (101, True, 10),  # maxReplicaCount
    ],
)
def test_scaled_object_single_trigger(metric: int, active: bool, replicas: int) -> None:
    trigger = redis_trigger()
    decision = decide_scaled_object(so(trigger), [Reading(trigger, metric)])
    assert (decision.active, decision.count, decision.unit) == (active, replicas, "replicas")


def test_in_flight_trigger_keeps_a_busy_deployment_up_and_the_largest_proposal_wins() -> None:
    backlog, in_flight = redis_trigger(), redis_trigger("in-flight", 10, 0)
    busy = decide_scaled_object(so(backlog, in_flight), [Reading(backlog, 0), Reading(in_flight, 3)])
    assert (busy.active, busy.count) == (True, 1)
    both = decide_scaled_object(so(backlog, in_flight), [Reading(backlog, 12), Reading(in_flight, 31)])
    assert both.proposals == {"backlog": 2, "in-flight": 4} and both.count == 4


def test_min_replicas_and_idle_replicas_when_inactive() -> None:
    trigger = redis_trigger()
    assert decide_scaled_object(so(trigger, min_replicas=2), [Reading(trigger, 0)]).count == 2
    assert decide_scaled_object(so(trigger, min_replicas=2), [Reading(trigger, 6)]).count == 2
    idle = Scaler(kind=SCALED_OBJECT, name="so", triggers=(trigger,), min_replicas=2, idle_replicas=0)
    assert decide_scaled_object(idle, [Reading(trigger, 0)]).count == 0


def test_an_unreadable_trigger_leaves_the_count_to_keda() -> None:
    trigger = redis_trigger()
    decision = decide_scaled_object(so(trigger), [Reading(trigger, None, error="boom")])
    assert decision.count is None and not decision.active
    assert decision.reason.endswith("KEDA keeps the current count while a trigger errors (no fallback here)")


@pytest.mark.parametrize(
    ("lag", "max_replicas", "replicas"),
    [
        (2, 5, 0),  # activationLagThreshold 2, strict
        (3, 5, 1),
        (25, 5, 5),
        (27, 10, 6),  # 27 // 5 = 5 is not > 5 partitions: uncapped, so the HPA asks for P + 1
        (30, 10, 5),  # 30 // 5 = 6 > 5: capped at 5 * 5
        (500, 10, 5),
    ],
)
def test_kafka_partition_cap(lag: int, max_replicas: int, replicas: int) -> None:
    trigger = Trigger(name="lag", type="kafka", source="t", target=5, activation=2)
    metric = capped_total_lag(lag, 5, 5)
    decision = decide_scaled_object(
        so(trigger, max_replicas=max_replicas), [Reading(trigger, metric, activation_metric=lag)]
    )
    assert decision.count == replicas


@pytest.mark.parametrize(
    ("kwargs", "jobs"),
    [
        # accurate, q 12, T 5, max 10: maxScale 3, scaleTo 12, E = 3
        ({"queue": 12, "strategy": "accurate"}, 3),
        # accurate with 8 running: 3 + 8 - 0 > 10, so E = MAXC - r = 2
        ({"queue": 12, "strategy": "accurate", "running": 8}, 2),
        # accurate with 8 running of which 2 pending: 3 + 8 - 2 = 9 <= 10, so E = maxScale - P = 1
        ({"queue": 12, "strategy": "accurate", "running": 8, "pending": 2}, 1),
        # default subtracts running Jobs: 3 - 2
        ({"queue": 12, "strategy": "default", "running": 2}, 1),
        # eager: E = min(MAXC - r - P, maxScale) and scaleTo = MAXC
        ({"queue": 12, "strategy": "eager", "running": 1}, 3),
        # custom: min(maxScale - deduction - trunc(r * pct), MAXC) = 6 - 1 - 2
        ({"queue": 30, "strategy": "custom", "running": 4, "deduction": 1, "running_percentage": 0.5}, 3),
        # custom without a percentage silently becomes default: 6 - 4
        ({"queue": 30, "strategy": "custom", "running": 4}, 2),
        # scaleTo is the raw queue: 1 item, 1 Job
        ({"queue": 1, "strategy": "accurate"}, 1),
        # queue / target above MAXC: maxScale = 10
        ({"queue": 400, "strategy": "accurate"}, 10),
        # MIN 2, nothing running: top-up to MIN even with an empty queue (forced active)
        ({"queue": 0, "strategy": "accurate", "min_replicas": 2, "active": False}, 2),
        ({"queue": 12, "strategy": "accurate", "active": False}, 0),
    ],
)
def test_scaled_job_strategies(kwargs: dict, jobs: int) -> None:
    args = {"target": 5, "max_replicas": 10, **kwargs}
    assert scaled_job_new_jobs(**args) == jobs


def test_scaled_job_combines_active_triggers_only() -> None:
    a, b = redis_trigger("a", 5, 0), redis_trigger("b", 5, 10)
    sj = Scaler(kind=SCALED_JOB, name="sj", triggers=(a, b), max_replicas=10, strategy="accurate")
    # b (q 9) is not above its activation 10, so only a (q 4) counts: ceil(4/5) = 1
    assert decide_scaled_job(sj, [Reading(a, 4), Reading(b, 9)]).count == 1
    summed = Scaler(
        kind=SCALED_JOB,
        name="sj",
        triggers=(a, b),
        max_replicas=10,
        strategy="accurate",
        multiple_scalers_calculation="sum",
    )
    # both active: q = 11 + 14 = 25, m = 11/5 + 14/5 = 5
    assert decide_scaled_job(summed, [Reading(a, 11), Reading(b, 14)]).count == 5


def test_pause_annotations_in_the_decision() -> None:
    """paused-replicas pins the count; paused leaves it (unknown here); a paused direction cannot be taken
    from the replicas running (rules.spec.Pause, decide_scaled_object)."""
    t = redis_trigger()

    def paused(**annotations: str) -> Scaler:
        pause = Pause.from_annotations(SCALED_OBJECT, annotations)
        return dataclasses.replace(so(t), pause=pause)

    pinned = decide_scaled_object(paused(**{"autoscaling.keda.sh/paused-replicas": "3"}), [Reading(t, 95)])
    assert pinned.count == 3 and pinned.reason.startswith("paused (autoscaling.keda.sh/paused-replicas=3)")
    assert decide_scaled_object(paused(**{"autoscaling.keda.sh/paused": "true"}), [Reading(t, 95)]).count is None
    no_out = paused(**{"autoscaling.keda.sh/paused-scale-out": "true"})
    assert decide_scaled_object(no_out, [Reading(t, 95)], current=4).count == 4  # 10 wanted, no way up
    assert decide_scaled_object(no_out, [Reading(t, 95)]).count is None
    no_in = paused(**{"autoscaling.keda.sh/paused-scale-in": "true"})
    assert decide_scaled_object(no_in, [Reading(t, 0)], current=4).count == 4  # 0 wanted, no way down
    assert decide_scaled_object(no_in, [Reading(t, 95)], current=4).count == 10


def test_scaling_modifiers_in_the_decision() -> None:
    """With scalingModifiers the composite metric decides activity and count (getScaledObjectState)."""
    a, b = redis_trigger("a", 10, 0), redis_trigger("b", 10, 0)
    modified = dataclasses.replace(
        so(a, b), scaling_modifiers={"formula": "a + b", "target": "5", "activationTarget": "4"}
    )
    quiet = decide_scaled_object(modified, [Reading(a, 2), Reading(b, 2)])
    assert (quiet.active, quiet.count) == (False, 0)  # 2 + 2 is not above activationTarget 4
    busy = decide_scaled_object(modified, [Reading(a, 12), Reading(b, 10)])
    assert (busy.active, busy.count) == (True, 5)  # ceil(22 / 5), not each trigger's ceil(12 / 10)
    assert decide_scaled_object(modified, [Reading(a, None, error="down"), Reading(b, 10)]).count is None


# --- the manifests the predictions read --------------------------------------------------------


def test_the_local_overlay_is_read_with_its_numbers() -> None:
    scalers, source = load_scalers(overlay=LOCAL)
    by_workload = {workload_of(s): s for s in scalers}
    assert source == LOCAL and set(by_workload) == {WORKLOAD_CELERY, WORKLOAD_KAFKA, WORKLOAD_RQ, WORKLOAD_WORKQUEUE}
    celery = by_workload[WORKLOAD_CELERY]
    assert (celery.min_replicas, celery.max_replicas, celery.cooldown_period) == (0, 10, 200)
    assert [(t.name, t.source, t.target, t.activation) for t in celery.triggers] == [
        ("backlog", "celery", 10, 5),
        ("in-flight", CELERY_UNACKED_HASH, 10, 0),
    ]
    job = by_workload[WORKLOAD_WORKQUEUE]
    assert (job.kind, job.strategy, job.max_replicas) == ("ScaledJob", "accurate", 10)


def test_the_bundled_render_matches_the_local_overlay() -> None:
    bundled = [d for d in yaml.safe_load_all(bundled_text()) if d]
    assert bundled == keda_objects(render(LOCAL)), (
        f"kedasuite/{BUNDLED} is stale: regenerate it with scripts/derive "
        "(or `python -m kedasuite.keda.objects > kedasuite/keda/bundled/keda-local.yaml`)"
    )


def test_without_a_checkout_the_bundled_render_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    scalers, source = load_scalers()
    assert source == "k8s/overlays/local (bundled render)" and len(scalers) == 4


def test_bad_sources_name_the_fix(tmp_path: Path) -> None:
    done = run_cli("status", "--overlay", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"Error: --overlay {tmp_path / 'nope'}: no such directory; pass a kustomize "
        "directory, or --manifests with a rendered file"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [")
    done = run_cli("status", "--manifests", str(bad))
    assert done.returncode == 2 and done.stderr.startswith(f"Error: {bad} is not valid YAML: ")


# --- live: real brokers, counts around the thresholds ------------------------------------------


class Pumper:
    """Pumps through the real engine and publishers, a few items at a time."""

    def __init__(self, redis_url: str, kafka: KafkaSettings | None = None) -> None:
        self.brokers = wl.BrokerConfig(redis_url=redis_url, kafka=kafka)
        self.factory = RecordFactory(7)
        self.total: dict[str, int] = {}

    def to(self, workload: str, total: int) -> None:
        more = total - self.total.get(workload, 0)
        publisher = wl.make_publisher(workload, self.brokers)
        try:
            run = new_run(more, [workload], None)
            status = pump_stream(publisher, self.factory, run.streams[0], 1)
        finally:
            publisher.close()
        assert (status.sent, status.failed) == (more, 0), status.error
        self.total[workload] = total


@pytest.fixture
def local_scalers() -> list[Scaler]:
    return load_scalers(overlay=LOCAL)[0]


def only(status: dict, workload: str) -> dict:
    (entry,) = [w for w in status["workloads"] if w["workload"] == workload]
    return entry


def expected_scaled_object(backlog: int, target: int, activation: int, max_replicas: int) -> tuple[bool, int]:
    """By hand: active when backlog > A; then clamp(ceil(M / T), 1, max); else 0."""
    if backlog <= activation:
        return False, 0
    return True, min(max_replicas, max(1, math.ceil(backlog / target)))


@pytest.mark.integration
@pytest.mark.parametrize("workload", [WORKLOAD_CELERY, WORKLOAD_RQ])
def test_redis_scaled_objects_predict_around_the_thresholds(
    workload: str, redis_url: str, local_scalers: list[Scaler]
) -> None:
    pumper = Pumper(redis_url)
    with StatusReader(local_scalers, LOCAL, redis_url, None, [workload]) as reader:
        idle = only(reader.read(), workload)
        assert (idle["backlog"], idle["in_flight"], idle["active"], idle["replicas"]) == (0, 0, False, 0)
        # listLength 10, activationListLength 5, maxReplicaCount 10 (k8s/components/*-scaledobject)
        for n in (5, 6, 10, 11, 20, 21, 95, 100, 101, 130):
            pumper.to(workload, n)
            entry = only(reader.read(), workload)
            assert entry["backlog"] == n
            assert (entry["active"], entry["replicas"]) == expected_scaled_object(n, 10, 5, 10), (n, entry["reason"])
            assert entry["error"] is None


@pytest.mark.integration
def test_the_work_queue_scaled_job_predicts_new_jobs(redis_url: str, local_scalers: list[Scaler]) -> None:
    pumper = Pumper(redis_url)
    # listLength 5, activationListLength 2, maxReplicaCount 10, accurate, no Jobs running:
    # min(ceil(q), ceil(min(q / 5, 10))) once q > 2.
    expected = {2: 0, 3: 1, 5: 1, 6: 2, 12: 3, 50: 10, 51: 10, 80: 10}
    with StatusReader(local_scalers, LOCAL, redis_url, None, [WORKLOAD_WORKQUEUE]) as reader:
        for n, jobs in expected.items():
            pumper.to(WORKLOAD_WORKQUEUE, n)
            entry = only(reader.read(), WORKLOAD_WORKQUEUE)
            assert (entry["backlog"], entry["replicas"], entry["unit"]) == (n, jobs, "jobs"), entry["reason"]
    # 8 Jobs already running, none pending: accurate caps at MAXC - r = 2
    with StatusReader(local_scalers, LOCAL, redis_url, None, [WORKLOAD_WORKQUEUE], running_jobs=8) as reader:
        assert only(reader.read(), WORKLOAD_WORKQUEUE)["replicas"] == 2


@pytest.mark.integration
def test_kafka_lag_prediction_follows_the_partition_cap(
    kafka: KafkaSettings, redis_url: str, local_scalers: list[Scaler]
) -> None:
    pumper = Pumper(redis_url, kafka)
    # lagThreshold 5, activationLagThreshold 2, 5 partitions, maxReplicaCount 5, offsetResetPolicy earliest
    expected = {2: (False, 0), 3: (True, 1), 5: (True, 1), 6: (True, 2), 24: (True, 5), 40: (True, 5)}
    with StatusReader(local_scalers, LOCAL, redis_url, kafka, [WORKLOAD_KAFKA]) as reader:
        for n, (active, replicas) in expected.items():
            pumper.to(WORKLOAD_KAFKA, n)
            entry = only(reader.read(), WORKLOAD_KAFKA)
            assert entry["backlog"] == n, entry
            assert (entry["active"], entry["replicas"]) == (active, replicas), (n, entry["reason"])
        (trigger,) = only(reader.read(), WORKLOAD_KAFKA)["triggers"]
        assert trigger["metric"] == 25, "40 // 5 = 8 > 5 partitions: KEDA hands the HPA 5 * 5"


@pytest.mark.integration
def test_status_and_the_autoscaler_measure_a_key_by_its_type(redis_url: str, redis_client: redis.Redis) -> None:
    """KEDA's redis scaler measures a list, set, sorted set or hash by its length and a missing
    key as 0, and errors on any other type. Status reads its keys together in one round trip,
    the autoscaler one key at a time: both give the same values and the same error."""
    redis_client.rpush("a-list", 1, 2, 3)
    redis_client.sadd("a-set", "x", "y")
    redis_client.zadd("a-zset", {"x": 1, "y": 2, "z": 3, "w": 4})
    redis_client.hset("a-hash", mapping={"x": 1})
    redis_client.set("a-string", "5")
    expected = {"a-list": 3, "a-set": 2, "a-zset": 4, "a-hash": 1, "missing": 0, "a-string": None}
    triggers = [Trigger(key, "redis", key, 1.0, 0.0) for key in expected]
    with ScalerReads(redis_url, None) as reads:
        snapshot = reads.redis_snapshot(list(expected))
        for_status = {t.source: reads.reading(t, snapshot=snapshot) for t in triggers}
        for_autoscale = {t.source: reads.value(t) for t in triggers}
    assert {key: r.metric for key, r in for_status.items()} == for_autoscale == expected
    wrong_type = "key 'a-string' is neither a list, set, sorted set nor hash: KEDA's redis scaler errors"
    assert {key: r.error for key, r in for_status.items() if r.error} == {"a-string": wrong_type}
    assert reads.errors == {("redis", "a-string"): wrong_type}


@pytest.mark.integration
def test_a_busy_celery_worker_keeps_the_deployment_active(
    spawn, redis_url: str, redis_client: redis.Redis, local_scalers: list[Scaler]
) -> None:
    """Late acks: tasks being worked on sit in `unacked`, not in `celery`. The in-flight trigger
    is what keeps KEDA from scaling a busy deployment to zero."""
    worker: Proc = spawn("worker", "celery", "--redis-url", redis_url, "--concurrency", "2", "--work-time", "fixed:60")
    worker.wait_for_log(r"ready\.", timeout=60)
    Pumper(redis_url).to(WORKLOAD_CELERY, 3)
    with StatusReader(local_scalers, LOCAL, redis_url, None, [WORKLOAD_CELERY]) as reader:
        from tests.support import wait_for

        entry = wait_for(
            lambda: (e := only(reader.read(), WORKLOAD_CELERY))["in_flight"] >= 2 and e, 30, "two tasks in flight"
        )
    assert entry["backlog"] <= 1 and entry["active"] and entry["replicas"] == 1, entry
    (backlog, in_flight) = entry["triggers"]
    assert not backlog["active"] and in_flight["active"]


@pytest.mark.integration
def test_cli_json_and_table(redis_url: str) -> None:
    Pumper(redis_url).to(WORKLOAD_CELERY, 11)
    done = run_cli("status", "--redis-url", redis_url, "-w", "celery", "--overlay", LOCAL, "--json")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["workloads"]
    assert (entry["backlog"], entry["active"], entry["replicas"], entry["processed"]) == (11, True, 2, 0)
    table = run_cli("status", "--redis-url", redis_url, "-w", "celery", "--overlay", LOCAL)
    lines = table.stdout.splitlines()
    assert lines[1].split() == ["WORKLOAD", "KIND", "BACKLOG", "IN-FLIGHT", "PROCESSED", "ACTIVE", "KEDA", "TARGET"]
    assert lines[2].split() == ["celery", "ScaledObject", "11", "0", "0", "yes", "2", "replicas"]
    assert lines[3] == (
        "celery: backlog 11 > activation 5; in-flight 0 <= activation 0: active; "
        "max(ceil(11/10)=2, ceil(0/10)=0) within [1, 10] = 2"
    )


@pytest.mark.integration
def test_unreachable_brokers_are_reported_per_workload(free_port: int) -> None:
    done = run_cli(
        "status",
        "--redis-url",
        f"redis://127.0.0.1:{free_port}/0",
        "--bootstrap-servers",
        f"127.0.0.1:{free_port}",
        "--overlay",
        LOCAL,
        "--json",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entries = {w["workload"]: w for w in json.loads(done.stdout)["workloads"]}
    assert entries["celery"]["error"].startswith(f"cannot reach Redis at redis://127.0.0.1:{free_port}/0")
    assert entries["celery"]["replicas"] is None
    assert entries["kafka"]["error"].startswith(f"cannot read offsets from Kafka at 127.0.0.1:{free_port}: ")
    assert entries["kafka"]["error"].endswith("check KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.integration
def test_the_pump_serves_status_for_its_workloads(redis_url: str) -> None:
    from kedasuite.core.settings import PumpSettings
    from kedasuite.producers.http_pump import create_app
    from kedasuite.tools.status import pump_status

    settings = PumpSettings(
        brokers=wl.BrokerConfig(redis_url=redis_url), workloads=["celery", "rq"], keda_overlay=LOCAL
    )
    client = create_app(settings, pump_status(settings)).test_client()
    assert client.get("/pump?count=21&workload=rq").status_code == 202

    def rq_entry() -> dict | None:
        entry = only(client.get("/status").get_json(), "rq")
        return entry if entry["backlog"] == 21 else None

    from tests.support import wait_for

    entry = wait_for(rq_entry, 30, "the pumped items on the RQ queue")
    assert (entry["active"], entry["replicas"], entry["name"]) == (True, 3, "rq-worker")
    assert [w["workload"] for w in client.get("/status").get_json()["workloads"]] == ["celery", "rq"]


@pytest.fixture
def free_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


# --- a local autoscaler's state (kedasuite autoscale) in status and /status -------------------------

AUTOSCALE_TIMINGS = (
    "--polling-interval",
    "1",
    "--cooldown-period",
    "3",
    "--sync-period",
    "1",
    "--stabilization-window",
    "2",
)


@functools.cache
def local_source() -> tuple[list[Scaler], str]:
    return load_scalers(overlay=LOCAL)


def autoscale_block(run_dir: Path, workload: str, redis_url: str | None = None) -> dict | None:
    scalers, source = local_source()
    with StatusReader(
        scalers, source, redis_url, None, [WORKLOAD_CELERY, workload], autoscale_run_dir=str(run_dir)
    ) as reader:
        status = reader.read()
    assert only(status, WORKLOAD_CELERY)["autoscale"] is None, "the autoscaler runs one workload only"
    return only(status, workload)["autoscale"]


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_status_shows_a_local_autoscaler_live_then_stale(
    spawn, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """A real `kedasuite autoscale --backend none` on the real Redis: its model's count, the last
    step and the next one in words, the deviations; once it exits, the same state shown as stale,
    how old it is, and how to see a live one."""
    from kedasuite.autoscale.actuator import read_state
    from kedasuite.core.names import RQ_QUEUE_LIST
    from tests.support import wait_for

    run_dir = tmp_path / "run"
    env = own_tmpdir(tmp_path)
    Pumper(redis_url).to(WORKLOAD_RQ, 21)
    auto = spawn(
        "autoscale",
        "--backend",
        "none",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--run-dir",
        str(run_dir),
        "--overlay",
        LOCAL,
        *AUTOSCALE_TIMINGS,
        env=env,
    )
    wait_for(
        lambda: (s := read_state(run_dir)) and s["workloads"][0]["model"] == 3,
        60,
        "the model at 3 replicas",
        seen=lambda: f"state {read_state(run_dir)}\n{auto.describe()}",
    )

    block = autoscale_block(run_dir, WORKLOAD_RQ, redis_url)
    assert block is not None
    # --backend none runs nothing: no actual count, only the model's (ceil(21/10) = 3)
    assert (block["actual"], block["model"], block["unit"], block["backend"], block["pid"]) == (
        None,
        3,
        "replicas",
        "none",
        auto.pid,
    )
    assert (block["stale"], block["stale_reason"], block["stopping"], block["run_dir"]) == (
        False,
        None,
        None,
        str(run_dir),
    )
    assert block["reason"].startswith("HPA wants 3"), block["reason"]
    # the next poll or sync keeps 3 while the backlog stays
    assert (block["next_step"]["replicas"], block["next_step"]["actor"] in ("keda", "hpa")) == (3, True), block
    assert 0 <= block["next_step"]["in_seconds"] <= 1
    assert block["deviations"][:2] == ["pollingInterval 1 s (manifest: 15 s)", "cooldownPeriod 3 s (manifest: 120 s)"]
    assert 0 <= block["age_seconds"] < 5 and block["read_errors"] == []

    # The backlog goes (as if drained): the next step becomes KEDA's cooldown, counted down.
    redis_client.delete(RQ_QUEUE_LIST)
    cooldown = re.compile(r"^KEDA: backlog 0 <= 5, in-flight 0 <= 0: cooldown: [\d.]+ s of 3 left$")
    wait_for(
        lambda: (
            (b := autoscale_block(run_dir, WORKLOAD_RQ)) and b["next_step"] and cooldown.match(b["next_step"]["reason"])
        ),
        30,
        "KEDA's cooldown as the next step",
        seen=lambda: repr(autoscale_block(run_dir, WORKLOAD_RQ)),
    )
    text = run_cli(
        "status", "-w", "rq", "--redis-url", redis_url, "--overlay", LOCAL, "--autoscale-run-dir", str(run_dir), env=env
    )
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    head = next(line for line in lines if line.startswith("autoscaler ("))
    assert head.startswith(f"autoscaler (pid {auto.pid}, backend none, run dir {run_dir}), state ")
    assert any(line.startswith("  rq: nothing runs (model only), model ") for line in lines), text.stdout
    assert (
        "  rq: timings differ from the manifest: pollingInterval 1 s (manifest: 15 s); cooldownPeriod 3 s "
        "(manifest: 120 s)"
    ) in text.stdout
    assert not any(line.startswith("autoscaler: ") for line in lines), "a live state needs no fix"

    auto.signal(signal.SIGTERM)
    assert auto.wait(30) == 0, auto.log()
    block = autoscale_block(run_dir, WORKLOAD_RQ)
    assert block is not None
    stopped = rf"the autoscaler \(pid {auto.pid}\) is not running: it stopped \(SIGTERM\)"
    assert (block["stale"], block["next_step"]) == (True, None) and re.fullmatch(stopped, block["stale_reason"]), block
    text = run_cli(
        "status", "-w", "rq", "--redis-url", redis_url, "--overlay", LOCAL, "--autoscale-run-dir", str(run_dir), env=env
    )
    lines = text.stdout.splitlines()
    head = next(line for line in lines if line.startswith("autoscaler ("))
    assert re.fullmatch(
        rf"autoscaler \(pid {auto.pid}, backend none, run dir {re.escape(str(run_dir))}\): STALE, "
        rf"{stopped}; its last state, written at \d\d:\d\d:\d\d \([\d.]+ s ago\), is not live:",
        head,
    ), text.stdout
    assert lines[-1] == (
        "autoscaler: no autoscaler of this user runs on this host now: start one (`kedasuite "
        f"autoscale --run-dir {run_dir}`), or, for one that writes elsewhere, set "
        "AUTOSCALE_RUN_DIR=<its run dir> or pass --autoscale-run-dir <its run dir>"
    ), text.stdout


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_status_names_the_run_directory_an_autoscaler_writes_to_when_its_own_is_not_live(
    spawn, redis_url: str, tmp_path: Path
) -> None:
    """What a user met: `kedasuite status` reads the default run directory, while `kedasuite
    autoscale` runs with --run-dir elsewhere. With nothing in the default one, and then with an
    old run's state there, status says whose state it reads, how old, and which variable or
    option shows the live one; following that advice shows it live."""
    from kedasuite.autoscale.actuator import read_state
    from tests.support import wait_for

    env = own_tmpdir(tmp_path)
    default = Path(env["TMPDIR"]) / f"kedasuite-autoscale-{os.getuid()}"
    other = tmp_path / "other"
    live = spawn(
        "autoscale",
        "--backend",
        "none",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--run-dir",
        str(other),
        "--overlay",
        LOCAL,
        *AUTOSCALE_TIMINGS,
        env=env,
    )
    wait_for(lambda: read_state(other), 60, f"the live autoscaler's state in {other}", seen=live.describe)
    fix = (
        f"an autoscaler runs now with pid {live.pid} (backend none) and run dir {other}: "
        f"set AUTOSCALE_RUN_DIR={other} or pass --autoscale-run-dir {other} to see it"
    )

    def status(*more: str, **variables: str) -> list[str]:
        done = run_cli(
            "status", "-w", "rq", "--redis-url", redis_url, "--overlay", LOCAL, *more, env={**env, **variables}
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    # Nothing ever ran in the default run directory.
    assert status()[-1] == f"autoscaler: no autoscaler state in {default}; {fix}"

    # An old run there: an autoscaler that ran for a second and stopped.
    old = run_cli(
        "autoscale",
        "--backend",
        "none",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--overlay",
        LOCAL,
        "--duration",
        "1",
        env=env,
    )
    assert old.returncode == 0, old.stdout + old.stderr
    old_pid = read_state(default)["pid"]
    lines = status()
    head = next(line for line in lines if line.startswith("autoscaler ("))
    assert re.fullmatch(
        rf"autoscaler \(pid {old_pid}, backend none, run dir {re.escape(str(default))}\): STALE, the "
        rf"autoscaler \(pid {old_pid}\) is not running: it stopped \(--duration 1 s reached\); "
        r"its last state, written at \d\d:\d\d:\d\d \([\d.]+ s ago\), is not live:",
        head,
    ), lines
    assert lines[-1] == f"autoscaler: {fix}"
    summary = json.loads("\n".join(status("--json")))["autoscaler"]
    assert (summary["state"], summary["run_dir"], summary["pid"], [e["pid"] for e in summary["elsewhere"]]) == (
        "stale",
        str(default),
        old_pid,
        [live.pid],
    )
    assert re.fullmatch(
        rf"the autoscaler state in {re.escape(str(default))} is stale: the autoscaler \(pid {old_pid}\) "
        r"is not running: it stopped \(--duration 1 s reached\); its numbers are the last that "
        rf"autoscaler \(pid {old_pid}, backend none\) wrote [\d.]+ s ago, not live; {re.escape(fix)}",
        summary["note"],
    ), summary["note"]

    # The advice, followed.
    lines = status(AUTOSCALE_RUN_DIR=str(other))
    head = next(line for line in lines if line.startswith("autoscaler ("))
    assert head.startswith(f"autoscaler (pid {live.pid}, backend none, run dir {other}), state "), lines
    assert not any(line.startswith("autoscaler: ") for line in lines), lines


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_an_autoscaler_stopping_its_workers_is_stopping_not_hung(spawn, redis_url: str, tmp_path: Path) -> None:
    """An autoscaler stopping a worker that finishes a long job first (longer than the state's
    10 s staleness limit) is shown as stopping, never as hung or gone, for as long as it runs;
    once it exits, as stopped: no face waits for its pid to vanish."""
    from kedasuite.autoscale.view import STALE_MIN_SECONDS
    from tests.support import AutoscalerWatch, wait_for

    work = STALE_MIN_SECONDS + 6  # the job's length: the stop outlasts the staleness limit
    run_dir = tmp_path / "run"
    auto = spawn(
        "autoscale",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--run-dir",
        str(run_dir),
        "--overlay",
        LOCAL,
        *AUTOSCALE_TIMINGS,
        env={**own_tmpdir(tmp_path), "WORK_TIME": f"fixed:{work:g}"},
    )
    watch = AutoscalerWatch(auto, run_dir)
    Pumper(redis_url).to(WORKLOAD_RQ, 6)  # over the activation of 5: one replica

    def entry() -> dict:
        scalers, source = local_source()
        with StatusReader(scalers, source, redis_url, None, [WORKLOAD_RQ], autoscale_run_dir=str(run_dir)) as reader:
            return only(reader.read(), WORKLOAD_RQ)

    wait_for(
        lambda: (e := entry())["in_flight"] == 1 and (e["autoscale"] or {}).get("actual") == 1,
        60,
        "a replica working on a job",
        seen=watch.report,
    )
    auto.signal(signal.SIGTERM)
    sent = time.monotonic()
    seen: list[tuple[float, str]] = []

    def exited() -> bool:
        block = entry()["autoscale"]
        if auto.popen.poll() is not None:
            return True
        state = "stale: " + block["stale_reason"] if block["stale"] else "stopping" if block["stopping"] else "live"
        if not seen or seen[-1][1] != state:
            seen.append((round(time.monotonic() - sent, 1), state))
        return False

    wait_for(exited, 60, "the autoscaler to exit", seen=lambda: f"{seen}\n{watch.report()}")
    took = time.monotonic() - sent
    assert took > STALE_MIN_SECONDS, f"the stop took {took:.1f} s: too short to show the state outlasting the limit"
    # Live, then stopping for as long as its worker finishes; between the 'stopped' mark and the
    # process's exit (its last lines and the interpreter's end) the faces may already say stopped.
    stopped = f"stale: the autoscaler (pid {auto.pid}) is not running: it stopped (SIGTERM)"
    states = [state for _, state in seen]
    assert states in (["stopping"], ["live", "stopping"], ["stopping", stopped], ["live", "stopping", stopped]), seen
    assert seen[-1][1] == "stopping" or seen[-1][0] > STALE_MIN_SECONDS, f"stopped too early: {seen}"
    block = entry()["autoscale"]
    assert (block["stale"], "stale: " + block["stale_reason"], block["actual"]) == (True, stopped, 0), block


def test_no_autoscaler_state_means_no_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No run directory, an empty one, or a file that is not a state, and no autoscaler running:
    ``autoscale`` and ``autoscaler`` are null and the table says nothing about an autoscaler."""
    import tempfile

    from kedasuite.tools.status import render_text

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the registry: none of the other tests' autoscalers
    scalers, source = load_scalers(overlay=LOCAL)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "state.json").write_text("{not json")
    for run_dir in (None, str(tmp_path / "missing"), str(tmp_path), str(broken)):
        with StatusReader(scalers, source, None, None, autoscale_run_dir=run_dir) as reader:
            status = reader.read()
        assert [w["autoscale"] for w in status["workloads"]] == [None] * 4 and status["autoscaler"] is None
        assert "autoscaler" not in render_text(status)


def hand_state(pid: int, written: float, started: float, host: str | None = None) -> dict:
    from datetime import UTC, datetime

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat()

    entry = {
        "workload": "rq",
        "unit": "replicas",
        "actual": 2,
        "model": 2,
        "reason": "HPA wants 2",
        "next_step": {"in_seconds": 5.0, "actor": "keda", "replicas": 0, "reason": "cooldown: 5 s of 10 left"},
        "deviations": [],
        "read_errors": [],
        "polling_interval": 2,
    }
    state = {"time": iso(written), "started": iso(started), "pid": pid, "backend": "processes", "workloads": [entry]}
    if host is not None:
        state["host"] = host
    return state


def test_stale_state_is_never_shown_as_live(tmp_path: Path) -> None:
    """Hand-written states: a pid that is gone, a pid now held by a later process, a file not
    rewritten for a few polling intervals; from another host only the age counts."""
    import os
    import socket
    import subprocess
    import time

    from kedasuite.autoscale.view import STALE_MIN_SECONDS, blocks, staleness

    now = float(int(time.time()))  # whole seconds: the ISO times round-trip exactly
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    live = hand_state(os.getpid(), now - 1.0, now - 5.0, here)
    assert staleness(live, now) == (1.0, None)
    (tmp_path / "state.json").write_text(json.dumps(live))
    block = blocks(tmp_path, now)["rq"]
    assert (block["stale"], block["actual"], block["next_step"]["in_seconds"]) == (
        False,
        2,
        4.0,
    )  # 5 s, written 1 s ago

    assert staleness(hand_state(gone.pid, now - 1.0, now - 5.0, here), now) == (
        1.0,
        f"the autoscaler (pid {gone.pid}) is not running",
    )
    # This test's own pid, but the state says its autoscaler started long before this process did.
    assert staleness(hand_state(os.getpid(), now - 1.0, now - 10 * 365 * 86400, here), now)[1] == (
        f"the autoscaler (pid {os.getpid()}) is not running: that pid is now another process"
    )
    old = now - STALE_MIN_SECONDS - 1
    # (started: after this process did, so the pid is still that autoscaler's)
    assert staleness(hand_state(os.getpid(), old, now - 1, here), now)[1] == (
        f"the state was not rewritten for more than {STALE_MIN_SECONDS:g} s: the autoscaler is hung or gone"
    )
    # Another host (a container): its pids mean nothing here; a fresh file is live, an old one stale.
    assert staleness(hand_state(gone.pid, now - 1.0, now - 5.0, "elsewhere"), now) == (1.0, None)
    assert staleness(hand_state(gone.pid, old, old - 5, "elsewhere"), now)[1] is not None

    (tmp_path / "state.json").write_text(json.dumps(hand_state(gone.pid, now - 1.0, now - 5.0, here)))
    block = blocks(tmp_path, now)["rq"]
    assert (block["stale"], block["next_step"], block["actual"], block["model"]) == (True, None, 2, 2)


def test_a_stop_is_stopping_until_its_grace_period_is_over_then_stopped(tmp_path: Path) -> None:
    """Hand-written states of an autoscaler on its way out: stopping is not stale within the
    grace period it gave its workers (plus the usual margin), is hung after it; a stop mark is
    stale at once, whoever holds the pid now; a zombie is not running."""
    import os
    import socket
    import subprocess
    import time
    from datetime import UTC, datetime

    from kedasuite.autoscale.view import STALE_MIN_SECONDS, _proc, staleness
    from tests.support import wait_for

    now = float(int(time.time()))
    here = socket.gethostname()
    since = datetime.fromtimestamp(now - 25, UTC).isoformat()
    me = _proc(os.getpid())
    assert me is not None and me[1] is not None
    # This test's pid as the autoscaler's, started when this process did.
    stopping = {
        **hand_state(os.getpid(), now - 25, me[1], here),
        "stopping": {"since": since, "why": "SIGTERM", "within_seconds": 30.0},
    }
    assert staleness(stopping, now) == (25.0, None)  # 25 s into a 30 s grace period: still stopping
    late = now + 30 + STALE_MIN_SECONDS
    assert staleness(stopping, late)[1] == (
        f"the autoscaler (pid {os.getpid()}) began stopping and has not finished "
        f"within {30 + STALE_MIN_SECONDS:g} s: it is hung or gone"
    )
    stopped = {**stopping, "stopped": {"at": since, "why": "SIGTERM"}}
    assert staleness(stopped, now) == (25.0, f"the autoscaler (pid {os.getpid()}) is not running: it stopped (SIGTERM)")

    zombie = subprocess.Popen(["true"])  # exited, not reaped until the end of this test: signal 0 still reaches it

    def state_of(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return "gone"

    wait_for(
        lambda: state_of(zombie.pid) == "Z", 10, f"pid {zombie.pid} to be a zombie", seen=lambda: state_of(zombie.pid)
    )
    try:
        assert staleness(hand_state(zombie.pid, now - 1, now - 5, here), now) == (
            1.0,
            f"the autoscaler (pid {zombie.pid}) is not running",
        )
    finally:
        zombie.wait()


def test_the_words_say_whose_state_how_old_and_the_fix(tmp_path: Path) -> None:
    """The note every face shows, from a summary: a stale state with a live autoscaler elsewhere,
    several elsewhere, none; no state at all; nothing for a live one."""
    from kedasuite.autoscale.view import note
    from kedasuite.core.defaults import autoscale_run_dir

    other = {"pid": 42, "backend": "processes", "run_dir": "/runs/b", "started": "2026-01-01T00:00:00+00:00"}
    stale = {
        "run_dir": "/runs/a",
        "state": "stale",
        "pid": 7,
        "backend": "none",
        "updated": "2026-01-01T00:00:00+00:00",
        "age_seconds": 185.0,
        "stale_reason": "the autoscaler (pid 7) is not running",
        "stopping": None,
        "elsewhere": [other],
    }
    words = note(stale)
    assert words == (
        "the autoscaler state in /runs/a is stale: the autoscaler (pid 7) is not running; its numbers are the last "
        "that autoscaler (pid 7, backend none) wrote 3 min 5 s ago, not live; an autoscaler runs now with pid 42 "
        "(backend processes) and run dir /runs/b: set AUTOSCALE_RUN_DIR=/runs/b or pass --autoscale-run-dir /runs/b "
        "to see it"
    )
    assert "wrote, not live" in (note(stale, with_age=False) or "")
    two = note({**stale, "elsewhere": [other, {**other, "pid": 43, "run_dir": "/runs/c"}]}) or ""
    assert two.endswith(
        "autoscalers run now elsewhere: pid 42 (backend processes) with run dir /runs/b; pid 43 "
        "(backend processes) with run dir /runs/c; set AUTOSCALE_RUN_DIR=<its run dir> or pass "
        "--autoscale-run-dir <its run dir> to see one"
    )
    assert (note({**stale, "elsewhere": [], "run_dir": autoscale_run_dir()}) or "").endswith(
        "no autoscaler of this user runs on this host now: start one (`kedasuite autoscale`), or, for one that "
        "writes elsewhere, set AUTOSCALE_RUN_DIR=<its run dir> or pass --autoscale-run-dir <its run dir>"
    )
    assert note({**stale, "state": "absent"}) == (
        "no autoscaler state in /runs/a; an autoscaler runs now with pid 42 (backend processes) and run dir /runs/b: "
        "set AUTOSCALE_RUN_DIR=/runs/b or pass --autoscale-run-dir /runs/b to see it"
    )
    assert note({**stale, "state": "live"}) is None and note({**stale, "state": "stopping"}) is None
