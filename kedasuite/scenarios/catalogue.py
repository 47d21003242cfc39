"""The catalogue: every scenario of ``kedasuite scenario``, one module each, in the order listed."""

from __future__ import annotations

from kedasuite.core.errors import InputError
from kedasuite.scenarios import (
    celery_inflight,
    celery_prefetch,
    cooldown,
    kafka_partition_cap,
    kafka_persistent_lag,
    kafka_rebalance,
    scaledjob_duplicates,
)
from kedasuite.scenarios.base import Scenario

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        celery_inflight.SCENARIO,
        celery_prefetch.SCENARIO,
        kafka_partition_cap.SCENARIO,
        kafka_persistent_lag.SCENARIO,
        kafka_rebalance.SCENARIO,
        scaledjob_duplicates.SCENARIO,
        cooldown.SCENARIO,
    )
}


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; an unknown name is an error listing the known ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InputError(
            f"no scenario {name!r}: choose one of {', '.join(SCENARIOS)} (or 'all'); "
            "kedasuite scenario --list describes them"
        ) from None
