"""Credentials must never sit in a manifest, the compose file or an image layer.

Two layers of defence. Structural rules know where secrets go in this project's files:
an environment variable whose name says it holds a secret (``*PASSWORD``, ``*TOKEN``,
``*SECRET``, ``*_KEY``) is set from a Secret (``valueFrom``) or, in compose, from the
caller's environment (``${VAR}``), never as a literal; a TriggerAuthentication reads
Secrets, never literal values; no URL carries ``user:password@``; no ``Secret`` object
ships with data in it; the Dockerfile bakes no such variable into a layer and copies no
key material. Then `detect-secrets <https://github.com/Yelp/detect-secrets>`_ (Yelp's
scanner: private keys, cloud keys, high-entropy strings) reads the same text, for what
the rules do not know about.

``check-manifests`` applies the manifest rules; the tests apply all of them to every
overlay, ``compose.yaml`` and the ``Dockerfile``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

#: Variable names that hold secrets. ``KEY`` alone would catch ``WORKQUEUE_...`` names
#: that are not secret, so it must end the name after an underscore.
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|_KEY|PRIVATE_KEY|API_KEY|CREDENTIALS?)$", re.IGNORECASE)
#: ``scheme://user:password@host``; ``scheme://:password@host`` too.
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@", re.IGNORECASE)
#: Placeholders a README or compose default may show: ``${VAR}``, ``$(VAR)``, ``<password>``, ``changeme``...
PLACEHOLDER = re.compile(r"^(\$\{[^}]+\}|\$\([^)]+\)|<[^>]+>|\*+|x+|changeme|redacted)$", re.IGNORECASE)

#: A YAML line that names a Secret (or a key in it) rather than holding a value.
REFERENCE = re.compile(r"^\s*-?\s*(secretName|name|key|parameter):\s*[\w.-]+\s*$")

Obj = Mapping[str, Any]


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def _containers(obj: Obj) -> Iterator[tuple[str, Obj]]:
    spec = obj.get("spec") or {}
    pods = [
        spec.get("template", {}).get("spec"),
        spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec"),
        spec.get("jobTargetRef", {}).get("template", {}).get("spec"),
    ]
    for pod in pods:
        for kind in ("initContainers", "containers"):
            for container in (pod or {}).get(kind) or []:
                yield container.get("name", "?"), container


def _ref(obj: Obj) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def url_problems(where: str, items: Iterable[tuple[str, str]]) -> list[str]:
    problems = []
    for path, text in items:
        for match in URL_WITH_PASSWORD.finditer(text):
            if not PLACEHOLDER.match(match.group(1)):
                problems.append(
                    f"{where}: {path} holds a URL with a password; take it from a Secret or the environment"
                )
    return problems


def manifest_problems(objs: Iterable[Obj]) -> list[str]:
    """Inline credentials in rendered Kubernetes manifests."""
    problems: list[str] = []
    for obj in objs:
        ref = _ref(obj)
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            problems.append(
                f"{ref}: a Secret with data is part of the manifests; create it out of band "
                "(kubectl create secret ...) or with a secret manager"
            )
        for name, container in _containers(obj):
            for env in container.get("env") or []:
                value = env.get("value")
                if (
                    SECRET_NAME.search(str(env.get("name", "")))
                    and value not in (None, "")
                    and not PLACEHOLDER.match(str(value))
                ):
                    problems.append(f"{ref}: container {name}: {env['name']} is set inline; use valueFrom.secretKeyRef")
        if obj.get("kind") in ("TriggerAuthentication", "ClusterTriggerAuthentication"):
            spec = obj.get("spec") or {}
            for key in spec:
                if key not in (
                    "secretTargetRef",
                    "configMapTargetRef",
                    "env",
                    "podIdentity",
                    "hashiCorpVault",
                    "azureKeyVault",
                    "awsSecretManager",
                    "gcpSecretManager",
                    "boundServiceAccountToken",
                    "filePath",
                ):
                    problems.append(f"{ref}: spec.{key} is not a reference to a secret store")
        problems += url_problems(ref, _strings(obj))
    return problems


def compose_problems(compose: Obj) -> list[str]:
    """Literal credentials in a compose file's service environments."""
    problems: list[str] = []
    for service, spec in (compose.get("services") or {}).items():
        env = spec.get("environment") or {}
        items = env.items() if isinstance(env, Mapping) else (e.partition("=")[::2] for e in env)
        for name, value in items:
            if SECRET_NAME.search(str(name)) and value not in (None, "") and not _from_environment(str(value)):
                problems.append(
                    f"compose service {service}: {name} is set inline; "
                    f"pass it from the environment: {name}: ${{{name}}}"
                )
        problems += url_problems(f"compose service {service}", _strings(spec))
    return problems


def _from_environment(value: str) -> bool:
    """``${VAR}`` / ``${VAR:-}`` / ``${VAR:?message}``: the value comes from whoever runs compose."""
    match = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?(-|\?)(.*))?\}", value)
    return bool(match) and (match.group(2) != "-" or not match.group(3))


def dockerfile_problems(text: str) -> list[str]:
    """Secrets baked into image layers: ENV/ARG with secret names and values, copied key files."""
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.strip().split(None, 1)
        if len(words) < 2:
            continue
        instruction, rest = words[0].upper(), words[1]
        if instruction in ("ENV", "ARG"):
            for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(?:=\S*)?", rest):
                if SECRET_NAME.search(name):
                    problems.append(
                        f"Dockerfile:{number}: {instruction} {name} puts a secret into the image; "
                        "pass it at run time (environment or a mounted Secret)"
                    )
        if instruction in ("COPY", "ADD") and re.search(r"\.(pem|key|p12|pfx)\b|\.env\b|id_rsa", rest):
            problems.append(f"Dockerfile:{number}: {instruction} copies key material into the image")
    return problems


def detect_secrets_findings(files: Mapping[str, str]) -> list[str]:
    """What detect-secrets finds in each named text (name -> content)."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    findings: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, default_settings():
        paths = {}
        for i, (name, content) in enumerate(files.items()):
            path = Path(tmp) / f"{i}-{Path(name).name}"
            path.write_text(content)
            paths[str(path)] = name
        collection = SecretsCollection()
        for path in paths:
            collection.scan_file(path)
        for path, secret in collection:
            line = files[paths[path]].splitlines()[secret.line_number - 1]
            if secret.type == "Secret Keyword" and REFERENCE.match(line):
                continue  # `secretName: redis-credentials` names a Secret; it is not one
            findings.append(f"{paths[path]}:{secret.line_number}: {secret.type}")
    return sorted(findings)
