"""What KEDA and the HPA will decide, from a ScaledObject or ScaledJob and metric values.

Pure functions, no I/O: ``status`` (:mod:`kedasuite.tools.status`, with :mod:`kedasuite.keda.reads`) reads the metrics from the brokers and
hands them here; the tests feed hand-computed cases from the rules in ``docs/keda-model.md``
(KEDA v2.20.2; its sections #activation, #scaledobject-the-hpa and #scaledjob).

* A **ScaledObject** is *active* when any trigger's metric is strictly above its
  activation threshold. Active, KEDA wakes the target to ``max(min, 1)`` and the HPA takes
  over: per trigger it proposes ``ceil(M / T)`` (AverageValue), takes the largest
  proposal, and clamps it to ``[max(min, 1), max]``. Inactive, KEDA steps down to ``min``
  (or ``idleReplicaCount``) once ``cooldownPeriod`` has passed since it was last active.
* A **ScaledJob** creates Jobs at each poll: :func:`scaled_job_new_jobs` follows
  ``scale_jobs.go`` for the four strategies; with several triggers each one's share of Jobs is
  capped at ``maxReplicaCount`` before ``multipleScalersCalculation`` combines them
  (:func:`is_scaled_job_active`).
* The pause annotations (``autoscaling.keda.sh/paused``, ``paused-replicas``, ``paused-scale-in``,
  ``paused-scale-out``) and ``force-activation`` are read into :class:`Pause`.
* The ``kafka`` trigger's metric already carries the partition cap
  (:func:`kedasuite.keda.rules.kafka.keda_lag`): it is handed over as KEDA would hand it to the HPA.

What the predictions leave out, on purpose: the HPA's 10 % tolerance, its scale-up
limit and its 300 s scale-down window (they decide how fast the count moves, not where it settles),
and the current replica count, which only a cluster knows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB  # the kinds, named once (re-exported here)
from kedasuite.keda.rules.activation import is_active
from kedasuite.keda.rules.hpa import (
    MetricInput,
    behavior_from_manifest,
    compute_replicas_for_metrics,
    metric_proposal,
    tolerances_for_hpa,
)
from kedasuite.keda.rules.scaledjob import (
    ScalerMetrics,
    calculate_queue_length_and_max_value,
    create_jobs,
    get_scaling_decision,
    is_scaled_job_active,
    scaled_job_replica_counts,
)
from kedasuite.keda.rules.spec import (
    PAUSED_REPLICAS,
    PAUSED_SCALE_IN,
    PAUSED_SCALE_OUT,
    STRATEGIES,
    Scaler,
    Trigger,
    _fmt,
)

# KEDA's defaults when a manifest leaves a field out.


def get_hpa_min_replicas(min_replica_count: int) -> int:
    """The ``minReplicas`` of the HPA KEDA creates, and the count it wakes a target at 0 to:
    ``minReplicaCount`` when above 0, else 1 (an HPA cannot hold 0; KEDA takes that step
    itself). KEDA's ``GetHPAMinReplicas`` (``apis/keda/v1alpha1/scaledobject_types.go``)."""
    return min_replica_count if min_replica_count > 0 else 1


def new_hpa_behavior(scaler: Scaler) -> Mapping[str, Any] | None:
    """The ``behavior`` of the HPA KEDA creates, as a manifest would write it: the ScaledObject's own
    (``None``: the HPA's legacy path), with ``selectPolicy: Disabled`` on scale-down under
    ``paused-scale-in`` and on scale-up under ``paused-scale-out``, creating the behavior if there is
    none (so a paused direction also moves the other onto the behavior path and its defaults).
    KEDA's ``newHPAForScaledObject`` (``controllers/keda/hpa.go``)."""
    if not (scaler.pause.scale_in or scaler.pause.scale_out):
        return scaler.hpa_behavior
    given = {k: dict(v) if isinstance(v, Mapping) else v for k, v in (scaler.hpa_behavior or {}).items()}
    for direction, paused in (("scaleDown", scaler.pause.scale_in), ("scaleUp", scaler.pause.scale_out)):
        if paused:
            given[direction] = {**(given.get(direction) or {}), "selectPolicy": "Disabled"}
    return given


def hpa_proposal(metric: float, target: float) -> int:
    """One AverageValue metric's proposal: ``ceil(M / T)`` (the HPA's tolerance aside)."""
    if target <= 0:
        raise ValueError("the trigger's target must be positive")
    return math.ceil(metric / target) if metric > 0 else 0


def hpa_replicas(proposals: Sequence[int], min_replicas: int, max_replicas: int) -> int:
    """The HPA's choice: the largest proposal, clamped to ``[max(min, 1), max]``."""
    return min(max_replicas, max(get_hpa_min_replicas(min_replicas), *proposals))


@dataclass(frozen=True)
class Reading:
    """A trigger's metric right now, as KEDA would hand it to the HPA, or why it is unknown."""

    trigger: Trigger
    metric: float | None
    #: For activation, when it differs from ``metric`` (kafka compares the uncapped lag).
    activation_metric: float | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        value = self.activation_metric if self.activation_metric is not None else self.metric
        return value is not None and is_active(value, self.trigger.activation)


@dataclass(frozen=True)
class Decision:
    """What KEDA (and the HPA, for a ScaledObject) would target given the readings."""

    active: bool
    #: Replicas a ScaledObject settles at, or Jobs a ScaledJob creates at its next poll;
    #: ``None`` when a trigger error leaves KEDA keeping the current count.
    count: int | None
    unit: str
    proposals: Mapping[str, int | None]
    reason: str


def _reading_text(r: Reading) -> str:
    if r.metric is None:
        return f"{r.trigger.name}: unreadable ({r.error})"
    shown = r.activation_metric if r.activation_metric is not None else r.metric
    op = ">" if r.active else "<="
    return f"{r.trigger.name} {_fmt(shown)} {op} activation {_fmt(r.trigger.activation)}"


def hpa_tolerances(scaler: Scaler) -> tuple[float, float]:
    """The (up, down) tolerance of the HPA KEDA makes for ``scaler``: its behavior's own, else the
    controller's. A behavior the manifest check refuses counts as none here (the check names it)."""
    try:
        behavior = behavior_from_manifest(scaler.hpa_behavior)
    except InputError:
        behavior = None
    return tolerances_for_hpa(behavior)


def decide_scaled_object(scaler: Scaler, readings: Sequence[Reading], current: int | None = None) -> Decision:
    """KEDA's activation and the HPA's target for a ScaledObject (docs/keda-model.md#scaledobject-the-hpa).

    With ``current``, the replicas running, each proposal is the HPA's own at that count
    (:func:`~kedasuite.keda.rules.hpa.compute_replicas_for_metrics`, the model's rule: its
    tolerance included); without it, ``ceil(M / T)``, as no tolerance can apply.

    Paused (``paused``, ``paused-replicas``) the count is the paused one, or the current one; with a
    direction paused (``paused-scale-in`` / ``-out``) it cannot move that way from ``current``, and
    without ``current`` it is unknown. :class:`Pause` names the upstream functions."""
    if scaler.scaling_modifiers:
        decision = _decide_with_modifiers(scaler, readings, current)
    else:
        decision = _decide_unpaused(scaler, readings, current)
    pause = scaler.pause
    if pause.paused:
        if pause.replicas is not None:
            how = f"KEDA sets {pause.replicas} replicas and leaves them"
        elif pause.bad_replicas is not None:
            how = f"{PAUSED_REPLICAS} {pause.bad_replicas!r} is no count, so KEDA leaves the current count"
        else:
            how = "KEDA leaves the current count"
        reason = f"paused ({pause.text()}): no scale loop and no HPA, {how}; unpaused: {decision.reason}"
        return dataclasses.replace(decision, count=pause.replicas, reason=reason)
    blocked = [
        (word, name)
        for word, name, on in (("up", PAUSED_SCALE_OUT, pause.scale_out), ("down", PAUSED_SCALE_IN, pause.scale_in))
        if on
    ]
    if not blocked or decision.count is None:
        return decision
    words = " or ".join(word for word, _ in blocked)
    names = ", ".join(name for _, name in blocked)
    if current is None:
        reason = f"{decision.reason}; but {names}: the count cannot go {words} from the current one, unknown here"
        return dataclasses.replace(decision, count=None, reason=reason)
    count = decision.count
    if pause.scale_out:
        count = min(count, current)
    if pause.scale_in:
        count = max(count, current)
    if count == decision.count:
        return decision
    reason = f"{decision.reason}; but {names}: the count cannot go {words} from {current}, so {count}"
    return dataclasses.replace(decision, count=count, reason=reason)


def _decide_with_modifiers(scaler: Scaler, readings: Sequence[Reading], current: int | None) -> Decision:
    """With ``scalingModifiers`` the HPA scales on the composite metric alone and its activity decides
    (``getScaledObjectState``); the triggers are metric sources with no target of their own."""
    from kedasuite.keda.rules.modifiers import Modifiers, handle_scaling_modifiers  # it imports this module

    proposals: dict[str, int | None] = {r.trigger.name: None for r in readings}
    why = "; ".join(_reading_text(r) for r in readings)
    try:
        modifiers = Modifiers.from_manifest(scaler.scaling_modifiers, scaler.triggers)
    except InputError as exc:
        return Decision(False, None, "replicas", proposals, f"{why}: {exc.message}")
    assert modifiers is not None
    value, active, how = handle_scaling_modifiers(modifiers, {r.trigger.name: r.metric for r in readings})
    active = active or scaler.pause.force_activation
    if any(r.metric is None for r in readings):
        reason = f"{why}; {how}: KEDA keeps the current count while a trigger errors (no fallback here)"
        return Decision(False, None, "replicas", proposals, reason)
    if active:
        if value is None:
            proposal: int | None = None
        elif current:
            proposal, _ = metric_proposal(
                value, modifiers.target, current, modifiers.metric_type, *hpa_tolerances(scaler)
            )
        else:
            proposal = hpa_proposal(value, modifiers.target) if modifiers.metric_type != "Value" else None
        count = hpa_replicas([proposal] if proposal is not None else [], scaler.min_replicas, scaler.max_replicas)
        floor = get_hpa_min_replicas(scaler.min_replicas)
        reason = (
            f"{why}; {how}: active; composite metric over target {_fmt(modifiers.target)} asks for {proposal}, "
            f"within [{floor}, {scaler.max_replicas}] = {count}"
        )
        return Decision(True, count, "replicas", proposals, reason)
    rest = scaler.idle_replicas if scaler.idle_replicas is not None else scaler.min_replicas
    reason = (
        f"{why}; {how}: inactive; {rest} replicas once cooldownPeriod {_fmt(scaler.cooldown_period)} s "
        "has passed since it was last active"
    )
    return Decision(False, rest, "replicas", proposals, reason)


def _decide_unpaused(scaler: Scaler, readings: Sequence[Reading], current: int | None) -> Decision:
    proposals: dict[str, int | None] = {r.trigger.name: None for r in readings}
    hows: dict[str, str] = {}
    if current:
        _, computed, _ = compute_replicas_for_metrics(
            [MetricInput(r.trigger.name, r.metric, r.trigger.target, r.trigger.metric_type) for r in readings],
            current,
            *hpa_tolerances(scaler),
        )
        proposals |= {name: n for name, n, _ in computed}
        hows = {name: how for name, _, how in computed}
    else:
        # A Value metric's proposal, ceil(readyPods * M / T), depends on the pods running: unknown here.
        proposals |= {
            r.trigger.name: hpa_proposal(r.metric, r.trigger.target)
            for r in readings
            if r.metric is not None and r.trigger.metric_type != "Value"
        }
    # NeedToForceActivation (RequestScale): autoscaling.keda.sh/force-activation makes every poll active.
    active = any(r.active for r in readings) or scaler.pause.force_activation
    errors = [r for r in readings if r.metric is None]
    why = "; ".join(_reading_text(r) for r in readings)
    known = [p for p in proposals.values() if p is not None]
    if active:
        count = hpa_replicas(known, scaler.min_replicas, scaler.max_replicas)
        terms = ", ".join(
            hows.get(r.trigger.name) or f"ceil({_fmt(r.metric)}/{_fmt(r.trigger.target)})={proposals[r.trigger.name]}"
            for r in readings
            if proposals.get(r.trigger.name) is not None
        )
        floor = get_hpa_min_replicas(scaler.min_replicas)
        reason = f"{why}: active; max({terms}) within [{floor}, {scaler.max_replicas}] = {count}"
        if errors:
            reason += " (an unreadable trigger may raise it)"
        return Decision(True, count, "replicas", proposals, reason)
    if errors:
        return Decision(
            False,
            None,
            "replicas",
            proposals,
            f"{why}: KEDA keeps the current count while a trigger errors (no fallback here)",
        )
    rest = scaler.idle_replicas if scaler.idle_replicas is not None else scaler.min_replicas
    reason = (
        f"{why}: inactive; {rest} replicas once cooldownPeriod {_fmt(scaler.cooldown_period)} s "
        "has passed since it was last active"
    )
    return Decision(False, rest, "replicas", proposals, reason)


def decide_scaled_job(scaler: Scaler, readings: Sequence[Reading], running: int = 0, pending: int = 0) -> Decision:
    """How many Jobs KEDA creates at its next poll (docs/keda-model.md#scaledjob), given ``running`` /
    ``pending`` Jobs: each readable trigger's numbers (:func:`calculate_queue_length_and_max_value`),
    combined (:func:`is_scaled_job_active`), through the strategy (:func:`get_scaling_decision`). A
    paused ScaledJob creates none: KEDA stops its scale loop (``checkIfPaused``,
    ``controllers/keda/scaledjob_controller.go``)."""
    if scaler.strategy not in STRATEGIES:
        raise ValueError(f"unknown scalingStrategy {scaler.strategy!r}: one of {', '.join(STRATEGIES)}")
    proposals: dict[str, int | None] = {}
    usable = [r for r in readings if r.metric is not None and r.trigger.metric_type != "Value"]
    for r in readings:
        proposals[r.trigger.name] = (
            math.ceil(min(r.metric / r.trigger.target, scaler.max_replicas)) if r in usable else None
        )
    why = "; ".join(_reading_text(r) for r in readings)
    if scaler.pause.paused:
        reason = f"paused ({scaler.pause.text()}): KEDA's scale loop is stopped, no Jobs are created"
        return Decision(False, 0, "jobs", proposals, reason)
    minimum, max_count = scaled_job_replica_counts(scaler.min_replicas, scaler.max_replicas)
    metrics = [
        ScalerMetrics(*calculate_queue_length_and_max_value(r.metric or 0.0, r.trigger.target, max_count), r.active)
        for r in usable
    ]
    active, queue_length, max_scale = is_scaled_job_active(
        metrics, scaler.multiple_scalers_calculation, minimum, max_count
    )
    effective, scale_to = get_scaling_decision(
        running,
        queue_length,
        max_scale,
        pending,
        minimum,
        max_count,
        scaler.strategy,
        scaler.custom_deduction,
        scaler.custom_running_percentage,
    )
    jobs = create_jobs(active, scale_to, effective)
    state = "active" if active else "inactive"
    live = [r for r in usable if r.active]
    if len(live) > 1:
        queue = (
            f"{scaler.multiple_scalers_calculation} of {len(live)} active triggers: queue {queue_length}, "
            f"{max_scale} Jobs' worth (each trigger's capped at {max_count} first)"
        )
    else:
        q = (live[0].metric or 0.0) if live else 0.0
        t = live[0].trigger.target if live else next((r.trigger.target for r in usable), 1.0)
        queue = f"queue {_fmt(q)}, target {_fmt(t)}"
    reason = (
        f"{why}: {state}; {scaler.strategy} strategy, {queue}, "
        f"max {scaler.max_replicas}, {running} running ({pending} pending): {jobs} new Jobs"
    )
    return Decision(active, jobs, "jobs", proposals, reason)


def decide(
    scaler: Scaler,
    readings: Sequence[Reading],
    running_jobs: int = 0,
    pending_jobs: int = 0,
    replicas: int | None = None,
) -> Decision:
    """``replicas``: a ScaledObject's replicas running, when known (the HPA's tolerance compares with them)."""
    if scaler.kind == SCALED_JOB:
        return decide_scaled_job(scaler, readings, running_jobs, pending_jobs)
    return decide_scaled_object(scaler, readings, replicas)
