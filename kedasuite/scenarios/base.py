"""What a scenario is made of, and what a run of it leaves: the types every part of the lab shares.

A :class:`Scenario` is a known KEDA pitfall told as variants of one workload (the pitfall and
its fix, sometimes a second fix), each a KEDA object derived from the bundled local render
with the variant's changes (:mod:`kedasuite.scenarios.manifests`) and the worker settings it
runs with; one load (when to pump how many records); the shortened timings of KEDA and the
HPA it runs under; and a verdict function. The same scenario runs two ways, with the same
actuator (:class:`kedasuite.autoscale.actuator.Actuator`, the model of KEDA's and the HPA's
loop): against simulated workers on a simulated clock (``--model-only``,
:mod:`kedasuite.scenarios.sim`), or against real brokers and real worker processes
(:mod:`kedasuite.scenarios.live`). Both produce a :class:`Trace` per variant; the verdict is a
pure function of the traces, so the tests check it on either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kedasuite.core.names import Env
from kedasuite.keda.model import Step

PITFALL, FIX = "pitfall", "fix"


@dataclass(frozen=True)
class Workers:
    """How the variant's workers behave: the same numbers drive the real processes (as their
    environment) and the simulated ones."""

    #: Seconds of simulated work per record (fixed, so the runs compare).
    work_seconds: float
    #: Celery: pool processes per worker, prefetch multiplier, late acks, visibility timeout.
    concurrency: int = 1
    prefetch: int = 1
    acks_late: bool = True
    visibility_timeout: int = 300
    #: Work-queue Jobs: seconds a runner starts up before it takes work; seconds it waits idle.
    start_delay: float = 0.0
    idle_timeout: float = 2.0
    #: Kafka: the record the handler keeps failing on, ``(partition, offset)``.
    stuck_at: tuple[int, int] | None = None
    #: Kafka: librdkafka consumer properties on top of the suite's, ``(("session.timeout.ms", "10000"), ...)``;
    #: a value may name the pod as ``$(POD_NAME)``.
    consumer: tuple[tuple[str, str], ...] = ()

    def env(self) -> dict[str, str]:
        """The variables the variant's processes get (on top of where the brokers are)."""
        env = {
            Env.WORK_TIME: f"fixed:{self.work_seconds:g}",
            Env.WORKER_CONCURRENCY: str(self.concurrency),
            Env.CELERY_PREFETCH_MULTIPLIER: str(self.prefetch),
            Env.CELERY_ACKS_LATE: str(self.acks_late).lower(),
            Env.CELERY_VISIBILITY_TIMEOUT: str(self.visibility_timeout),
            Env.LOG_LEVEL: "WARNING",
            Env.WORKQUEUE_START_DELAY: f"{self.start_delay:g}",
            Env.WORKQUEUE_IDLE_TIMEOUT: f"{self.idle_timeout:g}",
        }
        if self.stuck_at is not None:
            env[Env.KAFKA_STUCK_AT] = f"{self.stuck_at[0]}:{self.stuck_at[1]}"
        for name, value in self.consumer:
            env[Env.KAFKA_CONSUMER_CONFIG_PREFIX + name.upper().replace(".", "_")] = value
        return env

    def consumer_property(self, name: str, default: str | None = None) -> str | None:
        return dict(self.consumer).get(name, default)


@dataclass(frozen=True)
class Variant:
    """One side of the comparison: a KEDA object, a grace period and worker settings."""

    key: str
    role: str  # PITFALL or FIX
    #: What differs from the bundled manifest and the suite's worker settings, in a few words.
    label: str
    manifest: Mapping[str, Any]
    workers: Workers
    #: The pod template's ``terminationGracePeriodSeconds``.
    grace_seconds: float = 30.0
    #: Kafka: partitions of the variant's topic.
    partitions: int = 5
    #: Options of the model for this variant alone (on top of the scenario's timings).
    options: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Pump:
    """Records pumped ``at`` seconds after the autoscaler started: at once, or ``rate`` a second."""

    at: float
    count: int
    rate: float | None = None

    @property
    def seconds(self) -> float:
        return self.count / self.rate if self.rate else 0.0

    def text(self) -> str:
        how = f"at {self.rate:g}/s" if self.rate else "at once"
        return f"{self.count} records {how} at {self.at:g} s"


@dataclass
class Sample:
    """The workload at one moment of a run."""

    t: float
    #: What the scaling trigger reads: the list's length, the group's summed lag.
    backlog: float
    #: Work handed out and not finished: ``unacked``, ``job:processing``, records in hand.
    in_flight: float
    #: Replicas running (not terminating), or a ScaledJob's unfinished Jobs; and the model's count.
    replicas: int
    model: int
    #: Worker processes alive, terminating ones included.
    pods: int
    processed: int
    #: The metric KEDA last handed over (the first trigger's), when known.
    metric: float | None = None
    #: Records pumped so far (that the broker took).
    pumped: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Trace:
    """One variant's run: samples over time, the model's steps, and the outcome's figures."""

    variant: Variant
    mode: str  # "model" or "live"
    samples: list[Sample] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    #: Outcome figures: pumped, processed, duplicates, redelivered, sigterm, sigkill, jobs_created, ...
    counts: dict[str, float] = field(default_factory=dict)
    #: Seconds the run took (model time), and whether it ended on its deadline instead of its condition.
    seconds: float = 0.0
    timed_out: bool = False
    notes: list[str] = field(default_factory=list)

    def first(self, test: Callable[[Sample], bool], after: float = 0.0) -> Sample | None:
        return next((s for s in self.samples if s.t >= after and test(s)), None)

    def peak(self, attribute: str) -> float:
        return max((float(getattr(s, attribute)) for s in self.samples), default=0.0)


@dataclass(frozen=True)
class Row:
    variant: str
    measure: str
    figure: str


#: A variant's figures (measure, figure) and whether it shows the pitfall.
Judged = tuple[list[tuple[str, str]], bool]


@dataclass(frozen=True)
class Verdict:
    """The table a run ends with, and per variant whether it shows the pitfall."""

    rows: tuple[Row, ...]
    problem: Mapping[str, bool]
    conclusion: str

    def holds(self, variants: Sequence[Variant]) -> bool:
        """The pitfall shows where it should and nowhere else."""
        return all(self.problem.get(v.key) == (v.role == PITFALL) for v in variants)

    @classmethod
    def of(cls, traces: Mapping[str, Trace], judge: Callable[[Trace], Judged], conclusion: str) -> Verdict:
        """The table from each variant's figures, in the variants' order."""
        rows, problem = [], {}
        for key, trace in traces.items():
            figures, shows = judge(trace)
            rows += [Row(trace.variant.label, measure, figure) for measure, figure in figures]
            problem[key] = shows
        return cls(tuple(rows), problem, conclusion)


@dataclass(frozen=True)
class Scenario:
    """A pitfall and its fix(es), a load, timings, and how to judge the runs."""

    name: str
    #: One line for ``--list``.
    summary: str
    workload: str
    #: What goes wrong, what fixes it, and how the lab makes it happen here (for the output and docs).
    pitfall: str
    fix: str
    mechanism: str
    variants: tuple[Variant, ...]
    load: tuple[Pump, ...]
    #: The model's timings (fields of :class:`kedasuite.keda.model.Options`), shortened.
    timings: Mapping[str, float]
    verdict: Callable[[Mapping[str, Trace]], Verdict]
    #: True when the run may end: the load is in and the behaviour to judge has played out.
    finished: Callable[[Trace], bool]
    #: Seconds after which a variant's run stops anyway (model time, derived from the timings).
    deadline: float
    #: Simulated workers: seconds a process needs before it takes work (Python's imports, a group join).
    startup: float = 2.0
    #: A scenario that cannot run live says why (None: it can).
    model_only_reason: str | None = None

    def variant(self, key: str) -> Variant:
        return next(v for v in self.variants if v.key == key)

    @property
    def load_end(self) -> float:
        return max((p.at + p.seconds for p in self.load), default=0.0)

    def timings_text(self) -> str:
        names = {
            "polling_interval": "pollingInterval",
            "cooldown_period": "cooldownPeriod",
            "sync_period": "HPA sync",
            "stabilization_window": "HPA scale-down window",
            "hpa_offset": "HPA offset",
        }
        return ", ".join(f"{names.get(k, k.replace('_', ' '))} {v:g} s" for k, v in self.timings.items())


def drained_and_idle(trace: Trace, settle: float = 0.0) -> bool:
    """Everything pumped is processed, and the workload is back at 0 replicas (model and actual)
    with no process left, for ``settle`` seconds."""
    pumped = trace.counts.get("pumped", 0)
    last = trace.samples[-1] if trace.samples else None
    if last is None or not pumped or last.processed < pumped:
        return False
    quiet = [s for s in trace.samples if s.t >= last.t - settle]
    return all(s.replicas == 0 and s.model == 0 and s.pods == 0 and s.backlog == 0 for s in quiet) and (
        not settle or trace.samples[0].t <= last.t - settle
    )


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def done_at(trace: Trace) -> str:
    """When every record pumped was done (seconds since the autoscaler started), for a verdict row."""
    pumped = trace.counts.get("pumped", 0)
    done = trace.first(lambda s: s.processed >= pumped > 0)
    return seconds(done.t) if done else f"not within {trace.seconds:.0f} s"


def time_when(trace: Trace, test: Callable[[Sample], bool]) -> float:
    """Seconds of the run during which ``test`` held (each sample counts until the next)."""
    pairs = zip(trace.samples, trace.samples[1:])
    return sum(b.t - a.t for a, b in pairs if test(a))
