"""The command line: ``kedasuite`` (or ``python -m kedasuite``).

Every command lives here, one module per command or family (:mod:`.pumps`, :mod:`.workers`,
:mod:`.inspect`, :mod:`.local`, :mod:`.simulate`, :mod:`.autoscale`, :mod:`.scenario`,
:mod:`.e2e`, :mod:`.timeline`), each a face over the logic in the packages below; shared
options in :mod:`.options`, the group in :mod:`.app`, which loads a command on first use.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "main":
        from kedasuite.cli.app import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
