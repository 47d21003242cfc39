"""``--backend compose``: replicas are the containers of ``docker compose`` services, and a
ScaledJob's Jobs are one-off containers of its service.

Scaling is the compose CLI's own: ``docker compose -p PROJECT [-f FILE] up -d --no-deps
--no-recreate --timeout GRACE --scale SERVICE=N SERVICE``. Compose starts containers up to N,
and on the way down stops the highest-numbered ones with SIGTERM, then SIGKILL after
``--timeout`` seconds (the target's grace period, as the processes backend and the kubelet
give it). A Job runner is ``docker compose run -d --rm --no-deps --name NAME SERVICE``: one
container, named by this backend, removed when it exits (a work-queue runner exits 0 once
the queue is empty).

Replicas come from the engine: the running containers labelled with the project and service
(``com.docker.compose.project`` / ``.service``). A scale command runs in the background
(stopping takes up to the grace period), one per service; a count asked for meanwhile is
issued when it ends, and the replicas it is stopping no longer count.

A ScaledJob's runners are counted by container name, each once: the one-off containers
(``com.docker.compose.oneoff=True``) the engine shows running, whoever started them (a
restarted autoscaler adopts them), together with this backend's ``run -d`` commands still
under way or ended since the last ``docker ps`` began (their containers may not show yet).
A runner of ours not seen running is pending.

The backend is shared by threads (one per scaled object, and the one writing the state): one
lock guards the bookkeeping and is never held while a command runs. One caller at a time
reads ``docker ps`` again when the last answer is older than :data:`PS_EVERY_S`; the others
count with the last answer meanwhile, and a failed read keeps it (the error is described).

The commands run with the autoscaler's environment: compose interpolates ``${...}`` in the
file (``CELERY_WORK_TIME``, ``WORKER_CONCURRENCY``, …) from it, so new containers get what the
shell that runs the autoscaler sets.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from kedasuite.autoscale.actuator import JobStatus
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

#: Running containers per (service, one-off): their names.
Containers = dict[tuple[str, bool], frozenset[str]]


def compose_base(project: str, files: Sequence[str] = ()) -> list[str]:
    """``docker compose -p PROJECT [-f FILE ...]``."""
    return ["docker", "compose", "-p", project, *[a for f in files for a in ("-f", f)]]


def scale_command(project: str, files: Sequence[str], service: str, replicas: int, grace: float) -> list[str]:
    """The compose command that makes ``replicas`` containers of ``service`` run (and no more)."""
    return [
        *compose_base(project, files),
        "up",
        "-d",
        "--no-deps",
        "--no-recreate",
        "--timeout",
        str(max(0, round(grace))),
        "--scale",
        f"{service}={replicas}",
        service,
    ]


def run_command(project: str, files: Sequence[str], service: str, name: str) -> list[str]:
    """One Job runner: a one-off container of ``service`` named ``name`` (so that ``docker ps``
    shows which runner it is), removed when it exits."""
    return [*compose_base(project, files), "run", "-d", "--rm", "--no-deps", "--name", name, service]


def ps_command(project: str) -> list[str]:
    """Every running container of the project: id, name, service label, one-off label."""
    columns = ["{{.ID}}", "{{.Names}}", f'{{{{.Label "{LABEL_SERVICE}"}}}}', f'{{{{.Label "{LABEL_ONEOFF}"}}}}']
    return ["docker", "ps", "--filter", f"label={LABEL_PROJECT}={project}", "--format", "\t".join(columns)]


def parse_ps(text: str) -> Containers:
    """``docker ps`` output (:func:`ps_command`) → the names of the running containers per
    (service, one-off)."""
    found: dict[tuple[str, bool], set[str]] = {}
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) < 3 or not parts[2]:
            continue
        key = (parts[2], len(parts) > 3 and parts[3].strip().lower() == "true")
        found.setdefault(key, set()).add(parts[1] or parts[0])
    return {key: frozenset(names) for key, names in found.items()}


Runner = Callable[[list[str]], subprocess.Popen[str]]


def _popen(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)


def check_compose(run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run) -> str:
    """``docker compose version``'s answer, or :class:`InputError` saying what does not answer."""
    try:
        done = run(["docker", "compose", "version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except FileNotFoundError:
        raise InputError(
            "--backend compose needs the docker CLI with Compose v2 or later: docker is not on PATH"
        ) from None
    except subprocess.TimeoutExpired:
        raise InputError(
            f"--backend compose: `docker compose version` did not answer within {PROBE_TIMEOUT_S:g} s"
        ) from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout or "").strip().splitlines()
        raise InputError(
            "--backend compose needs Docker Compose v2 or later, and `docker compose version` failed"
            + (f": {said[-1]}" if said else f" (exit {done.returncode})")
        )
    return done.stdout.strip()


def _in_words(exc: Exception) -> str:
    """A failed ``docker ps`` in one line."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"`docker ps` did not answer within {exc.timeout:g} s"
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


@dataclass
class _Counts:
    scale_commands: int = 0
    jobs_created: int = 0
    runners_started: int = 0
    failed_commands: int = 0
    last_error: str | None = None


@dataclass
class _Command:
    """A compose command run in the background."""

    argv: list[str]
    started: float
    #: ``None`` while the CLI is being started (outside the lock).
    popen: subprocess.Popen[str] | None = None
    #: Its exit code, once seen.
    code: int | None = None
    #: For a scale command: the replicas it makes run.
    replicas: int | None = None


@dataclass
class _Run(_Command):
    """A Job runner's ``run -d``, and what is known of its container."""

    name: str = ""
    #: Once its command ended: the ``docker ps`` reads begun by then. A read numbered higher
    #: began after the container started, so from its answer on the container counts by name alone.
    done_after: int | None = None
    #: The first ``docker ps`` answer that showed the container running.
    seen_in: int | None = None


@dataclass(frozen=True)
class _Answer:
    """One ``docker ps`` answer."""

    containers: Containers
    #: Which read it is: 1, 2, … in the order the reads began.
    number: int
    #: ``clock()`` when it came back.
    at: float


@dataclass
class _Service:
    inflight: _Command | None = None
    #: A count asked for while a command was running: issued when it ends.
    wanted: int | None = None
    runs: list[_Run] = field(default_factory=list)


class ComposeBackend:
    """Workers and Job runners as containers of the compose project ``project``."""

    name = "compose"

    def __init__(
        self,
        project: str,
        files: Sequence[str] = (),
        emit: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
        runner: Runner = _popen,
        ps: Callable[[], str] | None = None,
        targets: Sequence[Target] = (),
    ) -> None:
        """``targets``: the workloads whose services this backend scales; ``runner`` and ``ps`` stand in
        for ``subprocess.Popen`` and ``docker ps`` in tests."""
        self.project, self.files, self.emit, self.clock, self.runner = project, tuple(files), emit, clock, runner
        self._ps = ps or self._docker_ps
        self._targets = {t.workload.compose_service: t for t in targets}
        self.services: dict[str, _Service] = {}
        self.counts: dict[str, _Counts] = {}
        #: Guards everything below and the two dicts above; never held while a command runs.
        self._lock = threading.Lock()
        #: Notified when a ``docker ps`` read ends (callers with no answer yet wait for it).
        self._read_ended = threading.Condition(self._lock)
        self._answer: _Answer | None = None
        self._reads_begun = 0
        self._reading = False
        #: ``clock()`` when the last read ended, answered or not: a failing engine is asked again
        #: every PS_EVERY_S, not on every count.
        self._read_at = float("-inf")
        #: A command ended or was issued: the next count reads the engine again.
        self._stale = False
        self.ps_error: str | None = None
        self.ps_failures = 0
        self._closing = False
        # Unique per autoscaler run, even for one with the pid of an earlier one (pid 1 in a container).
        self._run_id = f"{os.getpid()}-{secrets.token_hex(2)}"
        self._seq = 0

    # --- the engine --------------------------------------------------------------------------

    def _docker_ps(self) -> str:
        done = subprocess.run(
            ps_command(self.project), check=False, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S
        )
        if done.returncode != 0:
            raise InputError(f"docker ps failed: {(done.stderr or done.stdout).strip()}")
        return done.stdout

    def _engine(self) -> _Answer:
        """The engine's running containers. An answer older than PS_EVERY_S is read again by this
        caller, outside the lock, unless another caller is reading: then the last answer serves.
        Only a caller with no answer at all waits (for the first)."""
        with self._lock:
            while True:
                answer = self._answer
                due = answer is None or self._stale or self.clock() - self._read_at >= PS_EVERY_S
                if not due and answer is not None:
                    return answer
                if not self._reading:
                    break
                if answer is not None:
                    return answer
                self._read_ended.wait()
            self._reading, self._stale = True, False
            self._reads_begun += 1
            number = self._reads_begun
        return self._read_engine(number)

    def _read_engine(self, number: int) -> _Answer:
        """One ``docker ps``: the new answer, or on failure the last one (raised only with none)."""
        containers: Containers | None = None
        error: Exception | None = None
        said: str | None = None
        try:
            containers = parse_ps(self._ps())
        except Exception as exc:  # noqa: BLE001 - whatever the read raised, the last answer is kept
            error = exc
        finally:
            with self._lock:
                self._reading = False
                self._read_at = self.clock()
                if containers is not None:
                    self._answer = _Answer(containers, number, self._read_at)
                    if self.ps_error is not None:
                        said = f"docker ps answers again (after: {self.ps_error})"
                    self.ps_error = None
                elif error is not None:
                    self.ps_failures += 1
                    message = _in_words(error)
                    if message != self.ps_error and self._answer is not None:
                        said = (
                            f"docker ps failed: {message}; counting with its last answer, of "
                            f"{self._read_at - self._answer.at:.1f} s ago"
                        )
                    self.ps_error = message
                self._read_ended.notify_all()
                answer = self._answer
        if said is not None:
            self.emit(said)
        if answer is None:
            assert error is not None
            raise error
        return answer

    def _service(self, target: Target) -> _Service:
        return self.services.setdefault(target.workload.compose_service, _Service())

    def _count(self, workload: str) -> _Counts:
        return self.counts.setdefault(workload, _Counts())

    def _workload_of(self, service: str) -> str:
        target = self._targets.get(service)
        return target.name if target is not None else service

    # --- the Backend protocol ------------------------------------------------------------------

    def replicas(self, target: Target) -> int:
        answer = self._engine()
        with self._lock:
            running = len(answer.containers.get((target.workload.compose_service, False), ()))
            inflight = self._service(target).inflight
            if inflight is not None and inflight.replicas is not None and inflight.replicas < running:
                return inflight.replicas  # the ones being stopped no longer count
            return running

    def scale(self, target: Target, replicas: int, reason: str) -> None:
        with self._lock:
            if self._closing:
                return
            svc = self._service(target)
            if svc.inflight is not None:
                svc.wanted = replicas if svc.inflight.replicas != replicas else None
                return
            command, said = self._reserve(target, svc, replicas, reason)
        self._start(target.name, command, said)

    def _reserve(self, target: Target, svc: _Service, replicas: int, reason: str) -> tuple[_Command, str]:
        """Under the lock: make a scale command the service's one in flight; its line for the log."""
        service = target.workload.compose_service
        # The last answer, not a new read: a scale never waits for the engine.
        before = None if self._answer is None else len(self._answer.containers.get((service, False), ()))
        argv = scale_command(self.project, self.files, service, replicas, target.grace_seconds)
        svc.inflight = _Command(argv, self.clock(), replicas=replicas)
        svc.wanted = None
        self._count(target.name).scale_commands += 1
        self._stale = True
        if before is None:
            how = "replicas running not known yet"
        elif replicas < before:
            how = f"stopping {before - replicas} (SIGTERM, SIGKILL after {target.grace_seconds:g} s)"
        else:
            how = f"starting {replicas - before}"
        return svc.inflight, f"{target.name}: docker compose up --scale {service}={replicas} ({how}; {reason})"

    def _start(self, workload: str, command: _Command, said: str | None) -> None:
        """Start a reserved command's CLI, outside the lock."""
        try:
            popen = self.runner(command.argv)
        except OSError as exc:
            with self._lock:
                lines = self._ended(workload, command, 127, f"could not start: {exc}")
            for line in lines:
                self.emit(line)
            return
        with self._lock:
            command.popen = popen
        if said is not None:
            self.emit(said)

    def ready(self, target: Target) -> int | None:
        # The containers' health is not read: every replica counts as ready.
        return None

    def jobs(self, target: Target) -> tuple[int, int] | None:
        answer = self._engine()
        service = target.workload.compose_service
        with self._lock:
            shown = answer.containers.get((service, True), frozenset())
            pending = 0
            for run in self._service(target).runs:
                if run.name in shown:
                    if run.seen_in is None:
                        run.seen_in = answer.number
                elif self._unfinished(run, answer):
                    pending += 1
        width = max(1, target.parallelism)
        # Each runner once: the containers shown, whoever started them, and ours not shown yet.
        # KEDA counts a pending Job among the unfinished ones too (``getPendingJobCount`` is a
        # subset of the running count in pkg/scaling/executor/scale_jobs.go), so it is in both.
        return -(-(len(shown) + pending) // width), -(-pending // width)

    def job_statuses(self, target: Target) -> list[JobStatus] | None:
        # Runners are containers removed when they exit (`run --rm`), their exit codes unseen, and
        # those of one Job are not grouped: the Jobs cannot be told apart here.
        return None

    @staticmethod
    def _unfinished(run: _Run, answer: _Answer) -> bool:
        """A runner of ours that ``answer`` does not show: still to come (True), or gone."""
        if run.code not in (None, 0):
            return False  # its `run -d` failed: no container
        if run.seen_in is not None and answer.number > run.seen_in:
            return False  # it ran, and a later answer no longer shows it
        # Ended before this read began: the read would show it if it still ran.
        return run.done_after is None or answer.number <= run.done_after

    def create_jobs(self, target: Target, count: int) -> None:
        service = target.workload.compose_service
        runners = count * max(1, target.parallelism)
        with self._lock:
            if self._closing:
                return
            svc = self._service(target)
            started = []
            for _ in range(runners):
                self._seq += 1
                name = f"{self.project}-{service}-job-{self._run_id}-{self._seq}"
                started.append(_Run(run_command(self.project, self.files, service, name), self.clock(), name=name))
            svc.runs.extend(started)
            self._count(target.name).runners_started += runners
            self._count(target.name).jobs_created += count
        for run in started:
            self._start(target.name, run, None)
        self.emit(
            f"{target.name}: docker compose run -d --rm {service} ×{runners} ({count} Job{'s' if count > 1 else ''})"
        )

    def _ended(self, workload: str, command: _Command, code: int, out: str) -> list[str]:
        """Under the lock: book a command's end; the lines to log."""
        if command.code is not None:
            return []  # already booked
        command.code = code
        self._stale = True  # a scale done, or a runner up: count from a new read
        service = next(
            (s for s, svc in self.services.items() if command is svc.inflight or any(command is r for r in svc.runs)),
            None,
        )
        svc = self.services.get(service) if service is not None else None
        if svc is not None and command is svc.inflight:
            svc.inflight = None
        elif svc is not None and isinstance(command, _Run):
            if code == 0:
                command.done_after = self._reads_begun
            else:
                svc.runs = [r for r in svc.runs if r is not command]
        if code == 0:
            return []
        counts = self._count(workload)
        counts.failed_commands += 1
        lines = out.strip().splitlines()
        counts.last_error = lines[-1] if lines else f"exit {code}"
        return [f"{workload}: `{' '.join(command.argv)}` failed (exit {code}): {counts.last_error}"]

    def refresh(self) -> None:
        with self._lock:
            running = [
                (service, c)
                for service, svc in self.services.items()
                for c in [*([svc.inflight] if svc.inflight is not None else []), *svc.runs]
                if c.popen is not None and c.code is None
            ]
        ended = []
        for service, command in running:  # polled outside the lock: nothing here waits
            assert command.popen is not None
            code = command.popen.poll()
            if code is not None:
                ended.append((service, command, code, _output(command.popen, code)))
        lines: list[str] = []
        issue: list[tuple[Target, _Command, str]] = []
        with self._lock:
            for service, command, code, out in ended:
                lines += self._ended(self._workload_of(service), command, code, out)
            answer = self._answer
            for service, svc in self.services.items():
                if answer is not None:
                    # An ended runner a newer answer covers counts by its container alone.
                    svc.runs = [r for r in svc.runs if r.done_after is None or answer.number <= r.done_after]
                target = self._targets.get(service)
                if svc.inflight is None and svc.wanted is not None and target is not None and not self._closing:
                    command, said = self._reserve(target, svc, svc.wanted, "the count asked for while compose was busy")
                    issue.append((target, command, said))
        for line in lines:
            self.emit(line)
        for target, command, said in issue:
            self._start(target.name, command, said)

    def close(self) -> None:
        """Scale every worker service to 0 (stopped with its grace period); wait for the Job runners
        started but not yet running, and leave running Jobs to finish their work (they exit when the
        queue is empty, and are removed then).

        Each wait for a compose command is bounded: the longest grace period plus
        :data:`CLOSE_SLACK_S`. A command still running then (an engine that does not answer) is
        killed and named, instead of holding the autoscaler's stop for ever. Scale and Job
        requests arriving once close() has begun are ignored."""
        grace = max((t.grace_seconds for t in self._targets.values()), default=0.0)
        deadline = time.monotonic() + grace + CLOSE_SLACK_S
        with self._lock:
            self._closing = True
            waits = [
                c
                for svc in self.services.values()
                for c in [*([svc.inflight] if svc.inflight is not None else []), *svc.runs]
            ]
        for command in waits:
            if command.popen is not None:
                self._wait(command.argv, command.popen, deadline)
        with self._lock:
            for svc in self.services.values():
                svc.inflight, svc.runs, svc.wanted = None, [], None
        stops = []
        for target in self._targets.values():
            if not target.is_job and self.replicas(target) > 0:
                argv = scale_command(self.project, self.files, target.workload.compose_service, 0, target.grace_seconds)
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
            self.emit(
                f"`{' '.join(argv)}` was still running at the close deadline (the longest grace period + "
                f"{CLOSE_SLACK_S:g} s): killed it; its containers may still run: see "
                f"`docker compose -p {self.project} ps`"
            )

    def describe(self, target: Target) -> dict[str, Any]:
        with self._lock:
            svc = self._service(target)
            answer = self._answer
            return {
                "project": self.project,
                "service": target.workload.compose_service,
                "command_running": None if svc.inflight is None else " ".join(svc.inflight.argv),
                "runs_starting": sum(1 for r in svc.runs if r.code is None),
                "ps_answer_age_seconds": None if answer is None else round(self.clock() - answer.at, 3),
                "ps_error": self.ps_error,
                "ps_failures": self.ps_failures,
                **asdict(self._count(target.name)),
            }


def _output(popen: subprocess.Popen[str], code: int) -> str:
    """What a failed command printed (its last line says why); a command that worked is not read,
    as a process it left behind may hold the pipe open."""
    if popen.stdout is None:
        return ""
    if code == 0:
        popen.stdout.close()
        return ""
    return popen.stdout.read() or ""
