"""KEDA's kafka lag rules, checked against hand-computed cases (no broker)."""

from __future__ import annotations

import pytest

from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets, keda_lag


def offsets(*pairs: tuple[int, int | None]) -> list[PartitionOffsets]:
    return [PartitionOffsets(i, hw, c) for i, (hw, c) in enumerate(pairs)]


def test_committed_partitions_lag_is_watermark_minus_commit() -> None:
    report = keda_lag(offsets((10, 4), (7, 7), (3, 0)), KafkaTrigger(lag_threshold=5))
    assert dict(report.per_partition) == {0: 6, 1: 0, 2: 3}
    assert (report.total, report.metric, report.active) == (9, 9, True)


def test_new_group_on_an_empty_topic_is_active_under_latest() -> None:
    """An empty topic and a brand-new group: lag 1 per partition, so M = #partitions > 0."""
    report = keda_lag(offsets((0, None), (0, None), (0, None), (0, None), (0, None)), KafkaTrigger())
    assert (report.total, report.metric, report.active) == (5, 5, True)


def test_no_commit_under_earliest_counts_the_whole_watermark() -> None:
    report = keda_lag(offsets((12, None), (0, None)), KafkaTrigger(offset_reset_policy="earliest"))
    assert dict(report.per_partition) == {0: 12, 1: 0}


def test_scale_to_zero_on_invalid_offset() -> None:
    trigger = KafkaTrigger(offset_reset_policy="earliest", scale_to_zero_on_invalid_offset=True)
    report = keda_lag(offsets((12, None), (4, 1)), trigger)
    assert (report.total, report.active) == (3, True)


def test_cap_uses_integer_division_so_p_plus_one_can_pass() -> None:
    """P=3, T=10, lag=35: 35 // 10 = 3 is not > 3, so M stays 35 and the HPA asks ceil(3.5) = 4."""
    report = keda_lag(offsets((20, 0), (10, 0), (5, 0)), KafkaTrigger(lag_threshold=10))
    assert report.metric == 35


def test_cap_limits_the_metric_to_one_consumer_per_partition() -> None:
    report = keda_lag(offsets((100, 0), (100, 0), (100, 0)), KafkaTrigger(lag_threshold=10))
    assert (report.total, report.metric) == (300, 30)


def test_allow_idle_consumers_lifts_the_cap() -> None:
    report = keda_lag(offsets((100, 0), (100, 0)), KafkaTrigger(lag_threshold=10, allow_idle_consumers=True))
    assert report.metric == 200


def test_limit_to_partitions_with_lag() -> None:
    report = keda_lag(
        offsets((100, 0), (5, 5), (5, 5)), KafkaTrigger(lag_threshold=10, limit_to_partitions_with_lag=True)
    )
    assert report.metric == 10


@pytest.mark.parametrize(("lag", "metric"), [(0, 10), (10, 10), (11, 20), (25, 30), (31, 60), (500, 60)])
def test_even_distribution_rounds_up_to_a_divisor_of_the_partitions(lag: int, metric: int) -> None:
    """P=6 (divisors 1, 2, 3, 6), T=10: the metric is the smallest divisor f with f*T >= lag, times T."""
    parts = offsets((lag, 0), *[(0, 0)] * 5)
    assert keda_lag(parts, KafkaTrigger(lag_threshold=10, ensure_even_distribution_of_partitions=True)).metric == metric


def test_activation_is_strictly_greater_and_uses_the_uncapped_sum() -> None:
    assert not keda_lag(offsets((5, 0)), KafkaTrigger(activation_lag_threshold=5)).active
    assert keda_lag(offsets((6, 0)), KafkaTrigger(activation_lag_threshold=5)).active
    assert not keda_lag(offsets((0, 0)), KafkaTrigger()).active


def test_metadata_strings_are_read_with_kedas_defaults() -> None:
    trigger = KafkaTrigger.from_metadata(
        {"lagThreshold": "5", "offsetResetPolicy": "earliest", "allowIdleConsumers": "TRUE"}
    )
    assert trigger == KafkaTrigger(lag_threshold=5, offset_reset_policy="earliest", allow_idle_consumers=True)
    assert KafkaTrigger.from_metadata({}) == KafkaTrigger()


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"lagThreshold": "0"}, "lagThreshold must be positive number"),
        (
            {"allowIdleConsumers": "true", "limitToPartitionsWithLag": "true"},
            "allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously",
        ),
    ],
)
def test_invalid_trigger_metadata_is_refused_like_keda(metadata: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        KafkaTrigger.from_metadata(metadata)
