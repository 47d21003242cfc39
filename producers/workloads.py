"""Which workloads the pumps know, and how to build a publisher for each.

Built from the workload table (:mod:`kedasuite.core.workloads`): a row's ``publisher``
names the class; the HTTP pump, the CLI pump and ``workload=all`` pick them up from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Protocol

from kedasuite.core.errors import InputError, NotConfigured
from kedasuite.core.names import Env
from kedasuite.core.settings import BrokerConfig
from kedasuite.core.workloads import WORKLOADS, Workload
from kedasuite.producers.records import UserRecord


class Publisher(Protocol):
    workload: str

    def check(self) -> None:
        """Raise BrokerUnavailable unless the broker answers."""

    def publish(self, records: Sequence[UserRecord]) -> int:
        """Send a batch; return how many records the broker confirmed since the last call.

        Raise a SuiteError when the run cannot go on (the broker went away)."""

    def flush(self) -> int:
        """Wait for outstanding confirmations; return how many arrived. Never raises."""

    @property
    def error(self) -> str | None:
        """The first delivery failure the broker reported, if any: the run stops on it."""

    def close(self) -> None: ...


def _publisher(row: Workload) -> Callable[[BrokerConfig], Publisher]:
    """A publisher factory for one row of the workload table; the module loads on first use."""
    module, _, cls = row.publisher.partition(":")

    def make(config: BrokerConfig) -> Publisher:
        if row.broker == "kafka":
            if config.kafka is None:
                raise NotConfigured(f"workload {row.name!r} needs Kafka: set {Env.KAFKA_BOOTSTRAP_SERVERS}")
            return getattr(importlib.import_module(module), cls)(config.kafka)  # type: ignore[no-any-return]
        if not config.redis_url:
            raise NotConfigured(f"workload {row.name!r} needs Redis: set {Env.REDIS_URL}")
        return getattr(importlib.import_module(module), cls)(config.redis_url)  # type: ignore[no-any-return]

    return make


PUBLISHERS: dict[str, Callable[[BrokerConfig], Publisher]] = {row.name: _publisher(row) for row in WORKLOADS}

ALL = "all"


def resolve(requested: str | None, configured: Sequence[str], default: str, any_known: bool = False) -> list[str]:
    """The workloads a request means: one name, ``all`` (every configured one), or the default.

    ``any_known``: any known workload may be named (a one-shot CLI pump: the user's choice);
    otherwise only the ones this pump serves (``PUMP_WORKLOADS``, a server setting).
    """
    name = (requested or "").strip() or default
    if name == ALL:
        return list(configured)
    if name not in PUBLISHERS:
        choices = ", ".join([*(PUBLISHERS if any_known else configured), ALL])
        raise InputError(f"unknown workload {name!r}: choose one of {choices}")
    if name not in configured and not any_known:
        raise NotConfigured(
            f"workload {name!r} is not configured on this pump: add it to {Env.PUMP_WORKLOADS} "
            f"(now {','.join(configured)}) and set its broker"
        )
    return [name]


def make_publisher(name: str, config: BrokerConfig) -> Publisher:
    return PUBLISHERS[name](config)
