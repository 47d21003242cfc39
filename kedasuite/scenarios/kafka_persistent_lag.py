"""``kafka-persistent-lag``: one stuck partition, with and without ``excludePersistentLag``.

A consumer that keeps failing on one record never commits past it: that partition's lag stays
while the others drain. Without ``excludePersistentLag`` the stuck lag keeps counting in KEDA's
metric, and the HPA keeps ``ceil(lag / lagThreshold)`` consumers for a partition only one of
them can own. With it, the scaler reports 0 for a partition whose committed offset has not
moved since its previous read, so the HPA goes down to one consumer; but activation still
counts the stuck lag, so the workload stays active and never goes from 1 to 0, by design: the
stuck record needs someone to look at it (park it, fix the handler).
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_KAFKA
from kedasuite.scenarios.base import FIX, PITFALL, Judged, Pump, Scenario, Trace, Variant, Verdict, Workers
from kedasuite.scenarios.manifests import derive

#: The handler fails on partition 0's third record for good: two records are committed first,
#: because KEDA only ever calls a partition's lag persistent when the group has committed there.
STUCK_AT = (0, 2)
WORK_S = 0.3
#: The HPA's syncs half a poll after KEDA's polls: each reads the offsets, and two reads at one
#: instant would see every partition's offset "unchanged".
TIMINGS = {
    "polling_interval": 1.0,
    "cooldown_period": 3.0,
    "sync_period": 1.0,
    "stabilization_window": 3.0,
    "hpa_offset": 0.5,
}
#: Seconds to watch the workload once only the stuck lag is left: the window, the cooldown and a few polls.
HOLD_S = 12.0
WORKERS = Workers(WORK_S, stuck_at=STUCK_AT)

VARIANTS = (
    Variant("pitfall", PITFALL, "stuck partition, lag counted", derive(WORKLOAD_KAFKA, {}), WORKERS),
    Variant(
        "fix",
        FIX,
        "stuck partition, excludePersistentLag: true",
        derive(WORKLOAD_KAFKA, {"spec.triggers[0].metadata.excludePersistentLag": "true"}),
        WORKERS,
    ),
)


def settled_at(trace: Trace) -> float | None:
    """When only the stuck partition's lag was left (every other record done)."""
    found = trace.first(
        lambda s: (
            s.pumped > 0
            and s.extra.get("stuck_lag", 0) > 0
            and s.backlog <= s.extra.get("stuck_lag", 0)
            and s.in_flight == 0
        )
    )
    return found.t if found else None


def finished(trace: Trace) -> bool:
    at = settled_at(trace)
    return at is not None and trace.samples[-1].t - at >= HOLD_S


def held(trace: Trace) -> tuple[int, int]:
    """The fewest and most replicas in the second half of the watch once only the stuck lag was left."""
    at = settled_at(trace)
    after = [s.replicas for s in trace.samples if at is not None and s.t >= at + HOLD_S / 2]
    after = after or [trace.samples[-1].replicas if trace.samples else 0]
    return min(after), max(after)


def judge(trace: Trace) -> Judged:
    low, high = held(trace)
    last = trace.samples[-1] if trace.samples else None
    metric = next((s.metric for s in reversed(trace.samples) if s.metric is not None), None)
    return [
        ("lag left on the stuck partition", f"{last.extra.get('stuck_lag', 0) if last else 0:g}"),
        ("metric KEDA hands the HPA, at the end", "—" if metric is None else f"{metric:g}"),
        ("replicas once only the stuck lag was left", f"{low}" if low == high else f"{low}–{high}"),
        ("scaled to 0", "yes" if low == 0 else "no"),
    ], high > 1


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    pit, fix = held(traces["pitfall"])[1], held(traces["fix"])[1]
    return Verdict.of(
        traces,
        judge,
        f"one stuck partition held {pit} consumers without excludePersistentLag and "
        f"{fix} with it; neither went to 0: activation counts the stuck lag",
    )


SCENARIO = Scenario(
    name="kafka-persistent-lag",
    summary="one stuck Kafka partition holds several consumers; excludePersistentLag brings them down to one, "
    "never to 0",
    workload=WORKLOAD_KAFKA,
    pitfall="A partition whose consumer cannot get past a record keeps its lag; counted in the metric, it "
    "keeps ceil(lag / lagThreshold) consumers running for a partition only one can own.",
    fix="excludePersistentLag: true leaves a partition out of the metric while its committed offset stays put "
    "between reads: one consumer remains. Activation still counts that lag, so the workload cannot go to 0 "
    "until the stuck record is dealt with.",
    mechanism=f"Kafka consumers with KAFKA_STUCK_AT={STUCK_AT[0]}:{STUCK_AT[1]}: the handler keeps failing on "
    f"partition {STUCK_AT[0]}'s record at offset {STUCK_AT[1]}, so that partition pauses there and "
    "never commits past it (its first records are committed: KEDA needs a committed offset to call "
    f"lag persistent). Records take {WORK_S:g} s; watched for {HOLD_S:g} s once only the stuck lag is left.",
    variants=VARIANTS,
    load=(Pump(1.0, 100),),
    timings=TIMINGS,
    verdict=verdict,
    finished=finished,
    # The drain on 4 partitions, a start-up and group join, three bounded rebalances, the watch.
    deadline=1.0 + 100 * WORK_S / 4 + 4.0 + 3 * 10 + HOLD_S + 10,
    startup=4.0,
)
