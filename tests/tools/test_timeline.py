"""The timeline recorder (kedasuite/tools/timeline.py, scripts/timeline).

The CSV and the picture are checked from hand-made data; the recorder itself against a
real Redis with a real pump and a real RQ worker, and the "no cluster" paths against a
missing kubeconfig and one that points at a port where nothing listens.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import statistics
import struct
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kedasuite.core.embedded import free_port
from kedasuite.core.errors import InputError
from kedasuite.tools.timeline import (
    COLUMNS,
    Cluster,
    CsvWriter,
    Mark,
    Row,
    parse_csv,
    parse_records,
    read_csv,
    render,
    rows_from_status,
)
from tests.support import Proc, own_tmpdir, pump, refused_port, run_cli, wait_for

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def snapshot(t: datetime, **workloads: dict) -> dict:
    """A ``status --json`` answer in the contract's shape (only the fields the recorder reads, and a few more)."""
    return {
        "time": t.isoformat(),
        "source": "k8s/overlays/local",
        "workloads": [
            {
                "workload": name,
                "kind": "ScaledObject",
                "name": f"{name}-worker",
                "unit": "replicas",
                "min": 0,
                "max": 10,
                "triggers": [],
                "reason": "",
                "error": None,
                "dead_lettered": 0,
                **fields,
            }
            for name, fields in workloads.items()
        ],
    }


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has right after the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def csv_text(rows: list[Row]) -> str:
    out = io.StringIO()
    CsvWriter(out).write(rows)
    return out.getvalue()


# --- the CSV ---------------------------------------------------------------------------------


def test_rows_from_a_status_snapshot() -> None:
    status = snapshot(
        T0,
        celery={"backlog": 12, "in_flight": 3, "processed": 100, "active": True, "replicas": 2},
        kafka={"backlog": None, "in_flight": None, "processed": 0, "active": None, "replicas": None},
    )
    rows = rows_from_status(status, {"celery": 4})
    assert rows == [
        Row(T0, "celery", 12, 3, 100, 2, "replicas", True, 4),
        Row(T0, "kafka", None, None, 0, None, "replicas", None, None),
    ]
    assert rows_from_status(status, workloads=["kafka"]) == rows[1:]


def test_csv_round_trip() -> None:
    rows = [
        Row(T0, "celery", 12, 3, 100, 2, "replicas", True, 4),
        Row(T0, "kafka", None, None, 0, None, "replicas", None, None),
        Row(T0 + timedelta(seconds=0.5), "workqueue", 7.5, 0, 3, 1, "jobs", False, 0),
    ]
    text = csv_text(rows)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    # the e2e timeline's format too: failed Jobs, and its marks in the last two columns
    assert text.splitlines()[0].endswith(",actual,failed,mark,value")
    assert text.splitlines()[1:] == [
        "2026-11-24T01:00:00.000000+00:00,celery,12,3,100,2,replicas,true,4,,,",
        "2026-11-24T01:00:00.000000+00:00,kafka,,,0,,replicas,,,,,",
        "2026-11-24T01:00:00.500000+00:00,workqueue,7.5,0,3,1,jobs,false,0,,,",
    ]
    assert parse_csv(io.StringIO(text)) == rows
    assert csv_text(parse_csv(io.StringIO(text))) == text


def test_marks_and_failed_jobs_share_the_file() -> None:
    """What kedasuite e2e writes: readings with failed Jobs, and marks, in one CSV."""
    rows = [Row(T0, "workqueue", 7, 0, 3, 1, "jobs", True, 2, 1)]
    marks = [Mark(T0 + timedelta(seconds=1), "workqueue", "burst", "100")]
    out = io.StringIO()
    CsvWriter(out).write([*rows, *marks])
    assert out.getvalue().splitlines()[2] == "2026-11-24T01:00:01.000000+00:00,workqueue,,,,,,,,,burst,100"
    assert parse_records(io.StringIO(out.getvalue())) == (rows, marks)
    assert parse_csv(io.StringIO(out.getvalue())) == rows


def test_a_csv_from_before_the_failed_and_mark_columns_still_reads() -> None:
    old = (
        "time,workload,backlog,in_flight,processed,predicted,unit,active,actual\n"
        "2026-11-24T01:00:00.000+00:00,celery,12,3,100,2,replicas,true,4\n"
    )
    assert parse_csv(io.StringIO(old)) == [Row(T0, "celery", 12, 3, 100, 2, "replicas", True, 4)]


def test_a_csv_that_is_not_a_timeline_is_refused() -> None:
    with pytest.raises(InputError) as err:
        parse_csv(io.StringIO("time,workload,backlog\n"), "other.csv")
    assert err.value.message == (
        "other.csv is not a timeline CSV: missing column(s) in_flight, processed, "
        "predicted, unit, active, actual; record one with scripts/timeline"
    )
    with pytest.raises(InputError) as err:
        parse_csv(io.StringIO(",".join(COLUMNS) + "\nyesterday,celery,1,0,0,0,replicas,true,\n"), "bad.csv")
    assert err.value.message == ("bad.csv, line 2: Invalid isoformat string: 'yesterday'; fix or delete that row")


# --- the picture ------------------------------------------------------------------------------


def hand_made_csv(path: Path) -> list[Row]:
    """A burst into each workload: backlog up, replicas follow, everything drains back to 0."""
    backlog = [0, 0, 40, 38, 30, 20, 11, 4, 0, 0, 0, 0]
    replicas = [0, 0, 4, 4, 3, 2, 2, 1, 1, 1, 0, 0]
    running = [0, 0, 0, 1, 4, 4, 3, 2, 2, 1, 1, 0]
    rows = []
    for i, (b, r, a) in enumerate(zip(backlog, replicas, running)):
        t = T0 + timedelta(seconds=5 * i)
        for workload, unit in (
            ("celery", "replicas"),
            ("kafka", "replicas"),
            ("rq", "replicas"),
            ("workqueue", "jobs"),
        ):
            rows.append(Row(t, workload, b, min(a, b), 40 - b if i >= 2 else 0, r, unit, r > 0, a))
    path.write_text(csv_text(rows))
    return rows


def test_render_from_a_hand_made_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "run.csv"
    rows = hand_made_csv(csv_path)
    assert read_csv(csv_path) == rows
    png = render(read_csv(csv_path), tmp_path / "pictures" / "run.png", "hand-made")
    assert png == tmp_path / "pictures" / "run.png"
    width, height = png_size(png)
    assert (width, height) == (900, round(90 * (0.8 + 2.7 * 4)))  # figsize (10, 0.8 + 2.7 per panel), 90 dpi
    assert 10_000 < png.stat().st_size < 200_000


def test_render_one_workload_with_gaps(tmp_path: Path) -> None:
    """Unreadable values (empty cells) leave gaps; one panel is a smaller picture."""
    rows = [
        Row(T0 + timedelta(seconds=i), "kafka", None if i == 2 else i, None, None, None, "replicas", None, None)
        for i in range(5)
    ]
    width, height = png_size(render(rows, tmp_path / "kafka.png"))
    assert (width, height) == (900, round(90 * (0.8 + 2.7)))


def test_render_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        render([], tmp_path / "x.png")
    assert err.value.message == ("nothing to draw: the timeline has no samples; record for longer (--duration)")


def timeline_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``kedasuite timeline ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "kedasuite", "timeline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


def test_render_only_cli(tmp_path: Path) -> None:
    csv_path = tmp_path / "saved.csv"
    hand_made_csv(csv_path)
    done = timeline_cli("--render-only", str(csv_path))
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert done.stderr == f"timeline: picture in {tmp_path / 'saved.png'}\n"
    assert png_size(tmp_path / "saved.png")[0] == 900
    missing = timeline_cli("--render-only", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2
    assert missing.stderr == f"Error: {tmp_path / 'nope.csv'}: no such file; pass a CSV written by scripts/timeline\n"


def test_the_wrapper_script_runs_it(tmp_path: Path) -> None:
    csv_path = tmp_path / "saved.csv"
    hand_made_csv(csv_path)
    done = subprocess.run(
        [str(ROOT / "scripts" / "timeline"), "--render-only", str(csv_path), "--png", str(tmp_path / "w.png")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.endswith(f"timeline: picture in {tmp_path / 'w.png'}\n")
    assert png_size(tmp_path / "w.png")[0] == 900


# --- no cluster ----------------------------------------------------------------------------


def no_cluster_env(tmp_path: Path) -> dict[str, str]:
    """No kubeconfig and not in a pod, and no local autoscaler, whatever the machine running the tests has
    (a temporary directory of its own: the registry of running autoscalers there is this test's)."""
    return {
        **own_tmpdir(tmp_path),
        "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
        "KUBERNETES_SERVICE_HOST": "",
        "KUBERNETES_SERVICE_PORT": "",
        "AUTOSCALE_RUN_DIR": str(tmp_path / "no-autoscaler"),
    }


NO_CLUSTER_NOTE = "timeline: no Kubernetes cluster: no usable kubeconfig"


def test_no_kubeconfig_means_no_cluster(tmp_path: Path) -> None:
    cluster, why = Cluster.connect("kedasuite", environ=no_cluster_env(tmp_path))
    assert cluster is None
    assert why is not None and why.startswith("no Kubernetes cluster: no usable kubeconfig (")
    assert why.endswith(
        "the actual column stays empty; point KUBECONFIG or --kube-context at a cluster to record running replicas"
    )
    cluster, why = Cluster.connect("kedasuite", context="kind-nope", environ=no_cluster_env(tmp_path))
    assert cluster is None and why is not None
    assert why.startswith("no Kubernetes cluster: kubeconfig context 'kind-nope': ")


def test_a_cluster_that_does_not_answer(tmp_path: Path) -> None:
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "me"}}],
                "users": [{"name": "me", "user": {}}],
            }
        )
    )
    cluster, why = Cluster.connect("kedasuite", environ={"KUBECONFIG": str(kubeconfig)})
    assert cluster is None and why is not None
    assert why.startswith(f"Kubernetes cluster unusable: http://127.0.0.1:{port} does not answer (")
    assert why.endswith("); the actual column stays empty")


# --- recording, live -------------------------------------------------------------------------


def recorded(path: Path) -> list[Row]:
    """The rows written so far (a sample is flushed whole; a torn last line is skipped)."""
    if not path.is_file():
        return []
    text = path.read_text()
    return parse_csv(io.StringIO(text[: text.rfind("\n") + 1])) if text else []


@pytest.mark.integration
def test_records_a_burst_draining(spawn, redis_url: str, tmp_path: Path) -> None:
    """Pump N into rq with no worker, then start one: the CSV shows the backlog rise and fall,
    and processed reach N; with no cluster the actual column is empty and said so once."""
    n = 40
    csv_path, png = tmp_path / "live.csv", tmp_path / "live.png"
    recorder: Proc = spawn(
        "timeline",
        "--redis-url",
        redis_url,
        "-w",
        "rq",
        "--interval",
        "0.5",
        "--csv",
        str(csv_path),
        "--png",
        str(png),
        env=no_cluster_env(tmp_path),
    )
    wait_for(lambda: len(recorded(csv_path)) >= 2, 60, "two samples of an idle queue")
    pump("rq", n, redis_url=redis_url)
    wait_for(lambda: any(r.backlog == n for r in recorded(csv_path)), 30, f"a sample with backlog {n}")
    spawn("worker", "rq", "--redis-url", redis_url, "--work-time", "fixed:0.02")
    wait_for(
        lambda: (rows := recorded(csv_path)) and rows[-1].processed == n and rows[-1].backlog == 0,
        120,
        f"a sample with {n} processed and nothing left",
    )
    recorder.signal(signal.SIGTERM)
    assert recorder.wait(60) == 0, recorder.log()

    rows = recorded(csv_path)
    assert {r.workload for r in rows} == {"rq"}
    backlog = [r.backlog for r in rows]
    peak = backlog.index(n)
    assert backlog[0] == 0 and max(backlog) == n and backlog[-1] == 0
    assert 0 < peak < len(backlog) - 1
    assert backlog[peak:] == sorted(backlog[peak:], reverse=True), "drains without growing back"
    assert rows[peak].active is True and rows[peak].predicted == 4  # rq: listLength 10, ceil(40 / 10)
    assert rows[-1].processed == n
    assert all(r.actual is None for r in rows)
    times = [r.time for r in rows]
    gaps = [round((b - a).total_seconds(), 2) for a, b in zip(times, times[1:])]
    # On a grid of 0.5 s: a read slower than that skips grid points, so one gap can be long and
    # the next short (the grid point right after it); none is zero, and none a stall.
    assert all(0 < g < 5 for g in gaps) and 0.3 < statistics.median(gaps) < 1.0, f"gaps between samples: {gaps}"
    log = recorder.log()
    assert log.count(NO_CLUSTER_NOTE) == 1, log
    assert f"timeline: {len(rows)} samples in {csv_path}; picture in {png}" in log
    assert png_size(png)[0] == 900


@pytest.mark.integration
def test_records_from_a_pump_status_url(spawn, redis_url: str, tmp_path: Path) -> None:
    """What scripts/e2e does through a port-forward: read the pump's GET /status."""
    port = free_port()
    server: Proc = spawn("serve", "--port", str(port), "--redis-url", redis_url, "--workloads", "rq,celery")
    server.wait_for_log(r"Booting worker", timeout=30)
    pump("celery", 7, redis_url=redis_url)
    url = f"http://127.0.0.1:{port}/status"
    # The pump renders the manifests on its first /status: pay that once, before timing matters.
    wait_for(lambda: urllib.request.urlopen(url, timeout=10).status == 200, 60, "the pump's first /status")
    csv_path = tmp_path / "pump.csv"
    done = timeline_cli(
        "--status-url",
        url,
        "--no-cluster",
        "--interval",
        "0.5",
        "--duration",
        "2",
        "--csv",
        str(csv_path),
        "-w",
        "celery",
    )
    assert done.returncode == 0, done.stderr
    rows = read_csv(csv_path)
    # 0, 0.5 .. 2.0 s on the grid; a read slower than the interval (a loaded machine) skips a point
    assert 2 <= len(rows) <= 5 and {(r.workload, r.backlog, r.active, r.predicted) for r in rows} == {
        ("celery", 7, True, 1)
    }
    assert "no Kubernetes cluster" not in done.stderr  # --no-cluster: not looked for, not mentioned


def test_a_status_url_nobody_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{refused_port()}/status"
    done = timeline_cli(
        "--status-url", url, "--no-cluster", "--interval", "0.2", "--duration", "0.4", "--csv", str(tmp_path / "x.csv")
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[1].startswith(f"timeline: cannot read {url}: ")
    assert lines[1].endswith("; is the pump (or its port-forward) up?")
    assert sum(line.startswith("timeline: cannot read") for line in lines) == 1
    assert lines[-1] == (
        f"Error: no sample was taken, so {tmp_path / 'x.csv'} has no rows and no picture was drawn; see the notes above"
    )


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_records_a_local_autoscalers_replicas_in_the_actual_column(spawn, redis_url: str, tmp_path: Path) -> None:
    """No cluster, a real `kedasuite autoscale --backend processes` running real RQ workers: the
    actual column follows the replicas it runs (0 → 3 → 0) beside the backlog, and the picture
    has them. Once the autoscaler is gone, its stale state is not recorded as running replicas,
    and the recorder says whose it was, how old, and how to see a live one."""
    from kedasuite.autoscale.actuator import read_state
    from tests.support import AutoscalerWatch

    n = 30  # rq: listLength 10: ceil(30 / 10) = 3 replicas
    run_dir = tmp_path / "run"
    env = {**no_cluster_env(tmp_path), "AUTOSCALE_RUN_DIR": str(run_dir)}
    auto: Proc = spawn(
        "autoscale",
        "-w",
        "rq",
        "--redis-url",
        redis_url,
        "--run-dir",
        str(run_dir),
        "--polling-interval",
        "1",
        "--cooldown-period",
        "3",
        "--sync-period",
        "1",
        "--stabilization-window",
        "2",
        env={**env, "WORK_TIME": "fixed:0.3"},
    )
    watch = AutoscalerWatch(auto, run_dir)
    wait_for(lambda: read_state(run_dir) is not None, 60, "the autoscaler's first state", seen=watch.report)
    csv_path, png = tmp_path / "local.csv", tmp_path / "local.png"
    recorder: Proc = spawn(
        "timeline",
        "--redis-url",
        redis_url,
        "-w",
        "rq",
        "--interval",
        "0.5",
        "--csv",
        str(csv_path),
        "--png",
        str(png),
        env=env,
    )

    def saw() -> str:
        rows = recorded(csv_path)
        return f"last samples {rows[-5:]}\n{recorder.describe(dump=False)}\n{watch.report()}"

    wait_for(lambda: len(recorded(csv_path)) >= 2, 60, "two samples of an idle queue", seen=saw)
    pump("rq", n, redis_url=redis_url)
    wait_for(
        lambda: any((r.actual or 0) >= 1 for r in recorded(csv_path)), 60, "a sample with a replica running", seen=saw
    )
    wait_for(
        lambda: (rows := recorded(csv_path)) and rows[-1].processed == n and rows[-1].actual == 0,
        120,
        f"a sample with {n} processed and no replica left",
        seen=saw,
    )
    auto.signal(signal.SIGTERM)
    assert auto.wait(60) == 0, auto.log()
    where = f"the local autoscaler (pid {auto.pid}, backend processes, {run_dir})"
    stale = re.compile(
        rf"timeline: rq: {re.escape(where)} is stale \(the autoscaler \(pid {auto.pid}\) is not running: "
        r"it stopped \(SIGTERM\)\): actual left empty; its state is [\d.]+ s old; "
        rf"no autoscaler of this user runs on this host now: start one \(`kedasuite autoscale --run-dir "
        rf"{re.escape(str(run_dir))}`\), or, for one that writes elsewhere, set AUTOSCALE_RUN_DIR=<its "
        r"run dir> or pass --autoscale-run-dir <its run dir>$",
        re.MULTILINE,
    )
    # What the recorder says about the state once the autoscaler has gone, not merely a sample
    # without replicas (a stopping autoscaler's samples have none either).
    wait_for(lambda: stale.search(recorder.log()), 30, "the recorder's note that the state is stale", seen=saw)
    recorder.signal(signal.SIGTERM)
    assert recorder.wait(60) == 0, recorder.log()

    rows = recorded(csv_path)
    actual = [r.actual for r in rows]
    assert actual[0] == 0 and max(a for a in actual if a is not None) == 3, actual
    first = next(i for i, a in enumerate(actual) if a)
    assert max(r.backlog for r in rows) == n and (rows[first].backlog or 0) > 0, "replicas came with the backlog"
    assert actual[-1] is None  # the autoscaler is gone: its last state is stale, not running replicas
    log = recorder.log()
    assert log.count(f"timeline: rq: actual replicas from {where}") == 1, log
    assert len(stale.findall(log)) == 1, log  # once, though its age grows with every sample
    assert NO_CLUSTER_NOTE in log
    assert png_size(png)[0] == 900


@pytest.mark.integration
@pytest.mark.e2e  # a whole command end to end: the e2e tier
def test_names_the_run_directory_an_autoscaler_writes_to_when_its_own_is_not_live(
    spawn, redis_url: str, tmp_path: Path
) -> None:
    """The recorder reads the default run directory while `kedasuite autoscale` runs with
    --run-dir elsewhere: with nothing there, then with an old run's state there, it leaves the
    actual column empty and says whose state it read, how old, and the variable or option that
    records the live one."""
    from kedasuite.autoscale.actuator import read_state

    env = {**no_cluster_env(tmp_path), "AUTOSCALE_RUN_DIR": ""}
    default = Path(env["TMPDIR"]) / f"kedasuite-autoscale-{os.getuid()}"
    other = tmp_path / "other"
    live: Proc = spawn(
        "autoscale", "--backend", "none", "-w", "rq", "--redis-url", redis_url, "--run-dir", str(other), env=env
    )
    wait_for(lambda: read_state(other), 60, f"the live autoscaler's state in {other}", seen=live.describe)
    fix = (
        f"an autoscaler runs now with pid {live.pid} (backend none) and run dir {other}: "
        f"set AUTOSCALE_RUN_DIR={other} or pass --autoscale-run-dir {other} to see it"
    )

    def record() -> tuple[list[str], list[Row]]:
        csv_path = tmp_path / "foreign.csv"
        done = timeline_cli(
            "--redis-url",
            redis_url,
            "-w",
            "rq",
            "--no-cluster",
            "--interval",
            "0.5",
            "--duration",
            "1",
            "--csv",
            str(csv_path),
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr.splitlines(), read_csv(csv_path)

    lines, rows = record()
    assert f"timeline: no autoscaler state in {default}; {fix}; the actual column stays empty" in lines, lines
    assert rows and all(r.actual is None for r in rows)

    # An old run there: an autoscaler that ran for a second and stopped.
    old = run_cli("autoscale", "--backend", "none", "-w", "rq", "--redis-url", redis_url, "--duration", "1", env=env)
    assert old.returncode == 0, old.stdout + old.stderr
    old_pid = read_state(default)["pid"]
    lines, rows = record()
    where = f"the local autoscaler (pid {old_pid}, backend none, {default})"
    stale = [line for line in lines if line.startswith(f"timeline: rq: {where} is stale")]
    assert len(stale) == 1, lines
    assert re.fullmatch(
        rf"timeline: rq: {re.escape(where)} is stale \(the autoscaler \(pid {old_pid}\) is not "
        r"running: it stopped \(--duration 1 s reached\)\): actual left empty; its "
        rf"state is [\d.]+ s old; {re.escape(fix)}",
        stale[0],
    ), stale[0]
    assert rows and all(r.actual is None for r in rows)
