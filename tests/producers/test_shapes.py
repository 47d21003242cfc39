"""Load shapes: the schedule itself (pure), then paced pumps on a real Redis."""

from __future__ import annotations

import re
import threading
import time

import pytest
import redis

from kedasuite.core.errors import InputError
from kedasuite.core.names import CELERY_QUEUE
from kedasuite.core.settings import PumpSettings
from kedasuite.producers import workloads as wl
from kedasuite.producers.engine import prepare_run
from kedasuite.producers.http_pump import create_app
from kedasuite.producers.profiles import parse_profile, parse_seconds, resolve, steady
from tests.support import run_cli, wait_for

# --- the schedule ------------------------------------------------------------------------------


def test_steady_rate_is_due_linearly() -> None:
    p = steady(200, 2)
    assert [p.due(t) for t in (0, 0.5, 1, 2, 5)] == [0, 100, 200, 400, 400]
    assert (p.total, p.duration, p.mean_rate) == (400, 2, 200)
    assert p.time_of(100) == pytest.approx(0.5)


def test_step_stages_follow_each_other() -> None:
    p = parse_profile("step:10/30s,50/30s,10/30s")
    assert [p.due(t) for t in (30, 45, 60, 90)] == [300, 1050, 1800, 2100]
    assert (p.total, p.duration) == (2100, 90)


def test_ramp_integrates_the_rising_rate() -> None:
    p = parse_profile("ramp:10:200:60s")
    # 10 t + (190 / 60) t^2 / 2: 30 s -> 300 + 1425
    assert [p.due(0), p.due(30), p.due(60)] == [0, 1725, 6300]


def test_spike_adds_the_peak_for_its_length() -> None:
    p = parse_profile("spike:10:300:20s:5s:60s")
    # 10/s for 60 s, plus (300 - 10)/s for the 5 s of the spike: 600 + 1450
    assert [p.due(20), p.due(25), p.due(60)] == [200, 1700, 2050]


def test_bursts_are_due_at_once() -> None:
    p = parse_profile("burst:200:30s:4")
    assert [p.due(0), p.due(29.9), p.due(30), p.due(90)] == [200, 200, 400, 800]
    assert p.time_of(201) == pytest.approx(30)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "zigzag:1",
            "unknown profile 'zigzag:1': use step, ramp, spike or burst; examples: step:10/30s,50/30s,10/30s, "
            "ramp:10:200:60s, spike:10:300:20s:5s:60s, burst:200:30s:4",
        ),
        ("ramp:10:200", "profile 'ramp:10:200': ramp takes FROM:TO:OVER, e.g. ramp:10:200:60s"),
        ("step:10-30s", "profile 'step:10-30s': step stage '10-30s' must be RATE/DURATION, e.g. 50/30s"),
        ("step:", "profile 'step:': step takes RATE/DURATION stages, e.g. step:10/30s,50/30s,10/30s"),
        ("burst:x:1s:2", "profile 'burst:x:1s:2': burst N and TIMES must be whole numbers, e.g. burst:200:30s:4"),
        (
            "spike:1:9:50s:20s:60s",
            "profile 'spike:1:9:50s:20s:60s': the spike (AT + LENGTH = 70 s) must end within TOTAL (60 s)",
        ),
        ("ramp:0:0:10s", "profile 'ramp:0:0:10s' sends no items; raise a rate or a duration"),
        ("ramp:-5:10:10s", "ramp FROM must be more than 0 items per second, got '-5'"),
    ],
)
def test_bad_profiles_name_the_problem_and_show_a_valid_one(spec: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_profile(spec)
    assert caught.value.message == message


def test_durations_and_rate_combinations() -> None:
    assert [parse_seconds(t, "d") for t in ("90", "90s", "1.5m", "500ms", "1h")] == [90, 90, 90, 0.5, 3600]
    with pytest.raises(InputError, match=r"^duration must be a duration such as 30s, 2m or 500ms, got 'soon'$"):
        resolve(rate=5, duration="soon")
    with pytest.raises(InputError, match=r"^duration must be more than 0 and at most 24h, got '25h'$"):
        resolve(rate=5, duration="25h")
    with pytest.raises(InputError, match=r"^give either profile, or rate with duration, not both$"):
        resolve(rate=5, duration="1s", profile="burst:1:1s:1")
    with pytest.raises(InputError, match=r"^duration needs a rate \(e.g. rate=50&duration=60s\)$"):
        resolve(duration="10s")
    assert resolve(rate=50, count=100).total == 100  # 100 items at 50/s: two seconds
    assert resolve() is None


# --- paced pumps on a real Redis ------------------------------------------------------------------


@pytest.mark.integration
def test_cli_pump_paces_rate_for_duration(redis_url: str, redis_client: redis.Redis) -> None:
    """400 items at 200/s: LLEN sampled while it runs climbs in steps, never all at once."""
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            seen.append(redis_client.llen(CELERY_QUEUE))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    done = run_cli("pump", "celery", "--rate", "200", "--duration", "2", "--redis-url", redis_url)
    elapsed = time.monotonic() - started
    stop.set()
    sampler.join()
    assert done.returncode == 0, done.stderr
    # Pacing is the claim: not sooner than the 2 s asked for. How much later a loaded machine
    # finishes is no fault of the pump's ("could not keep up" says when it is).
    reported = re.match(r"celery: sent 400, failed 0 in (\d+\.\d+) s", done.stdout)
    assert reported and float(reported.group(1)) >= 1.9, done.stdout
    # Falling behind is said exactly when it happened: over 5 % and a quarter second late.
    assert ("could not keep up" in done.stdout) == (float(reported.group(1)) > 2 * 1.05 + 0.25), done.stdout
    assert redis_client.llen(CELERY_QUEUE) == 400
    partial = [n for n in seen if 0 < n < 400]
    assert len(partial) >= 5, f"expected a climb, saw {seen}"
    assert elapsed >= 1.9


@pytest.mark.integration
def test_a_pump_that_cannot_keep_up_says_so(redis_url: str) -> None:
    # one record per round trip cannot make a million a second (1,000 records, under a second here)
    done = run_cli(
        "pump", "celery", "--rate", "1000000", "--duration", "0.001", "--batch-size", "1", "--redis-url", redis_url
    )
    assert done.returncode == 0, done.stderr
    assert "celery: could not keep up: asked 1,000,000/s on average, achieved " in done.stdout


@pytest.mark.integration
def test_http_pump_takes_rate_and_duration_and_reports_them(redis_url: str, redis_client: redis.Redis) -> None:
    client = create_app(PumpSettings(brokers=wl.BrokerConfig(redis_url=redis_url))).test_client()
    answer = client.get("/pump?rate=100&duration=1s")
    assert answer.status_code == 202, answer.get_json()
    run_id = answer.get_json()["id"]
    run = wait_for(lambda: (r := client.get(f"/pumps/{run_id}").get_json())["done"] and r, 30, "the paced run")
    stream = run["workloads"]["celery"]
    assert (run["state"], run["count"], stream["sent"]) == ("succeeded", 100, 100)
    assert (stream["profile"], stream["asked_rate"], stream["kept_up"], stream["note"]) == (
        "rate 100/s for 1 s",
        100.0,
        True,
        None,
    )
    assert stream["elapsed_s"] >= 0.95
    assert redis_client.llen(CELERY_QUEUE) == 100


@pytest.mark.integration
@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("rate=fast&duration=1s", "rate must be a number of items per second, got 'fast'"),
        ("rate=10", "rate needs a duration or a count (e.g. rate=50&duration=60s)"),
        ("profile=burst:5:1s:0", "profile 'burst:5:1s:0': burst N and TIMES must be at least 1, e.g. burst:200:30s:4"),
        (
            "rate=1000&duration=24h",
            "count must be an integer from 1 to 1000000, got 86400000 (the limit is set by PUMP_MAX_COUNT)",
        ),
    ],
)
def test_http_pump_refuses_bad_shapes_with_the_cli_words(redis_url: str, query: str, error: str) -> None:
    client = create_app(PumpSettings(brokers=wl.BrokerConfig(redis_url=redis_url))).test_client()
    answer = client.get(f"/pump?{query}")
    assert (answer.status_code, answer.get_json()) == (400, {"error": error})


@pytest.mark.integration
def test_count_caps_a_shape(redis_url: str) -> None:
    settings = PumpSettings(brokers=wl.BrokerConfig(redis_url=redis_url))
    run, publishers = prepare_run(settings, "30", "celery", profile="burst:20:1s:3")
    for p in publishers:
        p.close()
    assert run.count == 30


@pytest.mark.integration
def test_ctrl_c_ends_a_paced_pump_of_several_workloads_at_once(
    spawn, redis_url: str, redis_client: redis.Redis
) -> None:
    """Paced streams run on threads of their own; an interrupt used to end only the main
    thread's wait for them, and the process lived on until the schedules' end (a minute here)."""
    import signal

    from kedasuite.core.names import WORKQUEUE_LIST

    pump = spawn(
        "pump",
        "all",
        "--rate",
        "5",
        "--duration",
        "60s",
        "--redis-url",
        redis_url,
        env={"PUMP_WORKLOADS": "celery,workqueue"},
    )
    pump.wait_for_log(r"pacing rate 5/s for 60 s", timeout=30)
    # A first record of each out: both streams are in their schedules' waits.
    wait_for(
        lambda: redis_client.llen(CELERY_QUEUE) and redis_client.llen(WORKQUEUE_LIST),
        30,
        "a first record on each list",
        seen=pump.describe,
    )
    pump.signal(signal.SIGINT)
    # Safety net: it stops within a batch's flush; the fault was the schedule's remaining minute.
    assert pump.wait(30, "an interrupted paced pump to stop") == 1, pump.describe()
