"""The kernel's request channel: one comm per page, for clicks that must work while busy.

Where the framecast JupyterLab extension runs, the page opens this comm (target
``COMM_TARGET``) as soon as a bar, a viewer or a link is shown. A comm opened by the front end
while the kernel is idle runs on a kernel subshell (ipykernel 7), so its messages are handled
even while another cell is busy; widget comms, opened by the kernel, are not. Elsewhere the
same messages come over each widget's own comm. Either way they are answered by
:func:`framecast.jupyter.requests.dispatch`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any

__all__ = ["COMM_TARGET", "ensure_comm_target", "register_widget", "widget"]

#: Named for what it carries: requests from the page (clicks, controls, acks, screenshots).
COMM_TARGET = "framecast.requests"

_widgets: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_target_ready = False
#: Comms opened by front ends in this kernel: one per page and kernel, never one per link.
comms_opened = 0


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
    # Imported here: the handlers are the widgets', which import this module.
    from .requests import dispatch

    def on_message(message: Mapping[str, Any]) -> None:
        reply = dispatch(message.get("content", {}).get("data", {}))
        if reply is not None:
            comm.send(reply)

    comm.on_msg(on_message)
