"""Chaos without loss: workers killed and replaced while they work, for every workload.

Three workers, 1,000 items. Each time roughly another ninth of the items is done, a random
working worker is SIGKILLed (a pod lost with its node: the whole process tree at once) and a
new one started, six times (the kills keep pace with the work, not with how long a start
takes); once, a worker is SIGTERMed instead and not replaced (KEDA's
scale-down). At the end every id must have a result (0 lost); duplicates are counted and
may not exceed the items that were in hand when workers were killed (Kafka, which commits
every 100 ms: each must have been done by a victim, within its last moments of work); every
worker still running must stop on SIGTERM (no worker hung). The figures go to the summary table at the
end of the run (``tests/conftest.py``).
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import redis

from kedasuite.core.results import fetch_results
from kedasuite.core.settings import KafkaSettings
from kedasuite.jobs.workqueue import redelivery_bound as workqueue_bound
from kedasuite.producers.records import record_ids
from kedasuite.workers.celery_app import redelivery_bound as celery_bound
from kedasuite.workers.kafka_consumer import redelivery_bound as kafka_bound
from kedasuite.workers.kafka_consumer import repeat_bound
from kedasuite.workers.rq_queue import redelivery_bound as rq_bound
from tests.support import FAULT_ROWS, KAFKA_FAILOVER_ENV, Proc, describe_procs, pump, wait_for
from tests.support.storm import repeats_unexplained, worker_name
from tests.support.whereabouts import processed, wait_drained, wait_processed

pytestmark = [pytest.mark.integration, pytest.mark.faults]

COUNT = 1000
KILLS = 6
WORK_TIME = "uniform:0.02:0.06"


@dataclass
class Workload:
    name: str
    #: Items one killed worker can have in hand: processes x messages each holds.
    in_hand: int
    start: Callable[[], Proc]
    ready: str | None
    #: The longest a killed worker's item can take to come back, from the timings given to
    #: the workers below: the drain fails only after that long without progress.
    redelivery_bound: float
    #: Job runners exit when they find the queue empty: the items must be there first, and
    #: at the end they must exit on their own.
    pump_first: bool = False
    #: Seconds of a killed worker's finished work its successor may repeat (Kafka: the records
    #: done since its last confirmed commit); then the duplicates are checked against the kills
    #: (``tests/support/storm.py``, :func:`repeats_unexplained`) instead of ``in_hand``.
    repeat_window: float | None = None


def chaos(
    workload: Workload, client: redis.Redis, pump: Callable[[], None], seed: int, kafka: KafkaSettings | None = None
) -> None:
    rng = random.Random(seed)

    def ready(proc: Proc) -> bool:
        return workload.ready is None or re.search(workload.ready, proc.log()) is not None

    def a_ready_one() -> Proc:
        """A worker that is working (started up): the victim of a kill or of the SIGTERM."""
        wait_for(
            lambda: any(ready(w) for w in workers),
            60,
            f"a {workload.name} worker to be ready",
            seen=lambda: describe_procs(workers),
        )
        chosen = rng.choice([w for w in workers if ready(w)])
        workers.remove(chosen)
        return chosen

    began = time.monotonic()
    if workload.pump_first:
        pump()
    workers = [workload.start() for _ in range(3)]
    wait_for(
        lambda: all(ready(w) for w in workers),
        60,
        f"three {workload.name} workers ready",
        seen=lambda: describe_procs(w for w in workers if not ready(w)),
    )
    if not workload.pump_first:
        pump()
    kills = terms = 0
    killed: dict[str, float] = {}  # worker name -> wall-clock time of its SIGKILL
    step = COUNT // (KILLS + 3)
    mark = step
    while kills < KILLS:
        wait_processed(
            client, workload.name, mark, workload.redelivery_bound, f"{mark} results", lambda: describe_procs(workers)
        )
        if processed(client, workload.name) >= COUNT:
            break
        if kills == KILLS // 2 and not terms:
            leaving = a_ready_one()  # scale-down: SIGTERM, not replaced
            leaving.signal(signal.SIGTERM)
            code = leaving.wait(60, f"a SIGTERMed {workload.name} worker to stop")
            assert code == 0, f"a SIGTERMed worker did not stop cleanly: exit {code}\n{leaving.describe()}"
            terms += 1
        victim = a_ready_one()
        victim.signal(signal.SIGKILL)
        victim.wait(10, f"a SIGKILLed {workload.name} worker to go")
        killed[worker_name(victim)] = time.time()  # once gone: it did nothing after this
        kills += 1
        # The replacement starts while the others work on, not waited for: the kills keep pace
        # with the work (a mark every ninth of it), however long a start takes on a busy machine.
        workers.append(workload.start())
        mark += step
    wait_for(
        lambda: all(ready(w) for w in workers),
        60,
        f"the {workload.name} replacements ready",
        seen=lambda: describe_procs(w for w in workers if not ready(w)),
    )
    assert kills >= 5, f"only {kills} kills before the {workload.name} backlog was done; slow the work down"
    ids = record_ids(COUNT, f"chaos-{workload.name}")
    wait_drained(
        client,
        workload.name,
        ids,
        workload.redelivery_bound,
        kafka,
        f"after {kills} kills",
        lambda: describe_procs(workers),
    )
    results = fetch_results(client, ids)
    drained = time.monotonic() - began
    duplicates = sum(r.deliveries - 1 for r in results.values())
    window = workload.repeat_window
    bound = f"{window:g} s of work per kill" if window is not None else kills * workload.in_hand
    FAULT_ROWS.append(
        {
            "fault test": "kill and replace",
            "workload": workload.name,
            "kills": kills,
            "sigterms": terms,
            "lost": COUNT - len(results),
            "duplicates": duplicates,
            "interrupted (bound)": bound,
            "seconds to drain": f"{drained:.1f}",
        }
    )
    print(
        f"{workload.name}: {kills} kills, {terms} SIGTERM, 0 lost, {duplicates} duplicates "
        f"(bound {bound}), drained in {drained:.1f} s"
    )
    if window is None:
        assert duplicates <= kills * workload.in_hand
    else:
        unexplained = repeats_unexplained(results, killed, window)
        assert not unexplained, f"{len(unexplained)} duplicates no kill explains:\n" + "\n".join(unexplained[:20])
    for worker in workers:  # no worker hung: a runner exits by itself once drained; the others on SIGTERM
        if not workload.pump_first:
            worker.signal(signal.SIGTERM)
    for worker in workers:
        how = "once drained" if workload.pump_first else "on SIGTERM"
        code = worker.wait(60, f"a {workload.name} worker to exit {how}")
        assert code == 0, f"worker exited {code}:\n{worker.describe()}"


def pump_into(workload: str, redis_url: str, kafka: KafkaSettings | None = None) -> Callable[[], None]:
    def fill() -> None:
        pump(workload, COUNT, f"chaos-{workload}", redis_url=redis_url, kafka=kafka)

    return fill


def test_celery(spawn: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    # A killed worker's task comes back after the visibility timeout (5 s here), or the
    # fetch lease if it was only fetched, at the next sweep (whose lock lapses after two).
    visibility = 5
    bound = celery_bound(visibility)
    w = Workload(
        "celery",
        2,
        lambda: spawn(
            "worker",
            "celery",
            "--redis-url",
            redis_url,
            "--concurrency",
            "1",
            "--work-time",
            WORK_TIME,
            "--visibility-timeout",
            str(visibility),
        ),
        r"ready\.",
        bound,
    )
    chaos(w, redis_client, pump_into("celery", redis_url), 1)


def test_work_queue(spawn: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    # A killed runner's lease lapses after 2 s and the next lease call of another runner
    # takes the item back.
    w = Workload(
        "workqueue",
        1,
        lambda: spawn(
            "job",
            "workqueue",
            "--redis-url",
            redis_url,
            "--work-time",
            WORK_TIME,
            "--lease-seconds",
            "2",
            "--idle-timeout",
            "30",
        ),
        None,
        workqueue_bound(2),
        pump_first=True,
    )
    chaos(w, redis_client, pump_into("workqueue", redis_url), 2)


def test_rq(spawn: Callable[..., Proc], redis_url: str, redis_client: redis.Redis) -> None:
    # RQ calls a killed worker's job abandoned once its heartbeat is overdue by the grace
    # (a job caught between the queue and the started registry: INTERMEDIATE_GRACE_S),
    # found by a clean-up every maintenance interval.
    monitoring, maintenance = 1, 2
    bound = rq_bound(monitoring, maintenance)
    w = Workload(
        "rq",
        1,
        lambda: spawn(
            "worker",
            "rq",
            "--redis-url",
            redis_url,
            "--work-time",
            WORK_TIME,
            "--job-monitoring-interval",
            str(monitoring),
            "--maintenance-interval",
            str(maintenance),
        ),
        r"Listening on",
        bound,
    )
    chaos(w, redis_client, pump_into("rq", redis_url), 3)


def test_kafka(
    spawn: Callable[..., Proc],
    kafka: KafkaSettings,
    kafka_env: dict[str, str],
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    # A killed consumer's partitions move after the session timeout (6 s here; on Tansu the
    # group takes about half a session more to rebalance); its record in hand, and those it
    # did since its last confirmed commit, were not committed and are processed again (one
    # more second for the record in hand and a busy machine).
    env = {**kafka_env, **KAFKA_FAILOVER_ENV}
    args = ["--bootstrap-servers", kafka.bootstrap, "--topic", kafka.topic]
    w = Workload(
        "kafka",
        1,
        lambda: spawn(
            "worker",
            "kafka",
            *args,
            "--group",
            kafka.group,
            "--work-time",
            WORK_TIME,
            "--redis-url",
            redis_url,
            env=env,
        ),
        r"consuming ",
        kafka_bound(int(env["KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS"])),
        repeat_window=repeat_bound() + 1.0,
    )
    chaos(w, redis_client, pump_into("kafka", redis_url, kafka), 4, kafka)
