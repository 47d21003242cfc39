"""The stop request the workers' and the autoscaler's signal handlers make (kedasuite/core/stopping.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from kedasuite.core.stopping import StopFlag

#: A main thread waiting on a stop request in a loop while another process signals it, one
#: signal at a time, and the handler sets the request. With ``threading.Event`` the handler's
#: ``set()`` sometimes lands while ``wait()`` holds the Event's lock in the same thread: it
#: waits for ever, or the next signals' handlers pile up on that lock until the process dies
#: (10 runs of 10 with an Event). Prints how many requests were set.
SIGNALLED_WAITS = textwrap.dedent("""
    import os, signal, subprocess
    from kedasuite.core.stopping import StopFlag

    flags = [StopFlag()]
    signal.signal(signal.SIGUSR1, lambda signum, frame: flags[-1].set())
    pester = subprocess.Popen(["bash", "-c", f"for i in $(seq {SIGNALS}); do kill -USR1 {os.getpid()}; "
                                             "sleep 0.002; done"])
    while pester.poll() is None:
        for _ in range(200):  # mostly waits: the handler's set() lands in one, often in its first or last bytecodes
            if flags[-1].wait(0):
                flags.append(StopFlag())
    print(len(flags) - 1)
""")


def test_a_signal_handler_setting_the_flag_never_hangs_the_thread_waiting_on_it() -> None:
    signals = 300
    script = f"SIGNALS = {signals}\n{SIGNALLED_WAITS}"
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"the waiting thread hung on a stop request set by a signal handler "
            f"(after {time.monotonic() - started:.0f} s): {exc.stdout!r}"
        ) from None
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 10, f"too few signals handled to mean anything: {done.stdout}"


def test_wait_wakes_at_once_when_set_and_times_out_otherwise() -> None:
    import threading

    flag = StopFlag()
    started = time.monotonic()
    assert flag.wait(0.2) is False and time.monotonic() - started >= 0.19
    threading.Timer(0.1, flag.set).start()
    assert flag.wait(30) is True and time.monotonic() - started < 10
    flag.set()  # a second request changes nothing
    assert flag.is_set() and flag.wait(0) and flag.wait(None)


def test_a_forked_childs_stop_wakes_neither_its_parent_nor_its_siblings() -> None:
    """Workers forked from one parent (a prefork pool, the tests' fork server) inherit its flags:
    one child's SIGTERM must not cut every other process's waits short (a retry loop that no
    longer sleeps)."""
    import os

    flag = StopFlag()
    stopper = os.fork()
    if stopper == 0:
        flag.set()
        os._exit(0)
    os.waitpid(stopper, 0)
    sibling = os.fork()
    if sibling == 0:
        started = time.monotonic()
        woke = flag.wait(0.5)
        os._exit(0 if not woke and time.monotonic() - started >= 0.45 else 1)
    _, status = os.waitpid(sibling, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "a sibling's wait was cut short by another child's stop"
    started = time.monotonic()
    assert flag.wait(0.3) is False and time.monotonic() - started >= 0.28, "the parent's wait was cut short"
