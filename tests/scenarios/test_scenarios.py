"""``kedasuite scenario``: each pitfall shows in its pitfall variant and not with the fix.

Fast tier: every scenario against simulated workers (``--model-only``: the real actuator and
model, simulated workers on a simulated clock), its verdict and its figures; the pure verdict
helpers on hand-made traces; the mechanisms the lab added to the suite (``excludePersistentLag``,
the stuck partition's setting, the manifests' derivation); the command. Full suite (marked
``integration`` and ``faults``: it scales real workers down under load): every scenario on real
brokers with real worker processes, its verdict checked the same way, and no process left.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kedasuite.autoscale.processes import descendants
from kedasuite.cli import main
from kedasuite.core.defaults import SCENARIO_DEADLINE_FACTOR
from kedasuite.core.errors import InputError
from kedasuite.keda.model import Step
from kedasuite.keda.rules.kafka import KafkaTrigger, PartitionOffsets, keda_lag
from kedasuite.scenarios import (
    celery_inflight,
    celery_prefetch,
    cooldown,
    kafka_partition_cap,
    kafka_persistent_lag,
    kafka_rebalance,
    scaledjob_duplicates,
)
from kedasuite.scenarios.assignments import Change, ownership
from kedasuite.scenarios.base import Sample, Trace
from kedasuite.scenarios.catalogue import SCENARIOS, scenario
from kedasuite.scenarios.manifests import DELETE, bundled, derive
from kedasuite.scenarios.runner import run_model
from kedasuite.workers.kafka_consumer import parse_stuck_at

NAMES = list(SCENARIOS)


# --- every scenario, model only --------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_model_shows_the_pitfall_and_not_the_fix(name: str) -> None:
    chosen = scenario(name)
    started = time.monotonic()
    traces = run_model(chosen)
    # Simulated time, not waited out: a tenth of the model's time is a safety net a loaded machine
    # stays far under (about 0.05 s here), and a run that slept its way through cannot meet.
    wall, simulated = time.monotonic() - started, sum(t.seconds for t in traces.values())
    assert wall < simulated / 10, (
        f"the model-only run took {wall:.2f} s of wall time for {simulated:.0f} s of model time"
    )
    verdict = chosen.verdict(traces)
    assert verdict.holds(chosen.variants), (verdict.problem, verdict.conclusion)
    assert {v.key for v in chosen.variants} == set(traces) and len(chosen.variants) >= 2
    assert not any(t.timed_out for t in traces.values()), "every variant plays out before its deadline"
    assert {r.variant for r in verdict.rows} == {v.label for v in chosen.variants}


def test_celery_inflight_model_figures() -> None:
    traces = run_model(celery_inflight.SCENARIO)
    pit, fix = traces["pitfall"], traces["fix"]
    assert pit.counts["sigkill"] >= 1 and pit.counts["redelivered"] >= 1
    assert celery_inflight.zero_with_work(pit) and celery_inflight.stranded(pit) > 0
    assert pit.counts["processed"] < pit.counts["pumped"]
    assert fix.counts.get("sigkill", 0) == 0 and fix.counts.get("redelivered", 0) == 0
    assert fix.counts["processed"] == fix.counts["pumped"] == 12 and not celery_inflight.zero_with_work(fix)


def test_celery_prefetch_model_figures() -> None:
    traces = run_model(celery_prefetch.SCENARIO)
    hidden = {k: max(celery_prefetch.hidden(s) for s in t.samples) for k, t in traces.items()}
    assert hidden["pitfall"] >= 8 and hidden["fix"] == 0
    # The simulated truth agrees with the lower bound the verdict uses.
    assert max(s.extra["waiting"] for s in traces["pitfall"].samples) >= hidden["pitfall"]
    assert traces["pitfall"].peak("replicas") < traces["fix"].peak("replicas")


def test_kafka_partition_cap_model_figures() -> None:
    traces = run_model(kafka_partition_cap.SCENARIO)
    pit, fix = traces["pitfall"], traces["fix"]
    assert pit.peak("replicas") == 5 and fix.peak("replicas") == 10
    assert max(s.metric or 0 for s in pit.samples) == 25 and pit.peak("backlog") == 100
    assert kafka_partition_cap.dead_zone(pit.variant) == (21, 22)
    assert kafka_partition_cap.dead_zone(fix.variant) == (46, 49)


def test_kafka_persistent_lag_model_figures() -> None:
    traces = run_model(kafka_persistent_lag.SCENARIO)
    for key, held in (("pitfall", 4), ("fix", 1)):
        trace = traces[key]
        last = trace.samples[-1]
        assert last.replicas == held and last.extra["stuck_lag"] == 18, key
        assert kafka_persistent_lag.settled_at(trace) is not None
    assert traces["fix"].samples[-1].metric == 0 and traces["pitfall"].samples[-1].metric == 18


def test_kafka_rebalance_model_figures() -> None:
    traces = run_model(kafka_rebalance.SCENARIO)
    eager, coop, static = (traces[k].counts for k in ("eager", "cooperative", "static"))
    assert eager["group_stops"] >= 1 and eager["revoked"] > eager["moved"]  # everything back, at every step
    assert coop["group_stops"] == 0 and coop["revoked"] == coop["moved"] >= 4  # only what moves (1 → 5: four)
    assert static["unowned_s"] >= kafka_rebalance.SESSION_MS / 1000 > coop["unowned_s"]
    assert all(t.peak("replicas") == 5 and t.counts["processed"] == t.counts["pumped"] for t in traces.values())


def _changes(*rows: tuple[float, str, str, str]) -> list[Change]:
    return [
        Change(at, member, event, tuple(int(p) for p in parts.split(",") if p)) for at, member, event, parts in rows
    ]


def test_ownership_counts_an_eager_stop_and_not_a_cooperative_hand_over() -> None:
    eager = _changes(
        (1, "a", "assigned", "0,1,2,3"),
        (5, "a", "revoked", "0,1,2,3"),
        (5, "b", "revoked", ""),
        (5.5, "a", "assigned", "0,1"),
        (5.6, "b", "assigned", "2,3"),
    )
    figures = ownership(eager, 10)
    assert figures["group_stops"] == 1 and figures["group_stop_s"] == pytest.approx(0.5)
    assert (figures["revoked"], figures["moved"]) == (4, 2) and figures["unowned_s"] == pytest.approx(0.6)
    cooperative = _changes((1, "a", "assigned", "0,1,2,3"), (5, "a", "revoked", "2,3"), (6, "b", "assigned", "2,3"))
    figures = ownership(cooperative, 10)
    assert figures["group_stops"] == 0 and (figures["revoked"], figures["moved"]) == (2, 2)
    assert figures["unowned_s"] == pytest.approx(1)


def test_ownership_counts_a_stopped_members_partitions_until_someone_has_them() -> None:
    # A static member stops without a revocation: its partitions wait until they are assigned again.
    log = _changes(
        (0.5, "a", "assigned", "0"), (1, "b", "assigned", "1,2"), (4, "b", "stopped", ""), (14, "a", "assigned", "1,2")
    )
    figures = ownership(log, 20)
    assert figures["unowned_s"] == pytest.approx(10) and figures["revoked"] == 2 and figures["moved"] == 2
    # Never reassigned: counted to the end of the window; a killed member's partitions move without a revocation.
    assert ownership(log[:3], 9)["unowned_s"] == pytest.approx(5)
    killed = _changes((1, "a", "assigned", "0,1"), (3, "b", "assigned", "0,1"))
    assert ownership(killed, 5) == {
        "revoked": 2,
        "moved": 2,
        "group_stops": 0,
        "group_stop_s": 0,
        "group_empty_other": 0,
        "unowned_s": 0,
    }
    assert ownership([], 5)["group_stops"] == 0


def test_a_lost_assignment_empties_the_group_but_is_no_rebalance_stop() -> None:
    """A lone member whose session lapsed (on a loaded machine) loses its partitions: the group owns
    none for a moment, whatever the assignor; only a rebalance that takes everything back is eager's stop."""
    lost = _changes((1, "a", "assigned", "0,1"), (5, "a", "lost", "0,1"), (5.04, "a", "assigned", "0,1"))
    figures = ownership(lost, 10)
    assert (figures["group_stops"], figures["group_empty_other"]) == (0, 1)
    assert figures["unowned_s"] == pytest.approx(0.04)
    # A lone member that gives up everything and takes the same partitions straight back moved nothing
    # (librdkafka rejoining after a group error): not the eager stop either.
    rejoin = _changes((1, "a", "assigned", "0,1"), (5, "a", "revoked", "0,1"), (5.04, "a", "assigned", "0,1"))
    assert (ownership(rejoin, 10)["group_stops"], ownership(rejoin, 10)["group_empty_other"]) == (0, 1)
    # The eager stop when a member joins a lone one: everything back, then shared out.
    joined = _changes(
        (1, "a", "assigned", "0,1"),
        (5, "a", "revoked", "0,1"),
        (5.3, "a", "assigned", "0"),
        (5.3, "b", "assigned", "1"),
    )
    assert (ownership(joined, 10)["group_stops"], ownership(joined, 10)["group_empty_other"]) == (1, 0)


def test_scaledjob_duplicates_model_figures() -> None:
    traces = run_model(scaledjob_duplicates.SCENARIO)
    assert traces["pitfall"].counts["jobs_created"] == 10  # every poll until maxReplicaCount
    assert scaledjob_duplicates.duplicates(traces["pitfall"]) == 8
    assert traces["fix-default"].counts["jobs_created"] == 2
    assert scaledjob_duplicates.duplicates(traces["fix-ready"]) == 0
    assert all(t.counts["processed"] == 6 for t in traces.values())


def test_cooldown_model_figures() -> None:
    traces = run_model(cooldown.SCENARIO)
    spans = {k: cooldown.down_to_one(t.steps) for k, t in traces.items()}
    assert spans["pitfall"] is not None and spans["fix"] is not None
    assert spans["pitfall"][1] - spans["pitfall"][0] == pytest.approx(cooldown.LEGACY_WINDOW_S, abs=1)
    assert spans["fix"][1] - spans["fix"][0] <= cooldown.BEHAVIOR_WINDOW_S + 1
    for trace in traces.values():
        zero = cooldown.one_to_zero(trace.steps)
        assert zero is not None and zero[1] - zero[0] == pytest.approx(cooldown.COOLDOWN_S + 1)  # the next poll


# --- the verdicts' helpers on hand-made traces -------------------------------------------------------


def _trace(key: str, samples: list[Sample], **counts: float) -> Trace:
    trace = Trace(celery_inflight.SCENARIO.variant(key), "model", samples)
    trace.counts.update(counts)
    return trace


def test_scaling_to_zero_with_work_in_flight_is_what_counts() -> None:
    samples = [Sample(0, 0, 0, 2, 2, 2, 0), Sample(1, 0, 3, 0, 0, 2, 0), Sample(2, 0, 3, 0, 0, 0, 0)]
    trace = _trace("pitfall", samples, pumped=3, processed=0)
    assert celery_inflight.zero_with_work(trace) == [3] and celery_inflight.stranded(trace) == 3
    quiet = _trace("fix", [Sample(0, 0, 0, 2, 2, 2, 0), Sample(1, 0, 0, 0, 0, 0, 3)], pumped=3, processed=3)
    assert celery_inflight.zero_with_work(quiet) == [] and celery_inflight.stranded(quiet) == 0


def test_hidden_work_is_a_lower_bound_from_observable_numbers() -> None:
    # 30 pumped, 4 done, 6 on the list, 2 processes of 2: at least 30 - 4 - 6 - 4 = 16 wait inside workers.
    assert celery_prefetch.hidden(Sample(0, 6, 20, 2, 2, 2, 4, pumped=30)) == 16
    assert celery_prefetch.hidden(Sample(0, 26, 4, 2, 2, 2, 0, pumped=30)) == 0


def test_n_to_1_and_1_to_0_are_read_from_the_steps() -> None:
    steps = [
        Step(1, "hpa", 1, 4, "", recommendation=4),
        Step(5, "hpa", 4, 4, "", recommendation=2),
        Step(6, "hpa", 4, 4, "", recommendation=1),
        Step(9, "hpa", 4, 1, "", recommendation=1),
        Step(10, "keda", 1, 1, "", active=True),
        Step(11, "keda", 1, 1, "", active=False),
        Step(14, "keda", 1, 0, "", active=False),
    ]
    assert cooldown.down_to_one(steps) == (6, 9)
    assert cooldown.one_to_zero(steps) == (10, 14)


# --- what the lab added to the suite -------------------------------------------------------------------


def test_exclude_persistent_lag_leaves_an_unmoved_offset_out_of_the_metric_not_of_activation() -> None:
    trigger = KafkaTrigger(lag_threshold=10, activation_lag_threshold=2, exclude_persistent_lag=True)
    previous: dict[int, int] = {}
    first = keda_lag([PartitionOffsets(0, 20, 2), PartitionOffsets(1, 9, 4)], trigger, previous)
    assert first.metric == 23 and not first.persistent  # a first read remembers, excludes nothing
    second = keda_lag([PartitionOffsets(0, 20, 2), PartitionOffsets(1, 9, 6)], trigger, previous)
    assert second.persistent == {0: 18} and second.metric == 3 and second.total == 21 and second.active
    plain = KafkaTrigger(lag_threshold=20)
    assert keda_lag([PartitionOffsets(0, 20, 2)], plain, {0: 2}).metric == 18  # off: counted as ever
    # No committed offset: never persistent (KEDA returns before looking).
    assert not keda_lag([PartitionOffsets(0, 20, None)], trigger, {0: 0}).persistent
    assert KafkaTrigger.from_metadata({"excludePersistentLag": "true"}).exclude_persistent_lag


def test_the_stuck_record_setting_reads_partition_and_offset() -> None:
    assert parse_stuck_at("0:3") == (0, 3) and parse_stuck_at("2") == (2, 0) and parse_stuck_at("") is None
    for bad in ("x", "1:-1", "-1:0"):
        with pytest.raises(InputError, match="PARTITION:OFFSET"):
            parse_stuck_at(bad)


def test_variants_change_only_what_they_say() -> None:
    base = bundled("celery")
    changed = derive(
        "celery",
        {
            "spec.triggers[1]": DELETE,
            "spec.maxReplicaCount": 3,
            "spec.advanced.horizontalPodAutoscalerConfig.behavior": {"scaleDown": {}},
        },
    )
    assert len(changed["spec"]["triggers"]) == len(base["spec"]["triggers"]) - 1
    assert (
        changed["spec"]["maxReplicaCount"] == 3
        and "behavior" in changed["spec"]["advanced"]["horizontalPodAutoscalerConfig"]
    )
    assert bundled("celery") == base, "deriving must not touch the bundled objects"


# --- the command ---------------------------------------------------------------------------------------------


def test_list_names_every_scenario_in_one_line_each() -> None:
    result = CliRunner().invoke(main, ["scenario", "--list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == len(NAMES) >= 6 and [line.split()[0] for line in lines] == NAMES


def test_model_only_prints_a_verdict_and_writes_the_timeline(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["scenario", "scaledjob-duplicates", "--model-only", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "verdict: the pitfall shows in pitfall and not with the fix" in result.output
    assert "Jobs created" in result.output and "pollingInterval 1 s (15 s)" in result.output
    csv = (tmp_path / "scaledjob-duplicates-model.csv").read_text().splitlines()
    assert csv[0].startswith("variant,role,mode,t,") and len(csv) > 10
    assert (tmp_path / "scaledjob-duplicates-model.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_scenario_names_the_known_ones() -> None:
    result = CliRunner().invoke(main, ["scenario", "no-such-thing", "--model-only"])
    assert result.exit_code == 2 and "celery-inflight" in result.output


# --- every scenario, live ---------------------------------------------------------------------------------


def _live(name: str) -> object:
    """The scenario, with a pytest timeout its variants' deadlines allow (every variant to the
    end of its stretched deadline, one after the other, and a minute for brokers and clean-up),
    not the suite-wide one, which a slow machine's run could reach."""
    chosen = scenario(name)
    seconds = len(chosen.variants) * chosen.deadline * SCENARIO_DEADLINE_FACTOR + 60
    return pytest.param(name, marks=pytest.mark.timeout(seconds))


@pytest.mark.integration
@pytest.mark.faults
@pytest.mark.parametrize("name", [_live(n) for n in NAMES])
def test_real_workers_show_the_pitfall_and_not_the_fix(
    name: str, redis_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    from kedasuite.scenarios.live import run_live

    chosen = scenario(name)
    lines: list[str] = []
    traces = run_live(
        chosen,
        redis_url,
        kafka_bootstrap if chosen.workload == "kafka" else None,
        lines.append,
        lambda key, line: lines.append(f"{key}: {line}"),
    )
    verdict = chosen.verdict(traces)
    (tmp_path / "log.txt").write_text("\n".join(lines))
    table = "\n".join(f"  {r.variant} | {r.measure} | {r.figure}" for r in verdict.rows)
    assert verdict.holds(chosen.variants), (
        f"shows the pitfall: {verdict.problem}\n{verdict.conclusion}\n{table}\n{_seen(traces, lines)}"
    )
    late = [key for key, t in traces.items() if t.variant.role == "fix" and t.timed_out]
    assert not late, f"a fix must play out; {', '.join(late)} reached its deadline. {_seen(traces, lines)}"
    left = [f"{pid}: {' '.join(_argv(pid))}" for pid in descendants(os.getpid()) if _runs_kedasuite(_argv(pid))]
    assert not left, f"processes left behind: {left}"


def _seen(traces: dict[str, Trace], lines: list[str], samples: int = 12, logged: int = 40) -> str:
    """What a failed live scenario saw: each variant's last samples, then the end of the log."""
    parts = []
    for key, trace in traces.items():
        tail = "\n".join(
            f"  t={s.t:6.1f} backlog={s.backlog:g} in_flight={s.in_flight:g} replicas={s.replicas} "
            f"model={s.model} pods={s.pods} processed={s.processed} metric={s.metric} {s.extra}"
            for s in trace.samples[-samples:]
        )
        parts.append(
            f"{key} ({len(trace.samples)} samples, {trace.seconds:.1f} s, timed out: {trace.timed_out}, "
            f"counts {trace.counts}):\n{tail}"
        )
    return "\n".join(parts) + "\nthe log's end:\n" + "\n".join(lines[-logged:])


def _runs_kedasuite(argv: list[str]) -> bool:
    """A ``kedasuite`` command (``python -m kedasuite ...`` or the script), not any process whose
    path merely contains the word (the session's brokers, run from a checkout named kedasuite)."""
    return any(arg == "kedasuite" or os.path.basename(arg) == "kedasuite" for arg in argv)


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []
