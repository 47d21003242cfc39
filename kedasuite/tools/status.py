"""What KEDA sees now, and what it will decide: ``kedasuite status`` and the pump's ``/status``.

For each workload this puts together the metric each trigger of its ScaledObject / ScaledJob
would read right now, the work in flight and the results so far (all read by
:class:`~kedasuite.keda.reads.ScalerReads`, as the autoscaler reads them), and the decision
:mod:`kedasuite.keda.rules.scaling` makes of them; :func:`render_text` draws it for people.

When a local ``kedasuite autoscale`` writes its state in the run directory given
(``autoscale_run_dir``), each workload also gets an ``autoscale`` block: what that autoscaler
runs, its model's count, the last and next steps in words, the deviations from the manifest,
and whether the state is stale (:mod:`kedasuite.autoscale.view`); ``null`` otherwise. The
top-level ``autoscaler`` says, once, whose state that is and, when it is not live (stale, or
absent while an autoscaler runs with another run directory), how old it is and what fixes it.

The manifests come from where every face takes them (:mod:`kedasuite.keda.objects`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.results import dead_letter_key, processed_count_key
from kedasuite.core.settings import KafkaSettings, PumpSettings
from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.core.workloads import SCALED_JOB, by_trigger
from kedasuite.core.workloads import workload as row
from kedasuite.keda.objects import load_scalers, workload_of
from kedasuite.keda.reads import RedisSnapshot, ScalerReads
from kedasuite.keda.rules.scaling import decide
from kedasuite.keda.rules.spec import Scaler, Trigger


def _backlog_trigger(workload: str, scaler: Scaler) -> Trigger | None:
    return next((t for t in scaler.triggers if by_trigger(t.type, t.source) == row(workload)), None)


class StatusReader:
    """Puts the reads (:class:`~kedasuite.keda.reads.ScalerReads`) and KEDA's decision together;
    one per process, reused for each refresh.

    ``redis_url`` or ``kafka`` may be ``None``: workloads that need them report why they
    cannot be read instead of failing the whole answer.
    """

    def __init__(
        self,
        scalers: Sequence[Scaler],
        source: str,
        redis_url: str | None,
        kafka: KafkaSettings | None,
        workloads: Sequence[str] = WORKLOADS,
        kafka_timeout: float = defaults.CONNECT_TIMEOUT_S,
        running_jobs: int = 0,
        pending_jobs: int = 0,
        autoscale_run_dir: str | None = None,
    ) -> None:
        """``kafka_timeout``: each read's deadline (the Redis round trip's, each Kafka trigger's)."""
        unknown = [w for w in workloads if w not in WORKLOADS]
        if unknown:
            raise InputError(f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}")
        self.source = source
        self.workloads = [w for w in WORKLOADS if w in workloads]
        self.scalers = {w: s for s in scalers if (w := workload_of(s)) is not None}
        self.reads = ScalerReads(redis_url, kafka, timeout=kafka_timeout)
        self.running_jobs = running_jobs
        self.pending_jobs = pending_jobs
        #: A local ``kedasuite autoscale``'s run directory: its state goes in each entry's ``autoscale``.
        self.autoscale_run_dir = autoscale_run_dir or None

    def close(self) -> None:
        self.reads.close()

    def __enter__(self) -> StatusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_redis(self) -> RedisSnapshot:
        """In one round trip: the triggers' keys and the work in flight (lengths as KEDA's redis
        scaler measures them), each workload's results and dead letters."""
        lengths: list[str] = []
        for workload in self.workloads:
            scaler = self.scalers.get(workload)
            if scaler is not None:
                lengths += [t.source for t in scaler.triggers if t.type.startswith("redis")]
            if row(workload).in_flight and row(workload).broker == "redis":
                lengths.append(row(workload).in_flight)
        lengths += [dead_letter_key(w) for w in self.workloads]
        return self.reads.redis_snapshot(lengths, [processed_count_key(w) for w in self.workloads])

    def workload_status(self, workload: str, facts: RedisSnapshot, running: int | None = None) -> dict[str, Any]:
        """``running``: the ScaledObject's replicas, where a live local autoscaler says (the HPA's
        tolerance compares the metric with them, as ``simulate`` and ``autoscale`` do)."""
        scaler = self.scalers.get(workload)
        in_flight_key = row(workload).in_flight if row(workload).broker == "redis" else None
        entry: dict[str, Any] = {
            "workload": workload,
            "kind": scaler.kind if scaler else None,
            "name": scaler.name if scaler else None,
            "backlog": None,
            "in_flight": facts.lengths.get(in_flight_key) if in_flight_key else None,
            "processed": facts.counters.get(processed_count_key(workload)),
            "dead_lettered": facts.lengths.get(dead_letter_key(workload)),
            "active": None,
            "replicas": None,
            "unit": "jobs" if scaler and scaler.kind == SCALED_JOB else "replicas",
            "min": scaler.min_replicas if scaler else None,
            "max": scaler.max_replicas if scaler else None,
            "triggers": [],
            "reason": "",
            "error": None,
        }
        if scaler is None:
            entry["error"] = (
                f"no ScaledObject or ScaledJob for {workload} in {self.source}: add its component to the overlay"
            )
            return entry
        readings = [self.reads.reading(t, snapshot=facts) for t in scaler.triggers]
        decision = decide(scaler, readings, self.running_jobs, self.pending_jobs, replicas=running)
        backlog = _backlog_trigger(workload, scaler)
        for r in readings:
            entry["triggers"].append(
                {
                    "name": r.trigger.name,
                    "type": r.trigger.type,
                    "source": r.trigger.source,
                    "metric": _num(r.metric),
                    "target": _num(r.trigger.target),
                    "activation": _num(r.trigger.activation),
                    "active": r.active,
                    "proposal": decision.proposals.get(r.trigger.name),
                    "error": r.error,
                }
            )
            if backlog is not None and r.trigger is backlog:
                entry["backlog"] = _num(r.activation_metric if r.activation_metric is not None else r.metric)
        errors = [r.error for r in readings if r.error]
        entry.update(
            active=decision.active,
            replicas=decision.count,
            unit=decision.unit,
            reason=decision.reason,
            error=errors[0] if errors else None,
        )
        if row(workload).broker == "redis" and facts.error:
            entry["error"] = facts.error
        return entry

    def read(self) -> dict[str, Any]:
        from kedasuite.autoscale import view

        facts = self._read_redis()
        autoscale, summary = view.read(self.autoscale_run_dir)
        entries = [self.workload_status(w, facts, _running(autoscale.get(w))) for w in self.workloads]
        for entry in entries:
            entry["autoscale"] = autoscale.get(entry["workload"])
        return {
            "time": datetime.now(UTC).isoformat(),
            "source": self.source,
            "workloads": entries,
            "autoscaler": summary,
        }


def _running(block: Mapping[str, Any] | None) -> int | None:
    """The replicas a live local autoscaler runs for a workload; None when none is known."""
    if not block or block.get("stale") or not isinstance(block.get("actual"), int):
        return None
    return int(block["actual"])


def _num(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


# --- text output -----------------------------------------------------------------------------------


def render_text(status: Mapping[str, Any], reasons: bool = True) -> str:
    """A table for people; ``--json`` gives the same facts to scripts."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    header = ("WORKLOAD", "KIND", "BACKLOG", "IN-FLIGHT", "PROCESSED", "ACTIVE", "KEDA TARGET")
    rows = [header]
    for w in status["workloads"]:
        target = "-" if w["replicas"] is None else f"{w['replicas']} {w['unit']}"
        if w["unit"] == "jobs" and w["replicas"] is not None:
            target = f"{w['replicas']} new jobs"
        rows.append(
            (
                w["workload"],
                cell(w["kind"]),
                cell(w["backlog"]),
                cell(w["in_flight"]),
                cell(w["processed"]),
                cell(w["active"]),
                target,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"manifests: {status['source']}   at {status['time']}"]
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    for w in status["workloads"]:
        if w["error"]:
            lines.append(f"{w['workload']}: error: {w['error']}")
        elif reasons and w["reason"]:
            lines.append(f"{w['workload']}: {w['reason']}")
    from kedasuite.autoscale.view import render_lines

    lines += render_lines(status)
    return "\n".join(lines)


def pump_status(settings: PumpSettings) -> Callable[[], dict[str, Any]]:
    """The pump's ``GET /status``: one reader for the workloads it serves, made at the first
    request and reused, with a local autoscaler's state when its run directory has one."""
    lock = threading.Lock()
    reader: list[StatusReader] = []

    def read() -> dict[str, Any]:
        with lock:
            if not reader:
                scalers, source = load_scalers(settings.keda_manifests, settings.keda_overlay)
                reader.append(
                    StatusReader(
                        scalers,
                        source,
                        settings.brokers.redis_url,
                        settings.brokers.kafka,
                        settings.workloads,
                        autoscale_run_dir=settings.autoscale_run_dir,
                    )
                )
            return reader[0].read()

    return read
