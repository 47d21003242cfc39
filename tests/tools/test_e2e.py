"""The end-to-end test's decision logic, with no cluster: expectations, checks, timelines, driver.

The expectations are checked against hand-computed KEDA v2.20.2 cases, computed through the
shared model (kedasuite.keda.rules.scaling, as status computes them); the checks against
hand-made timelines, passing and failing; the driver against a fake cluster that behaves
like KEDA (or refuses to) in fast-forward; the probe against the real HTTP pump and a
stand-in for the Kubernetes API.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from click.testing import Result as CliResult

from kedasuite.cli import main as cli_main
from kedasuite.cli.e2e import parse_workloads
from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets, capped_total_lag, keda_lag
from kedasuite.tools.e2e import calibrate, driver, plan, probe
from kedasuite.tools.e2e import verdicts as judge
from kedasuite.tools.e2e.plan import (
    DEFAULT_SPECS,
    SCALED_JOB,
    SCALED_OBJECT,
    Plan,
    Settings,
    Spec,
    expected_count,
    make_plan,
)
from kedasuite.tools.e2e.verdicts import (
    Timeline,
    check_at_most,
    check_no_failed_jobs,
    check_reaches,
    check_returns_to_zero,
    check_stays_at,
    evaluate,
    find_drained_at,
)
from kedasuite.tools.timeline.records import COLUMNS, CsvWriter, Mark
from kedasuite.tools.timeline.records import Row as Reading
from kedasuite.tools.timeline.sources import count_jobs

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
WORKLOADS = ["celery", "kafka", "rq", "workqueue"]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def Sample(
    time: datetime,
    workload: str,
    backlog: int | None,
    replicas: int | None,
    in_flight: int | None = None,
    failed: int | None = None,
) -> Reading:
    """A reading as the e2e driver records it: the timeline's row, ``actual`` = replicas running."""
    unit = "jobs" if workload == "workqueue" else "replicas"
    return Reading(time, workload, backlog, in_flight, None, None, unit, None, replicas, failed)


def e2e_cli(*args: str) -> CliResult:
    """``kedasuite e2e ARGS`` in this process (stdout and stderr apart)."""
    return CliRunner().invoke(cli_main, ["e2e", *args])


# --------------------------------------------------------------------------------------------
# Expectations, through scaling.decide
# --------------------------------------------------------------------------------------------


def so_spec(
    target: int,
    min_replicas: int = 0,
    max_replicas: int = 100,
    partitions: int | None = None,
    activation: int | None = None,
) -> Spec:
    """A ScaledObject with one trigger: kafka when ``partitions`` is given, else a redis list."""
    if partitions is not None:
        trigger = {
            "type": "kafka",
            "metadata": {
                "topic": "test-topic",
                "lagThreshold": str(target),
                "activationLagThreshold": str(activation or 0),
            },
        }
    else:
        trigger = {
            "type": "redis",
            "metadata": {"listName": "celery", "listLength": str(target), "activationListLength": str(activation or 0)},
        }
    obj = {
        "kind": SCALED_OBJECT,
        "metadata": {"name": "so"},
        "spec": {"minReplicaCount": min_replicas, "maxReplicaCount": max_replicas, "triggers": [trigger]},
    }
    return plan.spec_from_object("kafka" if partitions is not None else "celery", obj, partitions)


def job_spec(
    target: int, max_replicas: int, min_replicas: int = 0, activation: int = 0, strategy: str = "accurate"
) -> Spec:
    obj = {
        "kind": SCALED_JOB,
        "metadata": {"name": "workqueue"},
        "spec": {
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "scalingStrategy": {"strategy": strategy},
            "triggers": [
                {
                    "type": "redis",
                    "metadata": {"listName": "job", "listLength": str(target), "activationListLength": str(activation)},
                }
            ],
        },
    }
    return plan.spec_from_object("workqueue", obj)


def expected_replicas_scaledobject(
    metric: int,
    target: int,
    min_replicas: int = 0,
    max_replicas: int = 100,
    partitions: int | None = None,
    activation: int | None = None,
) -> int:
    return expected_count(so_spec(target, min_replicas, max_replicas, partitions, activation), metric)


def expected_jobs_accurate(
    queue_len: int,
    target: int,
    max_replicas: int,
    running: int = 0,
    pending: int = 0,
    min_replicas: int = 0,
    activation: int = 0,
) -> int:
    return expected_count(job_spec(target, max_replicas, min_replicas, activation), queue_len, running, pending)


@pytest.mark.parametrize(
    ("lag", "threshold", "partitions", "metric"),
    [
        (100, 5, 5, 25),  # floor(100/5) = 20 > 5: capped to P*T
        (27, 5, 5, 27),  # floor(5.4) = 5 is not > 5: not capped
        (29, 5, 5, 29),
        (30, 5, 5, 25),  # floor(6) > 5
        (35, 10, 3, 35),  # the SEMANTICS example: passes uncapped, HPA asks 4
        (40, 10, 3, 30),
        (0, 5, 5, 0),
        (2, 5, 5, 2),
    ],
)
def test_kafka_cap_uses_integer_division(lag: int, threshold: int, partitions: int, metric: int) -> None:
    assert capped_total_lag(lag, threshold, partitions) == metric
    assert plan.load_metric(so_spec(threshold, partitions=partitions), lag) == metric


def test_kafka_cap_agrees_with_the_lag_module() -> None:
    """The same rule as kedasuite.keda.rules.kafka, which works from per-partition offsets."""
    trigger = KafkaTrigger(lag_threshold=5)
    for total in range(80):
        parts = [total // 5 + (1 if i < total % 5 else 0) for i in range(5)]
        report = keda_lag([PartitionOffsets(i, lag, 0) for i, lag in enumerate(parts)], trigger)
        assert capped_total_lag(total, 5, 5) == report.metric, total


@pytest.mark.parametrize(
    ("kwargs", "replicas"),
    [
        # kafka, P=5, T=5: lag 100 is capped to 25 -> 5 replicas
        ({"metric": 100, "target": 5, "max_replicas": 5, "partitions": 5}, 5),
        # lag 27 is not capped (floor 5.4 = 5 is not > 5): HPA wants 6, maxReplicaCount 5 stops it
        ({"metric": 27, "target": 5, "max_replicas": 5, "partitions": 5}, 5),
        # ... and with room above the partitions, P + 1 replicas really happen
        ({"metric": 27, "target": 5, "max_replicas": 10, "partitions": 5}, 6),
        ({"metric": 35, "target": 10, "max_replicas": 10, "partitions": 3}, 4),
        ({"metric": 100, "target": 5, "max_replicas": 10, "partitions": 5}, 5),
        # redis lists, T=10, max 10
        ({"metric": 203, "target": 10, "max_replicas": 10}, 10),
        ({"metric": 45, "target": 10, "max_replicas": 10}, 5),
        ({"metric": 0, "target": 10, "max_replicas": 10}, 0),
        # activation is strict >: at A nothing wakes; just above, the HPA floor is 1
        ({"metric": 5, "target": 10, "max_replicas": 10, "activation": 5}, 0),
        ({"metric": 3, "target": 10, "max_replicas": 10, "activation": 5}, 0),
        ({"metric": 6, "target": 10, "max_replicas": 10, "activation": 5}, 1),
        ({"metric": 2, "target": 5, "max_replicas": 5, "partitions": 5, "activation": 2}, 0),
        # minReplicaCount
        ({"metric": 0, "target": 10, "min_replicas": 2, "max_replicas": 10}, 2),
        ({"metric": 5, "target": 10, "min_replicas": 2, "max_replicas": 10}, 2),
        ({"metric": 45, "target": 10, "min_replicas": 2, "max_replicas": 10}, 5),
    ],
)
def test_expected_replicas_scaledobject(kwargs: dict[str, int], replicas: int) -> None:
    assert expected_replicas_scaledobject(**kwargs) == replicas


def test_a_zero_target_is_refused() -> None:
    with pytest.raises(ValueError):
        expected_replicas_scaledobject(10, 0)
    with pytest.raises(ValueError):
        expected_jobs_accurate(10, 0, 10)
    # and the shared function refuses it too, whoever calls it
    from kedasuite.keda.rules.scaledjob import scaled_job_new_jobs
    from kedasuite.keda.rules.scaling import hpa_proposal

    with pytest.raises(ValueError):
        hpa_proposal(10, 0)
    with pytest.raises(ValueError):
        scaled_job_new_jobs(10, 0, 10)


@pytest.mark.parametrize(
    ("kwargs", "jobs"),
    [
        # first poll after a burst: maxScale = ceil(min(102/5, 10)) = 10; 10 + 0 - 0 > 10 is false -> E = 10
        ({"queue_len": 102, "target": 5, "max_replicas": 10}, 10),
        # a small queue: maxScale = ceil(3/5) = 1
        ({"queue_len": 3, "target": 5, "max_replicas": 10}, 1),
        # at the activation threshold: not active, nothing created
        ({"queue_len": 2, "target": 5, "max_replicas": 10, "activation": 2}, 0),
        ({"queue_len": 3, "target": 5, "max_replicas": 10, "activation": 2}, 1),
        # ten running, none pending: 10 + 10 - 0 > 10 -> E = MAXC - r = 0
        ({"queue_len": 80, "target": 5, "max_replicas": 10, "running": 10}, 0),
        # four running, all pending: 6 + 4 - 4 = 6 <= 10 -> E = 6 - 4 = 2
        ({"queue_len": 30, "target": 5, "max_replicas": 10, "running": 4, "pending": 4}, 2),
        # four running, none pending: 6 + 4 = 10 is not > 10 -> E = 6: running becomes 10, the max
        ({"queue_len": 30, "target": 5, "max_replicas": 10, "running": 4}, 6),
        # five running: 6 + 5 > 10 -> E = 10 - 5 = 5
        ({"queue_len": 30, "target": 5, "max_replicas": 10, "running": 5}, 5),
        # scaleTo is the raw queue length: one item, one Job, however many are allowed
        ({"queue_len": 1, "target": 5, "max_replicas": 10}, 1),
        # minReplicaCount: top up to MIN even with an empty queue
        ({"queue_len": 0, "target": 5, "max_replicas": 10, "min_replicas": 2}, 2),
        ({"queue_len": 0, "target": 5, "max_replicas": 10, "min_replicas": 2, "running": 1}, 1),
        # MIN = 2, MAXC = 8: m = 6, r = 0 -> 6
        ({"queue_len": 30, "target": 5, "max_replicas": 10, "min_replicas": 2, "running": 2}, 6),
        # MIN > max: MIN = max = MAXC
        ({"queue_len": 0, "target": 5, "max_replicas": 10, "min_replicas": 12}, 10),
        ({"queue_len": 0, "target": 5, "max_replicas": 10}, 0),
    ],
)
def test_expected_jobs_accurate(kwargs: dict[str, int], jobs: int) -> None:
    assert expected_jobs_accurate(**kwargs) == jobs


def test_accurate_strategy_never_runs_more_than_max_jobs() -> None:
    """Poll after poll, whatever the queue and pending counts: running Jobs stay <= max."""
    for queue in (0, 1, 4, 5, 6, 49, 50, 51, 102, 1000):
        running = 0
        for pending_share in (0, 1, 2):
            for _ in range(6):
                pending = running * pending_share // 2
                running += expected_jobs_accurate(queue, 5, 10, running, pending)
                assert running <= 10, (queue, pending_share)


@pytest.mark.parametrize(
    ("start", "goal", "steps"),
    [(1, 1, 0), (1, 4, 1), (1, 5, 2), (1, 10, 3), (1, 20, 4), (5, 10, 1), (2, 6, 2), (0, 2, 1)],
)
def test_the_plan_ramps_on_the_legacy_path(start: int, goal: int, steps: int) -> None:
    """KEDA's HPAs have no behavior, so the legacy limit max(2 x current, 4) applies per sync
    (docs/keda-model.md); the plan's deadline uses the model's count of syncs."""
    from kedasuite.keda.model import legacy_scale_up_syncs

    assert legacy_scale_up_syncs(start, goal) == steps
    assert plan.legacy_scale_up_syncs is legacy_scale_up_syncs


@pytest.mark.parametrize(("activation", "load"), [(0, 0), (1, 1), (2, 2), (5, 3), (10, 5)])
def test_below_activation_load_never_exceeds_the_threshold(activation: int, load: int) -> None:
    assert plan.below_activation_load(activation) == load
    assert load <= activation


# --------------------------------------------------------------------------------------------
# Specs and plans
# --------------------------------------------------------------------------------------------

CELERY_SO = {
    "apiVersion": "keda.sh/v1alpha1",
    "kind": "ScaledObject",
    "metadata": {"name": "celery-worker", "namespace": "kedasuite"},
    "spec": {
        "scaleTargetRef": {"name": "celery-worker"},
        "pollingInterval": 15,
        "cooldownPeriod": 200,
        "minReplicaCount": 0,
        "maxReplicaCount": 10,
        "triggers": [
            # in-flight first: the backlog trigger must be found by its listName, not position
            {"type": "redis", "metadata": {"listName": "unacked", "listLength": "10", "addressFromEnv": "X"}},
            {
                "type": "redis",
                "metadata": {
                    "listName": "celery",
                    "listLength": "10",
                    "activationListLength": "5",
                    "addressFromEnv": "REDIS_ADDRESS",
                },
            },
        ],
    },
}


def numbers(spec: Spec) -> tuple[object, ...]:
    """What a plan is computed from (the parsed objects also keep every trigger's metadata)."""
    return (
        spec.workload,
        spec.kind,
        spec.resource,
        spec.deployment,
        spec.target,
        spec.activation,
        spec.min_replicas,
        spec.max_replicas,
        spec.polling_interval,
        spec.cooldown_period,
        spec.partitions,
        spec.scaler.strategy,
    )


def test_spec_from_a_live_scaledobject() -> None:
    spec = plan.spec_from_object("celery", CELERY_SO)
    assert numbers(spec) == numbers(DEFAULT_SPECS["celery"])
    assert numbers(spec) == (
        "celery",
        "ScaledObject",
        "celery-worker",
        "celery-worker",
        10,
        5,
        0,
        10,
        15,
        200,
        None,
        "default",
    )
    assert spec.trigger.source == "celery"


def test_default_specs_are_the_bundled_render_read_as_status_reads_it() -> None:
    """DEFAULT_SPECS is no table of its own: the same parser over the same file as status."""
    from kedasuite.keda.objects import BUNDLED, load_scalers, workload_of

    scalers, _source = load_scalers(manifests=str(Path(plan.__file__).parents[2] / "keda" / BUNDLED))
    assert {w: s for s in scalers if (w := workload_of(s))} == {w: s.scaler for w, s in DEFAULT_SPECS.items()}
    assert list(DEFAULT_SPECS) == WORKLOADS


def test_spec_uses_keda_defaults_for_missing_fields() -> None:
    obj = {
        "kind": "ScaledObject",
        "metadata": {"name": "rq-worker"},
        "spec": {
            "scaleTargetRef": {"name": "rq"},
            "triggers": [{"type": "redis", "metadata": {"listName": "rq:queue:default"}}],
        },
    }
    spec = plan.spec_from_object("rq", obj)
    assert (spec.target, spec.activation, spec.min_replicas, spec.max_replicas) == (5, 0, 0, 100)
    assert (spec.polling_interval, spec.cooldown_period, spec.deployment) == (30, 300, "rq")


def test_spec_from_kafka_and_scaledjob() -> None:
    kafka = {
        "kind": "ScaledObject",
        "metadata": {"name": "kafka-consumer"},
        "spec": {
            "scaleTargetRef": {"name": "kafka-consumer"},
            "pollingInterval": 15,
            "cooldownPeriod": 60,
            "maxReplicaCount": 5,
            "triggers": [
                {
                    "type": "kafka",
                    "metadata": {"topic": "test-topic", "lagThreshold": "5", "activationLagThreshold": "2"},
                }
            ],
        },
    }
    assert numbers(plan.spec_from_object("kafka", kafka)) == numbers(DEFAULT_SPECS["kafka"])
    assert plan.spec_from_object("kafka", kafka, partitions=3).partitions == 3
    job = {
        "kind": "ScaledJob",
        "metadata": {"name": "workqueue"},
        "spec": {
            "pollingInterval": 10,
            "maxReplicaCount": 10,
            "scalingStrategy": {"strategy": "accurate"},
            "triggers": [
                {"type": "redis", "metadata": {"listName": "job", "listLength": "5", "activationListLength": "2"}}
            ],
        },
    }
    assert numbers(plan.spec_from_object("workqueue", job)) == numbers(DEFAULT_SPECS["workqueue"])


def test_spec_without_the_backlog_trigger_is_an_error() -> None:
    obj = {
        "kind": "ScaledObject",
        "metadata": {"name": "celery-worker"},
        "spec": {"triggers": [{"type": "redis", "metadata": {"listName": "celery-typo"}}]},
    }
    with pytest.raises(ValueError, match="no trigger on 'celery'"):
        plan.spec_from_object("celery", obj)


def test_default_plans() -> None:
    celery = make_plan(DEFAULT_SPECS["celery"])
    assert (celery.below, celery.burst, celery.expected, celery.at_least, celery.at_most) == (3, 200, 10, 10, 10)
    # poll 15 + (3 legacy ramp steps 1 -> 4 -> 8 -> 10, + 1) HPA syncs of 15 + margin 60
    assert celery.scale_out_deadline_s == 15 + 4 * 15 + 60
    assert celery.return_within_s == 200 + 15 + 60
    kafka = make_plan(DEFAULT_SPECS["kafka"])
    assert (kafka.below, kafka.expected, kafka.at_most) == (2, 5, 5)
    assert kafka.return_within_s == 60 + 15 + 60
    jobs = make_plan(DEFAULT_SPECS["workqueue"])
    assert (jobs.below, jobs.expected, jobs.at_least, jobs.at_most) == (2, 10, 1, 10)
    assert jobs.scale_out_deadline_s == 10 + 60
    # windows that must stay at 0 last at least two polls
    slow = DEFAULT_SPECS["rq"].with_timing(polling_interval=40)
    assert make_plan(slow, Settings(idle_s=30, hold_s=30)).idle_s == 80
    assert make_plan(DEFAULT_SPECS["rq"], Settings(burst=7)).burst == 7


def test_plan_survives_json() -> None:
    kafka = make_plan(DEFAULT_SPECS["kafka"])
    assert Plan.from_json(kafka.to_json()) == kafka


# --------------------------------------------------------------------------------------------
# The timeline file: the format kedasuite timeline writes, with the driver's marks
# --------------------------------------------------------------------------------------------


def test_timeline_round_trip() -> None:
    buf = io.StringIO()
    writer = CsvWriter(buf)
    celery = make_plan(DEFAULT_SPECS["celery"])
    writer.write([Mark(at(0), "celery", "plan", celery.to_json())])
    writer.write([Sample(at(1.25), "celery", 3, 0, 1, None), Sample(at(2), "kafka", None, None)])
    writer.write([Mark(at(3), "celery", "error", 'pump celery: got "nothing", really')])
    header = buf.getvalue().splitlines()[0]
    assert (
        header
        == ",".join(COLUMNS)
        == ("time,workload,backlog,in_flight,processed,predicted,unit,active,actual,failed,mark,value")
    )
    # microseconds: a mark and the reading right after it must not share a timestamp
    assert buf.getvalue().splitlines()[2] == "2026-01-01T12:00:01.250000+00:00,celery,3,1,,,replicas,,0,,,"
    timeline = judge.parse_timeline(io.StringIO(buf.getvalue()))
    assert timeline.samples == [Sample(at(1.25), "celery", 3, 0, 1, None), Sample(at(2), "kafka", None, None)]
    assert Plan.from_json(timeline.mark("celery", "plan").value) == celery  # type: ignore[union-attr]
    assert timeline.mark("celery", "error").value == 'pump celery: got "nothing", really'  # type: ignore[union-attr]
    assert timeline.workloads() == ["celery"]


# --------------------------------------------------------------------------------------------
# The checks, on hand-made readings
# --------------------------------------------------------------------------------------------

Rows = tuple[float, int | None, int | None] | tuple[float, int | None, int | None, int | None]


def samples(rows: Sequence[Rows], workload: str = "celery") -> list[Reading]:
    """(seconds, replicas, backlog[, in_flight]) rows."""
    out = []
    for row in rows:
        t, replicas, backlog = row[0], row[1], row[2]
        in_flight = row[3] if len(row) > 3 else 0  # type: ignore[misc]
        out.append(Sample(at(t), workload, backlog, replicas, in_flight))
    return out


def test_stays_at_zero() -> None:
    s = samples([(0, 0, 0), (5, 0, 3), (10, 0, 3), (15, 1, 3), (20, None, None)])
    assert check_stays_at(s, "celery", at(0), at(10), 0) == judge.Verdict(True, "0 in all 3 readings, backlog 0/3")
    failed = check_stays_at(s, "celery", at(0), at(15), 0)
    assert (failed.passed, failed.observed) == (False, "1 at +15 s")
    # readings of other workloads and failed readings do not count; none at all fails
    other = samples([(1, 4, 0)], workload="rq")
    assert check_stays_at(s + other, "celery", at(0), at(10), 0).passed
    assert not check_stays_at(s, "celery", at(19), at(21), 0).passed
    assert not check_stays_at(s, "celery", at(100), at(200), 0).passed


def test_reaches_expected_replicas_in_time() -> None:
    s = samples([(0, 0, 203), (10, 1, 200), (25, 5, 180), (40, 10, 150), (60, 10, 100)])
    verdict = check_reaches(s, "celery", at(0), at(120), at_least=10, at_most=10)
    assert verdict == judge.Verdict(True, "10 at +40 s")


def test_a_timeline_that_never_scales_fails() -> None:
    s = samples([(0, 0, 203), (10, 0, 203), (60, 0, 203), (120, 0, 203)])
    verdict = check_reaches(s, "celery", at(0), at(120), at_least=10, at_most=10)
    assert not verdict.passed
    assert verdict.observed == "peak 0 by +120 s; backlog fell to 203"


def test_a_timeline_that_scales_too_late_or_too_little_fails() -> None:
    s = samples([(0, 0, 203), (10, 1, 200), (30, 5, 190), (130, 10, 150)])
    assert not check_reaches(s, "celery", at(0), at(120), 10, 10).passed
    s = samples([(0, 0, 203), (10, 1, 90), (30, 5, 60), (60, 9, 40)])
    assert check_reaches(s, "celery", at(0), at(120), 10, 10).observed == "peak 9 by +120 s; backlog fell to 40"


def test_a_timeline_that_scales_above_max_fails() -> None:
    s = samples([(0, 0, 203), (10, 1, 200), (25, 5, 180), (40, 11, 150), (55, 10, 140)])
    verdict = check_reaches(s, "celery", at(0), at(120), at_least=10, at_most=10)
    assert verdict == judge.Verdict(False, "11 at +40 s: above 10")
    assert check_at_most(s, "celery", at(0), None, 10) == judge.Verdict(False, "peak 11 at +40 s")
    assert check_at_most(s, "celery", at(0), at(39), 10) == judge.Verdict(True, "peak 5")


def test_drained_at_is_where_the_backlog_stays_empty() -> None:
    s = samples(
        [
            (0, 1, 10, 0),
            (5, 2, 0, 2),
            (10, 2, 0, 0),
            (15, 2, 4, 0),
            (20, 2, 0, 0),
            (25, 1, 0, 0),
            (30, 1, None, None),
            (35, 0, 0, 0),
        ]
    )
    # at +5 in-flight work remains; +10 is empty but more work comes at +15; +20 for good
    assert find_drained_at(s, "celery", at(0)) == at(20)
    assert find_drained_at(s, "celery", at(0), until=at(12)) == at(10)
    assert find_drained_at(samples([(0, 1, 10), (5, 1, 3)]), "celery", at(0)) is None
    # a reading from before the burst never counts
    assert find_drained_at(samples([(0, 0, 0), (5, 1, 9)]), "celery", at(0)) is None


def test_returns_to_zero() -> None:
    drained = at(100)
    good = samples([(100, 10, 0), (200, 10, 0), (290, 0, 0), (300, 0, 0)])
    assert check_returns_to_zero(good, "celery", drained, 275) == judge.Verdict(True, "0 at +190 s")


def test_a_timeline_that_never_returns_to_zero_fails() -> None:
    drained = at(100)
    stuck = samples([(100, 10, 0), (200, 10, 0), (400, 1, 0)])
    assert check_returns_to_zero(stuck, "celery", drained, 275) == judge.Verdict(False, "still 1 at +300 s")
    late = samples([(100, 10, 0), (400, 0, 0)])
    assert check_returns_to_zero(late, "celery", drained, 275) == judge.Verdict(False, "0 only at +300 s")
    bounce = samples([(100, 10, 0), (300, 0, 0), (310, 1, 0)])
    assert not check_returns_to_zero(bounce, "celery", drained, 275).passed
    assert not check_returns_to_zero([], "celery", drained, 275).passed


def test_failed_jobs_count_from_the_burst_on() -> None:
    def jobs(rows: Sequence[tuple[float, int, int]]) -> list[Reading]:
        return [Sample(at(t), "workqueue", 0, running, 0, failed) for t, running, failed in rows]

    # two failed Jobs left by an earlier run are not this run's failures
    assert check_no_failed_jobs(jobs([(0, 0, 2), (10, 10, 2), (60, 0, 2)]), "workqueue", at(5)).passed
    verdict = check_no_failed_jobs(jobs([(0, 0, 2), (10, 10, 2), (60, 0, 3)]), "workqueue", at(5))
    assert verdict == judge.Verdict(False, "1 failed by +55 s")
    assert not check_no_failed_jobs([], "workqueue", at(5)).passed


# --------------------------------------------------------------------------------------------
# Whole timelines: a run as scripts/e2e would record it
# --------------------------------------------------------------------------------------------


def scenario(
    workload: str,
    replicas: Callable[[float], int],
    backlog: Callable[[float], int],
    processed: int | None = None,
    in_flight: Callable[[float], int] = lambda t: 0,
    failed: Callable[[float], int] = lambda t: 0,
    end: float = 600.0,
) -> Timeline:
    """A run with the default plan: settle at 5, idle 10-40, below 45-75, burst at 80."""
    plan = make_plan(DEFAULT_SPECS[workload])
    is_job = plan.spec.kind == SCALED_JOB
    marks = [
        Mark(at(0), workload, "plan", plan.to_json()),
        Mark(at(5), workload, "settled"),
        Mark(at(10), workload, "idle-start"),
        Mark(at(40), workload, "idle-end"),
        Mark(at(45), workload, "below-activation", str(plan.below)),
        Mark(at(75), workload, "below-activation-end"),
        Mark(at(80), workload, "burst", str(plan.burst)),
    ]
    rows = []
    for t in range(0, int(end), 5):
        b = backlog(t) if workload != "kafka" or t >= 45 else None  # no topic before the first pump
        rows.append(
            Sample(
                at(t),
                workload,
                b,
                replicas(t),
                in_flight(t) if workload != "kafka" else None,
                failed(t) if is_job else None,
            )
        )
    marks.append(Mark(at(end), workload, "processed", "" if processed is None else str(processed)))
    marks.append(Mark(at(end + 1), workload, "end"))
    return Timeline(samples=rows, marks=marks)


def celery_backlog(t: float) -> int:
    if t < 45:
        return 0
    if t < 80:
        return 3
    return max(0, 203 - int((t - 95) * 1.0)) if t > 95 else 203


def celery_replicas(t: float) -> int:
    if t < 95:
        return 0
    if t < 110:
        return 1
    if t < 125:
        return 5
    return 10 if t < 298 + 200 + 15 else 0


def verdicts(timeline: Timeline) -> dict[str, bool]:
    return {r.phase: r.passed for r in evaluate(timeline)}


def test_a_good_scaledobject_run_passes_every_phase() -> None:
    results = evaluate(scenario("celery", celery_replicas, celery_backlog, processed=203))
    assert [r.phase for r in results] == [
        "settle",
        "idle",
        "below activation",
        "scale-out",
        "ceiling",
        "drain",
        "scale-in",
        "processed",
    ]
    assert all(r.passed for r in results), judge.render_table(results)
    by_phase = {r.phase: r for r in results}
    assert by_phase["scale-out"].expected == "10 replicas within 135 s"  # legacy ramp: 1 -> 4 -> 8 -> 10
    assert by_phase["scale-out"].observed == "10 at +45 s"
    assert by_phase["drain"].observed == "drained at +220 s"  # 203 items, one a second from +95 s
    assert by_phase["below activation"].observed == "0 in all 7 readings, backlog 3"


def test_runs_that_fail_fail_where_they_should() -> None:
    never = verdicts(scenario("celery", lambda t: 0, lambda t: celery_backlog(t) if t < 80 else 203))
    assert never["scale-out"] is False and never["drain"] is False and never["processed"] is False
    assert "scale-in" not in never  # nothing to judge without a drain

    too_many = verdicts(
        scenario(
            "celery", lambda t: 12 if celery_replicas(t) == 10 else celery_replicas(t), celery_backlog, processed=203
        )
    )
    assert too_many["scale-out"] is False and too_many["ceiling"] is False and too_many["scale-in"] is True

    stuck = verdicts(
        scenario("celery", lambda t: celery_replicas(t) or (1 if t >= 95 else 0), celery_backlog, processed=203)
    )
    assert stuck["scale-in"] is False and stuck["scale-out"] is True

    woke_early = verdicts(
        scenario("celery", lambda t: 1 if 50 <= t < 80 else celery_replicas(t), celery_backlog, processed=203)
    )
    assert woke_early["below activation"] is False and woke_early["idle"] is True

    lost = verdicts(scenario("celery", celery_replicas, celery_backlog, processed=190))
    assert lost["processed"] is False


def test_an_unsettled_workload_stops_at_settle() -> None:
    timeline = scenario("celery", celery_replicas, celery_backlog)
    timeline.marks = [m for m in timeline.marks if m.name in ("plan", "end")]
    timeline.marks.insert(1, Mark(at(300), "celery", "settle-timeout", "2 replicas, backlog 7, in flight 0"))
    results = evaluate(timeline)
    assert [(r.phase, r.passed, r.observed) for r in results] == [
        ("settle", False, "not settled: 2 replicas, backlog 7, in flight 0")
    ]


def test_an_error_mark_fails_the_run() -> None:
    timeline = scenario("celery", celery_replicas, celery_backlog, processed=203)
    timeline.marks.append(Mark(at(90), "celery", "error", "pump celery: exit 2"))
    assert verdicts(timeline)["run"] is False


def test_kafka_is_judged_by_lag() -> None:
    def lag(t: float) -> int:
        return 0 if t < 45 else 2 if t < 80 else max(0, 102 - int((t - 95) * 0.5)) if t > 95 else 102

    def replicas(t: float) -> int:
        return 0 if t < 95 else 1 if t < 110 else 5 if t < 300 + 60 + 15 else 0

    results = evaluate(scenario("kafka", replicas, lag, processed=0))
    assert all(r.passed for r in results), judge.render_table(results)
    processed = next(r for r in results if r.phase == "processed")
    assert (processed.expected, processed.observed) == ("all 102 records (lag 0)", "lag 0 (0 results in Redis)")
    # scaling to 6 consumers for 5 partitions (and maxReplicaCount 5) fails the ceiling
    assert verdicts(scenario("kafka", lambda t: 6 if replicas(t) == 5 else replicas(t), lag))["ceiling"] is False


def test_scaledjob_run() -> None:
    def queue(t: float) -> int:
        return 0 if t < 45 else 2 if t < 80 else max(0, 102 - int((t - 90) * 2)) if t > 90 else 102

    def jobs(t: float) -> int:
        return 10 if 90 <= t < 150 else 0

    def processing(t: float) -> int:
        return 10 if 90 <= t < 145 else 0

    results = evaluate(scenario("workqueue", jobs, queue, processed=102, in_flight=processing))
    assert [r.phase for r in results][-3:] == ["scale-in", "jobs", "processed"]
    assert all(r.passed for r in results), judge.render_table(results)
    scale_out = next(r for r in results if r.phase == "scale-out")
    assert scale_out.expected == "1..10 Jobs within 70 s (first poll: 10)"

    failing = verdicts(
        scenario("workqueue", jobs, queue, processed=101, in_flight=processing, failed=lambda t: 1 if t >= 150 else 0)
    )
    assert failing["jobs"] is False and failing["processed"] is False
    lingering = verdicts(
        scenario("workqueue", lambda t: 2 if t >= 150 else jobs(t), queue, processed=102, in_flight=processing)
    )
    assert lingering["scale-in"] is False


def test_render_table() -> None:
    results = [
        judge.Result("celery", "idle", "0 replicas for 30 s", "0 in all 6 readings", True),
        judge.Result("celery", "scale-out", "10 replicas within 120 s", "peak 5 by +120 s", False),
    ]
    table = judge.render_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["workload", "phase", "expected", "observed", "verdict"]
    assert lines[1].endswith("PASS") and lines[2].endswith("FAIL")
    assert lines[0].index("expected") == lines[1].index("0 replicas")  # columns line up
    assert lines[-1] == "1 of 2 checks passed; 1 FAILED"
    assert judge.render_table([]).splitlines()[-1] == "no checks ran"


# --------------------------------------------------------------------------------------------
# The probe: the pump's JSON API and the Kubernetes API, no command output parsed
# --------------------------------------------------------------------------------------------


def test_the_keys_sampled_are_the_workload_tables() -> None:
    """What the probe reads is what status reads: each workload's backlog and in-flight keys
    come from kedasuite.core.workloads (the redis-cli commands the old probe sent)."""
    from kedasuite.core.workloads import workload

    assert [(workload(w).backlog, workload(w).in_flight) for w in ("celery", "rq", "workqueue")] == [
        ("celery", "unacked"),
        ("rq:queue:default", "rq:wip:default"),
        ("job", "job:processing"),
    ]


def test_replicas_and_jobs_from_the_kubernetes_api() -> None:
    from kedasuite.tools.timeline.sources import Cluster

    cluster = Cluster.__new__(Cluster)
    cluster.namespace, cluster._targets = "kedasuite", {}
    deployments = {"celery-worker": 4, "rq-worker": None}
    cluster.apps = SimpleNamespace(
        read_namespaced_deployment=lambda name, ns, **kw: SimpleNamespace(
            status=SimpleNamespace(replicas=deployments[name])
        )
    )
    cluster.custom = SimpleNamespace(
        get_namespaced_custom_object=lambda group, version, ns, plural, name, **kw: {
            "kind": "ScaledObject",
            "spec": {"scaleTargetRef": {"name": name}},
        }
    )
    assert cluster.replicas("celery-worker") == 4
    assert cluster.replicas("rq-worker") == 0  # .status.replicas absent: 0

    def job(name: str, *conditions: tuple[str, str]) -> SimpleNamespace:
        return SimpleNamespace(
            metadata=SimpleNamespace(name=name),
            status=SimpleNamespace(conditions=[SimpleNamespace(type=t, status=s) for t, s in conditions]),
        )

    jobs = [
        job("a"),
        job("b", ("Complete", "True")),
        job("c", ("Failed", "True")),
        job("d", ("Complete", "False")),
        job("e", ("FailureTarget", "True")),
        job("f", ("SuccessCriteriaMet", "True"), ("Complete", "True")),
    ]
    assert count_jobs(jobs) == (["a", "d", "e"], 1)
    assert count_jobs([]) == ([], 0)


class FakeKube:
    """Stands in for timeline's Cluster: records what it is asked, answers like the API."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def keda_object(self, kind: str, name: str) -> dict[str, Any]:
        self.calls.append(("keda_object", kind, name))
        return CELERY_SO

    def read_counts(
        self, objects: Any
    ) -> tuple[dict[str, int | None], dict[str, int | None], tuple[int, int], list[str]]:
        objects = list(objects)
        self.calls.append(("read_counts", *objects))
        actual = {w: (1 if kind == SCALED_JOB else 3) for w, kind, _name in objects}
        failed = {w: (1 if kind == SCALED_JOB else None) for w, kind, _name in objects}
        return actual, failed, (1, 0), []


@pytest.fixture
def pump_url(redis_url: str) -> Iterator[str]:
    """The real HTTP pump (kedasuite serve's app) on a loopback port, serving three workloads."""
    from werkzeug.serving import make_server

    from kedasuite.producers.http_pump import PumpSettings, create_app
    from kedasuite.producers.workloads import BrokerConfig
    from kedasuite.tools.status import pump_status

    settings = PumpSettings(brokers=BrokerConfig(redis_url=redis_url), workloads=["celery", "rq", "workqueue"])
    server = make_server("127.0.0.1", 0, create_app(settings, pump_status(settings)), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.mark.integration
def test_probe_reads_status_and_the_cluster(pump_url: str, redis_client: Any) -> None:
    """Backlog and in-flight from the pump's /status (7 and 2 for celery; the work queue's
    processing list; results so far), replicas and Jobs from the Kubernetes API."""
    redis_client.rpush("celery", *[f"t{i}" for i in range(7)])
    redis_client.hset("unacked", mapping={"a": "1", "b": "2"})
    redis_client.set("processed:rq", 2)
    kube = FakeKube()
    p = probe.ClusterProbe(probe.PumpApi(pump_url), kube, log=lambda m: None)
    before = datetime.now(UTC)
    got = {s.workload: s for s in p.sample(["celery", "workqueue"], DEFAULT_SPECS)}
    assert (got["celery"].backlog, got["celery"].in_flight, got["celery"].actual) == (7, 2, 3)
    assert (got["celery"].predicted, got["celery"].active, got["celery"].unit) == (1, True, "replicas")
    assert (
        got["workqueue"].backlog,
        got["workqueue"].in_flight,
        got["workqueue"].actual,
        got["workqueue"].failed,
        got["workqueue"].unit,
    ) == (0, 0, 1, 1, "jobs")
    assert before <= got["celery"].time <= datetime.now(UTC)  # stamped when the round started
    assert kube.calls == [
        ("read_counts", ("celery", "ScaledObject", "celery-worker"), ("workqueue", "ScaledJob", "workqueue"))
    ]
    assert p.spec("celery").resource == "celery-worker"
    assert kube.calls[-1] == ("keda_object", "ScaledObject", "celery-worker")
    assert p.processed("rq") == 2
    p.pump("rq", 3)
    assert redis_client.llen("rq:queue:default") == 3


@pytest.mark.integration
def test_probe_reports_what_the_pump_refuses(pump_url: str) -> None:
    p = probe.ClusterProbe(probe.PumpApi(pump_url), FakeKube(), log=lambda m: None)
    with pytest.raises(probe.ProbeError, match=r"^POST /pump: HTTP 400: workload 'kafka' is not configured"):
        p.pump("kafka", 3)


def test_probe_reads_the_kafka_lag_from_status() -> None:
    """kafka's backlog is the group's total lag as status reports it (uncapped); unknown
    (no topic yet) is an empty cell, not an error."""

    class Api:
        def read_status(self) -> dict[str, Any]:
            return {
                "time": "2026-01-01T12:00:00+00:00",
                "workloads": [
                    {
                        "workload": "kafka",
                        "backlog": 12,
                        "in_flight": None,
                        "processed": 0,
                        "replicas": 3,
                        "unit": "replicas",
                        "active": True,
                    }
                ],
            }

    p = probe.ClusterProbe(Api(), FakeKube(), log=lambda m: None)  # type: ignore[arg-type]
    [row] = p.sample(["kafka"], DEFAULT_SPECS)
    assert (row.backlog, row.predicted, row.actual, row.in_flight) == (12, 3, 3, None)


def test_a_pump_that_loses_records_is_an_error() -> None:
    run = {
        "id": "r1",
        "done": True,
        "sent": 4,
        "failed": 1,
        "workloads": {"rq": {"sent": 4, "failed": 1, "error": None}},
    }
    with pytest.raises(probe.ProbeError, match="expected 'sent 5, failed 0', got 'sent 4, failed 1'"):
        probe.check_pumped("rq", 5, run)
    probe.check_pumped("rq", 4, {**run, "workloads": {"rq": {"sent": 4, "failed": 0}}})


def test_parse_workloads() -> None:
    assert parse_workloads([]) == ["celery", "kafka", "rq", "workqueue"]
    assert parse_workloads(["workqueue", "celery"]) == ["celery", "workqueue"]
    assert parse_workloads(["rq,kafka"]) == ["kafka", "rq"]
    with pytest.raises(ValueError, match="unknown workload"):
        parse_workloads(["sidekiq"])


# --------------------------------------------------------------------------------------------
# The driver, against a fake cluster in fast-forward
# --------------------------------------------------------------------------------------------


class FakeCluster:
    """Behaves like KEDA on each reading: activation above A, the HPA's target at once,
    a drain proportional to replicas, scale to 0 a cooldown after the work is gone.
    ``stuck`` never activates, as with a trigger pointed at the wrong list."""

    def __init__(self, specs: Mapping[str, Spec], stuck: bool = False, start_replicas: int = 0) -> None:
        self.specs = specs
        self.stuck = stuck
        self.backlog = {w: 0 for w in specs}
        self.replicas = {w: start_replicas for w in specs}
        self.idle_since: dict[str, float] = {w: time.monotonic() for w in specs}
        self.done = {w: 0 for w in specs}
        self.lock = threading.Lock()

    def spec(self, workload: str) -> Spec:
        return self.specs[workload]

    def _step(self, w: str) -> None:
        spec, now = self.specs[w], time.monotonic()
        taken = min(self.backlog[w], 4 * self.replicas[w])
        self.backlog[w] -= taken
        self.done[w] += taken
        active = self.backlog[w] > spec.activation and not self.stuck
        if active:
            self.idle_since[w] = now
            if spec.kind == SCALED_JOB:
                self.replicas[w] += expected_count(spec, self.backlog[w], self.replicas[w])
            else:
                self.replicas[w] = expected_count(spec, self.backlog[w]) if self.replicas[w] else 1
        elif self.backlog[w] == 0 and now - self.idle_since[w] >= spec.cooldown_period:
            self.replicas[w] = 0

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Reading]:
        with self.lock:
            out = []
            for w in workloads:
                self._step(w)
                is_job = specs[w].kind == SCALED_JOB
                out.append(
                    Sample(
                        datetime.now(UTC),
                        w,
                        self.backlog[w],
                        self.replicas[w],
                        None if w == "kafka" else 0,
                        0 if is_job else None,
                    )
                )
            return out

    def pump(self, workload: str, count: int) -> None:
        with self.lock:
            self.backlog[workload] += count

    def processed(self, workload: str) -> int | None:
        with self.lock:
            return self.done[workload]


FAST = Settings(idle_s=0.15, hold_s=0.15, interval_s=0.02, margin_s=0.5, drain_timeout_s=1.5, hpa_sync_s=0.05)


def fast_specs() -> dict[str, Spec]:
    return {
        w: s.with_timing(polling_interval=0.05, cooldown_period=0.2 if s.kind == SCALED_OBJECT else 0.0)
        for w, s in DEFAULT_SPECS.items()
    }


def drive(cluster: FakeCluster, workloads: Sequence[str], path: Path, parallel: bool) -> list[judge.Result]:
    plans = {w: make_plan(cluster.specs[w], FAST) for w in workloads}
    with open(path, "w", newline="") as f:
        driver.Driver(cluster, plans, CsvWriter(f), FAST, log=lambda m: None).run(workloads, parallel=parallel)
    return evaluate(judge.read_timeline(path))


def test_driver_against_a_cluster_that_behaves(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs(), start_replicas=1), WORKLOADS, tmp_path / "t.csv", parallel=True)
    assert all(r.passed for r in results), judge.render_table(results)
    assert {r.workload for r in results} == set(WORKLOADS)
    assert e2e_cli("check", str(tmp_path / "t.csv")).exit_code == 0


def test_driver_one_after_another(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs()), ["kafka", "workqueue"], tmp_path / "t.csv", parallel=False)
    assert all(r.passed for r in results), judge.render_table(results)
    timeline = judge.read_timeline(tmp_path / "t.csv")
    kafka_end = timeline.mark("kafka", "end")
    workqueue_plan = timeline.mark("workqueue", "plan")
    assert kafka_end and workqueue_plan and kafka_end.time <= workqueue_plan.time


def test_driver_against_a_cluster_that_never_scales(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs(), stuck=True), ["celery"], tmp_path / "t.csv", parallel=False)
    by_phase = {r.phase: r.passed for r in results}
    assert by_phase["idle"] and by_phase["below activation"]
    assert not by_phase["scale-out"] and not by_phase["drain"] and not by_phase["processed"]
    done = e2e_cli("check", str(tmp_path / "t.csv"))
    assert done.exit_code == 1
    assert "FAIL" in done.stdout


def test_driver_records_a_pump_failure(tmp_path: Path) -> None:
    class BrokenPump(FakeCluster):
        def pump(self, workload: str, count: int) -> None:
            raise probe.ProbeError("POST /pump: HTTP 503: cannot reach Redis: redis unreachable")

    results = drive(BrokenPump(fast_specs()), ["celery"], tmp_path / "t.csv", parallel=False)
    assert ("run", False) in [(r.phase, r.passed) for r in results]
    assert any("redis unreachable" in r.observed for r in results)


def test_the_drivers_timeline_is_drawn_by_the_timeline_tool(tmp_path: Path) -> None:
    """One CSV format: the recorder's reader takes the e2e file (marks aside) and draws it."""
    from kedasuite.tools.timeline import read_csv, render

    drive(FakeCluster(fast_specs()), ["celery"], tmp_path / "t.csv", parallel=False)
    rows = read_csv(tmp_path / "t.csv")
    assert rows and {r.workload for r in rows} == {"celery"}
    assert render(rows, tmp_path / "t.png").stat().st_size > 1000


# --------------------------------------------------------------------------------------------
# Predict, then verify: the model's trace beside the cluster's
# --------------------------------------------------------------------------------------------


def test_the_models_trace_beside_a_cluster_that_scaled() -> None:
    """The bundled celery ScaledObject (poll 15 s, cooldown 200 s, listLength 10, activation 5,
    max 10, no behavior) replayed over the readings of ``scenario``: 203 queued from +80 s,
    one done a second from +95 s (the list reads 3 at +295 s, 0 from +298 s)."""
    cal = calibrate.calibrate(scenario("celery", celery_replicas, celery_backlog, processed=203), "celery")
    assert cal is not None
    assert [(c.t, c.before, c.after) for c in cal.changes] == [
        (90.0, 0, 1),  # first poll seeing 203 > 5: KEDA wakes it, 0 -> max(min, 1)
        (90.0, 1, 4),  # the HPA's sync at the same instant: ceil(203/10) = 21, legacy limit max(2 x 1, 4)
        (105.0, 4, 8),  # 193 left: ceil(193/10) = 20, limit max(2 x 4, 4) = 8
        (120.0, 8, 10),  # 178 left: 18, clamped to maxReplicaCount 10
        (495.0, 10, 0),  # last active poll +285 s (13 > 5), + cooldown 200 = 485; the next poll is +495 s
    ]
    # The cluster ran 1 from +95 s, 5 from +110 s, 10 from +125 s and 0 from +515 s: each change is
    # met at the first reading at or beyond it (4 and 8 by the 5 and 10 it jumped to).
    assert [c.lag for c in cal.changes] == [5.0, 20.0, 20.0, 5.0, 20.0]
    assert not cal.missed and cal.phase_allowance == 30.0  # one poll (15 s) + one HPA sync (15 s)
    assert cal.max_difference == 10  # +495 s to +510 s: the model at 0, the cluster still at 10
    assert "5 model changes, lag behind the model median 20.0 s, max 20.0 s" in cal.summary()
    point = next(p for p in cal.points if p.t == 100.0)
    assert (point.observed, point.predicted, point.difference) == (1, 4, -3)


def test_a_cluster_that_never_scales_misses_every_change_of_the_model() -> None:
    cal = calibrate.calibrate(scenario("celery", lambda t: 0, lambda t: celery_backlog(t) if t < 80 else 203), "celery")
    assert cal is not None
    assert [c.after for c in cal.missed] == [1, 4, 8, 10] and cal.lags == []
    assert "never reached: 1, 4, 8, 10" in cal.summary()


def test_the_scaledjob_calibration_counts_new_jobs_against_the_clusters() -> None:
    """workqueue: accurate, listLength 5, max 10, poll 10 s; 102 queued at +80 s: ceil(102/5) = 21,
    capped at max 10 - 0 running = 10 new Jobs at the poll of +80 s; the cluster showed 10 from +90 s."""

    def queue(t: float) -> int:
        return 0 if t < 45 else 2 if t < 80 else max(0, 102 - int((t - 90) * 2)) if t > 90 else 102

    timeline = scenario(
        "workqueue",
        lambda t: 10 if 90 <= t < 150 else 0,
        queue,
        processed=102,
        in_flight=lambda t: 10 if 90 <= t < 145 else 0,
    )
    cal = calibrate.calibrate(timeline, "workqueue")
    assert cal is not None and cal.unit == "Jobs"
    assert [(c.t, c.before, c.after, c.lag) for c in cal.changes] == [(80.0, 0, 10, 10.0)]


def test_check_prints_the_calibration_and_writes_its_csv(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    timeline = scenario("celery", celery_replicas, celery_backlog, processed=203)
    with open(path, "w", newline="") as f:
        CsvWriter(f).write(sorted([*timeline.samples, *timeline.marks], key=lambda x: x.time))
    done = e2e_cli("check", str(path), "--model-csv", str(tmp_path / "model.csv"))
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("Model (predicted) vs cluster (observed):\n  celery: 5 model changes")
    with open(tmp_path / "model.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == calibrate.CSV_COLUMNS and len(rows) == len(timeline.samples)
    at_100 = next(r for r in rows if float(r["t"]) == 100.0)
    assert (at_100["observed"], at_100["predicted"], at_100["difference"]) == ("1", "4", "-3")


# --------------------------------------------------------------------------------------------
# The command line: kedasuite e2e
# --------------------------------------------------------------------------------------------


def test_plan_command_prints_the_expectations() -> None:
    done = e2e_cli("plan", "kafka", "--burst", "50")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("kafka: idle 30 s; below activation 2 held 30 s; burst 50;")
    assert "KEDA metric 25 (lag 52, 5 partitions x lagThreshold 5 cap)" in done.stdout


def test_run_refuses_unknown_workloads_before_touching_the_cluster() -> None:
    done = e2e_cli("run", "sidekiq", "--context", "no-such-context")
    assert done.exit_code == 2
    assert "unknown workload(s) sidekiq" in done.stderr


def test_check_command_as_a_subcommand(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    timeline = scenario("celery", celery_replicas, celery_backlog, processed=203)
    with open(path, "w", newline="") as f:
        CsvWriter(f).write(sorted([*timeline.samples, *timeline.marks], key=lambda x: x.time))
    done = subprocess.run(
        [sys.executable, "-m", "kedasuite", "e2e", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "8 of 8 checks passed"
    # a failing timeline exits 1
    with open(path, "a", newline="") as f:
        f.write(",".join(["2026-01-01T12:11:40.000000+00:00", "celery", *[""] * 8, "error", "boom"]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "kedasuite", "e2e", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1


def test_run_stops_when_the_scaledobject_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No cluster to read it from (here: no kubeconfig, not in a pod) ends the run at once with exit 2."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "")
    done = e2e_cli("run", "celery", "--timeline", str(tmp_path / "t.csv"))
    assert done.exit_code == 2
    assert "cannot read ScaledObject 'celery-worker' in namespace 'kedasuite'" in done.stderr
    assert not (tmp_path / "t.csv").exists()


def test_check_of_a_missing_timeline(tmp_path: Path) -> None:
    done = e2e_cli("check", str(tmp_path / "nope.csv"))
    assert done.exit_code == 2
    assert "cannot read the timeline" in done.stderr


def test_every_e2e_option_reads_an_environment_variable_named_in_env() -> None:
    import click

    from kedasuite.cli.e2e import e2e
    from kedasuite.core.names import Env

    names = {v for k, v in vars(Env).items() if k.isupper()}
    for command in e2e.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.envvar in names, (command.name, param.opts)
