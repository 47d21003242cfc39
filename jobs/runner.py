"""The Job runner: what each pod of a Kubernetes Job (or KEDA ScaledJob) runs.

It leases items until there is nothing left to do, then exits 0 so the Job completes:

* the queue is **empty** (nothing pending and nothing in flight), or
* ``max_items`` were processed (a ScaledJob usually creates one Job per item or few), or
* ``idle_timeout`` passed with nothing to lease. While other runners hold items, this
  one keeps polling: if one of them dies, its lease expires and the item comes back here.

SIGTERM (the Job was deleted, or its node drains): the item in hand is finished if the
simulated work left fits in ``grace_period``, otherwise its lease is released at once so
another pod can take it; then the runner exits 0. With Redis unreachable it does not wait for
it (``REDIS_RETRY_SECONDS`` is longer than a pod's grace period): it exits 0 at once, and the
lease in hand expires and its item is re-queued.

``start_delay`` stands for a pod that runs but takes a while before it takes work (loading a
model, warming a cache): the runner waits that long, then creates ``ready_file`` (the local
autoscaler's readiness probe) and leases its first item. ``kedasuite scenario
scaledjob-duplicates`` shows what such pods do to a ScaledJob's ``accurate`` strategy.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import redis

from kedasuite.core import defaults, metrics
from kedasuite.core.clients import stop_retrying
from kedasuite.core.names import WORKLOAD_WORKQUEUE
from kedasuite.core.results import PoisonMessage, item_key, record_key, result_fields, validate_record, worker_identity
from kedasuite.core.settings import LOG_FORMAT, WorkQueueJobSettings
from kedasuite.core.stopping import StopFlag
from kedasuite.core.worktime import WorkTime
from kedasuite.jobs.workqueue import Lease, LeaseAttempt, Outcome, WorkQueue

log = logging.getLogger(__name__)


class SimulatedFailure(RuntimeError):
    """Raised for items matching ``--fail-pattern``: shows retries and the dead-letter list."""


@dataclass
class Summary:
    processed: int = 0
    duplicates: int = 0
    lost_leases: int = 0
    failed: int = 0
    dead_lettered: int = 0
    released: int = 0
    reason: str = ""


def parse_item(raw: bytes, token: str) -> tuple[str, dict[str, str]]:
    """(result key, record) for an item: a JSON user record, or any other text as it is.

    A JSON object that is not a valid user record is poison: no retry can fix it.
    """
    text = raw.decode("utf-8", "backslashreplace")
    try:
        data: Any = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: plain text
        data = None
    if isinstance(data, dict):
        record = validate_record(data)
        return record_key(record["id"]), record
    return item_key(token), {"item": text}


class Runner:
    def __init__(
        self,
        queue: WorkQueue,
        work_time: WorkTime,
        *,
        max_items: int | None = None,
        idle_timeout: float = defaults.WORKQUEUE_IDLE_TIMEOUT,
        grace_period: float = defaults.WORKQUEUE_GRACE_PERIOD,
        fail_pattern: str | None = None,
        poll_interval: float = 0.5,
        holder: str | None = None,
    ) -> None:
        self.queue = queue
        self.work_time = work_time
        self.max_items = max_items
        self.idle_timeout = idle_timeout
        self.grace_period = grace_period
        self.fail_pattern = re.compile(fail_pattern) if fail_pattern else None
        self.poll_interval = poll_interval
        self.holder = holder or worker_identity()
        self.summary = Summary()
        #: Set by the SIGTERM handler: a StopFlag, as the main thread waits on it (see kedasuite.core.stopping).
        self._stop = StopFlag()
        self._finished = threading.Event()
        self._current: Lease | None = None
        self._lock = threading.Lock()

    def stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        self._stop.set()
        stop_retrying()  # a call waiting for a lost Redis gives up (see run)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _renew_loop(self) -> None:
        """Keep the lease in hand alive: renew every third of the lease time."""
        interval = self.queue.lease_ms / 3000
        while not self._finished.wait(interval):
            # Under the lock: the main thread lets go of a lease (below) before ending it,
            # so a refused renewal here really means the lease was lost.
            with self._lock:
                lease = self._current
                if lease is None:
                    continue
                try:
                    if not self.queue.renew(lease):
                        log.warning("lease on item %s was lost before it could be renewed", lease.token)
                except (redis.ConnectionError, redis.TimeoutError) as exc:  # the next renewal tries again
                    log.warning("could not renew the lease on item %s: Redis is unreachable (%s)", lease.token, exc)

    def run(self) -> Summary:
        try:
            return self._run()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not self._stop.is_set():
                raise
            self.summary.reason = (
                f"stopped by signal with Redis unreachable ({exc}): a lease in hand expires and its item is re-queued"
            )
            log.warning("exiting (%s): %s", self.summary.reason, self.summary)
            return self.summary
        finally:
            self._finished.set()

    def start_up(self, seconds: float, ready_file: str | None) -> None:
        """The pod's start-up before it takes work; then it is ready (``ready_file`` created)."""
        if seconds > 0:
            log.info("starting up for %g s before the first lease", seconds)
            self._stop.wait(seconds)
        if ready_file:
            Path(ready_file).parent.mkdir(parents=True, exist_ok=True)
            Path(ready_file).touch()

    def _run(self) -> Summary:
        threading.Thread(target=self._renew_loop, name="lease-renewal", daemon=True).start()
        handled = 0
        idle_since: float | None = None
        attempt: LeaseAttempt | None = None  # the next lease, when completing fetched it
        while not self._stop.is_set():
            if self.max_items is not None and handled >= self.max_items:
                self.summary.reason = f"processed --max-items={self.max_items}"
                break
            attempt = attempt or self.queue.lease(self.holder)
            metrics.count_dead_lettered(WORKLOAD_WORKQUEUE, attempt.dead)
            if attempt.requeued or attempt.dead:
                log.info("reaped expired leases: %d re-queued, %d dead-lettered", attempt.requeued, attempt.dead)
            if attempt.lease is None:
                if attempt.state == "empty":
                    self.summary.reason = "queue empty"
                    break
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= self.idle_timeout:
                    self.summary.reason = f"idle for {self.idle_timeout:g} s while others hold the remaining items"
                    break
                self._stop.wait(self.poll_interval)
                attempt = None
                continue
            idle_since = None
            handled += 1
            wants_more = self.max_items is None or handled < self.max_items
            with metrics.working(WORKLOAD_WORKQUEUE):
                attempt = self._process(attempt.lease, wants_more)
        if self._stop.is_set() and not self.summary.reason:
            self.summary.reason = "stopped by signal"
        log.info("exiting (%s): %s", self.summary.reason, self.summary)
        return self.summary

    def _let_go(self) -> None:
        """Stop renewing the lease in hand: it is about to be completed, failed or released."""
        with self._lock:
            self._current = None

    def _process(self, lease: Lease, wants_more: bool) -> LeaseAttempt | None:
        """Process one item; when it completes and more are wanted, also lease the next."""
        with self._lock:
            self._current = lease
        try:
            try:
                key, record = parse_item(lease.item, lease.token)
            except PoisonMessage as exc:
                self._let_go()
                self.queue.fail(lease, str(exc), permanent=True)
                self.summary.dead_lettered += 1
                metrics.count_dead_lettered(WORKLOAD_WORKQUEUE)
                log.warning("dead-lettered item %s: %s", lease.token, exc)
                return None
            seconds = self.work_time.sample()
            log.info(
                "processing item %s (attempt %d) for %.2f s as %s", lease.token, lease.attempts, seconds, self.holder
            )
            if not self._work(seconds):
                self._let_go()
                self.queue.release(lease)
                self.summary.released += 1
                log.info("released item %s: it needs more than the %g s grace period", lease.token, self.grace_period)
                return None
            try:
                if self.fail_pattern and self.fail_pattern.search(lease.item.decode("utf-8", "replace")):
                    raise SimulatedFailure(f"simulated failure: item matches {self.fail_pattern.pattern!r}")
            except SimulatedFailure as exc:
                self._let_go()
                outcome = self.queue.fail(lease, str(exc))
                self.summary.failed += 1
                self.summary.dead_lettered += outcome == "dead"
                metrics.count_failed(WORKLOAD_WORKQUEUE)
                metrics.count_dead_lettered(WORKLOAD_WORKQUEUE, int(outcome == "dead"))
                log.warning("item %s failed (attempt %d, %s): %s", lease.token, lease.attempts, outcome, exc)
                return None
            fields = result_fields(record, WORKLOAD_WORKQUEUE, self.holder)
            self._let_go()
            following: LeaseAttempt | None = None
            if wants_more and not self._stop.is_set():
                done, following = self.queue.complete_and_lease(lease, key, fields)
            else:
                done = self.queue.complete(lease, key, fields)
            if done is Outcome.NOT_HOLDER:
                self.summary.lost_leases += 1
                log.warning("item %s: lease lost (expired and re-queued); not completing", lease.token)
            elif done is Outcome.DUPLICATE:
                self.summary.duplicates += 1
                metrics.count_duplicate(WORKLOAD_WORKQUEUE)
            else:
                self.summary.processed += 1
                metrics.count_processed(WORKLOAD_WORKQUEUE)
            return following
        finally:
            self._let_go()

    def _work(self, seconds: float) -> bool:
        """Simulate the work. False when a stop came and the rest would not fit the grace period."""
        deadline = time.monotonic() + seconds
        if self._stop.wait(seconds):
            remaining = deadline - time.monotonic()
            if remaining > self.grace_period:
                return False
            time.sleep(max(0.0, remaining))
        return True


def run(settings: WorkQueueJobSettings) -> tuple[Runner, Summary]:
    """Run one Job pod's runner: lease and process items until the queue is empty."""
    from kedasuite.core.clients import check_redis, redis_client
    from kedasuite.core.worktime import parse_work_time

    logging.basicConfig(level=settings.loglevel.upper(), format=LOG_FORMAT)
    metrics.serve_worker_metrics(settings.metrics_port, WORKLOAD_WORKQUEUE)
    client = redis_client(settings.redis_url)
    check_redis(client, settings.redis_url)
    runner = Runner(
        WorkQueue(client, max_attempts=settings.max_attempts, lease_seconds=settings.lease_seconds),
        parse_work_time(settings.work_time),
        max_items=settings.max_items,
        idle_timeout=settings.idle_timeout,
        grace_period=settings.grace_period,
        fail_pattern=settings.fail_pattern,
    )
    runner.install_signal_handlers()
    runner.start_up(settings.start_delay, settings.ready_file)
    summary = runner.run()
    # The work is done and nothing is held: a stop request from now on changes nothing. Python
    # puts the default handlers back while it shuts down, so without this a SIGTERM landing in
    # those milliseconds would turn a clean exit 0 into a kill (-15).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return runner, summary
