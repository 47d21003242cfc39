"""The atomic fetch of the suite's Celery transport, step by step on a real Redis.

The kill storms prove the whole; these pin the parts a reader of
``workers/celery_transport.py`` relies on: what a consumer fetched stays in Redis until
it is claimed, a silent consumer's fetch list goes back to the queue, a claim after that
is refused (so the message is not run twice), and options the design cannot honour are
refused with the fix.
"""

from __future__ import annotations

import time

import pytest
import redis
from kombu import Connection

from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_FETCHERS, CELERY_QUEUE, CELERY_UNACKED_HASH, CELERY_UNACKED_INDEX
from kedasuite.producers.celery_publisher import CeleryMessageEncoder
from kedasuite.producers.records import RecordFactory
from kedasuite.workers.celery_transport import FORGET_AFTER_LEASES, Channel, Transport

pytestmark = pytest.mark.integration


def channel(redis_url: str, **options: object) -> Channel:
    connection = Connection(redis_url, transport=Transport, transport_options=options)
    return connection.default_channel  # type: ignore[no-any-return]


def push(client: redis.Redis, n: int) -> list[bytes]:
    encoder = CeleryMessageEncoder()
    entries = [encoder.encode(r).encode() for r in RecordFactory(1).records(n, "t")]
    client.lpush(CELERY_QUEUE, *entries)
    return entries


def test_a_claim_moves_the_message_into_unacked_in_one_step(redis_url: str, redis_client: redis.Redis) -> None:
    chan = channel(redis_url)
    [entry] = push(redis_client, 1)
    fetch_key = chan.fetch_key(CELERY_QUEUE)
    assert redis_client.lmove(CELERY_QUEUE, fetch_key, "RIGHT", "LEFT") == entry  # what BLMOVE does
    delivered = []
    chan.connection._deliver = lambda payload, queue: delivered.append(payload)  # Celery's side, not under test
    chan._claim_and_deliver(CELERY_QUEUE, entry)
    assert redis_client.llen(fetch_key) == 0
    tag = delivered[0]["properties"]["delivery_tag"]
    assert redis_client.hexists(CELERY_UNACKED_HASH, tag) and redis_client.zscore(CELERY_UNACKED_INDEX, tag)


def test_a_silent_consumers_fetch_list_goes_back_and_its_late_claim_is_refused(
    redis_url: str, redis_client: redis.Redis
) -> None:
    chan = channel(redis_url, fetch_lease=2)
    chan._stamp(CELERY_QUEUE)
    [first, second] = push(redis_client, 2)
    fetch_key = chan.fetch_key(CELERY_QUEUE)
    taken = redis_client.lmove(CELERY_QUEUE, fetch_key, "RIGHT", "LEFT")
    assert taken == first
    assert chan.sweep_fetch_lists() == 0, "a consumer within its lease keeps what it fetched"
    # Its stamp goes stale: as if it were SIGKILLed (or stalled) right after the fetch.
    redis_client.zadd(CELERY_FETCHERS, {fetch_key: time.time() - 3})
    assert chan.sweep_fetch_lists() == 1
    assert redis_client.lrange(CELERY_QUEUE, 0, -1) == [second, first], "back at the consuming end, next to go"
    delivered = []
    chan.connection._deliver = lambda payload, queue: delivered.append(payload)
    chan._claim_and_deliver(CELERY_QUEUE, taken)  # the stalled consumer wakes up
    assert delivered == [] and redis_client.hlen(CELERY_UNACKED_HASH) == 0, "refused: someone else runs it now"
    # Forgotten only after ten leases of silence with an empty list.
    assert redis_client.zscore(CELERY_FETCHERS, fetch_key) is not None
    redis_client.zadd(CELERY_FETCHERS, {fetch_key: time.time() - 2 * FORGET_AFTER_LEASES - 1})
    chan.sweep_fetch_lists()
    assert redis_client.zscore(CELERY_FETCHERS, fetch_key) is None


def test_closing_returns_what_was_fetched(redis_url: str, redis_client: redis.Redis) -> None:
    chan = channel(redis_url)
    chan._stamp(CELERY_QUEUE)
    [entry] = push(redis_client, 1)
    redis_client.lmove(CELERY_QUEUE, chan.fetch_key(CELERY_QUEUE), "RIGHT", "LEFT")
    chan.close()
    assert redis_client.lrange(CELERY_QUEUE, 0, -1) == [entry]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"global_keyprefix": "app:"}, "REDIS_URL=redis://host:6379/<db>"),
        ({"priority_steps": [0, 3, 6, 9]}, "leave priority_steps out"),
        ({"fetch_lease": 1}, "must be longer than brpop_timeout"),
    ],
)
def test_options_the_design_cannot_honour_are_refused(redis_url: str, options: dict[str, object], says: str) -> None:
    with pytest.raises(InputError, match=says.replace("(", r"\(").replace("<", "<")):
        channel(redis_url, **options)
