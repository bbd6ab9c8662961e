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

from framecast._support.display import Bundle
from framecast._version import __version__
from framecast.jupyter import channel
from framecast.jupyter.channel import COMM_TARGET
from framecast.jupyter.widget import STATIC, FramecastWidget
from framecast.session.session import Session, live_sessions
from framecast.timeline import TimelineBase, Transition, TransitionRange

__all__ = [
    "COMM_TARGET",
    "TRANSITIONS_MIME",
    "TRANSITION_MIME",
    "TransitionLinks",
    "handle_click",
    "link_data",
    "publish_request",
    "range_bundle",
    "table_data",
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
    reply = channel.dispatch({**data, "kind": "publish", "request": data.get("request", "")})
    return reply or {}


def _timeline_of(data: Mapping[str, Any]) -> TimelineBase | None:
    """The timeline a link names: by its id in this kernel, else (a link saved from another
    kernel) the one with the link's content fingerprint, those sessions show first."""
    timeline = _timelines.get(str(data.get("timeline", "")))
    fingerprint = data.get("fingerprint")
    if timeline is not None or not isinstance(fingerprint, str) or not fingerprint:
        return timeline
    shown = [s.target for s in live_sessions() if isinstance(s.target, TimelineBase)]
    for candidate in [*shown, *list(_timelines.values())]:
        if candidate.fingerprint == fingerprint:
            return candidate
    return None


def publish_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``publish`` handler: publish transition ``data["transition"]`` of its timeline
    (see :func:`_timeline_of`)."""
    timeline = _timeline_of(data)
    number = data.get("transition")
    if timeline is None:
        return {
            "error": "this link's timeline is not in the kernel: run the cells that load it "
            "and start its session, then click again"
        }
    if isinstance(number, bool) or not isinstance(number, int):
        return {"error": f"bad transition number {number!r}"}
    try:
        transition = timeline.transition(number)
    except IndexError as error:
        return {"error": str(error)}
    sessions = _sessions_for(timeline)
    if not sessions:
        return {"error": "no open framecast.Session in this kernel to publish through"}
    received = sum(session.sessions.publish(transition) for session in sessions)
    if received:
        return {"received": received}
    return {"received": 0, "hint": _nobody_hint(sessions)}


def _nobody_hint(sessions: list[Session]) -> str:
    """How to reach someone, when nobody listens on the tracked sessions: the session
    where clients do listen, if any, else how to show a viewer."""
    tracked = sorted({name for s in sessions for name in s.sessions.tracked.names()})
    where = ", ".join(repr(name) for name in tracked) if tracked else "no tracked session"
    busiest = [
        (listening, s) for s in sessions for listening in s.sessions.active() if listening.clients
    ]
    if busiest:
        listening, _ = max(busiest, key=lambda pair: pair[0].clients)
        return (
            f"on {where}; viewers listen on {listening.name!r}: "
            f"session.sessions.tracked.append({listening.name!r})"
        )
    return f"on {where}, nor anywhere: show a viewer with session.view()"


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


def _fingerprint(timeline: object) -> str | None:
    """A timeline's content fingerprint, for a saved link to find it in a later kernel."""
    return timeline.fingerprint if isinstance(timeline, TimelineBase) else None


def _link_text(transition: Transition) -> str:
    return f"#{transition.id}" + (f" {transition.label}" if transition.label else "")


def _bundle(kind: str, mime: str, data: dict[str, Any], text: str, page: str) -> Bundle:
    """A link's display bundle: its widget (one model), its MIME type, plain and HTML text;
    with the widget view's metadata where a front end needs it (Colab)."""
    view, metadata = TransitionLinks(kind=kind, data=data).view()
    bundle = {**view, mime: data, "text/plain": text, "text/html": page}
    return (bundle, metadata) if metadata else bundle


def link_data(transition: Transition) -> dict[str, Any]:
    """What a link shows and sends (the ``TRANSITION_MIME`` payload)."""
    _remember(transition.timeline)
    return {
        "version": __version__,
        "timeline": transition.timeline.timeline_id,
        "fingerprint": _fingerprint(transition.timeline),
        "transition": transition.id,
        "label": transition.label,
    }


def transition_bundle(transition: Transition) -> Bundle:
    """The display bundle of one transition: a link, with plain and HTML fallbacks."""
    page = f"<code>{html.escape(_link_text(transition))}</code>"
    return _bundle("link", TRANSITION_MIME, link_data(transition), repr(transition), page)


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


def table_data(
    transitions: TransitionRange, context: Context = None, context_name: str = ""
) -> tuple[dict[str, Any], str, str]:
    """What a table of links shows and sends (the ``TRANSITIONS_MIME`` payload), with its
    plain and HTML text."""
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
        "fingerprint": _fingerprint(transitions.timeline),
        "context_name": name,
        "rows": rows,
        "hidden": hidden,
    }
    more_text = f"\n... and {hidden} more" if hidden else ""
    return data, plain + more_text, f"<table>{header}{body}</table>{more}"


def range_bundle(
    transitions: TransitionRange, context: Context = None, context_name: str = ""
) -> Bundle:
    """The display bundle of a range: a table of links with a context column, one widget
    model for the whole table."""
    data, text, page = table_data(transitions, context, context_name)
    return _bundle("table", TRANSITIONS_MIME, data, text, page)
