"""The timeline recorder: ``kedasuite timeline`` (``scripts/timeline`` finds the .venv and runs it).

A scaling demo is convincing when you can *see* it: the backlog climbs, KEDA asks for
replicas, they arrive, the backlog drains, they go away. The Kafka scenario (docs/origins.md)
showed that with a Grafana panel; this draws the same picture with nothing but matplotlib, so it works on
a laptop, in CI and in the kind end-to-end run alike.

Every ``--interval`` seconds it takes one ``kedasuite status`` snapshot (the same reader,
in this process, or the pump's ``GET /status`` with ``--status-url``, which is how the
end-to-end script reaches the brokers inside a cluster) and appends one CSV row per
workload: backlog, in-flight, processed, the replicas (or, for the ScaledJob, new Jobs)
KEDA would target, whether KEDA would be active, and, when a Kubernetes cluster answers,
the replicas actually running (the scale target Deployment's ``.status.replicas``; the
ScaledJob's Jobs that have not finished, and its failed ones); without a cluster, the
replicas a live local ``kedasuite autoscale`` runs (its state, ``--autoscale-run-dir``). It stops after ``--duration``
or on Ctrl-C / SIGTERM and renders a PNG: one panel per workload, backlog and in-flight on
the left axis, predicted and actual replicas as step lines on the right one.

The CSV is the record (:mod:`.records`, the format ``kedasuite e2e`` writes too, with its
marks); ``--render-only CSV`` draws a saved one again (:mod:`.picture`). Readings come from
:mod:`.sources`; the click command is :mod:`.command`, which only :mod:`kedasuite.cli`
imports (it uses the option helpers there).
"""

from kedasuite.tools.timeline.picture import render
from kedasuite.tools.timeline.records import (
    COLUMNS,
    CsvWriter,
    Mark,
    Row,
    parse_csv,
    parse_records,
    read_csv,
    read_records,
    rows_from_status,
)
from kedasuite.tools.timeline.sources import Cluster, HttpStatus, LocalStatus, StatusUnavailable, record

__all__ = [
    "COLUMNS",
    "Cluster",
    "CsvWriter",
    "HttpStatus",
    "LocalStatus",
    "Mark",
    "Row",
    "StatusUnavailable",
    "parse_csv",
    "parse_records",
    "read_csv",
    "read_records",
    "record",
    "render",
    "rows_from_status",
]
