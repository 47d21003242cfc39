"""scripts/compose-smoke: the compose stack on a real Docker Engine, when one answers.

The smoke test builds the image and runs compose.yaml under a project of its own
(``kedasuite-smoke``), which it always removes. It runs only when ``docker info`` and
``docker compose version`` both answer; otherwise it is skipped with the reason, within
seconds (CI has no Docker Engine). What needs no engine (usage, arguments, an engine that
does not answer) is tested on every run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import BASH, run_script, stub

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scripts" / "compose-smoke"
#: Longer than the smoke's own deadlines add up to on a laptop (about five minutes): only a hang reaches it.
SMOKE_TIMEOUT_S = 1800
#: ``docker info`` against an engine that is not there fails at once; a remote DOCKER_HOST that
#: does not answer is given this long.
PROBE_TIMEOUT_S = 20


def why_not(*command: str) -> str | None:
    """None when ``command`` exits 0 within the probe timeout, else why it did not."""
    if shutil.which(command[0]) is None:
        return f"{command[0]} not found on PATH"
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"`{' '.join(command)}` did not answer within {PROBE_TIMEOUT_S} s"
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return f"`{' '.join(command)}` exited {done.returncode}" + (f": {lines[-1].strip()}" if lines else "")
    return None


def docker_compose_missing() -> str | None:
    """Why the smoke test cannot run here, or None when Docker and Docker Compose both answer."""
    for command in (("docker", "info"), ("docker", "compose", "version")):
        reason = why_not(*command)
        if reason:
            return reason
    return None


@pytest.mark.compose
@pytest.mark.timeout(SMOKE_TIMEOUT_S + 180)
def test_compose_smoke() -> None:
    """Build, up, pump, drain, scale out, stop under load, hardening, Redis restart: all hold."""
    reason = docker_compose_missing()
    if reason:
        pytest.skip(f"needs a Docker Engine and Docker Compose: {reason}")
    proc = subprocess.Popen([str(SMOKE)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=SMOKE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        # SIGTERM, not SIGKILL: the script's trap still removes its compose project.
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=150)
        pytest.fail(f"scripts/compose-smoke did not finish within {SMOKE_TIMEOUT_S} s:\n{out[-6000:]}")
    print(out)  # the summary table, shown with -rP or -s
    assert proc.returncode == 0, out[-8000:]
    assert "every step held" in out


def run_smoke(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    return run_script(SMOKE, *args, path=path)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_needs_no_tools(tmp_path: Path, flag: str) -> None:
    done = run_smoke(flag, path=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: scripts/compose-smoke [-h|--help]")
    for word in (
        "SMOKE_PROJECT",
        "kedasuite-smoke",
        "SMOKE_COUNT",
        "SMOKE_WORK_TIME",
        "SMOKE_STOP_WORK_TIME",
        "SMOKE_VISIBILITY_TIMEOUT",
        "SMOKE_UP_TIMEOUT",
        "SMOKE_BUILD_TIMEOUT",
        "SMOKE_MARGIN",
        "SMOKE_BUILDER",
        "WORKER_CONCURRENCY",
        "PUMP_TOKEN",
        "down -v --remove-orphans",
    ):
        assert word in done.stdout
    assert done.stderr == ""


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    done = run_smoke("--keep", path=str(tmp_path))
    assert done.returncode == 2
    assert "unknown argument: --keep" in done.stderr and "usage:" in done.stderr


def test_an_engine_that_does_not_answer_stops_it_before_anything(tmp_path: Path) -> None:
    """docker present but ``docker info`` fails: a clear message, nothing built or started."""
    stub(tmp_path, "docker", exit_code=1)
    stub(tmp_path, "curl")
    done = run_smoke(path=f"{tmp_path}{os.pathsep}{Path(BASH).parent}")
    assert done.returncode == 1
    assert "docker is installed but its engine does not answer" in done.stderr
    assert "step 1-build" not in done.stdout
