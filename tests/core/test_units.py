"""Pure logic: no server needed."""

from __future__ import annotations

import json

import pytest

from kedasuite.core.config import redis_url_from_env
from kedasuite.core.errors import InputError, NotConfigured
from kedasuite.core.settings import redact_url, with_redis_db
from kedasuite.core.worktime import WorkTime, parse_work_time
from kedasuite.producers import workloads as wl
from kedasuite.producers.engine import validate_count
from kedasuite.producers.records import RecordFactory, record_ids


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "count is required: pass count=N with N an integer from 1 to 1000"),
        ("", "count is required: pass count=N with N an integer from 1 to 1000"),
        ("abc", "count must be an integer from 1 to 1000, got 'abc'"),
        ("1.5", "count must be an integer from 1 to 1000, got '1.5'"),
        ("0", "count must be an integer from 1 to 1000, got 0"),
        ("-3", "count must be an integer from 1 to 1000, got -3"),
        ("1001", "count must be an integer from 1 to 1000, got 1001 (the limit is set by PUMP_MAX_COUNT)"),
    ],
)
def test_bad_counts_are_refused_with_what_is_allowed(raw: object, message: str) -> None:
    with pytest.raises(InputError) as info:
        validate_count(raw, max_count=1000)
    assert info.value.message == message


@pytest.mark.parametrize(("raw", "value"), [("1", 1), (" 42 ", 42), ("1000", 1000), (7, 7)])
def test_good_counts(raw: object, value: int) -> None:
    assert validate_count(raw, max_count=1000) == value


def test_workload_resolution() -> None:
    assert wl.resolve(None, ["celery"], "celery") == ["celery"]
    assert wl.resolve("", ["celery"], "celery") == ["celery"]
    assert wl.resolve("all", ["celery"], "celery") == ["celery"]
    with pytest.raises(InputError) as info:
        wl.resolve("sidekiq", ["celery"], "celery")
    assert info.value.message == "unknown workload 'sidekiq': choose one of celery, all"
    assert wl.resolve("all", ["celery", "kafka", "workqueue", "rq"], "celery") == ["celery", "kafka", "workqueue", "rq"]


def test_known_but_unconfigured_workload_names_the_setting() -> None:
    with pytest.raises(NotConfigured) as info:
        wl.resolve("celery", [], "celery")
    assert info.value.message == (
        "workload 'celery' is not configured on this pump: add it to PUMP_WORKLOADS (now ) and set its broker"
    )


def test_records_are_unique_complete_json() -> None:
    records = list(RecordFactory(seed=1).records(5000, "run"))
    assert [r.id for r in records] == record_ids(5000, "run")
    assert len({r.id for r in records}) == 5000
    for r in records[:50]:
        data = json.loads(r.json)
        assert data["id"] == r.id
        assert set(data) == {"id", "name", "email", "address", "created_at"}
        assert all(isinstance(v, str) and v for v in data.values())
        assert "@" in data["email"]
    # the pools mix: many distinct combinations, not a short cycle
    assert len({(r.data()["name"], r.data()["email"]) for r in records[:1000]}) > 990


def test_seed_makes_records_reproducible() -> None:
    def content(seed: int) -> list[tuple[str, str, str]]:
        return [
            (d["name"], d["email"], d["address"]) for d in (r.data() for r in RecordFactory(seed).records(200, "x"))
        ]

    assert content(7) == content(7)
    assert content(7) != content(8)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0", WorkTime(0, 0)),
        ("2.5", WorkTime(2.5, 2.5)),
        ("fixed:10", WorkTime(10, 10)),
        ("uniform:1:9", WorkTime(1, 9)),
    ],
)
def test_work_time_specs(spec: str, expected: WorkTime) -> None:
    parsed = parse_work_time(spec)
    assert parsed == expected
    assert expected.low <= parsed.sample() <= expected.high


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("soon", "work time 'soon' is not understood: use seconds ('0', '2.5'), 'fixed:S' or 'uniform:MIN:MAX'"),
        (
            "uniform:3",
            "work time 'uniform:3' is not understood: use seconds ('0', '2.5'), 'fixed:S' or 'uniform:MIN:MAX'",
        ),
        (
            "uniform:9:1",
            "work time 'uniform:9:1' is out of range: need 0 <= MIN <= MAX; use seconds ('0', '2.5'), "
            "'fixed:S' or 'uniform:MIN:MAX'",
        ),
        (
            "-1",
            "work time '-1' is out of range: need 0 <= MIN <= MAX; use seconds ('0', '2.5'), "
            "'fixed:S' or 'uniform:MIN:MAX'",
        ),
    ],
)
def test_bad_work_time(spec: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_work_time(spec)
    assert info.value.message == message


def test_redis_url_from_pieces_as_kubernetes_sets_them() -> None:
    env = {"REDIS_ADDRESS": "redis.example:6380", "REDIS_PASSWORD": "p@ss/word", "REDIS_TLS": "true"}
    assert redis_url_from_env(env) == "rediss://:p%40ss%2Fword@redis.example:6380/0"
    assert redis_url_from_env({"REDIS_URL": "redis://a:1/2", **env}) == "redis://a:1/2"
    assert redis_url_from_env({}) == "redis://127.0.0.1:6379/0"
    assert (
        redis_url_from_env({"REDIS_ADDRESS": "r:6379", "REDIS_USERNAME": "app", "REDIS_DB": "3"})
        == "redis://app@r:6379/3"
    )


def test_passwords_never_reach_messages() -> None:
    assert redact_url("rediss://user:secret@host:6380/0") == "rediss://user:***@host:6380/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
    assert with_redis_db("redis://host:6379/0", 5) == "redis://host:6379/5"
