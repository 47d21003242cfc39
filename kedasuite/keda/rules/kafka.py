"""Consumer-group lag exactly as KEDA's ``kafka`` trigger computes it (v2.20.2).

The rules (from KEDA's ``pkg/scalers/kafka_scaler.go``, summarised in
``docs/keda-model.md#kafka``): per partition, lag is the high watermark minus the committed offset; a
partition with no committed offset counts 1 under ``offsetResetPolicy: latest`` and the
whole high watermark under ``earliest`` (0 either way with
``scaleToZeroOnInvalidOffset``). The total is then capped so that KEDA never asks for
more consumers than partitions: ``if total // T > upper: total = upper * T``, an
integer division, so a total between ``P*T`` and ``(P+1)*T`` passes uncapped.
Activation compares the uncapped sum with ``activationLagThreshold``, strictly.

``excludePersistentLag``: a partition whose committed offset is the same as at the scaler's
previous read of it reports 0 to the metric (but still counts for activation), and the offsets
are remembered per read (``getLagForPartition``; KEDA keeps them in the scaler, so its polls and
the HPA's metric requests share them). A stuck partition then stops asking for replicas, but
keeps the workload active: it never goes from 1 to 0.

Pure: :func:`~kedasuite.keda.reads.fetch_offsets` reads the two numbers per partition KEDA reads
from the broker, and :func:`keda_lag` turns them into KEDA's metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kedasuite.keda.rules.scaling import is_active

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    high_watermark: int
    #: The group's committed offset; ``None`` when the group never committed here.
    committed: int | None


@dataclass(frozen=True)
class KafkaTrigger:
    """The kafka trigger metadata that changes the lag KEDA reports."""

    lag_threshold: int = 10
    activation_lag_threshold: int = 0
    offset_reset_policy: str = "latest"
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False
    scale_to_zero_on_invalid_offset: bool = False
    exclude_persistent_lag: bool = False

    def __post_init__(self) -> None:
        if self.lag_threshold <= 0:
            raise ValueError("lagThreshold must be positive number")
        if self.activation_lag_threshold < 0:
            raise ValueError("activationLagThreshold must be positive number")
        if self.offset_reset_policy not in ("latest", "earliest"):
            raise ValueError(f"offsetResetPolicy must be latest or earliest, got {self.offset_reset_policy!r}")
        if self.allow_idle_consumers and self.limit_to_partitions_with_lag:
            raise ValueError("allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously")
        if self.limit_to_partitions_with_lag and self.ensure_even_distribution_of_partitions:
            raise ValueError(
                "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set simultaneously"
            )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> KafkaTrigger:
        """Read a trigger's ``metadata`` map (all strings) with KEDA's defaults."""

        def flag(key: str) -> bool:
            return metadata.get(key, "false").strip() in _TRUE

        return cls(
            lag_threshold=int(metadata.get("lagThreshold", "").strip() or 10),
            activation_lag_threshold=int(metadata.get("activationLagThreshold", "").strip() or 0),
            offset_reset_policy=metadata.get("offsetResetPolicy", "").strip() or "latest",
            allow_idle_consumers=flag("allowIdleConsumers"),
            limit_to_partitions_with_lag=flag("limitToPartitionsWithLag"),
            ensure_even_distribution_of_partitions=flag("ensureEvenDistributionOfPartitions"),
            scale_to_zero_on_invalid_offset=flag("scaleToZeroOnInvalidOffset"),
            exclude_persistent_lag=flag("excludePersistentLag"),
        )


@dataclass(frozen=True)
class LagReport:
    per_partition: Mapping[int, int]
    #: Sum of the partition lags, before the cap: what activation looks at.
    total: int
    #: The metric KEDA hands the HPA (after the partition cap).
    metric: int
    active: bool
    #: ``excludePersistentLag``: the partitions left out of the metric this read (their lag).
    persistent: Mapping[int, int] = field(default_factory=dict)

    @property
    def partitions(self) -> int:
        return len(self.per_partition)


def partition_lag(offsets: PartitionOffsets, trigger: KafkaTrigger) -> int:
    if offsets.committed is None or offsets.committed < 0:
        if trigger.scale_to_zero_on_invalid_offset:
            return 0
        return 1 if trigger.offset_reset_policy == "latest" else offsets.high_watermark
    return offsets.high_watermark - offsets.committed


def _smallest_balancing_factor(total: int, partitions: int, threshold: int) -> int:
    for factor in (f for f in range(1, partitions + 1) if partitions % f == 0):
        if factor * threshold >= total:
            return factor
    return partitions


def capped_total_lag(total: int, lag_threshold: int, upper_bound: int) -> int:
    """The cap of ``getTotalLag`` (``pkg/scalers/kafka_scaler.go``): KEDA never asks for more
    consumers than ``upper_bound`` (the partitions, or those with lag), but tests it as
    ``total / lagThreshold > upper_bound`` in integer division, so a total strictly between
    ``P × T`` and ``(P + 1) × T`` is *not* capped and the HPA can ask for ``P + 1``."""
    if lag_threshold <= 0:
        raise ValueError("lagThreshold must be positive")
    if total // lag_threshold > upper_bound:
        return upper_bound * lag_threshold
    return max(total, 0)


def _persistent(p: PartitionOffsets, trigger: KafkaTrigger, previous: dict[int, int] | None) -> bool:
    """``excludePersistentLag``: the committed offset has not moved since the previous read (and is
    remembered for the next one). Partitions without a committed offset are never persistent."""
    if not trigger.exclude_persistent_lag or previous is None or p.committed is None or p.committed < 0:
        return False
    before = previous.get(p.partition)
    previous[p.partition] = p.committed
    return before == p.committed


def keda_lag(
    partitions: Sequence[PartitionOffsets], trigger: KafkaTrigger, previous: dict[int, int] | None = None
) -> LagReport:
    """KEDA's metric for one read; ``previous`` is the scaler's memory of committed offsets
    (``excludePersistentLag``), updated in place: pass the same dict to every read."""
    lags = {p.partition: partition_lag(p, trigger) for p in partitions}
    total = sum(lags.values())
    persistent = {p.partition: lags[p.partition] for p in partitions if _persistent(p, trigger, previous)}
    counted = {k: (0 if k in persistent else v) for k, v in lags.items()}
    metric = sum(counted.values())
    t = trigger.lag_threshold
    if (
        not trigger.allow_idle_consumers
        or trigger.limit_to_partitions_with_lag
        or trigger.ensure_even_distribution_of_partitions
    ):
        upper = len(lags)
        if trigger.ensure_even_distribution_of_partitions:
            metric = _smallest_balancing_factor(metric, len(lags), t) * t
        if trigger.limit_to_partitions_with_lag:
            upper = sum(1 for lag in counted.values() if lag > 0)
        metric = capped_total_lag(metric, t, upper)
    return LagReport(
        per_partition=lags,
        total=total,
        metric=max(metric, 0),
        active=is_active(total, trigger.activation_lag_threshold),
        persistent=persistent,
    )
