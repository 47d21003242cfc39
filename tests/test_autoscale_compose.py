"""``kedasuite autoscale --backend compose``: compose commands built right (no Docker), and a run
on a real Docker Engine (marked ``compose``, skipped unless ``docker info`` and ``docker compose
version`` answer): workers go 0 → N → 0 under the autoscaler with nothing lost.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedasuite.autoscale.compose import (
    ComposeBackend,
    check_compose,
    parse_ps,
    ps_command,
    run_command,
    scale_command,
)
from kedasuite.autoscale.targets import Target
from kedasuite.core.errors import InputError
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_WORKQUEUE
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.scaling import Scaler, scalers_in
from kedasuite.keda.status import bundled_text, workload_of
from tests.conftest import KAFKA_TEST_ENV
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[1]


def target(workload: str, grace: float = 30.0) -> Target:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    scaler: Scaler = next(s for s in scalers_in(objs) if workload_of(s) == workload)
    return Target(workload_row(workload), scaler, grace, "test")


# --- pure: the commands, the counts, the bookkeeping (no Docker) ----------------------------------


def test_the_commands_are_the_compose_cli_s() -> None:
    assert scale_command("p", (), "celery-worker", 3, 30.0) == [
        "docker", "compose", "-p", "p", "up", "-d", "--no-deps", "--no-recreate", "--timeout", "30",
        "--scale", "celery-worker=3", "celery-worker"]
    assert scale_command("p", ("a.yaml", "b.yaml"), "rq-worker", 0, 12.4)[:8] == [
        "docker", "compose", "-p", "p", "-f", "a.yaml", "-f", "b.yaml"]
    assert scale_command("p", (), "rq-worker", 0, 12.4)[-4:] == ["12", "--scale", "rq-worker=0", "rq-worker"]
    assert run_command("p", ("c.yaml",), "workqueue") == [
        "docker", "compose", "-p", "p", "-f", "c.yaml", "run", "-d", "--rm", "--no-deps", "workqueue"]
    ps = ps_command("proj")
    assert ps[:4] == ["docker", "ps", "--filter", "label=com.docker.compose.project=proj"]


def test_docker_ps_output_counts_per_service_and_one_off() -> None:
    text = "a1\tcelery-worker\tFalse\nb2\tcelery-worker\tFalse\nc3\tworkqueue\tTrue\nd4\tredis\t\n\n"
    assert parse_ps(text) == {("celery-worker", False): 2, ("workqueue", True): 1, ("redis", False): 1}


class FakePopen:
    def __init__(self, argv: list[str]) -> None:
        self.argv, self.returncode, self.stdout = argv, None, None

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
    return ComposeBackend("p", ("compose.yaml",), emit=lines.append, clock=lambda: float(next(clock)),
                          runner=engine.run, ps=lambda: engine.text, targets=targets), lines


def test_scaling_runs_one_compose_command_at_a_time_and_the_last_count_wins() -> None:
    engine, celery = Engine(), target(WORKLOAD_CELERY, 7)
    b, lines = backend(engine, celery)
    assert b.replicas(celery) == 0
    b.scale(celery, 3, "test")
    assert engine.started[-1].argv[-3:] == ["--scale", "celery-worker=3", "celery-worker"]
    b.scale(celery, 3, "test")  # the same count while compose works: nothing new
    b.scale(celery, 5, "test")  # a new count waits for the running command
    assert len(engine.started) == 1
    engine.text = "x\tcelery-worker\tFalse\n" * 3
    engine.started[-1].returncode = 0
    b.refresh()
    assert len(engine.started) == 2 and engine.started[-1].argv[-2] == "celery-worker=5"
    engine.started[-1].returncode = 0
    b.refresh()
    engine.text = "x\tcelery-worker\tFalse\n" * 5
    assert b.replicas(celery) == 5
    b.scale(celery, 1, "cooldown")
    assert "--timeout" in engine.started[-1].argv and "7" in engine.started[-1].argv
    assert b.replicas(celery) == 1, "the replicas being stopped no longer count"
    assert any("stopping 4 (SIGTERM, SIGKILL after 7 s" in ln for ln in lines), lines


def test_jobs_are_one_off_containers_counted_by_label() -> None:
    engine, wq = Engine(), target(WORKLOAD_WORKQUEUE)
    b, _ = backend(engine, wq)
    b.create_jobs(wq, 2)
    assert [p.argv[-5:] for p in engine.started] == [["run", "-d", "--rm", "--no-deps", "workqueue"]] * 2
    assert b.jobs(wq) == (2, 2), "a run still starting is an unfinished Job, and a pending one"
    for p in engine.started:
        p.returncode = 0
    engine.text = "a\tworkqueue\tTrue\nb\tworkqueue\tTrue\nc\tworkqueue\tFalse\n"
    b.refresh()
    assert b.jobs(wq) == (2, 0)
    assert b.describe(wq)["jobs_created"] == 2


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
    engine.text = "x\tcelery-worker\tFalse\n"
    b.close()
    assert [p.argv[-3:] for p in engine.started] == [["--scale", "celery-worker=0", "celery-worker"]]


def test_close_kills_a_compose_command_still_running_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `docker compose` whose engine never answers (here a process that only sleeps) used to
    hold close(), and the autoscaler's stop, for ever; now it is killed after the longest grace
    period plus CLOSE_SLACK_S (1 s here), and named."""
    import threading

    from kedasuite.autoscale import compose

    monkeypatch.setattr(compose, "CLOSE_SLACK_S", 1.0)
    hung: list[subprocess.Popen[str]] = []

    def runner(argv: list[str]) -> subprocess.Popen[str]:
        hung.append(subprocess.Popen(["sleep", "3600"], stdout=subprocess.PIPE, text=True))
        return hung[-1]

    celery, lines = target(WORKLOAD_CELERY, 0.5), []
    b = ComposeBackend("p", (), emit=lines.append, runner=runner, ps=lambda: "x\tcelery-worker\tFalse\n",
                       targets=[celery])
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
    overlay.write_text(yaml.safe_dump({"services": {
        "redis": {"ports": [f"127.0.0.1:{port}:6379"]},
        "kafka": {"ports": [f"127.0.0.1:{kafka_port}:9092"],
                  "environment": {"KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{kafka_port}"}},
        "celery-worker": {"scale": 0}, "rq-worker": {"scale": 0},
        "kafka-consumer": {"scale": 0, "network_mode": "host", "environment": {
            "REDIS_ADDRESS": f"127.0.0.1:{port}", "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "METRICS_PORT": "0", **KAFKA_TEST_ENV}}}}))
    files = [str(ROOT / "compose.yaml"), str(overlay)]

    def compose(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = ["docker", "compose", "-p", PROJECT, *[a for f in files for a in ("-f", f)], *args]
        return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout, cwd=ROOT)

    if not _answers("docker", "image", "inspect", IMAGE):
        builder = {} if _answers("docker", "buildx", "version") else {"DOCKER_BUILDKIT": "0"}
        import os

        built = subprocess.run(["docker", "build", "-t", IMAGE, "."], cwd=ROOT, check=False, capture_output=True, text=True,
                               timeout=1800, env={**os.environ, **builder})
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
    return parse_ps(out).get((service, oneoff), 0)


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
        return (f"\ncompose backend: {records} records; first container {firsts}; peaks {self.peaks}; all processed "
                f"after {self.done_at:.1f} s, back to 0 after {self.zero_at:.1f} s; {len(self.missing)} lost\n"
                + "\n".join(ln for ln in self.log.splitlines() if "→" in ln or "docker compose" in ln))


def follow(spawn: Any, argv: Sequence[str], env: dict[str, str], pump_all: Callable[[], list[str]],
           redis_url: str, services: Sequence[str], jobs: str | None = None) -> Followed:
    """Start ``kedasuite autoscale --backend compose ARGV``, pump, and follow ``services`` (and the
    one-off containers of ``jobs``) from 0 to containers and back to 0; the autoscaler is
    stopped with SIGTERM and must exit 0."""
    import redis as redis_lib

    from kedasuite.workers.results import fetch_results

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

    wait_for(watched(lambda: len(firsts) == len(services)), 120,
             f"{', '.join(services)} containers started by the autoscaler")
    client = redis_lib.Redis.from_url(redis_url)
    try:
        wait_for(watched(lambda: len(fetch_results(client, ids)) == len(ids)), 300,
                 f"all {len(ids)} records processed")
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
    from tests.test_autoscale import pump

    _compose, files, port, _kafka_port = stack
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {"CELERY_WORK_TIME": "fixed:0.3", "WORKQUEUE_WORK_TIME": "fixed:0.2", "WORKER_CONCURRENCY": "2"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)  # compose interpolates them into the containers the autoscaler starts
    argv = [*[a for f in files for a in ("--compose-file", f)], "--redis-url", redis_url,
            "-w", WORKLOAD_CELERY, "-w", WORKLOAD_WORKQUEUE]
    run = follow(spawn, argv, env, lambda: pump(redis_url, None, WORKLOAD_CELERY, COUNT)
                 + pump(redis_url, None, WORKLOAD_WORKQUEUE, 20), redis_url, ["celery-worker"], jobs="workqueue")
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
    from tests.test_autoscale import pump

    compose, files, port, kafka_port = stack
    up = compose("up", "-d", "--no-build", "--wait", "kafka", timeout=300)
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    redis_url, bootstrap = f"redis://127.0.0.1:{port}/0", f"127.0.0.1:{kafka_port}"
    env = {"KAFKA_WORK_TIME": "fixed:0.2", "RQ_WORK_TIME": "fixed:0.3"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KAFKA_PRODUCER_CONFIG_BATCH_NUM_MESSAGES", "1")  # Tansu's watermark (tests/conftest.py)
    argv = [*[a for f in files for a in ("--compose-file", f)], "--redis-url", redis_url,
            "--bootstrap-servers", bootstrap, "-w", WORKLOAD_KAFKA, "-w", WORKLOAD_RQ]
    kafka = KafkaSettings(bootstrap=bootstrap)
    run = follow(spawn, argv, env, lambda: pump(redis_url, kafka, WORKLOAD_KAFKA, COUNT)
                 + pump(redis_url, None, WORKLOAD_RQ, COUNT), redis_url, ["kafka-consumer", "rq-worker"])
    print(run.summary(2 * COUNT))
    assert not run.missing, f"lost {len(run.missing)} of {2 * COUNT} records, e.g. {run.missing[:5]}"
    for service in run.peaks:
        assert f"{service}=0" in run.log and re.search(rf"{service}=[1-9]", run.log), run.log[-3000:]
    assert run.peaks["kafka-consumer"] <= 5, "never more consumers than the topic's 5 partitions"
    assert "failed (exit" not in run.log, run.log[-3000:]
