"""``Relay``: a session's front door on NATS, for viewers on other machines.

The relay is one more subscriber of the session's cores. It publishes each broadcast update
once to ``framecast.<session>.frames`` (whatever the number of viewers: NATS spreads it),
each shared-state change once to ``...state``, and each named-session event once to
``...events.<name>``, and answers viewers' requests (see
:mod:`framecast.transports.nats.requests`). Frames travel as the same ``FrameUpdate`` messages
that gRPC clients get, except that positions are in the compact encoding
(:mod:`framecast.wire.compact`), and a message past the server's payload limit goes in parts.

Every message carries the link's epoch and a sequence number; the relay keeps its own copy
of the frame as of its last sequence number, so that a viewer's ``frames.current`` request
gets a whole frame that the deltas after it apply to exactly. NATS, not the relay, is
where slow viewers fall behind: the relay's own mailbox merges latest-wins only when NATS
itself cannot take messages as fast as the session makes them.
"""

from __future__ import annotations

import logging
import secrets
import ssl
import struct
import threading
from collections.abc import Callable, Mapping

import numpy as np

from framecast._proto import state_pb2
from framecast._support.extras import require
from framecast._support.mailbox import paced
from framecast._support.threads import BackgroundTask, raise_if_failed
from framecast.core.cores import Cores
from framecast.core.publisher import FrameMeta
from framecast.core.state import STATE_PART_BYTES, entry_size
from framecast.frame import FieldValue
from framecast.transports.nats.link import NatsLink
from framecast.transports.nats.requests import RelayRequests
from framecast.transports.nats.wire import (
    Subjects,
    check_subject_name,
    join_records,
    parse_nats_url,
)
from framecast.wire.codec import assemble_update, encode_compact_entry, encode_entry
from framecast.wire.compact import DEFAULT_PRECISION

__all__ = ["Relay", "RelayCodec"]

log = logging.getLogger(__name__)

#: The key whose values travel compact.
POSITIONS = "particle.positions"
#: Seconds between sweeps of expired leases.
SWEEP_INTERVAL = 1.0


class RelayCodec:
    """Frames as ``FrameUpdate`` entries, positions compact at ``precision`` nm (None:
    exact float32, compressed)."""

    def __init__(self, precision: float | None) -> None:
        self.precision = precision

    def entry(self, key: str, value: FieldValue) -> bytes:
        """One field as a map entry: positions compact when they can be (finite, in
        range), anything else as gRPC sends it."""
        if key == POSITIONS and isinstance(value, np.ndarray) and value.ndim == 2:
            try:
                return encode_compact_entry(key, value, self.precision)
            except ValueError:
                pass  # NaN positions of a blown-up simulation, say: sent as they are
        return encode_entry(key, value)

    @staticmethod
    def message(meta: FrameMeta, reset: bool, entries: Mapping[str, bytes]) -> bytes:
        """A whole ``FrameUpdate`` from encoded entries."""
        return assemble_update(
            meta.frame_index, reset, meta.publish_time, ((e,) for e in entries.values())
        )


class Relay:
    """Publishes a session's frames, state and events to NATS, and answers its viewers.

    ``url``: ``nats://host:4222`` (see :func:`~framecast.transports.nats.wire.parse_nats_url` for
    credentials, TLS and clusters); its path, if any, names the session instead of
    ``session``. Raises ``PermissionError`` or ``ConnectionError`` when NATS refuses or
    cannot be reached, and ``ValueError`` for a session name that cannot be a subject.
    :meth:`close` is idempotent and leaves no thread.
    """

    def __init__(
        self,
        url: str,
        cores: Cores,
        *,
        session: str,
        precision: float | None = DEFAULT_PRECISION,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        # Both named by the one extra a user installs for this.
        for module in ("nats", "zstandard"):
            require(module, "nats", "the NATS relay")
        address = parse_nats_url(url)
        self.session = check_subject_name(address.session or session)
        self.subjects = Subjects(self.session)
        self.url = url
        self.address = address
        self._codec = RelayCodec(precision)
        self._frames, self._state = cores.frames, cores.shared_state
        # Random per link: a viewer never takes a new origin's numbers for the old one's.
        self.epoch = secrets.randbits(63)
        self._lock = threading.Lock()
        self._sequence = 0
        self._entries: dict[str, bytes] = {}
        self._meta = FrameMeta(0, 0.0)
        self._state_lock = threading.Lock()
        self._state_sequence = 0
        self.published = 0
        self._link = NatsLink(address, name=f"framecast-origin-{self.session}", tls=tls)
        self._tasks: list[BackgroundTask] = []
        self._requests: RelayRequests | None = None
        self._untap: Callable[[], None] = _nothing
        try:
            self._requests = RelayRequests(
                self._link,
                self.subjects,
                cores,
                current_frame=self._send_current,
                state_snapshot=self._snapshot,
            )
            self._untap = cores.sessions.taps.add(self._publish_event)
            self._tasks = [
                BackgroundTask(f"framecast-relay-frames-{self.session}", self._send_frames),
                BackgroundTask(f"framecast-relay-state-{self.session}", self._send_state),
                BackgroundTask(f"framecast-relay-leases-{self.session}", self._sweep),
            ]
            for task in self._tasks:
                task.start()
        except BaseException:
            self.close()
            raise

    # -- frames ---------------------------------------------------------------------------------
    def _send_frames(self, stop: threading.Event) -> None:
        # An in-process reader of the frozen values: the fields are encoded here, on this
        # thread (compact positions cost milliseconds at 100k particles), never on the
        # broadcaster's, and only as often as NATS takes them (latest wins meanwhile).
        with self._frames.watch() as mailbox:
            self._frames_mailbox = mailbox
            if stop.is_set():
                return
            for pending in paced(mailbox, 0.0):
                meta = pending.meta
                fields = {key: self._codec.entry(key, v) for key, v in pending.fields.items()}
                body = self._codec.message(meta, pending.reset, fields)
                with self._lock:
                    self._sequence += 1
                    sequence = self._sequence
                    if pending.reset:
                        self._entries = fields
                    else:
                        self._entries.update(fields)
                    self._meta = meta
                try:
                    self._link.publish_packets(self.subjects.frames, self.epoch, sequence, body)
                    self.published += 1
                except Exception as error:  # noqa: BLE001 - NATS away: viewers re-sync after
                    log.debug("publishing frame %d failed: %s", sequence, error)

    def _current(self) -> tuple[int, bytes]:
        """The last sequence number, and the whole frame as of it (a reset)."""
        with self._lock:
            sequence, meta, entries = self._sequence, self._meta, dict(self._entries)
        return sequence, self._codec.message(meta, True, entries)

    def current_body(self) -> bytes:
        """The whole current frame as the relay sends it to a viewer that joins (the
        ``FrameUpdate``, before it is cut into packets)."""
        return self._current()[1]

    def _send_current(self, reply: str) -> None:
        """Answer ``frames.current``: the whole frame as of the last sequence number."""
        sequence, body = self._current()
        self._link.publish_packets(reply, self.epoch, sequence, body)

    # -- state ------------------------------------------------------------------------------------
    def _send_state(self, stop: threading.Event) -> None:
        with self._state.subscribe() as mailbox:
            self._state_mailbox = mailbox
            # The snapshot the subscription starts with goes out too (marked so): it tells
            # the viewers of an earlier origin of this name, by its new epoch, to re-sync.
            while not stop.is_set() and mailbox.wait_pending():
                with self._state_lock:
                    part = mailbox.take_part(STATE_PART_BYTES, entry_size)
                    if part is None:
                        continue
                    self._state_sequence += 1
                    sequence = self._state_sequence
                change = _state_change(part.fields, part.meta, part.more)
                change.snapshot = part.reset
                body = change.SerializeToString()
                try:
                    self._link.publish_packets(self.subjects.state, self.epoch, sequence, body)
                except Exception as error:  # noqa: BLE001 - viewers re-sync after a gap
                    log.debug("publishing state change %d failed: %s", sequence, error)

    def _snapshot(self) -> bytes:
        """The whole state as StateChange messages (the first marked as a snapshot), after
        the link's epoch and the sequence number of the last change it includes."""
        with self._state_lock:
            sequence = self._state_sequence
            with self._state.subscribe() as mailbox:
                parts: list[bytes] = []
                while (part := mailbox.take_part(STATE_PART_BYTES, entry_size)) is not None:
                    message = _state_change(part.fields, part.meta, part.more)
                    message.snapshot = not parts
                    parts.append(message.SerializeToString())
                    if not part.more:
                        break
        return struct.pack("<QQ", self.epoch, sequence) + join_records(parts)

    # -- events -----------------------------------------------------------------------------------
    def _publish_event(self, names: list[str], event: bytes) -> None:
        for name in names:
            self._link.publish_soon(self.subjects.events(name), event)

    def _sweep(self, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_INTERVAL):
            if self._requests is not None:
                self._requests.expire()

    # -- lifecycle ------------------------------------------------------------------------------
    def health_check(self) -> None:
        """Re-raise an exception that ended one of the relay's threads."""
        for task in self._tasks:
            raise_if_failed(task.future)

    @property
    def viewers(self) -> int:
        """NATS clients with a frame stream open, as their leases say (a viewer that
        vanished without closing is counted until its lease runs out, 10 s)."""
        requests = self._requests
        return 0 if requests is None else requests.watchers

    def close(self) -> None:
        """Stop publishing and answering, end every lease and close the link. Idempotent."""
        self._untap()
        for task in self._tasks:
            task.stop_event.set()
        for name in ("_frames_mailbox", "_state_mailbox"):
            mailbox = getattr(self, name, None)
            if mailbox is not None:
                mailbox.close()
        for task in self._tasks:
            task.stop()
        self._tasks = []
        if self._requests is not None:
            self._requests.close()
            self._requests = None
        self._link.close()

    def __repr__(self) -> str:
        return f"<Relay {self.session!r} on {self.address.display()}>"


def _state_change(
    fields: Mapping[str, bytes | None], version: int, more: bool
) -> state_pb2.StateChange:
    change = state_pb2.StateChange(version=version, more=more)
    for key, value in fields.items():
        if value is None:
            change.removals.append(key)
        else:
            change.updates[key] = value
    return change


def _nothing() -> None:
    pass
