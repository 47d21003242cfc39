"""KEDA's scale executor for a ScaledObject, as pure functions (``pkg/scaling/executor/scale_scaledobjects.go``).

At each poll KEDA itself takes only the steps the HPA cannot: from 0 (or ``idleReplicaCount``)
to ``max(minReplicaCount, 1)`` when a trigger is active, and back once ``cooldownPeriod`` has
passed since the last active poll; between them the HPA decides. The model
(:class:`kedasuite.keda.model.loop.ScaledObjectLoop`) keeps the replica count and the last
active time and hands them here; ``docs/keda-model.md#kedas-poll-step-by-step`` describes the
rules. The pause annotations (``autoscaling.keda.sh/paused``, ``paused-replicas``,
``paused-scale-in``, ``paused-scale-out``) and ``force-activation`` act here too
(``docs/keda-model.md#pause-annotations``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kedasuite.keda.rules.fallback import Fallback
from kedasuite.keda.rules.scaling import get_hpa_min_replicas
from kedasuite.keda.rules.spec import PAUSED_REPLICAS, PAUSED_SCALE_IN, PAUSED_SCALE_OUT, Scaler


@dataclass(frozen=True)
class ScaleRequest:
    """What one poll does: the replicas after it, the last active time after it (``None``:
    never active), and why in words."""

    replicas: int
    last_active: float | None
    reason: str


def get_idle_or_minimum_replica_count(scaler: Scaler) -> tuple[bool, int]:
    """(whether it is ``idleReplicaCount``, the count) KEDA scales an inactive target down to:
    ``idleReplicaCount`` when set, else ``minReplicaCount``. KEDA's
    ``getIdleOrMinimumReplicaCount`` (``pkg/scaling/executor/scale_scaledobjects.go``)."""
    if scaler.idle_replicas is not None:
        return True, scaler.idle_replicas
    return False, scaler.min_replicas


def scale_to_zero_or_idle(scaler: Scaler, now: float, current: int, last_active: float | None) -> tuple[int, str]:
    """The count after an inactive poll above the floor, and why: the floor once ``cooldownPeriod``
    has passed since the last active poll, strictly (never active: ``initialCooldownPeriod`` since
    creation, at 0), else ``current`` with the cooldown left, so a short lull does not scale to 0.
    Never under ``autoscaling.keda.sh/paused-scale-in``, which blocks this step as it blocks the HPA's
    scale-down. KEDA's ``scaleToZeroOrIdle`` (``pkg/scaling/executor/scale_scaledobjects.go``)."""
    if scaler.pause.scale_in:
        return current, f"inactive, but {PAUSED_SCALE_IN}: stays at {current}"
    if last_active is None:
        since, span, what = 0.0, scaler.initial_cooldown_period, "initialCooldownPeriod"
    else:
        since, span, what = last_active, scaler.cooldown_period, "cooldownPeriod"
    if since + span < now:
        idle, rest = get_idle_or_minimum_replica_count(scaler)
        word = "idleReplicaCount" if idle else "minReplicaCount"
        return rest, f"inactive for {what} {span:g} s (since {since:g} s): scales {current} → {word} {rest}"
    left = since + span - now
    return (
        current,
        f"cooldown: {left:g} s of {span:g} left"
        if what == "cooldownPeriod"
        else f"initial cooldown: {left:g} s of {span:g} left",
    )


def scale_from_zero_or_idle(scaler: Scaler, current: int) -> tuple[int, str]:
    """The count KEDA wakes a target at 0 (or idle) to, and why: ``max(minReplicaCount, 1)``, the
    HPA's floor, from which the HPA takes over; under ``autoscaling.keda.sh/paused-scale-out`` it
    stays where it is (and the HPA does nothing at 0). KEDA's ``scaleFromZeroOrIdle``
    (``pkg/scaling/executor/scale_scaledobjects.go``)."""
    if scaler.pause.scale_out:
        return current, f"active, but {PAUSED_SCALE_OUT}: stays at {current}"
    to = get_hpa_min_replicas(scaler.min_replicas)
    return to, f"active; scales {current} → max(minReplicaCount, 1) = {to}"


def handle_paused(scaler: Scaler, current: int, last_active: float | None = None) -> ScaleRequest | None:
    """What a poll does to a paused ScaledObject, or ``None`` when it is not paused. Under
    ``autoscaling.keda.sh/paused`` or ``paused-replicas`` KEDA stops the scale loop and deletes the
    HPA: the count stays, or is set once to ``paused-replicas`` (even outside ``[min, max]``); a
    ``paused-replicas`` that is no count pauses all the same and sets nothing. KEDA's
    ``handlePaused`` (``pkg/scaling/executor/scale_scaledobjects.go``) and the controller's
    ``handlePause`` / ``scaleTargetToPausedCount`` (``controllers/keda/scaledobject_controller.go``)."""
    pause = scaler.pause
    if not pause.paused:
        return None
    if pause.replicas is not None and pause.replicas != current:
        return ScaleRequest(
            pause.replicas, last_active, f"paused ({pause.text()}): scales {current} → {pause.replicas}"
        )
    extra = f" ({PAUSED_REPLICAS} {pause.bad_replicas!r} is no count)" if pause.bad_replicas is not None else ""
    return ScaleRequest(current, last_active, f"paused ({pause.text()}){extra}: stays at {current}")


def request_scale(
    scaler: Scaler,
    now: float,
    current: int,
    active: bool,
    error: bool,
    last_active: float | None,
    fallback: Fallback | None,
) -> ScaleRequest:
    """One poll of KEDA's for a ScaledObject at ``current`` replicas, ``now`` seconds after its
    creation. Active: wake it from 0 or idle, else refresh the last active time (not while a
    trigger errors). Inactive: keep the count while a trigger errors (with no fallback, or one
    whose ``replicas`` is not 0, which the HPA is to reach), step down to the floor after the
    cooldown, or up to ``minReplicaCount`` from below it. Paused, nothing of this
    (:func:`handle_paused`); ``autoscaling.keda.sh/force-activation`` counts as active. KEDA's
    ``RequestScale`` (``pkg/scaling/executor/scale_scaledobjects.go``)."""
    s = scaler
    paused = handle_paused(s, current, last_active)
    if paused is not None:
        return paused
    active = active or s.pause.force_activation  # NeedToForceActivation
    if active:
        if (s.idle_replicas is not None and current < s.min_replicas) or current == 0:
            to, why = scale_from_zero_or_idle(s, current)
            # scaleFromZeroOrIdle records the last active time only when it scaled.
            return ScaleRequest(to, last_active if s.pause.scale_out else now, why)
        if error:
            return ScaleRequest(
                current, last_active, f"active but a trigger errors: keeps {current} (last active time not refreshed)"
            )
        return ScaleRequest(current, now, f"active; {current} replicas, the HPA is in charge")
    if error and fallback is not None and fallback.replicas != 0:
        return ScaleRequest(
            current,
            last_active,
            f"a trigger errors: keeps {current} until the failures pass failureThreshold {fallback.failure_threshold}",
        )
    if error and fallback is None:
        return ScaleRequest(current, last_active, f"a trigger errors and there is no fallback: keeps {current}")
    if (s.idle_replicas is not None and current > s.idle_replicas) or (current > 0 and s.min_replicas == 0):
        to, why = scale_to_zero_or_idle(s, now, current, last_active)
        return ScaleRequest(to, last_active, why)
    if s.idle_replicas is None and current < s.min_replicas:
        return ScaleRequest(
            s.min_replicas, last_active, f"inactive; scales {current} → minReplicaCount {s.min_replicas}"
        )
    return ScaleRequest(current, last_active, f"inactive; stays at {current}")
