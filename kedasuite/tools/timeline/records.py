"""The timeline CSV: one format for ``kedasuite timeline`` and ``kedasuite e2e``.

A *reading* row is one workload at one moment, as the pump's ``/status`` (or ``kedasuite
status --json``) reported it, plus what a cluster runs. A *mark* row says what the e2e
driver did and when (``mark`` and ``value`` set, the reading columns empty). The recorder
writes readings only; ``kedasuite e2e run`` writes both into the same file, so its run can
be drawn (``kedasuite timeline --render-only``) and re-judged (``kedasuite e2e check``)
from one CSV. Times are UTC with microseconds: a mark and the reading right after it must
not share a timestamp.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kedasuite.core.errors import InputError

Number = int | float


@dataclass(frozen=True)
class Row:
    """One workload at one moment: what KEDA sees, what it would do, what is running."""

    time: datetime
    workload: str
    backlog: Number | None
    in_flight: Number | None
    processed: Number | None
    #: Replicas KEDA and the HPA would target (ScaledJob: Jobs KEDA creates at its next poll).
    predicted: Number | None
    #: ``replicas`` or ``jobs``: what ``predicted`` and ``actual`` count.
    unit: str
    active: bool | None
    #: Replicas (ScaledJob: unfinished Jobs) in the cluster; ``None`` without a cluster.
    actual: int | None
    #: ScaledJob: its failed Jobs in the cluster (kept by ``failedJobsHistoryLimit``).
    failed: int | None = None


@dataclass(frozen=True)
class Mark:
    """Something the e2e driver did (``plan``, ``burst``, ...) to one workload, and when."""

    time: datetime
    workload: str
    name: str
    value: str = ""


ROW_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Row))
COLUMNS: tuple[str, ...] = (*ROW_COLUMNS, "mark", "value")
#: A file without these is not a timeline; ``failed``, ``mark`` and ``value`` may be absent.
REQUIRED: tuple[str, ...] = ROW_COLUMNS[:-1]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return str(value)


def _number(text: str | None) -> Number | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def _int(text: str | None) -> int | None:
    value = _number(text)
    return None if value is None else int(value)


def _bool(text: str) -> bool | None:
    return None if text == "" else text == "true"


def cells(item: Row | Mark) -> list[str]:
    if isinstance(item, Mark):
        return [_cell(item.time), item.workload, *([""] * (len(ROW_COLUMNS) - 2)), item.name, item.value]
    return [_cell(getattr(item, c)) for c in ROW_COLUMNS] + ["", ""]


def rows_from_status(
    status: Mapping[str, Any],
    actual: Mapping[str, int | None] | None = None,
    workloads: Sequence[str] | None = None,
    failed: Mapping[str, int | None] | None = None,
    when: datetime | None = None,
) -> list[Row]:
    """The rows of one ``status --json`` snapshot (the contract in :mod:`kedasuite.tools.status`).

    ``when`` replaces the snapshot's own time (the e2e driver stamps a round when it starts).
    """
    when = when or datetime.fromisoformat(status["time"])
    rows = []
    for entry in status.get("workloads", []):
        name = entry["workload"]
        if workloads and name not in workloads:
            continue
        rows.append(
            Row(
                time=when,
                workload=name,
                backlog=entry.get("backlog"),
                in_flight=entry.get("in_flight"),
                processed=entry.get("processed"),
                predicted=entry.get("replicas"),
                unit=entry.get("unit") or "replicas",
                active=entry.get("active"),
                actual=(actual or {}).get(name),
                failed=(failed or {}).get(name),
            )
        )
    return rows


class CsvWriter:
    """Writes the header, then rows and marks; flushed after each call so a killed run keeps its data.

    Thread-safe: the e2e sampler and the workload drivers share one.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._lock = threading.Lock()
        self._csv.writerow(COLUMNS)
        out.flush()

    def write(self, items: Iterable[Row | Mark]) -> None:
        with self._lock:
            for item in items:
                self._csv.writerow(cells(item))
            self._out.flush()


def parse_records(lines: Iterable[str], where: str = "the CSV") -> tuple[list[Row], list[Mark]]:
    """Readings (sorted by time) and marks (in file order) of a timeline CSV."""
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(
            f"{where} is not a timeline CSV: missing column(s) {', '.join(missing)}; record one with scripts/timeline"
        )
    rows: list[Row] = []
    marks: list[Mark] = []
    for line, raw in enumerate(reader, start=2):
        try:
            time = datetime.fromisoformat(raw["time"])
            if raw.get("mark"):
                marks.append(Mark(time, raw["workload"], raw["mark"], raw.get("value") or ""))
                continue
            rows.append(
                Row(
                    time=time,
                    workload=raw["workload"],
                    backlog=_number(raw["backlog"]),
                    in_flight=_number(raw["in_flight"]),
                    processed=_number(raw["processed"]),
                    predicted=_number(raw["predicted"]),
                    unit=raw["unit"] or "replicas",
                    active=_bool(raw["active"]),
                    actual=_int(raw["actual"]),
                    failed=_int(raw.get("failed")),
                )
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}, line {line}: {exc}; fix or delete that row") from None
    rows.sort(key=lambda r: r.time)
    return rows, marks


def parse_csv(lines: Iterable[str], where: str = "the CSV") -> list[Row]:
    """The readings of a timeline CSV (marks left out)."""
    return parse_records(lines, where)[0]


def read_records(path: str | os.PathLike[str]) -> tuple[list[Row], list[Mark]]:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file; pass a CSV written by scripts/timeline")
    with open(path, newline="") as f:
        return parse_records(f, str(path))


def read_csv(path: str | os.PathLike[str]) -> list[Row]:
    return read_records(path)[0]
