"""The workload table (kedasuite/core/workloads.py) is the only list of workloads.

Row by row it must agree with what runs them: the KEDA objects in ``k8s/`` (kind, name,
the trigger on the backlog, the in-flight trigger), the Deployments and Job template
(the container's command), its kustomize component in every overlay, its ServiceAccount and
NetworkPolicy, the pumps' ``PUMP_WORKLOADS``, ``compose.yaml`` (the service and its command)
and ``compose.autoscale.yaml``, and the publisher the row names. And no module may keep a
list of its own: one that names two or more workloads in one literal (a tuple, list, set or
dict) is reported with its file and line. docs/workloads.md's checklist names these tests.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kedasuite.core import names
from kedasuite.core.errors import InputError
from kedasuite.core.workloads import NAMES, SCALED_JOB, WORKLOADS, by_trigger, workload
from kedasuite.keda.objects import bundled_text, keda_objects

ROOT = Path(__file__).resolve().parents[2]
#: Where source lives; the table itself and the naming contract are allowed their names.
SOURCE_DIRS = ("kedasuite", "producers", "workers", "jobs")
ALLOWED = {ROOT / "kedasuite/core/workloads.py", ROOT / "kedasuite/core/names.py"}
WORKLOAD_CONSTANTS = {n for n in dir(names) if n.startswith("WORKLOAD_")}


def _keda() -> dict[tuple[str, str], dict[str, Any]]:
    objs = [d for d in yaml.safe_load_all(bundled_text()) if isinstance(d, dict)]
    return {(o["kind"], o["metadata"]["name"]): o for o in keda_objects(objs)}


def _base_commands() -> dict[str, list[str]]:
    """Container args of every workload in k8s/base, by Deployment (or Job template) name."""
    found: dict[str, list[str]] = {}
    for path in (ROOT / "k8s/base").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") not in ("Deployment", "ScaledJob", "Job"):
                continue
            spec = doc["spec"]
            template = spec.get("jobTargetRef", spec)["template"]
            container = template["spec"]["containers"][0]
            found[doc["metadata"]["name"]] = list(container.get("args") or container.get("command") or [])
    return found


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_row_agrees_with_its_keda_object(row) -> None:
    objs = _keda()
    assert (row.keda_kind, row.keda_name) in objs, (
        f"no {row.keda_kind} {row.keda_name!r} in k8s/overlays/local (the bundled render): {sorted(objs)}"
    )
    obj = objs[(row.keda_kind, row.keda_name)]
    triggers = obj["spec"]["triggers"]
    watched = [
        t
        for t in triggers
        if by_trigger(t["type"], t.get("metadata", {}).get("topic" if t["type"] == "kafka" else "listName", "")) == row
    ]
    assert watched, f"{row.keda_name}: no trigger watches {row.backlog!r}: {triggers}"
    if row.keda_kind == SCALED_JOB:
        assert row.deployment == ""
    else:
        assert obj["spec"]["scaleTargetRef"]["name"] == row.deployment
    if row.in_flight and row.keda_kind != SCALED_JOB:
        sources = {t.get("metadata", {}).get("listName") for t in triggers}
        assert row.in_flight in sources, f"{row.keda_name}: no trigger counts the in-flight key {row.in_flight!r}"


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_row_agrees_with_k8s_base_and_compose(row) -> None:
    target = row.deployment or row.keda_name
    commands = _base_commands()
    assert commands.get(target) == list(row.command), (
        f"k8s/base: {target} runs {commands.get(target)}, the table says {list(row.command)}"
    )
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert row.compose_service in services, f"compose.yaml has no service {row.compose_service!r}"
    assert services[row.compose_service]["command"] == list(row.command)


def _base_docs(kind: str) -> dict[str, dict[str, Any]]:
    """The objects of one kind in k8s/base, by name."""
    return {
        doc["metadata"]["name"]: doc
        for path in (ROOT / "k8s/base").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict) and doc.get("kind") == kind
    }


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_row_names_a_publisher_of_its_own(row) -> None:
    module, _, cls = row.publisher.partition(":")
    publisher = getattr(importlib.import_module(module), cls, None)
    assert publisher is not None, f"{row.name}: the table names the publisher {row.publisher}, which does not exist"
    assert publisher.workload == row.name, f"{row.publisher}.workload is {publisher.workload!r}, not {row.name!r}"


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_row_has_its_component_in_every_overlay(row) -> None:
    """The KEDA object lives in ``k8s/components/<name>-<kind>/``; every overlay applies it."""
    folder = ROOT / "k8s/components" / row.component
    for name in ("kustomization.yaml", "README.md"):
        assert (folder / name).is_file(), f"{row.name}: k8s/components/{row.component}/{name} is missing"
    for overlay in sorted((ROOT / "k8s/overlays").iterdir()):
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert f"../../components/{row.component}" in kustomization.get("components", []), (
            f"k8s/overlays/{overlay.name}/kustomization.yaml does not apply ../../components/{row.component}"
        )


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_row_has_a_service_account_and_a_network_policy(row) -> None:
    """kustomize renders a pod whose ServiceAccount is missing, and checkov alone (scripts/lint)
    notices a pod no NetworkPolicy selects; here both are named."""
    target = row.deployment or row.keda_name
    holder = {**_base_docs("Job"), **_base_docs("Deployment")}[target]
    pod = holder["spec"]["template"]
    account = pod["spec"].get("serviceAccountName")
    assert account in _base_docs("ServiceAccount"), (
        f"k8s/base: {target} runs as ServiceAccount {account!r}; add it to k8s/base/serviceaccounts.yaml"
    )
    label = pod["metadata"]["labels"]["app.kubernetes.io/name"]
    selected = [
        name
        for name, policy in _base_docs("NetworkPolicy").items()
        if policy["spec"]["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": label}
    ]
    assert selected, f"k8s/base: no NetworkPolicy selects {target}'s pods; add one to k8s/base/networkpolicies.yaml"


def test_every_pump_serves_every_workload() -> None:
    pump = _base_docs("Deployment")["pump"]["spec"]["template"]["spec"]["containers"][0]
    k8s = next(e["value"] for e in pump["env"] if e["name"] == names.Env.PUMP_WORKLOADS)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["pump"]["environment"]
    for where, value in (("k8s/base/pump.yaml", k8s), ("compose.yaml", compose[names.Env.PUMP_WORKLOADS])):
        missing = [n for n in NAMES if n not in value.split(",")]
        assert not missing, f"{where}: {names.Env.PUMP_WORKLOADS} {value!r} lacks {', '.join(missing)}"


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_compose_autoscale_starts_the_row_at_zero(row) -> None:
    """``kedasuite autoscale --backend compose`` starts long-running workers itself; a Job's
    service is started per run (its ``jobs`` profile) and is not in the overlay."""
    services = yaml.safe_load((ROOT / "compose.autoscale.yaml").read_text())["services"]
    if row.is_job:
        assert row.compose_service not in services
    else:
        assert services.get(row.compose_service) == {"scale": 0}, (
            f"compose.autoscale.yaml: add `{row.compose_service}: {{scale: 0}}`"
        )


def test_lookup_by_name_names_the_choices() -> None:
    assert workload(names.WORKLOAD_RQ).backlog == names.RQ_QUEUE_LIST
    with pytest.raises(InputError, match="unknown workload 'sqs': choose from celery, kafka, rq, workqueue"):
        workload("sqs")


def private_lists(path: Path, root: Path = ROOT) -> list[str]:
    """Literals in ``path`` that name two or more workloads: a second copy of the table."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        else:
            continue
        named = {
            item.attr if isinstance(item, ast.Attribute) else item.id
            for item in items
            if isinstance(item, (ast.Name, ast.Attribute))
            and (item.attr if isinstance(item, ast.Attribute) else item.id) in WORKLOAD_CONSTANTS
        }
        named |= {item.value for item in items if isinstance(item, ast.Constant) and item.value in NAMES}
        if len(named) >= 2:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {sorted(named)}")
    return found


def test_no_module_keeps_its_own_list_of_workloads() -> None:
    found = [
        hit
        for folder in SOURCE_DIRS
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path not in ALLOWED
        for hit in private_lists(path)
    ]
    assert not found, "these modules list workloads themselves; read kedasuite.core.workloads instead:\n" + "\n".join(
        found
    )


def test_the_scan_finds_a_private_list(tmp_path: Path) -> None:
    sample = tmp_path / "mine.py"
    sample.write_text(
        "from kedasuite.core.names import WORKLOAD_CELERY, WORKLOAD_RQ\n"
        "MINE = (WORKLOAD_CELERY, WORKLOAD_RQ)\nKEYS = {'celery': 'x', 'kafka': 'y'}\n"
    )
    hits = private_lists(sample, tmp_path)
    assert len(hits) == 2 and hits[0].endswith("['WORKLOAD_CELERY', 'WORKLOAD_RQ']")
