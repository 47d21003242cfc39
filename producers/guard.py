"""What stands between the network and the pump: a bearer token, and admission limits.

**Token.** With ``PUMP_TOKEN`` set, every route but the probes (``/healthz``,
``/readyz``), ``/metrics`` (scraped by Prometheus, which holds no token) and the
dashboard's static page (no data in it; it asks for the token) wants
``Authorization: Bearer <token>``; the comparison is constant-time. Without it the pump
is open, which is why it binds to loopback unless told otherwise (containers set
``PUMP_HOST=0.0.0.0``, where a NetworkPolicy or the compose network fences it).

**Admission.** Pumping is cheap to ask for and costly to do, so two limits keep a burst
of requests from exhausting the pump: at most ``PUMP_MAX_RUNS`` runs at once, and at most
``PUMP_MAX_QUEUED_ITEMS`` items accepted but not yet sent, over all runs. A request past
either gets **429** with ``Retry-After`` (seconds until the running runs should have sent
enough, from their current rate), and nothing is started. A request whose own ``count``
is over ``PUMP_MAX_COUNT`` can never be served: that stays a 400.
"""

from __future__ import annotations

import hmac
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request

from kedasuite.core.errors import SuiteError
from kedasuite.core.names import Env

if TYPE_CHECKING:
    from kedasuite.producers.engine import PumpRun

#: Routes that answer without a token: probes must work for the kubelet, /metrics for Prometheus,
#: and the dashboard's page and files, which hold no data (the page asks for the token).
OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/metrics", "/"})
OPEN_PREFIXES = ("/ui/",)


class Unauthorized(SuiteError):
    http_status = 401
    exit_code = 2


class Overloaded(SuiteError):
    """Past an admission limit; ``retry_after`` seconds is a fair time to come back."""

    http_status = 429
    exit_code = 1

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def require_token(app: Flask, token: str | None) -> None:
    """Refuse requests without ``Authorization: Bearer <token>`` (when a token is set)."""
    if not token:
        return
    expected = f"Bearer {token}".encode()

    @app.before_request
    def check_token() -> tuple[Any, int, dict[str, str]] | None:
        if request.path in OPEN_ROUTES or request.path.startswith(OPEN_PREFIXES):
            return None
        given = request.headers.get("Authorization", "")
        if given and hmac.compare_digest(given.encode(), expected):
            return None
        why = "no Authorization header" if not given else "the token does not match"
        return (
            jsonify(
                error=f"unauthorized: {why}; send 'Authorization: Bearer <token>' with the token "
                f"the pump was started with ({Env.PUMP_TOKEN})"
            ),
            401,
            {"WWW-Authenticate": 'Bearer realm="kedasuite pump"'},
        )


class Admission:
    """Counts what is running and what is queued; admits a run or raises :class:`Overloaded`.

    ``running`` lists the runs in progress (the pump's registry). Admission and the
    run's registration happen under one lock (see :meth:`admit`), so 200 simultaneous
    requests cannot all slip under the limit together.
    """

    def __init__(self, running: Callable[[], list[PumpRun]], max_runs: int, max_queued_items: int) -> None:
        if max_runs < 1:
            raise SuiteError(f"{Env.PUMP_MAX_RUNS} must be at least 1, got {max_runs}")
        if max_queued_items < 1:
            raise SuiteError(f"{Env.PUMP_MAX_QUEUED_ITEMS} must be at least 1, got {max_queued_items}")
        self._running = running
        self.max_runs = max_runs
        self.max_queued_items = max_queued_items
        self.lock = threading.Lock()

    def check(self, count: int) -> None:
        """Raise :class:`Overloaded` unless a run of ``count`` items fits; call with :attr:`lock` held."""
        runs = self._running()
        queued = sum(_left(r) for r in runs)
        if len(runs) >= self.max_runs:
            raise Overloaded(
                f"too many pump runs in progress ({len(runs)}, the limit is {self.max_runs}, "
                f"set by {Env.PUMP_MAX_RUNS}); retry later",
                _retry_after(runs, queued, 1),
            )
        if queued + count > self.max_queued_items:
            raise Overloaded(
                f"too many items queued: {queued} not yet sent plus {count} asked for is over "
                f"{self.max_queued_items} (set by {Env.PUMP_MAX_QUEUED_ITEMS}); retry later",
                _retry_after(runs, queued, queued + count - self.max_queued_items),
            )


def _left(run: PumpRun) -> int:
    return sum(s.count - s.sent - s.failed for s in run.streams if not s.done)


def _retry_after(runs: list[PumpRun], queued: int, needed: int) -> int:
    """Seconds until ``needed`` more items should have been sent at the runs' current rate (1..60)."""
    rate = sum(s.rate for r in runs for s in r.streams if not s.done)
    if rate <= 0:
        return 5
    return max(1, min(60, math.ceil(min(needed, queued) / rate)))


def overloaded_response(exc: Overloaded) -> Response:
    response = jsonify(error=exc.message)
    response.status_code = 429
    response.headers["Retry-After"] = str(exc.retry_after)
    return response
