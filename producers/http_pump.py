"""The HTTP pump (as in the Kafka scenario of docs/origins.md): ``curl "localhost:8080/pump?count=100"``.

``/pump`` validates, checks the broker, answers 202 at once and pumps in a background
thread; ``/pumps/<id>`` reports progress. Errors are JSON ``{"error": "..."}`` whose text
is the same the CLI prints. Run state lives in this process, so the server runs one
gunicorn worker with threads (see :mod:`kedasuite.producers.server`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from kedasuite.core import defaults
from kedasuite.core.errors import InputError, SuiteError
from kedasuite.core.names import Env
from kedasuite.core.settings import KafkaSettings, parse_workload_list, redis_url_from_env
from kedasuite.producers import workloads as wl
from kedasuite.producers import profiles
from kedasuite.producers.engine import PumpRun, RunRegistry, StreamStatus, new_run, pump_all, validate_count
from kedasuite.producers.guard import Admission, Overloaded, overloaded_response, require_token
from kedasuite.producers.openapi import document
from kedasuite.producers.pump_metrics import instrument
from kedasuite.producers.ui import blueprint as dashboard


@dataclass(frozen=True)
class PumpSettings:
    """What a pump (HTTP or CLI) needs: brokers, workloads, limits."""

    brokers: wl.BrokerConfig
    workloads: list[str] = field(default_factory=lambda: [defaults.PUMP_DEFAULT_WORKLOAD])
    default_workload: str = defaults.PUMP_DEFAULT_WORKLOAD
    max_count: int = defaults.PUMP_MAX_COUNT
    batch_size: int = defaults.PUMP_BATCH_SIZE
    #: Admission limits and the bearer token (see :mod:`kedasuite.producers.guard`).
    max_runs: int = defaults.PUMP_MAX_RUNS
    max_queued_items: int = defaults.PUMP_MAX_QUEUED_ITEMS
    token: str | None = None
    #: Where /status finds the ScaledObjects and the ScaledJob (see :mod:`kedasuite.keda.status`).
    keda_manifests: str | None = None
    keda_overlay: str | None = None

    def __post_init__(self) -> None:
        wl.check_known(self.workloads)
        if self.batch_size < 1:
            raise InputError(f"{Env.PUMP_BATCH_SIZE} must be at least 1, got {self.batch_size}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PumpSettings:
        return cls(
            brokers=wl.BrokerConfig(redis_url=redis_url_from_env(environ), kafka=KafkaSettings.from_env(environ)),
            workloads=parse_workload_list(environ.get(Env.PUMP_WORKLOADS, defaults.PUMP_WORKLOADS)),
            default_workload=environ.get(Env.PUMP_DEFAULT_WORKLOAD, defaults.PUMP_DEFAULT_WORKLOAD),
            max_count=int(environ.get(Env.PUMP_MAX_COUNT, defaults.PUMP_MAX_COUNT)),
            batch_size=int(environ.get(Env.PUMP_BATCH_SIZE, defaults.PUMP_BATCH_SIZE)),
            max_runs=int(environ.get(Env.PUMP_MAX_RUNS, defaults.PUMP_MAX_RUNS)),
            max_queued_items=int(environ.get(Env.PUMP_MAX_QUEUED_ITEMS, defaults.PUMP_MAX_QUEUED_ITEMS)),
            token=environ.get(Env.PUMP_TOKEN) or None,
            keda_manifests=environ.get(Env.KEDA_MANIFESTS) or None,
            keda_overlay=environ.get(Env.KEDA_OVERLAY) or None,
        )


def parse_seed(raw: object) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return int(str(raw).strip(), 10)
    except ValueError:
        raise InputError(f"seed must be an integer, got {str(raw)!r}") from None


def prepare_run(settings: PumpSettings, count: object, workload: str | None, seed: object = None,
                id_prefix: str | None = None, rate: object = None, duration: object = None,
                profile: object = None) -> tuple[PumpRun, list[wl.Publisher]]:
    """Validate a request and check its brokers; nothing is sent unless all of it is sound.

    Shared by the HTTP pump and the CLI pump, so both refuse the same input with the same words.
    A load shape (``rate`` with ``duration`` or ``count``, or ``profile``) decides the count
    unless ``count`` caps it.
    """
    shaped = any(profiles.given(v) for v in (rate, duration, profile))
    n = validate_count(count, settings.max_count) if profiles.given(count) or not shaped else None
    shape = profiles.resolve(rate, duration, profile, n)
    if shape is not None:
        total = shape.total if n is None else min(n, shape.total)
        n = validate_count(total, settings.max_count) if n is None else total
    assert n is not None
    names = wl.resolve(workload, settings.workloads, settings.default_workload)
    seed_value = parse_seed(seed)
    publishers = [wl.make_publisher(name, settings.brokers) for name in names]
    try:
        for publisher in publishers:
            publisher.check()
    except SuiteError:
        for publisher in publishers:
            publisher.close()
        raise
    return new_run(n, names, seed_value, id_prefix, shape), publishers


class Pump:
    """Starts runs in the background and remembers them; the Flask app is a thin skin."""

    def __init__(self, settings: PumpSettings) -> None:
        self.settings = settings
        self.runs = RunRegistry()
        self.admission = Admission(self.runs.in_progress, settings.max_runs, settings.max_queued_items)
        #: Called with a stream after each batch and when it ends (kedasuite.producers.pump_metrics counts them).
        self.on_progress: Callable[[StreamStatus], None] = lambda stream: None
        self._status: Any = None
        self._status_lock = threading.Lock()

    def start(self, count: object, workload: str | None, seed: object = None, rate: object = None,
              duration: object = None, profile: object = None) -> PumpRun:
        run, publishers = prepare_run(self.settings, count, workload, seed, rate=rate, duration=duration,
                                      profile=profile)
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
        """``kedasuite status --json`` for the workloads this pump serves (one reader, reused)."""
        with self._status_lock:
            if self._status is None:
                from kedasuite.keda.status import StatusReader, load_scalers

                scalers, source = load_scalers(self.settings.keda_manifests, self.settings.keda_overlay)
                self._status = StatusReader(scalers, source, self.settings.brokers.redis_url,
                                            self.settings.brokers.kafka, self.settings.workloads)
            return self._status.read()

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


def create_app(settings: PumpSettings | None = None) -> Flask:
    settings = settings or PumpSettings.from_env()
    # A server whose default workload is not served would fail every bare /pump: say so now.
    wl.resolve(None, settings.workloads, settings.default_workload)
    pump = Pump(settings)
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
        run = pump.start(params.get("count"), params.get("workload"), params.get("seed"), params.get("rate"),
                         params.get("duration"), params.get("profile"))
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
            return jsonify(error=f"no pump run {run_id!r} on this pump (runs live in the pump's memory and are lost on restart)"), 404
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
