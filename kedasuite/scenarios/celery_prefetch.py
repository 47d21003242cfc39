"""``celery-prefetch``: Celery's prefetch hides the backlog from a trigger on the ``celery`` list.

With Celery's defaults (``worker_prefetch_multiplier = 4``, early acks), each worker takes
``4 × concurrency`` messages off the list besides the ones it runs: they wait inside the worker,
in kombu's ``unacked`` hash, where a trigger on the list does not look. KEDA reads a short or
empty list, the HPA keeps few replicas (or scales them down, sending the hoarded work back and
forth), and new replicas find nothing to take while the first ones sit on a queue of their
own. The suite's worker settings (prefetch 1, late acks: ``workers/celery_app.py``) leave every
task not yet started on the list, where KEDA counts it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedasuite.core.names import WORKLOAD_CELERY
from kedasuite.scenarios.base import (
    FIX,
    PITFALL,
    Judged,
    Pump,
    Sample,
    Scenario,
    Trace,
    Variant,
    Verdict,
    Workers,
    done_at,
    drained_and_idle,
    seconds,
    time_when,
)
from kedasuite.scenarios.manifests import DELETE, derive

CONCURRENCY = 2
WORK_S = 1.0
TIMINGS = {"polling_interval": 1.0, "cooldown_period": 3.0, "sync_period": 1.0, "stabilization_window": 2.0}
#: Both variants scale on the list alone (the usual manifest): the variants differ in the workers only.
MANIFEST = derive(
    WORKLOAD_CELERY,
    {
        "spec.triggers[0].metadata.listLength": "4",
        "spec.triggers[0].metadata.activationListLength": "0",
        "spec.triggers[1]": DELETE,
    },
)

VARIANTS = (
    Variant(
        "pitfall",
        PITFALL,
        "Celery's defaults: prefetch 4, early acks",
        MANIFEST,
        Workers(WORK_S, concurrency=CONCURRENCY, prefetch=4, acks_late=False, visibility_timeout=20),
    ),
    Variant(
        "fix",
        FIX,
        "the suite's workers: prefetch 1, late acks",
        MANIFEST,
        Workers(WORK_S, concurrency=CONCURRENCY, prefetch=1, acks_late=True, visibility_timeout=20),
    ),
)


def hidden(s: Sample) -> float:
    """Tasks off the list and not running, at least: pumped − done − on the list − what the live
    processes can run at once. Work that waits inside workers, out of KEDA's sight."""
    return max(0.0, s.pumped - s.processed - s.backlog - s.pods * CONCURRENCY)


def judge(trace: Trace) -> Judged:
    peak = max((hidden(s) for s in trace.samples), default=0.0)
    return [
        ("most tasks waiting inside workers (off the list)", f"{peak:g}"),
        (
            "time the list read 0 while tasks waited",
            seconds(time_when(trace, lambda s: hidden(s) > 0 and s.backlog == 0)),
        ),
        ("peak replicas", f"{trace.peak('replicas'):g}"),
        ("tasks handed back by stopping workers", f"{trace.counts.get('redelivered', 0):g}"),
        ("all done at", done_at(trace)),
    ], peak > CONCURRENCY


def verdict(traces: Mapping[str, Trace]) -> Verdict:
    pit, fix = (max((hidden(s) for s in traces[k].samples), default=0.0) for k in ("pitfall", "fix"))
    return Verdict.of(
        traces,
        judge,
        f"with Celery's prefetch, up to {pit:g} tasks waited inside workers where the "
        f"list trigger cannot see them; with the suite's settings, {fix:g}",
    )


SCENARIO = Scenario(
    name="celery-prefetch",
    summary="Celery's default prefetch hides the backlog inside workers (replicas stay low while work waits); "
    "fixed by the suite's worker settings, prefetch 1 and late acks",
    workload=WORKLOAD_CELERY,
    pitfall="Each worker reserves 4 × concurrency tasks beyond the ones it runs; they leave the celery list, so "
    "the list trigger reads little or nothing while they wait, and the HPA keeps (or brings back) few "
    "replicas.",
    fix="worker_prefetch_multiplier 1 and task_acks_late (the suite's CELERY_PREFETCH_MULTIPLIER and "
    "CELERY_ACKS_LATE defaults): a worker holds only what it runs, and every task not started is on the list.",
    mechanism=f"Celery workers with concurrency {CONCURRENCY} and {WORK_S:g} s tasks; the pitfall's run with "
    "CELERY_PREFETCH_MULTIPLIER=4 and CELERY_ACKS_LATE=false (Celery's own defaults). Waiting work is "
    "counted from what is observable: pumped − done − on the list − processes × concurrency.",
    variants=VARIANTS,
    load=(Pump(1.0, 2), Pump(5.0, 48, rate=6.0)),
    timings=TIMINGS,
    verdict=verdict,
    finished=drained_and_idle,
    # The load, then every task on one worker's slots at worst, a start-up, the window and the cooldown.
    deadline=13.0 + 50 * WORK_S / CONCURRENCY + 2.5 + TIMINGS["stabilization_window"] + TIMINGS["cooldown_period"] + 10,
    startup=2.5,
)
