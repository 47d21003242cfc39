"""Trigger metadata read as KEDA reads it (``rules/scalersconfig.py``, ``rules/kafka.py``,
``rules/redis.py``), and what the model does with a partition KEDA leaves out. KEDA's own tables
are in ``tests/keda/upstream/test_scaler_cases.py``; these cases are the suite's own."""

from __future__ import annotations

import pytest

from kedasuite.core.errors import InputError
from kedasuite.keda.model.triggers import TriggerReader
from kedasuite.keda.rules.kafka import KafkaTrigger, LagError, PartitionOffsets, keda_lag, partition_lag
from kedasuite.keda.rules.redis import RedisTrigger
from kedasuite.keda.rules.scalersconfig import MetadataError, parse_bool, parse_int64
from kedasuite.keda.rules.spec import Scaler, Trigger

GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@pytest.mark.parametrize("value", GO_TRUE + GO_FALSE)
def test_the_twelve_booleans_of_go(value: str) -> None:
    assert parse_bool("allowIdleConsumers", value) is (value in GO_TRUE)


@pytest.mark.parametrize("value", ["yes", "no", "on", "off", "TRue", "y", "2", "truee"])
def test_anything_else_is_refused_not_false(value: str) -> None:
    with pytest.raises(MetadataError, match="strconv.ParseBool takes only") as raised:
        parse_bool("excludePersistentLag", value)
    assert raised.value.fields == ("excludePersistentLag",)


@pytest.mark.parametrize(("text", "value"), [("5", 5), ("-1", -1), ("0", 0), ("9223372036854775807", 2**63 - 1)])
def test_integers_are_json_integers(text: str, value: int) -> None:
    assert parse_int64("lagThreshold", text) == value


@pytest.mark.parametrize("text", ["05", "+5", "1.5", "1e3", "5 5", "9223372036854775808", "ten"])
def test_other_integers_are_refused(text: str) -> None:
    with pytest.raises(MetadataError, match="not an integer KEDA reads"):
        parse_int64("lagThreshold", text)


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"scaleToZeroOnInvalidOffset": "yes"}, "scaleToZeroOnInvalidOffset"),
        ({"topic": "t", "ensureEvenDistributionOfPartitions": "no"}, "ensureEvenDistributionOfPartitions"),
        ({"ensureEvenDistributionOfPartitions": "true"}, "ensureEvenDistributionOfPartitions"),
        ({"activationLagThreshold": "-1"}, "activationLagThreshold"),
        ({"offsetResetPolicy": "Earliest"}, "offsetResetPolicy"),
    ],
)
def test_the_model_refuses_the_kafka_metadata_keda_refuses(metadata: dict[str, str], field: str) -> None:
    with pytest.raises(MetadataError) as raised:
        KafkaTrigger.from_metadata(metadata)
    assert field in raised.value.fields


def test_what_only_connects_is_not_required_by_the_model_but_values_still_are() -> None:
    assert KafkaTrigger.from_metadata({"topic": "t", "limitToPartitionsWithLag": " true "}).limit_to_partitions_with_lag
    # A topic from the container's environment counts as given: the model does not see it.
    assert KafkaTrigger.from_metadata({"topicFromEnv": "TOPIC", "limitToPartitionsWithLag": "1"}).topic == ""
    assert RedisTrigger.from_metadata({"listLength": "7"}).list_length == 7
    with pytest.raises(MetadataError, match="enableTLS"):
        RedisTrigger.from_metadata({"listName": "x", "enableTLS": "yes"})


def test_partition_limitation_decides_which_partitions_count() -> None:
    trigger = KafkaTrigger.from_metadata({"topic": "t", "lagThreshold": "5", "partitionLimitation": "0, 2-3"})
    assert trigger.partition_limitation == (0, 2, 3)
    report = keda_lag([PartitionOffsets(p, 30, 0) for p in range(5)], trigger)
    assert (dict(report.per_partition), report.limited_out) == ({0: 30, 2: 30, 3: 30}, (1, 4))
    assert report.metric == 15  # 90 // 5 > 3 partitions: capped at 3 × 5
    # Without a topic KEDA reads every topic of the group, unlimited.
    assert KafkaTrigger.from_metadata({"partitionLimitation": "1"}).partition_limitation is None
    with pytest.raises(LagError, match="expected at least one active partition"):
        keda_lag([PartitionOffsets(0, 1, 0)], KafkaTrigger.from_metadata({"topic": "t", "partitionLimitation": "4-1"}))


def test_a_partition_missing_from_the_latest_offsets_adds_nothing_and_leaves_the_cap() -> None:
    """getTotalLag walks the partitions the latest-offset answer has: a missing one is not among P."""
    trigger = KafkaTrigger(lag_threshold=10)
    parts = [PartitionOffsets(0, 100, 0), PartitionOffsets(1, None, None), PartitionOffsets(2, 100, 0)]
    report = keda_lag(parts, trigger)
    assert (report.total, report.metric, report.partitions, report.missing) == (200, 20, 2, (1,))
    # getLagForPartition alone settles an uncommitted partition first: 1 under latest.
    assert partition_lag(parts[1], trigger) == 1
    assert partition_lag(parts[1], KafkaTrigger(offset_reset_policy="earliest")) == 0


def kafka_scaler(**metadata: str) -> Scaler:
    trigger = Trigger("lag", "kafka", "t", 5, 0, metadata={"topic": "t", "lagThreshold": "5", **metadata})
    return Scaler("ScaledObject", "kafka-consumer", (trigger,))


def test_the_model_refuses_a_trigger_keda_would_not_build() -> None:
    with pytest.raises(InputError, match='trigger lag: allowIdleConsumers "nope" is not a boolean'):
        TriggerReader(kafka_scaler(allowIdleConsumers="nope"), 3)
    redis = Trigger("backlog", "redis", "q", 5, 0, metadata={"listName": "q", "listLength": "5.5"})
    with pytest.raises(InputError, match="trigger backlog: listLength"):
        TriggerReader(Scaler("ScaledObject", "worker", (redis,)), 3)


def test_a_read_keda_fails_is_a_failed_read_with_its_reason() -> None:
    reader = TriggerReader(kafka_scaler(partitionLimitation="7"), 3)
    state = reader.read(reader.scaler.triggers[0], (1.0, 2.0, 3.0), 1)
    assert state.metric is None and not state.active
    assert state.error is not None and "expected at least one active partition" in state.error
