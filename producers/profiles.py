"""Load shapes for a scaling demo: how many items are due by each instant of a run.

A shape is a function of time, ``due(t)``: the items that should have been sent ``t``
seconds after the start. The pump sends whatever is due and sleeps until the next item
is; pacing against the cumulative count (not against the last send) cannot drift, and
a pump that falls behind catches up at full speed instead of losing the difference.

Grammar (durations: ``500ms``, ``30s``, ``2m``, ``1h`` or a bare number of seconds):

* steady, from ``--rate R --duration D``: ``R`` items/s for ``D``;
* ``step:R1/D1,R2/D2,...``: each rate for its duration, in turn (``step:10/30s,50/30s,10/30s``);
* ``ramp:FROM:TO:OVER``: the rate moves linearly from ``FROM`` to ``TO`` items/s (``ramp:10:200:60s``);
* ``spike:BASE:PEAK:AT:LENGTH:TOTAL``: ``BASE`` items/s for ``TOTAL``, ``PEAK`` from ``AT``
  for ``LENGTH`` (``spike:10:300:20s:5s:60s``);
* ``burst:N:EVERY:TIMES``: ``N`` items at once, every ``EVERY``, ``TIMES`` times, the first at
  the start (``burst:200:30s:4``): KEDA's view of a batch system.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from kedasuite.core.errors import InputError

EXAMPLES = ("step:10/30s,50/30s,10/30s", "ramp:10:200:60s", "spike:10:300:20s:5s:60s", "burst:200:30s:4")
_EXAMPLE_TEXT = "; examples: " + ", ".join(EXAMPLES)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}
#: The longest run a shape may describe: a day. Longer is surely a typo.
MAX_SECONDS = 86_400.0


def parse_seconds(text: str, what: str) -> float:
    """``90``, ``90s``, ``1.5m``, ``500ms`` -> seconds (positive, at most a day)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*", str(text))
    if not match:
        raise InputError(f"{what} must be a duration such as 30s, 2m or 500ms, got {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_SECONDS:
        raise InputError(f"{what} must be more than 0 and at most 24h, got {text!r}")
    return seconds


def parse_rate(text: object, what: str = "rate") -> float:
    """Items per second: a positive number."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise InputError(f"{what} must be a number of items per second, got {str(text)!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{what} must be more than 0 items per second, got {str(text)!r}")
    if value > 1_000_000:
        raise InputError(f"{what} must be at most 1000000 items per second, got {str(text)!r}")
    return value


@dataclass(frozen=True)
class Segment:
    """The rate goes linearly from ``r0`` to ``r1`` items/s between ``t0`` and ``t1``."""

    t0: float
    t1: float
    r0: float
    r1: float

    def items(self, t: float) -> float:
        """Items this segment has made due by ``t``."""
        if t <= self.t0:
            return 0.0
        dt = min(t, self.t1) - self.t0
        span = self.t1 - self.t0
        slope = (self.r1 - self.r0) / span if span else 0.0
        return self.r0 * dt + slope * dt * dt / 2


@dataclass(frozen=True)
class Profile:
    """A load shape: rate segments plus instantaneous bursts ``(time, items)``."""

    spec: str
    segments: tuple[Segment, ...] = ()
    bursts: tuple[tuple[float, int], ...] = ()
    duration: float = field(default=0.0)

    def due(self, t: float) -> int:
        """Whole items due ``t`` seconds after the start (a tiny epsilon absorbs float error)."""
        total = sum(s.items(t) for s in self.segments) + sum(n for at, n in self.bursts if at <= t)
        return int(math.floor(total + 1e-9))

    @property
    def total(self) -> int:
        return self.due(self.duration)

    @property
    def mean_rate(self) -> float:
        return self.total / self.duration if self.duration else float(self.total)

    def time_of(self, n: int) -> float:
        """The earliest time by which ``n`` items are due (bisection: ``due`` only grows)."""
        if n <= self.due(0.0):
            return 0.0
        lo, hi = 0.0, self.duration
        for _ in range(60):
            mid = (lo + hi) / 2
            if self.due(mid) >= n:
                hi = mid
            else:
                lo = mid
        return hi


def steady(rate: float, seconds: float) -> Profile:
    return Profile(f"rate {rate:g}/s for {seconds:g} s", (Segment(0.0, seconds, rate, rate),), (), seconds)


def _fields(spec: str, kind: str, count: int, usage: str) -> list[str]:
    parts = spec.split(":")[1:]
    if len(parts) != count or not all(p.strip() for p in parts):
        raise InputError(
            f"profile {spec!r}: {kind} takes {usage}, e.g. {next(e for e in EXAMPLES if e.startswith(kind))}"
        )
    return [p.strip() for p in parts]


def parse_profile(spec: str) -> Profile:
    """A ``--profile`` / ``profile=`` value, or an :class:`InputError` that shows valid ones."""
    text = str(spec).strip()
    kind = text.split(":", 1)[0].strip().lower()
    if kind == "step":
        body = text.split(":", 1)[1] if ":" in text else ""
        stages = [s.strip() for s in body.split(",") if s.strip()]
        if not stages:
            raise InputError(f"profile {spec!r}: step takes RATE/DURATION stages, e.g. {EXAMPLES[0]}")
        segments, t = [], 0.0
        for stage in stages:
            rate_text, sep, seconds_text = stage.partition("/")
            if not sep:
                raise InputError(f"profile {spec!r}: step stage {stage!r} must be RATE/DURATION, e.g. 50/30s")
            rate = 0.0 if rate_text.strip() == "0" else parse_rate(rate_text, f"step rate in {stage!r}")
            seconds = parse_seconds(seconds_text, f"step duration in {stage!r}")
            segments.append(Segment(t, t + seconds, rate, rate))
            t += seconds
        return _checked(Profile(text, tuple(segments), (), t))
    if kind == "ramp":
        start, end, over = _fields(text, "ramp", 3, "FROM:TO:OVER")
        r0 = 0.0 if start == "0" else parse_rate(start, "ramp FROM")
        r1 = 0.0 if end == "0" else parse_rate(end, "ramp TO")
        seconds = parse_seconds(over, "ramp OVER")
        return _checked(Profile(text, (Segment(0.0, seconds, r0, r1),), (), seconds))
    if kind == "spike":
        base, peak, at, length, total = _fields(text, "spike", 5, "BASE:PEAK:AT:LENGTH:TOTAL")
        b = 0.0 if base == "0" else parse_rate(base, "spike BASE")
        p = parse_rate(peak, "spike PEAK")
        t_at = 0.0 if at in ("0", "0s") else parse_seconds(at, "spike AT")
        t_len, t_total = parse_seconds(length, "spike LENGTH"), parse_seconds(total, "spike TOTAL")
        if t_at + t_len > t_total:
            raise InputError(
                f"profile {spec!r}: the spike (AT + LENGTH = {t_at + t_len:g} s) must end within TOTAL ({t_total:g} s)"
            )
        segments = (Segment(0.0, t_total, b, b), Segment(t_at, t_at + t_len, p - b, p - b))
        return _checked(Profile(text, segments, (), t_total))
    if kind == "burst":
        n, every, times = _fields(text, "burst", 3, "N:EVERY:TIMES")
        try:
            items, repeats = int(n), int(times)
        except ValueError:
            raise InputError(f"profile {spec!r}: burst N and TIMES must be whole numbers, e.g. {EXAMPLES[3]}") from None
        if items < 1 or repeats < 1:
            raise InputError(f"profile {spec!r}: burst N and TIMES must be at least 1, e.g. {EXAMPLES[3]}")
        gap = parse_seconds(every, "burst EVERY")
        bursts = tuple((k * gap, items) for k in range(repeats))
        # the run lasts until the last burst is due; a single burst is due at once
        return _checked(Profile(text, (), bursts, max((repeats - 1) * gap, 1e-3)))
    raise InputError(f"unknown profile {spec!r}: use step, ramp, spike or burst{_EXAMPLE_TEXT}")


def _checked(profile: Profile) -> Profile:
    if profile.duration > MAX_SECONDS:
        raise InputError(f"profile {profile.spec!r} lasts {profile.duration:g} s; at most 24h")
    if profile.total < 1:
        raise InputError(f"profile {profile.spec!r} sends no items; raise a rate or a duration")
    return profile


def given(value: object) -> bool:
    return value is not None and str(value).strip() != ""


def resolve(
    rate: object = None, duration: object = None, profile: object = None, count: int | None = None
) -> Profile | None:
    """The shape a request asks for, or None for "as fast as possible".

    ``rate`` with ``count`` and no ``duration`` paces ``count`` items at ``rate``.
    """
    if given(profile):
        if given(rate) or given(duration):
            raise InputError("give either profile, or rate with duration, not both")
        return parse_profile(str(profile))
    if given(rate) and given(duration):
        return _checked(steady(parse_rate(rate), parse_seconds(str(duration), "duration")))
    if given(rate):
        if count is None:
            raise InputError("rate needs a duration or a count (e.g. rate=50&duration=60s)")
        r = parse_rate(rate)
        return _checked(steady(r, count / r))
    if given(duration):
        raise InputError("duration needs a rate (e.g. rate=50&duration=60s)")
    return None
