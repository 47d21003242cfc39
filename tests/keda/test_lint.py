"""The lint of ``kedasuite check-manifests``: every rule, once on a manifest that triggers it and
once on one that does not, with its severity and the manifest's numbers in the message.

The manifests are small dicts built here (no kubectl): a Deployment or a ScaledJob running
one of the suite's workloads, and the ScaledObject that scales it. The last tests render
the bundled overlays and run the command, so they are ``lint`` tests as in test_manifests.py.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedasuite.keda import manifest_checks as mc
from kedasuite.keda.lint import IGNORE, IGNORE_REASON, Finding, all_rules, findings, lint

ROOT = Path(__file__).resolve().parents[2]
Obj = dict[str, Any]

# --- building manifests --------------------------------------------------------------------------


def env_list(env: dict[str, str] | None) -> list[Obj]:
    return [{"name": k, "value": v} for k, v in (env or {}).items()]


def pod(
    args: list[str],
    env: dict[str, str] | None = None,
    grace: int | None = None,
    probe: bool = False,
    command: list[str] | None = None,
) -> Obj:
    container: Obj = {"name": "main", "image": "kedasuite:dev", "args": args, "env": env_list(env)}
    if command:
        container = {"name": "main", "image": "celery:dev", "command": command, "env": env_list(env)}
    if probe:
        container["readinessProbe"] = {"tcpSocket": {"port": 9100}, "periodSeconds": 10}
    spec: Obj = {"containers": [container]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return spec


def deployment(name: str, args: list[str], **pod_args: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": pod(args, **pod_args)}},
    }


def scaled_object(name: str, triggers: list[Obj], **spec: Any) -> Obj:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"name": name}, "triggers": triggers, **spec},
    }


def redis(list_name: str, length: str = "10", activation: str | None = None, name: str | None = None) -> Obj:
    metadata = {"addressFromEnv": "REDIS_ADDRESS", "listName": list_name, "listLength": length}
    if activation is not None:
        metadata["activationListLength"] = activation
    return {"type": "redis", "name": name or list_name, "metadata": metadata}


def kafka(lag: str = "5", **metadata: str) -> Obj:
    return {
        "type": "kafka",
        "name": "lag",
        "metadata": {
            "bootstrapServersFromEnv": "KAFKA_BOOTSTRAP_SERVERS",
            "consumerGroup": "test-consumer-group",
            "topic": "test-topic",
            "lagThreshold": lag,
            **metadata,
        },
    }


def celery(env: dict[str, str] | None = None, triggers: list[Obj] | None = None, **spec: Any) -> list[Obj]:
    """The Celery workload scaled on its list and its in-flight hash (both fine as given)."""
    return [
        deployment("celery-worker", ["worker", "celery"], env=env),
        scaled_object("celery-worker", triggers or [redis("celery"), redis("unacked")], **spec),
    ]


def consumers(
    max_replicas: int = 5, env: dict[str, str] | None = None, grace: int | None = None, **trigger: str
) -> list[Obj]:
    return [
        deployment("kafka-consumer", ["worker", "kafka"], env=env, grace=grace),
        scaled_object("kafka-consumer", [kafka(**trigger)], maxReplicaCount=max_replicas),
    ]


def scaled_job(
    strategy: str | None = "accurate",
    pending: list[str] | None = None,
    probe: bool = False,
    triggers: list[Obj] | None = None,
    env: dict[str, str] | None = None,
    grace: int | None = None,
) -> Obj:
    scaling: Obj = {}
    if strategy:
        scaling["strategy"] = strategy
    if pending:
        scaling["pendingPodConditions"] = pending
    spec: Obj = {
        "maxReplicaCount": 10,
        "pollingInterval": 10,
        "jobTargetRef": {"template": {"spec": pod(["job", "workqueue"], env=env, grace=grace, probe=probe)}},
        "triggers": triggers or [redis("job", "5")],
    }
    if scaling:
        spec["scalingStrategy"] = scaling
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledJob", "metadata": {"name": "workqueue"}, "spec": spec}


def found(objs: list[Obj], rule: str) -> list[Finding]:
    return [f for f in findings(objs) if f.rule == rule]


def one(objs: list[Obj], rule: str, severity: str, *numbers: str) -> Finding:
    """The single finding of ``rule``, of ``severity``, whose message carries each of ``numbers``."""
    hits = found(objs, rule)
    assert len(hits) == 1, [f.text() for f in findings(objs)]
    assert hits[0].severity == severity, hits[0].text()
    for number in numbers:
        assert number in hits[0].message, f"{number!r} not in: {hits[0].message}"
    assert hits[0].why and hits[0].fix
    return hits[0]


# --- trigger metadata ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "field", "words"),
    [
        ({"allowIdleConsumers": "yes"}, "allowIdleConsumers", "strconv.ParseBool"),
        ({"excludePersistentLag": "on"}, "excludePersistentLag", 'unable to parse boolean value "on"'),
        ({"limitToPartitionsWithLag": "TRue"}, "limitToPartitionsWithLag", "not a boolean"),
        ({"topic": "", "limitToPartitionsWithLag": "true"}, "limitToPartitionsWithLag", "needs a topic"),
        ({"lagThreshold": "1.5"}, "lagThreshold", "not an integer"),
        ({"partitionLimitation": "0,a"}, "partitionLimitation", "invalid partition limitation"),
    ],
)
def test_kafka_metadata_keda_refuses_is_an_error_naming_trigger_and_field(
    metadata: dict[str, str], field: str, words: str
) -> None:
    objs = consumers(5)
    trigger = objs[1]["spec"]["triggers"][0]["metadata"]
    trigger.update(metadata)
    if "topic" in metadata and not metadata["topic"]:
        del trigger["topic"]
    hit = one(objs, "trigger-metadata-refused", "error", "trigger lag (kafka)", f"field {field}", words)
    assert "never reports a metric" in hit.why
    assert lint(objs).fails()


def test_redis_metadata_keda_refuses_and_what_a_trigger_authentication_may_hold() -> None:
    one(
        celery(triggers=[redis("celery", length="ten"), redis("unacked")]),
        "trigger-metadata-refused",
        "error",
        "trigger celery (redis)",
        "field listLength",
    )
    enabled = redis("celery")
    enabled["metadata"]["enableTLS"] = "yes"
    one(celery(triggers=[enabled, redis("unacked")]), "trigger-metadata-refused", "error", "field enableTLS")
    # Without an address and without a TriggerAuthentication, KEDA has nowhere to connect; with one, it may.
    bare = {"type": "redis", "name": "celery", "metadata": {"listName": "celery", "listLength": "10"}}
    one(celery(triggers=[bare, redis("unacked")]), "trigger-metadata-refused", "error", "field address")
    bare["authenticationRef"] = {"name": "redis-auth"}
    assert not found(celery(triggers=[bare, redis("unacked")]), "trigger-metadata-refused")
    # Every spelling Go's strconv.ParseBool takes is fine.
    for value in ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"):
        assert not found(consumers(5, allowIdleConsumers=value), "trigger-metadata-refused"), value


# --- kafka --------------------------------------------------------------------------------------


def test_replicas_over_partitions_and_where_the_partition_count_comes_from() -> None:
    hit = one(
        consumers(8),
        "kafka-replicas-over-partitions",
        "warning",
        "maxReplicaCount 8",
        "5 partitions",
        "KAFKA_PARTITIONS is not set in container main",
    )
    assert "6 for a lag from 26 to 29" in hit.why and "5 × 5 = 25" in hit.why
    one(
        consumers(5, env={"KAFKA_PARTITIONS": "4"}),
        "kafka-replicas-over-partitions",
        "warning",
        "maxReplicaCount 5",
        "4 partitions",
        "KAFKA_PARTITIONS=4",
    )
    assert not found(consumers(5), "kafka-replicas-over-partitions")
    assert not found(consumers(8, env={"KAFKA_PARTITIONS": "8"}), "kafka-replicas-over-partitions")
    assert not found(consumers(8, allowIdleConsumers="true"), "kafka-replicas-over-partitions")


def test_tolerance_dead_zone_below_the_cap() -> None:
    # P 5, T 5: the cap is 25; at 4 replicas a lag of 21 or 22 is within 10 % of 20, 23 adds the fifth.
    one(
        consumers(5),
        "kafka-tolerance-dead-zone",
        "info",
        "5 × 5 = 25",
        "a lag of 21 to 22",
        "ceil(lag / 5) = 5",
        "stays at 4",
        "from 23",
    )
    # P 12, T 10: every capped lag reads 120 and 120 / 110 <= 1.1, so only 122 to 129 (uncapped) add the 12th.
    one(
        consumers(12, env={"KAFKA_PARTITIONS": "12"}, lag="10"),
        "kafka-tolerance-dead-zone",
        "warning",
        "a lag of 111 to 121",
        "every lag of 130 or more reads 120",
        "only a lag from 122 to 129",
    )
    # P 20: nothing gets from 19 to 20.
    one(
        consumers(20, env={"KAFKA_PARTITIONS": "20"}, lag="10"),
        "kafka-tolerance-dead-zone",
        "warning",
        "a lag of 191 to 209",
        "no lag takes it to 20",
    )
    # A behavior's own tolerance counts: 25 / 20 = 1.25 is within 30 %.
    objs = consumers(5)
    objs[1]["spec"]["advanced"] = {"horizontalPodAutoscalerConfig": {"behavior": {"scaleUp": {"tolerance": "0.3"}}}}
    one(objs, "kafka-tolerance-dead-zone", "warning", "≤ 1.3", "30 % tolerance")
    assert not found(consumers(4), "kafka-tolerance-dead-zone"), "max below the partitions: the cap is not reached"
    assert not found(consumers(5, allowIdleConsumers="true"), "kafka-tolerance-dead-zone")


def test_exclude_persistent_lag_with_min_zero() -> None:
    one(
        consumers(5, excludePersistentLag="true"),
        "kafka-persistent-lag-min-zero",
        "warning",
        "excludePersistentLag",
        "minReplicaCount 0",
        "activationLagThreshold 0",
    )
    objs = consumers(5, excludePersistentLag="true")
    objs[1]["spec"]["minReplicaCount"] = 1
    assert not found(objs, "kafka-persistent-lag-min-zero")
    assert not found(consumers(5, excludePersistentLag="false"), "kafka-persistent-lag-min-zero")


# --- cooldown, polling, activation --------------------------------------------------------------


def test_cooldown_without_effect() -> None:
    one(
        celery(cooldownPeriod=120, minReplicaCount=1),
        "cooldown-without-effect",
        "warning",
        "cooldownPeriod 120",
        "minReplicaCount 1",
    )
    assert not found(celery(cooldownPeriod=120), "cooldown-without-effect"), "min 0: it times the step to 0"
    assert not found(celery(cooldownPeriod=120, minReplicaCount=2, idleReplicaCount=0), "cooldown-without-effect")
    assert not found(celery(minReplicaCount=1), "cooldown-without-effect"), "not set, nothing to remove"


def test_polling_interval_without_effect() -> None:
    one(
        celery(pollingInterval=15, minReplicaCount=1),
        "polling-interval-without-effect",
        "warning",
        "pollingInterval 15",
        "minReplicaCount 1",
    )
    cached = [dict(redis("celery"), useCachedMetrics=True), redis("unacked")]
    assert not found(celery(triggers=cached, pollingInterval=15, minReplicaCount=1), "polling-interval-without-effect")
    assert not found(celery(pollingInterval=15), "polling-interval-without-effect")


def test_polling_longer_than_cooldown() -> None:
    one(
        celery(pollingInterval=60, cooldownPeriod=30),
        "polling-longer-than-cooldown",
        "warning",
        "pollingInterval 60",
        "cooldownPeriod 30",
    )
    assert not found(celery(pollingInterval=30, cooldownPeriod=30), "polling-longer-than-cooldown")
    assert not found(celery(pollingInterval=15, cooldownPeriod=200), "polling-longer-than-cooldown")


def test_activation_not_below_target() -> None:
    hit = one(
        celery(triggers=[redis("celery", "5", "5"), redis("unacked")]),
        "activation-not-below-target",
        "warning",
        "activationListLength 5",
        "listLength 5",
    )
    assert "ceil(5 / 5) = 1" in hit.why
    hit = one(
        consumers(5, activationLagThreshold="10"),
        "activation-not-below-target",
        "warning",
        "activationLagThreshold 10",
        "lagThreshold 5",
    )
    assert "ceil(10 / 5) = 2" in hit.why
    hit = one(
        [scaled_job(triggers=[redis("job", "5", "8")])],
        "activation-not-below-target",
        "warning",
        "activationListLength 8",
        "listLength 5",
    )
    assert "no Job starts until more than 8 wait" in hit.why
    assert not found(celery(triggers=[redis("celery", "10", "5"), redis("unacked")]), "activation-not-below-target")
    assert not found(
        celery(triggers=[redis("celery", "5", "5"), redis("unacked")], minReplicaCount=1), "activation-not-below-target"
    ), "minReplicaCount 1: KEDA never steps between 0 and 1"


# --- grace periods --------------------------------------------------------------------------------


def test_grace_shorter_than_the_longest_task() -> None:
    hit = one(
        consumers(5, grace=5, env={"WORK_TIME": "fixed:10"}),
        "grace-shorter-than-work",
        "warning",
        "terminationGracePeriodSeconds 5",
        "10 s",
        "WORK_TIME=fixed:10",
    )
    assert hit.ref == "Deployment/kafka-consumer"
    one(
        celery(env={"WORK_TIME": "uniform:1:45", "CELERY_VISIBILITY_TIMEOUT": "300"}),
        "grace-shorter-than-work",
        "warning",
        "30 (Kubernetes' default)",
        "45 s",
        "WORK_TIME=uniform:1:45",
    )
    one(consumers(5, grace=10), "grace-shorter-than-work", "warning", "`worker kafka` defaults to fixed:10")
    hit = one([scaled_job(grace=5)], "grace-shorter-than-work", "warning", "terminationGracePeriodSeconds 5", "9 s")
    assert hit.ref == "ScaledJob/workqueue" and "a node drain" in hit.why
    assert not found(consumers(5, grace=30), "grace-shorter-than-work")
    assert not found(celery(env={"WORK_TIME": "uniform:1:9"}), "grace-shorter-than-work")
    assert not found([scaled_job(grace=30)], "grace-shorter-than-work")


def test_visibility_timeout_shorter_than_a_task_is_an_error() -> None:
    one(
        celery(env={"WORK_TIME": "uniform:1:20", "CELERY_VISIBILITY_TIMEOUT": "15"}),
        "celery-visibility-timeout",
        "error",
        "CELERY_VISIBILITY_TIMEOUT 15",
        "20 s",
    )
    assert not found(celery(env={"WORK_TIME": "uniform:1:20"}), "celery-visibility-timeout")


def test_workqueue_grace_period_must_leave_room() -> None:
    one(
        [scaled_job(env={"WORKQUEUE_GRACE_PERIOD": "30"})],
        "workqueue-grace-period-too-long",
        "warning",
        "WORKQUEUE_GRACE_PERIOD 30",
        "terminationGracePeriodSeconds 30",
    )
    assert not found([scaled_job(env={"WORKQUEUE_GRACE_PERIOD": "20"})], "workqueue-grace-period-too-long")


# --- Celery and in-flight work -----------------------------------------------------------------------


def test_celery_prefetch_hides_the_backlog() -> None:
    one(
        celery(env={"CELERY_PREFETCH_MULTIPLIER": "4", "WORKER_CONCURRENCY": "2"}),
        "celery-prefetch-hides-backlog",
        "warning",
        "prefetch multiplier 4 (CELERY_PREFETCH_MULTIPLIER=4)",
        "2 pool processes",
        "takes 8 messages off `celery`",
    )
    raw = [
        deployment("celery-worker", [], command=["celery", "-A", "proj", "worker", "--concurrency=3"]),
        scaled_object("celery-worker", [redis("celery"), redis("unacked")]),
    ]
    hit = one(
        raw,
        "celery-prefetch-hides-backlog",
        "warning",
        "Celery's default worker_prefetch_multiplier",
        "takes 12 messages",
    )
    assert "(4 − 1) × 3 = 9" in hit.why
    assert not found(celery(), "celery-prefetch-hides-backlog"), "the suite's worker reserves one per process"
    suite_app = [
        deployment("celery-worker", [], command=["celery", "-A", "kedasuite.workers.celery_app", "worker"]),
        scaled_object("celery-worker", [redis("celery"), redis("unacked")]),
    ]
    assert not found(suite_app, "celery-prefetch-hides-backlog")
    assert not found(suite_app, "celery-early-acks")


def test_celery_early_acks() -> None:
    one(celery(env={"CELERY_ACKS_LATE": "false"}), "celery-early-acks", "warning", "CELERY_ACKS_LATE=false")
    flagged = celery(env={"CELERY_ACKS_LATE": "true"})
    flagged[0]["spec"]["template"]["spec"]["containers"][0]["args"] += ["--acks-early"]
    one(flagged, "celery-early-acks", "warning", "(--acks-early)")
    raw = [
        deployment("celery-worker", [], command=["celery", "-A", "proj", "worker", "--prefetch-multiplier=1"]),
        scaled_object("celery-worker", [redis("celery"), redis("unacked")]),
    ]
    one(raw, "celery-early-acks", "warning", "Celery's default task_acks_late")
    assert not found(raw, "celery-prefetch-hides-backlog")
    assert not found(celery(env={"CELERY_ACKS_LATE": "true"}), "celery-early-acks")


def test_a_list_without_its_in_flight_trigger() -> None:
    one(celery(triggers=[redis("celery")]), "no-in-flight-trigger", "warning", "`celery`", "`unacked`")
    rq = [deployment("rq-worker", ["worker", "rq"]), scaled_object("rq-worker", [redis("rq:queue:default")])]
    one(rq, "no-in-flight-trigger", "warning", "`rq:queue:default`", "`rq:wip:default`")
    assert not found(celery(), "no-in-flight-trigger")
    assert not found([scaled_job()], "no-in-flight-trigger"), "a ScaledJob's running Jobs are never deleted"


# --- ScaledJobs -------------------------------------------------------------------------------------


def test_default_strategy_where_accurate_fits() -> None:
    hit = one(
        [scaled_job(strategy=None)],
        "scaledjob-default-strategy",
        "warning",
        "no scalingStrategy.strategy (default)",
        "`job`",
        "`job:processing`",
    )
    assert "with 25 items waiting and 5 Jobs busy" in hit.why
    assert "default starts 0 Jobs and accurate 5" in hit.why
    one([scaled_job(strategy="default")], "scaledjob-default-strategy", "warning", "strategy default")
    assert not found([scaled_job()], "scaledjob-default-strategy")


def test_pending_pod_conditions_for_pods_with_a_readiness_probe() -> None:
    one(
        [scaled_job(probe=True)],
        "scaledjob-no-pending-conditions",
        "warning",
        "strategy accurate",
        "container main has a readinessProbe",
    )
    assert not found([scaled_job(probe=True, pending=["Ready"])], "scaledjob-no-pending-conditions")
    assert not found([scaled_job()], "scaledjob-no-pending-conditions"), "no probe: Running is as ready as it gets"
    assert not found([scaled_job(strategy="default", probe=True)], "scaledjob-no-pending-conditions"), (
        "default never subtracts pending Jobs"
    )


# --- the HPA -------------------------------------------------------------------------------------


def test_hpa_path_is_stated_once_per_scaled_object_and_never_fails() -> None:
    objs = celery()
    one(objs, "hpa-path", "info", "keda-hpa-celery-worker runs the legacy path", "1 → 100 in 6 syncs")
    assert not lint(objs).fails(strict=True)
    objs[1]["spec"]["advanced"] = {
        "horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}
    }
    one(objs, "hpa-path", "info", "runs the behavior path", "scale-up window 0 s", "scale-down window 60 s")
    objs = celery()
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-scale-in": "true"}
    one(
        objs,
        "hpa-path",
        "info",
        "behavior path (given by the annotation autoscaling.keda.sh/paused-scale-in)",
        "scale-down window 300 s, Percent 100 per 15 s, selectPolicy Disabled",
    )
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-scale-in": "false"}
    one(objs, "hpa-path", "info", "legacy path")
    assert not found([scaled_job()], "hpa-path")


# --- suppression, the report ------------------------------------------------------------------------


def test_a_suppression_needs_a_known_rule_and_a_reason() -> None:
    objs = celery(cooldownPeriod=120, minReplicaCount=1)
    objs[1]["metadata"]["annotations"] = {
        IGNORE: "cooldown-without-effect, hpa-path",
        IGNORE_REASON: "kept to document the default",
    }
    report = lint(objs)
    assert [f.rule for f, _ in report.suppressed] == ["cooldown-without-effect", "hpa-path"]
    assert not report.findings and not report.fails(strict=True)
    assert report.summary() == "lint: 0 errors, 0 warnings, 0 notes, 2 suppressed"
    assert "suppressed cooldown-without-effect ScaledObject/celery-worker" in report.lines()[0]

    objs[1]["metadata"]["annotations"] = {IGNORE: "cooldown-without-efect"}
    report = lint(objs)
    assert {f.rule for f in report.findings} == {
        "cooldown-without-effect",
        "hpa-path",
        "lint-ignore-unknown-rule",
        "lint-ignore-without-reason",
    }
    assert report.fails(strict=True) and not report.fails()


def test_an_error_cannot_be_suppressed() -> None:
    objs = celery(env={"WORK_TIME": "uniform:1:20", "CELERY_VISIBILITY_TIMEOUT": "15"})
    objs[0]["metadata"]["annotations"] = {IGNORE: "celery-visibility-timeout", IGNORE_REASON: "no"}
    report = lint(objs)
    assert [f.rule for f in report.findings if f.severity == "error"] == ["celery-visibility-timeout"]
    assert report.fails()


def test_every_rule_is_documented() -> None:
    text = (ROOT / "docs" / "lint.md").read_text()
    missing = [rule for rule in all_rules() if f"`{rule}`" not in text]
    assert not missing, f"docs/lint.md does not describe {missing}"


def test_finding_text_is_one_paragraph_with_why_and_fix() -> None:
    text = one(consumers(8), "kafka-replicas-over-partitions", "warning").text()
    lines = text.splitlines()
    assert lines[0].startswith("warning kafka-replicas-over-partitions ScaledObject/kafka-consumer: ")
    assert any(line.startswith("    why: ") for line in lines) and any(line.startswith("    fix: ") for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])


# --- the bundled overlays and the command (kubectl renders them) -------------------------------------


OVERLAYS = sorted(p.name for p in (ROOT / "k8s" / "overlays").iterdir())


@pytest.mark.lint
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bundled_overlays_are_clean_under_strict(overlay: str) -> None:
    report = lint(mc.render(ROOT / "k8s" / "overlays" / overlay))
    assert not report.fails(strict=True), "\n".join(report.lines())
    assert {f.severity for f in report.findings} <= {"info"}


def check_manifests(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kedasuite", "check-manifests", *args, str(path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def kustomization(folder: Path, objs: list[Obj]) -> Path:
    folder.mkdir()
    (folder / "all.yaml").write_text(yaml.safe_dump_all(objs))
    (folder / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    return folder


@pytest.mark.lint
def test_strict_turns_warnings_into_a_failure_and_errors_always_fail(tmp_path: Path) -> None:
    local = mc.render(ROOT / "k8s" / "overlays" / "local")
    warned = copy.deepcopy(local)
    next(o for o in warned if o["kind"] == "ScaledObject" and o["metadata"]["name"] == "kafka-consumer")["spec"][
        "maxReplicaCount"
    ] = 8
    path = kustomization(tmp_path / "warned", warned)
    done = check_manifests(path)
    assert done.returncode == 0, done.stdout
    assert (
        f"{path}: warning kafka-replicas-over-partitions ScaledObject/kafka-consumer: maxReplicaCount 8" in done.stdout
    )
    assert done.stdout.splitlines()[-1] == f"{path}: 28 objects, no problems; lint: 0 errors, 1 warning, 4 notes"
    assert check_manifests(path, "--strict").returncode == 1
    assert check_manifests(path, env={"CHECK_MANIFESTS_STRICT": "1"}).returncode == 1

    broken = copy.deepcopy(local)
    celery_env = next(o for o in broken if o["kind"] == "Deployment" and o["metadata"]["name"] == "celery-worker")[
        "spec"
    ]["template"]["spec"]["containers"][0]["env"]
    next(e for e in celery_env if e["name"] == "CELERY_VISIBILITY_TIMEOUT")["value"] = "5"
    done = check_manifests(kustomization(tmp_path / "broken", broken))
    assert done.returncode == 1, done.stdout
    assert "error celery-visibility-timeout Deployment/celery-worker" in done.stdout


# --- pause annotations ------------------------------------------------------------------------------


def test_a_paused_object_is_a_warning_and_a_paused_direction_a_note() -> None:
    assert not found(celery(), "paused")
    objs = celery()
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-replicas": "2"}
    hit = one(objs, "paused", "warning", "paused by annotation (autoscaling.keda.sh/paused-replicas=2)")
    assert "sets the target to 2 replicas" in hit.why and "deletes the HPA" in hit.why
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-replicas": "two"}
    assert "cannot set autoscaling.keda.sh/paused-replicas 'two'" in one(objs, "paused", "warning").why
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused": "false"}
    assert not found(objs, "paused")
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused-scale-out": "true"}
    one(objs, "paused-one-direction", "info", "autoscaling.keda.sh/paused-scale-out", "out (up)")
    assert not found(objs, "paused")
    objs[1]["metadata"]["annotations"] = {"autoscaling.keda.sh/force-activation": "true"}
    assert "never scales it to 0" in one(objs, "force-activation", "info").why
    job = [scaled_job()]
    job[0]["metadata"]["annotations"] = {"autoscaling.keda.sh/paused": "true"}
    assert "no Job is created" in one(job, "paused", "warning").why
