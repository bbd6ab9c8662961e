"""``Trajectory``: recorded positions, played back at a chosen rate, and a timeline."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from ..timeline import TIMELINE_KEY
from .sequence import LoopMode, SequencePlayer

__all__ = ["LoopMode", "Trajectory"]


class Trajectory(SequencePlayer):
    """Frames of positions (T, N, 3) plus a topology, played at ``fps`` frames per second.

    A trajectory is also a timeline: transition ``n`` goes from frame ``n`` to ``n + 1``.

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
        if topology and "particle.positions" in topology:
            raise ValueError("'particle.positions' belongs in positions, not in topology")
        super().__init__(
            len(self._positions), topology, fps=fps, mode=mode, name="framecast-trajectory"
        )

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
            if key != TIMELINE_KEY:  # a loaded trajectory is a new timeline
                arrays[key.replace(".", "__")] = np.asarray(value)
        np.savez(path, **arrays)  # type: ignore[arg-type]

    @property
    def positions(self) -> npt.NDArray[np.float32]:
        """All positions, (T, N, 3) float32, read-only."""
        return self._positions

    @property
    def times(self) -> npt.NDArray[np.float64] | None:
        """The time of each frame in ps, if known."""
        return self._times

    def _fields(self, index: int) -> dict[str, object]:
        fields: dict[str, object] = {"particle.positions": self._positions[index]}
        if self._times is not None:
            fields["system.simulation.time"] = float(self._times[index])
        return fields

    def _transition_label(self, n: int) -> str:
        if self._times is None:
            return super()._transition_label(n)
        return f"t = {self._times[n]:.3f} \u2192 {self._times[n + 1]:.3f} ps"

    def __repr__(self) -> str:
        n = self._positions.shape[1]
        return (
            f"Trajectory({self.frame_count} frames, {n} particles, "
            f"fps={self.fps:g}, mode={self._mode!r})"
        )
