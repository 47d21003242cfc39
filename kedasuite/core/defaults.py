"""Default values, in one place (as ``rq/defaults.py`` does).

Every default works on a laptop: a Redis on the loopback port, a pump on loopback.
Containers and manifests override them through the variables in :mod:`kedasuite.core.names`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final

from kedasuite.core import names

REDIS_URL: Final = "redis://127.0.0.1:6379/0"

#: As in the Celery-on-Redis scenario (docs/origins.md): each task sleeps 1-9 s at random, so a backlog builds.
WORK_TIME: Final = "uniform:1:9"
#: As in the Kafka consumer-group scenario (docs/origins.md): 10 s per message, so lag builds.
KAFKA_WORK_TIME: Final = "fixed:10"
WORKER_CONCURRENCY: Final = 2
#: Seconds before kombu hands an unacknowledged message to another worker. It must be
#: longer than the longest task, or a slow task is delivered twice; short enough that a
#: killed pod's task comes back while the demo is still being watched.
CELERY_VISIBILITY_TIMEOUT: Final = 300
#: Each pool process reserves one message, acknowledged after the task ran: a busy worker hoards
#: nothing a new replica could take, and the list KEDA reads holds every task not yet started.
#: (Celery's own defaults, 4 and early acks, hide work inside workers: ``kedasuite scenario celery-prefetch``.)
CELERY_PREFETCH_MULTIPLIER: Final = 1
CELERY_ACKS_LATE: Final = True
LOG_LEVEL: Final = "INFO"
#: Workers serve no metrics unless asked: several local workers would collide on one
#: port. Containers set ``METRICS_PORT`` (9100 in compose.yaml and k8s/).
METRICS_PORT: Final = 0

#: A lease outlives a silent runner by this long; held leases are renewed every third of it.
WORKQUEUE_LEASE_SECONDS: Final = 30.0
#: Leases an item may take (crashes or errors) before it is dead-lettered.
WORKQUEUE_MAX_ATTEMPTS: Final = 3
#: A runner with nothing to lease (and items held by others) gives up after this long.
WORKQUEUE_IDLE_TIMEOUT: Final = 60.0
#: On SIGTERM, the item in hand is finished if it needs at most this long, else released.
WORKQUEUE_GRACE_PERIOD: Final = 20.0
#: A pod's ``terminationGracePeriodSeconds`` when its spec sets none (Kubernetes' default): the
#: autoscaler's SIGKILL deadline and the lint's reference alike.
KUBERNETES_GRACE_PERIOD_S: Final = 30
#: Seconds a runner waits before its first lease (0: none; a scenario's slow-starting pod).
WORKQUEUE_START_DELAY: Final = 0.0

#: RQ kills a job running longer than this; it must exceed the longest task.
RQ_JOB_TIMEOUT: Final = 180
#: A failed RQ job is retried this many times (a job whose worker was killed is requeued
#: without spending one, up to RQ_ABANDON_LIMIT times).
RQ_RETRIES: Final = 3
#: An RQ job whose worker vanished this many times looks like one that kills its worker
#: (out of memory): from then on each loss spends a retry, then the job is failed.
RQ_ABANDON_LIMIT: Final = 10
#: How often a worker looks for abandoned jobs (RQ's default is 10 minutes).
RQ_MAINTENANCE_INTERVAL: Final = 30
#: Heartbeat period of a running job. RQ calls a job abandoned (its worker died) when no
#: heartbeat came for min(this, job timeout) + 60 s.
RQ_JOB_MONITORING_INTERVAL: Final = 30

KAFKA_BOOTSTRAP_SERVERS: Final = "127.0.0.1:9092"
#: Five partitions, so KEDA stops at five consumers (the Kafka consumer-group scenario).
KAFKA_PARTITIONS: Final = 5
KAFKA_REPLICATION_FACTOR: Final = 1
#: Where a brand-new group starts. ``earliest`` so that records pumped before the first
#: consumer existed (KEDA woke it from zero because of them) are not skipped.
KAFKA_OFFSET_RESET: Final = "earliest"
#: One consumer per five records of lag (the Kafka consumer-group scenario).
KAFKA_LAG_THRESHOLD: Final = 5
#: librdkafka gives up on an undeliverable record after this long (its default is 5 min).
KAFKA_MESSAGE_TIMEOUT_MS: Final = 30_000
#: ``max.poll.interval.ms``, at least, of consumers on the embedded broker (Tansu): librdkafka
#: sends it as the rebalance timeout, and Tansu can hold a rebalance that long when a member
#: leaves or dies while it runs; the partitions it moves are nobody's meanwhile. librdkafka's
#: default (5 min) once outlasted the demo's deadline with a partition's records unprocessed.
EMBEDDED_KAFKA_REBALANCE_BOUND_MS: Final = 10_000

PUMP_HOST: Final = "127.0.0.1"
PUMP_PORT: Final = 8080
PUMP_THREADS: Final = 8
PUMP_MAX_COUNT: Final = 1_000_000
PUMP_BATCH_SIZE: Final = 1_000
#: Admission: runs in progress at once, and items accepted but not yet sent over all runs.
PUMP_MAX_RUNS: Final = 16
PUMP_MAX_QUEUED_ITEMS: Final = 5_000_000
PUMP_COUNT: Final = 100
#: Workloads the pump serves, and the one ``/pump`` uses when none is named.
PUMP_WORKLOADS: Final = names.WORKLOAD_CELERY
PUMP_DEFAULT_WORKLOAD: Final = names.WORKLOAD_CELERY

#: How long work in progress (a pump run, a worker saving a result) waits for Redis to come
#: back (a restart, a failover) before it gives up: retried with exponential backoff.
REDIS_RETRY_SECONDS: Final = 60.0
#: How long a client waits to connect before calling a broker unreachable.
CONNECT_TIMEOUT_S: Final = 3.0

DEMO_COUNT: Final = 100
#: Short, so the demo finishes in seconds; still long enough that both processes work.
DEMO_WORK_TIME: Final = "uniform:0.05:0.2"
DEMO_TIMEOUT: Final = 120.0
#: ``kedasuite scenario``: a live variant stops at its scenario's deadline times this (real
#: processes start, join and rebalance slower than the model's, more so on a busy machine).
SCENARIO_DEADLINE_FACTOR: Final = 3.0

#: Kubernetes' HPA defaults (kube-controller-manager's ``--horizontal-pod-autoscaler-sync-period`` and
#: ``--horizontal-pod-autoscaler-tolerance``, cmd/kube-controller-manager/app/options/hpacontroller.go).
HPA_SYNC_PERIOD_S: Final = 15.0
HPA_TOLERANCE: Final = 0.1

#: ``kedasuite simulate``'s example series (its --help and its hint when no --series is given).
SIMULATE_EXAMPLE: Final = "backlog=0:0,30:95,400:0"
#: The compose project ``kedasuite autoscale --backend compose`` scales (compose.yaml's ``name:``).
AUTOSCALE_COMPOSE_PROJECT: Final = "kedasuite"
#: Where ``kedasuite scenario`` writes its timelines and logs.
SCENARIO_OUT: Final = "artifacts/scenarios"
#: Ports of ``kedasuite redis-server`` and ``kedasuite kafka-server`` on 127.0.0.1: the ports the
#: default ``REDIS_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` point at.
EMBEDDED_REDIS_PORT: Final = 6379
EMBEDDED_KAFKA_PORT: Final = 9092

#: ``kedasuite e2e``'s phases: idle, below activation, the readings' period, the slack added to
#: every KEDA-derived deadline, and the time a burst may take to drain (seconds).
E2E_IDLE_SECONDS: Final = 30.0
E2E_HOLD_SECONDS: Final = 30.0
E2E_INTERVAL: Final = 5.0
E2E_MARGIN: Final = 60.0
E2E_DRAIN_TIMEOUT: Final = 900.0

#: The timeline recorder samples ``status`` this often (seconds), into this CSV.
TIMELINE_INTERVAL: Final = 5.0
TIMELINE_CSV: Final = "timeline.csv"
#: Where the suite's manifests deploy; the recorder reads replica counts there.
KUBE_NAMESPACE: Final = "kedasuite"


def autoscale_run_dir() -> str:
    """``kedasuite autoscale``'s run directory unless ``--run-dir`` / ``AUTOSCALE_RUN_DIR`` says
    otherwise: ``<tmp>/kedasuite-autoscale-<uid>``, one per user of the machine."""
    return str(Path(tempfile.gettempdir()) / f"kedasuite-autoscale-{os.getuid()}")
