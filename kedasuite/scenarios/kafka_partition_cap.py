"""``kafka-partition-cap``: replicas stop at the partition count, whatever ``maxReplicaCount`` says.

A consumer group gives each partition to one member, so consumers beyond the partition count
idle, and KEDA's kafka scaler caps its metric at ``partitions × lagThreshold`` (unless
``allowIdleConsumers``): a topic of 5 partitions gets at most 5 consumers (6 when the lag sits
just above the cap, where the cap's integer division lets it through), however large the lag
and ``maxReplicaCount``. Just below the cap the HPA's 10 % tolerance makes a dead zone: at
``P − 1`` replicas a lag a little above ``(P − 1) × lagThreshold`` asks for ``P`` and gets
``P − 1``. More consumers need more partitions: the fix is the topic, not the ScaledObject.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_KAFKA
from kedasuite.keda.rules.hpa import TOLERANCE, metric_proposal
from kedasuite.keda.rules.spec import Scaler
from kedasuite.scenarios.base import (
    FIX,
    PITFALL,
    Judged,
    Pump,
    Scenario,
    Trace,
    Variant,
    Verdict,
    Workers,
    done_at,
    drained_and_idle,
)
from kedasuite.scenarios.manifests import derive

WORK_S = 1.0
#: The HPA's window outlasts the drain, as 300 s does on a cluster: the consumers go when the lag is gone
#: (KEDA's step to 0), not one by one while it drains, each leave a rebalance that pauses the group.
TIMINGS = {"polling_interval": 1.0, "cooldown_period": 3.0, "sync_period": 1.0, "stabilization_window": 30.0}
#: Activation at 0: a record or two left uncommitted after a rebalance still wakes a consumer.
MANIFEST = derive(WORKLOAD_KAFKA, {"spec.maxReplicaCount": 10, "spec.triggers[0].metadata.activationLagThreshold": "0"})

VARIANTS = (
    Variant("pitfall", PITFALL, "maxReplicaCount 10 on 5 partitions", MANIFEST, Workers(WORK_S), partitions=5),
    Variant("fix", FIX, "maxReplicaCount 10 on 10 partitions", MANIFEST, Workers(WORK_S), partitions=10),
)


def dead_zone(variant: Variant) -> tuple[int, int] | None:
    """The lags (first, last) at which the HPA, at ``partitions − 1`` replicas, holds there although
    ``ceil(lag / lagThreshold)`` is the partition count: the tolerance just below the cap (the model's
    :func:`~kedasuite.keda.rules.hpa.metric_proposal`)."""
    trigger = Scaler.from_manifest(variant.manifest).triggers[0]
    p, t = variant.partitions, int(trigger.target)
    held = [lag for lag in range((p - 1) * t + 1, p * t + 1) if metric_proposal(lag, t, p - 1)[0] == p - 1]
    return (held[0], held[-1]) if held else None


def judge(trace: Trace) -> Judged:
    v = trace.variant
    scaler = Scaler.from_manifest(v.manifest)
    target = scaler.triggers[0].target
    peak, lag = int(trace.peak("replicas")), trace.peak("backlog")
    zone = dead_zone(v)
    return [
        (
            "peak lag → most KEDA reported",
            f"{lag:g} → {max((s.metric or 0 for s in trace.samples), default=0):g} (cap {v.partitions} × {target:g})",
        ),
        ("peak replicas (maxReplicaCount)", f"{peak} ({scaler.max_replicas})"),
        ("consumers without a partition, at most", f"{max(peak - v.partitions, 0)}"),
        ("all records done at", done_at(trace)),
        (
            f"tolerance dead zone at {v.partitions - 1} replicas (model)",
            f"lag {zone[0]}–{zone[1]} stays at {v.partitions - 1}" if zone else "none",
        ),
        # The pitfall: a lag that asks for more than the partitions, a maximum above them, replicas held at them.
    ], lag / target > v.partitions and scaler.max_replicas > v.partitions and peak <= v.partitions + 1


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    pit, fix = traces["pitfall"], traces["fix"]
    return Verdict.of(
        traces,
        judge,
        (
            f"on 5 partitions the consumers stopped at {pit.peak('replicas'):g} of maxReplicaCount 10; on 10 partitions "
            f"they reached {fix.peak('replicas'):g}. The tolerance leaves a lag just above (partitions − 1) × "
            "lagThreshold one consumer short (model)"
        ),
    )


SCENARIO = Scenario(
    name="kafka-partition-cap",
    summary="kafka consumers stop at the partition count whatever maxReplicaCount says, with the HPA's tolerance "
    "dead zone just below it; more partitions fix it",
    workload=WORKLOAD_KAFKA,
    pitfall="maxReplicaCount 10 on a 5-partition topic: the kafka scaler caps its metric at 5 × lagThreshold, so "
    "a lag of 100 asks for 5 consumers, and a sixth would get no partition. At 4 replicas a lag of 21–22 "
    "(threshold 5) is within the HPA's 10 % tolerance: the fifth consumer never comes.",
    fix="Partitions are the unit of parallelism: a 10-partition topic lets the same ScaledObject reach 10 "
    "consumers. (Or set maxReplicaCount to the partition count, and keep the lag out of the dead zone by "
    "the threshold.)",
    mechanism=f"Kafka consumers (one record at a time, {WORK_S:g} s each, commit after each) on a topic of the "
    f"variant's partitions; the tolerance ({TOLERANCE:g}) dead zone is computed by the model.",
    variants=VARIANTS,
    load=(Pump(1.0, 100),),
    timings=TIMINGS,
    verdict=verdict,
    finished=drained_and_idle,
    # The drain on 5 consumers, a start-up and group join, three bounded rebalances, the cooldown.
    deadline=1.0 + 100 * WORK_S / 5 + 4.0 + 3 * 10 + TIMINGS["cooldown_period"] + 10,
    startup=4.0,
)
