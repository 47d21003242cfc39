"""``kedasuite autoscale --metrics-port``: KEDA's, kube-state-metrics' and kafka-exporter's series.

The series come from the model's own steps (a loop driven here with the reads a test chooses,
one of them failing) and from what a backend reports, rendered and parsed back as Prometheus
reads them; the real actuator (backend ``none``) hands its steps and its state to the exporter
pass by pass. The live test runs the real command on the test's Redis and scrapes ``/metrics``
over HTTP while Celery scales up.
"""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
import yaml

from kedasuite.autoscale.actuator import Actuator, JobStatus, NoBackend
from kedasuite.autoscale.metrics import AutoscaleMetrics, KedaRecorder, Observed, consumergroup_lag, families
from kedasuite.autoscale.targets import Target
from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_KAFKA
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.model import Options, ScaledJobLoop, ScaledObjectLoop, Step
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.objects import bundled_text
from kedasuite.keda.rules.kafka import PartitionOffsets
from kedasuite.keda.rules.spec import Pause, Scaler, Trigger, scalers_in
from tests.support import AutoscalerWatch, free_port, wait_for
from tests.support.autoscaler import START_MARGIN_S, grace_of, pump, start_autoscaler, stop

NS = "kedasuite"
#: Series: sample name → {labels: value}.
Series = dict[str, dict[frozenset[tuple[str, str]], float]]


def bundled(name: str) -> Scaler:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    return next(s for s in scalers_in(objs) if s.name == name)


def parse(text: str) -> Series:
    """An exposition as Prometheus reads it."""
    from prometheus_client.parser import text_string_to_metric_families

    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def render(fams: Sequence[Any]) -> str:
    """The families as ``/metrics`` serves them."""
    from prometheus_client import CollectorRegistry, generate_latest

    class Fixed:
        def collect(self) -> Sequence[Any]:
            return fams

    registry = CollectorRegistry()
    registry.register(Fixed())  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def keda(metric: str, scaled: str, scaler: str, index: int, kind: str = "scaledobject") -> frozenset[tuple[str, str]]:
    labels = {"namespace": NS, "metric": metric, "scaledObject": scaled, "scaler": scaler}
    return frozenset({**labels, "triggerIndex": str(index), "type": kind}.items())


def labels(**given: str) -> frozenset[tuple[str, str]]:
    return frozenset(given.items())


def record(recorder: Any, scaler: Scaler, steps: Iterable[Step]) -> None:
    for step in steps:
        recorder.record(scaler, step)


# --- the series from a model state built here ---------------------------------------------------


def test_the_series_are_kedas_and_kube_state_metrics_for_the_models_state() -> None:
    """Celery reads 95 and 3, then its backlog fails at the next poll and sync; the work queue
    reads 7, then fails; rq is paused; kafka's group has committed on two partitions of three."""
    recorder = KedaRecorder(NS)
    celery, workqueue, kafka = bundled("celery-worker"), bundled("workqueue"), bundled("kafka-consumer")
    rq = dataclasses.replace(bundled("rq-worker"), pause=Pause(paused=True))
    fast = Options(polling_interval=1, sync_period=1)

    so = ScaledObjectLoop(celery, fast)
    values = {"backlog": 95.0, "in-flight": 3.0}
    record(recorder, celery, so.advance(1, lambda name, t: None if name == "backlog" and t >= 1 else values[name]))
    sj = ScaledJobLoop(workqueue, fast)
    record(recorder, workqueue, sj.advance(1, lambda _name, t: 7.0 if t < 1 else None))
    paused = ScaledObjectLoop(rq, fast)
    record(recorder, rq, paused.advance(1, lambda _name, _t: 50.0))

    seen = [
        Observed(celery, desired=so.replicas, current=2, hpa_min=so.hpa_min),
        Observed(rq, desired=paused.replicas, current=0, hpa_min=1),
        Observed(kafka, desired=1, current=1, offsets=(PartitionOffsets(0, 10, 4), PartitionOffsets(1, 5, None))),
        Observed(
            workqueue,
            jobs=(JobStatus("workqueue-1", 0, 0, succeeded=1), JobStatus("workqueue-2", active=1, ready=0)),
        ),
    ]
    text = render(families(recorder.snapshot(), seen, NS, "test-consumer-group", "test-topic"))
    got = parse(text)

    backlog = keda("s0-redis-celery", "celery-worker", "backlog", 0)
    in_flight = keda("s1-redis-unacked", "celery-worker", "in-flight", 1)
    job = keda("s0-redis-job", "workqueue", "backlog", 0, "scaledjob")
    # The gauge keeps the last value read; the failed reads (KEDA's poll and the HPA's request) count.
    assert got["keda_scaler_metrics_value"] == {backlog: 95.0, in_flight: 3.0, job: 7.0}, text
    assert got["keda_scaler_active"] == {backlog: 1.0, in_flight: 1.0, job: 1.0}, text
    assert got["keda_scaler_detail_errors_total"] == {backlog: 2.0, in_flight: 0.0, job: 0.0}, text
    # A failed poll counts twice for the ScaledObject, a failed request once; a ScaledJob's read once.
    assert got["keda_scaled_object_errors_total"] == {labels(namespace=NS, scaledObject="celery-worker"): 3.0}
    assert got["keda_scaled_job_errors_total"] == {labels(namespace=NS, scaledJob="workqueue"): 1.0}
    assert got["keda_scaled_object_paused"] == {
        labels(namespace=NS, scaledObject="celery-worker"): 0.0,
        labels(namespace=NS, scaledObject="rq-worker"): 1.0,
        labels(namespace=NS, scaledObject="kafka-consumer"): 0.0,
    }
    assert "# TYPE keda_scaler_detail_errors_total counter" in text and "# TYPE keda_scaler_active gauge" in text

    # The HPA of a paused ScaledObject is gone (KEDA deleted it): no series for it.
    celery_hpa, kafka_hpa = (
        labels(namespace=NS, horizontalpodautoscaler=f"keda-hpa-{n}") for n in ("celery-worker", "kafka-consumer")
    )
    assert so.replicas > 0
    assert got["kube_horizontalpodautoscaler_status_desired_replicas"] == {celery_hpa: so.replicas, kafka_hpa: 1.0}
    assert got["kube_horizontalpodautoscaler_status_current_replicas"] == {celery_hpa: 2.0, kafka_hpa: 1.0}
    assert got["kube_horizontalpodautoscaler_spec_max_replicas"] == {celery_hpa: 10.0, kafka_hpa: 5.0}
    assert got["kube_horizontalpodautoscaler_spec_min_replicas"] == {celery_hpa: 1.0, kafka_hpa: 1.0}

    owner = dict(namespace=NS, owner_kind="ScaledJob", owner_name="workqueue", owner_is_controller="true")
    assert got["kube_job_owner"] == {
        labels(job_name="workqueue-1", **owner): 1.0,
        labels(job_name="workqueue-2", **owner): 1.0,
    }
    one, two = labels(namespace=NS, job_name="workqueue-1"), labels(namespace=NS, job_name="workqueue-2")
    assert got["kube_job_status_active"] == {one: 0.0, two: 1.0}
    assert got["kube_job_status_ready"] == {one: 0.0, two: 0.0}
    assert got["kube_job_status_succeeded"] == {one: 1.0, two: 0.0}
    assert got["kube_job_status_failed"] == {one: 0.0, two: 0.0}

    group = dict(consumergroup="test-consumer-group", topic="test-topic")
    assert got["kafka_consumergroup_lag"] == {labels(partition="0", **group): 6.0, labels(partition="1", **group): -1.0}


class Broker:
    """Reads answered from fixed values by the trigger's source, as the live reader answers them
    (a Kafka topic with its partitions' offsets, a Redis list with its length)."""

    def __init__(self, values: dict[str, Value]) -> None:
        self.values = values
        self.errors: dict[tuple[str, str], str] = {}

    def deadline(self) -> float | None:
        return None

    def value(self, trigger: Trigger, deadline: float | None = None) -> Value:
        return self.values.get(trigger.source, 0.0)


def test_the_exporter_follows_the_actuator_pass_by_pass() -> None:
    """The real actuator (backend ``none``) hands every step and, after its pass, its state to the
    exporter: KEDA's metric is the lag by the trigger's rules (earliest: an uncommitted partition
    counts its whole log), kafka-exporter's is -1 there; the HPA's counts are the model's."""
    kafka = Target(workload_row(WORKLOAD_KAFKA), bundled("kafka-consumer"), 30.0, "test")
    offsets = (PartitionOffsets(0, 10, 4), PartitionOffsets(1, 5, None))
    exporter = AutoscaleMetrics(NS, "test-consumer-group", "test-topic")
    clock = [100.0]
    act = Actuator(
        [kafka],
        Broker({"test-topic": offsets}),
        NoBackend(),
        Options(polling_interval=1, sync_period=1),
        clock=lambda: clock[0],
        emit=lambda _line: None,
        observe=exporter.observe,
        after_pass=exporter.update,
    )
    act.tick()
    got = parse(render(exporter.collect()))
    lag = keda("s0-kafka-test-topic", "kafka-consumer", "lag", 0)
    assert got["keda_scaler_metrics_value"] == {lag: 11.0} and got["keda_scaler_active"] == {lag: 1.0}
    group = dict(consumergroup="test-consumer-group", topic="test-topic")
    assert got["kafka_consumergroup_lag"] == {labels(partition="0", **group): 6.0, labels(partition="1", **group): -1.0}
    hpa = labels(namespace=NS, horizontalpodautoscaler="keda-hpa-kafka-consumer")
    replicas = act.tracked[0].loop.replicas
    assert replicas > 0
    assert got["kube_horizontalpodautoscaler_status_desired_replicas"] == {hpa: replicas}
    assert got["kube_horizontalpodautoscaler_status_current_replicas"] == {hpa: replicas}


def test_kafka_lag_per_partition_is_kafka_exporters() -> None:
    """Latest minus committed; -1 where nothing is committed; nothing while the group committed nowhere."""
    offsets = [PartitionOffsets(0, 10, 4), PartitionOffsets(1, 5, None), PartitionOffsets(2, None, 3)]
    assert consumergroup_lag(offsets) == {0: 6, 1: -1}
    assert consumergroup_lag([PartitionOffsets(0, 10, None), PartitionOffsets(1, 3, None)]) == {}


# --- the real command, scraped over HTTP ------------------------------------------------------------


def scrape(port: int) -> Series | str:
    """The series ``/metrics`` serves now, or why there are none."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return parse(answer.read().decode())
    except OSError as exc:
        return f"scrape failed: {exc}"


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_the_autoscaler_serves_kedas_series_while_celery_scales(spawn, redis_url, run_dir) -> None:
    port = free_port()
    auto = start_autoscaler(spawn, redis_url, None, run_dir, "-w", WORKLOAD_CELERY, "--metrics-port", str(port))
    watch = AutoscalerWatch(auto, run_dir)
    last: list[Series | str] = ["no scrape yet"]

    def shown() -> str:
        got = last[0]
        rows = (
            [got]
            if isinstance(got, str)
            else [
                f"{name}{dict(sorted(key))} {value:g}"
                for name, series in sorted(got.items())
                if name.startswith(("keda_", "kube_"))
                for key, value in series.items()
            ]
        )
        return "last scrape:\n  " + ("\n  ".join(rows) or "(nothing)") + f"\n{watch.report()}"

    def series(name: str, **want: str) -> list[float]:
        last[0] = got = scrape(port)
        return [] if isinstance(got, str) else [v for key, v in got.get(name, {}).items() if set(want.items()) <= key]

    pump(redis_url, None, WORKLOAD_CELERY, 40)  # listLength 10, activationListLength 5
    wait_for(
        lambda: any(v > 5 for v in series("keda_scaler_metrics_value", scaledObject="celery-worker", scaler="backlog")),
        1 + START_MARGIN_S,
        "keda_scaler_metrics_value of celery's backlog to show the records pumped",
        seen=shown,
    )
    got = last[0]
    assert not isinstance(got, str)
    # Recorded at the same poll as a value above activationListLength 5: active.
    assert got["keda_scaler_active"][keda("s0-redis-celery", "celery-worker", "backlog", 0)] == 1.0, shown()
    hpa = {"horizontalpodautoscaler": "keda-hpa-celery-worker", "namespace": NS}
    wait_for(
        lambda: any(v > 0 for v in series("kube_horizontalpodautoscaler_status_current_replicas", **hpa)),
        1 + 1 + START_MARGIN_S,
        "kube_horizontalpodautoscaler_status_current_replicas of keda-hpa-celery-worker above 0",
        seen=shown,
    )
    got = last[0]
    assert not isinstance(got, str)
    assert got["kube_horizontalpodautoscaler_spec_max_replicas"][labels(**hpa)] == 10.0, shown()
    assert got["keda_scaled_object_paused"][labels(namespace=NS, scaledObject="celery-worker")] == 0.0, shown()
    stop(watch, grace_of(run_dir) + 30)
