"""A NATS client's streams: frames, shared state and a named session's events.

Each stream is a carrier's stream (see :class:`~framecast.transports.base.Stream`): an
iterator of typed updates with ``cancel()``, failing with
:class:`~framecast.transports.base.CallError`, as the gRPC carrier's are. Underneath,
messages arrive on the link's loop thread into a bounded :class:`_Feed`, and the reader's
own thread does the rest: reassembles packets, checks sequence numbers, merges frames
latest-wins, and re-syncs from a whole snapshot after any gap (a lost packet, a sequence
jump, a reconnection, a new origin, or a feed that overflowed because this reader was too
slow). A reader never sees a delta applied on top of a frame that missed one: after a gap it
waits for the whole frame, which replaces everything it held.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from google.protobuf.message import DecodeError

from framecast._proto import sessions_pb2, state_pb2
from framecast.frame import FrameUpdate
from framecast.transports.base import CallError, Status
from framecast.transports.nats.link import NatsLink, Subscription
from framecast.transports.nats.wire import Reassembler, Subjects, decode_reply, records
from framecast.wire.codec import decode_field_bytes, split_update
from framecast.wire.events import encode_joined

__all__ = ["FrameStream", "JoinStream", "StateStream"]

log = logging.getLogger(__name__)

#: Bytes a reader may have waiting before it counts as too slow and re-syncs.
MAX_FEED_BYTES = 64 * 1024 * 1024
#: Seconds to wait for a snapshot before asking again.
RETRY = 2.0
#: Seconds between two requests for a snapshot at least: a publisher sending packets out of
#: sequence (on purpose or not) costs the origin at most one snapshot a second per reader.
MIN_RESYNC_INTERVAL = 1.0
#: Deltas kept while a snapshot is awaited; older ones are dropped (the snapshot covers them).
MAX_BUFFERED = 256

_HEAD = struct.Struct("<QQ")  # epoch, sequence of a state snapshot


class _Feed:
    """What the loop thread hands a reader: (kind, payload), at most ``max_bytes``."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self._ready = threading.Condition()
        self._items: list[tuple[str, bytes]] = []
        self._bytes = 0
        self._max = MAX_FEED_BYTES if max_bytes is None else max_bytes
        self._overflowed = False
        self.closed = False

    def put(self, kind: str, data: bytes) -> None:
        with self._ready:
            if self.closed:
                return
            if self._bytes + len(data) > self._max:
                # Too slow: drop what waits (its deltas cannot be applied any more) and
                # let the reader re-sync from a snapshot.
                self._items, self._bytes, self._overflowed = [], 0, True
            self._items.append((kind, data))
            self._bytes += len(data)
            self._ready.notify()

    def take(self, timeout: float | None) -> tuple[list[tuple[str, bytes]], bool] | None:
        """Everything waiting (after up to ``timeout`` s for something), and whether some
        was dropped; None once closed."""
        with self._ready:
            if not self._items and not self.closed and not self._overflowed:
                self._ready.wait(timeout)
            if self.closed:
                return None
            items, overflowed = self._items, self._overflowed
            self._items, self._bytes, self._overflowed = [], 0, False
            return items, overflowed

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._items = []
            self._ready.notify_all()


class _Stream(ABC):
    """Subscriptions that feed one reader, a snapshot inbox, and ``cancel()``."""

    def __init__(self, link: NatsLink, subjects: Subjects) -> None:
        self._link, self._subjects = link, subjects
        self._feed = _Feed()
        self._subscriptions: list[Subscription] = []
        self._inbox = link.inbox()
        self._messages: Iterator[Any] | None = None
        self._cancelled = False
        #: Called once when the stream is cancelled (its owner gives back what it took).
        self.on_cancel: list[Callable[[], None]] = []
        self.resyncs = 0

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        if self._messages is None:
            self._messages = self._run()
        return next(self._messages)

    @abstractmethod
    def _run(self) -> Iterator[Any]:
        """The stream's messages, read on the caller's thread (each kind its own)."""

    def _listen(self, subject: str, kind: str) -> None:
        feed = self._feed
        self._subscriptions.append(
            self._link.subscribe(subject, lambda _s, _r, data: feed.put(kind, data))
        )

    def resync(self) -> None:
        """Re-sync from a snapshot (the link reconnected: messages may be lost)."""
        self._feed.put("resync", b"")

    def cancel(self) -> None:
        """End the stream (idempotent): the reader's iteration stops."""
        if self._cancelled:
            return
        self._cancelled = True
        self._feed.close()
        for subscription in self._subscriptions:
            subscription.unsubscribe()
        self._subscriptions = []
        for hook in self.on_cancel:
            hook()


class _Synced(_Stream):
    """A stream of sequence-numbered messages on ``stream`` that re-syncs by asking
    ``whole`` for a snapshot (answered to this stream's inbox)."""

    def __init__(self, link: NatsLink, subjects: Subjects, stream: str, whole: str) -> None:
        super().__init__(link, subjects)
        self._whole_subject = whole
        self._epoch, self._sequence = -1, 0
        self._parts, self._answer = Reassembler(), Reassembler()
        self._waiting, self._asked = False, float("-inf")
        self._buffer: list[tuple[int, int, bytes | memoryview]] = []
        self._listen(stream, "delta")
        self._listen(self._inbox, "whole")

    def _keep(self, epoch: int, sequence: int, body: bytes | memoryview) -> None:
        """Hold a message that came while a snapshot is awaited (the newest, up to
        ``MAX_BUFFERED`` of them and ``MAX_FEED_BYTES`` in all)."""
        self._buffer.append((epoch, sequence, body))
        del self._buffer[:-MAX_BUFFERED]
        total = sum(len(item[2]) for item in self._buffer)
        while total > MAX_FEED_BYTES and len(self._buffer) > 1:
            total -= len(self._buffer.pop(0)[2])

    def _start_resync(self) -> None:
        if not self._waiting:
            self._waiting = True
            self.resyncs += 1
            if time.monotonic() - self._asked >= MIN_RESYNC_INTERVAL:
                self._request_whole()
            # else: asked moments ago; the retry asks again once RETRY has passed

    def _request_whole(self) -> None:
        self._asked = time.monotonic()
        self._answer = Reassembler()
        self._link.publish_soon(self._whole_subject, b"", reply=self._inbox)

    def _take(self, timeout: float | None) -> list[tuple[str, bytes]] | None:
        """What the feed holds (after up to ``timeout`` s), re-syncing if some of it was
        dropped; None once the stream is cancelled."""
        taken = self._feed.take(timeout)
        if taken is None:
            return None
        items, overflowed = taken
        if overflowed:
            self._start_resync()
        return items

    def _retry_due(self) -> bool:
        return self._waiting and time.monotonic() - self._asked >= RETRY


class _Undecoded(NamedTuple):
    """A frame update with its fields still encoded (see :func:`split_update`)."""

    frame_index: int
    fields: dict[str, memoryview]
    reset: bool
    publish_time: float
    receive_time: float


def _undecoded(body: bytes | memoryview) -> _Undecoded:
    index, reset, published, fields = split_update(body)
    return _Undecoded(index, fields, reset, published, time.time())


class FrameStream(_Synced):
    """Frame updates (:class:`~framecast.frame.FrameUpdate`), at most one per ``interval``
    seconds, each the latest merge of what arrived; the first is a whole frame (reset)."""

    def __init__(self, link: NatsLink, subjects: Subjects, interval: float) -> None:
        super().__init__(link, subjects, subjects.frames, subjects.current)
        self._interval = interval
        # Merged latest-wins as encoded fields: only what is handed on gets decoded, so a
        # reader that fell behind decodes one frame, not every one it missed.
        self._pending: _Undecoded | None = None
        self._start_resync()

    def _run(self) -> Iterator[FrameUpdate]:
        next_send = 0.0
        while True:
            now = time.monotonic()
            if self._pending is not None:
                timeout: float | None = max(0.0, next_send - now)
            else:
                timeout = RETRY if self._waiting else None
            items = self._take(timeout)
            if items is None:
                return
            for kind, data in items:
                self._handle(kind, data)
            now = time.monotonic()
            if self._retry_due():
                self._request_whole()
            if self._pending is not None and now >= next_send:
                pending, self._pending = self._pending, None
                next_send = now + self._interval
                try:
                    fields = {key: decode_field_bytes(v) for key, v in pending.fields.items()}
                except ValueError as error:
                    log.warning("malformed frame update: %s", error)
                    self._start_resync()
                    continue
                yield FrameUpdate(
                    pending.frame_index,
                    fields,
                    pending.reset,
                    pending.publish_time,
                    pending.receive_time,
                )

    def _handle(self, kind: str, data: bytes) -> None:
        if kind == "resync":
            self._start_resync()
            return
        if kind == "whole":
            if not data:
                return  # "no responders": the origin is away; asked again after RETRY
            try:
                whole = self._answer.add(data)
            except ValueError as error:
                log.warning("malformed frame snapshot: %s", error)
                return
            if whole is not None and self._waiting:
                epoch, sequence, body = whole
                try:
                    update = _undecoded(body)
                except ValueError as error:
                    log.warning("malformed frame snapshot: %s", error)
                    return
                self._waiting = False
                self._apply(update, epoch, sequence)
                buffered, self._buffer = self._buffer, []
                for delta in buffered:
                    self._delta(*delta)
            return
        try:
            message = self._parts.add(data)
        except ValueError as error:
            log.warning("malformed frame packet: %s", error)
            self._start_resync()
            return
        if self._parts.lost:
            self._parts.lost = False
            self._start_resync()
        if message is not None:
            self._delta(*message)

    def _delta(self, epoch: int, sequence: int, body: bytes | memoryview) -> None:
        if self._waiting:
            self._keep(epoch, sequence, body)
            return
        if epoch == self._epoch and sequence <= self._sequence:
            return  # had it already
        try:
            update = _undecoded(body)
        except ValueError as error:
            log.warning("malformed frame update: %s", error)
            self._start_resync()
            return
        if (epoch == self._epoch and sequence == self._sequence + 1) or update.reset:
            self._apply(update, epoch, sequence)  # the next one, or a reset: whole anyway
            return
        self._start_resync()
        self._keep(epoch, sequence, body)

    def _apply(self, update: _Undecoded, epoch: int, sequence: int) -> None:
        self._epoch, self._sequence = epoch, sequence
        pending = self._pending
        if pending is None or update.reset:
            self._pending = update
        else:
            fields = dict(pending.fields)
            fields.update(update.fields)
            self._pending = update._replace(fields=fields, reset=pending.reset)


class StateStream(_Synced):
    """Shared-state changes (``StateChange``); the first ones are a whole snapshot.
    ``on_start`` runs first on the reader's thread (it takes the client's lease; its
    error ends the stream, as a refused gRPC stream does)."""

    def __init__(self, link: NatsLink, subjects: Subjects, on_start: Any = None) -> None:
        super().__init__(link, subjects, subjects.state, subjects.state_current)
        self._on_start = on_start

    def _run(self) -> Iterator[state_pb2.StateChange]:
        if self._on_start is not None:
            self._on_start()
        self._start_resync()
        while True:
            items = self._take(RETRY if self._waiting else None)
            if items is None:
                return
            for kind, data in items:
                yield from self._handle(kind, data)
            if self._retry_due():
                self._request_whole()

    def _handle(self, kind: str, data: bytes) -> Iterator[state_pb2.StateChange]:
        if kind == "resync":
            self._start_resync()
        elif kind == "whole":
            if not data:
                return  # "no responders": asked again after RETRY
            try:
                whole = self._answer.add(data)
            except ValueError as error:
                log.warning("malformed state snapshot: %s", error)
                return
            if whole is None or not self._waiting:
                return
            code, message, body = decode_reply(bytes(whole[2]))
            if code:
                raise CallError(Status.of(code), message)
            try:
                head = _HEAD.unpack_from(body)
                changes = [state_pb2.StateChange.FromString(p) for p in records(body[_HEAD.size :])]
            except (ValueError, struct.error, DecodeError) as error:
                log.warning("malformed state snapshot: %s", error)
                return  # still waiting: asked again after RETRY
            previous = self._epoch
            self._epoch, self._sequence = head
            self._waiting = False
            for index, change in enumerate(changes):
                # A new origin's versions start anew: the replica drops the old one's.
                change.reset = index == 0 and previous not in (-1, self._epoch)
                yield change
            buffered, self._buffer = self._buffer, []
            for epoch, sequence, kept in buffered:
                yield from self._delta(epoch, sequence, bytes(kept))
        else:
            try:
                packet_message = self._parts.add(data)
            except ValueError as error:
                log.warning("malformed state packet: %s", error)
                self._start_resync()
                return
            if self._parts.lost:
                self._parts.lost = False
                self._start_resync()
            if packet_message is not None:
                epoch, sequence, state_body = packet_message
                yield from self._delta(epoch, sequence, bytes(state_body))

    def _delta(self, epoch: int, sequence: int, body: bytes) -> Iterator[state_pb2.StateChange]:
        if self._waiting:
            self._keep(epoch, sequence, body)
        elif epoch == self._epoch and sequence == self._sequence + 1:
            try:
                change = state_pb2.StateChange.FromString(body)
            except DecodeError as error:
                log.warning("malformed state change: %s", error)
                self._start_resync()  # what it held is lost: a snapshot brings it back
                return
            self._sequence = sequence
            yield change
        elif epoch != self._epoch or sequence > self._sequence:
            self._start_resync()


class JoinStream(_Stream):
    """A named session's events (``SessionEvent``), after a first "joined" one with the
    listener count. ``join()`` takes the lease and returns the count."""

    def __init__(
        self,
        link: NatsLink,
        subjects: Subjects,
        name: str,
        join: Callable[[], int],
        leave: Callable[[], None],
    ) -> None:
        super().__init__(link, subjects)
        self._name, self._join, self._leave = name, join, leave
        self._joined = False
        self._lock = threading.Lock()
        self._listen(subjects.events(name), "event")

    def _run(self) -> Iterator[sessions_pb2.SessionEvent]:
        clients = int(self._join())
        with self._lock:
            self._joined = True
        yield sessions_pb2.SessionEvent.FromString(encode_joined(self._name, clients))
        while True:
            taken = self._feed.take(None)
            if taken is None:
                return
            for kind, data in taken[0]:
                if kind == "event":
                    try:
                        event = sessions_pb2.SessionEvent.FromString(data)
                    except DecodeError:
                        # Another publisher's bytes: skipped, the listener listens on.
                        log.warning("skipped bytes on %r that are no event", self._name)
                        continue
                    yield event

    def cancel(self) -> None:
        super().cancel()
        with self._lock:
            joined, self._joined = self._joined, False
        if joined:
            self._leave()
