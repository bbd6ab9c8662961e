"""The subscribers of one producer: a set of latest-wins mailboxes (see
:mod:`framecast._support.mailbox`), registered and closed together, within the server's limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypeVar

from framecast._support.mailbox import Mailbox, Pending
from framecast._support.pacing import DEFAULT_SLACK, Pacer
from framecast.core.limits import LimitExceededError

__all__ = ["Mailbox", "MailboxSet", "Pending", "paced"]

V = TypeVar("V")
M = TypeVar("M")


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
        :class:`~framecast.core.limits.LimitExceededError` (naming ``what``) when that
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
