"""The CLI's shared pieces: options built from the settings' declarations, error reporting, and
the option groups several commands share (Redis, Kafka, the pump's settings, the KEDA source).

Every option is a :class:`kedasuite.core.config.Setting` (its variable, type, default and help
declared there, once), so a container sets its environment and runs the bare command; a flag on
the command line wins over the environment. Errors the user can fix print one line and exit 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from kedasuite.core import config
from kedasuite.core.config import Setting
from kedasuite.core.errors import SuiteError
from kedasuite.core.settings import BrokerConfig, KafkaSettings, PumpSettings, parse_workload_list

F = TypeVar("F", bound=Callable[..., Any])


def click_type(setting: Setting) -> click.ParamType | None:
    """The click type that checks what :meth:`Setting.parse` checks (``None``: click's own guess)."""
    if setting.choices:
        return click.Choice(setting.choices, case_sensitive=setting.case_sensitive)
    if setting.path is not None:
        return click.Path(dir_okay=setting.path != "file", file_okay=setting.path != "dir")
    if setting.kind is int:
        ranged = setting.low is not None or setting.high is not None
        return click.IntRange(setting.low, setting.high) if ranged else click.INT
    if setting.kind is float:
        ranged = setting.low is not None or setting.high is not None
        return click.FloatRange(setting.low, setting.high) if ranged else click.FLOAT
    return None


def option(*decls: str, setting: Setting, **overrides: Any) -> Callable[[F], F]:
    """A click option reading ``setting``'s variable, with its type, default and help.

    ``overrides`` (``help``, ``default``, ``show_default``) are for a command whose flag plays another
    part than the variable's usual one (``--redis-url`` of a command that starts its own Redis).
    """
    kwargs: dict[str, Any] = {"envvar": setting.env, "show_envvar": True, "help": setting.help}
    if setting.flag:
        if not any("/" in d for d in decls):
            kwargs["is_flag"] = True
        kwargs["default"] = bool(setting.default)
    else:
        kwargs["default"] = setting.default
        kwargs["type"] = click_type(setting)
    for key in ("multiple", "metavar", "show_default"):
        if getattr(setting, key):
            kwargs[key] = getattr(setting, key)
    kwargs.update(overrides)
    return click.option(*decls, **kwargs)


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


redis_url_option = option("--redis-url", setting=config.REDIS_URL)


def kafka_options(func: F) -> F:
    """Where the Kafka workload lives; shared by pumps and consumers."""
    options = [
        option("--bootstrap-servers", setting=config.KAFKA_BOOTSTRAP_SERVERS),
        option("--topic", setting=config.KAFKA_TOPIC),
        option("--partitions", setting=config.KAFKA_PARTITIONS),
        option("-X", "--kafka-property", "kafka_properties", setting=config.KAFKA_PROPERTIES),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def kafka_settings(
    bootstrap_servers: str, topic: str, partitions: int, kafka_properties: tuple[str, ...], **more: Any
) -> KafkaSettings:
    """The Kafka settings of :func:`kafka_options`' values (the variables fill in the rest)."""
    from kedasuite.core.clients import parse_kafka_properties  # loads the Kafka client: only when used

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
        option("--workloads", setting=config.PUMP_WORKLOADS),
        option("--default-workload", setting=config.PUMP_DEFAULT_WORKLOAD),
        option("--max-count", setting=config.PUMP_MAX_COUNT),
        option("--batch-size", setting=config.PUMP_BATCH_SIZE),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def keda_source_options(func: F) -> F:
    """Where ``status`` (and the pump's /status) find the ScaledObjects and the ScaledJob."""
    options = [
        option("--overlay", setting=config.KEDA_OVERLAY),
        option("--manifests", setting=config.KEDA_MANIFESTS),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


#: Where ``status``, the pump's ``/status`` and ``timeline`` look for a local autoscaler's
#: state: the run directory of ``kedasuite autoscale`` (the same variable, the same default).
autoscale_run_dir_option = option(
    "--autoscale-run-dir",
    setting=config.AUTOSCALE_RUN_DIR,
    show_default="<tmp>/kedasuite-autoscale-<uid>, as kedasuite autoscale",
    help="Run directory of a local `kedasuite autoscale` (its --run-dir): its state.json (actual and model "
    "replicas, the next step and why) is shown per workload, marked stale once that autoscaler is gone, with "
    "its age and the run directories of the autoscalers running now. An empty value: off.",
)


def pump_settings(
    redis_url: str, workloads: str, default_workload: str, max_count: int, batch_size: int, **kafka: Any
) -> PumpSettings:
    return PumpSettings(
        brokers=BrokerConfig(redis_url=redis_url, kafka=kafka_settings(**kafka)),
        workloads=parse_workload_list(workloads),
        default_workload=default_workload,
        max_count=max_count,
        batch_size=batch_size,
    )
