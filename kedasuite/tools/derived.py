"""What the repository derives instead of keeping by hand: ``scripts/derive`` writes it.

Two kinds of text follow from the workload table (:mod:`kedasuite.core.workloads`) and
``k8s/``, and went stale whenever a workload was added:

* the render of ``k8s/overlays/local`` shipped inside the package
  (``kedasuite/keda/bundled/keda-local.yaml``, :func:`kedasuite.keda.objects.render_bundled`;
  it needs ``kubectl``);
* blocks of the Markdown docs between ``<!-- derived: KEY -->`` and ``<!-- /derived -->``:
  the workloads' names where a page lists them, and docs/workloads.md's table of the files
  each workload has today;
* the Grafana dashboard (:mod:`kedasuite.tools.dashboards`), in the two places that ship it.

``python -m kedasuite.tools.derived`` rewrites them all; ``--check`` changes nothing and exits 1
naming what is stale. ``tests/tools/test_derived.py`` fails on stale docs, ``tests/tools/test_status.py``
on a stale bundled render, ``tests/tools/test_dashboards.py`` on a stale dashboard.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from kedasuite.core.errors import SuiteError
from kedasuite.core.workloads import WORKLOADS, Workload

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "scripts/derive"
BUNDLED_PATH = "kedasuite/keda/bundled/keda-local.yaml"

_BLOCK = re.compile(r"(<!-- derived: ([a-z-]+) -->)(.*?)(<!-- /derived -->)", re.DOTALL)
#: Where the repository's folders land in the package (pyproject.toml's package-dir).
_FOLDERS = {"kedasuite.producers": "producers", "kedasuite.workers": "workers", "kedasuite.jobs": "jobs"}


def markdown_files(root: Path) -> list[Path]:
    """The Markdown the docs tests read: where a derived block may sit."""
    found = {root / "README.md", *(root / "docs").glob("*.md"), *(root / "k8s").rglob("README.md")}
    return sorted(p for p in found if p.is_file())


def source_file(module: str) -> str:
    """``kedasuite.producers.rq_publisher`` -> ``producers/rq_publisher.py``: the file in the checkout."""
    for package, folder in _FOLDERS.items():
        if module == package or module.startswith(package + "."):
            return folder + module[len(package) :].replace(".", "/") + ".py"
    return module.replace(".", "/") + ".py"


def base_file(root: Path, row: Workload) -> str | None:
    """The file of ``k8s/base`` holding what runs the workload (its Deployment, or its Job)."""
    target = row.deployment or row.keda_name
    for path in sorted((root / "k8s/base").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") in ("Deployment", "Job"):
                if doc["metadata"]["name"] == target:
                    return path.relative_to(root).as_posix()
    return None


def names_inline(_root: Path) -> str:
    return ", ".join(f"`{w.name}`" for w in WORKLOADS)


def names_csv(_root: Path) -> str:
    return "`" + ",".join(w.name for w in WORKLOADS) + "`"


def files_table(root: Path) -> str:
    """One row per workload: its names and the files that hold it, as they are today."""
    lines = [
        "| workload | backlog (in flight) | KEDA object, in its component | runs in | compose service | command | publisher |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in WORKLOADS:
        backlog = f"`{w.backlog}`" + (f" (`{w.in_flight}`)" if w.in_flight else "")
        base = base_file(root, w)
        lines.append(
            f"| `{w.name}` | {backlog} | {w.keda_kind} `{w.keda_name}`, `k8s/components/{w.component}/` "
            f"| {f'`{base}`' if base else 'nothing in k8s/base'} | `{w.compose_service}` "
            f"| `kedasuite {' '.join(w.command)}` | `{source_file(w.publisher.partition(':')[0])}` |"
        )
    return "\n\n" + "\n".join(lines) + "\n\n"


#: Each key a ``<!-- derived: KEY -->`` marker may name, and what it derives.
BLOCKS: dict[str, Callable[[Path], str]] = {
    "workload-names": names_inline,
    "workload-names-csv": names_csv,
    "workload-files": files_table,
}


class UnknownBlock(ValueError):
    pass


def refresh(text: str, root: Path = ROOT, where: str = "text") -> str:
    """``text`` with every derived block rewritten."""

    def one(m: re.Match[str]) -> str:
        key = m.group(2)
        if key not in BLOCKS:
            raise UnknownBlock(f"{where}: unknown derived block {key!r} (known: {', '.join(BLOCKS)})")
        return m.group(1) + BLOCKS[key](root) + m.group(4)

    return _BLOCK.sub(one, text)


def stale_docs(root: Path = ROOT) -> dict[Path, str]:
    """Markdown files whose derived blocks differ from what they derive, with the fresh text."""
    found = {}
    for path in markdown_files(root):
        text = path.read_text(encoding="utf-8")
        fresh = refresh(text, root, str(path.relative_to(root)))
        if fresh != text:
            found[path] = fresh
    return found


def stale_dashboards(root: Path = ROOT) -> dict[Path, str]:
    """Dashboard files missing or different from what the generator builds now, with the fresh text."""
    # Imported here: the generator needs grafana-foundation-sdk, a development dependency.
    from kedasuite.tools import dashboards

    text = dashboards.render()
    found = {}
    for where in dashboards.PATHS:
        path = root / where
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            found[path] = text
    return found


def fresh_bundled(root: Path = ROOT) -> str:
    from kedasuite.keda.objects import render_bundled

    with contextlib.chdir(root):  # the render's header names the overlay relative to the checkout
        return render_bundled()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Rewrite what is derived from the workload table and k8s/: the derived blocks of "
        f"the Markdown docs, the Grafana dashboard and {BUNDLED_PATH} (which needs kubectl).",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming what is stale")
    parser.add_argument("--docs-only", action="store_true", help=f"leave {BUNDLED_PATH} alone (no kubectl)")
    args = parser.parse_args(argv)
    if not (ROOT / "k8s").is_dir():
        print(
            f"{COMMAND}: run it in a checkout of the repository (no k8s/ beside {ROOT / 'kedasuite'})", file=sys.stderr
        )
        return 2
    outputs = {**stale_docs(ROOT), **stale_dashboards(ROOT)}
    if not args.docs_only:
        bundled = ROOT / BUNDLED_PATH
        try:
            text = fresh_bundled(ROOT)
        except SuiteError as exc:
            print(f"{COMMAND}: {exc.message} (--docs-only skips {BUNDLED_PATH})", file=sys.stderr)
            return 2
        if bundled.read_text() != text:
            outputs[bundled] = text
    for path, text in sorted(outputs.items()):
        where = path.relative_to(ROOT)
        if args.check:
            print(f"stale: {where}", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"rewrote {where}")
    if args.check and outputs:
        print(f"run {COMMAND} to refresh them", file=sys.stderr)
        return 1
    if not outputs:
        print("everything derived is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
