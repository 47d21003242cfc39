"""A kill storm (``tests/support/storm.py``) on the Kafka consumer group.

The consumer commits only offsets of records whose results are saved, so a kill can only
make the next owner read records again, never skip one: those the victim did since its last
confirmed commit (``repeat_bound``), which the storm checks. Each kill costs a group
rebalance, which is why the default storm is smaller here (``KILL_STORM_KAFKA``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from kedasuite.core.settings import KafkaSettings
from kedasuite.workers.kafka_consumer import redelivery_bound, repeat_bound
from tests.support import Proc
from tests.support.servers import KafkaUnderTest
from tests.support.storm import KAFKA_KILLS, Target, report, storm, timeout_for

pytestmark = [pytest.mark.integration, pytest.mark.faults]

#: Short sessions, for every kill means a rebalance that waits for the killed member's session
#: to end: Apache Kafka's shortest by default (``group.min.session.timeout.ms``); on Tansu, where
#: a join also takes about half a session, shorter still.
SESSION_MS = {"apache": 6000, "tansu": 2000}
#: Seconds of its work a victim may leave to be repeated: ``repeat_bound()``, and one more for
#: the record in hand and the commit's answer on a machine this busy.
REPEAT_WINDOW_S = repeat_bound() + 1.0


@pytest.mark.timeout(timeout_for(KAFKA_KILLS, 6.0, redelivery_bound(max(SESSION_MS.values()))))
def test_kafka_storm(
    forked: Callable[..., Proc],
    kafka: KafkaSettings,
    kafka_broker: KafkaUnderTest,
    kafka_env: dict[str, str],
    redis_url: str,
    redis_client: redis.Redis,
) -> None:
    session = SESSION_MS["tansu" if kafka_broker.tansu else "apache"]
    env = {
        **kafka_env,
        "KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS": str(session),
        "KAFKA_CONSUMER_CONFIG_HEARTBEAT_INTERVAL_MS": str(session // 5),
    }
    args = ["--bootstrap-servers", kafka.bootstrap, "--topic", kafka.topic, "--group", kafka.group]
    target = Target(
        "kafka",
        lambda slot: forked("worker", "kafka", *args, "--work-time", "0", "--redis-url", redis_url, env=env),
        r"assigned .+\[",
        redelivery_bound=redelivery_bound(session),
        kafka=kafka,
        repeat_window=REPEAT_WINDOW_S,
    )
    report("kafka", storm(target, redis_client, redis_url, kills=KAFKA_KILLS))
