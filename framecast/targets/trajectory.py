"""``Trajectory``: a recorded sequence of frames, played back at a chosen rate."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..frame import FrameData, validate_field
from .base import Player

__all__ = ["LoopMode", "Trajectory"]

LoopMode = Literal["loop", "bounce", "once"]
_LOOP_MODES: tuple[LoopMode, ...] = ("loop", "bounce", "once")


class Trajectory(Player):
    """Frames of positions (T, N, 3) plus a topology, played at ``fps`` frames per second.

    Parameters
    ----------
    positions
        Array of shape (T, N, 3) in nm, T >= 1.
    topology
        Fields shared by every frame (``particle.elements``, ``bond.pairs``,
        ``system.box.vectors``, ``particle.names``, ...), validated like any frame field.
    times
        Optional simulation time of each frame in ps, shape (T,).
    fps
        Playback rate in frames per second.
    mode
        ``"loop"`` starts again after the last frame, ``"bounce"`` plays back and forth,
        ``"once"`` pauses on the last frame.
    """

    def __init__(
        self,
        positions: npt.ArrayLike,
        topology: Mapping[str, object] | None = None,
        *,
        times: npt.ArrayLike | None = None,
        fps: float = 30.0,
        mode: LoopMode = "loop",
    ) -> None:
        array = np.asarray(positions)
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1:
            raise ValueError(f"positions must have shape (T, N, 3) with T >= 1, got {array.shape}")
        if array.dtype.kind not in "iuf":
            raise ValueError(f"positions must be numeric, got dtype {array.dtype}")
        self._positions = np.ascontiguousarray(array, dtype="<f4")
        self._positions.setflags(write=False)
        self._times: npt.NDArray[np.float64] | None = None
        if times is not None:
            t = np.asarray(times, dtype=float)
            if t.shape != (len(self._positions),):
                raise ValueError(f"times must have shape ({len(self._positions)},), got {t.shape}")
            self._times = t
        self._topology = {
            key: validate_field(key, value) for key, value in (topology or {}).items()
        }
        if "particle.positions" in self._topology:
            raise ValueError("'particle.positions' belongs in positions, not in topology")
        super().__init__(interval=_interval_for(fps), name="framecast-trajectory")
        self._mode: LoopMode = _check_mode(mode)
        self._direction = 1
        self._index = 0
        self._frame = FrameData()
        self._show(0, topology=True)

    # -- construction helpers ---------------------------------------------------------------------
    @classmethod
    def from_npz(cls, path: str | os.PathLike[str], **kwargs: object) -> Trajectory:
        """Load a trajectory saved by :meth:`save_npz`.

        The file holds ``positions`` (T, N, 3) and optionally ``times`` (T,) and any frame
        key with dots written as ``__`` (``particle__elements``, ``bond__pairs``, ...).
        """
        with np.load(path, allow_pickle=False) as data:
            if "positions" not in data:
                raise ValueError(f"{os.fspath(path)!r} has no 'positions' array")
            topology = {
                name.replace("__", "."): data[name]
                for name in data.files
                if name not in ("positions", "times")
            }
            times = data.get("times")
            return cls(data["positions"], topology, times=times, **kwargs)  # type: ignore[arg-type]

    def save_npz(self, path: str | os.PathLike[str]) -> None:
        """Write this trajectory in the format :meth:`from_npz` reads."""
        arrays: dict[str, npt.ArrayLike] = {"positions": self._positions}
        if self._times is not None:
            arrays["times"] = self._times
        for key, value in self._topology.items():
            arrays[key.replace(".", "__")] = np.asarray(value)
        np.savez(path, **arrays)  # type: ignore[arg-type]

    # -- properties -------------------------------------------------------------------------------
    @property
    def frame(self) -> FrameData:
        """The frame being shown; the session broadcasts it."""
        return self._frame

    @property
    def frame_count(self) -> int:
        """The number of frames T."""
        return len(self._positions)

    def __len__(self) -> int:
        return self.frame_count

    @property
    def frame_index(self) -> int:
        """The index of the frame being shown."""
        return self._index

    @property
    def positions(self) -> npt.NDArray[np.float32]:
        """All positions, (T, N, 3) float32, read-only."""
        return self._positions

    @property
    def fps(self) -> float:
        """Playback rate in frames per second."""
        return 0.0 if self.interval == 0 else 1.0 / self.interval

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

    # -- navigation -------------------------------------------------------------------------------
    def seek(self, index: int) -> None:
        """Show frame ``index`` (negative counts from the end). Raises ``IndexError``."""
        count = self.frame_count
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
                previous = self.frame_count - 1 if self._mode == "loop" else 0
            self._show(previous)

    def _advance(self) -> None:
        last = self.frame_count - 1
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
        fields: dict[str, object] = {"particle.positions": self._positions[index]}
        if self._times is not None:
            fields["system.simulation.time"] = float(self._times[index])
        if topology:
            fields.update(self._topology)
        self._index = index
        self._frame.update(fields, index=index)

    def __repr__(self) -> str:
        n = self._positions.shape[1]
        return (
            f"Trajectory({self.frame_count} frames, {n} particles, "
            f"fps={self.fps:g}, mode={self._mode!r})"
        )


def _interval_for(fps: float) -> float:
    if not fps > 0 or fps == float("inf"):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    return 1.0 / fps


def _check_mode(mode: str) -> LoopMode:
    if mode not in _LOOP_MODES:
        raise ValueError(f"mode must be one of {', '.join(_LOOP_MODES)}; got {mode!r}")
    return mode
