"""``kedasuite simulate``: the model replayed from the command line, with no broker or cluster.

In-process through click (the command reads the bundled render of k8s/overlays/local, which
tests/tools/test_status.py keeps equal to the overlay); the traces are those of tests/keda/test_model.py.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from kedasuite.cli import main
from kedasuite.core.names import Env


def simulate(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["simulate", *args], env=env, catch_exceptions=False)


def test_celery_step_prints_each_change_with_its_reason() -> None:
    result = simulate("-w", "celery", "--series", "backlog=0:0,30:95,400:0")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "legacy path (no behavior)" in out and "k8s/overlays/local (bundled render)" in out
    lines = [line.split(None, 4) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [(float(t), a, b) for t, a, _, b, _ in lines] == [
        (30, "0", "1"),
        (30, "1", "4"),
        (45, "4", "8"),
        (60, "8", "10"),
        (600, "10", "0"),
    ]
    assert "HPA wants 10, limited to 4 this sync: legacy scale-up limit max(2 × 1, 4)" in out


def test_json_gives_every_step() -> None:
    result = simulate("--series", "backlog=0:0,30:95,400:0", "--duration", "700", "--json")
    steps = json.loads(result.output)
    assert steps[0]["t"] == 0 and steps[-1]["t"] == 690  # polls and syncs every 15 s; 705 is past 700
    for step in steps:
        assert {"t", "replicas", "triggers", "recommendation", "reason", "actor"} <= step.keys()
        assert set(step["triggers"]) in (set(), {"backlog", "in-flight"})
    hpa = next(s for s in steps if s["t"] == 30 and s["actor"] == "hpa")
    assert (hpa["replicas"], hpa["recommendation"], hpa["limit"]) == (4, 10, 4)
    assert hpa["triggers"]["backlog"] == {"metric": 95.0, "raw": 95.0, "active": True, "error": None, "fallback": False}
    keda = next(s for s in steps if s["t"] == 450 and s["actor"] == "keda")
    assert keda["reason"].endswith("cooldown: 140 s of 200 left") and keda["active"] is False


def test_what_if_options_and_their_variables() -> None:
    by_flag = simulate("--series", "backlog=0:0,30:95,400:0", "--cooldown-period", "60", "--json")
    by_env = simulate(
        "--json", env={Env.SIMULATE_SERIES: "backlog=0:0,30:95,400:0", Env.SIMULATE_COOLDOWN_PERIOD: "60"}
    )
    assert by_flag.output == by_env.output
    zero = [s["t"] for s in json.loads(by_flag.output) if s["replicas"] == 0 and s["replicas_before"] > 0]
    assert zero == [465]  # last active 390 + cooldown 60 < 465 (the poll at 450 is not past 450)
    text = simulate("--series", "backlog=0:95", "--cooldown-period", "60", "--sync-period", "30").output
    assert "what-if (differs from the manifest): cooldownPeriod 60 s (manifest: 200 s); HPA sync 30 s" in text


def test_kafka_and_the_scaled_job() -> None:
    kafka = simulate("-w", "kafka", "--series", "lag=0:0,15:200", "--partitions", "3")
    assert "lag 200 capped to 15 (3 partitions × lagThreshold 5)" in kafka.output
    per_partition = simulate("-w", "kafka", "--series", "lag=0:0/40/0", "--partitions", "3", "--json")
    assert json.loads(per_partition.output)[0]["triggers"]["lag"]["raw"] == 40
    job = simulate(
        "-w",
        "workqueue",
        "--series",
        "backlog=0:30",
        "--series",
        "running=0:6",
        "--series",
        "pending=0:2",
        "--duration",
        "0",
        "--json",
    )
    (step,) = json.loads(job.output)
    assert (step["created"], step["replicas"], step["pending"]) == (4, 10, 2)  # accurate: 6 - 2


def test_fallback_from_a_manifest_file(tmp_path) -> None:
    manifest = tmp_path / "so.yaml"
    manifest.write_text("""
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: celery-worker}
spec:
  scaleTargetRef: {name: celery-worker}
  pollingInterval: 15
  cooldownPeriod: 200
  maxReplicaCount: 10
  fallback: {failureThreshold: 3, replicas: 6}
  triggers:
  - {type: redis, name: backlog, metadata: {listName: celery, listLength: "10", activationListLength: "5"}}
""")
    result = simulate("--manifests", str(manifest), "--series", "backlog=0:95,120:error", "--duration", "450")
    assert result.exit_code == 0, result.output
    # The count moves once, when the 300 s window lets the fallback's 6 through (see tests/keda/test_model.py).
    assert "fallback (static) reports 6 × 10 = 60" in result.output
    assert "  420  10 → 6 " in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--series", "nope=0:1"], "celery-worker has no trigger 'nope'; give one of backlog, in-flight"),
        (["--series", "backlog"], "write TRIGGER=SECONDS:VALUE,..."),
        (["--series", "backlog=0:1,0:2"], "times must be >= 0 and increasing"),
        (["--series", "backlog=0:-3"], "must be a number >= 0"),
        (["--series", "backlog=0:1/2"], "only a kafka trigger takes"),
        (["--series", "backlog=0:1", "--series", "backlog=5:2"], "given twice"),
        (["-w", "workqueue", "--series", "pending=0:1"], "needs --series running too"),
        (["--overlay", "/nonexistent"], "--overlay /nonexistent: no such directory"),
        (["--manifests", "/nonexistent.yaml"], "--manifests /nonexistent.yaml: no such file"),
    ],
)
def test_bad_input_names_the_problem_and_the_fix(args: list[str], message: str) -> None:
    result = simulate(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_workload_the_manifests_do_not_scale(tmp_path) -> None:
    manifest = tmp_path / "empty.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = simulate("-w", "rq", "--manifests", str(manifest))
    assert result.exit_code == 2 and "has no ScaledObject or ScaledJob for workload 'rq'" in result.output


def test_answers_in_well_under_a_second() -> None:
    """CPU time, not wall time: the answer's cost, whatever else the machine is doing."""
    simulate("--series", "backlog=0:0,30:95,400:0")  # imports paid
    start = time.process_time()
    for workload, series in (
        ("celery", "backlog=0:0,30:95,400:0"),
        ("kafka", "lag=0:0,15:200"),
        ("rq", "backlog=0:300,900:0"),
        ("workqueue", "backlog=0:30,600:0"),
    ):
        assert simulate("-w", workload, "--series", series, "--json").exit_code == 0
    assert (time.process_time() - start) / 4 < 0.5


KAFKA_MANIFEST = """
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: kafka-consumer}
spec:
  scaleTargetRef: {name: kafka-consumer}
  pollingInterval: 15
  cooldownPeriod: 60
  maxReplicaCount: 5
  triggers:
  - type: kafka
    name: lag
    metadata: {bootstrapServersFromEnv: KAFKA_BOOTSTRAP_SERVERS, consumerGroup: test-consumer-group,
               topic: test-topic, lagThreshold: "5", %s}
"""


def test_a_trigger_keda_refuses_is_refused_naming_the_field(tmp_path) -> None:
    """KEDA never builds a trigger whose boolean strconv.ParseBool does not take: no replay either."""
    manifest = tmp_path / "so.yaml"
    manifest.write_text(KAFKA_MANIFEST % 'allowIdleConsumers: "yes"')
    result = simulate("-w", "kafka", "--manifests", str(manifest), "--series", "lag=0:10")
    assert result.exit_code == 2
    assert 'trigger lag: allowIdleConsumers "yes" is not a boolean' in result.output
    assert "strconv.ParseBool" in result.output and 'write "true" or "false"' in result.output


def test_missing_partitions_and_partition_limitation_in_a_kafka_series(tmp_path) -> None:
    """``missing``: a partition the broker's latest offsets leave out adds nothing and leaves the cap;
    partitionLimitation counts only the partitions it names."""
    manifest = tmp_path / "so.yaml"
    manifest.write_text(KAFKA_MANIFEST % 'partitionLimitation: "0,1"')
    # Partitions 0 and 1 count, and 1 is missing: lag 40 on one partition, capped at 1 × 5.
    result = simulate(
        "-w", "kafka", "--manifests", str(manifest), "--series", "lag=0:40/missing/7", "--duration", "0", "--json"
    )
    assert result.exit_code == 0, result.output
    step = json.loads(result.output)[0]
    assert (step["triggers"]["lag"]["metric"], step["triggers"]["lag"]["raw"]) == (5, 40)
    refused = simulate("-w", "kafka", "--series", "lag=0:1/nope", "--duration", "0")
    assert refused.exit_code == 2 and "'missing' for a partition" in refused.output


def test_pause_annotations_show_in_the_header_only_when_present(tmp_path) -> None:
    manifest = tmp_path / "so.yaml"
    manifest.write_text("""
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: celery-worker
  annotations: {autoscaling.keda.sh/paused-replicas: "2", team: x}
spec:
  scaleTargetRef: {name: celery-worker}
  triggers:
  - {type: redis, name: backlog, metadata: {listName: celery, listLength: "10"}}
""")
    result = simulate("--manifests", str(manifest), "--series", "backlog=0:95", "--duration", "60")
    assert result.exit_code == 0, result.output
    head = result.output.splitlines()[0]
    assert head.endswith("; annotations autoscaling.keda.sh/paused-replicas=2")
    assert "paused (autoscaling.keda.sh/paused-replicas=2): scales 0 → 2" in result.output
    plain = simulate("--series", "backlog=0:95", "--duration", "60")
    assert "annotations" not in plain.output.splitlines()[0]


def test_an_object_by_name(tmp_path) -> None:
    manifest = tmp_path / "so.yaml"
    manifest.write_text("""
kind: ScaledObject
metadata: {name: elsewhere}
spec:
  scaleTargetRef: {name: d}
  triggers: [{type: metrics-api, name: api, metadata: {url: "http://x", targetValue: "5"}}]
""")
    found = simulate("--manifests", str(manifest), "--object", "elsewhere", "--series", "api=0:12", "--duration", "30")
    assert found.exit_code == 0 and "ScaledObject elsewhere from" in found.output
    missing = simulate("--manifests", str(manifest), "--object", "nope")
    assert (
        missing.exit_code == 2 and "has no ScaledObject or ScaledJob named 'nope' (it has: elsewhere)" in missing.output
    )
