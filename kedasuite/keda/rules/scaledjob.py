"""A ScaledJob's Jobs: the four scaling strategies and the combination of several triggers.

KEDA's ``pkg/scaling/executor/scale_jobs.go`` and the ScaledJob part of
``pkg/scaling/scale_handler.go``; ``docs/keda-model.md#scaledjob``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kedasuite.keda.rules.spec import STRATEGIES


def scaled_job_replica_counts(min_replicas: int, max_replicas: int) -> tuple[int, int]:
    """``(MIN, MAXC)`` of a ScaledJob: ``minReplicaCount`` and the Jobs its strategies may add on top,
    ``maxReplicaCount - minReplicaCount``; a minimum above the maximum becomes the maximum, and
    ``MAXC`` is then the whole maximum. KEDA's ``ScaledJob.MinReplicaCount`` and
    ``ScaledJob.MaxReplicaCount`` (``apis/keda/v1alpha1/scaledjob_types.go``)."""
    if min_replicas > max_replicas:
        return max_replicas, max_replicas
    return min_replicas, max_replicas - min_replicas


@dataclass(frozen=True)
class ScalerMetrics:
    """One ScaledJob trigger's numbers for a poll: its queue ``q``, ``min(q / T, MAXC)``, and whether
    it is active. KEDA's ``scaledjob.ScalerMetrics`` (``pkg/scaling/scaledjob/metrics.go``)."""

    queue_length: float
    max_value: float
    is_active: bool


def calculate_queue_length_and_max_value(queue: float, target: float, max_count: int) -> tuple[float, float]:
    """``(q, min(q / T, MAXC))`` for one trigger: each trigger's share of Jobs is capped at ``MAXC``
    *before* the triggers are combined, so one huge queue cannot outweigh the rest under ``avg`` or
    ``sum``. A target of 0 gives 0. KEDA's ``CalculateQueueLengthAndMaxValue``
    (``pkg/scaling/scaledjob/metrics.go``), called per trigger by ``getScaledJobMetrics``
    (``pkg/scaling/scale_handler.go``)."""
    if target == 0:
        return queue, 0.0
    return queue, min(queue / target, max_count)


def is_scaled_job_active(
    metrics: Sequence[ScalerMetrics], calculation: str, min_count: int, max_count: int
) -> tuple[bool, int, int]:
    """``(active, scaleTo, maxScale)`` of a ScaledJob from its triggers' numbers, combining the active
    ones by ``multipleScalersCalculation``: ``max`` the trigger with the longest queue, ``min`` the
    shortest, ``avg`` and ``sum`` the queues and the capped values separately; then ``maxScale`` is
    capped at ``MAXC`` again and both are rounded up. Active when a trigger is, or ``MIN > 0``. Ties and
    empty queues follow upstream's comparisons as written (under ``max`` an active trigger with an
    empty queue is not picked, so it does not make the ScaledJob active). KEDA's
    ``IsScaledJobActive`` (``pkg/scaling/scaledjob/metrics.go``)."""
    queue = value = 0.0
    active = False
    live = [m for m in metrics if m.is_active]
    if calculation == "min":
        for m in live:
            if queue == 0 or m.queue_length < queue:
                queue, value, active = m.queue_length, m.max_value, True
    elif calculation in ("avg", "sum"):
        if live:
            queue = sum(m.queue_length for m in live)
            value = sum(m.max_value for m in live)
            active = True
            if calculation == "avg":
                queue, value = queue / len(live), value / len(live)
    else:
        for m in live:
            if m.queue_length > queue:
                queue, value, active = m.queue_length, m.max_value, True
    if min_count > 0:
        active = True
    value = min(value, max_count)
    return active, math.ceil(queue), math.ceil(value)


def get_effective_max_scale(
    strategy: str,
    max_scale: int,
    running: int,
    pending: int,
    max_count: int,
    scale_to: int,
    deduction: int = 0,
    running_percentage: float | None = None,
) -> tuple[int, int]:
    """``(E, scaleTo)``: how many Jobs a strategy lets this poll create at most, and how many it asks
    for, from ``maxScale``, the running Jobs above the minimum (``r``), the pending ones (``P``) and
    ``MAXC``. ``default``: ``maxScale - r`` (the queue is taken to count the items running Jobs hold);
    ``accurate``: ``MAXC - r`` when ``maxScale + r - P > MAXC``, else ``maxScale - P``; ``eager``:
    ``min(MAXC - r - P, maxScale)`` and asks for ``MAXC``; ``custom``: ``min(maxScale - deduction -
    trunc(r × percentage), MAXC)``, or ``default`` without a percentage. Each strategy's
    ``GetEffectiveMaxScale`` and ``NewScalingStrategy`` (``pkg/scaling/executor/scale_jobs.go``)."""
    if strategy == "custom" and running_percentage is None:
        strategy = "default"
    if strategy == "accurate":
        if max_scale + running - pending > max_count:
            return max_count - running, scale_to
        return max_scale - pending, scale_to
    if strategy == "eager":
        return min(max_count - running - pending, max_scale), max_count
    if strategy == "custom":
        return min(max_scale - deduction - math.trunc(running * (running_percentage or 0.0)), max_count), scale_to
    return max_scale - running, scale_to


def get_scaling_decision(
    running: int,
    scale_to: int,
    max_scale: int,
    pending: int,
    min_count: int,
    max_count: int,
    strategy: str = "default",
    deduction: int = 0,
    running_percentage: float | None = None,
) -> tuple[int, int]:
    """``(E, scaleTo)`` for one poll: below ``minReplicaCount`` running Jobs, exactly the Jobs missing
    (whatever the queue); otherwise the strategy's, over the running Jobs above the minimum. KEDA's
    ``getScalingDecision`` (``pkg/scaling/executor/scale_jobs.go``)."""
    if running < min_count:
        return min_count - running, min_count - running
    return get_effective_max_scale(
        strategy, max_scale, running - min_count, pending, max_count, scale_to, deduction, running_percentage
    )


@dataclass(frozen=True)
class PodStatus:
    """What KEDA looks at in a Job's pod to tell whether the Job is still pending: its phase and the
    types of its conditions whose status is ``True``."""

    phase: str = ""
    conditions: frozenset[str] = frozenset()


def is_job_pending(pods: Sequence[PodStatus], pending_pod_conditions: Sequence[str] = ()) -> bool:
    """Whether one unfinished Job counts as pending (``P``). With ``pendingPodConditions``: until one of
    its pods has every one of them true (a name listed twice can never be met: upstream compares the
    count of distinct conditions met with the length of the list); without: until one of its pods is
    Running or Succeeded, so a Failed, Pending or Unknown pod leaves it pending. KEDA's
    ``getPendingJobCount``, ``areAllPendingPodConditionsFulfilled`` and ``isAnyPodRunningOrCompleted``
    (``pkg/scaling/executor/scale_jobs.go``)."""
    if pending_pod_conditions:
        required = set(pending_pod_conditions)
        return not any(len(required & pod.conditions) == len(pending_pod_conditions) for pod in pods)
    return not any(pod.phase in ("Running", "Succeeded") for pod in pods)


def create_jobs(active: bool, scale_to: int, effective_max_scale: int) -> int:
    """How many Jobs a poll creates: ``min(scaleTo, E)`` when active and ``E > 0``, else none: a poll
    never deletes Jobs. KEDA's ``RequestJobScale`` and ``createJobs``
    (``pkg/scaling/executor/scale_jobs.go``)."""
    effective = max(effective_max_scale, 0)
    if not active or effective <= 0:
        return 0
    return min(scale_to, effective)


def scaled_job_new_jobs(
    queue: float,
    target: float,
    max_replicas: int,
    running: int = 0,
    pending: int = 0,
    min_replicas: int = 0,
    active: bool = True,
    strategy: str = "default",
    deduction: int = 0,
    running_percentage: float | None = None,
) -> int:
    """How many Jobs a ScaledJob with one trigger creates at one poll (``scale_jobs.go``, KEDA v2.20.2).

    ``queue`` and ``target`` are the trigger's ``q`` and its target; ``running``
    (``R``) counts unfinished Jobs, ``pending`` (``P``) those with no pod running yet:

    * ``MIN = min(minReplicaCount, max)``; ``MAXC = max - MIN`` (``max`` when MIN > max);
    * ``maxScale = ceil(min(q / T, MAXC))``; ``scaleTo = ceil(q)`` (the raw queue length);
    * if ``R < MIN``: ``MIN - R`` Jobs; else with ``r = R - MIN`` the strategy gives the
      effective maximum ``E`` (default ``maxScale - r``; accurate ``MAXC - r`` when
      ``maxScale + r - P > MAXC`` else ``maxScale - P``; eager ``min(MAXC - r - P, maxScale)``
      with ``scaleTo = MAXC``; custom ``min(maxScale - deduction - trunc(r * pct), MAXC)``);
    * Jobs are created only when active (or ``MIN > 0``): ``min(scaleTo, max(E, 0))``.

    The steps are :func:`calculate_queue_length_and_max_value`, :func:`get_scaling_decision` and
    :func:`create_jobs`; one trigger needs no :func:`is_scaled_job_active` to combine it.
    """
    if target <= 0:
        raise ValueError("the trigger's target must be positive")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown scalingStrategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    minimum, max_count = scaled_job_replica_counts(min_replicas, max_replicas)
    q, value = calculate_queue_length_and_max_value(queue, target, max_count)
    active = active or minimum > 0
    effective, scale_to = get_scaling_decision(
        running,
        math.ceil(q),
        math.ceil(min(value, max_count)),
        pending,
        minimum,
        max_count,
        strategy,
        deduction,
        running_percentage,
    )
    return create_jobs(active, scale_to, effective)
