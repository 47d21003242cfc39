"""The naming contract: every name a KEDA manifest or the compose file must repeat.

A KEDA trigger that watches a list nobody pushes to, or an ``addressFromEnv`` that
names a variable the container does not have, fails silently: nothing scales. So each
such name is spelled exactly once, here, and the tests read the manifests and the
compose file and compare them with these constants. Code elsewhere imports them;
it never spells them.
"""

from __future__ import annotations

from typing import Final

# --- Celery on Redis -----------------------------------------------------------------------

#: Celery's default queue. Kombu's Redis transport stores it as a Redis list of that
#: name; it is the ``listName`` of the Celery ScaledObject's redis trigger.
CELERY_QUEUE: Final = "celery"
#: Kombu keeps delivered-but-unacknowledged messages (late acks: tasks in progress)
#: in this hash and their delivery times in the sorted set beside it. KEDA's redis
#: trigger can count a hash, which makes in-flight work visible to it.
CELERY_UNACKED_HASH: Final = "unacked"
CELERY_UNACKED_INDEX: Final = "unacked_index"
#: The suite's transport fetches with ``BLMOVE celery -> celery:fetch:<consumer>``, so a
#: message taken off the list is never only in a process's memory; the consumer then moves
#: it into ``unacked`` in one atomic step. A list left by a dead consumer is returned to
#: ``celery`` by any live worker's sweep (see ``workers/celery_transport.py``).
CELERY_FETCH_INFIX: Final = ":fetch:"
#: Sorted set of consumers, scored by their last heartbeat (Redis server time).
CELERY_FETCHERS: Final = "celery:fetchers"
#: The registered name of the task that processes one user record.
CELERY_TASK: Final = "workers.process_user"

# --- Kafka consumer group ------------------------------------------------------------------

#: The topic the pump writes and the consumers read; the kafka trigger's ``topic``.
KAFKA_TOPIC: Final = "test-topic"
#: The consumers' group; the kafka trigger's ``consumerGroup``. KEDA measures its lag.
KAFKA_CONSUMER_GROUP: Final = "test-consumer-group"
#: Poison messages go to ``<topic><suffix>`` with the reason in a header.
KAFKA_DLQ_SUFFIX: Final = ".dlq"
KAFKA_DLQ_REASON_HEADER: Final = "dlq-reason"
KAFKA_DLQ_SOURCE_HEADER: Final = "dlq-source"

# --- Lease-based Redis work queue, run as Kubernetes Jobs -----------------------------------

#: Pending items; the ScaledJob's ``listName``. ``redis-cli RPUSH job apple banana`` works.
WORKQUEUE_LIST: Final = "job"
#: Tokens of items leased and not yet completed: the in-flight work KEDA cannot see in
#: ``job`` (a second trigger on this list makes it visible).
WORKQUEUE_PROCESSING: Final = "job:processing"
#: ``job:lease:<token>`` exists (with a TTL) while a runner holds the item; value = holder.
WORKQUEUE_LEASE_PREFIX: Final = "job:lease:"
#: ``job:item:<token>`` HASH: the item, its attempts, its holder and last error.
WORKQUEUE_ITEM_PREFIX: Final = "job:item:"
#: Counter that makes lease tokens unique, so equal items never collide.
WORKQUEUE_SEQUENCE: Final = "job:seq"
#: A re-queued item goes back on ``job`` as ``job:retry:<token>`` (its data stays in the item hash).
WORKQUEUE_RETRY_PREFIX: Final = "job:retry:"

# --- RQ ---------------------------------------------------------------------------------------

RQ_QUEUE: Final = "default"
#: RQ keeps a queue's pending job ids in this list; the RQ ScaledObject's ``listName``.
RQ_QUEUE_LIST: Final = f"rq:queue:{RQ_QUEUE}"
#: The import path RQ's worker calls for each job; written into every job hash by the pump.
#: It was ``workers.rq_tasks.process_user`` before the project became one import package:
#: jobs enqueued under that name fail on a new worker (see the README's RQ section).
RQ_TASK: Final = "kedasuite.workers.rq_tasks.process_user"
#: RQ's registry (a sorted set) of jobs being worked on: in-flight work, countable by KEDA.
RQ_STARTED_REGISTRY: Final = f"rq:wip:{RQ_QUEUE}"

# --- Results, shared by every workload -----------------------------------------------------

#: ``HGETALL users:<id>`` shows what a worker did with record ``<id>``.
RECORD_KEY_PREFIX: Final = "users:"
#: Work-queue items that are not user records (``apple``) leave ``items:<token>``.
ITEM_KEY_PREFIX: Final = "items:"
#: ``GET processed:<workload>``: how many distinct results the workload's workers wrote
#: (redeliveries not counted); what ``status`` and the dashboard show as processed.
PROCESSED_COUNT_PREFIX: Final = "processed:"
#: ``GET redelivered:<workload>``: deliveries a worker got of a message the broker had handed
#: out before (Celery: a restored ``unacked`` entry): work that a stopped or killed worker held.
REDELIVERED_COUNT_PREFIX: Final = "redelivered:"
#: Per-workload dead-letter list: ``deadletter:<workload>`` holds poison messages as JSON
#: with the reason they were parked.
DEAD_LETTER_PREFIX: Final = "deadletter:"
#: ``XRANGE kafka:assignments:<group> - +``: every change of a Kafka consumer's partitions
#: (assigned, revoked, lost, stopped) with the member and the time: the group's rebalances as its
#: members lived them (``kedasuite scenario kafka-rebalance`` reads it). Capped at about 10,000 entries.
KAFKA_ASSIGNMENTS_PREFIX: Final = "kafka:assignments:"

# --- Metrics ----------------------------------------------------------------------------------

#: The pump's request counter: what the pump-prometheus-scaledobject component's query reads.
PUMP_REQUESTS_METRIC: Final = "kedasuite_pump_http_requests_total"

# The series a cluster's KEDA, kube-state-metrics and kafka-exporter serve, which a local
# ``kedasuite autoscale --metrics-port`` serves too (same names, same labels), so one dashboard
# and one rule file read either. KEDA v2.20.2's pkg/metricscollector/prommetrics.go:
KEDA_SCALER_METRICS_VALUE: Final = "keda_scaler_metrics_value"
KEDA_SCALER_ACTIVE: Final = "keda_scaler_active"
KEDA_SCALER_DETAIL_ERRORS: Final = "keda_scaler_detail_errors_total"
KEDA_SCALED_OBJECT_ERRORS: Final = "keda_scaled_object_errors_total"
KEDA_SCALED_JOB_ERRORS: Final = "keda_scaled_job_errors_total"
KEDA_SCALED_OBJECT_PAUSED: Final = "keda_scaled_object_paused"
# kube-state-metrics v2 (the HPA KEDA creates, and a ScaledJob's Jobs):
KSM_HPA_DESIRED_REPLICAS: Final = "kube_horizontalpodautoscaler_status_desired_replicas"
KSM_HPA_CURRENT_REPLICAS: Final = "kube_horizontalpodautoscaler_status_current_replicas"
KSM_HPA_MAX_REPLICAS: Final = "kube_horizontalpodautoscaler_spec_max_replicas"
KSM_HPA_MIN_REPLICAS: Final = "kube_horizontalpodautoscaler_spec_min_replicas"
KSM_JOB_OWNER: Final = "kube_job_owner"
KSM_JOB_ACTIVE: Final = "kube_job_status_active"
KSM_JOB_READY: Final = "kube_job_status_ready"
KSM_JOB_SUCCEEDED: Final = "kube_job_status_succeeded"
KSM_JOB_FAILED: Final = "kube_job_status_failed"
# kafka-exporter (danielqsj/kafka_exporter), per partition:
KAFKA_CONSUMERGROUP_LAG: Final = "kafka_consumergroup_lag"
#: All of them: what the dashboard and the alert rules may read besides the suite's own series.
CLUSTER_SERIES: Final = frozenset(
    {
        KEDA_SCALER_METRICS_VALUE,
        KEDA_SCALER_ACTIVE,
        KEDA_SCALER_DETAIL_ERRORS,
        KEDA_SCALED_OBJECT_ERRORS,
        KEDA_SCALED_JOB_ERRORS,
        KEDA_SCALED_OBJECT_PAUSED,
        KSM_HPA_DESIRED_REPLICAS,
        KSM_HPA_CURRENT_REPLICAS,
        KSM_HPA_MAX_REPLICAS,
        KSM_HPA_MIN_REPLICAS,
        KSM_JOB_OWNER,
        KSM_JOB_ACTIVE,
        KSM_JOB_READY,
        KSM_JOB_SUCCEEDED,
        KSM_JOB_FAILED,
        KAFKA_CONSUMERGROUP_LAG,
    }
)

# --- Workload names (the pumps' ``workload=`` values) ------------------------------------

WORKLOAD_CELERY: Final = "celery"
WORKLOAD_KAFKA: Final = "kafka"
WORKLOAD_WORKQUEUE: Final = "workqueue"
WORKLOAD_RQ: Final = "rq"


class Env:
    """Names of the environment variables the code reads.

    Compose files and Kubernetes manifests set these, and KEDA's ``*FromEnv`` trigger
    fields name them, so they belong to the contract too.
    """

    # Redis: either one URL, or the pieces KEDA's redis trigger can read from a
    # container (``addressFromEnv``, ``passwordFromEnv``, ``usernameFromEnv``).
    REDIS_URL: Final = "REDIS_URL"
    REDIS_ADDRESS: Final = "REDIS_ADDRESS"  # host:port, exactly what addressFromEnv wants
    REDIS_USERNAME: Final = "REDIS_USERNAME"
    REDIS_PASSWORD: Final = "REDIS_PASSWORD"
    REDIS_TLS: Final = "REDIS_TLS"
    REDIS_DB: Final = "REDIS_DB"
    REDIS_RETRY_SECONDS: Final = "REDIS_RETRY_SECONDS"  # how long work in progress waits for Redis to return
    # TLS for rediss:// URLs: the CA that signed the server's certificate, and the client's
    # own certificate and key when the server asks for one (tls-auth-clients yes).
    REDIS_TLS_CA_FILE: Final = "REDIS_TLS_CA_FILE"
    REDIS_TLS_CERT_FILE: Final = "REDIS_TLS_CERT_FILE"
    REDIS_TLS_KEY_FILE: Final = "REDIS_TLS_KEY_FILE"
    REDIS_TLS_VERIFY: Final = "REDIS_TLS_VERIFY"  # false: no certificate check (never in production)

    # Kafka. Any librdkafka property can be set as KAFKA_CONFIG_<PROPERTY> (both roles),
    # KAFKA_PRODUCER_CONFIG_<PROPERTY> or KAFKA_CONSUMER_CONFIG_<PROPERTY>, the property
    # upper-cased with dots as underscores: KAFKA_CONFIG_SECURITY_PROTOCOL=SASL_SSL.
    KAFKA_BOOTSTRAP_SERVERS: Final = "KAFKA_BOOTSTRAP_SERVERS"  # the trigger's bootstrapServersFromEnv
    KAFKA_TOPIC: Final = "KAFKA_TOPIC"  # topicFromEnv
    KAFKA_CONSUMER_GROUP: Final = "KAFKA_CONSUMER_GROUP"  # consumerGroupFromEnv
    KAFKA_DLQ_TOPIC: Final = "KAFKA_DLQ_TOPIC"
    KAFKA_PARTITIONS: Final = "KAFKA_PARTITIONS"
    KAFKA_REPLICATION_FACTOR: Final = "KAFKA_REPLICATION_FACTOR"
    KAFKA_OFFSET_RESET: Final = "KAFKA_OFFSET_RESET"
    KAFKA_LAG_THRESHOLD: Final = "KAFKA_LAG_THRESHOLD"
    KAFKA_PROPERTIES: Final = "KAFKA_PROPERTIES"  # space-separated key=value, as the -X flags
    # Kafka security, the usual case named plainly (each maps to one librdkafka property).
    KAFKA_SECURITY_PROTOCOL: Final = "KAFKA_SECURITY_PROTOCOL"  # security.protocol: SASL_SSL, SSL, ...
    KAFKA_SASL_MECHANISM: Final = "KAFKA_SASL_MECHANISM"  # sasl.mechanism: SCRAM-SHA-512, PLAIN, ...
    KAFKA_SASL_USERNAME: Final = "KAFKA_SASL_USERNAME"
    KAFKA_SASL_PASSWORD: Final = "KAFKA_SASL_PASSWORD"
    KAFKA_SSL_CA_FILE: Final = "KAFKA_SSL_CA_FILE"  # ssl.ca.location
    KAFKA_CONFIG_PREFIX: Final = "KAFKA_CONFIG_"
    KAFKA_PRODUCER_CONFIG_PREFIX: Final = "KAFKA_PRODUCER_CONFIG_"
    KAFKA_CONSUMER_CONFIG_PREFIX: Final = "KAFKA_CONSUMER_CONFIG_"

    # Workers.
    WORK_TIME: Final = "WORK_TIME"
    WORKER_CONCURRENCY: Final = "WORKER_CONCURRENCY"
    WORKER_NAME: Final = "WORKER_NAME"
    WORKER_MAX_MESSAGES: Final = "WORKER_MAX_MESSAGES"
    CELERY_VISIBILITY_TIMEOUT: Final = "CELERY_VISIBILITY_TIMEOUT"
    #: Celery's ``worker_prefetch_multiplier`` and ``task_acks_late``: the suite's are 1 and true;
    #: Celery's own defaults (4, false) are what ``kedasuite scenario celery-prefetch`` shows.
    CELERY_PREFETCH_MULTIPLIER: Final = "CELERY_PREFETCH_MULTIPLIER"
    CELERY_ACKS_LATE: Final = "CELERY_ACKS_LATE"
    #: ``PARTITION:OFFSET``: a Kafka consumer whose handler keeps failing on that record, so it never
    #: gets past it: the stuck partition of ``kedasuite scenario kafka-persistent-lag``. Unset: none.
    KAFKA_STUCK_AT: Final = "KAFKA_STUCK_AT"
    #: A file a process creates once it is ready for work; the local autoscaler's stand-in for a
    #: readiness probe (a ScaledJob's ``pendingPodConditions: [Ready]``).
    READY_FILE: Final = "READY_FILE"
    #: The process's pod name, set per process by the local autoscaler as Kubernetes' downward API
    #: would (``fieldRef: metadata.name``); a workload's variables may use it as ``$(POD_NAME)``.
    POD_NAME: Final = "POD_NAME"
    LOG_LEVEL: Final = "LOG_LEVEL"
    #: Port of a worker's Prometheus ``/metrics`` (0: off). The pump serves them on its own port.
    METRICS_PORT: Final = "METRICS_PORT"
    #: prometheus_client's own: where a worker's processes write their metric files.
    PROMETHEUS_MULTIPROC_DIR: Final = "PROMETHEUS_MULTIPROC_DIR"

    # The work-queue Job runner.
    WORKQUEUE_LEASE_SECONDS: Final = "WORKQUEUE_LEASE_SECONDS"
    WORKQUEUE_MAX_ATTEMPTS: Final = "WORKQUEUE_MAX_ATTEMPTS"
    WORKQUEUE_MAX_ITEMS: Final = "WORKQUEUE_MAX_ITEMS"
    WORKQUEUE_IDLE_TIMEOUT: Final = "WORKQUEUE_IDLE_TIMEOUT"
    WORKQUEUE_GRACE_PERIOD: Final = "WORKQUEUE_GRACE_PERIOD"
    WORKQUEUE_FAIL_PATTERN: Final = "WORKQUEUE_FAIL_PATTERN"
    #: Seconds a runner spends starting up before its first lease (a slow-starting pod).
    WORKQUEUE_START_DELAY: Final = "WORKQUEUE_START_DELAY"

    # RQ.
    RQ_JOB_TIMEOUT: Final = "RQ_JOB_TIMEOUT"
    RQ_RETRIES: Final = "RQ_RETRIES"
    RQ_MAINTENANCE_INTERVAL: Final = "RQ_MAINTENANCE_INTERVAL"
    RQ_BURST: Final = "RQ_BURST"
    RQ_MAX_IDLE_TIME: Final = "RQ_MAX_IDLE_TIME"
    RQ_JOB_MONITORING_INTERVAL: Final = "RQ_JOB_MONITORING_INTERVAL"

    # Pumps.
    PUMP_HOST: Final = "PUMP_HOST"
    PUMP_PORT: Final = "PUMP_PORT"
    PUMP_THREADS: Final = "PUMP_THREADS"
    PUMP_WORKLOADS: Final = "PUMP_WORKLOADS"
    PUMP_DEFAULT_WORKLOAD: Final = "PUMP_DEFAULT_WORKLOAD"
    PUMP_MAX_COUNT: Final = "PUMP_MAX_COUNT"
    PUMP_BATCH_SIZE: Final = "PUMP_BATCH_SIZE"
    PUMP_MAX_RUNS: Final = "PUMP_MAX_RUNS"
    PUMP_MAX_QUEUED_ITEMS: Final = "PUMP_MAX_QUEUED_ITEMS"
    PUMP_TOKEN: Final = "PUMP_TOKEN"  # a secret: from a Secret or the caller's environment, never inline
    PUMP_COUNT: Final = "PUMP_COUNT"
    PUMP_RATE: Final = "PUMP_RATE"
    PUMP_DURATION: Final = "PUMP_DURATION"
    PUMP_PROFILE: Final = "PUMP_PROFILE"
    PUMP_SEED: Final = "PUMP_SEED"
    PUMP_ID_PREFIX: Final = "PUMP_ID_PREFIX"
    PUMP_PROGRESS: Final = "PUMP_PROGRESS"

    # `status` and the pump's /status: where the ScaledObjects / ScaledJob come from.
    KEDA_OVERLAY: Final = "KEDA_OVERLAY"
    KEDA_MANIFESTS: Final = "KEDA_MANIFESTS"
    STATUS_INTERVAL: Final = "STATUS_INTERVAL"
    STATUS_WORKLOADS: Final = "STATUS_WORKLOADS"  # space-separated, as click reads a repeatable option
    STATUS_RUNNING_JOBS: Final = "STATUS_RUNNING_JOBS"
    STATUS_PENDING_JOBS: Final = "STATUS_PENDING_JOBS"
    STATUS_JSON: Final = "STATUS_JSON"
    STATUS_WATCH: Final = "STATUS_WATCH"

    # The timeline recorder (scripts/timeline).
    TIMELINE_CSV: Final = "TIMELINE_CSV"
    TIMELINE_PNG: Final = "TIMELINE_PNG"
    TIMELINE_INTERVAL: Final = "TIMELINE_INTERVAL"
    TIMELINE_DURATION: Final = "TIMELINE_DURATION"
    TIMELINE_WORKLOADS: Final = "TIMELINE_WORKLOADS"  # space-separated, as click reads a repeatable option
    TIMELINE_STATUS_URL: Final = "TIMELINE_STATUS_URL"
    TIMELINE_NAMESPACE: Final = "TIMELINE_NAMESPACE"
    TIMELINE_KUBE_CONTEXT: Final = "TIMELINE_KUBE_CONTEXT"
    TIMELINE_NO_CLUSTER: Final = "TIMELINE_NO_CLUSTER"
    TIMELINE_TITLE: Final = "TIMELINE_TITLE"
    TIMELINE_RENDER_ONLY: Final = "TIMELINE_RENDER_ONLY"

    # The end-to-end checks (kedasuite e2e; the last group is read by scripts/e2e itself).
    E2E_IDLE_SECONDS: Final = "E2E_IDLE_SECONDS"
    E2E_HOLD_SECONDS: Final = "E2E_HOLD_SECONDS"
    E2E_INTERVAL: Final = "E2E_INTERVAL"
    E2E_MARGIN: Final = "E2E_MARGIN"
    E2E_BURST: Final = "E2E_BURST"
    E2E_DRAIN_TIMEOUT: Final = "E2E_DRAIN_TIMEOUT"
    E2E_PUMP_URL: Final = "E2E_PUMP_URL"
    E2E_CONTEXT: Final = "E2E_CONTEXT"
    E2E_NAMESPACE: Final = "E2E_NAMESPACE"
    E2E_TIMELINE: Final = "E2E_TIMELINE"
    E2E_MODEL_CSV: Final = "E2E_MODEL_CSV"
    E2E_PARALLEL: Final = "E2E_PARALLEL"
    E2E_CLUSTER: Final = "E2E_CLUSTER"
    E2E_KEEP: Final = "E2E_KEEP"
    E2E_BUILD: Final = "E2E_BUILD"
    E2E_PICTURE: Final = "E2E_PICTURE"
    KEDA_CHART_VERSION: Final = "KEDA_CHART_VERSION"

    # `kedasuite simulate`: the model of KEDA's and the HPA's loop replaying a metric series.
    SIMULATE_WORKLOAD: Final = "SIMULATE_WORKLOAD"
    SIMULATE_OBJECT: Final = "SIMULATE_OBJECT"
    SIMULATE_SERIES: Final = "SIMULATE_SERIES"  # space-separated TRIGGER=S:V,... as click reads a repeatable option
    SIMULATE_DURATION: Final = "SIMULATE_DURATION"
    SIMULATE_JSON: Final = "SIMULATE_JSON"
    SIMULATE_POLLING_INTERVAL: Final = "SIMULATE_POLLING_INTERVAL"
    SIMULATE_COOLDOWN_PERIOD: Final = "SIMULATE_COOLDOWN_PERIOD"
    SIMULATE_INITIAL_COOLDOWN_PERIOD: Final = "SIMULATE_INITIAL_COOLDOWN_PERIOD"
    SIMULATE_STABILIZATION_WINDOW: Final = "SIMULATE_STABILIZATION_WINDOW"
    SIMULATE_SYNC_PERIOD: Final = "SIMULATE_SYNC_PERIOD"
    SIMULATE_TOLERANCE: Final = "SIMULATE_TOLERANCE"
    SIMULATE_HPA_OFFSET: Final = "SIMULATE_HPA_OFFSET"
    SIMULATE_PARTITIONS: Final = "SIMULATE_PARTITIONS"
    SIMULATE_START_REPLICAS: Final = "SIMULATE_START_REPLICAS"
    SIMULATE_JOB_SECONDS: Final = "SIMULATE_JOB_SECONDS"
    SIMULATE_JOB_PENDING_SECONDS: Final = "SIMULATE_JOB_PENDING_SECONDS"

    # `kedasuite autoscale`: the model against the live brokers, replicas made real by a backend.
    AUTOSCALE_BACKEND: Final = "AUTOSCALE_BACKEND"
    AUTOSCALE_WORKLOADS: Final = "AUTOSCALE_WORKLOADS"  # space-separated, as click reads a repeatable option
    AUTOSCALE_POLLING_INTERVAL: Final = "AUTOSCALE_POLLING_INTERVAL"
    AUTOSCALE_COOLDOWN_PERIOD: Final = "AUTOSCALE_COOLDOWN_PERIOD"
    AUTOSCALE_STABILIZATION_WINDOW: Final = "AUTOSCALE_STABILIZATION_WINDOW"
    AUTOSCALE_SYNC_PERIOD: Final = "AUTOSCALE_SYNC_PERIOD"
    AUTOSCALE_RUN_DIR: Final = "AUTOSCALE_RUN_DIR"
    AUTOSCALE_DURATION: Final = "AUTOSCALE_DURATION"
    AUTOSCALE_EVERY_STEP: Final = "AUTOSCALE_EVERY_STEP"
    AUTOSCALE_COMPOSE_PROJECT: Final = "AUTOSCALE_COMPOSE_PROJECT"
    AUTOSCALE_COMPOSE_FILE: Final = "AUTOSCALE_COMPOSE_FILE"  # space-separated, as click reads a repeatable option
    #: Port of the autoscaler's Prometheus ``/metrics``: KEDA's, kube-state-metrics' and kafka-exporter's series (0: off).
    AUTOSCALE_METRICS_PORT: Final = "AUTOSCALE_METRICS_PORT"
    #: The ``namespace`` label of those series: the namespace the manifests deploy in on a cluster.
    AUTOSCALE_NAMESPACE: Final = "AUTOSCALE_NAMESPACE"

    # `kedasuite scenario`: the pitfall lab.
    SCENARIO_LIST: Final = "SCENARIO_LIST"
    SCENARIO_OUT: Final = "SCENARIO_OUT"
    SCENARIO_MODEL_ONLY: Final = "SCENARIO_MODEL_ONLY"
    SCENARIO_DEADLINE_FACTOR: Final = "SCENARIO_DEADLINE_FACTOR"

    # The embedded demo.
    DEMO_COUNT: Final = "DEMO_COUNT"
    DEMO_WORKLOADS: Final = "DEMO_WORKLOADS"
    DEMO_WORK_TIME: Final = "DEMO_WORK_TIME"
    DEMO_TIMEOUT: Final = "DEMO_TIMEOUT"
    EMBEDDED_REDIS_PORT: Final = "EMBEDDED_REDIS_PORT"
    #: Which embedded Kafka the demo, the scenarios, the bench and ``kafka-server`` start:
    #: ``apache``, ``tansu`` or ``auto`` (Apache Kafka when Java and its resolved jars are there).
    KAFKA_EMBEDDED: Final = "KAFKA_EMBEDDED"
    #: Where Maven's copy of the Apache Kafka jars is kept, one subdirectory per release.
    KAFKA_JARS_DIR: Final = "KAFKA_JARS_DIR"
    EMBEDDED_KAFKA_PORT: Final = "EMBEDDED_KAFKA_PORT"
    KUBERNETES_VERSION: Final = "KUBERNETES_VERSION"
    CHECK_MANIFESTS_STRICT: Final = "CHECK_MANIFESTS_STRICT"
