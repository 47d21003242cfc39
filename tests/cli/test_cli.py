"""The CLI pump and the embedded demo, run as users run them (subprocesses)."""

from __future__ import annotations

import re

import pytest

from kedasuite.core.names import CELERY_QUEUE
from tests.support import refused_port, run_cli, subcommands

pytestmark = pytest.mark.integration


def test_cli_pump_sends_and_summarises(redis_url, redis_client) -> None:
    done = run_cli("pump", "celery", "--count", "1234", "--id-prefix", "cli", "--redis-url", redis_url)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"celery: sent 1234, failed 0 in [\d.]+ s \([\d,]+ msgs/s\); ids cli-1\.\.cli-1234\n", done.stdout
    ), done.stdout
    assert redis_client.llen(CELERY_QUEUE) == 1234


def test_cli_reads_the_environment_and_flags_win(redis_url, redis_client) -> None:
    done = run_cli("pump", "--count", "7", env={"REDIS_URL": redis_url, "PUMP_COUNT": "3"})
    assert done.returncode == 0, done.stderr
    assert redis_client.llen(CELERY_QUEUE) == 7


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--count", "ten"], "count must be an integer from 1 to 1000000, got 'ten'"),
        (["--count", "0"], "count must be an integer from 1 to 1000000, got 0"),
        (["--count", "-2"], "count must be an integer from 1 to 1000000, got -2"),
        (
            ["--count", "11", "--max-count", "10"],
            "count must be an integer from 1 to 10, got 11 (the limit is set by PUMP_MAX_COUNT)",
        ),
        (["sidekiq", "--count", "1"], "unknown workload 'sidekiq': choose one of celery, kafka, rq, workqueue, all"),
        (["--count", "1", "--seed", "x"], "seed must be an integer, got 'x'"),
    ],
)
def test_cli_bad_input_prints_the_http_message_and_exits_2(redis_url, redis_client, args, error) -> None:
    done = run_cli("pump", *args, "--redis-url", redis_url)
    assert (done.returncode, done.stderr, done.stdout) == (2, f"Error: {error}\n", "")
    assert redis_client.llen(CELERY_QUEUE) == 0


def test_cli_unreachable_broker_exits_2() -> None:
    url = f"redis://127.0.0.1:{refused_port()}/0"
    done = run_cli("pump", "--count", "5", "--redis-url", url)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Error: cannot reach Redis at {url} (")
    assert done.stderr.endswith("Start Redis there, or point REDIS_URL (or REDIS_ADDRESS) at a reachable server\n")


def _command_paths() -> list[list[str]]:
    """Every command and group of the CLI, found by walking it (a new one is covered at once)."""
    import click

    from kedasuite.cli import main

    paths: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in subcommands(command):
                walk(sub, [*path, name])

    walk(main, [])
    return paths


@pytest.mark.parametrize("command", _command_paths(), ids=lambda c: " ".join(c) or "kedasuite")
def test_every_command_has_help(command: list[str]) -> None:
    from click.testing import CliRunner

    from kedasuite.cli import main

    done = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    assert done.exit_code == 0 and "Usage:" in done.output, done.output
    if "--redis-url" in done.output:
        assert "env var: REDIS_URL" in " ".join(done.output.split())


def test_every_option_reads_an_environment_variable() -> None:
    import click

    from kedasuite.cli import main

    def commands(group: click.Group) -> list[click.Command]:
        found: list[click.Command] = []
        for _name, command in subcommands(group):
            found.append(command)
            if isinstance(command, click.Group):
                found.extend(commands(command))
        return found

    missing = [
        f"{command.name} {param.opts[0]}"
        for command in commands(main)
        for param in command.params
        if isinstance(param, click.Option) and not param.envvar and param.name not in ("help", "version")
    ]
    assert missing == []


def workers_table(out: str, workload: str) -> list[int]:
    """Records per worker from the demo's table for one workload."""
    section = out.split(f"{workload}: ", 1)[1].split("\n", 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        match = re.fullmatch(r"  \S+:\d+\s+(\d+)", line)
        if not match:
            break
        rows.append(int(match.group(1)))
    return rows


DEMO_COUNT = 24


@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_demo_with_embedded_servers_needs_nothing_but_python() -> None:
    """The demo scales every workload from 0 to N and back to 0 with the local autoscaler,
    and every record is processed once."""
    # 24 records: every workload goes above one replica (or Job) at its targets; more would only
    # start more worker processes, whose CPU the rest of the suite shares.
    done = run_cli(
        "demo",
        "--count",
        str(DEMO_COUNT),
        "--work-time",
        "0.02",
        env={"REDIS_URL": "", "KAFKA_BOOTSTRAP_SERVERS": ""},
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("started embedded redis-server at redis://127.0.0.1:")
    assert re.search(
        r"^started embedded Kafka: (Apache Kafka \S+ \(KRaft\)|Tansu \S+) at 127\.0\.0\.1:\d+$", out, re.M
    ), out
    assert "with demo timings: polling interval 1 s, cooldown period 3 s, sync period 1 s" in out
    for workload, key in (
        ("celery", "celery"),
        ("kafka", "test-topic"),
        ("workqueue", "job"),
        ("rq", "rq:queue:default"),
    ):
        assert f"pumped {DEMO_COUNT} records into {workload} ({key})\n" in out
        timeline = re.search(rf"^  {workload} +(.*)$", out, flags=re.M)
        assert timeline, out
        counts = [int(n) for n in re.findall(r"(?:^| → )(\d+)", timeline.group(1))]
        assert counts[0] == 0 and max(counts) > 0 and counts[-1] == 0, f"{workload}: {timeline.group(1)}"
        done_line = re.search(
            rf"^{workload}: all {DEMO_COUNT} records processed, duplicates (\d+); stopped by SIGTERM (\d+), "
            r"killed after the grace period (\d+)$",
            out,
            flags=re.M,
        )
        assert done_line, out
        duplicates, killed = int(done_line.group(1)), int(done_line.group(3))
        # Exactly once on the normal path; a worker that outlived its grace period was SIGKILLed
        # (as the kubelet does) and what it held came back once more.
        assert duplicates == 0 or killed > 0, done_line.group(0)
        assert sum(workers_table(out, workload)) == DEMO_COUNT, out
    assert len(workers_table(out, "celery")) >= 2, f"{DEMO_COUNT} records ask for more than one Celery replica"


def test_demo_uses_redis_url_when_given(redis_url) -> None:
    # The work queue: its Jobs end by themselves, so the demo is over in seconds (no cooldown, no SIGTERMs).
    done = run_cli(
        "demo", "--count", "10", "--work-time", "0", "--redis-url", redis_url, "--workloads", "workqueue", timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"using Redis at {redis_url}\n")
    assert "kafka" not in done.stdout


def test_demo_refuses_workloads_it_does_not_run() -> None:
    done = run_cli("demo", "--workloads", "celery,sidekiq")
    assert (done.returncode, done.stderr) == (2, "Error: the demo runs celery, kafka, rq, workqueue; not sidekiq\n")


def test_the_cli_pump_sends_to_the_workload_the_user_names(redis_url) -> None:
    """PUMP_WORKLOADS is a server's setting (what it serves, what 'all' means); a one-shot
    ``kedasuite pump rq`` goes to RQ whatever it says."""
    done = run_cli(
        "pump", "rq", "--count", "3", "--id-prefix", "named", "--redis-url", redis_url, env={"PUMP_WORKLOADS": "celery"}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rq: sent 3, failed 0 in "), done.stdout
    unknown = run_cli("pump", "sqs", "--count", "3", "--redis-url", redis_url)
    assert unknown.returncode == 2
    assert unknown.stderr == "Error: unknown workload 'sqs': choose one of celery, kafka, rq, workqueue, all\n"
