"""What KEDA sees now, and what it will decide: ``kedasuite status`` and the pump's ``/status``.

For each workload this reads the metric each trigger of its ScaledObject / ScaledJob would
read right now (the same key with the same type rules as KEDA's redis scaler; the Kafka
group's lag with the kafka scaler's rules), the work in flight and the results so far,
and hands them to :mod:`kedasuite.keda.rules.scaling` for the decision.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from kedasuite.core import defaults
from kedasuite.core.clients import redis_client, unreachable_redis
from kedasuite.core.errors import InputError
from kedasuite.core.names import DEAD_LETTER_PREFIX, PROCESSED_COUNT_PREFIX, Env
from kedasuite.core.settings import KafkaSettings, PumpSettings
from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.core.workloads import by_trigger
from kedasuite.core.workloads import workload as row
from kedasuite.keda.objects import load_scalers, workload_of
from kedasuite.keda.reads import LENGTH_LUA, AdvertisedBrokerUnreachable, fetch_offsets
from kedasuite.keda.rules.kafka import KafkaTrigger, keda_lag
from kedasuite.keda.rules.scaling import SCALED_JOB, Reading, Scaler, Trigger, decide


def _backlog_trigger(workload: str, scaler: Scaler) -> Trigger | None:
    return next((t for t in scaler.triggers if by_trigger(t.type, t.source) == row(workload)), None)


@dataclass
class _RedisFacts:
    lengths: dict[str, int | None]
    processed: dict[str, int]
    dead_lettered: dict[str, int]
    error: str | None = None


class StatusReader:
    """Reads the brokers and predicts; one per process, reused for each refresh.

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
        unknown = [w for w in workloads if w not in WORKLOADS]
        if unknown:
            raise InputError(f"unknown workload {unknown[0]!r}: choose from {', '.join(WORKLOADS)}")
        self.source = source
        self.workloads = [w for w in WORKLOADS if w in workloads]
        self.scalers = {w: s for s in scalers if (w := workload_of(s)) is not None}
        self.redis_url = redis_url
        self.kafka = kafka
        self.kafka_timeout = kafka_timeout
        self.running_jobs = running_jobs
        self.pending_jobs = pending_jobs
        #: A local ``kedasuite autoscale``'s run directory: its state goes in each entry's ``autoscale``.
        self.autoscale_run_dir = autoscale_run_dir or None
        self._client: redis.Redis | None = None
        self._length: Any = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> StatusReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ------------------------------------------------------------------------------

    def _redis_keys(self) -> list[str]:
        keys: list[str] = []
        for workload in self.workloads:
            scaler = self.scalers.get(workload)
            if scaler is not None:
                keys += [t.source for t in scaler.triggers if t.type.startswith("redis")]
            if row(workload).in_flight and row(workload).broker == "redis":
                keys.append(row(workload).in_flight)
        return list(dict.fromkeys(keys))

    def _read_redis(self) -> _RedisFacts:
        keys = self._redis_keys()
        if self.redis_url is None:
            return _RedisFacts({}, {}, {}, f"Redis is not configured: set {Env.REDIS_URL} or {Env.REDIS_ADDRESS}")
        try:
            if self._client is None:
                self._client = redis_client(self.redis_url, socket_timeout=self.kafka_timeout)
                self._length = self._client.register_script(LENGTH_LUA)
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                self._length(keys=[key], client=pipe)
            for workload in self.workloads:
                pipe.get(f"{PROCESSED_COUNT_PREFIX}{workload}")
                pipe.llen(f"{DEAD_LETTER_PREFIX}{workload}")
            replies = pipe.execute()
        except redis.RedisError as exc:
            self.close()
            return _RedisFacts({}, {}, {}, unreachable_redis(self.redis_url, exc).message)
        lengths = {k: (int(v) if int(v) >= 0 else None) for k, v in zip(keys, replies)}
        rest = replies[len(keys) :]
        processed = {w: int(rest[2 * i] or 0) for i, w in enumerate(self.workloads)}
        dead = {w: int(rest[2 * i + 1]) for i, w in enumerate(self.workloads)}
        return _RedisFacts(lengths, processed, dead)

    def _kafka_reading(self, trigger: Trigger) -> Reading:
        if self.kafka is None:
            return Reading(trigger, None, error=f"Kafka is not configured: set {Env.KAFKA_BOOTSTRAP_SERVERS}")
        try:
            rules = KafkaTrigger.from_metadata(trigger.metadata)
            # log_level 0: an unreachable broker is reported once, in the answer, not logged per retry.
            offsets = fetch_offsets(
                self.kafka.bootstrap,
                self.kafka.group,
                self.kafka.topic,
                {"log_level": "0", **self.kafka.extra},
                timeout=self.kafka_timeout,
            )
        except ValueError as exc:
            return Reading(trigger, None, error=f"trigger {trigger.name}: {exc}")
        except LookupError as exc:
            return Reading(trigger, None, error=f"{exc}; pump into it first (it is created on first use)")
        except AdvertisedBrokerUnreachable as exc:  # its words already name the address and the fix
            return Reading(trigger, None, error=exc.message)
        except Exception as exc:  # noqa: BLE001 - librdkafka's KafkaException and timeouts alike
            return Reading(
                trigger,
                None,
                error=f"cannot read offsets from Kafka at {self.kafka.bootstrap}: {exc}; "
                f"check {Env.KAFKA_BOOTSTRAP_SERVERS}",
            )
        report = keda_lag(offsets, rules)
        return Reading(trigger, report.metric, activation_metric=report.total)

    def _readings(self, scaler: Scaler, facts: _RedisFacts) -> list[Reading]:
        readings = []
        for trigger in scaler.triggers:
            if trigger.type == "kafka":
                readings.append(self._kafka_reading(trigger))
            elif trigger.type.startswith("redis"):
                if facts.error:
                    readings.append(Reading(trigger, None, error=facts.error))
                elif facts.lengths.get(trigger.source) is None:
                    readings.append(
                        Reading(
                            trigger,
                            None,
                            error=f"key {trigger.source!r} is neither a list, set, "
                            "sorted set nor hash: KEDA's redis scaler errors",
                        )
                    )
                else:
                    readings.append(Reading(trigger, facts.lengths[trigger.source]))
            else:
                readings.append(Reading(trigger, None, error=f"{trigger.type} triggers are not read by status"))
        return readings

    def workload_status(self, workload: str, facts: _RedisFacts, running: int | None = None) -> dict[str, Any]:
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
            "processed": facts.processed.get(workload),
            "dead_lettered": facts.dead_lettered.get(workload),
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
        readings = self._readings(scaler, facts)
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
