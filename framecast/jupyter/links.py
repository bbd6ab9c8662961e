"""Transition links: MIME bundles, and the one kernel comm that publishes a click.

A displayed transition is a bundle with the custom MIME type ``TRANSITION_MIME`` that the
lab extension draws as a link, plus ``text/plain`` and ``text/html`` for static views. A
click goes to the kernel over a single comm per kernel (target ``COMM_TARGET``), whatever
the number of links on the page; the kernel publishes the transition through the session
that shows its timeline and answers with how many clients received it.
"""

from __future__ import annotations

import html
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .._version import __version__
from ..session import Session, live_sessions
from ..timeline import TimelineBase, Transition, TransitionRange
from . import channel
from .channel import COMM_TARGET

__all__ = [
    "COMM_TARGET",
    "TRANSITIONS_MIME",
    "TRANSITION_MIME",
    "handle_click",
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


def handle_click(data: Mapping[str, Any]) -> dict[str, Any]:
    """Publish the transition a link names; the reply tells the link what to show.

    ``data`` is ``{"request": id, "timeline": timeline_id, "transition": n}``. The reply
    echoes ``request`` with ``received`` (clients reached) or ``error`` (a sentence).
    """
    return channel.dispatch({**data, "kind": "publish"})


@channel.handler("publish")
def _publish(data: Mapping[str, Any]) -> dict[str, Any]:
    request = data.get("request")
    timeline = _timelines.get(str(data.get("timeline", "")))
    number = data.get("transition")
    if timeline is None:
        return {"request": request, "error": "this timeline no longer exists in the kernel"}
    if isinstance(number, bool) or not isinstance(number, int):
        return {"request": request, "error": f"bad transition number {number!r}"}
    try:
        transition = timeline.transition(number)
    except IndexError as error:
        return {"request": request, "error": str(error)}
    sessions = _sessions_for(timeline)
    if not sessions:
        return {
            "request": request,
            "error": "no open framecast.Session in this kernel to publish through",
        }
    received = sum(session.sessions.publish(transition) for session in sessions)
    return {"request": request, "received": received}


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


def transition_bundle(transition: Transition) -> dict[str, Any]:
    """The display bundle of one transition: a link, with plain and HTML fallbacks."""
    _remember(transition.timeline)
    return {
        TRANSITION_MIME: {
            "version": __version__,
            "timeline": transition.timeline.timeline_id,
            "transition": transition.id,
            "label": transition.label,
        },
        "text/plain": repr(transition),
        "text/html": f"<code>{html.escape(_link_text(transition))}</code>",
    }


Context = str | Callable[[Transition], object] | None


def _context_of(context: Context, transition: Transition) -> str:
    if context is None:
        return ""
    if callable(context):
        return str(context(transition))
    value = transition.context_before().get(context)
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def range_bundle(
    transitions: TransitionRange, context: Context = None, context_name: str = ""
) -> dict[str, Any]:
    """The display bundle of a range: a table of links with a context column."""
    _remember(transitions.timeline)
    shown = transitions.ids[:MAX_TABLE_ROWS]
    rows = []
    text_rows = []
    for n in shown:
        transition = transitions.timeline.transition(n)
        value = _context_of(context, transition)
        rows.append({"transition": n, "label": transition.label, "context": value})
        text_rows.append((_link_text(transition), value))
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
    return {
        TRANSITIONS_MIME: {
            "version": __version__,
            "timeline": transitions.timeline.timeline_id,
            "context_name": name,
            "rows": rows,
            "hidden": hidden,
        },
        "text/plain": plain + (f"\n... and {hidden} more" if hidden else ""),
        "text/html": f"<table>{header}{body}</table>{more}",
    }
