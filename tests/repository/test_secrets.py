"""No credential in the repository's manifests, compose file or image.

Every overlay is rendered and scanned with the structural rules and detect-secrets; so
are ``compose.yaml``, the ``Dockerfile`` and the scripts. The planted cases prove each
rule can fail, with the message a user would see.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kedasuite.keda.manifest_checks import render
from kedasuite.keda.secret_checks import (
    compose_problems,
    detect_secrets_findings,
    dockerfile_problems,
    manifest_problems,
)

#: A static check of the repository's files: scripts/lint runs it (not scripts/test --fast).
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(p for p in (ROOT / "k8s" / "overlays").iterdir() if (p / "kustomization.yaml").is_file())


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_rendered_overlays_hold_no_credentials(overlay: Path) -> None:
    objs = render(overlay)
    assert manifest_problems(objs) == []
    text = yaml.safe_dump_all(objs)
    assert detect_secrets_findings({f"{overlay.name}.yaml": text}) == []


def test_compose_dockerfile_and_scripts_hold_no_credentials() -> None:
    compose = (ROOT / "compose.yaml").read_text()
    assert compose_problems(yaml.safe_load(compose)) == []
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile_problems(dockerfile) == []
    files = {"compose.yaml": compose, "Dockerfile": dockerfile, ".dockerignore": (ROOT / ".dockerignore").read_text()}
    files.update({f"scripts/{p.name}": p.read_text() for p in (ROOT / "scripts").iterdir() if p.is_file()})
    assert detect_secrets_findings(files) == []


def test_key_material_stays_out_of_the_build_context() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for pattern in ("**/*.pem", "**/*.key", "**/.env"):
        assert pattern in ignored, f".dockerignore must exclude {pattern}"


# --- each rule can fail --------------------------------------------------------------------------


def deployment(env: list[dict]) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": "w"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "env": env}]}}},
    }


def test_planted_manifest_secrets_are_named() -> None:
    objs = [
        deployment(
            [
                {"name": "REDIS_PASSWORD", "value": "hunter2"},
                {"name": "PUMP_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                {"name": "REDIS_URL", "value": "redis://app:s3cret@redis:6379/0"},
                {"name": "WORKQUEUE_LEASE_SECONDS", "value": "30"},
            ]
        ),
        {"kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"password": "hunter2"}},
        {"kind": "TriggerAuthentication", "metadata": {"name": "a"}, "spec": {"password": "x"}},
    ]
    assert manifest_problems(objs) == [
        "Deployment/w: container c: REDIS_PASSWORD is set inline; use valueFrom.secretKeyRef",
        "Deployment/w: spec.template.spec.containers[0].env[2].value holds a URL with a password; "
        "take it from a Secret or the environment",
        "Secret/creds: a Secret with data is part of the manifests; create it out of band "
        "(kubectl create secret ...) or with a secret manager",
        "TriggerAuthentication/a: spec.password is not a reference to a secret store",
    ]


def test_planted_compose_secrets_are_named() -> None:
    compose = {
        "services": {
            "pump": {
                "environment": {
                    "PUMP_TOKEN": "abc123",
                    "REDIS_PASSWORD": "${REDIS_PASSWORD:?set it}",
                    "KAFKA_SASL_PASSWORD": "${KAFKA_SASL_PASSWORD:-letmein}",
                }
            },
            "worker": {"environment": ["REDIS_PASSWORD=hunter2", "REDIS_URL=redis://:pw@redis:6379/0"]},
        }
    }
    assert compose_problems(compose) == [
        "compose service pump: PUMP_TOKEN is set inline; pass it from the environment: PUMP_TOKEN: ${PUMP_TOKEN}",
        "compose service pump: KAFKA_SASL_PASSWORD is set inline; pass it from the environment: "
        "KAFKA_SASL_PASSWORD: ${KAFKA_SASL_PASSWORD}",
        "compose service worker: REDIS_PASSWORD is set inline; pass it from the environment: "
        "REDIS_PASSWORD: ${REDIS_PASSWORD}",
        "compose service worker: environment[1] holds a URL with a password; take it from a Secret or the environment",
    ]


def test_planted_dockerfile_secrets_are_named() -> None:
    text = "FROM python:3.11-slim\nARG PIP_TOKEN\nENV APP_HOME=/app REDIS_PASSWORD=x\nCOPY certs/server.key /app/\n"
    assert dockerfile_problems(text) == [
        "Dockerfile:2: ARG PIP_TOKEN puts a secret into the image; pass it at run time (environment or a mounted Secret)",
        "Dockerfile:3: ENV REDIS_PASSWORD puts a secret into the image; pass it at run time "
        "(environment or a mounted Secret)",
        "Dockerfile:4: COPY copies key material into the image",
    ]


def test_detect_secrets_catches_what_the_rules_do_not_know() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1c8Yg\n-----END RSA PRIVATE KEY-----\n"
    aws = "aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n"
    assert detect_secrets_findings({"a.yaml": key, "b.yaml": aws}) == [
        "a.yaml:1: Private Key",
        "b.yaml:1: AWS Access Key",
    ]
