"""The ``kedasuite`` command group: every command, registered in one place."""

from __future__ import annotations

import click

from kedasuite.cli.inspect import check_manifests, kafka_lag, status
from kedasuite.cli.local import demo, redis_server
from kedasuite.cli.pumps import pump, serve
from kedasuite.cli.workers import job, worker
from kedasuite.tools.e2e.command import e2e
from kedasuite.tools.timeline.command import timeline
from kedasuite.keda.simulate import simulate
from kedasuite.autoscale.command import autoscale


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="kedasuite")
def main() -> None:
    """Workloads, load pumps and an embedded demo for seeing KEDA autoscaling work."""


for command in (pump, serve, worker, job, kafka_lag, status, check_manifests, demo, redis_server, e2e, timeline):
    main.add_command(command)
main.add_command(simulate)
main.add_command(autoscale)
