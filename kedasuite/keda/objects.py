"""Where the KEDA objects every face predicts from come from, in one order.

A rendered YAML file (``--manifests``, ``KEDA_MANIFESTS``); else an overlay rendered with
``kubectl kustomize`` (``--overlay``, ``KEDA_OVERLAY``; by default ``k8s/overlays/local`` when
that directory exists and kubectl is installed); else the render of ``k8s/overlays/local``
shipped inside the package (:data:`BUNDLED`: so the pump in a container, which has neither
kubectl nor ``k8s/``, still predicts; a test keeps that copy equal to the overlay).
``status``, ``autoscale``, ``simulate``, the scenarios and ``timeline`` all load through here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import by_trigger
from kedasuite.keda.rules.spec import Scaler, scalers_in

#: The package's copy of ``kubectl kustomize k8s/overlays/local``, KEDA objects only.
BUNDLED = "bundled/keda-local.yaml"
BUNDLED_OVERLAY = "k8s/overlays/local"
#: How a source is named when the objects came from the bundled render.
BUNDLED_SOURCE = f"{BUNDLED_OVERLAY} (bundled render)"

Obj = Mapping[str, Any]


def bundled_text() -> str:
    return resources.files("kedasuite.keda").joinpath(BUNDLED).read_text()


def parse(text: str, where: str) -> list[Obj]:
    """The YAML documents of ``text`` that are objects; invalid YAML is an error naming ``where``."""
    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, Mapping)]
    except yaml.YAMLError as exc:
        raise InputError(f"{where} is not valid YAML: {exc}") from None


def keda_objects(objs: Iterable[Obj]) -> list[Obj]:
    return [o for o in objs if o.get("kind") in ("ScaledObject", "ScaledJob")]


def load_objects(
    manifests: str | None = None, overlay: str | None = None, *, bundled_by_default: bool = False
) -> tuple[list[Obj], str]:
    """Every rendered object, and where they came from, in the order of this module.

    An ``overlay`` or ``manifests`` named explicitly must be usable; the default overlay falls
    back to the bundled render when this is not a checkout (or has no kubectl).
    ``bundled_by_default``: with neither named, the bundled render at once, without running
    kubectl (``simulate``: an answer in well under a second)."""
    if manifests:
        path = Path(manifests)
        if not path.is_file():
            raise InputError(
                f"--manifests {manifests}: no such file; pass a file holding rendered manifests "
                f"(kubectl kustomize k8s/overlays/local > rendered.yaml)"
            )
        return parse(path.read_text(), str(path)), str(path)
    explicit = overlay is not None
    overlay = overlay or BUNDLED_OVERLAY
    if (explicit or not bundled_by_default) and Path(overlay).is_dir() and shutil.which("kubectl"):
        from kedasuite.keda.manifest_checks import render

        try:
            return list(render(overlay)), overlay
        except Exception as exc:  # noqa: BLE001 - SuiteError from kubectl, or YAML that does not parse
            message = getattr(exc, "message", str(exc))
            raise InputError(f"--overlay {overlay} does not render: {message}") from None
    if explicit and overlay != BUNDLED_OVERLAY:
        why = "no such directory" if not Path(overlay).is_dir() else "kubectl (with kustomize) is not installed"
        raise InputError(f"--overlay {overlay}: {why}; pass a kustomize directory, or --manifests with a rendered file")
    return parse(bundled_text(), BUNDLED), BUNDLED_SOURCE


def load_scalers(
    manifests: str | None = None, overlay: str | None = None, *, bundled_by_default: bool = False
) -> tuple[list[Scaler], str]:
    """The ScaledObjects and ScaledJobs of :func:`load_objects`, and where they came from."""
    objs, source = load_objects(manifests, overlay, bundled_by_default=bundled_by_default)
    return scalers_in(objs), source


def workload_of(scaler: Scaler) -> str | None:
    """The suite workload a ScaledObject / ScaledJob scales, by the backlog it watches."""
    found = (by_trigger(t.type, t.source) for t in scaler.triggers)
    return next((w.name for w in found if w is not None), None)


def render_bundled(overlay: str = BUNDLED_OVERLAY) -> str:
    """The text of :data:`BUNDLED`: ``python -m kedasuite.keda.objects > kedasuite/keda/bundled/keda-local.yaml``."""
    from kedasuite.keda.manifest_checks import render

    head = (
        f"# Generated from `kubectl kustomize {overlay}` (KEDA objects only) by\n"
        "# `python -m kedasuite.keda.objects > kedasuite/keda/bundled/keda-local.yaml`; tests/tools/test_status.py\n"
        "# fails when it no longer matches the overlay. Used where k8s/ and kubectl are absent.\n"
    )
    return head + yaml.safe_dump_all(keda_objects(render(overlay)), sort_keys=True)


if __name__ == "__main__":
    print(render_bundled(), end="")
