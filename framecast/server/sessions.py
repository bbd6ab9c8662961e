"""Named client sessions: who listens where, and delivery of published events.

Transport-free. A listener is a latest-wins mailbox keyed by event kind, so a listener that
falls behind keeps at most one pending transition and one pending selection (the latest of
each), and the publisher never waits for it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .._names import check_name
from ..timeline import TimelineBase
from .mailbox import Mailbox, MailboxSet

__all__ = ["DEFAULT_SESSION", "EventMailbox", "SessionRegistry", "TimelineRegistry"]

#: The session viewers join when they name none, and the one tracked by default.
DEFAULT_SESSION = "default"

#: Pending events of one listener: event kind -> serialized ``SessionEvent``.
EventMailbox = Mailbox[bytes, None]


class SessionRegistry:
    """The named sessions a server knows, with their listeners. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Insertion-ordered: sessions are listed in the order the server learnt of them.
        self._listeners: dict[str, MailboxSet[bytes, None]] = {}
        self._closed = False

    def ensure(self, name: str) -> str:
        """Make ``name`` a known session (it then shows in :meth:`counts`); return it."""
        check_name(name, what="session name")
        with self._lock:
            if name not in self._listeners:
                self._listeners[name] = MailboxSet(self._lock, closed=self._closed)
        return name

    @contextmanager
    def join(self, name: str) -> Iterator[EventMailbox]:
        """Listen on session ``name`` for the duration of the ``with`` block.

        The listener is counted from entry to exit, whatever ends the block.
        """
        self.ensure(name)
        with self._listeners[name].member() as mailbox:
            yield mailbox

    def count(self, name: str) -> int:
        """How many listeners session ``name`` has now (0 if unknown)."""
        with self._lock:
            return len(self._listeners[name]) if name in self._listeners else 0

    def counts(self) -> dict[str, int]:
        """Every known session with its listener count, in the order they became known."""
        with self._lock:
            return {name: len(listeners) for name, listeners in self._listeners.items()}

    def publish(self, names: Iterable[str], kind: str, event: bytes) -> int:
        """Hand ``event`` to every listener of the sessions ``names``; return how many.

        A listener on two of the sessions is one listener of each, so it is counted, and
        receives the event, once per session it joined.
        """
        with self._lock:
            targets = [
                mailbox
                for name in dict.fromkeys(names)
                if name in self._listeners
                for mailbox in self._listeners[name].members()
            ]
        for mailbox in targets:
            mailbox.put({kind: event}, reset=False, meta=None)
        return len(targets)

    def close(self) -> None:
        """End every listener's stream."""
        with self._lock:
            self._closed = True
            sessions = list(self._listeners.values())
        for listeners in sessions:
            listeners.close()


class TimelineRegistry:
    """Timelines the server can serve contexts of, by ``timeline_id``.

    Held weakly: registering a timeline does not keep it alive.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timelines: weakref.WeakValueDictionary[str, TimelineBase] = (
            weakref.WeakValueDictionary()
        )

    def add(self, timeline: TimelineBase) -> None:
        """Make ``timeline`` findable by its id."""
        with self._lock:
            self._timelines[timeline.timeline_id] = timeline

    def get(self, timeline_id: str) -> TimelineBase | None:
        """The timeline with that id, if it is registered and alive."""
        with self._lock:
            return self._timelines.get(timeline_id)
