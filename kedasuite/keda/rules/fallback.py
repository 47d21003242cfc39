"""KEDA's ``fallback`` for a ScaledObject, as pure functions (``pkg/fallback/fallback.go``).

A trigger whose reads keep failing reports, once the failures pass ``failureThreshold``, the
metric that makes the HPA ask for ``fallback.replicas`` (or the current count, per
``behavior``) instead of an error. The model (:class:`kedasuite.keda.model.triggers.TriggerReader`)
counts the failures; the rules here say when that count falls back and what is reported.
``docs/keda-model.md#triggers-fallback-and-modifiers`` describes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError

#: ``fallback.behavior`` values the model follows (``apis/keda/v1alpha1/scaledobject_types.go``).
FALLBACK_BEHAVIORS = ("static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower")


@dataclass(frozen=True)
class Fallback:
    failure_threshold: int
    replicas: int
    behavior: str = "static"

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any] | None) -> Fallback | None:
        """A ScaledObject's ``fallback``, refused with the reason when KEDA would not use it
        (``HasValidFallback``) or the model does not follow it; ``None`` without one."""
        if raw is None:
            return None
        try:
            fb = cls(int(raw["failureThreshold"]), int(raw["replicas"]), str(raw.get("behavior") or "static"))
        except (KeyError, TypeError, ValueError):
            raise InputError("fallback needs failureThreshold and replicas, both integers >= 0") from None
        if fb.behavior == "scalingModifiers":
            raise InputError(
                "fallback.behavior scalingModifiers is not modelled (it hands the formula a "
                "placeholder); use static, currentReplicas, currentReplicasIfHigher or currentReplicasIfLower"
            )
        if fb.behavior not in FALLBACK_BEHAVIORS:
            raise InputError(f"fallback.behavior {fb.behavior!r}: one of {', '.join(FALLBACK_BEHAVIORS)}")
        if fb.failure_threshold < 0 or fb.replicas < 0:
            raise InputError("fallback.failureThreshold and fallback.replicas must be >= 0")
        return fb


def has_valid_fallback(fallback: Fallback, modifiers_target: str | None = None) -> bool:
    """Whether KEDA uses a ``fallback`` at run time: counts of 0 or more, and with
    ``scalingModifiers`` (``modifiers_target``: its ``target`` as written) a target that is a whole
    number above 0, since the fallback metric is ``replicas × target`` of the composite metric. An
    invalid one counts no failures and lets the errors through. KEDA's ``HasValidFallback``
    (``pkg/fallback/fallback.go``)."""
    if fallback.failure_threshold < 0 or fallback.replicas < 0:
        return False
    if modifiers_target is None:
        return True
    # strconv.ParseInt(target, 10, 64): digits with an optional sign, nothing else.
    return re.fullmatch(r"[+-]?[0-9]+", modifiers_target) is not None and int(modifiers_target) > 0


def falls_back(fallback: Fallback, failures: int) -> bool:
    """Whether a trigger that failed ``failures`` reads in a row reports the fallback metric: only
    once it failed more than ``failureThreshold`` times, so a short outage stays an error.
    KEDA's ``GetMetricsWithFallback`` (``pkg/fallback/fallback.go``)."""
    return failures > fallback.failure_threshold


def fallback_replicas(fallback: Fallback, current: int) -> int:
    """The replicas a fallback asks for at ``current``: ``replicas`` (``static``), the current count,
    or the higher or lower of the two, so a failing trigger need not shrink or grow the workload.
    KEDA's ``doFallback`` (``pkg/fallback/fallback.go``)."""
    return {
        "static": fallback.replicas,
        "currentReplicas": current,
        "currentReplicasIfHigher": max(current, fallback.replicas),
        "currentReplicasIfLower": min(current, fallback.replicas),
    }[fallback.behavior]


def do_fallback(fallback: Fallback, target: float, metric_type: str, current: int) -> tuple[float | None, str]:
    """The metric a falling-back trigger reports, and how in words: the one that makes the HPA
    ask for :func:`fallback_replicas`, ``replicas × target`` (AverageValue), or divided by the
    ready pods (Value: ``None`` at 0 of them, as KEDA then reports the error). KEDA's
    ``doFallback`` (``pkg/fallback/fallback.go``)."""
    replicas = fallback_replicas(fallback, current)
    if metric_type == "Value":
        if current == 0:
            return None, "fallback cannot divide by 0 ready pods"
        metric = target * replicas / current
        return metric, f"{replicas} × {target:g} / {current} ready"
    return target * replicas, f"{replicas} × {target:g}"
