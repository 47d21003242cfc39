"""The HPA controller KEDA creates for a ScaledObject, sync by sync (part of :mod:`kedasuite.keda.model`).

Pure, no clock of its own: :meth:`HPA.sync` is handed ``now``. Its rules are
:mod:`kedasuite.keda.rules.hpa` (``docs/keda-model.md#the-hpa-sync-by-sync``); this holds what
one HPA remembers between syncs: its recommendations and, with ``behavior``, its scale events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kedasuite.keda.rules.hpa import (
    DOWNSCALE_STABILIZATION,
    TOLERANCE,
    Behavior,
    MetricInput,
    compute_replicas_for_metrics,
    legacy_scale_up_limit,
    tolerances_for_hpa,
)


@dataclass(frozen=True)
class SyncResult:
    desired: int
    #: ``None`` when the HPA computed nothing (target at 0, metrics unreadable, out-of-range fix-up).
    recommendation: int | None
    stabilized: int | None
    #: The upper bound this sync (scale-up limit and maxReplicas), when one applied.
    limit: int | None
    reason: str


class HPA:
    """One HorizontalPodAutoscaler's state: recommendations and (with ``behavior``) scale events."""

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
            return self._rescale(
                now,
                current,
                self.max,
                None,
                None,
                None,
                f"HPA: {current} replicas above maxReplicas {self.max}: sets {self.max}",
            )
        if current < self.min:
            return self._rescale(
                now,
                current,
                self.min,
                None,
                None,
                None,
                f"HPA: {current} replicas below minReplicas {self.min}: sets {self.min}",
            )
        up_tol, down_tol = self._tolerances()
        wanted, proposals, invalid = compute_replicas_for_metrics(metrics, current, up_tol, down_tol)
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
            )
        if self.behavior is None:
            desired, stabilized, limit, how = self._legacy(now, current, wanted)
        else:
            desired, stabilized, limit, how = self._with_behavior(now, current, wanted)
        reason = f"{how} [{terms}]" + (f" [unreadable, ignored: {unreadable}]" if invalid else "")
        if desired == current:
            return SyncResult(current, wanted, stabilized, limit, reason)
        return self._rescale(now, current, desired, wanted, stabilized, limit, reason)

    def _rescale(
        self,
        now: float,
        current: int,
        desired: int,
        wanted: int | None,
        stabilized: int | None,
        limit: int | None,
        reason: str,
    ) -> SyncResult:
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
            why = f"legacy scale-up limit max(2 × {current}, 4)" if limit < self.max else f"maxReplicaCount {self.max}"
            how = f"HPA wants {best}, limited to {desired} this sync: {why}"
        elif best > wanted:
            how = (
                f"HPA wants {wanted}, holds {desired}: the highest recommendation of the last "
                f"{self.window:g} s is {best} (scale-down stabilization)"
            )
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
            how = (
                f"HPA wants {wanted}, stabilized at {stabilized}: the highest recommendation of the last "
                f"{b.down.window:g} s (behavior.scaleDown window)"
            )
        elif stabilized < wanted:
            how = (
                f"HPA wants {wanted}, stabilized at {stabilized}: the lowest recommendation of the last "
                f"{b.up.window:g} s (behavior.scaleUp window)"
            )
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
