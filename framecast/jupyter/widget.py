"""The base of framecast's widgets: an ``anywidget.AnyWidget`` with its bundle and requests.

Each widget's front end is an ES module in ``framecast/static`` (built from
``labextension/src/widgets`` when the wheel is built), which every front end that runs
anywidget loads: JupyterLab, Notebook 7, VS Code, Colab, Voilà and marimo.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
from traitlets import Unicode

from framecast._support.display import Bundle
from framecast._version import __version__
from framecast.jupyter import channel

if TYPE_CHECKING:
    from framecast.session.session import Session

__all__ = ["STATIC", "FramecastWidget"]


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

#: The bundles and the style sheet, shipped inside the package.
STATIC = Path(__file__).resolve().parent.parent / "static"


class FramecastWidget(anywidget.AnyWidget):
    """A widget whose page sends requests (see :mod:`framecast.jupyter.requests`).

    Requests come over the widget's own comm, or over the kernel channel where the
    JupyterLab extension opened one; both reach the same handlers. ``_widget_id`` names
    the widget in requests (a front end need not expose the comm's id).
    """

    _css = STATIC / "widgets.css"
    _widget_id = Unicode(help="Names this widget in the page's requests.").tag(sync=True)
    python_version = Unicode(__version__, help="Version of the Python package.").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        #: Widgets drawn under this one, in one output (a viewer's plot strip); they close
        #: with it.
        self.below: list[anywidget.AnyWidget] = []
        super().__init__(_widget_id=uuid.uuid4().hex, **kwargs)
        channel.register_widget(self._widget_id, self)
        self.on_msg(lambda _widget, content, _buffers: self._receive(content))

    def _receive(self, content: Any) -> None:
        if not isinstance(content, Mapping) or self._page_message(content):
            return
        reply = channel.dispatch(content)
        if reply is not None:
            self.send({"type": "reply", **reply})

    def _page_message(self, content: Mapping[str, Any]) -> bool:
        """Handle a message only this widget's own comm carries; True if handled."""
        return False

    def _fallback(self) -> str:
        """What the widget shows, for the text a front end that cannot draw it shows."""
        return ""

    @property
    def controlled_session(self) -> Session | None:
        """The session of this kernel that the widget's play controls drive (``control``
        requests), or None where they drive the page only."""
        return None

    def mimebundle(self, extra: Mapping[str, Any] | None = None) -> Bundle:
        """The display bundle: the widget's view, framecast's text and HTML fallbacks (which
        say what this is and where it draws), then ``extra`` MIME types, which win.

        A dict, or ``(data, metadata)`` where the front end needs metadata (Colab).
        """
        shown = anywidget.AnyWidget._repr_mimebundle_(self)
        if self.below:
            import ipywidgets

            box = ipywidgets.VBox([self, *self.below])._repr_mimebundle_()
            shown = (box, {}) if isinstance(box, dict) else box
        data, metadata = shown if shown is not None else ({}, {})
        text = (
            f"{type(self).__name__}({self._fallback()}): an interactive framecast widget "
            "that this front end did not draw. "
            "It draws in JupyterLab, Notebook 7, VS Code, Colab, Voila and marimo while the "
            "notebook's kernel runs, with framecast installed where the kernel runs "
            "(pip install framecast)."
        )
        data = {
            **data,
            "text/plain": text,
            "text/html": f'<p class="fc-fallback">{html.escape(text)}</p>',
            **(extra or {}),
        }
        return (data, metadata) if metadata else data

    def view(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The widget-view MIME entry alone (empty where there is no widget view), and the
        metadata a front end needs to draw it (Colab's widget manager; usually none)."""
        data, metadata = anywidget.AnyWidget._repr_mimebundle_(self) or ({}, {})
        return {key: value for key, value in data.items() if key == WIDGET_VIEW}, metadata

    def close(self) -> None:
        """Close the widget, and those drawn under it."""
        for widget in getattr(self, "below", ()):
            widget.close()
        super().close()

    # A plain dict where no metadata is needed (anywidget always returns a pair): what
    # IPython accepts either way, and what static tools read most easily.
    def _repr_mimebundle_(self, **kwargs: Any) -> Bundle:  # type: ignore[override]
        return self.mimebundle()
