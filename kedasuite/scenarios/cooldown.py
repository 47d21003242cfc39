"""``cooldown``: what ``cooldownPeriod`` governs (1 → 0) and what it does not (N → 1).

``cooldownPeriod`` is KEDA's: once every trigger has been inactive that long, KEDA scales the
target to 0 (``pkg/scaling/executor/scale_scaledobjects.go``). Between 1 and N the HPA decides,
and a plain KEDA ScaledObject gives its HPA no ``behavior``, so the HPA's legacy path holds
the highest recommendation of the last 300 s (``--horizontal-pod-autoscaler-downscale-stabilization``)
before it scales down. A load that falls to a trickle (still active) therefore keeps the peak
for the whole window, however short the cooldown: the cooldown "seems ignored". The fix is
the HPA's own knob, ``advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds``.
Both variants share the cooldown; the window differs (shortened here, as the other timings are).
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_CELERY
from kedasuite.keda.model import Step
from kedasuite.scenarios.base import (
    FIX,
    PITFALL,
    Judged,
    Pump,
    Scenario,
    Trace,
    Variant,
    Verdict,
    Workers,
    drained_and_idle,
    seconds,
)
from kedasuite.scenarios.manifests import derive

COOLDOWN_S = 3.0
#: The legacy path's window, standing for the 300 s default; the behavior's, standing for a chosen 15 s.
LEGACY_WINDOW_S = 12.0
BEHAVIOR_WINDOW_S = 3.0
TIMINGS = {"polling_interval": 1.0, "cooldown_period": COOLDOWN_S, "sync_period": 1.0}
SCALE = {"spec.triggers[0].metadata.listLength": "6", "spec.triggers[0].metadata.activationListLength": "0"}
WORKERS = Workers(work_seconds=1.0, concurrency=3, visibility_timeout=20)
#: Scale-up as the defaults allow (+4 pods or +100 %), per 1 s instead of 15 s, like the other timings.
BEHAVIOR = {
    "scaleDown": {"stabilizationWindowSeconds": BEHAVIOR_WINDOW_S},
    "scaleUp": {
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 1},
            {"type": "Percent", "value": 100, "periodSeconds": 1},
        ]
    },
}

VARIANTS = (
    Variant(
        "pitfall",
        PITFALL,
        f"cooldownPeriod {COOLDOWN_S:g} s, no behavior (window {LEGACY_WINDOW_S:g} s)",
        derive(WORKLOAD_CELERY, SCALE),
        WORKERS,
        options={"stabilization_window": LEGACY_WINDOW_S},
    ),
    Variant(
        "fix",
        FIX,
        f"cooldownPeriod {COOLDOWN_S:g} s, behavior scaleDown window {BEHAVIOR_WINDOW_S:g} s",
        derive(WORKLOAD_CELERY, {**SCALE, "spec.advanced.horizontalPodAutoscalerConfig.behavior": BEHAVIOR}),
        WORKERS,
    ),
)


def down_to_one(steps: list[Step]) -> tuple[float, float] | None:
    """(when the HPA settled on 1 replica, when the count reached 1) for the first N → 1 after the peak."""
    reached = next((i for i, s in enumerate(steps) if s.before > 1 and s.replicas == 1), None)
    if reached is None:
        return None
    syncs = [s for s in steps[: reached + 1] if s.actor == "hpa" and s.recommendation is not None]
    above = max((i for i, s in enumerate(syncs) if s.recommendation > 1), default=None)
    if above is None or above + 1 >= len(syncs):
        return None
    return syncs[above + 1].t, steps[reached].t


def one_to_zero(steps: list[Step]) -> tuple[float, float] | None:
    """(KEDA's last active poll, its step to 0) for the last scale to 0."""
    zero = max((i for i, s in enumerate(steps) if s.actor == "keda" and s.before > 0 and s.replicas == 0), default=None)
    if zero is None:
        return None
    active = [s.t for s in steps[:zero] if s.actor == "keda" and s.active]
    return (active[-1], steps[zero].t) if active else None


def judge(trace: Trace) -> Judged:
    down, zero = down_to_one(trace.steps), one_to_zero(trace.steps)
    n_to_1 = down[1] - down[0] if down else None
    return [
        ("peak replicas", f"{trace.peak('replicas'):g}"),
        ("N → 1: seconds after the HPA first wanted 1", seconds(n_to_1) if down else "no N → 1 step"),
        ("1 → 0: seconds after the last active poll", seconds(zero[1] - zero[0]) if zero else "no step to 0"),
        ("cooldownPeriod", f"{COOLDOWN_S:g} s"),
        # "cooldownPeriod seems ignored": the count stayed above 1 well past the cooldown.
    ], n_to_1 is None or n_to_1 > COOLDOWN_S + 2


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    return Verdict.of(
        traces,
        judge,
        (
            "the step to 0 came cooldownPeriod after the last active poll in both; N → 1 waited for the HPA's scale-down "
            f"window: {LEGACY_WINDOW_S:g} s without a behavior (300 s on a cluster), {BEHAVIOR_WINDOW_S:g} s with one"
        ),
    )


SCENARIO = Scenario(
    name="cooldown",
    summary="cooldownPeriod governs only 1 → 0; N → 1 waits for the HPA's scale-down window (300 s without a "
    "behavior), side by side with a behavior that shortens it",
    workload=WORKLOAD_CELERY,
    pitfall="A burst takes the workers to N, then the load falls to a trickle that keeps the workload active. "
    "cooldownPeriod never starts; the HPA holds N for its scale-down stabilization window.",
    fix="advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds sets the HPA's "
    "window; cooldownPeriod still decides the last step, 1 → 0, once the trickle stops.",
    mechanism=f"Celery workers (concurrency {WORKERS.concurrency}, {WORKERS.work_seconds:g} s tasks): a burst of 24, "
    "then 2 tasks a second for 20 s, then nothing. The legacy window is shortened to "
    f"{LEGACY_WINDOW_S:g} s (300 s on a cluster) and the behavior's scale-up policies to 1 s periods.",
    variants=VARIANTS,
    load=(Pump(1.0, 24), Pump(6.0, 40, rate=2.0)),
    timings=TIMINGS,
    verdict=verdict,
    finished=drained_and_idle,
    # The trickle's end, the legacy window, the cooldown, start-ups.
    deadline=6.0 + 40 / 2.0 + LEGACY_WINDOW_S + COOLDOWN_S + 20,
    startup=2.5,
)
