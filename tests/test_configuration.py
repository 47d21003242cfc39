"""Every environment variable is named once (``names.Env``) and listed once (docs/configuration.md).

Three ways a variable escapes the list, each checked: a CLI option whose ``envvar`` is
spelled inline, a module that reads ``os.environ`` with a literal name, and a name in
``Env`` that the configuration page never mentions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from kedasuite.cli import main
from kedasuite.core.names import Env
from tests.support import subcommands

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("kedasuite", "producers", "workers", "jobs")
#: Variables other programs define, which the suite only passes on.
FOREIGN = {"KUBECONFIG", "PROMETHEUS_MULTIPROC_DIR", "PATH", "HOME"}
ENV_NAMES = {value for key, value in vars(Env).items() if key.isupper() and isinstance(value, str)}


def documented() -> set[str]:
    """Variable names in the first column of docs/configuration.md's tables."""
    names: set[str] = set()
    for line in (ROOT / "docs/configuration.md").read_text().splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)\*?`", line.split("|")[1]))  # PREFIX_* too
    return names


def cli_envvars(command: click.Command, path: str = "kedasuite") -> dict[str, str]:
    found: dict[str, str] = {}
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            for var in [param.envvar] if isinstance(param.envvar, str) else param.envvar:
                found[var] = f"{path} {param.opts[-1]}"
    if isinstance(command, click.Group):
        for name, sub in subcommands(command):
            found |= cli_envvars(sub, f"{path} {name}")
    return found


def literal_reads(path: Path) -> list[str]:
    """``os.environ["X"]``, ``environ.get("X")`` and ``os.getenv("X")`` with a literal name."""
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        name = None
        if isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
            name = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            if func.endswith("environ.get") or func.endswith("getenv") or func.endswith("environ.setdefault"):
                name = node.args[0]
        if isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value not in FOREIGN:
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name.value}")
    return hits


def test_every_cli_option_reads_a_variable_named_in_env() -> None:
    stray = {var: where for var, where in cli_envvars(main).items() if var not in ENV_NAMES}
    assert not stray, f"options whose variable is not in kedasuite.core.names.Env: {stray}"


def test_no_module_reads_the_environment_by_a_literal_name() -> None:
    hits = [
        hit for folder in SOURCE_DIRS for path in sorted((ROOT / folder).rglob("*.py")) for hit in literal_reads(path)
    ]
    assert not hits, "read these through kedasuite.core.names.Env:\n" + "\n".join(hits)


def test_every_variable_is_in_the_configuration_page() -> None:
    missing = sorted(ENV_NAMES - documented())
    assert not missing, f"docs/configuration.md does not list {missing}"


def test_the_page_lists_no_variable_the_code_does_not_know() -> None:
    extra = sorted(documented() - ENV_NAMES - FOREIGN)
    assert not extra, f"docs/configuration.md lists {extra}, which kedasuite.core.names.Env does not name"
