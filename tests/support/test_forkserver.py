"""The storms' fork server (``tests/support/forkserver.py``) starts workers as ``python -m kedasuite``
would: the requested environment and arguments, a session of its own (the group a SIGKILL
takes), its output in its own log, and its exit status reported as ``Popen`` reports it."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.support import Proc

pytestmark = pytest.mark.faults  # it serves the kill storms, which are in this tier


def test_a_forked_worker_runs_the_command_line_with_its_own_environment(
    forked: Callable[..., Proc], redis_url: str
) -> None:
    # RQ_BURST from the request's environment, not the server's: the worker exits 0 at once.
    worker = forked("worker", "rq", "--redis-url", redis_url, env={"RQ_BURST": "1", "LOG_LEVEL": "DEBUG"})
    assert worker.wait(30, "an RQ_BURST=1 worker on an empty queue to exit by itself") == 0, worker.describe()
    assert "Listening on" in worker.log(), worker.log()


def test_a_forked_worker_is_its_own_process_group_and_its_kill_is_reported(
    forked: Callable[..., Proc], redis_url: str
) -> None:
    worker = forked("worker", "rq", "--redis-url", redis_url)
    worker.wait_for_log(r"Listening on", timeout=30)
    assert os.getpgid(worker.pid) == worker.pid  # a session of its own, as a pod's processes
    worker.signal(signal.SIGKILL)
    assert worker.wait(10, "the SIGKILLed worker to go") == -signal.SIGKILL


def test_bad_arguments_exit_2_with_the_usage_error_in_the_log(forked: Callable[..., Proc]) -> None:
    worker = forked("worker", "rq", "--max-jobs", "0")
    assert worker.wait(30, "a worker given bad arguments to exit") == 2, worker.describe()
    assert "Invalid value for '--max-jobs'" in worker.log(), worker.log()
