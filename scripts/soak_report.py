"""The table of a soak (scripts/soak): its runs, and every test that failed in any of them.

``python3 scripts/soak_report.py SOAK_DIR [ROOT]``. Standard library only: scripts/soak runs
it with the system python3, outside any virtualenv. SOAK_DIR holds what scripts/soak wrote:

* ``runs.tsv``: one line a run: number, exit status, wall seconds, ``interrupted`` or nothing;
* ``run-<i>.xml``: pytest's JUnit XML (``PYTEST_ADDOPTS=--junitxml=...``), when pytest got
  that far;
* ``run-<i>.log``: the run's output; its last ``==> wall times:`` line (scripts/test's full
  mode) gives the tests' and lint's seconds and exit statuses, and its ``short test summary
  info`` sections the failed tests of a pytest whose XML is not there (lint's, in the full
  mode: scripts/lint's pytest gets the same PYTEST_ADDOPTS and ends first, so the tests'
  XML, written last, replaces its).

ROOT (default: this file's repository) turns JUnit class names back into file paths.
"""

from __future__ import annotations

import re
import statistics
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

_WALL_TIMES = re.compile(
    r"^==> wall times: .*? (?P<rest_s>\d+) s \(exit (?P<rest_exit>\d+);.*?"
    r"; lint (?P<lint_s>\d+) s beside them \(scripts/lint, exit (?P<lint_exit>\d+)\); total (?P<total_s>\d+) s"
)
_SUMMARY_START = re.compile(r"^=+ short test summary info =+$")
_SECTION = re.compile(r"^=+ .* =+$")
_SUMMARY_LINE = re.compile(r"^(?:FAILED|ERROR) (?P<id>\S+?(?:\[.*?\])?)(?: - (?P<message>.*))?$")


@dataclass
class Run:
    number: int
    exit: int
    wall: int
    interrupted: bool
    tests: int | None = None
    skipped: int | None = None
    suite_seconds: float | None = None
    lint_exit: int | None = None
    lint_after_tests: bool = False
    failures: dict[str, str] = field(default_factory=dict)  # test id -> first line

    @property
    def failed(self) -> bool:
        return self.exit != 0 or self.interrupted


def first_line(text: str | None, limit: int = 200) -> str:
    """The first non-blank line of ``text``, cut at ``limit`` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def test_id(classname: str, name: str, root: Path) -> str:
    """``tests.test_x.TestY`` + ``test_z`` -> ``tests/test_x.py::TestY::test_z``, as pytest names it."""
    if not classname:
        return name
    parts = classname.split(".")
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if (root / path).is_file():
            return "::".join([path, *parts[cut:], name])
    return f"{classname.replace('.', '/')}.py::{name}"


def read_xml(run: Run, path: Path, root: Path) -> None:
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return
    run.tests = run.skipped = 0
    suites = list(tree.iter("testsuite"))
    if suites:
        run.suite_seconds = sum(float(s.get("time") or 0) for s in suites)
    for case in tree.iter("testcase"):
        run.tests += 1
        ident = test_id(case.get("classname") or "", case.get("name") or "", root)
        for child in case:
            if child.tag == "skipped":
                run.skipped += 1
            elif child.tag in ("failure", "error") and ident not in run.failures:
                line = first_line(child.get("message")) or next(
                    (ln[1:].strip() for ln in (child.text or "").splitlines() if ln.startswith("E ")), child.tag
                )
                run.failures[ident] = line


def read_log(run: Run, path: Path) -> None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    in_summary = False
    for line in lines:
        if _SUMMARY_START.match(line):
            in_summary = True
            continue
        if in_summary and _SECTION.match(line):
            in_summary = False
            continue
        if in_summary and (found := _SUMMARY_LINE.match(line)):
            ident = found["id"]
            known = any(ident == k or line.split(" ", 1)[1].startswith(k) for k in run.failures)
            if not known:
                run.failures[ident] = first_line(found["message"]) or line.split(" ", 1)[0]
    for line in reversed(lines):
        if found := _WALL_TIMES.match(line):
            run.suite_seconds = float(found["total_s"])
            run.lint_exit = int(found["lint_exit"])
            run.lint_after_tests = int(found["lint_s"]) > int(found["rest_s"])
            break


def note(run: Run) -> str:
    notes = []
    if run.interrupted:
        notes.append("interrupted")
    if run.lint_exit:
        notes.append(f"lint exit {run.lint_exit}")
    if run.lint_after_tests:
        notes.append("lint ended after the tests: the XML may be lint's")
    if run.exit != 0 and not run.failures and not run.interrupted and not run.lint_exit:
        if run.tests is None:
            notes.append(f"exit {run.exit} with no JUnit XML: pytest did not finish (see run-{run.number}.log)")
        elif run.exit == 5:
            notes.append("pytest exit 5: no tests ran")
        else:
            notes.append(f"exit {run.exit} with no failed test (see run-{run.number}.log)")
    return "; ".join(notes)


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def spread(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: -"
    return f"{label}: min {min(values):.0f} s, median {statistics.median(values):.0f} s, max {max(values):.0f} s"


def report(soak_dir: Path, root: Path) -> list[str]:
    runs = []
    for line in (soak_dir / "runs.tsv").read_text().splitlines():
        if not line.strip():
            continue
        number, status, wall, *rest = line.split("\t")
        run = Run(int(number), int(status), int(wall), bool(rest and rest[0] == "interrupted"))
        read_xml(run, soak_dir / f"run-{run.number}.xml", root)
        read_log(run, soak_dir / f"run-{run.number}.log")
        runs.append(run)
    if not runs:
        return ["no run finished"]

    def number(value: int | None) -> str:
        return "-" if value is None else str(value)

    rows = [["run", "exit", "wall", "suite", "tests", "skipped", "failed", "note"]]
    for run in runs:
        suite = "-" if run.suite_seconds is None else f"{run.suite_seconds:.0f} s"
        rows.append(
            [
                str(run.number),
                str(run.exit),
                f"{run.wall} s",
                suite,
                number(run.tests),
                number(run.skipped),
                str(len(run.failures)),
                note(run),
            ]
        )
    out = table(rows)
    out.append(spread("wall (scripts/test with its bootstrap)", [r.wall for r in runs]))
    out.append(
        spread(
            "suite (scripts/test's own total, or pytest's time with ARGS)",
            [r.suite_seconds for r in runs if r.suite_seconds is not None],
        )
    )

    failed_in: dict[str, list[Run]] = {}
    for run in runs:
        for ident in run.failures:
            failed_in.setdefault(ident, []).append(run)
    if failed_in:
        out.append("failures (test, runs failed, first line):")
        rows = []
        for ident, where in sorted(failed_in.items(), key=lambda item: (-len(item[1]), item[0])):
            firsts = []
            for run in where:
                if run.failures[ident] not in firsts:
                    firsts.append(run.failures[ident])
            which = ", ".join(str(r.number) for r in where)
            rows.append([ident, f"{len(where)}/{len(runs)} (run{'s' if len(where) > 1 else ''} {which})", firsts[0]])
            rows.extend(["", "", other] for other in firsts[1:])
        out.extend(table(rows))
    else:
        out.append("failures: none")
    bad = [r for r in runs if r.failed]
    out.append(
        f"{len(runs) - len(bad)} of {len(runs)} runs green"
        + (f"; failed: run{'s' if len(bad) > 1 else ''} {', '.join(str(r.number) for r in bad)}" if bad else "")
    )
    return out


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python3 scripts/soak_report.py SOAK_DIR [ROOT]", file=sys.stderr)
        return 2
    root = Path(argv[2]) if len(argv) == 3 else Path(__file__).resolve().parent.parent
    print("\n".join(report(Path(argv[1]), root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
