"""The pump's OpenAPI 3.0 document, served at ``/openapi.json``.

Built from the pump's settings, so the limits it states (``count`` up to
``PUMP_MAX_COUNT``, the workloads this pump serves) are the ones it enforces; the tests
run schemathesis against a live pump with this document and find no server error and no
response outside it.
"""

from __future__ import annotations

from typing import Any

from kedasuite.core.names import Env

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ERROR}}}
    if headers:
        body["headers"] = headers
    return body


#: ``/status``'s per-workload ``autoscale`` block (kedasuite.autoscale.view.blocks).
_AUTOSCALE: dict[str, Any] = {
    "type": "object",
    "required": [
        "actual",
        "model",
        "unit",
        "reason",
        "next_step",
        "deviations",
        "read_errors",
        "stale",
        "stale_reason",
        "stopping",
        "age_seconds",
        "updated",
        "backend",
        "pid",
        "run_dir",
    ],
    "properties": {
        "actual": {
            "type": "integer",
            "nullable": True,
            "minimum": 0,
            "description": "Replicas (ScaledJob: running Jobs) the autoscaler runs; null with backend none.",
        },
        "model": {"type": "integer", "nullable": True, "minimum": 0, "description": "The model's count."},
        "unit": {"type": "string", "nullable": True, "enum": ["replicas", "jobs", None]},
        "reason": {"type": "string", "nullable": True, "description": "The model's last step, in words."},
        "next_step": {
            "type": "object",
            "nullable": True,
            "description": "The predicted next step if the triggers keep their values; null when stale.",
            "required": ["in_seconds", "actor", "replicas", "reason"],
            "properties": {
                "in_seconds": {"type": "number", "minimum": 0},
                "actor": {"type": "string"},
                "replicas": {"type": "integer"},
                "reason": {"type": "string"},
            },
        },
        "deviations": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Timings overridden for a demo, each with the manifest's value.",
        },
        "read_errors": {"type": "array", "items": {"type": "string"}},
        "stale": {"type": "boolean", "description": "The autoscaler is gone or hung: not live numbers."},
        "stale_reason": {"type": "string", "nullable": True},
        "stopping": {
            "allOf": [{"$ref": "#/components/schemas/Stopping"}],
            "nullable": True,
            "description": "The autoscaler is stopping its workers (no next step); null otherwise.",
        },
        "age_seconds": {
            "type": "number",
            "nullable": True,
            "minimum": 0,
            "description": "Seconds since the autoscaler wrote this state.",
        },
        "updated": {"type": "string", "nullable": True},
        "backend": {"type": "string", "nullable": True},
        "pid": {"type": "integer", "nullable": True},
        "run_dir": {"type": "string"},
    },
}


_STOPPING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "since": {"type": "string"},
        "why": {"type": "string", "nullable": True},
        "within_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "The grace period its workers get: stale after that.",
        },
    },
}

#: ``/status``'s top-level ``autoscaler`` (kedasuite.autoscale.view.read): the run directory read,
#: whose state it holds, and, when that is not live, the words that say how old and what fixes it.
_AUTOSCALER: dict[str, Any] = {
    "type": "object",
    "required": [
        "run_dir",
        "state",
        "pid",
        "backend",
        "updated",
        "age_seconds",
        "stale_reason",
        "stopping",
        "elsewhere",
        "note",
    ],
    "properties": {
        "run_dir": {"type": "string", "description": "The run directory this pump reads (--autoscale-run-dir)."},
        "state": {
            "type": "string",
            "enum": ["live", "stopping", "stale", "absent"],
            "description": "absent: no state there, while an autoscaler runs with another run directory.",
        },
        "pid": {"type": "integer", "nullable": True},
        "backend": {"type": "string", "nullable": True},
        "updated": {"type": "string", "nullable": True},
        "age_seconds": {"type": "number", "nullable": True, "minimum": 0},
        "stale_reason": {"type": "string", "nullable": True},
        "stopping": {"allOf": [{"$ref": "#/components/schemas/Stopping"}], "nullable": True},
        "elsewhere": {
            "type": "array",
            "description": "Autoscalers of this user running now with another run "
            "directory (their registry in the temp directory).",
            "items": {
                "type": "object",
                "required": ["pid", "run_dir"],
                "properties": {
                    "pid": {"type": "integer"},
                    "run_dir": {"type": "string"},
                    "backend": {"type": "string"},
                    "started": {"type": "string"},
                },
            },
        },
        "note": {
            "type": "string",
            "nullable": True,
            "description": "When the state is not live: whose it is, how old, and the variable or option "
            "that fixes it. Null when live.",
        },
    },
}


def document(workloads: list[str], max_count: int, token: bool) -> dict[str, Any]:
    """The document for a pump serving ``workloads`` with ``max_count`` (and a token or not)."""
    retry_after = {
        "Retry-After": {
            "description": "Seconds to wait before asking again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    }
    pump_params = [
        {
            "name": "count",
            "in": "query",
            "required": False,
            "description": f"Items to pump, 1 to {max_count} ({Env.PUMP_MAX_COUNT}). Required unless a load "
            "shape (rate with duration, or profile) decides it; with one, at most this many.",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_count},
        },
        {
            "name": "workload",
            "in": "query",
            "required": False,
            "description": "The workload to pump into; `all` pumps every workload this pump serves.",
            "schema": {"type": "string", "enum": [*workloads, "all"]},
        },
        {
            "name": "seed",
            "in": "query",
            "required": False,
            "description": "Seed for reproducible records.",
            "schema": {"type": "integer"},
        },
        {
            "name": "rate",
            "in": "query",
            "required": False,
            "description": "Items per second, steady.",
            "schema": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
        },
        {
            "name": "duration",
            "in": "query",
            "required": False,
            "description": "How long to pump at `rate`, in seconds (or with a unit: `90s`, `2m`).",
            "schema": {"type": "string"},
        },
        {
            "name": "profile",
            "in": "query",
            "required": False,
            "description": "A load shape: step, ramp, spike or burst (see the README).",
            "schema": {"type": "string"},
        },
    ]
    pump_responses = {
        "202": {
            "description": "Accepted: the run has started; follow `status_url`.",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunAccepted"}}},
        },
        "400": _error("Bad input: the message names the parameter and what is allowed."),
        "429": _error("Too many runs or items in progress; nothing was started.", retry_after),
        "503": _error("The workload's broker cannot be reached; nothing was sent."),
    }
    if token:
        pump_responses["401"] = _error("No or wrong bearer token.")
    security = [{"bearer": []}] if token else []
    json_ok = {"application/json": {"schema": {"type": "object"}}}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "kedasuite pump",
            "version": "1",
            "description": "Pumps fake user records into the workloads KEDA scales, and says what KEDA "
            "would decide now.",
        },
        "paths": {
            "/pump": {
                "get": {
                    "summary": "Start a pump run",
                    "operationId": "pumpGet",
                    "parameters": pump_params,
                    "responses": pump_responses,
                    "security": security,
                },
                "post": {
                    "summary": "Start a pump run (same parameters, query or form)",
                    "operationId": "pumpPost",
                    "parameters": pump_params,
                    "responses": pump_responses,
                    "security": security,
                },
            },
            "/pumps/{run_id}": {
                "get": {
                    "summary": "A run's progress",
                    "operationId": "run",
                    "parameters": [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "The run.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Run"}}},
                        },
                        "404": _error("No such run on this pump."),
                        **({"401": _error("No or wrong bearer token.")} if token else {}),
                    },
                    "security": security,
                },
            },
            "/status": {
                "get": {
                    "summary": "What KEDA would decide now, per workload",
                    "operationId": "status",
                    "responses": {
                        "200": {
                            "description": "As `kedasuite status --json`.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
                        },
                        **({"401": _error("No or wrong bearer token.")} if token else {}),
                    },
                    "security": security,
                },
            },
            "/": {
                "get": {
                    "summary": "The live dashboard (a static page that reads this API)",
                    "operationId": "ui",
                    "security": [],
                    "responses": {
                        "200": {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "operationId": "healthz",
                    "security": [],
                    "responses": {"200": {"description": "Serving.", "content": json_ok}},
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: every broker answers",
                    "operationId": "readyz",
                    "security": [],
                    "responses": {
                        "200": {"description": "Ready.", "content": json_ok},
                        "503": {"description": "A broker does not answer.", "content": json_ok},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Text exposition format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string", "minLength": 1}},
                },
                "Stream": {
                    "type": "object",
                    "required": ["workload", "count", "sent", "failed", "done"],
                    "properties": {
                        "workload": {"type": "string"},
                        "count": {"type": "integer"},
                        "sent": {"type": "integer"},
                        "failed": {"type": "integer"},
                        "done": {"type": "boolean"},
                        "error": {"type": "string", "nullable": True},
                    },
                },
                "Run": {
                    "type": "object",
                    "required": ["id", "state", "count", "sent", "failed", "done", "workloads"],
                    "properties": {
                        "id": {"type": "string"},
                        "state": {"type": "string", "enum": ["running", "succeeded", "failed"]},
                        "count": {"type": "integer", "minimum": 0},
                        "sent": {"type": "integer", "minimum": 0},
                        "failed": {"type": "integer", "minimum": 0},
                        "done": {"type": "boolean"},
                        "seed": {"type": "integer", "nullable": True},
                        "workloads": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Stream"},
                        },
                    },
                },
                "RunAccepted": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Run"},
                        {
                            "type": "object",
                            "required": ["message", "status_url"],
                            "properties": {"message": {"type": "string"}, "status_url": {"type": "string"}},
                        },
                    ]
                },
                "Status": {
                    "type": "object",
                    "required": ["time", "source", "workloads"],
                    "properties": {
                        "time": {"type": "string"},
                        "source": {"type": "string"},
                        "workloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["workload", "backlog", "active", "replicas", "unit", "error"],
                                "properties": {
                                    "autoscale": {
                                        "allOf": [{"$ref": "#/components/schemas/Autoscale"}],
                                        "nullable": True,
                                        "description": "A local `kedasuite autoscale`'s state for "
                                        "this workload; null when none is found.",
                                    }
                                },
                            },
                        },
                        "autoscaler": {
                            "allOf": [{"$ref": "#/components/schemas/Autoscaler"}],
                            "nullable": True,
                            "description": "The run directory read and whose state "
                            "it holds; null when there is nothing "
                            "to say (no state, no autoscaler).",
                        },
                    },
                },
                "Autoscale": _AUTOSCALE,
                "Autoscaler": _AUTOSCALER,
                "Stopping": _STOPPING,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": f"The pump's {Env.PUMP_TOKEN}."}
            },
        },
    }
    if token:
        doc["security"] = [{"bearer": []}]
    return doc
