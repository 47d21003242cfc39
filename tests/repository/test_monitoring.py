"""The suite's alerts and the `observe` compose profile, checked without a Prometheus running.

* The PrometheusRule of ``k8s/components/monitoring`` is the one source of the rules; the
  rules file compose's Prometheus loads must hold the same groups.
* ``promtool check rules`` accepts the groups extracted from it, and ``promtool test rules``
  passes the unit tests in ``k8s/components/monitoring/tests/alerts-test.yaml``: each alert
  fires in one case and stays quiet in another. A broken expression, and a rule that no
  longer does what its test says, are both caught. (Debian's ``prometheus`` package brings
  promtool; scripts/bootstrap installs it as root. Without it those tests skip and say so.)
* Each alert says what is wrong in the suite's terms, reads only the contract's series, and
  points at its section of docs/monitoring.md.
* compose.yaml's ``observe`` profile: Prometheus and Grafana, Prometheus scraping services
  that exist on the ports they serve, Grafana's provisioning files well-formed and mounted
  where they say.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from kedasuite.core import defaults, names
from kedasuite.core.metrics import WorkerMetrics
from kedasuite.core.names import Env
from kedasuite.core.workloads import WORKLOADS
from kedasuite.keda import manifest_checks as mc
from kedasuite.tools import alert_rules
from tests.support.kustomize import combination
from tests.support.markdown import anchors

#: A static check of the repository's files: scripts/lint runs it (not scripts/test --fast).
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "k8s" / "components" / "monitoring"
PROMETHEUS_RULE = ROOT / alert_rules.PROMETHEUS_RULE
RULES_FILE = ROOT / alert_rules.RULES_FILE
UNIT_TESTS = COMPONENT / "tests" / "alerts-test.yaml"
MONITORING_DOC = ROOT / "docs" / "monitoring.md"
COMPOSE = ROOT / "compose.yaml"
OBSERVE = ROOT / "observe"
#: Where compose's Prometheus finds `kedasuite autoscale --metrics-port` on the host.
AUTOSCALE_METRICS_PORT = 9102
AUTOSCALE_HOST = "host.docker.internal"

#: The series the alerts may read: the contract of issue 28 (KEDA v2.20.2, kube-state-metrics
#: v2, kafka_exporter) and the workers' own, as kedasuite/core/metrics.py names them.
CONTRACT_SERIES = names.CLUSTER_SERIES
_SERIES = re.compile(r"\b((?:keda|kube|kafka|kedasuite)_[a-z_]+)\b")


def worker_series() -> set[str]:
    """The workers' series names as a scrape shows them (counters with ``_total``)."""
    m = WorkerMetrics()
    found = set()
    for metric in (m.processed, m.duplicates, m.failed, m.dead_lettered, m.in_flight, m.work_seconds):
        (family,) = metric.describe()
        found.add(family.name + ("_total" if family.type == "counter" else ""))
    return found


def rules() -> list[dict[str, Any]]:
    return [rule for group in alert_rules.rule_groups(PROMETHEUS_RULE)["groups"] for rule in group["rules"]]


# --- one source ---------------------------------------------------------------------------------


def test_the_rules_file_holds_the_prometheus_rules_groups() -> None:
    fix = f"run {alert_rules.COMMAND}"
    assert RULES_FILE.is_file(), f"{alert_rules.RULES_FILE} is missing: {fix}"
    assert yaml.safe_load(RULES_FILE.read_text()) == alert_rules.rule_groups(PROMETHEUS_RULE), (
        f"{alert_rules.RULES_FILE} differs from {alert_rules.PROMETHEUS_RULE}: {fix}"
    )
    assert RULES_FILE.read_text() == alert_rules.rules_text(alert_rules.rule_groups(PROMETHEUS_RULE)), fix


def test_the_writer_reports_a_stale_file_and_refuses_other_kinds(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(alert_rules, "ROOT", tmp_path)
    (tmp_path / alert_rules.PROMETHEUS_RULE).parent.mkdir(parents=True)
    shutil.copy(PROMETHEUS_RULE, tmp_path / alert_rules.PROMETHEUS_RULE)
    assert alert_rules.main(["--check"]) == 1
    assert alert_rules.main([]) == 0
    assert alert_rules.main(["--check"]) == 0
    assert (tmp_path / alert_rules.RULES_FILE).read_text() == RULES_FILE.read_text()
    other = tmp_path / "other.yaml"
    other.write_text("kind: ConfigMap\n")
    with pytest.raises(ValueError, match="not a PrometheusRule"):
        alert_rules.rule_groups(other)


# --- what each alert says -----------------------------------------------------------------------


def test_every_alert_says_what_is_wrong_and_where_to_read_on() -> None:
    doc_anchors = anchors(MONITORING_DOC)
    seen = []
    for rule in rules():
        name = rule.get("alert")
        assert name and name.startswith("Kedasuite"), f"{rule}: alerts only, named Kedasuite..."
        seen.append(name)
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook"}, name
        assert len(annotations["summary"]) <= 120, f"{name}: a summary is one short line"
        doc, _, anchor = annotations["runbook"].partition("#")
        assert doc == "docs/monitoring.md" and anchor == name.lower(), f"{name}: runbook {annotations['runbook']}"
        assert anchor in doc_anchors, f"{name}: docs/monitoring.md has no section '### {name}'"
    assert len(seen) == len(set(seen)) >= 8, seen


def test_alerts_read_only_the_contracts_series_and_the_suites_names() -> None:
    allowed = CONTRACT_SERIES | worker_series()
    for rule in rules():
        used = set(_SERIES.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= allowed, f"{rule['alert']} reads series outside the contract: {sorted(used - allowed)}"
    text = PROMETHEUS_RULE.read_text()
    kafka = next(w for w in WORKLOADS if w.broker == "kafka")
    assert f'consumergroup="{names.KAFKA_CONSUMER_GROUP}"' in text
    assert f'topic="{names.KAFKA_TOPIC}"' in text
    assert f'horizontalpodautoscaler="keda-hpa-{kafka.keda_name}"' in text
    scaled_job = next(w for w in WORKLOADS if w.is_job)
    assert scaled_job.keda_kind == "ScaledJob" and 'owner_kind="ScaledJob"' in text


def test_the_in_flight_alert_reads_the_scaledobjects_second_trigger() -> None:
    """KedasuiteInFlightNotMoving reads triggerIndex 1: the in-flight trigger of each
    ScaledObject that has one, and no other trigger of the render."""
    objs = mc.render(ROOT / "k8s" / "overlays" / "local")
    for obj in (o for o in objs if o["kind"] == "ScaledObject"):
        row = next(w for w in WORKLOADS if w.keda_name == obj["metadata"]["name"])
        triggers = obj["spec"]["triggers"]
        if row.in_flight:
            assert len(triggers) == 2 and triggers[1]["metadata"]["listName"] == row.in_flight, mc.ref(obj)
            assert triggers[1]["name"] == "in-flight"
            # label_replace maps the ScaledObject to the workers' `workload` label
            assert obj["metadata"]["name"] == f"{row.name}-worker", mc.ref(obj)
        else:
            assert len(triggers) == 1, mc.ref(obj)


# --- promtool ----------------------------------------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not found: scripts/bootstrap installs it as root (Debian's prometheus package)")
    return found


def extracted(tmp_path: Path, groups: dict[str, Any] | None = None) -> Path:
    """The PrometheusRule's groups (or GROUPS) as a rules file in TMP_PATH."""
    path = tmp_path / "kedasuite.yml"
    path.write_text(alert_rules.rules_text(groups or alert_rules.rule_groups(PROMETHEUS_RULE)))
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def unit_tests_against(tmp_path: Path, rules_file: Path) -> Path:
    """alerts-test.yaml with its rule_files pointed at RULES_FILE."""
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    tests["rule_files"] = [str(rules_file)]
    path = tmp_path / "alerts-test.yaml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    return path


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    done = run_promtool("check", "rules", str(extracted(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout + done.stderr


def test_promtool_unit_tests_pass(tmp_path: Path) -> None:
    done = run_promtool("test", "rules", str(unit_tests_against(tmp_path, extracted(tmp_path))))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_the_unit_tests_as_committed_read_the_compose_rules_file() -> None:
    """Run by hand (promtool test rules k8s/components/monitoring/tests/alerts-test.yaml) they
    read the rules file written from the PrometheusRule."""
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    assert [(UNIT_TESTS.parent / f).resolve() for f in tests["rule_files"]] == [RULES_FILE.resolve()]


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    checks = [check for test in tests for check in test.get("alert_rule_test", [])]
    for rule in rules():
        mine = [c for c in checks if c["alertname"] == rule["alert"]]
        assert any(c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case where it fires"
        assert any(not c.get("exp_alerts") for c in mine), f"{rule['alert']}: no case where it stays quiet"


def _broken_groups(alert: str, old: str, new: str) -> dict[str, Any]:
    groups = alert_rules.rule_groups(PROMETHEUS_RULE)
    rule = next(r for g in groups["groups"] for r in g["rules"] if r.get("alert") == alert)
    assert old in rule["expr"], (alert, old)
    rule["expr"] = rule["expr"].replace(old, new, 1)
    return groups


def test_a_broken_expression_fails_check_rules(tmp_path: Path) -> None:
    broken = _broken_groups("KedasuiteDeadLetters", "increase(", "increase((")
    done = run_promtool("check", "rules", str(extracted(tmp_path, broken)))
    assert done.returncode != 0
    assert "KedasuiteDeadLetters" in done.stdout + done.stderr or "parse error" in done.stdout + done.stderr


def test_a_rule_that_no_longer_does_what_its_test_says_fails(tmp_path: Path) -> None:
    """Dead letters only past five: the unit test's single dead letter no longer fires it."""
    broken = _broken_groups("KedasuiteDeadLetters", ") > 0", ") > 5")
    rules_file = extracted(tmp_path, broken)
    check = run_promtool("check", "rules", str(rules_file))
    assert check.returncode == 0, check.stdout + check.stderr
    done = run_promtool("test", "rules", str(unit_tests_against(tmp_path, rules_file)))
    assert done.returncode != 0, done.stdout
    assert "KedasuiteDeadLetters" in done.stdout + done.stderr


# --- the k8s component -------------------------------------------------------------------------


def test_the_component_ships_its_dashboard_as_a_grafana_configmap(tmp_path: Path) -> None:
    assert isinstance(json.loads((COMPONENT / "dashboards" / "kedasuite.json").read_text()), dict)
    objs = mc.render(combination(tmp_path, [*(w.component for w in WORKLOADS), "monitoring"]))
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "kedasuite-dashboards"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == defaults.KUBE_NAMESPACE
    assert set(cm["data"]) == {"kedasuite.json"}
    monitors = {o["metadata"]["name"]: o for o in objs if o["kind"] == "PodMonitor"}
    assert set(monitors) == {"kedasuite-workers", "kedasuite-pump"}
    (selector,) = monitors["kedasuite-workers"]["spec"]["selector"]["matchExpressions"]
    assert sorted(selector["values"]) == sorted(w.deployment or w.keda_name for w in WORKLOADS)


# --- compose's observe profile ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (short syntax, relative to compose.yaml)."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            found[target] = (COMPOSE.parent / source).resolve()
    return found


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    for target, source in sorted(mounts(service).items(), key=lambda kv: -len(kv[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / container_path[len(target) :].lstrip("/")
    return None


def flag(service: dict[str, Any], name: str) -> str | None:
    for arg in service.get("command") or []:
        if str(arg).startswith(f"--{name}="):
            return str(arg).split("=", 1)[1]
    return None


def test_the_observe_profile_is_prometheus_and_grafana(compose) -> None:
    services = compose["services"]
    observe = {name for name, s in services.items() if "observe" in (s.get("profiles") or [])}
    assert observe == {"prometheus", "grafana"}
    for name in observe:
        service = services[name]
        image, _, tag = service["image"].rpartition(":")
        assert image in {"prom/prometheus", "grafana/grafana"} and tag and tag != "latest", service["image"]
        check = service["healthcheck"]
        assert check["test"] and "start_period" in check, name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    assert compose["services"]["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_prometheus_scrapes_what_compose_runs(compose) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    config_path = host_path(prometheus, flag(prometheus, "config.file") or "")
    assert config_path == (OBSERVE / "prometheus" / "prometheus.yml").resolve()
    config = yaml.safe_load(config_path.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"pump", "workers", "autoscale"}

    # The pump, on the port it serves.
    (pump,) = [t for sc in jobs["pump"]["static_configs"] for t in sc["targets"]]
    assert pump == f"pump:{defaults.PUMP_PORT}"

    # Every service that serves worker metrics, by name, on its METRICS_PORT.
    serving = {
        name: str(s["environment"][Env.METRICS_PORT])
        for name, s in services.items()
        if Env.METRICS_PORT in (s.get("environment") or {})
    }
    (dns,) = jobs["workers"]["dns_sd_configs"]
    assert sorted(dns["names"]) == sorted(serving)
    assert {str(dns["port"])} == set(serving.values())
    assert dns["type"] == "A"

    # The autoscaler on the host; compose maps the name for Linux.
    (autoscale,) = [t for sc in jobs["autoscale"]["static_configs"] for t in sc["targets"]]
    assert autoscale == f"{AUTOSCALE_HOST}:{AUTOSCALE_METRICS_PORT}"
    assert f"{AUTOSCALE_HOST}:host-gateway" in prometheus["extra_hosts"]
    assert jobs["autoscale"]["honor_labels"] is True

    # Every series gets the namespace label a cluster gives it.
    for name in ("pump", "autoscale"):
        assert all(sc["labels"]["namespace"] == defaults.KUBE_NAMESPACE for sc in jobs[name]["static_configs"])
    assert {"target_label": "namespace", "replacement": defaults.KUBE_NAMESPACE} in jobs["workers"]["relabel_configs"]

    # Every target host is a service of the file, or the host.
    for job in jobs.values():
        for target in [t for sc in job.get("static_configs", []) for t in sc["targets"]]:
            host = target.rpartition(":")[0]
            assert host in services or host == AUTOSCALE_HOST, target
        for sd in job.get("dns_sd_configs", []):
            assert set(sd["names"]) <= set(services), sd["names"]


def test_prometheus_loads_the_rules_file(compose) -> None:
    prometheus = compose["services"]["prometheus"]
    config = yaml.safe_load((OBSERVE / "prometheus" / "prometheus.yml").read_text())
    loaded = set()
    for pattern in config["rule_files"]:
        where = host_path(prometheus, pattern)
        assert where is not None, f"{pattern} is not under a mount of the prometheus service"
        loaded |= {p.resolve() for p in where.parent.glob(where.name)}
    assert loaded == {RULES_FILE.resolve()}
    port = (flag(prometheus, "web.listen-address") or "").rpartition(":")[2]
    assert prometheus["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_grafanas_provisioning_is_well_formed_and_mounted(compose) -> None:
    grafana = compose["services"]["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    assert provisioning == (OBSERVE / "grafana" / "provisioning").resolve()

    (datasources,) = (provisioning / "datasources").glob("*.yml")
    data = yaml.safe_load(datasources.read_text())
    assert data["apiVersion"] == 1
    (source,) = data["datasources"]
    assert source["type"] == "prometheus" and source["access"] == "proxy" and source["isDefault"] is True
    assert source["uid"] == "prometheus", "the uid a dashboard names (kube-prometheus-stack's too)"
    url = urlsplit(source["url"])
    prometheus = compose["services"]["prometheus"]
    assert url.hostname == "prometheus" and str(url.port) == flag(prometheus, "web.listen-address").rpartition(":")[2]

    (providers_file,) = (provisioning / "dashboards").glob("*.yml")
    providers = yaml.safe_load(providers_file.read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    dashboards = host_path(grafana, provider["options"]["path"])
    assert dashboards == (OBSERVE / "grafana" / "dashboards").resolve()
    files = sorted(dashboards.glob("*.json"))
    assert [p.name for p in files] == ["kedasuite.json"]
    for path in files:
        assert isinstance(json.loads(path.read_text()), dict), path
    home = host_path(grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home is not None and home.is_file()


def _compose_cli() -> str | None:
    """Why ``docker compose`` cannot parse files here, or ``None`` when it can (no engine needed)."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60, check=False)
    return None if done.returncode == 0 else f"`docker compose version` exited {done.returncode}: {done.stderr[-300:]}"


def test_compose_lists_prometheus_and_grafana_only_in_the_observe_profile() -> None:
    """What users run: ``docker compose --profile observe config`` (it needs the Compose CLI, not an engine)."""
    why = _compose_cli()
    if why is not None:
        pytest.skip(why)

    def services(*profile: str) -> set[str]:
        done = subprocess.run(
            ["docker", "compose", *profile, "config", "--services"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return set(done.stdout.split())

    observed = services("--profile", "observe")
    assert {"prometheus", "grafana"} <= observed, observed
    assert not {"prometheus", "grafana"} & services(), "the observe services start only with their profile"
