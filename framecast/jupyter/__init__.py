"""Jupyter integration: session control bars and clickable transition links.

The browser half is the JupyterLab extension in ``labextension/``, shipped prebuilt in the
wheel. This is the only layer that imports ipywidgets (lazily: transition links work
without it).
"""

from __future__ import annotations

from typing import Any

from .links import COMM_TARGET, TRANSITION_MIME, TRANSITIONS_MIME

__all__ = ["COMM_TARGET", "TRANSITIONS_MIME", "TRANSITION_MIME", "SessionControls"]


def __getattr__(name: str) -> Any:
    if name == "SessionControls":
        from .controls import SessionControls

        return SessionControls
    raise AttributeError(name)
