"""Offline checks of rendered Kubernetes manifests: what makes a KEDA demo silently not scale.

Three layers, each returning a list of problems (empty means fine):

* :func:`schema_problems`: KEDA objects against the KEDA v2.20.2 CRD schemas vendored in
  ``kedasuite/keda/schemas``, and prometheus-operator's PodMonitors, ServiceMonitors and
  PrometheusRules against its v0.93.0 CRD schemas vendored beside them, made strict: the
  API server silently drops a field the schema does not know (a misspelt
  ``pollingInterval`` is simply ignored), so here it is an error.
* :func:`core_problems`: every other object against the Kubernetes API schema of a named
  version (``kubernetes-validate``).
* :func:`contract_problems`: what no schema can see: trigger metadata values are strings,
  every ``scaleTargetRef`` names a Deployment in the same render, every ``*FromEnv`` names
  an env var of the target container, list names / topic / group equal the naming
  contract for the workload the container runs, a ScaledJob's pods do not restart
  ``Always`` and its triggers set no ``metricType``, names fit KEDA's limits, one
  ScaledObject per workload; a prometheus trigger's serverAddress is a URL KEDA can extend
  and names a Service (and port) of the render when it points into the same namespace; the
  pump, scaled on its request counter, never goes to zero; a PodMonitor selects pods of the
  render and names a port each of them has.

What a manifest that works does badly (grace periods shorter than a task, more consumers
than partitions, settings KEDA ignores, ...) is :mod:`kedasuite.keda.lint`'s: findings with
the numbers, the reason and the fix, not problems.
"""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kedasuite.core import defaults, names
from kedasuite.core.errors import SuiteError
from kedasuite.core.names import Env
from kedasuite.core.workloads import WORKLOADS

KEDA_KINDS = {"ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"}
SCHEMA_DIR = Path(__file__).parent / "schemas" / "keda-v2.20.2"
#: prometheus-operator's kinds the monitoring component uses, and where their CRDs are vendored.
MONITORING_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
MONITORING_SCHEMA_DIR = Path(__file__).parent / "schemas" / "prometheus-operator-v0.93.0"
#: The API version of each custom kind the checker validates.
CRD_API_VERSIONS = {
    **dict.fromkeys(KEDA_KINDS, "keda.sh/v1alpha1"),
    **dict.fromkeys(MONITORING_KINDS, "monitoring.coreos.com/v1"),
}
#: The Kubernetes version core objects are validated for.
KUBERNETES_VERSION = "1.31"
#: KEDA names the HPA ``keda-hpa-<name>`` and the webhook caps that at 63 characters.
MAX_SCALEDOBJECT_NAME = 54

Obj = dict[str, Any]


def render(path: str | Path) -> list[Obj]:
    """``kubectl kustomize PATH``, parsed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise SuiteError("kubectl is needed to render kustomizations: install it (it includes kustomize)")
    done = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SuiteError(f"kubectl kustomize {path} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def ref(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# --- KEDA schemas ------------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """Forbid unknown fields wherever the schema lists its fields (as a structural schema
    prunes them), except where it says unknown fields are kept."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def _crd_schemas(folder: Path, pattern: str, version_name: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(folder.glob(pattern)):
        crd = yaml.safe_load(path.read_text())
        kind = crd["spec"]["names"]["kind"]
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == version_name]
        schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
        # apiVersion, kind and metadata are checked by the API server itself, not the CRD.
        schema.setdefault("properties", {})["metadata"] = {"type": "object"}
        found[kind] = _strict(schema)
    return found


@functools.cache
def keda_schemas() -> dict[str, dict[str, Any]]:
    return _crd_schemas(SCHEMA_DIR, "keda.sh_*.yaml", "v1alpha1")


@functools.cache
def monitoring_schemas() -> dict[str, dict[str, Any]]:
    return _crd_schemas(MONITORING_SCHEMA_DIR, "monitoring.coreos.com_*.yaml", "v1")


def crd_schema(kind: str) -> dict[str, Any]:
    return keda_schemas()[kind] if kind in KEDA_KINDS else monitoring_schemas()[kind]


def schema_problems(objs: Iterable[Obj]) -> list[str]:
    from jsonschema import Draft202012Validator

    problems = []
    for obj in objs:
        kind = obj.get("kind")
        if kind not in CRD_API_VERSIONS:
            continue
        if obj.get("apiVersion") != CRD_API_VERSIONS[kind]:
            problems.append(f"{ref(obj)}: apiVersion must be {CRD_API_VERSIONS[kind]}, not {obj.get('apiVersion')!r}")
            continue
        validator = Draft202012Validator(crd_schema(kind))
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{ref(obj)}: {where}: {error.message}")
    return problems


# --- Core Kubernetes objects -------------------------------------------------------------------


def core_problems(objs: Iterable[Obj], version: str = KUBERNETES_VERSION) -> list[str]:
    import kubernetes_validate

    problems = []
    for obj in objs:
        if obj.get("kind") in CRD_API_VERSIONS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{ref(obj)}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{ref(obj)}: no schema for it in Kubernetes {version}: {exc}")
    return problems


# --- What the schemas cannot see -----------------------------------------------------------------

#: What each workload's container command means for its trigger: (trigger type, field,
#: required value, other values allowed in that field: a ScaledObject may also count the
#: workload's in-flight key; a ScaledJob may not, or every running Job would ask for another).
WORKLOAD_TRIGGERS: dict[tuple[str, ...], tuple[str, str, str, set[str]]] = {
    w.command: (
        w.broker,
        "topic" if w.broker == "kafka" else "listName",
        w.backlog,
        {w.in_flight} if w.in_flight and not w.is_job else set(),
    )
    for w in WORKLOADS
}


def _pod_spec(obj: Obj) -> Obj | None:
    kind = obj.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj.get("spec", {}).get("template", {}).get("spec")
    if kind == "ScaledJob":
        return obj.get("spec", {}).get("jobTargetRef", {}).get("template", {}).get("spec")
    return None


def _env_names(container: Obj, objs: list[Obj]) -> set[str]:
    found = {e["name"] for e in container.get("env", []) if "name" in e}
    config_maps = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "ConfigMap"}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        cm = source.get("configMapRef", {}).get("name")
        if cm in config_maps:
            found |= {prefix + key for key in config_maps[cm].get("data", {})}
    return found


def env_value(container: Obj, name: str) -> str | None:
    """A container's literal ``env`` value (``None`` when unset or taken from a Secret / ConfigMap)."""
    for entry in container.get("env", []):
        if entry.get("name") == name and "value" in entry:
            return str(entry["value"])
    return None


def scaled_pod(obj: Obj, by_key: dict[tuple[Any, Any], Obj]) -> tuple[Obj | None, Obj | None]:
    """(the object holding the pod template, its pod spec) for a ScaledObject (its target, when the
    render has it) or a ScaledJob (itself): where the container KEDA reads env from lives."""
    if obj.get("kind") == "ScaledJob":
        return obj, _pod_spec(obj)
    target = obj.get("spec", {}).get("scaleTargetRef", {})
    holder = by_key.get((target.get("kind", "Deployment"), target.get("name")))
    return holder, (_pod_spec(holder) if holder is not None else None)


def scaled_container(obj: Obj, pod: Obj) -> Obj | None:
    """The container KEDA reads ``*FromEnv`` from: ``envSourceContainerName`` or the first."""
    containers = pod.get("containers", [])
    wanted = obj.get("spec", {}).get("scaleTargetRef", {}).get("envSourceContainerName") or obj.get("spec", {}).get(
        "envSourceContainerName"
    )
    if wanted:
        return next((c for c in containers if c.get("name") == wanted), None)
    return containers[0] if containers else None


def workload_command(container: Obj) -> tuple[str, ...] | None:
    """``("worker", "celery")`` and the like when the container runs one of the suite's workloads."""
    args = tuple(container.get("args") or container.get("command") or ())
    command = tuple(a for a in args if a != "kedasuite")[:2]
    return command if command in WORKLOAD_TRIGGERS else None


def _triggers(obj: Obj) -> Iterator[tuple[int, Obj]]:
    yield from enumerate(obj.get("spec", {}).get("triggers", []) or [])


def contract_problems(objs: list[Obj]) -> list[str]:
    problems: list[str] = []
    by_key = {(o.get("kind"), o.get("metadata", {}).get("name")): o for o in objs}
    auths = {o["metadata"]["name"] for o in objs if o.get("kind") == "TriggerAuthentication"}
    scaled = [o for o in objs if o.get("kind") in ("ScaledObject", "ScaledJob")]

    targets = Counter()
    for obj in scaled:
        spec = obj.get("spec", {})
        holder, pod = scaled_pod(obj, by_key)
        if obj["kind"] == "ScaledObject":
            name = obj["metadata"]["name"]
            if len(name) > MAX_SCALEDOBJECT_NAME and not spec.get("advanced", {}).get(
                "horizontalPodAutoscalerConfig", {}
            ).get("name"):
                problems.append(
                    f"{ref(obj)}: name longer than {MAX_SCALEDOBJECT_NAME} characters: KEDA's HPA name "
                    "keda-hpa-<name> would exceed 63"
                )
            target = spec.get("scaleTargetRef", {})
            kind = target.get("kind", "Deployment")
            targets[(kind, target.get("name"))] += 1
            if holder is None:
                problems.append(
                    f"{ref(obj)}: scaleTargetRef names {kind}/{target.get('name')}, which is not in this render"
                )
                continue
        else:
            problems += _scaled_job_problems(obj, pod or {})
        if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
            problems.append(f"{ref(obj)}: minReplicaCount exceeds maxReplicaCount")
        container = scaled_container(obj, pod or {})
        if container is None:
            problems.append(f"{ref(obj)}: its target has no container to read env from")
            continue
        problems += _trigger_problems(obj, container, objs, auths)
        problems += _prometheus_problems(obj, container, objs)

    for (kind, name), count in targets.items():
        if count > 1:
            problems.append(f"{kind}/{name}: targeted by {count} ScaledObjects; KEDA allows one")
    return problems + _scrape_problems(objs) + _pod_monitor_problems(objs)


def _scaled_job_problems(obj: Obj, pod: Obj) -> list[str]:
    """What makes KEDA create no Job at all (KEDA v2.20.2).

    A pod template that leaves ``restartPolicy`` out (or empty) is fine: ``generateJobs``
    (``pkg/scaling/executor/scale_jobs.go``) sets ``OnFailure``; only an explicit value a Job
    refuses (``Always``) fails every creation. A trigger's ``metricType``, any value (KEDA
    tests ``!= ""``), makes ``reconcileScaledJob`` (``controllers/keda/scaledjob_controller.go``)
    refuse the object.
    """
    problems = []
    restart = pod.get("restartPolicy")
    if restart and restart not in ("Never", "OnFailure"):
        problems.append(
            f"{ref(obj)}: jobTargetRef pods need restartPolicy Never or OnFailure, not "
            f"{restart}: every Job creation would fail"
        )
    for index, trigger in _triggers(obj):
        if trigger.get("metricType"):
            problems.append(
                f"{ref(obj)}: trigger {index} ({trigger.get('type')}): metricType "
                f"{trigger['metricType']!r} is set; KEDA refuses any metricType in a ScaledJob's "
                'triggers ("Cannot set metricType in ScaledJob triggers") and never starts its '
                "scale loop: remove it"
            )
    return problems


def _pod_metadata(obj: Obj) -> Obj:
    spec = obj.get("spec", {})
    template = spec.get("jobTargetRef", {}).get("template") if obj.get("kind") == "ScaledJob" else spec.get("template")
    return (template or {}).get("metadata") or {}


def _scrape_problems(objs: list[Obj]) -> list[str]:
    """A pod that asks to be scraped must serve metrics where its annotation says."""
    problems = []
    for obj in objs:
        pod = _pod_spec(obj)
        annotations = _pod_metadata(obj).get("annotations") or {}
        if pod is None or str(annotations.get("prometheus.io/scrape")) != "true":
            continue
        port = str(annotations.get("prometheus.io/port", ""))
        containers = pod.get("containers", [])
        served = {str(p.get("containerPort")) for c in containers for p in c.get("ports", [])}
        if port not in served:
            problems.append(
                f"{ref(obj)}: annotation prometheus.io/port {port!r} is not a containerPort of its pod "
                f"({', '.join(sorted(served)) or 'none'})"
            )
        for container in containers:
            if workload_command(container) is not None and env_value(container, Env.METRICS_PORT) != port:
                problems.append(
                    f"{ref(obj)}: container {container.get('name')} serves metrics on {Env.METRICS_PORT}="
                    f"{env_value(container, Env.METRICS_PORT)}, not the scraped port {port}"
                )
    return problems


def _selects(selector: Obj, labels: Obj) -> bool:
    """Does a label selector (matchLabels, matchExpressions) select these labels?"""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_monitor_problems(objs: list[Obj]) -> list[str]:
    """A PodMonitor that selects no pod of the render, or names a port a selected pod does
    not have, scrapes nothing, and nothing says so."""
    problems = []
    pods = [(obj, _pod_spec(obj), _pod_metadata(obj).get("labels") or {}) for obj in objs]
    pods = [(obj, pod, labels) for obj, pod, labels in pods if pod is not None]
    for monitor in (o for o in objs if o.get("kind") == "PodMonitor"):
        spec = monitor.get("spec") or {}
        if (spec.get("namespaceSelector") or {}).get("any") or (spec.get("namespaceSelector") or {}).get("matchNames"):
            continue  # pods of other namespaces: not this render's to check
        selected = [(obj, pod) for obj, pod, labels in pods if _selects(spec.get("selector") or {}, labels)]
        if not selected:
            problems.append(f"{ref(monitor)}: its selector matches no pod of this render")
        for endpoint in spec.get("podMetricsEndpoints") or []:
            port = endpoint.get("port")
            if not port:
                continue
            for obj, pod in selected:
                named = {p.get("name") for c in pod.get("containers", []) for p in c.get("ports", [])}
                if port not in named:
                    problems.append(
                        f"{ref(monitor)}: port {port!r} is not a named containerPort of {ref(obj)} "
                        f"({', '.join(sorted(n for n in named if n)) or 'none'})"
                    )
    return problems


def _trigger_problems(obj: Obj, container: Obj, objs: list[Obj], auths: set[str]) -> list[str]:
    problems = []
    env = _env_names(container, objs)
    workload = workload_command(container)
    for index, trigger in _triggers(obj):
        where = f"{ref(obj)}: trigger {index} ({trigger.get('type')})"
        metadata = trigger.get("metadata") or {}
        for key, value in metadata.items():
            if not isinstance(value, str):
                problems.append(f'{where}: metadata.{key} must be a string, e.g. "{value}"; KEDA rejects {value!r}')
            if key.endswith("FromEnv") and isinstance(value, str) and value not in env:
                problems.append(f"{where}: {key} names {value}, which container {container.get('name')} does not set")
        auth = trigger.get("authenticationRef")
        if (
            auth
            and auth.get("kind", "TriggerAuthentication") == "TriggerAuthentication"
            and auth.get("name") not in auths
        ):
            problems.append(
                f"{where}: authenticationRef names TriggerAuthentication/{auth.get('name')}, "
                "which is not in this render"
            )
    if workload is None:
        return problems
    kind, field, required, allowed = WORKLOAD_TRIGGERS[workload]
    mine = [t for _, t in _triggers(obj) if t.get("type") == kind]
    values = [(t.get("metadata") or {}).get(field) for t in mine]
    command = " ".join(workload)
    if required not in values:
        problems.append(
            f"{ref(obj)}: scales `{command}`, which works on {field} {required!r}, but its {kind} "
            f"triggers watch {values or 'nothing'}"
        )
    for value in values if required in values else []:
        if value != required and value not in allowed:
            problems.append(
                f"{ref(obj)}: {kind} trigger {field} {value!r} is not one `{command}` uses "
                f"({', '.join(sorted({required, *allowed}))})"
            )
    if kind == "kafka":
        problems += _kafka_problems(obj, container, mine)
    return problems


def _prometheus_problems(obj: Obj, container: Obj, objs: list[Obj]) -> list[str]:
    """What makes a prometheus trigger read nothing: an address KEDA cannot extend, a
    Service that is not there, a query that does not read the pump's counter."""
    problems = []
    pump = tuple(a for a in container.get("args") or container.get("command") or () if a != "kedasuite")[:1] == (
        "serve",
    )
    namespace = obj.get("metadata", {}).get("namespace")
    services = {
        (o["metadata"].get("namespace"), o["metadata"].get("name")): o for o in objs if o.get("kind") == "Service"
    }
    triggers = [(i, t) for i, t in _triggers(obj) if t.get("type") == "prometheus"]
    for index, trigger in triggers:
        where = f"{ref(obj)}: trigger {index} (prometheus)"
        metadata = trigger.get("metadata") or {}
        address = str(metadata.get("serverAddress", ""))
        url = urlsplit(address)
        if url.scheme not in ("http", "https") or not url.hostname:
            problems.append(
                f"{where}: serverAddress {address!r} needs a scheme and a host, e.g. "
                f"http://prometheus.{namespace or '<namespace>'}.svc:9090"
            )
            continue
        if address.endswith("/"):
            problems.append(f"{where}: serverAddress {address!r} ends in '/'; KEDA appends /api/v1/query to it")
        host = url.hostname.split(".")
        if len(host) >= 3 and host[2] == "svc" and host[1] == namespace:
            service = services.get((namespace, host[0]))
            port = url.port or (443 if url.scheme == "https" else 80)
            if service is None:
                problems.append(
                    f"{where}: serverAddress names Service/{host[0]}, which is not in this render "
                    "(add the prometheus component)"
                )
            elif port not in {p.get("port") for p in service.get("spec", {}).get("ports", [])}:
                problems.append(f"{where}: serverAddress port {port} is not a port of Service/{host[0]}")
        if pump and names.PUMP_REQUESTS_METRIC not in str(metadata.get("query", "")):
            problems.append(f"{where}: scales the pump, but its query does not read {names.PUMP_REQUESTS_METRIC}")
    if pump and triggers and obj.get("spec", {}).get("minReplicaCount", 0) < 1:
        problems.append(
            f"{ref(obj)}: the pump is the entry point: minReplicaCount must be at least 1, or no "
            "replica answers the requests that would scale it up"
        )
    return problems


def _kafka_problems(obj: Obj, container: Obj, triggers: list[Obj]) -> list[str]:
    problems = []
    group = env_value(container, Env.KAFKA_CONSUMER_GROUP) or names.KAFKA_CONSUMER_GROUP
    topic = env_value(container, Env.KAFKA_TOPIC) or names.KAFKA_TOPIC
    reset = env_value(container, Env.KAFKA_OFFSET_RESET) or defaults.KAFKA_OFFSET_RESET
    for trigger in triggers:
        metadata = trigger.get("metadata") or {}
        if metadata.get("consumerGroup", group) != group or group != names.KAFKA_CONSUMER_GROUP:
            problems.append(
                f"{ref(obj)}: kafka trigger consumerGroup {metadata.get('consumerGroup')!r} is not the "
                f"consumers' group {group!r} (contract: {names.KAFKA_CONSUMER_GROUP!r})"
            )
        if metadata.get("topic") != topic:
            problems.append(
                f"{ref(obj)}: kafka trigger topic {metadata.get('topic')!r} is not the consumers' topic {topic!r}"
            )
        policy = metadata.get("offsetResetPolicy", "latest")
        if policy != reset:
            problems.append(
                f"{ref(obj)}: kafka trigger offsetResetPolicy {policy!r} differs from the consumers' "
                f"KAFKA_OFFSET_RESET {reset!r}: KEDA would count lag the consumers do not have"
            )
    return problems


def check(objs: list[Obj], version: str = KUBERNETES_VERSION) -> list[str]:
    from kedasuite.keda.secret_checks import manifest_problems

    return schema_problems(objs) + core_problems(objs, version) + contract_problems(objs) + manifest_problems(objs)
