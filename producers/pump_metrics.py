"""The HTTP pump's Prometheus ``/metrics``, on the pump's own HTTP port.

Requests by route (the URL rule, ``/pumps/<run_id>``, never the raw path, so a client
cannot grow the series without bound), method and status; items sent and failed per
workload, counted as each run progresses (after every batch, and the rest when it
ends); runs in progress. ``sum(rate(kedasuite_pump_http_requests_total[2m]))`` is what
the pump-prometheus-scaledobject component scales the pump on.

One registry per app, not the global one: an app is the unit a test or a server
creates, and two apps in one process must not add up each other's requests.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import Flask, Response, request

from kedasuite.core.metrics import HTTP_METHODS, PREFIX
from kedasuite.core.names import PUMP_REQUESTS_METRIC

if TYPE_CHECKING:
    from kedasuite.producers.engine import StreamStatus
    from kedasuite.producers.http_pump import Pump

#: The route label of a request no URL rule matched (a 404, or a 405 before routing).
UNMATCHED = "unmatched"


class PumpMetrics:
    """The pump's series, in a registry of its own."""

    def __init__(self, pump: Pump) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.requests = Counter(
            PUMP_REQUESTS_METRIC.removesuffix("_total"),
            "HTTP requests the pump answered, by URL rule, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.sent = Counter(
            f"{PREFIX}_pump_items_sent",
            "Items the broker confirmed, per workload.",
            ["workload"],
            registry=self.registry,
        )
        self.failed = Counter(
            f"{PREFIX}_pump_items_failed",
            "Items of a run that did not reach the broker, per workload.",
            ["workload"],
            registry=self.registry,
        )
        self.runs = Gauge(f"{PREFIX}_pump_runs_in_progress", "Pump runs still sending.", registry=self.registry)
        self.runs.set_function(pump.runs.running)
        # Per stream being pumped: what has been counted of it so far.
        self._counted: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()
        for workload in pump.settings.workloads:  # a zero beats a missing series in rate() and in KEDA's query
            self.sent.labels(workload)
            self.failed.labels(workload)

    def progress(self, stream: StreamStatus) -> None:
        """Count what a stream sent (and failed) since the last call; forget it once done."""
        with self._lock:
            sent, failed = self._counted.get(id(stream), (0, 0))
            if stream.sent > sent:
                self.sent.labels(stream.workload).inc(stream.sent - sent)
            if stream.failed > failed:
                self.failed.labels(stream.workload).inc(stream.failed - failed)
            if stream.done:
                self._counted.pop(id(stream), None)
            else:
                self._counted[id(stream)] = (max(sent, stream.sent), max(failed, stream.failed))

    def count_request(self, response: Response) -> Response:
        rule = request.url_rule
        method = request.method if request.method in HTTP_METHODS else "other"
        self.requests.labels(rule.rule if rule is not None else UNMATCHED, method, str(response.status_code)).inc()
        return response

    def exposition(self) -> tuple[bytes, int, dict[str, str]]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def instrument(app: Flask, pump: Pump) -> PumpMetrics:
    """Serve ``GET /metrics`` on ``app``, count its requests, and follow ``pump``'s runs."""
    metrics = PumpMetrics(pump)
    app.extensions["pump_metrics"] = metrics
    pump.on_progress = metrics.progress
    app.after_request(metrics.count_request)
    app.add_url_rule("/metrics", "metrics", metrics.exposition, methods=["GET"])
    return metrics
