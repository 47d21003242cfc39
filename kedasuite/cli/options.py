"""The CLI's shared pieces: options that read environment variables, error reporting, and the
option groups several commands share (Redis, Kafka, the pump's settings, the KEDA source).

Every option reads an environment variable (named in :mod:`kedasuite.core.names`), so a
container sets its environment and runs the bare command; a flag on the command line
wins over the environment. Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kedasuite.core import defaults
from kedasuite.core.errors import SuiteError
from kedasuite.core.names import (
    KAFKA_TOPIC,
    Env,
)
from kedasuite.core.settings import parse_workload_list, redis_url_from_env

F = TypeVar("F", bound=Callable[..., Any])


class EnvOption(click.Option):
    """An option whose --help names its environment variable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)


option = functools.partial(click.option, cls=EnvOption)


class UserError(click.ClickException):
    exit_code = 2


def reports_errors(func: F) -> F:
    """Turn a :class:`SuiteError` into ``Error: <message>`` and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SuiteError as exc:
            error = UserError(exc.message)
            error.exit_code = exc.exit_code
            raise error from exc

    return wrapper  # type: ignore[return-value]


redis_url_option = option(
    "--redis-url",
    envvar=Env.REDIS_URL,
    default=lambda: redis_url_from_env(),
    show_default=f"${Env.REDIS_URL}, else built from ${Env.REDIS_ADDRESS} etc., else {defaults.REDIS_URL}",
    help="Redis server (broker and results).",
)


metrics_port_option = option(
    "--metrics-port",
    envvar=Env.METRICS_PORT,
    default=defaults.METRICS_PORT,
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus /metrics on this port, summed over the worker's processes (0: off).",
)


def kafka_options(func: F) -> F:
    """Where the Kafka workload lives; shared by pumps and consumers."""
    options = [
        option(
            "--bootstrap-servers",
            envvar=Env.KAFKA_BOOTSTRAP_SERVERS,
            default=defaults.KAFKA_BOOTSTRAP_SERVERS,
            help="Kafka brokers, host:port[,host:port].",
        ),
        option("--topic", envvar=Env.KAFKA_TOPIC, default=KAFKA_TOPIC, help="Topic of the Kafka workload."),
        option(
            "--partitions",
            envvar=Env.KAFKA_PARTITIONS,
            default=defaults.KAFKA_PARTITIONS,
            type=click.IntRange(min=1),
            help="Partitions of the topic when it is created (KEDA's replica cap).",
        ),
        option(
            "-X",
            "--kafka-property",
            "kafka_properties",
            envvar=Env.KAFKA_PROPERTIES,
            multiple=True,
            metavar="KEY=VALUE",
            help="Any librdkafka property, repeatable (also KAFKA_CONFIG_<PROPERTY> variables).",
        ),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def kafka_settings(
    bootstrap_servers: str, topic: str, partitions: int, kafka_properties: tuple[str, ...], **more: Any
) -> Any:
    from kedasuite.core.clients import parse_kafka_properties
    from kedasuite.core.settings import KafkaSettings

    return KafkaSettings.from_env(
        bootstrap=bootstrap_servers,
        topic=topic,
        partitions=partitions,
        extra=parse_kafka_properties(kafka_properties),
        **more,
    )


def pump_settings_options(func: F) -> F:
    """Options shared by the CLI pump and the HTTP pump."""
    func = kafka_options(func)
    options = [
        redis_url_option,
        option(
            "--workloads",
            envvar=Env.PUMP_WORKLOADS,
            default=defaults.PUMP_WORKLOADS,
            show_default=True,
            help="Comma-separated workloads this pump serves (what 'all' means).",
        ),
        option(
            "--default-workload",
            envvar=Env.PUMP_DEFAULT_WORKLOAD,
            default=defaults.PUMP_DEFAULT_WORKLOAD,
            show_default=True,
            help="Workload used when a request names none.",
        ),
        option(
            "--max-count",
            envvar=Env.PUMP_MAX_COUNT,
            default=defaults.PUMP_MAX_COUNT,
            type=int,
            show_default=True,
            help="Largest count one request may ask for.",
        ),
        option(
            "--batch-size",
            envvar=Env.PUMP_BATCH_SIZE,
            default=defaults.PUMP_BATCH_SIZE,
            type=int,
            show_default=True,
            help="Records sent to the broker per round trip.",
        ),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def keda_source_options(func: F) -> F:
    """Where ``status`` (and the pump's /status) find the ScaledObjects and the ScaledJob."""
    options = [
        option(
            "--overlay",
            envvar=Env.KEDA_OVERLAY,
            default=None,
            show_default="k8s/overlays/local if present, else the render bundled with the package",
            help="Kustomize directory to render with kubectl.",
        ),
        option(
            "--manifests",
            envvar=Env.KEDA_MANIFESTS,
            default=None,
            type=click.Path(dir_okay=False),
            help="A file of rendered manifests (kubectl kustomize ... > file); wins over --overlay.",
        ),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


#: Where ``status``, the pump's ``/status`` and ``timeline`` look for a local autoscaler's
#: state: the run directory of ``kedasuite autoscale`` (the same variable, the same default).
autoscale_run_dir_option = option(
    "--autoscale-run-dir",
    envvar=Env.AUTOSCALE_RUN_DIR,
    default=defaults.autoscale_run_dir,
    show_default="<tmp>/kedasuite-autoscale-<uid>, as kedasuite autoscale",
    type=click.Path(file_okay=False),
    help="Run directory of a local `kedasuite autoscale` (its --run-dir): its state.json (actual and model "
    "replicas, the next step and why) is shown per workload, marked stale once that autoscaler is gone, with "
    "its age and the run directories of the autoscalers running now. An empty value: off.",
)


def pump_settings(
    redis_url: str, workloads: str, default_workload: str, max_count: int, batch_size: int, **kafka: Any
) -> Any:
    from kedasuite.core.settings import BrokerConfig, PumpSettings

    return PumpSettings(
        brokers=BrokerConfig(redis_url=redis_url, kafka=kafka_settings(**kafka)),
        workloads=parse_workload_list(workloads),
        default_workload=default_workload,
        max_count=max_count,
        batch_size=batch_size,
    )
