"""What ``/status``, the dashboard, ``kedasuite status`` and ``kedasuite timeline`` show of a
local autoscaler: its ``RUN_DIR/state.json`` (:func:`kedasuite.autoscale.actuator.read_state`),
per workload, whether that state is still live, and, when it is not, whose it was, how old
it is and what to change to see a live one.

A state is *stale* when the autoscaler that wrote it is gone: it wrote that it stopped, its
pid is not running (or is a zombie, or now belongs to a process started after the
autoscaler did), or the file has not been rewritten for :func:`stale_after` seconds (an
autoscaler rewrites it after every pass, at least every
:data:`~kedasuite.autoscale.actuator.REFRESH_SECONDS`; a hung one stops). An autoscaler
that is stopping writes so once, with the grace period its workers get: that long, its
state is *stopping*, not stale. The pid is only checked when the state was written on this
host (same hostname): from a container, only the file's age and the stop mark count.
Stale state is shown as stale, with its age, and without a predicted next step; the
timeline does not record it.

A face may read a run directory nobody writes to (the default one, with an old run's
state, while ``kedasuite autoscale`` runs with ``--run-dir`` elsewhere). Each running
autoscaler lists itself in :func:`registry_dir` (one small file per pid, removed when it
stops), so a face can name the run directories that are live instead, and the variable and
option that point it there.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from kedasuite.core import defaults
from kedasuite.core.names import Env

#: A state not rewritten for this long is stale whatever the polling interval (a pass can
#: wait on a broker's connect timeout on a busy machine).
STALE_MIN_SECONDS = 10.0
#: ... and not before this many polling intervals have passed without a rewrite.
STALE_POLLS = 3
#: The environment variable and the faces' option that choose the run directory they read
#: (kedasuite.cli.options.autoscale_run_dir_option).
RUN_DIR_VARIABLE = Env.AUTOSCALE_RUN_DIR
RUN_DIR_OPTION = "--autoscale-run-dir"


def registry_dir() -> Path:
    """Where each running autoscaler of this user lists its run directory (``<pid>.json``)."""
    return Path(tempfile.gettempdir()) / f"kedasuite-autoscalers-{os.getuid()}"


def stale_after(state: Mapping[str, Any]) -> float:
    """Seconds without a rewrite after which ``state`` is stale: a few of its shortest polling
    interval, or, once it is stopping, the grace period it gave its workers and a margin."""
    intervals = [
        w["polling_interval"] for w in state.get("workloads", []) if isinstance(w.get("polling_interval"), int | float)
    ]
    limit = max(STALE_MIN_SECONDS, STALE_POLLS * min(intervals, default=0.0))
    stopping = state.get("stopping")
    if isinstance(stopping, Mapping) and isinstance(stopping.get("within_seconds"), int | float):
        limit = max(limit, float(stopping["within_seconds"]) + STALE_MIN_SECONDS)
    return limit


def _proc(pid: int) -> tuple[str, float | None] | None:
    """(state letter, start time in Unix seconds ±1 s or ``None``) of ``pid`` from /proc; ``None``: unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    try:
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return fields[0], None


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
    found = _proc(pid)
    if found is not None and found[0] in ("Z", "X"):
        # Exited, not yet reaped by its parent: signal 0 still reaches it.
        return f"the autoscaler (pid {pid}) is not running"
    try:
        since = datetime.fromisoformat(started).timestamp()
    except (TypeError, ValueError):
        return None
    begun = None if found is None else found[1]
    if begun is not None and begun > since + 2.0:
        return f"the autoscaler (pid {pid}) is not running: that pid is now another process"
    return None


def clock(iso: Any) -> str:
    """An ISO time as this machine's local clock reads it (``HH:MM:SS``, with the date when not today)."""
    try:
        when = datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return "an unknown time"
    return when.strftime("%H:%M:%S" if when.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None) -> str:
    """A duration in words a person reads at a glance: 4.2 s, 3 min 5 s, 2 h 10 min, 3 days."""
    if seconds is None:
        return "of unknown age"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return f"{int(seconds // 86400)} days"


def staleness(state: Mapping[str, Any], now: float | None = None) -> tuple[float | None, str | None]:
    """(seconds since ``state`` was written, why it is stale or ``None``: live or stopping)."""
    now = time.time() if now is None else now
    try:
        written = datetime.fromisoformat(state["time"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None, "the state file has no time"
    age = max(0.0, now - written)
    stopped = state.get("stopped")
    if isinstance(stopped, Mapping):
        # No clock time in the words: a face in another time zone (a pump in a container) would
        # show it in this one's; the age and the state's own time say when.
        why = f" ({stopped['why']})" if stopped.get("why") else ""
        return age, f"the autoscaler (pid {state.get('pid')}) is not running: it stopped{why}"
    if not state.get("host") or state.get("host") == socket.gethostname():
        gone = _pid_gone(state.get("pid"), state.get("started"))
        if gone:
            return age, gone
    limit = stale_after(state)
    if age > limit:
        if stopping_mark(state) is not None:
            return age, (
                f"the autoscaler (pid {state.get('pid')}) began stopping and has not finished within "
                f"{limit:g} s: it is hung or gone"
            )
        return age, f"the state was not rewritten for more than {limit:g} s: the autoscaler is hung or gone"
    return age, None


def stopping_mark(state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The autoscaler's note that it is stopping (since when, why), unless it has stopped."""
    mark = state.get("stopping")
    return mark if isinstance(mark, Mapping) and not isinstance(state.get("stopped"), Mapping) else None


# --- the registry of running autoscalers -------------------------------------------------------


def register(run_dir: str | os.PathLike[str], backend: str, started: str) -> Path | None:
    """List this process as an autoscaler writing to ``run_dir``; the file to :func:`unregister` at exit.

    Entries of autoscalers gone without unregistering (SIGKILL) are removed on the way. A
    registry that cannot be written (``None``) costs the faces a hint, not the autoscaler its run."""
    folder = registry_dir()
    path = folder / f"{os.getpid()}.json"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        running(prune=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(
            json.dumps(
                {"pid": os.getpid(), "started": started, "backend": backend, "run_dir": str(Path(run_dir).resolve())}
            )
        )
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def unregister(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def running(prune: bool = False) -> list[dict[str, Any]]:
    """The autoscalers of this user running now on this machine, the most recently started first."""
    found = []
    folder = registry_dir()
    try:
        if folder.stat().st_uid != os.getuid():
            return []  # not ours: anyone can create a name in /tmp, and its entries would mislead
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for path in paths:
        try:
            entry = json.loads(path.read_text())
            alive = _pid_gone(entry["pid"], entry["started"]) is None
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if alive:
            found.append(entry)
        elif prune:
            unregister(path)
    return sorted(found, key=lambda e: str(e.get("started")), reverse=True)


def elsewhere(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The running autoscalers that write to another run directory than ``run_dir``."""
    here = str(Path(run_dir).resolve())
    return [e for e in running() if e.get("run_dir") != here]


# --- what the faces show -----------------------------------------------------------------------


def read(
    run_dir: str | os.PathLike[str] | None, now: float | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """From one read of ``run_dir``: the ``autoscale`` block of ``/status`` per workload, and the
    ``autoscaler`` summary (``None``: no state there and no autoscaler running elsewhere: nothing to say)."""
    if run_dir is None:
        return {}, None
    from kedasuite.autoscale.actuator import read_state

    now = time.time() if now is None else now
    state = read_state(run_dir)
    if not isinstance(state, Mapping) or not isinstance(state.get("workloads"), list):
        state = None
    others = elsewhere(run_dir)
    if state is None:
        if not others:
            return {}, None
        summary: dict[str, Any] = {
            "run_dir": str(run_dir),
            "state": "absent",
            "pid": None,
            "backend": None,
            "updated": None,
            "age_seconds": None,
            "stale_reason": None,
            "stopping": None,
            "elsewhere": others,
        }
        summary["note"] = note(summary)
        return {}, summary
    age, why = staleness(state, now)
    stopping = None if why is not None else stopping_mark(state)
    summary = {
        "run_dir": str(run_dir),
        "state": "stale" if why else "stopping" if stopping else "live",
        "pid": state.get("pid"),
        "backend": state.get("backend"),
        "updated": state.get("time"),
        "age_seconds": None if age is None else round(age, 3),
        "stale_reason": why,
        "stopping": None if stopping is None else dict(stopping),
        "elsewhere": others,
    }
    summary["note"] = note(summary)
    return _blocks(state, str(run_dir), age, why, summary["stopping"]), summary


def _blocks(
    state: Mapping[str, Any], run_dir: str, age: float | None, why: str | None, stopping: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
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
                # Gone, or stopping: it takes no further step.
                "next_step": None if why is not None or stopping is not None else nxt,
                "deviations": list(w.get("deviations") or []),
                "read_errors": list(w.get("read_errors") or []),
                "stale": why is not None,
                "stale_reason": why,
                "stopping": stopping,
                "age_seconds": None if age is None else round(age, 3),
                "updated": state.get("time"),
                "backend": backend,
                "pid": state.get("pid"),
                "run_dir": run_dir,
            }
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a workload the file does not describe fully is left out, not guessed
    return out


def blocks(run_dir: str | os.PathLike[str] | None, now: float | None = None) -> dict[str, dict[str, Any]]:
    """Per workload, the ``autoscale`` block of ``/status`` (empty: no autoscaler state in ``run_dir``)."""
    return read(run_dir, now)[0]


def fix(run_dir: str, others: Sequence[Mapping[str, Any]]) -> str:
    """What to change to see a live autoscaler: the run directory one writes to, else how to start one."""
    if len(others) == 1:
        other = others[0]
        return (
            f"an autoscaler runs now with pid {other.get('pid')} (backend {other.get('backend')}) and run dir "
            f"{other.get('run_dir')}: set {RUN_DIR_VARIABLE}={other.get('run_dir')} or pass {RUN_DIR_OPTION} "
            f"{other.get('run_dir')} to see it"
        )
    if others:
        listed = "; ".join(
            f"pid {o.get('pid')} (backend {o.get('backend')}) with run dir {o.get('run_dir')}" for o in others
        )
        return (
            f"autoscalers run now elsewhere: {listed}; set {RUN_DIR_VARIABLE}=<its run dir> or pass "
            f"{RUN_DIR_OPTION} <its run dir> to see one"
        )
    start = (
        "kedasuite autoscale"
        if _same(run_dir, defaults.autoscale_run_dir())
        else f"kedasuite autoscale --run-dir {run_dir}"
    )
    return (
        f"no autoscaler of this user runs on this host now: start one (`{start}`), or, for one that writes "
        f"elsewhere, set {RUN_DIR_VARIABLE}=<its run dir> or pass {RUN_DIR_OPTION} <its run dir>"
    )


def _same(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b


def note(summary: Mapping[str, Any] | None, with_age: bool = True) -> str | None:
    """The words every face shows when the state it reads is not live: whose it is, how old,
    and the fix; ``None`` when it is live (or stopping) or there is nothing to say.
    ``with_age=False`` leaves the age out, for a note printed once rather than refreshed."""
    if not summary:
        return None
    run_dir = str(summary.get("run_dir"))
    others = list(summary.get("elsewhere") or [])
    if summary.get("state") == "absent":
        return f"no autoscaler state in {run_dir}; {fix(run_dir, others)}"
    if summary.get("state") != "stale":
        return None
    old = f" {ago(summary.get('age_seconds'))} ago" if with_age else ""
    return (
        f"the autoscaler state in {run_dir} is stale: {summary.get('stale_reason')}; its numbers are the "
        f"last that autoscaler (pid {summary.get('pid')}, backend {summary.get('backend')}) wrote{old}, not "
        f"live; {fix(run_dir, others)}"
    )


def next_text(block: Mapping[str, Any]) -> str:
    nxt = block.get("next_step")
    if not nxt:
        return ""
    return f"next in {nxt['in_seconds']:g} s: {nxt['reason']}"


def stopping_text(stopping: Mapping[str, Any]) -> str:
    """'stopping since 10:02:03 (SIGTERM; its workers get up to 30 s)'."""
    within = stopping.get("within_seconds")
    grace = f"; its workers get up to {within:g} s" if isinstance(within, int | float) else ""
    return f"stopping since {clock(stopping.get('since'))} ({stopping.get('why') or 'asked to'}{grace})"


def render_lines(status: Mapping[str, Any]) -> list[str]:
    """``kedasuite status``'s lines about the autoscaler: its state per workload, and in words
    when that state is not live, whose it is, how old, and the fix."""
    summary = status.get("autoscaler")
    found = [(e["workload"], e["autoscale"]) for e in status.get("workloads", []) if e.get("autoscale")]
    lines = []
    if found:
        first = found[0][1]
        where = f"pid {first['pid']}, backend {first['backend']}, run dir {first['run_dir']}"
        if first["stale"]:
            lines.append(
                f"autoscaler ({where}): STALE, {first['stale_reason']}; its last state, written at "
                f"{clock(first['updated'])} ({ago(first['age_seconds'])} ago), is not live:"
            )
        elif first.get("stopping"):
            lines.append(
                f"autoscaler ({where}), {stopping_text(first['stopping'])}, state {first['age_seconds']:.1f} s old:"
            )
        else:
            lines.append(f"autoscaler ({where}), state {first['age_seconds']:.1f} s old:")
        for workload, b in found:
            unit = b.get("unit") or "replicas"
            running_now = "nothing runs (model only)" if b["actual"] is None else f"{b['actual']} {unit} running"
            line = f"  {workload}: {running_now}, model {b['model']}; last: {b['reason']}"
            if next_text(b):
                line += f"; {next_text(b)}"
            lines.append(line)
            if b["deviations"]:
                lines.append(f"  {workload}: timings differ from the manifest: {'; '.join(b['deviations'])}")
            if b["read_errors"]:
                lines.append(f"  {workload}: reads failing: {'; '.join(b['read_errors'])}")
    if isinstance(summary, Mapping):
        if summary.get("state") == "stale" and found:
            # The head line said whose and how old: what is left is the fix.
            lines.append(f"autoscaler: {fix(str(summary.get('run_dir')), list(summary.get('elsewhere') or []))}")
        elif note(summary):
            lines.append(f"autoscaler: {note(summary)}")
    return lines
