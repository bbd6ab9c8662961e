"""Transition links: a widget in every front end, and a MIME type for saved notebooks.

A displayed transition (or range) is one :class:`TransitionLinks` widget, whatever the
number of rows, drawn by its anywidget module in JupyterLab, Notebook 7, VS Code, Colab,
Voilà and marimo. Its bundle also carries the custom MIME type ``TRANSITION_MIME`` (or
``TRANSITIONS_MIME``): in a notebook, the JupyterLab extension draws that instead, so a saved
notebook shows working links when it is opened again, without the widget's model. Static
views get ``text/plain`` and ``text/html``. A click publishes the transition through the
session that shows its timeline, and the link says how many clients received it.
"""

from __future__ import annotations

import html
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from traitlets import Dict, Unicode

from .._version import __version__
from ..session import Session, live_sessions
from ..timeline import TimelineBase, Transition, TransitionRange
from . import channel
from .channel import COMM_TARGET
from .widget import STATIC, FramecastWidget

__all__ = [
    "COMM_TARGET",
    "TRANSITIONS_MIME",
    "TRANSITION_MIME",
    "TransitionLinks",
    "handle_click",
    "publish_request",
    "range_bundle",
    "transition_bundle",
]

log = logging.getLogger(__name__)

TRANSITION_MIME = "application/vnd.framecast.transition+json"
TRANSITIONS_MIME = "application/vnd.framecast.transitions+json"

#: Rows a transition table shows at most; a longer range says how many were left out.
MAX_TABLE_ROWS = 1000

_timelines: weakref.WeakValueDictionary[str, TimelineBase] = weakref.WeakValueDictionary()


def _remember(timeline: TimelineBase) -> None:
    _timelines[timeline.timeline_id] = timeline
    channel.ensure_comm_target()


class TransitionLinks(FramecastWidget):
    """One transition's link, or a range's table of links, as one widget."""

    _esm = STATIC / "links.js"
    kind = Unicode("link", help="'link' (one transition) or 'table' (a range).").tag(sync=True)
    data = Dict(help="What the link or table shows (the MIME payload).").tag(sync=True)


def handle_click(data: Mapping[str, Any]) -> dict[str, Any]:
    """Publish the transition a link names; the reply tells the link what to show.

    ``data`` is ``{"request": id, "timeline": timeline_id, "transition": n}``. The reply
    echoes ``request`` with ``received`` (clients reached) or ``error`` (a sentence).
    """
    from .requests import dispatch  # the table of handlers imports this module

    reply = dispatch({**data, "kind": "publish", "request": data.get("request", "")})
    return reply or {}


def publish_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``publish`` handler: publish transition ``data["transition"]`` of its timeline."""
    timeline = _timelines.get(str(data.get("timeline", "")))
    number = data.get("transition")
    if timeline is None:
        return {"error": "this timeline no longer exists in the kernel"}
    if isinstance(number, bool) or not isinstance(number, int):
        return {"error": f"bad transition number {number!r}"}
    try:
        transition = timeline.transition(number)
    except IndexError as error:
        return {"error": str(error)}
    sessions = _sessions_for(timeline)
    if not sessions:
        return {"error": "no open framecast.Session in this kernel to publish through"}
    return {"received": sum(session.sessions.publish(transition) for session in sessions)}


def _sessions_for(timeline: TimelineBase) -> list[Session]:
    """The sessions that show this timeline, else those that know it, else the only one."""
    sessions = live_sessions()
    showing = [s for s in sessions if s.target is timeline]
    if showing:
        return showing
    knowing = [s for s in sessions if s.app.timelines.get(timeline.timeline_id) is timeline]
    if knowing:
        return knowing
    return sessions if len(sessions) == 1 else []


def _link_text(transition: Transition) -> str:
    return f"#{transition.id}" + (f" {transition.label}" if transition.label else "")


def _widget_view(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The widget-view entry of a new :class:`TransitionLinks`: one model per display."""
    return TransitionLinks(kind=kind, data=data).view_entry()


def transition_bundle(transition: Transition, *, widget: bool = True) -> dict[str, Any]:
    """The display bundle of one transition: a link (with its widget unless ``widget`` is
    False), with plain and HTML fallbacks."""
    _remember(transition.timeline)
    data = {
        "version": __version__,
        "timeline": transition.timeline.timeline_id,
        "transition": transition.id,
        "label": transition.label,
    }
    return {
        **(_widget_view("link", data) if widget else {}),
        TRANSITION_MIME: data,
        "text/plain": repr(transition),
        "text/html": f"<code>{html.escape(_link_text(transition))}</code>",
    }


Context = str | Callable[[Transition], object] | None


def _context_of(context: Context, transition: Transition) -> object:
    if context is None:
        return ""
    if callable(context):
        return str(context(transition))
    value = transition.context_before().get(context)
    return "" if value is None else value


def _column(values: list[object]) -> list[str]:
    """A table column as text: numbers with one count of decimals, what the values need
    (up to six significant digits), so that 2 and 2.02 read 2.00 and 2.02."""
    floats = [v for v in values if isinstance(v, float)]
    decimals = 0
    for value in floats:
        text = f"{value:.6g}"
        if "e" not in text and "." in text:
            decimals = max(decimals, len(text.split(".")[1]))
    return [f"{v:.{decimals}f}" if isinstance(v, float) else str(v) for v in values]


def range_bundle(
    transitions: TransitionRange,
    context: Context = None,
    context_name: str = "",
    *,
    widget: bool = True,
) -> dict[str, Any]:
    """The display bundle of a range: a table of links with a context column (and its
    widget, one model for the whole table, unless ``widget`` is False)."""
    _remember(transitions.timeline)
    shown = [transitions.timeline.transition(n) for n in transitions.ids[:MAX_TABLE_ROWS]]
    values = _column([_context_of(context, transition) for transition in shown])
    rows = [
        {"transition": t.id, "label": t.label, "context": value}
        for t, value in zip(shown, values, strict=True)
    ]
    text_rows = [(_link_text(t), value) for t, value in zip(shown, values, strict=True)]
    hidden = len(transitions.ids) - len(shown)
    name = context_name or (context if isinstance(context, str) else "context" if context else "")
    header = f"<tr><th>transition</th>{f'<th>{html.escape(name)}</th>' if name else ''}</tr>"
    body = "".join(
        f"<tr><td><code>{html.escape(link)}</code></td>"
        + (f"<td>{html.escape(value)}</td>" if name else "")
        + "</tr>"
        for link, value in text_rows
    )
    more = f"<p>... and {hidden} more</p>" if hidden else ""
    plain = "\n".join(f"{link}  {value}".rstrip() for link, value in text_rows)
    data = {
        "version": __version__,
        "timeline": transitions.timeline.timeline_id,
        "context_name": name,
        "rows": rows,
        "hidden": hidden,
    }
    return {
        **(_widget_view("table", data) if widget else {}),
        TRANSITIONS_MIME: data,
        "text/plain": plain + (f"\n... and {hidden} more" if hidden else ""),
        "text/html": f"<table>{header}{body}</table>{more}",
    }
