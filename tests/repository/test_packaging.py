"""The distribution: one import package, whatever the repository's folders look like.

The design card keeps ``producers/``, ``workers/`` and ``jobs/`` at the top of the repository;
``pyproject.toml`` maps them into ``kedasuite`` so a wheel never puts generic names such as
``workers`` into a user's site-packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
