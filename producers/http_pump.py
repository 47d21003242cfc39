"""The HTTP pump (as in the Kafka scenario of docs/origins.md): ``curl "localhost:8080/pump?count=100"``.

``/pump`` validates, checks the broker, answers 202 at once and pumps in a background
thread; ``/pumps/<id>`` reports progress. Errors are JSON ``{"error": "..."}`` whose text
is the same the CLI prints. Run state lives in this process, so the server runs one
gunicorn worker with threads (see :mod:`kedasuite.producers.server`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from kedasuite.core.errors import SuiteError
from kedasuite.core.settings import PumpSettings
from kedasuite.producers import workloads as wl
from kedasuite.producers.engine import PumpRun, RunRegistry, StreamStatus, prepare_run, pump_all
from kedasuite.producers.guard import Admission, Overloaded, overloaded_response, require_token
from kedasuite.producers.openapi import document
from kedasuite.producers.pump_metrics import instrument
from kedasuite.producers.ui import blueprint as dashboard


class NotServed(SuiteError):
    """A route this pump was built without."""

    http_status = 501


class Pump:
    """Starts runs in the background and remembers them; the Flask app is a thin skin."""

    def __init__(self, settings: PumpSettings, status: Callable[[], dict[str, Any]] | None = None) -> None:
        self.settings = settings
        self.runs = RunRegistry()
        self.admission = Admission(self.runs.in_progress, settings.max_runs, settings.max_queued_items)
        #: Called with a stream after each batch and when it ends (kedasuite.producers.pump_metrics counts them).
        self.on_progress: Callable[[StreamStatus], None] = lambda stream: None
        self._status = status

    def start(
        self,
        count: object,
        workload: str | None,
        seed: object = None,
        rate: object = None,
        duration: object = None,
        profile: object = None,
    ) -> PumpRun:
        run, publishers = prepare_run(
            self.settings, count, workload, seed, rate=rate, duration=duration, profile=profile
        )
        with self.admission.lock:  # check and register together: simultaneous requests cannot all slip in
            try:
                self.admission.check(sum(s.count for s in run.streams))
            except Overloaded:
                for publisher in publishers:
                    publisher.close()
                raise
            self.runs.add(run)
        threading.Thread(target=self._pump, args=(run, publishers), name=f"pump-{run.id}", daemon=True).start()
        return run

    def _pump(self, run: PumpRun, publishers: list[wl.Publisher]) -> None:
        pump_all(run, publishers, self.settings.batch_size, self.on_progress)

    def status(self) -> dict[str, Any]:
        """``kedasuite status --json`` for the workloads this pump serves, from the reader the
        face that built the app gave it (``kedasuite serve``: :func:`kedasuite.tools.status.pump_status`)."""
        if self._status is None:
            raise NotServed(
                "this pump serves no /status: it was built without a status reader; run it with "
                "`kedasuite serve`, which reads the brokers and the manifests for it"
            )
        return self._status()

    def readiness(self) -> dict[str, str]:
        """Each configured workload's broker: "ok" or the error text."""
        report = {}
        for name in self.settings.workloads:
            try:
                publisher = wl.make_publisher(name, self.settings.brokers)
                try:
                    publisher.check()
                finally:
                    publisher.close()
                report[name] = "ok"
            except SuiteError as exc:
                report[name] = exc.message
        return report


def create_app(settings: PumpSettings, status: Callable[[], dict[str, Any]] | None = None) -> Flask:
    """The pump's app. ``status`` answers ``GET /status`` (what KEDA would decide now); the face
    passes it, so the pump itself stays on the brokers' side of the layers."""
    # A server whose default workload is not served would fail every bare /pump: say so now.
    wl.resolve(None, settings.workloads, settings.default_workload)
    pump = Pump(settings, status)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["pump"] = pump
    instrument(app, pump)  # GET /metrics, requests by route and status, items per workload

    @app.errorhandler(SuiteError)
    def suite_error(exc: SuiteError) -> tuple[Any, int]:
        return jsonify(error=exc.message), exc.http_status

    @app.errorhandler(Overloaded)
    def overloaded(exc: Overloaded) -> Any:
        return overloaded_response(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int, dict[str, str]]:
        # keep werkzeug's headers (Allow on a 405), replace its HTML body with the JSON error
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return jsonify(error=f"{exc.name}: {exc.description}"), exc.code or 500, headers

    require_token(app, settings.token)
    app.register_blueprint(dashboard)  # GET /: the live dashboard

    @app.get("/openapi.json")
    def openapi() -> tuple[Any, int]:
        return jsonify(document(settings.workloads, settings.max_count, bool(settings.token))), 200

    @app.route("/pump", methods=["GET", "POST"])
    def start_pump() -> tuple[Any, int]:
        params = request.values
        run = pump.start(
            params.get("count"),
            params.get("workload"),
            params.get("seed"),
            params.get("rate"),
            params.get("duration"),
            params.get("profile"),
        )
        body = {
            "message": f"request submitted: count={run.count}",
            "status_url": url_for("pump_status", run_id=run.id),
            **run.to_json(),
        }
        return jsonify(body), 202

    @app.get("/pumps/<run_id>")
    def pump_status(run_id: str) -> tuple[Any, int]:
        run = pump.runs.get(run_id)
        if run is None:
            return jsonify(
                error=f"no pump run {run_id!r} on this pump (runs live in the pump's memory and are lost on restart)"
            ), 404
        return jsonify(run.to_json()), 200

    @app.get("/status")
    def keda_status() -> tuple[Any, int]:
        return jsonify(pump.status()), 200

    @app.get("/healthz")
    def healthz() -> tuple[Any, int]:
        return jsonify(status="ok"), 200

    @app.get("/readyz")
    def readyz() -> tuple[Any, int]:
        report = pump.readiness()
        ready = all(v == "ok" for v in report.values())
        return jsonify(status="ready" if ready else "unavailable", workloads=report), 200 if ready else 503

    return app
