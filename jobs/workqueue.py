"""A lease-based Redis work queue: the Kubernetes docs' ``rediswq.py`` pattern, done right.

Keys (all in :mod:`kedasuite.core.names`): the main list ``job`` of pending items; the list
``job:processing`` of lease tokens in flight; ``job:lease:<token>``, a key with a TTL that
exists while a runner holds the item; ``job:item:<token>``, a HASH with the item, its
attempts, holder and last error. Every transition is one Lua script, so it is atomic.

What the upstream example lacks, and this has:

* **Expired leases come back.** Every lease first reaps: an item in ``job:processing``
  whose lease key has expired (its pod died) goes back to the front of ``job`` as
  ``job:retry:<token>``, or to ``deadletter:workqueue`` after ``max_attempts`` leases.
* **Only the holder completes.** ``complete`` checks the lease is still the caller's;
  otherwise it refuses (the item was re-queued and belongs to someone else now).
* **Duplicates do not collide.** Each lease gets a fresh token from ``job:seq``, so
  ``RPUSH job apple apple`` is two items, processed once each.
* **Bounded retries** with the last error kept, and a dead-letter list.
* **Renewal**: a runner working longer than a lease extends it, so it is not stolen.
* **Completion and result in one step**: the result HASH is written by the same script
  that ends the lease, so a runner whose lease was lost cannot record a result twice.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from string import Template
from typing import Any

import redis

from kedasuite.core import defaults
from kedasuite.core.clients import retry_redis
from kedasuite.core.names import (
    DEAD_LETTER_PREFIX,
    WORKLOAD_WORKQUEUE,
    WORKQUEUE_ITEM_PREFIX,
    WORKQUEUE_LEASE_PREFIX,
    WORKQUEUE_LIST,
    WORKQUEUE_PROCESSING,
    WORKQUEUE_RETRY_PREFIX,
    WORKQUEUE_SEQUENCE,
)
from kedasuite.core.results import SAVE_ONCE_LUA

DEAD_LETTER_LIST = f"{DEAD_LETTER_PREFIX}{WORKLOAD_WORKQUEUE}"

# The scripts share these functions. KEYS = main, processing, sequence, dead-letter list;
# the key prefixes and the attempt limit are written into the text by ``_script``.
_FUNCTIONS = """
local main, processing, seq, dead = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local lease_prefix, item_prefix, retry_prefix = $lease_prefix, $item_prefix, $retry_prefix
local max_attempts = $max_attempts

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Take token out of flight: back to the front of the queue, or dead after max attempts.
local function give_back(token, err)
  local ik = item_prefix .. token
  redis.call('LREM', processing, 1, token)
  redis.call('DEL', lease_prefix .. token)
  local attempts = tonumber(redis.call('HGET', ik, 'attempts') or '0')
  if attempts >= max_attempts then
    local item = redis.call('HGET', ik, 'item')
    redis.call('RPUSH', dead, cjson.encode({item = item, attempts = attempts, error = err, token = token, at = now()}))
    redis.call('DEL', ik)
    return 'dead'
  end
  redis.call('HSET', ik, 'error', err)
  redis.call('LPUSH', main, retry_prefix .. token)
  return 'requeued'
end

local function reap()
  local requeued, died = 0, 0
  for _, token in ipairs(redis.call('LRANGE', processing, 0, -1)) do
    if redis.call('EXISTS', lease_prefix .. token) == 0 then
      local holder = redis.call('HGET', item_prefix .. token, 'holder') or '?'
      if give_back(token, 'lease expired while held by ' .. holder) == 'dead' then
        died = died + 1
      else
        requeued = requeued + 1
      end
    end
  end
  return requeued, died
end

local function held_by(token, holder)
  return redis.call('GET', lease_prefix .. token) == holder
end

-- Reap, then lease the next item: {state, requeued, dead[, token, item, attempts]}.
local function lease_next(holder, lease_ms)
  local requeued, died = reap()
  local raw = redis.call('LPOP', main)
  if not raw then
    local state = 'empty'
    if redis.call('LLEN', processing) > 0 then state = 'busy' end
    return {state, requeued, died}
  end
  local token, item
  if string.sub(raw, 1, #retry_prefix) == retry_prefix then
    token = string.sub(raw, #retry_prefix + 1)
    item = redis.call('HGET', item_prefix .. token, 'item')
  end
  if not item then
    token = tostring(redis.call('INCR', seq))
    item = raw
    redis.call('HSET', item_prefix .. token, 'item', raw)
  end
  local attempts = redis.call('HINCRBY', item_prefix .. token, 'attempts', 1)
  redis.call('HSET', item_prefix .. token, 'holder', holder)
  redis.call('RPUSH', processing, token)
  redis.call('SET', lease_prefix .. token, holder, 'PX', lease_ms)
  return {'leased', requeued, died, token, item, attempts}
end

-- End a lease and save its result: -1 not the holder, 0 result existed, 1 written.
local function complete(token, holder, result_key, fields)
  if not held_by(token, holder) then return -1 end
  redis.call('LREM', processing, 1, token)
  redis.call('DEL', lease_prefix .. token, item_prefix .. token)
  return save_once(result_key, fields)
end
"""

_LEASE = "return lease_next(ARGV[1], tonumber(ARGV[2]))"  # holder, lease ms
_REAP = "local requeued, died = reap()\nreturn {requeued, died}"
# token, holder, result key, fields...
_COMPLETE = "return complete(ARGV[1], ARGV[2], ARGV[3], {unpack(ARGV, 4)})"
# token, holder, lease ms, result key, fields...: one round trip per item in steady state.
_COMPLETE_AND_LEASE = """
local done = complete(ARGV[1], ARGV[2], ARGV[4], {unpack(ARGV, 5)})
local nxt = lease_next(ARGV[2], tonumber(ARGV[3]))
return {done, unpack(nxt)}
"""
# token, holder, error, '1' to dead-letter at once.
_FAIL = """
if not held_by(ARGV[1], ARGV[2]) then return 'not-holder' end
if ARGV[4] == '1' then redis.call('HSET', item_prefix .. ARGV[1], 'attempts', max_attempts) end
return give_back(ARGV[1], ARGV[3])
"""
# token, holder. The attempt does not count: nothing went wrong.
_RELEASE = """
local token, holder = ARGV[1], ARGV[2]
if not held_by(token, holder) then return 0 end
redis.call('HINCRBY', item_prefix .. token, 'attempts', -1)
redis.call('LREM', processing, 1, token)
redis.call('DEL', lease_prefix .. token)
redis.call('LPUSH', main, retry_prefix .. token)
return 1
"""
# token, holder, lease ms.
_RENEW = """
if not held_by(ARGV[1], ARGV[2]) then return 0 end
return redis.call('PEXPIRE', lease_prefix .. ARGV[1], tonumber(ARGV[3]))
"""


def _script(body: str, max_attempts: int) -> str:
    functions = Template(_FUNCTIONS).substitute(
        lease_prefix=json.dumps(WORKQUEUE_LEASE_PREFIX),
        item_prefix=json.dumps(WORKQUEUE_ITEM_PREFIX),
        retry_prefix=json.dumps(WORKQUEUE_RETRY_PREFIX),
        max_attempts=int(max_attempts),
    )
    return SAVE_ONCE_LUA + functions + body


@dataclass(frozen=True)
class Lease:
    token: str
    item: bytes
    attempts: int
    holder: str


class Outcome(enum.Enum):
    COMPLETED = "completed"
    #: Completed, but a result for this record already existed (a redelivery).
    DUPLICATE = "duplicate"
    #: Refused: the lease expired and the item was re-queued; someone else owns it now.
    NOT_HOLDER = "not-holder"


@dataclass(frozen=True)
class LeaseAttempt:
    """What a lease call found: an item, or why not, plus what its reaping did."""

    lease: Lease | None
    #: ``empty``: nothing queued or in flight; ``busy``: nothing queued, items in flight.
    state: str
    requeued: int
    dead: int


_OUTCOMES = {1: Outcome.COMPLETED, 0: Outcome.DUPLICATE, -1: Outcome.NOT_HOLDER}


class WorkQueue:
    def __init__(
        self,
        client: redis.Redis,
        *,
        max_attempts: int = defaults.WORKQUEUE_MAX_ATTEMPTS,
        lease_seconds: float = defaults.WORKQUEUE_LEASE_SECONDS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self._url = _describe(client)
        self.max_attempts = max_attempts
        self.lease_ms = int(lease_seconds * 1000)
        self._keys = [WORKQUEUE_LIST, WORKQUEUE_PROCESSING, WORKQUEUE_SEQUENCE, DEAD_LETTER_LIST]
        scripts = {
            name: client.register_script(_script(body, max_attempts))
            for name, body in (
                ("lease", _LEASE),
                ("reap", _REAP),
                ("complete", _COMPLETE),
                ("complete_and_lease", _COMPLETE_AND_LEASE),
                ("fail", _FAIL),
                ("release", _RELEASE),
                ("renew", _RENEW),
            )
        }
        self._scripts = scripts

    def _call(self, name: str, *args: object) -> Any:
        # Each script is one atomic step; after a lost reply, running it again is safe
        # (a completion already done answers "not the holder", and the result was saved once).
        return retry_redis(lambda: self._scripts[name](keys=self._keys, args=list(args)), self._url)

    @staticmethod
    def _attempt(reply: list[Any], holder: str) -> LeaseAttempt:
        state, requeued, dead = reply[0].decode(), int(reply[1]), int(reply[2])
        lease = Lease(reply[3].decode(), reply[4], int(reply[5]), holder) if state == "leased" else None
        return LeaseAttempt(lease, state, requeued, dead)

    def lease(self, holder: str) -> LeaseAttempt:
        """Reap expired leases, then lease the next item (one round trip)."""
        return self._attempt(self._call("lease", holder, self.lease_ms), holder)

    def reap(self) -> tuple[int, int]:
        """Return expired leases' items to the queue (or the dead-letter list): (requeued, dead)."""
        requeued, dead = self._call("reap")
        return int(requeued), int(dead)

    def complete(self, lease: Lease, result_key: str, fields: list[str]) -> Outcome:
        """End the lease and write the result, only if the caller still holds the lease."""
        return _OUTCOMES[int(self._call("complete", lease.token, lease.holder, result_key, *fields))]

    def complete_and_lease(self, lease: Lease, result_key: str, fields: list[str]) -> tuple[Outcome, LeaseAttempt]:
        """:meth:`complete`, then :meth:`lease` the next item for the same holder, in one round trip."""
        reply = self._call("complete_and_lease", lease.token, lease.holder, self.lease_ms, result_key, *fields)
        return _OUTCOMES[int(reply[0])], self._attempt(reply[1:], lease.holder)

    def fail(self, lease: Lease, error: str, *, permanent: bool = False) -> str:
        """The item could not be processed: ``requeued``, ``dead`` or ``not-holder``."""
        return str(self._call("fail", lease.token, lease.holder, error, "1" if permanent else "0").decode())

    def release(self, lease: Lease) -> bool:
        """Hand the item back at once without counting an attempt (a graceful stop)."""
        return bool(self._call("release", lease.token, lease.holder))

    def renew(self, lease: Lease) -> bool:
        """Extend a lease still held; False when it was lost."""
        return bool(self._call("renew", lease.token, lease.holder, self.lease_ms))

    def dead_letters(self) -> list[dict[str, object]]:
        return [json.loads(x) for x in self.client.lrange(DEAD_LETTER_LIST, 0, -1)]

    def backlog(self) -> tuple[int, int]:
        """(pending, in flight): what KEDA's trigger sees, and what it does not."""
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(WORKQUEUE_LIST)
        pipe.llen(WORKQUEUE_PROCESSING)
        pending, in_flight = pipe.execute()
        return int(pending), int(in_flight)


def redelivery_bound(lease_seconds: float, poll_interval: float = 0.5) -> float:
    """Longest a killed runner's item can take to be back at the front of ``job``.

    Its lease expires, and the next lease call of any runner reaps it (a runner with nothing
    to do polls every ``poll_interval``; a Job whose runners all died waits for a new one).
    """
    return lease_seconds + poll_interval + 1


def _describe(client: redis.Redis) -> str:
    """host:port/db of a client, for log lines (never its password)."""
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
