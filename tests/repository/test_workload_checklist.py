"""docs/workloads.md's checklist for adding a workload stays true.

Every file it names exists (up to a ``<placeholder>``, the folder does), every test it names
is defined, and every row of the workload table is where the checklist says a workload must
be written down and nothing else checks: its section on that page (``workload=<name>``), the
README's workloads table, ``k8s/README.md``'s components, the host variables of the compose
files in docs/configuration.md, and the names ``scripts/e2e`` accepts. A checklist naming a
missing file or test is shown to be caught, so the check cannot pass by finding nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kedasuite.core.workloads import NAMES, WORKLOADS
from tests.support import run_script

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "workloads.md"
HEADING = "## Adding a workload"

_SPAN = re.compile(r"`([^`\n]+)`")
#: A code span names a file when it has a folder or a file's suffix (and no spaces).
_PATH = re.compile(r"[\w.<>-]*(/[\w.<>:-]*)+|[\w.<>-]+\.(py|ya?ml|md|toml)(::\w+)?|Dockerfile")
_TEST = re.compile(r"test_\w+")


def checklist(text: str) -> str:
    """The "Adding a workload" section of a page: from its heading to the next ``##``."""
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    return text[start:] if end < 0 else text[start:end]


def named(text: str) -> list[str]:
    """The repository paths (with any ``::test``) the text names in code spans."""
    return [span for span in _SPAN.findall(text) if _PATH.fullmatch(span)]


def defines(path: Path, function: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == function for node in tree.body)


def problems(text: str, root: Path = ROOT) -> list[str]:
    """What a checklist names that is not there. A path with a ``<placeholder>`` needs its
    folder; a bare ``test_...`` belongs to the last test file named before it."""
    found: list[str] = []
    last_tests: str | None = None
    for span in _SPAN.findall(text):
        if _TEST.fullmatch(span):
            if last_tests is None or not defines(root / last_tests, span):
                found.append(f"{last_tests or 'no test file named before'} defines no {span}")
            continue
        if not _PATH.fullmatch(span):
            continue
        path, _, function = span.partition("::")
        known = path if "<" not in path else path.split("<", 1)[0].rpartition("/")[0] + "/"
        if not (root / known).exists():
            found.append(f"{span}: no {known}")
        elif path.startswith("tests/") and path.endswith(".py") and "<" not in path:
            last_tests = path
            if function and not defines(root / path, function):
                found.append(f"{path} defines no {function}")
    return found


def test_every_file_and_test_the_checklist_names_exists() -> None:
    text = checklist(PAGE.read_text(encoding="utf-8"))
    assert len(named(text)) > 30, "the checklist names its files in code spans"
    found = problems(text)
    assert not found, "docs/workloads.md#adding-a-workload names what is not there:\n" + "\n".join(found)


def test_a_checklist_naming_what_is_not_there_is_caught() -> None:
    text = (
        f"{HEADING}\n1. `k8s/bases/x.yaml`, `producers/<name>_publisher.py`, `nowhere/<name>.py`;\n"
        "2. `tests/core/test_workloads.py::test_nothing` and `test_lookup_by_name_names_the_choices`, `test_missing`.\n"
        "## Next\n`k8s/elsewhere.yaml`\n"
    )
    assert problems(checklist(text)) == [
        "k8s/bases/x.yaml: no k8s/bases/x.yaml",
        "nowhere/<name>.py: no nowhere/",
        "tests/core/test_workloads.py defines no test_nothing",
        "tests/core/test_workloads.py defines no test_missing",
    ]


@pytest.mark.parametrize("row", WORKLOADS, ids=NAMES)
def test_the_docs_name_the_workload_where_the_checklist_says(row) -> None:
    page = PAGE.read_text(encoding="utf-8")
    assert f"`workload={row.name}`" in page, f"docs/workloads.md: no section says `workload={row.name}`"
    readme_rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("|")]
    assert any(f"{row.keda_kind} `{row.keda_name}`" in line for line in readme_rows), (
        f"README.md: the workloads table has no row with {row.keda_kind} `{row.keda_name}`"
    )
    assert f"`k8s/components/{row.component}/`" in (ROOT / "k8s/README.md").read_text(), (
        f"k8s/README.md: the components table has no row for `k8s/components/{row.component}/`"
    )


def test_every_compose_host_variable_is_in_the_configuration_page() -> None:
    page = (ROOT / "docs/configuration.md").read_text()
    section = page[page.index("## Compose's host variables") :]
    variables = {
        v
        for name in ("compose.yaml", "compose.autoscale.yaml")
        for v in re.findall(r"\$\{(\w+)", (ROOT / name).read_text())
    }
    missing = sorted(v for v in variables if not re.search(rf"\b{v}\b", section))
    assert variables and not missing, f"docs/configuration.md#composes-host-variables lacks {', '.join(missing)}"


@pytest.mark.parametrize("name", NAMES)
def test_scripts_e2e_accepts_the_workload(tmp_path: Path, name: str) -> None:
    """With no tools on PATH it stops at the missing tools, past the check of its arguments."""
    done = run_script(ROOT / "scripts" / "e2e", name, path=str(tmp_path))
    assert "unknown workload" not in done.stderr, f"scripts/e2e does not know {name}: {done.stderr.strip()}"
    assert "missing required tool" in done.stderr
