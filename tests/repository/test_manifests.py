"""Every kustomize combination renders, validates, and agrees with the naming contract.

Offline: ``kubectl kustomize`` renders, the KEDA v2.20.2 and prometheus-operator v0.93.0 CRD
schemas (vendored) and Kubernetes' own schemas validate, and :mod:`kedasuite.keda.manifest_checks` checks what the
schemas cannot. The second half breaks a good render in each way the checker must catch.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedasuite.core.names import Env
from kedasuite.core.workloads import NAMES, WORKLOADS
from kedasuite.keda import manifest_checks as mc
from tests.support.kustomize import combination

#: A static check of the repository's files: scripts/lint runs it (not scripts/test --fast).
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KEDA_COMPONENTS = [w.component for w in WORKLOADS]
#: What runs each workload: its Deployment, or the ScaledJob (and the base's Job) of that name.
TARGETS = [w.deployment or w.keda_name for w in WORKLOADS]


COMBINATIONS = {
    "base": lambda tmp: K8S / "base",
    "overlays/local": lambda tmp: K8S / "overlays" / "local",
    "overlays/managed": lambda tmp: K8S / "overlays" / "managed",
    "overlays/prometheus": lambda tmp: K8S / "overlays" / "prometheus",
    "base+prometheus": lambda tmp: combination(tmp, ["prometheus"]),
    "base+monitoring": lambda tmp: combination(tmp, ["monitoring"]),
    **{f"base+{c}": (lambda tmp, c=c: combination(tmp, [c])) for c in KEDA_COMPONENTS},
    "base+all+without-networkpolicies": lambda tmp: combination(tmp, [*KEDA_COMPONENTS, "without-networkpolicies"]),
    "base+all+monitoring+without-networkpolicies": lambda tmp: combination(
        tmp, [*KEDA_COMPONENTS, "monitoring", "without-networkpolicies"]
    ),
    "base+all+external-services+monitoring": lambda tmp: combination(
        tmp, [*KEDA_COMPONENTS, "external-services", "monitoring"]
    ),
}


@pytest.fixture(scope="module")
def local() -> list[dict[str, Any]]:
    return mc.render(K8S / "overlays" / "local")


def test_every_overlay_and_component_has_a_readme_or_comment() -> None:
    for component in (K8S / "components").iterdir():
        assert (component / "README.md").is_file(), f"{component.name} has no README.md"
    assert sorted(p.name for p in (K8S / "overlays").iterdir()) == ["local", "managed", "prometheus"]


@pytest.mark.parametrize("name", list(COMBINATIONS))
def test_combination_renders_and_passes_every_check(name: str, tmp_path: Path) -> None:
    objs = mc.render(COMBINATIONS[name](tmp_path))
    assert objs
    assert mc.check(objs) == []
    assert {o["metadata"].get("namespace") for o in objs if o["kind"] != "Namespace"} == {"kedasuite"}


def test_without_networkpolicies_drops_exactly_the_policies(local, tmp_path: Path) -> None:
    kept = mc.render(combination(tmp_path, [*KEDA_COMPONENTS, "without-networkpolicies"]))
    policies = [mc.ref(o) for o in local if o["kind"] == "NetworkPolicy"]
    assert len(policies) >= 7, "base has a policy per broker, the pump and each worker"
    assert sorted(mc.ref(o) for o in kept) == sorted(mc.ref(o) for o in local if o["kind"] != "NetworkPolicy")


def test_workloads_reach_only_dns_and_the_brokers_they_use(local) -> None:
    policies = {o["metadata"]["name"]: o["spec"] for o in local if o["kind"] == "NetworkPolicy"}
    uses = {
        "pump": {"redis", "kafka"},
        "celery-worker": {"redis"},
        "kafka-consumer": {"redis", "kafka"},
        "rq-worker": {"redis"},
        "workqueue": {"redis"},
    }
    for name, brokers in uses.items():
        spec = policies[name]
        assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": name}}
        assert "Egress" in spec["policyTypes"], name
        peers = set()
        for rule in spec["egress"]:
            for peer in rule["to"]:
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                peers.add("dns" if labels.get("k8s-app") == "kube-dns" else labels["app.kubernetes.io/name"])
        assert peers == {"dns", *brokers}, name
        if name != "pump":
            assert spec["ingress"] == [], f"{name} serves nothing"


def _pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels a Deployment's or a ScaledJob's pods get."""
    spec = obj["spec"]
    template = spec["jobTargetRef"]["template"] if obj["kind"] == "ScaledJob" else spec["template"]
    return template.get("metadata", {}).get("labels", {})


@pytest.mark.parametrize("overlay", ["local", "prometheus"])
def test_each_broker_admits_the_pods_that_use_it(overlay: str, request: pytest.FixtureRequest) -> None:
    """An egress rule is half a connection: the broker's ingress must admit the client's pods too,
    by labels the pods (not just their Deployment) carry."""
    objs = request.getfixturevalue(overlay)
    policies = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "NetworkPolicy"}
    pods = {o["metadata"]["name"]: _pod_labels(o) for o in objs if o["kind"] in ("Deployment", "ScaledJob")}
    uses = {
        "redis": ["pump", "celery-worker", "kafka-consumer", "rq-worker", "workqueue"],
        "kafka": ["pump", "kafka-consumer"],
    }
    shut_out = []
    for broker, clients in uses.items():
        selectors = [
            peer["podSelector"].get("matchLabels", {})
            for rule in policies[broker]["ingress"]
            for peer in rule.get("from", [])
            if "podSelector" in peer and "namespaceSelector" not in peer
        ]
        for client in clients:
            labels = pods[client]
            if not any(all(labels.get(k) == v for k, v in wanted.items()) for wanted in selectors):
                shut_out.append(f"{client} (pod labels {labels}) by {broker} (admits {selectors})")
    assert not shut_out, "a NetworkPolicy shuts these pods out of a broker they use: " + "; ".join(shut_out)


def test_local_overlay_scales_every_workload(local) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in local}
    assert {(w.keda_kind, w.keda_name) for w in WORKLOADS} <= kinds
    for job in (w for w in WORKLOADS if w.is_job):
        assert ("Job", job.keda_name) not in kinds, "the ScaledJob replaces the base's plain Job"


@pytest.fixture(scope="module")
def managed() -> list[dict[str, Any]]:
    return mc.render(K8S / "overlays" / "managed")


def test_managed_overlay_has_no_brokers_and_no_secret_values(managed) -> None:
    objs = managed
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objs}
    assert not {("Deployment", "redis"), ("Deployment", "kafka"), ("Service", "redis")} & kinds
    assert not [o for o in objs if o["kind"] == "Secret"], "Secrets are created by the user, never committed"
    for obj in objs:
        if obj["kind"] in ("ScaledObject", "ScaledJob"):
            for i, trigger in enumerate(obj["spec"]["triggers"]):
                assert trigger.get("authenticationRef", {}).get("name") in {"redis-auth", "kafka-auth"}, (
                    f"{mc.ref(obj)}: trigger {i} has no TriggerAuthentication; "
                    "k8s/components/external-services/kustomization.yaml patches each KEDA object"
                )
                assert "password" not in trigger["metadata"]


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_managed_overlay_points_every_workload_at_the_outside_brokers(managed, row) -> None:
    """external-services patches each workload by name (its env and its NetworkPolicy): a
    workload it does not name would look for the in-cluster brokers the overlay removed."""
    name = row.deployment or row.keda_name
    holder = find(managed, row.keda_kind if row.is_job else "Deployment", name)
    spec = holder["spec"].get("jobTargetRef", holder["spec"])
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    patches = "k8s/components/external-services/"
    for variable in (Env.REDIS_ADDRESS, Env.KAFKA_BOOTSTRAP_SERVERS):
        if variable in env:
            assert "secretKeyRef" in env[variable].get("valueFrom", {}), (
                f"{name}: {variable} is {env[variable].get('value')!r}, not read from a Secret: see {patches}"
            )
    assert find(managed, "NetworkPolicy", name)["spec"]["egress"] == [{}], (
        f"{name}: its NetworkPolicy still allows only the in-cluster brokers: see {patches}kustomization.yaml"
    )


@pytest.fixture(scope="module")
def prometheus() -> list[dict[str, Any]]:
    return mc.render(K8S / "overlays" / "prometheus")


def test_prometheus_overlay_is_local_plus_prometheus_monitoring_and_the_pump_scaler(local, prometheus) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in prometheus}
    added = kinds - {(o["kind"], o["metadata"]["name"]) for o in local}
    assert added == {
        ("Deployment", "prometheus"),
        ("Service", "prometheus"),
        ("ConfigMap", "prometheus"),
        ("ServiceAccount", "prometheus"),
        ("Role", "prometheus"),
        ("RoleBinding", "prometheus"),
        ("NetworkPolicy", "prometheus"),
        ("ScaledObject", "pump"),
        ("PodMonitor", "kedasuite-workers"),
        ("PodMonitor", "kedasuite-pump"),
        ("PrometheusRule", "kedasuite"),
        ("ConfigMap", "kedasuite-dashboards"),
    }
    (trigger,) = find(prometheus, "ScaledObject", "pump")["spec"]["triggers"]
    assert trigger["metadata"]["query"] == "sum(rate(kedasuite_pump_http_requests_total[2m]))"
    assert trigger["metadata"]["threshold"] == "3"
    assert find(prometheus, "ScaledObject", "pump")["spec"]["minReplicaCount"] == 1
    test_pods_are_locked_down(prometheus)


#: The ingress rule each component opens on the workers' NetworkPolicies: the prometheus
#: component's own Prometheus, and an operator's in the namespace `monitoring`.
OWN_PROMETHEUS = {
    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
    "ports": [{"port": "metrics"}],
}
OPERATOR_PROMETHEUS = {
    "from": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ],
    "ports": [{"port": "metrics"}],
}


def test_prometheus_may_scrape_the_workers_and_nothing_else_opens(local, prometheus, tmp_path: Path) -> None:
    monitoring = mc.render(combination(tmp_path, [*KEDA_COMPONENTS, "monitoring"]))
    for name in TARGETS:
        assert find(local, "NetworkPolicy", name)["spec"]["ingress"] == [], name
        assert find(monitoring, "NetworkPolicy", name)["spec"]["ingress"] == [OPERATOR_PROMETHEUS], name
        # the overlay lists monitoring after prometheus: its rule is added to the one that replaced []
        assert find(prometheus, "NetworkPolicy", name)["spec"]["ingress"] == [OWN_PROMETHEUS, OPERATOR_PROMETHEUS], name
    assert find(prometheus, "NetworkPolicy", "prometheus")["spec"]["ingress"] == [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}],
            "ports": [{"port": 9090}],
        }
    ]
    (rule,) = find(prometheus, "Role", "prometheus")["rules"]
    assert (rule["resources"], rule["verbs"]) == (["pods", "endpoints"], ["list", "watch"])


def test_pods_are_locked_down(local) -> None:
    for obj in local:
        pod = mc._pod_spec(obj)
        if pod is None:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True, mc.ref(obj)
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", mc.ref(obj)
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, mc.ref(obj)
            assert security["allowPrivilegeEscalation"] is False, mc.ref(obj)
            assert security["capabilities"]["drop"] == ["ALL"], mc.ref(obj)
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), mc.ref(obj)
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), mc.ref(obj)
            if container.get("ports"):
                assert "readinessProbe" in container and "livenessProbe" in container, mc.ref(obj)


def checkov() -> str:
    for candidate in (ROOT / ".venv-tools" / "bin" / "checkov", shutil.which("checkov")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail("checkov is not installed: run scripts/bootstrap (it puts checkov in .venv-tools)")


def run_checkov(paths: list[Path], frameworks: list[str]) -> subprocess.CompletedProcess[str]:
    """One checkov run over every file (it takes seconds to start: once, not once per file)."""
    files = [arg for path in paths for arg in ("-f", str(path))]
    return subprocess.run(
        [checkov(), *files, "--framework", *frameworks, "--compact", "--quiet", "--skip-download"],
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )


CHECKOV_RENDERS = ["base", "overlays/local", "overlays/managed", "overlays/prometheus"]


def test_checkov_finds_nothing_in_the_rendered_manifests_and_the_dockerfile(tmp_path: Path) -> None:
    """Each render (one file apiece, named after it) and the Dockerfile, in a single checkov run."""
    rendered = []
    for name in CHECKOV_RENDERS:
        work = tmp_path / name.replace("/", "-")
        work.mkdir()
        path = tmp_path / f"{name.replace('/', '-')}.yaml"
        path.write_text(yaml.safe_dump_all(mc.render(COMBINATIONS[name](work))))
        rendered.append(path)
    dockerfile = ROOT / "Dockerfile"
    assert dockerfile.is_file()
    done = run_checkov([*rendered, dockerfile], ["kubernetes", "dockerfile"])
    assert done.returncode == 0, done.stdout[-4000:]
    summaries = re.findall(r"^(\w+) scan results:\s+Passed checks: \d+, Failed checks: (\d+)", done.stdout, re.M)
    assert sorted(summaries) == [("dockerfile", "0"), ("kubernetes", "0")], done.stdout[-4000:]


# --- The checker catches each way a manifest goes wrong -------------------------------------------


def find(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def container_of(objs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return find(objs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def set_env(container: dict[str, Any], name: str, value: str) -> None:
    container["env"] = [e for e in container["env"] if e["name"] != name] + [{"name": name, "value": value}]


Breakage = Callable[[list[dict[str, Any]]], None]
BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "unknown field": (
        lambda o: find(o, "ScaledObject", "celery-worker")["spec"].update(pollingIntervall=5),
        "ScaledObject/celery-worker: spec: Additional properties are not allowed ('pollingIntervall' was unexpected)",
    ),
    "misspelt trigger field": (
        lambda o: find(o, "ScaledObject", "rq-worker")["spec"]["triggers"][0].update(metdata={}),
        "ScaledObject/rq-worker: spec.triggers.0: Additional properties are not allowed ('metdata' was unexpected)",
    ),
    "number in metadata": (
        lambda o: find(o, "ScaledObject", "celery-worker")["spec"]["triggers"][0]["metadata"].update(listLength=10),
        'ScaledObject/celery-worker: trigger 0 (redis): metadata.listLength must be a string, e.g. "10"; '
        "KEDA rejects 10",
    ),
    "missing target": (
        lambda o: find(o, "ScaledObject", "rq-worker")["spec"]["scaleTargetRef"].update(name="rq-workers"),
        "ScaledObject/rq-worker: scaleTargetRef names Deployment/rq-workers, which is not in this render",
    ),
    "env var not in the container": (
        lambda o: find(o, "ScaledObject", "celery-worker")["spec"]["triggers"][0]["metadata"].update(
            addressFromEnv="REDIS_HOST"
        ),
        "ScaledObject/celery-worker: trigger 0 (redis): addressFromEnv names REDIS_HOST, which container "
        "celery-worker does not set",
    ),
    "wrong list": (
        lambda o: find(o, "ScaledObject", "celery-worker")["spec"]["triggers"][0]["metadata"].update(
            listName="celery-tasks"
        ),
        "ScaledObject/celery-worker: scales `worker celery`, which works on listName 'celery', but its redis "
        "triggers watch ['celery-tasks', 'unacked']",
    ),
    "a list the workload does not use": (
        lambda o: find(o, "ScaledObject", "rq-worker")["spec"]["triggers"][1]["metadata"].update(
            listName="rq:queue:high"
        ),
        "ScaledObject/rq-worker: redis trigger listName 'rq:queue:high' is not one `worker rq` uses "
        "(rq:queue:default, rq:wip:default)",
    ),
    "wrong work-queue list": (
        lambda o: find(o, "ScaledJob", "workqueue")["spec"]["triggers"][0]["metadata"].update(listName="jobs"),
        "ScaledJob/workqueue: scales `job workqueue`, which works on listName 'job', but its redis triggers "
        "watch ['jobs']",
    ),
    "wrong topic": (
        lambda o: find(o, "ScaledObject", "kafka-consumer")["spec"]["triggers"][0]["metadata"].update(topic="users"),
        "ScaledObject/kafka-consumer: kafka trigger topic 'users' is not the consumers' topic 'test-topic'",
    ),
    "wrong group": (
        lambda o: find(o, "ScaledObject", "kafka-consumer")["spec"]["triggers"][0]["metadata"].update(
            consumerGroup="other"
        ),
        "ScaledObject/kafka-consumer: kafka trigger consumerGroup 'other' is not the consumers' group "
        "'test-consumer-group' (contract: 'test-consumer-group')",
    ),
    "reset policies differ": (
        lambda o: find(o, "ScaledObject", "kafka-consumer")["spec"]["triggers"][0]["metadata"].update(
            offsetResetPolicy="latest"
        ),
        "ScaledObject/kafka-consumer: kafka trigger offsetResetPolicy 'latest' differs from the consumers' "
        "KAFKA_OFFSET_RESET 'earliest': KEDA would count lag the consumers do not have",
    ),
    "a metricType in a ScaledJob trigger": (
        lambda o: find(o, "ScaledJob", "workqueue")["spec"]["triggers"][0].update(metricType="AverageValue"),
        "ScaledJob/workqueue: trigger 0 (redis): metricType 'AverageValue' is set; KEDA refuses any metricType in a "
        'ScaledJob\'s triggers ("Cannot set metricType in ScaledJob triggers") and never starts its scale loop: '
        "remove it",
    ),
    "job pods that restart always": (
        lambda o: find(o, "ScaledJob", "workqueue")["spec"]["jobTargetRef"]["template"]["spec"].update(
            restartPolicy="Always"
        ),
        "ScaledJob/workqueue: jobTargetRef pods need restartPolicy Never or OnFailure, not Always: every Job "
        "creation would fail",
    ),
    "name too long": (
        lambda o: find(o, "ScaledObject", "rq-worker")["metadata"].update(name="r" * 55),
        f"ScaledObject/{'r' * 55}: name longer than 54 characters: KEDA's HPA name keda-hpa-<name> would exceed 63",
    ),
    "two scaledobjects, one workload": (
        lambda o: o.append(dict(copy.deepcopy(find(o, "ScaledObject", "rq-worker")), metadata={"name": "rq-2"})),
        "Deployment/rq-worker: targeted by 2 ScaledObjects; KEDA allows one",
    ),
    "unknown authentication": (
        lambda o: find(o, "ScaledObject", "celery-worker")["spec"]["triggers"][0].update(
            authenticationRef={"name": "nope"}
        ),
        "ScaledObject/celery-worker: trigger 0 (redis): authenticationRef names TriggerAuthentication/nope, "
        "which is not in this render",
    ),
    "core object typo": (
        lambda o: find(o, "Deployment", "pump")["spec"].update(replica=2),
        "Deployment/pump: spec: Additional properties are not allowed ('replica' was unexpected)",
    ),
}


def _pump_trigger(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objs, "ScaledObject", "pump")["spec"]["triggers"][0]["metadata"]


PROMETHEUS_BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "no scheme": (
        lambda o: _pump_trigger(o).update(serverAddress="prometheus.kedasuite.svc:9090"),
        "ScaledObject/pump: trigger 0 (prometheus): serverAddress 'prometheus.kedasuite.svc:9090' needs a "
        "scheme and a host, e.g. http://prometheus.kedasuite.svc:9090",
    ),
    "trailing slash": (
        lambda o: _pump_trigger(o).update(serverAddress="http://prometheus.kedasuite.svc:9090/"),
        "ScaledObject/pump: trigger 0 (prometheus): serverAddress 'http://prometheus.kedasuite.svc:9090/' "
        "ends in '/'; KEDA appends /api/v1/query to it",
    ),
    "no such service": (
        lambda o: _pump_trigger(o).update(serverAddress="http://prom.kedasuite.svc:9090"),
        "ScaledObject/pump: trigger 0 (prometheus): serverAddress names Service/prom, which is not in "
        "this render (add the prometheus component)",
    ),
    "wrong port": (
        lambda o: _pump_trigger(o).update(serverAddress="http://prometheus.kedasuite.svc:80"),
        "ScaledObject/pump: trigger 0 (prometheus): serverAddress port 80 is not a port of Service/prometheus",
    ),
    "another metric": (
        lambda o: _pump_trigger(o).update(query="sum(rate(http_requests_total[2m]))"),
        "ScaledObject/pump: trigger 0 (prometheus): scales the pump, but its query does not read "
        "kedasuite_pump_http_requests_total",
    ),
    "pump to zero": (
        lambda o: find(o, "ScaledObject", "pump")["spec"].update(minReplicaCount=0),
        "ScaledObject/pump: the pump is the entry point: minReplicaCount must be at least 1, or no replica "
        "answers the requests that would scale it up",
    ),
    "scrape a port nobody serves": (
        lambda o: find(o, "Deployment", "rq-worker")["spec"]["template"]["metadata"]["annotations"].update(
            {"prometheus.io/port": "9200"}
        ),
        "Deployment/rq-worker: annotation prometheus.io/port '9200' is not a containerPort of its pod (9100)",
    ),
    "metrics on another port": (
        lambda o: set_env(container_of(o, "celery-worker"), "METRICS_PORT", "9200"),
        "Deployment/celery-worker: container celery-worker serves metrics on METRICS_PORT=9200, not the scraped "
        "port 9100",
    ),
}


def _rule(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objs, "PrometheusRule", "kedasuite")["spec"]["groups"][0]["rules"][0]


def _workers_monitor(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return find(objs, "PodMonitor", "kedasuite-workers")["spec"]


#: Broken monitoring objects, and the start of the problem each must produce (the schema's
#: messages quote long patterns).
MONITORING_BREAKAGES: dict[str, tuple[Breakage, str]] = {
    "misspelt rule field": (
        lambda o: _rule(o).update(annotation={"summary": "x"}),
        "PrometheusRule/kedasuite: spec.groups.0.rules.0: Additional properties are not allowed "
        "('annotation' was unexpected)",
    ),
    "a for that is not a duration": (
        lambda o: _rule(o).update({"for": "10 minutes"}),
        "PrometheusRule/kedasuite: spec.groups.0.rules.0.for: '10 minutes' does not match",
    ),
    "a rule without an expression": (
        lambda o: _rule(o).pop("expr"),
        "PrometheusRule/kedasuite: spec.groups.0.rules.0: 'expr' is a required property",
    ),
    "a group without a name": (
        lambda o: find(o, "PrometheusRule", "kedasuite")["spec"]["groups"][1].pop("name"),
        "PrometheusRule/kedasuite: spec.groups.1: 'name' is a required property",
    ),
    "a label that is not a string": (
        lambda o: _rule(o)["labels"].update(priority=1),
        "PrometheusRule/kedasuite: spec.groups.0.rules.0.labels.priority: 1 is not of type 'string'",
    ),
    "the operator's older API": (
        lambda o: find(o, "PrometheusRule", "kedasuite").update(apiVersion="monitoring.coreos.com/v1alpha1"),
        "PrometheusRule/kedasuite: apiVersion must be monitoring.coreos.com/v1, not 'monitoring.coreos.com/v1alpha1'",
    ),
    "misspelt endpoint field": (
        lambda o: _workers_monitor(o)["podMetricsEndpoints"][0].update(prot="metrics"),
        "PodMonitor/kedasuite-workers: spec.podMetricsEndpoints.0: Additional properties are not allowed "
        "('prot' was unexpected)",
    ),
    "a port the pods do not name": (
        lambda o: _workers_monitor(o)["podMetricsEndpoints"][0].update(port="metric"),
        "PodMonitor/kedasuite-workers: port 'metric' is not a named containerPort of Deployment/celery-worker "
        "(metrics)",
    ),
    "a selector that matches nothing": (
        lambda o: _workers_monitor(o)["selector"]["matchExpressions"][0].update(values=["celery"]),
        "PodMonitor/kedasuite-workers: its selector matches no pod of this render",
    ),
}


@pytest.mark.parametrize("breakage", list(MONITORING_BREAKAGES))
def test_a_broken_monitoring_object_is_caught(prometheus, breakage: str) -> None:
    broken = copy.deepcopy(prometheus)
    damage, expected = MONITORING_BREAKAGES[breakage]
    damage(broken)
    problems = mc.check(broken)
    assert any(p.startswith(expected) for p in problems), "\n".join(problems)


@pytest.mark.parametrize("breakage", list(PROMETHEUS_BREAKAGES))
def test_a_broken_prometheus_manifest_is_caught(prometheus, breakage: str) -> None:
    broken = copy.deepcopy(prometheus)
    damage, expected = PROMETHEUS_BREAKAGES[breakage]
    damage(broken)
    problems = mc.check(broken)
    assert expected in problems, "\n".join(problems)


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_manifest_is_caught(local, breakage: str) -> None:
    broken = copy.deepcopy(local)
    damage, expected = BREAKAGES[breakage]
    damage(broken)
    problems = mc.check(broken)
    assert expected in problems, "\n".join(problems)


def test_a_scaled_job_pod_may_leave_its_restart_policy_out(local) -> None:
    """KEDA v2.20.2 sets OnFailure when the template leaves it out (generateJobs, scale_jobs.go), and
    refuses a trigger's metricType only when it is not empty (reconcileScaledJob)."""
    objs = copy.deepcopy(local)
    job = find(objs, "ScaledJob", "workqueue")["spec"]
    job["jobTargetRef"]["template"]["spec"].pop("restartPolicy")
    job["triggers"][0]["metricType"] = ""
    assert mc.contract_problems(objs) == []


def test_check_manifests_command(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "kedasuite", "check-manifests", "k8s/overlays/local"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert good.returncode == 0, good.stdout
    assert good.stdout.splitlines()[-1] == (
        "k8s/overlays/local: 28 objects, no problems; lint: 0 errors, 0 warnings, 4 notes"
    )

    broken = tmp_path / "broken"
    broken.mkdir()
    objs = mc.render(K8S / "overlays" / "local")
    find(objs, "ScaledObject", "celery-worker")["spec"]["triggers"][0]["metadata"]["listName"] = "tasks"
    (broken / "all.yaml").write_text(yaml.safe_dump_all(objs))
    (broken / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    bad = subprocess.run(
        [sys.executable, "-m", "kedasuite", "check-manifests", str(broken)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert f"{broken}: 28 objects, 1 problem;" in bad.stdout.splitlines()[-1]
