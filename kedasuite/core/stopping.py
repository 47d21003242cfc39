"""A stop request that a signal handler can make: :class:`StopFlag`.

Why not :class:`threading.Event`: its ``set()`` takes the lock that ``wait()`` holds for a few
bytecodes on its way in and out, and a Python signal handler runs in the main thread between
bytecodes. A SIGTERM that lands while the main thread is in those bytecodes of ``wait()`` makes
the handler's ``set()`` wait for a lock its own thread holds: the process never stops, and the
kubelet SIGKILLs it after the grace period (a main thread waiting in a loop, signalled from
another process, hung within 13 signals). :class:`StopFlag` takes no lock: ``set()`` is an
assignment and one write to a pipe, and ``wait()`` sleeps in ``poll`` on that pipe.
"""

from __future__ import annotations

import os
import select
from typing import Protocol


class Stoppable(Protocol):
    """What a loop needs from its stop request: a :class:`StopFlag`, or a ``threading.Event``
    that no signal handler sets."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class StopFlag:
    """Set once, never cleared; ``set``, ``is_set`` and ``wait`` as ``threading.Event`` has them,
    any of them safe in a signal handler and in any thread."""

    def __init__(self) -> None:
        self._set = False
        self._pid = -1
        self._read = self._write = -1
        self._pipe()

    def _pipe(self) -> tuple[int, int]:
        """This process's pipe. A forked child (a prefork pool, the tests' fork server) makes its
        own: through the parent's, one process's stop would wake every other's waits."""
        if self._pid != os.getpid():
            self._close()
            self._read, self._write = os.pipe()
            os.set_blocking(self._write, False)
            self._pid = os.getpid()
        return self._read, self._write

    def set(self) -> None:
        """Ask for the stop; wakes every :meth:`wait` at once. Safe in a signal handler."""
        if self._set:
            return
        self._set = True
        try:
            os.write(self._pipe()[1], b"\0")  # never read: every later poll sees it readable
        except OSError:  # full: a byte is there already
            pass

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """True once set (at once, whichever thread set it); False after ``timeout`` seconds."""
        if not self._set:
            poller = select.poll()
            poller.register(self._pipe()[0], select.POLLIN)
            poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999)))
        return self._set

    def _close(self) -> None:
        for fd in (self._read, self._write):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._read = self._write = -1

    def __del__(self) -> None:
        if self._pid == os.getpid():
            self._close()
