"""``--backend compose``: replicas are the containers of ``docker compose`` services, and a
ScaledJob's Jobs are one-off containers of its service.

Scaling is the compose CLI's own: ``docker compose -p PROJECT [-f FILE] up -d --no-deps
--no-recreate --timeout GRACE --scale SERVICE=N SERVICE``. Compose starts containers up to N,
and on the way down stops the highest-numbered ones with SIGTERM, then SIGKILL after
``--timeout`` seconds (the target's grace period, as the processes backend and the kubelet
give it). A Job is ``docker compose run -d --rm SERVICE``: one container per runner, removed
when it exits (a work-queue runner exits 0 once the queue is empty).

Counts come from the engine, not from bookkeeping: the running containers labelled with the
project and service (``com.docker.compose.project`` / ``.service``), one-off containers
(``com.docker.compose.oneoff=True``) being the Jobs. An autoscaler restarted on the same
project therefore adopts what runs. A compose command runs in the background (stopping
takes up to the grace period); while one runs for a service, the next count for that
service waits for it, and the replicas it is stopping no longer count.

The commands run with the autoscaler's environment: compose interpolates ``${...}`` in the
file (``CELERY_WORK_TIME``, ``WORKER_CONCURRENCY``, …) from it, so new containers get what the
shell that runs the autoscaler sets.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kedasuite.autoscale.targets import Target
from kedasuite.core.errors import InputError

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ONEOFF = "com.docker.compose.oneoff"
#: Seconds between two reads of the engine's containers (``docker ps``).
PS_EVERY_S = 1.0
#: Seconds ``docker compose version`` / ``docker ps`` may take.
PROBE_TIMEOUT_S = 20.0
#: At close, how long a compose command may take beyond the grace period it stops containers
#: with (the CLI's start-up, the engine's answers); then the autoscaler kills it and says so.
CLOSE_SLACK_S = 20.0


def compose_base(project: str, files: Sequence[str] = ()) -> list[str]:
    """``docker compose -p PROJECT [-f FILE ...]``."""
    return ["docker", "compose", "-p", project, *[a for f in files for a in ("-f", f)]]


def scale_command(project: str, files: Sequence[str], service: str, replicas: int, grace: float) -> list[str]:
    """The compose command that makes ``replicas`` containers of ``service`` run (and no more)."""
    return [*compose_base(project, files), "up", "-d", "--no-deps", "--no-recreate",
            "--timeout", str(max(0, round(grace))), "--scale", f"{service}={replicas}", service]


def run_command(project: str, files: Sequence[str], service: str) -> list[str]:
    """One Job runner: a one-off container of ``service``, removed when it exits."""
    return [*compose_base(project, files), "run", "-d", "--rm", "--no-deps", service]


def ps_command(project: str) -> list[str]:
    """Every running container of the project: id, service label, one-off label."""
    return ["docker", "ps", "--filter", f"label={LABEL_PROJECT}={project}", "--format",
            f'{{{{.ID}}}}\t{{{{.Label "{LABEL_SERVICE}"}}}}\t{{{{.Label "{LABEL_ONEOFF}"}}}}']


def parse_ps(text: str) -> dict[tuple[str, bool], int]:
    """``docker ps`` output (:func:`ps_command`) → running containers per (service, one-off)."""
    counts: dict[tuple[str, bool], int] = {}
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) < 2 or not parts[1]:
            continue
        key = (parts[1], len(parts) > 2 and parts[2].strip().lower() == "true")
        counts[key] = counts.get(key, 0) + 1
    return counts


Runner = Callable[[list[str]], subprocess.Popen[str]]


def _popen(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True)


def check_compose(run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> str:
    """``docker compose version``'s answer, or :class:`InputError` saying what does not answer."""
    try:
        done = run(["docker", "compose", "version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except FileNotFoundError:
        raise InputError("--backend compose needs the docker CLI with Compose v2 or later: docker is not on PATH") \
            from None
    except subprocess.TimeoutExpired:
        raise InputError(f"--backend compose: `docker compose version` did not answer within "
                         f"{PROBE_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout or "").strip().splitlines()
        raise InputError("--backend compose needs Docker Compose v2 or later, and `docker compose version` failed"
                         + (f": {said[-1]}" if said else f" (exit {done.returncode})"))
    return done.stdout.strip()


@dataclass
class _Counts:
    scale_commands: int = 0
    jobs_created: int = 0
    runners_started: int = 0
    failed_commands: int = 0
    last_error: str | None = None


@dataclass
class _Pending:
    argv: list[str]
    popen: subprocess.Popen[str]
    started: float
    #: For a scale command: the replicas it makes run.
    replicas: int | None = None


@dataclass
class _Service:
    inflight: _Pending | None = None
    #: A count asked for while a command was running: issued when it ends.
    wanted: int | None = None
    runs: list[_Pending] = field(default_factory=list)


class ComposeBackend:
    """Workers and Job runners as containers of the compose project ``project``."""

    name = "compose"

    def __init__(self, project: str, files: Sequence[str] = (), emit: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic, runner: Runner = _popen,
                 ps: Callable[[], str] | None = None, targets: Sequence[Target] = ()) -> None:
        """``targets``: the workloads whose services this backend scales; ``runner`` and ``ps`` stand in
        for ``subprocess.Popen`` and ``docker ps`` in tests."""
        self.project, self.files, self.emit, self.clock, self.runner = project, tuple(files), emit, clock, runner
        self._ps = ps or self._docker_ps
        self._targets = {t.workload.compose_service: t for t in targets}
        self.services: dict[str, _Service] = {}
        self.counts: dict[str, _Counts] = {}
        self._seen: dict[tuple[str, bool], int] = {}
        self._seen_at = float("-inf")

    # --- the engine --------------------------------------------------------------------------

    def _docker_ps(self) -> str:
        done = subprocess.run(ps_command(self.project), check=False, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        if done.returncode != 0:
            raise InputError(f"docker ps failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def _running(self, service: str, oneoff: bool) -> int:
        if self.clock() - self._seen_at >= PS_EVERY_S:
            self._seen = parse_ps(self._ps())
            self._seen_at = self.clock()
        return self._seen.get((service, oneoff), 0)

    def _service(self, target: Target) -> _Service:
        return self.services.setdefault(target.workload.compose_service, _Service())

    def _count(self, workload: str) -> _Counts:
        return self.counts.setdefault(workload, _Counts())

    # --- the Backend protocol ------------------------------------------------------------------

    def replicas(self, target: Target) -> int:
        running = self._running(target.workload.compose_service, False)
        inflight = self._service(target).inflight
        if inflight is not None and inflight.replicas is not None and inflight.replicas < running:
            return inflight.replicas  # the ones being stopped no longer count
        return running

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        svc = self._service(target)
        if svc.inflight is not None:
            if svc.inflight.replicas != replicas:
                svc.wanted = replicas
            return
        self._issue(target, svc, replicas, reason)

    def _issue(self, target: Target, svc: _Service, replicas: int, reason: str) -> None:
        service = target.workload.compose_service
        before = self._running(service, False)
        argv = scale_command(self.project, self.files, service, replicas, target.grace_seconds)
        svc.inflight = _Pending(argv, self.runner(argv), self.clock(), replicas)
        svc.wanted = None
        self._count(target.name).scale_commands += 1
        how = (f"stopping {before - replicas} (SIGTERM, SIGKILL after {target.grace_seconds:g} s)"
               if replicas < before else f"starting {replicas - before}")
        self.emit(f"{target.name}: docker compose up --scale {service}={replicas} ({how}; {reason})")
        self._seen_at = float("-inf")

    def jobs(self, target: Target) -> tuple[int, int] | None:
        svc = self._service(target)
        running = self._running(target.workload.compose_service, True)
        starting = len(svc.runs)
        width = max(1, target.parallelism)
        # A `run -d` still under way is a Job whose container is not running yet: pending. KEDA
        # counts a pending Job among the unfinished ones too (``getPendingJobCount`` is a subset
        # of the running count in pkg/scaling/executor/scale_jobs.go), so it is in both.
        return -(-(running + starting) // width), -(-starting // width)

    def create_jobs(self, target: Target, count: int) -> None:
        svc = self._service(target)
        service = target.workload.compose_service
        for _ in range(count * max(1, target.parallelism)):
            argv = run_command(self.project, self.files, service)
            svc.runs.append(_Pending(argv, self.runner(argv), self.clock()))
            self._count(target.name).runners_started += 1
        self._count(target.name).jobs_created += count
        self.emit(f"{target.name}: docker compose run -d --rm {service} ×{count * max(1, target.parallelism)} "
                  f"({count} Job{'s' if count > 1 else ''})")

    def _finished(self, workload: str, pending: _Pending) -> bool:
        code = pending.popen.poll()
        if code is None:
            return False
        out = (pending.popen.stdout.read() if pending.popen.stdout else "") or ""
        if code != 0:
            counts = self._count(workload)
            counts.failed_commands += 1
            lines = out.strip().splitlines()
            counts.last_error = lines[-1] if lines else f"exit {code}"
            self.emit(f"{workload}: `{' '.join(pending.argv)}` failed (exit {code}): {counts.last_error}")
        return True

    def refresh(self) -> None:
        for service, svc in self.services.items():
            workload = self._workload_of(service)
            if svc.inflight is not None and self._finished(workload, svc.inflight):
                svc.inflight = None
                self._seen_at = float("-inf")
            left = [p for p in svc.runs if not self._finished(workload, p)]
            if len(left) != len(svc.runs):
                self._seen_at = float("-inf")  # a `run -d` ended: its container runs, count it now
            svc.runs = left
            if svc.inflight is None and svc.wanted is not None:
                target = self._targets.get(service)
                if target is not None:
                    self._issue(target, svc, svc.wanted, "the count asked for while compose was busy")

    def _workload_of(self, service: str) -> str:
        target = self._targets.get(service)
        return target.name if target is not None else service

    def close(self) -> None:
        """Scale every worker service to 0 (stopped with its grace period); wait for the Job runners
        started but not yet running, and leave running Jobs to finish their work (they exit when the
        queue is empty, and are removed then).

        Each wait for a compose command is bounded: the longest grace period plus
        :data:`CLOSE_SLACK_S`. A command still running then (an engine that does not answer) is
        killed and named, instead of holding the autoscaler's stop for ever."""
        grace = max((t.grace_seconds for t in self._targets.values()), default=0.0)
        deadline = time.monotonic() + grace + CLOSE_SLACK_S
        for svc in self.services.values():
            for pending in [*([svc.inflight] if svc.inflight is not None else []), *svc.runs]:
                self._wait(pending.argv, pending.popen, deadline)
            svc.inflight, svc.runs = None, []
        stops = []
        for target in self._targets.values():
            if not target.is_job and self.replicas(target) > 0:
                argv = scale_command(self.project, self.files, target.workload.compose_service, 0,
                                     target.grace_seconds)
                stops.append((argv, self.runner(argv)))
        if stops:
            self.emit(f"stopping the workers of compose project {self.project} (docker compose up --scale …=0)")
        deadline = time.monotonic() + grace + CLOSE_SLACK_S
        for argv, popen in stops:
            self._wait(argv, popen, deadline)

    def _wait(self, argv: list[str], popen: subprocess.Popen[str], deadline: float) -> None:
        """Wait for a compose command until ``deadline`` (monotonic); kill it if it runs on."""
        try:
            popen.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(5)
            self.emit(f"`{' '.join(argv)}` was still running at the close deadline (the longest grace period + "
                      f"{CLOSE_SLACK_S:g} s): killed it; its containers may still run: see "
                      f"`docker compose -p {self.project} ps`")

    def describe(self, target: Target) -> dict[str, Any]:
        svc = self._service(target)
        return {"project": self.project, "service": target.workload.compose_service,
                "command_running": None if svc.inflight is None else " ".join(svc.inflight.argv),
                "runs_starting": len(svc.runs), **asdict(self._count(target.name))}
