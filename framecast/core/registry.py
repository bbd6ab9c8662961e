"""Named client sessions: who listens where, and delivery of published events.

Transport-free. A listener is a latest-wins mailbox keyed by event kind, so a listener that
falls behind keeps at most one pending transition and one pending selection (the latest of
each), and the publisher never waits for it.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from framecast._support.mailbox import Mailbox, MailboxSet
from framecast._support.names import check_name
from framecast._support.taps import Taps
from framecast.core.limits import DEFAULT_LIMITS, LimitExceededError, Limits
from framecast.timeline import TimelineBase

__all__ = ["DEFAULT_SESSION", "EventMailbox", "SessionRegistry", "TimelineRegistry"]

#: The session viewers join when they name none, and the one tracked by default.
DEFAULT_SESSION = "default"

#: Pending events of one listener: event kind -> serialized ``SessionEvent``.
EventMailbox = Mailbox[bytes, None]


class SessionRegistry:
    """The named sessions a server knows, with their listeners. Thread-safe.

    Names are of two kinds. *Pinned* names are the ones the server's Python uses
    (tracked, published to, looked up): they are never refused and never forgotten.
    Other names exist because a client joined them; once such a name has no listener it
    may be forgotten, least recently used first, to make room for a new name, so that
    clients cannot use up ``Limits.max_sessions``.
    """

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self._lock = threading.Lock()
        self._limits = limits
        # Insertion-ordered: sessions are listed in the order the server learnt of them.
        self._listeners: dict[str, MailboxSet[bytes, None]] = {}
        # Every known name, least recently joined or left first: the order of forgetting.
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._pinned: set[str] = set()
        self._joining: Counter[str] = Counter()
        self._closed = False
        #: Called with (session names, serialized event) for every published event.
        self.taps: Taps[[list[str], bytes]] = Taps()

    def ensure(self, name: str, *, pinned: bool = False) -> str:
        """Make ``name`` a known session (it then shows in :meth:`counts`); return it.

        When the server knows ``Limits.max_sessions`` names already, the least recently
        used name with no listener and not pinned is forgotten to make room. If there is
        none, a ``pinned`` name (one the server's Python uses: kept for good) is added all
        the same, and any other raises
        :class:`~framecast.core.limits.LimitExceededError`.
        """
        check_name(name, what="session name", max_length=self._limits.max_name_length)
        with self._lock:
            self._ensure(name, pinned)
        return name

    def _ensure(self, name: str, pinned: bool) -> MailboxSet[bytes, None]:
        """:meth:`ensure` with the lock held; returns the name's listeners."""
        if pinned:
            self._pinned.add(name)
        listeners = self._listeners.get(name)
        if listeners is None:
            full = len(self._listeners) >= self._limits.max_sessions
            # A pinned name makes room if it can, and is added past the limit if it cannot.
            if full and not self._forget_one() and not pinned:
                raise LimitExceededError(
                    f"this server knows {self._limits.max_sessions} sessions already "
                    "(Limits.max_sessions), each with a listener or in use by the "
                    "server; join one of them"
                )
            listeners = self._listeners[name] = MailboxSet(self._lock, closed=self._closed)
        self._recent[name] = None
        self._recent.move_to_end(name)
        return listeners

    def _forget_one(self) -> bool:
        """Forget the least recently used idle name that is not pinned (lock held); False
        if every name is in use."""
        for name in self._recent:
            busy = len(self._listeners[name]) or self._joining[name]
            if name not in self._pinned and not busy:
                del self._recent[name]
                del self._listeners[name]
                return True
        return False

    @contextmanager
    def join(self, name: str, *, pinned: bool = False) -> Iterator[EventMailbox]:
        """Listen on session ``name`` for the duration of the ``with`` block.

        ``pinned``: the listener is the server's own Python (an in-process viewer), so the
        name is kept and never refused (see :meth:`ensure`).

        The listener is counted from entry to exit, whatever ends the block. Raises
        :class:`~framecast.core.limits.LimitExceededError` when the server has
        ``Limits.max_session_listeners`` listeners already, over every session, or when
        ``name`` is new and no name can be forgotten to make room for it.
        """
        check_name(name, what="session name", max_length=self._limits.max_name_length)
        # The total is read outside the member's own check, so two joins racing at the
        # limit may both pass; the thread pool's own cap still bounds them.
        with self._lock:
            total = sum(len(members) for members in self._listeners.values())
        if total >= self._limits.max_session_listeners:
            raise LimitExceededError(
                f"this server has {self._limits.max_session_listeners} session listeners "
                "already (Limits.max_session_listeners)"
            )
        with self._lock:
            listeners = self._ensure(name, pinned)
            # Counted as busy until it leaves, so that it cannot be forgotten between
            # here and the listener's registration.
            self._joining[name] += 1
        try:
            with listeners.member() as mailbox:
                yield mailbox
        finally:
            with self._lock:
                self._joining[name] -= 1
                if not self._joining[name]:
                    del self._joining[name]
                if name in self._recent:
                    self._recent.move_to_end(name)

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
        if self.taps:
            self.taps(list(dict.fromkeys(names)), event)
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
