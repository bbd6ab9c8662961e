"""One reader's pending update, merged latest-wins per key.

A slow reader never makes the producer wait and never grows a queue: whatever it has not
taken yet is merged with the next update, key by key, so memory is bounded by the number of
keys and no key is lost (the latest value of every changed key is delivered). The server's
subscribers and the recorder's frames both wait in one.

The one mailbox module: :class:`Mailbox` (one reader), :class:`MailboxSet` (the readers of
one producer, registered and closed together, within a limit) and :func:`paced` (a reader's
updates at a client's rate).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, NamedTuple, TypeVar, cast

from framecast._support.pacing import DEFAULT_SLACK, Pacer
from framecast.errors import LimitExceededError

__all__ = ["Mailbox", "MailboxSet", "Pending", "paced"]

V = TypeVar("V")
M = TypeVar("M")


class Pending(NamedTuple, Generic[V, M]):
    """What a subscriber has to send: ``reset`` means "drop everything first".

    ``packed`` is the producer's ready-made message for exactly this update, when the
    producer supplied one and nothing was merged into it; otherwise None. ``more`` means
    this is one part of a larger update and the rest is still pending (see
    :meth:`Mailbox.take_part`).
    """

    reset: bool
    fields: dict[str, V]
    meta: M
    packed: bytes | None
    more: bool = False


class Mailbox(Generic[V, M]):
    """At most one pending update, with blocking :meth:`take` and idempotent :meth:`close`."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._fields: dict[str, V] = {}
        self._reset = False
        self._meta: M | None = None
        self._pending = False
        self._packed: bytes | None = None
        self._closed = False
        self._merged = 0

    def put(
        self, fields: Mapping[str, V], *, reset: bool, meta: M, packed: bytes | None = None
    ) -> None:
        """Merge an update into the pending one; never blocks on the subscriber.

        ``packed``, if given, is the whole update ready to send; it is kept only while
        nothing else is merged with it, so a subscriber that keeps up sends shared bytes.
        """
        with self._ready:
            if self._closed:
                return
            if reset:
                self._fields = dict(fields)
                self._reset = True
                self._packed = packed
            else:
                self._packed = None if self._pending else packed
                self._fields.update(fields)
            if self._pending:
                self._merged += 1
            self._meta = meta
            self._pending = True
            self._ready.notify_all()

    def take(self, timeout: float | None = None) -> Pending[V, M] | None:
        """Remove and return the pending update, waiting up to ``timeout`` seconds.

        Returns None on timeout or once the mailbox is closed.
        """
        with self._ready:
            if not self._ready.wait_for(lambda: self._pending or self._closed, timeout):
                return None
            return None if self._closed else self._pop()

    def take_remaining(self) -> Pending[V, M] | None:
        """The pending update, without waiting, even after :meth:`close`: what a reader
        that outlives its producer still has to write."""
        with self._ready:
            return self._pop() if self._pending else None

    def _pop(self) -> Pending[V, M]:
        """The whole pending update, leaving none (lock held, something pending)."""
        # _pending guarantees that put() stored a meta (which may itself be None).
        pending = Pending(self._reset, self._fields, cast(M, self._meta), self._packed)
        self._fields = {}
        self._reset = False
        self._pending = False
        self._packed = None
        return pending

    def take_part(self, budget: int, size: Callable[[str, V], int]) -> Pending[V, M] | None:
        """Like :meth:`take` without waiting, but at most ``budget`` (by ``size``) of it.

        Fields are taken in order until the next would pass ``budget`` (always at least
        one); the rest stays pending, where later updates still merge into it latest-wins,
        so a subscriber that sends a large update in parts holds one part at a time, and
        the values left pending are always the latest. Returns None when nothing is pending.
        """
        with self._ready:
            if not self._pending or self._closed:
                return None
            taken: dict[str, V] = {}
            used = 0
            for key, value in self._fields.items():
                cost = size(key, value)
                if taken and used + cost > budget:
                    break
                taken[key] = value
                used += cost
            if len(taken) == len(self._fields):
                pending = Pending(self._reset, self._fields, cast(M, self._meta), self._packed)
                self._fields = {}
                self._pending = False
            else:
                pending = Pending(self._reset, taken, cast(M, self._meta), None, more=True)
                for key in taken:
                    del self._fields[key]
            self._reset = False
            self._packed = None
            return pending

    def wait_pending(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for an update; False on timeout or once closed."""
        with self._ready:
            self._ready.wait_for(lambda: self._pending or self._closed, timeout)
            return self._pending and not self._closed

    def wait_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`close`; return True if closed."""
        with self._ready:
            return self._ready.wait_for(lambda: self._closed, timeout)

    def close(self) -> None:
        """Wake any waiter; later puts are dropped and takes return None."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def merged(self) -> int:
        """Updates merged into one not taken yet, so far: how far the reader fell behind."""
        return self._merged


class MailboxSet(Generic[V, M]):
    """The subscribers of one producer: mailboxes registered, and closed, together.

    It uses the producer's own lock, so that a new member's initial snapshot and its
    registration are one step relative to the producer's updates: no update can fall
    between them. Methods marked "lock held" expect the caller to hold that lock.
    """

    def __init__(self, lock: threading.Lock, *, closed: bool = False) -> None:
        self._lock = lock
        self._members: set[Mailbox[V, M]] = set()
        self._closed = closed

    @contextmanager
    def member(
        self,
        initial: Callable[[], tuple[Mapping[str, V], M]] | None = None,
        *,
        limit: int | None = None,
        counted: Callable[[], int] | None = None,
        what: str = "subscribers",
        mailbox: Mailbox[V, M] | None = None,
    ) -> Iterator[Mailbox[V, M]]:
        """A mailbox registered for the ``with`` block, first filled by ``initial()``.

        After :meth:`close` the mailbox is closed from the start. With ``limit``, raises
        :class:`~framecast.errors.LimitExceededError` (naming ``what``) when that
        many members are registered already (or ``counted()``, called with the lock held,
        says that many are, to share one limit among sets). ``mailbox``, if given, is the
        one registered (a reader that waits on a mailbox of its own).
        """
        mailbox = Mailbox() if mailbox is None else mailbox
        with self._lock:
            count = len(self._members) if counted is None else counted()
            if limit is not None and not self._closed and count >= limit:
                raise LimitExceededError(f"this server already has {limit} {what}")
            if self._closed:
                mailbox.close()
            else:
                if initial is not None:
                    fields, meta = initial()
                    mailbox.put(fields, reset=True, meta=meta)
                self._members.add(mailbox)
        try:
            yield mailbox
        finally:
            with self._lock:
                self._members.discard(mailbox)
            mailbox.close()

    def members(self) -> list[Mailbox[V, M]]:
        """The registered mailboxes (lock held)."""
        return list(self._members)

    def __len__(self) -> int:
        """How many mailboxes are registered (lock held)."""
        return len(self._members)

    def close(self) -> None:
        """Close every mailbox; later members start closed."""
        with self._lock:
            self._closed = True
            members = list(self._members)
        for mailbox in members:
            mailbox.close()


def paced(mailbox: Mailbox[V, M], interval: float) -> Iterator[Pending[V, M]]:
    """The updates of ``mailbox`` as a stream to one client should send them: each the
    latest merge of what arrived, at most one per ``interval`` seconds in the long run
    (see :class:`~framecast._support.pacing.Pacer`), until the mailbox is closed.

    A producer that ticks at exactly the client's interval (a 30 Hz session to a client
    asking for 1/30 s) must not meet a wait at every update: a wait would phase-lock the
    stream to wherever the first send fell, a constant extra latency of up to one interval.
    So the first update (the snapshot a subscriber starts with) costs no token, a send is
    charged at the time its update arrived, and an update up to a quarter of an interval
    early goes at once (the pacer's ``tolerance``).
    """
    pacer = Pacer(interval, tolerance=DEFAULT_SLACK)
    first = True
    while mailbox.wait_pending():
        arrived = time.monotonic()
        wait = pacer.delay(arrived)
        if wait > 0:
            if mailbox.wait_closed(wait):
                return
            arrived += wait
        pending = mailbox.take(timeout=0)
        if pending is None:
            if mailbox.closed:
                return
            continue
        if not first:
            pacer.spend(arrived)
        first = False
        yield pending
