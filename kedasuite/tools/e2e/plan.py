"""What the end-to-end run expects of each workload: pure, from the shared KEDA model.

A :class:`Spec` is one workload's ScaledObject or ScaledJob, parsed by
:class:`kedasuite.keda.rules.spec.Scaler` (the parser ``kedasuite status`` uses, with KEDA's
defaults kept there), plus the workload's backlog trigger, chosen the way status chooses it
(:func:`kedasuite.core.workloads.by_trigger`). The counts a load should lead to come from
:func:`kedasuite.keda.rules.scaling.decide`, the function behind ``status``'s predictions; what
is added here is only what a run needs on top: the HPA's scale-up ramp (for deadlines),
the load to pump under the activation threshold, and the windows of each phase.

``run`` reads the live objects from the cluster; :data:`DEFAULT_SPECS`, what ``k8s/`` is
meant to deploy, comes from the render bundled with the package (the one status falls back
to), for ``plan`` and the tests. The rules are in docs/keda-model.md (KEDA v2.20.2).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kedasuite.core import defaults
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT, WORKLOADS, by_trigger, workload
from kedasuite.keda.model import legacy_scale_up_syncs
from kedasuite.keda.rules import scaling
from kedasuite.keda.rules.kafka import capped_total_lag
from kedasuite.keda.rules.scaling import Reading, get_hpa_min_replicas
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger, scalers_in

#: The Kubernetes HPA controller's default sync period (``--horizontal-pod-autoscaler-sync-period``).
HPA_SYNC_SECONDS = 15.0


@dataclass(frozen=True)
class Spec:
    """One workload's ScaledObject / ScaledJob as deployed, and the trigger on its backlog."""

    workload: str
    scaler: Scaler
    #: kafka only: partitions of the topic, the scaler's cap.
    partitions: int | None = None

    @property
    def trigger(self) -> Trigger:
        found = backlog_trigger(self.workload, self.scaler)
        if found is None:
            raise ValueError(
                f"{self.scaler.kind} {self.scaler.name!r} has no trigger on {workload(self.workload).backlog!r}"
            )
        return found

    @property
    def kind(self) -> str:
        return self.scaler.kind

    @property
    def resource(self) -> str:
        """The ScaledObject / ScaledJob name."""
        return self.scaler.name

    @property
    def deployment(self) -> str:
        """The Deployment a ScaledObject scales (``scaleTargetRef.name``); empty for a ScaledJob."""
        return self.scaler.target

    @property
    def target(self) -> float:
        """``listLength`` / ``lagThreshold`` of the backlog trigger: ``T``."""
        return self.trigger.target

    @property
    def activation(self) -> float:
        """``activationListLength`` / ``activationLagThreshold``: ``A``."""
        return self.trigger.activation

    @property
    def min_replicas(self) -> int:
        return self.scaler.min_replicas

    @property
    def max_replicas(self) -> int:
        return self.scaler.max_replicas

    @property
    def polling_interval(self) -> float:
        return self.scaler.polling_interval

    @property
    def cooldown_period(self) -> float:
        """ScaledObject only; a ScaledJob has no cooldown (Jobs end on their own)."""
        return self.scaler.cooldown_period

    def with_timing(self, **changes: Any) -> Spec:
        """The same spec with other scaler fields (``polling_interval=...``): for fast tests."""
        return dataclasses.replace(self, scaler=dataclasses.replace(self.scaler, **changes))


def backlog_trigger(name: str, scaler: Scaler) -> Trigger | None:
    """The trigger that watches ``name``'s backlog (others, such as in-flight counts, only
    raise the HPA's proposal while work runs and do not change the expectations)."""
    row = workload(name)
    return next((t for t in scaler.triggers if by_trigger(t.type, t.source) == row), None)


def spec_of(name: str, scaler: Scaler, partitions: int | None = None) -> Spec:
    """A spec for workload ``name``; a scaler without its backlog trigger, or with a target
    that is not positive, is a ValueError (nothing would scale as planned)."""
    spec = Spec(name, scaler, (partitions or defaults.KAFKA_PARTITIONS) if workload(name).broker == "kafka" else None)
    if spec.target <= 0:
        raise ValueError(f"{scaler.kind} {scaler.name!r}: the trigger's target must be positive")
    return spec


def spec_from_object(name: str, obj: Mapping[str, Any], partitions: int | None = None) -> Spec:
    """A live ScaledObject / ScaledJob (as the API serves it) read by the shared parser."""
    return spec_of(name, Scaler.from_manifest(obj), partitions)


def bundled_specs() -> dict[str, Spec]:
    """The specs of the render of ``k8s/overlays/local`` bundled with the package."""
    from kedasuite.keda.objects import bundled_text, workload_of

    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, Mapping)]
    found = {w: s for s in scalers_in(objs) if (w := workload_of(s)) is not None}
    return {row.name: spec_of(row.name, found[row.name]) for row in WORKLOADS if row.name in found}


DEFAULT_SPECS: Mapping[str, Spec]
"""The values ``k8s/`` is meant to deploy (``plan`` and the tests use them; ``run`` reads the
live objects). Read on first use: every ``kedasuite`` command imports this module, and only
``plan`` needs the bundled render (and :mod:`kedasuite.tools.status` with its Redis client)."""


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_SPECS":
        specs = globals()["DEFAULT_SPECS"] = bundled_specs()
        return specs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_metric(spec: Spec, load: int) -> float:
    """The metric KEDA hands the HPA for ``load`` items (kafka: lag, with the partition cap)."""
    if spec.partitions is not None:
        return capped_total_lag(load, int(spec.target), spec.partitions)
    return load


def expected_count(spec: Spec, load: int, running: int = 0, pending: int = 0) -> int:
    """Replicas a ScaledObject settles at for ``load`` on its backlog, or Jobs a ScaledJob
    creates at one poll with ``running`` (``pending``) Jobs: :func:`kedasuite.keda.rules.scaling.decide`.

    Activation compares the raw load with ``A`` (KEDA: strictly above), the proposal the
    capped metric with ``T``; the HPA's tolerance and rate limits decide how fast, not where.
    """
    reading = Reading(spec.trigger, load_metric(spec, load), activation_metric=load)
    count = scaling.decide(spec.scaler, [reading], running, pending).count
    assert count is not None  # every reading is known
    return count


def below_activation_load(activation: float) -> int:
    """Items to pump to show that load *at or under* the activation threshold wakes nothing.

    Half the threshold, rounded up (3 for 5); a tiny threshold (1 or 2) is used as is,
    which also exercises KEDA's strict ``>``: 2 records of lag against
    ``activationLagThreshold: 2`` must not activate. 0 means no such phase (any item activates).
    """
    if activation <= 0:
        return 0
    if activation <= 2:
        return int(activation)
    return math.ceil(activation / 2)


@dataclass(frozen=True)
class Settings:
    """Knobs of a run; every one has an ``E2E_*`` variable (see :mod:`.command`)."""

    idle_s: float = defaults.E2E_IDLE_SECONDS
    hold_s: float = defaults.E2E_HOLD_SECONDS
    interval_s: float = defaults.E2E_INTERVAL
    margin_s: float = defaults.E2E_MARGIN
    #: One burst size for every workload; ``None``: each workload's ``e2e_burst``.
    burst: int | None = None
    drain_timeout_s: float = defaults.E2E_DRAIN_TIMEOUT
    hpa_sync_s: float = HPA_SYNC_SECONDS


@dataclass(frozen=True)
class Plan:
    """What will be done to one workload and what must be seen; stored in the timeline."""

    spec: Spec
    idle_s: float
    hold_s: float
    below: int
    burst: int
    #: The count the formulas predict for below + burst items.
    expected: int
    #: Scale-out passes when replicas reach ``at_least`` without passing ``at_most``.
    at_least: int
    at_most: int
    scale_out_deadline_s: float
    drain_timeout_s: float
    #: After the drain, back to 0 (no running Job) within this long.
    return_within_s: float
    settle_timeout_s: float
    #: How ``expected`` and the deadlines were computed, for the report.
    why: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        spec = data.pop("spec")
        scaler = spec.pop("scaler")
        triggers = tuple(Trigger(**t) for t in scaler.pop("triggers"))
        raw_pause = scaler.pop("pause", None) or {}
        pause = Pause(**{**raw_pause, "given": tuple(tuple(pair) for pair in raw_pause.get("given", ()))})
        # JSON has no tuples: the scaler's tuple fields (pendingPodConditions) come back as lists.
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in scaler.items()}
        return cls(spec=Spec(scaler=Scaler(triggers=triggers, pause=pause, **fields), **spec), **data)


def make_plan(spec: Spec, settings: Settings | None = None) -> Plan:
    """Loads, expectations and deadlines for one workload.

    Windows of "must stay at 0" last at least two polling intervals, so KEDA has looked
    at least once with the load in place. The scale-out deadline is one polling interval
    (KEDA activates 0 -> 1) plus one HPA sync per scale-up step and one more for the
    metric to reach the HPA, plus the margin (pods to be created, readings every few s).
    """
    settings = settings or Settings()
    below = below_activation_load(spec.activation)
    burst = settings.burst or workload(spec.workload).e2e_burst
    idle = max(settings.idle_s, 2 * spec.polling_interval)
    hold = max(settings.hold_s, 2 * spec.polling_interval)
    load = below + burst
    expected = expected_count(spec, load)
    poll, margin, target = f"{spec.polling_interval:g}", f"{settings.margin_s:g}", f"{spec.target:g}"
    if spec.kind == SCALED_OBJECT:
        # KEDA's HPAs have no behavior: the legacy limit max(2 x current, 4) per sync applies.
        steps = legacy_scale_up_syncs(get_hpa_min_replicas(spec.min_replicas), expected)
        deadline = spec.polling_interval + settings.hpa_sync_s * (steps + 1) + settings.margin_s
        within = spec.cooldown_period + spec.polling_interval + settings.margin_s
        at_least, at_most = expected, spec.max_replicas
        metric = (
            f"KEDA metric {load_metric(spec, load):g} (lag {load}, {spec.partitions} partitions x "
            f"lagThreshold {target} cap)"
            if spec.partitions is not None
            else f"metric {load}"
        )
        why = (
            f"{metric}: min({spec.max_replicas}, max({spec.min_replicas}, ceil(M/{target}))) = {expected}; "
            f"deadline = poll {poll} + {steps + 1} HPA syncs + margin {margin} s; "
            f"scale-in = cooldown {spec.cooldown_period:g} + poll {poll} + margin {margin} s"
        )
    else:
        deadline = spec.polling_interval + settings.margin_s
        # A runner exits 0 as soon as both the queue and the processing list are empty.
        within = spec.polling_interval + settings.margin_s
        at_least, at_most = max(1, spec.min_replicas), spec.max_replicas
        why = (
            f"{spec.scaler.strategy} strategy, queue {load}, listLength {target}, max {spec.max_replicas}: "
            f"the first poll creates {expected} Jobs; later polls never push running Jobs above "
            f"{spec.max_replicas}"
        )
    settle = spec.cooldown_period + spec.polling_interval + 2 * settings.margin_s
    return Plan(
        spec=spec,
        idle_s=idle,
        hold_s=hold,
        below=below,
        burst=burst,
        expected=expected,
        at_least=at_least,
        at_most=at_most,
        scale_out_deadline_s=deadline,
        drain_timeout_s=settings.drain_timeout_s,
        return_within_s=within,
        settle_timeout_s=settle,
        why=why,
    )


__all__ = [
    "DEFAULT_SPECS",
    "HPA_SYNC_SECONDS",
    "SCALED_JOB",
    "SCALED_OBJECT",
    "Plan",
    "Settings",
    "Spec",
    "backlog_trigger",
    "below_activation_load",
    "bundled_specs",
    "expected_count",
    "load_metric",
    "make_plan",
    "spec_from_object",
    "spec_of",
]
