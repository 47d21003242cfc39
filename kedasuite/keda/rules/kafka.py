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

Which partitions count (``getTopicPartitions``, ``getTotalLag``): with a ``topic``,
``partitionLimitation`` (``1,2,10-12``) keeps only the partitions it names, and a read where it
keeps none is an error. Then KEDA walks the partitions its latest-offset request answered for: one
missing from that answer (Azure Event Hubs leaves partitions out now and then) adds no lag and
does not count among the partitions of the cap.

The metadata is read as KEDA reads it (``parseKafkaMetadata``, ``kafkaMetadata.Validate``, with
:mod:`.scalersconfig`): a value KEDA refuses (a boolean Go's ``strconv.ParseBool`` does not take,
``limitToPartitionsWithLag`` without a ``topic``, ...) raises
:class:`~kedasuite.keda.rules.scalersconfig.MetadataError` naming the field.

Pure: :func:`~kedasuite.keda.reads.fetch_offsets` reads the two numbers per partition KEDA reads
from the broker, and :func:`keda_lag` turns them into KEDA's metric.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from kedasuite.keda.rules.activation import is_active
from kedasuite.keda.rules.scalersconfig import (
    AUTH_PARAMS,
    RESOLVED_ENV,
    TRIGGER_METADATA,
    MetadataError,
    MetadataProblem,
    Parser,
    Sources,
    is_unknown,
    quote,
)

OFFSET_RESET_POLICIES = ("latest", "earliest")
#: The ``tls`` and ``sasl`` values ``kafkaMetadata`` takes (its ``enum`` tags).
TLS_VALUES = ("enable", "disable")
SASL_TYPES = ("none", "plaintext", "scram_sha256", "scram_sha512", "oauthbearer", "gssapi")
SASL_TOKEN_PROVIDERS = ("bearer", "aws_msk_iam")
#: Every boolean the kafka trigger reads from its metadata (each with strconv.ParseBool).
BOOLEAN_FIELDS = (
    "allowIdleConsumers",
    "excludePersistentLag",
    "scaleToZeroOnInvalidOffset",
    "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions",
    "unsafeSsl",
)
_METADATA_ENV = (TRIGGER_METADATA, RESOLVED_ENV)
_METADATA_AUTH = (TRIGGER_METADATA, AUTH_PARAMS)
_INT32 = (-(2**31), 2**31 - 1)
#: The longest ``partitionLimitation`` range the model lists (Kafka clusters hold far fewer partitions).
_MAX_LIMITATION = 1_000_000
_T = TypeVar("_T")


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    #: The partition's latest offset; ``None`` when the broker's latest-offset answer left the partition out.
    high_watermark: int | None
    #: The group's committed offset; ``None`` when the group never committed here.
    committed: int | None


@dataclass(frozen=True)
class KafkaTrigger:
    """The kafka trigger metadata that changes the lag KEDA reports.

    The checks that need the ``topic`` (``limitToPartitionsWithLag`` and
    ``ensureEvenDistributionOfPartitions`` need one) are :meth:`from_metadata`'s: built directly, a
    trigger without ``topic`` means one whose topic is not stated here."""

    lag_threshold: int = 10
    activation_lag_threshold: int = 0
    offset_reset_policy: str = "latest"
    allow_idle_consumers: bool = False
    limit_to_partitions_with_lag: bool = False
    ensure_even_distribution_of_partitions: bool = False
    scale_to_zero_on_invalid_offset: bool = False
    exclude_persistent_lag: bool = False
    topic: str = ""
    #: ``partitionLimitation``: the partitions that count, in the order given; ``None``: all of them.
    partition_limitation: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.lag_threshold <= 0:
            raise ValueError("lagThreshold must be positive number")
        if self.activation_lag_threshold < 0:
            raise ValueError("activationLagThreshold must be a non-negative number")
        if self.offset_reset_policy not in OFFSET_RESET_POLICIES:
            raise ValueError(f"offsetResetPolicy must be latest or earliest, got {self.offset_reset_policy!r}")
        if self.allow_idle_consumers and self.limit_to_partitions_with_lag:
            raise ValueError("allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously")
        if self.limit_to_partitions_with_lag and self.ensure_even_distribution_of_partitions:
            raise ValueError(
                "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set simultaneously"
            )

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], resolved_env: Mapping[str, str] | None = None) -> KafkaTrigger:
        """Read a trigger's ``metadata`` map (all strings) with KEDA's defaults, refusing what KEDA
        refuses (:class:`MetadataError`). What only connects to the broker (``bootstrapServers``,
        ``consumerGroup``, credentials) is not required here: :func:`parse_kafka_metadata` is."""
        return parse_kafka_metadata(metadata, resolved_env, required=False).trigger

    def counts(self, partition: int) -> bool:
        """``isActivePartition``: whether ``partitionLimitation`` lets the partition count."""
        return self.partition_limitation is None or partition in self.partition_limitation


@dataclass(frozen=True)
class KafkaMetadata:
    """A kafka trigger's metadata as ``parseKafkaMetadata`` leaves it: the lag rules, and what KEDA
    connects with (``None`` where it comes from a source the caller did not pass)."""

    trigger: KafkaTrigger
    bootstrap_servers: tuple[str, ...] | None
    consumer_group: str | None
    #: ``version``, as given (KEDA's default protocol, 1.0.0, when empty).
    version: str = ""
    #: ``tls: enable`` (``None``: set in a TriggerAuthentication the caller did not pass).
    enable_tls: bool | None = False
    sasl: str | None = "none"


def parse_kafka_metadata(
    metadata: Mapping[str, str],
    resolved_env: Mapping[str, str] | None = None,
    auth_params: Mapping[str, str] | None = None,
    required: bool = True,
) -> KafkaMetadata:
    """KEDA's ``parseKafkaMetadata`` with ``kafkaMetadata.Validate``: every parameter looked up and
    converted as KEDA does, then the combinations KEDA refuses. ``resolved_env`` is the scaled
    container's environment (for ``…FromEnv``), ``auth_params`` the TriggerAuthentication's
    parameters; ``None``: unknown, so what they could supply is taken as supplied. ``required``:
    refuse a missing ``bootstrapServers`` or ``consumerGroup`` too. Raises :class:`MetadataError`:
    every parameter KEDA cannot convert, and the first combination ``Validate`` refuses."""
    p = Parser(Sources(metadata, resolved_env, auth_params), required)
    brokers = p.raw("bootstrapServers", _METADATA_ENV, required=True)
    group = p.raw("consumerGroup", _METADATA_ENV, required=True)
    topic = p.raw("topic", _METADATA_ENV)
    limitation_text = p.raw("partitionLimitation", (TRIGGER_METADATA,))
    before = len(p.problems)
    lag_threshold = p.integer("lagThreshold", 10)
    threshold_read = len(p.problems) == before
    activation = p.integer("activationLagThreshold", 0)
    policy = p.enum("offsetResetPolicy", OFFSET_RESET_POLICIES, "latest")
    flags = {name: p.boolean(name) for name in BOOLEAN_FIELDS}
    version = p.raw("version", (TRIGGER_METADATA,)) or ""
    tls_given = p.raw("tls", _METADATA_AUTH)
    tls = p.enum("tls", TLS_VALUES, "disable", _METADATA_AUTH)
    sasl_given = p.raw("sasl", _METADATA_AUTH)
    sasl = p.enum("sasl", SASL_TYPES, "none", _METADATA_AUTH)
    provider = p.enum("saslTokenProvider", SASL_TOKEN_PROVIDERS, "bearer", _METADATA_AUTH)
    p.boolean("kerberosDisableFAST", (AUTH_PARAMS,))
    thresholds = (lag_threshold if threshold_read else None, activation or 0)
    limitation = _validate(p, metadata, auth_params, thresholds, topic, limitation_text, flags, tls, sasl, provider)
    if p.problems:
        raise MetadataError(p.problems)
    if version and not is_unknown(version) and not _kafka_version(version):
        # parseKafkaMetadata reads the version once the typed config went through.
        raise MetadataError(
            [
                MetadataProblem(
                    "version",
                    f"version {quote(version)} is not a Kafka version KEDA reads: it refuses it (error parsing kafka "
                    f"version: invalid version `{version}`; sarama's ParseKafkaVersion takes 1.0.0 and later as "
                    "MAJOR.MINOR.PATCH, older ones as 0.MINOR.PATCH.BUILD)",
                    'write it like "2.8.0", or leave it out (KEDA then speaks 1.0.0)',
                )
            ]
        )
    assert lag_threshold is not None and activation is not None
    trigger = KafkaTrigger(
        lag_threshold=lag_threshold,
        activation_lag_threshold=activation,
        offset_reset_policy=policy,
        allow_idle_consumers=flags["allowIdleConsumers"],
        limit_to_partitions_with_lag=flags["limitToPartitionsWithLag"],
        ensure_even_distribution_of_partitions=flags["ensureEvenDistributionOfPartitions"],
        scale_to_zero_on_invalid_offset=flags["scaleToZeroOnInvalidOffset"],
        exclude_persistent_lag=flags["excludePersistentLag"],
        topic="" if topic is None or is_unknown(topic) else topic,
        partition_limitation=limitation,
    )
    return KafkaMetadata(
        trigger=trigger,
        bootstrap_servers=_known(brokers, lambda text: tuple(b.strip() for b in text.split(","))),
        consumer_group=_known(group, str),
        version="" if is_unknown(version) else version,
        enable_tls=None if is_unknown(tls_given) else tls == "enable",
        sasl=None if is_unknown(sasl_given) else sasl,
    )


def _known(value: str | None, convert: Callable[[str], _T]) -> _T | None:
    return None if value is None or is_unknown(value) else convert(value)


def _validate(
    p: Parser,
    metadata: Mapping[str, str],
    auth: Mapping[str, str] | None,
    thresholds: tuple[int | None, int],
    topic: str | None,
    limitation_text: str | None,
    flags: Mapping[str, bool],
    tls: str,
    sasl: str,
    provider: str,
) -> tuple[int, ...] | None:
    """``kafkaMetadata.Validate``, which stops at its first refusal. Returns ``partitionLimitation``
    (``None`` without a topic: KEDA then reads every topic of the group). A ``lagThreshold`` that
    did not convert is 0 to it (Go's zero value), which it refuses first: already reported."""
    lag_threshold, activation = thresholds
    if lag_threshold is None:
        return None
    if lag_threshold <= 0:
        p.refuse(
            "lagThreshold",
            f"lagThreshold must be positive number: KEDA refuses {lag_threshold}",
            "set 1 or more (the lag one replica should take)",
        )
        return None
    if activation < 0:
        p.refuse(
            "activationLagThreshold",
            f"activationLagThreshold must be a non-negative number: KEDA refuses {activation}",
            'set 0 or more ("0", the default, activates on any lag)',
        )
        return None
    limitation = None
    if limitation_text is not None and not is_unknown(limitation_text):
        try:
            limitation = parse_partition_limitation(limitation_text)
        except MetadataError as exc:
            p.problems.extend(exc.problems)
            return None
    no_topic = topic is None  # a topic from an environment the caller did not pass counts as given
    if no_topic:
        limitation = None
    combinations = (
        (
            flags["allowIdleConsumers"] and flags["limitToPartitionsWithLag"],
            "limitToPartitionsWithLag",
            "allowIdleConsumers and limitToPartitionsWithLag cannot be set simultaneously (KEDA refuses the pair)",
            "keep one: allowIdleConsumers lifts the partition cap, limitToPartitionsWithLag lowers it",
        ),
        (
            no_topic and flags["limitToPartitionsWithLag"],
            "limitToPartitionsWithLag",
            "limitToPartitionsWithLag needs a topic: KEDA refuses it without one "
            '("topic must be specified when using limitToPartitionsWithLag")',
            "set topic (or topicFromEnv), or drop limitToPartitionsWithLag",
        ),
        (
            flags["limitToPartitionsWithLag"] and flags["ensureEvenDistributionOfPartitions"],
            "ensureEvenDistributionOfPartitions",
            "limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot be set simultaneously "
            "(KEDA refuses the pair)",
            "keep one of them",
        ),
        (
            no_topic and flags["ensureEvenDistributionOfPartitions"],
            "ensureEvenDistributionOfPartitions",
            "ensureEvenDistributionOfPartitions needs a topic: KEDA refuses it without one "
            '("topic must be specified when using ensureEvenDistributionOfPartitions")',
            "set topic (or topicFromEnv), or drop ensureEvenDistributionOfPartitions",
        ),
    )
    for refused, name, reason, fix in combinations:
        if refused:
            p.refuse(name, reason, fix)
            return limitation
    if auth is not None:
        enabled = tls == "enable"
        problem = _tls_problem(auth, enabled) or _sasl_problem(metadata, auth, sasl, provider, enabled)
        if problem is not None:
            p.problems.append(problem)
    return limitation


def _tls_problem(auth: Mapping[str, str], enabled: bool) -> MetadataProblem | None:
    """``kafkaMetadata.parseTLS``: with ``tls: enable``, a client certificate needs its key and the other way round."""
    cert, key = (str(auth.get(name, "")).strip() for name in ("cert", "key"))
    if enabled and cert and not key:
        return MetadataProblem("key", "key must be provided with cert (KEDA refuses a client cert alone)", "add key")
    if enabled and key and not cert:
        return MetadataProblem("cert", "cert must be provided with key (KEDA refuses a client key alone)", "add cert")
    return None


def _sasl_problem(
    metadata: Mapping[str, str], auth: Mapping[str, str], sasl: str, provider: str, tls: bool
) -> MetadataProblem | None:
    """``kafkaMetadata.parseSASL`` with its OAuth and GSSAPI parts: the first thing a mechanism needs
    from the TriggerAuthentication that is not there. (Whether AWS credentials resolve is not modelled.)"""

    def missing(*names: str) -> MetadataProblem | None:
        for name in names:
            if not str(auth.get(name, "")).strip():
                words = {
                    "oauthTokenEndpointUri": "oauth token endpoint uri",
                    "kerberosConfig": "Kerberos configuration",
                }
                return MetadataProblem(
                    name,
                    f"no {words.get(name, name)} given: KEDA refuses sasl {sasl} without {name}",
                    f"set {name} in the TriggerAuthentication",
                )
        return None

    if sasl in ("plaintext", "scram_sha256", "scram_sha512"):
        return missing("username", "password")
    if sasl == "oauthbearer" and provider == "bearer":
        extensions = str(auth.get("oauthExtensions", "")).strip()
        if problem := missing("username", "password", "oauthTokenEndpointUri"):
            return problem
        if extensions and any(len(pair.split("=")) != 2 for pair in extensions.split(",")):
            return MetadataProblem(
                "oauthExtensions",
                f"oauthExtensions {quote(extensions)}: invalid OAuthBearer extension, must be of format key=value",
                "write key=value pairs separated by commas",
            )
        return None
    if sasl == "oauthbearer":
        if not tls:
            return MetadataProblem("tls", "TLS is required for AWS MSK authentication", 'set tls: "enable"')
        if not str(metadata.get("awsRegion", "")).strip():
            return MetadataProblem(
                "awsRegion", "no awsRegion given: KEDA refuses aws_msk_iam without it", "set awsRegion"
            )
        return None
    if sasl == "gssapi":
        if problem := missing("username"):
            return problem
        if bool(str(auth.get("password", "")).strip()) == bool(str(auth.get("keytab", "")).strip()):
            return MetadataProblem(
                "keytab",
                "exactly one of 'password' or 'keytab' must be provided for GSSAPI authentication",
                "keep one of password and keytab",
            )
        return missing("realm", "kerberosConfig")
    return None


def _kafka_version(text: str) -> bool:
    """Whether sarama's ``ParseKafkaVersion`` reads ``text``: five characters at least, then
    ``0.M.m.p`` for a version before 1.0, ``M.m.p`` from 1.0 on (ASCII digits)."""
    if len(text) < 5:
        return False
    pattern = r"0\.[0-9]+\.[0-9]+\.[0-9]+" if text[0] == "0" else r"[0-9]+\.[0-9]+\.[0-9]+"
    return re.fullmatch(pattern, text) is not None


def parse_partition_limitation(text: str) -> tuple[int, ...]:
    """``parsePartitionLimitation``: partition ids and ranges separated by commas (``1,2,10-12`` is
    1, 2, 10, 11, 12), each part trimmed; a range runs from its first id to its last, both
    included (an inverted one, ``4-1``, names none). Anything else raises :class:`MetadataError`."""
    found: list[int] = []
    for part in (piece.strip() for piece in text.split(",")):
        ends = part.split("-") if "-" in part else [part]
        numbers = [_int32(end.strip()) for end in ends]
        if len(ends) > 2 or None in numbers:
            raise MetadataError(
                [
                    MetadataProblem(
                        "partitionLimitation",
                        f"partitionLimitation {quote(text)}: KEDA refuses {quote(part)} (invalid partition "
                        f"limitation{' range' if len(ends) > 2 else ''}: {part}; it takes partition ids and ranges "
                        "like 1,2,10-12)",
                        'write ids and ranges separated by commas, e.g. "0,1,4-6"',
                    )
                ]
            )
        first, last = numbers[0], numbers[-1]
        assert first is not None and last is not None
        if last - first >= _MAX_LIMITATION:
            # KEDA would list every id of it; no topic has that many partitions, and the model will not list them.
            raise MetadataError(
                [
                    MetadataProblem(
                        "partitionLimitation",
                        f"partitionLimitation {quote(text)}: the range {part} names {last - first + 1} partitions, "
                        f"more than the model lists ({_MAX_LIMITATION})",
                        "name the topic's partitions only",
                    )
                ]
            )
        found += range(first, last + 1)
    return tuple(found)


def _int32(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 32)``: an optional sign, then decimal digits, within int32."""
    if re.fullmatch(r"[+-]?[0-9]+", text) is None:
        return None
    value = int(text)
    return value if _INT32[0] <= value <= _INT32[1] else None


@dataclass(frozen=True)
class LagReport:
    #: The lag of each partition KEDA counted (``partitionLimitation`` let it, and the broker gave its latest offset).
    per_partition: Mapping[int, int]
    #: Sum of the partition lags, before the cap: what activation looks at.
    total: int
    #: The metric KEDA hands the HPA (after the partition cap).
    metric: int
    active: bool
    #: ``excludePersistentLag``: the partitions left out of the metric this read (their lag).
    persistent: Mapping[int, int] = field(default_factory=dict)
    #: Partitions the broker's latest-offset answer left out: no lag, and not among the cap's partitions.
    missing: tuple[int, ...] = ()
    #: Partitions ``partitionLimitation`` leaves out: KEDA never reads them.
    limited_out: tuple[int, ...] = ()

    @property
    def partitions(self) -> int:
        """The partitions KEDA counted: the cap's ``P`` (before ``limitToPartitionsWithLag``)."""
        return len(self.per_partition)


class LagError(ValueError):
    """A read KEDA's scaler fails (``getTotalLag`` returns an error): the trigger reports nothing this read."""


def partition_lag(offsets: PartitionOffsets, trigger: KafkaTrigger) -> int:
    """``getLagForPartition`` (its lag with persistent lag; :func:`keda_lag` applies
    ``excludePersistentLag``). A partition with no committed offset is settled before the latest
    offset is looked at: 1 under ``latest`` (0 with ``scaleToZeroOnInvalidOffset``), 0 under
    ``earliest`` with ``scaleToZeroOnInvalidOffset``. Otherwise a partition missing from the
    latest-offset answer has lag 0, and an uncommitted one under ``earliest`` its whole latest offset."""
    invalid = offsets.committed is None or offsets.committed < 0
    if invalid and (trigger.offset_reset_policy == "latest" or trigger.scale_to_zero_on_invalid_offset):
        if trigger.scale_to_zero_on_invalid_offset:
            return 0
        return 1
    if offsets.high_watermark is None:
        return 0
    if invalid:
        return offsets.high_watermark
    assert offsets.committed is not None
    return offsets.high_watermark - offsets.committed


def find_factors(n: int) -> list[int]:
    """``FindFactors``: the divisors of ``n`` in increasing order (none below 1)."""
    if n < 1:
        return []
    small = [f for f in range(1, math.isqrt(n) + 1) if n % f == 0]
    return sorted({*small, *(n // f for f in small)})


def get_next_factor_that_balances_consumers_to_topic_partitions(total: int, partitions: int, threshold: int) -> int:
    """``ensureEvenDistributionOfPartitions``: the smallest divisor of the partition count whose
    consumers, ``lagThreshold`` each, cover the lag (so every consumer gets as many partitions);
    the partition count when none does (``getNextFactorThatBalancesConsumersToTopicPartitions``)."""
    return next((f for f in find_factors(partitions) if f * threshold >= total), partitions)


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
    """KEDA's metric for one read (``getTotalLag``); ``previous`` is the scaler's memory of committed
    offsets (``excludePersistentLag``), updated in place: pass the same dict to every read.
    ``partitions`` are the topic's, as read; :class:`LagError` when ``partitionLimitation`` keeps none."""
    active = [p for p in partitions if trigger.counts(p.partition)]
    if not active:
        named = ", ".join(str(n) for n in trigger.partition_limitation or ()) or "nothing"
        have = ", ".join(str(p.partition) for p in partitions) or "none"
        raise LagError(
            f"expected at least one active partition within the topic {quote(trigger.topic)} (KEDA fails the read): "
            f"partitionLimitation names {named}, the topic has partitions {have}; name one of those"
        )
    read = [p for p in active if p.high_watermark is not None]
    lags = {p.partition: partition_lag(p, trigger) for p in read}
    total = sum(lags.values())
    persistent = {p.partition: lags[p.partition] for p in read if _persistent(p, trigger, previous)}
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
            metric = get_next_factor_that_balances_consumers_to_topic_partitions(metric, len(lags), t) * t
        if trigger.limit_to_partitions_with_lag:
            upper = sum(1 for lag in counted.values() if lag > 0)
        metric = capped_total_lag(metric, t, upper)
    return LagReport(
        per_partition=lags,
        total=total,
        metric=max(metric, 0),
        active=is_active(total, trigger.activation_lag_threshold),
        persistent=persistent,
        missing=tuple(p.partition for p in active if p.high_watermark is None),
        limited_out=tuple(p.partition for p in partitions if not trigger.counts(p.partition)),
    )
