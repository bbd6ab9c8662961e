"""``SessionControls``: the notebook control bar of a ``framecast.Session``.

The widget mirrors the session's traits. The broadcaster changes them from its own thread
up to 30 times a second, so updates are merged and sent at most ``MAX_UPDATES_PER_SECOND``
times a second from a timer; a button press goes the other way, as a custom message that
calls the session's own methods (safe from any thread, including ipykernel 7 subshells).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets
from traitlets import Bool, Float, Int, Unicode

from .._version import __version__
from ..session import Session
from . import channel

__all__ = ["MAX_UPDATES_PER_SECOND", "SessionControls"]

log = logging.getLogger(__name__)

#: Widget updates per second at most: enough for a smooth readout, far below IOPub limits.
MAX_UPDATES_PER_SECOND = 10

MODULE = "framecast"

_MIRRORED = (
    "playing",
    "running",
    "frame_index",
    "clients",
    "fps",
    "error",
    "target_kind",
    "timeline",
)


class SessionControls(ipywidgets.DOMWidget):  # type: ignore[misc]
    """Play, pause, step, step back, restart and stop; a scrub slider; speed; loop mode;
    and the live status of a session."""

    _model_name = Unicode("SessionControlsModel").tag(sync=True)
    _model_module = Unicode(MODULE).tag(sync=True)
    # Any version: the view itself compares versions and explains a mismatch, instead of
    # the widget manager's generic "Error displaying widget".
    _model_module_version = Unicode("*").tag(sync=True)
    _view_name = Unicode("SessionControlsView").tag(sync=True)
    _view_module = Unicode(MODULE).tag(sync=True)
    _view_module_version = Unicode("*").tag(sync=True)

    python_version = Unicode(__version__, help="Version of the Python package.").tag(sync=True)
    name = Unicode(help="Session name.").tag(sync=True)
    address = Unicode(help="host:port clients connect to.").tag(sync=True)
    playing = Bool(False).tag(sync=True)
    running = Bool(False).tag(sync=True)
    frame_index = Int(0).tag(sync=True)
    frame_count = Int(0, help="Frames of a timeline target, 0 otherwise.").tag(sync=True)
    clients = Int(0).tag(sync=True)
    fps = Float(0.0, help="Measured broadcast rate.").tag(sync=True)
    error = Unicode("", help="Traceback of a failed background thread.").tag(sync=True)
    target_kind = Unicode("none").tag(sync=True)
    speed = Float(0.0, help="Playback rate in frames/s; 0 when not adjustable.").tag(sync=True)
    mode = Unicode("", help="loop, bounce or once; '' when not a trajectory.").tag(sync=True)
    can_step_back = Bool(False).tag(sync=True)
    timeline = Unicode(
        "", help="Timeline id of the target; a viewer's page cache of it is shared by id."
    ).tag(sync=True)
    last_action = Unicode("", help="The last action the kernel performed, for tests.").tag(
        sync=True
    )

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._lock = threading.Lock()
        # ipywidgets is not thread-safe: two concurrent hold_sync blocks can drop a state
        # message. Every update of this widget's traits goes through this lock.
        self._sync_lock = threading.RLock()
        self._pending: dict[str, Any] = {}
        self._timer: threading.Timer | None = None
        self._last_flush = 0.0
        self._closed = False
        self.name = session.name
        self.address = f"{session.address}:{session.port}"
        self._apply(self._snapshot())
        session.observe(self._on_session_change, names=list(_MIRRORED))
        self.on_msg(self._on_front_end_message)
        # Clicks come over the framecast channel (works while a cell is busy), or over the
        # widget's own comm where the page has no channel.
        channel.register_control(self.model_id, self)
        self.observe(self._on_speed, names="speed")
        self.observe(self._on_mode, names="mode")

    # -- session -> widget, throttled ---------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        session = self._session
        target = session.target
        values: dict[str, Any] = {name: getattr(session, name) for name in _MIRRORED}
        values["frame_count"] = int(getattr(target, "frame_count", 0) or 0)
        values["can_step_back"] = callable(getattr(target, "step_back", None))
        values["speed"] = float(getattr(target, "fps", 0.0) or 0.0)
        values["mode"] = str(getattr(target, "mode", "") or "")
        return values

    def _on_session_change(self, change: Mapping[str, Any]) -> None:
        with self._lock:
            self._pending.update(self._snapshot())
            if self._timer is not None or self._closed:
                return
            delay = max(0.0, self._last_flush + 1.0 / MAX_UPDATES_PER_SECOND - time.monotonic())
            self._timer = threading.Timer(delay, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            if self._closed:
                return
            pending, self._pending = self._pending, {}
            self._timer = None
            self._last_flush = time.monotonic()
        self._apply(pending)

    def _apply(self, values: Mapping[str, Any]) -> None:
        with self._sync_lock, self.hold_sync():
            for name, value in values.items():
                if getattr(self, name) != value:
                    self.set_trait(name, value)

    def _done(self, action: str) -> None:
        """Record the action the kernel performed, then show the session's new state."""
        self._apply({"last_action": action, **self._snapshot()})

    # -- widget -> session ----------------------------------------------------------------------
    def _on_front_end_message(self, widget: Any, content: Mapping[str, Any], buffers: Any) -> None:
        action = str(content.get("action", ""))
        try:
            self.perform(action, content)
        except Exception as error:  # noqa: BLE001 - shown in the bar, the kernel keeps going
            log.warning("framecast control %r failed: %s", action, error)
            self._apply({"last_action": f"{action} failed: {error}"})
            return
        self._done(action)

    def perform(self, action: str, content: Mapping[str, Any] | None = None) -> None:
        """Do what a control of the bar does: ``play``, ``pause``, ``step``, ``step_back``,
        ``restart``, ``stop`` or ``seek`` (with ``content["frame"]``)."""
        session = self._session
        simple = {
            "play": session.play,
            "pause": session.pause,
            "step": session.step,
            "step_back": session.step_back,
            "restart": session.restart,
            "stop": session.stop,
        }
        if action in simple:
            simple[action]()
        elif action == "seek":
            session.seek(int((content or {}).get("frame", 0)))
        else:
            raise ValueError(f"unknown control {action!r}")

    def _on_speed(self, change: Mapping[str, Any]) -> None:
        target = self._session.target
        if change["new"] > 0 and hasattr(target, "fps") and target.fps != change["new"]:
            target.fps = change["new"]

    def _on_mode(self, change: Mapping[str, Any]) -> None:
        target = self._session.target
        if change["new"] and hasattr(target, "mode") and target.mode != change["new"]:
            target.mode = change["new"]

    def close(self) -> None:
        """Stop mirroring the session and close the widget. Idempotent (ipywidgets also
        calls it when the widget is garbage-collected)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            timer, self._timer = self._timer, None
        self._session.unobserve(self._on_session_change, names=list(_MIRRORED))
        if timer is not None:
            timer.cancel()
        super().close()

    # Registered from inside the class: it drives a control bar's private steps.
    @staticmethod
    @channel.handler("control")
    def _from_channel(data: Mapping[str, Any]) -> dict[str, Any]:
        """A control bar's button, slider or field, sent over the framecast channel."""
        controls = channel.control(str(data.get("model_id", "")))
        if not isinstance(controls, SessionControls):
            return {"error": "this control bar is no longer alive in the kernel"}
        action = str(data.get("action", ""))
        controls.perform(action, data)
        controls._done(action)
        return {"done": action}
