"""``kedasuite autoscale --backend compose``: compose commands built right and the counts' bookkeeping,
Job runners by name and threads that do not wait on each other (no Docker); and runs on a real
Docker Engine (marked ``compose``, skipped unless ``docker info`` and ``docker compose version``
answer): workers go 0 → N → 0 under the autoscaler with nothing lost, and a ScaledJob's runners
are counted once each while they start.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from kedasuite.autoscale.compose import (
    PS_EVERY_S,
    ComposeBackend,
    check_compose,
    parse_ps,
    ps_command,
    run_command,
    scale_command,
)
from kedasuite.autoscale.targets import Target
from kedasuite.core import tansu
from kedasuite.core.errors import InputError
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_RQ, WORKLOAD_WORKQUEUE
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.objects import bundled_text, workload_of
from kedasuite.keda.rules.scaledjob import scaled_job_new_jobs
from kedasuite.keda.rules.spec import Scaler, scalers_in
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
#: How long a call that must not wait on another thread may take before the test calls it stuck.
DEADLINE = 5.0


def target(workload: str, grace: float = 30.0) -> Target:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    scaler: Scaler = next(s for s in scalers_in(objs) if workload_of(s) == workload)
    return Target(workload_row(workload), scaler, grace, "test")


# --- pure: the commands, the counts, the bookkeeping (no Docker) ----------------------------------


def test_the_commands_are_the_compose_cli_s() -> None:
    assert scale_command("p", (), "celery-worker", 3, 30.0) == [
        "docker",
        "compose",
        "-p",
        "p",
        "up",
        "-d",
        "--no-deps",
        "--no-recreate",
        "--timeout",
        "30",
        "--scale",
        "celery-worker=3",
        "celery-worker",
    ]
    assert scale_command("p", ("a.yaml", "b.yaml"), "rq-worker", 0, 12.4)[:8] == [
        "docker",
        "compose",
        "-p",
        "p",
        "-f",
        "a.yaml",
        "-f",
        "b.yaml",
    ]
    assert scale_command("p", (), "rq-worker", 0, 12.4)[-4:] == ["12", "--scale", "rq-worker=0", "rq-worker"]
    assert run_command("p", ("c.yaml",), "workqueue", "p-workqueue-job-1") == [
        "docker",
        "compose",
        "-p",
        "p",
        "-f",
        "c.yaml",
        "run",
        "-d",
        "--rm",
        "--no-deps",
        "--name",
        "p-workqueue-job-1",
        "workqueue",
    ]
    ps = ps_command("proj")
    assert ps[:4] == ["docker", "ps", "--filter", "label=com.docker.compose.project=proj"]
    assert ps[-1].split("\t")[:2] == ["{{.ID}}", "{{.Names}}"]


def test_docker_ps_output_names_the_containers_per_service_and_one_off() -> None:
    text = (
        "a1\tp-celery-worker-1\tcelery-worker\tFalse\nb2\tp-celery-worker-2\tcelery-worker\tFalse\n"
        "c3\tp-workqueue-job-9\tworkqueue\tTrue\nd4\tp-redis-1\tredis\t\n\n"
    )
    assert parse_ps(text) == {
        ("celery-worker", False): {"p-celery-worker-1", "p-celery-worker-2"},
        ("workqueue", True): {"p-workqueue-job-9"},
        ("redis", False): {"p-redis-1"},
    }


class FakePopen:
    def __init__(self, argv: list[str]) -> None:
        self.argv, self.stdout = argv, None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self.returncode = 0 if self.returncode is None else self.returncode
        return self.returncode


class Engine:
    """What `docker ps` shows, and every command the backend ran."""

    def __init__(self) -> None:
        self.text = ""
        self.started: list[FakePopen] = []

    def run(self, argv: list[str]) -> Any:
        self.started.append(FakePopen(argv))
        return self.started[-1]


def backend(engine: Engine, *targets: Target) -> tuple[ComposeBackend, list[str]]:
    lines: list[str] = []
    clock = iter(range(0, 10_000, 5))  # every read is a fresh `docker ps`
    return ComposeBackend(
        "p",
        ("compose.yaml",),
        emit=lines.append,
        clock=lambda: float(next(clock)),
        runner=engine.run,
        ps=lambda: engine.text,
        targets=targets,
    ), lines


def ps_lines(service: str, names: Sequence[str], oneoff: bool = False) -> str:
    """What `docker ps` (ps_command's format) prints for these running containers."""
    return "".join(f"id-{n}\t{n}\t{service}\t{oneoff}\n" for n in names)


def workers(service: str, count: int) -> str:
    return ps_lines(service, [f"p-{service}-{i}" for i in range(1, count + 1)])


def counted(b: ComposeBackend, job: Target) -> tuple[int, int]:
    """A ScaledJob's (running, pending) Jobs as the backend counts them."""
    got = b.jobs(job)
    assert got is not None
    return got


def name_of(popen: FakePopen) -> str:
    """The container name a `run -d` gives its runner."""
    return popen.argv[popen.argv.index("--name") + 1]


def test_scaling_runs_one_compose_command_at_a_time_and_the_last_count_wins() -> None:
    engine, celery = Engine(), target(WORKLOAD_CELERY, 7)
    b, lines = backend(engine, celery)
    assert b.replicas(celery) == 0
    b.scale(celery, 3, "test")
    assert engine.started[-1].argv[-3:] == ["--scale", "celery-worker=3", "celery-worker"]
    b.scale(celery, 3, "test")  # the same count while compose works: nothing new
    b.scale(celery, 5, "test")  # a new count waits for the running command
    assert len(engine.started) == 1
    engine.text = workers("celery-worker", 3)
    engine.started[-1].returncode = 0
    b.refresh()
    assert len(engine.started) == 2 and engine.started[-1].argv[-2] == "celery-worker=5"
    engine.started[-1].returncode = 0
    b.refresh()
    engine.text = workers("celery-worker", 5)
    assert b.replicas(celery) == 5
    b.scale(celery, 1, "cooldown")
    assert "--timeout" in engine.started[-1].argv and "7" in engine.started[-1].argv
    assert b.replicas(celery) == 1, "the replicas being stopped no longer count"
    assert any("stopping 4 (SIGTERM, SIGKILL after 7 s" in ln for ln in lines), lines


def test_jobs_are_one_off_containers_counted_by_label() -> None:
    engine, wq = Engine(), target(WORKLOAD_WORKQUEUE)
    b, _ = backend(engine, wq)
    b.create_jobs(wq, 2)
    assert [p.argv[-7:-3] for p in engine.started] == [["run", "-d", "--rm", "--no-deps"]] * 2
    assert [p.argv[-1] for p in engine.started] == ["workqueue"] * 2
    names = [name_of(p) for p in engine.started]
    assert len(set(names)) == 2 and all(n.startswith("p-workqueue-job-") for n in names), names
    assert b.jobs(wq) == (2, 2), "a run still starting is an unfinished Job, and a pending one"
    for p in engine.started:
        p.returncode = 0
    engine.text = ps_lines("workqueue", names, oneoff=True) + workers("workqueue", 1)
    b.refresh()
    assert b.jobs(wq) == (2, 0)
    assert b.describe(wq)["jobs_created"] == 2


# --- Jobs counted by name, and threads that do not wait on each other (no Docker) ------------------


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SlowPs:
    """A `docker ps` that, while ``held``, hangs until let ``go`` (an engine busy elsewhere) and then
    answers what the engine showed when the read began."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.held, self.calls = engine, False, 0
        self.entered, self.go = threading.Event(), threading.Event()

    def __call__(self) -> str:
        self.calls += 1
        text = self.engine.text
        if self.held:
            self.entered.set()
            assert self.go.wait(60), "the test never let docker ps go"
        return text


def started(fn: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    """``fn`` running in a thread of its own (as each scaled object's loop will), and its result once returned."""
    out: list[T] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def within(fn: Callable[[], T], what: str) -> T:
    """``fn()`` from another thread, which must return within DEADLINE: it may not wait on another thread."""
    thread, out = started(fn)
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"{what}: still waiting after {DEADLINE:g} s"
    assert out, f"{what}: raised (see the thread's traceback above)"
    return out[0]


def test_runners_docker_ps_shows_while_their_run_is_in_flight_count_once() -> None:
    """The issue: ten `run -d` whose containers ran before their CLIs exited (or were polled) were
    counted twice, 20 Jobs of a ScaledJob whose maxReplicaCount is 10, and none created."""
    engine, wq = Engine(), target(WORKLOAD_WORKQUEUE)
    b, _ = backend(engine, wq)
    top = wq.scaler.max_replicas
    b.create_jobs(wq, top)
    names = [name_of(p) for p in engine.started]
    assert len(set(names)) == top, names
    assert b.jobs(wq) == (top, top)
    engine.text = ps_lines("workqueue", names[:4], oneoff=True)
    assert b.jobs(wq) == (top, top - 4), "4 running and 6 still starting are 10 Jobs"
    engine.text = ps_lines("workqueue", names, oneoff=True)
    assert b.jobs(wq) == (top, 0), "every container runs, every `run -d` still in flight: 10, not 20"
    for p in engine.started[:5]:
        p.returncode = 0
    b.refresh()
    assert b.jobs(wq) == (top, 0)
    for p in engine.started:
        p.returncode = 0
    b.refresh()
    assert b.jobs(wq) == (top, 0)
    assert scaled_job_new_jobs(188, 5, top, *counted(b, wq), strategy="accurate") == 0


def test_polls_of_the_accurate_strategy_never_count_nor_start_more_runners_than_max() -> None:
    """KEDA's polls on the counts, while containers start and `run -d` CLIs end between them."""
    engine, wq = Engine(), target(WORKLOAD_WORKQUEUE)
    b, _ = backend(engine, wq)
    top = wq.scaler.max_replicas
    for poll in range(8):
        running, pending = counted(b, wq)
        assert pending <= running <= top, (poll, running, pending)
        new = scaled_job_new_jobs(188, 5, top, running, pending, strategy="accurate")
        if new:
            b.create_jobs(wq, new)
        assert len(engine.started) <= top, f"poll {poll}: {len(engine.started)} runners for max {top}"
        # Before the next poll: every container started so far runs, every other `run -d` has
        # ended, and the autoscaler has polled its commands every second poll.
        engine.text = ps_lines("workqueue", [name_of(p) for p in engine.started], oneoff=True)
        for p in engine.started[::2]:
            p.returncode = 0
        if poll % 2:
            b.refresh()
    assert len(engine.started) == top


def test_a_runner_of_another_autoscaler_counts_and_ours_count_once() -> None:
    """One-off containers of the service count whatever their name (a restarted autoscaler adopts
    them), next to ours, each once."""
    engine, wq = Engine(), target(WORKLOAD_WORKQUEUE)
    b, _ = backend(engine, wq)
    adopted = "p-workqueue-run-0c1d2e3f4a5b"  # `docker compose run` by hand, or an earlier autoscaler's
    engine.text = ps_lines("workqueue", [adopted], oneoff=True) + workers("workqueue", 2)  # not one-off: no Jobs
    assert b.jobs(wq) == (1, 0)
    b.create_jobs(wq, 2)
    ours = [name_of(p) for p in engine.started]
    assert b.jobs(wq) == (3, 2)
    engine.text += ps_lines("workqueue", ours[:1], oneoff=True)
    assert b.jobs(wq) == (3, 1), "ours running while its `run -d` is in flight is one runner, not two"


def test_a_finished_run_counts_until_a_docker_ps_begun_after_it_shows_it_or_not() -> None:
    """A `run -d` that ended while a `docker ps` begun before it was under way: that read and the
    one before do not show its container, yet it counts (pending); dropping it made the accurate
    strategy create more runners than it may."""
    engine, wq, clock = Engine(), target(WORKLOAD_WORKQUEUE), Clock()
    ps, lines = SlowPs(engine), list[str]()
    b = ComposeBackend("p", (), emit=lines.append, clock=clock, runner=engine.run, ps=ps, targets=[wq])
    b.create_jobs(wq, 1)
    name = name_of(engine.started[0])
    assert b.jobs(wq) == (1, 1)  # read 1: not running yet
    ps.held = True
    clock.advance(PS_EVERY_S)
    reader, answered = started(lambda: b.jobs(wq))  # read 2 begins: the container is not running yet
    try:
        assert ps.entered.wait(DEADLINE), "read 2 did not begin"
        engine.text = ps_lines("workqueue", [name], oneoff=True)  # now it runs
        engine.started[0].returncode = 0  # and its `run -d` has ended
        within(b.refresh, "refresh() while docker ps hangs")
        assert within(lambda: b.jobs(wq), "jobs() while another thread reads docker ps") == (1, 1), (
            "read 1 does not show it: pending"
        )
    finally:
        ps.held = False
        ps.go.set()
    reader.join(DEADLINE)
    assert answered == [(1, 1)], "read 2 began before the run ended: its answer without the container still counts it"
    assert b.jobs(wq) == (1, 0), "read 3, begun after the run ended, shows it running: one runner"
    engine.text = ""
    clock.advance(PS_EVERY_S)
    assert b.jobs(wq) == (0, 0), "read 4 no longer shows it: it has finished"
    b.refresh()
    assert b.describe(wq)["runs_starting"] == 0 and b.services["workqueue"].runs == []


def test_a_slow_docker_ps_holds_no_other_thread_once_there_is_an_answer() -> None:
    """While one thread's `docker ps` hangs, the others count with the last answer."""
    engine, clock = Engine(), Clock()
    celery, rq, wq = target(WORKLOAD_CELERY), target(WORKLOAD_RQ), target(WORKLOAD_WORKQUEUE)
    ps = SlowPs(engine)
    b = ComposeBackend(
        "p", (), emit=lambda _line: None, clock=clock, runner=engine.run, ps=ps, targets=[celery, rq, wq]
    )
    engine.text = workers("celery-worker", 2) + workers("rq-worker", 3)
    assert b.replicas(celery) == 2  # the first answer
    engine.text = workers("celery-worker", 4) + workers("rq-worker", 1)
    clock.advance(PS_EVERY_S)
    ps.held = True
    reader, answered = started(lambda: b.replicas(celery))
    try:
        assert ps.entered.wait(DEADLINE), "the due read did not begin"
        assert within(lambda: b.replicas(rq), "rq's replicas() while celery's docker ps hangs") == 3
        assert within(lambda: b.jobs(wq), "the ScaledJob's jobs() while celery's docker ps hangs") == (0, 0)
        described = within(lambda: b.describe(rq), "describe() while docker ps hangs")
        assert described["ps_answer_age_seconds"] == PS_EVERY_S
    finally:
        ps.held = False
        ps.go.set()
    reader.join(DEADLINE)
    assert answered == [4] and ps.calls == 2, (answered, ps.calls)
    assert b.replicas(rq) == 1


def test_a_failing_docker_ps_keeps_the_last_answer_and_says_why() -> None:
    engine, clock, celery, lines = Engine(), Clock(), target(WORKLOAD_CELERY), list[str]()
    failure: list[Exception] = []
    calls: list[float] = []

    def ps() -> str:
        calls.append(clock())
        if failure:
            raise failure[0]
        return engine.text

    b = ComposeBackend("p", (), emit=lines.append, clock=clock, runner=engine.run, ps=ps, targets=[celery])
    failure.append(InputError("docker ps failed: Cannot connect to the Docker daemon"))
    with pytest.raises(InputError, match="Cannot connect"):
        b.replicas(celery)  # no answer ever: nothing to count with
    failure.clear()
    engine.text = workers("celery-worker", 2)
    assert b.replicas(celery) == 2
    failure.append(subprocess.TimeoutExpired(ps_command("p"), 20))
    clock.advance(PS_EVERY_S)
    assert b.replicas(celery) == 2, "the last answer counts"
    assert b.replicas(celery) == 2 and len(calls) == 3, "a failing engine is asked again after PS_EVERY_S, not at once"
    described = b.describe(celery)
    assert described["ps_error"] == "`docker ps` did not answer within 20 s", described
    assert described["ps_failures"] == 2 and described["ps_answer_age_seconds"] == PS_EVERY_S, described
    assert any(
        "docker ps failed: `docker ps` did not answer within 20 s; counting with its last answer" in ln for ln in lines
    ), lines
    failure.clear()
    engine.text = workers("celery-worker", 3)
    clock.advance(PS_EVERY_S)
    assert b.replicas(celery) == 3 and b.describe(celery)["ps_error"] is None
    assert any("docker ps answers again" in ln for ln in lines), lines


def test_one_service_s_stuck_command_holds_no_other_service_s_scale() -> None:
    """celery's `docker compose up` never ends and the busy engine answers no `docker ps`: rq's
    scale is still issued at once; then celery's next CLI hangs while starting, and rq's goes on."""
    engine, clock = Engine(), Clock()
    celery, rq = target(WORKLOAD_CELERY), target(WORKLOAD_RQ)
    ps = SlowPs(engine)
    b = ComposeBackend("p", (), emit=lambda _line: None, clock=clock, runner=engine.run, ps=ps, targets=[celery, rq])
    assert b.replicas(celery) == 0 and b.replicas(rq) == 0
    b.scale(celery, 3, "test")  # in flight for good
    b.scale(celery, 5, "test")  # waits for it
    ps.held = True
    clock.advance(PS_EVERY_S)
    try:
        within(lambda: b.scale(rq, 2, "test"), "rq's scale while celery's command is stuck")
        assert engine.started[-1].argv[-2:] == ["rq-worker=2", "rq-worker"], engine.started[-1].argv
        within(b.refresh, "refresh() while celery's command is stuck")
        assert [p.argv[-2] for p in engine.started] == ["celery-worker=3", "rq-worker=2"]
    finally:
        ps.held = False
        ps.go.set()
    # celery's command ends; its next one hangs while its CLI starts (the runner call blocks).
    hang, hanging = threading.Event(), threading.Event()
    plain = engine.run

    def runner(argv: list[str]) -> Any:
        if "celery-worker=5" in argv:
            hanging.set()
            assert hang.wait(60), "the test never let celery's CLI start"
        return plain(argv)

    b.runner = runner
    engine.started[0].returncode = 0
    engine.started[1].returncode = 0
    refresher, _ = started(b.refresh)
    try:
        assert hanging.wait(DEADLINE), "celery's count asked for meanwhile was not issued"
        within(lambda: b.scale(rq, 4, "test"), "rq's scale while celery's CLI hangs starting")
        assert engine.started[-1].argv[-2] == "rq-worker=4"
        assert within(lambda: b.describe(celery), "describe() while celery's CLI hangs")["command_running"]
    finally:
        hang.set()
    refresher.join(DEADLINE)
    assert [p.argv[-2] for p in engine.started] == ["celery-worker=3", "rq-worker=2", "rq-worker=4", "celery-worker=5"]


def test_a_failed_compose_command_is_reported() -> None:
    engine, celery = Engine(), target(WORKLOAD_CELERY)
    b, lines = backend(engine, celery)
    b.scale(celery, 2, "test")
    engine.started[-1].returncode = 1
    b.refresh()
    assert b.describe(celery)["failed_commands"] == 1
    assert any("failed (exit 1)" in ln for ln in lines), lines


def test_close_scales_the_workers_to_zero() -> None:
    engine, celery = Engine(), target(WORKLOAD_CELERY)
    b, _ = backend(engine, celery, target(WORKLOAD_WORKQUEUE))
    engine.text = workers("celery-worker", 1)
    b.close()
    assert [p.argv[-3:] for p in engine.started] == [["--scale", "celery-worker=0", "celery-worker"]]


def test_close_kills_a_compose_command_still_running_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `docker compose` whose engine never answers (here a process that only sleeps) used to
    hold close(), and the autoscaler's stop, for ever; now it is killed after the longest grace
    period plus CLOSE_SLACK_S (1 s here), and named."""
    from kedasuite.autoscale import compose

    monkeypatch.setattr(compose, "CLOSE_SLACK_S", 1.0)
    hung: list[subprocess.Popen[str]] = []

    def runner(argv: list[str]) -> subprocess.Popen[str]:
        hung.append(subprocess.Popen(["sleep", "3600"], stdout=subprocess.PIPE, text=True))
        return hung[-1]

    celery, lines = target(WORKLOAD_CELERY, 0.5), list[str]()
    b = ComposeBackend(
        "p", (), emit=lines.append, runner=runner, ps=lambda: workers("celery-worker", 1), targets=[celery]
    )
    try:
        b.scale(celery, 2, "test")  # under way when the autoscaler stops
        closer = threading.Thread(target=b.close, daemon=True)
        closer.start()
        bound = 2 * (0.5 + 1.0) + 10  # two waits (the command under way, the scale to 0), and room to spare
        closer.join(bound)
        assert not closer.is_alive(), f"close() still waiting on compose after {bound:g} s: {lines}"
        assert len(hung) == 2 and all(p.poll() is not None for p in hung), "both commands must be killed"
        assert sum("was still running at the close deadline" in ln for ln in lines) == 2, lines
    finally:
        for p in hung:
            p.kill()
            p.wait(5)


def test_no_compose_is_a_clear_error() -> None:
    def missing(*_a: Any, **_k: Any) -> Any:
        raise FileNotFoundError("docker")

    with pytest.raises(InputError, match="docker is not on PATH"):
        check_compose(missing)

    def failing(*_a: Any, **_k: Any) -> Any:
        return subprocess.CompletedProcess([], 125, "", "docker: 'compose' is not a docker command.\n")

    with pytest.raises(InputError, match="`docker compose version` failed: docker: 'compose' is not a docker"):
        check_compose(failing)


def test_the_cli_says_so_when_compose_does_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from kedasuite.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no docker at all
    done = CliRunner().invoke(main, ["autoscale", "--backend", "compose", "--run-dir", str(tmp_path / "run")])
    assert done.exit_code != 0 and "docker is not on PATH" in done.output, done.output


# --- a real Docker Engine ----------------------------------------------------------------------------


def _answers(*argv: str) -> bool:
    try:
        return subprocess.run(argv, check=False, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _docker_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not on PATH"
    if not _answers("docker", "info"):
        return "the Docker engine does not answer (docker info)"
    if not _answers("docker", "compose", "version"):
        return "Docker Compose v2+ does not answer (docker compose version)"
    return None


PROJECT = "kedasuite-autoscale-test"
IMAGE = "kedasuite:dev"
COUNT = 60
TIMINGS = ("--polling-interval", "1", "--cooldown-period", "5", "--sync-period", "1", "--stabilization-window", "3")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Stack = tuple[Callable[..., subprocess.CompletedProcess[str]], list[str], int, int]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Redis (and, for the tests that ``up`` it, Kafka) of compose.yaml under a project of its own,
    published on free loopback ports, the workers at 0 (as compose.autoscale.yaml does);
    ``down -v`` at the end.

    Kafka: compose.autoscale.yaml gives Apache Kafka a second listener for the host. The
    stand-in broker of this machine's offline Docker (Tansu) advertises only the PLAINTEXT
    listener, so here the broker advertises its published port and the consumers share the
    host's network to reach it there (each on the host's loopback, metrics off so their ports
    do not collide): the same compose service, command and environment otherwise, scaled by
    the same compose commands."""
    reason = _docker_reason()
    if reason is not None:
        pytest.skip(reason)
    port, kafka_port = _free_port(), _free_port()
    overlay = tmp_path / "compose.test.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "redis": {"ports": [f"127.0.0.1:{port}:6379"]},
                    "kafka": {
                        "ports": [f"127.0.0.1:{kafka_port}:9092"],
                        "environment": {"KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{kafka_port}"},
                    },
                    "celery-worker": {"scale": 0},
                    "rq-worker": {"scale": 0},
                    "kafka-consumer": {
                        "scale": 0,
                        "network_mode": "host",
                        "environment": {
                            "REDIS_ADDRESS": f"127.0.0.1:{port}",
                            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
                            "METRICS_PORT": "0",
                            **tansu.CLIENT_ENV,
                        },
                    },
                }
            }
        )
    )  # the stand-in image is Tansu
    files = [str(ROOT / "compose.yaml"), str(overlay)]

    def compose(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = ["docker", "compose", "-p", PROJECT, *[a for f in files for a in ("-f", f)], *args]
        return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT)

    if not _answers("docker", "image", "inspect", IMAGE):
        builder = {} if _answers("docker", "buildx", "version") else {"DOCKER_BUILDKIT": "0"}
        import os

        built = subprocess.run(
            ["docker", "build", "-t", IMAGE, "."],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, **builder},
        )
        assert built.returncode == 0, built.stderr[-3000:]
    compose("down", "-v", "--remove-orphans", timeout=120)
    up = compose("up", "-d", "--no-build", "--wait", "redis", timeout=300)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    try:
        yield compose, files, port, kafka_port
    finally:
        logs = compose("logs", "--no-color", "--tail", "30", timeout=60)
        print(logs.stdout[-4000:])
        compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=300)


def _containers(service: str, oneoff: bool = False) -> int:
    out = subprocess.run(ps_command(PROJECT), check=False, capture_output=True, text=True, timeout=30).stdout
    return len(parse_ps(out).get((service, oneoff), ()))


@dataclass
class Followed:
    """What one autoscaled compose run showed: per service, when its first container ran and
    its peak; when every record had a result and when every service was back at 0."""

    firsts: dict[str, float]
    peaks: dict[str, int]
    done_at: float
    zero_at: float
    missing: list[str]
    log: str

    def summary(self, records: int) -> str:
        firsts = ", ".join(f"{s} {t:.1f} s" for s, t in self.firsts.items())
        return (
            f"\ncompose backend: {records} records; first container {firsts}; peaks {self.peaks}; all processed "
            f"after {self.done_at:.1f} s, back to 0 after {self.zero_at:.1f} s; {len(self.missing)} lost\n"
            + "\n".join(ln for ln in self.log.splitlines() if "→" in ln or "docker compose" in ln)
        )


def follow(
    spawn: Any,
    argv: Sequence[str],
    env: dict[str, str],
    pump_all: Callable[[], list[str]],
    redis_url: str,
    services: Sequence[str],
    jobs: str | None = None,
) -> Followed:
    """Start ``kedasuite autoscale --backend compose ARGV``, pump, and follow ``services`` (and the
    one-off containers of ``jobs``) from 0 to containers and back to 0; the autoscaler is
    stopped with SIGTERM and must exit 0."""
    import redis as redis_lib

    from kedasuite.core.results import fetch_results

    assert all(_containers(s) == 0 for s in services), "the workers start at 0"
    auto = spawn("autoscale", "--backend", "compose", "--compose-project", PROJECT, *argv, *TIMINGS, env=env)
    auto.wait_for_log(r"autoscale: backend compose", timeout=60)
    t0 = time.monotonic()
    ids = pump_all()
    peaks = dict.fromkeys(services, 0)
    firsts: dict[str, float] = {}

    def watch() -> int:
        """Containers now, counting every watched service and the Job containers."""
        counts = {s: _containers(s) for s in services}
        for s, n in counts.items():
            peaks[s] = max(peaks[s], n)
            if n and s not in firsts:
                firsts[s] = time.monotonic() - t0
        return sum(counts.values()) + (_containers(jobs, True) if jobs else 0)

    def watched(condition: Callable[[], bool]) -> Callable[[], bool]:
        """``condition``, with the containers counted on every try (peaks and first times kept)."""
        return lambda: watch() >= 0 and condition()

    wait_for(
        watched(lambda: len(firsts) == len(services)),
        120,
        f"{', '.join(services)} containers started by the autoscaler",
    )
    client = redis_lib.Redis.from_url(redis_url)
    try:
        wait_for(watched(lambda: len(fetch_results(client, ids)) == len(ids)), 300, f"all {len(ids)} records processed")
        done_at = time.monotonic() - t0
        wait_for(lambda: watch() == 0, 180, f"{', '.join(services)} back at 0 containers, no Job container left")
        zero_at = time.monotonic() - t0
        missing = sorted(set(ids) - set(fetch_results(client, ids)))
    finally:
        client.close()
    auto.signal(signal.SIGTERM)
    assert auto.wait(120) == 0, auto.log()[-3000:]
    return Followed(firsts, peaks, done_at, zero_at, missing, auto.log())


@pytest.mark.compose
def test_compose_workers_appear_and_return_to_zero(stack, spawn, monkeypatch) -> None:
    from tests.support.autoscaler import pump

    _compose, files, port, _kafka_port = stack
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {"CELERY_WORK_TIME": "fixed:0.3", "WORKQUEUE_WORK_TIME": "fixed:0.2", "WORKER_CONCURRENCY": "2"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)  # compose interpolates them into the containers the autoscaler starts
    argv = [
        *[a for f in files for a in ("--compose-file", f)],
        "--redis-url",
        redis_url,
        "-w",
        WORKLOAD_CELERY,
        "-w",
        WORKLOAD_WORKQUEUE,
    ]
    run = follow(
        spawn,
        argv,
        env,
        lambda: pump(redis_url, None, WORKLOAD_CELERY, COUNT) + pump(redis_url, None, WORKLOAD_WORKQUEUE, 20),
        redis_url,
        ["celery-worker"],
        jobs="workqueue",
    )
    print(run.summary(COUNT + 20))
    assert not run.missing, f"lost {len(run.missing)} of {COUNT + 20} records, e.g. {run.missing[:5]}"
    assert re.search(r"celery-worker=\d", run.log) and "celery-worker=0" in run.log, run.log[-3000:]
    assert "docker compose run -d --rm workqueue" in run.log, run.log[-3000:]
    assert "failed (exit" not in run.log, run.log[-3000:]


@pytest.mark.compose
def test_compose_kafka_consumers_and_rq_workers_follow_the_model(stack, spawn, monkeypatch) -> None:
    """The two ScaledObjects the other compose test leaves out: the consumer group (lag read
    from the broker as KEDA's kafka scaler reads it, capped at the partitions) and RQ."""
    from kedasuite.core.names import WORKLOAD_KAFKA, WORKLOAD_RQ
    from kedasuite.core.settings import KafkaSettings
    from tests.support.autoscaler import pump

    compose, files, port, kafka_port = stack
    up = compose("up", "-d", "--no-build", "--wait", "kafka", timeout=300)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    redis_url, bootstrap = f"redis://127.0.0.1:{port}/0", f"127.0.0.1:{kafka_port}"
    env = {"KAFKA_WORK_TIME": "fixed:0.2", "RQ_WORK_TIME": "fixed:0.3"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KAFKA_PRODUCER_CONFIG_BATCH_NUM_MESSAGES", "1")  # Tansu's watermark (tests/conftest.py)
    argv = [
        *[a for f in files for a in ("--compose-file", f)],
        "--redis-url",
        redis_url,
        "--bootstrap-servers",
        bootstrap,
        "-w",
        WORKLOAD_KAFKA,
        "-w",
        WORKLOAD_RQ,
    ]
    kafka = KafkaSettings(bootstrap=bootstrap)
    run = follow(
        spawn,
        argv,
        env,
        lambda: pump(redis_url, kafka, WORKLOAD_KAFKA, COUNT) + pump(redis_url, None, WORKLOAD_RQ, COUNT),
        redis_url,
        ["kafka-consumer", "rq-worker"],
    )
    print(run.summary(2 * COUNT))
    assert not run.missing, f"lost {len(run.missing)} of {2 * COUNT} records, e.g. {run.missing[:5]}"
    for service in run.peaks:
        assert f"{service}=0" in run.log and re.search(rf"{service}=[1-9]", run.log), run.log[-3000:]
    assert run.peaks["kafka-consumer"] <= 5, "never more consumers than the topic's 5 partitions"
    assert "failed (exit" not in run.log, run.log[-3000:]


@pytest.mark.compose
def test_compose_job_count_never_exceeds_the_containers_nor_max(stack, monkeypatch) -> None:
    """The issue's run on a real engine: maxReplicaCount `docker compose run -d` at once, counted
    while their containers start. Every count is at most the runners `docker compose ps` then
    lists together with the `run -d` still in flight (by name: a runner in both is one), and at
    most maxReplicaCount."""
    from tests.support.autoscaler import pump

    compose, files, port, _kafka_port = stack
    wq = target(WORKLOAD_WORKQUEUE, 5)
    top = wq.scaler.max_replicas
    monkeypatch.setenv("WORKQUEUE_WORK_TIME", "fixed:0.3")  # interpolated into the runners' containers
    ids = pump(f"redis://127.0.0.1:{port}/0", None, WORKLOAD_WORKQUEUE, 15 * top)  # seconds of work per runner
    runs: list[subprocess.Popen[str]] = []

    def runner(argv: list[str]) -> subprocess.Popen[str]:
        runs.append(
            subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, cwd=ROOT
            )
        )
        return runs[-1]

    lines: list[str] = []
    b = ComposeBackend(PROJECT, files, emit=lines.append, runner=runner, targets=[wq])
    assert b.jobs(wq) == (0, 0)

    def listed() -> set[str]:
        """The workqueue one-off containers running now, as compose lists them (`ps -a` lists `run` ones)."""
        for _ in range(5):  # compose inspects what it listed: a runner removed meanwhile fails the command
            out = compose("ps", "-a", "--status", "running", "--format", "{{.Name}}\t{{.Service}}", timeout=60)
            if "No such container" not in out.stderr:
                break
        assert out.returncode == 0, out.stderr[-2000:]
        return {n for n, _, s in (ln.partition("\t") for ln in out.stdout.splitlines()) if s == "workqueue"}

    seen: list[tuple[int, int, int, int]] = []

    def counted_within_what_exists() -> bool:
        """One count as a ScaledJob's own thread takes it: the ended `run -d` not reaped yet (refresh()
        is the main thread's, on its own time), its containers running."""
        in_flight = {name_of_argv(p.args) for p in runs if p.poll() is None}  # before the count: all it may hold
        running, pending = counted(b, wq)
        shown = listed()  # after the count: every container it saw start runs on (each has seconds of work)
        seen.append((running, pending, len(shown), len(in_flight)))
        assert running <= min(top, len(shown | in_flight)), f"(count, pending, compose ps, in flight): {seen}"
        return not in_flight and len(shown) == top

    b.create_jobs(wq, top)
    try:
        wait_for(counted_within_what_exists, 120, f"{top} `run -d` ended and every runner running")
        assert {s[0] for s in seen} == {top}, seen
        b.refresh()
        assert b.jobs(wq) == (top, 0), "all reaped, all shown running"
        assert len({name_of_argv(p.args) for p in runs}) == top
        wait_for(lambda: not listed(), 180, "every runner done, its container removed")
    finally:
        b.close()
    assert b.jobs(wq) == (0, 0)
    assert "failed (exit" not in "\n".join(lines), lines
    import redis as redis_lib

    from kedasuite.core.results import fetch_results

    client = redis_lib.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        assert len(fetch_results(client, ids)) == len(ids)
    finally:
        client.close()
    print(f"\ncompose Job counts (count, pending, compose ps, run -d in flight): {seen}")


def name_of_argv(argv: Any) -> str:
    return str(argv[list(argv).index("--name") + 1])
