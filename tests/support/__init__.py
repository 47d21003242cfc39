"""Test helpers: waiting for conditions with deadlines, worker processes we can kill, and
failures that say what they saw (which processes were alive, in what state, doing what)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import redis

from kedasuite.autoscale.processes import descendants, proc_stat
from kedasuite.core.settings import with_redis_db

if TYPE_CHECKING:
    import redis

    from kedasuite.core.results import Result

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    interval: float = 0.05,
    longest_interval: float = 0.25,
    *,
    seen: Callable[[], str] | None = None,
) -> T:
    """Poll until ``predicate()`` is truthy; fail naming ``what`` after ``timeout`` seconds.

    The first looks come every ``interval``; a wait that goes on looks less often (up to
    every ``longest_interval``): a test waiting 30 s for a rebalance does not spend a core
    asking 600 times. The deadline is the same either way.

    A timeout says what the wait saw: ``seen()`` (called once, at the timeout: which workload
    was not at 0, which processes were alive and what they were doing), else the predicate's
    last value when it is more than a plain false or ``None``."""
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(timed_out(timeout, what, _saw(seen, value)))
        time.sleep(delay)
        delay = min(delay * 1.2, max(interval, longest_interval))


def timed_out(timeout: float, what: str, saw: str = "") -> str:
    """'timed out after N s waiting for X; saw: …', the description on lines of its own if it has several."""
    message = f"timed out after {timeout:g} s waiting for {what}"
    if not saw:
        return message
    return f"{message}; saw:" + (f"\n{saw}" if "\n" in saw else f" {saw}")


def _saw(seen: Callable[[], str] | None, value: object) -> str:
    if seen is None:
        return "" if value is None or isinstance(value, bool) else repr(value)[:1000]
    try:
        return seen()
    except Exception as exc:  # noqa: BLE001 - the timeout is the failure; a broken description must not hide it
        return f"(describing it failed: {exc!r})"


# --- what processes are doing ---------------------------------------------------------------------

#: Seconds one ``py-spy dump`` may take: it pauses the process and reads its memory, well
#: under a second for a worker; one that cannot be read in this long is reported as such.
PY_SPY_TIMEOUT_S = 5.0
#: Processes dumped in one description at most (a dozen workers and their pool children).
MOST_DUMPS = 16
_STATES = {
    "R": "running",
    "S": "sleeping",
    "D": "in uninterruptible sleep",
    "Z": "a zombie (exited, not reaped)",
    "T": "stopped",
    "t": "stopped by a tracer",
    "X": "dead",
    "I": "idle",
}


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int, ticks: int | None = None) -> bool:
    """``pid`` runs (not a zombie), and is the process that started at ``ticks`` if given (not a reused pid)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in "ZX" and (ticks is None or stat[2] == ticks)


def py_spy(pid: int) -> str:
    """``py-spy dump`` of ``pid``: each thread's Python stack. When py-spy is missing, cannot read
    the process (not Python, no ptrace permission) or takes too long: one line that says so."""
    exe = Path(sys.executable).with_name("py-spy")
    command = str(exe) if exe.exists() else shutil.which("py-spy")
    if command is None:
        return "py-spy: not installed (it is in kedasuite's test extras: pip install py-spy)"
    try:
        done = subprocess.run(
            [command, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=PY_SPY_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return f"py-spy: no dump within {PY_SPY_TIMEOUT_S:g} s"
    except OSError as exc:
        return f"py-spy: {exc}"
    lines = done.stdout.rstrip().splitlines()
    if done.returncode != 0 or not lines:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        why = next((line for line in said if line.startswith("Error:")), said[0])  # not its Rust backtrace
        return f"py-spy: exit {done.returncode}: {why}"
    # Its first lines repeat the pid, command line and interpreter this description already gives.
    while lines and lines[0].startswith(("Process ", "Python v")):
        lines.pop(0)
    return "\n".join(lines).strip("\n")


def describe_processes(pids: Iterable[int], *, dump: bool = True, most_dumps: int = MOST_DUMPS) -> str:
    """Each of ``pids`` and every descendant (a Celery pool, RQ's work horse) still alive: pid,
    parent, state and kernel wait channel, age, command line, and with ``dump`` its py-spy dump.
    The process a test waited for is often blocked, not busy: its stack says on what."""
    order: list[int] = []
    for pid in pids:
        for one in (pid, *descendants(pid)):
            if one not in order:
                order.append(one)
    if not order:
        return "no process"
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    try:
        uptime = float(_read("/proc/uptime").split()[0])
    except (IndexError, ValueError):
        uptime = None
    lines, dumped = [], 0
    for pid in order:
        stat = proc_stat(pid)
        if stat is None:
            lines.append(f"pid {pid}: not running")
            continue
        state, parent, ticks = stat
        wchan = _read(f"/proc/{pid}/wchan").strip()
        how = _STATES.get(state, state) + (f" in {wchan}" if wchan and wchan != "0" else "")
        age = "" if uptime is None else f", {uptime - ticks / ticks_per_s:.1f} s old"
        command = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        lines.append(f"pid {pid} (parent {parent}) {how}{age}: {command[:400]}")
        if not dump or state in "ZX":
            continue
        if dumped >= most_dumps:
            lines.append(f"    (no dump: {most_dumps} processes dumped already)")
            continue
        dumped += 1
        lines.extend(f"    {line}" for line in py_spy(pid).splitlines())
    return "\n".join(lines)


def tail(text: str, lines: int = 30, width: int = 4000, indent: str = "  ") -> str:
    """The last ``lines`` lines of ``text`` (at most ``width`` characters), indented."""
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(f"{indent}{line}" for line in kept)[-width:] or f"{indent}(empty)"


def describe_procs(procs: Iterable[Proc], *, dump: bool = True, log_lines: int = 15) -> str:
    """Several test processes: each one's state (see :meth:`Proc.describe`), for a wait on a group of workers."""
    return "\n".join(proc.describe(dump=dump, log_lines=log_lines) for proc in procs) or "no process"


_STOPS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGKILL})


def _default_dispositions() -> None:
    """In a child before its exec: SIGINT and SIGQUIT at their defaults, as in a pod or a terminal.

    A suite started in the background of a non-interactive shell (``cmd &``, nohup, some CI
    runners) has them ignored, an ignored signal stays ignored across exec, and Python then
    installs no KeyboardInterrupt: a test that Ctrl-Cs a command would see it ignored."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


class Proc:
    """A CLI subprocess in its own process group (a 'pod'), its output in a log file."""

    module = "kedasuite"
    #: The last request to stop (SIGTERM, SIGINT, SIGKILL: its name) and when (monotonic), what
    #: a deadline overrun counts from.
    signalled: tuple[str, float] | None = None

    def __init__(
        self, args: list[str], log_path: Path, env: dict[str, str] | None = None, module: str = "kedasuite"
    ) -> None:
        self.args = args
        self.module = module
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            preexec_fn=_default_dispositions,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __str__(self) -> str:
        return f"{' '.join([self.module, *self.args])} (pid {self.pid})"

    def describe(self, *, dump: bool = True, log_lines: int = 30) -> str:
        """This process: its exit code, or its processes alive with their states and py-spy
        dumps; then its log's last lines."""
        code = self.popen.poll()
        head = f"{self}: " + ("running" if code is None else f"exited {code}")
        if self.signalled is not None:
            head += f", {time.monotonic() - self.signalled[1]:.1f} s after {self.signalled[0]}"
        if code is None:
            head += "\n" + textwrap.indent(describe_processes([self.pid], dump=dump), "  ")
        return f"{head}\n  its log ({self.log_path}), last {log_lines} lines:\n" + tail(
            self.log(), log_lines, indent="    "
        )

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            if self.popen.poll() is not None and not regex.search(self.log()):
                raise AssertionError(
                    f"process exited ({self.popen.returncode}) before logging {pattern!r}:\n{self.log()[-3000:]}"
                )
            return regex.search(self.log())

        return wait_for(found, timeout, f"log line {pattern!r} from {self}", seen=self.describe)

    def signal(self, sig: int) -> None:
        """Signal as Kubernetes does: SIGTERM goes to the container's main process only;
        SIGKILL takes the whole container, every descendant included (RQ's work horse,
        for one, lives in a process group of its own)."""
        if self.popen.poll() is not None:
            return
        if sig in _STOPS:
            self.signalled = (signal.Signals(sig).name, time.monotonic())
        if sig != signal.SIGKILL:
            os.kill(self.popen.pid, sig)
            return
        for pid in [self.popen.pid, *descendants(self.popen.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float, what: str = "") -> int:
        """The exit code, within ``timeout`` seconds. A process still running then fails the test
        with what it was doing (:meth:`describe`: states, py-spy dumps, log), taken before it is
        SIGKILLed: the stack of a hung worker is the one clue to its hang."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        since = (
            f"{time.monotonic() - self.signalled[1]:.1f} s after {self.signalled[0]}"
            if self.signalled
            else "never signalled"
        )
        message = (
            f"{what + ': ' if what else ''}{self} still running after the {timeout:g} s deadline ({since}); "
            f"what it was doing before its SIGKILL:\n{self.describe()}"
        )
        self.signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)
        raise AssertionError(message)

    def stop(self) -> None:
        """SIGKILL, as at the end of a test. A process that outlives even that (uninterruptible
        sleep) fails the teardown with its state."""
        try:
            self.signal(signal.SIGKILL)
            if self.popen.poll() is None:
                self.wait(10, "the SIGKILLed process to go")
        finally:
            self._log.close()


class AutoscalerWatch:
    """What a local autoscaler (``kedasuite autoscale --backend processes``) and its pods are
    doing, for the messages of the waits on it.

    It reads what the autoscaler leaves in its run directory: ``state.json`` (per workload the
    actual and the model's count, the last step, the next) and ``processes.json`` (every pod,
    when it was SIGTERMed and when it will be SIGKILLed). :meth:`look`, called while waiting,
    dumps each pod still running halfway through its grace period: at the end of the grace the
    autoscaler SIGKILLs it, and what it was doing would be gone with it."""

    def __init__(self, proc: Proc, run_dir: Path, log_lines: int = 20) -> None:
        self.proc, self.run_dir, self.log_lines = proc, run_dir, log_lines
        #: Per pid: the description of a pod taken halfway through its grace period.
        self.stragglers: dict[int, str] = {}

    def pods(self) -> list[dict[str, Any]]:
        from kedasuite.autoscale.processes import PROCESSES_FILE

        try:
            return list(json.loads((self.run_dir / PROCESSES_FILE).read_text())["pods"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def look(self) -> None:
        """Dump (once) each pod still running past the middle of its grace period after SIGTERM;
        a file read and nothing more while every pod behaves."""
        now = time.time()
        for pod in self.pods():
            sent, kill_at = pod.get("terminating"), pod.get("kill_at")
            if sent is None or kill_at is None or pod.get("killed") or pod["pid"] in self.stragglers:
                continue
            if now >= (sent + kill_at) / 2 and alive(pod["pid"], pod.get("ticks")):
                self.stragglers[pod["pid"]] = (
                    f"{pod['workload']} pod {pod['name']} still running {now - sent:.1f} s after SIGTERM (its grace "
                    f"period: {kill_at - sent:g} s, then SIGKILL):\n"
                    + textwrap.indent(describe_processes([pod["pid"]]), "  ")
                    + f"\n  its log, last 10 lines:\n{tail(_read(pod.get('log', '')), 10, indent='    ')}"
                )

    def state(self) -> str:
        """``state.json`` in a line per workload: counts, pods, the last step and the next."""
        from datetime import datetime

        from kedasuite.autoscale.actuator import STATE_FILE, read_state

        state = read_state(self.run_dir)
        if not state:
            return f"no {STATE_FILE} in {self.run_dir}"
        try:
            age = f"written {time.time() - datetime.fromisoformat(state['time']).timestamp():.1f} s ago"
        except (KeyError, TypeError, ValueError):
            age = "written at an unknown time"
        lines = [f"{STATE_FILE} ({age} by pid {state.get('pid')}):"]
        for w in state.get("workloads", []):
            pods = (
                ", ".join(
                    f"{p['name']} (pid {p['pid']}{', terminating' if p.get('terminating') else ''})"
                    for p in w.get("backend", {}).get("pods", [])
                )
                or "none"
            )
            nxt = w.get("next_step")
            upcoming = (
                f"{nxt['actor']} → {nxt['replicas']} in {nxt['in_seconds']:g} s ({nxt['reason']})" if nxt else "none"
            )
            errors = f"; read errors: {w['read_errors']}" if w.get("read_errors") else ""
            lines.append(
                f"  {w['workload']}: actual {w['actual']}, model {w['model']}, pods: {pods}; "
                f"last: {w.get('reason')}; next: {upcoming}{errors}"
            )
        lines += [f"  {mark}: {state[mark]}" for mark in ("stopping", "stopped") if mark in state]
        return "\n".join(lines)

    def report(self) -> str:
        """The autoscaler's last log lines, its state, its pods and what those alive are doing,
        and the dump of any pod that outlived half its grace period. It goes into failure
        messages: a description that fails says so rather than replace the failure."""
        try:
            return self._report()
        except Exception as exc:  # noqa: BLE001 - see above
            return f"(describing the autoscaler failed: {exc!r})"

    def _report(self) -> str:
        code = self.proc.popen.poll()
        pods = self.pods()
        living = [p for p in pods if alive(p["pid"], p.get("ticks"))]
        parts = [
            f"autoscaler {self.proc}: " + ("running" if code is None else f"exited {code}"),
            f"its log, last {self.log_lines} lines:\n{tail(self.proc.log(), self.log_lines)}",
            self.state(),
            f"processes.json: {len(pods)} pods, {len(living)} alive"
            + "".join(
                f"\n  {p['workload']} {p['name']} (pid {p['pid']}): "
                + ("alive" if p in living else "gone")
                + (f", SIGTERMed {time.time() - p['terminating']:.1f} s ago" if p.get("terminating") else "")
                + (", SIGKILLed" if p.get("killed") else "")
                for p in pods
            ),
        ]
        pids = ([self.proc.pid] if code is None else []) + [p["pid"] for p in living]
        if pids:
            parts.append("processes alive (the autoscaler's and its pods'):\n" + describe_processes(pids))
        if self.stragglers:
            parts.append("pods dumped halfway through their grace period:\n" + "\n".join(self.stragglers.values()))
        return "\n".join(parts)


def own_tmpdir(tmp_path: Path) -> dict[str, str]:
    """Environment for the processes a test starts: a temporary directory of the test's own, so
    the default run directory and the registry of running autoscalers there are this test's,
    not those of autoscalers other tests run beside it."""
    folder = tmp_path / "tmp"
    folder.mkdir(exist_ok=True)
    return {"TMPDIR": str(folder), "AUTOSCALE_RUN_DIR": ""}


def run_cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``kedasuite ARGS`` to completion and return its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "kedasuite", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def pump(
    workload: str, count: int, prefix: str | None = None, *, redis_url: str | None = None, kafka: Any = None
) -> list[str]:
    """Send ``count`` records to ``workload`` through the pump's engine, in this process, and
    return their ids: what ``kedasuite pump WORKLOAD --count N --id-prefix P`` does (the same
    ``prepare_run``, broker check and topic creation included, and ``pump_all``), without a
    Python start-up of its own for every test that only needs records to work on. The CLI
    pump itself is tested in tests/cli/test_cli.py."""
    from kedasuite.core.settings import PumpSettings
    from kedasuite.producers.engine import prepare_run, pump_all
    from kedasuite.producers.records import record_ids
    from kedasuite.producers.workloads import BrokerConfig

    settings = PumpSettings(
        brokers=BrokerConfig(redis_url=redis_url, kafka=kafka), workloads=[workload], default_workload=workload
    )
    run, publishers = prepare_run(settings, count, workload, id_prefix=prefix)
    pump_all(run, publishers, settings.batch_size)
    stream = run.streams[0]
    assert (stream.sent, stream.failed, stream.error) == (count, 0, None), stream
    return record_ids(count, stream.id_prefix)


def all_processed(client: redis.Redis, ids: list[str]) -> Callable[[], dict[str, Result] | None]:
    """A wait_for predicate: every id has a result (the results, when they all do)."""
    from kedasuite.core.results import fetch_results, record_key

    keys = [record_key(record_id) for record_id in ids]

    def check() -> dict[str, Result] | None:
        # EXISTS over every key first (one reply, a number): reading every result each poll
        # costs the test and Redis more than the workers it waits for.
        if sum(client.exists(*keys[i : i + 1000]) for i in range(0, len(keys), 1000)) < len(keys):
            return None
        results = fetch_results(client, ids)
        return results if len(results) == len(ids) else None

    return check


def missing_and_workers(
    client: redis.Redis, workload: str, ids: list[str], procs: Iterable[Proc], kafka: Any = None
) -> Callable[[], str]:
    """A ``seen`` for a wait on records: where the ones without a result are
    (``tests/support/whereabouts.py``), and what the workers are doing."""
    from tests.support.whereabouts import missing_report

    def saw() -> str:
        return f"{missing_report(workload, client, ids, kafka)}\n{describe_procs(procs)}"

    return saw


def free_port() -> int:
    """A loopback port nobody listens on right now (for a server about to listen there)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: The sockets behind :func:`refused_port`, held for the session.
_REFUSING: list[Any] = []


def refused_port() -> int:
    """A loopback port that refuses connections for the rest of the session: bound here and never
    listened on. (A port merely free now may be taken meanwhile by another test's server, which
    then answers, or hangs, where the test expects a refusal.)"""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _REFUSING.append(sock)
    return int(sock.getsockname()[1])


def http_json(
    url: str, *, method: str = "GET", token: str | None = None, timeout: float = 30
) -> tuple[int, dict[str, str], Any]:
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
    return subprocess.run(
        [BASH, str(script), *args],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stub(folder: Path, name: str, exit_code: int = 0) -> None:
    """An executable ``name`` in ``folder`` that only exits with ``exit_code``: a tool that is there."""
    path = folder / name
    path.write_text(f"#!{BASH}\nexit {exit_code}\n")
    path.chmod(0o755)


# --- shared by conftest.py and the tests ---------------------------------------------------------

#: For tests that kill consumers and wait for the group to hand their partitions on: a killed
#: member is noticed after 6 s without heartbeats instead of librdkafka's default 45 s.
KAFKA_FAILOVER_ENV = {
    "KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS": "6000",
    "KAFKA_CONSUMER_CONFIG_HEARTBEAT_INTERVAL_MS": "1000",
}


@contextlib.contextmanager
def own_database(redis_server: str, databases: Iterator[int]) -> Iterator[str]:
    """The next free database of the shared server, empty at start and at end."""
    url = with_redis_db(redis_server, next(databases))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


#: The fault tests' rows for the summary table conftest.py prints at the end of the run (each
#: xdist worker sends its rows to the controller).
FAULT_ROWS: list[dict[str, object]] = []
