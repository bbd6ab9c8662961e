"""Jupyter integration: session control bars and clickable transition links.

The browser half is the JupyterLab extension in ``labextension/``, shipped prebuilt in the
wheel. This is the only layer that imports ipywidgets (lazily: transition links work
without it).
"""

from __future__ import annotations

from typing import Any

from .links import COMM_TARGET, TRANSITION_MIME, TRANSITIONS_MIME

__all__ = ["COMM_TARGET", "TRANSITIONS_MIME", "TRANSITION_MIME", "SessionControls", "Viewer"]


def __getattr__(name: str) -> Any:
    # Widgets are imported on first use: links work without ipywidgets.
    if name == "SessionControls":
        from .controls import SessionControls

        return SessionControls
    if name == "Viewer":
        from .viewer import Viewer

        return Viewer
    raise AttributeError(name)
