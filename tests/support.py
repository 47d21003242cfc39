"""Test helpers: waiting for conditions with deadlines, and worker processes we can kill."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kedasuite.autoscale.processes import descendants

if TYPE_CHECKING:
    import redis
    from kedasuite.workers.results import Result

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05,
             longest_interval: float = 0.25) -> T:
    """Poll until ``predicate()`` is truthy; fail naming ``what`` after ``timeout`` seconds.

    The first looks come every ``interval``; a wait that goes on looks less often (up to
    every ``longest_interval``): a test waiting 30 s for a rebalance does not spend a core
    asking 600 times. The deadline is the same either way."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.2, max(interval, longest_interval))


class Proc:
    """A CLI subprocess in its own process group (a 'pod'), its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None,
                 module: str = "kedasuite") -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            if self.popen.poll() is not None and not regex.search(self.log()):
                raise AssertionError(f"process exited ({self.popen.returncode}) before logging {pattern!r}:\n{self.log()[-3000:]}")
            return regex.search(self.log())

        return wait_for(found, timeout, f"log line {pattern!r}")

    def signal(self, sig: int) -> None:
        """Signal as Kubernetes does: SIGTERM goes to the container's main process only;
        SIGKILL takes the whole container, every descendant included (RQ's work horse,
        for one, lives in a process group of its own)."""
        if self.popen.poll() is not None:
            return
        if sig != signal.SIGKILL:
            os.kill(self.popen.pid, sig)
            return
        for pid in [self.popen.pid, *descendants(self.popen.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> None:
        self.signal(signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(10)
        self._log.close()


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``kedasuite ARGS`` to completion and return its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "kedasuite", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def pump(workload: str, count: int, prefix: str | None = None, *, redis_url: str | None = None,
         kafka: Any = None) -> list[str]:
    """Send ``count`` records to ``workload`` through the pump's engine, in this process, and
    return their ids: what ``kedasuite pump WORKLOAD --count N --id-prefix P`` does (the same
    ``prepare_run``, broker check and topic creation included, and ``pump_all``), without a
    Python start-up of its own for every test that only needs records to work on. The CLI
    pump itself is tested in tests/test_cli.py."""
    from kedasuite.core.settings import PumpSettings
    from kedasuite.producers.engine import prepare_run, pump_all
    from kedasuite.producers.records import record_ids
    from kedasuite.producers.workloads import BrokerConfig

    settings = PumpSettings(brokers=BrokerConfig(redis_url=redis_url, kafka=kafka), workloads=[workload],
                            default_workload=workload)
    run, publishers = prepare_run(settings, count, workload, id_prefix=prefix)
    pump_all(run, publishers, settings.batch_size)
    stream = run.streams[0]
    assert (stream.sent, stream.failed, stream.error) == (count, 0, None), stream
    return record_ids(count, stream.id_prefix)


def all_processed(client: "redis.Redis", ids: list[str]) -> Callable[[], "dict[str, Result] | None"]:
    """A wait_for predicate: every id has a result (the results, when they all do)."""
    from kedasuite.workers.results import fetch_results, record_key

    keys = [record_key(record_id) for record_id in ids]

    def check() -> "dict[str, Result] | None":
        # EXISTS over every key first (one reply, a number): reading every result each poll
        # costs the test and Redis more than the workers it waits for.
        if sum(client.exists(*keys[i:i + 1000]) for i in range(0, len(keys), 1000)) < len(keys):
            return None
        results = fetch_results(client, ids)
        return results if len(results) == len(ids) else None

    return check


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_json(url: str, *, method: str = "GET", token: str | None = None,
              timeout: float = 30) -> "tuple[int, dict[str, str], Any]":
    """(status, headers, parsed JSON body) of one request; error statuses are answers too."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def subcommands(group: Any) -> list[tuple[str, Any]]:
    """A click group's commands by name, also those a lazy group imports on first use."""
    import click

    ctx = click.Context(group)
    return [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]


#: The bash the script tests run scripts with, whatever PATH they give it.
BASH = shutil.which("bash") or "/bin/bash"


def run_script(script: Path, *args: str, path: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``script`` under bash with exactly ``path`` as PATH (and nothing else from the environment)."""
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([BASH, str(script), *args], cwd=Path(__file__).resolve().parents[1], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def stub(folder: Path, name: str, exit_code: int = 0) -> None:
    """An executable ``name`` in ``folder`` that only exits with ``exit_code``: a tool that is there."""
    path = folder / name
    path.write_text(f"#!{BASH}\nexit {exit_code}\n")
    path.chmod(0o755)
