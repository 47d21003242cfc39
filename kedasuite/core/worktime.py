"""The simulated work time of a task, from a small text spec.

Specs: ``0`` or ``2.5`` (fixed seconds), ``fixed:10``, ``uniform:1:9`` (the Celery
default). The maximum matters as much as the draw: the grace period of a pod and the
visibility timeout of a broker must both exceed it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kedasuite.core.errors import InputError

_HELP = "use seconds ('0', '2.5'), 'fixed:S' or 'uniform:MIN:MAX'"


@dataclass(frozen=True)
class WorkTime:
    low: float
    high: float

    @property
    def max_seconds(self) -> float:
        return self.high

    def sample(self, rng: random.Random | None = None) -> float:
        if self.low == self.high:
            return self.low
        return (rng or random).uniform(self.low, self.high)

    def __str__(self) -> str:
        if self.low == self.high:
            return f"fixed:{self.low:g}"
        return f"uniform:{self.low:g}:{self.high:g}"


def parse_work_time(spec: str) -> WorkTime:
    text = spec.strip()
    kind, _, rest = text.partition(":")
    try:
        if not rest and kind not in ("fixed", "uniform"):
            low = high = float(kind)
        elif kind == "fixed":
            low = high = float(rest)
        elif kind == "uniform":
            a, sep, b = rest.partition(":")
            if not sep:
                raise ValueError
            low, high = float(a), float(b)
        else:
            raise ValueError
    except ValueError:
        raise InputError(f"work time {spec!r} is not understood: {_HELP}") from None
    if low < 0 or high < low or high != high or low != low:
        raise InputError(f"work time {spec!r} is out of range: need 0 <= MIN <= MAX; {_HELP}")
    return WorkTime(low, high)
