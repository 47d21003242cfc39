"""The one table of workloads: every module that lists workloads or their keys reads it.

A workload is a broker, a place its backlog waits (what KEDA's trigger watches), a place
its in-flight work is kept (what a second trigger can count), the KEDA object that scales
it, the Kubernetes and compose names of what runs it, the CLI command that runs it, and the
publisher the pumps use. A row is one step of adding a workload; docs/workloads.md lists
them all. ``tests/core/test_workloads.py`` proves the rows, the manifests and the compose files
agree, and fails when a module writes its own list of workloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from kedasuite.core import defaults, names
from kedasuite.core.errors import InputError

SCALED_OBJECT: Final = "ScaledObject"
SCALED_JOB: Final = "ScaledJob"


@dataclass(frozen=True)
class Workload:
    """One row: what a workload is called everywhere it appears."""

    name: str
    broker: Literal["redis", "kafka"]
    #: Where pending work waits: a Redis list (``listName``) or the Kafka topic (``topic``).
    backlog: str
    #: Where work handed out and not finished is kept (a Redis key KEDA can count), if anywhere.
    in_flight: str | None
    #: The KEDA kind that scales it, and that object's name in ``k8s/``.
    keda_kind: Literal["ScaledObject", "ScaledJob"]
    keda_name: str
    #: The Deployment a ScaledObject scales (``scaleTargetRef.name``); empty for a ScaledJob.
    deployment: str
    #: The compose service that runs it.
    compose_service: str
    #: ``kedasuite <command...>`` runs one worker (or one Job's runner).
    command: tuple[str, ...]
    #: The work time a worker uses when none is configured (``WORK_TIME``).
    work_time: str
    #: ``module:Class`` of the publisher the pumps use (imported only when needed).
    publisher: str
    #: Records the e2e run pumps by default: enough that the backlog outlasts the HPA's ramp.
    e2e_burst: int

    @property
    def is_job(self) -> bool:
        return self.keda_kind == SCALED_JOB

    @property
    def component(self) -> str:
        """The kustomize component in ``k8s/components/`` that holds its KEDA object: named by
        convention, so the tests and docs/workloads.md find it without another column."""
        return f"{self.name}-{self.keda_kind.lower()}"


#: Every workload, in the order the suite reports them.
WORKLOADS: Final[tuple[Workload, ...]] = (
    Workload(
        names.WORKLOAD_CELERY,
        "redis",
        names.CELERY_QUEUE,
        names.CELERY_UNACKED_HASH,
        SCALED_OBJECT,
        "celery-worker",
        "celery-worker",
        "celery-worker",
        ("worker", names.WORKLOAD_CELERY),
        defaults.WORK_TIME,
        "kedasuite.producers.celery_publisher:CeleryPublisher",
        e2e_burst=200,
    ),
    Workload(
        names.WORKLOAD_KAFKA,
        "kafka",
        names.KAFKA_TOPIC,
        None,
        SCALED_OBJECT,
        "kafka-consumer",
        "kafka-consumer",
        "kafka-consumer",
        ("worker", names.WORKLOAD_KAFKA),
        defaults.KAFKA_WORK_TIME,
        "kedasuite.producers.kafka_publisher:KafkaPublisher",
        e2e_burst=100,
    ),
    Workload(
        names.WORKLOAD_RQ,
        "redis",
        names.RQ_QUEUE_LIST,
        names.RQ_STARTED_REGISTRY,
        SCALED_OBJECT,
        "rq-worker",
        "rq-worker",
        "rq-worker",
        ("worker", names.WORKLOAD_RQ),
        defaults.WORK_TIME,
        "kedasuite.producers.rq_publisher:RQPublisher",
        e2e_burst=200,
    ),
    Workload(
        names.WORKLOAD_WORKQUEUE,
        "redis",
        names.WORKQUEUE_LIST,
        names.WORKQUEUE_PROCESSING,
        SCALED_JOB,
        "workqueue",
        "",
        "workqueue",
        ("job", names.WORKLOAD_WORKQUEUE),
        defaults.WORK_TIME,
        "kedasuite.producers.workqueue_publisher:WorkQueuePublisher",
        e2e_burst=100,
    ),
)

#: The workloads' names, in report order.
NAMES: Final[tuple[str, ...]] = tuple(w.name for w in WORKLOADS)
_BY_NAME: Final = {w.name: w for w in WORKLOADS}


def workload(name: str) -> Workload:
    """The row for ``name``; an unknown name is an InputError that lists the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InputError(f"unknown workload {name!r}: choose from {', '.join(NAMES)}") from None


def by_trigger(trigger_type: str, source: str) -> Workload | None:
    """The workload a KEDA trigger watches the backlog of: a redis trigger by its list, a
    kafka trigger by its type alone (the topic is the user's to rename, ``KAFKA_TOPIC``)."""
    broker = "kafka" if trigger_type == "kafka" else "redis" if trigger_type.startswith("redis") else None
    return next((w for w in WORKLOADS if w.broker == broker and (broker == "kafka" or w.backlog == source)), None)


def on_redis() -> tuple[Workload, ...]:
    return tuple(w for w in WORKLOADS if w.broker == "redis")
