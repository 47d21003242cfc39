"""What ``kedasuite simulate`` does: replay a metric series through the model of KEDA's and the HPA's loop.

No broker and no cluster: the ScaledObject or ScaledJob of one workload is read from the
rendered manifests (the same loader as ``status``), each trigger reads the series it is
given (0 when none), and :func:`kedasuite.keda.model.replay` acts the control loop out.
The text output lists each change of the replica (or Job) count with its time and reason;
``--json`` the whole trace. Options named after manifest fields override them, for what-if
questions ("what if cooldownPeriod were 60?").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kedasuite.core import defaults
from kedasuite.core.errors import InputError
from kedasuite.core.workloads import SCALED_JOB
from kedasuite.keda.model import Options, Step
from kedasuite.keda.model.replay import Series
from kedasuite.keda.model.triggers import Value
from kedasuite.keda.rules.hpa import DOWNSCALE_STABILIZATION
from kedasuite.keda.rules.scaling import new_hpa_behavior
from kedasuite.keda.rules.spec import Scaler

#: Series a ScaledJob takes besides its triggers: the Jobs a cluster reports.
JOB_SERIES = ("running", "pending")
#: In kafka per-partition lags (``10/missing/3``): a partition the broker's latest-offset answer left
#: out. KEDA counts no lag for it and leaves it out of the partition cap (``getTotalLag``).
MISSING_PARTITION = "missing"


def _value(text: str, trigger: str, per_partition: bool) -> Value:
    text = text.strip()
    if text.lower() in ("error", "fail", "failed"):
        return None
    if "/" in text:
        if not per_partition:
            raise InputError(
                f"--series {trigger}: {text!r} gives per-partition lags, which only a kafka trigger takes; "
                "give one number"
            )
        return tuple(_partition_lag(part, trigger) for part in text.split("/"))
    return _number(text, trigger)


def _partition_lag(text: str, trigger: str) -> float | None:
    """One partition's lag in ``10/0/3``, or ``None`` for :data:`MISSING_PARTITION`."""
    if text.strip().lower() == MISSING_PARTITION:
        return None
    return float(_number(text, trigger))


def _number(text: str, trigger: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(
            f"--series {trigger}: {text!r} is not a number; a value is a number, 'error' (the read "
            f"fails), or for kafka per-partition lags like 10/0/3 ('{MISSING_PARTITION}' for a partition "
            "the broker's latest offsets leave out)"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"--series {trigger}: {text!r} must be a number >= 0")
    return value


def parse_series(specs: Sequence[str], scaler: Scaler) -> dict[str, Series]:
    """``TRIGGER=SECONDS:VALUE,...`` per trigger of ``scaler`` (and ``running``/``pending`` for a ScaledJob)."""
    kinds = {t.name: t.type for t in scaler.triggers}
    allowed = list(kinds) + (list(JOB_SERIES) if scaler.kind == SCALED_JOB else [])
    out: dict[str, Series] = {}
    for spec in specs:
        for chunk in spec.split():
            name, sep, pairs = chunk.partition("=")
            if not sep or not name or not pairs:
                raise InputError(
                    f"--series {chunk!r}: write TRIGGER=SECONDS:VALUE,... (e.g. {defaults.SIMULATE_EXAMPLE})"
                )
            if name not in allowed:
                raise InputError(
                    f"--series {name}: {scaler.name} has no trigger {name!r}; give one of {', '.join(allowed)}"
                )
            if name in out:
                raise InputError(f"--series {name} is given twice; give each trigger one series")
            points: list[tuple[float, Value]] = []
            for pair in pairs.split(","):
                at, sep, raw = pair.partition(":")
                if not sep:
                    raise InputError(
                        f"--series {name}: {pair!r} is not SECONDS:VALUE (e.g. {defaults.SIMULATE_EXAMPLE})"
                    )
                try:
                    t = float(at)
                except ValueError:
                    raise InputError(f"--series {name}: {at!r} in {pair!r} is not a number of seconds") from None
                if t < 0 or (points and t <= points[-1][0]):
                    raise InputError(
                        f"--series {name}: times must be >= 0 and increasing ({pair!r} comes after {points[-1][0]:g} s)"
                        if points
                        else f"--series {name}: {at!r} is negative"
                    )
                value = _value(raw, name, kinds.get(name) == "kafka")
                if name in JOB_SERIES and value is None:
                    raise InputError(f"--series {name}: a Job count cannot be 'error'")
                points.append((t, value))
            out[name] = Series(tuple(points))
    if "pending" in out and "running" not in out:
        raise InputError("--series pending needs --series running too (pending Jobs are among the running ones)")
    return out


def scaler_for(
    workload: str, manifests: str | None, overlay: str | None, name: str | None = None
) -> tuple[Scaler, str]:
    """The workload's ScaledObject / ScaledJob: from ``--manifests`` or ``--overlay`` as ``status`` reads
    them, by default from the bundled render of ``k8s/overlays/local`` (tests keep it equal to the
    overlay; no kubectl run, so the answer comes in well under a second). ``name`` (``--object``)
    picks one by its name instead, for objects that scale no workload of the suite (KEDA's own
    examples)."""
    from kedasuite.keda.objects import load_scalers, workload_of

    scalers, source = load_scalers(manifests, overlay, bundled_by_default=True)
    if name:
        named = [s for s in scalers if s.name == name]
        if not named:
            have = ", ".join(sorted(s.name for s in scalers)) or "none"
            raise InputError(f"{source} has no ScaledObject or ScaledJob named {name!r} (it has: {have})")
        return named[0], source
    found = [s for s in scalers if workload_of(s) == workload]
    if not found:
        raise InputError(
            f"{source} has no ScaledObject or ScaledJob for workload {workload!r} (none of its "
            "triggers watches that workload's backlog); pass --overlay or --manifests holding one"
        )
    return found[0], source


def describe(scaler: Scaler, options: Options, source: str) -> str:
    s = options.apply(scaler)
    head = (
        f"{s.kind} {s.name} from {source}: pollingInterval {s.polling_interval:g} s, "
        f"min {s.min_replicas}, max {s.max_replicas}"
    )
    if s.kind == SCALED_JOB:
        head += f", strategy {s.strategy}; each Job runs {options.job_seconds:g} s per wave"
    else:
        window = options.stabilization_window if options.stabilization_window is not None else DOWNSCALE_STABILIZATION
        if s.hpa_behavior:
            path = "behavior path (advanced.horizontalPodAutoscalerConfig.behavior)"
        elif new_hpa_behavior(s):
            path = "behavior path (given by the paused-scale-in/-out annotation, selectPolicy Disabled)"
        else:
            path = f"legacy path (no behavior): scale-up max(2 × current, 4) per sync, scale-down window {window:g} s"
        head += (
            f", cooldownPeriod {s.cooldown_period:g} s; HPA every {options.sync_period:g} s, "
            f"tolerance {options.tolerance:g}, {path}"
        )
    if s.pause.given:  # only when present, so a header without them reads as it always has
        head += f"; annotations {s.pause.text()}"
    deviations = options.deviations(scaler)
    if deviations:
        head += "\nwhat-if (differs from the manifest): " + "; ".join(deviations)
    return head


def render(steps: Sequence[Step], unit: str) -> str:
    lines = [f"{'t (s)':>7}  {unit:<9} reason"]
    for s in steps:
        if s.changed:
            count = f"{s.before} → {s.replicas}"
            done = [f"{s.finished} done"] if s.finished else []
            if s.created or s.finished:
                count += f" ({', '.join(done + ([f'+{s.created}'] if s.created else []))})"
            lines.append(f"{s.t:>7g}  {count:<9} {s.reason}")
    if len(lines) == 1:
        last = steps[-1] if steps else None
        lines.append(f"{'':>7}  {'—':<9} no change" + (f"; last step: {last.reason}" if last else ""))
    return "\n".join(lines)
