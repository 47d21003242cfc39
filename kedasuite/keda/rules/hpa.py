"""The HPA's rules, as pure functions: its defaults, ``behavior`` with Kubernetes' defaults, the
tolerance, each metric's proposal and the proposal from all of them, the stabilization and rate
limits of the legacy and the behavior path, the scale events they count, and one whole sync
(:func:`reconcile_autoscaler`). Each is named after the function of Kubernetes'
``pkg/controller/podautoscaler/horizontal.go`` (or ``replica_calculator.go``) it follows, as
``docs/keda-model.md#the-hpa-sync-by-sync`` describes. What one HPA remembers between syncs is
handed in and back (:class:`HPAMemory`); :class:`kedasuite.keda.model.hpa.HPA` keeps it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core import defaults
from kedasuite.core.errors import InputError

#: Kubernetes' controller defaults (kube-controller-manager flags).
SYNC_PERIOD = defaults.HPA_SYNC_PERIOD_S  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = defaults.HPA_TOLERANCE  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SELECT_POLICIES = ("Max", "Min", "Disabled")
POLICY_TYPES = ("Pods", "Percent")


def legacy_scale_up_limit(current: int) -> int:
    """The most replicas one sync may set on the legacy path (no ``behavior``, as KEDA creates its HPAs):
    ``max(2 × current, 4)``. From 1: 4, then 8, then 16. Kubernetes' ``calculateScaleUpLimit``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    return max(2 * current, 4)


def legacy_scale_up_syncs(start: int, goal: int) -> int:
    """HPA syncs the legacy path needs to go from ``start`` replicas to ``goal`` (1 -> 10: 1 -> 4 -> 8 -> 10,
    three): :func:`legacy_scale_up_limit` applied until it reaches ``goal``, for expectations."""
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
    """Whether a usage ratio is close enough to 1 to leave the count alone: ``1 - down <= ratio <= 1 + up``,
    both ends included. Kubernetes' ``Tolerances.isWithin`` (``pkg/controller/podautoscaler/replica_calculator.go``)."""
    return 1.0 - down <= ratio <= 1.0 + up


def metric_proposal(
    metric: float,
    target: float,
    current: int,
    metric_type: str = "AverageValue",
    up: float = TOLERANCE,
    down: float = TOLERANCE,
    ready: int | None = None,
) -> tuple[int, str]:
    """One External metric's proposal and how it was reached. Kubernetes' ``GetExternalPerPodMetricReplicas``
    and ``GetExternalMetricReplicas`` (``pkg/controller/podautoscaler/replica_calculator.go``).

    AverageValue: ``ratio = M / (T × cur)``; within the tolerance ``cur``, else ``ceil(M / T)``.
    Value: ``ratio = M / T``; within the tolerance ``cur``, else ``ceil(ratio × ready pods)``: the
    pods running and ready (``getReadyPodsCount``), which lag ``cur`` while new pods start.
    ``ready`` ``None`` (unknown) takes every replica as ready. At 0 replicas the tolerance and the
    pods do not count: ``ceil(ratio)``, to scale from zero.
    """
    if target <= 0:
        raise InputError(f"a trigger's target must be positive (got {target:g})")
    if metric_type == "Value":
        ratio = metric / target
        if current and within_tolerance(ratio, up, down):
            return current, f"{metric:g}/{target:g} = {ratio:.3g} within tolerance: {current}"
        if not current:
            n = math.ceil(ratio)
            return n, f"ceil({current} × {metric:g}/{target:g}) = {n}"
        pods = current if ready is None else ready
        n = math.ceil(ratio * pods)
        of = f" ({ready} of {current} ready)" if ready is not None and ready != current else ""
        return n, f"ceil({pods} × {metric:g}/{target:g}) = {n}{of}"
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
    metrics: Sequence[MetricInput],
    current: int,
    up: float = TOLERANCE,
    down: float = TOLERANCE,
    ready: int | None = None,
) -> tuple[int, list[tuple[str, int, str]], list[MetricInput]]:
    """The HPA's proposal from its metrics at ``current`` replicas (``ready`` of them ready, when
    known), before stabilization, rate limits and the min/max clamp: the largest of the readable
    metrics' proposals (0 when none), each proposal with how it was reached, and the metrics that
    could not be read. Kubernetes' ``computeReplicasForMetrics``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    proposals: list[tuple[str, int, str]] = []
    invalid: list[MetricInput] = []
    for m in metrics:
        if m.metric is None:
            invalid.append(m)
            continue
        n, how = metric_proposal(m.metric, m.target, current, m.metric_type, up, down, ready)
        proposals.append((m.name, n, how))
    return max((n for _, n, _ in proposals), default=0), proposals, invalid


# --- what one HPA remembers between syncs, and what a sync decides ----------------------------------


@dataclass(frozen=True)
class Recommendation:
    """One proposal the HPA keeps to stabilize the next syncs (``timestampedRecommendation``)."""

    replicas: int
    at: float


@dataclass(frozen=True)
class ScaleEvent:
    """One rescale of the HPA's own (``timestampedScaleEvent``): the replicas it added or removed,
    when, and whether it is older than every policy period (its slot may then be reused)."""

    change: int
    at: float
    outdated: bool = False


@dataclass(frozen=True)
class HPAMemory:
    """What the controller keeps per HPA between syncs: its recommendations and, with ``behavior``,
    its scale-up and scale-down events. Immutable: each rule hands back the next one."""

    recommendations: tuple[Recommendation, ...] = ()
    up_events: tuple[ScaleEvent, ...] = ()
    down_events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True)
class Normalized:
    """A proposal after stabilization and the rate limits: the replicas to set, the stabilized
    recommendation, the upper bound when one applied, the reason in words, and the
    recommendations with this one recorded."""

    replicas: int
    stabilized: int
    limit: int | None
    reason: str
    recommendations: tuple[Recommendation, ...]


@dataclass(frozen=True)
class SyncResult:
    desired: int
    #: ``None`` when the HPA computed nothing (target at 0, metrics unreadable, out-of-range fix-up).
    recommendation: int | None
    stabilized: int | None
    #: The upper bound this sync (scale-up limit and maxReplicas), when one applied.
    limit: int | None
    reason: str


def record_initial_recommendation(
    recommendations: Sequence[Recommendation], current: int, now: float
) -> tuple[Recommendation, ...]:
    """The first sync remembers the count it found, so that a scale-down right after the HPA is
    created is stabilized against it. Kubernetes' ``recordInitialRecommendation``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    if recommendations:
        return tuple(recommendations)
    return (Recommendation(current, now),)


def _recorded(
    recommendations: Sequence[Recommendation], old: int | None, replicas: int, now: float
) -> tuple[Recommendation, ...]:
    """The recommendations with ``replicas`` recorded at ``now``: in the slot of an obsolete one
    (the last found), else appended, as both stabilizations of horizontal.go store them."""
    new = Recommendation(replicas, now)
    if old is None:
        return (*recommendations, new)
    return tuple(new if i == old else r for i, r in enumerate(recommendations))


def stabilize_recommendation(
    recommendations: Sequence[Recommendation], now: float, desired: int, window: float
) -> tuple[int, tuple[Recommendation, ...]]:
    """The legacy path's scale-down stabilization: the highest recommendation of the last
    ``window`` seconds, ``desired`` included, so one low reading does not scale down. A
    recommendation exactly ``window`` old still counts. Returns it and the recommendations with
    ``desired`` recorded. Kubernetes' ``stabilizeRecommendation``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    cutoff, best, old = now - window, desired, None
    for i, r in enumerate(recommendations):
        if r.at < cutoff:
            old = i
        elif r.replicas > best:
            best = r.replicas
    return best, _recorded(recommendations, old, desired, now)


def convert_desired_replicas_with_rules(
    current: int, desired: int, min_replicas: int, max_replicas: int
) -> tuple[int, int, str]:
    """The legacy path's bounds: ``desired`` clamped to ``[minReplicas, min(maxReplicas, max(2 ×
    current, 4))]``, so a bogus metric cannot multiply the count in one sync. Returns the replicas,
    the upper bound and, when a bound moved the count, which one in words. Kubernetes'
    ``convertDesiredReplicasWithRules`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    limit = legacy_scale_up_limit(current)
    upper = min(max_replicas, limit)
    replicas = min(max(desired, min_replicas), upper)
    if replicas < desired:
        why = (
            f"legacy scale-up limit max(2 × {current}, 4)"
            if limit < max_replicas
            else f"maxReplicaCount {max_replicas}"
        )
    elif replicas > desired:
        why = f"minReplicas {min_replicas}"
    else:
        why = ""
    return replicas, upper, why


def normalize_desired_replicas(
    recommendations: Sequence[Recommendation],
    now: float,
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    window: float,
) -> Normalized:
    """The legacy path (an HPA with no ``behavior``, as KEDA creates it by default): stabilize,
    then bound, and say which of them moved the count. Kubernetes' ``normalizeDesiredReplicas``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    best, recorded = stabilize_recommendation(recommendations, now, desired, window)
    replicas, upper, why = convert_desired_replicas_with_rules(current, best, min_replicas, max_replicas)
    if replicas < best:
        how = f"HPA wants {best}, limited to {replicas} this sync: {why}"
    elif best > desired:
        how = (
            f"HPA wants {desired}, holds {replicas}: the highest recommendation of the last "
            f"{window:g} s is {best} (scale-down stabilization)"
        )
    elif replicas > best:
        how = f"HPA wants {desired}, raised to {why}"
    else:
        how = f"HPA wants {replicas}"
    return Normalized(replicas, best, upper, how, recorded)


def stabilize_recommendation_with_behaviors(
    recommendations: Sequence[Recommendation], now: float, current: int, desired: int, behavior: Behavior
) -> tuple[int, str, tuple[Recommendation, ...]]:
    """The behavior path's stabilization: ``current`` raised to the lowest recommendation of the
    scale-up window and lowered to the highest of the scale-down window (each window excludes
    its start), so the count moves only on what held for the whole window. Returns it, how in
    words, and the recommendations with ``desired`` recorded (in the slot of one older than both
    windows). Kubernetes' ``stabilizeRecommendationWithBehaviors``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    up_cut, down_cut = now - behavior.up.window, now - behavior.down.window
    up_rec = down_rec = desired
    old = None
    for i, r in enumerate(recommendations):
        if r.at > up_cut:
            up_rec = min(r.replicas, up_rec)
        if r.at > down_cut:
            down_rec = max(r.replicas, down_rec)
        if r.at < up_cut and r.at < down_cut:
            old = i
    stabilized = min(max(current, up_rec), down_rec)
    if stabilized > desired:
        how = (
            f"HPA wants {desired}, stabilized at {stabilized}: the highest recommendation of the last "
            f"{behavior.down.window:g} s (behavior.scaleDown window)"
        )
    elif stabilized < desired:
        how = (
            f"HPA wants {desired}, stabilized at {stabilized}: the lowest recommendation of the last "
            f"{behavior.up.window:g} s (behavior.scaleUp window)"
        )
    else:
        how = f"HPA wants {desired}"
    return stabilized, how, _recorded(recommendations, old, desired, now)


def get_replicas_change_per_period(period: float, events: Sequence[ScaleEvent], now: float) -> int:
    """The replicas the HPA itself changed in one direction over the last ``period`` seconds (an
    event exactly ``period`` old no longer counts): what a policy's period has already used.
    Kubernetes' ``getReplicasChangePerPeriod`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    cutoff = now - period
    return sum(e.change for e in events if e.at > cutoff)


def _period_start(
    current: int, up_events: Sequence[ScaleEvent], down_events: Sequence[ScaleEvent], period: float, now: float
) -> int:
    """The count a policy's period started from: ``current`` less what the HPA added, plus what it removed, in it."""
    return (
        current
        - get_replicas_change_per_period(period, up_events, now)
        + get_replicas_change_per_period(period, down_events, now)
    )


def calculate_scale_up_limit_with_scaling_rules(
    current: int, up_events: Sequence[ScaleEvent], down_events: Sequence[ScaleEvent], rules: Rules, now: float
) -> tuple[int, str]:
    """The most replicas ``behavior.scaleUp``'s policies allow now, and how in words: each policy
    adds ``Pods`` or ``Percent`` (rounded up, so that a small count still grows) to the count its
    period started from; ``selectPolicy`` ``Max`` takes the largest, ``Min`` the smallest,
    ``Disabled`` keeps ``current``. Kubernetes' ``calculateScaleUpLimitWithScalingRules``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    if rules.select == "Disabled":
        return current, "behavior.scaleUp.selectPolicy Disabled"
    terms, values = [], []
    for p in rules.policies:
        start = _period_start(current, up_events, down_events, p.period, now)
        if p.type == "Pods":
            value = start + p.value
            terms.append(f"{start} + {p.value} pods per {p.period:g} s = {value}")
        else:
            value = math.ceil(start * (1 + p.value / 100))
            terms.append(f"ceil({start} × {100 + p.value} %) per {p.period:g} s = {value}")
        values.append(value)
    result = max(values) if rules.select == "Max" else min(values)
    return result, f"behavior.scaleUp policies {'; '.join(terms)}; selectPolicy {rules.select}: {result}"


def calculate_scale_down_limit_with_behaviors(
    current: int, up_events: Sequence[ScaleEvent], down_events: Sequence[ScaleEvent], rules: Rules, now: float
) -> tuple[int, str]:
    """The fewest replicas ``behavior.scaleDown``'s policies allow now, and how in words: each
    policy removes ``Pods`` or ``Percent`` (truncated) from the count its period started from;
    ``selectPolicy`` ``Max`` takes the largest change (the lowest count), ``Min`` the smallest,
    ``Disabled`` keeps ``current``. Kubernetes' ``calculateScaleDownLimitWithBehaviors``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    if rules.select == "Disabled":
        return current, "behavior.scaleDown.selectPolicy Disabled"
    terms, values = [], []
    for p in rules.policies:
        start = _period_start(current, up_events, down_events, p.period, now)
        if p.type == "Pods":
            value = start - p.value
            terms.append(f"{start} − {p.value} pods per {p.period:g} s = {value}")
        else:
            value = int(start * (1 - p.value / 100))
            terms.append(f"trunc({start} × {100 - p.value} %) per {p.period:g} s = {value}")
        values.append(value)
    result = min(values) if rules.select == "Max" else max(values)
    return result, f"behavior.scaleDown policies {'; '.join(terms)}; selectPolicy {rules.select}: {result}"


def convert_desired_replicas_with_behavior_rate(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    memory: HPAMemory,
    behavior: Behavior,
    now: float,
) -> tuple[int, int | None, str]:
    """The behavior path's bounds: going up, at most the scale-up policies' limit (never below
    ``current``) and ``maxReplicas``; going down, at least the scale-down policies' limit (never
    above ``current``) and ``minReplicas``. Returns the replicas, the upper bound when going up,
    and, when a bound moved the count, which one in words. Kubernetes'
    ``convertDesiredReplicasWithBehaviorRate`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    ups, downs = memory.up_events, memory.down_events
    if desired > current:
        limit, rule = calculate_scale_up_limit_with_scaling_rules(current, ups, downs, behavior.up, now)
        limit = max(limit, current)
        upper = min(max_replicas, limit)
        if desired > upper:
            return upper, upper, rule if limit < max_replicas else f"maxReplicaCount {max_replicas}"
        return desired, upper, ""
    if desired < current:
        limit, rule = calculate_scale_down_limit_with_behaviors(current, ups, downs, behavior.down, now)
        limit = min(limit, current)
        lower = max(min_replicas, limit)
        if desired < lower:
            return lower, None, rule if limit > min_replicas else f"minReplicas {min_replicas}"
    return desired, None, ""


def normalize_desired_replicas_with_behaviors(
    memory: HPAMemory,
    now: float,
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    behavior: Behavior,
) -> Normalized:
    """The behavior path (``advanced.horizontalPodAutoscalerConfig.behavior``): stabilize, then
    limit the rate, and say which of them moved the count. Kubernetes'
    ``normalizeDesiredReplicasWithBehaviors`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    stabilized, how, recorded = stabilize_recommendation_with_behaviors(
        memory.recommendations, now, current, desired, behavior
    )
    replicas, upper, why = convert_desired_replicas_with_behavior_rate(
        current, stabilized, min_replicas, max_replicas, memory, behavior, now
    )
    if why:
        how = f"{how}, limited to {replicas} this sync: {why}"
    return Normalized(replicas, stabilized, upper, how, recorded)


def get_longest_policy_period(rules: Rules) -> float:
    """The longest ``periodSeconds`` of one direction's policies: how long its events matter.
    Kubernetes' ``getLongestPolicyPeriod`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    return max((p.period for p in rules.policies), default=0)


def mark_scale_events_outdated(events: Sequence[ScaleEvent], longest: float, now: float) -> tuple[ScaleEvent, ...]:
    """The events with those older than ``longest`` seconds marked outdated, so that their slots
    are reused and the list stays short. Kubernetes' ``markScaleEventsOutdated``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    cutoff = now - longest
    return tuple(ScaleEvent(e.change, e.at, True) if e.at < cutoff else e for e in events)


def store_scale_event(
    behavior: Behavior | None,
    up_events: Sequence[ScaleEvent],
    down_events: Sequence[ScaleEvent],
    now: float,
    previous: int,
    new: int,
) -> tuple[tuple[ScaleEvent, ...], tuple[ScaleEvent, ...]]:
    """The (scale-up, scale-down) events after the HPA itself rescaled from ``previous`` to
    ``new``: the change is stored in its direction, in the slot of the last outdated event or
    appended, for the policies to count. Without ``behavior`` nothing is kept. Kubernetes'
    ``storeScaleEvent`` (``pkg/controller/podautoscaler/horizontal.go``)."""
    if behavior is None:
        return tuple(up_events), tuple(down_events)
    up = new > previous
    rules = behavior.up if up else behavior.down
    events = mark_scale_events_outdated(up_events if up else down_events, get_longest_policy_period(rules), now)
    event = ScaleEvent(abs(new - previous), now)
    old = [i for i, e in enumerate(events) if e.outdated]
    stored = tuple(event if i == old[-1] else e for i, e in enumerate(events)) if old else (*events, event)
    return (stored, tuple(down_events)) if up else (tuple(up_events), stored)


def reconcile_autoscaler(
    memory: HPAMemory,
    now: float,
    current: int,
    metrics: Sequence[MetricInput],
    min_replicas: int,
    max_replicas: int,
    behavior: Behavior | None = None,
    downscale_window: float = DOWNSCALE_STABILIZATION,
    tolerance: float = TOLERANCE,
    ready: int | None = None,
) -> tuple[SyncResult, HPAMemory]:
    """One sync of one HPA at ``current`` replicas: nothing with the target at 0, the nearer bound
    outside ``[minReplicas, maxReplicas]``, a hold when the metrics that can be read do not allow
    a decision, else the proposal of the metrics through the legacy or the behavior path.
    ``ready``: the pods running and ready, for ``Value`` metrics (``None``: every replica).
    Returns the result and what the HPA remembers next. Kubernetes' ``reconcileAutoscaler``
    (``pkg/controller/podautoscaler/horizontal.go``)."""
    memory = dataclasses.replace(
        memory, recommendations=record_initial_recommendation(memory.recommendations, current, now)
    )

    def rescale(result: SyncResult, kept: HPAMemory) -> tuple[SyncResult, HPAMemory]:
        ups, downs = store_scale_event(behavior, kept.up_events, kept.down_events, now, current, result.desired)
        return result, dataclasses.replace(kept, up_events=ups, down_events=downs)

    if current == 0 and min_replicas != 0:
        return SyncResult(0, None, None, None, "HPA idle: the target is at 0 (ScalingDisabled)"), memory
    if current > max_replicas:
        why = f"HPA: {current} replicas above maxReplicas {max_replicas}: sets {max_replicas}"
        return rescale(SyncResult(max_replicas, None, None, None, why), memory)
    if current < min_replicas:
        why = f"HPA: {current} replicas below minReplicas {min_replicas}: sets {min_replicas}"
        return rescale(SyncResult(min_replicas, None, None, None, why), memory)
    up_tol, down_tol = tolerances_for_hpa(behavior, tolerance)
    wanted, proposals, invalid = compute_replicas_for_metrics(metrics, current, up_tol, down_tol, ready)
    terms = "; ".join(f"{name} {how}" for name, _, how in proposals)
    unreadable = ", ".join(f"{m.name} ({m.error or 'unreadable'})" for m in invalid)
    if invalid and (not proposals or wanted < current):
        return SyncResult(
            current,
            None,
            None,
            None,
            f"HPA holds {current}: cannot read {unreadable}"
            + (f" and the rest ask for fewer ({terms})" if proposals else ""),
        ), memory
    if behavior is None:
        n = normalize_desired_replicas(
            memory.recommendations, now, current, wanted, min_replicas, max_replicas, downscale_window
        )
    else:
        n = normalize_desired_replicas_with_behaviors(
            memory, now, current, wanted, min_replicas, max_replicas, behavior
        )
    memory = dataclasses.replace(memory, recommendations=n.recommendations)
    reason = f"{n.reason} [{terms}]" + (f" [unreadable, ignored: {unreadable}]" if invalid else "")
    if n.replicas == current:
        return SyncResult(current, wanted, n.stabilized, n.limit, reason), memory
    return rescale(SyncResult(n.replicas, wanted, n.stabilized, n.limit, reason), memory)
