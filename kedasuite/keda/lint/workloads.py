"""The lint's rules about what the scaled pods do (see :mod:`kedasuite.keda.lint`).

Grace periods against the work time the container's env sets, Celery workers that hide
work from the list KEDA reads, ScaledObjects that do not count work in progress, and
ScaledJob strategies that do not fit a queue whose items leave it when taken. The
workloads' keys come from the one table, :mod:`kedasuite.core.workloads`; the ScaledJob
arithmetic from :func:`kedasuite.keda.rules.scaledjob.scaled_job_new_jobs`. ``docs/lint.md``
says why each rule holds, with the KEDA and Kubernetes sources.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_QUEUE, WORKLOAD_CELERY, WORKLOAD_WORKQUEUE, Env
from kedasuite.core.settings import env_flag
from kedasuite.core.workloads import WORKLOADS, Workload, by_trigger
from kedasuite.core.worktime import parse_work_time
from kedasuite.keda.lint.rules import Finding, Subject, checks, n
from kedasuite.keda.rules.scaledjob import scaled_job_new_jobs
from kedasuite.keda.rules.spec import Trigger

#: Kubernetes' default ``terminationGracePeriodSeconds``.
DEFAULT_GRACE = defaults.KUBERNETES_GRACE_PERIOD_S
#: Work time when the container does not set WORK_TIME (the CLI's defaults).
DEFAULT_WORK_TIME = {w.name: w.work_time for w in WORKLOADS}
#: The module of the suite's Celery app (``celery -A kedasuite.workers.celery_app worker`` runs it too).
SUITE_CELERY_APP = "kedasuite.workers.celery_app"
#: Celery's own ``worker_prefetch_multiplier`` and ``task_acks_late`` for an app that sets neither.
CELERY_DEFAULT_PREFETCH = 4


# --- grace periods --------------------------------------------------------------------------------


def longest_task(s: Subject) -> tuple[float, str] | None:
    """The longest work time the container runs, and where it comes from (``None``: unknown)."""
    spec = s.env(Env.WORK_TIME)
    where = f"{Env.WORK_TIME}={spec}"
    if spec is None:
        if s.command is None:
            return None
        spec = DEFAULT_WORK_TIME.get(s.command[1], defaults.WORK_TIME)
        where = f"{Env.WORK_TIME} not set: `{' '.join(s.command)}` defaults to {spec}"
    try:
        return parse_work_time(spec).max_seconds, where
    except InputError:
        return None  # the worker refuses to start and says why; nothing to compare


@checks(
    {
        "grace-shorter-than-work": "terminationGracePeriodSeconds not above the longest work time",
        "celery-visibility-timeout": "CELERY_VISIBILITY_TIMEOUT not above the longest task (the worker will not start)",
        "workqueue-grace-period-too-long": "WORKQUEUE_GRACE_PERIOD not below terminationGracePeriodSeconds",
    }
)
def grace(s: Subject) -> Iterator[Finding]:
    found = longest_task(s)
    if s.holder is None or found is None:
        return
    longest, where = found
    period = s.pod.get("terminationGracePeriodSeconds")
    seconds = DEFAULT_GRACE if period is None else period
    shown = f"{seconds}" + (" (Kubernetes' default)" if period is None else "")
    if seconds <= longest:
        if s.is_job:
            when = (
                "KEDA never deletes a running Job to scale down, but an edit of the ScaledJob deletes the old "
                "generation's Jobs (rollout.strategy immediate, the default) and a node drain evicts pods"
            )
        else:
            when = (
                f"scale-down (the HPA's, or KEDA's step to 0 after cooldownPeriod {n(s.scaler.cooldown_period)} "
                "s, which stops every replica at once) deletes pods, busy or not"
            )
        yield s.finding(
            "grace-shorter-than-work",
            "warning",
            f"terminationGracePeriodSeconds {shown} does not exceed the longest task, {n(longest)} s ({where})",
            f"{when}: the kubelet sends SIGTERM and kills the container {seconds} s later. The suite's workers "
            "finish the task in hand on SIGTERM; one that needs longer is killed mid-way and done again elsewhere.",
            f"terminationGracePeriodSeconds above {n(longest)}, with room for start-up and the result write "
            f"(e.g. {math.ceil(longest) + 15})",
            about=s.holder,
        )
    if s.command == ("worker", WORKLOAD_CELERY):
        raw = s.env(Env.CELERY_VISIBILITY_TIMEOUT) or str(defaults.CELERY_VISIBILITY_TIMEOUT)
        if raw.strip().isdigit() and int(raw) <= longest:
            yield s.finding(
                "celery-visibility-timeout",
                "error",
                f"{Env.CELERY_VISIBILITY_TIMEOUT} {raw} does not exceed the longest task, {n(longest)} s ({where})",
                "kombu hands a message unacknowledged for that long to another worker, so a longer task would run "
                "twice at once: the suite's Celery worker refuses to start with it, and every replica exits.",
                f"{Env.CELERY_VISIBILITY_TIMEOUT} above {n(longest)} (the suite's default is "
                f"{defaults.CELERY_VISIBILITY_TIMEOUT})",
                about=s.holder,
            )
    if s.command == ("job", WORKLOAD_WORKQUEUE):
        raw = s.env(Env.WORKQUEUE_GRACE_PERIOD) or str(defaults.WORKQUEUE_GRACE_PERIOD)
        try:
            hold = float(raw)
        except ValueError:
            return
        if hold >= seconds:
            yield s.finding(
                "workqueue-grace-period-too-long",
                "warning",
                f"{Env.WORKQUEUE_GRACE_PERIOD} {n(hold)} is not shorter than terminationGracePeriodSeconds {shown}",
                f"on SIGTERM a runner finishes the item in hand if it needs at most {n(hold)} s, else releases it; "
                f"the kubelet kills it {seconds} s after SIGTERM, so an item it chose to finish can be killed "
                "mid-way: its lease runs out and it is done again.",
                f"{Env.WORKQUEUE_GRACE_PERIOD} a few seconds below terminationGracePeriodSeconds (the suite's: "
                f"{n(defaults.WORKQUEUE_GRACE_PERIOD)} under {DEFAULT_GRACE})",
                about=s.holder,
            )


# --- Celery -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CeleryWorker:
    """What a Celery worker container reserves and acknowledges, and where each value comes from."""

    prefetch: int
    prefetch_from: str
    #: Pool processes; ``None``: Celery's default, one per CPU of the node (not in the manifest).
    concurrency: int | None
    concurrency_from: str
    acks_late: bool
    acks_from: str


def option(argv: Sequence[str], *names: str) -> str | None:
    """The value of a command-line option: ``--name=V``, ``--name V``, ``-c V`` or ``-cV``."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def celery_worker(s: Subject) -> CeleryWorker | None:
    """The scaled container as a Celery worker: the suite's (``kedasuite worker celery``, or ``celery -A
    kedasuite.workers.celery_app worker``, both reading the suite's variables) or ``celery ... worker``."""
    if s.container is None:
        return None
    argv = [str(a) for a in [*(s.container.get("command") or []), *(s.container.get("args") or [])]]
    suite = s.command == ("worker", WORKLOAD_CELERY)
    program = [PurePosixPath(a).name for a in argv[:3]]
    raw = "worker" in argv and (program[:1] == ["celery"] or program[1:3] == ["-m", "celery"])
    if not suite and not raw:
        return None
    suite_app = suite or (option(argv, "-A", "--app") or "").startswith(SUITE_CELERY_APP)
    flag, env = option(argv, "--prefetch-multiplier"), s.env(Env.CELERY_PREFETCH_MULTIPLIER)
    if flag is not None and flag.isdigit():
        prefetch, prefetch_from = int(flag), f"--prefetch-multiplier={flag}"
    elif suite_app:
        prefetch = int(env) if env and env.strip().isdigit() else defaults.CELERY_PREFETCH_MULTIPLIER
        prefetch_from = f"{Env.CELERY_PREFETCH_MULTIPLIER}={env}" if env else "the suite's default"
    else:
        prefetch, prefetch_from = CELERY_DEFAULT_PREFETCH, "Celery's default worker_prefetch_multiplier"
    flag, env = option(argv, "-c", "--concurrency"), s.env(Env.WORKER_CONCURRENCY)
    concurrency: int | None = None
    if flag is not None and flag.isdigit():
        concurrency, concurrency_from = int(flag), f"--concurrency {flag}"
    elif suite and env and env.strip().isdigit():
        concurrency, concurrency_from = int(env), f"{Env.WORKER_CONCURRENCY}={env}"
    elif suite:
        concurrency, concurrency_from = defaults.WORKER_CONCURRENCY, "the suite's default"
    else:
        concurrency_from = "Celery's default, one per CPU of the node"
    env = s.env(Env.CELERY_ACKS_LATE)
    flags = [a for a in argv if a in ("--acks-late", "--acks-early")] if suite else []
    if flags:
        acks_late, acks_from = flags[-1] == "--acks-late", flags[-1]
    elif suite_app:
        acks_late = env_flag(env) if env else defaults.CELERY_ACKS_LATE
        acks_from = f"{Env.CELERY_ACKS_LATE}={env}" if env else "the suite's default"
    else:
        acks_late, acks_from = False, "Celery's default task_acks_late for an app that does not set it"
    return CeleryWorker(prefetch, prefetch_from, concurrency, concurrency_from, acks_late, acks_from)


@checks(
    {
        "celery-prefetch-hides-backlog": "a Celery worker that reserves more than it runs (prefetch multiplier "
        "above 1)",
        "celery-early-acks": "a Celery worker that acknowledges tasks when they start",
    }
)
def celery(s: Subject) -> Iterator[Finding]:
    worker = celery_worker(s)
    if worker is None:
        return
    processes = f"{worker.concurrency}" if worker.concurrency else "C"
    backlog = next((t for t in s.scaler.triggers if t.source == CELERY_QUEUE), None)
    target = n(backlog.target) if backlog else "listLength"
    if worker.prefetch != 1:
        if worker.prefetch == 0:
            each, waiting = "reserves whatever the list holds (0: no limit)", "everything it reserved beyond"
        else:
            reserved = f"{worker.prefetch * worker.concurrency}" if worker.concurrency else f"{worker.prefetch} × C"
            each = f"takes {reserved} messages off `{CELERY_QUEUE}` and runs {processes} of them"
            waiting = (
                f"({worker.prefetch} − 1) × {processes} = {(worker.prefetch - 1) * worker.concurrency}"
                if worker.concurrency
                else f"({worker.prefetch} − 1) × C"
            )
        yield s.finding(
            "celery-prefetch-hides-backlog",
            "warning",
            f"a Celery worker with prefetch multiplier {worker.prefetch} ({worker.prefetch_from}) and {processes} pool "
            f"processes ({worker.concurrency_from}): each replica {each}",
            f"a reserved message has left the list KEDA's redis trigger reads (LLEN {CELERY_QUEUE}). With R busy "
            f"replicas, {waiting} per replica wait inside workers while the list can read 0: the HPA asks for "
            f"ceil(list / {target}) replicas, too few, and a new replica finds the list empty while the old ones "
            "hold a queue behind their running tasks.",
            f"prefetch multiplier 1 with late acks: the suite's worker runs so by default "
            f"({Env.CELERY_PREFETCH_MULTIPLIER} unset or 1); in an app of your own, worker_prefetch_multiplier = 1 "
            "and task_acks_late = True",
        )
    if not worker.acks_late:
        yield s.finding(
            "celery-early-acks",
            "warning",
            f"a Celery worker that acknowledges each task when it starts ({worker.acks_from})",
            f"kombu keeps a delivered message in the `unacked` hash until it is acknowledged. Acknowledged at start, "
            f"a running task is in neither `{CELERY_QUEUE}` nor `unacked`: no trigger sees work in progress, KEDA "
            f"takes busy workers for idle and scales them to 0 {n(s.scaler.cooldown_period)} s (cooldownPeriod) "
            "after the list empties, and a task killed after the grace period is lost, not delivered again.",
            f"late acks: {Env.CELERY_ACKS_LATE} unset or true for the suite's worker; task_acks_late = True in an "
            "app of your own",
        )


# --- in-flight work -----------------------------------------------------------------------------------


def watched(s: Subject) -> list[tuple[Trigger, Workload]]:
    """Each trigger on a workload's backlog, with the workload (the one table says whose)."""
    return [(t, row) for t in s.scaler.triggers if (row := by_trigger(t.type, t.source)) is not None]


@checks(
    {"no-in-flight-trigger": "a ScaledObject on a list whose work in progress sits in another key no trigger reads"}
)
def in_flight(s: Subject) -> Iterator[Finding]:
    if s.is_job:
        return
    sources = {t.source for t in s.scaler.triggers}
    for trigger, row in watched(s):
        if row.in_flight is None or row.is_job or row.in_flight in sources:
            continue
        yield s.finding(
            "no-in-flight-trigger",
            "warning",
            f"scales {row.name} on `{row.backlog}` (trigger {trigger.name}) alone; its work in progress is in "
            f"`{row.in_flight}`, which no trigger reads",
            f"a worker takes an item off `{row.backlog}` before running it, so busy workers and an empty list look "
            f"idle: KEDA goes inactive and {n(s.scaler.cooldown_period)} s (cooldownPeriod) later scales every "
            f"replica to 0 mid-task, and the HPA scales busy replicas down to ceil(list / target) before that.",
            f"a second redis trigger with listName: {row.in_flight} (KEDA counts a hash, list, set or sorted set), "
            "with the backlog's listLength, as k8s/components/celery-scaledobject and rq-scaledobject do",
        )


# --- ScaledJobs ----------------------------------------------------------------------------------------


@checks(
    {
        "scaledjob-default-strategy": "strategy default on a queue whose items leave it when taken (accurate fits)",
        "scaledjob-no-pending-conditions": "accurate or eager without pendingPodConditions for pods with a "
        "readiness or startup probe",
    }
)
def scaled_job(s: Subject) -> Iterator[Finding]:
    if not s.is_job:
        return
    sc = s.scaler
    for t, row in watched(s):
        if sc.strategy != "default" or not row.is_job or row.in_flight is None or t.target <= 0:
            continue
        room = max(sc.max_replicas - min(sc.min_replicas, sc.max_replicas), 1)
        busy = max(room // 2, 1)
        queue = t.target * max(room - busy, 1)
        running = busy + min(sc.min_replicas, sc.max_replicas)
        jobs = {
            strategy: scaled_job_new_jobs(
                queue, t.target, sc.max_replicas, running, 0, sc.min_replicas, strategy=strategy
            )
            for strategy in ("default", "accurate")
        }
        written = (
            "strategy default"
            if (s.spec.get("scalingStrategy") or {}).get("strategy")
            else "no scalingStrategy.strategy (default)"
        )
        yield s.finding(
            "scaledjob-default-strategy",
            "warning",
            f"{written} on trigger {t.name}, `{t.source}`, whose items leave the list when a runner takes them "
            f"(into `{row.in_flight}`)",
            f"default assumes the list still counts the items running Jobs hold, and subtracts the running Jobs from "
            f"ceil(queue / {n(t.target)}) again (GetEffectiveMaxScale, pkg/scaling/executor/scale_jobs.go): with "
            f"{n(queue)} items waiting and {busy} Jobs busy on items already taken, default starts {jobs['default']} "
            f"Jobs and accurate {jobs['accurate']} (listLength {n(t.target)}, maxReplicaCount {sc.max_replicas}).",
            "scalingStrategy.strategy: accurate (it assumes the list excludes work in progress)",
        )
        break
    probes = [
        (c.get("name", "?"), probe)
        for c in s.pod.get("containers", []) or []
        for probe in ("readinessProbe", "startupProbe")
        if c.get(probe)
    ]
    if sc.strategy in ("accurate", "eager") and probes and not sc.pending_pod_conditions:
        name, probe = probes[0]
        yield s.finding(
            "scaledjob-no-pending-conditions",
            "warning",
            f"strategy {sc.strategy} subtracts pending Jobs and container {name} has a {probe}, but "
            "scalingStrategy sets no pendingPodConditions",
            "without them KEDA counts a Job as pending only until one of its pods is Running "
            "(isAnyPodRunningOrCompleted, scale_jobs.go), which it is once its containers start, before the probe "
            "says the program is ready. In between, the item it will take is still on the list and the Job no "
            f"longer counts as pending, so the next poll ({n(sc.polling_interval)} s later) starts another Job for "
            "it: a duplicate that finds nothing to do.",
            'scalingStrategy.pendingPodConditions: ["Ready"]: a Job then counts as pending until a pod of it is '
            "Ready (areAllPendingPodConditionsFulfilled)",
        )
