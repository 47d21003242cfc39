"""The pump against hostile clients: generated requests, a stampede, and no token.

Everything runs against a live pump (``kedasuite serve`` under gunicorn on loopback) on
a real Redis: schemathesis drives every operation of ``/openapi.json`` and checks that no
answer is a server error or strays from the document; 200 simultaneous requests find
the admission limits and every accepted run still completes; the bearer token guards
every route but the probes, ``/metrics`` and the dashboard's static files.
"""

from __future__ import annotations

import concurrent.futures
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support import Proc, free_port, http_json, wait_for

pytestmark = pytest.mark.integration

TOKEN = "test-token-not-a-secret"


def get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], Any]:
    return http_json(url, method=method, token=token)


def start_pump(spawn: Callable[..., Proc], redis_url: str, *extra: str, env: dict[str, str] | None = None) -> str:
    port = free_port()
    pump = spawn("serve", "--port", str(port), "--redis-url", redis_url, "--workloads", "celery,rq", *extra, env=env)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert pump.popen.poll() is None, pump.log()[-3000:]
        try:
            return get(f"{base}/healthz")[0] == 200
        except OSError:
            return False

    wait_for(up, 60, "the pump to answer /healthz")
    return base


# --- schemathesis ---------------------------------------------------------------------------------


def test_no_server_error_and_every_answer_fits_the_document(spawn: Callable[..., Proc], redis_url: str) -> None:
    """Every operation, ~40 generated requests each (schemathesis' own pytest plugin is not
    used: it does not load under this pytest, so each operation's strategy is driven here)."""
    import schemathesis  # here, not at the top: every xdist worker collects this file
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    # Small limits so generated requests cannot flood Redis, and do reach the 429 path.
    base = start_pump(spawn, redis_url, "--max-count", "50", "--max-runs", "3", "--max-queued-items", "120")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {
        "GET /pump",
        "POST /pump",
        "GET /pumps/{run_id}",
        "GET /status",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: Any) -> None:
            # Not "schema-valid data is accepted": `count` is required unless a load shape is given,
            # and durations and profiles have a grammar; OpenAPI cannot say either, so such a
            # request rightly gets a 400 that the document lists.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()


# --- overload -------------------------------------------------------------------------------------


def test_200_simultaneous_requests_get_202_or_429_and_every_accepted_run_completes(
    spawn: Callable[..., Proc], redis_url: str
) -> None:
    # At most 4 runs at once and 10 runs' items queued: most of the 200 are refused, for either reason.
    base = start_pump(spawn, redis_url, "--max-runs", "4", "--max-queued-items", "5000", "--threads", "16")

    def ask(i: int) -> tuple[int, dict[str, str], Any]:
        return get(f"{base}/pump?count=500&workload={'celery' if i % 2 else 'rq'}", method="POST")

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, range(200)))
    statuses = [a[0] for a in answers]
    assert set(statuses) <= {202, 429}, sorted(set(statuses))
    accepted = [a[2]["id"] for a in answers if a[0] == 202]
    refused = [a for a in answers if a[0] == 429]
    assert accepted and refused, f"{len(accepted)} accepted, {len(refused)} refused"
    for _, headers, body in refused:
        assert int(headers["Retry-After"]) >= 1
        assert body["error"].startswith(("too many pump runs in progress (", "too many items queued: "))
        assert body["error"].endswith("retry later")

    def finished(run_id: str) -> dict | None:
        status, _, run = get(f"{base}/pumps/{run_id}")
        assert status == 200
        return run if run["done"] else None

    for run_id in accepted:
        run = wait_for(lambda r=run_id: finished(r), 120, f"run {run_id} to finish")
        assert (run["state"], run["sent"], run["failed"]) == ("succeeded", 500, 0)


def test_items_queued_over_the_limit_get_429_naming_the_limit(spawn: Callable[..., Proc], redis_url: str) -> None:
    base = start_pump(spawn, redis_url, "--max-queued-items", "100")
    status, headers, body = get(f"{base}/pump?count=101")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body == {
        "error": "too many items queued: 0 not yet sent plus 101 asked for is over 100 "
        "(set by PUMP_MAX_QUEUED_ITEMS); retry later"
    }
    assert get(f"{base}/pump?count=100")[0] == 202


# --- the bearer token ---------------------------------------------------------------------------


@pytest.fixture
def guarded(spawn: Callable[..., Proc], redis_url: str) -> Iterator[str]:
    yield start_pump(spawn, redis_url, env={"PUMP_TOKEN": TOKEN})


def test_without_the_token_only_probes_and_metrics_answer(guarded: str) -> None:
    expected = (
        "unauthorized: no Authorization header; send 'Authorization: Bearer <token>' with the token "
        "the pump was started with (PUMP_TOKEN)"
    )
    for path in ("/pump?count=1", "/pumps/x", "/status", "/openapi.json"):
        status, headers, body = get(f"{guarded}{path}")
        assert (status, body) == (401, {"error": expected}), path
        assert headers["WWW-Authenticate"] == 'Bearer realm="kedasuite pump"'
    for path in ("/healthz", "/readyz"):
        assert get(f"{guarded}{path}")[0] == 200, path
    for path in ("/", "/ui/dashboard.js"):  # the dashboard's files hold no data; the page asks for the token
        with urllib.request.urlopen(f"{guarded}{path}", timeout=10) as response:
            assert response.status == 200, path
    with urllib.request.urlopen(f"{guarded}/metrics", timeout=10) as response:
        assert response.status == 200


def test_a_wrong_token_is_refused_and_the_right_one_pumps(guarded: str) -> None:
    status, _, body = get(f"{guarded}/pump?count=3", token="guess")
    assert (status, body["error"]) == (
        401,
        "unauthorized: the token does not match; send 'Authorization: Bearer "
        "<token>' with the token the pump was started with (PUMP_TOKEN)",
    )
    status, _, body = get(f"{guarded}/pump?count=3", token=TOKEN)
    assert status == 202 and body["count"] == 3


def test_the_pump_listens_on_loopback_unless_told_otherwise(spawn: Callable[..., Proc], redis_url: str) -> None:
    port = free_port()
    pump = spawn("serve", "--port", str(port), "--redis-url", redis_url)
    pump.wait_for_log(rf"Listening at: http://127\.0\.0\.1:{port} ", timeout=60)
    listening = open("/proc/net/tcp").read().split("\n")[1:]
    local = {line.split()[1] for line in listening if line.split() and line.split()[3] == "0A"}  # 0A: LISTEN
    assert f"0100007F:{port:04X}" in local and f"00000000:{port:04X}" not in local
