"""The frame publisher: encode each update once, hand it to every subscriber.

Two kinds of subscriber share one latest-wins mailbox design: network streams get
ready-to-join encoded entries (:meth:`FramePublisher.subscribe`), and readers in this
process get the frozen arrays themselves (:meth:`FramePublisher.watch`), so that a viewer
in the session's own kernel never encodes or parses a frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import NamedTuple, Protocol

from framecast._support.mailbox import Mailbox, MailboxSet, Pending
from framecast.frame import FieldValue, FrameChanges, FrameUpdate
from framecast.wire.codec import EntryParts, assemble_update, encode_entry_parts

__all__ = [
    "ChannelMeta",
    "ChannelSubscription",
    "FrameCodec",
    "FrameMeta",
    "FramePublisher",
    "FrameSubscription",
    "FrameWatch",
]


class FrameMeta(NamedTuple):
    """The header of the latest update merged into a pending one.

    ``publish_time`` is wall-clock, sent to clients for latency.
    """

    frame_index: int
    publish_time: float


#: A network subscriber's mailbox: encoded entries, sent by joining them.
FrameSubscription = Mailbox[EntryParts, FrameMeta]
#: An in-process reader's mailbox: the published values themselves (frozen arrays).
FrameWatch = Mailbox[FieldValue, FrameMeta]


_WHAT = "frame subscribers (Limits.max_frame_subscribers)"


class ChannelMeta(NamedTuple):
    """The header of a channel's update: ``sequence`` is 0 at a reset and counts the
    updates since (so a delta's is never 0)."""

    sequence: int
    frame_index: int
    publish_time: float


class FrameCodec(Protocol):
    """Another encoding of the same frames, for another front door (NanoVer's)."""

    def entry(self, key: str, value: FieldValue) -> bytes:
        """One field, encoded once for every subscriber of the channel."""

    def message(self, meta: ChannelMeta, reset: bool, entries: Mapping[str, bytes]) -> bytes:
        """A whole update from encoded fields (key to entry), by joining them."""


#: A channel subscriber's mailbox: the channel's encoded fields.
ChannelSubscription = Mailbox[bytes, ChannelMeta]


class _Channel:
    """A codec's copy of the current frame, and its subscribers (all under the
    publisher's locks). With no subscriber it holds nothing and encodes nothing."""

    def __init__(self, codec: FrameCodec, lock: threading.Lock) -> None:
        self.codec = codec
        self.entries: dict[str, bytes] = {}
        self.fresh = False  # entries mirror the current frame
        self.sequence = 0
        self.members: MailboxSet[bytes, ChannelMeta] = MailboxSet(lock)


class FramePublisher:
    """Keeps the current frame encoded, and a latest-wins mailbox per subscriber.

    Fields are encoded once per update, whatever the number of subscribers, and stored as
    ready-to-join map entries (see :mod:`framecast.wire.codec`). A new subscriber's mailbox
    starts with the whole current frame marked as a reset.
    """

    def __init__(self, *, max_subscribers: int | None = None) -> None:
        self._max_subscribers = max_subscribers
        # Serialises publishers, so that a reset from show() and a delta from the
        # broadcaster reach every mailbox in the same order.
        self._publish_lock = threading.Lock()
        self._lock = threading.Lock()
        self._entries: dict[str, EntryParts] = {}
        # The same fields as values: frozen arrays that the entries hold views of anyway,
        # so keeping them costs references, not memory.
        self._values: dict[str, FieldValue] = {}
        self._meta = FrameMeta(0, time.time())
        self._subscribers: MailboxSet[EntryParts, FrameMeta] = MailboxSet(self._lock)
        self._watchers: MailboxSet[FieldValue, FrameMeta] = MailboxSet(self._lock)
        self._channels: dict[str, _Channel] = {}

    def publish(self, changes: FrameChanges) -> None:
        """Send a change set to every subscriber (a reset replaces the whole frame)."""
        with self._publish_lock:
            entries = {key: encode_entry_parts(key, value) for key, value in changes.fields.items()}
            meta = FrameMeta(changes.frame_index, time.time())
            # Channels with subscribers encode the change too, once for all of them.
            fields = changes.fields
            coded = {
                name: {key: channel.codec.entry(key, value) for key, value in fields.items()}
                for name, channel in self._channels.items()
                if channel.fresh
            }
            with self._lock:
                sends = self._update_channels(coded, changes.reset, meta)
                if changes.reset:
                    self._entries = entries
                    self._values = dict(changes.fields)
                else:
                    self._entries.update(entries)
                    self._values.update(changes.fields)
                self._meta = meta
                mailboxes = self._subscribers.members()
                watchers = self._watchers.members()
            for watcher in watchers:
                watcher.put(changes.fields, reset=changes.reset, meta=meta)
            # Built once and shared by every subscriber that is keeping up.
            packed = (
                assemble_update(
                    meta.frame_index, changes.reset, meta.publish_time, entries.values()
                )
                if mailboxes
                else None
            )
            for mailbox in mailboxes:
                mailbox.put(entries, reset=changes.reset, meta=meta, packed=packed)
            for channel, coded_entries, head, members in sends:
                message = channel.codec.message(head, changes.reset, coded_entries)
                for member in members:
                    member.put(coded_entries, reset=changes.reset, meta=head, packed=message)
        if mailboxes or sends:
            # Give up the CPU once, so that the send threads get the GIL and the mailbox
            # locks. A producer publishing in a tight loop otherwise starves them: each
            # gRPC send needs the GIL several times, and waits for the 5 ms switch interval
            # each time. Measured flat out at 10k particles x 8 clients: 38 -> ~1000
            # frames/s per client. Yielding only when a sender was waiting, or through a
            # zero select(), did not help. sleep(0) costs ~80 us (the kernel's timer slack),
            # nothing at 30 Hz.
            time.sleep(0)

    def _update_channels(
        self, coded: dict[str, dict[str, bytes]], reset: bool, meta: FrameMeta
    ) -> list[tuple[_Channel, dict[str, bytes], ChannelMeta, list[ChannelSubscription]]]:
        """Merge each channel's encoded change (lock held); what to hand its subscribers.
        A channel left without subscribers drops its copy of the frame."""
        sends = []
        for name, channel in self._channels.items():
            if not len(channel.members):
                channel.fresh, channel.entries = False, {}
                continue
            entries = coded.get(name)
            if entries is None:
                continue
            if reset:
                channel.entries, channel.sequence = dict(entries), 0
            else:
                channel.entries.update(entries)
                channel.sequence += 1
            channel_meta = ChannelMeta(channel.sequence, meta.frame_index, meta.publish_time)
            sends.append((channel, entries, channel_meta, channel.members.members()))
        return sends

    @contextmanager
    def subscribe_channel(self, name: str, codec: FrameCodec) -> Iterator[ChannelSubscription]:
        """Register a subscriber of channel ``name`` (frames encoded by ``codec``) for the
        ``with`` block; it starts with the whole current frame as a reset. The first
        subscriber of a channel encodes the current frame once.

        Raises :class:`~framecast.core.limits.LimitExceededError` past ``max_subscribers``
        (counted together with :meth:`subscribe`'s).
        """
        with ExitStack() as stack:
            with self._publish_lock:
                with self._lock:
                    channel = self._channels.setdefault(name, _Channel(codec, self._lock))
                    values = dict(self._values)
                if not channel.fresh:
                    # Under the publish lock: no change falls between this and registration.
                    channel.entries = {key: codec.entry(key, v) for key, v in values.items()}
                    channel.fresh = True

                def initial() -> tuple[dict[str, bytes], ChannelMeta]:
                    meta = self._meta
                    head = ChannelMeta(channel.sequence, meta.frame_index, meta.publish_time)
                    return channel.entries, head

                mailbox = stack.enter_context(
                    channel.members.member(
                        initial,
                        limit=self._max_subscribers,
                        counted=self._count_locked,
                        what=_WHAT,
                    )
                )
            yield mailbox

    def _count_locked(self) -> int:
        """Network subscribers of every encoding (lock held)."""
        return len(self._subscribers) + sum(len(c.members) for c in self._channels.values())

    @contextmanager
    def subscribe(self) -> Iterator[FrameSubscription]:
        """Register a subscriber for the duration of the ``with`` block.

        Raises :class:`~framecast.core.limits.LimitExceededError` when
        ``max_subscribers`` are registered already.
        """
        with self._subscribers.member(
            lambda: (self._entries, self._meta),
            limit=self._max_subscribers,
            counted=self._count_locked,
            what=_WHAT,
        ) as mailbox:
            yield mailbox

    @contextmanager
    def watch(self, mailbox: FrameWatch | None = None) -> Iterator[FrameWatch]:
        """Register an in-process reader for the ``with`` block: its mailbox (``mailbox``,
        or a new one) gets the published values themselves (frozen, so sharing them is
        safe), merged latest-wins, starting with the whole current frame as a reset.

        Nothing is encoded for it, and it is not a network client: it is neither counted
        in :attr:`subscriber_count` nor held to ``max_subscribers``.
        """
        with self._watchers.member(lambda: (self._values, self._meta), mailbox=mailbox) as watch:
            yield watch

    @staticmethod
    def update(pending: Pending[FieldValue, FrameMeta]) -> FrameUpdate:
        """The :class:`~framecast.frame.FrameUpdate` of a watcher's pending update."""
        meta = pending.meta
        return FrameUpdate(meta.frame_index, pending.fields, pending.reset, meta.publish_time)

    def current_update(self) -> FrameUpdate:
        """The whole current frame as values, marked as a reset."""
        with self._lock:
            return FrameUpdate(
                self._meta.frame_index, dict(self._values), True, self._meta.publish_time
            )

    @staticmethod
    def message(pending: Pending[EntryParts, FrameMeta]) -> bytes:
        """The serialized ``FrameUpdate`` for a pending update."""
        if pending.packed is not None:
            return pending.packed
        meta = pending.meta
        return assemble_update(
            meta.frame_index, pending.reset, meta.publish_time, pending.fields.values()
        )

    def current_message(self) -> bytes:
        """The whole current frame as a serialized ``FrameUpdate`` marked as a reset."""
        with self._lock:
            return assemble_update(
                self._meta.frame_index, True, self._meta.publish_time, self._entries.values()
            )

    @property
    def subscriber_count(self) -> int:
        """How many subscribers are registered now."""
        with self._lock:
            return self._count_locked()

    def close(self) -> None:
        """Close every mailbox, so that every stream ends; later subscribers end at once."""
        self._subscribers.close()
        self._watchers.close()
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            channel.members.close()
