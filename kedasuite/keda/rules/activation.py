"""Activation: when a trigger, and with it a ScaledObject or ScaledJob, counts as active.

On its own so that the rules of scaling modifiers and of the executor can use it without the
decisions built on it (``pkg/scaling/scale_handler.go``, each scaler's ``GetMetricsAndActivity``).
"""

from __future__ import annotations

from collections.abc import Sequence


def is_active(value: float, activation: float) -> bool:
    """Whether a metric activates its ScaledObject or ScaledJob: only strictly above its activation
    value, so the default 0 wakes on the first item and a value at the threshold does not. Each
    scaler's ``GetMetricsAndActivity`` (``pkg/scalers/redis_scaler.go``, ``pkg/scalers/kafka_scaler.go``:
    metric > activation), and ``getScaledObjectState`` (``pkg/scaling/scale_handler.go``) for the
    composite metric of ``scalingModifiers``."""
    return value > activation


def get_scaled_object_state(
    trigger_active: Sequence[bool], trigger_error: Sequence[bool], composite_active: bool | None = None
) -> tuple[bool, bool]:
    """(active, error) of a ScaledObject at one poll: active when any trigger is, or with
    ``scalingModifiers`` when the composite metric is, and then never while a trigger errors (the
    formula has no value); an error when any trigger's read failed. KEDA's ``getScaledObjectState``
    (``pkg/scaling/scale_handler.go``)."""
    error = any(trigger_error)
    if composite_active is not None:
        return composite_active and not error, error
    return any(trigger_active), error
