"""A kill storm (``tests/storm.py``) on the Kafka consumer group.

The consumer commits each record's offset after its result is saved, so a kill can only
make the next owner read records again, never skip one. Each kill costs a group
rebalance, which is why the default storm is smaller here (``KILL_STORM_KAFKA``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from kedasuite.core.settings import KafkaSettings
from tests.conftest import KAFKA_TEST_ENV
from tests.storm import KAFKA_KILLS, Target, report, storm, timeout_for
from tests.support import Proc
from kedasuite.workers.kafka_consumer import redelivery_bound

pytestmark = [pytest.mark.integration, pytest.mark.faults]

#: Short sessions: a join takes about half a session here (Tansu), and every kill means one.
SESSION_MS = 2000
KAFKA_BOUND = redelivery_bound(SESSION_MS)


@pytest.mark.timeout(timeout_for(KAFKA_KILLS, 6.0, KAFKA_BOUND))
def test_kafka_storm(forked: Callable[..., Proc], kafka: KafkaSettings, redis_url: str,
                     redis_client: redis.Redis) -> None:
    env = {**KAFKA_TEST_ENV, "KAFKA_CONSUMER_CONFIG_SESSION_TIMEOUT_MS": str(SESSION_MS),
           "KAFKA_CONSUMER_CONFIG_HEARTBEAT_INTERVAL_MS": str(SESSION_MS // 5)}
    args = ["--bootstrap-servers", kafka.bootstrap, "--topic", kafka.topic, "--group", kafka.group]
    target = Target(
        "kafka",
        lambda slot: forked("worker", "kafka", *args, "--work-time", "0", "--redis-url", redis_url, env=env),
        r"assigned .+\[",
        redelivery_bound=KAFKA_BOUND,
        kafka=kafka,
    )
    report("kafka", storm(target, redis_client, redis_url, kills=KAFKA_KILLS))
