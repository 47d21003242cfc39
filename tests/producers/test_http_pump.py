"""The HTTP pump through Flask's test client, and once through a real gunicorn."""

from __future__ import annotations

from typing import Any

import pytest

from kedasuite.core.embedded import free_port
from kedasuite.core.names import CELERY_QUEUE
from kedasuite.core.settings import BrokerConfig, PumpSettings
from kedasuite.producers.http_pump import create_app
from kedasuite.tools.status import pump_status
from tests.support import http_json, refused_port, wait_for

pytestmark = pytest.mark.integration


def make_client(redis_url: str, **overrides: Any):
    """The app as ``kedasuite serve`` builds it, /status included."""
    settings = PumpSettings(brokers=BrokerConfig(redis_url=redis_url), **overrides)
    return create_app(settings, pump_status(settings)).test_client()


def test_a_pump_built_without_a_status_reader_says_so_on_status(redis_url: str) -> None:
    client = create_app(PumpSettings(brokers=BrokerConfig(redis_url=redis_url))).test_client()
    response = client.get("/status")
    assert response.status_code == 501
    assert response.get_json()["error"].startswith("this pump serves no /status")
    assert client.get("/healthz").status_code == 200


def unreachable_url() -> str:
    return f"redis://127.0.0.1:{refused_port()}/0"


def finished(client, status_url: str) -> dict[str, Any]:
    return wait_for(lambda: (body := client.get(status_url).get_json())["done"] and body, 30, "the pump run to finish")


def test_pump_answers_at_once_then_reports_progress(redis_url, redis_client) -> None:
    client = make_client(redis_url)
    response = client.get("/pump?count=250")
    assert response.status_code == 202
    body = response.get_json()
    assert body["message"] == "request submitted: count=250"
    assert body["status_url"] == f"/pumps/{body['id']}"

    final = finished(client, body["status_url"])
    assert (final["state"], final["sent"], final["failed"]) == ("succeeded", 250, 0)
    assert final["workloads"]["celery"]["id_prefix"] == body["id"]
    assert redis_client.llen(CELERY_QUEUE) == 250


def test_post_all_and_seed(redis_url, redis_client) -> None:
    client = make_client(redis_url)
    response = client.post("/pump", data={"count": "10", "workload": "all", "seed": "5"})
    assert response.status_code == 202
    final = finished(client, response.get_json()["status_url"])
    assert final["seed"] == 5 and final["sent"] == 10
    assert list(final["workloads"]) == ["celery"]
    assert redis_client.llen(CELERY_QUEUE) == 10


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("", 400, "count is required: pass count=N with N an integer from 1 to 1000"),
        ("count=", 400, "count is required: pass count=N with N an integer from 1 to 1000"),
        ("count=ten", 400, "count must be an integer from 1 to 1000, got 'ten'"),
        ("count=0", 400, "count must be an integer from 1 to 1000, got 0"),
        ("count=-5", 400, "count must be an integer from 1 to 1000, got -5"),
        ("count=1001", 400, "count must be an integer from 1 to 1000, got 1001 (the limit is set by PUMP_MAX_COUNT)"),
        ("count=5&workload=sidekiq", 400, "unknown workload 'sidekiq': choose one of celery, all"),
        ("count=5&seed=x", 400, "seed must be an integer, got 'x'"),
    ],
)
def test_bad_input_is_refused_and_sends_nothing(redis_url, redis_client, query: str, status: int, error: str) -> None:
    response = make_client(redis_url, max_count=1000).get(f"/pump?{query}")
    assert (response.status_code, response.get_json()) == (status, {"error": error})
    assert redis_client.llen(CELERY_QUEUE) == 0


def test_unreachable_broker_is_a_503_that_names_the_fix() -> None:
    url = unreachable_url()
    client = make_client(url)
    response = client.get("/pump?count=5")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error.startswith(f"cannot reach Redis at {url} (")
    assert error.endswith(
        "Connection refused). Start Redis there, or point REDIS_URL (or REDIS_ADDRESS) at a reachable server"
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "workloads": {"celery": error}}
    assert client.get("/healthz").status_code == 200


def test_health_readiness_and_unknown_runs(redis_url) -> None:
    client = make_client(redis_url)
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert (client.get("/readyz").status_code, client.get("/readyz").get_json()) == (
        200,
        {"status": "ready", "workloads": {"celery": "ok"}},
    )
    missing = client.get("/pumps/nope")
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "no pump run 'nope' on this pump (runs live in the pump's memory and are lost on restart)"
    }
    assert client.get("/nowhere").status_code == 404
    assert client.delete("/pump").status_code == 405


def test_a_broker_that_dies_mid_run_is_reported_exactly(redis_url, redis_client, monkeypatch) -> None:
    """A run whose broker vanishes for good reports sent + failed == count, state failed,
    once the pump has waited REDIS_RETRY_SECONDS for it (1 s here)."""
    from kedasuite.core.embedded import EmbeddedRedis

    monkeypatch.setenv("REDIS_RETRY_SECONDS", "1")

    with EmbeddedRedis() as server:
        settings = PumpSettings(brokers=BrokerConfig(redis_url=server.url), batch_size=1000)
        client = create_app(settings).test_client()
        response = client.get("/pump?count=1000000")
        assert response.status_code == 202
        status_url = response.get_json()["status_url"]
        wait_for(lambda: client.get(status_url).get_json()["sent"] >= 5000, 30, "some records sent")
        server.crash()
    final = finished(client, status_url)
    assert final["state"] == "failed"
    assert final["sent"] + final["failed"] == 1_000_000
    assert 5000 <= final["sent"] < 1_000_000
    assert final["workloads"]["celery"]["error"].startswith("cannot reach Redis at ")


def test_through_a_real_gunicorn(spawn, redis_url, redis_client) -> None:
    port = free_port()
    server = spawn("serve", "--port", str(port), "--redis-url", redis_url, "--threads", "4")
    server.wait_for_log(r"Booting worker", timeout=30)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, dict[str, Any]]:
        status, _, body = http_json(base + path, timeout=5)
        return status, body

    wait_for(lambda: get("/readyz")[0] == 200, 30, "the pump to be ready")
    status, body = get("/pump?count=100")
    assert status == 202 and body["message"] == "request submitted: count=100"
    final = wait_for(lambda: (b := get(body["status_url"])[1])["done"] and b, 30, "the run to finish")
    assert (final["sent"], final["failed"]) == (100, 0)
    assert redis_client.llen(CELERY_QUEUE) == 100
    assert get("/pump?count=abc") == (400, {"error": "count must be an integer from 1 to 1000000, got 'abc'"})


def test_status_carries_the_local_autoscalers_state_and_fits_the_document(redis_url, redis_client, tmp_path) -> None:
    """The real actuator (the model, live reads on the real Redis, the ``none`` backend; a stepped
    monotonic clock so its syncs come at once, wall time real) writes its state; /status shows it
    per workload in words, and every answer fits the OpenAPI document."""
    import schemathesis

    from kedasuite.autoscale.actuator import STATE_FILE, Actuator, NoBackend
    from kedasuite.autoscale.targets import load_targets
    from kedasuite.keda.model import Options
    from kedasuite.keda.reads import ScalerReads
    from kedasuite.producers.openapi import document

    client = make_client(redis_url, workloads=["celery", "rq"], autoscale_run_dir=str(tmp_path))
    operation = schemathesis.openapi.from_dict(document(["celery", "rq"], 1000, False))["/status"]["GET"]

    def status() -> dict[str, dict[str, Any]]:
        response = client.get("/status")
        operation.validate_response(response)
        return {w["workload"]: w for w in response.get_json()["workloads"]}

    assert [w["autoscale"] for w in status().values()] == [None, None]  # no autoscaler has run here
    assert client.get("/pump?count=95&workload=celery").status_code == 202
    wait_for(lambda: redis_client.llen(CELERY_QUEUE) == 95, 30, "95 items on the Celery queue")
    targets, source = load_targets(None, None, ["celery"])
    clock = [0.0]
    reads = ScalerReads(redis_url, None)
    actuator = Actuator(
        targets,
        reads,
        NoBackend(),
        Options(polling_interval=1, cooldown_period=3, stabilization_window=2, sync_period=1),
        clock=lambda: clock[0],
        emit=lambda line: None,
        source=source,
        state_path=tmp_path / STATE_FILE,
    )
    try:
        actuator.tick()  # t = 0: KEDA wakes it (0 → 1), the HPA's sync at the same instant: 1 → 4
        entries = status()
        assert entries["rq"]["autoscale"] is None  # this autoscaler runs celery only
        block = entries["celery"]["autoscale"]
        assert (block["actual"], block["model"], block["unit"], block["backend"], block["stale"]) == (
            None,
            4,
            "replicas",
            "none",
            False,
        )
        assert block["reason"] == (
            "HPA wants 10, limited to 4 this sync: legacy scale-up limit max(2 × 1, 4) "
            "[backlog ceil(95/10) = 10; in-flight ceil(0/10) = 0]"
        )
        assert block["next_step"]["reason"] == (
            "KEDA: backlog 95 > 5, in-flight 0 <= 0: active; 4 replicas, the HPA is in charge"
        )
        assert 0 < block["next_step"]["in_seconds"] <= 1
        assert block["deviations"] == [
            "pollingInterval 1 s (manifest: 15 s)",
            "cooldownPeriod 3 s (manifest: 200 s)",
            "scale-down stabilization 2 s (default 300 s)",
            "HPA sync 1 s (default 15 s)",
        ]

        for t in (1.0, 2.0):  # 4 → 8 → 10
            clock[0] = t
            actuator.tick()
        redis_client.delete(CELERY_QUEUE)  # as if drained: the last active poll was at 2 s
        clock[0] = 3.0
        actuator.tick()
        block = status()["celery"]["autoscale"]
        assert block["model"] == 10 and block["reason"].startswith("HPA wants 0, holds 10: the highest recommendation")
        assert block["next_step"]["reason"] == "KEDA: backlog 0 <= 5, in-flight 0 <= 0: cooldown: 1 s of 3 left"
    finally:
        reads.close()
