"""The live dashboard at the pump's ``/``: one static page that reads the JSON API.

No build step and nothing fetched from the network: plain HTML, CSS and a script that
polls ``GET /status`` every two seconds, keeps the last ten minutes in the browser, charts
them with uPlot (vendored under ``static/vendor/uplot/`` with its licence and version), and
starts runs through ``POST /pump``. The page holds no data, so it is served without a
token; when the pump has ``PUMP_TOKEN``, the page asks for it and sends it with each API
call. uPlot draws on canvases and styles its elements through the DOM, so the page's
Content-Security-Policy needs no inline script or style.
"""

from __future__ import annotations

from flask import Blueprint, Response, send_from_directory

blueprint = Blueprint("ui", __name__, static_folder="static", static_url_path="/ui")


@blueprint.get("/")
def index() -> Response:
    response = send_from_directory(blueprint.static_folder or "static", "index.html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
