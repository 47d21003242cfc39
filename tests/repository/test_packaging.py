"""The distribution: one import package, whatever the repository's folders look like.

The design card keeps ``producers/``, ``workers/`` and ``jobs/`` at the top of the repository;
``pyproject.toml`` maps them into ``kedasuite`` so a wheel never puts generic names such as
``workers`` into a user's site-packages.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The chart library the dashboard vendors: its files, licence and README (which names its version).
UPLOT = ROOT / "producers" / "ui" / "static" / "vendor" / "uplot"
UPLOT_FILES = ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE", "README.md")


def _source_modules() -> set[str]:
    """Where each source file lands in the wheel: kedasuite/ as it is, the design card's
    top-level folders under kedasuite/."""
    found = {p.relative_to(ROOT).as_posix() for p in (ROOT / "kedasuite").rglob("*.py") if "__pycache__" not in p.parts}
    for folder in ("producers", "workers", "jobs"):
        found |= {
            f"kedasuite/{folder}/{p.relative_to(ROOT / folder).as_posix()}"
            for p in (ROOT / folder).rglob("*.py")
            if "__pycache__" not in p.parts
        }
    return found


def test_the_wheel_has_exactly_one_top_level_package(tmp_path: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info/ beside the sources.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("kedasuite", "producers", "workers", "jobs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("kedasuite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"kedasuite"}, f"top-level names in the wheel: {sorted(top)}"
    missing = sorted(m for m in _source_modules() if m not in names)
    assert not missing, f"missing from the wheel (add their packages to pyproject.toml): {missing}"
    for data in (
        "kedasuite/keda/bundled/keda-local.yaml",
        "kedasuite/producers/ui/static/index.html",
        *(f"kedasuite/producers/ui/static/vendor/uplot/{name}" for name in UPLOT_FILES),
        "kedasuite/core/kafka-broker/pom.xml",
    ):
        assert data in names, f"{data} is missing from the wheel"


def test_names_other_processes_rely_on_are_pinned() -> None:
    """Changing one of these strands work queued by an older pump or read by a manifest; if
    you change one on purpose, change it here and say in the README what to do."""
    from kedasuite.core import names
    from kedasuite.workers import rq_tasks

    assert names.CELERY_TASK == "workers.process_user"
    assert names.RQ_TASK == "kedasuite.workers.rq_tasks.process_user"
    module, _, function = names.RQ_TASK.rpartition(".")
    assert module == rq_tasks.__name__ and callable(getattr(rq_tasks, function))
    assert (
        names.CELERY_QUEUE,
        names.RQ_QUEUE_LIST,
        names.WORKQUEUE_LIST,
        names.KAFKA_TOPIC,
        names.KAFKA_CONSUMER_GROUP,
    ) == ("celery", "rq:queue:default", "job", "test-topic", "test-consumer-group")


def test_the_vendored_chart_library_comes_with_its_licence_and_version() -> None:
    """uPlot is copied into the dashboard's static files as its package ships it: the MIT
    licence beside it, a README naming the package, the version (the one the script's own
    banner names) and each file's sum, and the page loads that copy, never a network one."""
    for name in UPLOT_FILES:
        assert (UPLOT / name).is_file(), f"{name} is missing from {UPLOT.relative_to(ROOT)}"
    licence = (UPLOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("The MIT License") and "Leon Sorokin" in licence, licence[:200]
    readme = (UPLOT / "README.md").read_text(encoding="utf-8")
    version = re.search(r"^\| version \| (\d+\.\d+\.\d+) \|$", readme, re.MULTILINE)
    assert version, "the README's table names no version"
    assert "`uplot` from the npm registry" in readme
    banner = (UPLOT / "uPlot.iife.min.js").read_text(encoding="utf-8").splitlines()[0]
    assert f"(v{version.group(1)})" in banner, f"README says {version.group(1)}, the script says {banner}"
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "LICENSE"):
        digest = hashlib.sha256((UPLOT / name).read_bytes()).hexdigest()
        assert f"| `{name}` | " in readme and digest in readme, f"{name} changed since it was vendored: sha256 {digest}"
    page = (ROOT / "producers" / "ui" / "static" / "index.html").read_text(encoding="utf-8")
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert f'"/ui/vendor/uplot/{name}"' in page, f"index.html does not load the vendored {name}"
    assert "://" not in page, "the page loads something from the network"
