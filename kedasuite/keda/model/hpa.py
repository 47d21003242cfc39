"""The HPA controller KEDA creates for a ScaledObject, sync by sync (part of :mod:`kedasuite.keda.model`).

No clock of its own: :meth:`HPA.sync` is handed ``now``. Every rule is a pure function of
:mod:`kedasuite.keda.rules.hpa` (``docs/keda-model.md#the-hpa-sync-by-sync``); this holds one
HPA's settings and what it remembers between syncs: its recommendations and, with
``behavior``, its scale events.
"""

from __future__ import annotations

from collections.abc import Sequence

from kedasuite.keda.rules.hpa import (
    DOWNSCALE_STABILIZATION,
    TOLERANCE,
    Behavior,
    HPAMemory,
    MetricInput,
    SyncResult,
    reconcile_autoscaler,
)

__all__ = ["HPA", "SyncResult"]


class HPA:
    """One HorizontalPodAutoscaler: its bounds, ``behavior`` and the controller's flags, and its memory."""

    def __init__(
        self,
        min_replicas: int,
        max_replicas: int,
        behavior: Behavior | None = None,
        downscale_window: float = DOWNSCALE_STABILIZATION,
        tolerance: float = TOLERANCE,
    ) -> None:
        self.min, self.max = min_replicas, max_replicas
        self.behavior, self.window, self.tolerance = behavior, downscale_window, tolerance
        self.memory = HPAMemory()

    def sync(self, now: float, current: int, metrics: Sequence[MetricInput], ready: int | None = None) -> SyncResult:
        """One sync at ``current`` replicas; ``ready``: the pods running and ready, when known."""
        result, self.memory = reconcile_autoscaler(
            self.memory, now, current, metrics, self.min, self.max, self.behavior, self.window, self.tolerance, ready
        )
        return result
