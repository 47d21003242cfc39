"""The HPA's rules, as pure functions: its defaults, the legacy scale-up limit, ``behavior`` with
Kubernetes' defaults, the tolerance, each metric's proposal and the proposal from all of them.
:class:`kedasuite.keda.model.hpa.HPA` applies them sync by sync. They follow Kubernetes'
``pkg/controller/podautoscaler/horizontal.go`` (``reconcileAutoscaler``,
``normalizeDesiredReplicas`` / ``stabilizeRecommendation`` / ``convertDesiredReplicasWithRules``
without ``behavior``; ``normalizeDesiredReplicasWithBehaviors`` /
``stabilizeRecommendationWithBehaviors`` / ``convertDesiredReplicasWithBehaviorRate`` with it)
and ``replica_calculator.go`` (``GetExternalPerPodMetricReplicas``, ``GetExternalMetricReplicas``),
as ``docs/keda-model.md#the-hpa-sync-by-sync`` describes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError

#: Kubernetes' controller defaults (kube-controller-manager flags).
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SELECT_POLICIES = ("Max", "Min", "Disabled")
POLICY_TYPES = ("Pods", "Percent")


def legacy_scale_up_limit(current: int) -> int:
    """The most replicas one sync may set on the legacy path (no ``behavior``, as KEDA creates its HPAs):
    ``max(2 × current, 4)`` (``calculateScaleUpLimit``). From 1: 4, then 8, then 16."""
    return max(2 * current, 4)


def legacy_scale_up_syncs(start: int, goal: int) -> int:
    """HPA syncs the legacy path needs to go from ``start`` replicas to ``goal`` (1 -> 10: 1 -> 4 -> 8 -> 10, three)."""
    syncs, current = 0, max(start, 1)
    while current < goal:
        current = legacy_scale_up_limit(current)
        syncs += 1
    return syncs


@dataclass(frozen=True)
class Policy:
    type: str  # Pods | Percent
    value: int
    period: float


@dataclass(frozen=True)
class Rules:
    """One direction of an HPA ``behavior``, defaults filled in as the API server and controller do."""

    window: float
    select: str
    policies: tuple[Policy, ...]
    #: ``tolerance`` (``HPAConfigurableTolerance``); ``None``: the controller's.
    tolerance: float | None = None


@dataclass(frozen=True)
class Behavior:
    up: Rules
    down: Rules


def _rules(raw: Any, where: str, default_window: float, default_policies: tuple[Policy, ...]) -> Rules:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} must be a mapping (stabilizationWindowSeconds, selectPolicy, policies)")
    try:
        window = (
            float(raw["stabilizationWindowSeconds"])
            if raw.get("stabilizationWindowSeconds") is not None
            else default_window
        )
        select = str(raw.get("selectPolicy") or "Max")
        policies = (
            tuple(Policy(str(p["type"]), int(p["value"]), float(p["periodSeconds"])) for p in raw["policies"])
            if raw.get("policies")
            else default_policies
        )
        tolerance = float(str(raw["tolerance"])) if raw.get("tolerance") is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            f"{where}: {exc!r} does not read as a Kubernetes HPAScalingRules; each policy needs "
            "type (Pods or Percent), value and periodSeconds"
        ) from None
    if select not in SELECT_POLICIES:
        raise InputError(f"{where}.selectPolicy {select!r}: one of {', '.join(SELECT_POLICIES)}")
    for p in policies:
        if p.type not in POLICY_TYPES or p.value <= 0 or not 0 < p.period <= 1800:
            raise InputError(
                f"{where}: policy {p.type} {p.value} per {p.period:g} s is invalid; type Pods or Percent, "
                "value > 0, 0 < periodSeconds <= 1800"
            )
    return Rules(window, select, policies, tolerance)


def behavior_from_manifest(
    raw: Mapping[str, Any] | None, downscale_window: float = DOWNSCALE_STABILIZATION
) -> Behavior | None:
    """``advanced.horizontalPodAutoscalerConfig.behavior`` with Kubernetes' defaults for what it leaves out
    (``SetDefaults_HorizontalPodAutoscalerBehavior``; a missing scale-down window is the controller's
    downscale stabilization, ``maybeInitScaleDownStabilizationWindow``). ``None`` stays ``None``: the legacy path."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("advanced.horizontalPodAutoscalerConfig.behavior must be a mapping (scaleUp, scaleDown)")
    up = _rules(raw.get("scaleUp"), "behavior.scaleUp", 0.0, (Policy("Pods", 4, 15.0), Policy("Percent", 100, 15.0)))
    down = _rules(raw.get("scaleDown"), "behavior.scaleDown", downscale_window, (Policy("Percent", 100, 15.0),))
    return Behavior(up, down)


def within_tolerance(ratio: float, up: float, down: float) -> bool:
    """``Tolerances.isWithin``: ``1 - down <= ratio <= 1 + up``, both ends included."""
    return 1.0 - down <= ratio <= 1.0 + up


def metric_proposal(
    metric: float,
    target: float,
    current: int,
    metric_type: str = "AverageValue",
    up: float = TOLERANCE,
    down: float = TOLERANCE,
) -> tuple[int, str]:
    """One External metric's proposal and how it was reached (``replica_calculator.go``).

    AverageValue: ``ratio = M / (T × cur)``; within the tolerance ``cur``, else ``ceil(M / T)``.
    Value: ``ratio = M / T``; within the tolerance ``cur``, else ``ceil(ratio × ready pods)``
    (the model takes every replica as ready).
    """
    if target <= 0:
        raise InputError(f"a trigger's target must be positive (got {target:g})")
    if metric_type == "Value":
        ratio = metric / target
        if current and within_tolerance(ratio, up, down):
            return current, f"{metric:g}/{target:g} = {ratio:.3g} within tolerance: {current}"
        n = math.ceil(ratio * current) if current else math.ceil(ratio)
        return n, f"ceil({current} × {metric:g}/{target:g}) = {n}"
    ratio = metric / (target * current) if current else math.inf
    if within_tolerance(ratio, up, down):
        return current, f"{metric:g}/({target:g} × {current}) = {ratio:.3g} within tolerance: {current}"
    n = math.ceil(metric / target)
    return n, f"ceil({metric:g}/{target:g}) = {n}"


@dataclass(frozen=True)
class MetricInput:
    """What the HPA reads for one of its External metrics at a sync; ``metric`` ``None`` when the read fails."""

    name: str
    metric: float | None
    target: float
    metric_type: str = "AverageValue"
    error: str | None = None


def tolerances_for_hpa(behavior: Behavior | None, default: float = TOLERANCE) -> tuple[float, float]:
    """The (scale-up, scale-down) tolerance of one HPA: a behavior's own ``tolerance`` where it sets
    one, else the controller's (``--horizontal-pod-autoscaler-tolerance``, 10 %). Kubernetes'
    ``tolerancesForHpa`` in ``pkg/controller/podautoscaler/horizontal.go``."""
    if behavior is None:
        return default, default
    up, down = behavior.up.tolerance, behavior.down.tolerance
    return (default if up is None else up), (default if down is None else down)


def compute_replicas_for_metrics(
    metrics: Sequence[MetricInput], current: int, up: float = TOLERANCE, down: float = TOLERANCE
) -> tuple[int, list[tuple[str, int, str]], list[MetricInput]]:
    """The HPA's proposal from its metrics at ``current`` replicas, before stabilization, rate
    limits and the min/max clamp: the largest of the readable metrics' proposals (0 when none),
    each proposal with how it was reached, and the metrics that could not be read. Kubernetes'
    ``computeReplicasForMetrics`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    proposals: list[tuple[str, int, str]] = []
    invalid: list[MetricInput] = []
    for m in metrics:
        if m.metric is None:
            invalid.append(m)
            continue
        n, how = metric_proposal(m.metric, m.target, current, m.metric_type, up, down)
        proposals.append((m.name, n, how))
    return max((n for _, n, _ in proposals), default=0), proposals, invalid
