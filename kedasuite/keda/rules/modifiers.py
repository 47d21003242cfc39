"""KEDA's ``advanced.scalingModifiers`` for a ScaledObject, as pure functions (``pkg/scaling/modifiers``).

One formula over the triggers' metrics gives the one composite metric the HPA scales on and
whose value, against ``activationTarget``, decides activation. KEDA evaluates the formula
with expr-lang; the rules here evaluate its arithmetic part and refuse the rest by name.
``docs/keda-model.md#triggers-fallback-and-modifiers`` describes them.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedasuite.core.errors import InputError
from kedasuite.keda.rules.activation import is_active
from kedasuite.keda.rules.spec import Trigger

#: The part of expr-lang (KEDA's formula language) the model evaluates.
_FUNCTIONS = {"min": min, "max": max, "abs": abs, "ceil": math.ceil, "floor": math.floor}
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.USub, ast.UAdd)


@dataclass(frozen=True)
class Modifiers:
    """``advanced.scalingModifiers``: one composite metric from a formula over the triggers' metrics."""

    formula: str
    target: float
    activation: float
    metric_type: str
    tree: ast.Expression
    #: ``target`` as written: KEDA's fallback takes it only when it is a whole number (``HasValidFallback``).
    target_text: str = ""

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
        return cls(
            formula, target, activation, str(raw.get("metricType") or "AverageValue"), tree, str(raw.get("target", ""))
        )


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


def calculate_scaling_modifiers_formula(modifiers: Modifiers, metrics: Mapping[str, float]) -> float:
    """The formula's value over the triggers' metrics, by trigger name: the composite metric.
    Raises :class:`ZeroDivisionError` on a division by 0, where expr-lang fails the run. KEDA's
    ``calculateScalingModifiersFormula`` (``pkg/scaling/modifiers/formula.go``)."""
    return float(_eval(modifiers.tree.body, metrics))


def handle_scaling_modifiers(
    modifiers: Modifiers, metrics: Mapping[str, float | None], fallback_metric: float | None = None
) -> tuple[float | None, bool, str]:
    """The composite metric, whether it activates the ScaledObject, and how in words: nothing
    (and inactive) when a trigger's read failed or the formula cannot be computed, else its value,
    active when strictly above ``activationTarget``. While a trigger falls back (``fallback_metric``:
    ``fallback.replicas × target``) the formula is skipped and that metric is the composite one, even
    if another trigger's read fails. KEDA's ``HandleScalingModifiers``
    (``pkg/scaling/modifiers/formula.go``), with the activity ``getScaledObjectState``
    (``pkg/scaling/scale_handler.go``) reads from it."""
    if fallback_metric is not None:
        active = is_active(fallback_metric, modifiers.activation)
        op = ">" if active else "<="
        return (
            fallback_metric,
            active,
            f"fallback replaces the formula: {fallback_metric:g} {op} activationTarget {modifiers.activation:g}",
        )
    if any(v is None for v in metrics.values()):
        return None, False, "formula not computed: a trigger errored"
    try:
        value = calculate_scaling_modifiers_formula(modifiers, {k: float(v or 0.0) for k, v in metrics.items()})
    except ZeroDivisionError as exc:
        return None, False, str(exc)
    active = is_active(value, modifiers.activation)
    return (
        value,
        active,
        (f"{modifiers.formula} = {value:g} {'>' if active else '<='} activationTarget {modifiers.activation:g}"),
    )
