"""The lease-based work queue and its Job runner against a real Redis."""

from __future__ import annotations

import collections
import json
import signal
from collections.abc import Callable

import pytest

from kedasuite.core.names import ITEM_KEY_PREFIX, WORKQUEUE_LIST, WORKQUEUE_PROCESSING
from kedasuite.core.results import fetch_results
from kedasuite.jobs.workqueue import DEAD_LETTER_LIST, Lease, Outcome, WorkQueue
from tests.support import Proc, run_cli, wait_for
from tests.support import pump as pump_records

pytestmark = pytest.mark.integration


def runner(spawn: Callable[..., Proc], redis_url: str, *args: str) -> Proc:
    return spawn("job", "workqueue", "--redis-url", redis_url, *args)


def pump(redis_url: str, count: int, prefix: str) -> list[str]:
    return pump_records("workqueue", count, prefix, redis_url=redis_url)


def item_results(client) -> collections.Counter[str]:
    return collections.Counter(
        client.hget(key, "item").decode() for key in client.scan_iter(match=f"{ITEM_KEY_PREFIX}*")
    )


def test_two_runners_drain_200_items_once_each_then_exit_0(spawn, redis_url, redis_client) -> None:
    ids = pump(redis_url, 200, "wq")
    runners = [runner(spawn, redis_url, "--work-time", "0.01") for _ in range(2)]

    assert [r.wait(60) for r in runners] == [0, 0], [r.log()[-1500:] for r in runners]
    results = fetch_results(redis_client, ids)
    assert len(results) == 200
    assert all(r.deliveries == 1 for r in results.values())
    assert len({r.worker for r in results.values()}) == 2, "both runners should take work"
    assert redis_client.llen(WORKQUEUE_LIST) == redis_client.llen(WORKQUEUE_PROCESSING) == 0
    assert all("done (queue empty)" in r.log() for r in runners)


@pytest.mark.faults  # a worker or broker killed mid-run: the faults tier
def test_a_killed_runners_item_comes_back_after_its_lease_expires(spawn, redis_url, redis_client) -> None:
    ids = pump(redis_url, 4, "kill")
    victim = runner(spawn, redis_url, "--work-time", "fixed:1", "--lease-seconds", "2")
    match = victim.wait_for_log(r"processing item (\d+) \(attempt 1\) for [\d.]+ s as (\S+)", timeout=30)
    token, victim_identity = match.group(1), match.group(2)
    victim.signal(signal.SIGKILL)
    victim.wait(10)
    assert redis_client.lrange(WORKQUEUE_PROCESSING, 0, -1) == [token.encode()]

    rescuer = runner(spawn, redis_url, "--work-time", "0.01", "--lease-seconds", "2")
    assert rescuer.wait(60) == 0, rescuer.log()[-1500:]

    results = fetch_results(redis_client, ids)
    assert len(results) == 4
    assert all(r.worker != victim_identity for r in results.values())
    assert f"processing item {token} (attempt 2)" in rescuer.log()
    assert "reaped expired leases: 1 re-queued, 0 dead-lettered" in rescuer.log()


def test_complete_is_refused_to_anyone_but_the_lease_holder(redis_client) -> None:
    queue = WorkQueue(redis_client, lease_seconds=0.3)
    redis_client.rpush(WORKQUEUE_LIST, "apple")
    mine = queue.lease("runner-a").lease
    assert mine is not None
    impostor = Lease(mine.token, mine.item, mine.attempts, "runner-b")
    assert queue.complete(impostor, "items:x", ["item", "apple"]) is Outcome.NOT_HOLDER

    wait_for(lambda: not redis_client.exists(f"job:lease:{mine.token}"), 5, "the lease to expire")
    theirs = queue.lease("runner-b").lease
    assert theirs is not None and theirs.token == mine.token and theirs.attempts == 2
    assert queue.complete(mine, "items:x", ["item", "apple"]) is Outcome.NOT_HOLDER
    assert queue.complete(theirs, "items:x", ["item", "apple"]) is Outcome.COMPLETED
    assert queue.backlog() == (0, 0)


def test_plain_strings_with_duplicates_are_each_processed(spawn, redis_url, redis_client) -> None:
    redis_client.rpush(WORKQUEUE_LIST, "apple", "banana", "apple", "cherry", "apple")
    assert runner(spawn, redis_url, "--work-time", "0").wait(30) == 0
    assert item_results(redis_client) == {"apple": 3, "banana": 1, "cherry": 1}


def test_an_item_failing_every_attempt_is_dead_lettered_with_its_error(spawn, redis_url, redis_client) -> None:
    redis_client.rpush(WORKQUEUE_LIST, "good", "bad-apple")
    proc = runner(spawn, redis_url, "--work-time", "0", "--fail-pattern", "^bad", "--max-attempts", "3")
    assert proc.wait(30) == 0, proc.log()[-1500:]
    dead = [json.loads(x) for x in redis_client.lrange(DEAD_LETTER_LIST, 0, -1)]
    assert len(dead) == 1
    assert (dead[0]["item"], dead[0]["attempts"]) == ("bad-apple", 3)
    assert dead[0]["error"] == "simulated failure: item matches '^bad'"
    assert item_results(redis_client) == {"good": 1}
    assert redis_client.llen(WORKQUEUE_LIST) == redis_client.llen(WORKQUEUE_PROCESSING) == 0


def test_a_json_object_that_is_not_a_record_is_dead_lettered_at_once(spawn, redis_url, redis_client) -> None:
    redis_client.rpush(WORKQUEUE_LIST, json.dumps({"id": "x-1", "name": "No Email"}))
    assert runner(spawn, redis_url, "--work-time", "0").wait(30) == 0
    (dead,) = [json.loads(x) for x in redis_client.lrange(DEAD_LETTER_LIST, 0, -1)]
    assert dead["error"] == "record lacks string field(s): email, address"
    assert dead["attempts"] == 3  # the default maximum: no retry was wasted on it


def test_renewal_keeps_a_slow_item_from_being_stolen(spawn, redis_url, redis_client) -> None:
    ids = pump(redis_url, 1, "slow")
    holder = runner(spawn, redis_url, "--work-time", "fixed:3", "--lease-seconds", "1")
    holder.wait_for_log(r"processing item", timeout=30)
    other = runner(spawn, redis_url, "--work-time", "0", "--lease-seconds", "1")

    assert holder.wait(30) == 0 and other.wait(30) == 0
    (result,) = fetch_results(redis_client, ids).values()
    assert result.deliveries == 1
    assert "processed 1," in holder.log() and "processed 0," in other.log()
    assert "lease lost" not in holder.log()


def test_sigterm_releases_a_long_item_at_once_and_exits_0(spawn, redis_url, redis_client) -> None:
    pump(redis_url, 1, "long")
    proc = runner(spawn, redis_url, "--work-time", "fixed:60", "--grace-period", "1")
    proc.wait_for_log(r"processing item", timeout=30)
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert "released item" in proc.log()
    assert redis_client.llen(WORKQUEUE_LIST) == 1 and redis_client.llen(WORKQUEUE_PROCESSING) == 0
    queue = WorkQueue(redis_client)
    again = queue.lease("next").lease
    assert again is not None and again.attempts == 1, "a release does not count as an attempt"


def test_sigterm_finishes_a_short_item_within_the_grace_period(spawn, redis_url, redis_client) -> None:
    ids = pump(redis_url, 2, "short")
    proc = runner(spawn, redis_url, "--work-time", "fixed:1.5", "--grace-period", "10")
    proc.wait_for_log(r"processing item", timeout=30)
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert len(fetch_results(redis_client, ids)) == 1, "the item in hand is finished, the next not started"
    assert redis_client.llen(WORKQUEUE_LIST) == 1


def test_reap_command_returns_expired_items(spawn, redis_url, redis_client) -> None:
    queue = WorkQueue(redis_client, lease_seconds=0.2)
    redis_client.rpush(WORKQUEUE_LIST, "pear")
    assert queue.lease("gone").lease is not None
    wait_for(lambda: not redis_client.keys("job:lease:*"), 5, "the lease to expire")
    done = run_cli("job", "reap", "--redis-url", redis_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "re-queued 1, dead-lettered 0; now 1 pending, 0 in flight\n"


@pytest.mark.faults  # Redis lost mid-item: the faults tier
def test_sigterm_with_redis_lost_exits_0_at_once_instead_of_waiting_for_it(spawn) -> None:
    """Redis lost while a runner holds a long item: its lease renewals and, on SIGTERM, the
    release wait for Redis up to REDIS_RETRY_SECONDS (60 s here), longer than a pod's grace
    period. A stop ends those waits: the runner exits 0 at once, and the lease in hand
    expires and its item is re-queued."""
    from kedasuite.core.defaults import CONNECT_TIMEOUT_S
    from kedasuite.core.embedded import EmbeddedRedis

    with EmbeddedRedis(databases=1) as server:
        pump(server.url, 1, "lost")
        # Renewals every 0.5 s: one is waiting for Redis, holding the lease lock, when the SIGTERM lands.
        proc = spawn(
            "job",
            "workqueue",
            "--redis-url",
            server.url,
            "--work-time",
            "fixed:60",
            "--grace-period",
            "1",
            "--lease-seconds",
            "1.5",
            env={"REDIS_RETRY_SECONDS": "60"},
        )
        proc.wait_for_log(r"processing item", timeout=30)
        server.crash()
        proc.wait_for_log(r"could not renew|Redis at \S+ is unreachable", timeout=10)
        proc.signal(signal.SIGTERM)
        # A refused connection fails at once; a connection attempt under way, within its timeout.
        assert proc.wait(2 * CONNECT_TIMEOUT_S + 10, "a SIGTERMed runner whose Redis is gone to stop") == 0, (
            proc.describe()
        )
    assert "stopped by signal with Redis unreachable" in proc.log(), proc.describe(dump=False)
