"""The suite's alert rules, kept once: the PrometheusRule of ``k8s/components/monitoring``.

A Prometheus run by prometheus-operator reads the PrometheusRule; a plain Prometheus (the
compose profile ``observe``, ``promtool``) reads a rules file: the same ``groups`` without the
Kubernetes envelope. This module writes that file from the PrometheusRule::

    python -m kedasuite.tools.alert_rules           # rewrite observe/prometheus/rules/kedasuite.yml
    python -m kedasuite.tools.alert_rules --check   # change nothing; exit 1 when it is stale

``tests/repository/test_monitoring.py`` fails while the two differ, and names this command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m kedasuite.tools.alert_rules"
PROMETHEUS_RULE = "k8s/components/monitoring/prometheusrule.yaml"
RULES_FILE = "observe/prometheus/rules/kedasuite.yml"

HEADER = f"""\
# The suite's alert rules for a Prometheus without prometheus-operator (compose's `observe`
# profile, promtool). Written by `{COMMAND}` from
# {PROMETHEUS_RULE}: edit that file, then run the command.
"""


def rule_groups(path: Path) -> dict[str, Any]:
    """``{"groups": [...]}`` of the PrometheusRule at PATH: a Prometheus rules file's content."""
    obj = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict) or obj.get("kind") != "PrometheusRule":
        raise ValueError(f"{path}: not a PrometheusRule")
    return {"groups": obj["spec"]["groups"]}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the PromQL expressions) as literal blocks, as written in the source."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def rules_text(groups: dict[str, Any]) -> str:
    return HEADER + yaml.dump(groups, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=f"Write {RULES_FILE} from {PROMETHEUS_RULE}.")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the rules file is stale")
    args = parser.parse_args(argv)
    source, target = ROOT / PROMETHEUS_RULE, ROOT / RULES_FILE
    if not source.is_file():
        print(f"{COMMAND}: run it in a checkout of the repository ({PROMETHEUS_RULE} not found)", file=sys.stderr)
        return 2
    text = rules_text(rule_groups(source))
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        print(f"{RULES_FILE} is current")
        return 0
    if args.check:
        print(f"stale: {RULES_FILE}; run {COMMAND}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"rewrote {RULES_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
