"""``kedasuite scenario NAME``: a KEDA pitfall reproduced next to its fix, ending in a verdict with numbers.

Runs every variant of the scenario (:mod:`kedasuite.scenarios.catalogue`) through the local
autoscaler, on real brokers and worker processes (embedded ones unless ``--redis-url`` /
``--bootstrap-servers``), or with ``--model-only`` against simulated workers in well under a
second; prints the verdict table and writes ``<out>/<name>.png`` (one panel per variant),
``<out>/<name>.csv`` (every sample), ``<out>/<name>.md`` (the table in Markdown),
``<out>/<name>.log`` (the autoscaler's lines) and
``<out>/<name>-logs/<variant>/`` (each worker's own log). Exits 0
when the pitfall shows where expected and nowhere else, 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kedasuite.cli.options import option, reports_errors
from kedasuite.core import config

if TYPE_CHECKING:
    from kedasuite.scenarios.base import Scenario


@click.command()
@click.argument("name", required=False)
@option("--list", "list_only", setting=config.SCENARIO_LIST)
@option("--model-only", setting=config.SCENARIO_MODEL_ONLY)
@option("--out", setting=config.SCENARIO_OUT)
@option(
    "--redis-url",
    setting=config.REDIS_URL,
    default=None,
    help="Use this Redis (an empty database) instead of starting an embedded one.",
    show_default=None,
)
@option(
    "--bootstrap-servers",
    setting=config.KAFKA_BOOTSTRAP_SERVERS,
    default=None,
    help="Use this Kafka instead of starting an embedded one (each variant gets its own topic and group).",
)
@option("--deadline-factor", setting=config.SCENARIO_DEADLINE_FACTOR)
@reports_errors
def scenario(
    name: str | None,
    list_only: bool,
    model_only: bool,
    out: str,
    redis_url: str | None,
    bootstrap_servers: str | None,
    deadline_factor: float,
) -> None:
    """Reproduce a KEDA pitfall beside its fix: NAME, or 'all'.

    \b
    kedasuite scenario --list
    kedasuite scenario celery-inflight              # real Redis and Celery workers (embedded Redis)
    kedasuite scenario cooldown --model-only        # the model and simulated workers, instantly
    kedasuite scenario all --model-only
    """
    from kedasuite.scenarios.catalogue import SCENARIOS
    from kedasuite.scenarios.catalogue import scenario as find

    if list_only or not name:
        width = max(len(n) for n in SCENARIOS)
        for key, s in SCENARIOS.items():
            click.echo(f"{key.ljust(width)}  {s.summary}")
        if not list_only:
            click.echo("\nkedasuite scenario NAME runs one (--model-only: without brokers); --help for the options")
        return
    chosen = list(SCENARIOS.values()) if name == "all" else [find(name)]
    results = [_run(s, model_only, Path(out), redis_url, bootstrap_servers, deadline_factor) for s in chosen]
    sys.exit(0 if all(results) else 1)


def _run(
    chosen: Scenario, model_only: bool, out: Path, redis_url: str | None, bootstrap: str | None, factor: float
) -> bool:
    from kedasuite.scenarios import render
    from kedasuite.scenarios.runner import run_model

    mode = "model" if model_only or chosen.model_only_reason else "live"
    click.echo(render.header(chosen, mode))
    if chosen.model_only_reason and not model_only:
        click.echo(f"  runs on the model only: {chosen.model_only_reason}")
    lines: list[str] = []
    started = time.monotonic()
    if mode == "model":
        traces = run_model(chosen)
    else:
        from kedasuite.scenarios.live import run_live

        traces = run_live(
            chosen,
            redis_url,
            bootstrap,
            click.echo,
            lambda key, line: lines.append(f"{key}: {line}"),
            factor,
            out / f"{chosen.name}-logs",
        )
    elapsed = time.monotonic() - started
    for key, trace in traces.items():
        ended = "stopped at its deadline" if trace.timed_out else "played out"
        click.echo(f"  {key}: {ended} after {trace.seconds:.1f} s")
    verdict = chosen.verdict(traces)
    click.echo(render.table(verdict))
    click.echo(render.judgement(chosen, verdict))
    stem = out / (chosen.name + ("-model" if mode == "model" else ""))
    render.write_csv(stem.with_suffix(".csv"), traces)
    picture = render.draw(stem.with_suffix(".png"), chosen, traces)
    if picture is None:
        click.echo("no PNG: matplotlib is not installed (pip install 'kedasuite[timeline]'); the CSV has the samples")
    stem.with_suffix(".md").write_text(render.markdown(verdict) + "\n\n" + render.judgement(chosen, verdict) + "\n")
    written = [p for p in (picture, stem.with_suffix(".csv"), stem.with_suffix(".md")) if p is not None]
    if lines:
        stem.with_suffix(".log").write_text("\n".join(lines) + "\n")
        written.append(stem.with_suffix(".log"))
    click.echo(f"timeline: {', '.join(str(p) for p in written)} ({elapsed:.1f} s)")
    return verdict.holds(chosen.variants)
