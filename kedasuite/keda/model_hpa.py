"""The HPA controller KEDA creates for a ScaledObject, sync by sync (part of :mod:`kedasuite.keda.model`).

Pure, no clock of its own: :meth:`HPA.sync` is handed ``now``. It follows Kubernetes'
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
        window = float(raw["stabilizationWindowSeconds"]) if raw.get("stabilizationWindowSeconds") is not None \
            else default_window
        select = str(raw.get("selectPolicy") or "Max")
        policies = tuple(Policy(str(p["type"]), int(p["value"]), float(p["periodSeconds"]))
                         for p in raw["policies"]) if raw.get("policies") else default_policies
        tolerance = float(str(raw["tolerance"])) if raw.get("tolerance") is not None else None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where}: {exc!r} does not read as a Kubernetes HPAScalingRules; each policy needs "
                         "type (Pods or Percent), value and periodSeconds") from None
    if select not in SELECT_POLICIES:
        raise InputError(f"{where}.selectPolicy {select!r}: one of {', '.join(SELECT_POLICIES)}")
    for p in policies:
        if p.type not in POLICY_TYPES or p.value <= 0 or not 0 < p.period <= 1800:
            raise InputError(f"{where}: policy {p.type} {p.value} per {p.period:g} s is invalid; type Pods or Percent, "
                             "value > 0, 0 < periodSeconds <= 1800")
    return Rules(window, select, policies, tolerance)


def behavior_from_manifest(raw: Mapping[str, Any] | None, downscale_window: float = DOWNSCALE_STABILIZATION
                           ) -> Behavior | None:
    """``advanced.horizontalPodAutoscalerConfig.behavior`` with Kubernetes' defaults for what it leaves out
    (``SetDefaults_HorizontalPodAutoscalerBehavior``; a missing scale-down window is the controller's
    downscale stabilization, ``maybeInitScaleDownStabilizationWindow``). ``None`` stays ``None``: the legacy path."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InputError("advanced.horizontalPodAutoscalerConfig.behavior must be a mapping (scaleUp, scaleDown)")
    up = _rules(raw.get("scaleUp"), "behavior.scaleUp", 0.0,
                (Policy("Pods", 4, 15.0), Policy("Percent", 100, 15.0)))
    down = _rules(raw.get("scaleDown"), "behavior.scaleDown", downscale_window, (Policy("Percent", 100, 15.0),))
    return Behavior(up, down)


def within_tolerance(ratio: float, up: float, down: float) -> bool:
    """``Tolerances.isWithin``: ``1 - down <= ratio <= 1 + up``, both ends included."""
    return 1.0 - down <= ratio <= 1.0 + up


def metric_proposal(metric: float, target: float, current: int, metric_type: str = "AverageValue",
                    up: float = TOLERANCE, down: float = TOLERANCE) -> tuple[int, str]:
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


@dataclass(frozen=True)
class SyncResult:
    desired: int
    #: ``None`` when the HPA computed nothing (target at 0, metrics unreadable, out-of-range fix-up).
    recommendation: int | None
    stabilized: int | None
    #: The upper bound this sync (scale-up limit and maxReplicas), when one applied.
    limit: int | None
    reason: str



def tolerances_for_hpa(behavior: Behavior | None, default: float = TOLERANCE) -> tuple[float, float]:
    """The (scale-up, scale-down) tolerance of one HPA: a behavior's own ``tolerance`` where it sets
    one, else the controller's (``--horizontal-pod-autoscaler-tolerance``, 10 %). Kubernetes'
    ``tolerancesForHpa`` in ``pkg/controller/podautoscaler/horizontal.go``."""
    if behavior is None:
        return default, default
    up, down = behavior.up.tolerance, behavior.down.tolerance
    return (default if up is None else up), (default if down is None else down)


def compute_replicas_for_metrics(metrics: Sequence[MetricInput], current: int, up: float = TOLERANCE,
                                 down: float = TOLERANCE) -> tuple[int, list[tuple[str, int, str]], list[MetricInput]]:
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

class HPA:
    """One HorizontalPodAutoscaler's state: recommendations and (with ``behavior``) scale events."""

    def __init__(self, min_replicas: int, max_replicas: int, behavior: Behavior | None = None,
                 downscale_window: float = DOWNSCALE_STABILIZATION, tolerance: float = TOLERANCE) -> None:
        self.min, self.max = min_replicas, max_replicas
        self.behavior, self.window, self.tolerance = behavior, downscale_window, tolerance
        self.recommendations: list[list[float]] = []  # [replicas, time]
        self.up_events: list[list[float]] = []  # [change, time, outdated]
        self.down_events: list[list[float]] = []

    def _tolerances(self) -> tuple[float, float]:
        return tolerances_for_hpa(self.behavior, self.tolerance)

    def sync(self, now: float, current: int, metrics: Sequence[MetricInput]) -> SyncResult:
        if not self.recommendations:  # recordInitialRecommendation
            self.recommendations.append([current, now])
        if current == 0 and self.min != 0:
            return SyncResult(0, None, None, None, "HPA idle: the target is at 0 (ScalingDisabled)")
        if current > self.max:
            return self._rescale(now, current, self.max, None, None, None,
                                 f"HPA: {current} replicas above maxReplicas {self.max}: sets {self.max}")
        if current < self.min:
            return self._rescale(now, current, self.min, None, None, None,
                                 f"HPA: {current} replicas below minReplicas {self.min}: sets {self.min}")
        up_tol, down_tol = self._tolerances()
        wanted, proposals, invalid = compute_replicas_for_metrics(metrics, current, up_tol, down_tol)
        terms = "; ".join(f"{name} {how}" for name, _, how in proposals)
        unreadable = ", ".join(f"{m.name} ({m.error or 'unreadable'})" for m in invalid)
        if invalid and (not proposals or wanted < current):
            return SyncResult(current, None, None, None,
                              f"HPA holds {current}: cannot read {unreadable}"
                              + (f" and the rest ask for fewer ({terms})" if proposals else ""))
        if self.behavior is None:
            desired, stabilized, limit, how = self._legacy(now, current, wanted)
        else:
            desired, stabilized, limit, how = self._with_behavior(now, current, wanted)
        reason = f"{how} [{terms}]" + (f" [unreadable, ignored: {unreadable}]" if invalid else "")
        if desired == current:
            return SyncResult(current, wanted, stabilized, limit, reason)
        return self._rescale(now, current, desired, wanted, stabilized, limit, reason)

    def _rescale(self, now: float, current: int, desired: int, wanted: int | None, stabilized: int | None,
                 limit: int | None, reason: str) -> SyncResult:
        if self.behavior is not None:  # storeScaleEvent
            up = desired > current
            events = self.up_events if up else self.down_events
            longest = max((p.period for p in (self.behavior.up if up else self.behavior.down).policies), default=0)
            for e in events:
                if e[1] < now - longest:
                    e[2] = 1
            event = [abs(desired - current), now, 0]
            old = [i for i, e in enumerate(events) if e[2]]
            if old:
                events[old[-1]] = event
            else:
                events.append(event)
        return SyncResult(desired, wanted, stabilized, limit, reason)

    def _store(self, now: float, value: int, old: int | None) -> None:
        if old is None:
            self.recommendations.append([value, now])
        else:
            self.recommendations[old] = [value, now]

    def _legacy(self, now: float, current: int, wanted: int) -> tuple[int, int, int, str]:
        cutoff, best, old = now - self.window, wanted, None
        for i, (value, at) in enumerate(self.recommendations):
            if at < cutoff:
                old = i
            elif value > best:
                best = int(value)
        self._store(now, wanted, old)
        limit = legacy_scale_up_limit(current)
        upper = min(self.max, limit)
        desired = min(max(best, self.min), upper)
        if desired < best:
            why = (f"legacy scale-up limit max(2 × {current}, 4)" if limit < self.max
                   else f"maxReplicaCount {self.max}")
            how = f"HPA wants {best}, limited to {desired} this sync: {why}"
        elif best > wanted:
            how = (f"HPA wants {wanted}, holds {desired}: the highest recommendation of the last "
                   f"{self.window:g} s is {best} (scale-down stabilization)")
        elif desired > best:
            how = f"HPA wants {wanted}, raised to minReplicas {self.min}"
        else:
            how = f"HPA wants {desired}"
        return desired, best, upper, how

    def _with_behavior(self, now: float, current: int, wanted: int) -> tuple[int, int, int | None, str]:
        assert self.behavior is not None
        b = self.behavior
        up_cut, down_cut = now - b.up.window, now - b.down.window
        up_rec = down_rec = wanted
        old = None
        for i, (value, at) in enumerate(self.recommendations):
            if at > up_cut:
                up_rec = min(int(value), up_rec)
            if at > down_cut:
                down_rec = max(int(value), down_rec)
            if at < up_cut and at < down_cut:
                old = i
        stabilized = min(max(current, up_rec), down_rec)
        self._store(now, wanted, old)
        if stabilized > wanted:
            how = (f"HPA wants {wanted}, stabilized at {stabilized}: the highest recommendation of the last "
                   f"{b.down.window:g} s (behavior.scaleDown window)")
        elif stabilized < wanted:
            how = (f"HPA wants {wanted}, stabilized at {stabilized}: the lowest recommendation of the last "
                   f"{b.up.window:g} s (behavior.scaleUp window)")
        else:
            how = f"HPA wants {wanted}"
        if stabilized > current:
            limit, rule = self._policy_limit(now, current, up=True)
            limit = max(limit, current)
            upper = min(self.max, limit)
            if stabilized > upper:
                why = rule if limit < self.max else f"maxReplicaCount {self.max}"
                return upper, stabilized, upper, f"{how}, limited to {upper} this sync: {why}"
            return stabilized, stabilized, upper, how
        if stabilized < current:
            limit, rule = self._policy_limit(now, current, up=False)
            limit = min(limit, current)
            lower = max(self.min, limit)
            if stabilized < lower:
                why = rule if limit > self.min else f"minReplicas {self.min}"
                return lower, stabilized, None, f"{how}, limited to {lower} this sync: {why}"
        return stabilized, stabilized, None, how

    def _policy_limit(self, now: float, current: int, up: bool) -> tuple[int, str]:
        """``calculateScaleUpLimitWithScalingRules`` / ``calculateScaleDownLimitWithBehaviors``."""
        assert self.behavior is not None
        rules = self.behavior.up if up else self.behavior.down
        word = "scaleUp" if up else "scaleDown"
        if rules.select == "Disabled":
            return current, f"behavior.{word}.selectPolicy Disabled"
        terms, values = [], []
        for p in rules.policies:
            added = sum(int(e[0]) for e in self.up_events if e[1] > now - p.period)
            removed = sum(int(e[0]) for e in self.down_events if e[1] > now - p.period)
            start = current - added + removed
            if p.type == "Pods":
                value = start + p.value if up else start - p.value
                terms.append(f"{start} {'+' if up else '−'} {p.value} pods per {p.period:g} s = {value}")
            elif up:
                value = math.ceil(start * (1 + p.value / 100))
                terms.append(f"ceil({start} × {100 + p.value} %) per {p.period:g} s = {value}")
            else:
                value = int(start * (1 - p.value / 100))
                terms.append(f"trunc({start} × {100 - p.value} %) per {p.period:g} s = {value}")
            values.append(value)
        pick = (max if up else min) if rules.select == "Max" else (min if up else max)
        result = pick(values)
        return result, f"behavior.{word} policies {'; '.join(terms)}; selectPolicy {rules.select}: {result}"
