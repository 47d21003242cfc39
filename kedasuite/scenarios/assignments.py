"""A Kafka group's partitions over time, from its members' own account of each change.

Every consumer of the suite adds each change of its partitions (assigned, revoked, lost, and its
stop) to the group's assignment log in Redis (``kafka:assignments:<group>``); a simulated group
keeps the same log in memory. :func:`ownership` replays a log and measures what a rebalance
costs the people waiting for records: moments when the whole group owned no partition (an eager
assignor's stop-the-world), the longest a partition went without an owner, the partitions
revoked and those that changed hands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

from kedasuite.core.results import assignments_key

ASSIGNED, REVOKED, LOST, STOPPED = "assigned", "revoked", "lost", "stopped"


@dataclass(frozen=True)
class Change:
    """One member's change: at ``at`` seconds (the run's clock), ``event`` on ``partitions``."""

    at: float
    member: str
    event: str
    partitions: tuple[int, ...] = ()


def read_log(client: redis.Redis, group: str, wall_at_zero: float) -> list[Change]:
    """The group's assignment log, its times made seconds since the wall-clock time ``wall_at_zero``."""
    changes = []
    for _id, fields in client.xrange(assignments_key(group)):
        f = {k.decode(): v.decode() for k, v in fields.items()}
        parts = tuple(int(p) for p in f.get("partitions", "").split(",") if p)
        changes.append(Change(float(f["at"]) - wall_at_zero, f["member"], f["event"], parts))
    return changes


def _overlap(a: float, b: float, start: float, end: float) -> float:
    return max(0.0, min(b, end) - max(a, start))


def ownership(changes: Iterable[Change], end: float) -> dict[str, float]:
    """Figures of the log from its first assignment to ``end`` (seconds; the load's end, say):

    ``revoked`` partitions given up (a stop counts what the member still held); ``moved``
    assignments of a partition to another member than its last owner; ``group_stops`` and
    ``group_stop_s`` (the longest): times a rebalance took every partition back at once, so the
    whole group owned none (an eager assignor's stop-the-world); ``group_empty_other``: times the
    group owned none for another reason, which no assignor prevents: a member lost its assignment
    (its session gone on a loaded machine), the last member stopped, or a lone member gave its
    partitions up and took the same ones straight back (librdkafka rejoining after a group error,
    with nothing to move); ``unowned_s``: the longest one partition had no owner.
    """
    ordered = sorted(changes, key=lambda c: c.at)
    start = next((c.at for c in ordered if c.event == ASSIGNED and c.partitions), None)
    figures = {
        "revoked": 0.0,
        "moved": 0.0,
        "group_stops": 0.0,
        "group_stop_s": 0.0,
        "group_empty_other": 0.0,
        "unowned_s": 0.0,
    }
    if start is None:
        return figures
    owner: dict[int, str] = {}
    last: dict[int, str] = {}
    unowned_since: dict[int, float] = {}
    empty_since: float | None = None
    emptied_by = REVOKED
    #: Who owned what just before the group emptied.
    held_before: dict[int, str] = {}

    def rejoined(c: Change) -> bool:
        """The group refilled by the one member that held everything, taking back exactly that."""
        return (
            len(set(held_before.values())) == 1
            and c.member in held_before.values()
            and set(c.partitions) == set(held_before)
        )

    def emptied(since: float, until: float, refill: Change | None) -> None:
        stop = _overlap(since, until, start, end)
        if stop <= 0:
            return
        if emptied_by == REVOKED and not (refill is not None and rejoined(refill)):
            figures["group_stops"] += 1
            figures["group_stop_s"] = max(figures["group_stop_s"], stop)
        else:
            figures["group_empty_other"] += 1

    def release(p: int, at: float) -> None:
        del owner[p]
        unowned_since[p] = at
        figures["revoked"] += start <= at < end

    for c in ordered:
        before = dict(owner)
        if c.event == ASSIGNED:
            for p in c.partitions:
                if p in owner and owner[p] != c.member:
                    release(p, c.at)  # its last owner never said it let go (a killed member)
                if last.get(p, c.member) != c.member:
                    figures["moved"] += start <= c.at < end
                if p in unowned_since:
                    figures["unowned_s"] = max(figures["unowned_s"], _overlap(unowned_since.pop(p), c.at, start, end))
                owner[p] = last[p] = c.member
        else:
            held = [p for p, m in owner.items() if m == c.member]
            for p in held if c.event == STOPPED else [p for p in c.partitions if p in held]:
                release(p, c.at)
        if not owner and empty_since is None and c.at >= start:
            empty_since, emptied_by, held_before = c.at, c.event, before
        elif owner and empty_since is not None:
            emptied(empty_since, c.at, c)
            empty_since = None
    for since in unowned_since.values():
        figures["unowned_s"] = max(figures["unowned_s"], _overlap(since, end, start, end))
    if empty_since is not None:
        emptied(empty_since, end, None)
    return figures
