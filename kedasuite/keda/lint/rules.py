"""The lint's findings and its rules about KEDA's own settings (see :mod:`kedasuite.keda.lint`).

A :class:`Finding` is what ``kedasuite check-manifests`` prints after the problems: the
rule, how bad it is, the object, what the manifest says (its numbers), why that matters
and the fix. Rules are functions of one :class:`Subject` (a ScaledObject or ScaledJob with
the pod it scales), registered with :func:`checks`, or of the object as written, before its
numbers are read (:func:`object_checks`); this module holds the rules about the trigger
metadata KEDA refuses and KEDA's and the HPA's arithmetic (kafka partitions, cooldown,
polling, activation, the HPA path), :mod:`kedasuite.keda.lint.workloads` those about what the pods do. Every number is
read with :meth:`Scaler.from_manifest` and worked out with the model's own functions
(:mod:`kedasuite.keda.rules.scaling`, :mod:`kedasuite.keda.rules.hpa`): the lint has no second
reading of KEDA's rules. The rules, their reasons and upstream sources: ``docs/lint.md``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.names import Env
from kedasuite.core.workloads import SCALED_JOB, SCALED_OBJECT
from kedasuite.keda import manifest_checks as mc
from kedasuite.keda.rules.hpa import (
    DOWNSCALE_STABILIZATION,
    SYNC_PERIOD,
    Behavior,
    behavior_from_manifest,
    legacy_scale_up_syncs,
    metric_proposal,
)
from kedasuite.keda.rules.kafka import KafkaTrigger, capped_total_lag, parse_kafka_metadata
from kedasuite.keda.rules.redis import REDIS_LIST_TYPES, parse_redis_metadata
from kedasuite.keda.rules.scalersconfig import MetadataError
from kedasuite.keda.rules.scaling import get_hpa_min_replicas, hpa_tolerances, new_hpa_behavior
from kedasuite.keda.rules.spec import (
    FORCE_ACTIVATION,
    PAUSED,
    PAUSED_REPLICAS,
    PAUSED_SCALE_IN,
    PAUSED_SCALE_OUT,
    Scaler,
    Trigger,
    trigger_metadata,
    trigger_name,
)

Severity = Literal["error", "warning", "info"]
#: Worst first: the order findings are printed in.
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

Obj = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    """One thing a manifest does that works against what its author wants (or cannot work)."""

    rule: str
    severity: Severity
    #: ``Kind/name`` of the object the finding is about (and where its suppression goes).
    ref: str
    #: What the manifest says, with its numbers.
    message: str
    why: str
    fix: str

    def text(self, width: int = 110) -> str:
        """One paragraph: the finding, then why and the fix, each wrapped and indented under it."""

        def fill(text: str, first: str, rest: str) -> str:
            return textwrap.fill(
                text,
                width,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )

        return "\n".join(
            (
                fill(f"{self.severity} {self.rule} {self.ref}: {self.message}", "", "    "),
                fill(self.why, "    why: ", "         "),
                fill(self.fix, "    fix: ", "         "),
            )
        )


@dataclass(frozen=True)
class Subject:
    """A ScaledObject or ScaledJob of a render, with the pod it scales."""

    obj: Obj
    scaler: Scaler
    #: What holds the pod template: the ScaledObject's target, or the ScaledJob itself; ``None``
    #: when the target is not in the render (the contract checks say so).
    holder: Obj | None
    pod: Obj
    #: The container KEDA reads env from (``envSourceContainerName`` or the first).
    container: Obj | None

    @property
    def ref(self) -> str:
        return mc.ref(self.obj)

    @property
    def spec(self) -> Obj:
        return self.obj.get("spec") or {}

    @property
    def is_job(self) -> bool:
        return self.scaler.kind == SCALED_JOB

    @property
    def container_name(self) -> str:
        return str((self.container or {}).get("name", "?"))

    @property
    def command(self) -> tuple[str, ...] | None:
        """The suite's workload the container runs (``("worker", "celery")``), if any."""
        return mc.workload_command(self.container) if self.container else None

    def env(self, name: str) -> str | None:
        return mc.env_value(self.container, name) if self.container else None

    def finding(
        self, rule: str, severity: Severity, message: str, why: str, fix: str, about: Obj | None = None
    ) -> Finding:
        return Finding(rule, severity, mc.ref(about) if about is not None else self.ref, message, why, fix)


Check = Callable[[Subject], Iterator[Finding]]
#: A check of a ScaledObject or ScaledJob as written, before its numbers are read.
ObjectCheck = Callable[[Obj], Iterator[Finding]]
#: Every rule id with what it checks in one line (``docs/lint.md`` has each in full).
RULES: dict[str, str] = {}
CHECKS: list[Check] = []
OBJECT_CHECKS: list[ObjectCheck] = []


def _rules(rules: Mapping[str, str]) -> None:
    assert not set(rules) & set(RULES), f"rule ids registered twice: {set(rules) & set(RULES)}"
    RULES.update(rules)


def checks(rules: Mapping[str, str]) -> Callable[[Check], Check]:
    """Register a check and the rule ids it may report."""

    def register(check: Check) -> Check:
        _rules(rules)
        CHECKS.append(check)
        return check

    return register


def object_checks(rules: Mapping[str, str]) -> Callable[[ObjectCheck], ObjectCheck]:
    """Register a check of the objects as written (:data:`ObjectCheck`) and the rule ids it may report."""

    def register(check: ObjectCheck) -> ObjectCheck:
        _rules(rules)
        OBJECT_CHECKS.append(check)
        return check

    return register


def n(value: float) -> str:
    return f"{value:g}"


# --- trigger metadata ---------------------------------------------------------------------------


@object_checks({"trigger-metadata-refused": "kafka or redis trigger metadata KEDA refuses: the trigger is never built"})
def metadata_refused(obj: Obj) -> Iterator[Finding]:
    """Each field KEDA's scaler would refuse, read as the model reads it (``rules.kafka``, ``rules.redis``).
    Run on the object as written, so an object whose numbers the other rules cannot read is
    still checked. The container's environment is not known here (``…FromEnv`` counts as given;
    the contract checks say whether the variable exists); a trigger's TriggerAuthentication is
    unknown when it names one, and empty when it names none."""
    for index, spec in enumerate((obj.get("spec") or {}).get("triggers") or []):
        kind, metadata = str(spec.get("type", "")), trigger_metadata(spec)
        auth = None if spec.get("authenticationRef") else {}
        try:
            if kind == "kafka":
                parse_kafka_metadata(metadata, auth_params=auth)
            elif kind in REDIS_LIST_TYPES:
                parse_redis_metadata(metadata, auth_params=auth)
        except MetadataError as exc:
            parser, source = ("parseKafkaMetadata", "kafka") if kind == "kafka" else ("parseRedisMetadata", "redis")
            for problem in exc.problems:
                yield Finding(
                    "trigger-metadata-refused",
                    "error",
                    mc.ref(obj),
                    f"trigger {trigger_name(index, spec)} ({kind}), field {problem.field}: {problem.reason}",
                    f"KEDA reads a trigger's metadata when it builds the trigger's scaler ({parser}, "
                    f"pkg/scalers/{source}_scaler.go; each field as pkg/scalers/scalersconfig/typed_config.go "
                    "converts it: booleans with Go's strconv.ParseBool, numbers as JSON integers). A value it "
                    "refuses fails the build, so the trigger never reports a metric and KEDA cannot scale the "
                    "object on it; an unknown boolean is not read as false.",
                    problem.fix,
                )


# --- kafka --------------------------------------------------------------------------------------


def kafka_triggers(s: Subject) -> Iterator[tuple[Trigger, KafkaTrigger]]:
    for trigger in s.scaler.triggers:
        if trigger.type == "kafka":
            try:
                yield trigger, KafkaTrigger.from_metadata(trigger.metadata)
            except ValueError:
                continue  # KEDA refuses it at run time; there is nothing to reason about


def partitions(s: Subject) -> tuple[int, str]:
    """The topic's partition count, which no manifest holds, and where it was taken from."""
    value = s.env(Env.KAFKA_PARTITIONS)
    if value is not None and value.strip().isdigit() and int(value) > 0:
        return int(value), f"{Env.KAFKA_PARTITIONS}={value} in container {s.container_name}"
    return defaults.KAFKA_PARTITIONS, (
        f"{Env.KAFKA_PARTITIONS} is not set in container {s.container_name}: the "
        "suite's default, kedasuite.core.defaults.KAFKA_PARTITIONS"
    )


def tolerances(s: Subject) -> tuple[float, float]:
    """The HPA's (up, down) tolerance: a behavior's own ``tolerance``, else the controller's 10 %."""
    return hpa_tolerances(s.scaler)


@checks({"kafka-replicas-over-partitions": "maxReplicaCount above the topic's partitions (no allowIdleConsumers)"})
def replicas_over_partitions(s: Subject) -> Iterator[Finding]:
    count, source = partitions(s)
    top = s.scaler.max_replicas
    for trigger, kafka in kafka_triggers(s):
        if top <= count or kafka.allow_idle_consumers:
            continue
        t = kafka.lag_threshold
        escape = (
            (
                f" ({count + 1} for a lag from {count * t + 1} to {(count + 1) * t - 1}, which escapes the cap: "
                f"it tests floor(lag / {t}) > {count}, an integer division)"
            )
            if t > 1
            else ""
        )
        yield s.finding(
            "kafka-replicas-over-partitions",
            "warning",
            f"maxReplicaCount {top} is above the topic's {count} partitions ({source}); trigger {trigger.name} "
            "does not set allowIdleConsumers",
            f"a partition is read by one consumer of the group at a time, so consumers beyond {count} get no "
            f"partition and sit idle. KEDA caps the metric at partitions × lagThreshold = {count} × {t} = {count * t}, "
            f"so the HPA asks for at most {count} replicas{escape}.",
            f'maxReplicaCount: {count} (or more partitions); allowIdleConsumers: "true" only if idle standby '
            "consumers are what you want",
        )


def dead_zone(count: int, t: int, current: int, up: float, down: float) -> tuple[list[int], bool, list[int]]:
    """At ``current`` replicas, the lags the model's HPA answers with ``current`` although they ask for more
    (``ceil(M / T) > current``, within the tolerance): those below ``(P + 1) × T`` in full, whether every
    larger lag (capped at ``P × T``) is one of them, and the lags past the zone that do add a replica."""

    def stays(lag: int) -> bool:
        return metric_proposal(capped_total_lag(lag, t, count), t, current, "AverageValue", up, down)[0] <= current

    uncapped = range(current * t + 1, (count + 1) * t)  # M = lag here: the cap starts at floor(lag / T) > P
    band = [lag for lag in uncapped[: math.floor(up * current * t) + 2] if stays(lag)]
    adds = [lag for lag in uncapped if lag > (band[-1] if band else 0) and not stays(lag)]
    return band, stays((count + 1) * t), adds


@checks({"kafka-tolerance-dead-zone": "lags just below the partition cap that do not add the last replica"})
def tolerance_dead_zone(s: Subject) -> Iterator[Finding]:
    count, source = partitions(s)
    current = count - 1
    if s.is_job or s.scaler.max_replicas < count or current < 1:
        return
    up, down = tolerances(s)
    for trigger, kafka in kafka_triggers(s):
        if (
            trigger.metric_type != "AverageValue"
            or kafka.allow_idle_consumers
            or kafka.limit_to_partitions_with_lag
            or kafka.ensure_even_distribution_of_partitions
        ):
            continue
        t = kafka.lag_threshold
        band, never, adds = dead_zone(count, t, current, up, down)
        if not band:
            continue
        cap = count * t
        asks = f"= {count}" if math.ceil(band[-1] / t) == count else f"≥ {count}"
        message = (
            f"{count} partitions ({source}) and lagThreshold {t}: the metric is capped at {count} × {t} = "
            f"{cap}. At {current} replicas a lag of {band[0]} to {band[-1]} asks for ceil(lag / {t}) {asks} "
            f"but lag / ({current} × {t}) ≤ {n(1 + up)} is within the HPA's {n(up * 100)} % tolerance, so "
            f"it stays at {current}"
        )
        if never:
            what = (
                f"only a lag from {adds[0]} to {adds[-1]} (which escapes the cap) takes it to {count}"
                if adds
                else f"no lag takes it to {count}"
            )
            message += (
                f"; every lag of {(count + 1) * t} or more reads {cap}, and {cap} / {current * t} = "
                f"{cap / (current * t):.3g} is within it too: {what}"
            )
        else:
            message += f"; from {band[-1] + 1} the HPA adds replica {count}"
        why = (
            "the HPA keeps the current count while M / (T × current) stays within 1 ± tolerance "
            "(GetExternalPerPodMetricReplicas, replica_calculator.go). Below the cap a growing lag leaves that "
            "band; at the cap the metric stops growing"
        )
        if never:
            fix = (
                f"expect {current} consumers at most (maxReplicaCount: {current}), or add partitions so that "
                f"{count} / {current} clears the tolerance, or set behavior.scaleUp.tolerance below "
                f"{cap / (current * t) - 1:.3g} (Kubernetes' HPAConfigurableTolerance)"
            )
        else:
            fix = (
                f"nothing, if {current} consumers for a lag up to {band[-1]} is acceptable; a lower lagThreshold "
                "moves the band down"
            )
        yield s.finding("kafka-tolerance-dead-zone", "warning" if never else "info", message, why + ".", fix)


@checks({"kafka-persistent-lag-min-zero": "excludePersistentLag on a ScaledObject that should reach 0"})
def persistent_lag(s: Subject) -> Iterator[Finding]:
    if s.is_job or s.scaler.min_replicas != 0:
        return
    for trigger, kafka in kafka_triggers(s):
        if not kafka.exclude_persistent_lag:
            continue
        yield s.finding(
            "kafka-persistent-lag-min-zero",
            "warning",
            f'trigger {trigger.name} sets excludePersistentLag: "true" with minReplicaCount 0 '
            f"(activationLagThreshold {kafka.activation_lag_threshold})",
            "a partition whose committed offset has not moved since the previous read drops out of the metric, but "
            "its lag still counts for activation (GetMetricsAndActivity compares the lag with persistent lag "
            "against activationLagThreshold, kafka_scaler.go). A partition stuck on a record the consumers cannot "
            f"get past keeps the object active: KEDA refreshes its last active time every poll, cooldownPeriod "
            f"{n(s.scaler.cooldown_period)} s never runs out and the group never goes from 1 to 0, while the HPA, "
            "reading the metric without that lag, holds its floor of 1.",
            "move poison records out of the way (the suite's consumer dead-letters them) and drop "
            "excludePersistentLag, or raise activationLagThreshold above the lag that may stay stuck, or make 1 "
            "replica the stated floor (minReplicaCount: 1)",
        )


# --- cooldown, polling, activation --------------------------------------------------------------


def floor_is_zero(s: Subject) -> bool:
    """KEDA's step to 0 (or idleReplicaCount 0) exists: the only step cooldownPeriod times."""
    idle = s.scaler.idle_replicas
    return s.scaler.min_replicas == 0 or idle == 0


@checks(
    {
        "cooldown-without-effect": "cooldownPeriod set where KEDA never scales to 0",
        "polling-interval-without-effect": "pollingInterval set where KEDA's poll decides nothing",
        "polling-longer-than-cooldown": "pollingInterval longer than cooldownPeriod",
    }
)
def cooldown(s: Subject) -> Iterator[Finding]:
    if s.is_job:
        return
    sc = s.scaler
    webhook = "KEDA's admission webhook warns about it too (scaledobject_webhook.go)"
    if not floor_is_zero(s):
        if "cooldownPeriod" in s.spec:
            yield s.finding(
                "cooldown-without-effect",
                "warning",
                f"cooldownPeriod {n(sc.cooldown_period)} with minReplicaCount {sc.min_replicas}",
                "cooldownPeriod only times KEDA's own step to 0 (or to idleReplicaCount) after the last active poll "
                "(RequestScale, pkg/scaling/executor/scale_scaledobjects.go). With minReplicaCount "
                f"{sc.min_replicas} there is no such step: between {sc.min_replicas} and {sc.max_replicas} the HPA "
                f"decides, and it scales down after its own stabilization window ({n(DOWNSCALE_STABILIZATION)} s "
                f"unless a behavior says otherwise); {webhook}.",
                "remove cooldownPeriod; to slow scale-down, set advanced.horizontalPodAutoscalerConfig.behavior."
                "scaleDown.stabilizationWindowSeconds",
            )
        if "pollingInterval" in s.spec and not any(t.use_cached_metrics for t in sc.triggers):
            yield s.finding(
                "polling-interval-without-effect",
                "warning",
                f"pollingInterval {n(sc.polling_interval)} with minReplicaCount {sc.min_replicas} and no trigger "
                "using useCachedMetrics",
                "KEDA's poll decides only the steps between 0 and 1; the HPA reads each metric itself at every "
                f"sync ({n(SYNC_PERIOD)} s), live from KEDA's metrics server. With minReplicaCount "
                f"{sc.min_replicas} the poll changes nothing; {webhook}.",
                "remove pollingInterval (or set useCachedMetrics: true on a trigger, if the HPA should see KEDA's "
                "polled value)",
            )
        return
    if sc.polling_interval > sc.cooldown_period:
        yield s.finding(
            "polling-longer-than-cooldown",
            "warning",
            f"pollingInterval {n(sc.polling_interval)} is longer than cooldownPeriod {n(sc.cooldown_period)}",
            "KEDA looks at the cooldown only when it polls: the step to 0 comes at the first inactive poll later "
            f"than the last active one + {n(sc.cooldown_period)} s. Polls {n(sc.polling_interval)} s apart make that "
            "the first inactive poll, so one empty reading scales to 0 and cooldownPeriod buys nothing.",
            f"a cooldownPeriod of a few polls (e.g. {n(3 * sc.polling_interval)}), or a shorter pollingInterval",
        )


#: The metadata keys of each trigger type's (activation, target).
ACTIVATION_KEYS = {
    "redis": ("activationListLength", "listLength"),
    "kafka": ("activationLagThreshold", "lagThreshold"),
    "prometheus": ("activationThreshold", "threshold"),
    "metrics-api": ("activationTargetValue", "targetValue"),
}


@checks({"activation-not-below-target": "an activation threshold at or above the trigger's target"})
def activation(s: Subject) -> Iterator[Finding]:
    sc = s.scaler
    if not s.is_job and not floor_is_zero(s):
        return  # KEDA never takes the step between 0 and 1 that activation decides
    for t in sc.triggers:
        if t.target <= 0 or t.activation < t.target:
            continue
        keys = ACTIVATION_KEYS.get("redis" if t.type.startswith("redis") else t.type, ("activation…", "target"))
        worth = math.ceil(t.activation / t.target)
        if s.is_job:
            why = (
                f"no Job starts until more than {n(t.activation)} wait, although the target asks for one Job per "
                f"{n(t.target)}: up to {n(t.activation)} items, ceil({n(t.activation)} / {n(t.target)}) = {worth} "
                "Jobs' worth, wait with none running."
            )
        else:
            why = (
                f"activation decides only the step between 0 and 1 (pkg/scaling/executor/scale_scaledobjects.go): "
                f"at 0 replicas up to {n(t.activation)} wait with no replica, ceil({n(t.activation)} / "
                f"{n(t.target)}) = {worth} replicas' worth by the target; running, the workload goes to 0 "
                f"{n(sc.cooldown_period)} s (cooldownPeriod) after the metric falls to {n(t.activation)} or "
                "below, while the HPA would still keep ceil(M / "
                f"{n(t.target)}) replicas (unless another trigger stays active)."
            )
        yield s.finding(
            "activation-not-below-target",
            "warning",
            f"trigger {t.name} ({t.type}): {keys[0]} {n(t.activation)} is not below {keys[1]} {n(t.target)}",
            why,
            f"{keys[0]} below {n(t.target)} (0, the default, wakes on the first item), so activation only "
            "filters noise",
        )


# --- the HPA ------------------------------------------------------------------------------------


def describe_behavior(b: Behavior) -> str:
    def rules(word: str, r: Any) -> str:
        policies = ", ".join(f"{p.type} {p.value} per {n(p.period)} s" for p in r.policies)
        return f"{word} window {n(r.window)} s, {policies}, selectPolicy {r.select}"

    return f"{rules('scale-up', b.up)}; {rules('scale-down', b.down)}"


@checks({"hpa-path": "which path the HPA KEDA creates runs: legacy (no behavior) or behavior (information)"})
def hpa_path(s: Subject) -> Iterator[Finding]:
    if s.scaler.kind != SCALED_OBJECT:
        return
    sc = s.scaler
    config = (s.spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    name = config.get("name") or f"keda-hpa-{sc.name}"
    # KEDA reads these as booleans, and a value that is not one as true; paused, a direction's
    # selectPolicy becomes Disabled in the behavior it hands the HPA (creating one if needed).
    paused = [name for name, on in ((PAUSED_SCALE_IN, sc.pause.scale_in), (PAUSED_SCALE_OUT, sc.pause.scale_out)) if on]
    floor = get_hpa_min_replicas(sc.min_replicas)
    given = new_hpa_behavior(sc)
    if given is None:
        syncs = legacy_scale_up_syncs(1, sc.max_replicas)
        message = (
            f"HPA {name} runs the legacy path (no advanced.horizontalPodAutoscalerConfig.behavior): at most "
            f"max(2 × current, 4) replicas per sync, 1 → {sc.max_replicas} in {syncs} syncs "
            f"({n(syncs * SYNC_PERIOD)} s at the {n(SYNC_PERIOD)} s sync period); scale-down to the highest "
            f"recommendation of the last {n(DOWNSCALE_STABILIZATION)} s, in one step; between {floor} and "
            f"{sc.max_replicas}"
        )
    else:
        try:
            behavior = behavior_from_manifest(given)
            how = describe_behavior(behavior) if behavior else ""
        except InputError as exc:
            how = f"which does not read: {exc}"
        names = sorted(paused)
        by = f" (given by the annotation{'s' if len(names) > 1 else ''} {', '.join(names)})" if paused else ""
        message = f"HPA {name} runs the behavior path{by}: {how}; between {floor} and {sc.max_replicas}"
    yield s.finding(
        "hpa-path",
        "info",
        message,
        "KEDA gives the HPA a behavior only when the ScaledObject has one (controllers/keda/hpa.go); without one "
        "the HPA runs its legacy rules (horizontal.go), not the documented behavior defaults.",
        "none needed; advanced.horizontalPodAutoscalerConfig.behavior changes how fast the count moves",
    )


# --- pause annotations ----------------------------------------------------------------------------


@checks(
    {
        "paused": "a ScaledObject or ScaledJob paused by annotation: KEDA does not scale it at all",
        "paused-one-direction": "paused-scale-in / paused-scale-out: the count can move one way only (information)",
        "force-activation": "force-activation: KEDA counts the object active at every poll (information)",
    }
)
def pause_annotations(s: Subject) -> Iterator[Finding]:
    sc = s.scaler
    pause = sc.pause
    if pause.paused:
        if s.is_job:
            what = "KEDA stops the ScaledJob's scale loop: no Job is created whatever the queue"
            source = "checkIfPaused, controllers/keda/scaledjob_controller.go"
            fix = f'remove {PAUSED} (or set it to "false") when the pause is over'
        else:
            if pause.replicas is not None:
                outside = not sc.min_replicas <= pause.replicas <= sc.max_replicas
                bounds = f" (outside [{sc.min_replicas}, {sc.max_replicas}]: KEDA does not clamp it)" if outside else ""
                count = f"sets the target to {pause.replicas} replicas{bounds} and leaves it there"
            elif pause.bad_replicas is not None:
                count = (
                    f"cannot set {PAUSED_REPLICAS} {pause.bad_replicas!r}, which is no count (a whole number >= 0), "
                    "so it leaves the count where it is and reports the error at every reconcile"
                )
            else:
                count = "leaves the count where it is"
            what = f"KEDA stops the scale loop and deletes the HPA, then {count}"
            source = "handlePause and scaleTargetToPausedCount, controllers/keda/scaledobject_controller.go"
            fix = f"remove {PAUSED} and {PAUSED_REPLICAS} when the pause is over"
        yield s.finding(
            "paused",
            "warning",
            f"paused by annotation ({pause.text()})",
            f"{what} ({source}); no trigger is read. A render that carries the pause pauses every cluster it is "
            "applied to.",
            f"{fix}; if the pause is meant to stay in the render, suppress this finding with the reason",
        )
        return
    if s.is_job:
        return
    blocked = [
        (name, direction)
        for name, direction, on in (
            (PAUSED_SCALE_IN, "in (down)", pause.scale_in),
            (PAUSED_SCALE_OUT, "out (up)", pause.scale_out),
        )
        if on
    ]
    if blocked:
        names = ", ".join(name for name, _ in blocked)
        directions = " and ".join(direction for _, direction in blocked)
        yield s.finding(
            "paused-one-direction",
            "info",
            f"{names}: KEDA and the HPA do not scale {directions}",
            "KEDA skips its own step in that direction (scaleToZeroOrIdle / scaleFromZeroOrIdle, "
            "pkg/scaling/executor/scale_scaledobjects.go) and gives the HPA that direction's selectPolicy Disabled "
            "(newHPAForScaledObject, controllers/keda/hpa.go), creating a behavior if the object has none, so the "
            "other direction runs the behavior path with Kubernetes' defaults.",
            "remove the annotation when the pause is over",
        )
    if pause.force_activation:
        yield s.finding(
            "force-activation",
            "info",
            f"{FORCE_ACTIVATION}: every poll counts as active",
            "KEDA wakes the target from 0 and refreshes its last active time at every poll whatever the triggers "
            "read (RequestScale, pkg/scaling/executor/scale_scaledobjects.go), so it never scales it to 0 "
            f"(minReplicaCount {sc.min_replicas}); the HPA still scales on the metrics.",
            "remove the annotation when the forced activation is over",
        )
