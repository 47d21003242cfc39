"""What a scenario run prints and leaves: the header, the verdict table, the timeline CSV and PNG.

The table is plain text (``variant  measure  figure``), one block per variant, so it reads the
same in a terminal, a CI log and the docs (which quote real runs of it). The CSV has one row
per sample and variant; the PNG draws one panel per variant with
:func:`kedasuite.tools.timeline.picture.render`, the picture ``kedasuite timeline`` draws.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kedasuite.scenarios.base import Scenario, Trace, Verdict

#: What each timing stands for on a cluster (the manifests' and Kubernetes' defaults), to state beside it.
CLUSTER = {
    "polling_interval": "15 s",
    "cooldown_period": "60–200 s in k8s/",
    "sync_period": "15 s",
    "stabilization_window": "300 s",
}


def header(scenario: Scenario, mode: str) -> str:
    """What the scenario shows, how, with which timings, load and variants."""
    how = "simulated workers on a simulated clock (--model-only)" if mode == "model" else "real brokers and workers"
    lines = [
        f"scenario {scenario.name}: {how}",
        f"  pitfall: {scenario.pitfall}",
        f"  fix:     {scenario.fix}",
        f"  how:     {scenario.mechanism}",
        "  timings (shortened; a cluster's in brackets): "
        + ", ".join(
            f"{part} ({CLUSTER[k]})" if k in CLUSTER else part
            for k, part in zip(scenario.timings, scenario.timings_text().split(", "))
        ),
        "  load:    " + "; ".join(p.text() for p in scenario.load),
    ]
    if mode == "model":
        lines.append(f"  workers take {scenario.startup:g} s to start (the model's stand-in for a process start)")
    lines.append("  variants:")
    width = max(len(v.key) for v in scenario.variants)
    for v in scenario.variants:
        extra = "".join(f", {k.replace('_', ' ')} {x:g} s" for k, x in v.options.items())
        lines.append(f"    {v.key.ljust(width)}  {v.role:<7}  {v.label} (grace period {v.grace_seconds:g} s{extra})")
    return "\n".join(lines)


def table(verdict: Verdict) -> str:
    """The verdict's rows as a text table, the variant named once per block."""
    heads = ("variant", "measured", "figure")
    widths = [
        max(len(heads[0]), *(len(r.variant) for r in verdict.rows)),
        max(len(heads[1]), *(len(r.measure) for r in verdict.rows)),
    ]
    out = [f"{heads[0].ljust(widths[0])}  {heads[1].ljust(widths[1])}  {heads[2]}"]
    last = None
    for r in verdict.rows:
        name = r.variant if r.variant != last else ""
        out.append(f"{name.ljust(widths[0])}  {r.measure.ljust(widths[1])}  {r.figure}".rstrip())
        last = r.variant
    return "\n".join(out)


def markdown(verdict: Verdict) -> str:
    """The same rows as a Markdown table (for docs/scenarios.md)."""
    out = ["| variant | measured | figure |", "| --- | --- | --- |"]
    last = None
    for r in verdict.rows:
        out.append(f"| {r.variant if r.variant != last else ''} | {r.measure} | {r.figure} |")
        last = r.variant
    return "\n".join(out)


def judgement(scenario: Scenario, verdict: Verdict) -> str:
    shown = [v.key for v in scenario.variants if verdict.problem.get(v.key)]
    if verdict.holds(scenario.variants):
        return f"verdict: the pitfall shows in {', '.join(shown)} and not with the fix. {verdict.conclusion}"
    return (
        f"verdict: NOT AS EXPECTED: the pitfall shows in {', '.join(shown) or 'no variant'}; expected it in "
        f"{', '.join(v.key for v in scenario.variants if v.role == 'pitfall')} only. {verdict.conclusion}"
    )


def write_csv(path: Path, traces: Mapping[str, Trace]) -> Path:
    """One row per sample and variant; the scenario's own figures (``extra``) as columns of their own."""
    extras = sorted({k for t in traces.values() for s in t.samples for k in s.extra})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "variant",
                "role",
                "mode",
                "t",
                "backlog",
                "in_flight",
                "replicas",
                "model",
                "pods",
                "processed",
                "pumped",
                "metric",
                *extras,
            ]
        )
        for key, trace in traces.items():
            for s in trace.samples:
                out.writerow(
                    [
                        key,
                        trace.variant.role,
                        trace.mode,
                        f"{s.t:.3f}",
                        f"{s.backlog:g}",
                        f"{s.in_flight:g}",
                        s.replicas,
                        s.model,
                        s.pods,
                        s.processed,
                        s.pumped,
                        "" if s.metric is None else f"{s.metric:g}",
                        *(f"{s.extra[k]:g}" if k in s.extra else "" for k in extras),
                    ]
                )
    return path


def draw(path: Path, scenario: Scenario, traces: Mapping[str, Trace]) -> Path | None:
    """One panel per variant: backlog and in flight (left axis), the model's and the running count (right).
    ``None`` without matplotlib (the ``timeline`` extra): the CSV holds the same samples."""
    try:
        import matplotlib  # noqa: F401 - only to know whether the picture can be drawn
    except ImportError:
        return None
    from kedasuite.tools.timeline.picture import render
    from kedasuite.tools.timeline.records import Row

    start = datetime.now(UTC).replace(microsecond=0)
    rows = []
    jobs = any(t.variant.manifest.get("kind") == "ScaledJob" for t in traces.values())
    for key, trace in traces.items():
        rows += [
            Row(
                start + timedelta(seconds=s.t),
                key,
                s.backlog,
                s.in_flight,
                s.processed,
                s.model,
                "jobs" if jobs else "replicas",
                None,
                s.replicas,
            )
            for s in trace.samples
        ]
    mode = "simulated workers" if next(iter(traces.values())).mode == "model" else "real workers"
    title = "\n".join(
        [
            f"kedasuite scenario {scenario.name} ({mode})",
            *(f"{key}: {trace.variant.label}" for key, trace in traces.items()),
        ]
    )
    return render(
        rows,
        path,
        title,
        {
            "predicted": "the model's Jobs" if jobs else "the model's replicas",
            "actual": "Jobs running" if jobs else "replicas running",
            "kind": "ScaledJob" if jobs else "ScaledObject",
        },
    )
