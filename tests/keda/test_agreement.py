"""``status`` and ``simulate`` agree: the same readings at the same replicas give the same HPA target.

``status`` decides with :func:`kedasuite.keda.rules.scaling.decide`; ``simulate`` (and ``autoscale``, and
the scenarios) with the model's HPA (:class:`kedasuite.keda.model.hpa.HPA`, driven by
:class:`kedasuite.keda.model.Loop`). Over generated states of every bundled ScaledObject (trigger
readings, replicas running, behaviors with their own tolerance), the HPA's proposal before
stabilization and rate limits, clamped to its bounds, is the count ``status`` shows.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kedasuite.core.workloads import SCALED_OBJECT
from kedasuite.keda.model import Options, loop_for
from kedasuite.keda.objects import bundled_text, parse
from kedasuite.keda.rules.hpa import MetricInput
from kedasuite.keda.rules.scaling import Reading, decide
from kedasuite.keda.rules.spec import Scaler, scalers_in

OBJECTS = [s for s in scalers_in(parse(bundled_text(), "bundled")) if s.kind == SCALED_OBJECT]


def _with_tolerance(scaler: Scaler, tolerance: float | None) -> Scaler:
    if tolerance is None:
        return scaler
    behavior: dict[str, Any] = {"scaleUp": {"tolerance": tolerance}, "scaleDown": {"tolerance": tolerance}}
    return Scaler(**{**scaler.__dict__, "hpa_behavior": behavior})


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(0, len(OBJECTS) - 1),
    data=st.data(),
    tolerance=st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.2, 0.5])),
)
def test_status_and_the_models_hpa_propose_the_same_replicas(
    index: int, data: st.DataObject, tolerance: float | None
) -> None:
    scaler = _with_tolerance(OBJECTS[index], tolerance)
    current = data.draw(st.integers(1, scaler.max_replicas), label="replicas running")
    # Around the replicas running, where the tolerance decides: metric = ratio × target × current.
    ratios = [
        data.draw(st.floats(0.0, 3.0, allow_nan=False), label=f"{t.name} / (target × current)") for t in scaler.triggers
    ]
    metrics = [round(r * t.target * current) for r, t in zip(ratios, scaler.triggers)]
    readings = [Reading(t, float(m)) for t, m in zip(scaler.triggers, metrics)]
    decision = decide(scaler, readings, replicas=current)

    hpa = loop_for(scaler, Options()).hpa  # type: ignore[attr-defined]
    result = hpa.sync(
        0.0, current, [MetricInput(t.name, float(m), t.target, t.metric_type) for t, m in zip(scaler.triggers, metrics)]
    )
    if decision.active:
        floor = max(scaler.min_replicas, 1)
        assert result.recommendation is not None
        assert decision.count == min(scaler.max_replicas, max(floor, result.recommendation)), (
            scaler.name,
            current,
            metrics,
            tolerance,
            decision.reason,
            result.reason,
        )


def test_the_tolerance_holds_the_replicas_in_both() -> None:
    """The case that used to differ: 52 items at 5 replicas of target 10 is within the HPA's 10 %
    (52 / 50 = 1.04): the HPA keeps 5, where ``ceil(52 / 10)`` alone says 6; at 5 replicas 39 is
    outside it (0.78) and asks for 4."""
    celery = next(s for s in OBJECTS if s.name == "celery-worker")
    backlog, in_flight = celery.triggers
    held = decide(celery, [Reading(backlog, 52.0), Reading(in_flight, 0.0)], replicas=5)
    assert held.count == 5 and "within tolerance" in held.reason, held.reason
    assert decide(celery, [Reading(backlog, 52.0), Reading(in_flight, 0.0)]).count == 6  # no replicas known
    assert decide(celery, [Reading(backlog, 39.0), Reading(in_flight, 0.0)], replicas=5).count == 4
