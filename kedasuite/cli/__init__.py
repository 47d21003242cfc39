"""The command line: ``kedasuite`` (or ``python -m kedasuite``).

One module per family of commands (:mod:`.pumps`, :mod:`.workers`, :mod:`.inspect`,
:mod:`.local`), shared options in :mod:`.options`, the group in :mod:`.app`. Commands
defined beside their tools (``e2e``, ``timeline``) import :mod:`.options` only, so the group
is loaded on first use of :data:`main`, not on import of this package.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "main":
        from kedasuite.cli.app import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
