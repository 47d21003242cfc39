"""What ``kedasuite autoscale`` scales: each ScaledObject / ScaledJob of the manifests, the
workload that runs it, and the pod template's ``terminationGracePeriodSeconds``.

The manifests come from where every face takes them (:mod:`kedasuite.keda.objects`). The bundled render holds the KEDA objects only, so a Deployment's grace period is
then read from ``k8s/base`` when this is a checkout, else it is Kubernetes' default (30 s),
and the target says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.workloads import NAMES, SCALED_JOB, WORKLOADS, Workload
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.objects import load_objects, parse, workload_of
from kedasuite.keda.rules.spec import Scaler, scalers_in

#: The kubelet's default when a pod spec leaves ``terminationGracePeriodSeconds`` out.
DEFAULT_GRACE_SECONDS = float(defaults.KUBERNETES_GRACE_PERIOD_S)
BASE_DIR = "k8s/base"

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class Target:
    """One scaled workload: its KEDA object and how its pods stop."""

    workload: Workload
    scaler: Scaler
    grace_seconds: float
    #: Where the grace period was read, in words.
    grace_source: str

    @property
    def name(self) -> str:
        return self.workload.name

    @property
    def is_job(self) -> bool:
        return self.scaler.kind == SCALED_JOB

    @property
    def unit(self) -> str:
        return "Jobs" if self.is_job else "replicas"

    @property
    def parallelism(self) -> int:
        """Pods one Job runs at once: ``min(parallelism, completions)`` (Kubernetes' defaults: 1, 1)."""
        p, c = self.scaler.job_parallelism, self.scaler.job_completions
        width = p if p is not None else 1
        return min(width, c) if c else width


def _pod_spec_grace(pod_spec: Any) -> float | None:
    if isinstance(pod_spec, Mapping) and pod_spec.get("terminationGracePeriodSeconds") is not None:
        return float(pod_spec["terminationGracePeriodSeconds"])
    return None


def _deployments(objs: Sequence[Obj]) -> dict[str, Obj]:
    return {str((o.get("metadata") or {}).get("name")): o for o in objs if o.get("kind") == "Deployment"}


def _base_deployments(base: Path) -> dict[str, Obj]:
    found: dict[str, Obj] = {}
    if base.is_dir():
        for path in sorted(base.glob("*.yaml")):
            try:
                found |= _deployments(parse(path.read_text(), str(path)))
            except InputError:
                continue
    return found


def grace_period(scaler: Scaler, objs: Sequence[Obj], source: str, base: Path = Path(BASE_DIR)) -> tuple[float, str]:
    """The pod template's ``terminationGracePeriodSeconds`` for ``scaler``'s pods, and where it came from."""
    if scaler.kind == SCALED_JOB:
        obj = next(
            (o for o in objs if o.get("kind") == SCALED_JOB and (o.get("metadata") or {}).get("name") == scaler.name),
            {},
        )
        template = ((obj.get("spec") or {}).get("jobTargetRef") or {}).get("template") or {}
        value = _pod_spec_grace(template.get("spec"))
        if value is not None:
            return value, f"ScaledJob {scaler.name}'s pod template in {source}"
        return DEFAULT_GRACE_SECONDS, f"Kubernetes' default (ScaledJob {scaler.name}'s pod template sets none)"
    for where, deployments in ((source, _deployments(objs)), (f"{base}/", _base_deployments(base))):
        deployment = deployments.get(scaler.target)
        if deployment is not None:
            value = _pod_spec_grace(((deployment.get("spec") or {}).get("template") or {}).get("spec"))
            if value is not None:
                return value, f"Deployment {scaler.target} in {where}"
            return DEFAULT_GRACE_SECONDS, f"Kubernetes' default (Deployment {scaler.target} in {where} sets none)"
    return DEFAULT_GRACE_SECONDS, (
        f"Kubernetes' default: Deployment {scaler.target} is in neither {source} nor {base}/"
    )


def _worker_of(scaler: Scaler) -> Workload:
    """The workload row whose command runs ``scaler``'s pods, or an error saying there is none."""
    if scaler.kind == SCALED_JOB:
        name = workload_of(scaler)
        if name is None or not workload_row(name).is_job:
            raise InputError(
                f"ScaledJob {scaler.name} watches no workload's backlog, so kedasuite has no Job "
                f"runner command for it; the workloads it can run: {', '.join(NAMES)}"
            )
        return workload_row(name)
    row = next((w for w in WORKLOADS if w.deployment and w.deployment == scaler.target), None)
    if row is None:
        raise InputError(
            f"ScaledObject {scaler.name} scales Deployment {scaler.target!r}, which has no worker "
            f"command in the workload table (kedasuite/core/workloads.py: "
            f"{', '.join(w.deployment for w in WORKLOADS if w.deployment)}); name the workloads to "
            "scale with -w, or drop that ScaledObject from the overlay"
        )
    return row


def load_targets(
    manifests: str | None, overlay: str | None, workloads: Sequence[str] = (), base: Path = Path(BASE_DIR)
) -> tuple[list[Target], str]:
    """The targets to scale: every KEDA object of the manifests, or those of ``workloads``."""
    for name in workloads:
        workload_row(name)  # an unknown name is an InputError naming the known ones
    objs, source = load_objects(manifests, overlay)
    scalers = scalers_in(objs)
    if not scalers:
        raise InputError(f"{source} holds no ScaledObject or ScaledJob; pass an overlay that has them")
    targets: list[Target] = []
    for scaler in scalers:
        if (
            workloads
            and workload_of(scaler) not in workloads
            and not any(w.deployment and w.deployment == scaler.target and w.name in workloads for w in WORKLOADS)
        ):
            continue
        row = _worker_of(scaler)
        if any(t.workload == row for t in targets):
            raise InputError(
                f"{source} has two KEDA objects for workload {row.name} ({scaler.name} and "
                f"{next(t.scaler.name for t in targets if t.workload == row)}); keep one"
            )
        seconds, where = grace_period(scaler, objs, source, base)
        targets.append(Target(row, scaler, seconds, where))
    missing = [w for w in workloads if not any(t.name == w for t in targets)]
    if missing:
        raise InputError(
            f"{source} has no ScaledObject or ScaledJob for workload {missing[0]!r}; pass --overlay "
            "or --manifests holding one"
        )
    return sorted(targets, key=lambda t: NAMES.index(t.name)), source
