"""A scenario against real brokers and real worker processes: the live world of :func:`~kedasuite.scenarios.runner.drive`.

Each variant gets the local autoscaler's process backend
(:class:`~kedasuite.autoscale.processes.ProcessBackend`: ``kedasuite worker …`` and ``kedasuite
job …`` processes, SIGTERM on scale-down, SIGKILL after the variant's grace period) in a run
directory of its own, the live reads KEDA's scalers make (:class:`~kedasuite.keda.reads.ScalerReads`),
and its own Kafka topic and group. Records go in through the pumps' engine. What the verdicts
count comes from the brokers and the processes: the results the workers wrote (``users:<id>``,
their deliveries), ``processed:<workload>`` and ``redelivered:<workload>``, the signals the
backend sent, the Jobs it created and which of them wrote a result.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from kedasuite.autoscale.processes import ProcessBackend, worker_env
from kedasuite.autoscale.targets import Target
from kedasuite.core import defaults, tansu
from kedasuite.core.clients import redis_client
from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_UNACKED_HASH, CELERY_UNACKED_INDEX, Env
from kedasuite.core.results import assignments_key, fetch_results, processed_count_key, redelivered_count_key
from kedasuite.core.settings import BrokerConfig, KafkaSettings
from kedasuite.core.workloads import Workload
from kedasuite.keda.reads import ScalerReads
from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets, partition_lag
from kedasuite.keda.rules.spec import Trigger
from kedasuite.producers.engine import StreamStatus, new_run
from kedasuite.producers.profiles import steady
from kedasuite.scenarios.assignments import ownership, read_log
from kedasuite.scenarios.base import Pump, Sample, Scenario, Trace, Variant
from kedasuite.scenarios.runner import drive, target_for
from kedasuite.tools.demo import pump_records, start_brokers

#: Seconds between the samples' own reads of a Kafka group's offsets (each read is a client).
KAFKA_SAMPLE_S = 0.5
_EARLIEST = KafkaTrigger(offset_reset_policy="earliest")


def _length(reads: ScalerReads, key: str | None) -> float:
    """A Redis key's length as KEDA's redis scaler reads it (by type); 0 when there is no key to read."""
    if key is None:
        return 0.0
    value = reads.value(Trigger(key, "redis", key, 1.0, 0.0))
    return float(value) if isinstance(value, float) else 0.0


def clear_work(client: redis.Redis, row: Workload) -> None:
    """Drop what a run leaves in the workload's keys (a pitfall's run may end with work in hand)."""
    keys = [
        k
        for k in (row.backlog, row.in_flight, CELERY_UNACKED_INDEX if row.in_flight == CELERY_UNACKED_HASH else None)
        if k
    ]
    keys += list(client.scan_iter(f"{row.backlog}:*"))
    if keys:
        client.delete(*keys)


class LiveWorld:
    """One variant on the brokers: its processes, reads, pumps and what they leave behind."""

    def __init__(
        self,
        scenario: Scenario,
        variant: Variant,
        target: Target,
        redis_url: str,
        kafka_bootstrap: str | None,
        run_dir: Path,
        emit: Callable[[str], None],
    ) -> None:
        self.scenario, self.variant, self.target = scenario, variant, target
        row = target.workload
        self.kafka: KafkaSettings | None = None
        env = dict(variant.workers.env())
        quirks: dict[str, str] = {}
        if row.broker == "kafka":
            assert kafka_bootstrap is not None
            suffix = f"{scenario.name}-{variant.key}-{uuid.uuid4().hex[:6]}"
            self.kafka = KafkaSettings(
                bootstrap=kafka_bootstrap,
                topic=f"scenario-{suffix}",
                group=f"group-{suffix}",
                partitions=variant.partitions,
            )
            # Tansu's settings where the broker is Tansu (kedasuite.core.tansu): the rebalance bound
            # among them, so a member that leaves mid-rebalance holds its partitions seconds, not minutes.
            quirks = tansu.workarounds(kafka_bootstrap, variant.workers.work_seconds)
            # The variant's own consumer properties win (kafka-rebalance's session timeout).
            env = {k: v for k, v in quirks.items() if k.startswith(Env.KAFKA_CONSUMER_CONFIG_PREFIX)} | env
        env |= worker_env(redis_url, self.kafka or KafkaSettings())[row.name]
        self.backend = ProcessBackend(run_dir, {row.name: env}, {row.name: variant.grace_seconds}, emit=emit)
        self.reads = ScalerReads(redis_url, self.kafka)
        self.client = redis_client(redis_url)
        # On Tansu the pump's producer writes one record per batch, for its high watermark.
        producer = self.kafka and KafkaSettings(
            bootstrap=self.kafka.bootstrap,
            topic=self.kafka.topic,
            group=self.kafka.group,
            partitions=self.kafka.partitions,
            extra={"batch.num.messages": "1"} if quirks else {},
        )
        self.brokers = BrokerConfig(redis_url=redis_url, kafka=producer)
        self.base = {
            k: int(self.client.get(k) or 0) for k in (processed_count_key(row.name), redelivered_count_key(row.name))
        }
        self.streams: list[tuple[StreamStatus, list[str]]] = []
        self.threads: list[threading.Thread] = []
        self.stop = threading.Event()
        self.runners: dict[str, set[int]] = {}
        self._offsets: tuple[float, tuple[PartitionOffsets, ...]] = (-1.0, ())
        #: The wall-clock time of the run's 0 s (from the first sample), and the last sample's time.
        self._wall_at_zero: float | None = None
        self._last_t = 0.0

    def clock(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.01))

    def pump(self, pump: Pump) -> int:
        """Pump at once (here), or at the pump's rate (a thread); the count asked for."""
        profile = steady(pump.rate, pump.count / pump.rate) if pump.rate else None
        stream = new_run(pump.count, [self.target.name], None, profile=profile).streams[0]
        box: list[str] = []
        self.streams.append((stream, box))

        def run() -> None:
            _, ids = pump_records(self.target.name, self.brokers, pump.count, profile, self.stop, stream)
            box.extend(ids)

        if profile is None:
            run()
        else:
            thread = threading.Thread(target=run, name="scenario-pump", daemon=True)
            thread.start()
            self.threads.append(thread)
        return pump.count

    def _kafka_offsets(self) -> tuple[PartitionOffsets, ...]:
        at, offsets = self._offsets
        if time.monotonic() - at >= KAFKA_SAMPLE_S:
            trigger = self.target.scaler.triggers[0]
            value = self.reads.value(trigger)
            offsets = value if isinstance(value, tuple) else offsets  # type: ignore[assignment]
            self._offsets = (time.monotonic(), offsets)
        return offsets

    def sample(self, now: float, model: int, metric: float | None) -> Sample:
        row, target = self.target.workload, self.target
        if self._wall_at_zero is None:
            self._wall_at_zero = time.time() - now
        self._last_t = now
        extra: dict[str, float] = {}
        if self.kafka is not None:
            lags = [partition_lag(p, _EARLIEST) for p in self._kafka_offsets()]
            backlog, in_flight = float(sum(lags)), 0.0
            stuck = self.variant.workers.stuck_at
            if stuck is not None and stuck[0] < len(lags):
                extra["stuck_lag"] = float(lags[stuck[0]])
        else:
            backlog, in_flight = _length(self.reads, row.backlog), _length(self.reads, row.in_flight)
        pods = [p for p in self.backend.pods if p.workload == row.name]
        if target.is_job:
            jobs: dict[str, list[bool]] = {}
            for p in pods:
                assert p.job is not None
                jobs.setdefault(p.job, []).append(bool(p.ready_file and Path(p.ready_file).exists()))
                self.runners.setdefault(p.job, set()).add(p.pid)
            replicas = len(jobs)
            extra["starting"] = float(sum(1 for ready in jobs.values() if not any(ready)))
        else:
            replicas = self.backend.replicas(target)
        processed = int(self.client.get(processed_count_key(row.name)) or 0) - self.base[processed_count_key(row.name)]
        return Sample(
            now,
            backlog,
            in_flight,
            replicas,
            model,
            len(pods),
            processed,
            metric,
            sum(s.sent for s, _ in self.streams),
            extra,
        )

    def finish(self) -> dict[str, float]:
        """Stop the pumps and every process (SIGTERM, SIGKILL after the grace period); count the outcome."""
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        try:
            self.backend.close()
        finally:
            self.reads.close()
        row = self.target.workload
        ids = [i for _, box in self.streams for i in box]
        results = fetch_results(self.client, ids)
        described = self.backend.describe(self.target)
        workers = {r.worker.rsplit(":", 1)[-1] for r in results.values()}
        busy = sum(1 for pids in self.runners.values() if any(str(pid) in workers for pid in pids))
        redelivered = (
            int(self.client.get(redelivered_count_key(row.name)) or 0) - self.base[redelivered_count_key(row.name)]
        )
        counts = {
            "processed": len(results),
            "duplicates": sum(r.deliveries - 1 for r in results.values()),
            "redelivered": redelivered,
            "sigterm": described["sigterm"],
            "sigkill": described["sigkill"],
            "started": described["started"],
        }
        if self.kafka is not None and self._wall_at_zero is not None:
            # The group's rebalances as its members logged them (kedasuite.scenarios.assignments).
            counts |= ownership(read_log(self.client, self.kafka.group, self._wall_at_zero), self._last_t)
            self.client.delete(assignments_key(self.kafka.group))
        if self.target.is_job:
            counts |= {"jobs_created": described["jobs_created"], "jobs_without_work": described["jobs_created"] - busy}
        clear_work(self.client, row)
        self.client.close()
        return {k: float(v) for k, v in counts.items()}


def run_live(
    scenario: Scenario,
    redis_url: str | None,
    kafka_bootstrap: str | None,
    echo: Callable[[str], None],
    log: Callable[[str, str], None],
    factor: float = defaults.SCENARIO_DEADLINE_FACTOR,
    keep_logs: Path | None = None,
) -> dict[str, Trace]:
    """Every variant on real brokers (the given ones, else embedded servers), one after the other.
    ``log(variant, line)`` gets the autoscaler's lines; a variant stops at ``scenario.deadline × factor``;
    the workers' own logs are copied to ``keep_logs/<variant>/`` when given."""
    row = target_for(scenario, scenario.variants[0]).workload
    traces: dict[str, Trace] = {}
    with contextlib.ExitStack() as stack:
        redis_url, kafka_bootstrap = start_brokers(stack, redis_url, kafka_bootstrap, row.broker == "kafka", echo)
        client = redis_client(redis_url)
        stack.callback(client.close)
        busy = [k for k in (row.backlog, row.in_flight) if k and row.broker == "redis" and client.exists(k)]
        if busy:
            raise InputError(
                f"Redis at {redis_url} already holds work in {', '.join(busy)}; a scenario needs "
                "those keys empty: use an empty database (redis://host:port/N) or no --redis-url"
            )
        for variant in scenario.variants:
            echo(f"running {variant.key}: {variant.label} ...")
            run_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix=f"kedasuite-scenario-{variant.key}-"))
            )
            target = target_for(scenario, variant)
            world = LiveWorld(
                scenario,
                variant,
                target,
                redis_url,
                kafka_bootstrap,
                run_dir,
                lambda line, key=variant.key: log(key, line),
            )
            try:
                traces[variant.key] = drive(
                    scenario, variant, world, "live", lambda line, key=variant.key: log(key, line), factor
                )
            finally:
                if keep_logs is not None:
                    shutil.copytree(run_dir / "logs", keep_logs / variant.key, dirs_exist_ok=True)
    return traces
