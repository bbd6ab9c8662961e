"""``Trajectory``: recorded frames, played back at a chosen rate, and a timeline.

A trajectory's frames live in memory (an array of positions plus optional per-frame fields)
or are read on demand from a :class:`FrameReader`, for files too large to load: an adapter
such as :func:`framecast.from_mdanalysis` picks one or the other by size. Either way the
trajectory is the same target: play, seek, step back, transitions and the viewer's cache.
"""

from __future__ import annotations

import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from framecast.frame import TIME_KEY, validate_field
from framecast.targets.sequence import LoopMode, SequencePlayer
from framecast.timeline import TIMELINE_KEY

__all__ = ["ArrayReader", "CachedReader", "FrameReader", "LoopMode", "Trajectory"]


@runtime_checkable
class FrameReader(Protocol):
    """Reads the per-frame fields of frame ``index`` of a fixed sequence, on demand.

    ``read(index)`` returns ``particle.positions`` (N, 3) in nm and any other field that
    changes from frame to frame (``system.simulation.time``, ``system.box.vectors``, ...).
    It may be called from several threads; :class:`CachedReader` adds the locking.
    """

    @property
    def frame_count(self) -> int: ...
    @property
    def particle_count(self) -> int: ...
    def read(self, index: int) -> dict[str, object]: ...


class ArrayReader:
    """Frames held in memory: positions (T, N, 3) plus per-frame fields (T, ...)."""

    def __init__(
        self, positions: npt.ArrayLike, fields: Mapping[str, npt.ArrayLike] | None = None
    ) -> None:
        array = np.asarray(positions)
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1:
            raise ValueError(f"positions must have shape (T, N, 3) with T >= 1, got {array.shape}")
        if array.dtype.kind not in "iuf":
            raise ValueError(f"positions must be numeric, got dtype {array.dtype}")
        self.positions = np.ascontiguousarray(array, dtype="<f4")
        self.positions.setflags(write=False)
        self.fields: dict[str, npt.NDArray[np.generic]] = {}
        for key, values in (fields or {}).items():
            column = np.array(values)  # a copy: freezing it must not freeze the caller's
            if column.ndim < 1 or len(column) != len(array):
                raise ValueError(
                    f"per-frame field {key!r} must have {len(array)} rows (one per frame), "
                    f"got shape {column.shape}"
                )
            validate_field(key, column[0])  # fails now, naming the key, not while playing
            column.setflags(write=False)
            self.fields[key] = column

    @property
    def frame_count(self) -> int:
        return len(self.positions)

    @property
    def particle_count(self) -> int:
        return int(self.positions.shape[1])

    def read(self, index: int) -> dict[str, object]:
        out: dict[str, object] = {"particle.positions": self.positions[index]}
        for key, column in self.fields.items():
            value = column[index]
            out[key] = value.item() if value.ndim == 0 else value
        return out


class CachedReader:
    """Serialises reads of another reader and keeps its last ``size`` frames decoded.

    File readers keep one cursor, so two threads (the player, the viewer's cache, a link
    asking for a transition's context) must not read at once; and playback in bounce mode or
    a scrub back and forth reads the same frames again.
    """

    def __init__(self, reader: FrameReader, size: int = 8) -> None:
        self._reader = reader
        self._size = max(1, size)
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, dict[str, object]] = OrderedDict()

    @property
    def frame_count(self) -> int:
        return self._reader.frame_count

    @property
    def particle_count(self) -> int:
        return self._reader.particle_count

    def read(self, index: int) -> dict[str, object]:
        with self._lock:
            fields = self._cache.get(index)
            if fields is None:
                fields = self._reader.read(index)
                self._cache[index] = fields
                if len(self._cache) > self._size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(index)
            return dict(fields)


#: Most bytes a deflated member may expand to per byte stored (deflate itself cannot pass
#: 1032), plus a margin for small members.
_NPZ_RATIO, _NPZ_SLACK = 1100, 1 << 20


def _check_npz_sizes(path: str | os.PathLike[str]) -> None:
    """Refuse an ``.npz`` whose arrays claim more bytes than their members hold, before numpy
    allocates them (a lying header would make it try terabytes)."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: np.load says what it is
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.file_size > info.compress_size * _NPZ_RATIO + _NPZ_SLACK:
                raise ValueError(
                    f"{info.filename} claims {info.file_size} bytes from {info.compress_size} "
                    "stored, more than compression can give"
                )
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size:
                raise ValueError(
                    f"{info.filename} claims an array of shape {tuple(shape)} "
                    f"({claimed} bytes) in {info.file_size} bytes"
                )


def _check_bonds(pairs: object, particles: int) -> None:
    """``ValueError`` for a bond naming a particle that is not there."""
    array = np.asarray(pairs)
    # Only a well-formed (k, 2) integer array: any other is refused by its field's check.
    if array.ndim == 2 and array.shape[1] == 2 and array.size and array.dtype.kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= particles:
            bad = low if low < 0 else high
            raise ValueError(f"'bond.pairs' names particle {bad}, out of range for {particles}")


class Trajectory(SequencePlayer):
    """Frames of positions plus a topology, played at ``fps`` frames per second.

    A trajectory is also a timeline: transition ``n`` goes from frame ``n`` to ``n + 1``.

    Parameters
    ----------
    positions
        Array of shape (T, N, 3) in nm, T >= 1, or a :class:`FrameReader` that reads frames
        on demand (a streamed file).
    topology
        Fields shared by every frame (``particle.elements``, ``bond.pairs``,
        ``system.box.vectors``, ``particle.names``, ...), validated like any frame field.
    times
        Optional simulation time of each frame in ps, shape (T,).
    fields
        Optional per-frame fields, each an array whose first axis is the frame (for example
        ``{"system.box.vectors": boxes}`` with boxes (T, 3, 3) for a changing box).
    fps
        Playback rate in frames per second.
    mode
        ``"loop"`` starts again after the last frame, ``"bounce"`` plays back and forth,
        ``"once"`` pauses on the last frame.
    """

    def __init__(
        self,
        positions: npt.ArrayLike | FrameReader,
        topology: Mapping[str, object] | None = None,
        *,
        times: npt.ArrayLike | None = None,
        fields: Mapping[str, npt.ArrayLike] | None = None,
        fps: float = 30.0,
        mode: LoopMode = "loop",
    ) -> None:
        if isinstance(positions, FrameReader):
            if times is not None or fields:
                raise ValueError("a FrameReader gives its own times and fields")
            self._reader: FrameReader = CachedReader(positions)
            self._arrays: ArrayReader | None = None
        else:
            per_frame = dict(fields or {})
            if times is not None:
                t = np.asarray(times, dtype=float)
                count = len(np.asarray(positions))
                if t.shape != (count,):
                    raise ValueError(f"times must have shape ({count},), got {t.shape}")
                per_frame[TIME_KEY] = t
            self._arrays = ArrayReader(positions, per_frame)
            self._reader = self._arrays
        if topology and "particle.positions" in topology:
            raise ValueError("'particle.positions' belongs in positions, not in topology")
        if topology and "bond.pairs" in topology and self._arrays is not None:
            _check_bonds(topology["bond.pairs"], self._arrays.particle_count)
        super().__init__(
            self._reader.frame_count, topology, fps=fps, mode=mode, name="framecast-trajectory"
        )

    @classmethod
    def from_npz(cls, path: str | os.PathLike[str], **kwargs: object) -> Trajectory:
        """Load a trajectory saved by :meth:`save_npz`.

        The file holds ``positions`` (T, N, 3) and optionally ``times`` (T,) and any frame
        key with dots written as ``__`` (``particle__elements``, ``bond__pairs``, ...).

        Raises ``FileNotFoundError`` for a missing file, and ``ValueError`` naming the
        file for one that is not such an ``.npz`` or whose positions are not all finite.
        """
        name = os.fspath(path)
        try:
            _check_npz_sizes(path)
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds one array, not named arrays")
            with loaded as data:
                if "positions" not in data:
                    raise ValueError("it has no 'positions' array")
                positions = data["positions"]
                topology = {
                    key.replace("__", "."): data[key]
                    for key in data.files
                    if key not in ("positions", "times")
                }
                times = data.get("times")
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {name!r}") from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as error:
            reason = " ".join(str(error).split())
            raise ValueError(f"{name!r} is not a framecast .npz trajectory: {reason}") from None
        if positions.dtype.kind == "f" and positions.dtype.itemsize > 4:
            # Served as float32: a finite 1e300 would travel as inf.
            with np.errstate(over="ignore"):
                positions = positions.astype(np.float32)
        if positions.dtype.kind == "f" and not np.isfinite(positions).all():
            frame = int(np.argwhere(~np.isfinite(positions))[0][0])
            raise ValueError(f"{name!r}: positions of frame {frame} are not finite (NaN or inf)")
        return cls(positions, topology, times=times, **kwargs)  # type: ignore[arg-type]

    def save_npz(self, path: str | os.PathLike[str]) -> None:
        """Write this trajectory in the format :meth:`from_npz` reads.

        A streamed trajectory is read whole to write it; per-frame fields other than the
        time are not kept.
        """
        arrays: dict[str, npt.ArrayLike] = {"positions": self.frame_positions()}
        times = self.times
        if times is not None:
            arrays["times"] = times
        for key, value in self._topology.items():
            if key != TIMELINE_KEY:  # a loaded trajectory is a new timeline
                arrays[key.replace(".", "__")] = np.asarray(value)
        np.savez(path, **arrays)  # type: ignore[arg-type]

    @property
    def streamed(self) -> bool:
        """True when frames are read from a file on demand rather than held in memory."""
        return self._arrays is None

    @property
    def particle_count(self) -> int:
        """The number of particles N."""
        return self._reader.particle_count

    @property
    def positions(self) -> npt.NDArray[np.float32]:
        """All positions, (T, N, 3) float32 in nm, read-only.

        Raises ``RuntimeError`` for a streamed trajectory, whose frames are not all in
        memory: use :meth:`frame_positions` to read a range of them.
        """
        if self._arrays is None:
            raise RuntimeError(
                "this trajectory is streamed from a file and not held in memory; "
                "read a range of frames with frame_positions(start, stop)"
            )
        return self._arrays.positions

    def frame_positions(self, start: int = 0, stop: int | None = None) -> npt.NDArray[np.float32]:
        """Positions of frames ``start`` to ``stop`` (excluded), (count, N, 3) float32 in nm.

        In memory this is a read-only view; streamed, the frames are read from the file.
        """
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        if self._arrays is not None:
            return self._arrays.positions[start:stop]
        out = np.empty((max(stop - start, 0), self.particle_count, 3), dtype="<f4")
        for row, index in enumerate(range(start, stop)):
            out[row] = np.asarray(self._reader.read(index)["particle.positions"])
        return out

    def column(self, key: str) -> npt.NDArray[np.float64] | None:
        """Every frame's value of the per-frame scalar field ``key``, as one array, when the
        trajectory holds its frames in memory; None otherwise (streamed, absent, or not one
        number a frame)."""
        if self._arrays is None:
            return None
        values = self._arrays.fields.get(key)
        if values is None:
            return None
        array = np.asarray(values)
        if array.ndim != 1 or array.dtype.kind not in "iuf":
            return None
        return array.astype(np.float64)

    @property
    def times(self) -> npt.NDArray[np.float64] | None:
        """The time of each frame in ps, if known (read from every frame when streamed)."""
        if self._arrays is not None:
            column = self._arrays.fields.get(TIME_KEY)
            return None if column is None else np.asarray(column, dtype=float)
        times = [self._reader.read(i).get(TIME_KEY) for i in range(self.frame_count)]
        if any(t is None for t in times):
            return None
        return np.array(times, dtype=float)

    def _fields(self, index: int) -> dict[str, object]:
        return self._reader.read(index)

    def _time(self, index: int) -> float | None:
        value = self._reader.read(index).get(TIME_KEY)
        return None if value is None else float(value)  # type: ignore[arg-type]

    def _transition_label(self, n: int) -> str:
        before, after = self._time(n), self._time(n + 1)
        if before is None or after is None:
            return super()._transition_label(n)
        return f"t = {before:.3f} \u2192 {after:.3f} ps"

    def __repr__(self) -> str:
        how = ", streamed" if self.streamed else ""
        return (
            f"Trajectory({_count(self.frame_count, 'frame')}, "
            f"{_count(self.particle_count, 'particle')}, "
            f"fps={self.fps:g}, mode={self._mode!r}{how})"
        )


def _count(n: int, noun: str) -> str:
    """``1 frame``, ``2 frames``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
