"""``celery-inflight``: scale-down kills tasks in flight when KEDA watches only the ``celery`` list.

Celery takes a task off the ``celery`` list when a worker reserves it; with late acks it sits
in kombu's ``unacked`` hash while it runs. A ScaledObject whose only trigger is the list sees
0 the moment the last task is taken, goes inactive, and ``cooldownPeriod`` later KEDA scales
the Deployment to 0 with every task still running. The kubelet's SIGTERM starts Celery's warm
shutdown; a task longer than the grace period is killed, and comes back from ``unacked`` only
after the visibility timeout, to be taken, and killed, again. The fix is the suite's
ScaledObject: a second trigger on ``unacked`` keeps the workload active while work is in
flight, and a grace period longer than the longest task lets the HPA's scale-downs finish the
tasks they interrupt.

Worse than a retry: kombu's consumers are what put overdue ``unacked`` entries back on the list.
Once KEDA has scaled to 0, no consumer runs, the list reads 0, and nothing wakes one: the
killed tasks stay in ``unacked`` until something else starts a worker.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import CELERY_UNACKED_HASH, WORKLOAD_CELERY
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

WORK_S = 5.0
#: Short, so a killed task comes back within the run; longer than a task, as Celery requires.
VISIBILITY_S = 8
TIMINGS = {"polling_interval": 1.0, "cooldown_period": 2.0, "sync_period": 1.0, "stabilization_window": 2.0}
SCALE = {"spec.triggers[0].metadata.listLength": "2", "spec.triggers[0].metadata.activationListLength": "0"}
WORKERS = Workers(work_seconds=WORK_S, concurrency=1, visibility_timeout=VISIBILITY_S)

VARIANTS = (
    Variant(
        "pitfall",
        PITFALL,
        f"list trigger only, grace 1 s < {WORK_S:g} s tasks",
        derive(WORKLOAD_CELERY, {**SCALE, "spec.triggers[1]": DELETE}),
        WORKERS,
        grace_seconds=1.0,
    ),
    Variant(
        "fix",
        FIX,
        f"+ trigger on {CELERY_UNACKED_HASH}, grace 8 s > {WORK_S:g} s tasks",
        derive(WORKLOAD_CELERY, SCALE),
        WORKERS,
        grace_seconds=8.0,
    ),
)


def zero_with_work(trace: Trace) -> list[float]:
    """Work in flight each time the replicas went to 0 (the model's count reaching 0 from above)."""
    found, before = [], 0
    for s in trace.samples:
        if s.model == 0 and before > 0:
            found.append(s.in_flight)
        before = s.model
    return [n for n in found if n > 0]


def stranded(trace: Trace) -> float:
    """Work left in ``unacked`` with no worker at all at the end of the run: kombu's consumers are
    what put overdue entries back on the list, so at 0 replicas nobody does, and the list trigger
    (reading 0) never wakes a worker to do it."""
    last = trace.samples[-1] if trace.samples else None
    return last.in_flight if last is not None and last.pods == 0 and last.model == 0 else 0.0


def finished(trace: Trace) -> bool:
    """Drained and idle; or the pitfall seen twice over (each retry killed again); or work stranded in
    ``unacked`` at 0 replicas for longer than the visibility timeout and a few polls."""
    if drained_and_idle(trace) or len(zero_with_work(trace)) >= 2:
        return True
    since = None
    for s in trace.samples:
        since = (since if since is not None else s.t) if (s.pods == 0 and s.model == 0 and s.in_flight > 0) else None
    return since is not None and trace.samples[-1].t - since > VISIBILITY_S + 5


def judge(trace: Trace) -> Judged:
    c = trace.counts
    hits = zero_with_work(trace)
    return [
        ("scaled to 0 with tasks in flight", f"{len(hits)} time(s)" + (f", {max(hits):g} in flight" if hits else "")),
        ("workers killed after the grace period", f"{c.get('sigkill', 0):g}"),
        ("tasks redelivered", f"{c.get('redelivered', 0):g}"),
        ("records done / pumped", f"{c.get('processed', 0):g} / {c.get('pumped', 0):g}"),
        ("left in unacked at 0 replicas", f"{stranded(trace):g}"),
        ("all done at", done_at(trace)),
    ], bool(hits) or c.get("sigkill", 0) > 0 or c.get("redelivered", 0) > 0 or stranded(trace) > 0


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    pit, fix = traces["pitfall"].counts, traces["fix"].counts
    left = stranded(traces["pitfall"])
    return Verdict.of(
        traces,
        judge,
        (
            f"watching only the list, scale-downs hit running tasks: {pit.get('sigkill', 0):g} worker(s) killed "
            f"mid-task, {pit.get('redelivered', 0):g} redelivery(ies)"
            + (f", and {left:g} task(s) left in unacked at 0 replicas, where no worker restores them" if left else "")
            + f"; with the in-flight trigger and a grace period above the task time: {fix.get('sigkill', 0):g} killed, "
            f"{fix.get('redelivered', 0):g} redelivered"
        ),
    )


SCENARIO = Scenario(
    name="celery-inflight",
    summary="scale-down kills in-flight tasks when only the 'celery' list is watched; the unacked trigger and a "
    "grace period above the task time fix it",
    workload=WORKLOAD_CELERY,
    pitfall="The only trigger reads the celery list, which is empty once every task is taken: KEDA calls the "
    "workload inactive and scales it to 0 after cooldownPeriod while tasks run; the grace period is "
    "shorter than a task, so they are killed, and come back after the visibility timeout.",
    fix=f"A second trigger on kombu's {CELERY_UNACKED_HASH} hash keeps the workload active until the work is "
    "done, and a grace period above the longest task lets every scale-down finish the tasks in hand.",
    mechanism=f"Celery workers (1 process, prefetch 1, late acks) with {WORK_S:g} s tasks and a {VISIBILITY_S} s "
    "visibility timeout; the grace period is the variant's. Redeliveries are counted by the workers "
    "(redelivered:celery).",
    variants=VARIANTS,
    load=(Pump(1.0, 12),),
    timings=TIMINGS,
    verdict=verdict,
    finished=finished,
    # Two rounds of tasks and a retry round (each a start-up and a task), two visibility timeouts, the cooldown.
    deadline=1.0 + 4 * (2.5 + WORK_S) + 2 * VISIBILITY_S + TIMINGS["cooldown_period"] + 10,
    startup=2.5,
)
