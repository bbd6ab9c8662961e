"""Background threads with an explicit lifecycle.

Every long-lived thread in framecast is a :class:`BackgroundTask`: it starts once, is asked
to stop through an ``Event``, is joined with a timeout, and its outcome (including an
exception) lands in a ``concurrent.futures.Future``. ``Session.check_task`` and
``health_check`` read those futures, which is how an exception on a background thread
reaches the main thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)

__all__ = ["BackgroundTask", "OnceCallbacks", "raise_if_failed"]

#: How long ``stop`` waits for a thread by default. Loops here wake on their stop event,
#: so a healthy thread ends in microseconds; the timeout only bounds a stuck user callback.
DEFAULT_JOIN_TIMEOUT = 5.0


class BackgroundTask:
    """A daemon thread that runs ``body(stop_event)`` once.

    ``body`` must return soon after ``stop_event`` is set. Its return or exception
    completes :attr:`future`.
    """

    def __init__(self, name: str, body: Callable[[threading.Event], None]) -> None:
        self.name = name
        self.stop_event = threading.Event()
        self.future: Future[None] = Future()
        self._body = body
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._start_lock = threading.Lock()
        self._started = False

    def _main(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self._body(self.stop_event)
        except BaseException as error:  # noqa: BLE001 - handed to health_check, not lost
            self.future.set_exception(error)
        else:
            self.future.set_result(None)

    def start(self) -> None:
        """Start the thread; a second call does nothing."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        self._thread.start()

    def is_current(self) -> bool:
        """True when called on the task's own thread."""
        return self._thread is threading.current_thread()

    @property
    def is_alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def stop(self, timeout: float = DEFAULT_JOIN_TIMEOUT) -> bool:
        """Ask the thread to stop and join it. Return True when it has ended.

        Safe to call from the task's own thread (it then only sets the event).
        """
        self.stop_event.set()
        if self._thread is threading.current_thread() or not self._started:
            return not self._thread.is_alive()
        self._thread.join(timeout)
        return not self._thread.is_alive()


def raise_if_failed(future: Future[None] | None) -> None:
    """Re-raise the exception of a finished ``future``; do nothing otherwise."""
    if future is None or not future.done() or future.cancelled():
        return
    error = future.exception()
    if error is not None:
        raise error


class OnceCallbacks:
    """Callbacks to run once, when something ends (:meth:`run`); one added after that runs
    at once. A callback that raises is logged, and the others still run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self._done = False

    def add(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` at :meth:`run`, or now if that has happened."""
        with self._lock:
            if not self._done:
                self._callbacks.append(callback)
                return
        self._call(callback)

    def remove(self, callback: Callable[[], None]) -> None:
        """Forget ``callback`` if it is waiting; otherwise do nothing."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def run(self) -> None:
        """Run every waiting callback, once; later calls do nothing."""
        with self._lock:
            if self._done:
                return
            self._done = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            self._call(callback)

    @staticmethod
    def _call(callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # one failing callback must not keep the others from running
            log.exception("a callback %r failed", callback)
