"""Kubernetes' own HPA tests, run against the model's rules (``kedasuite/keda/rules/hpa.py``).

Each row below restates one case of ``pkg/controller/podautoscaler/horizontal_test.go`` or
``replica_calculator_test.go`` (kubernetes/kubernetes, master after v1.33's configurable
tolerance): its inputs, the answer upstream asserts, and where it comes from, as
``"<file> <test function>[/<table entry>]"``. The model answers through its public functions,
the same ones ``simulate``, ``status`` and the local autoscaler use; no controller, no server.

A case whose inputs the model cannot state (CPU, Pods and Object metrics, pod phases, API
errors: KEDA's HPAs read External metrics only) stays in its table with ``expressible=False``
and the reason, and is skipped with that reason, so ``pytest -ra`` counts what is not ported.
``docs/keda-model.md#kubernetes-hpa`` lists the counts and the differences.

Units: upstream's metrics are milli-values; the rows keep them (only ratios matter). Times are
seconds before :data:`NOW`. Upstream's fixtures raise ``scaleUpLimitFactor`` to 8 so that the
legacy limit stays out of the way; where a case asserts that limit it asserts it by name
(``calculateScaleUpLimit(3)``), and so does its row (:func:`legacy_scale_up_limit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from kedasuite.keda.rules.hpa import (
    Behavior,
    HPAMemory,
    MetricInput,
    Recommendation,
    ScaleEvent,
    behavior_from_manifest,
    calculate_scale_down_limit_with_behaviors,
    calculate_scale_up_limit_with_scaling_rules,
    compute_replicas_for_metrics,
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
    get_replicas_change_per_period,
    legacy_scale_up_limit,
    metric_proposal,
    reconcile_autoscaler,
    stabilize_recommendation,
    stabilize_recommendation_with_behaviors,
    store_scale_event,
    tolerances_for_hpa,
)

HT = "horizontal_test.go"
RT = "replica_calculator_test.go"
#: The model's clock at every case; the rows give times as seconds before it.
NOW = 100_000.0
#: Upstream's ``[]timestampedRecommendation{}``: a log that exists and holds nothing in the
#: window, so the first sync records no initial recommendation. The model keeps no empty-but-
#: present log; one recommendation far older than any window means the same.
EMPTY_LOG = (Recommendation(0, NOW - 86_400.0),)
MAX_INT64 = 2**63 - 1

CPU = "a CPU resource metric: the model reads External metrics only, the only kind KEDA's HPAs have"
CONTAINER = "a container resource metric: the model reads External metrics only"
PODS = "a Pods metric (per-pod custom metric): the model reads External metrics only"
OBJECT = "an Object metric: the model reads External metrics only"
PLUMBING = "the controller's API plumbing (selectors, conditions, scale subresource errors), not its arithmetic"
POD_GROUPING = (
    "groups pods by phase, readiness and metric freshness for resource metrics; the model takes the ready "
    "count as an input instead"
)


def ago(seconds: float) -> float:
    """The model time ``seconds`` before :data:`NOW`."""
    return NOW - seconds


def rules(
    pods: int = 0, pods_period: int = 0, percent: int = 0, percent_period: int = 0, window: int = 0, select: str = "Max"
) -> dict[str, Any]:
    """One direction of a ``behavior`` as the upstream tables build it: a Pods policy and a
    Percent policy, each only when its value is set, a stabilization window and ``selectPolicy``."""
    policies = []
    if pods:
        policies.append({"type": "Pods", "value": pods, "periodSeconds": pods_period})
    if percent:
        policies.append({"type": "Percent", "value": percent, "periodSeconds": percent_period})
    return {"stabilizationWindowSeconds": window, "selectPolicy": select, "policies": policies}


def spread(changes: Sequence[int], period: int) -> tuple[ScaleEvent, ...]:
    """Scale events spaced evenly over the last ``period`` seconds, each in the middle of its own
    slice, oldest first (upstream's uniformly distributed events; whole seconds, as there)."""
    width = period / len(changes)
    return tuple(ScaleEvent(change, ago(int(period - width * (i + 1) + width / 2))) for i, change in enumerate(changes))


# --- the whole sync: horizontal_test.go's controller cases ----------------------------------------


@dataclass(frozen=True)
class Sync:
    """One sync of one HPA: bounds, current replicas, its metrics; the replicas it sets."""

    source: str
    min: int = 1
    max: int = 10
    current: int = 1
    metrics: tuple[MetricInput, ...] = ()
    expected: int = 0
    #: The recommendations the HPA already has: ``None`` is upstream's nil (the first sync records
    #: the current count), :data:`EMPTY_LOG` upstream's empty log.
    history: tuple[Recommendation, ...] | None = None
    expressible: bool = True
    reason: str = ""


def cannot(source: str, reason: str) -> Sync:
    return Sync(source, expressible=False, reason=reason)


def qps(
    metric: float | None, target: float, metric_type: str = "AverageValue", error: str | None = None
) -> MetricInput:
    """The External metric the upstream cases call ``qps``."""
    return MetricInput("qps", metric, target, metric_type, error)


SYNCS: list[Sync] = [
    # External metrics, Value (× ready pods) and AverageValue.
    Sync(f"{HT} TestScaleUpCMExternal", 2, 6, 3, (qps(8600, 6666, "Value"),), 4),
    Sync(f"{HT} TestScaleUpPerPodCMExternal", 2, 6, 3, (qps(8600, 2222),), 4),
    Sync(f"{HT} TestScaleDownCMExternal", 2, 6, 5, (qps(8600, 14400, "Value"),), 3, EMPTY_LOG),
    Sync(f"{HT} TestScaleDownToZeroCMExternal", 0, 6, 5, (qps(0, 14400, "Value"),), 0, EMPTY_LOG),
    Sync(f"{HT} TestScaleDownPerPodCMExternal", 2, 6, 5, (qps(8600, 3000),), 3, EMPTY_LOG),
    Sync(f"{HT} TestToleranceCMExternal", 2, 6, 4, (qps(8600, 8666, "Value"),), 4),
    Sync(f"{HT} TestTolerancePerPodCMExternal", 2, 6, 4, (qps(8600, 2200),), 4),
    # Before any metric: the target at 0, or outside [minReplicas, maxReplicas].
    Sync(f"{HT} TestZeroReplicas", 3, 5, 0, (), 0),
    Sync(f"{HT} TestTooFewReplicas", 3, 5, 2, (), 3),
    Sync(f"{HT} TestTooManyReplicas", 3, 5, 10, (), 5),
    Sync(f"{HT} TestScaleUpRCImmediately", 2, 6, 1, (), 2),
    Sync(f"{HT} TestScaleDownRCImmediately", 2, 5, 6, (), 5),
    # No metric can be read: the count holds. (Upstream's metric has an unknown source type;
    # the model's only unreadable metric is one whose read fails, which the controller treats alike.)
    Sync(f"{HT} TestScaleUpBothMetricsEmpty", 2, 6, 3, (MetricInput("cheddar", None, 1, error="unknown type"),), 3),
    Sync(
        f"{HT} TestConditionFailedGetMetrics/FailedGetExternalMetric",
        1,
        100,
        3,
        (qps(None, 300, "Value", "something went wrong"),),
        3,
    ),
    cannot(f"{HT} TestConditionFailedGetMetrics/FailedGetResourceMetric", CPU),
    cannot(f"{HT} TestConditionFailedGetMetrics/FailedGetPodsMetric", PODS),
    cannot(f"{HT} TestConditionFailedGetMetrics/FailedGetObjectMetric", OBJECT),
    *(
        cannot(f"{HT} {name}", CPU)
        for name in (
            "TestScaleUp",
            "TestScaleUpUnreadyLessScale",
            "TestScaleUpHotCpuLessScale",
            "TestScaleUpUnreadyNoScale",
            "TestScaleUpHotCpuNoScale",
            "TestScaleUpIgnoresFailedPods",
            "TestScaleUpIgnoresDeletionPods",
            "TestScaleUpDeployment",
            "TestScaleUpReplicaSet",
            "TestScaleDown",
            "TestScaleDownWithScalingRules",
            "TestScaleDownStabilizeInitialSize",
            "TestScaleDownIncludeUnreadyPods",
            "TestScaleDownIgnoreHotCpuPods",
            "TestScaleDownIgnoresFailedPods",
            "TestScaleDownIgnoresDeletionPods",
            "TestTolerance",
            "TestMinReplicas",
            "TestZeroMinReplicasDesiredZero",
            "TestMinReplicasDesiredZero",
            "TestMaxReplicas",
            "TestSuperfluousMetrics",
            "TestMissingMetrics",
            "TestEmptyMetrics",
            "TestEmptyCPURequest",
            "TestEventCreated",
            "TestEventNotCreated",
            "TestMissingReports",
            "TestUpscaleCap",
            "TestUpscaleCapGreaterThanMaxReplicas",
            "TestStabilizeDownscale",
            "TestComputedToleranceAlgImplementation",
            "TestNoBackoffUpscaleCMNoBackoffCpu",
            # The next three pair a CPU metric with one that fails or has no known type.
            "TestScaleUpOneMetricInvalid",
            "TestScaleUpFromZeroOneMetricInvalid",
            "TestScaleUpOneMetricEmpty",
            "TestNoScaleDownOneMetricInvalid",
            "TestNoScaleDownOneMetricEmpty",
        )
    ),
    cannot(f"{HT} TestScaleUpContainer", CONTAINER),
    cannot(f"{HT} TestScaleDownContainerResource", CONTAINER),
    *(
        cannot(f"{HT} {name}", PODS)
        for name in (
            "TestScaleUpCM",
            "TestScaleUpCMUnreadyAndHotCpuNoLessScale",
            "TestScaleUpCMUnreadyandCpuHot",
            "TestScaleUpHotCpuNoScaleWouldScaleDown",
            "TestScaleDownCM",
            "TestToleranceCM",
            "TestNoBackoffUpscaleCM",
        )
    ),
    *(
        cannot(f"{HT} {name}", OBJECT)
        for name in (
            "TestScaleUpCMObject",
            "TestScaleUpFromZeroCMObject",
            "TestScaleUpFromZeroIgnoresToleranceCMObject",
            "TestScaleUpPerPodCMObject",
            "TestScaleDownCMObject",
            "TestScaleDownToZeroCMObject",
            "TestScaleDownPerPodCMObject",
            "TestToleranceCMObject",
            "TestTolerancePerPodCMObject",
        )
    ),
    *(
        cannot(f"{HT} {name}", PLUMBING)
        for name in (
            "TestConditionInvalidSelectorMissing",
            "TestConditionInvalidSelectorUnparsable",
            "TestConditionNoAmbiguousSelectorWhenNoSelectorOverlapBetweenHPAs",
            "TestConditionAmbiguousSelectorWhenFullSelectorOverlapBetweenHPAs",
            "TestConditionAmbiguousSelectorWhenPartialSelectorOverlapBetweenHPAs",
            "TestConditionInvalidSourceType",
            "TestConditionFailedGetScale",
            "TestConditionFailedUpdateScale",
            "TestAvoidUnnecessaryUpdates",
        )
    ),
    cannot(
        f"{HT} TestMoreReplicasThanSpecNoScale",
        "status replicas above spec (a rollout's surge): the model keeps one replica count",
    ),
    cannot(f"{HT} TestMultipleHPAs", "a thousand HPAs synced by concurrent workers: the controller's queue"),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in SYNCS])
def test_a_sync_sets_what_kubernetes_sets(row: Sync) -> None:
    if not row.expressible:
        pytest.skip(row.reason)
    memory = HPAMemory(recommendations=row.history or ())
    result, _ = reconcile_autoscaler(memory, NOW, row.current, row.metrics, row.min, row.max)
    assert result.desired == row.expected, result.reason


# --- one External metric's proposal: replica_calculator_test.go -----------------------------------


@dataclass(frozen=True)
class Proposal:
    """One metric read at ``current`` replicas (``ready`` of them ready, when the case says so)."""

    source: str
    current: int = 1
    metric: float = 0
    target: float = 1
    metric_type: str = "AverageValue"
    expected: int = 0
    ready: int | None = None
    #: A ``behavior`` giving the tolerance per direction (``HPAConfigurableTolerance``).
    behavior: Mapping[str, Any] | None = None
    expressible: bool = True
    reason: str = ""


def unported(source: str, reason: str) -> Proposal:
    return Proposal(source, expressible=False, reason=reason)


#: Upstream's configurable-tolerance cases: the default 10 % down, 1 % up.
UP_ONE_PERCENT = {"scaleUp": {"tolerance": "0.01"}}

PROPOSALS: list[Proposal] = [
    # Upstream: three pods, one ready (a Value metric multiplies by the ready ones); 6 if all were.
    Proposal(f"{RT} TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods", 3, 8600, 4400, "Value", 2, ready=1),
    Proposal(f"{RT} TestReplicaCalcScaleUpPerPodCMExternal", 3, 8600, 2150, "AverageValue", 4),
    Proposal(f"{RT} TestReplicaCalcScaleDownCMExternal", 5, 8600, 14334, "Value", 3),
    Proposal(f"{RT} TestReplicaCalcScaleDownPerPodCMExternal", 5, 8600, 2867, "AverageValue", 3),
    Proposal(f"{RT} TestReplicaCalcToleranceCMExternal", 3, 8600, 8888, "Value", 3),
    Proposal(f"{RT} TestReplicaCalcTolerancePerPodCMExternal", 3, 8600, 2900, "AverageValue", 3),
    Proposal(
        f"{RT} TestReplicaCalcConfigurableToleranceCMExternal", 3, 8900, 8800, "Value", 4, behavior=UP_ONE_PERCENT
    ),
    Proposal(
        f"{RT} TestReplicaCalcConfigurableTolerancePerPodCMExternal",
        3,
        8600,
        2800,
        "AverageValue",
        4,
        behavior=UP_ONE_PERCENT,
    ),
    Proposal(f"{RT} TestExternalPerPodMetricUsageOverflow", 1, MAX_INT64, MAX_INT64, "AverageValue", 1),
    # Upstream sums two samples past int64 and caps the sum; the model is handed the sum as a
    # float, which does not overflow: the same ratio of 1, within the tolerance.
    Proposal(f"{RT} TestReplicaCalcExternalMetricUsageOverflow", 3, 2 * (MAX_INT64 // 2 + 1), MAX_INT64, "Value", 3),
    unported(
        f"{RT} TestExternalPerPodMetricReplicaOverflow",
        "caps a proposal at int32's maximum; the model's counts are Python integers, with no cap",
    ),
    unported(
        f"{RT} TestReplicaCalcScaleUpCMExternal",
        "earlier revisions of the file run it as a Pods metric despite its name; the current one drops it",
    ),
    unported(
        f"{RT} TestReplicaCalcScaleUpCMExternalNoLabels",
        "earlier revisions of the file run it as a Pods metric despite its name; the current one drops it",
    ),
    unported(f"{RT} TestReplicaCalcResourceScale (24 entries)", CPU),
    unported(f"{RT} TestReplicaCalcConfigurableTolerance (5 entries)", CPU),
    *(
        unported(f"{RT} {name}", CPU)
        for name in (
            "TestReplicaCalcDisjointResourcesMetrics",
            "TestReplicaCalcTolerance",
            "TestReplicaCalcSuperfluousMetrics",
            "TestReplicaCalcMissingMetrics",
            "TestReplicaCalcEmptyMetrics",
            "TestReplicaCalcEmptyCPURequest",
            "TestReplicaCalcMissingMetricsNoChangeEq",
            "TestReplicaCalcMissingMetricsNoChangeGt",
            "TestReplicaCalcMissingMetricsNoChangeLt",
            "TestReplicaCalcMissingMetricsUnreadyChange",
            "TestReplicaCalcMissingMetricsHotCpuNoChange",
            "TestReplicaCalcMissingMetricsUnreadyScaleUp",
            "TestReplicaCalcMissingMetricsHotCpuScaleUp",
            "TestReplicaCalcMissingMetricsUnreadyScaleDown",
            "TestReplicaCalcMissingMetricsScaleDownTargetOver100",
            "TestReplicaCalcDuringRollingUpdateWithMaxSurge",
            "TestReplicaCalcComputedToleranceAlgImplementation",
        )
    ),
    *(
        unported(f"{RT} {name}", PODS)
        for name in (
            "TestReplicaCalcScaleUpCM",
            "TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale",
            "TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown",
            "TestReplicaCalcScaleDownCM",
            "TestReplicaCalcToleranceCM",
            "TestReplicaCalcConfigurableToleranceCM",
            "TestPlainMetricReplicaCalcMissingMetricsNoChangeEq",
            "TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM",
        )
    ),
    *(
        unported(f"{RT} {name}", OBJECT)
        for name in (
            "TestReplicaCalcScaleUpOverflow",
            "TestReplicaCalcScaleUpCMObject",
            "TestReplicaCalcScaleUpCMPerPodObject",
            "TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods",
            "TestReplicaCalcScaleDownPerPodCMObject",
            "TestReplicaCalcScaleDownCMObject",
            "TestReplicaCalcToleranceCMObject",
            "TestReplicaCalcTolerancePerPodCMObject",
            "TestReplicaCalcConfigurableToleranceCMObject",
            "TestReplicaCalcConfigurableTolerancePerPodCMObject",
        )
    ),
    unported(f"{RT} TestGroupPods (14 entries)", POD_GROUPING),
    unported(f"{RT} TestCalculateRequests (9 entries)", "sums a pod's CPU requests: resource metrics only"),
    unported(f"{RT} TestCalculatePodRequestsFromContainers_NonExistentContainer", CONTAINER),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in PROPOSALS])
def test_a_metric_proposes_what_kubernetes_proposes(row: Proposal) -> None:
    if not row.expressible:
        pytest.skip(row.reason)
    up, down = tolerances_for_hpa(behavior_from_manifest(row.behavior))
    metric = MetricInput("qps", row.metric, row.target, row.metric_type)
    wanted, proposals, invalid = compute_replicas_for_metrics([metric], row.current, up, down, row.ready)
    assert (wanted, invalid) == (row.expected, []), proposals


def test_an_unknown_ready_count_is_every_replica() -> None:
    """Without a ready count (``simulate``'s series carry none) a Value metric multiplies by the
    replicas, as before the input existed; with every replica ready the answer is the same."""
    unknown = metric_proposal(8600, 4400, 3, "Value")
    assert unknown == metric_proposal(8600, 4400, 3, "Value", ready=3) == (6, "ceil(3 × 8600/4400) = 6")
    assert metric_proposal(8600, 4400, 3, "Value", ready=1) == (2, "ceil(1 × 8600/4400) = 2 (1 of 3 ready)")
    # From zero neither the tolerance nor the pods count: ceil(ratio).
    assert metric_proposal(8600, 4400, 0, "Value", ready=0)[0] == 2
    # AverageValue divides by the target alone: readiness does not enter.
    assert metric_proposal(8600, 2150, 3, ready=1) == metric_proposal(8600, 2150, 3)


# --- the legacy path's bounds: TestConvertDesiredReplicasWithRules --------------------------------

#: Upstream's condition names, and how the model's reason for a bound starts.
LEGACY_WORDS = {
    "DesiredWithinRange": "",
    "TooFewReplicas": "minReplicas",
    "TooManyReplicas": "maxReplicaCount",
    "ScaleUpLimit": "legacy scale-up limit",
}
BEHAVIOR_WORDS = {
    "DesiredWithinRange": "",
    "TooFewReplicas": "minReplicas",
    "TooManyReplicas": "maxReplicaCount",
    "ScaleUpLimit": "behavior.scaleUp",
    "ScaleDownLimit": "behavior.scaleDown",
}


def says(reason: str, words: str) -> bool:
    """Whether the model's reason for a bound names the bound upstream's condition names."""
    return reason == "" if words == "" else reason.startswith(words)


@dataclass(frozen=True)
class Bound:
    source: str
    current: int
    desired: int
    min: int
    max: int
    expected: int
    condition: str


BOUNDS = [
    Bound(f"{HT} TestConvertDesiredReplicasWithRules/prenormalized desired replicas within range", 5, 7, 3, 8, 7,
          "DesiredWithinRange"),
    Bound(f"{HT} TestConvertDesiredReplicasWithRules/prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2,
          "TooFewReplicas"),
    Bound(f"{HT} TestConvertDesiredReplicasWithRules/prenormalized desired zeroed replicas within range", 1, 0, 0, 10,
          0, "DesiredWithinRange"),
    Bound(f"{HT} TestConvertDesiredReplicasWithRules/maxReplicas is the limit because maxReplicas < scaleUpLimit",
          20, 1000, 1, 10, 10, "TooManyReplicas"),
    Bound(f"{HT} TestConvertDesiredReplicasWithRules/scaleUpLimit is the limit because scaleUpLimit < maxReplicas",
          3, 1000, 1, 2000, legacy_scale_up_limit(3), "ScaleUpLimit"),
]  # fmt: skip


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in BOUNDS])
def test_the_legacy_bounds_are_kubernetes(row: Bound) -> None:
    replicas, _upper, why = convert_desired_replicas_with_rules(row.current, row.desired, row.min, row.max)
    assert replicas == row.expected
    assert says(why, LEGACY_WORDS[row.condition]), why


# --- the behavior path's rate limits: TestScalingWithRules, TestCalculate*Limit* ------------------


@dataclass(frozen=True)
class Rate:
    """``convertDesiredReplicasWithBehaviorRate``'s inputs: the HPA's own recent scale events, the
    rules of each direction (``None``: the API server's defaults), the counts."""

    source: str
    current: int
    desired: int
    min: int
    max: int
    expected: int
    condition: str
    up: Mapping[str, Any] | None = None
    down: Mapping[str, Any] | None = None
    up_events: tuple[ScaleEvent, ...] = ()
    down_events: tuple[ScaleEvent, ...] = ()


def rate(name: str, *args: Any, **kwargs: Any) -> Rate:
    return Rate(f"{HT} TestScalingWithRules/{name}", *args, **kwargs)


UP_1_5_9 = spread([1, 5, 9], 120)  # 100, 60 and 20 s ago
UP_8_12_9_11 = spread([8, 12, 9, 11], 120)  # 105, 75, 45 and 15 s ago
RATES = [
    rate("prenormalized desired replicas within range", 5, 7, 3, 8, 7, "DesiredWithinRange"),
    rate("prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2, "TooFewReplicas"),
    rate("prenormalized desired replicas within range when minReplicas is 0", 1, 0, 0, 10, 0, "DesiredWithinRange"),
    rate("maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, 10, "TooManyReplicas"),
    rate("desired replica count is more than the maximum replica count", 100, 1000, 100, 150, 150, "TooManyReplicas"),
    rate("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", 3, 1000, 1, 2000, 4,
         "ScaleUpLimit", up=rules(percent=1, percent_period=60)),
    # Upstream marks this entry to be skipped (testThis); its answer is the model's all the same.
    rate("scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies", 1000, 3, 3,
         2000, 980, "ScaleDownLimit", down=rules(pods=20, pods_period=60)),
    rate("scaleUp with default behavior", 10, 50, 1, 1000, 20, "ScaleUpLimit"),
    rate("scaleUp with pods policy larger than percent policy", 10, 500, 1, 1000, 110, "ScaleUpLimit",
         up=rules(100, 60, 100, 60)),
    rate("scaleUp with percent policy larger than pods policy", 10, 500, 1, 1000, 20, "ScaleUpLimit",
         up=rules(2, 60, 100, 60)),
    rate("scaleUp with spec MaxReplicas limitation with large pod policy", 10, 50, 1, 1000, 50, "DesiredWithinRange",
         up=rules(100, 60)),
    rate("scaleUp with spec MaxReplicas limitation with large percent policy", 10, 50, 1, 1000, 50,
         "DesiredWithinRange", up=rules(10000, 60)),
    rate("scaleUp with pod policy limitation", 10, 50, 1, 1000, 40, "ScaleUpLimit", up=rules(30, 60)),
    rate("scaleUp with percent policy limitation", 10, 50, 1, 1000, 30, "ScaleUpLimit",
         up=rules(percent=200, percent_period=60)),
    rate("scaleDown with percent policy larger than pod policy", 100, 2, 1, 1000, 80, "ScaleDownLimit",
         down=rules(20, 60, 1, 60, 300)),
    rate("scaleDown with pod policy larger than percent policy", 100, 2, 1, 1000, 98, "ScaleDownLimit",
         down=rules(2, 60, 1, 60, 300)),
    rate("scaleDown with spec MinReplicas=nil limitation with large pod policy", 10, 0, 1, 1000, 1, "TooFewReplicas",
         down=rules(100, 60, window=300)),
    rate("scaleDown with spec MinReplicas limitation with large pod policy", 10, 0, 1, 1000, 1, "TooFewReplicas",
         down=rules(100, 60, window=300)),
    rate("scaleDown with spec MinReplicas limitation with large percent policy", 10, 2, 5, 1000, 5, "TooFewReplicas",
         down=rules(percent=100, percent_period=60, window=300)),
    rate("scaleDown with pod policy limitation", 10, 2, 1, 1000, 5, "ScaleDownLimit",
         down=rules(5, 60, window=300)),
    rate("scaleDown with percent policy limitation", 10, 5, 1, 1000, 5, "DesiredWithinRange",
         down=rules(percent=50, percent_period=60, window=300)),
    rate("scaleUp with spec MaxReplicas limitation with large pod policy and events", 100, 500, 1, 200, 200,
         "TooManyReplicas", up=rules(300, 60), up_events=UP_1_5_9),
    rate("scaleUp with spec MaxReplicas limitation with large percent policy and events", 100, 500, 1, 200, 200,
         "TooManyReplicas", up=rules(percent=10000, percent_period=60), up_events=UP_1_5_9),
    # The period started at 100 − 15 = 85; 85 + 5 is below the current count: no scale-up, none down.
    rate("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events", 100,
         500, 1, 1000, 100, "ScaleUpLimit", up=rules(5, 120), up_events=UP_1_5_9),
    rate("scaleUp with pod policy and previous scale up events", 100, 500, 1, 1000, 235, "ScaleUpLimit",
         up=rules(150, 120), up_events=UP_1_5_9),
    rate("scaleUp with percent policy and previous scale up events", 100, 500, 1, 1000, 255, "ScaleUpLimit",
         up=rules(percent=200, percent_period=120), up_events=UP_1_5_9),
    rate("scaleUp with percent policy and previous scale up and down events", 6, 24, 1, 1000, 16, "ScaleUpLimit",
         up=rules(percent=300, percent_period=300), up_events=spread([4], 120), down_events=spread([2], 120)),
    rate("scaleDown with default policy and previous events", 10, 5, 1, 1000, 5, "DesiredWithinRange",
         down_events=UP_1_5_9),
    rate("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", 100, 0, 1, 1000,
         1, "TooFewReplicas", down=rules(115, 120, window=300), down_events=UP_1_5_9),
    rate("scaleDown with spec MinReplicas limitation with large pod policy and previous events", 100, 0, 5, 1000, 5,
         "TooFewReplicas", down=rules(130, 120, window=300), down_events=UP_1_5_9),
    rate("scaleDown with spec MinReplicas limitation with large percent policy and previous events", 100, 2, 5, 1000,
         5, "TooFewReplicas", down=rules(percent=100, percent_period=120, window=300), down_events=UP_1_5_9),
    rate("scaleDown with pod policy limitation and previous events", 100, 2, 1, 1000, 100, "ScaleDownLimit",
         down=rules(5, 120, window=300), down_events=UP_1_5_9),
    rate("scaleDown with percent policy limitation and previous events", 100, 0, 1, 1000, 56, "ScaleDownLimit",
         down=rules(percent=50, percent_period=120, window=300), down_events=spread([2, 4, 6], 120)),
    rate("scaleDown with percent policy and previous scale up and down events", 10, 1, 1, 1000, 6, "ScaleDownLimit",
         down=rules(percent=50, percent_period=180), up_events=spread([2], 120), down_events=spread([4], 120)),
    # The period started at 130; 130 − 10 % is above the current count: no scale-down, none up.
    rate("scaleDown with previous events preventing further scale down", 100, 0, 1, 1000, 100, "ScaleDownLimit",
         down=rules(percent=10, percent_period=120, window=300), down_events=spread([10, 10, 10], 120)),
    rate("scaleDown with with previous events still allowing more scale down", 10, 5, 1, 1000, 5,
         "DesiredWithinRange", down=rules(percent=1000, percent_period=120, window=300),
         down_events=spread([10, 10, 10], 120)),
    rate("check 'outdated' flag for events for one behavior for up", 100, 200, 1, 1000, 200, "DesiredWithinRange",
         up=rules(1000, 60), up_events=UP_8_12_9_11),
    rate("check that events were not marked 'outdated' for two different policies in the behavior for up", 100, 200,
         1, 1000, 200, "DesiredWithinRange", up=rules(1000, 120, 100, 60), up_events=UP_8_12_9_11),
    rate("check that events were marked 'outdated' for two different policies in the behavior for up", 100, 200, 1,
         1000, 200, "DesiredWithinRange", up=rules(1000, 30, 100, 60), up_events=UP_8_12_9_11),
    rate("check 'outdated' flag for events for one behavior for down", 100, 5, 1, 1000, 5, "DesiredWithinRange",
         down=rules(1000, 60, window=300), down_events=UP_8_12_9_11),
    rate("check that events were not marked 'outdated' for two different policies in the behavior for down", 100, 5,
         1, 1000, 5, "DesiredWithinRange", down=rules(1000, 120, 100, 60, 300), down_events=UP_8_12_9_11),
    rate("check that events were marked 'outdated' for two different policies in the behavior for down", 100, 5, 1,
         1000, 5, "DesiredWithinRange", down=rules(1000, 30, 100, 60, 300), down_events=UP_8_12_9_11),
]  # fmt: skip


def behavior_of(up: Mapping[str, Any] | None, down: Mapping[str, Any] | None) -> Behavior:
    """Both directions, each the given rules or the API server's defaults (as upstream's
    ``GenerateHPAScaleUpRules`` and ``GenerateHPAScaleDownRules`` fill them in)."""
    behavior = behavior_from_manifest({"scaleUp": up, "scaleDown": down})
    assert behavior is not None
    return behavior


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in RATES])
def test_the_rate_limits_are_kubernetes(row: Rate) -> None:
    memory = HPAMemory(up_events=row.up_events, down_events=row.down_events)
    replicas, _upper, why = convert_desired_replicas_with_behavior_rate(
        row.current, row.desired, row.min, row.max, memory, behavior_of(row.up, row.down), NOW
    )
    assert replicas == row.expected, why
    assert says(why, BEHAVIOR_WORDS[row.condition]), why


LIMITS = [
    # 1 + 2 pods = 3 against ceil(1 × 150 %) = 2; selectPolicy Min: 2.
    (f"{HT} TestCalculateScaleUpLimitWithScalingRules", "up", 1, 2),
    # 5 − 2 pods = 3 against trunc(5 × 50 %) = 2; selectPolicy Min (the smaller change): 3.
    (f"{HT} TestCalculateScaleDownLimitWithBehaviors", "down", 5, 3),
]


@pytest.mark.parametrize(("direction", "current", "expected"), [pytest.param(*r[1:], id=r[0]) for r in LIMITS])
def test_select_policy_min_takes_the_smaller_change(direction: str, current: int, expected: int) -> None:
    both = rules(2, 60, 50, 60, 300, select="Min")
    behavior = behavior_of(both, both)
    if direction == "up":
        limit, _ = calculate_scale_up_limit_with_scaling_rules(current, (), (), behavior.up, NOW)
    else:
        limit, _ = calculate_scale_down_limit_with_behaviors(current, (), (), behavior.down, NOW)
    assert limit == expected


# --- stabilization: TestNormalizeDesiredReplicas, TestNormalizeDesiredReplicasWithBehavior ----------


@dataclass(frozen=True)
class Stabilization:
    """The recommendations already kept (replicas, seconds ago), the new one; what comes out and
    what is kept after (``kept``: the replicas in order; ``None`` where upstream does not look)."""

    source: str
    history: tuple[tuple[int, float], ...]
    desired: int
    expected: int
    kept: tuple[int, ...] | None
    current: int = 0
    up_window: float = 0
    down_window: float = 0


def log(*entries: tuple[int, float]) -> tuple[Recommendation, ...]:
    return tuple(Recommendation(n, ago(seconds)) for n, seconds in entries)


LEGACY = "TestNormalizeDesiredReplicas"
LEGACY_STABILIZATIONS = [
    Stabilization(f"{HT} {LEGACY}/empty log", (), 5, 5, (5,)),
    Stabilization(f"{HT} {LEGACY}/stabilize", ((4, 120), (5, 60)), 3, 5, (4, 5, 3)),
    Stabilization(f"{HT} {LEGACY}/no stabilize", ((1, 120), (2, 60)), 3, 3, (1, 2, 3)),
    Stabilization(f"{HT} {LEGACY}/no stabilize - old recommendations", ((10, 600), (9, 540)), 3, 3, (10, 3)),
    Stabilization(
        f"{HT} {LEGACY}/stabilize - old recommendations",
        ((10, 600), (4, 60), (5, 120), (9, 540)),
        3,
        5,
        (10, 4, 5, 3),
    ),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in LEGACY_STABILIZATIONS])
def test_the_legacy_stabilization_is_kubernetes(row: Stabilization) -> None:
    """The controller's 5-minute downscale stabilization window, as upstream's case sets it."""
    stabilized, kept = stabilize_recommendation(log(*row.history), NOW, row.desired, 300.0)
    assert stabilized == row.expected
    assert tuple(r.replicas for r in kept) == row.kept


WITH = "TestNormalizeDesiredReplicasWithBehavior"
BEHAVIOR_STABILIZATIONS = [
    Stabilization(f"{HT} {WITH}/empty recommendations for scaling down", (), 5, 5, (5,), current=100),
    Stabilization(f"{HT} {WITH}/simple scale down stabilization", ((4, 120), (5, 60)), 3, 5, (4, 5, 3),
                  current=100, down_window=180),
    Stabilization(f"{HT} {WITH}/simple scale up stabilization", ((4, 120), (5, 60)), 7, 4, (4, 5, 7), current=1,
                  up_window=300),
    Stabilization(f"{HT} {WITH}/no scale down stabilization", ((1, 120), (2, 60)), 3, 3, (1, 2, 3), current=100,
                  up_window=300),
    Stabilization(f"{HT} {WITH}/no scale up stabilization", ((4, 120), (5, 60)), 3, 3, (4, 5, 3), current=1,
                  down_window=300),
    Stabilization(f"{HT} {WITH}/no scale down stabilization, reuse recommendation element", ((10, 600), (9, 540)),
                  3, 3, (10, 3), current=100),
    Stabilization(f"{HT} {WITH}/no scale up stabilization, reuse recommendation element", ((10, 600), (9, 540)), 100,
                  100, (10, 100), current=1),
    Stabilization(f"{HT} {WITH}/scale down stabilization, reuse one of obsolete recommendation element",
                  ((10, 600), (4, 60), (5, 120), (9, 540)), 3, 5, (10, 4, 5, 3), current=100, down_window=180),
    # Only the first is older than both windows (300 s up, 0 s down as the case sets them): its slot is reused.
    Stabilization(f"{HT} {WITH}/scale up stabilization, reuse one of obsolete recommendation element",
                  ((10, 6000), (6, 60), (5, 120), (9, 180)), 100, 5, (100, 6, 5, 9), current=1, up_window=300),
    Stabilization(f"{HT} {WITH}/scale up and down stabilization, do not scale up when prenormalized rec goes down",
                  ((2, 6000), (3, 180)), 1, 2, None, current=2, up_window=300, down_window=300),
    Stabilization(f"{HT} {WITH}/scale up and down stabilization, do not scale down when prenormalized rec goes up",
                  ((2, 6000), (1, 180)), 3, 2, None, current=2, up_window=300, down_window=300),
]  # fmt: skip


@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in BEHAVIOR_STABILIZATIONS])
def test_the_behavior_stabilization_is_kubernetes(row: Stabilization) -> None:
    """Both windows as the case gives them; a window it leaves out is 0 there, and here."""
    behavior = behavior_of(
        {"stabilizationWindowSeconds": row.up_window}, {"stabilizationWindowSeconds": row.down_window}
    )
    stabilized, _how, kept = stabilize_recommendation_with_behaviors(
        log(*row.history), NOW, row.current, row.desired, behavior
    )
    assert stabilized == row.expected
    if row.kept is not None:
        assert tuple(r.replicas for r in kept) == row.kept


# --- the HPA's own scale events: TestStoreScaleEvents ----------------------------------------------


@dataclass(frozen=True)
class Events:
    """Events already stored (change, seconds ago), one rescale by ``change``: the change the
    last 60 s hold before it, and the events after it (change, outdated)."""

    source: str
    change: int
    before: tuple[tuple[int, float], ...]
    in_last_minute: int
    after: tuple[tuple[int, bool], ...]
    rules: Mapping[str, Any] | None = None


STORE = "TestStoreScaleEvents"
TWO_POLICIES = rules(10, 60, 100, 60)
EVENTS = [
    Events(f"{HT} {STORE}/empty entries with default behavior", 5, (), 0, ()),
    Events(f"{HT} {STORE}/empty entries with two-policy-behavior", 5, (), 0, ((5, False),), TWO_POLICIES),
    Events(f"{HT} {STORE}/one outdated entry to be kept untouched without behavior", 5, ((7, 61),), 0,
           ((7, False),)),
    Events(f"{HT} {STORE}/one outdated entry to be replaced with behavior", 5, ((7, 61),), 0, ((5, False),),
           TWO_POLICIES),
    Events(f"{HT} {STORE}/one actual entry to be not touched with behavior", 5, ((7, 58),), 7,
           ((7, False), (5, False)), TWO_POLICIES),
    Events(f"{HT} {STORE}/two entries, one of them to be replaced", 5, ((7, 61), (6, 59)), 6,
           ((5, False), (6, False)), rules(10, 60)),
    Events(f"{HT} {STORE}/replace one entry, use policies with different periods", 5,
           ((8, 29), (6, 59), (7, 61), (9, 61)), 14, ((8, False), (6, False), (7, True), (5, False)),
           rules(10, 60, 100, 30)),
    Events(f"{HT} {STORE}/two entries, both actual", 5, ((7, 58), (6, 59)), 13,
           ((7, False), (6, False), (5, False)), rules(10, 120, 100, 30)),
]  # fmt: skip


@pytest.mark.parametrize("direction", ["up", "down"])
@pytest.mark.parametrize("row", [pytest.param(r, id=r.source) for r in EVENTS])
def test_scale_events_are_stored_as_kubernetes_stores_them(row: Events, direction: str) -> None:
    """Upstream runs each entry both ways: the rules as the behavior of that direction only."""
    before = tuple(ScaleEvent(change, ago(seconds)) for change, seconds in row.before)
    assert get_replicas_change_per_period(60, before, NOW) == row.in_last_minute
    behavior = None if row.rules is None else behavior_from_manifest({f"scale{direction.title()}": row.rules})
    if direction == "up":
        stored, untouched = store_scale_event(behavior, before, (), NOW, 10, 10 + row.change)
    else:
        untouched, stored = store_scale_event(behavior, (), before, NOW, 10, 10 - row.change)
    assert untouched == ()
    assert tuple((e.change, e.outdated) for e in stored) == row.after


# --- the tables themselves ----------------------------------------------------------------------


ALL = [*SYNCS, *PROPOSALS, *BOUNDS, *RATES, *LEGACY_STABILIZATIONS, *BEHAVIOR_STABILIZATIONS, *EVENTS]


def test_every_case_names_one_upstream_case_once() -> None:
    sources = [row.source for row in ALL] + [source for source, *_ in LIMITS]
    assert len(sources) == len(set(sources)), [s for s in sources if sources.count(s) > 1]
    assert all(s.startswith((f"{HT} Test", f"{RT} Test")) for s in sources)
    ported = [r for r in ALL if getattr(r, "expressible", True)] + LIMITS
    assert len(ported) >= 80, len(ported)
    assert all(getattr(r, "reason", "") for r in ALL if not getattr(r, "expressible", True))
