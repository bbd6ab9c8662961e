"""The playback controls of a :class:`~framecast.Session`: play, pause, step and the rest.

They act on the session's target when it is :class:`~framecast.targets.base.Playable`, and
each returns once the session's status traits show its effect. They are also the session's
``playback/*`` commands, which any client can run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from framecast.targets.base import Playable

__all__ = ["PlaybackControls"]


class PlaybackControls:
    """Mixed into :class:`~framecast.Session`, which provides the members below."""

    # Defined by the session; declared here for the type checker.
    target: object
    _status_changed: Callable[[], None]  # refresh the status traits and wait until they do
    _register: Callable[[str, Callable[[], None], str], None]  # add a server command
    _closed: threading.Event  # set once the session is closed
    health_check: Callable[[], None]  # re-raise a background thread's exception

    # -- the controls ------------------------------------------------------------------------
    def _check_open(self) -> None:
        """Raise ``RuntimeError`` once the session is closed: it has no target any more."""
        if self._closed.is_set():
            raise RuntimeError("the session is closed: start a new framecast.Session")

    def _playable(self) -> Playable:
        self._check_open()
        target = self.target
        if not isinstance(target, Playable):
            kind = "no target" if target is None else f"the target ({type(target).__name__})"
            raise RuntimeError(f"{kind} is not playable: it has no play/pause/step controls")
        return target

    def _control(self, action: Callable[[Playable], None]) -> None:
        action(self._playable())
        self._status_changed()

    def play(self) -> None:
        """Play the target if it is a playable object."""
        self._control(lambda t: t.play())

    def pause(self) -> None:
        """Pause the target if it is a playable object."""
        self._control(lambda t: t.pause())

    def step(self) -> None:
        """Step the target if it is a playable object."""
        self._control(lambda t: t.step())

    def restart(self) -> None:
        """Restart the target if it is a playable object."""
        self._control(lambda t: t.restart())

    def stop(self) -> None:
        """Stop the target if it is a playable object."""
        self._control(lambda t: t.stop())

    def run(self, *, block: bool = False) -> None:
        """Run the target if it is a playable object.

        Raises ``RuntimeError`` when the target is not an instance of ``Playable``. With
        ``block=True`` this returns when the target is stopped.
        """
        target = self._playable()
        if block:
            target.run(block=True)
            self._status_changed()
        else:
            self._control(lambda t: t.run())

    def step_back(self) -> None:
        """Show the previous frame of a target that has one (a trajectory)."""
        target = self._playable()
        step_back = getattr(target, "step_back", None)
        if step_back is None:
            raise RuntimeError(f"the target ({type(target).__name__}) cannot step back")
        step_back()
        self._status_changed()

    def seek(self, frame: int) -> None:
        """Pause the target and show its frame ``frame`` (a trajectory, a recorded history).

        Raises ``RuntimeError`` for a target that cannot seek, and ``IndexError`` for a
        frame it does not have.
        """
        self._check_open()
        target = self.target
        seek = getattr(target, "seek", None)
        if not callable(seek):
            raise RuntimeError(f"the target ({type(target).__name__}) cannot seek")
        if isinstance(target, Playable):
            target.pause()
        seek(frame)
        self._status_changed()

    def _register_playback_commands(self) -> None:
        commands = {
            "playback/play": (self.play, "Play the target."),
            "playback/pause": (self.pause, "Pause the target."),
            "playback/step": (self.step, "Advance the target by one frame."),
            "playback/step_back": (self.step_back, "Go back one frame (timelines)."),
            "playback/reset": (self.restart, "Restart the target from its beginning."),
            "playback/stop": (self.stop, "Stop the target's playback loop."),
        }
        for name, (callback, description) in commands.items():
            self._register(name, callback, description)

    def start_loop(self) -> None:
        """Run an infinite loop waiting for a keyboard interruption.

        This checks the health of the session every second to catch any exceptions
        occurring on one of the background threads. It also returns when the session is
        closed from another thread.
        """
        try:
            while not self._closed.wait(1.0):
                self.health_check()
        except KeyboardInterrupt:
            return
