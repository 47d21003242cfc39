"""Every environment variable is named once (``names.Env``), declared once (``core/config.py``:
type, bounds, default, help) and listed once (docs/configuration.md).

Ways a variable escapes, each checked: a CLI option whose ``envvar`` is spelled inline or whose
variable has no declaration, a module that reads ``os.environ`` with a literal name, a name in
``Env`` that the configuration page never mentions, and a flag and its variable that disagree.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from kedasuite.cli import main
from kedasuite.core import config
from kedasuite.core.errors import InputError
from kedasuite.core.names import Env
from kedasuite.core.settings import KafkaSettings
from tests.support import subcommands

ROOT = Path(__file__).resolve().parents[2]
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


#: Variables only the shell scripts read (scripts/e2e), and the prefixes of librdkafka's properties.
SCRIPT_ONLY = {Env.E2E_CLUSTER, Env.E2E_KEEP, Env.E2E_BUILD, Env.E2E_PICTURE, Env.KEDA_CHART_VERSION}
PREFIXES = {Env.KAFKA_CONFIG_PREFIX, Env.KAFKA_PRODUCER_CONFIG_PREFIX, Env.KAFKA_CONSUMER_CONFIG_PREFIX}


def test_every_variable_the_code_reads_is_declared_once() -> None:
    undeclared = sorted(ENV_NAMES - set(config.declared()) - SCRIPT_ONLY - PREFIXES - FOREIGN)
    assert not undeclared, f"declare these in kedasuite/core/config.py: {undeclared}"
    options = cli_envvars(main)
    stray = {var: where for var, where in options.items() if var not in config.declared()}
    assert not stray, f"options whose variable has no declaration in kedasuite/core/config.py: {stray}"


@pytest.mark.parametrize(
    ("setting", "text", "value"),
    [
        (config.KAFKA_PARTITIONS, "3", 3),
        (config.REDIS_TLS_VERIFY, "Off", False),
        (config.KAFKA_EMBEDDED, "APACHE", "apache"),
        (config.SIMULATE_TOLERANCE, "0.25", 0.25),
    ],
)
def test_a_variable_is_read_as_its_declared_type(setting: config.Setting, text: str, value: object) -> None:
    assert setting.read({setting.env: text}) == value
    assert setting.read({}) == setting.default_value()


@pytest.mark.parametrize(
    ("setting", "text", "wanted"),
    [
        (config.KAFKA_PARTITIONS, "0", "a whole number >= 1"),
        (config.RQ_RETRIES, "two", "a whole number >= 0"),
        (config.SIMULATE_TOLERANCE, "1.5", "a number >= 0 and <= 1"),
        (config.REDIS_TLS, "maybe", "true or false"),
        (config.KAFKA_OFFSET_RESET, "oldest", "one of earliest, latest"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_takes(setting: config.Setting, text: str, wanted: str) -> None:
    with pytest.raises(InputError) as caught:
        setting.read({setting.env: text})
    assert f"{setting.env}={text!r} is not {wanted}" in str(caught.value)


def test_the_flag_and_the_settings_object_refuse_the_same_value() -> None:
    """One declaration behind both routes: KAFKA_PARTITIONS=0 is refused by the CLI (click, from the
    variable) and by the settings object a worker builds from the environment, each naming it."""
    done = CliRunner().invoke(main, ["kafka-lag"], env={Env.KAFKA_PARTITIONS: "0"})
    assert done.exit_code == 2 and "KAFKA_PARTITIONS" in done.output and "x>=1" in done.output, done.output
    with pytest.raises(InputError, match="KAFKA_PARTITIONS='0' is not a whole number >= 1"):
        KafkaSettings.from_env({Env.KAFKA_PARTITIONS: "0"})


def test_a_flags_help_and_default_are_its_declarations() -> None:
    """Options take their help, default and variable from the declaration; the few that override it (a
    command's own role for a shared variable) are listed here, so a new override is a choice, not a drift."""
    overridden = {
        "--redis-url": {"demo", "scenario", "worker kafka"},
        "--bootstrap-servers": {"demo", "scenario"},
        "--overlay": {"simulate"},
        "--pump-token": {"e2e run"},
        "--autoscale-run-dir": {"status", "serve", "timeline"},
        "--work-time": {"worker kafka"},
        "--scram-user": {"kafka-server"},
        "--scram-password": {"kafka-server"},
    }
    declared = config.declared()
    drift = []

    def walk(command: click.Command, path: str) -> None:
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(param.envvar, str):
                setting = declared[param.envvar]
                flag = param.opts[0]
                if path in overridden.get(flag, ()):
                    continue
                default = param.default() if callable(param.default) else param.default
                wanted = setting.default_value()
                if setting.flag:
                    wanted = bool(wanted)
                if param.help != setting.help or (default != wanted and not setting.multiple):
                    drift.append(f"kedasuite {path} {flag}")
        if isinstance(command, click.Group):
            for name, sub in subcommands(command):
                walk(sub, f"{path} {name}".strip())

    walk(main, "")
    assert not drift, f"options whose help or default is not their declaration's: {drift}"
