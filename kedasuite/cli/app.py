"""The ``kedasuite`` command group: every command, registered in one place.

Commands are imported when they are run (or listed by ``--help``), not when ``kedasuite``
starts: a worker or a pump process does not pay for importing e2e, timeline or the model.
The suite starts such processes by the hundred (every replica, every Job runner).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

#: Command name -> ``module:attribute`` of its click command.
COMMANDS: dict[str, str] = {
    "pump": "kedasuite.cli.pumps:pump",
    "serve": "kedasuite.cli.pumps:serve",
    "worker": "kedasuite.cli.workers:worker",
    "job": "kedasuite.cli.workers:job",
    "kafka-lag": "kedasuite.cli.inspect:kafka_lag",
    "status": "kedasuite.cli.inspect:status",
    "check-manifests": "kedasuite.cli.inspect:check_manifests",
    "simulate": "kedasuite.cli.simulate:simulate",
    "autoscale": "kedasuite.cli.autoscale:autoscale",
    "demo": "kedasuite.cli.local:demo",
    "scenario": "kedasuite.cli.scenario:scenario",
    "redis-server": "kedasuite.cli.local:redis_server",
    "kafka-server": "kedasuite.cli.local:kafka_server",
    "e2e": "kedasuite.cli.e2e:e2e",
    "timeline": "kedasuite.cli.timeline:timeline",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: Any = getattr(importlib.import_module(module), attribute)
        return command  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="kedasuite")
def main() -> None:
    """Workloads, load pumps and an embedded demo for seeing KEDA autoscaling work."""
