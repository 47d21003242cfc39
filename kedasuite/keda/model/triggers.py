"""What a trigger reports at one read, for :mod:`kedasuite.keda.model`
(``docs/keda-model.md#triggers-fallback-and-modifiers``).

A raw value is what the broker holds (a Redis key's length; a Kafka group's lag, as a total,
per partition, or as each partition's offsets: what ``excludePersistentLag`` needs), or
``None`` when the read fails. :class:`TriggerReader` turns it into the metric KEDA hands over
and its activity with the rules of :mod:`kedasuite.keda.rules` (the kafka lag, ``fallback``,
``scalingModifiers``), and keeps what they need between reads: each trigger's failures in a row
(every read counts, KEDA's polls and the HPA's requests, as ``pkg/fallback/fallback.go``
counts them) and each kafka trigger's last committed offsets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.keda.rules.activation import is_active
from kedasuite.keda.rules.fallback import Fallback, do_fallback, falls_back, has_valid_fallback
from kedasuite.keda.rules.kafka import KafkaTrigger, LagError, PartitionOffsets, keda_lag
from kedasuite.keda.rules.modifiers import Modifiers, handle_scaling_modifiers
from kedasuite.keda.rules.redis import REDIS_LIST_TYPES, RedisTrigger
from kedasuite.keda.rules.spec import Scaler, Trigger

#: A trigger's raw reading: a number, per-partition lags (``None`` for a partition missing from the
#: broker's latest-offset answer) or offsets (kafka, :class:`~kedasuite.keda.rules.kafka.PartitionOffsets`),
#: or ``None``: the read failed.
Value = float | tuple[float, ...] | tuple[Any, ...] | None


@dataclass(frozen=True)
class TriggerState:
    """One trigger at one read: the metric KEDA reports, the value activation compares, and why."""

    name: str
    metric: float | None
    active: bool
    #: The uncapped value activation compares (kafka: the summed lag); equals ``metric`` otherwise.
    raw: float | None = None
    error: str | None = None
    fallback: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "raw": self.raw,
            "active": self.active,
            "error": self.error,
            "fallback": self.fallback,
        }


def spread(total: float, partitions: int) -> tuple[int, ...]:
    """A total lag laid over ``partitions`` as evenly as it goes (the first ones get the remainder)."""
    whole = max(int(total), 0)
    base, extra = divmod(whole, partitions)
    return tuple(base + (1 if i < extra else 0) for i in range(partitions))


def kafka_metric(
    trigger: Trigger, value: float | tuple[Any, ...], partitions: int, previous: dict[int, int] | None = None
) -> tuple[float, float, str]:
    """(metric, summed lag, note) for a kafka trigger: ``rules.kafka.keda_lag`` on the partitions' lags
    (a total spread over ``partitions``, lags, or offsets; ``previous``: the scaler's memory of
    committed offsets for ``excludePersistentLag``). A lag of ``None`` is a partition the broker's
    latest-offset answer left out. :class:`~kedasuite.keda.rules.kafka.LagError`: KEDA's read fails."""
    try:
        config = KafkaTrigger.from_metadata(trigger.metadata)
    except ValueError as exc:
        raise InputError(f"trigger {trigger.name}: {exc}") from None
    if isinstance(value, tuple) and value and isinstance(value[0], PartitionOffsets):
        offsets = list(value)
    else:
        lags = (
            tuple(v if v is None else int(v) for v in value) if isinstance(value, tuple) else spread(value, partitions)
        )
        offsets = [PartitionOffsets(i, None if lag is None else max(lag, 0), 0) for i, lag in enumerate(lags)]
    report = keda_lag(offsets, config, previous)
    left_out = sum(report.persistent.values())
    notes = []
    if report.limited_out:
        notes.append(
            f"partitionLimitation counts partition(s) {_ids({*report.per_partition, *report.missing})} "
            f"(not {_ids(report.limited_out)})"
        )
    if report.missing:
        notes.append(
            f"partition(s) {_ids(report.missing)} missing from the broker's latest offsets: no lag, "
            f"and not among the {report.partitions} partitions of the cap"
        )
    if report.persistent:
        notes.append(
            f"excludePersistentLag leaves out {left_out} on partition(s) "
            f"{', '.join(str(p) for p in sorted(report.persistent))} (offset unchanged since the last read)"
        )
    if report.metric != report.total - left_out:
        notes.append(
            f"lag {report.total - left_out} capped to {report.metric} "
            f"({report.partitions} partitions × lagThreshold {config.lag_threshold:g})"
        )
    return float(report.metric), float(report.total), "; ".join(notes)


def _ids(partitions: Any) -> str:
    return ", ".join(str(p) for p in sorted(partitions))


def check_trigger_metadata(trigger: Trigger) -> None:
    """Refuse a trigger whose metadata KEDA's scaler refuses (it would never be built), naming the
    field: the kafka trigger's and the redis list triggers' (``rules.kafka``, ``rules.redis``)."""
    try:
        if trigger.type == "kafka":
            KafkaTrigger.from_metadata(trigger.metadata)
        elif trigger.type in REDIS_LIST_TYPES:
            RedisTrigger.from_metadata(trigger.metadata)
    except ValueError as exc:
        raise InputError(f"trigger {trigger.name}: {exc}") from None


class TriggerReader:
    """Turns raw values into what KEDA reports, trigger by trigger, with fallback's failure counts."""

    def __init__(self, scaler: Scaler, partitions: int) -> None:
        self.scaler, self.partitions = scaler, partitions
        self.fallback = Fallback.from_manifest(scaler.fallback)
        self.modifiers = Modifiers.from_manifest(scaler.scaling_modifiers, scaler.triggers)
        #: Whether reads fall back (``HasValidFallback``): a fallback with scalingModifiers needs a whole-number
        #: target. The executor sees ``fallback`` either way (``RequestScale`` looks only at its presence).
        self.fallback_valid = self.fallback is not None and has_valid_fallback(
            self.fallback, self.modifiers.target_text if self.modifiers is not None else None
        )
        for trigger in scaler.triggers:
            check_trigger_metadata(trigger)
        self.failures = {t.name: 0 for t in scaler.triggers}
        #: Per kafka trigger, the committed offsets of its previous read (``excludePersistentLag``).
        self.previous: dict[str, dict[int, int]] = {t.name: {} for t in scaler.triggers}

    def read(self, trigger: Trigger, value: Value, current: int) -> TriggerState:
        """One read (KEDA's poll or the HPA's request), ``current`` replicas for fallback's behaviors."""
        if value is None:
            return self._failed(trigger, current)
        if self.fallback_valid:  # GetMetricsWithFallback keeps health only with a fallback it can use
            self.failures[trigger.name] = 0
        note = ""
        if trigger.type == "kafka":
            try:
                metric, raw, note = kafka_metric(trigger, value, self.partitions, self.previous[trigger.name])
            except LagError as exc:
                return self._failed(trigger, current, str(exc))
        else:
            raw = float(sum(value)) if isinstance(value, tuple) else float(value)
            metric = raw = raw if raw > 0 and math.isfinite(raw) else 0.0  # KEDA reports negatives and NaN as 0
        return TriggerState(trigger.name, metric, is_active(raw, trigger.activation), raw=raw, note=note)

    def _failed(self, trigger: Trigger, current: int, why: str = "") -> TriggerState:
        """A read that gave no value; ``why``: the scaler's reason, when it is not the broker's silence."""
        failed = f"read failed: {why}" if why else "read failed"
        fb = self.fallback
        if fb is None:
            return TriggerState(trigger.name, None, False, error=f"{failed} (no fallback)")
        if not self.fallback_valid:
            assert self.modifiers is not None
            return TriggerState(
                trigger.name,
                None,
                False,
                error=f"{failed} (fallback unused: scalingModifiers target {self.modifiers.target_text!r} "
                "is no whole number above 0)",
            )
        self.failures[trigger.name] += 1
        n = self.failures[trigger.name]
        if not falls_back(fb, n):
            return TriggerState(
                trigger.name, None, False, error=f"{failed} ({n} of failureThreshold {fb.failure_threshold})"
            )
        if self.modifiers is not None:  # doFallback normalises by the composite metric's target and type
            metric, how = do_fallback(fb, self.modifiers.target, self.modifiers.metric_type, current)
        else:
            metric, how = do_fallback(fb, trigger.target, trigger.metric_type, current)
        if metric is None:
            return TriggerState(trigger.name, None, False, error=f"{failed}; {how}")
        return TriggerState(
            trigger.name,
            metric,
            True,
            raw=metric,
            fallback=True,
            note=f"failed {n} times > failureThreshold {fb.failure_threshold}: fallback "
            f"({fb.behavior}) reports {how} = {metric:g}",
        )

    def composite(self, states: Sequence[TriggerState]) -> tuple[float | None, bool, str]:
        """scalingModifiers: the formula's value, its activity and how; ``None`` when a trigger errored."""
        assert self.modifiers is not None
        fallen = next((s.metric for s in states if s.fallback), None)
        return handle_scaling_modifiers(self.modifiers, {s.name: s.metric for s in states}, fallen)
