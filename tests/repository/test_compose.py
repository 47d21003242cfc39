"""compose.yaml, checked statically (no Docker engine needed).

The file must validate against the compose-spec schema, and agree with the naming
contract (kedasuite/core/names.py), the defaults, the CLI and the pumps: a variable name
with a typo, a worker command the CLI does not know, or a grace period shorter than a
task is reported by :func:`compose_problems`. The last tests feed it broken copies to
prove each check bites.
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from kedasuite.cli import main as cli_main
from kedasuite.core import defaults
from kedasuite.core.errors import SuiteError
from kedasuite.core.names import Env
from kedasuite.core.workloads import WORKLOADS
from kedasuite.core.worktime import parse_work_time
from kedasuite.producers.workloads import PUBLISHERS

#: A static check of the repository's files: scripts/lint runs it (not scripts/test --fast).
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

OUR_IMAGE = "kedasuite:dev"
REDIS_SERVICE, REDIS_PORT = "redis", 6379
KAFKA_SERVICE = "kafka"
PUMP_SERVICE = "pump"
JOB_SERVICE = "workqueue"

#: Our services, the command each runs, and the CLI's default work time for it: the pump,
#: and a service per row of the workload table.
OUR_SERVICES: dict[str, tuple[list[str], str | None]] = {
    PUMP_SERVICE: (["serve"], None),
    **{w.compose_service: (list(w.command), w.work_time) for w in WORKLOADS},
}
#: Variables each of our services must set.
REQUIRED_ENV: dict[str, set[str]] = {
    PUMP_SERVICE: {Env.REDIS_ADDRESS, Env.KAFKA_BOOTSTRAP_SERVERS, Env.PUMP_WORKLOADS},
    "celery-worker": {Env.REDIS_ADDRESS, Env.WORK_TIME, Env.LOG_LEVEL, Env.METRICS_PORT},
    # Its results go to Redis, so the Kafka consumer needs Redis too.
    "kafka-consumer": {Env.KAFKA_BOOTSTRAP_SERVERS, Env.REDIS_ADDRESS, Env.WORK_TIME, Env.LOG_LEVEL, Env.METRICS_PORT},
    "rq-worker": {Env.REDIS_ADDRESS, Env.WORK_TIME, Env.LOG_LEVEL, Env.METRICS_PORT},
    JOB_SERVICE: {Env.REDIS_ADDRESS, Env.WORK_TIME, Env.LOG_LEVEL, Env.METRICS_PORT},
}
EXPECTED_SERVICES = {REDIS_SERVICE, KAFKA_SERVICE, *OUR_SERVICES}

#: Docker's stop timeout when a service sets no stop_grace_period.
DOCKER_DEFAULT_GRACE_S = 10.0


def contract_env_names() -> tuple[set[str], tuple[str, ...]]:
    """The variable names of :class:`kedasuite.core.names.Env`, and its ``..._`` prefixes."""
    values = {value for key, value in vars(Env).items() if key.isupper() and isinstance(value, str)}
    prefixes = tuple(sorted(v for v in values if v.endswith("_")))
    return values - set(prefixes), prefixes


# --- parsing helpers ------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}|\$(?P<bare>[A-Za-z_]\w*)")


def resolve(value: object) -> tuple[str, list[str]]:
    """``${VAR:-default}`` -> ``default``: the value compose uses when the host sets nothing.

    Returns the resolved text and the problems found (a variable with no default).
    """
    problems: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("bare")
        op = match.group("op")
        if op in (":-", "-"):
            return match.group("arg")
        problems.append(f"${{{name}}} has no default (write ${{{name}:-...}})")
        return ""

    text = str(value).replace("$$", "\0")
    return _INTERPOLATION.sub(substitute, text).replace("\0", "$"), problems


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}


def parse_duration(value: object) -> float | None:
    """Compose durations (``30s``, ``1m30s``, ``500ms``) in seconds; None if not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if not text or _DURATION_PART.sub("", text):
        return None
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def environment(service: Mapping[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {name: value for name, value in pairs}
    return {name: None if value is None else str(value) for name, value in env.items()}


def memory_limit(service: Mapping[str, Any]) -> object:
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    return limits.get("memory") or service.get("mem_limit")


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(host_ip, published, target) per port; host_ip '' means every interface."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, Mapping):
            ports.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port.get("target", ""))))
            continue
        text = str(port).split("/")[0]
        if text.startswith("["):  # [::1]:8080:8080
            host, _, rest = text[1:].partition("]:")
            published, _, target = rest.rpartition(":")
            ports.append((host, published, target))
            continue
        parts = text.split(":")
        if len(parts) == 3:
            ports.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            ports.append(("", parts[0], parts[1]))
        else:
            ports.append(("", "", parts[0]))
    return ports


@functools.cache
def cli_accepts(command: tuple[str, ...]) -> tuple[bool, str]:
    """Does ``kedasuite COMMAND --help`` exit 0? (In process, with click's runner.)"""
    result = CliRunner().invoke(cli_main, [*command, "--help"])
    return result.exit_code == 0, result.output.strip().splitlines()[-1] if result.output.strip() else ""


# --- the checks -------------------------------------------------------------------------------


def schema_problems(path: Path) -> list[str]:
    """Validate against the compose-spec JSON schema that ships inside check-jsonschema."""
    done = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        return []
    return [f"compose-spec schema: {line.strip()}" for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def compose_problems(path: Path) -> list[str]:
    """Everything wrong with the compose file at PATH, as one line per problem."""
    data = yaml.safe_load(path.read_text())
    services: dict[str, Any] = data.get("services") or {}
    problems: list[str] = []
    names, prefixes = contract_env_names()

    missing = EXPECTED_SERVICES - services.keys()
    if missing:
        problems.append(f"services missing: {', '.join(sorted(missing))} (the Kubernetes manifests use these names)")

    # Redis: append-only persistence, on the port everyone is told.
    redis = services.get(REDIS_SERVICE) or {}
    redis_command = redis.get("command") or []
    redis_command = redis_command.split() if isinstance(redis_command, str) else [str(a) for a in redis_command]
    if redis and " ".join(redis_command).find("--appendonly yes") < 0:
        problems.append(f"{REDIS_SERVICE}: run redis-server with --appendonly yes (persistence)")
    if "--port" in redis_command and redis_command[redis_command.index("--port") + 1 :][:1] != [str(REDIS_PORT)]:
        problems.append(f"{REDIS_SERVICE}: listens on a port other than {REDIS_PORT}")

    # Kafka: where clients must connect, and the partition count of the contract.
    kafka_env = environment(services.get(KAFKA_SERVICE) or {})
    advertised = kafka_env.get("KAFKA_ADVERTISED_LISTENERS") or ""
    kafka_addresses = {
        listener.split("://", 1)[1]
        for listener in advertised.split(",")
        if "://" in listener and listener.split("://", 1)[0].strip() == "PLAINTEXT"
    }
    if KAFKA_SERVICE in services:
        if not any(address.split(":")[0] == KAFKA_SERVICE for address in kafka_addresses):
            problems.append(
                f"{KAFKA_SERVICE}: KAFKA_ADVERTISED_LISTENERS must advertise PLAINTEXT://{KAFKA_SERVICE}:PORT, "
                f"got {advertised!r}"
            )
        partitions = kafka_env.get("KAFKA_NUM_PARTITIONS")
        if partitions != str(defaults.KAFKA_PARTITIONS):
            problems.append(
                f"{KAFKA_SERVICE}: KAFKA_NUM_PARTITIONS is {partitions!r}, the contract says "
                f"{defaults.KAFKA_PARTITIONS} (kedasuite.core.defaults.KAFKA_PARTITIONS)"
            )

    for name, service in services.items():
        service = service or {}
        where = f"{name}"
        ours = name in OUR_SERVICES or service.get("image") == OUR_IMAGE or "build" in service

        # Every service: a memory limit, nothing published beyond the loopback interface.
        if not memory_limit(service):
            problems.append(f"{where}: no memory limit (deploy.resources.limits.memory or mem_limit)")
        for host_ip, published, target in published_ports(service):
            if host_ip not in ("127.0.0.1", "::1", "localhost"):
                problems.append(
                    f"{where}: port {published or '?'}:{target} is published on every interface; bind it to 127.0.0.1"
                )

        # A service others wait for must say when it is healthy, and give itself time to start.
        for dependency, how in _depends_on(service).items():
            if dependency not in services:
                problems.append(f"{where}: depends on {dependency!r}, which is not a service")
                continue
            if how.get("condition") == "service_healthy":
                check = (services[dependency] or {}).get("healthcheck") or {}
                if not check.get("test") or check.get("disable") or check.get("test") == ["NONE"]:
                    problems.append(f"{dependency}: {where} waits for it to be healthy, but it has no healthcheck")
                elif "start_period" not in check:
                    problems.append(f"{dependency}: its healthcheck has no start_period")

        # Someone else's image: a release tag (or a digest), so `up` runs what was tested.
        image = str(service.get("image") or "")
        if image and not ours:
            name_part = image.rsplit("/", 1)[-1]
            if "@sha256:" not in image and (":" not in name_part or name_part.endswith(":latest")):
                problems.append(f"{where}: image {image!r} is not pinned to a release tag")

        if not ours:
            continue
        if service.get("image") != OUR_IMAGE or "build" not in service:
            problems.append(f"{where}: use build: . with image: {OUR_IMAGE} (one image for every role)")

        env = environment(service)
        for variable in env:
            if variable not in names and not variable.startswith(prefixes):
                problems.append(
                    f"{where}: environment variable {variable} is not in the contract (kedasuite.core.names.Env)"
                )
        for variable in sorted(REQUIRED_ENV.get(name, set()) - env.keys()):
            problems.append(f"{where}: {variable} is not set")
        if Env.REDIS_URL in env:
            problems.append(
                f"{where}: set {Env.REDIS_ADDRESS} (host:port, what KEDA's addressFromEnv reads), "
                f"not {Env.REDIS_URL}, as the Kubernetes manifests do"
            )
        resolved: dict[str, str] = {}
        for variable, value in env.items():
            resolved[variable], unresolved = resolve("" if value is None else value)
            problems.extend(f"{where}: {variable}: {message}" for message in unresolved)

        if Env.REDIS_ADDRESS in resolved and resolved[Env.REDIS_ADDRESS] != f"{REDIS_SERVICE}:{REDIS_PORT}":
            problems.append(
                f"{where}: {Env.REDIS_ADDRESS} is {resolved[Env.REDIS_ADDRESS]!r}, "
                f"expected {REDIS_SERVICE}:{REDIS_PORT} (the redis service)"
            )
        if Env.KAFKA_BOOTSTRAP_SERVERS in resolved:
            servers = {s.strip() for s in resolved[Env.KAFKA_BOOTSTRAP_SERVERS].split(",") if s.strip()}
            if not servers or not servers <= kafka_addresses:
                problems.append(
                    f"{where}: {Env.KAFKA_BOOTSTRAP_SERVERS} is {resolved[Env.KAFKA_BOOTSTRAP_SERVERS]!r}, "
                    f"not the kafka service's advertised listener ({', '.join(sorted(kafka_addresses))})"
                )
        if Env.METRICS_PORT in resolved:
            exposed = {str(p).split("/")[0] for p in service.get("expose") or []}
            exposed |= {target for _, _, target in published_ports(service)}
            if resolved[Env.METRICS_PORT] not in exposed:
                problems.append(
                    f"{where}: {Env.METRICS_PORT} is {resolved[Env.METRICS_PORT]}, but the service neither "
                    f'exposes nor publishes that port (expose: ["{resolved[Env.METRICS_PORT]}"])'
                )
        if name == PUMP_SERVICE:
            listed = [w.strip() for w in resolved.get(Env.PUMP_WORKLOADS, "").split(",") if w.strip()]
            if sorted(listed) != sorted(PUBLISHERS):
                problems.append(
                    f"{where}: {Env.PUMP_WORKLOADS} is {','.join(listed)!r}; the pumps know "
                    f"{','.join(PUBLISHERS)} and compose runs a worker for each"
                )
            wanted = ("127.0.0.1", str(defaults.PUMP_PORT), resolved.get(Env.PUMP_PORT, str(defaults.PUMP_PORT)))
            if published_ports(service) != [wanted]:
                problems.append(f"{where}: publish the pump as {':'.join(wanted)}, got {service.get('ports')!r}")
            if not (service.get("healthcheck") or {}).get("test"):
                problems.append(f"{where}: no healthcheck (GET /readyz)")

        # The command: exec form, the role this service is named for, and one the CLI knows.
        command = service.get("command")
        expected_command, default_work_time = OUR_SERVICES.get(name, (None, defaults.WORK_TIME))
        if not isinstance(command, list) or not all(isinstance(a, str) for a in command):
            problems.append(f"{where}: command must be a list (exec form), got {command!r}")
        else:
            ok, last_line = cli_accepts(tuple(command))
            if not ok:
                problems.append(f"{where}: command {' '.join(command)!r} is not a kedasuite command ({last_line})")
            elif expected_command is not None and command != expected_command:
                problems.append(f"{where}: command is {command!r}, expected {expected_command!r}")

        # Grace: SIGTERM lets the task in hand finish, if Docker waits long enough before SIGKILL.
        grace_text = service.get("stop_grace_period")
        grace = DOCKER_DEFAULT_GRACE_S if grace_text is None else parse_duration(grace_text)
        if grace is None:
            problems.append(f"{where}: stop_grace_period {grace_text!r} is not a duration")
        elif default_work_time is not None:
            spec = resolved.get(Env.WORK_TIME, default_work_time)
            try:
                longest = parse_work_time(spec).max_seconds
            except SuiteError as exc:
                problems.append(f"{where}: {Env.WORK_TIME}: {exc}")
            else:
                if grace <= longest:
                    problems.append(
                        f"{where}: stop_grace_period is {grace:g} s, not more than the longest task "
                        f"({Env.WORK_TIME}={spec}: {longest:g} s)"
                    )

        restart = str(service.get("restart", "no"))
        if name == JOB_SERVICE:
            if restart not in ("no", "on-failure") and not restart.startswith("on-failure:"):
                problems.append(f"{where}: a Job exits when the queue is drained; restart {restart!r} would rerun it")
            if not service.get("profiles"):
                problems.append(f"{where}: put the Job under a profile, so a plain `up` does not start it")
        elif restart not in ("unless-stopped", "always"):
            problems.append(f"{where}: long-running, so restart: unless-stopped (got {restart!r})")
    return problems


def _depends_on(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: {"condition": "service_started"} for name in depends}
    return {name: dict(how or {}) for name, how in depends.items()}


# --- the real file ----------------------------------------------------------------------------


def test_check_jsonschema_ships_the_compose_spec_schema() -> None:
    """No network needed: the schema is inside the wheel."""
    import check_jsonschema

    vendored = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    assert vendored.is_file(), vendored
    assert CHECK_JSONSCHEMA.is_file(), f"{CHECK_JSONSCHEMA} missing: install the test extras (.[test])"


def test_compose_file_validates_against_the_compose_spec() -> None:
    assert schema_problems(COMPOSE) == []


def test_compose_file_agrees_with_the_contract() -> None:
    assert compose_problems(COMPOSE) == []


def test_every_env_name_of_our_services_is_in_the_contract() -> None:
    names, prefixes = contract_env_names()
    data = yaml.safe_load(COMPOSE.read_text())
    seen = set()
    for name in OUR_SERVICES:
        for variable in environment(data["services"][name]):
            assert variable in names or variable.startswith(prefixes), (name, variable)
            seen.add(variable)
    assert {Env.REDIS_ADDRESS, Env.KAFKA_BOOTSTRAP_SERVERS, Env.WORK_TIME, Env.PUMP_WORKLOADS} <= seen


def test_work_times_follow_the_seeds_and_the_host_can_override_them() -> None:
    data = yaml.safe_load(COMPOSE.read_text())
    work_times = {
        name: environment(data["services"][name])[Env.WORK_TIME] for name in OUR_SERVICES if name != PUMP_SERVICE
    }
    for name, value in work_times.items():
        assert value is not None and value.startswith("${"), (
            f"{name}: WORK_TIME should come from the host, with a default"
        )
    assert {name: resolve(value)[0] for name, value in work_times.items()} == {
        "celery-worker": defaults.WORK_TIME,
        "kafka-consumer": defaults.KAFKA_WORK_TIME,
        "rq-worker": defaults.WORK_TIME,
        JOB_SERVICE: defaults.WORK_TIME,
    }
    assert {resolve(environment(data["services"][n])[Env.LOG_LEVEL])[0] for n in OUR_SERVICES} == {defaults.LOG_LEVEL}


def test_helpers() -> None:
    assert resolve("${A:-uniform:1:9}") == ("uniform:1:9", [])
    assert resolve("x${B-y}z") == ("xyz", [])
    assert resolve("${C}")[1] == ["${C} has no default (write ${C:-...})"]
    assert resolve("$$HOME") == ("$HOME", [])
    assert parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5 and parse_duration(12) == 12
    assert parse_duration("30 seconds") is None
    assert published_ports({"ports": ["127.0.0.1:8080:8080", "9000:9000", {"target": 1, "published": 2}]}) == [
        ("127.0.0.1", "8080", "8080"),
        ("", "9000", "9000"),
        ("", "2", "1"),
    ]


# --- broken copies: each check reports what it should -----------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    keys = path.split("/")

    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if value is _DELETE:
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = value

    return mutate


_DELETE = object()

BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "env name typo": (
        _set("services/celery-worker/environment/WORK_TYME", "1"),
        "celery-worker: environment variable WORK_TYME is not in the contract (kedasuite.core.names.Env)",
    ),
    "REDIS_URL instead of REDIS_ADDRESS": (
        _set("services/rq-worker/environment/REDIS_URL", "redis://redis:6379/0"),
        "rq-worker: set REDIS_ADDRESS (host:port",
    ),
    "consumer without Redis": (
        _set("services/kafka-consumer/environment/REDIS_ADDRESS", _DELETE),
        "kafka-consumer: REDIS_ADDRESS is not set",
    ),
    "wrong Redis port": (
        _set("services/celery-worker/environment/REDIS_ADDRESS", "redis:6380"),
        "celery-worker: REDIS_ADDRESS is 'redis:6380', expected redis:6379",
    ),
    "bootstrap on localhost": (
        _set("services/kafka-consumer/environment/KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        "kafka-consumer: KAFKA_BOOTSTRAP_SERVERS is 'localhost:9092', not the kafka service's",
    ),
    "pump without rq": (
        _set("services/pump/environment/PUMP_WORKLOADS", "celery,kafka,workqueue"),
        "pump: PUMP_WORKLOADS is 'celery,kafka,workqueue'; the pumps know",
    ),
    "three partitions": (
        _set("services/kafka/environment/KAFKA_NUM_PARTITIONS", 3),
        "kafka: KAFKA_NUM_PARTITIONS is '3', the contract says 5",
    ),
    "unknown command": (
        _set("services/celery-worker/command", ["worker", "celerie"]),
        "celery-worker: command 'worker celerie' is not a kedasuite command",
    ),
    "wrong role": (
        _set("services/rq-worker/command", ["worker", "celery"]),
        "rq-worker: command is ['worker', 'celery'], expected ['worker', 'rq']",
    ),
    "shell-form command": (
        _set("services/rq-worker/command", "worker rq"),
        "rq-worker: command must be a list (exec form)",
    ),
    "grace shorter than a Kafka record": (
        _set("services/kafka-consumer/stop_grace_period", "10s"),
        ("kafka-consumer: stop_grace_period is 10 s, not more than the longest task (WORK_TIME=fixed:10: 10 s)"),
    ),
    "default grace": (
        _set("services/kafka-consumer/stop_grace_period", _DELETE),
        "kafka-consumer: stop_grace_period is 10 s",
    ),
    "slower work than the grace": (
        _set("services/celery-worker/environment/WORK_TIME", "${CELERY_WORK_TIME:-uniform:1:60}"),
        ("celery-worker: stop_grace_period is 30 s, not more than the longest task (WORK_TIME=uniform:1:60: 60 s)"),
    ),
    "work time without default": (
        _set("services/rq-worker/environment/WORK_TIME", "${RQ_WORK_TIME}"),
        "rq-worker: WORK_TIME: ${RQ_WORK_TIME} has no default",
    ),
    "no memory limit": (_set("services/rq-worker/deploy", _DELETE), "rq-worker: no memory limit"),
    "no memory limit on redis": (_set("services/redis/deploy", _DELETE), "redis: no memory limit"),
    "healthcheck without start_period": (
        _set("services/kafka/healthcheck/start_period", _DELETE),
        "kafka: its healthcheck has no start_period",
    ),
    "no healthcheck on redis": (
        _set("services/redis/healthcheck", _DELETE),
        "redis: celery-worker waits for it to be healthy, but it has no healthcheck",
    ),
    "pump on every interface": (
        _set("services/pump/ports", ["8080:8080"]),
        "pump: port 8080:8080 is published on every interface",
    ),
    "pump on another port": (
        _set("services/pump/ports", ["127.0.0.1:9090:8080"]),
        "pump: publish the pump as 127.0.0.1:8080:8080",
    ),
    "restarting job": (
        _set("services/workqueue/restart", "unless-stopped"),
        "workqueue: a Job exits when the queue is drained",
    ),
    "job without profile": (_set("services/workqueue/profiles", _DELETE), "workqueue: put the Job under a profile"),
    "worker not restarted": (
        _set("services/rq-worker/restart", _DELETE),
        "rq-worker: long-running, so restart: unless-stopped",
    ),
    "another image": (
        _set("services/rq-worker/image", "kedasuite:other"),
        "rq-worker: use build: . with image: kedasuite:dev",
    ),
    "no persistence": (
        _set("services/redis/command", ["redis-server"]),
        "redis: run redis-server with --appendonly yes",
    ),
    "metrics port not exposed": (
        _set("services/rq-worker/expose", _DELETE),
        "rq-worker: METRICS_PORT is 9100, but the service neither exposes nor publishes that port",
    ),
    "worker without metrics": (
        _set("services/celery-worker/environment/METRICS_PORT", _DELETE),
        "celery-worker: METRICS_PORT is not set",
    ),
    "missing service": (_set("services/kafka-consumer", _DELETE), "services missing: kafka-consumer"),
    "unpinned image": (
        _set("services/grafana/image", "grafana/grafana:latest"),
        "grafana: image 'grafana/grafana:latest' is not pinned to a release tag",
    ),
    "image without a tag": (
        _set("services/prometheus/image", "prom/prometheus"),
        "prometheus: image 'prom/prometheus' is not pinned to a release tag",
    ),
    "observe service without a memory limit": (
        _set("services/prometheus/deploy", _DELETE),
        "prometheus: no memory limit",
    ),
    "grafana on every interface": (
        _set("services/grafana/ports", ["3000:3000"]),
        "grafana: port 3000:3000 is published on every interface",
    ),
    "grafana waits for a prometheus without a healthcheck": (
        _set("services/prometheus/healthcheck", _DELETE),
        "prometheus: grafana waits for it to be healthy, but it has no healthcheck",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_copies_are_reported(case: str, tmp_path: Path) -> None:
    mutate, expected = BROKEN[case]
    data = copy.deepcopy(yaml.safe_load(COMPOSE.read_text()))
    mutate(data)
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    problems = compose_problems(broken)
    assert any(expected in problem for problem in problems), problems


def test_schema_violations_are_reported(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("stop_grace_period: 10s", "stop_grace: 10s", 1))
    assert broken.read_text() != COMPOSE.read_text()
    assert any("'stop_grace' was unexpected" in problem for problem in schema_problems(broken))
