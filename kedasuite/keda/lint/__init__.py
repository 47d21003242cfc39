"""Semantic findings over rendered manifests: what ``kedasuite check-manifests`` explains.

:mod:`kedasuite.keda.manifest_checks` says whether KEDA and Kubernetes will accept a render
and whether it agrees with the suite's names; this module says what an accepted render will
*do* that its author probably did not mean: consumers beyond the partitions, a cooldown
that governs nothing, Celery work hidden from the list, a grace period shorter than a
task, a ScaledJob strategy that starts too few Jobs. Each :class:`Finding` carries the
rule, the severity (``error`` only where the manifest cannot work; ``info`` never fails),
the object, the manifest's numbers, why it matters and the fix. The rules live in
:mod:`kedasuite.keda.lint.rules` and :mod:`kedasuite.keda.lint.workloads`; ``docs/lint.md``
lists them with their sources in KEDA v2.20.2 and Kubernetes.

A finding that is known and accepted is suppressed on the object it names, with a reason
(both annotations are needed; an error cannot be suppressed)::

    metadata:
      annotations:
        kedasuite.io/lint-ignore: kafka-tolerance-dead-zone,hpa-path
        kedasuite.io/lint-ignore-reason: "four consumers for a lag under 22 is fine here"
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.keda import manifest_checks as mc
from kedasuite.keda.lint import workloads  # noqa: F401  (registers its rules)
from kedasuite.keda.lint.rules import CHECKS, OBJECT_CHECKS, RULES, SEVERITIES, Finding, Severity, Subject
from kedasuite.keda.rules.spec import Scaler

IGNORE = "kedasuite.io/lint-ignore"
IGNORE_REASON = "kedasuite.io/lint-ignore-reason"
#: Rules about the suppressions themselves (they cannot be suppressed).
SUPPRESSION_RULES = {
    "lint-ignore-without-reason": f"{IGNORE} without a {IGNORE_REASON} (the suppression is not honoured)",
    "lint-ignore-unknown-rule": f"{IGNORE} names a rule id the lint does not have",
}

__all__ = ["IGNORE", "IGNORE_REASON", "Finding", "Report", "Severity", "all_rules", "findings", "lint", "subjects"]


def all_rules() -> dict[str, str]:
    """Every rule id the lint can report, with what it checks in one line."""
    return {**RULES, **SUPPRESSION_RULES}


def subjects(objs: list[dict[str, Any]]) -> Iterator[Subject]:
    """Each ScaledObject and ScaledJob of a render with the pod it scales. An object whose numbers do
    not parse is left to the schema and contract checks, which say what is wrong with it."""
    by_key = {(o.get("kind"), (o.get("metadata") or {}).get("name")): o for o in objs}
    for obj in objs:
        if obj.get("kind") not in (SCALED_OBJECT, SCALED_JOB):
            continue
        try:
            scaler = Scaler.from_manifest(obj)
        except (ValueError, TypeError, AttributeError):
            continue
        holder, pod = mc.scaled_pod(obj, by_key)
        yield Subject(obj, scaler, holder, pod or {}, mc.scaled_container(obj, pod or {}))


def order(finding: Finding) -> tuple[int, str]:
    """Worst first, then by object: an object's findings together."""
    return SEVERITIES.index(finding.severity), finding.ref


def findings(objs: list[dict[str, Any]]) -> list[Finding]:
    """Every rule over every KEDA object of the render, nothing suppressed, in :func:`order`."""
    scaled = [o for o in objs if o.get("kind") in (SCALED_OBJECT, SCALED_JOB)]
    found = [f for obj in scaled for check in OBJECT_CHECKS for f in check(obj)]
    found += [f for subject in subjects(objs) for check in CHECKS for f in check(subject)]
    return sorted(found, key=order)


@dataclass(frozen=True)
class Report:
    """The findings of one render, and those its annotations suppressed (with their reasons)."""

    findings: tuple[Finding, ...]
    suppressed: tuple[tuple[Finding, str], ...] = ()

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def fails(self, strict: bool = False) -> bool:
        """Errors always fail; warnings under ``strict``; information never."""
        return bool(self.count("error") or (strict and self.count("warning")))

    def summary(self) -> str:
        def plural(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        text = (
            f"lint: {plural(self.count('error'), 'error')}, {plural(self.count('warning'), 'warning')}, "
            f"{plural(self.count('info'), 'note')}"
        )
        return text + (f", {len(self.suppressed)} suppressed" if self.suppressed else "")

    def lines(self) -> list[str]:
        """The findings, then one line per suppressed one (what was accepted, and why)."""
        return [f.text() for f in self.findings] + [
            f"suppressed {f.rule} {f.ref} ({IGNORE_REASON}: {reason})" for f, reason in self.suppressed
        ]


def _suppressions(objs: Iterable[dict[str, Any]]) -> tuple[dict[str, tuple[set[str], str]], list[Finding]]:
    """Per object ref, the rule ids it suppresses and the reason; and what is wrong with the annotations."""
    honoured: dict[str, tuple[set[str], str]] = {}
    problems = []
    known = all_rules()
    for obj in objs:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if IGNORE not in annotations:
            continue
        rules = {r.strip() for r in str(annotations[IGNORE]).split(",") if r.strip()}
        reason = str(annotations.get(IGNORE_REASON) or "").strip()
        ref = mc.ref(obj)
        for rule in sorted(rules - set(known)):
            problems.append(
                Finding(
                    "lint-ignore-unknown-rule",
                    "warning",
                    ref,
                    f"{IGNORE} names {rule!r}, which is no rule of the lint",
                    "a misspelt id suppresses nothing, and the finding it meant stays.",
                    f"one of: {', '.join(sorted(RULES))}",
                )
            )
        if not reason:
            problems.append(
                Finding(
                    "lint-ignore-without-reason",
                    "warning",
                    ref,
                    f"{IGNORE}: {', '.join(sorted(rules))} has no {IGNORE_REASON}, so it is not honoured",
                    "a suppression is a decision about this object; without the reason the next reader cannot tell a "
                    "decision from a silenced warning.",
                    f"add {IGNORE_REASON}: <why the finding does not apply or is accepted>",
                )
            )
            continue
        honoured[ref] = (rules, reason)
    return honoured, problems


def lint(objs: list[dict[str, Any]]) -> Report:
    """The findings of a render after its ``kedasuite.io/lint-ignore`` annotations."""
    honoured, problems = _suppressions(objs)
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, str]] = []
    for finding in findings(objs):
        rules, reason = honoured.get(finding.ref, (set(), ""))
        if finding.rule in rules and finding.severity != "error":
            suppressed.append((finding, reason))
        else:
            kept.append(finding)
    ordered = sorted(kept + problems, key=order)
    return Report(tuple(ordered), tuple(suppressed))
