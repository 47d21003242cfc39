"""``--backend processes``: replicas are real ``kedasuite worker …`` processes on this machine,
and a ScaledJob's Jobs are real ``kedasuite job workqueue`` runners.

Each process is a pod: its own session and process group (as ``kedasuite demo`` starts
them), its output in ``<run-dir>/logs/<pod>.log``. Stopping one is what the kubelet does:
SIGTERM to the main process, then, if it is still running after the pod template's
``terminationGracePeriodSeconds``, SIGKILL to it and everything below it (the container's
cgroup). Which replica goes on scale-down follows the ReplicaSet controller
(``pkg/controller/replicaset``, ``getPodsToDelete`` → ``ActivePodsWithRanks``): among pods that
are all scheduled, running and ready, the one ready for the shortest time goes first, then
the newest — for processes that are ready once started, the newest first. A worker that
exits by itself is replaced, as a ReplicaSet does, after a back-off that doubles from 1 s
(up to 60 s) while replacements keep dying within 10 s.

A Job runs ``min(parallelism, completions)`` runners at once; it is finished when they all
have exited (a runner exits 0 by itself once the queue is empty). A runner that fails is
not restarted (the Job counts as finished, failed). A process runs the moment it starts, so no
Job is pending, unless the ScaledJob sets ``pendingPodConditions`` with ``Ready`` (or
``ContainersReady``): then a Job is pending until one of its runners is ready, which it says by
creating the file named in its ``READY_FILE`` (the readiness probe of a local pod). A worker
creates its file once it serves ``/metrics``, where the pods of ``k8s/base`` point their
readinessProbe; the HPA multiplies a ``metricType: Value`` trigger's ratio by the replicas ready.

Each process gets its pod name as ``POD_NAME`` (the downward API's ``metadata.name``), and a
workload's variables may refer to it, or to any other variable of the process, as ``$(NAME)``,
expanded as the kubelet expands a container's environment (``$$`` is a literal ``$``; an
unknown name stays as written): ``KAFKA_CONSUMER_CONFIG_GROUP_INSTANCE_ID=$(POD_NAME)``.

Bookkeeping: ``<run-dir>/processes.json`` lists every process with the kernel's start time of
its pid (``/proc/<pid>/stat``), rewritten on every change. An autoscaler killed without a
chance to clean up (SIGKILL) leaves its workers running with their work; the next one on the
same run directory adopts those still alive (same pid and start time) and counts them as its
replicas and Jobs. ``<run-dir>/lock`` keeps two autoscalers off one run directory.
"""

from __future__ import annotations

import collections
import fcntl
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar

from kedasuite.autoscale.actuator import JobStatus
from kedasuite.autoscale.targets import Target
from kedasuite.core.errors import InputError
from kedasuite.core.names import WORKLOAD_KAFKA, Env
from kedasuite.core.settings import KafkaSettings
from kedasuite.core.workloads import NAMES

PROCESSES_FILE = "processes.json"
LOCK_FILE = "lock"
#: A replacement that dies sooner than this doubles the back-off before the next one.
CRASH_WINDOW_S = 10.0
BACKOFF_MAX_S = 60.0
#: ``pendingPodConditions`` a local process can answer: it is ready once it created its READY_FILE.
READY_CONDITIONS = frozenset({"Ready", "ContainersReady"})


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state letter, parent pid, start time in clock ticks since boot) of ``pid`` from
    ``/proc/<pid>/stat``; ``None`` when it is gone or unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), ``None`` if it is gone or a zombie."""
    stat = proc_stat(pid)
    return None if stat is None or stat[0] in ("Z", "X") else stat[2]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (RQ's work horse, Celery's pool), from /proc: children first
    found, then theirs. The tests use it too, to stop what they start."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """The backend's bookkeeping, one thread at a time: the autoscaler's loops call it at once."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with args[0]._mutex:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _kill_quietly(pid: int, sig: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def worker_env(redis_url: str, kafka: KafkaSettings) -> dict[str, dict[str, str]]:
    """Per workload, what its processes get on top of this environment: where the brokers are.

    Everything else (``WORK_TIME``, ``WORKER_CONCURRENCY``, ``WORKQUEUE_IDLE_TIMEOUT``, ``LOG_LEVEL``, …)
    they take from the environment the autoscaler was started in.
    """
    base = {Env.REDIS_URL: redis_url}
    out = {name: dict(base) for name in NAMES}
    out[WORKLOAD_KAFKA] |= {
        Env.KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrap,
        Env.KAFKA_TOPIC: kafka.topic,
        Env.KAFKA_CONSUMER_GROUP: kafka.group,
        Env.KAFKA_PARTITIONS: str(kafka.partitions),
    }
    if kafka.extra:
        out[WORKLOAD_KAFKA][Env.KAFKA_PROPERTIES] = " ".join(f"{k}={v}" for k, v in kafka.extra.items())
    return out


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def pod_env(base: Mapping[str, str], workload: Mapping[str, str]) -> dict[str, str]:
    """A process's environment: ``base`` (with its ``POD_NAME``), then the workload's variables
    with their ``$(NAME)`` references expanded from ``base`` as the kubelet does."""

    def expand(value: str) -> str:
        return _REFERENCE.sub(lambda m: "$" if m.group(0) == "$$" else base.get(m.group(1), m.group(0)), value)

    own = {k: base[k] for k in (Env.POD_NAME, Env.READY_FILE) if k in base}  # the backend's, whatever else says
    return {**base, **{k: expand(v) for k, v in workload.items()}, **own}


@dataclass
class Pod:
    """One process: a worker replica, or a runner of a Job."""

    workload: str
    name: str
    pid: int
    ticks: int
    created: float
    log: str
    job: str | None = None
    #: The file the process creates once it is ready for work (``READY_FILE``).
    ready_file: str | None = None
    #: Wall time SIGTERM was sent (terminating pods no longer count as replicas).
    terminating: float | None = None
    kill_at: float | None = None
    killed: bool = False
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _start_ticks(self.pid) == self.ticks

    def exit_code(self) -> int | None:
        return self.popen.returncode if self.popen is not None else None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "popen"}


@dataclass
class _Counts:
    started: int = 0
    adopted: int = 0
    sigterm: int = 0
    sigkill: int = 0
    replaced: int = 0
    #: Exit codes of processes that ended (``"unknown"`` for adopted ones).
    exits: dict[str, int] = field(default_factory=dict)
    jobs_created: int = 0
    jobs_finished: int = 0


class ProcessBackend:
    """Workers and Job runners as local processes, bookkept under ``run_dir``."""

    name = "processes"

    def __init__(
        self,
        run_dir: Path,
        env: Mapping[str, Mapping[str, str]],
        grace: Mapping[str, float] | None = None,
        emit: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
        python: str = sys.executable,
    ) -> None:
        """``env``: per workload, the variables its processes get on top of this environment;
        ``grace``: per workload, the grace period :meth:`close` gives (default 30 s)."""
        self.run_dir, self.env, self.emit, self.clock, self.python = run_dir, env, emit, clock, python
        self.grace = dict(grace or {})
        self._mutex = threading.RLock()
        self.logs = run_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        self.pods: list[Pod] = []
        self.counts: dict[str, _Counts] = {}
        self.seq = self.job_seq = 0
        self._backoff: dict[str, tuple[float, float]] = {}  # workload -> (seconds, not before)
        #: Per Job, its runners that exited: [exited 0, exited otherwise] (an adopted one, exit unknown: neither).
        self._runner_ends: dict[str, list[int]] = {}
        #: Per workload, its finished Jobs, newest last: (succeeded ones, failed ones).
        self._finished: dict[str, tuple[collections.deque[JobStatus], collections.deque[JobStatus]]] = {}
        self._adopt()

    # --- bookkeeping ---------------------------------------------------------------------------

    def _take_lock(self) -> IO[str]:
        lock = open(self.run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held (and locked) until close()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise InputError(
                f"another autoscaler (pid {holder}) uses {self.run_dir}; stop it, or pass a different --run-dir"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        return lock

    def _save(self) -> None:
        path = self.run_dir / PROCESSES_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(
            json.dumps({"seq": self.seq, "job_seq": self.job_seq, "pods": [p.to_json() for p in self.pods]}, indent=1)
        )
        os.replace(tmp, path)

    def _count(self, workload: str) -> _Counts:
        return self.counts.setdefault(workload, _Counts())

    def _adopt(self) -> None:
        path = self.run_dir / PROCESSES_FILE
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        self.seq, self.job_seq = int(saved.get("seq", 0)), int(saved.get("job_seq", 0))
        found: dict[str, list[str]] = {}
        for raw in saved.get("pods", []):
            try:
                pod = Pod(**raw)
            except TypeError:
                continue
            if not pod.alive():
                continue
            self.pods.append(pod)
            self._count(pod.workload).adopted += 1
            found.setdefault(pod.workload, []).append(f"{pod.name} (pid {pod.pid})")
        for workload, pods in found.items():
            self.emit(
                f"{workload}: adopted {len(pods)} process{'es' if len(pods) > 1 else ''} a previous autoscaler "
                f"left running: {', '.join(pods)}"
            )
        self._save()

    # --- the Backend protocol --------------------------------------------------------------------

    def _active(self, workload: str, jobs: bool = False) -> list[Pod]:
        return [
            p for p in self.pods if p.workload == workload and p.terminating is None and (p.job is not None) == jobs
        ]

    @_locked
    def replicas(self, target: Target) -> int:
        return len(self._active(target.name))

    @_locked
    def jobs(self, target: Target) -> tuple[int, int] | None:
        # Processes run at once: no Job waits for a node. With pendingPodConditions naming readiness,
        # a Job is pending until a runner of it is ready (KEDA: no pod with every condition true).
        runners: dict[str, list[Pod]] = {}
        for p in self.pods:
            if p.workload == target.name and p.job is not None:
                runners.setdefault(p.job, []).append(p)
        if not READY_CONDITIONS & set(target.scaler.pending_pod_conditions):
            return len(runners), 0
        pending = sum(
            1 for pods in runners.values() if not any(p.ready_file and os.path.exists(p.ready_file) for p in pods)
        )
        return len(runners), pending

    @_locked
    def job_statuses(self, target: Target) -> list[JobStatus] | None:
        # The Jobs finished (kept as KEDA keeps them), then those running, as a Job's status counts its pods.
        succeeded, failed = self._history(target)
        running: dict[str, list[Pod]] = {}
        for p in self.pods:
            if p.workload == target.name and p.job is not None:
                running.setdefault(p.job, []).append(p)
        out = [*succeeded, *failed]
        for job, pods in running.items():
            active = [p for p in pods if p.terminating is None]
            ends = self._runner_ends.get(job, [0, 0])
            ready = sum(1 for p in active if p.ready_file and os.path.exists(p.ready_file))
            out.append(JobStatus(job, len(active), ready, ends[0], ends[1]))
        return out

    @_locked
    def ready(self, target: Target) -> int | None:
        # A replica is ready once it created its READY_FILE (a worker does so once it serves /metrics,
        # the readinessProbe of k8s/base); one stopping no longer counts.
        return sum(1 for p in self._active(target.name) if p.ready_file and os.path.exists(p.ready_file))

    def _start(self, target: Target, job: str | None = None) -> Pod:
        self.seq += 1
        row = target.workload
        name = f"{row.deployment or row.name}-{self.seq}" if job is None else f"{job}-pod-{self.seq}"
        log_path = self.logs / f"{name}.log"
        ready = self.run_dir / "ready" / name
        env = pod_env({**os.environ, Env.POD_NAME: name, Env.READY_FILE: str(ready)}, self.env.get(row.name, {}))
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                [self.python, "-m", "kedasuite", *row.command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        pod = Pod(
            row.name,
            name,
            popen.pid,
            _start_ticks(popen.pid) or 0,
            self.clock(),
            str(log_path),
            job,
            str(ready),
            popen=popen,
        )
        self.pods.append(pod)
        self._count(row.name).started += 1
        # On record before anything announces it: an autoscaler SIGKILLed right after it said
        # "started" leaves the next one a pod to adopt, not an orphan nobody stops.
        self._save()
        return pod

    @_locked
    def scale(self, target: Target, replicas: int, reason: str) -> None:
        active = self._active(target.name)
        if replicas > len(active):
            backoff = self._backoff.get(target.name)
            if backoff is not None and self.clock() < backoff[1]:
                return
            started = [self._start(target) for _ in range(replicas - len(active))]
            self.emit(f"{target.name}: started {', '.join(f'{p.name} (pid {p.pid})' for p in started)}")
        elif replicas < len(active):
            # The ReplicaSet's choice among equally ready pods: the newest goes first.
            newest_first = sorted(active, key=lambda p: (p.created, p.name), reverse=True)
            for pod in newest_first[: len(active) - replicas]:
                self._terminate(target, pod, f"newest of {len(active)}")
        self._save()

    def _terminate(self, target: Target, pod: Pod, why: str) -> None:
        now = self.clock()
        pod.terminating, pod.kill_at = now, now + target.grace_seconds
        _kill_quietly(pod.pid, signal.SIGTERM)
        self._count(pod.workload).sigterm += 1
        self.emit(
            f"{pod.workload}: SIGTERM {pod.name} (pid {pod.pid}, {why}); SIGKILL if it still runs after "
            f"{target.grace_seconds:g} s"
        )

    @_locked
    def create_jobs(self, target: Target, count: int) -> None:
        names = []
        for _ in range(count):
            self.job_seq += 1
            job = f"{target.workload.keda_name}-{self.job_seq}"
            runners = [self._start(target, job) for _ in range(target.parallelism)]
            names.append(f"{job} ({', '.join(f'pid {r.pid}' for r in runners)})")
        self._count(target.name).jobs_created += count
        self._history(target)
        self.emit(f"{target.name}: created Job{'s' if count > 1 else ''} {', '.join(names)}")
        self._save()

    @_locked
    def refresh(self) -> None:
        now, changed = self.clock(), False
        for pod in list(self.pods):
            if pod.alive():
                if pod.kill_at is not None and now >= pod.kill_at and not pod.killed:
                    self._kill(pod)
                    self.emit(
                        f"{pod.workload}: SIGKILL {pod.name} (pid {pod.pid}): still running "
                        f"{now - (pod.terminating or now):.1f} s after SIGTERM (the grace period)"
                    )
                    changed = True
                continue
            changed = True
            self.pods.remove(pod)
            # The container ends with its main process: nothing it left behind in its group survives.
            _kill_quietly(pod.pid, signal.SIGKILL, group=True)
            code = pod.exit_code()
            counts = self._count(pod.workload)
            key = "unknown" if code is None else str(code)
            counts.exits[key] = counts.exits.get(key, 0) + 1
            how = "exit code unknown (adopted)" if code is None else f"exited {code}"
            if pod.terminating is not None:
                self.emit(
                    f"{pod.workload}: {pod.name} (pid {pod.pid}) {how} {now - pod.terminating:.1f} s after "
                    f"{'SIGKILL' if pod.killed else 'SIGTERM'}"
                )
            elif pod.job is not None:
                ends = self._runner_ends.setdefault(pod.job, [0, 0])
                if code is not None:
                    ends[0 if code == 0 else 1] += 1
                if not any(p.job == pod.job for p in self.pods):
                    self._job_finished(pod.workload, pod.job)
                    counts.jobs_finished += 1
                    self.emit(
                        f"{pod.workload}: Job {pod.job} finished: runner {pod.name} (pid {pod.pid}) {how}"
                        + ("" if code in (0, None) else " (failed; not restarted)")
                    )
            else:
                counts.replaced += 1
                lived = now - pod.created
                seconds = self._backoff.get(pod.workload, (0.5, 0.0))[0]
                seconds = min(seconds * 2, BACKOFF_MAX_S) if lived < CRASH_WINDOW_S else 1.0
                self._backoff[pod.workload] = (seconds, now + seconds)
                self.emit(
                    f"{pod.workload}: {pod.name} (pid {pod.pid}) {how} by itself after {lived:.1f} s; the "
                    f"ReplicaSet replaces it in {seconds:g} s (log: {pod.log})"
                )
        if changed:
            self._save()

    def _history(self, target: Target) -> tuple[collections.deque[JobStatus], collections.deque[JobStatus]]:
        """A ScaledJob's finished Jobs, succeeded and failed, as many as KEDA keeps
        (``successfulJobsHistoryLimit``, ``failedJobsHistoryLimit``)."""
        if target.name not in self._finished:
            scaler = target.scaler
            self._finished[target.name] = (
                collections.deque(maxlen=max(scaler.successful_jobs_history_limit, 0)),
                collections.deque(maxlen=max(scaler.failed_jobs_history_limit, 0)),
            )
        return self._finished[target.name]

    def _job_finished(self, workload: str, job: str) -> None:
        """Move a Job whose last runner ended to its ScaledJob's history: failed when a runner failed.
        (A Job adopted from an earlier autoscaler and never seen here with its target is not kept.)"""
        ok, bad = self._runner_ends.pop(job, [0, 0])
        kept = self._finished.get(workload)
        if kept is not None:
            kept[1 if bad else 0].append(JobStatus(job, 0, 0, ok, bad))

    def _kill(self, pod: Pod) -> None:
        for pid in [*descendants(pod.pid), pod.pid]:
            _kill_quietly(pid, signal.SIGKILL)
        _kill_quietly(pod.pid, signal.SIGKILL, group=True)
        pod.killed = True
        self._count(pod.workload).sigkill += 1

    @_locked
    def close(self) -> None:
        """SIGTERM every process (workers and Job runners), SIGKILL those past their grace period."""
        now = self.clock()
        for pod in self.pods:
            if pod.terminating is None and pod.alive():
                seconds = self.grace.get(pod.workload, 30.0)
                pod.terminating, pod.kill_at = now, now + seconds
                _kill_quietly(pod.pid, signal.SIGTERM)
                self._count(pod.workload).sigterm += 1
        if self.pods:
            self.emit(
                f"stopping {len(self.pods)} process{'es' if len(self.pods) > 1 else ''} with SIGTERM "
                f"(killed if still running after its grace period)"
            )
        self._save()
        while self.pods:
            self.refresh()
            if self.pods:
                time.sleep(0.1)
        self._save()
        self._lock.close()

    @_locked
    def describe(self, target: Target) -> dict[str, Any]:
        counts = self._count(target.name)
        return {
            "pods": [
                {"name": p.name, "pid": p.pid, "job": p.job, "terminating": p.terminating is not None, "log": p.log}
                for p in self.pods
                if p.workload == target.name
            ],
            **asdict(counts),
        }
