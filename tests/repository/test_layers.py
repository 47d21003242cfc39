"""The package's layers import downward only (import-linter's contracts in ``pyproject.toml``).

``producers/``, ``workers/`` and ``jobs/`` sit at the top of the repository (the design card
keeps them there) and are imported as ``kedasuite.producers`` and so on, through the
package's ``package-dir``. import-linter reads a package from its directory, so the check
runs on a copy of the tree's Python files laid out as they are imported, and each contract
also proves it bites: an import planted against it is reported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
#: Folders of the repository imported as subpackages of kedasuite (pyproject.toml's package-dir).
MAPPED = ("producers", "workers", "jobs")


def _as_imported(into: Path) -> Path:
    """The tree's Python files under ``into/kedasuite``, as Python imports them; ``into``."""

    def copy(src: Path, dst: Path) -> None:
        for path in src.rglob("*.py"):
            if "__pycache__" not in path.parts:
                target = dst / path.relative_to(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)

    copy(ROOT / "kedasuite", into / "kedasuite")
    for folder in MAPPED:
        copy(ROOT / folder, into / "kedasuite" / folder)
    shutil.copyfile(ROOT / "pyproject.toml", into / "pyproject.toml")
    return into


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(command), "--no-cache", "pyproject.toml"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_layers_import_downward_only(tmp_path: Path) -> None:
    done = _lint_imports(_as_imported(tmp_path))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in done.stdout, done.stdout[-2000:]


def test_an_upward_import_and_a_broker_in_the_model_are_caught(tmp_path: Path) -> None:
    tree = _as_imported(tmp_path)
    with open(tree / "kedasuite" / "core" / "names.py", "a") as names:
        names.write("\nfrom kedasuite.autoscale import view  # noqa: E402,F401 - planted by the test\n")
    with open(tree / "kedasuite" / "keda" / "model" / "hpa.py", "a") as model:
        model.write("\nimport redis  # noqa: E402,F401 - planted by the test\n")
    done = _lint_imports(tree)
    assert done.returncode != 0
    assert "kedasuite.core is not allowed to import kedasuite.autoscale" in done.stdout, done.stdout[-3000:]
    assert "kedasuite.keda.model.hpa -> redis" in done.stdout, done.stdout[-3000:]


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("ruff")
    return subprocess.run([str(command), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_ruff_finds_nothing(tmp_path: Path) -> None:
    """ruff's checks as pyproject.toml selects them, over the whole repository; and they bite."""
    done = _ruff("check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    planted = tmp_path / "planted.py"
    planted.write_text("import os\nimport sys\n\n\ndef f(xs):\n    return [lambda: x for x in xs]\n")
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    done = _ruff("check", "--no-cache", "planted.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "F401" in done.stdout and "B023" in done.stdout, done.stdout


def test_the_code_is_formatted_as_ruff_formats_it(tmp_path: Path) -> None:
    """``ruff format --check`` over the repository is clean; a file laid out by hand is reported."""
    done = _ruff("format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "planted.py").write_text("x = {  'a':1 }\n")
    done = _ruff("format", "--check", "--no-cache", "planted.py", cwd=tmp_path)
    assert done.returncode == 1 and "planted.py" in done.stdout, done.stdout
