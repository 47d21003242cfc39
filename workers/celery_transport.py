"""kombu's Redis transport with an atomic fetch, a bounded restore lock, and poison checks.

**The fetch.** Stock kombu takes a message with ``BRPOP`` and only then, in a second round
trip, records it in the ``unacked`` hash. A worker killed between the two (SIGKILL, OOM,
node loss) held the only copy: the message was gone from ``celery`` and never became
unacked, so no visibility timeout could bring it back. A kill storm found it (1 of 3,000
tasks lost after 40 kills). Here a message is never only in a process's memory:

1. ``BLMOVE celery celery:fetch:<consumer> RIGHT LEFT`` takes it in one atomic step into a
   list of this consumer's own (``<consumer>`` is random per channel);
2. one Lua script removes it from that list and writes it to ``unacked`` and
   ``unacked_index`` together (the *claim*), exactly what kombu would have written;
3. only then is it delivered to Celery; from here on kombu's acks, rejects and
   visibility-timeout restores apply unchanged.

A consumer stamps ``celery:fetchers`` (a sorted set, Redis server time) before each fetch.
Every live worker's restore sweep returns the entries of a fetch list whose consumer has
been silent for ``fetch_lease`` seconds to the consuming end of its queue. A consumer
that was only slow (its stamp went stale while a reply sat unread) finds its entry gone
when it claims: the claim answers 0 and the message is skipped, so it is not run twice.
A fetch sent before the stamp went stale has timed out at the server long before
(``BLMOVE`` blocks ``brpop_timeout``, 1 s), so nothing lands in a list already swept,
and a silent consumer is forgotten only after ten leases with an empty list.

**The restore lock.** kombu's sweep of expired ``unacked`` entries runs under a Redis lock
that expires after ``unacked_mutex_expire`` (300 s by default); a worker killed while
holding it stalled every redelivery for up to five minutes. The suite's app sets it to
twice the sweep interval (see ``workers/celery_app.py``). Two sweeps running at once are
harmless: kombu restores each entry in a WATCH transaction, so it is restored once.

**Poison.** Anything can be pushed onto a Redis list. Stock kombu 5 (checked with 5.7)
handles a list entry that is not a Celery message badly: bytes that are not UTF-8 JSON, or
a body that is not base64, stop the worker with "Unrecoverable error"; JSON that is not a
message envelope makes the consumer reconnect in a loop, losing the entry each time. Each
fetched entry is looked at before it is claimed; one that Celery could not run
(undecodable, not an envelope, a body that does not decode to ``[args, kwargs, embed]``,
another task's name) is claimed as a message for :data:`DEAD_LETTER_TASK` carrying the
entry's text and the reason. That task parks it in ``deadletter:celery`` once, and is
acknowledged late like any other.

**Limits.** One priority level (``priority_steps=[0]``: every message is on ``celery``,
which is also the only list KEDA's trigger reads); no ``global_keyprefix``; ``basic_get``
(not used by workers) is stock kombu. The windows that remain are in
``docs/delivery.md``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
import uuid
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps

from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_FETCH_INFIX, CELERY_FETCHERS, CELERY_TASK

log = logging.getLogger(__name__)

#: The task that parks what the transport turned away.
DEAD_LETTER_TASK = "workers.dead_letter"
#: Longest excerpt of a poison entry kept in the dead-letter list.
MAX_EXCERPT = 4096


class Undecodable(dict):  # type: ignore[type-arg]
    """What a fetched entry became when it was not UTF-8 JSON; it is claimed as poison."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__()
        self.text, self.reason = text, reason


def _bytes_to_str(value: bytes) -> str:
    # kombu's own decodes with errors="replace": bad bytes would reach the dead-letter
    # list as U+FFFD. Surrogate escapes keep them, shown as \xNN when parked.
    return value.decode("utf-8", "surrogateescape")


def _loads(text: str) -> Any:
    """kombu's JSON decoding, but what it would raise on becomes :class:`Undecodable`."""
    try:
        return kombu_redis.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        shown = (
            text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            if isinstance(text, str)
            else repr(text)
        )
        return Undecodable(shown, f"not a JSON message: {exc}")


def envelope_problem(message: Any) -> str | None:
    """Why Celery could not run this list entry as a ``process_user`` task, or None."""
    if isinstance(message, Undecodable):
        return message.reason
    if not isinstance(message, dict):
        return f"not a message envelope: a JSON {type(message).__name__}"
    headers, properties = message.get("headers"), message.get("properties")
    if not isinstance(headers, dict) or not isinstance(properties, dict):
        return "not a message envelope: no headers or properties"
    if not isinstance(properties.get("delivery_info"), dict) or "delivery_tag" not in properties:
        return "not a message envelope: no delivery_info or delivery_tag"
    task = headers.get("task")
    if task not in (CELERY_TASK, DEAD_LETTER_TASK):
        return f"unknown task {task!r}: this worker runs {CELERY_TASK}"
    if message.get("content-type") != "application/json" or not isinstance(headers.get("id"), str):
        return "not a JSON task message (content-type application/json and a task id are required)"
    body = message.get("body")
    try:
        raw = base64.b64decode(body, validate=True) if properties.get("body_encoding") == "base64" else body
        decoded = json.loads(raw)
    except (binascii.Error, TypeError, ValueError, RecursionError) as exc:
        return f"undecodable message body: {exc}"
    if not (
        isinstance(decoded, list)
        and len(decoded) == 3
        and isinstance(decoded[0], list)
        and isinstance(decoded[1], dict)
    ):
        return "message body is not [args, kwargs, embed]"
    args, kwargs = decoded[0], decoded[1]
    wanted = 1 if task == CELERY_TASK else 2
    if len(args) != wanted or kwargs:
        return f"{task} takes {wanted} positional argument{'s' if wanted > 1 else ''}, got {len(args)} and {len(kwargs)} keyword"
    return None


def _excerpt(message: Any) -> str:
    if isinstance(message, Undecodable):
        text = message.text
    else:
        try:
            text = json.dumps(message)
        except (TypeError, ValueError):
            text = repr(message)
    return text if len(text) <= MAX_EXCERPT else text[:MAX_EXCERPT] + f"... ({len(text)} characters)"


def poison_envelope(message: Any, reason: str, queue: str) -> dict[str, Any]:
    """A well-formed message asking :data:`DEAD_LETTER_TASK` to park ``message``."""
    task_id = str(uuid.uuid4())
    body = json.dumps(
        [[_excerpt(message), reason], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    )
    return {
        "body": base64.b64encode(body.encode()).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": DEAD_LETTER_TASK,
            "id": task_id,
            "root_id": task_id,
            "parent_id": None,
            "group": None,
            "retries": 0,
            "timelimit": [None, None],
            "argsrepr": "(<poison>)",
            "kwargsrepr": "{}",
            "ignore_result": True,
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_mode": 2,
            "priority": 0,
            "body_encoding": "base64",
            "delivery_info": {"exchange": "", "routing_key": queue},
            "delivery_tag": str(uuid.uuid4()),
        },
    }


#: Seconds a consumer may stay silent before its fetch list is returned to the queue.
DEFAULT_FETCH_LEASE = 5.0
#: A silent consumer with an empty fetch list is forgotten after this many leases.
FORGET_AFTER_LEASES = 10

# KEYS: fetch list, unacked hash, unacked index. ARGV: the entry as fetched, delivery tag,
# the unacked entry, its index score. 1: claimed; 0: a sweep took it back meanwhile.
_CLAIM = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return 1
"""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: the fetchers set. ARGV: fetch list keys to stamp with the server's time.
_BEAT = (
    _NOW
    + """
for _, key in ipairs(ARGV) do redis.call('ZADD', KEYS[1], now, key) end
return #ARGV
"""
)

# KEYS: the fetchers set. ARGV: lease seconds, forget seconds, infix, consumer id length.
# Every entry of a silent consumer's list goes back to the consuming (right) end of its
# queue, oldest last, so it is the next taken. Returns how many entries went back.
_SWEEP = (
    _NOW
    + """
local lease, forget, infix, idlen = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local returned = 0
local silent = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - lease, 'WITHSCORES')
for i = 1, #silent, 2 do
  local key, seen = silent[i], tonumber(silent[i + 1])
  local queue = string.sub(key, 1, #key - idlen - #infix)
  while redis.call('LMOVE', key, queue, 'LEFT', 'RIGHT') do returned = returned + 1 end
  if seen < now - forget then redis.call('ZREM', KEYS[1], key) end
end
return returned
"""
)

# KEYS: one fetch list, its queue. Returns how many entries went back.
_RETURN = """
local returned = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do returned = returned + 1 end
return returned
"""


class QoS(kombu_redis.QoS):
    """kombu's QoS, aware that a claimed message is already in ``unacked``."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if self.channel._claimed == delivery_tag:
            # The claim script wrote unacked and its index together with taking the entry
            # off the fetch list; only the local bookkeeping is left to do.
            virtual.QoS.append(self, message, delivery_tag)
        else:
            super().append(message, delivery_tag)

    def restore_visible(self, start: int = 0, num: int | None = 10, interval: int = 10) -> None:
        # Same throttle as kombu's sweep, which increments the count and runs on count-1.
        if not self._vrestore_count % (interval or 1):
            self.channel.sweep_fetch_lists()
        super().restore_visible(start, num, interval)


class Channel(kombu_redis.Channel):
    """A Redis channel that fetches with ``BLMOVE`` and claims in one atomic step."""

    QoS = QoS
    #: One level: everything is on the queue's own list, which is what KEDA reads.
    priority_steps = [0]
    fetch_lease = DEFAULT_FETCH_LEASE
    from_transport_options = kombu_redis.Channel.from_transport_options + ("fetch_lease",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.global_keyprefix:
            raise InputError(
                "the suite's Celery transport does not support global_keyprefix: use a Redis database "
                "of its own (REDIS_URL=redis://host:6379/<db>) instead"
            )
        if list(self.priority_steps) != [0]:
            raise InputError(
                f"the suite's Celery transport consumes one priority level (priority_steps=[0]), "
                f"not {list(self.priority_steps)}: leave priority_steps out of the transport options"
            )
        if not self.fetch_lease or float(self.fetch_lease) <= float(self.brpop_timeout or 1):
            raise InputError(
                f"fetch_lease ({self.fetch_lease} s) must be longer than brpop_timeout "
                f"({self.brpop_timeout} s): a fetch may block that long"
            )
        self.consumer_id = uuid.uuid4().hex
        #: The delivery tag being delivered right after its claim (see :meth:`QoS.append`).
        self._claimed: str | None = None
        self._fetching: str | None = None
        self._stamped: dict[str, float] = {}
        #: Fetch lists that may hold an entry this consumer could not claim.
        self._stranded: set[str] = set()
        self._scripts: dict[str, Any] = {}

    # --- keys and scripts ---------------------------------------------------------------

    def fetch_key(self, queue: str) -> str:
        return f"{queue}{CELERY_FETCH_INFIX}{self.consumer_id}"

    def _run(self, name: str, source: str, keys: list[str], args: list[Any]) -> Any:
        with self.conn_or_acquire() as client:
            script = self._scripts.get(name)
            if script is None:
                script = self._scripts[name] = client.register_script(source)
            return script(keys=keys, args=args, client=client)

    # --- fetch and claim ----------------------------------------------------------------

    def _stamp(self, queue: str) -> None:
        """Tell the sweepers this consumer is alive (at most every lease/4 per queue)."""
        key = self.fetch_key(queue)
        now = time.monotonic()
        if now - self._stamped.get(key, float("-inf")) >= float(self.fetch_lease) / 4:
            self._run("beat", _BEAT, [CELERY_FETCHERS], [key])
            self._stamped[key] = now

    def _brpop_start(self, timeout: float | None = None) -> None:
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        queue = queues[0]
        for stranded in list(self._stranded):
            self._return_fetched(stranded)
        self._stamp(queue)
        # Never 0 (block forever): the sweep relies on a fetch ending within seconds.
        timeout = timeout or self.brpop_timeout or 1
        self._fetching = queue
        self._in_poll = self.client.connection
        self._brpop_sent_at = time.monotonic()
        self.client.connection.send_command("BLMOVE", queue, self.fetch_key(queue), "RIGHT", "LEFT", timeout)

    def _brpop_read(self, **options: Any) -> bool:
        queue = self._fetching
        try:
            try:
                raw = self.client.parse_response(self.client.connection, "BLMOVE", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if raw is None or queue is None:
                raise kombu_redis.Empty()
            self._queue_cycle.rotate(queue)
            self._claim_and_deliver(queue, raw)
            return True
        finally:
            self._in_poll = None
            self._fetching = None
            self._flush_brpop_reauth()

    def _claim_and_deliver(self, queue: str, raw: bytes) -> None:
        fetch_key = self.fetch_key(queue)
        self._stranded.add(fetch_key)  # until the claim answers, the entry may still be there
        payload = _loads(_bytes_to_str(raw))
        reason = envelope_problem(payload)
        if reason is not None:
            payload = poison_envelope(payload, reason, queue)
        properties = payload["properties"]
        tag, info = properties["delivery_tag"], properties["delivery_info"]
        entry = dumps([payload, info["exchange"], info["routing_key"]])
        claimed = self._run(
            "claim", _CLAIM, [fetch_key, self.unacked_key, self.unacked_index_key], [raw, tag, entry, time.time()]
        )
        self._stranded.discard(fetch_key)
        if not claimed:
            log.warning(
                "a message fetched from %r went back to the queue while this consumer was silent for over "
                "%s s; another worker takes it",
                queue,
                self.fetch_lease,
            )
            return
        self._claimed = tag
        try:
            self.connection._deliver(payload, queue)
        finally:
            self._claimed = None

    # --- returning what dead or stopping consumers fetched --------------------------------

    def _return_fetched(self, fetch_key: str) -> int:
        queue = fetch_key[: -len(CELERY_FETCH_INFIX) - len(self.consumer_id)]
        returned = int(self._run("return", _RETURN, [fetch_key, queue], []))
        self._stranded.discard(fetch_key)
        if returned:
            log.warning("returned %d fetched message(s) to %r", returned, queue)
        return returned

    def sweep_fetch_lists(self) -> int:
        """Return the fetch lists of consumers silent for longer than the lease to their queues."""
        lease = float(self.fetch_lease)
        returned = int(
            self._run(
                "sweep",
                _SWEEP,
                [CELERY_FETCHERS],
                [lease, lease * FORGET_AFTER_LEASES, CELERY_FETCH_INFIX, len(self.consumer_id)],
            )
        )
        if returned:
            log.warning("returned %d message(s) fetched by stopped consumers to the queue", returned)
        return returned

    def close(self) -> None:
        fetching = self._in_poll
        if fetching:
            # A fetch in progress: claim and deliver it, so kombu restores it as unacked. Its
            # reply comes within the BLMOVE's own timeout; wait no longer than that (on a
            # connection with no socket timeout, a reply that never comes would hold the
            # worker's shutdown for ever). What it moved then stays in the fetch list, which
            # the loop below returns to the queue.
            try:
                if fetching.can_read(timeout=float(self.brpop_timeout or 1) + 1):
                    self._brpop_read()
                else:
                    log.warning("no reply to the fetch in progress at close; its fetch list goes back to the queue")
                    self._in_poll = self._fetching = None
                    fetching.disconnect()
            except kombu_redis.Empty:
                pass
        if not self.closed:
            for key in list(self._stamped):
                try:
                    self._return_fetched(key)
                except self.connection_errors:  # the sweep of a live worker returns it
                    log.warning("could not return %r at close; a live worker's sweep will", key)
        super().close()


class Transport(kombu_redis.Transport):
    """``broker_transport`` of the suite's Celery app."""

    Channel = Channel
