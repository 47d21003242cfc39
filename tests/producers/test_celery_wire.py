"""The pump's Celery messages are what Celery itself would have sent."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kedasuite.core.names import CELERY_QUEUE, CELERY_TASK
from kedasuite.core.results import fetch_results
from kedasuite.producers.celery_publisher import CeleryMessageEncoder, CeleryPublisher
from kedasuite.producers.records import RecordFactory, record_ids
from tests.support import wait_for

pytestmark = pytest.mark.integration

#: Values that differ per message or per sender by design.
VARYING = {"body", "id", "root_id", "correlation_id", "delivery_tag", "reply_to", "origin", "argsrepr"}


def shape(value: Any, key: str = "") -> Any:
    """The message with per-message values replaced by their type."""
    if isinstance(value, dict):
        return {k: shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__ if key in VARYING else value


def test_envelope_matches_celery_send_task(redis_url, redis_client) -> None:
    from celery import Celery

    app = Celery(broker=redis_url)
    record = next(RecordFactory(seed=3).records(1, "wire"))
    app.send_task(CELERY_TASK, args=[record.data()], ignore_result=True)
    theirs = json.loads(redis_client.rpop(CELERY_QUEUE))
    ours = json.loads(CeleryMessageEncoder().encode(record))

    assert shape(ours) == shape(theirs)
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(theirs["body"]))
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]


def test_ids_and_delivery_tags_are_unique() -> None:
    encoder = CeleryMessageEncoder()
    messages = [json.loads(encoder.encode(r)) for r in RecordFactory().records(2000, "u")]
    assert len({m["headers"]["id"] for m in messages}) == 2000
    assert len({m["properties"]["delivery_tag"] for m in messages}) == 2000


def test_the_stock_celery_command_consumes_pumped_messages(spawn, redis_url, redis_client) -> None:
    """``celery -A kedasuite.workers.celery_app worker``: Celery's own CLI, configured only by the environment."""
    publisher = CeleryPublisher(redis_url)
    factory = RecordFactory()
    records = list(factory.records(50, "stock"))
    assert publisher.publish(records) == 50
    publisher.close()
    spawn(
        "-A",
        "kedasuite.workers.celery_app",
        "worker",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
        module="celery",
        env={"REDIS_URL": redis_url, "WORK_TIME": "0"},
    )
    ids = record_ids(50, "stock")
    wait_for(lambda: len(fetch_results(redis_client, ids)) == 50, 60, "50 records processed by stock celery")
    assert redis_client.llen(CELERY_QUEUE) == 0
