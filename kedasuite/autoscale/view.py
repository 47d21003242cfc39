"""What ``/status``, the dashboard, ``kedasuite status`` and ``kedasuite timeline`` show of a
local autoscaler: its ``RUN_DIR/state.json`` (:func:`kedasuite.autoscale.actuator.read_state`),
per workload, and whether that state is still live.

A state is *stale* when the autoscaler that wrote it is gone (its pid is not running, or
the pid now belongs to a process started after the autoscaler did), or when the file has
not been rewritten for :func:`stale_after` seconds (an autoscaler rewrites it after every
pass, at least every :data:`~kedasuite.autoscale.actuator.REFRESH_SECONDS`; a hung one
stops). The pid is only checked when the state was written on this host (same hostname):
from a container, only the file's age counts. Stale state is shown as stale, with its
age, and without a predicted next step; the timeline does not record it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

#: A state not rewritten for this long is stale whatever the polling interval (a pass can
#: wait on a broker's connect timeout on a busy machine).
STALE_MIN_SECONDS = 10.0
#: ... and not before this many polling intervals have passed without a rewrite.
STALE_POLLS = 3


def default_run_dir() -> str:
    """``kedasuite autoscale``'s run directory unless ``--run-dir`` / ``AUTOSCALE_RUN_DIR`` says otherwise."""
    return str(Path(tempfile.gettempdir()) / f"kedasuite-autoscale-{os.getuid()}")


def stale_after(state: Mapping[str, Any]) -> float:
    """Seconds without a rewrite after which ``state`` is stale: a few of its shortest polling interval."""
    intervals = [w["polling_interval"] for w in state.get("workloads", [])
                 if isinstance(w.get("polling_interval"), int | float)]
    return max(STALE_MIN_SECONDS, STALE_POLLS * min(intervals, default=0.0))


def _process_start(pid: int) -> float | None:
    """When ``pid`` started (Unix time, ±1 s), from /proc; ``None`` if that cannot be told."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pid_gone(pid: Any, started: Any) -> str | None:
    """Why ``pid`` is not the autoscaler that started at ``started``, or ``None``: it still runs."""
    if not isinstance(pid, int) or pid <= 0:
        return "the state names no autoscaler pid"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"the autoscaler (pid {pid}) is not running"
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        since = datetime.fromisoformat(started).timestamp()
    except (TypeError, ValueError):
        return None
    begun = _process_start(pid)
    if begun is not None and begun > since + 2.0:
        return f"the autoscaler (pid {pid}) is not running: that pid is now another process"
    return None


def staleness(state: Mapping[str, Any], now: float | None = None) -> tuple[float | None, str | None]:
    """(seconds since ``state`` was written, why it is stale or ``None``: live)."""
    now = time.time() if now is None else now
    try:
        written = datetime.fromisoformat(state["time"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None, "the state file has no time"
    age = max(0.0, now - written)
    if not state.get("host") or state.get("host") == socket.gethostname():
        gone = _pid_gone(state.get("pid"), state.get("started"))
        if gone:
            return age, gone
    limit = stale_after(state)
    if age > limit:
        return age, f"the state was not rewritten for more than {limit:g} s: the autoscaler is hung or gone"
    return age, None


def blocks(run_dir: str | os.PathLike[str] | None, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per workload, the ``autoscale`` block of ``/status`` (empty: no autoscaler state in ``run_dir``)."""
    if run_dir is None:
        return {}
    from kedasuite.autoscale.actuator import read_state

    state = read_state(run_dir)
    if not isinstance(state, Mapping) or not isinstance(state.get("workloads"), list):
        return {}
    age, why = staleness(state, now)
    backend = state.get("backend")
    out = {}
    for w in state["workloads"]:
        try:
            nxt = w.get("next_step")
            if nxt is not None and why is None:
                # The state said "in N s" when it was written; now it is that much sooner.
                nxt = {**nxt, "in_seconds": round(max(0.0, float(nxt["in_seconds"]) - (age or 0.0)), 3)}
            out[w["workload"]] = {
                # --backend none runs nothing: there is no actual count, only the model's.
                "actual": None if backend == "none" else w.get("actual"),
                "model": w.get("model"),
                "unit": w.get("unit"),
                "reason": w.get("reason"),
                "next_step": None if why is not None else nxt,
                "deviations": list(w.get("deviations") or []),
                "read_errors": list(w.get("read_errors") or []),
                "stale": why is not None,
                "stale_reason": why,
                "age_seconds": None if age is None else round(age, 3),
                "updated": state.get("time"),
                "backend": backend,
                "pid": state.get("pid"),
                "run_dir": str(run_dir),
            }
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a workload the file does not describe fully is left out, not guessed
    return out


def next_text(block: Mapping[str, Any]) -> str:
    nxt = block.get("next_step")
    if not nxt:
        return ""
    return f"next in {nxt['in_seconds']:g} s: {nxt['reason']}"


def render_lines(entries: list[Mapping[str, Any]]) -> list[str]:
    """``kedasuite status``'s lines about the autoscaler, for the entries that have a block."""
    found = [(e["workload"], e["autoscale"]) for e in entries if e.get("autoscale")]
    if not found:
        return []
    first = found[0][1]
    where = f"pid {first['pid']}, backend {first['backend']}, run dir {first['run_dir']}"
    if first["stale"]:
        lines = [f"autoscaler ({where}): STALE, {first['stale_reason']}; last state from {first['updated']}:"]
    else:
        lines = [f"autoscaler ({where}), state {first['age_seconds']:.1f} s old:"]
    for workload, b in found:
        unit = b.get("unit") or "replicas"
        running = "nothing runs (model only)" if b["actual"] is None else f"{b['actual']} {unit} running"
        line = f"  {workload}: {running}, model {b['model']}; last: {b['reason']}"
        if next_text(b):
            line += f"; {next_text(b)}"
        lines.append(line)
        if b["deviations"]:
            lines.append(f"  {workload}: timings differ from the manifest: {'; '.join(b['deviations'])}")
        if b["read_errors"]:
            lines.append(f"  {workload}: reads failing: {'; '.join(b['read_errors'])}")
    return lines
