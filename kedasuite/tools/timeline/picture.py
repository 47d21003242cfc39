"""The timeline picture: one panel per workload, backlog and in-flight on the left axis,
predicted and actual replicas as step lines on the right one.

Drawn with nothing but matplotlib (imported only here, and only when drawing), so it works
on a laptop, in CI and after a kind end-to-end run alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC
from pathlib import Path

from kedasuite.core.errors import InputError
from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.tools.timeline.records import Number, Row


def _ordered(names: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(names))
    return [w for w in WORKLOADS if w in seen] + [w for w in seen if w not in WORKLOADS]


def _series(values: Iterable[Number | None]) -> list[float]:
    """NaN where a value is missing, so matplotlib leaves a gap instead of drawing zero."""
    return [math.nan if v is None else float(v) for v in values]


def render(
    rows: Sequence[Row], png: str | os.PathLike[str], title: str | None = None, labels: Mapping[str, str] | None = None
) -> Path:
    """Draw one panel per workload: backlog and in-flight (left), replicas (right, steps).

    ``labels`` renames the right axis' lines (``predicted``, ``actual``) and the panel's kind
    (``kind``): ``kedasuite scenario`` draws the model's count, not KEDA's target, one panel per variant."""
    names = dict(labels or {})
    if not rows:
        raise InputError("nothing to draw: the timeline has no samples; record for longer (--duration)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    start = min(r.time for r in rows)
    span = max((r.time - start).total_seconds() for r in rows)
    scale, unit_label = (60.0, "minutes") if span > 600 else (1.0, "seconds")
    workloads = _ordered(r.workload for r in rows)
    fig, axes = plt.subplots(len(workloads), 1, figsize=(10, 0.8 + 2.7 * len(workloads)), sharex=True, squeeze=False)
    for ax, workload in zip(axes[:, 0], workloads):
        mine = sorted((r for r in rows if r.workload == workload), key=lambda r: r.time)
        x = [(r.time - start).total_seconds() / scale for r in mine]
        backlog = _series(r.backlog for r in mine)
        ax.fill_between(x, backlog, step="post", color="tab:blue", alpha=0.15, linewidth=0)
        ax.step(x, backlog, where="post", color="tab:blue", linewidth=1.6, label="backlog")
        ax.step(
            x, _series(r.in_flight for r in mine), where="post", color="tab:orange", linewidth=1.4, label="in flight"
        )
        ax.set_ylabel("items")
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)

        jobs = mine[-1].unit == "jobs"
        right = ax.twinx()
        predicted = _series(r.predicted for r in mine)
        actual = _series(r.actual for r in mine)
        right.step(
            x,
            predicted,
            where="post",
            color="tab:green",
            linestyle="--",
            linewidth=1.8,
            label=names.get("predicted") or ("KEDA: new Jobs next poll" if jobs else "KEDA target replicas"),
        )
        if any(not math.isnan(a) for a in actual):
            right.step(
                x,
                actual,
                where="post",
                color="tab:red",
                linewidth=2.0,
                label=names.get("actual") or ("Jobs running" if jobs else "replicas running"),
            )
        top = max([v for v in predicted + actual if not math.isnan(v)] or [0.0])
        right.set_ylim(0, max(top, 1.0) * 1.15 + 0.2)
        right.yaxis.set_major_locator(MaxNLocator(integer=True))
        right.set_ylabel("Jobs" if jobs else "replicas")

        processed = next((r.processed for r in reversed(mine) if r.processed is not None), None)
        heading = workload + (
            f" ({names['kind']})" if "kind" in names else " (ScaledJob)" if jobs else " (ScaledObject)"
        )
        if processed is not None:
            heading += f": {processed} processed"
        ax.set_title(heading, loc="left", fontsize=11)
        handles, labels = ax.get_legend_handles_labels()
        more_handles, more_labels = right.get_legend_handles_labels()
        # Above the panel, right of its title: inside, it would hide the peak it is about.
        ax.legend(
            handles + more_handles,
            labels + more_labels,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=4,
            fontsize=8,
            frameon=False,
            borderaxespad=0.2,
        )
    axes[-1, 0].set_xlabel(f"{unit_label} since {start.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    fig.suptitle(title or "Backlog and replicas over time", fontsize=13)
    fig.tight_layout()
    out = Path(png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
