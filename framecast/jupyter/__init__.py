"""Jupyter integration: session control bars, 3D viewers and clickable transition links.

The browser half is the JupyterLab extension in ``labextension/``, shipped prebuilt in the
wheel. This is the only layer that imports ipywidgets or IPython. The layers below never
import it: on import it registers, in :mod:`framecast._display`, how sessions, transitions
and ranges display and what ``Session.controls()`` and ``Session.view()`` make
(``framecast/__init__.py`` imports this package last, so that is always done).
"""

from __future__ import annotations

from typing import Any

from .. import _display
from ..session import Session
from ..timeline import Transition, TransitionRange
from .links import COMM_TARGET, TRANSITION_MIME, TRANSITIONS_MIME, range_bundle, transition_bundle

__all__ = ["COMM_TARGET", "TRANSITIONS_MIME", "TRANSITION_MIME", "SessionControls", "Viewer"]


def __getattr__(name: str) -> Any:
    # Widgets are imported on first use: links need only this module and links.py.
    if name == "SessionControls":
        from .controls import SessionControls

        return SessionControls
    if name == "Viewer":
        from .viewer import Viewer

        return Viewer
    raise AttributeError(name)


def _controls(session: Session) -> Any:
    from .controls import SessionControls

    return SessionControls(session)


def _viewer(session: Session, listen: str, **kwargs: Any) -> Any:
    from .viewer import Viewer

    return Viewer(session, listen, **kwargs)


def _session_bundle(session: Session, **kwargs: Any) -> dict[str, Any] | None:
    """A session shows as its control bar."""
    bundle: dict[str, Any] | None = _controls(session)._repr_mimebundle_(**kwargs)
    return bundle


def _range(transitions: TransitionRange, **kwargs: Any) -> dict[str, Any]:
    return range_bundle(transitions, *transitions.shown_context())


_display.register_factory("controls", _controls)
_display.register_factory("viewer", _viewer)
_display.register_bundle(Session, _session_bundle)
_display.register_bundle(Transition, lambda transition, **kwargs: transition_bundle(transition))
_display.register_bundle(TransitionRange, _range)
