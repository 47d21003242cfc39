"""Settings resolved from the environment (12-factor); CLI flags override them.

Redis is configured either by one URL or by the pieces a Kubernetes pod gets from a
Secret (address, username, password, TLS). The pieces exist because KEDA's redis
trigger reads ``addressFromEnv`` / ``passwordFromEnv`` from the scaled container: the
worker and KEDA then read the very same variables, so they cannot point at different
servers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kedasuite.core import config, defaults, names
from kedasuite.core.config import redis_url_from_env
from kedasuite.core.errors import InputError
from kedasuite.core.names import Env
from kedasuite.core.workloads import NAMES as workload_names


def env_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in config.TRUE_WORDS


def require_pem_file(variable: str, path: str) -> str:
    """``path`` if it is a file; else the error naming ``variable``, raised now rather than
    as a confusing handshake failure later."""
    if not os.path.isfile(path):
        raise InputError(f"{variable}={path}: no such file; point it at a PEM file")
    return path


def redis_tls_options(url: str, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """redis-py's TLS keyword arguments for a ``rediss://`` URL (empty for ``redis://``).

    Verification is on unless ``REDIS_TLS_VERIFY=false``; the CA file, and the client
    certificate and key (for servers with ``tls-auth-clients yes``), come from the
    ``REDIS_TLS_*`` variables. A named file that is not there is an error now, not a
    confusing handshake failure later.
    """
    if urlsplit(url).scheme != "rediss":
        return {}
    verify = config.REDIS_TLS_VERIFY.read(environ)
    options: dict[str, Any] = {"ssl_cert_reqs": "required" if verify else "none", "ssl_check_hostname": verify}
    for variable, key in (
        (Env.REDIS_TLS_CA_FILE, "ssl_ca_certs"),
        (Env.REDIS_TLS_CERT_FILE, "ssl_certfile"),
        (Env.REDIS_TLS_KEY_FILE, "ssl_keyfile"),
    ):
        path = environ.get(variable, "").strip()
        if path:
            options[key] = require_pem_file(variable, path)
    if ("ssl_certfile" in options) != ("ssl_keyfile" in options):
        raise InputError(f"{Env.REDIS_TLS_CERT_FILE} and {Env.REDIS_TLS_KEY_FILE} go together: set both or neither")
    return options


def redact_url(url: str) -> str:
    """The URL with its password replaced, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def with_redis_db(url: str, db: int) -> str:
    """The same server, another database number (tests give each test its own)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def parse_workload_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InputError(
            f"{Env.PUMP_WORKLOADS} is empty: name at least one workload, e.g. {defaults.PUMP_DEFAULT_WORKLOAD!r}"
        )
    return names


@dataclass(frozen=True)
class KafkaSettings:
    """The Kafka workload's names and connection; shared by the pump and the consumers."""

    bootstrap: str = defaults.KAFKA_BOOTSTRAP_SERVERS
    topic: str = names.KAFKA_TOPIC
    group: str = names.KAFKA_CONSUMER_GROUP
    partitions: int = defaults.KAFKA_PARTITIONS
    replication: int = defaults.KAFKA_REPLICATION_FACTOR
    offset_reset: str = defaults.KAFKA_OFFSET_RESET
    dlq_topic: str = ""
    #: librdkafka properties from ``-X`` flags (the environment's are added by the client factory).
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.dlq_topic:
            object.__setattr__(self, "dlq_topic", self.topic + names.KAFKA_DLQ_SUFFIX)
        if self.partitions < 1:
            raise InputError(f"{Env.KAFKA_PARTITIONS} must be at least 1, got {self.partitions}")
        if self.offset_reset not in ("earliest", "latest"):
            raise InputError(f"{Env.KAFKA_OFFSET_RESET} must be 'earliest' or 'latest', got {self.offset_reset!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> KafkaSettings:
        values = {
            "bootstrap": config.KAFKA_BOOTSTRAP_SERVERS.read(environ),
            "topic": config.KAFKA_TOPIC.read(environ),
            "group": config.KAFKA_CONSUMER_GROUP.read(environ),
            "partitions": config.KAFKA_PARTITIONS.read(environ),
            "replication": config.KAFKA_REPLICATION_FACTOR.read(environ),
            "offset_reset": config.KAFKA_OFFSET_RESET.read(environ),
            "dlq_topic": config.KAFKA_DLQ_TOPIC.read(environ) or "",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def redis_url_if_configured(environ: Mapping[str, str] = os.environ) -> str | None:
    """The Redis URL when the environment names a Redis, else None (results are optional)."""
    if environ.get(Env.REDIS_URL, "").strip() or environ.get(Env.REDIS_ADDRESS, "").strip():
        return redis_url_from_env(environ)
    return None


@dataclass(frozen=True)
class BrokerConfig:
    """Where each broker is; ``None`` means that broker is not configured."""

    redis_url: str | None
    kafka: KafkaSettings | None = None


@dataclass(frozen=True)
class PumpSettings:
    """What a pump (HTTP or CLI) needs: brokers, workloads, limits."""

    brokers: BrokerConfig
    workloads: list[str] = field(default_factory=lambda: [defaults.PUMP_DEFAULT_WORKLOAD])
    default_workload: str = defaults.PUMP_DEFAULT_WORKLOAD
    max_count: int = defaults.PUMP_MAX_COUNT
    batch_size: int = defaults.PUMP_BATCH_SIZE
    #: Admission limits and the bearer token (see :mod:`kedasuite.producers.guard`).
    max_runs: int = defaults.PUMP_MAX_RUNS
    max_queued_items: int = defaults.PUMP_MAX_QUEUED_ITEMS
    token: str | None = None
    #: Where /status finds the ScaledObjects and the ScaledJob (see :mod:`kedasuite.keda.objects`).
    keda_manifests: str | None = None
    keda_overlay: str | None = None
    #: A local ``kedasuite autoscale``'s run directory: /status shows its state (``None``: not looked for).
    autoscale_run_dir: str | None = None

    def __post_init__(self) -> None:
        for name in self.workloads:
            if name not in workload_names:
                raise InputError(
                    f"unknown workload {name!r} in {Env.PUMP_WORKLOADS}: known workloads are "
                    f"{', '.join(workload_names)}"
                )
        if self.batch_size < 1:
            raise InputError(f"{Env.PUMP_BATCH_SIZE} must be at least 1, got {self.batch_size}")


# --- Workers: what each worker's run() needs; the CLI (or any caller) builds one ------------------

#: One log line format for every process the suite runs.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class WorkerCommon:
    """Settings every worker shares."""

    work_time: str = defaults.WORK_TIME
    loglevel: str = defaults.LOG_LEVEL
    #: Serve Prometheus /metrics on this port (0: off).
    metrics_port: int = defaults.METRICS_PORT


@dataclass(frozen=True)
class CeleryWorkerSettings(WorkerCommon):
    redis_url: str = defaults.REDIS_URL
    concurrency: int = defaults.WORKER_CONCURRENCY
    visibility_timeout: int = defaults.CELERY_VISIBILITY_TIMEOUT
    #: Celery node name; None: ``celery.<pid>@<hostname>``.
    name: str | None = None
    prefetch_multiplier: int = defaults.CELERY_PREFETCH_MULTIPLIER
    acks_late: bool = defaults.CELERY_ACKS_LATE


@dataclass(frozen=True)
class KafkaWorkerSettings(WorkerCommon):
    kafka: KafkaSettings | None = None
    #: Record results in this Redis; None: only count them.
    redis_url: str | None = None
    max_messages: int | None = None
    #: (partition, offset): the handler keeps failing on that record (a scenario's stuck partition); None: off.
    stuck_at: tuple[int, int] | None = None


@dataclass(frozen=True)
class RQWorkerSettings(WorkerCommon):
    redis_url: str = defaults.REDIS_URL
    burst: bool = False
    max_jobs: int | None = None
    max_idle_time: int | None = None
    maintenance_interval: int = defaults.RQ_MAINTENANCE_INTERVAL
    job_monitoring_interval: int = defaults.RQ_JOB_MONITORING_INTERVAL


@dataclass(frozen=True)
class WorkQueueJobSettings(WorkerCommon):
    redis_url: str = defaults.REDIS_URL
    lease_seconds: float = defaults.WORKQUEUE_LEASE_SECONDS
    max_attempts: int = defaults.WORKQUEUE_MAX_ATTEMPTS
    max_items: int | None = None
    idle_timeout: float = defaults.WORKQUEUE_IDLE_TIMEOUT
    grace_period: float = defaults.WORKQUEUE_GRACE_PERIOD
    fail_pattern: str | None = None
    start_delay: float = defaults.WORKQUEUE_START_DELAY
    #: Created once the runner is ready for work (after ``start_delay``); None: no file.
    ready_file: str | None = None
