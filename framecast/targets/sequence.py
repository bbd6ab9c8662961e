"""``SequencePlayer``: plays a finite sequence of frames, and is a timeline of them.

``Trajectory`` (positions plus a topology) and ``Recording`` (any labelled states) share
everything here: playback rate, loop/bounce/once, seek and step back, and REVEN's
transition API.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from framecast.frame import FrameData, validate_field
from framecast.targets.base import Player
from framecast.timeline import TIMELINE_KEY, TimelineBase

__all__ = ["LoopMode", "SequencePlayer"]

LoopMode = Literal["loop", "bounce", "once"]
_LOOP_MODES: tuple[LoopMode, ...] = ("loop", "bounce", "once")


class SequencePlayer(Player, TimelineBase):
    """Frames ``0 .. frame_count - 1`` played at ``fps``; subclasses say what a frame holds.

    Subclasses implement :meth:`_fields` (the fields of one frame that change from frame
    to frame); ``topology`` holds the fields shared by every frame, sent once.
    """

    def __init__(
        self,
        frame_count: int,
        topology: Mapping[str, object] | None,
        *,
        fps: float,
        mode: LoopMode,
        name: str,
    ) -> None:
        if frame_count < 1:
            raise ValueError(f"a sequence needs at least one frame, got {frame_count}")
        self._frame_count = frame_count
        self._topology = {
            key: validate_field(key, value) for key, value in (topology or {}).items()
        }
        self._topology[TIMELINE_KEY] = self.timeline_id
        super().__init__(interval=_interval_for(fps), name=name)
        self._mode: LoopMode = _check_mode(mode)
        self._direction = 1
        self._index = 0
        self._frame = FrameData()
        self._show(0, topology=True)

    def _fields(self, index: int) -> dict[str, object]:
        """The per-frame fields of frame ``index``."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- properties ---------------------------------------------------------------------------
    @property
    def frame(self) -> FrameData:
        """The frame being shown; the session broadcasts it."""
        return self._frame

    @property
    def frame_count(self) -> int:
        """The number of frames."""
        return self._frame_count

    def __len__(self) -> int:
        return self._frame_count

    @property
    def frame_index(self) -> int:
        """The index of the frame being shown."""
        return self._index

    @property
    def fps(self) -> float:
        """Playback rate in frames per second."""
        return 1.0 / self.interval

    @fps.setter
    def fps(self, value: float) -> None:
        self.interval = _interval_for(value)

    @property
    def mode(self) -> LoopMode:
        """What happens at the ends: ``"loop"``, ``"bounce"`` or ``"once"``."""
        return self._mode

    @mode.setter
    def mode(self, value: LoopMode) -> None:
        self._mode = _check_mode(value)

    # -- navigation -----------------------------------------------------------------------------
    def seek(self, index: int) -> None:
        """Show frame ``index`` (negative counts from the end). Raises ``IndexError``."""
        count = self._frame_count
        if not -count <= index < count:
            raise IndexError(f"frame {index} is out of range for {count} frames")
        with self._advance_lock:
            self._show(index % count)

    def step_back(self) -> None:
        """Pause, then show the previous frame (wrapping in loop mode)."""
        self.pause()
        with self._advance_lock:
            previous = self._index - 1
            if previous < 0:
                previous = self._frame_count - 1 if self._mode == "loop" else 0
            self._show(previous)

    def _advance(self) -> None:
        last = self._frame_count - 1
        nxt = self._index + self._direction
        if self._mode == "loop":
            nxt %= last + 1
        elif self._mode == "bounce":
            if not 0 <= nxt <= last:
                self._direction = -self._direction
                nxt = min(max(self._index + self._direction, 0), last)
        elif nxt > last:
            nxt = last
            self.pause()
        self._show(nxt)

    def _rewind(self) -> None:
        self._direction = 1
        self._show(0)

    def _show(self, index: int, *, topology: bool = False) -> None:
        if index == self._index and not topology:
            return  # on show already: nothing changed, nothing to send again
        fields = self._fields(index)
        if topology:
            fields.update(self._topology)
        self._index = index
        self._frame.update(fields, index=index)

    # -- timeline ---------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """A digest of the frame count, the topology and the fields of the first, middle and
        last frames: equal for the same data loaded again, in any kernel. Computed once
        (three frames read, whatever the length)."""
        try:
            return self._fingerprint
        except AttributeError:
            pass
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{type(self).__name__} {self._frame_count}".encode())
        topology = {k: v for k, v in self._topology.items() if k != TIMELINE_KEY}
        _digest_fields(digest, topology)
        last = self._frame_count - 1
        for index in sorted({0, last // 2, last}):
            _digest_fields(digest, self._fields(index))
        self._fingerprint: str = digest.hexdigest()
        return self._fingerprint

    def _frame_range(self) -> range:
        return range(self._frame_count)

    def to_file(self, path: str | os.PathLike[str], *, frames: Sequence[int] | None = None) -> Path:
        """Write the frames (default: all) to ``path`` in the format its name gives (XTC,
        DCD, TRR, PDB, GRO, ...), through MDAnalysis (the ``mdanalysis`` extra)."""
        from framecast.export.files import to_file

        return to_file(self, path, frames=frames)

    def _context(self, frame: int) -> FrameData:
        context = FrameData(self._topology, index=frame)
        context.update(self._fields(frame))
        return context


def _digest_fields(digest: hashlib.blake2b, fields: Mapping[str, object]) -> None:
    """Feed ``fields`` to ``digest`` in key order: arrays by dtype, shape and bytes, other
    values by their repr."""
    for key in sorted(fields):
        value = fields[key]
        digest.update(key.encode())
        if isinstance(value, np.ndarray):
            digest.update(f"{value.dtype.str}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).data)
        else:
            digest.update(repr(value).encode())


def _interval_for(fps: float) -> float:
    if not fps > 0 or fps == float("inf"):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    return 1.0 / fps


def _check_mode(mode: str) -> LoopMode:
    if mode not in _LOOP_MODES:
        raise ValueError(f"mode must be one of {', '.join(_LOOP_MODES)}; got {mode!r}")
    return mode
