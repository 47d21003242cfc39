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

from kedasuite.core.errors import InputError, SuiteError
from kedasuite.core.names import Env
from kedasuite.core.settings import PumpSettings
from kedasuite.producers import profiles
from kedasuite.producers import workloads as wl
from kedasuite.producers.profiles import Profile
from kedasuite.producers.records import RecordFactory, UserRecord, new_id_prefix
from kedasuite.producers.workloads import Publisher


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
    #: A paced run's shape (:mod:`kedasuite.producers.profiles`); None: as fast as the broker takes it.
    profile: Profile | None = None
    #: Paced runs: the largest shortfall against the schedule, in items, and whether it mattered.
    max_behind: int = 0

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.sent / elapsed if elapsed > 0 else 0.0

    @property
    def asked_rate(self) -> float | None:
        if self.profile is None:
            return None
        return self.count / self.profile.time_of(self.count) if self.profile.time_of(self.count) > 0 else None

    @property
    def kept_up(self) -> bool:
        """A paced stream kept up when it finished within 5 % (and a quarter second) of its schedule."""
        if self.profile is None or not self.done or self.failed:
            return True
        planned = self.profile.time_of(self.count)
        return self.elapsed <= planned * 1.05 + 0.25

    def pace_note(self) -> str | None:
        """``could not keep up: ...`` when a paced stream fell behind its schedule, else None."""
        if self.kept_up or self.asked_rate is None:
            return None
        return (
            f"could not keep up: asked {self.asked_rate:,.0f}/s on average, achieved {self.rate:,.0f}/s "
            f"(at most {self.max_behind} items behind the schedule)"
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
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
        if self.profile is not None:
            asked = self.asked_rate
            body.update(
                profile=self.profile.spec,
                asked_rate=round(asked, 1) if asked else None,
                behind_items=self.max_behind,
                kept_up=self.kept_up,
                note=self.pace_note(),
            )
        return body


def pump_stream(
    publisher: Publisher,
    factory: RecordFactory,
    status: StreamStatus,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> StreamStatus:
    """Send ``status.count`` records; on a broker error, stop and count the rest as failed.

    With ``status.profile`` the records go out as they fall due (see :mod:`kedasuite.producers.profiles`):
    each round sends what is due, at most ``batch_size`` at a time, then waits for the next
    item's time; ``stop`` (an Event) ends the wait and the run early.
    """
    status.started = time.monotonic()
    try:
        records = factory.records(status.count, status.id_prefix)
        chunks = (
            batches(records, batch_size)
            if status.profile is None
            else _paced(records, status, batch_size, stop or threading.Event())
        )
        for batch in chunks:
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


def _paced(
    records: Iterator[UserRecord], status: StreamStatus, batch_size: int, stop: threading.Event
) -> Iterator[list[UserRecord]]:
    """Batches of what is due, against the schedule's cumulative count (no drift)."""
    profile = status.profile
    assert profile is not None
    handed = 0
    while handed < status.count and not stop.is_set():
        now = time.monotonic() - status.started
        due = min(profile.due(now), status.count)
        status.max_behind = max(status.max_behind, due - handed)
        if due > handed:
            batch = list(islice(records, min(due - handed, batch_size)))
            if not batch:
                return
            handed += len(batch)
            yield batch
            continue
        stop.wait(max(0.0, profile.time_of(handed + 1) - (time.monotonic() - status.started)))


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


def pump_all(
    run: PumpRun,
    publishers: list[Publisher],
    batch_size: int,
    on_progress: Callable[[StreamStatus], None] = lambda _s: None,
    on_batch: Callable[[StreamStatus, int], None] = lambda _s, _n: None,
) -> None:
    """Pump every stream of ``run``, closing each publisher; paced streams run side by side.

    Unpaced streams go one after the other (each already saturates its broker); paced ones
    must keep their schedules at the same time, so each gets a thread. When the wait for those
    threads is interrupted (Ctrl-C), their schedules end too: each sends no more, flushes and
    closes its publisher, instead of keeping the process alive until its schedule's end.
    """
    stop = threading.Event()

    def one(stream: StreamStatus, publisher: Publisher) -> None:
        def batch_done(n: int) -> None:
            on_batch(stream, n)
            on_progress(stream)

        try:
            pump_stream(publisher, RecordFactory(run.seed), stream, batch_size, on_batch=batch_done, stop=stop)
        finally:
            publisher.close()
            on_progress(stream)

    pairs = list(zip(run.streams, publishers))
    if any(s.profile is not None for s in run.streams) and len(pairs) > 1:
        threads = [threading.Thread(target=one, args=pair, name=f"pump-{pair[0].workload}") for pair in pairs]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            stop.set()
    else:
        for pair in pairs:
            one(*pair)


def new_run(
    count: int, workloads: list[str], seed: int | None, id_prefix: str | None = None, profile: Profile | None = None
) -> PumpRun:
    run_id = id_prefix or new_id_prefix()
    streams = [
        StreamStatus(w, count, run_id if len(workloads) == 1 else f"{run_id}-{w}", profile=profile) for w in workloads
    ]
    return PumpRun(id=run_id, count=count, seed=seed, streams=streams)


def parse_seed(raw: object) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return int(str(raw).strip(), 10)
    except ValueError:
        raise InputError(f"seed must be an integer, got {str(raw)!r}") from None


def prepare_run(
    settings: PumpSettings,
    count: object,
    workload: str | None,
    seed: object = None,
    id_prefix: str | None = None,
    rate: object = None,
    duration: object = None,
    profile: object = None,
    default_count: int | None = None,
    any_workload: bool = False,
) -> tuple[PumpRun, list[wl.Publisher]]:
    """Validate a request and check its brokers; nothing is sent unless all of it is sound.

    Shared by the HTTP pump and the CLI pump, so both refuse the same input with the same words.
    A load shape (``rate`` with ``duration`` or ``count``, or ``profile``) decides the count
    unless ``count`` caps it; without one, a missing count is ``default_count`` (the CLI's)
    or an error (the HTTP pump's). ``any_workload``: a one-shot pump may name any known
    workload whose broker is configured, not only those a server was set up to serve.
    """
    shaped = any(profiles.given(v) for v in (rate, duration, profile))
    if not shaped and not profiles.given(count) and default_count is not None:
        count = default_count
    n = validate_count(count, settings.max_count) if profiles.given(count) or not shaped else None
    shape = profiles.resolve(rate, duration, profile, n)
    if shape is not None:
        total = shape.total if n is None else min(n, shape.total)
        n = validate_count(total, settings.max_count) if n is None else total
    assert n is not None
    names = wl.resolve(workload, settings.workloads, settings.default_workload, any_known=any_workload)
    seed_value = parse_seed(seed)
    publishers = [wl.make_publisher(name, settings.brokers) for name in names]
    try:
        for publisher in publishers:
            publisher.check()
    except SuiteError:
        for publisher in publishers:
            publisher.close()
        raise
    return new_run(n, names, seed_value, id_prefix, shape), publishers
