"""The time-stepped model of KEDA's and the HPA's loop (kedasuite.keda.model): golden traces and properties.

Each golden trace is worked out by hand from the rules in docs/keda-model.md
(#the-model-the-control-loop-over-time; KEDA v2.20.2 and Kubernetes' horizontal.go), with
the arithmetic written beside it. Events: KEDA polls at 0, P, 2P, ...; the HPA syncs every
15 s from 0; at the same instant KEDA acts first. Pure: no broker, no cluster.
"""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.keda.model import Options, legacy_scale_up_limit, legacy_scale_up_syncs
from kedasuite.keda.model.replay import Series, replay, step_response
from kedasuite.keda.objects import bundled_text
from kedasuite.keda.rules.executor import ScaleRequest, request_scale
from kedasuite.keda.rules.fallback import (
    FALLBACK_BEHAVIORS,
    Fallback,
    do_fallback,
    fallback_replicas,
    falls_back,
    has_valid_fallback,
)
from kedasuite.keda.rules.hpa import (
    Behavior,
    HPAMemory,
    MetricInput,
    Recommendation,
    ScaleEvent,
    behavior_from_manifest,
    calculate_scale_down_limit_with_behaviors,
    calculate_scale_up_limit_with_scaling_rules,
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
    get_longest_policy_period,
    get_replicas_change_per_period,
    mark_scale_events_outdated,
    normalize_desired_replicas,
    reconcile_autoscaler,
    stabilize_recommendation,
    stabilize_recommendation_with_behaviors,
    store_scale_event,
)
from kedasuite.keda.rules.modifiers import Modifiers, handle_scaling_modifiers
from kedasuite.keda.rules.scaling import Reading, decide_scaled_job
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger, scalers_in

BUNDLED = {s.name: s for s in scalers_in(d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict))}
CELERY = BUNDLED["celery-worker"]  # poll 15, cooldown 200, min 0, max 10; backlog T 10 A 5, in-flight T 10 A 0
KAFKA = BUNDLED["kafka-consumer"]  # poll 15, cooldown 60, min 0, max 5; lag T 5 A 2
WORKQUEUE = BUNDLED["workqueue"]  # poll 10, max 10, accurate; backlog T 5 A 2


def changes(steps, actor: str | None = None) -> list[tuple[float, int]]:
    return [(s.t, s.replicas) for s in steps if s.replicas != s.before and (actor is None or s.actor == actor)]


def at(steps, t: float, actor: str):
    return next(s for s in steps if s.t == t and s.actor == actor)


def series(**kw: tuple) -> dict[str, Series]:
    return {name: Series(tuple(points)) for name, points in kw.items()}


# --- the bundled numbers the traces below rely on ---------------------------------------------------


def test_the_local_overlay_numbers_the_traces_use() -> None:
    assert (CELERY.polling_interval, CELERY.cooldown_period, CELERY.min_replicas, CELERY.max_replicas) == (
        15,
        200,
        0,
        10,
    )
    assert [(t.name, t.target, t.activation) for t in CELERY.triggers] == [("backlog", 10, 5), ("in-flight", 10, 0)]
    assert CELERY.hpa_behavior is None and CELERY.fallback is None  # the legacy path
    assert (KAFKA.polling_interval, KAFKA.cooldown_period, KAFKA.max_replicas) == (15, 60, 5)
    assert [(t.target, t.activation) for t in KAFKA.triggers] == [(5, 2)]
    assert (WORKQUEUE.polling_interval, WORKQUEUE.max_replicas, WORKQUEUE.strategy) == (10, 10, "accurate")
    assert (WORKQUEUE.job_parallelism, WORKQUEUE.job_completions) == (1, 1)


# --- Celery: 0 -> 95 -> 0, legacy path ------------------------------------------------------------


def test_celery_step_0_95_0_on_the_legacy_path() -> None:
    steps = replay(CELERY, series(backlog=[(0, 0), (30, 95), (400, 0)]), 700)
    # t=30 KEDA: 95 > 5 active, target at 0: scales to max(min 0, 1) = 1, last active 30.
    # t=30 HPA: backlog ceil(95/10) = 10 (ratio 95/(10*1) = 9.5 is outside 10 %), in-flight 0;
    #           limit max(2*1, 4) = 4 -> 4.
    # t=45 HPA: ratio 95/40 = 2.4 -> 10; limit max(2*4, 4) = 8 -> 8.
    # t=60 HPA: ratio 95/80 = 1.19 > 1.1 -> 10; limit 16, max 10 -> 10.
    # t=75..390: ratio 95/100 = 0.95, within tolerance -> 10 (recommendation 10 each sync).
    # t=405 KEDA: backlog 0 <= 5 inactive; last active 390; cooldown until 390 + 200 = 590.
    # t=405..585 HPA: wants 0, the highest recommendation of the last 300 s is 10 -> holds 10.
    # t=600 KEDA: 600 > 590 -> scales 10 -> 0 directly (the HPA's window would hold until 390 + 300).
    assert changes(steps) == [(30, 1), (30, 4), (45, 8), (60, 10), (600, 0)]
    assert at(steps, 30, "hpa").reason.startswith(
        "HPA wants 10, limited to 4 this sync: legacy scale-up limit max(2 × 1, 4)"
    )
    assert (at(steps, 30, "hpa").recommendation, at(steps, 30, "hpa").limit) == (10, 4)
    assert at(steps, 75, "hpa").reason.startswith("HPA wants 10")
    assert "95/(10 × 10) = 0.95 within tolerance" in at(steps, 75, "hpa").reason
    assert at(steps, 450, "keda").reason.endswith("cooldown: 140 s of 200 left")  # 390 + 200 - 450
    held = at(steps, 405, "hpa")
    assert (held.recommendation, held.stabilized, held.replicas) == (0, 10, 10)
    assert "scale-down stabilization" in held.reason
    assert "scales 10 → minReplicaCount 0" in at(steps, 600, "keda").reason


def test_celery_with_a_behavior_block() -> None:
    behavior = {
        "scaleDown": {"stabilizationWindowSeconds": 60, "policies": [{"type": "Pods", "value": 2, "periodSeconds": 30}]}
    }
    scaler = dataclasses.replace(CELERY, hpa_behavior=behavior)
    steps = replay(scaler, series(backlog=[(0, 0), (30, 95), (400, 0)]), 700)
    # scaleUp left out: Kubernetes' defaults, window 0, Pods 4 and Percent 100 per 15 s, selectPolicy Max.
    # t=30: from 1, max(1 + 4, ceil(1 * 200 %) = 2) = 5.
    # t=45: the event at 30 is not after 45 - 15 = 30, so the period starts at 5: max(9, 10) = 10.
    # t=405..435: wants 0; window 60: recommendations after t - 60 include a 10 until t = 450.
    # t=450: recommendations after 390: 0, 0, 0 -> 0; scale-down policy Pods 2 per 30 s: 10 - 2 = 8.
    # t=465: the event at 450 is after 435: the period started at 10 -> 8 (no change).
    # t=480: 8 - 2 = 6; 510: 4; 540: 2; 570: max(2 - 2, minReplicas 1) = 1.
    # t=600 KEDA: last active 390 + 200 < 600 -> 0.
    assert changes(steps) == [(30, 1), (30, 5), (45, 10), (450, 8), (480, 6), (510, 4), (540, 2), (570, 1), (600, 0)]
    assert (
        "behavior.scaleUp policies 1 + 4 pods per 15 s = 5; ceil(1 × 200 %) per 15 s = 2" in at(steps, 30, "hpa").reason
    )
    assert "limited to 8 this sync" in at(steps, 450, "hpa").reason


def test_behavior_defaults_go_straight_down_after_their_window() -> None:
    # behavior: {} -> every default: scaleDown window 300 (the controller's), Percent 100 per 15 s.
    steps = replay(
        dataclasses.replace(CELERY, hpa_behavior={}, cooldown_period=1000), series(backlog=[(0, 95), (100, 0)]), 500
    )
    # t=0: 1 -> 5, t=15: 5 -> 10 (Pods 4 from 5 = 9, Percent 100 = 10).
    # Last recommendation of 10 at t=90; window 300 is exclusive (after t - 300): gone at t=390;
    # trunc(10 * 0 %) = 0, floored at minReplicas 1.
    assert changes(steps) == [(0, 1), (0, 5), (15, 10), (390, 1)]


# --- Kafka: the partition cap ---------------------------------------------------------------------


def test_kafka_lag_over_the_partition_cap() -> None:
    steps = replay(KAFKA, series(lag=[(0, 0), (15, 200)]), 120, Options(partitions=3))
    # 200 over 3 partitions: 200 // 5 = 40 > 3 -> metric 3 * 5 = 15; ceil(15/5) = 3, not max 5.
    # Activation compares the uncapped 200 > 2.
    assert changes(steps) == [(15, 1), (15, 3)]
    assert at(steps, 15, "keda").triggers[0].metric == 15
    assert at(steps, 15, "keda").triggers[0].raw == 200


def test_kafka_lag_between_p_t_and_p_plus_1_t_escapes_the_cap() -> None:
    steps = replay(KAFKA, series(lag=[(0, 17)]), 60, Options(partitions=3))
    # 17 // 5 = 3, not > 3: metric 17, ceil(17/5) = 4 consumers for 3 partitions.
    assert changes(steps) == [(0, 1), (0, 4)]


def test_kafka_limit_to_partitions_with_lag_and_allow_idle_consumers() -> None:
    limited = dataclasses.replace(
        KAFKA,
        triggers=(
            dataclasses.replace(
                KAFKA.triggers[0], metadata={**KAFKA.triggers[0].metadata, "limitToPartitionsWithLag": "true"}
            ),
        ),
    )
    steps = replay(limited, series(lag=[(0, (0, 40, 0))]), 60, Options(partitions=3))
    # one partition has lag: 40 // 5 = 8 > 1 -> metric 1 * 5 = 5 -> one consumer.
    assert changes(steps) == [(0, 1)]
    idle = dataclasses.replace(
        KAFKA,
        triggers=(
            dataclasses.replace(
                KAFKA.triggers[0], metadata={**KAFKA.triggers[0].metadata, "allowIdleConsumers": "true"}
            ),
        ),
    )
    steps = replay(idle, series(lag=[(0, 200)]), 60, Options(partitions=3))
    # no cap: ceil(200/5) = 40; limit max(2, 4) = 4, then max 5.
    assert changes(steps) == [(0, 1), (0, 4), (15, 5)]


# --- activation ----------------------------------------------------------------------------------


def test_activation_exactly_at_the_threshold_stays_at_zero() -> None:
    assert changes(replay(CELERY, series(backlog=[(0, 5)]), 600)) == []  # 5 > 5 is false
    assert changes(replay(CELERY, series(backlog=[(0, 6)]), 30))[:1] == [(0, 1)]  # 6 > 5; HPA: ceil(0.6) = 1
    assert changes(replay(KAFKA, series(lag=[(0, 2)]), 600)) == []  # activationLagThreshold 2
    assert changes(replay(WORKQUEUE, series(backlog=[(0, 2)]), 600)) == []  # activationListLength 2


def test_in_flight_alone_keeps_the_workload_awake() -> None:
    # in-flight has activation 0: one item in flight is active and refreshes the last active time.
    steps = replay(CELERY, series(backlog=[(0, 95), (100, 0)], **{"in-flight": [(0, 0), (100, 3), (300, 0)]}), 600)
    assert changes(steps, "keda") == [(0, 1), (495, 0)]  # last active 285 (in-flight 3 > 0); 285 + 200 < 495


# --- fallback ------------------------------------------------------------------------------------


def test_fallback_after_failure_threshold_failures() -> None:
    scaler = dataclasses.replace(CELERY, fallback={"failureThreshold": 3, "replicas": 6})
    steps = replay(scaler, series(backlog=[(0, 95), (120, None), (600, 0)]), 900)
    # 0 -> 1 (KEDA) -> 4 -> 8 (15) -> 10 (30). From 120 the backlog read fails; every read counts:
    # 120 KEDA #1, 120 HPA #2 (invalid metric and the rest asks for less: the HPA holds),
    # 135 KEDA #3 (<= 3: error, KEDA keeps 10), 135 HPA #4 > 3: fallback reports 6 * 10 = 60, active.
    # HPA: ceil(60/10) = 6, but the last recommendation of 10 (t=105) stays in the window until
    # 105 < t - 300, i.e. t = 420 -> 6. While the fallback lasts KEDA refreshes the last active time.
    # 600: reads succeed again, 0: inactive; last active 585 -> 0 once t > 785 -> 795.
    assert changes(steps) == [(0, 1), (0, 4), (15, 8), (30, 10), (420, 6), (795, 0)]
    assert at(steps, 120, "keda").triggers[0].error == "read failed (1 of failureThreshold 3)"
    assert at(steps, 120, "hpa").reason.startswith("HPA holds 10: cannot read backlog")
    fb = at(steps, 135, "hpa").triggers[0]
    assert (fb.fallback, fb.metric, fb.active) == (True, 60, True)
    assert "failed 4 times > failureThreshold 3" in fb.note
    assert at(steps, 150, "keda").active


def test_without_fallback_an_unreadable_trigger_holds_the_count() -> None:
    steps = replay(CELERY, series(backlog=[(0, 95), (120, None)]), 900)
    assert changes(steps) == [(0, 1), (0, 4), (15, 8), (30, 10)]  # never to 0: the error blocks the cooldown
    assert "no fallback" in at(steps, 600, "keda").reason


def test_fallback_current_replicas_if_higher() -> None:
    scaler = dataclasses.replace(
        CELERY, fallback={"failureThreshold": 0, "replicas": 2, "behavior": "currentReplicasIfHigher"}
    )
    steps = replay(scaler, series(backlog=[(0, 95), (60, None)]), 90)
    fb = at(steps, 60, "keda").triggers[0]  # first failure > 0; max(current 10, 2) = 10 -> 100
    assert (fb.fallback, fb.metric) == (True, 100)


# --- ScaledJob -----------------------------------------------------------------------------------


def jobs(steps) -> list[tuple[float, int, int]]:
    return [(s.t, s.created, s.replicas) for s in steps]


def sj(strategy: str, **kw) -> Scaler:
    return dataclasses.replace(WORKQUEUE, strategy=strategy, **kw)


@pytest.mark.parametrize(
    ("strategy", "extra", "expected"),
    [
        # queue 30 from t=5, T 5 -> maxScale = ceil(min(30/5, MAXC 10)) = 6; Jobs wait 15 s pending and
        # run 25 s: a Job created at t counts as running until t + 40 and as pending until t + 15.
        # default: E = maxScale - R. 10: 6; 20..40: 6 - 6 = 0; 50: the first six ended, 6.
        ("default", {}, [(0, 0, 0), (10, 6, 6), (20, 0, 6), (30, 0, 6), (40, 0, 6), (50, 6, 6)]),
        # accurate: 10: 6 + 0 - 0 <= 10 -> 6 - P 0 = 6. 20: R 6, P 6: 6 + 6 - 6 <= 10 -> 6 - 6 = 0.
        # 30: P 0: 6 + 6 > 10 -> 10 - 6 = 4. 40: R 10, P 4: 12 > 10 -> 0. 50: R 4 -> 6 - 0 = 6.
        ("accurate", {}, [(0, 0, 0), (10, 6, 6), (20, 0, 6), (30, 4, 10), (40, 0, 10), (50, 6, 10)]),
        # eager: E = min(MAXC - R - P, maxScale), scaleTo MAXC. 10: 6. 20: min(10 - 6 - 6, 6) < 0 -> 0.
        # 30: min(4, 6) = 4. 40: min(10 - 10 - 4, 6) -> 0. 50: min(6, 6) = 6.
        ("eager", {}, [(0, 0, 0), (10, 6, 6), (20, 0, 6), (30, 4, 10), (40, 0, 10), (50, 6, 10)]),
        # custom, deduction 0, 50 %: E = min(6 - trunc(R * 0.5), 10). 10: 6. 20: 6 - 3 = 3 (9).
        # 30: 6 - trunc(4.5) = 2 (11: custom does not cap by running Jobs). 40: 6 - 5 = 1 (12).
        # 50: the six of t=10 ended, R 6: 6 - 3 = 3 (9).
        (
            "custom",
            {"custom_running_percentage": 0.5},
            [(0, 0, 0), (10, 6, 6), (20, 3, 9), (30, 2, 11), (40, 1, 12), (50, 3, 9)],
        ),
    ],
)
def test_scaled_job_under_each_strategy(strategy: str, extra: dict, expected: list) -> None:
    steps = replay(
        sj(strategy, **extra), series(backlog=[(0, 0), (5, 30)]), 50, Options(job_seconds=25, job_pending_seconds=15)
    )
    assert jobs(steps) == expected


@pytest.mark.parametrize(
    ("strategy", "extra", "created"),
    [
        # Observed by a cluster: 6 running, 2 of them pending; queue 30 -> maxScale 6, MAXC 10.
        ("default", {}, 0),  # 6 - 6
        ("accurate", {}, 4),  # 6 + 6 - 2 = 10, not > 10 -> 6 - 2
        ("eager", {}, 2),  # min(10 - 6 - 2, 6)
        ("custom", {"custom_running_percentage": 0.5}, 3),  # min(6 - 0 - trunc(3.0), 10)
    ],
)
def test_scaled_job_strategies_with_running_and_pending_jobs(strategy: str, extra: dict, created: int) -> None:
    steps = replay(sj(strategy, **extra), series(backlog=[(0, 30)], running=[(0, 6)], pending=[(0, 2)]), 0)
    assert (steps[0].created, steps[0].pending, steps[0].replicas) == (created, 2, 6 + created)


def test_scaled_job_parallelism_and_completions() -> None:
    scaler = sj("default", job_parallelism=2, job_completions=4)
    steps = replay(scaler, series(backlog=[(0, 10)]), 120, Options(job_seconds=30))
    # maxScale ceil(10/5) = 2 Jobs; each runs ceil(4/2) = 2 waves of 30 s = 60 s with 2 pods.
    assert jobs(steps)[:8] == [
        (0, 2, 2),
        (10, 0, 2),
        (20, 0, 2),
        (30, 0, 2),
        (40, 0, 2),
        (50, 0, 2),
        (60, 2, 2),
        (70, 0, 2),
    ]
    assert steps[0].pods == 4


def test_scaled_job_max_replica_count_caps_accurate() -> None:
    steps = replay(WORKQUEUE, series(backlog=[(0, 500)]), 20, Options(job_seconds=100))
    # maxScale = ceil(min(500/5, 10)) = 10; then R 10: 10 + 10 > 10 -> 10 - 10 = 0.
    assert jobs(steps) == [(0, 10, 10), (10, 0, 10), (20, 0, 10)]


# --- the rest of KEDA's loop ----------------------------------------------------------------------


def test_idle_replica_count_and_min_replicas() -> None:
    scaler = dataclasses.replace(CELERY, min_replicas=2, idle_replicas=0, cooldown_period=60)
    steps = replay(scaler, series(backlog=[(0, 0), (30, 95), (100, 0)]), 400)
    # Active from idle 0: max(min 2, 1) = 2; the HPA (min 2): ceil(95/10) = 10, limit max(4, 4) = 4, then 8, 10.
    # Inactive from 105, last active 90: idle 0 once t > 150 -> 165.
    assert changes(steps)[:4] == [(30, 2), (30, 4), (45, 8), (60, 10)]
    assert (165, 0) in changes(steps)


def test_initial_cooldown_period_before_the_first_activity() -> None:
    scaler = dataclasses.replace(CELERY, initial_cooldown_period=100)
    steps = replay(scaler, {}, 200, Options(start_replicas=3))
    # Never active: 3 replicas stay until t > 0 + 100 -> the poll at 105. (Meanwhile the HPA wants 0, held
    # at 3 by the initial recommendation, recordInitialRecommendation, within its 300 s window.)
    assert changes(steps, "keda") == [(105, 0)]
    assert at(steps, 45, "keda").reason.endswith("initial cooldown: 55 s of 100 left")


def test_what_if_overrides() -> None:
    steps = replay(
        CELERY,
        series(backlog=[(0, 0), (30, 95), (400, 0)]),
        700,
        Options(cooldown_period=60, stabilization_window=30, polling_interval=5),
    )
    # polls every 5 s: last active 395, zero once t > 455 -> 460; the HPA's 30 s window lets it down first:
    # recommendations of 10 until 390, 0 from 405. The legacy path drops only those *before* t - 30
    # (Before(cutoff)), so at 420 the 10 of 390 still counts; at 435 it is gone -> floor 1.
    assert changes(steps)[-2:] == [(435, 1), (460, 0)]
    assert Options(cooldown_period=60).deviations(CELERY) == ["cooldownPeriod 60 s (manifest: 200 s)"]


def test_scaling_modifiers_are_modelled() -> None:
    a = Trigger("a", "redis", "a", target=10, activation=0)
    b = Trigger("b", "redis", "b", target=10, activation=0)
    scaler = Scaler(
        SCALED_OBJECT,
        "so",
        (a, b),
        max_replicas=20,
        polling_interval=15,
        cooldown_period=60,
        scaling_modifiers={"formula": "a + 2 * b", "target": "5", "activationTarget": "10"},
    )
    steps = replay(scaler, series(a=[(0, 4), (30, 12)], b=[(0, 3)]), 60)
    # 0: 4 + 2 * 3 = 10, not > activationTarget 10. 30: 12 + 6 = 18 > 10 -> 1; HPA: ceil(18/5) = 4, limit 4.
    assert changes(steps) == [(30, 1), (30, 4)]


@pytest.mark.parametrize("formula", ["a > 1 ? 2 : 3", "a ?? 0", "float(a)", "nope + 1"])
def test_scaling_modifiers_the_model_cannot_evaluate_are_refused(formula: str) -> None:
    a = Trigger("a", "redis", "a", target=10, activation=0)
    scaler = Scaler(SCALED_OBJECT, "so", (a,), scaling_modifiers={"formula": formula, "target": "5"})
    with pytest.raises(InputError, match="which the model does not evaluate"):
        replay(scaler, {}, 30)


def test_bad_behavior_and_fallback_are_refused_clearly() -> None:
    with pytest.raises(InputError, match="selectPolicy 'Fastest': one of Max, Min, Disabled"):
        replay(dataclasses.replace(CELERY, hpa_behavior={"scaleUp": {"selectPolicy": "Fastest"}}), {}, 30)
    with pytest.raises(InputError, match="fallback needs failureThreshold and replicas"):
        replay(dataclasses.replace(CELERY, fallback={"replicas": 2}), {}, 30)


def test_select_policy_disabled_blocks_scale_up() -> None:
    scaler = dataclasses.replace(CELERY, hpa_behavior={"scaleUp": {"selectPolicy": "Disabled"}})
    steps = replay(scaler, series(backlog=[(0, 95)]), 60)
    assert changes(steps) == [(0, 1)]  # KEDA's wake is its own; the HPA may not add any
    assert "selectPolicy Disabled" in at(steps, 15, "hpa").reason


# --- the HPA's rules, one pure function each (kedasuite.keda.rules.hpa) ----------------------------


def _behavior(**raw: object) -> Behavior:
    behavior = behavior_from_manifest(raw)
    assert behavior is not None
    return behavior


PERCENT_100 = _behavior(scaleUp={"policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]})
UP_BOTH = {
    "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 15},
        {"type": "Percent", "value": 100, "periodSeconds": 15},
    ]
}
DOWN_BOTH = {
    "policies": [
        {"type": "Percent", "value": 50, "periodSeconds": 15},
        {"type": "Pods", "value": 2, "periodSeconds": 15},
    ]
}


def test_percent_100_per_15_s_doubles_at_most_once_per_period() -> None:
    up = PERCENT_100.up
    assert calculate_scale_up_limit_with_scaling_rules(3, (), (), up, 100.0)[0] == 6
    # 3 -> 6 at t = 100: within the period the count it started from is 3 again, so no more.
    events = (ScaleEvent(3, 100.0),)
    assert get_replicas_change_per_period(15, events, 110.0) == 3
    assert calculate_scale_up_limit_with_scaling_rules(6, events, (), up, 110.0)[0] == 6
    # An event exactly one period old no longer counts: from 6 it may double again.
    assert get_replicas_change_per_period(15, events, 115.0) == 0
    assert calculate_scale_up_limit_with_scaling_rules(6, events, (), up, 115.0)[0] == 12
    # A scale-down inside the period counts back: 3 -> 6 -> 4 started the period at 3, so still 6.
    assert calculate_scale_up_limit_with_scaling_rules(4, events, (ScaleEvent(2, 105.0),), up, 110.0)[0] == 6


def test_a_sync_every_5_s_doubles_only_once_per_period() -> None:
    """reconcile_autoscaler keeps the HPA's own rescales as events: at 1 replica asking for 100,
    Percent 100 per 15 s gives 2 at t = 0, holds 2 at t = 5 and 10, and 4 at t = 15."""
    memory, current, counts, reasons = HPAMemory(), 1, [], []
    for now in (0.0, 5.0, 10.0, 15.0, 20.0, 30.0):
        result, memory = reconcile_autoscaler(
            memory, now, current, [MetricInput("m", 1000.0, 10.0)], 1, 100, PERCENT_100
        )
        current = result.desired
        counts.append(current)
        reasons.append(result.reason)
    assert counts == [2, 2, 2, 4, 4, 8]
    assert (
        "limited to 2 this sync: behavior.scaleUp policies ceil(1 × 200 %) per 15 s = 2; selectPolicy Max: 2"
        in (reasons[1])
    )
    # The event of t = 0 is outdated by t = 30 (older than the 15 s period): its slot holds the +4.
    assert memory.up_events == (ScaleEvent(4, 30.0), ScaleEvent(2, 15.0)) and memory.down_events == ()


def test_select_policy_max_takes_the_largest_change_and_min_the_smallest() -> None:
    up_max = _behavior(scaleUp={**UP_BOTH, "selectPolicy": "Max"}).up
    up_min = _behavior(scaleUp={**UP_BOTH, "selectPolicy": "Min"}).up
    # At 10: Pods 4 allows 14, Percent 100 allows 20.
    assert calculate_scale_up_limit_with_scaling_rules(10, (), (), up_max, 0.0) == (
        20,
        "behavior.scaleUp policies 10 + 4 pods per 15 s = 14; ceil(10 × 200 %) per 15 s = 20; selectPolicy Max: 20",
    )
    assert calculate_scale_up_limit_with_scaling_rules(10, (), (), up_min, 0.0)[0] == 14
    down_max = _behavior(scaleDown={**DOWN_BOTH, "selectPolicy": "Max"}).down
    down_min = _behavior(scaleDown={**DOWN_BOTH, "selectPolicy": "Min"}).down
    # At 10: Percent 50 allows 5, Pods 2 allows 8. Max: the largest change, the fewest replicas.
    assert calculate_scale_down_limit_with_behaviors(10, (), (), down_max, 0.0)[0] == 5
    assert calculate_scale_down_limit_with_behaviors(10, (), (), down_min, 0.0)[0] == 8
    # Percent going down truncates: 5 × 50 % = 2.5 -> 2.
    assert calculate_scale_down_limit_with_behaviors(5, (), (), down_max, 0.0)[0] == 2


def test_select_policy_disabled_holds_the_count() -> None:
    behavior = _behavior(scaleUp={"selectPolicy": "Disabled"}, scaleDown={"selectPolicy": "Disabled"})
    assert calculate_scale_up_limit_with_scaling_rules(3, (), (), behavior.up, 0.0) == (
        3,
        "behavior.scaleUp.selectPolicy Disabled",
    )
    assert calculate_scale_down_limit_with_behaviors(3, (), (), behavior.down, 0.0)[0] == 3
    memory = HPAMemory()
    assert convert_desired_replicas_with_behavior_rate(3, 9, 1, 10, memory, behavior, 0.0) == (
        3,
        3,
        "behavior.scaleUp.selectPolicy Disabled",
    )
    assert convert_desired_replicas_with_behavior_rate(3, 1, 1, 10, memory, behavior, 0.0) == (
        3,
        None,
        "behavior.scaleDown.selectPolicy Disabled",
    )
    # maxReplicas, not the policy, is the bound named when it is the lower of the two.
    assert convert_desired_replicas_with_behavior_rate(3, 9, 1, 5, memory, PERCENT_100, 0.0) == (
        5,
        5,
        "maxReplicaCount 5",
    )


def test_the_stabilization_window_keeps_the_highest_recommendation() -> None:
    recs = (Recommendation(8, 0.0), Recommendation(3, 100.0))
    best, recorded = stabilize_recommendation(recs, 250.0, 2, 300.0)
    assert best == 8 and recorded == (*recs, Recommendation(2, 250.0))
    assert stabilize_recommendation(recs, 300.0, 2, 300.0)[0] == 8  # exactly the window old: still counts
    # Past the window the 8 is forgotten and its slot reused for the new recommendation.
    best, recorded = stabilize_recommendation(recs, 301.0, 2, 300.0)
    assert best == 3 and recorded == (Recommendation(2, 301.0), Recommendation(3, 100.0))
    normalized = normalize_desired_replicas(recs, 250.0, 8, 2, 1, 10, 300.0)
    assert (normalized.replicas, normalized.stabilized, normalized.limit) == (8, 8, 10)
    assert normalized.reason.startswith("HPA wants 2, holds 8: the highest recommendation of the last 300 s is 8")
    assert recs == (Recommendation(8, 0.0), Recommendation(3, 100.0))  # the input is left as it was


def test_the_legacy_bounds_name_what_moved_the_count() -> None:
    assert convert_desired_replicas_with_rules(2, 30, 1, 10) == (4, 4, "legacy scale-up limit max(2 × 2, 4)")
    assert convert_desired_replicas_with_rules(6, 30, 1, 10) == (10, 10, "maxReplicaCount 10")
    assert convert_desired_replicas_with_rules(3, 0, 2, 10) == (2, 6, "minReplicas 2")
    assert convert_desired_replicas_with_rules(3, 5, 2, 10) == (5, 6, "")


def test_the_behavior_windows_bound_the_current_count() -> None:
    behavior = _behavior(scaleUp={"stabilizationWindowSeconds": 30}, scaleDown={"stabilizationWindowSeconds": 60})
    # Down: the highest of the last 60 s (5) holds the count above the 2 asked for.
    stabilized, how, _ = stabilize_recommendation_with_behaviors((Recommendation(5, 0.0),), 30.0, 8, 2, behavior)
    assert stabilized == 5 and "highest recommendation of the last 60 s" in how
    assert stabilize_recommendation_with_behaviors((Recommendation(5, 0.0),), 60.0, 8, 2, behavior)[0] == 2
    # Up: the lowest of the last 30 s (3) holds it below the 9 asked for.
    stabilized, how, recorded = stabilize_recommendation_with_behaviors((Recommendation(3, 0.0),), 10.0, 3, 9, behavior)
    assert stabilized == 3 and "lowest recommendation of the last 30 s" in how
    assert recorded == (Recommendation(3, 0.0), Recommendation(9, 10.0))
    # A recommendation older than both windows gives its slot to the new one.
    assert stabilize_recommendation_with_behaviors((Recommendation(3, 0.0),), 61.0, 3, 9, behavior)[2] == (
        Recommendation(9, 61.0),
    )


def test_store_scale_event_reuses_an_outdated_slot() -> None:
    behavior = _behavior(scaleUp={"policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]})
    ups = (ScaleEvent(2, 0.0), ScaleEvent(1, 50.0))
    assert get_longest_policy_period(behavior.up) == 60
    assert mark_scale_events_outdated(ups, 60, 70.0) == (ScaleEvent(2, 0.0, True), ScaleEvent(1, 50.0))
    stored_up, stored_down = store_scale_event(behavior, ups, (), 70.0, 3, 7)
    assert stored_up == (ScaleEvent(4, 70.0), ScaleEvent(1, 50.0)) and stored_down == ()
    stored_up, stored_down = store_scale_event(behavior, ups, (), 70.0, 7, 4)
    assert stored_up == ups and stored_down == (ScaleEvent(3, 70.0),)
    assert store_scale_event(None, ups, (), 70.0, 3, 7) == (ups, ())  # the legacy path keeps none


# --- KEDA's poll for a ScaledObject (kedasuite.keda.rules.executor) -------------------------------


def test_request_scale_wakes_from_zero_and_waits_out_the_cooldown() -> None:
    # CELERY: minReplicaCount 0, cooldownPeriod 200, initialCooldownPeriod 0.
    assert request_scale(CELERY, 30, 0, True, False, None, None) == ScaleRequest(
        1, 30, "active; scales 0 → max(minReplicaCount, 1) = 1"
    )
    assert request_scale(CELERY, 45, 4, True, False, 30, None) == ScaleRequest(
        4, 45, "active; 4 replicas, the HPA is in charge"
    )
    errored = request_scale(CELERY, 45, 4, True, True, 30, None)
    assert (errored.replicas, errored.last_active) == (4, 30)  # active but erroring: not refreshed
    assert request_scale(CELERY, 100, 4, False, False, 30, None).reason == "cooldown: 130 s of 200 left"
    assert request_scale(CELERY, 230, 4, False, False, 30, None).replicas == 4  # strictly after the cooldown
    assert request_scale(CELERY, 231, 4, False, False, 30, None) == ScaleRequest(
        0, 30, "inactive for cooldownPeriod 200 s (since 30 s): scales 4 → minReplicaCount 0"
    )


def test_request_scale_with_errors_idle_replicas_and_initial_cooldown() -> None:
    # An erroring trigger holds the count, unless a fallback of 0 replicas lets the cooldown run.
    assert request_scale(CELERY, 300, 4, False, True, 30, None).replicas == 4
    assert request_scale(CELERY, 300, 4, False, True, 30, Fallback(3, 2)).replicas == 4
    assert request_scale(CELERY, 300, 4, False, True, 30, Fallback(3, 0)).replicas == 0
    idle = dataclasses.replace(CELERY, min_replicas=2, idle_replicas=0)
    assert request_scale(idle, 10, 0, True, False, None, None).replicas == 2
    assert request_scale(idle, 300, 3, False, False, 10, None).reason.endswith("scales 3 → idleReplicaCount 0")
    fresh = dataclasses.replace(CELERY, initial_cooldown_period=40)
    assert request_scale(fresh, 40, 1, False, False, None, None).reason == "initial cooldown: 0 s of 40 left"
    assert request_scale(fresh, 45, 1, False, False, None, None).replicas == 0
    floor = dataclasses.replace(CELERY, min_replicas=3)
    assert request_scale(floor, 0, 1, False, False, None, None).replicas == 3  # below the floor: up to it


# --- KEDA's fallback and scalingModifiers (kedasuite.keda.rules.fallback, .modifiers) --------------


def test_fallback_reports_the_metric_that_asks_for_its_replicas() -> None:
    static = Fallback(failure_threshold=2, replicas=3)
    assert not falls_back(static, 2) and falls_back(static, 3)  # only past the threshold
    behaviors = {b: fallback_replicas(dataclasses.replace(static, behavior=b), 5) for b in FALLBACK_BEHAVIORS}
    assert behaviors == {"static": 3, "currentReplicas": 5, "currentReplicasIfHigher": 5, "currentReplicasIfLower": 3}
    assert do_fallback(static, 10, "AverageValue", 5) == (30, "3 × 10")
    assert do_fallback(static, 10, "Value", 5) == (6.0, "3 × 10 / 5 ready")  # divided by the ready pods
    assert do_fallback(static, 10, "Value", 0)[0] is None


def test_scaling_modifiers_activate_strictly_above_the_activation_target() -> None:
    triggers = [Trigger("a", "redis", "a", 10, 0), Trigger("b", "redis", "b", 10, 0)]
    modifiers = Modifiers.from_manifest({"formula": "a + 2 * b", "target": "5", "activationTarget": "6"}, triggers)
    assert modifiers is not None
    assert handle_scaling_modifiers(modifiers, {"a": 2.0, "b": 2.0}) == (
        6.0,
        False,
        "a + 2 * b = 6 <= activationTarget 6",
    )
    assert handle_scaling_modifiers(modifiers, {"a": 3.0, "b": 2.0})[:2] == (7.0, True)
    assert handle_scaling_modifiers(modifiers, {"a": None, "b": 2.0})[:2] == (None, False)  # a read failed
    ratio = Modifiers.from_manifest({"formula": "a / b", "target": "1"}, triggers)
    assert ratio is not None and handle_scaling_modifiers(ratio, {"a": 1.0, "b": 0.0})[:2] == (None, False)


# --- what e2e uses --------------------------------------------------------------------------------


def test_legacy_scale_up_limit_and_syncs() -> None:
    assert [legacy_scale_up_limit(n) for n in (0, 1, 2, 3, 5)] == [4, 4, 4, 6, 10]
    assert legacy_scale_up_syncs(1, 10) == 3  # 1 -> 4 -> 8 -> 10 (the behavior defaults would take two)
    assert legacy_scale_up_syncs(1, 4) == 1


def test_step_response() -> None:
    r = step_response(CELERY, 95, start=30, hold=370, duration=700)
    assert (r.woke_at, r.peak, r.peak_at, r.zero_at) == (30, 10, 60, 600)
    assert r.changes()[0] == (30, 1)


# --- properties over random backlog series ------------------------------------------------------

backlogs = st.lists(st.tuples(st.integers(1, 120), st.integers(0, 250)), min_size=1, max_size=12)


def _series(points: list[tuple[int, int]]) -> dict[str, Series]:
    t, out = 0, []
    for dt, value in points:
        out.append((float(t), float(value)))
        t += dt
    return {"backlog": Series(tuple(out))}


def check_properties(scaler: Scaler, steps) -> None:
    s = scaler
    hpa_min = max(s.min_replicas, 1)
    last_active = None
    for step in steps:
        assert 0 <= step.replicas <= s.max_replicas
        if step.actor == "keda":
            if step.active:  # no read fails in these series, so every active poll refreshes the last active time
                last_active = step.t
            if step.before == 0 and step.replicas > 0:
                assert step.replicas == hpa_min  # from 0 KEDA sets max(min, 1), never more
            elif step.replicas != step.before:
                assert step.replicas == 0
                # zero only after cooldownPeriod without activity
                assert last_active is None or step.t - last_active > s.cooldown_period
        elif step.before > 0 and s.hpa_behavior is None:
            assert step.replicas <= max(legacy_scale_up_limit(step.before), step.before)
            if step.stabilized is not None:  # never below the stabilized recommendation (within the limits)
                assert step.replicas >= min(max(step.stabilized, hpa_min), step.limit)
                assert step.replicas == min(max(step.stabilized, hpa_min), step.limit)
        elif step.before == 0:
            assert step.replicas == 0  # the HPA does nothing at 0


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(points=backlogs, cooldown=st.sampled_from([0, 30, 200]), window=st.sampled_from([None, 0, 45, 300]))
def test_properties_on_the_legacy_path(points: list[tuple[int, int]], cooldown: int, window: int | None) -> None:
    options = Options(cooldown_period=cooldown, stabilization_window=window)
    steps = replay(CELERY, _series(points), 1200, options)
    check_properties(options.apply(CELERY), steps)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(points=backlogs)
def test_properties_with_a_behavior(points: list[tuple[int, int]]) -> None:
    scaler = dataclasses.replace(
        CELERY, hpa_behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]}}
    )
    steps = replay(scaler, _series(points), 1200)
    check_properties(scaler, steps)
    # The Pods policy as the HPA applies it (calculateScaleUpLimitWithScalingRules in
    # pkg/controller/podautoscaler/horizontal.go): at most 2 pods above the count at the start
    # of the last 60 s, that count being today's less what the HPA added in them plus what it
    # removed. A scale-down inside the period raises the limit: 2 -> 1 -> 4 within 60 s is
    # allowed. KEDA's wake from 0 is not an HPA event.
    hpa = [s for s in steps if s.actor == "hpa" and s.replicas != s.before]
    for i, step in enumerate(hpa):
        if step.replicas <= step.before:
            continue
        period = [s for s in hpa[:i] if s.t > step.t - 60]
        added = sum(s.replicas - s.before for s in period if s.replicas > s.before)
        removed = sum(s.before - s.replicas for s in period if s.replicas < s.before)
        assert step.replicas <= step.before - added + removed + 2, (step, period)


# --- pause annotations (rules.spec.Pause, rules.executor.handle_paused) -----------------------------


def _annotated(scaler: Scaler, **annotations: str) -> Scaler:
    names = {k.replace("_", "-"): v for k, v in annotations.items()}
    return dataclasses.replace(
        scaler, pause=Pause.from_annotations(scaler.kind, {f"autoscaling.keda.sh/{k}": v for k, v in names.items()})
    )


def test_pause_annotations_are_read_as_keda_reads_them() -> None:
    assert Pause.from_annotations(SCALED_OBJECT, None) == Pause()
    p = Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused-replicas": "3"})
    assert (p.paused, p.replicas, p.text()) == (True, 3, "autoscaling.keda.sh/paused-replicas=3")
    # paused is a Go boolean; anything that is not one pauses too
    assert not Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused": "false"}).paused
    assert Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused": "yes"}).paused
    # paused-replicas pauses whatever its value; one that is no count sets nothing
    bad = Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused-replicas": "three"})
    assert (bad.paused, bad.replicas, bad.bad_replicas) == (True, None, "three")
    assert Pause.from_annotations(SCALED_OBJECT, {"autoscaling.keda.sh/paused-replicas": "-1"}).replicas is None
    # a ScaledJob reads autoscaling.keda.sh/paused alone
    job = Pause.from_annotations(SCALED_JOB, {"autoscaling.keda.sh/paused-replicas": "2"})
    assert not job.paused and job.given == ()


def test_paused_replicas_pin_the_count_and_the_hpa_is_gone() -> None:
    scaler = _annotated(CELERY, paused_replicas="3")
    steps = replay(scaler, series(backlog=[(0, 95), (100, 0)]), 700)
    assert changes(steps) == [(0, 3)]  # never the HPA's 10, never the cooldown's 0
    assert all("deleted it while paused" in s.reason for s in steps if s.actor == "hpa")
    assert at(steps, 0, "keda").reason == "KEDA: paused (autoscaling.keda.sh/paused-replicas=3): scales 0 → 3"


def test_paused_keeps_whatever_count_there_is() -> None:
    steps = replay(_annotated(CELERY, paused="true"), series(backlog=[(0, 95)]), 300, Options(start_replicas=2))
    assert changes(steps) == [] and at(steps, 300, "keda").replicas == 2


def test_paused_scale_in_blocks_keda_and_the_hpa_going_down() -> None:
    scaler = _annotated(CELERY, paused_scale_in="true")
    steps = replay(scaler, series(backlog=[(0, 95), (100, 0)]), 900)
    # Up as usual, though on the behavior path the annotation creates (scale-up default: +4 pods or
    # +100 % per 15 s, the larger: 1 -> 5 -> 10); then no way down, neither the HPA's nor KEDA's step to 0.
    assert changes(steps) == [(0, 1), (0, 5), (15, 10)]
    assert "paused-scale-in: stays at 10" in at(steps, 900, "keda").reason


def test_paused_scale_out_blocks_the_wake_from_zero() -> None:
    steps = replay(_annotated(CELERY, paused_scale_out="true"), series(backlog=[(0, 95)]), 120)
    assert changes(steps) == []
    assert "paused-scale-out: stays at 0" in at(steps, 0, "keda").reason
    # At 4 replicas the HPA may go down but not up.
    down = replay(_annotated(CELERY, paused_scale_out="true"), series(backlog=[(0, 95)]), 60, Options(start_replicas=4))
    assert changes(down) == []


def test_force_activation_wakes_and_never_lets_it_reach_zero() -> None:
    steps = replay(_annotated(CELERY, force_activation="true"), series(backlog=[(0, 0)]), 900)
    assert changes(steps) == [(0, 1)]


def test_a_paused_scaled_job_creates_no_jobs() -> None:
    steps = replay(_annotated(WORKQUEUE, paused="true"), series(backlog=[(0, 30)]), 60)
    assert all(s.created == 0 for s in steps) and "paused" in steps[0].reason


# --- a ScaledJob with several triggers (rules.scaledjob.is_scaled_job_active) -------------------------


def test_a_scaled_job_caps_each_trigger_at_max_replicas_before_combining() -> None:
    """getScaledJobMetrics caps each trigger's q / T at maxReplicaCount first (CalculateQueueLengthAndMaxValue):
    200/1 and 5/1 with max 25 average to (25 + 5) / 2 = 15 Jobs, not min(102.5, 25) = 25."""
    a, b = Trigger("a", "redis", "a", 1, 0), Trigger("b", "redis", "b", 1, 0)
    sj = Scaler(SCALED_JOB, "sj", (a, b), max_replicas=25, multiple_scalers_calculation="avg")
    decision = decide_scaled_job(sj, [Reading(a, 200), Reading(b, 5)])
    assert decision.count == 15
    assert "avg of 2 active triggers: queue 103, 15 Jobs' worth (each trigger's capped at 25 first)" in decision.reason
    assert (
        decide_scaled_job(
            dataclasses.replace(sj, multiple_scalers_calculation="sum"), [Reading(a, 200), Reading(b, 5)]
        ).count
        == 25
    )


# --- scalingModifiers: metric sources without targets, with fallback ---------------------------------


def test_scaling_modifiers_need_no_target_per_trigger() -> None:
    """With scalingModifiers the triggers are metric sources (KEDA builds them with asMetricSource): a
    metrics-api trigger without targetValue is accepted, and the composite's target scales."""
    obj = {
        "kind": "ScaledObject",
        "metadata": {"name": "so"},
        "spec": {
            "scaleTargetRef": {"name": "d"},
            "pollingInterval": 15,
            "advanced": {"scalingModifiers": {"formula": "api * 2", "target": "4"}},
            "triggers": [{"type": "metrics-api", "name": "api", "metadata": {"url": "http://x", "valueLocation": "v"}}],
        },
    }
    scaler = Scaler.from_manifest(obj)
    assert scaler.triggers[0].target == 0
    steps = replay(scaler, series(api=[(0, 10)]), 30)
    assert changes(steps) == [(0, 1), (0, 4), (15, 5)]  # 10 * 2 = 20 over 4: 5, at the legacy path's pace
    plain = dict(obj, spec={**obj["spec"], "advanced": {}})
    with pytest.raises(InputError, match="trigger api has target 0; it must be positive"):
        replay(Scaler.from_manifest(plain), {}, 30)
    # Without modifiers a metrics-api trigger's targetValue and activationTargetValue are read.
    meta = {"url": "http://x", "targetValue": "7", "activationTargetValue": "2"}
    read = Trigger.from_manifest(0, {"type": "metrics-api", "metadata": meta})
    assert (read.target, read.activation, read.source) == (7, 2, "http://x")


def test_fallback_with_scaling_modifiers_reports_the_composite_metric() -> None:
    a, b = Trigger("a", "redis", "a", 10, 0), Trigger("b", "redis", "b", 10, 0)
    scaler = Scaler(
        SCALED_OBJECT,
        "so",
        (a, b),
        max_replicas=20,
        polling_interval=15,
        scaling_modifiers={"formula": "a + b", "target": "5"},
        fallback={"failureThreshold": 1, "replicas": 6},
    )
    steps = replay(scaler, series(a=[(0, 10), (30, None)], b=[(0, 0)]), 60)
    # 30 KEDA: failure 1 (error, holds 2); 30 HPA: failure 2 > 1: the composite is 6 * 5 = 30, which
    # asks for 6: 4 this sync (legacy limit max(2 * 2, 4)), 6 at the next.
    assert changes(steps) == [(0, 1), (0, 2), (30, 4), (45, 6)]
    fb = at(steps, 30, "hpa").triggers[0]
    assert (fb.fallback, fb.metric) == (True, 30)
    # KEDA uses such a fallback only with a whole-number target (HasValidFallback): errors go through.
    odd = dataclasses.replace(scaler, scaling_modifiers={"formula": "a + b", "target": "2.5"})
    held = replay(odd, series(a=[(0, 10), (30, None)], b=[(0, 0)]), 120)
    assert "fallback unused" in at(held, 60, "keda").triggers[0].error
    assert has_valid_fallback(Fallback(1, 6), "5") and not has_valid_fallback(Fallback(1, 6), "2.5")
