"""The names KEDA v2.20.2 gives its metrics and its HPA, as the rules of ``keda/rules/spec.py`` give them.

Dashboards and alert rules select KEDA's series by these names (``metric``, ``scaler``,
``horizontalpodautoscaler``), and ``kedasuite autoscale --metrics-port`` serves its series under
them, so a name the rules get wrong is a panel that stays empty on one side.
"""

from __future__ import annotations

import pytest
import yaml

from kedasuite.keda.objects import bundled_text
from kedasuite.keda.rules.spec import (
    Scaler,
    Trigger,
    generate_metric_name_with_index,
    get_hpa_name,
    get_metric_spec_for_scaling,
    normalize_string,
    scaler_label,
    scalers_in,
)


def bundled() -> dict[str, Scaler]:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    return {s.name: s for s in scalers_in(objs)}


def trigger(index: int, spec: dict) -> Trigger:
    return Trigger.from_manifest(index, spec)


def test_the_bundled_objects_metrics_are_named_as_keda_names_them() -> None:
    """Index, scaler metric name, normalized: rq's list ``rq:queue:default`` loses its colons."""
    names = {
        s.name: [(get_metric_spec_for_scaling(i, t), scaler_label(i, t)) for i, t in enumerate(s.triggers)]
        for s in bundled().values()
    }
    assert names == {
        "workqueue": [("s0-redis-job", "backlog")],
        "celery-worker": [("s0-redis-celery", "backlog"), ("s1-redis-unacked", "in-flight")],
        "kafka-consumer": [("s0-kafka-test-topic", "lag")],
        "rq-worker": [("s0-redis-rq-queue-default", "backlog"), ("s1-redis-rq-wip-default", "in-flight")],
    }


@pytest.mark.parametrize(
    ("spec", "metric", "label"),
    [
        ({"type": "redis", "metadata": {"listName": "a/b.c"}}, "s2-redis-a-b-c", "redisScaler"),
        ({"type": "redis-cluster", "metadata": {"listName": "q"}}, "s2-redis-q", "redisScaler"),
        ({"type": "kafka", "metadata": {"topic": "t.1"}}, "s2-kafka-t-1", "kafkaScaler"),
        ({"type": "kafka", "metadata": {"consumerGroup": "g"}}, "s2-kafka-g-topics", "kafkaScaler"),
        ({"type": "prometheus", "metadata": {"query": "up"}}, "s2-prometheus", "prometheusScaler"),
        ({"type": "metrics-api", "metadata": {"valueLocation": "data.n"}}, "s2-metric-api-data-n", "metricsAPIScaler"),
        ({"type": "redis", "name": "mine", "metadata": {"listName": "q"}}, "s2-redis-q", "mine"),
    ],
)
def test_an_unnamed_trigger_is_labelled_by_its_scalers_type(spec: dict, metric: str, label: str) -> None:
    assert get_metric_spec_for_scaling(2, trigger(2, spec)) == metric
    assert scaler_label(2, trigger(2, spec)) == label


def test_the_pieces_of_a_name() -> None:
    assert normalize_string("a/b.c:d%e(f)") == "a-b-c-d-e-f-"
    assert generate_metric_name_with_index(0, "redis-celery") == "s0-redis-celery"


def test_the_hpa_is_keda_hpa_and_the_name_unless_the_manifest_gives_one() -> None:
    celery = bundled()["celery-worker"]
    assert get_hpa_name(celery) == "keda-hpa-celery-worker"
    named = Scaler.from_manifest(
        {
            "kind": "ScaledObject",
            "metadata": {"name": "x"},
            "spec": {"advanced": {"horizontalPodAutoscalerConfig": {"name": "custom-hpa"}}, "triggers": []},
        }
    )
    assert get_hpa_name(named) == "custom-hpa"


def test_a_scaled_jobs_history_limits_are_read_with_kedas_default() -> None:
    workqueue = bundled()["workqueue"]
    assert (workqueue.successful_jobs_history_limit, workqueue.failed_jobs_history_limit) == (5, 5)
    bare = Scaler.from_manifest({"kind": "ScaledJob", "metadata": {"name": "j"}, "spec": {"triggers": []}})
    assert (bare.successful_jobs_history_limit, bare.failed_jobs_history_limit) == (100, 100)
