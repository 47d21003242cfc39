"""``scaledjob-duplicates``: Jobs whose pods start slowly make the ``accurate`` strategy create more.

KEDA's ``accurate`` strategy assumes the queue no longer holds the items running Jobs work on
(true for the work queue, whose runners move an item to ``job:processing`` when they lease it),
so it subtracts only the *pending* Jobs from what the queue asks for. A Job whose pod is
Running is not pending; if that pod still needs seconds before it takes work (loading a model,
warming a cache), the queue is unchanged at the next poll, and ``accurate`` creates the same
Jobs again, poll after poll, up to ``maxReplicaCount``: Jobs beyond need, which start, find
nothing, and exit. The ``default`` strategy subtracts every running Job and creates no more;
``pendingPodConditions: [Ready]`` keeps ``accurate`` and counts a Job as pending until its pod
is Ready (here: ready for work).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_WORKQUEUE
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
from kedasuite.scenarios.manifests import DELETE, derive

START_DELAY_S = 4.0
WORKERS = Workers(work_seconds=0.5, start_delay=START_DELAY_S, idle_timeout=2.0)
TIMINGS = {"polling_interval": 1.0}
ITEMS = 6

NO_CONDITIONS = {"spec.scalingStrategy.pendingPodConditions": DELETE}

VARIANTS = (
    Variant(
        "pitfall",
        PITFALL,
        f"accurate, pods ready {START_DELAY_S:g} s after they run",
        derive(WORKLOAD_WORKQUEUE, {**NO_CONDITIONS, "spec.scalingStrategy.strategy": "accurate"}),
        WORKERS,
    ),
    Variant(
        "fix-default",
        FIX,
        "default strategy",
        derive(WORKLOAD_WORKQUEUE, {**NO_CONDITIONS, "spec.scalingStrategy.strategy": "default"}),
        WORKERS,
    ),
    Variant(
        "fix-ready",
        FIX,
        "accurate + pendingPodConditions: [Ready]",
        derive(
            WORKLOAD_WORKQUEUE,
            {"spec.scalingStrategy.strategy": "accurate", "spec.scalingStrategy.pendingPodConditions": ["Ready"]},
        ),
        WORKERS,
    ),
)


def duplicates(trace: Trace) -> int:
    """Jobs created at a poll while Jobs created before were still starting up: created again for
    items those Jobs were about to take. The sample taken right after the poll counts the Jobs
    starting, the new ones included."""
    found = 0
    for step in trace.steps:
        after = trace.first(lambda s, at=step.t: s.t >= at) if step.created else None
        if after is not None and after.extra.get("starting", 0) - (step.created or 0) > 0:
            found += step.created or 0
    return found


def judge(trace: Trace) -> Judged:
    c = trace.counts
    target = Scaler.from_manifest(trace.variant.manifest).triggers[0].target
    pumped = c.get("pumped", 0)
    again = duplicates(trace)
    return [
        (
            f"Jobs created ({pumped:g} items / listLength {target:g})",
            f"{c.get('jobs_created', 0):g} ({math.ceil(pumped / target)})",
        ),
        ("created while earlier Jobs were starting", f"{again}"),
        ("Jobs that found no work", f"{c.get('jobs_without_work', 0):g}"),
        ("items done / pumped", f"{c.get('processed', 0):g} / {pumped:g}"),
        ("all items done at", done_at(trace)),
    ], again > 0


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    pit = traces["pitfall"].counts
    fixes = "; ".join(
        f"{t.variant.label}: {t.counts.get('jobs_created', 0):g}" for k, t in traces.items() if k != "pitfall"
    )
    return Verdict.of(
        traces,
        judge,
        (
            f"{ITEMS} items asked for {math.ceil(ITEMS / 5)} Jobs; accurate with slow-starting pods created "
            f"{pit.get('jobs_created', 0):g} ({pit.get('jobs_without_work', 0):g} found no work); {fixes}"
        ),
    )


SCENARIO = Scenario(
    name="scaledjob-duplicates",
    summary="slow-starting Job pods make the accurate strategy create Jobs beyond need; default, or accurate with "
    "pendingPodConditions, does not",
    workload=WORKLOAD_WORKQUEUE,
    pitfall="accurate subtracts only pending Jobs; a Job whose pod runs but has not taken work yet leaves the "
    "queue unchanged, so every poll creates the same Jobs again, up to maxReplicaCount.",
    fix="The default strategy subtracts every running Job; or keep accurate and set pendingPodConditions: "
    "[Ready], so a Job counts as pending until its pod is ready for work.",
    mechanism=f"Work-queue Job runners that start up for {START_DELAY_S:g} s before their first lease "
    "(WORKQUEUE_START_DELAY) and then create their READY_FILE, the local autoscaler's readiness probe: "
    "with pendingPodConditions [Ready] a Job is pending until a runner of it is ready.",
    variants=VARIANTS,
    load=(Pump(1.0, ITEMS),),
    timings=TIMINGS,
    verdict=verdict,
    finished=drained_and_idle,
    # Two generations of Jobs starting up, every item, the runners' idle wait.
    deadline=1.0 + 2 * (1.0 + START_DELAY_S) + ITEMS * WORKERS.work_seconds + WORKERS.idle_timeout + 10,
    startup=1.0,
)
