"""Worker processes forked from a parent that has already imported them: the storms' pods.

A kill storm starts a new worker after every kill, hundreds per workload. Started with
``python -m kedasuite``, each one spends a third to half a second of CPU importing Celery,
redis-py, RQ or confluent-kafka before it does anything a kill could interrupt, and on two
cores those imports were most of the fault tier's time. A fork server does them once:
``python -m tests.support.forkserver`` imports every worker's modules, then forks a child per
request, and the child runs the same ``kedasuite`` command line (``kedasuite.cli.main``)
an exec'd worker would, in its own session (process group) with the requested
environment and its output in its own log. What the storms kill is therefore the same
worker code at the same points (connecting, registering, fetching, working,
acknowledging); only the interpreter's start-up is shared, as gunicorn's ``--preload``
shares it.

The server is single-threaded, so nothing holds a lock when it forks: one loop reads
requests from stdin, forks, and reaps its children (``waitpid``), answering each request
with the child's pid and each exit with its status. :class:`ForkServer` is the tests' end:
:meth:`ForkServer.spawn` returns a :class:`~tests.support.Proc` whose ``popen`` is a
stand-in with ``Popen``'s ``pid``, ``poll``, ``wait`` and ``returncode``.

The storms use it (the ``forked`` fixture), and so does the 40-kill reproduction, whose
kills, 0.3 to 1.1 s after a start, then land in the worker's consuming rather than in its
imports. Every other test execs a fresh interpreter, as a pod does.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from tests.support import Proc

#: What the server imports before its first fork: every worker's command and modules.
PRELOAD = (
    "kedasuite.cli.app",
    "kedasuite.cli.workers",
    "kedasuite.workers.celery_app",
    "kedasuite.workers.kafka_consumer",
    "kedasuite.workers.rq_queue",
    "kedasuite.workers.rq_tasks",
    "kedasuite.jobs.runner",
    "celery.apps.worker",
    "celery.concurrency.prefork",
    "celery.worker.consumer",
    "kombu.transport.redis",
)


# --- the server (python -m tests.support.forkserver) ------------------------------------------------------


def _child(request: dict[str, Any], control: tuple[int, int]) -> None:
    """In the forked child: become a pod running ``kedasuite ARGS``, never return."""
    code = 1
    try:
        os.setsid()
        for fd in control:
            os.close(fd)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["kedasuite", *request["args"]]
        from kedasuite.cli import main

        main(args=request["args"], prog_name="kedasuite")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported in the child's log, as an exec'd worker would
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    """Read one JSON request per line on stdin; answer ``{"pid": N}`` and, later, ``{"exit": N, "code": C}``."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    # prometheus_client decides when first imported whether values go to files (multiprocess
    # mode, PROMETHEUS_MULTIPROC_DIR set) or stay in memory: each worker imports it itself,
    # after setting its own directory, so the server must not have imported it for them.
    assert "prometheus_client" not in sys.modules, "the fork server must not import prometheus_client"
    # The pipes move off 0 and 1, which each child points at /dev/null and its log.
    requests, answers = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    children: set[int] = set()

    def answer(message: dict[str, Any]) -> None:
        os.write(answers, (json.dumps(message) + "\n").encode())

    answer({"ready": os.getpid()})
    pending = b""
    while True:
        readable, _, _ = select.select([requests], [], [], 0.05)
        if readable:
            chunk = os.read(requests, 65536)
            if not chunk:
                break  # the tests are done with us
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, (requests, answers))
                children.add(pid)
                answer({"pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            answer({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
    for pid in children:  # anything the tests left running goes with us
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- the tests' end ----------------------------------------------------------------------------


class _Forked:
    """The part of ``subprocess.Popen`` the tests use, for a child of the fork server."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.server.wait_exit(self.pid, timeout):
            raise subprocess.TimeoutExpired(f"forked kedasuite (pid {self.pid})", timeout or 0)
        return self.poll()  # type: ignore[return-value]


class ForkedProc(Proc):
    """A :class:`~tests.support.Proc` forked by the server instead of exec'd."""

    def __init__(self, server: ForkServer, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")  # created (empty) before the child appends to it
        self.popen = server.fork(args, log_path, {**os.environ, **(env or {})})  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"forked {super().__str__()}"


class ForkServer:
    """One ``python -m tests.support.forkserver``; :meth:`spawn` starts workers from it."""

    def __init__(self, log_path: Path) -> None:
        self._stderr = open(log_path, "wb")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin: IO[bytes] = self._proc.stdin
        self._lock = threading.Lock()
        self._codes: dict[int, int] = {}
        self._pids: list[int] = []
        self._pid_arrived = threading.Condition()
        self._exited = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        ready = json.loads(self._proc.stdout.readline() or b"{}")
        if "ready" not in ready:
            self._stderr.flush()
            raise RuntimeError(f"the fork server did not start: {log_path.read_text()[-2000:]}")
        self._reader.start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            message = json.loads(line)
            if "pid" in message:
                with self._pid_arrived:
                    self._pids.append(message["pid"])
                    self._pid_arrived.notify_all()
            elif "exit" in message:
                with self._exited:
                    self._codes[message["exit"]] = message["code"]
                    self._exited.notify_all()

    def fork(self, args: list[str], log_path: Path, env: dict[str, str]) -> _Forked:
        with self._lock:  # one request at a time: the next pid that arrives is this one's
            self._stdin.write((json.dumps({"args": args, "log": str(log_path), "env": env}) + "\n").encode())
            self._stdin.flush()
            with self._pid_arrived:
                if not self._pid_arrived.wait_for(lambda: self._pids, timeout=30):
                    raise RuntimeError("the fork server did not answer within 30 s")
                return _Forked(self, self._pids.pop(0))

    def exit_code(self, pid: int) -> int | None:
        with self._exited:
            return self._codes.get(pid)

    def wait_exit(self, pid: int, timeout: float | None) -> bool:
        """Wait until child ``pid`` has exited (False when ``timeout`` passed first)."""
        with self._exited:
            return self._exited.wait_for(lambda: pid in self._codes, timeout)

    def spawn(self, *args: str, log_path: Path, env: dict[str, str] | None = None) -> ForkedProc:
        return ForkedProc(self, list(args), log_path, env)

    def close(self) -> None:
        self._stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._stderr.close()


if __name__ == "__main__":
    serve()
