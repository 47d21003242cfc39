"""The end-to-end test's decision logic, with no cluster: formulas, checks, timelines, driver.

The formulas are checked against hand-computed KEDA v2.20.2 cases; the checks against
hand-made timelines, passing and failing; the driver against a fake cluster that behaves
like KEDA (or refuses to) in fast-forward.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kedasuite.tools import e2e
from kedasuite.tools.e2e import (
    DEFAULT_SPECS,
    Mark,
    Plan,
    Sample,
    Settings,
    Spec,
    Timeline,
    TimelineWriter,
    check_at_most,
    check_no_failed_jobs,
    check_reaches,
    check_returns_to_zero,
    check_stays_at,
    evaluate,
    expected_jobs_accurate,
    expected_replicas_scaledobject,
    find_drained_at,
    kafka_capped_metric,
    make_plan,
)
from kedasuite.keda.kafka_lag import KafkaTrigger, PartitionOffsets, keda_lag

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --------------------------------------------------------------------------------------------
# Formulas
# --------------------------------------------------------------------------------------------


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
    assert kafka_capped_metric(lag, threshold, partitions) == metric


def test_kafka_cap_agrees_with_the_lag_module() -> None:
    """The same rule as kedasuite.keda.kafka_lag, which works from per-partition offsets."""
    trigger = KafkaTrigger(lag_threshold=5)
    for total in range(80):
        parts = [total // 5 + (1 if i < total % 5 else 0) for i in range(5)]
        report = keda_lag([PartitionOffsets(i, lag, 0) for i, lag in enumerate(parts)], trigger)
        assert kafka_capped_metric(total, 5, 5) == report.metric, total


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
    ("start", "goal", "steps"), [(1, 1, 0), (1, 5, 1), (1, 10, 2), (1, 20, 3), (5, 10, 1), (2, 6, 1), (0, 2, 1)]
)
def test_hpa_scale_up_steps(start: int, goal: int, steps: int) -> None:
    """Default HPA behavior: +100 % or +4 pods per sync, whichever is more."""
    assert e2e.hpa_scale_up_steps(start, goal) == steps


@pytest.mark.parametrize(("activation", "load"), [(0, 0), (1, 1), (2, 2), (5, 3), (10, 5)])
def test_below_activation_load_never_exceeds_the_threshold(activation: int, load: int) -> None:
    assert e2e.below_activation_load(activation) == load
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
            {"type": "redis", "metadata": {"listName": "celery", "listLength": "10", "activationListLength": "5",
                                           "addressFromEnv": "REDIS_ADDRESS"}},
        ],
    },
}


def test_spec_from_a_live_scaledobject() -> None:
    assert e2e.spec_from_object("celery", CELERY_SO) == DEFAULT_SPECS["celery"]


def test_spec_uses_keda_defaults_for_missing_fields() -> None:
    obj = {"kind": "ScaledObject", "metadata": {"name": "rq-worker"},
           "spec": {"scaleTargetRef": {"name": "rq"}, "triggers": [{"type": "redis",
                                                                    "metadata": {"listName": "rq:queue:default"}}]}}
    spec = e2e.spec_from_object("rq", obj)
    assert (spec.target, spec.activation, spec.min_replicas, spec.max_replicas) == (5, 0, 0, 100)
    assert (spec.polling_interval, spec.cooldown_period, spec.deployment) == (30, 300, "rq")


def test_spec_from_kafka_and_scaledjob() -> None:
    kafka = {"kind": "ScaledObject", "metadata": {"name": "kafka-consumer"},
             "spec": {"scaleTargetRef": {"name": "kafka-consumer"}, "pollingInterval": 15, "cooldownPeriod": 60,
                      "maxReplicaCount": 5,
                      "triggers": [{"type": "kafka", "metadata": {"topic": "test-topic", "lagThreshold": "5",
                                                                  "activationLagThreshold": "2"}}]}}
    assert e2e.spec_from_object("kafka", kafka) == DEFAULT_SPECS["kafka"]
    assert e2e.spec_from_object("kafka", kafka, partitions=3).partitions == 3
    job = {"kind": "ScaledJob", "metadata": {"name": "workqueue"},
           "spec": {"pollingInterval": 10, "maxReplicaCount": 10, "scalingStrategy": {"strategy": "accurate"},
                    "triggers": [{"type": "redis", "metadata": {"listName": "job", "listLength": "5",
                                                                "activationListLength": "2"}}]}}
    assert e2e.spec_from_object("workqueue", job) == DEFAULT_SPECS["workqueue"]


def test_spec_without_the_backlog_trigger_is_an_error() -> None:
    obj = {"kind": "ScaledObject", "metadata": {"name": "celery-worker"},
           "spec": {"triggers": [{"type": "redis", "metadata": {"listName": "celery-typo"}}]}}
    with pytest.raises(ValueError, match="no trigger on 'celery'"):
        e2e.spec_from_object("celery", obj)


def test_default_plans() -> None:
    celery = make_plan(DEFAULT_SPECS["celery"])
    assert (celery.below, celery.burst, celery.expected, celery.at_least, celery.at_most) == (3, 200, 10, 10, 10)
    # poll 15 + (2 ramp steps + 1) HPA syncs of 15 + margin 60
    assert celery.scale_out_deadline_s == 15 + 3 * 15 + 60
    assert celery.return_within_s == 200 + 15 + 60
    kafka = make_plan(DEFAULT_SPECS["kafka"])
    assert (kafka.below, kafka.expected, kafka.at_most) == (2, 5, 5)
    assert kafka.return_within_s == 60 + 15 + 60
    jobs = make_plan(DEFAULT_SPECS["workqueue"])
    assert (jobs.below, jobs.expected, jobs.at_least, jobs.at_most) == (2, 10, 1, 10)
    assert jobs.scale_out_deadline_s == 10 + 60
    # windows that must stay at 0 last at least two polls
    slow = replace(DEFAULT_SPECS["rq"], polling_interval=40)
    assert make_plan(slow, Settings(idle_s=30, hold_s=30)).idle_s == 80
    assert make_plan(DEFAULT_SPECS["rq"], Settings(burst=7)).burst == 7


def test_plan_survives_json() -> None:
    plan = make_plan(DEFAULT_SPECS["kafka"])
    assert Plan.from_json(plan.to_json()) == plan


# --------------------------------------------------------------------------------------------
# The timeline file
# --------------------------------------------------------------------------------------------


def test_timeline_round_trip() -> None:
    buf = io.StringIO()
    writer = TimelineWriter(buf)
    plan = make_plan(DEFAULT_SPECS["celery"])
    writer.write(Mark(at(0), "celery", "plan", plan.to_json()))
    writer.write(Sample(at(1.25), "celery", 3, 0, 1, None))
    writer.write(Sample(at(2), "kafka", None, None))
    writer.write(Mark(at(3), "celery", "error", 'pump celery: got "nothing", really'))
    header = buf.getvalue().splitlines()[0]
    assert header == "time,workload,backlog,in_flight,replicas,failed,mark,value"
    # microseconds: a mark and the reading right after it must not share a timestamp
    assert buf.getvalue().splitlines()[2].startswith("2026-01-01T12:00:01.250000+00:00,celery,3,1,0,,,")
    timeline = e2e.parse_timeline(io.StringIO(buf.getvalue()))
    assert timeline.samples == [Sample(at(1.25), "celery", 3, 0, 1, None), Sample(at(2), "kafka", None, None)]
    assert Plan.from_json(timeline.mark("celery", "plan").value) == plan  # type: ignore[union-attr]
    assert timeline.mark("celery", "error").value == 'pump celery: got "nothing", really'  # type: ignore[union-attr]
    assert timeline.workloads() == ["celery"]


# --------------------------------------------------------------------------------------------
# The checks, on hand-made readings
# --------------------------------------------------------------------------------------------

Row = tuple[float, int | None, int | None] | tuple[float, int | None, int | None, int | None]


def samples(rows: Sequence[Row], workload: str = "celery") -> list[Sample]:
    """(seconds, replicas, backlog[, in_flight]) rows."""
    out = []
    for row in rows:
        t, replicas, backlog = row[0], row[1], row[2]
        in_flight = row[3] if len(row) > 3 else 0  # type: ignore[misc]
        out.append(Sample(at(t), workload, backlog, replicas, in_flight))
    return out


def test_stays_at_zero() -> None:
    s = samples([(0, 0, 0), (5, 0, 3), (10, 0, 3), (15, 1, 3), (20, None, None)])
    assert check_stays_at(s, "celery", at(0), at(10), 0) == e2e.Verdict(True, "0 in all 3 readings, backlog 0/3")
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
    assert verdict == e2e.Verdict(True, "10 at +40 s")


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
    assert verdict == e2e.Verdict(False, "11 at +40 s: above 10")
    assert check_at_most(s, "celery", at(0), None, 10) == e2e.Verdict(False, "peak 11 at +40 s")
    assert check_at_most(s, "celery", at(0), at(39), 10) == e2e.Verdict(True, "peak 5")


def test_drained_at_is_where_the_backlog_stays_empty() -> None:
    s = samples([(0, 1, 10, 0), (5, 2, 0, 2), (10, 2, 0, 0), (15, 2, 4, 0), (20, 2, 0, 0), (25, 1, 0, 0),
                 (30, 1, None, None), (35, 0, 0, 0)])
    # at +5 in-flight work remains; +10 is empty but more work comes at +15; +20 for good
    assert find_drained_at(s, "celery", at(0)) == at(20)
    assert find_drained_at(s, "celery", at(0), until=at(12)) == at(10)
    assert find_drained_at(samples([(0, 1, 10), (5, 1, 3)]), "celery", at(0)) is None
    # a reading from before the burst never counts
    assert find_drained_at(samples([(0, 0, 0), (5, 1, 9)]), "celery", at(0)) is None


def test_returns_to_zero() -> None:
    drained = at(100)
    good = samples([(100, 10, 0), (200, 10, 0), (290, 0, 0), (300, 0, 0)])
    assert check_returns_to_zero(good, "celery", drained, 275) == e2e.Verdict(True, "0 at +190 s")


def test_a_timeline_that_never_returns_to_zero_fails() -> None:
    drained = at(100)
    stuck = samples([(100, 10, 0), (200, 10, 0), (400, 1, 0)])
    assert check_returns_to_zero(stuck, "celery", drained, 275) == e2e.Verdict(False, "still 1 at +300 s")
    late = samples([(100, 10, 0), (400, 0, 0)])
    assert check_returns_to_zero(late, "celery", drained, 275) == e2e.Verdict(False, "0 only at +300 s")
    bounce = samples([(100, 10, 0), (300, 0, 0), (310, 1, 0)])
    assert not check_returns_to_zero(bounce, "celery", drained, 275).passed
    assert not check_returns_to_zero([], "celery", drained, 275).passed


def test_failed_jobs_count_from_the_burst_on() -> None:
    def jobs(rows: Sequence[tuple[float, int, int]]) -> list[Sample]:
        return [Sample(at(t), "workqueue", 0, running, 0, failed) for t, running, failed in rows]

    # two failed Jobs left by an earlier run are not this run's failures
    assert check_no_failed_jobs(jobs([(0, 0, 2), (10, 10, 2), (60, 0, 2)]), "workqueue", at(5)).passed
    verdict = check_no_failed_jobs(jobs([(0, 0, 2), (10, 10, 2), (60, 0, 3)]), "workqueue", at(5))
    assert verdict == e2e.Verdict(False, "1 failed by +55 s")
    assert not check_no_failed_jobs([], "workqueue", at(5)).passed


# --------------------------------------------------------------------------------------------
# Whole timelines: a run as scripts/e2e would record it
# --------------------------------------------------------------------------------------------


def scenario(workload: str, replicas: Callable[[float], int], backlog: Callable[[float], int],
             processed: int | None = None, in_flight: Callable[[float], int] = lambda t: 0,
             failed: Callable[[float], int] = lambda t: 0, end: float = 600.0) -> Timeline:
    """A run with the default plan: settle at 5, idle 10-40, below 45-75, burst at 80."""
    plan = make_plan(DEFAULT_SPECS[workload])
    is_job = plan.spec.kind == e2e.SCALED_JOB
    marks = [Mark(at(0), workload, "plan", plan.to_json()), Mark(at(5), workload, "settled"),
             Mark(at(10), workload, "idle-start"), Mark(at(40), workload, "idle-end"),
             Mark(at(45), workload, "below-activation", str(plan.below)),
             Mark(at(75), workload, "below-activation-end"),
             Mark(at(80), workload, "burst", str(plan.burst))]
    rows = []
    for t in range(0, int(end), 5):
        b = backlog(t) if workload != "kafka" or t >= 45 else None  # no topic before the first pump
        rows.append(Sample(at(t), workload, b, replicas(t), in_flight(t) if workload != "kafka" else None,
                           failed(t) if is_job else None))
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
    assert [r.phase for r in results] == ["settle", "idle", "below activation", "scale-out", "ceiling", "drain",
                                          "scale-in", "processed"]
    assert all(r.passed for r in results), e2e.render_table(results)
    by_phase = {r.phase: r for r in results}
    assert by_phase["scale-out"].expected == "10 replicas within 120 s"
    assert by_phase["scale-out"].observed == "10 at +45 s"
    assert by_phase["drain"].observed == "drained at +220 s"  # 203 items, one a second from +95 s
    assert by_phase["below activation"].observed == "0 in all 7 readings, backlog 3"


def test_runs_that_fail_fail_where_they_should() -> None:
    never = verdicts(scenario("celery", lambda t: 0, lambda t: celery_backlog(t) if t < 80 else 203))
    assert never["scale-out"] is False and never["drain"] is False and never["processed"] is False
    assert "scale-in" not in never  # nothing to judge without a drain

    too_many = verdicts(scenario("celery", lambda t: 12 if celery_replicas(t) == 10 else celery_replicas(t),
                                 celery_backlog, processed=203))
    assert too_many["scale-out"] is False and too_many["ceiling"] is False and too_many["scale-in"] is True

    stuck = verdicts(scenario("celery", lambda t: celery_replicas(t) or (1 if t >= 95 else 0), celery_backlog,
                              processed=203))
    assert stuck["scale-in"] is False and stuck["scale-out"] is True

    woke_early = verdicts(scenario("celery", lambda t: 1 if 50 <= t < 80 else celery_replicas(t), celery_backlog,
                                   processed=203))
    assert woke_early["below activation"] is False and woke_early["idle"] is True

    lost = verdicts(scenario("celery", celery_replicas, celery_backlog, processed=190))
    assert lost["processed"] is False


def test_an_unsettled_workload_stops_at_settle() -> None:
    timeline = scenario("celery", celery_replicas, celery_backlog)
    timeline.marks = [m for m in timeline.marks if m.name in ("plan", "end")]
    timeline.marks.insert(1, Mark(at(300), "celery", "settle-timeout", "2 replicas, backlog 7, in flight 0"))
    results = evaluate(timeline)
    assert [(r.phase, r.passed, r.observed) for r in results] == [
        ("settle", False, "not settled: 2 replicas, backlog 7, in flight 0")]


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
    assert all(r.passed for r in results), e2e.render_table(results)
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
    assert all(r.passed for r in results), e2e.render_table(results)
    scale_out = next(r for r in results if r.phase == "scale-out")
    assert scale_out.expected == "1..10 Jobs within 70 s (first poll: 10)"

    failing = verdicts(scenario("workqueue", jobs, queue, processed=101, in_flight=processing,
                                failed=lambda t: 1 if t >= 150 else 0))
    assert failing["jobs"] is False and failing["processed"] is False
    lingering = verdicts(scenario("workqueue", lambda t: 2 if t >= 150 else jobs(t), queue, processed=102,
                                  in_flight=processing))
    assert lingering["scale-in"] is False


def test_render_table() -> None:
    results = [e2e.Result("celery", "idle", "0 replicas for 30 s", "0 in all 6 readings", True),
               e2e.Result("celery", "scale-out", "10 replicas within 120 s", "peak 5 by +120 s", False)]
    table = e2e.render_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["workload", "phase", "expected", "observed", "verdict"]
    assert lines[1].endswith("PASS") and lines[2].endswith("FAIL")
    assert lines[0].index("expected") == lines[1].index("0 replicas")  # columns line up
    assert lines[-1] == "1 of 2 checks passed; 1 FAILED"
    assert e2e.render_table([]).splitlines()[-1] == "no checks ran"


# --------------------------------------------------------------------------------------------
# Parsing what kubectl returns
# --------------------------------------------------------------------------------------------


def test_parse_redis_replies() -> None:
    assert e2e.parse_redis_replies("3\n0\n12\n1\n", 4) == [3, 0, 12, 1]
    assert e2e.parse_redis_replies("(integer) 3\n(integer) 0\n", 2) == [3, 0]
    wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value"
    assert e2e.parse_redis_replies(f"{wrongtype}\n5\n", 2) == [None, 5]
    assert e2e.parse_redis_replies("7\n", 2) == [7, None]
    assert e2e.redis_commands("celery") == ["LLEN celery", "HLEN unacked"]
    assert e2e.redis_commands("rq") == ["LLEN rq:queue:default", "ZCARD rq:wip:default"]
    assert e2e.redis_commands("workqueue") == ["LLEN job", "LLEN job:processing"]


def test_parse_kafka_lag_output() -> None:
    out = ("topic test-topic, group test-consumer-group\npartition  high-watermark  committed  lag\n"
           "        0              21         15    6\n"
           "total lag 43; KEDA metric 25 (lagThreshold 5, offsetResetPolicy earliest, 5 partitions); active\n")
    assert e2e.parse_kafka_lag(out) == e2e.KafkaLagLine(43, 25, 5, True)
    quiet = "total lag 2; KEDA metric 2 (lagThreshold 5, offsetResetPolicy earliest, 5 partitions); not active"
    assert e2e.parse_kafka_lag(quiet) == e2e.KafkaLagLine(2, 2, 5, False)
    assert e2e.parse_kafka_lag("Error: topic not found") is None


def test_replicas_and_jobs_from_kubectl_json() -> None:
    deployments = {"items": [{"metadata": {"name": "celery-worker"}, "status": {"replicas": 4}},
                             {"metadata": {"name": "rq-worker"}, "status": {}}]}
    assert e2e.deployment_replicas(deployments, "celery-worker") == 4
    assert e2e.deployment_replicas(deployments, "rq-worker") == 0  # .status.replicas absent: 0
    assert e2e.deployment_replicas(deployments, "kafka-consumer") is None

    def job(*conditions: tuple[str, str]) -> dict[str, object]:
        return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions]}}

    jobs = {"items": [job(), job(("Complete", "True")), job(("Failed", "True")), job(("Complete", "False")),
                      job(("FailureTarget", "True")), job(("SuccessCriteriaMet", "True"), ("Complete", "True"))]}
    assert e2e.job_counts(jobs) == (3, 1)
    assert e2e.job_counts({"items": []}) == (0, 0)


def test_parse_pump_output() -> None:
    line = "celery: sent 200, failed 0 in 0.05 s (4,000 msgs/s); ids e2e-1..e2e-200"
    assert e2e.parse_pump_output(line) == (200, 0)
    assert e2e.parse_pump_output("Error: redis unreachable") is None


def test_parse_workloads() -> None:
    assert e2e.parse_workloads([]) == ["celery", "kafka", "rq", "workqueue"]
    assert e2e.parse_workloads(["workqueue", "celery"]) == ["celery", "workqueue"]
    assert e2e.parse_workloads(["rq,kafka"]) == ["kafka", "rq"]
    with pytest.raises(ValueError, match="unknown workload"):
        e2e.parse_workloads(["sidekiq"])


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
        self.pumped: dict[str, int] = {}
        self.lock = threading.Lock()

    def spec(self, workload: str) -> Spec:
        return self.specs[workload]

    def _step(self, w: str) -> None:
        spec, now = self.specs[w], time.monotonic()
        self.backlog[w] = max(0, self.backlog[w] - 4 * self.replicas[w])
        active = self.backlog[w] > spec.activation and not self.stuck
        if active:
            self.idle_since[w] = now
            if spec.kind == e2e.SCALED_JOB:
                self.replicas[w] += expected_jobs_accurate(self.backlog[w], spec.target, spec.max_replicas,
                                                           self.replicas[w])
            else:
                self.replicas[w] = expected_replicas_scaledobject(self.backlog[w], spec.target, spec.min_replicas,
                                                                  spec.max_replicas, spec.partitions) \
                    if self.replicas[w] else 1
        elif self.backlog[w] == 0 and now - self.idle_since[w] >= spec.cooldown_period:
            self.replicas[w] = 0

    def sample(self, workloads: Sequence[str], specs: Mapping[str, Spec]) -> list[Sample]:
        with self.lock:
            out = []
            for w in workloads:
                self._step(w)
                is_job = specs[w].kind == e2e.SCALED_JOB
                out.append(Sample(datetime.now(UTC), w, self.backlog[w], self.replicas[w],
                                  None if w == "kafka" else 0, 0 if is_job else None))
            return out

    def pump(self, workload: str, count: int, id_prefix: str) -> None:
        with self.lock:
            self.backlog[workload] += count
            self.pumped[id_prefix] = count

    def processed(self, workload: str, id_prefixes: Sequence[str]) -> int | None:
        with self.lock:
            return sum(self.pumped[p] for p in id_prefixes) - self.backlog[workload]


FAST = Settings(idle_s=0.15, hold_s=0.15, interval_s=0.02, margin_s=0.5, drain_timeout_s=1.5, hpa_sync_s=0.05)


def fast_specs() -> dict[str, Spec]:
    return {w: replace(s, polling_interval=0.05, cooldown_period=0.2 if s.kind == e2e.SCALED_OBJECT else 0.0)
            for w, s in DEFAULT_SPECS.items()}


def drive(cluster: FakeCluster, workloads: Sequence[str], path: Path, parallel: bool) -> list[e2e.Result]:
    plans = {w: make_plan(cluster.specs[w], FAST) for w in workloads}
    with open(path, "w", newline="") as f:
        e2e.Driver(cluster, plans, TimelineWriter(f), FAST, log=lambda m: None).run(workloads, parallel=parallel)
    return evaluate(e2e.read_timeline(path))


def test_driver_against_a_cluster_that_behaves(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs(), start_replicas=1), list(e2e.WORKLOADS), tmp_path / "t.csv",
                    parallel=True)
    assert all(r.passed for r in results), e2e.render_table(results)
    assert {r.workload for r in results} == set(e2e.WORKLOADS)
    assert e2e.main(["check", str(tmp_path / "t.csv")], out=io.StringIO()) == 0


def test_driver_one_after_another(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs()), ["kafka", "workqueue"], tmp_path / "t.csv", parallel=False)
    assert all(r.passed for r in results), e2e.render_table(results)
    timeline = e2e.read_timeline(tmp_path / "t.csv")
    kafka_end = timeline.mark("kafka", "end")
    workqueue_plan = timeline.mark("workqueue", "plan")
    assert kafka_end and workqueue_plan and kafka_end.time <= workqueue_plan.time


def test_driver_against_a_cluster_that_never_scales(tmp_path: Path) -> None:
    results = drive(FakeCluster(fast_specs(), stuck=True), ["celery"], tmp_path / "t.csv", parallel=False)
    by_phase = {r.phase: r.passed for r in results}
    assert by_phase["idle"] and by_phase["below activation"]
    assert not by_phase["scale-out"] and not by_phase["drain"] and not by_phase["processed"]
    out = io.StringIO()
    assert e2e.main(["check", str(tmp_path / "t.csv")], out=out) == 1
    assert "FAIL" in out.getvalue()


def test_driver_records_a_pump_failure(tmp_path: Path) -> None:
    class BrokenPump(FakeCluster):
        def pump(self, workload: str, count: int, id_prefix: str) -> None:
            raise e2e.KubectlError("pump celery: exit 2: Error: redis unreachable")

    results = drive(BrokenPump(fast_specs()), ["celery"], tmp_path / "t.csv", parallel=False)
    assert ("run", False) in [(r.phase, r.passed) for r in results]
    assert any("redis unreachable" in r.observed for r in results)


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def test_plan_command_prints_the_expectations() -> None:
    out = io.StringIO()
    assert e2e.main(["plan", "kafka", "--burst", "50"], out=out) == 0
    text = out.getvalue()
    assert text.startswith("kafka: idle 30 s; below activation 2 held 30 s; burst 50;")
    assert "KEDA metric 25 (lag 52, 5 partitions x lagThreshold 5 cap)" in text


def test_run_refuses_unknown_workloads_before_touching_kubectl(capsys: pytest.CaptureFixture[str]) -> None:
    assert e2e.main(["run", "sidekiq", "--kubectl", "/nonexistent/kubectl"]) == 2
    assert "unknown workload(s) sidekiq" in capsys.readouterr().err


def test_check_command_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    timeline = scenario("celery", celery_replicas, celery_backlog, processed=203)
    with open(path, "w", newline="") as f:
        writer = TimelineWriter(f)
        for item in sorted([*timeline.samples, *timeline.marks], key=lambda x: x.time):
            writer.write(item)
    done = subprocess.run([sys.executable, "-m", "kedasuite.tools.e2e", "check", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "8 of 8 checks passed"
    # a failing timeline exits 1
    with open(path, "a", newline="") as f:
        e2e.write_row(f, Mark(at(700), "celery", "error", "boom"))
    done = subprocess.run([sys.executable, "-m", "kedasuite.tools.e2e", "check", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1


def test_run_stops_when_the_scaledobject_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A kubectl that fails (here: one that does not exist) ends the run at once with exit 2."""
    code = e2e.main(["run", "celery", "--kubectl", str(tmp_path / "no-kubectl"), "--timeline",
                     str(tmp_path / "t.csv")])
    assert code == 2
    assert "cannot read ScaledObject 'celery-worker' in namespace 'kedasuite'" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_check_of_a_missing_timeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert e2e.main(["check", str(tmp_path / "nope.csv")]) == 2
    assert "cannot read the timeline" in capsys.readouterr().err


def test_kubectl_probe_builds_commands_and_reads_replies(tmp_path: Path) -> None:
    """A stand-in kubectl records its arguments and answers like the real one."""
    log = tmp_path / "calls"
    fake = tmp_path / "kubectl"
    fake.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
with open({str(log)!r}, "a") as f:
    f.write(" ".join(args) + "\\n")
if "redis-cli" in args and "--scan" not in args:
    sys.stdin.read()
    print("7\\n2\\n0\\n0")
elif "kafka-lag" in args:
    print("total lag 12; KEDA metric 12 (lagThreshold 5, offsetResetPolicy earliest, 5 partitions); active")
elif args[-3:] == ["deployments", "-o", "json"]:
    print(json.dumps({{"items": [{{"metadata": {{"name": "celery-worker"}}, "status": {{"replicas": 3}}}},
                                 {{"metadata": {{"name": "kafka-consumer"}}, "status": {{}}}}]}}))
elif "jobs" in args:
    print(json.dumps({{"items": [{{"status": {{}}}}, {{"status": {{"conditions": [{{"type": "Failed",
                                                                              "status": "True"}}]}}}}]}}))
elif "pump" in args:
    print(f"{{args[args.index('pump') + 1]}}: sent {{args[args.index('--count') + 1]}}, failed 0 in 0.01 s")
elif "--scan" in args:
    print("users:p-1\\nusers:p-2")
else:
    sys.exit("unexpected")
""")
    fake.chmod(0o755)
    probe = e2e.KubectlProbe(context="kind-x", kubectl=str(fake), log=lambda m: None)
    specs = dict(DEFAULT_SPECS)
    got = {s.workload: s for s in probe.sample(["celery", "kafka", "workqueue"], specs)}
    assert (got["celery"].backlog, got["celery"].in_flight, got["celery"].replicas) == (7, 2, 3)
    assert (got["kafka"].backlog, got["kafka"].replicas) == (12, 0)
    assert (got["workqueue"].backlog, got["workqueue"].in_flight, got["workqueue"].replicas,
            got["workqueue"].failed) == (0, 0, 1, 1)
    probe.pump("rq", 3, "p")
    assert probe.processed("rq", ["p"]) == 2
    calls = log.read_text().splitlines()
    assert all(c.startswith("--context kind-x -n kedasuite ") for c in calls)
    assert any(c.endswith("exec -i deploy/redis -- redis-cli") for c in calls)
    assert any("get jobs -l scaledjob.keda.sh/name=workqueue -o json" in c for c in calls)
    assert any("exec deploy/pump -- kedasuite pump rq --count 3 --id-prefix p --no-progress" in c for c in calls)
    assert any("redis-cli --scan --pattern users:p-*" in c for c in calls)


def test_a_pump_that_loses_records_is_an_error() -> None:
    class Lossy(e2e.KubectlProbe):
        def run(self, *args: str, stdin: str | None = None, timeout: float | None = None) -> str:
            return "rq: sent 4, failed 1 in 0.01 s"

    with pytest.raises(e2e.KubectlError, match="expected 'sent 5, failed 0'"):
        Lossy().pump("rq", 5, "p")
