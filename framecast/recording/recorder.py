"""``Recorder``: writes what a session sends to a recording file, on its own thread.

The producer hands it frames, state changes, session events and commands without ever
waiting on the disk: frames go to a latest-wins mailbox (a disk that falls behind merges
updates, counted in :attr:`Recorder.merged`), the rest to a bounded queue (overflow is
counted in :attr:`Recorder.dropped`). Each is stamped, on arrival, with seconds since the
recording started. The writer thread encodes and appends them (see :mod:`framecast.recording.file`),
and writes a keyframe, the whole frame, at least every ``keyframe_interval`` seconds.

:meth:`framecast.Session.record` and :meth:`framecast.Client.record` feed one.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from framecast._support.mailbox import Mailbox
from framecast._support.threads import BackgroundTask, raise_if_failed
from framecast._version import __version__
from framecast.frame import FieldValue, FrameUpdate
from framecast.messages import SelectionEvent, SessionEvent, TransitionEvent
from framecast.recording.file import DEFAULT_KEYFRAME_INTERVAL, Kind, RecordWriter
from framecast.wire.codec import decode_json, encode_entry_parts, encode_header

__all__ = ["DEFAULT_KEYFRAME_INTERVAL", "Recorder"]

#: State changes, events and commands waiting for the disk, at most.
MAX_QUEUED = 100_000
#: How often the writer looks at the queue when no frame wakes it.
_POLL = 0.05


class Recorder:
    """Records into a new file at ``path`` until :meth:`stop` (also a context manager).

    Raises ``FileExistsError`` if ``path`` exists, unless ``overwrite``. ``source`` says
    what is recorded, for the file's header.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        source: str,
        keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
        overwrite: bool = False,
    ) -> None:
        if not keyframe_interval > 0:
            raise ValueError(f"keyframe_interval must be > 0 seconds, got {keyframe_interval!r}")
        self.path = Path(path)
        self._keyframe_interval = float(keyframe_interval)
        self._writer = RecordWriter(
            self.path,
            {
                "framecast": __version__,
                "source": source,
                "created": time.time(),
                "keyframe_interval": self._keyframe_interval,
            },
            overwrite=overwrite,
        )
        self._start = time.monotonic()
        #: Latest-wins frames, meta ``(frame_index, publish_time)``: fed by :meth:`put_frame`
        #: or registered with a publisher as one of its in-process readers.
        self.frames: Mailbox[FieldValue, Any] = Mailbox()
        self._queue: collections.deque[tuple[Kind, float, object]] = collections.deque()
        self._queue_lock = threading.Lock()
        self._current: dict[str, FieldValue] = {}
        self._last_keyframe = -float("inf")
        self.frames_written = 0
        self.keyframes_written = 0
        self.dropped = 0
        self._stopped = threading.Event()
        self._on_stop: list[Callable[[], None]] = []
        self._task = BackgroundTask(f"framecast-recorder-{self.path.name}", self._run)
        self._task.start()

    # -- what the producer hands in (never blocks) -----------------------------------------
    def _now(self) -> float:
        return time.monotonic() - self._start

    def put_frame(self, update: FrameUpdate) -> None:
        """A frame update (a reset is a whole frame); merged with one not written yet."""
        meta = (update.frame_index, update.publish_time)
        self.frames.put(update.fields, reset=update.reset, meta=meta)

    def put_state(self, change: Mapping[str, bytes | None], *, reset: bool = False) -> None:
        """A shared-state change: keys to their JSON bytes, None for a removed key;
        ``reset`` when it is the whole state. Decoded by the writer, not here."""
        self._enqueue(Kind.STATE, (reset, dict(change)))

    def put_event(self, event: SessionEvent, sessions: list[str]) -> None:
        """A published transition or selection, and the sessions it went to."""
        record: dict[str, object] = {"sessions": sessions, "label": event.label}
        if isinstance(event, TransitionEvent):
            record.update(kind="transition", timeline=event.timeline, transition=event.transition)
        elif isinstance(event, SelectionEvent):
            record.update(kind="selection", particles=list(event.particles))
        else:  # pragma: no cover - every SessionEvent is one of the two
            return
        self._enqueue(Kind.EVENT, record)

    def put_command(self, name: str, arguments: Mapping[str, object]) -> None:
        """A command that was run, with its arguments."""
        self._enqueue(Kind.COMMAND, {"name": name, "arguments": dict(arguments)})

    def _enqueue(self, kind: Kind, value: object) -> None:
        with self._queue_lock:
            if len(self._queue) >= MAX_QUEUED or self._stopped.is_set():
                self.dropped += 1
                return
            self._queue.append((kind, self._now(), value))

    # -- the writer thread --------------------------------------------------------------------
    def _run(self, stop: threading.Event) -> None:
        _lower_priority()
        try:
            while not stop.is_set():
                self.frames.wait_pending(_POLL)
                self._drain()
            self._drain()
            self._writer.write_json(Kind.NOTE, self._now(), self.stats)
        finally:
            self._writer.close()

    def _drain(self) -> None:
        """Write what is waiting: queued records up to the frame's time, then the frame."""
        with self._queue_lock:
            # Stamped under the queue's lock: what is queued later gets a later time, so the
            # file's records are in time order.
            at = self._now()
            queued, self._queue = list(self._queue), collections.deque()
        pending = self.frames.take_remaining()
        for kind, at, value in queued:
            if kind is Kind.STATE:
                value = _state_record(*value)  # type: ignore[misc]
            self._writer.write(kind, at, json.dumps(value, default=repr).encode())
        if pending is not None:
            # A frame's time is when the writer took it: at once, unless the disk fell
            # behind, and then the merged frame is the state at that later time.
            frame_index, publish_time = pending.meta
            self._write_frame(pending.fields, pending.reset, frame_index, publish_time, at)
        if queued or pending is not None:
            self._writer.flush()

    def _write_frame(
        self,
        fields: dict[str, FieldValue],
        reset: bool,
        frame_index: int,
        publish_time: float,
        at: float,
    ) -> None:
        if reset:
            self._current = dict(fields)
        else:
            self._current.update(fields)
        keyframe = reset or at - self._last_keyframe >= self._keyframe_interval
        written = self._current if keyframe else fields
        # The message's parts go to the file as they are (arrays as views of the frozen
        # values): nothing of a large frame is joined or copied under the GIL here.
        parts: list[bytes | memoryview] = [encode_header(frame_index, keyframe, publish_time)]
        for key, value in written.items():
            parts.extend(encode_entry_parts(key, value))
        self._writer.write(Kind.FRAME, at, *parts)
        self.frames_written += 1
        if keyframe:
            self.keyframes_written += 1
            self._last_keyframe = at

    # -- lifetime ---------------------------------------------------------------------------------
    @property
    def merged(self) -> int:
        """Frame updates merged into one not yet written (the disk fell behind)."""
        return self.frames.merged

    @property
    def stats(self) -> dict[str, Any]:
        """Frames and keyframes written, updates merged, records dropped, bytes written."""
        return {
            "frames": self.frames_written,
            "keyframes": self.keyframes_written,
            "merged": self.merged,
            "dropped": self.dropped,
            "bytes": self._writer.bytes_written,
            "seconds": round(self._now(), 3),
        }

    @property
    def recording(self) -> bool:
        """True until :meth:`stop`."""
        return not self._stopped.is_set()

    def feed_from(self, connect: Callable[[ExitStack], None]) -> Recorder:
        """Run ``connect(stack)``, which hooks the producers up to this recorder and puts on
        ``stack`` what unhooks them; that runs when the recorder stops. If ``connect`` raises,
        what it hooked is undone, the recorder stops, and the error propagates."""
        stack = ExitStack()
        try:
            connect(stack)
        except BaseException:
            stack.close()
            self.stop()
            raise
        self.on_stop(stack.close)
        return self

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when :meth:`stop` begins (to stop feeding this recorder)."""
        self._on_stop.append(callback)

    def stop(self) -> None:
        """Write what is waiting, end the file and wait for the writer. Idempotent. Raises
        what failed in the writer (a full disk, say)."""
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            callback()
        self._stopped.set()
        self._task.stop()
        self.frames.close()
        raise_if_failed(self._task.future)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "recording" if self.recording else "stopped"
        return f"<Recorder {str(self.path)!r} {state}: {self.frames_written} frames>"


def _lower_priority() -> None:
    """Run this thread at a lower CPU priority where the system allows it (Linux: per
    thread), so that on a busy machine the broadcast's threads get the CPU first."""
    with contextlib.suppress(AttributeError, OSError):  # elsewhere: the same priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _state_record(reset: bool, change: Mapping[str, bytes | None]) -> dict[str, object]:
    """A STATE record: the changed keys' values decoded, and the removed keys."""
    changes = {k: decode_json(v, what=k) for k, v in change.items() if v is not None}
    removed = [key for key, value in change.items() if value is None]
    return {"reset": reset, "changes": changes, "removed": removed}
