"""``kedasuite e2e run | check | plan``: the end-to-end checks' command line.

The click face of :mod:`kedasuite.tools.e2e`; :mod:`kedasuite.cli` registers it on the main
group (this module uses the option helpers there, so only ``kedasuite.cli`` imports it).
Every option reads an ``E2E_*`` variable (named in :class:`kedasuite.core.names.Env`).
Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage or setup.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from kedasuite.cli.options import F, UserError, option, reports_errors
from kedasuite.core import config
from kedasuite.core.errors import SuiteError
from kedasuite.core.workloads import NAMES as WORKLOADS
from kedasuite.core.workloads import workload as row_of
from kedasuite.tools.e2e import plan as planning


def parse_workloads(names: Sequence[str]) -> list[str]:
    """Workloads named on the command line (commas allowed), in the standard order; none = all."""
    wanted = {n.strip() for name in names for n in name.split(",") if n.strip()}
    unknown = sorted(wanted - set(WORKLOADS))
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(unknown)}: choose from {', '.join(WORKLOADS)}")
    return [w for w in WORKLOADS if w in wanted] if wanted else list(WORKLOADS)


def run_options(func: F) -> F:
    """The workloads and the phase lengths, shared by ``run`` and ``plan``."""
    options = [
        click.argument("workloads", nargs=-1, metavar="[WORKLOAD]..."),
        option("--idle", setting=config.E2E_IDLE_SECONDS),
        option("--hold", setting=config.E2E_HOLD_SECONDS),
        option("--interval", setting=config.E2E_INTERVAL),
        option("--margin", setting=config.E2E_MARGIN),
        option("--burst", setting=config.E2E_BURST),
        option("--drain-timeout", setting=config.E2E_DRAIN_TIMEOUT),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def _settings(
    idle: float, hold: float, interval: float, margin: float, burst: int | None, drain_timeout: float
) -> planning.Settings:
    return planning.Settings(
        idle_s=idle, hold_s=hold, interval_s=interval, margin_s=margin, burst=burst, drain_timeout_s=drain_timeout
    )


def _workloads(names: Sequence[str]) -> list[str]:
    try:
        return parse_workloads(names)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _log(message: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {message}", err=True)


def judge(path: str | Path, model_csv: str | Path | None = None) -> int:
    """Print the verdict table of a saved timeline, then the model's predicted trace beside the
    observed one (written to ``model_csv`` too, when given); 0 if every check passed, else 1.
    The comparison informs (it calibrates the model) and does not change the exit status."""
    from kedasuite.tools.e2e import calibrate
    from kedasuite.tools.e2e.verdicts import evaluate, read_timeline, render_table

    try:
        timeline = read_timeline(path)
        results = evaluate(timeline)
        calibrations = calibrate.calibrate_all(timeline)
    except (SuiteError, OSError, ValueError, KeyError, TypeError) as exc:
        why = exc.message if isinstance(exc, SuiteError) else str(exc)
        raise UserError(f"cannot read the timeline {path}: {why}") from None
    if calibrations:
        click.echo(calibrate.render(calibrations))
        click.echo("")
    click.echo(render_table(results))
    if model_csv is not None:
        with open(model_csv, "w", newline="") as f:
            calibrate.write_csv(calibrations, f)
        _log(f"the model's trace beside the cluster's is in {model_csv}")
    return 0 if results and all(r.passed for r in results) else 1


@click.group("e2e", context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def e2e() -> None:
    """End-to-end checks of KEDA scaling on a deployed suite (scripts/e2e builds the kind cluster).

    For each workload: idle at 0, no wake-up under the activation threshold, scale-out to
    what the KEDA/HPA formulas predict in time, back to 0 after the drain, nothing lost.
    """


@e2e.command("run")
@run_options
@option("--pump-url", setting=config.E2E_PUMP_URL)
@option(
    "--pump-token",
    setting=config.PUMP_TOKEN,
    show_default="none",
    help="The pump's bearer token, when it has one. Prefer the variable.",
)
@option("--context", setting=config.E2E_CONTEXT)
@option("--namespace", setting=config.E2E_NAMESPACE)
@option(
    "--partitions",
    setting=config.KAFKA_PARTITIONS,
)
@option("--timeline", setting=config.E2E_TIMELINE)
@option("--parallel", setting=config.E2E_PARALLEL)
@reports_errors
def run(
    workloads: tuple[str, ...],
    pump_url: str,
    pump_token: str | None,
    context: str | None,
    namespace: str,
    partitions: int,
    timeline: str,
    parallel: bool,
    **phases: Any,
) -> None:
    """Drive the deployed suite through every phase, then judge the timeline."""
    from kedasuite.tools.e2e.driver import Driver
    from kedasuite.tools.e2e.probe import ClusterProbe, PumpApi
    from kedasuite.tools.timeline.records import CsvWriter
    from kedasuite.tools.timeline.sources import Cluster

    names = _workloads(workloads)
    settings = _settings(**phases)
    cluster, why = Cluster.connect(namespace, context)
    probe = ClusterProbe(PumpApi(pump_url, pump_token), cluster, partitions, log=_log)
    plans = {}
    for w in names:
        # Without its live ScaledObject / ScaledJob nothing would scale: stop now rather
        # than after every phase has timed out.
        row = row_of(w)
        try:
            if cluster is None:
                raise LookupError(why)
            spec = probe.spec(w)
        except Exception as exc:  # noqa: BLE001 - ApiException, ValueError, no cluster: all stop the run
            reason = getattr(exc, "reason", None) or str(exc)
            raise UserError(
                f"cannot read {row.keda_kind} {row.keda_name!r} in namespace {namespace!r} "
                f"(is k8s/overlays/local applied, with KEDA installed?): {reason}"
            ) from None
        plans[w] = planning.make_plan(spec, settings)
    path = Path(timeline)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        Driver(probe, plans, CsvWriter(f), settings, log=_log).run(names, parallel=parallel)
    _log(f"timeline written to {path}; draw it with: kedasuite timeline --render-only {path}")
    sys.exit(judge(path, path.with_name(f"{path.stem}-model.csv")))


@e2e.command("check")
@click.argument("timeline", type=click.Path(dir_okay=False))
@option("--model-csv", setting=config.E2E_MODEL_CSV)
@reports_errors
def check(timeline: str, model_csv: str | None) -> None:
    """Judge a saved TIMELINE (written by run) and print the table, then the model's predicted
    trace for the same readings beside the cluster's (predict, then verify)."""
    sys.exit(judge(timeline, model_csv))


@e2e.command("plan")
@run_options
@reports_errors
def plan(workloads: tuple[str, ...], **phases: Any) -> None:
    """Print loads, expectations and deadlines for the default manifests (the bundled render)."""
    settings = _settings(**phases)
    for w in _workloads(workloads):
        p = planning.make_plan(planning.DEFAULT_SPECS[w], settings)
        click.echo(
            f"{w}: idle {p.idle_s:g} s; below activation {p.below} held {p.hold_s:g} s; burst {p.burst}; {p.why}"
        )
