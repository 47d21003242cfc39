"""The run directory of a live autoscaler, cleaned of any process its bookkeeping still lists."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from kedasuite.autoscale.processes import PROCESSES_FILE, _start_ticks


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """The autoscaler's run directory; any process its bookkeeping still lists is killed at the end."""
    path = tmp_path / "run"
    yield path
    try:
        pods = json.loads((path / PROCESSES_FILE).read_text())["pods"]
    except (OSError, ValueError, KeyError):
        return
    for pod in pods:
        if _start_ticks(pod["pid"]) == pod["ticks"]:
            try:
                os.killpg(pod["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
