"""Serve the HTTP pump with gunicorn (``kedasuite serve``).

One worker process with threads: pump runs and their status live in that process's
memory, and a second process would not know the first one's runs. Threads are enough
here: a request only validates and starts a background thread.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class PumpServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def serve(app: Flask, host: str, port: int, threads: int) -> None:
    PumpServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "graceful_timeout": 20,
            # gunicorn 23+ opens a control socket under $HOME; a read-only pod has no use for it.
            "control_socket_disable": True,
        },
    ).run()
