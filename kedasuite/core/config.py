"""Every setting the suite reads, declared once: its variable, its type and bounds, its default
and its help.

Both routes in are built from these declarations: each CLI option (``kedasuite.cli.options.option``
turns a :class:`Setting` into a click option whose flag wins over the variable), and each settings
object that reads the environment directly (:meth:`Setting.read`, as ``core/settings.py`` and the
workers do). So a flag, its variable, its default and the error for a bad value cannot drift apart.
The variables' names are the naming contract's (:class:`kedasuite.core.names.Env`);
docs/configuration.md lists every one (tests/core/test_configuration.py keeps it so).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from kedasuite.core import defaults, names
from kedasuite.core.errors import InputError
from kedasuite.core.names import Env
from kedasuite.core.workloads import NAMES, WORKLOADS

#: The words a boolean variable may be (any case): the settings' and ``settings.env_flag``'s.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """One variable: what it holds and what it means. Bounds and choices are checked alike from
    the command line (click) and from the environment (:meth:`read`)."""

    env: str
    help: str
    #: A value, or a function of no arguments giving it (a default that depends on other variables).
    default: Any = None
    kind: type = str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    case_sensitive: bool = True
    #: ``file`` or ``dir``: a path, and which of the two it must not be.
    path: Literal["file", "dir"] | None = None
    #: Repeatable on the command line; space-separated in the variable (as click reads it).
    multiple: bool = False
    #: An on/off flag on the command line.
    flag: bool = False
    #: What ``--help`` shows as the default when the value is not the point (a computed default).
    show_default: str | bool | None = None
    metavar: str | None = None

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def parse(self, text: str) -> Any:
        """``text`` as this setting's value; a value out of type, bounds or choices is an error that
        names the variable and what it accepts."""

        def bad(wanted: str) -> InputError:
            fallback = "" if self.default is None or callable(self.default) else f" ({self.default})"
            return InputError(
                f"{self.env}={text!r} is not {wanted}; set it to one, or unset it for the default{fallback}"
            )

        if self.kind is bool:
            if text.lower() in TRUE_WORDS or text.lower() in FALSE_WORDS:
                return text.lower() in TRUE_WORDS
            raise bad("true or false")
        if self.kind in (int, float):
            noun = "a whole number" if self.kind is int else "a number"
            bounds = " and ".join(
                part
                for part in (
                    f">= {self.low:g}" if self.low is not None else "",
                    f"<= {self.high:g}" if self.high is not None else "",
                )
                if part
            )
            wanted = f"{noun} {bounds}".strip()
            try:
                value = self.kind(text)
            except ValueError:
                raise bad(wanted) from None
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise bad(wanted)
            return value
        if self.choices:
            fold = (lambda s: s) if self.case_sensitive else str.lower
            for choice in self.choices:
                if fold(choice) == fold(text):
                    return choice
            raise bad("one of " + ", ".join(self.choices))
        return text

    def read(self, environ: Mapping[str, str] = os.environ) -> Any:
        """The variable's value from ``environ``, else the default."""
        text = environ.get(self.env, "").strip()
        return self.parse(text) if text else self.default_value()

    def named(self, env: str, **changes: Any) -> Setting:
        """The same setting under another command's variable (the what-if options of ``simulate``
        and ``autoscale`` mean the same thing and keep their own variables)."""
        return dataclasses.replace(self, env=env, **changes)


# --- Read from the environment by the code (no flag) -------------------------------------------

REDIS_ADDRESS = Setting(
    Env.REDIS_ADDRESS, help="host:port of Redis (what KEDA's addressFromEnv reads); used when REDIS_URL is unset."
)
REDIS_USERNAME = Setting(Env.REDIS_USERNAME, help="Redis ACL user, with REDIS_ADDRESS.")
REDIS_PASSWORD = Setting(Env.REDIS_PASSWORD, help="Redis password, with REDIS_ADDRESS (from a Secret).")
REDIS_TLS = Setting(Env.REDIS_TLS, help="With REDIS_ADDRESS: connect over TLS (rediss://).", default=False, kind=bool)
REDIS_DB = Setting(Env.REDIS_DB, help="With REDIS_ADDRESS: the database number.", default=0, kind=int, low=0)
REDIS_RETRY_SECONDS = Setting(
    Env.REDIS_RETRY_SECONDS,
    help="How long work in progress waits for a lost Redis to come back.",
    default=defaults.REDIS_RETRY_SECONDS,
    kind=float,
    low=0,
)
REDIS_TLS_VERIFY = Setting(
    Env.REDIS_TLS_VERIFY, help="false: no certificate check (never in production).", default=True, kind=bool
)
REDIS_TLS_CA_FILE = Setting(
    Env.REDIS_TLS_CA_FILE, help="PEM file of the CA that signed the Redis server's certificate.", path="file"
)
REDIS_TLS_CERT_FILE = Setting(
    Env.REDIS_TLS_CERT_FILE, help="PEM client certificate, for a server with tls-auth-clients yes.", path="file"
)
REDIS_TLS_KEY_FILE = Setting(Env.REDIS_TLS_KEY_FILE, help="PEM key of REDIS_TLS_CERT_FILE.", path="file")
KAFKA_REPLICATION_FACTOR = Setting(
    Env.KAFKA_REPLICATION_FACTOR,
    help="Replication factor of the topic when the suite creates it.",
    default=defaults.KAFKA_REPLICATION_FACTOR,
    kind=int,
    low=1,
)
KAFKA_SECURITY_PROTOCOL = Setting(
    Env.KAFKA_SECURITY_PROTOCOL, help="The Kafka clients' security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL."
)
KAFKA_SASL_MECHANISM = Setting(
    Env.KAFKA_SASL_MECHANISM, help="The Kafka clients' sasl.mechanism: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN."
)
KAFKA_SSL_CA_FILE = Setting(
    Env.KAFKA_SSL_CA_FILE,
    help="PEM file of the CA that signed the Kafka brokers' certificates (ssl.ca.location).",
    path="file",
)
KAFKA_JARS_DIR = Setting(
    Env.KAFKA_JARS_DIR,
    help="Where Maven's copy of the Apache Kafka jars is kept, one subdirectory per release.",
    show_default="~/.cache/kedasuite/kafka",
    path="dir",
)
POD_NAME = Setting(
    Env.POD_NAME,
    help="The pod's name (the downward API's metadata.name; the local autoscaler sets it per process); "
    "a workload's variables may use it as $(POD_NAME).",
)
RQ_JOB_TIMEOUT = Setting(
    Env.RQ_JOB_TIMEOUT,
    help="Seconds RQ lets a job run before killing it (more than the longest task).",
    default=defaults.RQ_JOB_TIMEOUT,
    kind=int,
    low=1,
)
RQ_RETRIES = Setting(Env.RQ_RETRIES, help="Retries of a failed RQ job.", default=defaults.RQ_RETRIES, kind=int, low=0)


def redis_url_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """The Redis URL: ``REDIS_URL`` if set, else built from ``REDIS_ADDRESS`` and friends."""
    url = environ.get(Env.REDIS_URL, "").strip()
    if url:
        return url
    address = REDIS_ADDRESS.read(environ)
    if not address:
        return defaults.REDIS_URL
    scheme = "rediss" if REDIS_TLS.read(environ) else "redis"
    username = environ.get(Env.REDIS_USERNAME, "")
    password = environ.get(Env.REDIS_PASSWORD, "")
    userinfo = ""
    if username or password:
        userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    return f"{scheme}://{userinfo}{address}/{REDIS_DB.read(environ)}"


# --- Options of the commands (and their variables) ----------------------------------------------

REDIS_URL = Setting(
    Env.REDIS_URL,
    help="Redis server (broker and results).",
    default=lambda: redis_url_from_env(),
    show_default=f"${Env.REDIS_URL}, else built from ${Env.REDIS_ADDRESS} etc., else {defaults.REDIS_URL}",
)

KAFKA_BOOTSTRAP_SERVERS = Setting(
    Env.KAFKA_BOOTSTRAP_SERVERS,
    help="Kafka brokers, host:port[,host:port].",
    default=defaults.KAFKA_BOOTSTRAP_SERVERS,
)

KAFKA_TOPIC = Setting(
    Env.KAFKA_TOPIC,
    help="Topic of the Kafka workload.",
    default=names.KAFKA_TOPIC,
)

KAFKA_CONSUMER_GROUP = Setting(
    Env.KAFKA_CONSUMER_GROUP,
    help="Consumer group.",
    default=names.KAFKA_CONSUMER_GROUP,
)

KAFKA_DLQ_TOPIC = Setting(
    Env.KAFKA_DLQ_TOPIC,
    help="Dead-letter topic for poison messages (default: <topic>.dlq).",
)

KAFKA_PARTITIONS = Setting(
    Env.KAFKA_PARTITIONS,
    help="Partitions of the Kafka topic when the suite creates it (KEDA's replica cap for the kafka workload).",
    default=defaults.KAFKA_PARTITIONS,
    kind=int,
    low=1,
)

KAFKA_OFFSET_RESET = Setting(
    Env.KAFKA_OFFSET_RESET,
    help="Where a group with no committed offset starts (the kafka trigger's offsetResetPolicy).",
    default=defaults.KAFKA_OFFSET_RESET,
    choices=("earliest", "latest"),
)

KAFKA_LAG_THRESHOLD = Setting(
    Env.KAFKA_LAG_THRESHOLD,
    help="The trigger's lagThreshold.",
    default=defaults.KAFKA_LAG_THRESHOLD,
    kind=int,
    low=1,
)

KAFKA_PROPERTIES = Setting(
    Env.KAFKA_PROPERTIES,
    help="Any librdkafka property, repeatable (also KAFKA_CONFIG_<PROPERTY> variables).",
    multiple=True,
    metavar="KEY=VALUE",
)

KAFKA_SASL_USERNAME = Setting(Env.KAFKA_SASL_USERNAME, help="The Kafka clients' SASL user (sasl.username).")

KAFKA_SASL_PASSWORD = Setting(
    Env.KAFKA_SASL_PASSWORD, help="The Kafka clients' SASL password (sasl.password; from a Secret)."
)

WORK_TIME = Setting(
    Env.WORK_TIME,
    help="Simulated work per record: seconds, 'fixed:S' or 'uniform:MIN:MAX'.",
    default=defaults.WORK_TIME,
)

WORKER_CONCURRENCY = Setting(
    Env.WORKER_CONCURRENCY,
    help="Pool processes per Celery worker (its prefork pool).",
    default=defaults.WORKER_CONCURRENCY,
    kind=int,
    low=1,
)

WORKER_NAME = Setting(
    Env.WORKER_NAME,
    help="Celery node name (default: celery.<pid>@<hostname>).",
)

WORKER_MAX_MESSAGES = Setting(
    Env.WORKER_MAX_MESSAGES,
    help="Exit 0 after this many records.",
    kind=int,
    low=1,
)

CELERY_VISIBILITY_TIMEOUT = Setting(
    Env.CELERY_VISIBILITY_TIMEOUT,
    help="Seconds before an unacknowledged task (its worker died) goes to another worker.",
    default=defaults.CELERY_VISIBILITY_TIMEOUT,
    kind=int,
    low=1,
)

CELERY_PREFETCH_MULTIPLIER = Setting(
    Env.CELERY_PREFETCH_MULTIPLIER,
    help="Messages each pool process reserves (Celery's default is 4: they wait "
    "inside the worker, off the list KEDA reads).",
    default=defaults.CELERY_PREFETCH_MULTIPLIER,
    kind=int,
    low=1,
)

CELERY_ACKS_LATE = Setting(
    Env.CELERY_ACKS_LATE,
    help="Acknowledge a task after it ran (the suite's) or when it starts (Celery's default).",
    default=defaults.CELERY_ACKS_LATE,
    kind=bool,
    flag=True,
)

KAFKA_STUCK_AT = Setting(
    Env.KAFKA_STUCK_AT,
    help="Act as a handler that keeps failing on this record, so its partition never moves past it: for "
    "'kedasuite scenario kafka-persistent-lag'.",
    metavar="PARTITION:OFFSET",
)

READY_FILE = Setting(
    Env.READY_FILE,
    help="Create this file once ready for work (after --start-delay): the local autoscaler's readiness probe.",
    path="file",
)

LOG_LEVEL = Setting(
    Env.LOG_LEVEL,
    help="Log level.",
    default=defaults.LOG_LEVEL,
)

METRICS_PORT = Setting(
    Env.METRICS_PORT,
    help="Serve Prometheus /metrics on this port, summed over the worker's processes (0: off).",
    default=defaults.METRICS_PORT,
    kind=int,
    low=0,
    high=65535,
)

WORKQUEUE_LEASE_SECONDS = Setting(
    Env.WORKQUEUE_LEASE_SECONDS,
    help="How long a lease outlives a silent runner.",
    default=defaults.WORKQUEUE_LEASE_SECONDS,
    kind=float,
    low=0.1,
)

WORKQUEUE_MAX_ATTEMPTS = Setting(
    Env.WORKQUEUE_MAX_ATTEMPTS,
    help="Leases an item may take before it is dead-lettered.",
    default=defaults.WORKQUEUE_MAX_ATTEMPTS,
    kind=int,
    low=1,
)

WORKQUEUE_MAX_ITEMS = Setting(
    Env.WORKQUEUE_MAX_ITEMS,
    help="Exit 0 after this many items.",
    kind=int,
    low=1,
)

WORKQUEUE_IDLE_TIMEOUT = Setting(
    Env.WORKQUEUE_IDLE_TIMEOUT,
    help="Exit 0 after this long with nothing to lease while others hold items.",
    default=defaults.WORKQUEUE_IDLE_TIMEOUT,
    kind=float,
    low=0,
)

WORKQUEUE_GRACE_PERIOD = Setting(
    Env.WORKQUEUE_GRACE_PERIOD,
    help="On SIGTERM, finish the item in hand if it needs at most this long.",
    default=defaults.WORKQUEUE_GRACE_PERIOD,
    kind=float,
    low=0,
)

WORKQUEUE_FAIL_PATTERN = Setting(
    Env.WORKQUEUE_FAIL_PATTERN,
    help="Simulate failures: items matching this regular expression fail every attempt.",
)

WORKQUEUE_START_DELAY = Setting(
    Env.WORKQUEUE_START_DELAY,
    help="Seconds of start-up before the first lease (a slow-starting pod).",
    default=defaults.WORKQUEUE_START_DELAY,
    kind=float,
    low=0,
)

RQ_MAINTENANCE_INTERVAL = Setting(
    Env.RQ_MAINTENANCE_INTERVAL,
    help="Seconds between looks for abandoned jobs (their worker died).",
    default=defaults.RQ_MAINTENANCE_INTERVAL,
    kind=int,
    low=1,
)

RQ_BURST = Setting(
    Env.RQ_BURST,
    help="Exit once the queue is empty.",
    default=False,
    kind=bool,
    flag=True,
)

RQ_MAX_IDLE_TIME = Setting(
    Env.RQ_MAX_IDLE_TIME,
    help="Exit 0 after this many seconds with nothing to do.",
    kind=int,
    low=1,
)

RQ_JOB_MONITORING_INTERVAL = Setting(
    Env.RQ_JOB_MONITORING_INTERVAL,
    help="Heartbeat period of a running job; a killed worker's job is abandoned after this + 60 s.",
    default=defaults.RQ_JOB_MONITORING_INTERVAL,
    kind=int,
    low=1,
)

PUMP_HOST = Setting(
    Env.PUMP_HOST,
    help="Address to listen on (0.0.0.0 in containers).",
    default=defaults.PUMP_HOST,
)

PUMP_PORT = Setting(
    Env.PUMP_PORT,
    help="Port to listen on.",
    default=defaults.PUMP_PORT,
    kind=int,
)

PUMP_THREADS = Setting(
    Env.PUMP_THREADS,
    help="Request threads in the gunicorn worker.",
    default=defaults.PUMP_THREADS,
    kind=int,
)

PUMP_WORKLOADS = Setting(
    Env.PUMP_WORKLOADS,
    help="Comma-separated workloads this pump serves (what 'all' means).",
    default=defaults.PUMP_WORKLOADS,
    show_default=True,
)

PUMP_DEFAULT_WORKLOAD = Setting(
    Env.PUMP_DEFAULT_WORKLOAD,
    help="Workload used when a request names none.",
    default=defaults.PUMP_DEFAULT_WORKLOAD,
    show_default=True,
)

PUMP_MAX_COUNT = Setting(
    Env.PUMP_MAX_COUNT,
    help="Largest count one request may ask for.",
    default=defaults.PUMP_MAX_COUNT,
    kind=int,
    show_default=True,
)

PUMP_BATCH_SIZE = Setting(
    Env.PUMP_BATCH_SIZE,
    help="Records sent to the broker per round trip.",
    default=defaults.PUMP_BATCH_SIZE,
    kind=int,
    show_default=True,
)

PUMP_MAX_RUNS = Setting(
    Env.PUMP_MAX_RUNS,
    help="Pump runs in progress at once; past it, 429 with Retry-After.",
    default=defaults.PUMP_MAX_RUNS,
    kind=int,
    low=1,
)

PUMP_MAX_QUEUED_ITEMS = Setting(
    Env.PUMP_MAX_QUEUED_ITEMS,
    help="Items accepted but not yet sent, over all runs; past it, 429.",
    default=defaults.PUMP_MAX_QUEUED_ITEMS,
    kind=int,
    low=1,
)

PUMP_TOKEN = Setting(
    Env.PUMP_TOKEN,
    help="Bearer token every route but /healthz, /readyz and /metrics requires. Prefer the variable: "
    "a flag shows in the process list.",
    show_default="none: open (bind to loopback)",
)

PUMP_COUNT = Setting(
    Env.PUMP_COUNT,
    help="How many records to send (with a load shape: at most this many).",
    show_default=f"{defaults.PUMP_COUNT}, or what the load shape sends",
)

PUMP_RATE = Setting(
    Env.PUMP_RATE,
    help="Items per second, steady, for --duration (or --count).",
)

PUMP_DURATION = Setting(
    Env.PUMP_DURATION,
    help="How long to pump at --rate: 90s, 2m, 500ms.",
)

PUMP_PROFILE = Setting(
    Env.PUMP_PROFILE,
    help="A load shape: step:10/30s,50/30s | ramp:10:200:60s | spike:10:300:20s:5s:60s | burst:200:30s:4.",
)

PUMP_SEED = Setting(
    Env.PUMP_SEED,
    help="Make the records reproducible.",
)

PUMP_ID_PREFIX = Setting(
    Env.PUMP_ID_PREFIX,
    help="Record ids are <prefix>-1 .. <prefix>-N (default: random per run).",
)

PUMP_PROGRESS = Setting(
    Env.PUMP_PROGRESS,
    help="Show a progress bar (default: when stderr is a terminal).",
)

KEDA_OVERLAY = Setting(
    Env.KEDA_OVERLAY,
    help="Kustomize directory to render with kubectl.",
    show_default="k8s/overlays/local if present, else the render bundled with the package",
)

KEDA_MANIFESTS = Setting(
    Env.KEDA_MANIFESTS,
    help="A file of rendered manifests (kubectl kustomize ... > file); wins over --overlay.",
    path="file",
)

STATUS_INTERVAL = Setting(
    Env.STATUS_INTERVAL,
    help="Seconds between refreshes with --watch.",
    default=2.0,
    kind=float,
    low=0.1,
)

STATUS_WORKLOADS = Setting(
    Env.STATUS_WORKLOADS,
    help="Only these workloads (repeatable); default: all.",
    choices=NAMES,
    multiple=True,
)

STATUS_RUNNING_JOBS = Setting(
    Env.STATUS_RUNNING_JOBS,
    help="ScaledJob: Jobs running now (KEDA counts them; only a cluster knows).",
    default=0,
    kind=int,
    low=0,
)

STATUS_PENDING_JOBS = Setting(
    Env.STATUS_PENDING_JOBS,
    help="ScaledJob: of those, Jobs whose pod is not running yet.",
    default=0,
    kind=int,
    low=0,
)

STATUS_JSON = Setting(
    Env.STATUS_JSON,
    help="Print JSON (the pump's GET /status) instead of a table.",
    kind=bool,
    flag=True,
)

STATUS_WATCH = Setting(
    Env.STATUS_WATCH,
    help="Refresh in place until interrupted.",
    kind=bool,
    flag=True,
)

TIMELINE_CSV = Setting(
    Env.TIMELINE_CSV,
    help="Where the samples go (the file is started afresh).",
    default=defaults.TIMELINE_CSV,
    path="file",
)

TIMELINE_PNG = Setting(
    Env.TIMELINE_PNG,
    help="Where the picture goes.",
    path="file",
    show_default="the CSV path with .png",
)

TIMELINE_INTERVAL = Setting(
    Env.TIMELINE_INTERVAL,
    help="Seconds between samples.",
    default=defaults.TIMELINE_INTERVAL,
    kind=float,
    low=0.1,
)

TIMELINE_DURATION = Setting(
    Env.TIMELINE_DURATION,
    help="Seconds to record.",
    kind=float,
    low=0,
    show_default="until Ctrl-C or SIGTERM",
)

TIMELINE_WORKLOADS = Setting(
    Env.TIMELINE_WORKLOADS,
    help="Only these workloads (repeatable); default: all.",
    choices=NAMES,
    multiple=True,
)

TIMELINE_STATUS_URL = Setting(
    Env.TIMELINE_STATUS_URL,
    help="Read snapshots from a pump's GET /status (e.g. through kubectl port-forward) instead of "
    "reading the brokers from here.",
)

TIMELINE_NAMESPACE = Setting(
    Env.TIMELINE_NAMESPACE,
    help="Kubernetes namespace of the ScaledObjects and the ScaledJob.",
    default=defaults.KUBE_NAMESPACE,
)

TIMELINE_KUBE_CONTEXT = Setting(
    Env.TIMELINE_KUBE_CONTEXT,
    help="kubeconfig context of the cluster whose replicas are recorded.",
    show_default="the current context",
)

TIMELINE_NO_CLUSTER = Setting(
    Env.TIMELINE_NO_CLUSTER,
    help="Do not look for a cluster (the actual column stays empty).",
    kind=bool,
    flag=True,
)

TIMELINE_TITLE = Setting(
    Env.TIMELINE_TITLE,
    help="Title of the picture.",
)

TIMELINE_RENDER_ONLY = Setting(
    Env.TIMELINE_RENDER_ONLY,
    help="Do not record: draw the picture of a saved CSV.",
    path="file",
    metavar="CSV",
)

E2E_IDLE_SECONDS = Setting(
    Env.E2E_IDLE_SECONDS,
    help="Seconds the idle phase lasts (at least two polling intervals).",
    default=defaults.E2E_IDLE_SECONDS,
    kind=float,
)

E2E_HOLD_SECONDS = Setting(
    Env.E2E_HOLD_SECONDS,
    help="Seconds the below-activation load is held (at least two polling intervals).",
    default=defaults.E2E_HOLD_SECONDS,
    kind=float,
)

E2E_INTERVAL = Setting(
    Env.E2E_INTERVAL,
    help="Seconds between readings.",
    default=defaults.E2E_INTERVAL,
    kind=float,
    low=0.01,
)

E2E_MARGIN = Setting(
    Env.E2E_MARGIN,
    help="Seconds added to every KEDA-derived deadline.",
    default=defaults.E2E_MARGIN,
    kind=float,
)

E2E_BURST = Setting(
    Env.E2E_BURST,
    help="Burst size for every workload.",
    kind=int,
    low=1,
    show_default=", ".join(f"{r.name} {r.e2e_burst}" for r in WORKLOADS),
)

E2E_DRAIN_TIMEOUT = Setting(
    Env.E2E_DRAIN_TIMEOUT,
    help="Seconds the burst may take to drain.",
    default=defaults.E2E_DRAIN_TIMEOUT,
    kind=float,
)

E2E_PUMP_URL = Setting(
    Env.E2E_PUMP_URL,
    help="The deployed pump's HTTP address (a kubectl port-forward): readings come from its /status, "
    "load goes in through its /pump.",
    default=f"http://127.0.0.1:{defaults.PUMP_PORT}",
)

E2E_CONTEXT = Setting(
    Env.E2E_CONTEXT,
    help="kubeconfig context of the cluster.",
    show_default="the current context",
)

E2E_NAMESPACE = Setting(
    Env.E2E_NAMESPACE,
    help="Namespace the suite is deployed in.",
    default=defaults.KUBE_NAMESPACE,
)

E2E_TIMELINE = Setting(
    Env.E2E_TIMELINE,
    help="Where the timeline CSV goes (the format kedasuite timeline draws).",
    default="artifacts/e2e-timeline.csv",
    path="file",
)

E2E_MODEL_CSV = Setting(
    Env.E2E_MODEL_CSV,
    help="Also write each reading's observed and predicted count (and their difference) to this CSV.",
    path="file",
)

E2E_PARALLEL = Setting(
    Env.E2E_PARALLEL,
    help="Run the workloads at the same time (needs a roomier cluster).",
    kind=bool,
    flag=True,
)

SIMULATE_WORKLOAD = Setting(
    Env.SIMULATE_WORKLOAD,
    help="The workload whose ScaledObject / ScaledJob to replay.",
    default=names.WORKLOAD_CELERY,
    choices=NAMES,
    show_default=True,
)

SIMULATE_OBJECT = Setting(
    Env.SIMULATE_OBJECT,
    help="The ScaledObject or ScaledJob to replay, by name (for manifests whose objects scale no suite "
    "workload); wins over --workload.",
    metavar="NAME",
)

SIMULATE_SERIES = Setting(
    Env.SIMULATE_SERIES,
    help=f"A trigger's raw value over time, e.g. {defaults.SIMULATE_EXAMPLE} (each value holds until the next; a trigger not "
    "given reads 0). VALUE: a number, 'error' (the read fails), or kafka per-partition lags 10/0/3 "
    "('missing': a partition the broker's latest offsets leave out). "
    "A ScaledJob also takes running=... and pending=... (Jobs a cluster reports). Repeatable.",
    multiple=True,
    metavar="TRIGGER=S:V,...",
)

SIMULATE_DURATION = Setting(
    Env.SIMULATE_DURATION,
    help="Seconds to replay.",
    kind=float,
    low=0,
    show_default="the last change + the longest wait + 4 polls",
)

SIMULATE_JSON = Setting(
    Env.SIMULATE_JSON,
    help="Print every step as a JSON list.",
    kind=bool,
    flag=True,
)

SIMULATE_INITIAL_COOLDOWN_PERIOD = Setting(
    Env.SIMULATE_INITIAL_COOLDOWN_PERIOD,
    help="What-if: initialCooldownPeriod in seconds (default: the manifest's).",
    kind=float,
    low=0,
)

SIMULATE_TOLERANCE = Setting(
    Env.SIMULATE_TOLERANCE,
    help="The HPA's tolerance (a behavior's own tolerance wins).",
    default=defaults.HPA_TOLERANCE,
    kind=float,
    low=0,
    high=1,
    show_default=True,
)

SIMULATE_HPA_OFFSET = Setting(
    Env.SIMULATE_HPA_OFFSET,
    help="Seconds from KEDA's first poll to the HPA's first sync.",
    default=0.0,
    kind=float,
    low=0,
    show_default=True,
)

SIMULATE_PARTITIONS = Setting(
    Env.SIMULATE_PARTITIONS,
    help="Partitions of a kafka trigger's topic (its cap is partitions × lagThreshold).",
    default=5,
    kind=int,
    low=1,
    show_default=True,
)

SIMULATE_START_REPLICAS = Setting(
    Env.SIMULATE_START_REPLICAS,
    help="ScaledObject: replicas at t = 0.",
    default=0,
    kind=int,
    low=0,
    show_default=True,
)

SIMULATE_JOB_SECONDS = Setting(
    Env.SIMULATE_JOB_SECONDS,
    help="ScaledJob: how long a Job's pods run (one wave of parallelism).",
    default=60.0,
    kind=float,
    low=1,
    show_default=True,
)

SIMULATE_JOB_PENDING_SECONDS = Setting(
    Env.SIMULATE_JOB_PENDING_SECONDS,
    help="ScaledJob: how long a new Job waits before its pod runs (counted as pending).",
    default=0.0,
    kind=float,
    low=0,
    show_default=True,
)

AUTOSCALE_BACKEND = Setting(
    Env.AUTOSCALE_BACKEND,
    help="What runs the replicas: 'processes' (kedasuite worker / job processes here), 'compose' (the "
    "services of a docker compose project) or 'none' (the model only, for a cluster whose KEDA acts).",
    default="processes",
    show_default=True,
)

AUTOSCALE_WORKLOADS = Setting(
    Env.AUTOSCALE_WORKLOADS,
    help="Only these workloads (repeatable); default: every ScaledObject / ScaledJob of the manifests.",
    choices=NAMES,
    multiple=True,
)

AUTOSCALE_RUN_DIR = Setting(
    Env.AUTOSCALE_RUN_DIR,
    help="Workers' logs, the process bookkeeping a restarted autoscaler adopts "
    "from, and state.json (what /status can show).",
    default=defaults.autoscale_run_dir,
    path="dir",
    show_default="<tmp>/kedasuite-autoscale-<uid>",
)

AUTOSCALE_DURATION = Setting(
    Env.AUTOSCALE_DURATION,
    help="Stop after this many seconds (default: until SIGINT / SIGTERM).",
    kind=float,
    low=0,
)

AUTOSCALE_EVERY_STEP = Setting(
    Env.AUTOSCALE_EVERY_STEP,
    help="Print every step of the model (each poll and sync), not only changes.",
    kind=bool,
    flag=True,
)

AUTOSCALE_COMPOSE_PROJECT = Setting(
    Env.AUTOSCALE_COMPOSE_PROJECT,
    help="--backend compose: the compose project whose services are scaled (docker compose -p).",
    default=defaults.AUTOSCALE_COMPOSE_PROJECT,
    show_default=True,
)

AUTOSCALE_COMPOSE_FILE = Setting(
    Env.AUTOSCALE_COMPOSE_FILE,
    help="--backend compose: the compose file(s) (docker compose -f, repeatable; default: compose's own "
    "lookup, compose.yaml in the current directory).",
    path="file",
    multiple=True,
)

AUTOSCALE_METRICS_PORT = Setting(
    Env.AUTOSCALE_METRICS_PORT,
    help="Serve Prometheus /metrics on this port (0: off): KEDA's, kube-state-metrics' and kafka-exporter's "
    "series, under their own names, taken from the model and the backend.",
    default=0,
    kind=int,
    low=0,
    high=65535,
    show_default=True,
)

AUTOSCALE_NAMESPACE = Setting(
    Env.AUTOSCALE_NAMESPACE,
    help="The namespace label of the /metrics series (a cluster's: where the manifests deploy).",
    default=defaults.KUBE_NAMESPACE,
    show_default=True,
)

SCENARIO_LIST = Setting(
    Env.SCENARIO_LIST,
    help="Describe every scenario in one line and exit.",
    kind=bool,
    flag=True,
)

SCENARIO_OUT = Setting(
    Env.SCENARIO_OUT,
    help="Where the timeline PNG, the CSV and the autoscaler's log go.",
    default=defaults.SCENARIO_OUT,
    path="dir",
)

SCENARIO_MODEL_ONLY = Setting(
    Env.SCENARIO_MODEL_ONLY,
    help="No brokers, no processes: the model drives simulated workers on a simulated clock.",
    kind=bool,
    flag=True,
)

SCENARIO_DEADLINE_FACTOR = Setting(
    Env.SCENARIO_DEADLINE_FACTOR,
    help="A live variant stops at the scenario's deadline (from its timings) times this, played out or not.",
    default=defaults.SCENARIO_DEADLINE_FACTOR,
    kind=float,
    low=1,
)

DEMO_COUNT = Setting(
    Env.DEMO_COUNT,
    help="Records to pump.",
    default=defaults.DEMO_COUNT,
    kind=int,
    low=1,
)

DEMO_WORKLOADS = Setting(
    Env.DEMO_WORKLOADS,
    help="Comma-separated workloads to run.",
    default=",".join(NAMES),
)

DEMO_WORK_TIME = Setting(
    Env.DEMO_WORK_TIME,
    help="Simulated work per task.",
    default=defaults.DEMO_WORK_TIME,
)

DEMO_TIMEOUT = Setting(
    Env.DEMO_TIMEOUT,
    help="Seconds to wait for every record to be processed.",
    default=defaults.DEMO_TIMEOUT,
    kind=float,
)

EMBEDDED_REDIS_PORT = Setting(
    Env.EMBEDDED_REDIS_PORT,
    help="Port on 127.0.0.1.",
    default=defaults.EMBEDDED_REDIS_PORT,
    kind=int,
)

KAFKA_EMBEDDED = Setting(
    Env.KAFKA_EMBEDDED,
    help="Apache Kafka, Tansu, or auto: Apache Kafka when Java and its resolved jars are there.",
    default="auto",
    choices=("auto", "apache", "tansu"),
    case_sensitive=False,
)

EMBEDDED_KAFKA_PORT = Setting(
    Env.EMBEDDED_KAFKA_PORT,
    help="Client port on 127.0.0.1 (0: a free one).",
    default=defaults.EMBEDDED_KAFKA_PORT,
    kind=int,
    low=0,
    high=65535,
)

KUBERNETES_VERSION = Setting(
    Env.KUBERNETES_VERSION,
    help="Kubernetes version whose API schemas core objects are checked against (default 1.31).",
)

CHECK_MANIFESTS_STRICT = Setting(
    Env.CHECK_MANIFESTS_STRICT,
    help="Exit 1 on lint warnings too (errors always fail; notes never).",
    kind=bool,
    flag=True,
)


# --- The what-if timings: one meaning, each command's own variable -------------------------------

_POLLING_INTERVAL = Setting(
    "", help="What-if: pollingInterval in seconds (default: the manifest's).", kind=float, low=1
)
_COOLDOWN_PERIOD = Setting("", help="What-if: cooldownPeriod in seconds (default: the manifest's).", kind=float, low=0)
_STABILIZATION_WINDOW = Setting(
    "",
    help="What-if: the HPA's scale-down stabilization window (default: the behavior's, else 300 s).",
    kind=float,
    low=0,
)
_SYNC_PERIOD = Setting(
    "", help="Seconds between HPA syncs.", default=defaults.HPA_SYNC_PERIOD_S, kind=float, low=1, show_default=True
)
SIMULATE_POLLING_INTERVAL = _POLLING_INTERVAL.named(Env.SIMULATE_POLLING_INTERVAL)
SIMULATE_COOLDOWN_PERIOD = _COOLDOWN_PERIOD.named(Env.SIMULATE_COOLDOWN_PERIOD)
SIMULATE_STABILIZATION_WINDOW = _STABILIZATION_WINDOW.named(Env.SIMULATE_STABILIZATION_WINDOW)
SIMULATE_SYNC_PERIOD = _SYNC_PERIOD.named(Env.SIMULATE_SYNC_PERIOD)
AUTOSCALE_POLLING_INTERVAL = _POLLING_INTERVAL.named(Env.AUTOSCALE_POLLING_INTERVAL)
AUTOSCALE_COOLDOWN_PERIOD = _COOLDOWN_PERIOD.named(Env.AUTOSCALE_COOLDOWN_PERIOD)
AUTOSCALE_STABILIZATION_WINDOW = _STABILIZATION_WINDOW.named(Env.AUTOSCALE_STABILIZATION_WINDOW)
AUTOSCALE_SYNC_PERIOD = _SYNC_PERIOD.named(Env.AUTOSCALE_SYNC_PERIOD)


def declared() -> dict[str, Setting]:
    """Every setting, by variable."""
    return {s.env: s for s in globals().values() if isinstance(s, Setting) and s.env}
