"""A scenario's KEDA objects: the bundled local render's, with the variant's changes written down.

Every variant starts from the object ``k8s/overlays/local`` renders for its workload (the
render bundled with the package, so a scenario runs the same from a checkout or a wheel) and
changes only what the variant is about. :func:`derive` takes the changes as a mapping of
dotted paths (``spec.triggers[0].metadata.listLength``) to values, or ``DELETE``; each
change is also said in words by :func:`describe`, which the output and the docs print.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Mapping
from typing import Any

from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.objects import BUNDLED, bundled_text, parse

#: A change that removes the field (or the list item) at its path.
DELETE = object()
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@functools.cache
def _bundled() -> tuple[Mapping[str, Any], ...]:
    return tuple(parse(bundled_text(), BUNDLED))


def bundled(workload: str) -> dict[str, Any]:
    """A deep copy of the bundled KEDA object that scales ``workload``."""
    row = workload_row(workload)
    for obj in _bundled():
        if obj.get("kind") == row.keda_kind and (obj.get("metadata") or {}).get("name") == row.keda_name:
            return copy.deepcopy(dict(obj))
    raise LookupError(f"the bundled render has no {row.keda_kind} {row.keda_name}")  # pragma: no cover


def _parts(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(path)]


def derive(workload: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The bundled object for ``workload`` with ``changes`` applied (missing mappings are created)."""
    obj = bundled(workload)
    for path, value in changes.items():
        *parents, last = _parts(path)
        node: Any = obj
        for part in parents:
            if isinstance(part, int):
                node = node[part]
            else:
                node = node.setdefault(part, {})
        if value is DELETE:
            if isinstance(last, int) or last in node:
                del node[last]
        else:
            node[last] = copy.deepcopy(value)
    return obj


def describe(changes: Mapping[str, Any]) -> str:
    """The changes in words: ``spec.maxReplicaCount 10; spec.triggers[1] removed``."""
    parts = []
    for path, value in changes.items():
        parts.append(f"{path} removed" if value is DELETE else f"{path}: {value!r}")
    return "; ".join(parts) or "as bundled"
