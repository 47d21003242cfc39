"""Running a scenario's variants: one loop for simulated and real workers alike.

:func:`drive` builds the actuator (the model of KEDA's and the HPA's loop,
:class:`~kedasuite.autoscale.actuator.Actuator`) over a *world*, pumps the load when it falls
due, ticks the actuator, samples the workload, and stops when the scenario says the behaviour
has played out (or at its deadline). A world is either simulated workers on a simulated clock
(:mod:`kedasuite.scenarios.sim`, for ``--model-only``) or real brokers and processes
(:mod:`kedasuite.scenarios.live`): the loop, the model and the verdict are the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from kedasuite.autoscale.actuator import Actuator, Backend, Reads
from kedasuite.autoscale.targets import Target
from kedasuite.core.workloads import workload as workload_row
from kedasuite.keda.model import Options, Step
from kedasuite.keda.rules.spec import Scaler
from kedasuite.scenarios.base import Pump, Sample, Scenario, Trace, Variant

#: Seconds between samples of the workload (and the longest the loop sleeps).
SAMPLE_S = 0.25


class World(Protocol):
    """Where a variant runs: its reads and backend, a clock, and the workload to pump and sample."""

    target: Target
    reads: Reads
    backend: Backend

    def clock(self) -> float: ...

    def wait(self, seconds: float) -> None: ...

    def pump(self, pump: Pump) -> int: ...

    def sample(self, now: float, model: int, metric: float | None) -> Sample: ...

    def finish(self) -> dict[str, float]:
        """Stop everything still running; the outcome's figures."""


def target_for(scenario: Scenario, variant: Variant) -> Target:
    """The variant's KEDA object as the actuator scales it, with the variant's grace period."""
    return Target(
        workload_row(scenario.workload),
        Scaler.from_manifest(variant.manifest),
        variant.grace_seconds,
        f"the scenario's {variant.key} variant",
    )


def options_for(scenario: Scenario, variant: Variant) -> Options:
    return Options(**{**scenario.timings, "partitions": variant.partitions, **variant.options})


def drive(
    scenario: Scenario, variant: Variant, world: World, mode: str, emit: Callable[[str], None], slack: float = 1.0
) -> Trace:
    """Run one variant until ``scenario.finished`` (or ``scenario.deadline × slack`` model seconds)."""
    trace = Trace(variant, mode)
    metric: list[float | None] = [None]

    def observe(_target: Target, step: Step) -> None:
        trace.steps.append(step)
        if step.triggers and step.triggers[0].metric is not None:
            metric[0] = step.triggers[0].metric

    started = time.time()
    actuator = Actuator(
        [world.target],
        world.reads,
        world.backend,
        options_for(scenario, variant),
        clock=world.clock,
        wall=lambda: started + world.clock(),
        emit=emit,
        observe=observe,
    )
    tracked = actuator.tracked[0]
    pumps = sorted(scenario.load, key=lambda p: p.at)
    trace.counts["pumped"] = 0
    try:
        while True:
            now = actuator.now()
            while pumps and pumps[0].at <= now:
                trace.counts["pumped"] += world.pump(pumps.pop(0))
            wait = actuator.tick()
            trace.samples.append(world.sample(now, Actuator.model_count(tracked), metric[0]))
            if not pumps and scenario.finished(trace):
                break
            if now >= scenario.deadline * slack:
                trace.timed_out = True
                trace.notes.append(
                    f"stopped at the deadline, {scenario.deadline * slack:g} s, before the run had played out"
                )
                break
            world.wait(min(wait, SAMPLE_S))
    finally:
        trace.seconds = actuator.now()
        trace.counts.update(world.finish())
    return trace


def run_model(scenario: Scenario) -> dict[str, Trace]:
    """Every variant against simulated workers on a simulated clock: no broker, no process."""
    from kedasuite.scenarios.sim import SimCelery, SimWorld
    from kedasuite.scenarios.sim_more import SimKafka, SimWorkQueue

    # Each stand-in names the workload it simulates (RQ has no scenario of its own).
    kind: type[SimWorld] = next(k for k in (SimCelery, SimKafka, SimWorkQueue) if k.workload == scenario.workload)
    traces = {}
    for variant in scenario.variants:
        world: Any = kind(scenario, variant, target_for(scenario, variant))
        world.reads = world.backend = world
        traces[variant.key] = drive(scenario, variant, world, "model", lambda _line: None)
    return traces
