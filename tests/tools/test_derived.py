"""What ``scripts/derive`` writes stays current, and the derivation itself can tell.

The docs' derived blocks (``<!-- derived: KEY -->``) must equal what the workload table
derives today; the bundled render's own check is in tests/tools/test_status.py. A stale or unknown
block is shown to be found on a throwaway tree, so the check is not vacuous.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kedasuite.core.workloads import NAMES, WORKLOADS
from kedasuite.tools import derived
from tests.support import run_script

ROOT = Path(__file__).resolve().parents[2]
DERIVE = ROOT / "scripts" / "derive"


def test_the_derived_doc_blocks_are_current() -> None:
    stale = sorted(str(p.relative_to(ROOT)) for p in derived.stale_docs(ROOT))
    assert not stale, f"derived blocks are stale in {', '.join(stale)}: run {derived.COMMAND}"


def test_every_key_is_used_somewhere() -> None:
    """A key no page uses is a derivation nobody reads."""
    text = "".join(p.read_text(encoding="utf-8") for p in derived.markdown_files(ROOT))
    assert [k for k in derived.BLOCKS if f"<!-- derived: {k} -->" not in text] == []


def test_a_stale_block_is_found_and_rewritten(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text("Workloads: <!-- derived: workload-names -->`celery`<!-- /derived -->.\n")
    assert list(derived.stale_docs(tmp_path)) == [page]
    fresh = derived.stale_docs(tmp_path)[page]
    assert fresh == f"Workloads: <!-- derived: workload-names -->{derived.names_inline(tmp_path)}<!-- /derived -->.\n"
    page.write_text(fresh)
    assert derived.stale_docs(tmp_path) == {}


def test_an_unknown_block_is_refused() -> None:
    with pytest.raises(derived.UnknownBlock, match="unknown derived block 'workload-colours'"):
        derived.refresh("<!-- derived: workload-colours -->x<!-- /derived -->")


def test_the_files_table_names_files_that_exist() -> None:
    table = derived.files_table(ROOT)
    assert [line.split("|")[1].strip() for line in table.strip().splitlines()[2:]] == [f"`{n}`" for n in NAMES]
    for row in WORKLOADS:
        base = derived.base_file(ROOT, row)
        publisher = derived.source_file(row.publisher.partition(":")[0])
        assert base is not None and (ROOT / base).is_file(), f"{row.name}: nothing in k8s/base runs it"
        assert (ROOT / publisher).is_file(), f"{row.name}: {publisher} does not exist"
    assert derived.source_file("kedasuite.jobs.workqueue") == "jobs/workqueue.py"
    assert derived.source_file("kedasuite.keda.objects") == "kedasuite/keda/objects.py"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_derive_help_needs_no_tools(tmp_path: Path, flag: str) -> None:
    done = run_script(DERIVE, flag, path=str(tmp_path))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: scripts/derive [--check] [--docs-only]")


def test_derive_refuses_an_unknown_argument(tmp_path: Path) -> None:
    done = run_script(DERIVE, "--frobnicate", path=str(tmp_path))
    assert done.returncode == 2 and "unknown argument: --frobnicate" in done.stderr
