"""The one engine behind the HTTP pump and the CLI pump.

A pump run streams records in batches from a :class:`RecordFactory` to a publisher and
counts, per workload, what the broker confirmed (``sent``) and what it did not
(``failed``). Nothing is held beyond one batch, so a run of a million items needs no
more memory than a run of a thousand. A run stops at the first broker error: every
item not confirmed by then is counted as failed, so ``sent + failed == count`` always.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from kedasuite.errors import InputError, SuiteError
from kedasuite.names import Env
from producers.records import RecordFactory, UserRecord, new_id_prefix
from producers.workloads import Publisher


def validate_count(raw: object, max_count: int) -> int:
    """The item count of a pump request, or an :class:`InputError` that says what is allowed."""
    allowed = f"an integer from 1 to {max_count}"
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise InputError(f"count is required: pass count=N with N {allowed}")
    if isinstance(raw, bool):
        raise InputError(f"count must be {allowed}, got {raw!r}")
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        try:
            value = int(text, 10)
        except ValueError:
            raise InputError(f"count must be {allowed}, got {text!r}") from None
    if value < 1:
        raise InputError(f"count must be {allowed}, got {value}")
    if value > max_count:
        raise InputError(f"count must be {allowed}, got {value} (the limit is set by {Env.PUMP_MAX_COUNT})")
    return value


def batches(records: Iterator[UserRecord], size: int) -> Iterator[list[UserRecord]]:
    while batch := list(islice(records, size)):
        yield batch


@dataclass
class StreamStatus:
    """One workload's share of a run. Updated by the pumping thread, read by anyone."""

    workload: str
    count: int
    id_prefix: str
    sent: int = 0
    failed: int = 0
    done: bool = False
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.sent / elapsed if elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "count": self.count,
            "id_prefix": self.id_prefix,
            "sent": self.sent,
            "failed": self.failed,
            "done": self.done,
            "error": self.error,
            "elapsed_s": round(self.elapsed, 3),
            "rate": round(self.rate, 1),
        }


def pump_stream(
    publisher: Publisher,
    factory: RecordFactory,
    status: StreamStatus,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> StreamStatus:
    """Send ``status.count`` records; on a broker error, stop and count the rest as failed."""
    status.started = time.monotonic()
    try:
        for batch in batches(factory.records(status.count, status.id_prefix), batch_size):
            status.sent += publisher.publish(batch)
            if on_batch:
                on_batch(len(batch))
            if publisher.error:
                break
    except SuiteError as exc:
        status.error = exc.message
    except Exception as exc:  # noqa: BLE001 - reported in the run status, never swallowed
        status.error = f"{type(exc).__name__}: {exc}"
    finally:
        status.sent += publisher.flush()
        status.error = status.error or publisher.error
        status.failed = status.count - status.sent
        status.finished = time.monotonic()
        status.done = True
    return status


@dataclass
class PumpRun:
    """A request to pump ``count`` items into one or more workloads."""

    id: str
    count: int
    seed: int | None
    streams: list[StreamStatus]
    created_at: float = field(default_factory=time.time)

    @property
    def done(self) -> bool:
        return all(s.done for s in self.streams)

    @property
    def state(self) -> str:
        if not self.done:
            return "running"
        return "failed" if any(s.failed for s in self.streams) else "succeeded"

    def to_json(self) -> dict[str, Any]:
        sent = sum(s.sent for s in self.streams)
        elapsed = max((s.elapsed for s in self.streams), default=0.0)
        return {
            "id": self.id,
            "state": self.state,
            "count": self.count,
            "seed": self.seed,
            "sent": sent,
            "failed": sum(s.failed for s in self.streams),
            "done": self.done,
            "elapsed_s": round(elapsed, 3),
            "rate": round(sent / elapsed, 1) if elapsed > 0 else 0.0,
            "workloads": {s.workload: s.to_json() for s in self.streams},
        }


class RunRegistry:
    """The runs one pump process knows about, newest last; old finished runs are dropped."""

    def __init__(self, keep: int = 1000) -> None:
        self._runs: dict[str, PumpRun] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def add(self, run: PumpRun) -> None:
        with self._lock:
            self._runs[run.id] = run
            finished = [rid for rid, r in self._runs.items() if r.done]
            for rid in finished[: max(0, len(self._runs) - self._keep)]:
                del self._runs[rid]

    def get(self, run_id: str) -> PumpRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def running(self) -> int:
        with self._lock:
            return sum(1 for r in self._runs.values() if not r.done)

    def in_progress(self) -> list[PumpRun]:
        with self._lock:
            return [r for r in self._runs.values() if not r.done]


def new_run(count: int, workloads: list[str], seed: int | None, id_prefix: str | None = None) -> PumpRun:
    run_id = id_prefix or new_id_prefix()
    streams = [
        StreamStatus(w, count, run_id if len(workloads) == 1 else f"{run_id}-{w}") for w in workloads
    ]
    return PumpRun(id=run_id, count=count, seed=seed, streams=streams)
