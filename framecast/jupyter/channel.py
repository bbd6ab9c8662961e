"""The kernel's request channel: one comm per page, for clicks that must work while busy.

Where the framecast JupyterLab extension runs, the page opens this comm (target
``COMM_TARGET``) as soon as a bar, a viewer or a link is shown. A comm opened by the front end
while the kernel is idle runs on a kernel subshell (ipykernel 7), so its messages are handled
even while another cell is busy; widget comms, opened by the kernel, are not. Elsewhere the
same messages come over each widget's own comm. Either way they are answered by
:func:`dispatch`, which hands them to the table of handlers that
:mod:`framecast.jupyter` installs from :mod:`framecast.jupyter.requests` on import (the handlers are
the widgets', which send through this module, so the table comes in from above).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "COMM_TARGET",
    "Dispatcher",
    "dispatch",
    "ensure_comm_target",
    "install_dispatcher",
    "register_widget",
    "widget",
]

#: Answers one request from the page: the reply, or None for a notification.
Dispatcher = Callable[[Mapping[str, Any]], "dict[str, Any] | None"]

#: Named for what it carries: requests from the page (clicks, controls, acks, screenshots).
COMM_TARGET = "framecast.requests"

_widgets: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_target_ready = False
#: Comms opened by front ends in this kernel: one per page and kernel, never one per link.
comms_opened = 0
_dispatcher: Dispatcher | None = None


def install_dispatcher(dispatcher: Dispatcher) -> None:
    """Make ``dispatcher`` answer every request from the page (done once, when
    :mod:`framecast.jupyter` is imported)."""
    global _dispatcher
    _dispatcher = dispatcher


def dispatch(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """Answer one request from the page with the installed table of handlers."""
    if _dispatcher is None:
        # Only when framecast.jupyter.channel is imported alone, without its package.
        request = data.get("request")
        error = {"error": "framecast.jupyter is not imported in this kernel"}
        return None if request is None else {"request": request, **error}
    return _dispatcher(data)


def register_widget(widget_id: str, instance: Any) -> None:
    """Make a bar or a viewer reachable by its ``_widget_id`` (held weakly)."""
    _widgets[widget_id] = instance
    ensure_comm_target()


def widget(widget_id: str) -> Any | None:
    """The bar or viewer with that ``_widget_id``, if it is alive."""
    return _widgets.get(widget_id)


def ensure_comm_target() -> None:
    """Register the comm target in this kernel, once. Outside a kernel: do nothing."""
    global _target_ready
    with _lock:
        if _target_ready:
            return
        try:
            from comm import get_comm_manager

            manager = get_comm_manager()
        except Exception:  # noqa: BLE001 - no kernel (plain Python): nothing to register
            return
        if manager is None:
            return
        manager.register_target(COMM_TARGET, _on_comm_open)
        _target_ready = True


def _on_comm_open(comm: Any, open_message: Mapping[str, Any]) -> None:
    global comms_opened
    comms_opened += 1

    def on_message(message: Mapping[str, Any]) -> None:
        reply = dispatch(message.get("content", {}).get("data", {}))
        if reply is not None:
            comm.send(reply)

    comm.on_msg(on_message)
