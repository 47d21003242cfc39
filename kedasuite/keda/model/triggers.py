"""What a trigger reports at one read, for :mod:`kedasuite.keda.model`: the scalers' rules,
``fallback`` and ``scalingModifiers`` (``docs/keda-model.md#triggers-fallback-and-modifiers``).

A raw value is what the broker holds (a Redis key's length; a Kafka group's lag, as a total,
per partition, or as each partition's offsets: what ``excludePersistentLag`` needs), or
``None`` when the read fails. :class:`TriggerReader` turns it into the
metric KEDA hands over and its activity, counting failures for ``fallback`` as
``pkg/fallback/fallback.go`` does (every read counts: KEDA's polls and the HPA's requests).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.keda.rules.scaling import Scaler, Trigger, is_active

#: A trigger's raw reading: a number, per-partition lags or offsets (kafka,
#: :class:`~kedasuite.keda.rules.kafka.PartitionOffsets`), or ``None``: the read failed.
Value = float | tuple[float, ...] | tuple[Any, ...] | None
FALLBACK_BEHAVIORS = ("static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower")
#: The part of expr-lang (KEDA's formula language) the model evaluates.
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "ceil": math.ceil, "floor": math.floor}
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.USub, ast.UAdd)


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


@dataclass(frozen=True)
class Fallback:
    failure_threshold: int
    replicas: int
    behavior: str = "static"

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any] | None) -> Fallback | None:
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

    def replicas_for(self, current: int) -> int:
        return {
            "static": self.replicas,
            "currentReplicas": current,
            "currentReplicasIfHigher": max(current, self.replicas),
            "currentReplicasIfLower": min(current, self.replicas),
        }[self.behavior]


@dataclass(frozen=True)
class Modifiers:
    """``advanced.scalingModifiers``: one composite metric from a formula over the triggers' metrics."""

    formula: str
    target: float
    activation: float
    metric_type: str
    tree: ast.Expression

    @classmethod
    def from_manifest(cls, raw: Mapping[str, Any] | None, triggers: Sequence[Trigger]) -> Modifiers | None:
        if not raw:
            return None
        formula = str(raw.get("formula") or "").strip()
        if not formula:
            raise InputError('advanced.scalingModifiers.formula is empty; give one, e.g. "backlog + in_flight"')
        try:
            target = float(str(raw.get("target", "")))
        except ValueError:
            raise InputError(
                "advanced.scalingModifiers.target must be a number (KEDA needs it with a formula)"
            ) from None
        if target <= 0:
            raise InputError("advanced.scalingModifiers.target must be positive")
        activation = float(str(raw.get("activationTarget") or 0))
        names = {t.name for t in triggers}
        try:
            tree = ast.parse(formula, mode="eval")
        except SyntaxError:
            tree = None
        bad = _unsupported(tree, names) if tree is not None else "syntax outside arithmetic"
        if bad:
            raise InputError(
                f"scalingModifiers formula {formula!r} uses {bad}, which the model does not evaluate: "
                "it evaluates + - * / %, parentheses, numbers, min max abs ceil floor and the "
                f"trigger names {', '.join(sorted(names))}"
            )
        assert tree is not None
        return cls(formula, target, activation, str(raw.get("metricType") or "AverageValue"), tree)

    def evaluate(self, metrics: Mapping[str, float]) -> float:
        return float(_eval(self.tree.body, metrics))


def _unsupported(tree: ast.Expression, names: set[str]) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in names and node.id not in _FUNCTIONS:
                return f"the name {node.id!r} (no trigger is called that)"
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
                return f"the call {ast.unparse(node)!r}"
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                return f"the constant {node.value!r}"
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *_OPS)):
            return f"{type(node).__name__.lower()} syntax"
    return None


def _eval(node: ast.AST, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return float(_FUNCTIONS[node.func.id](*(_eval(a, env) for a in node.args)))
    assert isinstance(node, ast.BinOp)
    a, b = _eval(node.left, env), _eval(node.right, env)
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    if b == 0:
        raise ZeroDivisionError("division by zero in the scalingModifiers formula")
    return a / b if isinstance(node.op, ast.Div) else a % b


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
    committed offsets for ``excludePersistentLag``)."""
    from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets, keda_lag

    try:
        config = KafkaTrigger.from_metadata(trigger.metadata)
    except ValueError as exc:
        raise InputError(f"trigger {trigger.name}: {exc}") from None
    if isinstance(value, tuple) and value and isinstance(value[0], PartitionOffsets):
        offsets = list(value)
    else:
        lags = tuple(int(v) for v in value) if isinstance(value, tuple) else spread(value, partitions)
        offsets = [PartitionOffsets(i, max(lag, 0), 0) for i, lag in enumerate(lags)]
    report = keda_lag(offsets, config, previous)
    left_out = sum(report.persistent.values())
    notes = []
    if report.persistent:
        notes.append(
            f"excludePersistentLag leaves out {left_out} on partition(s) "
            f"{', '.join(str(p) for p in sorted(report.persistent))} (offset unchanged since the last read)"
        )
    if report.metric != report.total - left_out:
        notes.append(
            f"lag {report.total - left_out} capped to {report.metric} "
            f"({len(offsets)} partitions × lagThreshold {config.lag_threshold:g})"
        )
    return float(report.metric), float(report.total), "; ".join(notes)


class TriggerReader:
    """Turns raw values into what KEDA reports, trigger by trigger, with fallback's failure counts."""

    def __init__(self, scaler: Scaler, partitions: int) -> None:
        self.scaler, self.partitions = scaler, partitions
        self.fallback = Fallback.from_manifest(scaler.fallback)
        self.modifiers = Modifiers.from_manifest(scaler.scaling_modifiers, scaler.triggers)
        if self.fallback and self.modifiers:
            raise InputError("fallback together with scalingModifiers is not modelled; drop one of them to simulate")
        self.failures = {t.name: 0 for t in scaler.triggers}
        #: Per kafka trigger, the committed offsets of its previous read (``excludePersistentLag``).
        self.previous: dict[str, dict[int, int]] = {t.name: {} for t in scaler.triggers}

    def read(self, trigger: Trigger, value: Value, current: int) -> TriggerState:
        """One read (KEDA's poll or the HPA's request), ``current`` replicas for fallback's behaviors."""
        if value is None:
            return self._failed(trigger, current)
        self.failures[trigger.name] = 0
        note = ""
        if trigger.type == "kafka":
            metric, raw, note = kafka_metric(trigger, value, self.partitions, self.previous[trigger.name])
        else:
            raw = float(sum(value)) if isinstance(value, tuple) else float(value)
            metric = raw = raw if raw > 0 and math.isfinite(raw) else 0.0  # KEDA reports negatives and NaN as 0
        return TriggerState(trigger.name, metric, is_active(raw, trigger.activation), raw=raw, note=note)

    def _failed(self, trigger: Trigger, current: int) -> TriggerState:
        fb = self.fallback
        if fb is None:
            return TriggerState(trigger.name, None, False, error="read failed (no fallback)")
        self.failures[trigger.name] += 1
        n = self.failures[trigger.name]
        if n <= fb.failure_threshold:
            return TriggerState(
                trigger.name, None, False, error=f"read failed ({n} of failureThreshold {fb.failure_threshold})"
            )
        replicas = fb.replicas_for(current)
        if trigger.metric_type == "Value":
            if current == 0:
                return TriggerState(
                    trigger.name, None, False, error="read failed; fallback cannot divide by 0 ready pods"
                )
            metric = trigger.target * replicas / current
            how = f"{replicas} × {trigger.target:g} / {current} ready"
        else:
            metric = trigger.target * replicas
            how = f"{replicas} × {trigger.target:g}"
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
        if any(s.metric is None for s in states):
            return None, False, "formula not computed: a trigger errored"
        env = {s.name: float(s.metric or 0.0) for s in states}
        try:
            value = self.modifiers.evaluate(env)
        except ZeroDivisionError as exc:
            return None, False, str(exc)
        active = is_active(value, self.modifiers.activation)
        return (
            value,
            active,
            (
                f"{self.modifiers.formula} = {value:g} {'>' if active else '<='} activationTarget "
                f"{self.modifiers.activation:g}"
            ),
        )
