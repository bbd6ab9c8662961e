"""The session's background broadcaster: one thread that sends changes and owns the status.

It sleeps on an event that the shown frame sets on every write, so a change is sent as soon
as it is written, within a rate cap (see :class:`~framecast._support.pacing.Pacer`); writes in the
meantime merge in the frame's dirty set, latest wins. The producer only sets that event: it
never waits for this thread or the network.

It is also the only thread that writes a session's status traits (``playing``,
``frame_index``, ``clients``...): about ten times a second, and at once when another thread
asks through :meth:`Broadcaster.status_changed`. One writer means that observers of the
traits (notebook widgets) are called from one thread, in order, never from two at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

from framecast._support.pacing import Pacer
from framecast._support.threads import BackgroundTask

__all__ = ["STATUS_INTERVAL", "Broadcaster"]

#: Seconds over which the measured broadcast rate (``fps``) is averaged.
FPS_WINDOW = 1.0

#: Seconds between two refreshes of the status while nothing is asked: widgets need about
#: 10 Hz, and a trait only notifies when its value changes.
STATUS_INTERVAL = 0.1

#: How long :meth:`Broadcaster.status_changed` waits for the refresh it asked for. Bounded,
#: so that a thread stuck in an observer delays a control, never hangs it.
STATUS_WAIT = 2.0


class Broadcaster:
    """Runs ``send()`` when woken, at most once per ``interval``, and ``refresh()``.

    ``send()`` publishes what changed and returns True if it sent anything (that is what
    :attr:`fps` counts); ``refresh()`` copies the live status into the traits. Both run on
    the broadcaster's thread only.
    """

    def __init__(
        self, interval: float, send: Callable[[], bool], refresh: Callable[[], None]
    ) -> None:
        self._interval = interval
        self._send = send
        self._refresh = refresh
        self._wake = threading.Event()
        self._status = threading.Condition()
        self._asked = 0  # status refreshes asked for, and done, so far (under _status)
        self._done = 0
        # Written by this thread only; others read the float.
        self._sent_times: deque[float] = deque()
        self._fps = 0.0
        self._task = BackgroundTask("framecast-broadcaster", self._loop)

    @property
    def future(self) -> Future[None]:
        """Completes when the thread ends; holds its exception if it failed."""
        return self._task.future

    @property
    def fps(self) -> float:
        """Sends per second over the last second (0 once nothing was sent for a second)."""
        return self._fps

    def start(self) -> None:
        """Start the thread, and return once it has refreshed the status the first time."""
        self._task.start()
        self.status_changed()

    def wake(self) -> None:
        """Something changed: send it as soon as the rate cap allows. Never blocks."""
        self._wake.set()

    def status_changed(self) -> None:
        """Refresh the status now, on the broadcaster's thread, and wait until it has.

        Called on that thread (by an observer of a trait), it refreshes in place. When the
        thread is not running, it does nothing: it refreshes when it starts.
        """
        if self._task.is_current():
            self._refresh()
            return
        if not self._task.is_alive:
            return
        with self._status:
            self._asked += 1
            asked = self._asked
            self._status.notify_all()  # ends a rate-cap sleep
        self._wake.set()
        with self._status:
            self._status.wait_for(
                lambda: self._done >= asked or not self._task.is_alive, timeout=STATUS_WAIT
            )

    def stop(self) -> None:
        """Stop the thread and join it (bounded)."""
        self._task.stop_event.set()
        self._wake.set()
        with self._status:
            self._status.notify_all()  # ends a rate-cap sleep
        self._task.stop()
        with self._status:
            self._status.notify_all()  # nobody waits for a refresh that will not come

    # -- the thread -------------------------------------------------------------------------------
    def _loop(self, stop: threading.Event) -> None:
        pacer = Pacer(self._interval)
        next_status = 0.0
        while not stop.is_set():
            now = time.monotonic()
            with self._status:
                asked = self._asked
            if asked > self._done or now >= next_status:
                self._refresh_now(asked)
                next_status = time.monotonic() + STATUS_INTERVAL
            if self._wake.is_set():
                wait = pacer.delay(now)
                if wait > 0:
                    # The rate cap: later writes merge meanwhile; a status request ends it.
                    self._sleep(stop, min(wait, max(0.0, next_status - now)))
                    continue
                # Cleared before sending, so that a write during the send wakes us again.
                self._wake.clear()
                if self._send():
                    pacer.spend(now)
                    self._count_send()
                continue
            self._wake.wait(max(0.0, next_status - time.monotonic()))

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        """Wait out the rate cap, waking early for a status request or a stop."""
        with self._status:
            self._status.wait_for(lambda: self._asked > self._done or stop.is_set(), seconds)

    def _refresh_now(self, asked: int) -> None:
        now = time.monotonic()
        if self._sent_times and self._sent_times[-1] < now - FPS_WINDOW:
            self._sent_times.clear()
            self._fps = 0.0  # nothing changed for a while: paused or idle
        try:
            self._refresh()
        finally:
            with self._status:
                self._done = max(self._done, asked)
                self._status.notify_all()

    def _count_send(self) -> None:
        now = time.monotonic()
        self._sent_times.append(now)
        while self._sent_times[0] < now - FPS_WINDOW:
            self._sent_times.popleft()
        self._fps = len(self._sent_times) / FPS_WINDOW
