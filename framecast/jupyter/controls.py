"""``SessionControls``: the notebook control bar of a ``framecast.Session``.

An anywidget (its front end is ``framecast/static/controls.js``), so it draws in every front
end that runs anywidget. It mirrors the session's traits. The broadcaster changes them from
its own thread up to 30 times a second, so updates are merged and sent at most
``MAX_UPDATES_PER_SECOND`` times a second from a timer; a button press goes the other way, as
a ``control`` request that calls the session's own methods (safe from any thread, including
ipykernel 7 subshells). Once the session is closed the bar says so and disables itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from traitlets import Bool, Float, Int, Unicode

from framecast.jupyter import channel
from framecast.jupyter.widget import STATIC, FramecastWidget
from framecast.session.session import Session
from framecast.targets.base import Playable

__all__ = ["MAX_UPDATES_PER_SECOND", "SessionControls", "control_request"]

log = logging.getLogger(__name__)

#: Widget updates per second at most: enough for a smooth readout, far below IOPub limits.
MAX_UPDATES_PER_SECOND = 10

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


class SessionControls(FramecastWidget):
    """Play, pause, step, step back, restart and stop; a scrub slider; speed; loop mode;
    and the live status of a session."""

    _esm = STATIC / "controls.js"

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
    playable = Bool(
        False, help="False for a target whose play controls cannot act: a frame, one frame."
    ).tag(sync=True)
    timeline = Unicode(
        "", help="Timeline id of the target; a viewer's page cache of it is shared by id."
    ).tag(sync=True)
    last_action = Unicode("", help="The last action the kernel performed, for tests.").tag(
        sync=True
    )
    closed = Bool(False, help="True once the session is closed.").tag(sync=True)
    state = Unicode(
        "", help="What the bar says of playback: playing, paused, stopped, or one frame."
    ).tag(sync=True)

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._lock = threading.Lock()
        # ipywidgets is not thread-safe: two concurrent hold_sync blocks can drop a state
        # message. Every update of this widget's traits goes through this lock.
        self._sync_lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._last_flush = 0.0
        self._closed = False
        self.name = session.name
        self.address = f"{session.address}:{session.port}"
        self._apply(self._snapshot())
        session.observe(self._on_session_change, names=list(_MIRRORED))
        session.on_close(self._session_closed)
        self.observe(self._on_speed, names="speed")
        self.observe(self._on_mode, names="mode")

    # -- session -> widget, throttled ---------------------------------------------------------
    def _fallback(self) -> str:
        return f"the control bar of session {self.name!r} at {self.address}"

    def _session_closed(self) -> None:
        self._apply({"closed": True, "playing": False, "running": False})

    def _snapshot(self) -> dict[str, Any]:
        session = self._session
        target = session.target
        values: dict[str, Any] = {name: getattr(session, name) for name in _MIRRORED}
        values["frame_count"] = int(getattr(target, "frame_count", 0) or 0)
        values["playable"] = isinstance(target, Playable) and values["frame_count"] != 1
        # A control that cannot act is not drawn: a live engine steps back only through
        # the frames it keeps.
        values["can_step_back"] = (
            values["playable"]
            and callable(getattr(target, "step_back", None))
            and bool(getattr(target, "can_step_back", True))
        )
        values["speed"] = float(getattr(target, "fps", 0.0) or 0.0)
        values["mode"] = str(getattr(target, "mode", "") or "")
        values["state"] = _state(session)
        return values

    def _on_session_change(self, change: Mapping[str, Any]) -> None:
        with self._lock:
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
            self._timer = None
            self._last_flush = time.monotonic()
        # The state now, not at the change that armed the timer: a control done since
        # must not be undone by an older snapshot.
        self._apply(self._snapshot())

    def _apply(self, values: Mapping[str, Any]) -> None:
        with self._sync_lock, self.hold_sync():
            for name, value in values.items():
                if getattr(self, name) != value:
                    self.set_trait(name, value)

    def _done(self, action: str) -> None:
        """Record the action the kernel performed, then show the session's new state."""
        self._apply({"last_action": action, **self._snapshot()})

    # -- widget -> session ----------------------------------------------------------------------
    @property
    def controlled_session(self) -> Session:
        return self._session

    def handle(self, action: str, content: Mapping[str, Any] | None = None) -> None:
        """Do a control the page sent, then show the session's new state; a failure is
        recorded in ``last_action`` and raised, for the page to show."""
        try:
            perform(self._session, action, content)
        except Exception as error:
            log.warning("framecast control %r failed: %s", action, error)
            self._apply({"last_action": f"{action} failed: {error}"})
            raise
        self._done(action)

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
        self._session.on_close(self._session_closed, remove=True)
        if timer is not None:
            timer.cancel()
        super().close()


def _state(session: Session) -> str:
    """``playing``; ``stopped`` after a stop; ``paused`` for a playable target waiting for
    play (also one never started: ``autoplay=False``); ``one frame`` for a frame."""
    target = session.target
    if not isinstance(target, Playable) or getattr(target, "frame_count", 0) == 1:
        return "one frame" if target is not None else "no target"
    if target.is_playing:
        return "playing"
    return "stopped" if getattr(target, "is_stopped", False) else "paused"


#: Actions that leave the session paused on one frame: given the frame the page shows after
#: the action (``content["frame"]``), the session goes to that frame. The page's clock and
#: the kernel's differ by a few frames, and the frame kept is the one the user saw.
_SETTLING = ("pause", "step", "step_back")


def perform(session: Session, action: str, content: Mapping[str, Any] | None = None) -> None:
    """Do what a play control does: ``play``, ``pause``, ``step``, ``step_back``,
    ``restart``, ``stop``, ``seek`` (to ``content["frame"]``) or ``speed`` (to
    ``content["fps"]``). ``pause`` and the steps go to ``content["frame"]`` when given."""
    if session.closed:
        raise RuntimeError("the session is closed: start a new framecast.Session")
    content = content or {}
    frame = content.get("frame")
    simple = {
        "play": session.play,
        "pause": session.pause,
        "step": session.step,
        "step_back": session.step_back,
        "restart": session.restart,
        "stop": session.stop,
    }
    if action == "seek" or (action in _SETTLING and frame is not None):
        if isinstance(frame, bool) or not isinstance(frame, int):
            raise ValueError(f"{action} needs a whole frame number, got {frame!r}")
        session.seek(frame)
    elif action in simple:
        simple[action]()
    elif action == "speed":
        fps = content.get("fps")
        target = session.target
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
            raise ValueError(f"speed needs frames per second > 0, got {fps!r}")
        if not hasattr(target, "fps"):
            raise RuntimeError(f"the speed of a {session.target_kind} cannot be set")
        target.fps = float(fps)
    else:
        raise ValueError(f"unknown control {action!r}")


def control_request(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``control`` handler: a button, slider or field of a bar or of a viewer's play
    bar. The reply says where the session is after the action (``frame``, ``playing``), for
    the page's playhead to agree with it."""
    widget = channel.widget(str(data.get("widget", "")))
    session = widget.controlled_session if isinstance(widget, FramecastWidget) else None
    if session is None:
        return {"error": "these controls no longer drive a session of this kernel"}
    action = str(data.get("action", ""))
    if isinstance(widget, SessionControls):
        widget.handle(action, data)
    else:
        perform(session, action, data)
    return {"done": action, "frame": session.frame_index, "playing": session.playing}
