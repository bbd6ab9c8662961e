"""Notebook integration: session control bars, 3D viewers and clickable transition links.

The widgets are anywidgets: their front ends are ES modules in ``framecast/static``, built
from ``labextension/src/widgets`` when the wheel is built, and they draw in JupyterLab,
Notebook 7, VS Code, Colab, Voila and marimo. The prebuilt JupyterLab extension adds the
renderers of saved links and the kernel channel. This is the only layer that imports
anywidget, ipywidgets, IPython or marimo. The layers below never
import it: on import it registers, in :mod:`framecast._support.display`, how sessions, transitions
and ranges display and what ``Session.controls()`` and ``Session.view()`` make
(``framecast/__init__.py`` imports this package last, so that is always done).
"""

from __future__ import annotations

import sys
from typing import Any

import framecast._support.display as _display
from framecast.jupyter import channel, requests
from framecast.jupyter.links import (
    COMM_TARGET,
    TRANSITION_MIME,
    TRANSITIONS_MIME,
    link_data,
    range_bundle,
    table_data,
    transition_bundle,
)
from framecast.session.session import Session
from framecast.timeline import Transition, TransitionRange

# The page's requests are answered by the table of handlers, which knows every widget.
channel.install_dispatcher(requests.dispatch)

__all__ = ["COMM_TARGET", "TRANSITIONS_MIME", "TRANSITION_MIME", "SessionControls", "Viewer"]


def __getattr__(name: str) -> Any:
    # Widgets are imported on first use: links need only this module and links.py.
    if name == "SessionControls":
        from framecast.jupyter.controls import SessionControls

        return SessionControls
    if name == "Viewer":
        from framecast.jupyter.viewer import Viewer

        return Viewer
    raise AttributeError(name)


def _controls(session: Session) -> Any:
    from framecast.jupyter.controls import SessionControls

    return SessionControls(session)


def _viewer(session: Session, listen: str, plot: object = None, **kwargs: Any) -> Any:
    from framecast.jupyter.viewer import Viewer

    viewer = Viewer(session, listen, **kwargs)
    if plot is not None:
        # A plot strip under the view: one output, closed with the viewer.
        series = [plot] if isinstance(plot, str) or callable(plot) else list(plot)  # type: ignore[call-overload]
        try:
            viewer.below.append(_plot(session, *series, height=160))
        except BaseException:
            viewer.close()
            raise
    return viewer


def _plot(session: Session, *series: object, **kwargs: Any) -> Any:
    from framecast.jupyter.plot import Plot

    return Plot(session, *series, **kwargs)


def _session_bundle(session: Session, **kwargs: Any) -> Any:
    """A session shows as its control bar."""
    return _controls(session).mimebundle()


def _range(transitions: TransitionRange, **kwargs: Any) -> Any:
    return range_bundle(transitions, *transitions.shown_context())


def _in_marimo(widget: Any) -> Any:
    """An anywidget as marimo shows it (marimo does not draw ipywidgets)."""
    import marimo

    return marimo.ui.anywidget(widget)


def _marimo_links(kind: str, data: dict[str, Any]) -> Any:
    from framecast.jupyter.links import TransitionLinks

    return _in_marimo(TransitionLinks(kind=kind, data=data))


_display.register_factory("controls", _controls)
_display.register_factory("viewer", _viewer)
_display.register_factory("plot", _plot)
_display.register_bundle(Session, _session_bundle)
_display.register_bundle(Transition, lambda transition, **kwargs: transition_bundle(transition))
_display.register_bundle(TransitionRange, _range)
_display.register_marimo(Session, lambda session: _in_marimo(_controls(session)))
_display.register_marimo(
    Transition,
    lambda t: _marimo_links("link", link_data(t)),
)
_display.register_marimo(
    TransitionRange,
    lambda r: _marimo_links("table", table_data(r, *r.shown_context())[0]),
)

# A saved link in a page reopened on this kernel opens the request channel before anything
# here makes a widget or a link: in a kernel, the comm target is ready once framecast is.
if "ipykernel" in sys.modules:
    channel.ensure_comm_target()
