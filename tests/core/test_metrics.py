"""Prometheus metrics against real servers: the pump's /metrics and every worker's metrics port.

Each worker runs as the CLI runs it, with ``--metrics-port``; the exposition is parsed
with prometheus_client's own parser. Prefork Celery (two pool processes) and RQ (a work
horse per job) prove that counts add up across processes.
"""

from __future__ import annotations

import json
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kedasuite.core.embedded import free_port
from kedasuite.core.names import RQ_QUEUE, RQ_TASK, WORKQUEUE_LIST, Env
from kedasuite.jobs.workqueue import WorkQueue
from tests.support import all_processed, http_json, pump, run_cli, wait_for

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

PROCESSED = "kedasuite_worker_items_processed_total"
FAILED = "kedasuite_worker_items_failed_total"
DEAD = "kedasuite_worker_items_dead_lettered_total"
IN_FLIGHT = "kedasuite_worker_items_in_flight"
WORK_COUNT = "kedasuite_worker_work_seconds_count"


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for_metric(port: int, name: str, expected: float, timeout: float, **labels: str) -> Samples:
    """Scrape until ``name{labels}`` reaches ``expected``; the last scrape."""
    last: list[Samples] = [{}]

    def reached() -> Samples | None:
        try:
            last[0] = scrape(port)
        except (urllib.error.URLError, ConnectionError):
            return None
        return last[0] if value(last[0], name, **labels) >= expected else None

    try:
        return wait_for(reached, timeout, f"{name}{labels} to reach {expected}", interval=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last value {value(last[0], name, **labels)}") from None


# --- the pump ------------------------------------------------------------------------------------


def test_pump_metrics_count_requests_by_route_and_items_per_workload(spawn, redis_url) -> None:
    port = free_port()
    server = spawn("serve", "--port", str(port), "--redis-url", redis_url, "--workloads", "celery,rq", "--threads", "4")
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, dict[str, Any]]:
        status, _, body = http_json(base + path, timeout=5)
        return status, body

    wait_for(lambda: server.popen.poll() is None and _answers(base + "/healthz"), 30, "the pump to answer")
    runs = [get(f"/pump?count={n}&workload={w}")[1] for n, w in ((120, "celery"), (30, "rq"), (7, "celery"))]
    for run in runs:
        wait_for(lambda run=run: get(run["status_url"])[1]["done"], 30, f"run {run['id']} to finish")
    assert get("/pump?count=abc")[0] == 400
    assert get("/pumps/no-such-run")[0] == 404
    assert get("/no/such/path")[0] == 404

    samples = scrape(port)
    requests = "kedasuite_pump_http_requests_total"
    assert value(samples, requests, route="/pump", method="GET", status="202") == 3
    assert value(samples, requests, route="/pump", method="GET", status="400") == 1
    assert value(samples, requests, route="/pumps/<run_id>", method="GET", status="404") == 1
    assert value(samples, requests, route="/pumps/<run_id>", method="GET", status="200") >= 3
    assert value(samples, requests, route="unmatched", method="GET", status="404") == 1
    assert value(samples, requests, route="/healthz", method="GET", status="200") >= 1
    assert not [labels for (name, labels) in samples if name == requests and ("route", "/no/such/path") in labels]
    assert value(samples, "kedasuite_pump_items_sent_total", workload="celery") == 127
    assert value(samples, "kedasuite_pump_items_sent_total", workload="rq") == 30
    assert value(samples, "kedasuite_pump_items_failed_total", workload="celery") == 0
    assert value(samples, "kedasuite_pump_runs_in_progress") == 0
    # The scrape itself is a request too, counted once it is answered.
    assert value(scrape(port), requests, route="/metrics", method="GET", status="200") >= 1


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError):
        return False


# --- the workers -------------------------------------------------------------------------------


def private_tmp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A TMPDIR for a worker, so the test sees the private metrics directory it makes."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp, {"TMPDIR": str(tmp)}


def test_prefork_celery_counts_add_up_across_its_processes(spawn, redis_url, redis_client, tmp_path: Path) -> None:
    from celery import Celery

    from kedasuite.core.names import CELERY_TASK

    port = free_port()
    tmp, env = private_tmp(tmp_path)
    worker = spawn(
        "worker",
        "celery",
        "--redis-url",
        redis_url,
        "--concurrency",
        "2",
        "--work-time",
        "0.05",
        "--metrics-port",
        str(port),
        env=env,
    )
    sender = Celery(broker=redis_url)
    sender.send_task(CELERY_TASK, args=["not a record"], ignore_result=True)
    ids = pump("celery", 40, "metrics", redis_url=redis_url)
    worker.wait_for_log(r"ready\.", timeout=60)

    samples = wait_for_metric(port, PROCESSED, 40, 60, workload="celery")
    results = wait_for(all_processed(redis_client, ids), 10, "40 results")
    assert len({r.worker for r in results.values()}) == 2, "both pool processes should have worked"
    samples = wait_for_metric(port, DEAD, 1, 10, workload="celery")
    assert value(samples, PROCESSED, workload="celery") == 40
    assert value(samples, FAILED, workload="celery") == 0
    assert value(samples, WORK_COUNT, workload="celery") == 41
    assert value(samples, IN_FLIGHT, workload="celery") == 0

    assert len(list(tmp.glob("kedasuite-metrics-*"))) == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert not list(tmp.glob("kedasuite-metrics-*")), "the private metrics directory should be removed at exit"


def test_rq_counts_every_work_horse_and_folds_the_dead_ones(spawn, redis_url, redis_client, tmp_path: Path) -> None:
    from rq import Queue

    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_12345.db").write_bytes(b"stale, from an earlier run")
    port = free_port()
    spawn(
        "worker",
        "rq",
        "--redis-url",
        redis_url,
        "--work-time",
        "0.01",
        "--metrics-port",
        str(port),
        env={Env.PROMETHEUS_MULTIPROC_DIR: str(metrics_dir)},
    ).wait_for_log("Listening on", timeout=60)
    ids = pump("rq", 25, "horses", redis_url=redis_url)
    Queue(RQ_QUEUE, connection=redis_client).enqueue(RQ_TASK, "not json")

    samples = wait_for_metric(port, PROCESSED, 25, 60, workload="rq")
    samples = wait_for_metric(port, DEAD, 1, 30, workload="rq")
    assert value(samples, PROCESSED, workload="rq") == 25  # each job ran in a work horse of its own
    assert value(samples, WORK_COUNT, workload="rq") == 26
    assert value(samples, IN_FLIGHT, workload="rq") == 0
    assert len(all_processed(redis_client, ids)() or {}) == 25
    # Dead horses' files were folded into one archive per type; the counts stayed.
    samples = scrape(port)
    assert value(samples, PROCESSED, workload="rq") == 25
    files = sorted(p.name for p in metrics_dir.iterdir())
    assert "counter_archive.db" in files and "counter_12345.db" not in files, files
    assert len([f for f in files if f.startswith("counter_")]) <= 3, files


def test_kafka_consumer_counts_processed_and_dead_lettered(spawn, kafka, redis_url, tmp_path: Path) -> None:
    from confluent_kafka import Producer

    from kedasuite.core.clients import ensure_topic, kafka_admin

    ensure_topic(kafka_admin(kafka.bootstrap), kafka.topic, 2, 1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    producer.produce(kafka.topic, b"\xff not json", b"poison")
    assert producer.flush(10) == 0
    pump("kafka", 20, "lag", kafka=kafka)
    port = free_port()
    spawn(
        "worker",
        "kafka",
        "--bootstrap-servers",
        kafka.bootstrap,
        "--topic",
        kafka.topic,
        "--group",
        kafka.group,
        "--work-time",
        "0",
        "--redis-url",
        redis_url,
        "--metrics-port",
        str(port),
        env=private_tmp(tmp_path)[1],
    )

    samples = wait_for_metric(port, PROCESSED, 20, 60, workload="kafka")
    samples = wait_for_metric(port, DEAD, 1, 10, workload="kafka")
    assert value(samples, PROCESSED, workload="kafka") == 20
    assert value(samples, WORK_COUNT, workload="kafka") == 21
    assert value(samples, IN_FLIGHT, workload="kafka") == 0


def test_workqueue_runner_counts_processed_failed_and_dead_lettered(
    spawn, redis_url, redis_client, tmp_path: Path
) -> None:
    # The test holds one item, so the runner waits for it instead of exiting once the rest is done.
    redis_client.rpush(WORKQUEUE_LIST, "held")
    queue = WorkQueue(redis_client, max_attempts=1)
    held = queue.lease("the-test").lease
    assert held is not None and held.item == b"held"
    redis_client.rpush(
        WORKQUEUE_LIST, *[f"item-{i}" for i in range(15)], "bad-1", json.dumps({"id": "x-1", "name": "No Email"})
    )
    port = free_port()
    tmp, env = private_tmp(tmp_path)
    runner = spawn(
        "job",
        "workqueue",
        "--redis-url",
        redis_url,
        "--work-time",
        "0",
        "--max-attempts",
        "1",
        "--fail-pattern",
        "^bad",
        "--idle-timeout",
        "60",
        "--metrics-port",
        str(port),
        env=env,
    )

    samples = wait_for_metric(port, PROCESSED, 15, 60, workload="workqueue")
    # Every item's work is timed once it ends, after the item was counted: wait for the last timing.
    samples = wait_for_metric(port, WORK_COUNT, 17, 10, workload="workqueue")
    assert value(samples, DEAD, workload="workqueue") == 2
    assert value(samples, FAILED, workload="workqueue") == 1
    assert value(samples, PROCESSED, workload="workqueue") == 15

    assert queue.release(held)
    assert runner.wait(30) == 0, runner.log()[-2000:]
    assert "processed 16, failed 1, dead-lettered 2" in runner.log()
    assert not list(tmp.glob("kedasuite-metrics-*")), "the private metrics directory should be removed at exit"


def test_a_busy_metrics_port_is_refused_with_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("worker", "rq", "--redis-url", "redis://127.0.0.1:1/0", "--metrics-port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: cannot serve metrics on port {port}: Address already in use; choose another port with "
        "--metrics-port or METRICS_PORT (0 turns metrics off)"
    )


def test_every_worker_command_takes_the_metrics_port_option() -> None:
    for command in (("worker", "celery"), ("worker", "kafka"), ("worker", "rq"), ("job", "workqueue")):
        done = run_cli(*command, "--help")
        assert "--metrics-port" in done.stdout and "METRICS_PORT" in done.stdout, command
    done = run_cli("worker", "rq", "--metrics-port", "70000")
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "Error: Invalid value for '--metrics-port' (env var: 'METRICS_PORT'): 70000 is not in the range 0<=x<=65535."
    )
