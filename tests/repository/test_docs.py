"""The documentation: a front page that guides, links that land, and nothing cited from outside.

* ``README.md`` stays a front page (under 25,000 bytes) with a table of contents whose links
  reach its own headings, and every ``##`` section is listed there;
* every relative link (and image) in ``README.md``, ``docs/*.md`` and ``k8s/**/README.md``
  names a file of the repository, and a ``#fragment`` names a heading of that file;
* no file of the repository cites a document that is not in it (the reference scenarios by
  number, notes outside the repository, a sibling ``shared`` folder): what those said is
  written in ``docs/keda-model.md`` and ``docs/origins.md``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.markdown import HEADING, anchors, prose_lines, slug

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_LIMIT = 25_000

#: Markdown files whose links are checked.
LINKED_DOCS = sorted({README, *(ROOT / "docs").glob("*.md"), *(ROOT / "k8s").rglob("README.md")})

#: ``[text](target)`` and ``![alt](target)``; the target ends at whitespace or ``)``.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")

#: Citations of documents outside the repository. Written so that this file does not match itself.
OUTSIDE_CITATIONS = {
    "a scenario cited by number (say what it is: docs/origins.md)": re.compile(r"\bseeds?[ _-]?0\d\d\b", re.IGNORECASE),
    "notes outside the repository (cite docs/keda-model.md)": re.compile(r"KEDA\s+notes", re.IGNORECASE),
    "numbered sections of outside notes (cite docs/keda-model.md#...)": re.compile(
        r"sections?\s+\d+\s+(?:and\s+\d+\s+)?of\s+the\s+notes|sections\s+7\s+and\s+8", re.IGNORECASE
    ),
    "a sibling folder outside the repository": re.compile(r"\.\./shared\b|/work[/]shared\b"),
}


def links(path: Path) -> list[str]:
    """The link targets of a Markdown file, outside code blocks and code spans."""
    targets = []
    for line in prose_lines(path.read_text(encoding="utf-8")):
        targets += _LINK.findall(_CODE_SPAN.sub("", line))
    return targets


def test_readme_is_a_front_page() -> None:
    size = len(README.read_bytes())
    assert size < README_LIMIT, (
        f"README.md is {size:,} bytes, over {README_LIMIT:,}: move the longer material to docs/ or k8s/README.md "
        "and link it"
    )


def test_readme_has_a_table_of_contents_that_reaches_its_headings() -> None:
    lines = prose_lines(README.read_text(encoding="utf-8"))
    contents = re.compile(r"^##\s+(Contents|Table of contents)\s*$", re.IGNORECASE)
    starts = [i for i, line in enumerate(lines) if contents.match(line)]
    assert starts, "README.md has no '## Contents' section"
    toc: list[str] = []
    for line in lines[starts[0] + 1 :]:
        if line.startswith("#"):
            break
        toc += _LINK.findall(_CODE_SPAN.sub(lambda m: m.group(0).replace("`", ""), line))
    assert len(toc) >= 5, f"the table of contents has only {len(toc)} links"
    own = anchors(README)
    unresolved = [t for t in toc if not t.startswith("#") or t[1:] not in own]
    assert not unresolved, f"table-of-contents links that reach no heading of README.md: {unresolved}"
    sections = [slug(m.group(2)) for line in lines if (m := HEADING.match(line)) and len(m.group(1)) == 2]
    listed = {t[1:] for t in toc}
    missing = [s for s in sections if s not in listed and s not in {"contents", "table-of-contents"}]
    assert not missing, f"README.md sections missing from its table of contents: {missing}"


@pytest.mark.parametrize("doc", LINKED_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_land(doc: Path) -> None:
    broken = []
    for target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
            continue
        try:
            dest.relative_to(ROOT)
        except ValueError:
            broken.append(f"{target}: outside the repository")
            continue
        if fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading '#{fragment}' in {dest.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def _repository_files() -> list[Path]:
    """Tracked and untracked files that git does not ignore; without git, a walk minus the usual litter."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        names = [n for n in done.stdout.decode().split("\0") if n]
        if names:
            return [ROOT / n for n in names if (ROOT / n).is_file()]
    except (OSError, subprocess.SubprocessError):
        pass
    skip = {".git", ".venv", ".venv-tools", "build", "dist", "artifacts", "__pycache__", ".pytest_cache"}
    return [
        p
        for p in ROOT.rglob("*")
        if p.is_file() and not (set(p.relative_to(ROOT).parts) & skip) and ".egg-info" not in str(p)
    ]


def test_nothing_cites_documents_outside_the_repository() -> None:
    found = []
    for path in _repository_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".git", ".venv"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # images and other binaries
        for number, line in enumerate(text.splitlines(), 1):
            for what, pattern in OUTSIDE_CITATIONS.items():
                if pattern.search(line):
                    found.append(f"{rel}:{number}: {what}: {line.strip()[:100]}")
    assert not found, "citations of documents that are not in the repository:\n" + "\n".join(found)


def test_the_keda_model_cites_its_sources() -> None:
    """docs/keda-model.md names the release and the upstream files the predictions follow."""
    text = (ROOT / "docs" / "keda-model.md").read_text(encoding="utf-8")
    for source in (
        "v2.20.2",
        "pkg/scaling/executor/scale_scaledobjects.go",
        "controllers/keda/hpa.go",
        "pkg/scaling/executor/scale_jobs.go",
        "pkg/scalers/redis_scaler.go",
        "pkg/scalers/kafka_scaler.go",
        "pkg/controller/podautoscaler/horizontal.go",
        "pkg/controller/podautoscaler/replica_calculator.go",
    ):
        assert source in text, f"docs/keda-model.md does not cite {source}"
    for anchor in (
        "activation",
        "scaledobject-kedas-loop",
        "scaledobject-the-hpa",
        "legacy-path-no-behavior",
        "scaledjob",
        "kafka",
        "redis",
    ):
        assert anchor in anchors(ROOT / "docs" / "keda-model.md"), anchor


def test_code_citations_of_the_keda_model_land() -> None:
    """``docs/keda-model.md#<section>`` in code, tests and docs names a heading of that file."""
    own = anchors(ROOT / "docs" / "keda-model.md")
    bad = []
    for path in _repository_files():
        if path.suffix not in {".py", ".md", ".yaml", ".yml"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for anchor in re.findall(r"keda-model\.md#([\w-]+)", text):
            if anchor not in own:
                bad.append(f"{path.relative_to(ROOT)}: #{anchor}")
    assert not bad, f"citations of docs/keda-model.md sections that do not exist: {bad}"
