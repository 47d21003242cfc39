"""KEDA v2.20.2's own test cases, as tables, held against the model's rules.

Each row names the upstream file, its test function and the sub-case (a ``t.Run`` name, a Ginkgo
``It``, or the assertion), gives the inputs in the model's terms and the output upstream asserts,
and is run against the public functions of :mod:`kedasuite.keda.rules` (and, for the e2e tests,
the control loop of :mod:`kedasuite.keda.model` that ``simulate`` replays). A case the model
cannot express stays in its table with ``expressible=False`` and the reason, and is skipped with
it: the tables are the record of what was ported and what was not (``docs/keda-model.md``,
"Upstream's own tests").

Sources: github.com/kedacore/keda at tag v2.20.2, the files in :data:`UPSTREAM_FILES`. The inputs
and outputs are upstream's; the code around them is the suite's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kedasuite.cli import main
from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.keda.model import Options, ScaledObjectLoop, Step
from kedasuite.keda.model.replay import Series, replay
from kedasuite.keda.model.triggers import TriggerReader, Value
from kedasuite.keda.rules.activation import get_scaled_object_state
from kedasuite.keda.rules.executor import request_scale
from kedasuite.keda.rules.fallback import Fallback, falls_back, has_valid_fallback
from kedasuite.keda.rules.modifiers import Modifiers, calculate_scaling_modifiers_formula
from kedasuite.keda.rules.scaledjob import (
    PodStatus,
    ScalerMetrics,
    calculate_queue_length_and_max_value,
    create_jobs,
    get_effective_max_scale,
    get_scaling_decision,
    is_job_pending,
    is_scaled_job_active,
    scaled_job_new_jobs,
    scaled_job_replica_counts,
)
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger

DATA = Path(__file__).parent / "data"

SO_EXECUTOR = "pkg/scaling/executor/scale_scaledobjects_test.go"
JOBS_EXECUTOR = "pkg/scaling/executor/scale_jobs_test.go"
HANDLER = "pkg/scaling/scale_handler_test.go"
SJ_METRICS = "pkg/scaling/scaledjob/metrics_test.go"
FALLBACK = "pkg/fallback/fallback_test.go"
FORMULA = "pkg/scaling/modifiers/formula_test.go"
E2E_MODIFIERS = "tests/internals/scaling_modifiers/scaling_modifiers_test.go"
E2E_FALLBACK_MODIFIERS = "tests/internals/fallback/fallback_scaling_modifiers_test.go"
E2E_INITIAL_COOLDOWN = "tests/internals/initial_delay_cooldownperiod/initial_delay_cooldownperiod_test.go"
E2E_ACCURATE = "tests/internals/scaling_strategies/accurate_scaling_strategy/accurate_scaling_strategy_test.go"
E2E_EAGER = "tests/internals/scaling_strategies/eager_scaling_strategy/eager_scaling_strategy_test.go"
E2E_SJ_VALIDATION = "tests/internals/scaled_job_validation/scaled_job_validation_test.go"
E2E_PAUSE = "tests/internals/pause_scaledobject/pause_scaledobject_test.go"
E2E_PAUSE_EXPLICITLY = "tests/internals/pause_scaledobject_explicitly/pause_scaledobject_explicitly_test.go"
E2E_PAUSE_IN = "tests/internals/pause_scale_in/pause_scale_in_test.go"
E2E_PAUSE_OUT = "tests/internals/pause_scale_out/pause_scale_out_test.go"
E2E_PAUSE_JOB = "tests/internals/pause_scaledjob/pause_scaledjob_test.go"

#: Every upstream file a table draws on, in the order ``docs/keda-model.md`` counts them.
UPSTREAM_FILES = (
    SO_EXECUTOR,
    JOBS_EXECUTOR,
    HANDLER,
    SJ_METRICS,
    FALLBACK,
    FORMULA,
    E2E_MODIFIERS,
    E2E_FALLBACK_MODIFIERS,
    E2E_INITIAL_COOLDOWN,
    E2E_ACCURATE,
    E2E_EAGER,
    E2E_SJ_VALIDATION,
    E2E_PAUSE,
    E2E_PAUSE_EXPLICITLY,
    E2E_PAUSE_IN,
    E2E_PAUSE_OUT,
    E2E_PAUSE_JOB,
)


@dataclass(frozen=True)
class Case:
    """One upstream case: where it is, what goes in, what upstream asserts comes out."""

    file: str
    test: str
    sub: str
    given: Mapping[str, Any] = field(default_factory=dict)
    expected: Any = None
    expressible: bool = True
    #: Why the model cannot express it (``expressible=False``), or what of it is left out.
    note: str = ""

    def __str__(self) -> str:
        return f"{self.test}/{self.sub}"


def no(file: str, test: str, sub: str, why: str) -> Case:
    """A case kept in its table although the model cannot express it."""
    return Case(file, test, sub, expressible=False, note=why)


def ids(cases: Sequence[Case]) -> list[str]:
    return [str(c).replace(" ", "_") for c in cases]


def expressible(case: Case) -> None:
    if not case.expressible:
        pytest.skip(f"{case.file} {case}: not expressible: {case.note}")


# --- pkg/scaling/executor/scale_scaledobjects_test.go: RequestScale -------------------------------

PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
PAUSED_SCALE_IN = "autoscaling.keda.sh/paused-scale-in"
PAUSED_SCALE_OUT = "autoscaling.keda.sh/paused-scale-out"
FORCE_ACTIVATION = "autoscaling.keda.sh/force-activation"
PAUSED = "autoscaling.keda.sh/paused"

HPA_STATUS = (
    "the HPAActive and Ready conditions KEDA writes to the ScaledObject's status from the HPA's own "
    "conditions; the model keeps counts and times, not status conditions"
)


def so_case(test: str, sub: str, expected: tuple[int, bool], **given: Any) -> Case:
    """``expected``: (replicas after the poll, whether it records a last active time)."""
    return Case(SO_EXECUTOR, test, sub, given, expected)


REQUEST_SCALE = [
    so_case("TestScaleToMinReplicasWhenNotActive", "min 0, 10 replicas, inactive", (0, False), spec={"minReplicaCount": 0}, current=10, active=False),
    so_case("TestScaleToMinReplicasFromLowerInitialReplicaCount", "min 5, 1 replica, inactive", (5, False), spec={"minReplicaCount": 5}, current=1, active=False),
    so_case("TestScaleFromMinReplicasWhenActive", "min 0, 0 replicas, active", (1, True), spec={"minReplicaCount": 0}, current=0, active=True),
    so_case("TestScaleToIdleReplicasWhenNotActive", "idle 0, min 5, 10 replicas, inactive", (0, False), spec={"idleReplicaCount": 0, "minReplicaCount": 5}, current=10, active=False),
    so_case("TestScaleFromIdleToMinReplicasWhenActive", "idle 0, min 5, 0 replicas, active", (5, True), spec={"idleReplicaCount": 0, "minReplicaCount": 5}, current=0, active=True),
    # The executor returns at once (paused condition, no activity); the controller's
    # scaleTargetToPausedCount sets the count, which the model's poll does in the same step.
    so_case("TestScaleToPausedReplicasCount", "paused-replicas 0, 2 replicas, active", (0, False), annotations={PAUSED_REPLICAS: "0"}, current=2, active=True),
    so_case("TestEventWitTriggerInfo", "idle 0, min 5, 2 replicas, active (the count; not the event's text)", (5, True), spec={"idleReplicaCount": 0, "minReplicaCount": 5}, current=2, active=True),
    so_case("TestNoScaleToMinReplicasWhenNotActiveAndPauseScaleInAnnotationSet", "paused-scale-in, min 0, 10 replicas", (10, False), spec={"minReplicaCount": 0}, annotations={PAUSED_SCALE_IN: "true"}, current=10, active=False),
    so_case("TestNoScaleToIdleReplicasWhenNotActiveAndPauseScaleInAnnotationSet", "paused-scale-in, idle 0, min 5, 10 replicas", (10, False), spec={"idleReplicaCount": 0, "minReplicaCount": 5}, annotations={PAUSED_SCALE_IN: "true"}, current=10, active=False),
    so_case("TestScaleFromMinReplicasWhenActivationForced", "force-activation, inactive, 0 replicas", (1, True), spec={"minReplicaCount": 0}, annotations={FORCE_ACTIVATION: "true"}, current=0, active=False),
    so_case("TestNoScaleFromMinReplicasWhenActiveAndPausedScaleOutAnnotationSet", "paused-scale-out, min 0, 0 replicas, active", (0, False), spec={"minReplicaCount": 0}, annotations={PAUSED_SCALE_OUT: "true"}, current=0, active=True),
    so_case("TestNoScaleFromIdleReplicasToMinReplicasWhenActiveAndPausedScaleOutAnnotationSet", "paused-scale-out, idle 0, min 5, max 10, 0 replicas, active", (0, False), spec={"idleReplicaCount": 0, "minReplicaCount": 5, "maxReplicaCount": 10}, annotations={PAUSED_SCALE_OUT: "true"}, current=0, active=True),
    no(SO_EXECUTOR, "TestGetHPAHealth_NoHPAName", "no HPA name in the status", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_HPAReadError", "the HPA cannot be read", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_ScalingActiveTrue", "ScalingActive true", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_ScalingActiveFalse", "ScalingActive false", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_ScalingDisabled", "ScalingDisabled at 0 replicas", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_NoGracePeriod", "no grace period", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_EmptyReasonFallback", "empty reason", HPA_STATUS),
    no(SO_EXECUTOR, "TestGetHPAHealth_NoScalingActiveConditionYet", "no ScalingActive yet", HPA_STATUS),
    so_case("TestRequestScale_AllHealthy_HPAHealthy", "min 1, 1 replica, active (the count; not Ready)", (1, True), spec={"minReplicaCount": 1}, current=1, active=True),
    so_case("TestRequestScale_ScalerError_HPAHealthy", "inactive, a scaler errors, no fallback: keeps the count", (1, False), spec={"minReplicaCount": 1}, current=1, active=False, error=True),
    so_case("TestRequestScale_PartialError_HPAHealthy", "active, a scaler errors: keeps the count, no last active time", (1, False), spec={"minReplicaCount": 1}, current=1, active=True, error=True),
    no(SO_EXECUTOR, "TestRequestScale_NoError_HPAUnhealthy", "HPA unhealthy", HPA_STATUS),
    no(SO_EXECUTOR, "TestRequestScale_ScalerError_HPAUnhealthy", "scaler error, HPA unhealthy", HPA_STATUS),
    no(SO_EXECUTOR, "TestRequestScale_TransientHPAGap_ReadyStaysTrue", "transient HPA metric gap", HPA_STATUS),
    no(SO_EXECUTOR, "TestRequestScale_HPAHealthy_HPAActiveTrue", "HPAActive true", HPA_STATUS),
    no(SO_EXECUTOR, "TestRequestScale_HPAScalingDisabled_HPAActiveTrueWithDistinctReason", "ScalingDisabled reason", HPA_STATUS),
    no(SO_EXECUTOR, "TestCheckHPAHealth_CannotObserve_HPAActiveUnchanged", "HPA not observable", HPA_STATUS),
    no(SO_EXECUTOR, "TestRequestScale_HPAActive_NotInSharedDefaults", "initial conditions", HPA_STATUS),
    so_case("TestRequestScale_ScalerErrorWithFallback_HPAHealthy", "inactive, error, fallback of 5: keeps the count", (1, False), spec={"minReplicaCount": 1}, fallback={"failureThreshold": 0, "replicas": 5}, current=1, active=False, error=True),
]  # fmt: skip


def scaled_object(spec: Mapping[str, Any] | None = None, annotations: Mapping[str, str] | None = None) -> Scaler:
    return Scaler.from_manifest(
        {
            "kind": SCALED_OBJECT,
            "metadata": {"name": "name", "annotations": dict(annotations or {})},
            "spec": {"scaleTargetRef": {"name": "name"}, **(spec or {})},
        }
    )


@pytest.mark.parametrize("case", REQUEST_SCALE, ids=ids(REQUEST_SCALE))
def test_request_scale(case: Case) -> None:
    expressible(case)
    g = case.given
    scaler = scaled_object(g.get("spec"), g.get("annotations"))
    fallback = Fallback.from_manifest(g.get("fallback"))
    # Upstream's object has no LastActiveTime and a zero creation time: "now" is after any cooldown.
    request = request_scale(scaler, 1.0, g["current"], g["active"], g.get("error", False), None, fallback)
    assert (request.replicas, request.last_active is not None) == case.expected, request.reason


# --- pkg/scaling/executor/scale_jobs_test.go: the strategies, min replicas, pending Jobs ------------

#: (maxScale, runningJobCount, pendingJobCount, maxReplicaCount, scaleTo): upstream's GetEffectiveMaxScale arguments.
Args = tuple[int, int, int, int, int]
#: A probe on which default, custom (deduction 10) and accurate all differ: 1, -7 and 3.
PROBE: Args = (3, 2, 0, 5, 1)


def strategy_case(test: str, sub: str, strategy: Mapping[str, Any], args: Args, expected: Any) -> Case:
    """``strategy``: the ScaledJob's ``scalingStrategy``; ``expected``: E, or (E, scaleTo)."""
    return Case(JOBS_EXECUTOR, test, sub, {"strategy": strategy, "args": args}, expected)


CUSTOM_HALF = {"strategy": "custom", "customScalingQueueLengthDeduction": 1, "customScalingRunningJobPercentage": "0.5"}
ACCURATE = {"strategy": "accurate", "customScalingQueueLengthDeduction": 0, "customScalingRunningJobPercentage": "0"}
EAGER = {"strategy": "eager", "customScalingQueueLengthDeduction": 0, "customScalingRunningJobPercentage": "0"}
NIL_DEDUCTION = {"strategy": "custom", "customScalingRunningJobPercentage": "0.5"}

STRATEGIES = [
    strategy_case("TestNewNewScalingStrategy", "custom, deduction 10, percentage 0 is custom", {"strategy": "custom", "customScalingQueueLengthDeduction": 10, "customScalingRunningJobPercentage": "0"}, PROBE, -7),
    strategy_case("TestNewNewScalingStrategy", "accurate is accurate", ACCURATE, PROBE, 3),
    strategy_case("TestNewNewScalingStrategy", "no strategy is default", {}, PROBE, 1),
    strategy_case("TestNewNewScalingStrategy", "default is default", {"strategy": "default", "customScalingQueueLengthDeduction": 0, "customScalingRunningJobPercentage": "0"}, PROBE, 1),
    strategy_case("TestDefaultScalingStrategy", "(3, 2, 0, 5, 1)", {}, (3, 2, 0, 5, 1), 1),
    strategy_case("TestDefaultScalingStrategy", "(2, 0, 0, 5, 1)", {}, (2, 0, 0, 5, 1), 2),
    strategy_case("TestCustomScalingStrategy", "deduction 1, 0.5: (3, 2, 0, 5, 1)", CUSTOM_HALF, (3, 2, 0, 5, 1), 1),
    strategy_case("TestCustomScalingStrategy", "deduction 1, 0.5: (10, 0, 0, 10, 1)", CUSTOM_HALF, (10, 0, 0, 10, 1), 9),
    strategy_case("TestCustomScalingStrategy", "no parameters: (3, 2, 0, 5, 1)", {"strategy": "custom"}, (3, 2, 0, 5, 1), 1),
    strategy_case("TestCustomScalingStrategy", "no parameters: (2, 0, 0, 5, 1)", {"strategy": "custom"}, (2, 0, 0, 5, 1), 2),
    strategy_case("TestCustomScalingStrategy", "deduction 1, empty percentage is default", {"strategy": "custom", "customScalingQueueLengthDeduction": 1, "customScalingRunningJobPercentage": ""}, PROBE, 1),
    strategy_case("TestCustomScalingStrategy", "deduction 2, 0: (3, 2, 0, 5, 1)", {"strategy": "custom", "customScalingQueueLengthDeduction": 2, "customScalingRunningJobPercentage": "0"}, (3, 2, 0, 5, 1), 1),
    strategy_case("TestCustomScalingStrategy", "deduction -2, 0: (3, 2, 0, 4, 1)", {"strategy": "custom", "customScalingQueueLengthDeduction": -2, "customScalingRunningJobPercentage": "0"}, (3, 2, 0, 4, 1), 4),
    strategy_case("TestCustomScalingStrategyNilQueueLengthDeduction", "0.5, no deduction: (10, 2, 0, 100, 1)", NIL_DEDUCTION, (10, 2, 0, 100, 1), 9),
    strategy_case("TestCustomScalingStrategyNilQueueLengthDeduction", "0.5, no deduction: (10, 0, 0, 100, 1)", NIL_DEDUCTION, (10, 0, 0, 100, 1), 10),
    strategy_case("TestCustomScalingStrategyNilQueueLengthDeduction", "from the ScaledJob: (10, 2, 0, 100, 1)", NIL_DEDUCTION, (10, 2, 0, 100, 1), 9),
    strategy_case("TestAccurateScalingStrategy", "(3, 2, 0, 5, 1)", ACCURATE, (3, 2, 0, 5, 1), 3),
    strategy_case("TestAccurateScalingStrategy", "(5, 2, 0, 5, 1)", ACCURATE, (5, 2, 0, 5, 1), 3),
    strategy_case("TestAccurateScalingStrategy", "(3, 4, 2, 10, 1)", ACCURATE, (3, 4, 2, 10, 1), 1),
    strategy_case("TestAccurateScalingStrategy", "(5, 4, 2, 5, 1)", ACCURATE, (5, 4, 2, 5, 1), 1),
    strategy_case("TestAccurateScalingStrategy", "(3, 3, 3, 5, 1)", ACCURATE, (3, 3, 3, 5, 1), 0),
    strategy_case("TestAccurateScalingStrategy", "(15, 15, 15, 20, 1)", ACCURATE, (15, 15, 15, 20, 1), 0),
    strategy_case("TestAccurateScalingStrategy", "(10, 10, 10, 15, 1)", ACCURATE, (10, 10, 10, 15, 1), 0),
    strategy_case("TestAccurateScalingStrategy", "(20, 15, 10, 20, 1)", ACCURATE, (20, 15, 10, 20, 1), 5),
    strategy_case("TestEagerScalingStrategy", "(4, 3, 0, 10, 1)", EAGER, (4, 3, 0, 10, 1), (4, 10)),
    strategy_case("TestEagerScalingStrategy", "(4, 0, 3, 10, 1)", EAGER, (4, 0, 3, 10, 1), (4, 10)),
    strategy_case("TestEagerScalingStrategy", "(4, 7, 0, 10, 1)", EAGER, (4, 7, 0, 10, 1), (3, 10)),
    strategy_case("TestEagerScalingStrategy", "(4, 1, 6, 10, 1)", EAGER, (4, 1, 6, 10, 1), (3, 10)),
    strategy_case("TestEagerScalingStrategy", "(15, 0, 0, 10, 1)", EAGER, (15, 0, 0, 10, 1), (10, 10)),
]  # fmt: skip


def scaled_job(spec: Mapping[str, Any] | None = None, annotations: Mapping[str, str] | None = None) -> Scaler:
    return Scaler.from_manifest(
        {
            "kind": SCALED_JOB,
            "metadata": {"name": "test", "annotations": dict(annotations or {})},
            "spec": {"jobTargetRef": {"template": {"spec": {"containers": [{"name": "c"}]}}}, **(spec or {})},
        }
    )


@pytest.mark.parametrize("case", STRATEGIES, ids=ids(STRATEGIES))
def test_get_effective_max_scale(case: Case) -> None:
    expressible(case)
    sj = scaled_job({"scalingStrategy": dict(case.given["strategy"])})
    max_scale, running, pending, max_count, scale_to = case.given["args"]
    effective, to = get_effective_max_scale(
        sj.strategy, max_scale, running, pending, max_count, scale_to, sj.custom_deduction, sj.custom_running_percentage
    )
    assert ((effective, to) if isinstance(case.expected, tuple) else effective) == case.expected


#: getScalingDecision with a default-strategy ScaledJob (maxReplicaCount 100): (running, scaleTo, maxScale, pending).
DECISIONS = [
    Case(JOBS_EXECUTOR, "TestRunningJobCountSmallerMinReplicaCount", "min 2, none running", {"min": 2, "args": (0, 0, 0, 0)}, (2, 2)),
    Case(JOBS_EXECUTOR, "TestRunningJobCountIsDeductedFromMinReplicaCount", "min 2, 1 running", {"min": 2, "args": (1, 0, 0, 0)}, (1, 1)),
    Case(JOBS_EXECUTOR, "TestRunningJobCountGreaterOrEqualMinReplicaCountExecutesScalingStrategy", "min 1, 1 running, maxScale 2", {"min": 1, "args": (1, 2, 2, 0)}, (2, 2)),
]  # fmt: skip


@pytest.mark.parametrize("case", DECISIONS, ids=ids(DECISIONS))
def test_get_scaling_decision(case: Case) -> None:
    expressible(case)
    minimum, max_count = scaled_job_replica_counts(case.given["min"], 100)
    running, scale_to, max_scale, pending = case.given["args"]
    assert get_scaling_decision(running, scale_to, max_scale, pending, minimum, max_count) == case.expected


READY = "Ready"
SCHEDULED = "PodScheduled"
BOTH = frozenset({READY, SCHEDULED})


def pods(*conditions: frozenset[str], phase: str = "") -> tuple[PodStatus, ...]:
    return tuple(PodStatus(phase, c) for c in conditions)


def pending_case(sub: str, job_pods: tuple[PodStatus, ...], conditions: tuple[str, ...], pending: int) -> Case:
    return Case(JOBS_EXECUTOR, "TestGetPendingJobCount", sub, {"pods": job_pods, "conditions": conditions}, pending)


PENDING = [
    pending_case("0: Succeeded", (PodStatus("Succeeded"),), (), 0),
    pending_case("1: Running", (PodStatus("Running"),), (), 0),
    pending_case("2: Failed", (PodStatus("Failed"),), (), 1),
    pending_case("3: Pending", (PodStatus("Pending"),), (), 1),
    pending_case("4: Unknown", (PodStatus("Unknown"),), (), 1),
    pending_case("5: conditions, none met", pods(frozenset()), (READY, SCHEDULED), 1),
    pending_case("6: conditions, Ready only", pods(frozenset({READY})), (READY, SCHEDULED), 1),
    pending_case("7: conditions, PodScheduled only", pods(frozenset({SCHEDULED})), (READY, SCHEDULED), 1),
    pending_case("8: conditions, both", pods(BOTH), (READY, SCHEDULED), 0),
    pending_case("9: two pods, both met", pods(BOTH, BOTH), (READY, SCHEDULED), 0),
    pending_case("10: two pods, one met", pods(BOTH, frozenset({READY})), (READY, SCHEDULED), 0),
    pending_case("11: two pods, each half", pods(frozenset({READY}), frozenset({SCHEDULED})), (READY, SCHEDULED), 1),
    pending_case("12: three pods, the last met", pods(frozenset(), frozenset({READY}), BOTH), (READY, SCHEDULED), 0),
    pending_case("13: three pods, none met", pods(frozenset(), frozenset({READY}), frozenset({SCHEDULED})), (READY, SCHEDULED), 1),
    pending_case("14: no conditions, a Running pod", pods(frozenset({READY}), phase="Running"), (), 0),
    Case(JOBS_EXECUTOR, "TestAreAllPendingPodConditionsFulfilledBugScenario", "two pods with every condition", {"pods": pods(BOTH, BOTH), "conditions": (READY, SCHEDULED)}, 0),
]  # fmt: skip


@pytest.mark.parametrize("case", PENDING, ids=ids(PENDING))
def test_pending_jobs(case: Case) -> None:
    expressible(case)
    assert int(is_job_pending(case.given["pods"], case.given["conditions"])) == case.expected


HISTORY = (
    "finished Jobs and their history limits; the model drops a Job once it finishes and keeps no history to clean up"
)
JOBS_OTHER = [
    Case(JOBS_EXECUTOR, "TestCreateJobs", "scaleTo 2, maxScale 2: two Jobs", {"active": True, "scale_to": 2, "max_scale": 2}, 2),
    no(JOBS_EXECUTOR, "TestCleanUpNormalCase", "history limit 2 of 3 complete", HISTORY),
    no(JOBS_EXECUTOR, "TestCleanUpMixedCaseWithSortByTime", "limits 1 and 2, oldest first", HISTORY),
    no(JOBS_EXECUTOR, "TestCleanUpDefaultValue", "default limits of 100", HISTORY),
    no(JOBS_EXECUTOR, "TestGenerateJobs", "labels, annotations, restartPolicy", "the Job objects KEDA builds (labels, annotations, restartPolicy): the model counts Jobs, it does not build them (the manifest check covers restartPolicy)"),
]  # fmt: skip


@pytest.mark.parametrize("case", JOBS_OTHER, ids=ids(JOBS_OTHER))
def test_create_jobs(case: Case) -> None:
    expressible(case)
    g = case.given
    assert create_jobs(g["active"], g["scale_to"], g["max_scale"]) == case.expected


# --- pkg/scaling/scale_handler_test.go: a ScaledObject's state, a ScaledJob's several scalers -------

STATE = [
    Case(HANDLER, "TestCheckScaledObjectScalersWithError", "both scalers error", {"active": [False, False], "error": [True, True]}, (False, True)),
    Case(HANDLER, "TestCheckScaledObjectScalersWithTriggerAuthError", "the scaler cannot be built (not the event text)", {"active": [False], "error": [True]}, (False, True)),
    Case(HANDLER, "TestCheckScaledObjectFindFirstActiveNotIgnoreOthers", "one active, one failing", {"active": [True, False], "error": [False, True]}, (True, True)),
]  # fmt: skip


@pytest.mark.parametrize("case", STATE, ids=ids(STATE))
def test_get_scaled_object_state(case: Case) -> None:
    expressible(case)
    assert get_scaled_object_state(case.given["active"], case.given["error"]) == case.expected


#: Upstream's four scalers (queue, target, active): 20/1, 10/2, 5/3 active, 7/4 inactive.
FOUR = ((20, 1, True), (10, 2, True), (5, 3, True), (7, 4, False))


def job_state(test: str, sub: str, minimum: int, maximum: int, calculation: str, scalers: Any, expected: Any) -> Case:
    """``expected``: (active, queueLength, maxValue) as getScaledJobState returns them."""
    given = {"min": minimum, "max": maximum, "calculation": calculation, "scalers": scalers}
    return Case(HANDLER, test, sub, given, expected)


SCALED_JOB_STATE = [
    job_state("TestGetScaledJobState", "one scaler 20/2, min 1, default calculation", 1, 100, "", ((20, 2, True),), (True, 20, 10)),
    job_state("TestGetScaledJobState", "max", 0, 100, "max", FOUR, (True, 20, 20)),
    job_state("TestGetScaledJobState", "min", 0, 100, "min", FOUR, (True, 5, 2)),
    job_state("TestGetScaledJobState", "avg", 0, 100, "avg", FOUR, (True, 12, 9)),
    job_state("TestGetScaledJobState", "sum", 0, 100, "sum", FOUR, (True, 35, 27)),
    job_state("TestGetScaledJobState", "sum, maxReplicaCount 25", 0, 25, "sum", FOUR, (True, 35, 25)),
    job_state("TestGetScaledJobStateIfQueueEmptyButMinReplicaCountGreaterZero", "empty queue, min 1", 1, 100, "", ((0, 1, True),), (True, 0, 0)),
]  # fmt: skip


@pytest.mark.parametrize("case", SCALED_JOB_STATE, ids=ids(SCALED_JOB_STATE))
def test_scaled_job_state(case: Case) -> None:
    """getScaledJobMetrics (each scaler through CalculateQueueLengthAndMaxValue, capped at
    maxReplicaCount) and IsScaledJobActive (the combination)."""
    expressible(case)
    g = case.given
    minimum, max_count = scaled_job_replica_counts(g["min"], g["max"])
    metrics = [ScalerMetrics(*calculate_queue_length_and_max_value(q, t, max_count), a) for q, t, a in g["scalers"]]
    assert is_scaled_job_active(metrics, g["calculation"], minimum, max_count) == case.expected


CACHE = [
    Case(HANDLER, "TestGetScaledObjectMetrics_DirectCall", "no useCachedMetrics: the HPA's request reads the scaler again", {"cached": False}, 2),
    Case(HANDLER, "TestGetScaledObjectMetrics_FromCache", "useCachedMetrics: the HPA gets the poll's value, no second read", {"cached": True}, 1),
    no(HANDLER, "TestGetScaledObjectMetrics_InParallel", "concurrent requests", "concurrent metric requests against one scaler cache: the model's reads are sequential"),
]  # fmt: skip


@pytest.mark.parametrize("case", CACHE, ids=ids(CACHE))
def test_cached_metrics(case: Case) -> None:
    """A KEDA poll and an HPA sync at one instant: the trigger is read once with useCachedMetrics."""
    expressible(case)
    trigger = Trigger("test-metric-name", "external", "", 10, 0, use_cached_metrics=case.given["cached"])
    scaler = Scaler(SCALED_OBJECT, "name", (trigger,), min_replicas=1, polling_interval=30)
    reads: list[float] = []

    def read(name: str, t: float) -> Value:
        reads.append(t)
        return 10.0

    steps = ScaledObjectLoop(scaler, Options(start_replicas=1)).advance(0, read)
    assert [s.actor for s in steps] == ["keda", "hpa"]
    assert len(reads) == case.expected


RESULT_STATUS = "how KEDA patches the ScaledObject's status (conditions, last active time, trigger activity) after a poll; the model has no status object"
HANDLER_OTHER = [
    Case(HANDLER, "TestScalingModifiersFormula", "trigger_one + trigger_two over 2 and 5", {"formula": "trigger_one + trigger_two", "metrics": {"trigger_one": 2.0, "trigger_two": 5.0}}, 7.0),
    no(HANDLER, "TestGetScaledObjectStateRecordsResourceScalerActiveMetric", "a cpu trigger alone is always active", "cpu and memory triggers (and the keda_scaler_active metric KEDA records): the model has no resource triggers"),
    no(HANDLER, "TestGetScaledObjectStateSkipsResourceScalerActiveMetricWithModifiers", "formula over a cpu trigger", "cpu and memory triggers (and the keda_scaler_active metric KEDA records): the model has no resource triggers"),
    no(HANDLER, "TestHandleResult_PatchesWhenConditionsChange", "status patched", RESULT_STATUS),
    no(HANDLER, "TestHandleResult_SkipsPatchWhenUnchanged", "no patch", RESULT_STATUS),
    no(HANDLER, "TestHandleResult_SetsLastActiveTime", "last active time stored", RESULT_STATUS),
    no(HANDLER, "TestHandleResult_TriggersActivityUpdatesAndRemovals", "triggers activity", RESULT_STATUS),
    no(HANDLER, "TestHandleResult_PushScalerDeltaMerge", "push scaler delta", RESULT_STATUS),
    no(HANDLER, "TestHandleResult_DeltaDoesNotOverwriteConcurrentChanges", "concurrent changes", RESULT_STATUS),
    no(HANDLER, "TestGetScaledJobMetrics_CacheClosedIsBenign", "cache replaced mid-read", "the scalers cache being replaced mid-read: the model has no cache"),
    no(HANDLER, "TestGetScaledObjectState_CacheClosedIsBenign", "cache replaced mid-read", "the scalers cache being replaced mid-read: the model has no cache"),
]  # fmt: skip


@pytest.mark.parametrize("case", HANDLER_OTHER, ids=ids(HANDLER_OTHER))
def test_scaling_modifiers_formula_in_the_handler(case: Case) -> None:
    expressible(case)
    names = list(case.given["metrics"])
    modifiers = Modifiers.from_manifest(
        {"formula": case.given["formula"], "target": "2"}, [Trigger(n, "fake", "", 1, 0) for n in names]
    )
    assert modifiers is not None
    assert calculate_scaling_modifiers_formula(modifiers, case.given["metrics"]) == case.expected


# --- pkg/scaling/scaledjob/metrics_test.go ---------------------------------------------------------

SEVERAL_METRICS = "a trigger with several metric specs, whose targets KEDA averages: each of the model's triggers reports one metric, with its own target"
SJ_METRICS_CASES = [
    no(SJ_METRICS, "TestTargetAverageValue", "no specs: 0", SEVERAL_METRICS),
    no(SJ_METRICS, "TestTargetAverageValue", "1 and 1: 1", SEVERAL_METRICS),
    no(SJ_METRICS, "TestTargetAverageValue", "5, 5 and 3: 4.33", SEVERAL_METRICS),
    no(SJ_METRICS, "TestTargetAverageValue", "5, 5 and 4: 4.67", SEVERAL_METRICS),
]


@pytest.mark.parametrize("case", SJ_METRICS_CASES, ids=ids(SJ_METRICS_CASES))
def test_target_average_value(case: Case) -> None:
    expressible(case)


# --- pkg/fallback/fallback_test.go -----------------------------------------------------------------


def fallback_case(sub: str, expected: Mapping[str, Any], **given: Any) -> Case:
    """``given``: fallback, the trigger's target, failures before, the read (``None``: fails), current
    replicas; ``expected``: the metric reported (``None``: the error goes through) and failures after."""
    return Case(FALLBACK, "TestFallback", sub, given, expected)


TEN = {"failureThreshold": 3, "replicas": 10}
FALLBACK_CASES = [
    fallback_case("should return the expected metric when fallback is disabled", {"metric": 5.0}, fallback=None, target=3, failures=0, value=5.0),
    fallback_case("should initialise the health status on success when fallback is enabled and status is empty", {"metric": 6.0, "failures": 0}, fallback=TEN, target=3, failures=0, value=6.0),
    fallback_case("should reset the health status when scaler metrics are available when fallback is enabled", {"metric": 6.0, "failures": 0}, fallback=TEN, target=3, failures=5, value=6.0),
    fallback_case("should not reset the health status when fallback is not enabled", {"metric": 6.0, "failures": 5}, fallback=None, target=3, failures=5, value=6.0),
    fallback_case("should propagate the error when fallback is disabled", {"metric": None}, fallback=None, target=3, failures=0, value=None),
    fallback_case("should bump the number of failures when metrics call fails", {"metric": None, "failures": 1}, fallback=TEN, target=10, failures=0, value=None),
    fallback_case("should return a normalised metric when number of failures are beyond threshold", {"metric": 100.0, "failures": 4}, fallback=TEN, target=10, failures=3, value=None, current=5),
    fallback_case("should ignore error if we fail to update kubernetes status (no status writes in the model)", {"metric": 100.0, "failures": 4}, fallback=TEN, target=10, failures=3, value=None, current=5),
    fallback_case("should return error when fallback is enabled but scaledobject has invalid parameter", {"metric": None}, fallback={"failureThreshold": -3, "replicas": 10}, target=10, failures=3, value=None),
    no(FALLBACK, "TestFallback", "should set the fallback condition when a fallback exists in the scaled object", "the Fallback condition on the ScaledObject's status: the model reports each trigger's fallback in its steps, not as a condition"),
    no(FALLBACK, "TestFallback", "should set the fallback condition to false if the config is invalid", "the Fallback condition on the ScaledObject's status: the model reports each trigger's fallback in its steps, not as a condition"),
    fallback_case("should use fallback replicas when current replicas is lower when behavior is 'currentReplicasIfHigher'", {"metric": 100.0}, fallback={**TEN, "behavior": "currentReplicasIfHigher"}, target=10, failures=3, value=None, current=4),
    fallback_case("should use current replicas when behavior is 'currentReplicas'", {"metric": 60.0}, fallback={**TEN, "behavior": "currentReplicas"}, target=10, failures=3, value=None, current=6),
    fallback_case("should ignore current replicas when behavior is 'static'", {"metric": 100.0}, fallback={**TEN, "behavior": "static"}, target=10, failures=3, value=None, current=15),
    no(FALLBACK, "TestUpdateStatusConcurrency", "concurrent health updates", "concurrent writes of the health status: the model counts failures in one thread"),
]  # fmt: skip


@pytest.mark.parametrize("case", FALLBACK_CASES, ids=ids(FALLBACK_CASES))
def test_get_metrics_with_fallback(case: Case) -> None:
    expressible(case)
    g = case.given
    trigger = Trigger("metric", "external", "", g["target"], 0)
    raw = g["fallback"]
    if raw is not None and (raw["failureThreshold"] < 0 or raw["replicas"] < 0):
        # KEDA's webhook refuses it (CheckFallbackValid); at run time HasValidFallback lets the error through.
        assert not has_valid_fallback(Fallback(raw["failureThreshold"], raw["replicas"]))
        with pytest.raises(InputError, match=">= 0"):
            Fallback.from_manifest(raw)
        assert case.expected["metric"] is None
        return
    reader = TriggerReader(Scaler(SCALED_OBJECT, "so", (trigger,), fallback=raw), partitions=1)
    reader.failures[trigger.name] = g["failures"]
    state = reader.read(trigger, g["value"], g.get("current", 0))
    assert state.metric == case.expected["metric"]
    if "failures" in case.expected:
        assert reader.failures[trigger.name] == case.expected["failures"]


# --- pkg/scaling/modifiers/formula_test.go ---------------------------------------------------------

NAME_HELPER = "a case-insensitive lookup of metric names the scale handler uses to match the HPA's request; the model matches triggers by name"
PAIRS = "the pairing of KEDA's generated metric names (s0-...) with trigger names; the model's metrics are keyed by trigger name already"


def trigger_value(sub: str, failures: int | None, nil: bool, configured: bool = True) -> Case:
    """scalingModifierTriggerValue: a trigger's value goes into the formula unless its failures pass
    ``failureThreshold`` 3, the same strict gate as every fallback (``falls_back``)."""
    return Case(FORMULA, "TestScalingModifierTriggerValue", sub, {"failures": failures, "configured": configured}, nil)


FORMULA_CASES = [
    no(FORMULA, "TestArrayContainsElement", "element found exact case", NAME_HELPER),
    no(FORMULA, "TestArrayContainsElement", "element found case insensitive", NAME_HELPER),
    no(FORMULA, "TestArrayContainsElement", "element not found", NAME_HELPER),
    no(FORMULA, "TestArrayContainsElement", "empty array", NAME_HELPER),
    no(FORMULA, "TestArrayContainsElement", "empty element in non-empty array", NAME_HELPER),
    no(FORMULA, "TestArrayContainsElement", "empty element in array with empty string", NAME_HELPER),
    trigger_value("no fallback configured returns the metric value", None, False, configured=False),
    trigger_value("no health status for trigger returns the metric value", None, False),
    trigger_value("failures below threshold returns the metric value", 2, False),
    trigger_value("failures at threshold returns the metric value (gate is strict >)", 3, False),
    trigger_value("failures one over threshold returns nil", 4, True),
    trigger_value("failures exceed threshold returns nil", 5, True),
    trigger_value("healthy (failures reset to 0) returns the metric value", 0, False),
    no(FORMULA, "TestGetPairTriggerAndMetric", "no formula defined returns empty map", PAIRS),
    no(FORMULA, "TestGetPairTriggerAndMetric", "formula defined with valid trigger returns pair", PAIRS),
    no(FORMULA, "TestGetPairTriggerAndMetric", "formula defined with empty trigger returns error", PAIRS),
    no(FORMULA, "TestGetPairTriggerAndMetric", "nil advanced returns empty map", PAIRS),
    Case(FORMULA, "TestCalculateScalingModifiersFormula", "trigger1 + trigger2 over 2 and 5", {"formula": "trigger1 + trigger2", "metrics": {"trigger1": 2.0, "trigger2": 5.0}}, 7.0),
    no(FORMULA, "TestCalculateScalingModifiersFormulaFallbackReplicas", "trigger1 ?? trigger2, both failing: 7 × 2", "the ?? operator and fallback.behavior scalingModifiers: the model evaluates the arithmetic of expr-lang and refuses ?? by name"),
    no(FORMULA, "TestCalculateScalingModifiersFormulaNilCompiled", "no compiled formula", "a formula missing from KEDA's compiled cache: the model compiles the formula when it reads the manifest"),
]  # fmt: skip


@pytest.mark.parametrize("case", FORMULA_CASES, ids=ids(FORMULA_CASES))
def test_scaling_modifiers_formula(case: Case) -> None:
    expressible(case)
    if case.test == "TestScalingModifierTriggerValue":
        failures = case.given["failures"]
        fallback = Fallback(3, 5) if case.given["configured"] else None
        nil = fallback is not None and failures is not None and falls_back(fallback, failures)
        assert nil == case.expected
        return
    names = list(case.given["metrics"])
    modifiers = Modifiers.from_manifest(
        {"formula": case.given["formula"], "target": "2"}, [Trigger(n, "fake", "", 1, 0) for n in names]
    )
    assert modifiers is not None
    assert calculate_scaling_modifiers_formula(modifiers, case.given["metrics"]) == case.expected


# --- e2e tests (tests/internals/...), replayed through the control loop ------------------------------

#: A replay's checks: ("stays", t0, t1, n): every event in [t0, t1] ends at n; ("reaches", n, by): the
#: count is n at some event by then; ("at", t, n): the count after the events at or before t;
#: ("max", n): never above n.
Check = tuple[Any, ...]


def count_at(steps: Sequence[Step], t: float) -> int:
    done = [s for s in steps if s.t <= t]
    return done[-1].replicas if done else steps[0].before


def check(steps: Sequence[Step], checks: Sequence[Check]) -> None:
    for c in checks:
        if c[0] == "stays":
            _, t0, t1, n = c
            during = [s for s in steps if t0 <= s.t <= t1]
            assert during and all(s.replicas == n for s in during), [(s.t, s.replicas, s.reason) for s in during]
        elif c[0] == "reaches":
            _, n, by = c
            assert any(s.replicas == n for s in steps if s.t <= by), [(s.t, s.replicas) for s in steps if s.t <= by]
        elif c[0] == "at":
            _, t, n = c
            assert count_at(steps, t) == n, [(s.t, s.replicas, s.reason) for s in steps if s.t <= t][-4:]
        else:
            assert max(s.replicas for s in steps) <= c[1]


def series(points: Mapping[str, Sequence[tuple[float, Value]]]) -> dict[str, Series]:
    return {name: Series(tuple(p)) for name, p in points.items()}


def manifest(text: str) -> Scaler:
    return Scaler.from_manifest(yaml.safe_load(text))


def e2e(file: str, test: str, sub: str, checks: Sequence[Check], **given: Any) -> Case:
    """``given``: the object (``scaler``), the series, the duration and the loop's options."""
    return Case(file, test, sub, given, tuple(checks))


MODIFIERS_SO = Scaler.from_manifest(yaml.safe_load((DATA / "scaling_modifiers_so.yaml").read_text()))
#: The e2e's sequence, one event every phase: both metrics 0; metrics-api 3 and 2 workload pods from
#: 60 s; the metrics server scaled to 0 (reads fail) from 180 s; back with 2 from 420 s.
MODIFIERS_SERIES = {
    "metrics_api": [(0.0, 0.0), (60.0, 3.0), (180.0, None), (420.0, 2.0)],
    "kw_trig": [(0.0, 0.0), (60.0, 2.0)],
}
COMPLEX = "the formula count([kw_trig,metrics_api],{#>1}) > 1 ? 5 : 0 (a predicate and the ternary): the model evaluates the arithmetic of expr-lang and refuses the rest by name"


def workload_so(name: str, annotations: Mapping[str, str] | None, minimum: int, maximum: int, cooldown: int) -> Scaler:
    """The ScaledObject of KEDA's pause e2e tests: a kubernetes-workload trigger (value 1) on the
    monitored Deployment's pods, polled every 5 s."""
    return Scaler.from_manifest(
        {
            "kind": SCALED_OBJECT,
            "metadata": {"name": name, "annotations": dict(annotations or {})},
            "spec": {
                "scaleTargetRef": {"name": f"{name}-deployment"},
                "pollingInterval": 5,
                "minReplicaCount": minimum,
                "maxReplicaCount": maximum,
                "cooldownPeriod": cooldown,
                "triggers": [
                    {"type": "kubernetes-workload", "metadata": {"podSelector": "app=monitored", "value": "1"}}
                ],
            },
        }
    )


PODS = "s0-kubernetes-workload"
INITIAL_COOLDOWN_SO = """
kind: ScaledObject
metadata: {name: initial-delay-cooldownperiod-test-so}
spec:
  scaleTargetRef: {name: initial-delay-cooldownperiod-test-deployment}
  cooldownPeriod: 5
  minReplicaCount: 0
  initialCooldownPeriod: 120
  advanced: {horizontalPodAutoscalerConfig: {behavior: {scaleDown: {stabilizationWindowSeconds: 15}}}}
  triggers:
  - type: kubernetes-workload
    metadata: {podSelector: 'pod=no-matches', value: '1'}
"""
EAGER_SJ = """
kind: ScaledJob
metadata: {name: eager-scaling-strategy-test-sj}
spec:
  jobTargetRef: {template: {spec: {containers: [{name: sleeper, command: [sleep, "300"]}], restartPolicy: Never}}}
  pollingInterval: 5
  maxReplicaCount: 10
  scalingStrategy: {strategy: eager}
  triggers:
  - type: rabbitmq
    metadata: {queueName: hello, hostFromEnv: RabbitApiHost, mode: QueueLength, value: '1'}
"""
RABBIT = "s0-rabbitmq"
#: The messages are never consumed (the Jobs only sleep): 4, 4 more at 30 s, 8 more at 60 s.
EAGER_SERIES = {RABBIT: [(0.0, 4.0), (30.0, 8.0), (60.0, 16.0)]}
LABELS = "the labels KEDA copies onto the Jobs it creates: the model counts Jobs, it does not build them"
CHANGED = "the annotation changes during the run; the model reads an object's annotations once, from its manifest"

E2E = [
    e2e(E2E_MODIFIERS, "testFormula", "0 + 0 is not above activationTarget 2: stays at 0 for 60 s", [("stays", 0, 59, 0)], scaler=MODIFIERS_SO, series=MODIFIERS_SERIES, duration=600),
    e2e(E2E_MODIFIERS, "testFormula", "3 + 2 = 5 over target 2: 3 replicas within 2 minutes", [("reaches", 3, 180), ("at", 179, 3)], scaler=MODIFIERS_SO, series=MODIFIERS_SERIES, duration=600),
    e2e(E2E_MODIFIERS, "testFormula", "metrics-api fails: fallback 5 × target 2 = 10, 5 replicas, kept 60 s", [("reaches", 5, 300), ("stays", 240, 419, 5)], scaler=MODIFIERS_SO, series=MODIFIERS_SERIES, duration=600),
    e2e(E2E_MODIFIERS, "testFormula", "metrics-api back at 2: 2 + 2 = 4, 2 replicas", [("reaches", 2, 540), ("at", 600, 2)], scaler=MODIFIERS_SO, series=MODIFIERS_SERIES, duration=600),
    no(E2E_MODIFIERS, "testFormula", "soComplexFormula, one metric above 1: 0 replicas", COMPLEX),
    no(E2E_MODIFIERS, "testFormula", "soComplexFormula, both above 1: 5 / 2, 3 replicas", COMPLEX),
    no(E2E_FALLBACK_MODIFIERS, "testBothTriggersHealthy", "8 replicas", "fallback.behavior scalingModifiers with the formula primary ?? secondary ?? 8: the model refuses ?? and that behavior by name"),
    no(E2E_FALLBACK_MODIFIERS, "testPrimaryTriggerFails", "6 replicas", "fallback.behavior scalingModifiers with the formula primary ?? secondary ?? 8: the model refuses ?? and that behavior by name"),
    no(E2E_FALLBACK_MODIFIERS, "testBothTriggersFail", "4 replicas", "fallback.behavior scalingModifiers with the formula primary ?? secondary ?? 8: the model refuses ?? and that behavior by name"),
    no(E2E_FALLBACK_MODIFIERS, "testTriggerRecovery", "8 replicas", "fallback.behavior scalingModifiers with the formula primary ?? secondary ?? 8: the model refuses ?? and that behavior by name"),
    e2e(E2E_INITIAL_COOLDOWN, "TestScaler", "never active, 1 replica: unchanged for 90 s", [("stays", 0, 90, 1)], scaler=manifest(INITIAL_COOLDOWN_SO), series={}, duration=300, start=1),
    e2e(E2E_INITIAL_COOLDOWN, "TestScaler", "then 0 within 2 minutes (initialCooldownPeriod 120 s)", [("reaches", 0, 210), ("at", 120, 1)], scaler=manifest(INITIAL_COOLDOWN_SO), series={}, duration=300, start=1),
    e2e(E2E_EAGER, "testEagerScaling", "4 messages: 4 Jobs", [("reaches", 4, 60)], scaler=manifest(EAGER_SJ), series=EAGER_SERIES, duration=120, job_seconds=300),
    e2e(E2E_EAGER, "testEagerScaling", "4 more: 8 Jobs", [("reaches", 8, 90)], scaler=manifest(EAGER_SJ), series=EAGER_SERIES, duration=120, job_seconds=300),
    e2e(E2E_EAGER, "testEagerScaling", "8 more: 10 Jobs, never more", [("reaches", 10, 120), ("max", 10)], scaler=manifest(EAGER_SJ), series=EAGER_SERIES, duration=120, job_seconds=300),
    no(E2E_SJ_VALIDATION, "testScaledJobWithExcludedLabels", "excluded labels not on the Jobs", LABELS),
    e2e(E2E_PAUSE_IN, "TestScaler", "paused-scale-in at 2, no pods: unchanged for 60 s", [("stays", 0, 60, 2)], scaler=workload_so("pause-scale-in-test", {PAUSED_SCALE_IN: "true"}, 0, 3, 0), series={PODS: [(0.0, 0.0)]}, duration=90, start=2),
    e2e(E2E_PAUSE_OUT, "TestScaler", "paused-scale-out at 0, 5 pods: unchanged for 60 s", [("stays", 0, 60, 0)], scaler=workload_so("pause-scale-out-test", {PAUSED_SCALE_OUT: "true"}, 0, 5, 0), series={PODS: [(0.0, 5.0)]}, duration=90),
    e2e(E2E_PAUSE, "testPauseAt0", "paused-replicas 0, 2 pods: stays at 0 for 60 s", [("stays", 0, 60, 0)], scaler=workload_so("pause-test", {PAUSED_REPLICAS: "0"}, 0, 1, 5), series={PODS: [(0.0, 2.0)]}, duration=90),
    e2e(E2E_PAUSE, "testScaleOut", "annotation removed, 2 pods: maxReplicaCount 1", [("reaches", 1, 60), ("max", 1)], scaler=workload_so("pause-test", None, 0, 1, 5), series={PODS: [(0.0, 2.0)]}, duration=90),
    e2e(E2E_PAUSE, "testPauseAtN", "paused-replicas 5, no pods: 5, above maxReplicaCount 1", [("reaches", 5, 60), ("at", 90, 5)], scaler=workload_so("pause-test", {PAUSED_REPLICAS: "5"}, 0, 1, 5), series={PODS: [(0.0, 0.0)]}, duration=90, start=1),
    e2e(E2E_PAUSE, "testScaleIn", "annotation removed at 5, no pods: 0 within a minute", [("reaches", 0, 60)], scaler=workload_so("pause-test", None, 0, 1, 5), series={PODS: [(0.0, 0.0)]}, duration=90, start=5),
    e2e(E2E_PAUSE_EXPLICITLY, "testPauseWhenScaleOut", "paused at 0, 2 pods: stays at 0 for 60 s", [("stays", 0, 60, 0)], scaler=workload_so("pause-explicitly-test", {PAUSED: "true"}, 0, 10, 5), series={PODS: [(0.0, 2.0)]}, duration=90),
    e2e(E2E_PAUSE_EXPLICITLY, "testScaleOut", "annotation removed, 5 pods: 5", [("reaches", 5, 60)], scaler=workload_so("pause-explicitly-test", None, 0, 10, 5), series={PODS: [(0.0, 5.0)]}, duration=90),
    e2e(E2E_PAUSE_EXPLICITLY, "testScaleOut", "paused set to false, 5 pods: 5", [("reaches", 5, 60)], scaler=workload_so("pause-explicitly-test", {PAUSED: "false"}, 0, 10, 5), series={PODS: [(0.0, 5.0)]}, duration=90),
    e2e(E2E_PAUSE_EXPLICITLY, "testPauseWhenScaleIn", "paused at 5, no pods: stays at 5", [("stays", 0, 60, 5)], scaler=workload_so("pause-explicitly-test", {PAUSED: "true"}, 0, 10, 5), series={PODS: [(0.0, 0.0)]}, duration=90, start=5),
    e2e(E2E_PAUSE_EXPLICITLY, "testScaleIn", "unpaused at 5, no pods: 0 within a minute", [("reaches", 0, 60)], scaler=workload_so("pause-explicitly-test", None, 0, 10, 5), series={PODS: [(0.0, 0.0)]}, duration=90, start=5),
    e2e(E2E_PAUSE_EXPLICITLY, "testBothPauseAnnotationActive", "paused and paused-replicas 5, 10 pods: 5", [("reaches", 5, 60), ("at", 90, 5)], scaler=workload_so("pause-explicitly-test", {PAUSED: "true", PAUSED_REPLICAS: "5"}, 0, 10, 5), series={PODS: [(0.0, 10.0)]}, duration=90),
    e2e(E2E_PAUSE_EXPLICITLY, "testBothPauseAnnotationActive", "both removed at 5, 10 pods: 10", [("reaches", 10, 60)], scaler=workload_so("pause-explicitly-test", None, 0, 10, 5), series={PODS: [(0.0, 10.0)]}, duration=90, start=5),
    e2e(E2E_PAUSE_EXPLICITLY, "testHPANotExistWhilePaused", "paused: no HPA acts", [("stays", 0, 60, 2)], scaler=workload_so("pause-explicitly-test", {PAUSED: "true"}, 0, 10, 5), series={PODS: [(0.0, 10.0)]}, duration=60, start=2, no_hpa=True),
    e2e(E2E_PAUSE_EXPLICITLY, "testHPANotExistWhilePausedReplicas", "paused-replicas 3: 3, no HPA acts", [("reaches", 3, 60), ("at", 60, 3)], scaler=workload_so("pause-explicitly-test", {PAUSED_REPLICAS: "3"}, 0, 10, 5), series={PODS: [(0.0, 0.0)]}, duration=60, no_hpa=True),
    e2e(E2E_PAUSE_EXPLICITLY, "testChangePausedReplicasValue", "paused-replicas 7 from 3: 7", [("reaches", 7, 60)], scaler=workload_so("pause-explicitly-test", {PAUSED_REPLICAS: "7"}, 0, 10, 5), series={PODS: [(0.0, 0.0)]}, duration=60, start=3),
    no(E2E_PAUSE_EXPLICITLY, "testChangePausedReplicasValue", "the value changed from 3 to 7 on a running object", CHANGED),
    e2e(E2E_PAUSE_EXPLICITLY, "testSwitchFromPausedReplicasToPaused", "paused at 5: frozen for 30 s, no HPA", [("stays", 0, 30, 5)], scaler=workload_so("pause-explicitly-test", {PAUSED: "true"}, 0, 10, 5), series={PODS: [(0.0, 0.0)]}, duration=60, start=5, no_hpa=True),
]  # fmt: skip


@pytest.mark.parametrize("case", E2E, ids=ids(E2E))
def test_e2e_replayed(case: Case) -> None:
    expressible(case)
    g = case.given
    options = Options(start_replicas=g.get("start", 0), job_seconds=g.get("job_seconds", 60.0))
    steps = replay(g["scaler"], series(g["series"]), g["duration"], options)
    check(steps, case.expected)
    if g.get("no_hpa"):  # handlePause deletes the HPA: no sync changes anything
        hpa = [s for s in steps if s.actor == "hpa"]
        assert hpa and all(s.replicas == s.before and "deleted it while paused" in s.reason for s in hpa)


ACCURATE_PHASES = [
    Case(E2E_ACCURATE, "testAccurateScaling", "phase 1: 4 messages, none running: 4 Jobs", {"queue": 4, "running": 0, "pending": 0}, 4),
    Case(E2E_ACCURATE, "testAccurateScaling", "phase 1: the 4 pending while they drain: no overshoot", {"queue": 4, "running": 4, "pending": 4}, 0),
    Case(E2E_ACCURATE, "testAccurateScaling", "phase 2: 4 more, 4 running: 4 Jobs (8)", {"queue": 4, "running": 4, "pending": 0}, 4),
    Case(E2E_ACCURATE, "testAccurateScaling", "phase 3: 4 more, 8 running: capped, 2 Jobs (10)", {"queue": 4, "running": 8, "pending": 0}, 2),
    Case(E2E_ACCURATE, "testAccurateScaling", "phase 3: 2 left, 10 running: none", {"queue": 2, "running": 10, "pending": 0}, 0),
]  # fmt: skip


@pytest.mark.parametrize("case", ACCURATE_PHASES, ids=ids(ACCURATE_PHASES))
def test_accurate_strategy_e2e(case: Case) -> None:
    """The e2e's ScaledJob: an azure-queue trigger with queueLength 1, maxReplicaCount 10, accurate."""
    expressible(case)
    g = case.given
    jobs = scaled_job_new_jobs(g["queue"], 1, 10, g["running"], g["pending"], strategy="accurate")
    assert jobs == case.expected


VALIDATION = [
    Case(
        E2E_SJ_VALIDATION,
        "testTriggersWithEmptyArray",
        "a ScaledJob without triggers is refused",
        {},
        "needs at least one trigger",
    ),
]


@pytest.mark.parametrize("case", VALIDATION, ids=ids(VALIDATION))
def test_scaled_job_validation_e2e(case: Case) -> None:
    expressible(case)
    with pytest.raises(InputError, match=case.expected):
        replay(scaled_job({"triggers": []}), {}, 30)


PAUSE_JOB = [
    Case(E2E_PAUSE_JOB, "testPause", "paused: the running Job finishes, no new one", {"paused": "true"}, 0),
    Case(E2E_PAUSE_JOB, "testUnpause", "annotation removed: a Job runs again", {"paused": None}, 1),
    Case(E2E_PAUSE_JOB, "testUnpauseWithBool", "paused set to false: a Job runs again", {"paused": "false"}, 1),
]  # fmt: skip


@pytest.mark.parametrize("case", PAUSE_JOB, ids=ids(PAUSE_JOB))
def test_pause_scaled_job_e2e(case: Case) -> None:
    """The e2e's ScaledJob: an external scaler reporting 1 against metricThreshold 1, maxReplicaCount 1,
    Jobs of 30 s; the model's trigger carries that threshold as its target."""
    expressible(case)
    paused = case.given["paused"]
    pause = Pause.from_annotations(SCALED_JOB, {PAUSED: paused} if paused is not None else None)
    trigger = Trigger("s0-external", "external", "", 1, 0)
    sj = Scaler(SCALED_JOB, "pause-scaledjob-test", (trigger,), max_replicas=1, polling_interval=5, pause=pause)
    steps = replay(sj, series({"s0-external": [(0.0, 1.0)]}), 60, Options(job_seconds=30))
    assert sum(s.created or 0 for s in steps[:1]) == case.expected
    assert max(s.replicas for s in steps) == case.expected


# --- kedasuite simulate replays the scaling-modifiers e2e test ------------------------------------------


def test_simulate_replays_the_scaling_modifiers_e2e_test() -> None:
    """``kedasuite simulate --manifests`` with the e2e's ScaledObject and the metric series the e2e sets
    reaches the counts the e2e asserts: 0, 3, the fallback's 5, then 2."""
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--manifests",
            str(DATA / "scaling_modifiers_so.yaml"),
            "--object",
            "scaling-modifiers-test-so",
            "--series",
            "metrics_api=0:0,60:3,180:error,420:2",
            "--series",
            "kw_trig=0:0,60:2",
            "--duration",
            "600",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)
    after = {}
    for s in steps:
        after[s["t"]] = s["replicas"]

    def at(t: float) -> int:
        return after[max(k for k in after if k <= t)]

    assert all(at(t) == 0 for t in range(0, 60, 5))
    assert at(179) == 3
    assert at(300) == 5 and all(at(t) == 5 for t in range(300, 420, 5))
    assert at(600) == 2
    fallback = next(s for s in steps if s["t"] >= 180 and s["triggers"].get("metrics_api", {}).get("fallback"))
    assert fallback["triggers"]["metrics_api"]["metric"] == 10  # fallback.replicas 5 × target 2
    text = CliRunner().invoke(
        main,
        ["simulate", "--manifests", str(DATA / "scaling_modifiers_so.yaml"), "--object", "scaling-modifiers-test-so"],
    )
    assert text.exit_code == 0, text.output
    assert "annotations" not in text.output.splitlines()[0]  # shown only when an object has them


# --- the tables themselves ------------------------------------------------------------------------------

TABLES: tuple[Sequence[Case], ...] = (
    REQUEST_SCALE,
    STRATEGIES,
    DECISIONS,
    PENDING,
    JOBS_OTHER,
    STATE,
    SCALED_JOB_STATE,
    CACHE,
    HANDLER_OTHER,
    SJ_METRICS_CASES,
    FALLBACK_CASES,
    FORMULA_CASES,
    E2E,
    ACCURATE_PHASES,
    VALIDATION,
    PAUSE_JOB,
)
ALL_CASES = [c for table in TABLES for c in table]


def counts() -> dict[str, tuple[int, int]]:
    """Per upstream file: (cases ported and run, cases kept as not expressible)."""
    ported = Counter(c.file for c in ALL_CASES if c.expressible)
    kept = Counter(c.file for c in ALL_CASES if not c.expressible)
    return {f: (ported[f], kept[f]) for f in UPSTREAM_FILES}


def test_the_tables_port_at_least_fifty_cases_and_say_why_the_rest_are_not() -> None:
    assert sum(p for p, _ in counts().values()) >= 50
    assert {c.file for c in ALL_CASES} == set(UPSTREAM_FILES)
    for c in ALL_CASES:
        assert c.expressible or c.note, f"{c}: an unexpressible case needs its reason"
        assert c.test.startswith(("Test", "test")), c


def test_the_counts_in_the_docs_match_the_tables() -> None:
    """docs/keda-model.md states, per upstream file, how many cases are ported and how many are not."""
    doc = (Path(__file__).parents[3] / "docs" / "keda-model.md").read_text()
    for file, (ported, kept) in counts().items():
        assert f"| `{file}` | {ported} | {kept} |" in doc, file
