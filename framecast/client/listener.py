"""``SessionListener``: a client's membership of a named session, and the events it gets."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

from framecast._support.threads import BackgroundTask
from framecast.messages import SelectionEvent, SessionEvent, TransitionEvent
from framecast.transports.base import CallError
from framecast.wire.events import decode_event

__all__ = ["SessionListener"]

log = logging.getLogger(__name__)

#: Events kept for iteration when nobody iterates; the oldest are dropped beyond this.
EVENT_BUFFER = 1024

_END = object()


class SessionListener:
    """Listens on one named session until :meth:`leave`.

    Callbacks registered with :meth:`on_transition` and :meth:`on_selection` run on the
    listener's thread; a failing callback is logged and does not stop the others. Iterating
    the listener yields every event as it arrives, until it leaves.
    """

    def __init__(
        self,
        call: Any,
        name: str,
        clients_at_join: int,
        on_transition_hook: Callable[[TransitionEvent], None] | None = None,
        *,
        on_transition: Callable[[TransitionEvent], None] | None = None,
        on_selection: Callable[[SelectionEvent], None] | None = None,
    ) -> None:
        self.name = name
        self.clients_at_join = clients_at_join
        self._call = call
        self._lock = threading.Lock()
        # Callbacks given here are in place before the first event can arrive.
        self._transition_callbacks: list[Callable[[TransitionEvent], None]] = (
            [on_transition] if on_transition is not None else []
        )
        self._selection_callbacks: list[Callable[[SelectionEvent], None]] = (
            [on_selection] if on_selection is not None else []
        )
        self._hook = on_transition_hook
        self._events: queue.Queue[object] = queue.Queue(EVENT_BUFFER)
        self._received = threading.Condition(self._lock)
        self._count = 0
        self.selected_transition: TransitionEvent | None = None
        self.selection: SelectionEvent | None = None
        self._left = False
        self._task = BackgroundTask(f"framecast-listener-{name}", lambda stop: self._consume())
        self._task.start()

    def _consume(self) -> None:
        try:
            for raw in self._call:
                event = decode_event(self.name, raw, time.time())
                if event is not None:
                    self._dispatch(event)
        except CallError as error:
            log.warning("session %r ended: %s", self.name, error)
        finally:
            self._put(_END)
            with self._received:
                self._left = True
                self._received.notify_all()

    def _put(self, item: object) -> None:
        while True:
            try:
                self._events.put_nowait(item)
                return
            except queue.Full:
                # Drop the oldest: recent events matter most.
                with contextlib.suppress(queue.Empty):
                    self._events.get_nowait()

    def _dispatch(self, event: SessionEvent) -> None:
        with self._received:
            if isinstance(event, TransitionEvent):
                self.selected_transition = event
                callbacks: list[Any] = list(self._transition_callbacks)
            else:
                self.selection = event
                callbacks = list(self._selection_callbacks)
            self._count += 1
            self._received.notify_all()
        self._put(event)
        if isinstance(event, TransitionEvent) and self._hook is not None:
            self._run(self._hook, event)
        for callback in callbacks:
            self._run(callback, event)

    @staticmethod
    def _run(callback: Callable[[Any], None], event: SessionEvent) -> None:
        try:
            callback(event)
        except Exception:  # one bad callback must not stop the listener
            log.exception("session event callback %r failed", callback)

    # -- public -------------------------------------------------------------------------------
    def on_transition(
        self, callback: Callable[[TransitionEvent], None], *, remove: bool = False
    ) -> None:
        """Call ``callback(event)`` for each published transition."""
        with self._lock:
            if remove:
                self._transition_callbacks.remove(callback)
            else:
                self._transition_callbacks.append(callback)

    def on_selection(
        self, callback: Callable[[SelectionEvent], None], *, remove: bool = False
    ) -> None:
        """Call ``callback(event)`` for each published selection."""
        with self._lock:
            if remove:
                self._selection_callbacks.remove(callback)
            else:
                self._selection_callbacks.append(callback)

    @property
    def events_received(self) -> int:
        """How many transition and selection events arrived so far."""
        with self._lock:
            return self._count

    def wait_for_events(self, count: int, *, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` events arrived; ``TimeoutError`` otherwise."""
        with self._received:
            if not self._received.wait_for(lambda: self._count >= count or self._left, timeout):
                raise TimeoutError(f"{self._count} of {count} events within {timeout:g} s")
            if self._count < count:
                raise ConnectionError(f"session {self.name!r} ended after {self._count} events")

    def next_event(self, timeout: float | None = None) -> SessionEvent:
        """The next event; ``TimeoutError`` after ``timeout`` s, ``EOFError`` once left."""
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event on {self.name!r} within {timeout:g} s") from None
        if item is _END:
            self._put(_END)  # keep the end visible to other readers
            raise EOFError(f"left session {self.name!r}")
        return item  # type: ignore[return-value]

    def __iter__(self) -> Iterator[SessionEvent]:
        """Every event as it arrives, until the listener leaves."""
        while True:
            try:
                yield self.next_event()
            except EOFError:
                return

    @property
    def active(self) -> bool:
        """True until the listener left (or the server went away)."""
        with self._lock:
            return not self._left

    def leave(self) -> None:
        """Leave the session: the server uncounts this client at once. Idempotent."""
        self._call.cancel()
        self._task.stop()

    def __enter__(self) -> SessionListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()

    def __repr__(self) -> str:
        state = "listening" if self.active else "left"
        return f"<SessionListener {self.name!r} {state}, {self.events_received} event(s)>"
