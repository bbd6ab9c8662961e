"""``Replay``: a recording (``.fcrec``) played back as a target, and a timeline of its frames.

Frame ``i`` is the recording's ``i``-th frame record. Playing it in order applies each
recorded update as it was sent (only the fields that changed); any other move (seek, step
back, a loop's wrap) rebuilds the frame from the nearest keyframe at or before ``i`` and
the deltas after it, and is sent as a reset. It plays at the recorded pace (``speed``
times), with gaps longer than ``max_gap`` seconds (a paused session) cut to ``max_gap``.
Recorded transitions, selections and state changes are handed to :meth:`Replay.on_event`
listeners as playback passes their time; a :class:`~framecast.Session` showing the replay
re-publishes them.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from framecast._support.progress import progress
from framecast.frame import FieldValue
from framecast.recording.file import Kind, NotARecordingError, Record, RecordingFile
from framecast.targets.sequence import LoopMode, SequencePlayer
from framecast.timeline import TIMELINE_KEY

__all__ = ["Replay", "replay"]

#: A recorded event: (kind, value) with kind "transition", "selection" or "state".
EventListener = Callable[[str, dict[str, Any]], None]


def _owned(value: FieldValue) -> FieldValue:
    """A value that no longer views the mapped file, read-only like every frame's."""
    if isinstance(value, np.ndarray):
        copy = np.array(value)
        copy.setflags(write=False)
        return copy
    return value


class Replay(SequencePlayer):
    """A recording as a target: play, pause, seek, step back, loop; a timeline of frames.

    Raises :class:`~framecast.recording.file.NotARecordingError` for a file that is not a
    recording or holds no frame.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float = 1.0,
        max_gap: float = 1.0,
        mode: LoopMode = "loop",
        name: str = "framecast-replay",
        progress: bool | None = None,
    ) -> None:
        self.file = RecordingFile(path)
        self._records = list(self.file.of_kind(Kind.FRAME))
        if not self._records:
            self.file.close()
            raise NotARecordingError(f"{self.file.path} holds no frame: nothing to replay")
        try:
            self._times, self._keyframes, self._events = self._validated(progress)
        except BaseException:
            self.file.close()
            raise
        span = self._times[-1] - self._times[0]
        self._pace = span / (len(self._times) - 1) if len(self._times) > 1 and span > 0 else 1 / 30
        if not max_gap > 0:
            raise ValueError(f"max_gap must be > 0 seconds, got {max_gap!r}")
        self._max_gap = float(max_gap)
        self._listeners: list[EventListener] = []
        self._listeners_lock = threading.Lock()
        self._speed = 1.0
        super().__init__(len(self._records), None, fps=1 / self._pace, mode=mode, name=name)
        self.speed = speed

    # -- pace -------------------------------------------------------------------------------------
    def _validated(
        self, show: bool | None
    ) -> tuple[list[float], list[int], list[tuple[float, Kind, Any]]]:
        """Every frame's time and which are keyframes, and every event, read and checked as
        the recording is opened: a malformed record is refused now, naming where it is,
        never later in the player's thread."""
        times: list[float] = []
        keyframes: list[int] = []
        records = progress(
            self._records, total=len(self._records), what="reading the recording", show=show
        )
        for index, record in enumerate(records):
            if not math.isfinite(record.time) or (times and record.time < times[-1]):
                raise self._malformed(record, f"its time {record.time!r} runs backwards")
            try:
                update = self.file.frame(record)
            except (ValueError, DecodeError) as error:
                raise self._malformed(record, str(error)) from None
            times.append(record.time)
            if update.reset:
                keyframes.append(index)
        if not keyframes or keyframes[0] != 0:
            raise self._malformed(self._records[0], "the first frame is not a whole frame")
        events: list[tuple[float, Kind, Any]] = []
        for record in self.file.records:
            if record.kind in (Kind.EVENT, Kind.STATE):
                try:
                    events.append((record.time, record.kind, self.file.json(record)))
                except ValueError as error:
                    raise self._malformed(record, str(error)) from None
        return times, keyframes, events

    def _malformed(self, record: Record, why: str) -> NotARecordingError:
        what = record.kind.name.lower()
        return NotARecordingError(
            f"{self.file.path}: the {what} record at byte {record.offset} "
            f"(t={record.time:g} s) is malformed: {why}"
        )

    @property
    def speed(self) -> float:
        """How many times the recorded pace it plays at."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if not value > 0 or value == float("inf"):
            raise ValueError(f"speed must be a positive finite number, got {value!r}")
        self._speed = float(value)
        self.interval = self._pace / self._speed

    @property
    def fps(self) -> float:
        """The mean frame rate of the recording times :attr:`speed`."""
        return self._speed / self._pace

    @fps.setter
    def fps(self, value: float) -> None:
        self.speed = value * self._pace

    def _next_interval(self) -> float:
        """Seconds until the next frame: the recorded gap, at :attr:`speed`, cut to
        ``max_gap``."""
        index = self._index
        after = min(index + 1, self._frame_count - 1)
        gap = abs(self._times[after] - self._times[index]) if after != index else self._pace
        return min(gap, self._max_gap) / self._speed

    @property
    def times(self) -> list[float]:
        """Each frame's time, in seconds since the recording started."""
        return list(self._times)

    def frame_at_time(self, seconds: float) -> int:
        """The frame on show ``seconds`` into the recording."""
        return max(bisect.bisect_right(self._times, seconds) - 1, 0)

    def seek_time(self, seconds: float) -> None:
        """Show the frame that was on show ``seconds`` into the recording."""
        self.seek(self.frame_at_time(seconds))

    # -- frames -----------------------------------------------------------------------------------
    def _fields(self, index: int) -> dict[str, object]:
        """The whole frame ``index``: its keyframe, then the deltas up to it."""
        start = self._keyframes[bisect.bisect_right(self._keyframes, index) - 1]
        fields: dict[str, FieldValue] = {}
        for record in self._records[start : index + 1]:
            fields.update(self.file.frame(record).fields)
        fields.pop(TIMELINE_KEY, None)  # the replay is a timeline of its own
        return {key: _owned(value) for key, value in fields.items()}

    def _show(self, index: int, *, topology: bool = False) -> None:
        previous = self._index
        if not topology and index == previous + 1:
            update = self.file.frame(self._records[index]).fields
            update.pop(TIMELINE_KEY, None)
            # Recorded values were validated when they were sent: merged, not re-checked.
            self._frame.merge({key: _owned(value) for key, value in update.items()}, index=index)
            self._index = index
            self._fire(self._times[previous], self._times[index])
            return
        fields = self._fields(index)
        fields[TIMELINE_KEY] = self.timeline_id
        self._index = index
        self._frame.merge(fields, index=index, reset=True)  # type: ignore[arg-type]

    # -- recorded events --------------------------------------------------------------------------
    def on_event(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(kind, value)`` for each recorded transition, selection or state
        change as playback passes its time; returns the function that removes it."""
        with self._listeners_lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    @property
    def events(self) -> list[tuple[float, str, dict[str, Any]]]:
        """Every recorded transition, selection and state change: (time, kind, value)."""
        return [(t, _kind_name(kind, value), value) for t, kind, value in self._events]

    def _fire(self, after: float, until: float) -> None:
        """Hand the listeners the events recorded in (``after``, ``until``]."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        if not listeners:
            return
        for time, kind, value in self._events:
            if after < time <= until:
                for listener in listeners:
                    listener(_kind_name(kind, value), value)

    def _transition_label(self, n: int) -> str:
        return f"t = {self._times[n]:.2f} \u2192 {self._times[n + 1]:.2f} s"

    def __repr__(self) -> str:
        seconds = self._times[-1] - self._times[0]
        return f"<Replay {self.file.path.name!r}: {self._frame_count} frames, {seconds:.1f} s>"

    def close(self) -> None:
        """Stop playing and let go of the file."""
        self.stop()
        self.file.close()


def _kind_name(kind: Kind, value: dict[str, Any]) -> str:
    return "state" if kind is Kind.STATE else str(value.get("kind", "event"))


def replay(path: str | os.PathLike[str], **options: Any) -> Replay:
    """Open a recording for playback (see :class:`Replay` for the options)."""
    return Replay(path, **options)
