"""The one comm per kernel that front ends use for clicks: links and control bars.

JupyterLab opens it from the page (target ``COMM_TARGET``) as soon as a link or a bar is
shown. A comm opened by the front end while the kernel is idle runs on a kernel subshell
(ipykernel 7), so its messages are handled even while another cell is busy; widget comms,
opened by the kernel, are not. Messages are ``{"request": id, "kind": ..., ...}`` and each
gets one reply echoing ``request``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["COMM_TARGET", "dispatch", "ensure_comm_target", "handler", "register_control"]

COMM_TARGET = "framecast.transitions"

Handler = Callable[[Mapping[str, Any]], dict[str, Any]]

_handlers: dict[str, Handler] = {}
_controls: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_target_ready = False
#: Comms opened by front ends in this kernel: one per page and kernel, never one per link.
comms_opened = 0


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that answers requests of ``kind``."""

    def register(function: Handler) -> Handler:
        _handlers[kind] = function
        return function

    return register


def register_control(model_id: str, controls: Any) -> None:
    """Make a control bar reachable by its widget model id (held weakly)."""
    _controls[model_id] = controls
    ensure_comm_target()


def control(model_id: str) -> Any | None:
    """The control bar with that model id, if it is alive."""
    return _controls.get(model_id)


def dispatch(data: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one request; an unknown kind or a failing handler gets an ``error`` sentence."""
    request = data.get("request")
    kind = str(data.get("kind", "publish"))
    function = _handlers.get(kind)
    if function is None:
        return {"request": request, "error": f"unknown request kind {kind!r}"}
    try:
        reply = function(data)
    except Exception as error:  # noqa: BLE001 - answered to the page, the kernel goes on
        reply = {"error": f"{type(error).__name__}: {error}"}
    return {"request": request, **reply}


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
        comm.send(dispatch(message.get("content", {}).get("data", {})))

    comm.on_msg(on_message)
