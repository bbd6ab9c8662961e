"""The protocols a target can implement, and the shared playback loop.

A *frame source* has a ``frame`` (a :class:`~framecast.frame.FrameData`) that the session's
broadcaster reads. A *playable* can be played, paused, stepped, restarted, run and stopped.
:class:`Player` implements the playable half once, for trajectories and simulations alike:
subclasses only say how to advance one frame and how to go back to the start.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

from framecast._support.threads import BackgroundTask, raise_if_failed
from framecast.frame import FrameData

__all__ = ["FrameSource", "Playable", "Player", "frame_of"]


@runtime_checkable
class FrameSource(Protocol):
    """Anything with a ``frame`` that a session can broadcast."""

    @property
    def frame(self) -> FrameData: ...


@runtime_checkable
class Playable(Protocol):
    """Anything a session can play, pause, step, restart, run and stop."""

    def play(self) -> None: ...
    def pause(self) -> None: ...
    def step(self) -> None: ...
    def restart(self) -> None: ...
    def run(self, *, block: bool = False) -> None: ...
    def stop(self) -> None: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def is_playing(self) -> bool: ...


class Player:
    """Plays a target by calling :meth:`_advance` every ``interval`` seconds.

    The loop runs on its own thread (``run()``) or on the caller's (``run(block=True)``),
    keeps an absolute schedule so it does not drift, and sleeps on a condition variable,
    so pause, play and stop take effect at once. An exception raised while advancing stops
    the loop and is re-raised by :meth:`health_check`.
    """

    def __init__(self, *, interval: float, name: str) -> None:
        if not interval >= 0:
            raise ValueError(f"interval must be a number >= 0, got {interval!r}")
        self._interval = float(interval)
        self._name = name
        self._state = threading.Condition()
        self._advance_lock = threading.RLock()
        self._playing = False
        self._task: BackgroundTask | None = None
        self._blocking_thread: threading.Thread | None = None
        self._stop_requested = threading.Event()

    # -- to implement -----------------------------------------------------------------------------
    def _advance(self) -> None:
        """Move one frame forward. Called with the advance lock held."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _rewind(self) -> None:
        """Go back to the initial state. Called with the advance lock held."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _next_interval(self) -> float:
        """Seconds from this frame to the next while playing: :attr:`interval`, unless a
        target paces its frames itself (a replay keeps the recorded gaps)."""
        return self._interval

    # -- Playable ---------------------------------------------------------------------------------
    @property
    def interval(self) -> float:
        """Seconds between two frames while playing (0: as fast as possible)."""
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"interval must be a number >= 0, got {value!r}")
        with self._state:
            self._interval = float(value)
            self._state.notify_all()

    @property
    def is_running(self) -> bool:
        """True while the playback loop exists, playing or paused."""
        task = self._task
        return (task is not None and task.is_alive) or self._blocking_thread is not None

    @property
    def is_playing(self) -> bool:
        """True while the loop runs and advances frames."""
        return self._playing and self.is_running

    @property
    def is_stopped(self) -> bool:
        """True after :meth:`stop`, until the next :meth:`run` (a target never run is not
        stopped: it waits, paused, for play)."""
        return self._stop_requested.is_set()

    def run(self, *, block: bool = False) -> None:
        """Start the playback loop and play.

        With ``block=True`` the loop runs on the calling thread until :meth:`stop` is
        called from another thread (or the loop fails, which then raises here).
        """
        with self._state:
            if self.is_running:
                self._playing = True
                self._state.notify_all()
                return
            self._playing = True
            self._stop_requested.clear()
            if block:
                self._blocking_thread = threading.current_thread()
            else:
                self._task = BackgroundTask(self._name, self._loop)
                self._task.start()
                return
        try:
            self._loop(self._stop_requested)
        finally:
            with self._state:
                self._blocking_thread = None
                self._playing = False

    def play(self) -> None:
        """Play: start the loop if needed, or resume it."""
        self.run()

    def pause(self) -> None:
        """Stop advancing; the loop stays alive and :meth:`play` resumes.

        A frame being advanced when this is called completes before it returns, so nothing
        changes after a pause (the lock is re-entrant: the loop's own thread may pause).
        """
        with self._state:
            self._playing = False
            self._state.notify_all()
        with self._advance_lock:
            pass

    def step(self) -> None:
        """Pause, then advance exactly one frame on the calling thread."""
        self.pause()
        with self._advance_lock:
            self._advance()

    def restart(self) -> None:
        """Go back to the initial state; playing stays playing."""
        with self._advance_lock:
            self._rewind()

    def stop(self) -> None:
        """End the playback loop and wait for it. Idempotent."""
        with self._state:
            self._playing = False
            self._stop_requested.set()
            task = self._task
            if task is not None:
                task.stop_event.set()
            self._state.notify_all()
        if task is not None:
            task.stop()

    def health_check(self) -> None:
        """Re-raise an exception that ended the playback loop, if any."""
        task = self._task
        raise_if_failed(None if task is None else task.future)

    @property
    def task(self) -> BackgroundTask | None:
        """The background task of the last non-blocking :meth:`run`, if any."""
        return self._task

    # -- the loop ---------------------------------------------------------------------------------
    def _loop(self, stop: threading.Event) -> None:
        deadline = time.monotonic()
        while not stop.is_set():
            with self._state:
                while not self._playing and not stop.is_set():
                    self._state.wait()
                    deadline = time.monotonic()
                if stop.is_set():
                    return
            try:
                with self._advance_lock:
                    self._advance()
            except BaseException:
                with self._state:
                    self._playing = False
                raise
            interval = self._next_interval()
            deadline += interval
            now = time.monotonic()
            if deadline < now - interval:
                # Far behind (a slow step, or the machine was busy): skip the missed
                # frames instead of advancing in a burst.
                deadline = now
            with self._state:
                remaining = deadline - time.monotonic()
                if remaining > 0 and self._playing and not stop.is_set():
                    self._state.wait(remaining)


def frame_of(target: object) -> FrameData:
    """The frame a target shows: itself, or its ``frame``; ``TypeError`` for anything else."""
    if isinstance(target, FrameData):
        return target
    if isinstance(target, FrameSource):
        frame = target.frame
        if isinstance(frame, FrameData):
            return frame
    raise TypeError(
        f"cannot show {type(target).__name__}: a target is a FrameData, a Trajectory, a "
        "Simulation, or an object with a `frame` attribute that is a FrameData"
    )
