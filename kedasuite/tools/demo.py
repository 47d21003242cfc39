"""The embedded demo: every workload scaled from 0 to N and back to 0 on one machine, no Docker.

It is the same path a cluster takes (a real redis-server, a real Kafka-protocol broker,
real Celery workers with a prefork pool, real consumer-group members, the pumps'
publishers), with KEDA and the HPA acted out by the local autoscaler
(:mod:`kedasuite.autoscale`): the model of their control loop reads the brokers as KEDA's
scalers do and starts and stops real worker processes (SIGTERM on scale-down, as the
kubelet does). The timings are shortened (:data:`DEMO_TIMINGS`) and said so; the demo
ends when every record is processed and every workload is back at 0, and prints each
workload's replica timeline and which process handled how many records.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from kedasuite.core import tansu
from kedasuite.core.clients import redis_client
from kedasuite.core.embedded import EmbeddedRedis, embedded_kafka
from kedasuite.core.names import WORKLOAD_KAFKA, Env
from kedasuite.core.results import fetch_results, record_key
from kedasuite.core.settings import KafkaSettings, redact_url
from kedasuite.core.workloads import workload as workload_row
from kedasuite.core.worktime import parse_work_time
from kedasuite.producers.engine import StreamStatus, new_run, pump_stream
from kedasuite.producers.profiles import Profile
from kedasuite.producers.records import RecordFactory, record_ids
from kedasuite.producers.workloads import BrokerConfig, make_publisher

#: KEDA's and the HPA's timings for the demo, instead of the manifests' (15 s polls, 200 s
#: cooldown, 15 s syncs, 300 s scale-down window): the same rules, minutes shorter.
DEMO_TIMINGS = {"polling_interval": 1.0, "cooldown_period": 3.0, "sync_period": 1.0, "stabilization_window": 2.0}
#: A Job's runners exit this long after the queue is empty (the work queue's idle timeout).
DEMO_JOB_IDLE_S = "2"
#: Celery's visibility timeout for the demo's workers, at least (above twice the longest task).
DEMO_VISIBILITY_TIMEOUT_S = 20
#: How often the replica counts are sampled for the timeline.
SAMPLE_S = 0.2


def _timeline(samples: Sequence[tuple[float, int]]) -> str:
    """``0 → 1 (1.2 s) → 3 (2.3 s) → 0 (9.8 s)``: each change of count and when."""
    if not samples:
        return "no sample"
    parts, last = [str(samples[0][1])], samples[0][1]
    for t, n in samples[1:]:
        if n != last:
            parts.append(f"{n} ({t:.1f} s)")
            last = n
    return " → ".join(parts)


def start_brokers(
    stack: contextlib.ExitStack,
    redis_url: str | None,
    kafka_bootstrap: str | None,
    need_kafka: bool,
    echo: Callable[[str], None],
) -> tuple[str, str | None]:
    """Redis, and Kafka when ``need_kafka``: the ones given, else embedded servers that ``stack`` stops.
    Says which on ``echo``; the demo and ``kedasuite scenario`` start their brokers this way."""
    if not redis_url:
        redis_url = stack.enter_context(EmbeddedRedis()).url
        echo(f"started embedded redis-server at {redis_url}")
    else:
        echo(f"using Redis at {redact_url(redis_url)}")
    if not need_kafka:
        return redis_url, None
    if not kafka_bootstrap:
        broker = stack.enter_context(embedded_kafka())
        kafka_bootstrap = broker.bootstrap
        echo(f"started embedded Kafka: {broker.describe()}")
    else:
        echo(f"using Kafka at {kafka_bootstrap}")
    return redis_url, kafka_bootstrap


def pump_records(
    workload: str,
    brokers: BrokerConfig,
    count: int,
    profile: Profile | None = None,
    stop: threading.Event | None = None,
    stream: StreamStatus | None = None,
) -> tuple[StreamStatus, list[str]]:
    """Pump ``count`` records into ``workload`` (at once, or paced by ``profile``); the run's status
    and the records' ids (what :func:`~kedasuite.core.results.fetch_results` looks up). A caller
    that watches the run from another thread hands in ``stream`` (``new_run(...).streams[0]``)."""
    publisher = make_publisher(workload, brokers)
    try:
        publisher.check()
        stream = stream or new_run(count, [workload], None, profile=profile).streams[0]
        pump_stream(publisher, RecordFactory(), stream, 1000, stop=stop)
    finally:
        publisher.close()
    return stream, record_ids(count, stream.id_prefix)


def run_demo(
    redis_url: str | None,
    kafka_bootstrap: str | None,
    workloads: Sequence[str],
    count: int,
    work_time: str,
    concurrency: int,
    timeout: float,
) -> int:
    from kedasuite.autoscale.actuator import STATE_FILE, Actuator, read_state
    from kedasuite.autoscale.processes import ProcessBackend, worker_env
    from kedasuite.autoscale.targets import load_targets
    from kedasuite.keda.model import Options
    from kedasuite.keda.reads import ScalerReads

    with contextlib.ExitStack() as stack:
        redis_url, kafka_bootstrap = start_brokers(
            stack, redis_url, kafka_bootstrap, WORKLOAD_KAFKA in workloads, click.echo
        )
        if kafka_bootstrap:  # Tansu's settings (kedasuite.core.tansu) where the broker is Tansu; else none
            for key, value in tansu.workarounds(kafka_bootstrap, parse_work_time(work_time).max_seconds).items():
                os.environ.setdefault(key, value)
        kafka = KafkaSettings.from_env(bootstrap=kafka_bootstrap) if kafka_bootstrap else None

        # What every worker the autoscaler starts inherits (it adds where the brokers are).
        # A task in hand when a Celery worker is killed (not stopped) comes back after the
        # visibility timeout: the default 300 s would outlast the demo.
        os.environ.update(
            {
                Env.WORK_TIME: work_time,
                Env.WORKER_CONCURRENCY: str(concurrency),
                Env.WORKQUEUE_IDLE_TIMEOUT: DEMO_JOB_IDLE_S,
                Env.LOG_LEVEL: "WARNING",
                Env.CELERY_VISIBILITY_TIMEOUT: str(
                    max(DEMO_VISIBILITY_TIMEOUT_S, math.ceil(2 * parse_work_time(work_time).max_seconds) + 5)
                ),
            }
        )
        run_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kedasuite-demo-")))
        targets, source = load_targets(None, None, workloads)
        options = Options(**DEMO_TIMINGS)
        lines: list[str] = []
        backend = ProcessBackend(
            run_dir,
            worker_env(redis_url, kafka or KafkaSettings.from_env()),
            {t.name: t.grace_seconds for t in targets},
            emit=lines.append,
        )
        reads = ScalerReads(redis_url, kafka or KafkaSettings.from_env())
        actuator = Actuator(
            targets, reads, backend, options, emit=lines.append, source=source, state_path=run_dir / STATE_FILE
        )
        stop = threading.Event()
        loop = threading.Thread(target=actuator.run, args=(stop,), name="autoscale", daemon=True)

        def shut_down() -> None:
            stop.set()
            loop.join(30)
            backend.close()  # SIGTERM to whatever still runs, SIGKILL after its grace period
            reads.close()

        stack.callback(shut_down)
        loop.start()
        click.echo(
            f"autoscaling {', '.join(workloads)} from {source} with demo timings: "
            + ", ".join(f"{k.replace('_', ' ')} {v:g} s" for k, v in DEMO_TIMINGS.items())
            + f"; work time {work_time}"
        )

        samples: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
        deadline = time.monotonic() + timeout

        def all_at_zero(state: Any) -> bool:
            entries = (state or {}).get("workloads", [])
            return len(entries) == len(targets) and all(e["actual"] == 0 for e in entries)

        lock = threading.Lock()

        def record(state: Any) -> None:
            with lock:
                for entry in (state or {}).get("workloads", []):
                    samples[entry["workload"]].append((float(state["seconds"]), int(entry["actual"] or 0)))

        def sampler() -> None:
            """The replica counts the autoscaler reports, every SAMPLE_S, for the timeline."""
            while not stop.is_set():
                record(read_state(run_dir))
                stop.wait(SAMPLE_S)

        while not all_at_zero(read_state(run_dir)) and time.monotonic() < deadline:
            time.sleep(SAMPLE_S)  # the autoscaler's first pass: every workload at 0 before any load
        threading.Thread(target=sampler, name="timeline", daemon=True).start()

        brokers = BrokerConfig(redis_url=redis_url, kafka=kafka)
        client = redis_client(redis_url)
        stack.callback(client.close)
        pumped: dict[str, list[str]] = {}
        for workload in workloads:
            stream, pumped[workload] = pump_records(workload, brokers, count)
            if stream.failed:
                click.echo(f"pumping {workload} failed: {stream.error}", err=True)
                return 1
            click.echo(f"pumped {stream.sent} records into {workload} ({workload_row(workload).backlog})")

        every_id = [i for ids in pumped.values() for i in ids]
        results = fetch_results(client, every_id)
        state = read_state(run_dir)
        while (len(results) < len(every_id) or not all_at_zero(state)) and time.monotonic() < deadline:
            time.sleep(SAMPLE_S)
            state = read_state(run_dir)
            if len(results) < len(every_id):
                results = fetch_results(client, every_id)
        if len(results) < len(every_id) or not all_at_zero(state):
            missing = len(every_id) - len(results)
            why = (
                f"{missing} of {len(every_id)} records were not processed"
                if missing
                else "the workloads did not return to 0"
            )
            click.echo(f"after {timeout:g} s {why}; the autoscaler said:", err=True)
            click.echo("\n".join(lines[-40:]), err=True)
            for entry in (state or {}).get("workloads", []):
                if entry["actual"]:
                    click.echo(
                        f"still running: {entry['workload']} {entry['actual']} (model {entry['model']}): "
                        f"{entry['reason']}",
                        err=True,
                    )
            for workload, ids in pumped.items():
                left = [i for i in ids if i not in results]
                if left:
                    click.echo(f"not processed: {workload} {len(left)}: {', '.join(left[:10])}", err=True)
            return 1

        record(state)  # the last look, at 0
        click.echo("replicas over time (Jobs for the work queue), seconds since the autoscaler started:")
        width = max(len(w) for w in workloads)
        with lock:
            for workload in workloads:
                click.echo(f"  {workload.ljust(width)}  {_timeline(sorted(samples[workload]))}")
        for workload, ids in pumped.items():
            mine = [results[i] for i in ids]
            per_worker = collections.Counter(r.worker for r in mine)
            stops = backend.describe(next(t for t in targets if t.name == workload))
            click.echo(
                f"{workload}: all {count} records processed, duplicates {sum(r.deliveries - 1 for r in mine)}; "
                f"stopped by SIGTERM {stops['sigterm']}, killed after the grace period {stops['sigkill']}"
            )
            name_width = max(len("worker"), *(len(w) for w in per_worker))
            click.echo(f"  {'worker'.ljust(name_width)}  records")
            for name, n in sorted(per_worker.items()):
                click.echo(f"  {name.ljust(name_width)}  {n}")
        sample_key = record_key(next(iter(pumped.values()))[0])
        click.echo(f"HGETALL {sample_key}")
        for key, value in client.hgetall(sample_key).items():
            text = value.decode()
            click.echo(f"  {key.decode()}: {text!r}" if "\n" in text else f"  {key.decode()}: {text}")
    return 0
