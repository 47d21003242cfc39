"""KEDA v2.20.2's own test cases for the kafka and redis scalers, run against the model's rules.

Each row is one case of upstream's tables (github.com/kedacore/keda, tag ``v2.20.2``): the file,
the Go test and its table, the sub-case (its index in the table and upstream's own comment or
name), what goes in and what upstream expects out: the parsed fields, or that the trigger is
refused (and then which field the model names). The rows run against the public rule functions
(``kedasuite/keda/rules/kafka.py``, ``rules/redis.py``, ``rules/scalersconfig.py``); no broker, no
cluster. The steps of the kafka e2e test (``tests/scalers/kafka/kafka_test.go``) are rows too: the
offsets a step leaves, and the replicas upstream waits for. A case the model cannot express stays
in its table with ``expressible=False`` and the reason, and is skipped with it.
``docs/keda-model.md#keda-the-kafka-and-redis-scalers`` gives the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from kedasuite.keda.rules.kafka import (
    KafkaTrigger,
    PartitionOffsets,
    find_factors,
    get_next_factor_that_balances_consumers_to_topic_partitions,
    keda_lag,
    parse_kafka_metadata,
    parse_partition_limitation,
    partition_lag,
)
from kedasuite.keda.rules.redis import parse_redis_metadata
from kedasuite.keda.rules.scalersconfig import MetadataError
from kedasuite.keda.rules.scaling import hpa_proposal

KAFKA = "pkg/scalers/kafka_scaler_test.go"
REDIS = "pkg/scalers/redis_scaler_test.go"
KAFKA_E2E = "tests/scalers/kafka/kafka_test.go"
FILES = (KAFKA, REDIS, KAFKA_E2E)

METRIC_NAMES = "the model names no External metric (GenerateMetricNameWithIndex): it hands values, not metric specs"
CLIENT = "the model builds no Kafka client (getKafkaClientConfig's SASL token provider)"
AWS_CREDENTIALS = "whether AWS credentials resolve (GetAwsAuthorization, pod identity) is not modelled"


@dataclass(frozen=True)
class Case:
    """One upstream case: where it is, what goes in, what upstream expects."""

    file: str
    #: The Go test function, and the table it reads when it has one.
    test: str
    #: ``#index`` in upstream's table (or its step) and upstream's comment or name for it.
    sub_case: str
    #: How the row is run (a key of :data:`CHECKS`).
    kind: str
    given: Mapping[str, Any]
    #: ``refused``: the fields the model must name (upstream expects an error); else the values.
    expected: Mapping[str, Any]
    expressible: bool = True
    why_not: str = ""

    @property
    def id(self) -> str:
        return f"{self.test}[{self.sub_case}]"


def case(
    file: str, test: str, sub_case: str, kind: str, given: Mapping[str, Any], why_not: str = "", **expected: Any
) -> Case:
    return Case(file, test, sub_case, kind, given, expected, not why_not, why_not)


# --- pkg/scalers/kafka_scaler_test.go -------------------------------------------------------------

#: ``validKafkaMetadata``: the metadata upstream pairs with each TriggerAuthentication case.
VALID_KAFKA_METADATA = {
    "bootstrapServers": "broker1:9092,broker2:9092",
    "consumerGroup": "my-group",
    "topic": "my-topic",
    "allowIdleConsumers": "false",
}
#: ``validWithAuthParams`` and ``validWithoutAuthParams``: TestGetBrokers runs every metadata case with each.
KAFKA_AUTH_VARIANTS = ({"sasl": "plaintext", "username": "admin", "password": "admin"}, {})


def kafka_metadata(
    index: int,
    comment: str,
    metadata: Mapping[str, str],
    refused: Sequence[str] = (),
    brokers: Sequence[str] = (),
    group: str = "my-group",
    topic: str = "",
    limitation: Sequence[int] | None = None,
    policy: str = "latest",
    flags: Sequence[str] = (),
) -> Case:
    """A row of ``parseKafkaMetadataTestDataset`` (TestGetBrokers)."""
    if refused:
        return case(
            KAFKA,
            "TestGetBrokers: parseKafkaMetadataTestDataset",
            f"#{index} {comment}",
            "kafka-metadata",
            {"metadata": metadata},
            refused=tuple(refused),
        )
    return case(
        KAFKA,
        "TestGetBrokers: parseKafkaMetadataTestDataset",
        f"#{index} {comment}",
        "kafka-metadata",
        {"metadata": metadata},
        brokers=tuple(brokers),
        group=group,
        topic=topic,
        limitation=None if limitation is None else tuple(limitation),
        policy=policy,
        flags=tuple(flags),
    )


def kafka_auth(
    test: str,
    index: int,
    comment: str,
    metadata: Mapping[str, str],
    auth: Mapping[str, str],
    refused: Sequence[str] = (),
    tls: bool | None = None,
    why_not: str = "",
) -> Case:
    """A row of the three SASL / TLS tables: the metadata (``validKafkaMetadata`` added where upstream
    adds it) and the TriggerAuthentication's parameters; ``tls``: ``enableTLS`` where upstream checks it."""
    table = {
        "TestKafkaAuthParamsInTriggerAuthentication": "parseKafkaAuthParamsTestDataset",
        "TestKafkaOAuthbearerAuthParams": "parseKafkaOAuthbearerAuthParamsTestDataset",
        "TestKafkaAuthParamsInScaledObject": "parseAuthParamsTestDataset",
    }[test]
    if test == "TestKafkaOAuthbearerAuthParams":
        metadata = {**metadata, **VALID_KAFKA_METADATA}
    expected: dict[str, Any] = {"refused": tuple(refused)} if refused else {"enable_tls": tls}
    return case(
        KAFKA,
        f"{test}: {table}",
        f"#{index} {comment}",
        "kafka-auth",
        {"metadata": metadata, "auth": auth},
        why_not,
        **expected,
    )


# fmt: off
KAFKA_METADATA_CASES = [  # parseKafkaMetadataTestDataset
    kafka_metadata(0, "failure, no bootstrapServers", {}, refused=("bootstrapServers", "consumerGroup")),
    kafka_metadata(1, "failure, no consumer group", {"bootstrapServers": "foobar:9092"}, refused=("consumerGroup",)),
    kafka_metadata(2, "success, no topic", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group"}, brokers=("foobar:9092",)),
    kafka_metadata(3, "success, ignore partitionLimitation if no topic", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "partitionLimitation": "1,2,3,4,5,6"}, brokers=("foobar:9092",)),
    kafka_metadata(4, "success, no limitation with whitespaced limitation value", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "partitionLimitation": "           "}, brokers=("foobar:9092",)),
    kafka_metadata(5, "success, no limitation", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "partitionLimitation": ""}, brokers=("foobar:9092",)),
    kafka_metadata(6, "failure, version not supported", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "version": "1.2.3.4"}, refused=("version",)),
    kafka_metadata(7, "failure, lagThreshold is negative value", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "lagThreshold": "-1"}, refused=("lagThreshold",)),
    kafka_metadata(8, "failure, lagThreshold is 0", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "lagThreshold": "0"}, refused=("lagThreshold",)),
    kafka_metadata(9, "success, lagThreshold is 1000000", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "lagThreshold": "1000000", "activationLagThreshold": "0"}, brokers=("foobar:9092",), topic="my-topic"),
    kafka_metadata(10, "failure, activationLagThreshold is not int", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "lagThreshold": "10", "activationLagThreshold": "AA"}, refused=("activationLagThreshold",)),
    kafka_metadata(11, "success, activationLagThreshold is 0", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "lagThreshold": "10", "activationLagThreshold": "0"}, brokers=("foobar:9092",), topic="my-topic"),
    kafka_metadata(12, "success", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic"}, brokers=("foobar:9092",), topic="my-topic"),
    kafka_metadata(13, "success, partitionLimitation as list", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "partitionLimitation": "1,2,3,4"}, brokers=("foobar:9092",), topic="my-topic", limitation=(1, 2, 3, 4)),
    kafka_metadata(14, "success, partitionLimitation as range", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "partitionLimitation": "1-4"}, brokers=("foobar:9092",), topic="my-topic", limitation=(1, 2, 3, 4)),
    kafka_metadata(15, "success, partitionLimitation mixed list + ranges", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "partitionLimitation": "1-4,8,10-12"}, brokers=("foobar:9092",), topic="my-topic", limitation=(1, 2, 3, 4, 8, 10, 11, 12)),
    kafka_metadata(16, "failure, partitionLimitation wrong data type", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "partitionLimitation": "a,b,c,d"}, refused=("partitionLimitation",)),
    kafka_metadata(17, "success, more brokers", {"bootstrapServers": "foo:9092,bar:9092", "consumerGroup": "my-group", "topic": "my-topic"}, brokers=("foo:9092", "bar:9092"), topic="my-topic"),
    kafka_metadata(18, "success, offsetResetPolicy policy latest", {"bootstrapServers": "foo:9092,bar:9092", "consumerGroup": "my-group", "topic": "my-topic", "offsetResetPolicy": "latest"}, brokers=("foo:9092", "bar:9092"), topic="my-topic"),
    kafka_metadata(19, "failure, offsetResetPolicy policy wrong", {"bootstrapServers": "foo:9092,bar:9092", "consumerGroup": "my-group", "topic": "my-topic", "offsetResetPolicy": "foo"}, refused=("offsetResetPolicy",)),
    kafka_metadata(20, "success, offsetResetPolicy policy earliest", {"bootstrapServers": "foo:9092,bar:9092", "consumerGroup": "my-group", "topic": "my-topic", "offsetResetPolicy": "earliest"}, brokers=("foo:9092", "bar:9092"), topic="my-topic", policy="earliest"),
    kafka_metadata(21, "failure, allowIdleConsumers malformed", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "notvalid"}, refused=("allowIdleConsumers",)),
    kafka_metadata(22, "success, allowIdleConsumers is true", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true"}, brokers=("foobar:9092",), topic="my-topic", flags=("allowIdleConsumers",)),
    kafka_metadata(23, "failure, excludePersistentLag is malformed", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "excludePersistentLag": "notvalid"}, refused=("excludePersistentLag",)),
    kafka_metadata(24, "success, excludePersistentLag is true", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "excludePersistentLag": "true"}, brokers=("foobar:9092",), topic="my-topic", flags=("excludePersistentLag",)),
    kafka_metadata(25, "success, version supported", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, brokers=("foobar:9092",), topic="my-topic", flags=("allowIdleConsumers",)),
    kafka_metadata(26, "success, limitToPartitionsWithLag is true", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "limitToPartitionsWithLag": "true"}, brokers=("foobar:9092",), topic="my-topic", flags=("limitToPartitionsWithLag",)),
    kafka_metadata(27, "failure, limitToPartitionsWithLag is malformed", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "limitToPartitionsWithLag": "notvalid"}, refused=("limitToPartitionsWithLag",)),
    kafka_metadata(28, "failure, allowIdleConsumers and limitToPartitionsWithLag cannot be set to true simultaneously", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "limitToPartitionsWithLag": "true"}, refused=("limitToPartitionsWithLag",)),
    kafka_metadata(29, "success, allowIdleConsumers can be set when limitToPartitionsWithLag is false", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "limitToPartitionsWithLag": "false"}, brokers=("foobar:9092",), topic="my-topic", flags=("allowIdleConsumers",)),
    kafka_metadata(30, "failure, topic must be specified when limitToPartitionsWithLag is true", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "limitToPartitionsWithLag": "true"}, refused=("limitToPartitionsWithLag",)),
    kafka_metadata(31, "success, ensureEvenDistributionOfPartitions is true", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "ensureEvenDistributionOfPartitions": "true"}, brokers=("foobar:9092",), topic="my-topic", flags=("ensureEvenDistributionOfPartitions",)),
    kafka_metadata(32, "failure, limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set to true simultaneously", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "ensureEvenDistributionOfPartitions": "true", "limitToPartitionsWithLag": "true"}, refused=("ensureEvenDistributionOfPartitions",)),
]
KAFKA_TRIGGER_AUTH_CASES = [  # parseKafkaAuthParamsTestDataset
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 0, "success, SASL only", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 1, "success, SASL only", VALID_KAFKA_METADATA, {"sasl": "scram_sha256", "username": "admin", "password": "admin"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 2, "success, SASL only", VALID_KAFKA_METADATA, {"sasl": "scram_sha512", "username": "admin", "password": "admin"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 3, "success, TLS only", VALID_KAFKA_METADATA, {"tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 4, "success, TLS cert/key and assumed public CA", VALID_KAFKA_METADATA, {"tls": "enable", "cert": "ceert", "key": "keey"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 5, "success, TLS cert/key + key password and assumed public CA", VALID_KAFKA_METADATA, {"tls": "enable", "cert": "ceert", "key": "keey", "keyPassword": "keeyPassword"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 6, "success, TLS CA only", VALID_KAFKA_METADATA, {"tls": "enable", "ca": "caaa"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 7, "success, SASL + TLS", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 8, "success, SASL + TLS explicitly disabled", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin", "tls": "disable"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 9, "success, SASL OAUTHBEARER + TLS", VALID_KAFKA_METADATA, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 10, "success, SASL GSSAPI/password", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "password": "admin", "kerberosConfig": "<config>", "realm": "tst.com"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 11, "success, SASL GSSAPI/keytab", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 12, "success, SASL GSSAPI/password + TLS", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "password": "admin", "kerberosConfig": "<config>", "realm": "tst.com", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 13, "success, SASL GSSAPI/keytab + TLS", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, tls=True),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 14, "success, SASL GSSAPI, KerberosServiceName supported", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com", "kerberosServiceName": "srckafka"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 15, "failure, SASL OAUTHBEARER + TLS bad sasl type", VALID_KAFKA_METADATA, {"sasl": "foo", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 16, "success, SASL OAUTHBEARER + TLS missing scope", VALID_KAFKA_METADATA, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 17, "failure, SASL OAUTHBEARER + TLS missing oauthTokenEndpointUri", VALID_KAFKA_METADATA, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "", "tls": "disable"}, refused=("oauthTokenEndpointUri",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 18, "failure, SASL incorrect type", VALID_KAFKA_METADATA, {"sasl": "foo", "username": "admin", "password": "admin"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 19, "failure, SASL missing username", VALID_KAFKA_METADATA, {"sasl": "plaintext", "password": "admin"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 20, "failure, SASL missing password", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin"}, refused=("password",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 21, "failure, TLS missing cert", VALID_KAFKA_METADATA, {"tls": "enable", "ca": "caaa", "key": "keey"}, refused=("cert",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 22, "failure, TLS missing key", VALID_KAFKA_METADATA, {"tls": "enable", "ca": "caaa", "cert": "ceert"}, refused=("key",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 23, "failure, TLS invalid", VALID_KAFKA_METADATA, {"tls": "yes", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("tls",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 24, "failure, SASL + TLS, incorrect sasl", VALID_KAFKA_METADATA, {"sasl": "foo", "username": "admin", "password": "admin", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 25, "failure, SASL + TLS, incorrect tls", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin", "tls": "foo", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("tls",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 26, "failure, SASL + TLS, missing username", VALID_KAFKA_METADATA, {"sasl": "plaintext", "password": "admin", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 27, "failure, SASL + TLS, missing password", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("password",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 28, "failure, SASL + TLS, missing cert", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin", "tls": "enable", "ca": "caaa", "key": "keey"}, refused=("cert",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 29, "failure, SASL + TLS, missing key", VALID_KAFKA_METADATA, {"sasl": "plaintext", "username": "admin", "password": "admin", "tls": "enable", "ca": "caaa", "cert": "ceert"}, refused=("key",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 30, "failure, SASL GSSAPI missing password and keytab", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "kerberosConfig": "<config>", "realm": "tst.com"}, refused=("keytab",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 31, "failure, SASL GSSAPI provided both password and keytab", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "password": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com"}, refused=("keytab",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 32, "failure, SASL GSSAPI/password + TLS missing realm", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "password": "admin", "kerberosConfig": "<config>", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("realm",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 33, "failure, SASL GSSAPI/keytab + TLS missing username", VALID_KAFKA_METADATA, {"sasl": "gssapi", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 34, "success, SASL GSSAPI/disableFast", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com", "kerberosDisableFAST": "true"}, tls=False),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 35, "failure, SASL GSSAPI/disableFast incorrect", VALID_KAFKA_METADATA, {"sasl": "gssapi", "username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "tst.com", "kerberosDisableFAST": "notabool"}, refused=("kerberosDisableFAST",)),
    kafka_auth("TestKafkaAuthParamsInTriggerAuthentication", 36, "success, SASL none", VALID_KAFKA_METADATA, {"sasl": "none"}, tls=False),
]
KAFKA_OAUTH_CASES = [  # parseKafkaOAuthbearerAuthParamsTestDataset
    kafka_auth("TestKafkaOAuthbearerAuthParams", 0, "success, SASL OAUTHBEARER + TLS", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 1, "success, SASL OAUTHBEARER + tokenProvider + TLS", {}, {"sasl": "oauthbearer", "saslTokenProvider": "bearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 2, "success, SASL OAUTHBEARER + TLS multiple scopes", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope1, scope2", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 3, "success, SASL OAUTHBEARER + TLS missing scope", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 4, "failure, SASL OAUTHBEARER + TLS bad sasl type", {}, {"sasl": "foo", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable"}, refused=("sasl",)),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 5, "failure, SASL OAUTHBEARER + TLS missing oauthTokenEndpointUri", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "", "tls": "disable"}, refused=("oauthTokenEndpointUri",)),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 6, "success, SASL OAUTHBEARER + extension", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable", "oauthExtensions": "extension_foo=bar"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 7, "success, SASL OAUTHBEARER + multiple extensions", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable", "oauthExtensions": "extension_foo=bar,extension_baz=baz"}),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 8, "failure, SASL OAUTHBEARER + bad extension", {}, {"sasl": "oauthbearer", "username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com", "tls": "disable", "oauthExtensions": "extension_foo=bar,extension_bazbaz"}, refused=("oauthExtensions",)),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 9, "success, SASL OAUTHBEARER MSK + TLS + Credentials", {"awsRegion": "eu-west-1"}, {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable", "awsAccessKeyID": "none", "awsSecretAccessKey": "none"}, why_not=AWS_CREDENTIALS),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 10, "success, SASL OAUTHBEARER MSK + TLS + Role", {"awsRegion": "eu-west-1"}, {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable", "awsRegion": "eu-west-1", "awsRoleArn": "none"}, why_not=AWS_CREDENTIALS),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 11, "failure, SASL OAUTHBEARER MSK + no TLS", {}, {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "disable"}, refused=("tls",)),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 12, "failure, SASL OAUTHBEARER MSK + TLS + no region", {}, {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable", "awsRegion": ""}, refused=("awsRegion",)),
    kafka_auth("TestKafkaOAuthbearerAuthParams", 13, "failure, SASL OAUTHBEARER MSK + TLS + no credentials", {}, {"sasl": "oauthbearer", "saslTokenProvider": "aws_msk_iam", "tls": "enable", "awsRegion": "eu-west-1"}, refused=("awsRegion",)),  # refused before credentials: awsRegion is read from the metadata only
]
KAFKA_SCALED_OBJECT_AUTH_CASES = [  # parseAuthParamsTestDataset
    kafka_auth("TestKafkaAuthParamsInScaledObject", 0, "success, SASL plaintext", {"sasl": "plaintext", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 1, "success, SASL scram_sha256", {"sasl": "scram_sha256", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 2, "success, SASL scram_sha512", {"sasl": "scram_sha512", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 3, "success, TLS only", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa", "cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 4, "success, TLS cert/key and assumed public CA", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 5, "success, TLS cert/key + key password and assumed public CA", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"cert": "ceert", "key": "keey", "keyPassword": "keeyPassword"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 6, "success, TLS CA only", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 7, "success, TLS CA only and unsafeSSL", {"tls": "enable", "unsafeSsl": "true", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 8, "success, SASL + TLS", {"sasl": "plaintext", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "ca": "caaa", "cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 9, "success, SASL + TLS explicitly disabled", {"sasl": "plaintext", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 10, "success, SASL OAUTHBEARER + TLS explicitly disabled", {"sasl": "oauthbearer", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 11, "success, SASL GSSAPI/password", {"sasl": "gssapi", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "kerberosConfig": "<config>", "realm": "test.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 12, "success, SASL GSSAPI/password + TLS explicitly disabled", {"sasl": "gssapi", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "kerberosConfig": "<config>", "realm": "test.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 13, "success, SASL GSSAPI/password + TLS", {"sasl": "gssapi", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "kerberosConfig": "<config>", "realm": "test.com", "ca": "caaa", "cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 14, "success, SASL GSSAPI/keytab", {"sasl": "gssapi", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "test.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 15, "success, SASL GSSAPI/keytab + TLS explicitly disabled", {"sasl": "gssapi", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "test.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 16, "success, SASL GSSAPI/keytab + TLS", {"sasl": "gssapi", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "keytab": "/path/to/keytab", "kerberosConfig": "<config>", "realm": "test.com", "ca": "caaa", "cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 17, "failure, SASL OAUTHBEARER + TLS explicitly disable + bad SASL type", {"sasl": "foo", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": "https://website.com"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 18, "success, SASL OAUTHBEARER + TLS missing scope", {"sasl": "oauthbearer", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "oauthTokenEndpointUri": "https://website.com"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 19, "failure, SASL OAUTHBEARER + TLS missing oauthTokenEndpointUri", {"sasl": "oauthbearer", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "scopes": "scope", "oauthTokenEndpointUri": ""}, refused=("oauthTokenEndpointUri",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 20, "failure, SASL incorrect type", {"sasl": "foo", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 21, "failure, SASL missing username", {"sasl": "plaintext", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"password": "admin"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 22, "failure, SASL missing password", {"sasl": "plaintext", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin"}, refused=("password",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 23, "failure, TLS missing cert", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa", "key": "keey"}, refused=("cert",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 24, "failure, TLS missing key", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa", "cert": "ceert"}, refused=("key",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 25, "failure, TLS invalid", {"tls": "random", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("tls",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 26, "failure, SASL + TLS, incorrect SASL type", {"sasl": "foo", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("sasl",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 27, "failure, SASL + TLS, incorrect tls", {"sasl": "plaintext", "tls": "foo", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("tls",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 28, "failure, SASL + TLS, missing username", {"sasl": "plaintext", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"password": "admin", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 29, "failure, SASL + TLS, missing password", {"sasl": "plaintext", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("password",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 30, "failure, SASL + TLS, missing cert", {"sasl": "plaintext", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "ca": "caaa", "key": "keey"}, refused=("cert",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 31, "failure, SASL + TLS, missing key", {"sasl": "plaintext", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "ca": "caaa", "cert": "ceert"}, refused=("key",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 32, "failure, SASL GSSAPI missing keytab and password", {"sasl": "gssapi", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "realm": "test.com"}, refused=("keytab",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 33, "failure, SASL GSSAPI values in both keytab and password", {"sasl": "gssapi", "tls": "disable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "password": "admin", "keytab": "/path/to/keytab", "realm": "test.com"}, refused=("keytab",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 34, "failure, SASL GSSAPI + TLS missing realm", {"sasl": "gssapi", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "keytab": "/path/to/keytab", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("realm",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 35, "failure, SASL GSSAPI + TLS missing username", {"sasl": "gssapi", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"realm": "test.com", "keytab": "/path/to/keytab", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("username",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 36, "failure, SASL GSSAPI + TLS missing kerberosConfig", {"sasl": "gssapi", "tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"username": "admin", "realm": "test.com", "keytab": "/path/to/keytab", "ca": "caaa", "cert": "ceert", "key": "keey"}, refused=("kerberosConfig",)),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 37, "success, setting SASL values in both places (triggerMetadata takes precedence)", {"sasl": "scram_sha512", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "scram_sha512", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 38, "success, setting TLS values in both places (triggerMetadata takes precedence)", {"tls": "enable", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 39, "success, setting SASL plaintext value with extra \\n in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "plaintext\n", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 40, "success, setting SASL plaintext value with extra space in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "plaintext ", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 41, "success, setting SASL scram_sha256 value with extra \\n in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "scram_sha256\n", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 42, "success, setting SASL scram_sha256 value with extra space in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "scram_sha256 ", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 43, "success, setting SASL scram_sha512 value with extra \\n in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "scram_sha512\n", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 44, "success, setting SASL scram_sha512 value with extra space in TriggerAuthentication", {"bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {"sasl": "scram_sha512 ", "username": "admin", "password": "admin"}),
    kafka_auth("TestKafkaAuthParamsInScaledObject", 45, "success, SASL none", {"sasl": "none", "bootstrapServers": "foobar:9092", "consumerGroup": "my-group", "topic": "my-topic", "allowIdleConsumers": "true", "version": "1.0.0"}, {}),
]
# fmt: on


def limitation(index: int, name: str, text: str, partitions: Sequence[int] | None) -> Case:
    """A row of TestKafkaParsePartitionLimitation (``parsePartitionLimitation``); ``None``: an error."""
    expected = {"refused": ("partitionLimitation",)} if partitions is None else {"partitions": tuple(partitions)}
    return case(
        KAFKA,
        "TestKafkaParsePartitionLimitation",
        f"#{index} {name}",
        "partition-limitation",
        {"text": text},
        **expected,
    )


PARTITION_LIMITATION_CASES = [
    limitation(0, "single value", "1", [1]),
    limitation(1, "comma-separated list", "1,2,3,4", [1, 2, 3, 4]),
    limitation(2, "list with whitespace around values", " 1 , 2 , 3 ", [1, 2, 3]),
    limitation(3, "simple range", "1-4", [1, 2, 3, 4]),
    limitation(4, "single-element range (start == end)", "3-3", [3]),
    limitation(5, "range with whitespace", " 1 - 4 ", [1, 2, 3, 4]),
    limitation(6, "mixed list and ranges", "1-4,8,10-12", [1, 2, 3, 4, 8, 10, 11, 12]),
    limitation(7, "non-numeric value", "a,b,c", None),
    limitation(8, "invalid range: too many parts", "1-2-3", None),
    limitation(9, "invalid range: non-numeric start", "a-3", None),
    limitation(10, "invalid range: non-numeric end", "1-b", None),
]


def topic_partitions(index: int, name: str, limitation_text: str, ids: Sequence[int], counted: Sequence[int]) -> Case:
    """A row of TestGetTopicPartitions: the topic's partitions, those ``partitionLimitation`` lets count."""
    metadata = {
        "bootstrapServers": "foobar:9092",
        "consumerGroup": "my-group",
        "topic": "my-topic",
        "partitionLimitation": limitation_text,
    }
    return case(
        KAFKA,
        "TestGetTopicPartitions",
        f"#{index} {name}",
        "topic-partitions",
        {"metadata": metadata, "partitions": tuple(ids)},
        counted=tuple(counted),
    )


TOPIC_PARTITION_CASES = [
    topic_partitions(0, "success_all_partitions_explicit", "1,2", [1, 2], [1, 2]),
    topic_partitions(1, "success_partial_partitions_explicit", "1,2,3", [1, 2, 3, 4, 5, 6], [1, 2, 3]),
    topic_partitions(2, "success_all_partitions_implicit", "", [1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]),
]

FACTOR_CASES = [
    case(KAFKA, "TestFindFactors", f"#{i} FindFactors({n})", "factors", {"n": n}, factors=tuple(factors))
    for i, (n, factors) in enumerate(
        [
            (10, [1, 2, 5, 10]),
            (13, [1, 13]),
            (17, [1, 17]),
            (25, [1, 5, 25]),
            (50, [1, 2, 5, 10, 25, 50]),
            (100, [1, 2, 4, 5, 10, 20, 25, 50, 100]),
        ]
    )
]

NEXT_FACTOR_CASES = [
    case(
        KAFKA,
        "TestGetNextFactor",
        f"#{i} lag {lag}, 100 partitions, lagThreshold 10",
        "next-factor",
        {"lag": lag, "partitions": 100, "threshold": 10},
        factor=factor,
    )
    for i, (lag, factor) in enumerate([(10, 1), (20, 2), (40, 4), (50, 5), (99, 10), (100, 10), (101, 20)])
]


def missing_partition(
    index: int, name: str, committed: int, latest: int | None, policy: str, zero: bool, lag: int
) -> Case:
    """A row of TestGetLagForPartition_MissingPartition: partition 0's committed offset (-1: none),
    its latest offset (``None``: missing from the broker's answer); lag and lag with persistent."""
    return case(
        KAFKA,
        "TestGetLagForPartition_MissingPartition",
        f"#{index} {name}",
        "lag-for-partition",
        {"committed": committed, "latest": latest, "policy": policy, "scaleToZeroOnInvalidOffset": zero},
        lag=lag,
        lag_with_persistent=lag,
    )


MISSING_PARTITION_CASES = [
    missing_partition(
        0,
        "Scenario 1: scaleToZeroOnInvalidOffset true, invalid consumer offset, missing partition",
        -1,
        None,
        "earliest",
        True,
        0,
    ),
    missing_partition(
        1,
        "Scenario 2: scaleToZeroOnInvalidOffset false, invalid consumer offset, missing partition",
        -1,
        None,
        "earliest",
        False,
        0,
    ),
    missing_partition(
        2,
        "Scenario 3: Valid consumer offset, missing partition in topicPartitionOffsets",
        100,
        None,
        "earliest",
        False,
        0,
    ),
    missing_partition(3, "Control: Valid offsets, no missing partition", 100, 150, "earliest", False, 50),
    missing_partition(
        4,
        "Control: Invalid consumer offset with latest policy and scaleToZeroOnInvalidOffset true",
        -1,
        150,
        "latest",
        True,
        0,
    ),
]

NOT_EXPRESSIBLE_KAFKA = [
    case(
        KAFKA,
        "TestKafkaGetMetricSpecForScaling: kafkaMetricIdentifiers",
        f"#{i} {name}",
        "metric-name",
        {"metadata_case": metadata_case, "trigger_index": index},
        METRIC_NAMES,
        name=name,
    )
    for i, (metadata_case, index, name) in enumerate(
        [(11, 0, "s0-kafka-my-topic"), (11, 1, "s1-kafka-my-topic"), (2, 1, "s1-kafka-my-group-topics")]
    )
] + [
    case(KAFKA, "TestKafkaClientsOAuthTokenProvider", f"#{i} {name}", "client", {}, CLIENT, token_provider=provider)
    for i, (name, provider) in enumerate([("oauthbearer_bearer", "OAuthBearer"), ("oauthbearer_aws_msk_iam", "MSK")])
]


# --- pkg/scalers/redis_scaler_test.go -------------------------------------------------------------

#: ``testRedisResolvedEnv``: the scaled container's environment upstream resolves ``…FromEnv`` in.
REDIS_ENV = {
    "REDIS_HOST": "none",
    "REDIS_PORT": "6379",
    "REDIS_USERNAME": "none",
    "REDIS_PASSWORD": "none",
    "REDIS_SENTINEL_MASTER": "none",
    "REDIS_SENTINEL_USERNAME": "none",
    "REDIS_SENTINEL_PASSWORD": "none",
}


def redis_metadata(
    index: int,
    comment: str,
    metadata: Mapping[str, str],
    auth: Mapping[str, str],
    refused: Sequence[str] = (),
    tls: bool = False,
) -> Case:
    """A row of ``testRedisMetadata`` (TestRedisParseMetadata, always with ``testRedisResolvedEnv``):
    refused, or ``EnableTLS`` and, with TLS, the TriggerAuthentication's files as given."""
    given = {"metadata": metadata, "auth": auth, "env": REDIS_ENV}
    if refused:
        return case(
            REDIS,
            "TestRedisParseMetadata: testRedisMetadata",
            f"#{index} {comment}",
            "redis-metadata",
            given,
            refused=tuple(refused),
        )
    files = (
        {
            key: auth.get(name, "")
            for key, name in (("ca", "ca"), ("cert", "cert"), ("key", "key"), ("key_password", "keyPassword"))
        }
        if tls
        else {}
    )
    return case(
        REDIS,
        "TestRedisParseMetadata: testRedisMetadata",
        f"#{index} {comment}",
        "redis-metadata",
        given,
        enable_tls=tls,
        files=files,
    )


#: ``redisConnectionInfo`` as upstream's ``wantMeta`` leaves what a case does not set.
REDIS_CONNECTION_DEFAULTS: dict[str, Any] = {
    "addresses": (),
    "hosts": (),
    "ports": (),
    "username": "",
    "password": "",
    "sentinel_username": "",
    "sentinel_password": "",
    "sentinel_master": "",
    "enable_tls": False,
    "unsafe_ssl": False,
}
#: The field each of upstream's error values is about.
REDIS_ERRORS = {"ErrRedisNoAddresses": "address", "ErrRedisUnequalHostsAndPorts": "ports", "ErrRedisParse": None}


def redis_connection(
    test: str,
    index: int,
    name: str,
    metadata: Mapping[str, str],
    auth: Mapping[str, str],
    env: bool = False,
    refused: Sequence[str] = (),
    keda_error: str = "",
    connection: Mapping[str, Any] | None = None,
) -> Case:
    """A row of TestParseRedisClusterMetadata or TestParseRedisSentinelMetadata: ``wantErr`` (upstream's
    error value, and the fields the model names) or ``wantMeta`` (listName mylist, listLength 5, the connection)."""
    given = {"metadata": metadata, "auth": auth, "env": REDIS_ENV if env else {}}
    if refused:
        return case(
            REDIS, test, f"#{index} {name}", "redis-connection", given, refused=tuple(refused), keda_error=keda_error
        )
    return case(
        REDIS,
        test,
        f"#{index} {name}",
        "redis-connection",
        given,
        list_name="mylist",
        list_length=5,
        connection={**REDIS_CONNECTION_DEFAULTS, **(connection or {})},
    )


NOT_EXPRESSIBLE_REDIS = [
    case(
        REDIS,
        "TestRedisGetMetricSpecForScaling: redisMetricIdentifiers",
        f"#{i} {name}",
        "metric-name",
        {"metadata_case": 1, "trigger_index": index},
        METRIC_NAMES,
        name=name,
    )
    for i, (index, name) in enumerate([(0, "s0-redis-mylist"), (1, "s1-redis-mylist")])
]


# --- tests/scalers/kafka/kafka_test.go ------------------------------------------------------------
#
# Each step: the offsets it leaves, per partition (id, latest offset, committed offset or None when
# the group never committed), read after read through one scaler's memory; and the replicas upstream
# waits for (``None``: a read upstream asserts nothing about). Where a message lands is the model's
# choice (upstream's producer picks the partition); the totals per step are upstream's.

_BOOTSTRAP = "kafka-test-kafka-kafka-bootstrap.kafka-test-ns:9092"


def _trigger(topic: str | None, group: str, **metadata: str) -> dict[str, str]:
    """The ScaledObject templates' trigger metadata (``lagThreshold: '1'`` in every one)."""
    return {
        **({"topic": topic} if topic else {}),
        "bootstrapServers": _BOOTSTRAP,
        "consumerGroup": group,
        "lagThreshold": "1",
        **metadata,
    }


def e2e(
    test: str,
    step: str,
    metadata: Mapping[str, str],
    reads: Sequence[Sequence[tuple[int, int, int | None]]],
    replicas: Sequence[int | None],
) -> Case:
    return case(KAFKA_E2E, test, step, "e2e", {"metadata": metadata, "reads": reads}, replicas=tuple(replicas))


_EARLIEST = _trigger("kafka-topic", "earliest", activationLagThreshold="1", offsetResetPolicy="earliest")
_LATEST = _trigger("kafka-topic", "latest", activationLagThreshold="1", offsetResetPolicy="latest")
_MULTI = _trigger(None, "multiTopic", offsetResetPolicy="latest")
_LIMIT = _trigger(
    "limit-to-partitions-with-lag",
    "latest",
    offsetResetPolicy="earliest",
    activationLagThreshold="1",
    limitToPartitionsWithLag="true",
)
_EVEN = _trigger(
    "ensure-even-distribution-of-partitions",
    "latest",
    offsetResetPolicy="earliest",
    activationLagThreshold="1",
    ensureEvenDistributionOfPartitions="true",
)


def _invalid(group: str, policy: str, zero: str) -> dict[str, str]:
    topic = "kafka-topic-zero-invalid-offset" if zero == "true" else "kafka-topic-one-invalid-offset"
    return _trigger(topic, group, scaleToZeroOnInvalidOffset=zero, offsetResetPolicy=policy)


def _spread(total: int, partitions: int, committed: int | None = None) -> list[tuple[int, int, int | None]]:
    """``total`` records past the ``committed`` offset (none: from 0, never committed) over
    ``partitions`` partitions, the first ones taking the remainder."""
    share, extra = divmod(total, partitions)
    return [(p, (committed or 0) + share + (p < extra), committed) for p in range(partitions)]


# fmt: off
E2E_CASES = [
    e2e("testEarliestPolicy", "#0 no messages: stays at 0", _EARLIEST, [_spread(0, 3)], [0]),
    e2e("testEarliestPolicy", "#1 one message: activation 1 keeps it at 0", _EARLIEST, [_spread(1, 3)], [0]),
    e2e("testEarliestPolicy", "#2 two messages: 2 replicas", _EARLIEST, [_spread(2, 3)], [2]),
    e2e("testEarliestPolicy", "#3 seven messages: capped at the 3 partitions", _EARLIEST, [_spread(7, 3)], [3]),
    e2e("testLatestPolicy", "#0 committed at the end: stays at 0", _LATEST, [_spread(0, 3, 3)], [0]),
    e2e("testLatestPolicy", "#1 one message: activation 1 keeps it at 0", _LATEST,
        [[(0, 4, 3), (1, 3, 3), (2, 3, 3)]], [0]),
    e2e("testLatestPolicy", "#2 two messages: 2 replicas", _LATEST, [[(0, 4, 3), (1, 4, 3), (2, 3, 3)]], [2]),
    e2e("testLatestPolicy", "#3 seven messages: capped at the 3 partitions", _LATEST,
        [[(0, 6, 3), (1, 5, 3), (2, 5, 3)]], [3]),
    # No topic: KEDA sums every topic the group committed on (kafka-topic, kafka-topic2), here
    # partitions 0-2 and 100-102, and caps at their six partitions.
    e2e("testMultiTopic", "#0 no messages: stays at 0", _MULTI, [[(p, 0, 0) for p in (0, 1, 2, 100, 101, 102)]], [0]),
    e2e("testMultiTopic", "#1 one message in topic 1: 1 replica", _MULTI,
        [[(0, 1, 0)] + [(p, 0, 0) for p in (1, 2, 100, 101, 102)]], [1]),
    e2e("testMultiTopic", "#2 one more in topic 2: 2 replicas", _MULTI,
        [[(0, 1, 0), (100, 1, 0)] + [(p, 0, 0) for p in (1, 2, 101, 102)]], [2]),
    e2e("testZeroOnInvalidOffsetWithLatestOffsetResetPolicy", "#0 no committed offset: stays at 0",
        _invalid("invalidOffsetZeroLatest", "latest", "true"), [[(0, 0, None)]], [0]),
    e2e("testZeroOnInvalidOffsetWithEarliestOffsetResetPolicy", "#0 no committed offset: stays at 0",
        _invalid("invalidOffsetZeroEarliest", "earliest", "true"), [[(0, 0, None)]], [0]),
    e2e("testOneOnInvalidOffsetWithLatestOffsetResetPolicy", "#0 no committed offset: lag 1, 1 replica",
        _invalid("invalidOffsetOneLatest", "latest", "false"), [[(0, 0, None)]], [1]),
    e2e("testOneOnInvalidOffsetWithLatestOffsetResetPolicy", "#1 committed, one message consumed: back to 0",
        _invalid("invalidOffsetOneLatest", "latest", "false"), [[(0, 1, 1)]], [0]),
    e2e("testOneOnInvalidOffsetWithEarliestOffsetResetPolicy", "#0 one message, no committed offset: 1 replica",
        _invalid("invalidOffsetOneEarliest", "earliest", "false"), [[(0, 1, None)]], [1]),
    e2e("testOneOnInvalidOffsetWithEarliestOffsetResetPolicy", "#1 committed, one more consumed: back to 0",
        _invalid("invalidOffsetOneEarliest", "earliest", "false"), [[(0, 2, 2)]], [0]),
    # The group stops committing (its consumers moved to another group); five messages arrive. Each
    # later read finds the committed offsets of the read before: persistent, left out of the metric,
    # still active, so 1 replica and no more.
    e2e("testPersistentLag", "#0 five messages on offsets that no longer move: stays at 1",
        _trigger("kafka-topic-persistent-lag", "persistentLag", excludePersistentLag="true", offsetResetPolicy="latest"),
        [[(0, 1, 1), (1, 0, 0), (2, 0, 0)], [(0, 3, 1), (1, 2, 0), (2, 1, 0)], [(0, 3, 1), (1, 2, 0), (2, 1, 0)]],
        [None, 1, 1]),
    e2e("testScalingOnlyPartitionsWithLag", "#0 no messages: stays at 0", _LIMIT, [_spread(0, 3, 0)], [0]),
    e2e("testScalingOnlyPartitionsWithLag", "#1 one message: activation 1 keeps it at 0", _LIMIT,
        [[(0, 1, 0), (1, 0, 0), (2, 0, 0)]], [0]),
    e2e("testScalingOnlyPartitionsWithLag", "#2 six messages on one partition: 1 replica", _LIMIT,
        [[(0, 6, 0), (1, 0, 0), (2, 0, 0)]], [1]),
    e2e("testScalingOnlyPartitionsWithLag", "#3 five more on a second partition: 2 replicas", _LIMIT,
        [[(0, 6, 0), (1, 5, 0), (2, 0, 0)]], [2]),
    e2e("testScalingEnsureEvenDistributionOfPartitions", "#0 no messages: stays at 0", _EVEN, [_spread(0, 10, 0)], [0]),
    e2e("testScalingEnsureEvenDistributionOfPartitions", "#1 one message: activation 1 keeps it at 0", _EVEN,
        [_spread(1, 10, 0)], [0]),
    e2e("testScalingEnsureEvenDistributionOfPartitions", "#2 lag 5 on 10 partitions: 5 replicas", _EVEN,
        [_spread(5, 10, 0)], [5]),
    e2e("testScalingEnsureEvenDistributionOfPartitions", "#3 lag 8: 10 replicas, not 8 (10 has no divisor 8)", _EVEN,
        [_spread(8, 10, 0)], [10]),
]
# fmt: on


# fmt: off
REDIS_METADATA_CASES = [  # testRedisMetadata
    redis_metadata(0, "nothing passed", {}, {}, refused=("listName", "address")),
    redis_metadata(1, "properly formed listName", {"listName": "mylist", "listLength": "10", "addressFromEnv": "REDIS_HOST", "passwordFromEnv": "REDIS_PASSWORD"}, {}, tls=False),
    redis_metadata(2, "properly formed hostPort", {"listName": "mylist", "listLength": "10", "hostFromEnv": "REDIS_HOST", "portFromEnv": "REDIS_PORT", "passwordFromEnv": "REDIS_PASSWORD"}, {}, tls=False),
    redis_metadata(3, "properly formed hostPort", {"listName": "mylist", "listLength": "10", "addressFromEnv": "REDIS_HOST", "host": "REDIS_HOST", "port": "REDIS_PORT", "passwordFromEnv": "REDIS_PASSWORD"}, {}, tls=False),
    redis_metadata(4, "improperly formed hostPort", {"listName": "mylist", "listLength": "10", "hostFromEnv": "REDIS_HOST", "passwordFromEnv": "REDIS_PASSWORD"}, {}, refused=("address",)),
    redis_metadata(5, "properly formed listName, empty address", {"listName": "mylist", "listLength": "10", "address": "", "password": ""}, {}, refused=("address",)),
    redis_metadata(6, "improperly formed listLength", {"listName": "mylist", "listLength": "AA", "addressFromEnv": "REDIS_HOST", "password": ""}, {}, refused=("listLength",)),
    redis_metadata(7, "improperly formed activationListLength", {"listName": "mylist", "listLength": "1", "activationListLength": "AA", "addressFromEnv": "REDIS_HOST", "password": ""}, {}, refused=("activationListLength",)),
    redis_metadata(8, "address does not resolve", {"listName": "mylist", "listLength": "0", "addressFromEnv": "REDIS_WRONG", "password": ""}, {}, refused=("address",)),
    redis_metadata(9, "password is defined in the authParams", {"listName": "mylist", "listLength": "0", "addressFromEnv": "REDIS_WRONG"}, {"password": ""}, refused=("address",)),
    redis_metadata(10, "address is defined in the authParams", {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379"}, tls=False),
    redis_metadata(11, "host and port is defined in the authParams", {"listName": "mylist", "listLength": "0"}, {"host": "localhost", "port": "6379"}, tls=False),
    redis_metadata(12, "enableTLS, TLS defined in the authParams only", {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379", "tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}, tls=True),
    redis_metadata(13, "enableTLS, TLS cert/key and assumed public CA", {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379", "tls": "enable", "cert": "ceert", "key": "keey"}, tls=True),
    redis_metadata(14, "enableTLS, TLS cert/key + key password and assumed public CA", {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379", "tls": "enable", "cert": "ceert", "key": "keey", "keyPassword": "keeyPassword"}, tls=True),
    redis_metadata(15, "enableTLS, TLS CA only", {"listName": "mylist", "listLength": "0"}, {"address": "localhost:6379", "tls": "enable", "ca": "caaa"}, tls=True),
    redis_metadata(16, "enableTLS is enabled by metadata", {"listName": "mylist", "listLength": "0", "enableTLS": "true"}, {"address": "localhost:6379"}, tls=True),
    redis_metadata(17, "enableTLS is defined both in authParams and metadata", {"listName": "mylist", "listLength": "0", "enableTLS": "true"}, {"address": "localhost:6379", "tls": "disable"}, refused=("enableTLS",)),
    redis_metadata(18, "host only is defined in the authParams", {"listName": "mylist", "listLength": "0"}, {"host": "localhost"}, refused=("address",)),
]
REDIS_CLUSTER_CASES = [
    redis_connection("TestParseRedisClusterMetadata", 0, "empty metadata", {}, {}, refused=("listName", "address"), keda_error="ErrRedisNoAddresses"),
    redis_connection("TestParseRedisClusterMetadata", 1, "unequal number of Hosts/Ports", {"listName": "mylist", "hosts": "a, b, c", "ports": "1, 2"}, {}, refused=("ports",), keda_error="ErrRedisUnequalHostsAndPorts"),
    redis_connection("TestParseRedisClusterMetadata", 2, "no list name", {"hosts": "a, b, c", "ports": "1, 2, 3", "listLength": "5"}, {}, refused=("listName",), keda_error="ErrRedisParse"),
    redis_connection("TestParseRedisClusterMetadata", 3, "invalid list length", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "listLength": "invalid"}, {}, refused=("listLength",), keda_error="ErrRedisParse"),
    redis_connection("TestParseRedisClusterMetadata", 4, "address is defined in auth params", {"listName": "mylist"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002")}),
    redis_connection("TestParseRedisClusterMetadata", 5, "Hosts and Ports given in auth params", {"listName": "mylist"}, {"hosts": "   a, b,    c ", "ports": "1, 2, 3"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3")}),
    redis_connection("TestParseRedisClusterMetadata", 6, "Username given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"username": "username"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "username"}),
    redis_connection("TestParseRedisClusterMetadata", 7, "Username given in metadata", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "username": "username"}, {}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "username"}),
    redis_connection("TestParseRedisClusterMetadata", 8, "Username given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "usernameFromEnv": "REDIS_USERNAME"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "none"}),
    redis_connection("TestParseRedisClusterMetadata", 9, "Password given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"password": "password"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "password": "password"}),
    redis_connection("TestParseRedisClusterMetadata", 10, "Password given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "passwordFromEnv": "REDIS_PASSWORD"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "password": "none"}),
    redis_connection("TestParseRedisClusterMetadata", 11, "tls enabled without setting UnsafeSsl", {"listName": "mylist", "enableTLS": "true"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002"), "enable_tls": True}),
    redis_connection("TestParseRedisClusterMetadata", 12, "tls enabled with UnsafeSsl true", {"listName": "mylist", "enableTLS": "true", "unsafeSsl": "true"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002"), "enable_tls": True, "unsafe_ssl": True}),
]
REDIS_SENTINEL_CASES = [
    redis_connection("TestParseRedisSentinelMetadata", 0, "empty metadata", {}, {}, refused=("listName", "address"), keda_error="ErrRedisNoAddresses"),
    redis_connection("TestParseRedisSentinelMetadata", 1, "unequal number of Hosts/Ports", {"hosts": "a, b, c", "ports": "1, 2"}, {}, refused=("listName", "ports"), keda_error="ErrRedisUnequalHostsAndPorts"),
    redis_connection("TestParseRedisSentinelMetadata", 2, "no list name", {"hosts": "a, b, c", "ports": "1, 2, 3", "listLength": "5"}, {}, refused=("listName",), keda_error="ErrRedisParse"),
    redis_connection("TestParseRedisSentinelMetadata", 3, "invalid list length", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "listLength": "invalid"}, {}, refused=("listLength",), keda_error="ErrRedisParse"),
    redis_connection("TestParseRedisSentinelMetadata", 4, "address is defined in auth params", {"listName": "mylist"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002")}),
    redis_connection("TestParseRedisSentinelMetadata", 5, "Hosts and Ports given in auth params", {"listName": "mylist"}, {"hosts": "   a, b,    c ", "ports": "1, 2, 3"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3")}),
    redis_connection("TestParseRedisSentinelMetadata", 6, "Hosts and Ports given in auth params", {"listName": "mylist"}, {"hosts": "   a, b,    c ", "ports": "1, 2, 3"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3")}),
    redis_connection("TestParseRedisSentinelMetadata", 7, "Username given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"username": "username"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "username"}),
    redis_connection("TestParseRedisSentinelMetadata", 8, "Username given in metadata", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "username": "username"}, {}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "username"}),
    redis_connection("TestParseRedisSentinelMetadata", 9, "Username given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "usernameFromEnv": "REDIS_USERNAME"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "username": "none"}),
    redis_connection("TestParseRedisSentinelMetadata", 10, "Password given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"password": "password"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "password": "password"}),
    redis_connection("TestParseRedisSentinelMetadata", 11, "Password given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "passwordFromEnv": "REDIS_PASSWORD"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "password": "none"}),
    redis_connection("TestParseRedisSentinelMetadata", 12, "sentinelUsername given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"sentinelUsername": "sentinelUsername"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_username": "sentinelUsername"}),
    redis_connection("TestParseRedisSentinelMetadata", 13, "sentinelUsername given in metadata", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "sentinelUsername": "sentinelUsername"}, {}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_username": "sentinelUsername"}),
    redis_connection("TestParseRedisSentinelMetadata", 14, "sentinelUsername given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "sentinelUsernameFromEnv": "REDIS_SENTINEL_USERNAME"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_username": "none"}),
    redis_connection("TestParseRedisSentinelMetadata", 15, "sentinelPassword given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"sentinelPassword": "sentinelPassword"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_password": "sentinelPassword"}),
    redis_connection("TestParseRedisSentinelMetadata", 16, "sentinelPassword given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "sentinelPasswordFromEnv": "REDIS_SENTINEL_PASSWORD"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_password": "none"}),
    redis_connection("TestParseRedisSentinelMetadata", 17, "sentinelMaster given in authParams", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist"}, {"sentinelMaster": "sentinelMaster"}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_master": "sentinelMaster"}),
    redis_connection("TestParseRedisSentinelMetadata", 18, "sentinelMaster given in metadata", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "sentinelMaster": "sentinelMaster"}, {}, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_master": "sentinelMaster"}),
    redis_connection("TestParseRedisSentinelMetadata", 19, "sentinelMaster given in metadata from env", {"hosts": "a, b, c", "ports": "1, 2, 3", "listName": "mylist", "sentinelMasterFromEnv": "REDIS_SENTINEL_MASTER"}, {}, env=True, connection={"addresses": ("a:1", "b:2", "c:3"), "hosts": ("a", "b", "c"), "ports": ("1", "2", "3"), "sentinel_master": "none"}),
    redis_connection("TestParseRedisSentinelMetadata", 20, "tls enabled without setting UnsafeSsl", {"listName": "mylist", "enableTLS": "true"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002"), "enable_tls": True}),
    redis_connection("TestParseRedisSentinelMetadata", 21, "tls enabled with UnsafeSsl true", {"listName": "mylist", "enableTLS": "true", "unsafeSsl": "true"}, {"addresses": ":7001, :7002"}, connection={"addresses": (":7001", ":7002"), "enable_tls": True, "unsafe_ssl": True}),
]
# fmt: on


# --- running the rows -----------------------------------------------------------------------------


def refused_fields(run: Callable[[], object]) -> tuple[str, ...]:
    """The fields named by the :class:`MetadataError` ``run`` raises (it must raise one)."""
    with pytest.raises(MetadataError) as raised:
        run()
    return raised.value.fields


def check_refusal(c: Case, run: Callable[[], object]) -> bool:
    """For a row upstream expects an error: the model refuses it and names the row's fields."""
    if "refused" not in c.expected:
        return False
    fields = refused_fields(run)
    assert set(c.expected["refused"]) <= set(fields), f"named {fields}, not {c.expected['refused']}"
    return True


def kafka_metadata_check(c: Case) -> None:
    for auth in KAFKA_AUTH_VARIANTS:  # TestGetBrokers parses every case with and without auth params

        def run(auth: Mapping[str, str] = auth) -> object:
            return parse_kafka_metadata(c.given["metadata"], {}, auth)

        if check_refusal(c, run):
            continue
        meta = parse_kafka_metadata(c.given["metadata"], {}, auth)
        e, t = c.expected, meta.trigger
        assert (meta.bootstrap_servers, meta.consumer_group, t.topic) == (e["brokers"], e["group"], e["topic"])
        assert (t.partition_limitation, t.offset_reset_policy) == (e["limitation"], e["policy"])
        flags = {
            "allowIdleConsumers": t.allow_idle_consumers,
            "excludePersistentLag": t.exclude_persistent_lag,
            "limitToPartitionsWithLag": t.limit_to_partitions_with_lag,
            "ensureEvenDistributionOfPartitions": t.ensure_even_distribution_of_partitions,
        }
        assert {name for name, on in flags.items() if on} == set(e["flags"])
        assert t.lag_threshold == int(c.given["metadata"].get("lagThreshold", 10))


def kafka_auth_check(c: Case) -> None:
    def run() -> object:
        return parse_kafka_metadata(c.given["metadata"], {}, c.given["auth"])

    if check_refusal(c, run):
        return
    meta = parse_kafka_metadata(c.given["metadata"], {}, c.given["auth"])  # upstream: no error
    if c.expected["enable_tls"] is not None:  # only TestKafkaAuthParamsInTriggerAuthentication checks it
        assert meta.enable_tls is c.expected["enable_tls"]


def partition_limitation_check(c: Case) -> None:
    if not check_refusal(c, lambda: parse_partition_limitation(c.given["text"])):
        assert parse_partition_limitation(c.given["text"]) == c.expected["partitions"]


def topic_partitions_check(c: Case) -> None:
    trigger = parse_kafka_metadata(c.given["metadata"], {}, KAFKA_AUTH_VARIANTS[0]).trigger
    report = keda_lag([PartitionOffsets(p, 10, 4) for p in c.given["partitions"]], trigger)
    assert tuple(report.per_partition) == c.expected["counted"]
    assert report.metric == 6 * len(c.expected["counted"])  # each counted partition's lag, 10 - 4


def factors_check(c: Case) -> None:
    assert tuple(find_factors(c.given["n"])) == c.expected["factors"]


def next_factor_check(c: Case) -> None:
    g = c.given
    factor = get_next_factor_that_balances_consumers_to_topic_partitions(g["lag"], g["partitions"], g["threshold"])
    assert factor == c.expected["factor"]


def lag_for_partition_check(c: Case) -> None:
    g = c.given
    trigger = KafkaTrigger(
        offset_reset_policy=g["policy"], scale_to_zero_on_invalid_offset=g["scaleToZeroOnInvalidOffset"]
    )
    committed = None if g["committed"] == -1 else g["committed"]
    offsets = PartitionOffsets(0, g["latest"], committed)
    assert partition_lag(offsets, trigger) == c.expected["lag"]
    # Read as a whole topic, a partition the latest-offset answer left out is not visited at all.
    report = keda_lag([offsets], trigger)
    assert report.total == (c.expected["lag_with_persistent"] if g["latest"] is not None else 0)
    assert report.missing == (() if g["latest"] is not None else (0,))


def redis_metadata_check(c: Case) -> None:
    g = c.given

    def run() -> object:
        return parse_redis_metadata(g["metadata"], g["env"], g["auth"])

    if check_refusal(c, run):
        return
    connection = parse_redis_metadata(g["metadata"], g["env"], g["auth"]).connection
    assert connection.enable_tls is c.expected["enable_tls"]
    for name, value in c.expected["files"].items():
        assert getattr(connection, name) == value, name


def redis_connection_check(c: Case) -> None:
    g = c.given

    def run() -> object:
        return parse_redis_metadata(g["metadata"], g["env"], g["auth"])

    if check_refusal(c, run):
        about = REDIS_ERRORS[c.expected["keda_error"]]
        assert about is None or about in refused_fields(run), c.expected["keda_error"]
        return
    meta = parse_redis_metadata(g["metadata"], g["env"], g["auth"])
    assert (meta.trigger.list_name, meta.trigger.list_length) == (c.expected["list_name"], c.expected["list_length"])
    got = {name: getattr(meta.connection, name) for name in REDIS_CONNECTION_DEFAULTS}
    assert got == c.expected["connection"]


def e2e_check(c: Case) -> None:
    """Each read through one scaler (its memory of committed offsets shared); the replicas: 0 when
    inactive (cooldownPeriod 0), else the HPA's ceil(metric / lagThreshold), at least 1, at most 100."""
    trigger = parse_kafka_metadata(c.given["metadata"], {}, {}).trigger
    previous: dict[int, int] = {}
    for read, wanted in zip(c.given["reads"], c.expected["replicas"], strict=True):
        report = keda_lag([PartitionOffsets(*offsets) for offsets in read], trigger, previous)
        replicas = min(max(1, hpa_proposal(report.metric, trigger.lag_threshold)), 100) if report.active else 0
        if wanted is not None:
            assert replicas == wanted, f"lag {report.total}, metric {report.metric}, active {report.active}"


CHECKS: dict[str, Callable[[Case], None]] = {
    "kafka-metadata": kafka_metadata_check,
    "kafka-auth": kafka_auth_check,
    "partition-limitation": partition_limitation_check,
    "topic-partitions": topic_partitions_check,
    "factors": factors_check,
    "next-factor": next_factor_check,
    "lag-for-partition": lag_for_partition_check,
    "redis-metadata": redis_metadata_check,
    "redis-connection": redis_connection_check,
    "e2e": e2e_check,
}

CASES: list[Case] = [
    *KAFKA_METADATA_CASES,
    *KAFKA_TRIGGER_AUTH_CASES,
    *KAFKA_OAUTH_CASES,
    *KAFKA_SCALED_OBJECT_AUTH_CASES,
    *PARTITION_LIMITATION_CASES,
    *TOPIC_PARTITION_CASES,
    *FACTOR_CASES,
    *NEXT_FACTOR_CASES,
    *MISSING_PARTITION_CASES,
    *NOT_EXPRESSIBLE_KAFKA,
    *REDIS_METADATA_CASES,
    *REDIS_CLUSTER_CASES,
    *REDIS_SENTINEL_CASES,
    *NOT_EXPRESSIBLE_REDIS,
    *E2E_CASES,
]


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_upstream_case(c: Case) -> None:
    if not c.expressible:
        pytest.skip(f"not expressible: {c.why_not}")
    CHECKS[c.kind](c)


def counts() -> dict[str, tuple[int, int]]:
    """Per upstream file: (rows ported and run, rows that cannot be expressed)."""
    return {
        file: (
            sum(1 for c in CASES if c.file == file and c.expressible),
            sum(1 for c in CASES if c.file == file and not c.expressible),
        )
        for file in FILES
    }


def test_the_tables_are_whole_and_every_row_says_why_when_it_cannot_run() -> None:
    assert len({c.id for c in CASES}) == len(CASES), "two rows share an id"
    assert sum(ported for ported, _ in counts().values()) >= 40
    assert all(c.why_not for c in CASES if not c.expressible)
    assert all(c.kind in CHECKS or not c.expressible for c in CASES)


def test_the_model_docs_state_these_counts() -> None:
    """docs/keda-model.md says how many cases of each file run, and how many cannot."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "keda-model.md").read_text(encoding="utf-8")
    for file, (ported, skipped) in counts().items():
        assert f"| `{file}` | {ported} | {skipped} |" in text, (file, ported, skipped)
