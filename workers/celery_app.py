"""The Celery workload: a worker that KEDA scales on the ``celery`` list.

Settings chosen so that scale-down and crashes lose nothing:

* ``task_acks_late``: a message is acknowledged after the task ran, not when received;
  until then kombu keeps it in the ``unacked`` hash.
* ``task_reject_on_worker_lost``: a pool process killed mid-task (OOM) sends its message
  back to the queue instead of acknowledging it.
* ``worker_prefetch_multiplier = 1``: each process reserves one message, so a busy pod
  does not hoard a backlog that a new pod could have taken. ``CELERY_PREFETCH_MULTIPLIER``
  and ``CELERY_ACKS_LATE`` bring back Celery's own defaults (4, early acks) for
  ``kedasuite scenario celery-prefetch``, which shows what they hide from KEDA.
* A message the broker hands out again (restored from ``unacked``: its worker was stopped
  holding it, or killed) is counted in ``redelivered:celery``.
* ``visibility_timeout``: a message unacknowledged for this long (its pod was SIGKILLed)
  is handed to another worker. It must exceed the longest task, which the worker checks
  at start-up.
* SIGTERM (Kubernetes' scale-down) is Celery's warm shutdown: running tasks finish,
  and the reserved ones go back to the list when the channel closes. Every broker command
  has a socket timeout (:data:`BROKER_SOCKET_TIMEOUT_S`), so a Redis that stops answering
  cannot hold that shutdown for ever.
* The transport (``workers/celery_transport.py``) fetches atomically: a message taken off
  ``celery`` is in Redis at every instant until it is acknowledged, so a SIGKILL at any
  moment leaves it to be redelivered.

``celery -A kedasuite.workers.celery_app worker`` works too; it reads the same environment.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import redis
from celery import Celery

from kedasuite.core import defaults, metrics
from kedasuite.core.clients import redis_client
from kedasuite.core.config import redis_url_from_env
from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_QUEUE, CELERY_TASK, WORKLOAD_CELERY, Env
from kedasuite.core.results import PoisonMessage, ResultStore, validate_record, worker_identity
from kedasuite.core.settings import CeleryWorkerSettings, env_flag, redis_tls_options
from kedasuite.core.worktime import WorkTime, parse_work_time
from kedasuite.workers.celery_transport import DEAD_LETTER_TASK

log = logging.getLogger(__name__)

app = Celery("workers")

#: Longest the worker waits for Redis to answer one broker command. kombu's default is none:
#: a Redis gone silent without closing the connection (frozen, failing over, partitioned away)
#: held a warm shutdown for ever in the remote-control channel's close, which Celery leaves
#: unbounded (``WorkController._shutdown``). An idle worker's shutdown against a silent Redis
#: makes about three such waits. The same 5 s Celery gives a cold shutdown's broker sockets; a
#: live Redis answers in milliseconds (the fetch's own wait is read only once readable).
BROKER_SOCKET_TIMEOUT_S = 5.0


def restore_interval_for(visibility_timeout: int) -> int:
    """Seconds between sweeps for expired unacked messages and silent consumers' fetch lists.

    A quarter of the visibility timeout (1 to 10 s): a SIGKILLed worker's task is back on
    the list at most ``visibility_timeout + interval`` after it was delivered, and a
    message it had only fetched at most ``fetch_lease + interval`` after it went silent.
    """
    return max(1, min(10, visibility_timeout // 4))


def redelivery_bound(visibility_timeout: int) -> float:
    """Longest a SIGKILLed worker's message can take to be back on ``celery``.

    Delivered (in ``unacked``): the visibility timeout, then the next sweep; fetched but not
    yet claimed: the fetch lease, then the next sweep. A sweeper killed holding the restore
    lock delays the next by at most two intervals (the lock's expiry).
    """
    from kedasuite.workers.celery_transport import DEFAULT_FETCH_LEASE

    return max(visibility_timeout, DEFAULT_FETCH_LEASE) + 3 * restore_interval_for(visibility_timeout)


def configure(
    celery_app: Celery,
    redis_url: str,
    work_time: WorkTime,
    visibility_timeout: int,
    prefetch_multiplier: int = defaults.CELERY_PREFETCH_MULTIPLIER,
    acks_late: bool = defaults.CELERY_ACKS_LATE,
) -> None:
    if visibility_timeout <= work_time.max_seconds:
        raise InputError(
            f"{Env.CELERY_VISIBILITY_TIMEOUT} ({visibility_timeout} s) must be longer than the longest task "
            f"({work_time.max_seconds:g} s from {Env.WORK_TIME}={work_time}), or a slow task is delivered twice"
        )
    restore_interval = restore_interval_for(visibility_timeout)
    celery_app.conf.update(
        broker_url=redis_url,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # Kombu looks for expired messages every interval x throttle seconds, 100 s by
            # default; a killed pod's task would wait that long on top of the timeout.
            "unacked_restore_interval": restore_interval,
            "unacked_restore_throttle": 1,
            # The sweep's lock: kombu's 300 s default let one worker killed while holding
            # it stall every redelivery for five minutes. Two sweeps at once are harmless.
            "unacked_mutex_expire": 2 * restore_interval,
            "socket_connect_timeout": defaults.CONNECT_TIMEOUT_S,
            "socket_timeout": BROKER_SOCKET_TIMEOUT_S,
        },
        # Poison on the list is parked, not fatal (see workers/celery_transport.py).
        broker_transport="kedasuite.workers.celery_transport:Transport",
        # rediss://: the same CA, client certificate and verification as every other client.
        broker_use_ssl=redis_tls_options(redis_url) or None,
        broker_connection_retry_on_startup=True,
        task_default_queue=CELERY_QUEUE,
        task_acks_late=acks_late,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=prefetch_multiplier,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        accept_content=["json"],
        task_serializer="json",
        suite_work_time=str(work_time),
    )


configure(
    app,
    redis_url_from_env(),
    parse_work_time(os.environ.get(Env.WORK_TIME, defaults.WORK_TIME)),
    int(os.environ.get(Env.CELERY_VISIBILITY_TIMEOUT, defaults.CELERY_VISIBILITY_TIMEOUT)),
    int(os.environ.get(Env.CELERY_PREFETCH_MULTIPLIER, defaults.CELERY_PREFETCH_MULTIPLIER)),
    env_flag(os.environ.get(Env.CELERY_ACKS_LATE, str(defaults.CELERY_ACKS_LATE))),
)

_store: tuple[int, ResultStore] | None = None


def _results() -> ResultStore:
    """One result store per pool process, made after the fork (sockets do not survive it)."""
    global _store
    if _store is None or _store[0] != os.getpid():
        client: redis.Redis = redis_client(app.conf.broker_url)
        _store = (os.getpid(), ResultStore(client, WORKLOAD_CELERY))
    return _store[1]


@app.task(name=CELERY_TASK)
def process_user(record: Any) -> str:
    """Simulate work on one user record, then record the result (once)."""
    with metrics.working(WORKLOAD_CELERY):
        return _process_user(record)


def _process_user(record: Any) -> str:
    store = _results()
    if (process_user.request.delivery_info or {}).get("redelivered"):
        store.count_redelivered()
    try:
        user = validate_record(record)
    except PoisonMessage as exc:
        store.park(record, str(exc))
        log.warning("dead-lettered a poison record: %s", exc)
        return "dead-lettered"
    seconds = parse_work_time(app.conf.suite_work_time).sample()
    log.info("processing %s for %.2f s as %s", user["id"], seconds, worker_identity())
    time.sleep(seconds)
    written = store.save(user)
    return "saved" if written else "duplicate"


@app.task(name=DEAD_LETTER_TASK)
def dead_letter(payload: str, reason: str) -> str:
    """Park a list entry the transport turned away (not a runnable message) with its reason."""
    _results().park(payload, reason)
    log.warning("dead-lettered a poison message: %s", reason)
    return "dead-lettered"


def worker_options(
    concurrency: int, loglevel: str, nodename: str, prefetch_multiplier: int = defaults.CELERY_PREFETCH_MULTIPLIER
) -> dict[str, Any]:
    """The worker's options, named as ``celery worker`` names them: one queue, no chatter
    between workers.

    Gossip, mingle and heartbeats make workers talk to each other at start-up; a pod
    that KEDA just created should start consuming at once instead.
    """
    return {
        "queues": CELERY_QUEUE,
        "concurrency": concurrency,
        "loglevel": loglevel,
        "hostname": nodename,
        "pool": "prefork",
        "prefetch_multiplier": prefetch_multiplier,
        "without_gossip": True,
        "without_mingle": True,
        "without_heartbeat": True,
    }


def worker_argv(
    concurrency: int, loglevel: str, nodename: str, prefetch_multiplier: int = defaults.CELERY_PREFETCH_MULTIPLIER
) -> list[str]:
    """:func:`worker_options` as arguments for ``app.worker_main`` (the benchmark's stock worker)."""
    options = worker_options(concurrency, loglevel, nodename, prefetch_multiplier)
    flags = (f"--{name.replace('_', '-')}" + ("" if value is True else f"={value}") for name, value in options.items())
    return ["worker", *flags]


def run(settings: CeleryWorkerSettings) -> None:
    """Run one Celery worker on the suite's transport; SIGTERM finishes running tasks, then exits.

    The worker is built as ``celery worker`` builds it (``app.Worker`` with :func:`worker_options`),
    without going through Celery's command line: that would import its whole CLI (an
    interactive shell's libraries among it), a fifth of a second of CPU at every pod's start,
    and a kill storm starts hundreds of them.
    """
    from celery import concurrency
    from celery.utils.nodenames import default_nodename, host_format

    metrics.serve_worker_metrics(
        settings.metrics_port, WORKLOAD_CELERY
    )  # before the pool forks: it inherits the directory
    metrics.announce_ready()
    configure(
        app,
        settings.redis_url,
        parse_work_time(settings.work_time),
        settings.visibility_timeout,
        settings.prefetch_multiplier,
        settings.acks_late,
    )
    options = worker_options(
        settings.concurrency,
        settings.loglevel,
        settings.name or f"celery.{os.getpid()}@%h",
        settings.prefetch_multiplier,
    )
    # What the command line's option types would make of them: a list of queues, the node name
    # with %h expanded, the pool's class.
    pool = options.pop("pool")
    options.update(
        queues=[options["queues"]],
        hostname=host_format(default_nodename(options["hostname"])),
        pool_cls=concurrency.get_implementation(pool),
    )
    worker = app.Worker(**options)
    worker.start()
    raise SystemExit(worker.exitcode)
