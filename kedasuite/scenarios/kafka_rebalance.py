"""``kafka-rebalance``: what a consumer group pays each time KEDA adds or removes a consumer.

Every change of a group's members is a rebalance. With an eager assignor (``range``, the
Java client's default, or ``roundrobin``) every member gives back every partition and waits
for the new assignment: the whole group stops, at every scale step, and each partition waits
for the slowest member to finish its record in hand and rejoin. With ``cooperative-sticky``
(the suite's) a member gives back only the partitions that move, and keeps consuming the rest;
the moved ones wait two rounds. Static membership (``group.instance.id`` from the pod name, as
often advised for restarts) costs on scale-down: a static member that stops does not leave
the group, so its partitions wait for ``session.timeout.ms`` with nobody to consume them,
while the lag they gather brings KEDA back up.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_KAFKA
from kedasuite.scenarios.base import FIX, PITFALL, Judged, Pump, Scenario, Trace, Variant, Verdict, Workers, seconds
from kedasuite.scenarios.manifests import derive

WORK_S = 0.25
#: The same session timeout for every variant (librdkafka's default is 45 s): what a stopped
#: static member's partitions wait.
SESSION_MS = 20_000
#: A partition without a consumer for this share of the session timeout shows the static pitfall.
#: A dynamic member sends LeaveGroup as it closes: its partitions move within a rebalance or two
#: (a second or two; several seconds on a loaded machine, which a shorter session came near).
ORPHAN_SHARE = 0.9
#: The scale-up is judged by the records done in this many seconds after KEDA asked for more.
SCALE_UP_WINDOW_S = 10.0
#: Seconds at one replica, everything done, before a run ends.
SETTLE_S = 2.0
#: HPA scale-down window short enough that the consumers go while records still flow.
TIMINGS = {"polling_interval": 1.0, "cooldown_period": 3.0, "sync_period": 1.0, "stabilization_window": 3.0}
#: minReplicaCount 1: the group never empties, so every stop the figures count is a rebalance's.
MANIFEST = derive(WORKLOAD_KAFKA, {"spec.minReplicaCount": 1})
#: A few records for one consumer (4 a second) first, so that it owns every partition before the others
#: come; then more than one can do (KEDA scales 1 → 5); then a trickle one can do while KEDA scales back down.
LOAD = (Pump(0.5, 3, rate=3.0), Pump(10.0, 240, rate=16.0), Pump(25.0, 40, rate=2.0))


def _workers(**consumer: str) -> Workers:
    props = {"session.timeout.ms": str(SESSION_MS), **consumer}
    return Workers(WORK_S, consumer=tuple((k.replace("_", "."), v) for k, v in props.items()))


VARIANTS = (
    Variant("eager", PITFALL, "eager assignor (range)", MANIFEST, _workers(partition_assignment_strategy="range")),
    Variant(
        "cooperative",
        FIX,
        "cooperative-sticky (the suite's)",
        MANIFEST,
        _workers(partition_assignment_strategy="cooperative-sticky"),
    ),
    Variant(
        "static",
        PITFALL,
        "cooperative-sticky, group.instance.id = pod name",
        MANIFEST,
        _workers(partition_assignment_strategy="cooperative-sticky", group_instance_id="$(POD_NAME)"),
    ),
)


def scale_up_processed(trace: Trace) -> tuple[float, int] | None:
    """When KEDA first asked for more than one consumer, and the records done in the window after."""
    up = trace.first(lambda s: s.model > 1)
    if up is None:
        return None
    end = trace.first(lambda s: s.t >= up.t + SCALE_UP_WINDOW_S, after=up.t) or trace.samples[-1]
    return up.t, end.processed - up.processed


def longest_pause(trace: Trace) -> float:
    """The longest stretch without a record done while records waited, once the first was done."""
    longest, since = 0.0, None
    for a, b in zip(trace.samples, trace.samples[1:]):
        if b.processed == a.processed and a.processed > 0 and a.backlog > 0:
            since = a.t if since is None else since
            longest = max(longest, b.t - since)
        else:
            since = None
    return longest


def shows_pitfall(trace: Trace) -> bool:
    """The whole group stopped, or a partition went without a consumer for most of a session timeout."""
    c = trace.counts
    return c.get("group_stops", 0) > 0 or c.get("unowned_s", 0) >= ORPHAN_SHARE * SESSION_MS / 1000


def judge(trace: Trace) -> Judged:
    c = trace.counts
    stops, other = c.get("group_stops", 0), c.get("group_empty_other", 0)
    up = scale_up_processed(trace)
    pumped, processed = c.get("pumped", 0), c.get("processed", 0)
    return [
        (
            "whole group stopped (times, longest)",
            (f"{stops:g}, {c.get('group_stop_s', 0):.2f} s" if stops else "never")
            + (f" (and {other:g} time(s) emptied by a lost assignment or a stop)" if other else ""),
        ),
        ("longest pause in consumption, records waiting", seconds(longest_pause(trace))),
        ("partitions revoked / moved to another consumer", f"{c.get('revoked', 0):g} / {c.get('moved', 0):g}"),
        (f"records done in the {SCALE_UP_WINDOW_S:g} s after KEDA asked for more", "—" if up is None else f"{up[1]}"),
        ("longest a partition had no consumer", seconds(c.get("unowned_s", 0))),
        (
            "peak replicas; records lost / done twice",
            f"{trace.peak('replicas'):g}; {max(pumped - processed, 0):g} / {c.get('duplicates', 0):g}",
        ),
    ], shows_pitfall(trace)


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    eager, coop, static = (traces[k] for k in ("eager", "cooperative", "static"))
    e, c = eager.counts, coop.counts
    return Verdict.of(
        traces,
        judge,
        (
            f"the eager assignor stopped the whole group {e.get('group_stops', 0):g} times (longest "
            f"{e.get('group_stop_s', 0):.2f} s; a partition waited up to {e.get('unowned_s', 0):.1f} s, for the "
            f"slowest member to rejoin) and revoked {e.get('revoked', 0):g} partitions to move {e.get('moved', 0):g}; "
            f"cooperative-sticky never stopped it and revoked only the {c.get('revoked', 0):g} it moved (longest pause "
            f"{longest_pause(coop):.1f} s, eager's {longest_pause(eager):.1f} s). Static membership left a stopped "
            f"pod's partitions without a consumer for {static.counts.get('unowned_s', 0):.1f} s (session.timeout.ms "
            f"{SESSION_MS / 1000:g} s) and paused consumption {longest_pause(static):.1f} s: leave group.instance.id "
            "unset on pods KEDA removes"
        ),
    )


def finished(trace: Trace) -> bool:
    """The load is in and done, and the group is back at one consumer for :data:`SETTLE_S`."""
    last = trace.samples[-1] if trace.samples else None
    pumped = trace.counts.get("pumped", 0)
    if last is None or not pumped or last.processed < pumped:
        return False
    quiet = [s for s in trace.samples if s.t >= last.t - SETTLE_S]
    return trace.samples[0].t <= last.t - SETTLE_S and all(
        s.replicas == 1 and s.model == 1 and s.pods == 1 and s.backlog == 0 for s in quiet
    )


SCENARIO = Scenario(
    name="kafka-rebalance",
    summary="every KEDA scale step rebalances the group: an eager assignor stops it whole, cooperative-sticky "
    "only moves what moves; static membership strands a removed pod's partitions for a session timeout",
    workload=WORKLOAD_KAFKA,
    pitfall="An eager assignor (range, roundrobin) takes every partition from every member at each rebalance: "
    "each consumer KEDA adds or removes stops the whole group. group.instance.id from the pod name makes "
    "a removed pod's partitions wait for session.timeout.ms, consumed by nobody.",
    fix="partition.assignment.strategy=cooperative-sticky: a member gives back only the partitions that move and "
    "keeps consuming the others. Leave group.instance.id unset for pods KEDA removes: a dynamic member leaves "
    "the group as it stops, and the rebalance starts at once.",
    mechanism=f"Kafka consumers ({WORK_S:g} s a record, session.timeout.ms {SESSION_MS}) on 5 partitions, "
    "minReplicaCount 1; each logs its assignment changes to Redis (kafka:assignments:<group>), from which "
    "the run measures stops, revocations and partitions without an owner.",
    variants=VARIANTS,
    load=LOAD,
    timings=TIMINGS,
    verdict=verdict,
    finished=finished,
    # The load, then (static) a session timeout or two of stranded partitions and the drain after.
    deadline=max(p.at + p.seconds for p in LOAD) + 3 * SESSION_MS / 1000 + 30,
    startup=4.0,
)
