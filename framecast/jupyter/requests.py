"""What the page asks of the kernel, and the one table of handlers that answers.

A request is a dict with a ``kind`` (see :mod:`framecast.jupyter.messages`). One with a
``request`` id gets one reply echoing it: what the handler returned, or an ``error``
sentence. One without (acks, screenshots) is a notification and gets none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from framecast.jupyter.controls import control_request
from framecast.jupyter.links import publish_request
from framecast.jupyter.plot import plot_request
from framecast.jupyter.pulling import pull_request
from framecast.jupyter.screenshots import screenshot_request
from framecast.jupyter.viewer import ack_request

__all__ = ["HANDLERS", "dispatch"]

log = logging.getLogger(__name__)

#: ``kind`` -> handler; a handler returns the reply's content (None for a notification).
HANDLERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "publish": publish_request,
    "control": control_request,
    "ack": ack_request,
    "screenshot": screenshot_request,
    "pull": pull_request,
    "plot": plot_request,
}


def dispatch(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Answer one request, or handle one notification (then return None).

    An unknown kind or a failing handler is answered with an ``error`` sentence; the kernel
    goes on.
    """
    request = data.get("request")
    kind = str(data.get("kind", ""))
    handler = HANDLERS.get(kind)
    reply: dict[str, Any] | None
    if handler is None:
        reply = {"error": f"unknown request kind {kind!r}"}
    else:
        try:
            reply = handler(data)
        except Exception as error:  # noqa: BLE001 - answered to the page, the kernel goes on
            reply = {"error": f"{type(error).__name__}: {error}"}
    if request is None:
        if reply and "error" in reply:
            log.warning("framecast: a %r notification failed: %s", kind, reply["error"])
        return None
    return {"request": request, **(reply or {})}
