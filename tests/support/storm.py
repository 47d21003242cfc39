"""A kill storm: workers SIGKILLed at random moments, hundreds of times, while they work.

The chaos tests kill a handful of workers in the middle of slow tasks. A storm instead
kills *hundreds* of times with work that takes a millisecond or nothing, so the kills land
everywhere a worker spends its time: starting, fetching, claiming, working, saving,
acknowledging. That is where a fetch that is not atomic loses a message (kombu's stock
``BRPOP``, then ``HSET unacked``: 1 of 3,000 tasks lost in 40 kills).

One storm, for any workload:

* a backlog is pumped and topped up, so the workers always have work when they die;
* ``parallel`` workers run; three kills in four pick a worker that is consuming (its ready
  line is logged; waiting for one if none is) and kill it a random 0-250 ms later, the
  others pick any worker, perhaps still starting, and kill it 0-600 ms later; the whole
  process group goes (SIGKILL of every descendant, as a lost node), and a new worker is
  started in its place;
* then the storm stops and the workers drain the backlog. The drain has no fixed deadline:
  it fails only when no new result arrives for longer than the workload's own redelivery
  bound (from its configured timings), and its message says how many records are missing
  and where each one is (``tests/support/whereabouts.py``);
* a sampler measures the longest time one item stayed in flight (the worst redelivery
  delay, where the broker shows in-flight items).

``KILL_STORM`` sets the kills per workload (default 200), ``KILL_STORM_KAFKA`` Kafka's
(default 60, see :data:`KAFKA_KILLS`) and ``KILL_STORM_SEED`` the seed.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import redis

from kedasuite.core.results import Result, fetch_results
from kedasuite.core.settings import KafkaSettings
from kedasuite.producers.records import RecordFactory, record_ids
from kedasuite.producers.workloads import BrokerConfig, make_publisher
from tests.support import FAULT_ROWS, Proc, describe_procs, wait_for
from tests.support.whereabouts import processed, wait_drained

KILLS = int(os.environ.get("KILL_STORM", "200"))
SEED = int(os.environ.get("KILL_STORM_SEED", "20261201"))
#: Each Kafka kill is a consumer-group rebalance, 1 to 7 s on the embedded broker: 200 of
#: them take eight minutes, so the default run has fewer; KILL_STORM_KAFKA sets it.
KAFKA_KILLS = int(os.environ.get("KILL_STORM_KAFKA", str(min(KILLS, 60))))


@dataclass
class Target:
    """One workload under the storm."""

    name: str
    #: Start a worker in slot N (0 .. parallel-1); a replacement takes its victim's slot.
    start: Callable[[int], Proc]
    #: The log line of a worker that is consuming.
    ready: str
    #: The longest a killed worker's item can take to be processed again, from the
    #: workload's configured timings (visibility timeout, lease, session timeout, ...).
    redelivery_bound: float
    #: Ids of the items in flight right now (for the redelivery delay), if the broker shows them.
    in_flight: Callable[[redis.Redis], set[str]] | None = None
    kafka: KafkaSettings | None = None
    parallel: int = 2
    #: Items pumped per top-up, and the backlog below which the next one is pumped.
    batch: int = 300
    low_water: int = 100
    #: Seconds of a killed worker's finished work its successor may repeat (Kafka: the records
    #: done since its last confirmed commit); None: a kill repeats at most the one item in hand.
    repeat_window: float | None = None


@dataclass
class Outcome:
    kills: int
    kills_while_consuming: int
    pumped: int
    lost: int
    duplicates: int
    storm_seconds: float
    drain_seconds: float
    worst_in_flight: float | None
    ids: list[str] = field(repr=False, default_factory=list)
    repeat_window: float | None = None
    #: With a ``repeat_window``: the duplicates no kill explains (see :func:`repeats_unexplained`).
    unexplained: list[str] = field(default_factory=list)


class InFlightSampler(threading.Thread):
    """Every 100 ms: which items are in flight; keeps the longest any one stayed there."""

    def __init__(self, client: redis.Redis, in_flight: Callable[[redis.Redis], set[str]]) -> None:
        super().__init__(daemon=True)
        self.client, self.in_flight = client, in_flight
        self.first_seen: dict[str, float] = {}
        self.worst = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            try:
                now_in = self.in_flight(self.client)
            except redis.RedisError:
                continue
            now = time.monotonic()
            for key in now_in:
                self.first_seen.setdefault(key, now)
            for key in list(self.first_seen):
                if key not in now_in:
                    self.worst = max(self.worst, now - self.first_seen.pop(key))
        now = time.monotonic()
        self.worst = max([self.worst, *(now - t for t in self.first_seen.values())])


def storm(target: Target, client: redis.Redis, redis_url: str, kills: int = KILLS, seed: int = SEED) -> Outcome:
    rng = random.Random(f"{seed}-{target.name}")
    publisher = make_publisher(target.name, BrokerConfig(redis_url, target.kafka))
    factory = RecordFactory(seed)
    prefix = f"storm-{target.name}"
    pumped = 0

    def top_up() -> None:
        nonlocal pumped
        sent = publisher.publish(list(factory.records(target.batch, prefix, start=pumped + 1)))
        sent += publisher.flush()
        assert publisher.error is None, publisher.error
        pumped += target.batch

    sampler = InFlightSampler(client, target.in_flight) if target.in_flight else None
    if sampler:
        sampler.start()
    began = time.monotonic()
    top_up()
    workers = [target.start(slot) for slot in range(target.parallel)]
    ready_line = re.compile(target.ready)
    seen_ready: set[int] = set()

    def is_ready(worker: Proc) -> bool:
        """Consuming (its ready line is logged), or exited (a Job runner done: nothing to wait for)."""
        if id(worker) not in seen_ready and (worker.popen.poll() is not None or ready_line.search(worker.log())):
            seen_ready.add(id(worker))
        return id(worker) in seen_ready

    done = consuming = 0
    killed: dict[str, float] = {}  # worker name -> wall-clock time of its SIGKILL
    try:
        while done < kills:
            if pumped - processed(client, target.name) < target.low_water:
                top_up()
            if rng.random() < 0.75:  # a worker that is consuming: the fetch and ack paths
                # Looked for every 50 ms throughout: the next kill waits on this, 200 times.
                wait_for(
                    lambda: any(is_ready(w) for w in workers),
                    60,
                    f"a {target.name} worker's line {target.ready!r}",
                    longest_interval=0.05,
                    seen=lambda: describe_procs(workers),
                )
                index = rng.choice([i for i, w in enumerate(workers) if is_ready(w)])
                consuming += 1
                pause = rng.uniform(0, 0.25)
            else:  # any worker, perhaps still starting
                index = rng.randrange(len(workers))
                pause = rng.uniform(0, 0.6)
            victim = workers[index]
            # The kill moment itself is the random variable here, not a wait for something.
            threading.Event().wait(pause)
            if victim.popen.poll() is not None:  # a Job runner that found the queue empty: not a kill
                assert victim.popen.returncode == 0, f"a {target.name} worker failed:\n{victim.log()[-2000:]}"
                workers[index] = target.start(index)
                continue
            victim.signal(signal.SIGKILL)
            victim.wait(10, f"a SIGKILLed {target.name} worker to go")
            killed[worker_name(victim)] = time.time()  # once gone: it did nothing after this
            victim.stop()
            done += 1
            workers[index] = target.start(index)
        storm_seconds = time.monotonic() - began
        ids = record_ids(pumped, prefix)
        drained = time.monotonic()
        wait_drained(
            client,
            target.name,
            ids,
            target.redelivery_bound,
            target.kafka,
            f"after a storm of {done} kills (seed {seed})",
            lambda: describe_procs(workers),
        )
        drain_seconds = time.monotonic() - drained
    finally:
        if sampler:
            sampler.done.set()
            sampler.join(5)
        publisher.close()
    results = fetch_results(client, ids)
    for worker in workers:  # the survivors stop cleanly on SIGTERM, as on scale-down
        wait_for(
            lambda worker=worker: is_ready(worker),
            60,
            f"a {target.name} worker's line {target.ready!r} before its SIGTERM",
            seen=worker.describe,
        )
        worker.signal(signal.SIGTERM)
    for worker in workers:
        code = worker.wait(60, f"a {target.name} worker to exit on SIGTERM after the storm")
        assert code == 0, f"a {target.name} worker exited {code} on SIGTERM after the storm:\n{worker.describe()}"
    return Outcome(
        kills=done,
        kills_while_consuming=consuming,
        pumped=pumped,
        lost=pumped - len(results),
        duplicates=sum(r.deliveries - 1 for r in results.values()),
        storm_seconds=storm_seconds,
        drain_seconds=drain_seconds,
        worst_in_flight=sampler.worst if sampler else None,
        ids=ids,
        repeat_window=target.repeat_window,
        unexplained=repeats_unexplained(results, killed, target.repeat_window)
        if target.repeat_window is not None
        else [],
    )


def worker_name(proc: Proc) -> str:
    """The name a worker gives itself in its results (``kedasuite/core/results.py``: host name and pid)."""
    return f"{socket.gethostname()}:{proc.pid}"


def repeats_unexplained(results: Mapping[str, Result], killed: Mapping[str, float], window: float) -> list[str]:
    """The duplicates that no kill explains. A repeated item must have been first done by a
    worker that was then SIGKILLed (``killed``: :func:`worker_name` -> wall-clock time of its
    kill), before its kill, and the items each victim left to be repeated must span at most
    ``window`` seconds of its work. One line per item or victim that does not fit."""
    repeated: dict[str, list[tuple[float, str]]] = {}
    for record_id, result in results.items():
        if result.deliveries > 1:
            done = datetime.fromisoformat(result.processed_at).timestamp()
            repeated.setdefault(result.worker, []).append((done, record_id))
    found = []
    for worker, items in sorted(repeated.items()):
        items.sort()
        killed_at = killed.get(worker)
        if killed_at is None:
            found.extend(f"{record_id}: first done by {worker}, which was not killed" for _, record_id in items)
            continue
        found.extend(
            f"{record_id}: first done by {worker} {done - killed_at:.2f} s after its kill"
            for done, record_id in items
            if done > killed_at
        )
        span = items[-1][0] - items[0][0]
        if span > window:
            found.append(
                f"{worker}: its {len(items)} repeated items span {span:.2f} s of its work (more than "
                f"{window:g} s), {killed_at - items[0][0]:.2f} to {killed_at - items[-1][0]:.2f} s "
                "before its kill"
            )
    return found


def report(target: str, outcome: Outcome) -> None:
    """Add the storm's row to the fault table, print it, and assert 0 lost."""
    worst = "-" if outcome.worst_in_flight is None else f"{outcome.worst_in_flight:.1f}"
    window = "" if outcome.repeat_window is None else f", {outcome.repeat_window:g} s repeatable"
    FAULT_ROWS.append(
        {
            "fault test": "kill storm",
            "workload": target,
            "kills": outcome.kills,
            "sigterms": 0,
            "lost": outcome.lost,
            "duplicates": outcome.duplicates,
            "interrupted (bound)": f"{outcome.kills_while_consuming} ready{window}",
            "seconds to drain": f"{outcome.drain_seconds:.1f}",
            "worst in flight (s)": worst,
            "records": outcome.pumped,
            "storm seconds": f"{outcome.storm_seconds:.0f}",
        }
    )
    print(
        f"{target}: {outcome.kills} kills ({outcome.kills_while_consuming} of them consuming), seed {SEED}, "
        f"{outcome.pumped} records, {outcome.lost} lost, {outcome.duplicates} duplicates, storm "
        f"{outcome.storm_seconds:.0f} s, drained in {outcome.drain_seconds:.1f} s, worst in flight {worst} s"
    )
    assert outcome.lost == 0
    if outcome.repeat_window is None:
        # Each kill can interrupt at most the items its worker held (one here).
        assert outcome.duplicates <= outcome.kills
    else:
        assert not outcome.unexplained, (
            f"{len(outcome.unexplained)} of {outcome.duplicates} duplicates no kill "
            "explains:\n" + "\n".join(outcome.unexplained[:20])
        )


def timeout_for(kills: int, seconds_per_kill: float, redelivery_bound: float) -> float:
    """pytest-timeout for a storm: generous per kill (start-ups on a loaded machine), plus the drain."""
    return 120 + kills * seconds_per_kill + 4 * redelivery_bound
