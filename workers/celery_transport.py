"""kombu's Redis transport, made safe against poison on the ``celery`` list.

Anything can be pushed onto a Redis list. Stock kombu 5 (checked with 5.7) handles a
list entry that is not a Celery message badly: bytes that are not UTF-8 JSON, or a body
that is not base64, stop the worker with "Unrecoverable error" (the entry, already
popped, is gone); JSON that is not a message envelope makes the consumer reconnect in a
loop, losing the entry each time. A queue that KEDA scales must not be stopped by one
bad item, and the item must not vanish silently.

This transport looks at every entry before Celery does. One that Celery could not run
(undecodable, not an envelope, a body that does not decode to ``[args, kwargs, embed]``,
another task's name) is replaced by a message for :data:`DEAD_LETTER_TASK` carrying the
entry's text and the reason. That task parks it in ``deadletter:celery`` once, and is
acknowledged like any other: late, after parking, so a worker killed meanwhile leaves it
to be redelivered.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from kombu.transport import redis as kombu_redis

from kedasuite.names import CELERY_TASK

#: The task that parks what the transport turned away.
DEAD_LETTER_TASK = "workers.dead_letter"
#: Longest excerpt of a poison entry kept in the dead-letter list.
MAX_EXCERPT = 4096


class Undecodable(dict):  # type: ignore[type-arg]
    """What the list entry became when it was not UTF-8 JSON; :meth:`Transport._deliver` parks it."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__()
        self.text, self.reason = text, reason


_strict_bytes_to_str = kombu_redis.bytes_to_str
_strict_loads = kombu_redis.loads


def _bytes_to_str(value: Any) -> Any:
    # kombu's own decodes with errors="replace": bad bytes would reach the dead-letter
    # list as U+FFFD. Surrogate escapes keep them, shown as \xNN when parked.
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return _strict_bytes_to_str(value)


def _loads(text: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return _strict_loads(text, *args, **kwargs)
    except (ValueError, TypeError, RecursionError) as exc:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") \
            if isinstance(text, str) else repr(text)
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
    if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[0], list)
            and isinstance(decoded[1], dict)):
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
    body = json.dumps([[_excerpt(message), reason], {}, {"callbacks": None, "errbacks": None, "chain": None,
                                                          "chord": None}])
    return {
        "body": base64.b64encode(body.encode()).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": DEAD_LETTER_TASK, "id": task_id, "root_id": task_id, "parent_id": None,
                    "group": None, "retries": 0, "timelimit": [None, None], "argsrepr": "(<poison>)",
                    "kwargsrepr": "{}", "ignore_result": True},
        "properties": {"correlation_id": task_id, "delivery_mode": 2, "priority": 0, "body_encoding": "base64",
                       "delivery_info": {"exchange": "", "routing_key": queue}, "delivery_tag": str(uuid.uuid4())},
    }


class Transport(kombu_redis.Transport):
    """``broker_transport`` of the suite's Celery app: the Redis transport plus the check."""

    def _deliver(self, message: Any, queue: str) -> None:
        reason = envelope_problem(message)
        if reason is not None:
            message = poison_envelope(message, reason, queue)
        super()._deliver(message, queue)


# kombu decodes list entries with these two names of its redis module; the tolerant
# versions differ only where the strict ones would raise.
kombu_redis.bytes_to_str = _bytes_to_str
kombu_redis.loads = _loads
