"""Throwaway kustomizations of the repository's base and components, for the manifest tests."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

K8S = Path(__file__).resolve().parents[2] / "k8s"


def combination(tmp_path: Path, components: list[str]) -> Path:
    """A throwaway kustomization: the base plus these components."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "kedasuite",
        # kustomize wants relative paths
        "resources": [os.path.relpath(K8S / "base", tmp_path)],
        "components": [os.path.relpath(K8S / "components" / c, tmp_path) for c in components],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return tmp_path
