"""What a plot draws over the timeline: a scalar of each frame.

A series is a frame key (``"energy.potential"``), a function of a frame's fields, or the
distance between two selections (:func:`distance`). Each gives one number per frame, or NaN
where the frame lacks it (the plot draws a gap, not a zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from framecast.adapters.selection import Selection, describe, select
from framecast.targets.trajectory import Trajectory

__all__ = ["Distance", "Series", "distance", "series_of"]

#: Units of the standard keys, as the axis says them.
UNITS = {
    "energy.kinetic": "kJ/mol",
    "energy.potential": "kJ/mol",
    "energy.total": "kJ/mol",
    "energy.user.total": "kJ/mol",
    "forces.user.work_done": "kJ/mol",
    "system.simulation.time": "ps",
    "system.temperature": "K",
}


class Series:
    """One number per frame, named and with its unit."""

    def __init__(
        self,
        name: str,
        unit: str,
        value: Callable[[Mapping[str, Any]], float],
        key: str | None = None,
    ) -> None:
        self.name = name
        self.unit = unit
        self._value = value
        #: The frame key read, for a series of one key.
        self.key = key

    def column(self, trajectory: Trajectory) -> np.ndarray[Any, Any] | None:
        """Every frame's value at once, from a trajectory held in memory; None when the
        values must be read frame by frame."""
        if self.key is None or trajectory.streamed:
            return None
        column = trajectory.column(self.key)
        if column is not None:
            return column
        # Not a per-frame field: every frame has the first one's value (or none: a gap).
        first = trajectory.context(trajectory.frame_range.start).snapshot()
        return np.full(trajectory.frame_count, self.value(first))

    def value(self, fields: Mapping[str, Any]) -> float:
        """The series' value for a frame's fields; NaN when the frame lacks it."""
        try:
            number = float(self._value(fields))
        except (KeyError, TypeError, ValueError, IndexError):
            return math.nan
        return number if math.isfinite(number) else math.nan

    def __repr__(self) -> str:
        return f"Series({self.name!r}, unit={self.unit!r})"


class Distance(Series):
    """The distance (nm) between the centres of two selections, frame by frame. The
    selections are evaluated once, against the first frame the plot reads."""

    def __init__(self, a: Selection, b: Selection) -> None:
        super().__init__(f"distance {describe(a)} \u2013 {describe(b)}", "nm", self._distance)
        self.a, self.b = a, b
        self._indices: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None

    def _distance(self, fields: Mapping[str, Any]) -> float:
        positions = np.asarray(fields["particle.positions"], dtype=np.float64)
        if self._indices is None:
            self._indices = (select(self.a, fields), select(self.b, fields))
        a, b = self._indices
        return float(np.linalg.norm(positions[a].mean(axis=0) - positions[b].mean(axis=0)))

    def column(self, trajectory: Trajectory) -> np.ndarray[Any, Any] | None:
        if trajectory.streamed:
            return None
        if self._indices is None:
            first = trajectory.context(trajectory.frame_range.start).snapshot()
            self._indices = (select(self.a, first), select(self.b, first))
        a, b = self._indices
        positions = trajectory.positions
        centres = positions[:, a].mean(axis=1) - positions[:, b].mean(axis=1)
        distances: np.ndarray[Any, Any] = np.linalg.norm(centres.astype(np.float64), axis=1)
        return distances


def distance(a: Selection, b: Selection) -> Distance:
    """A series for a plot: the distance between selections ``a`` and ``b`` (MDAnalysis
    strings or indices), in nm."""
    return Distance(a, b)


def series_of(spec: object) -> Series:
    """A :class:`Series` from what a user passes: a frame key, a function of a frame's
    fields, or a series. ``TypeError`` names anything else."""
    if isinstance(spec, Series):
        return spec
    if isinstance(spec, str):
        key = spec

        def read(fields: Mapping[str, Any]) -> float:
            value = fields[key]
            return float(np.asarray(value).reshape(-1)[0]) if np.ndim(value) else float(value)

        return Series(key, UNITS.get(key, ""), read, key=key)
    if callable(spec):
        name = getattr(spec, "__name__", "value")
        return Series("value" if name == "<lambda>" else name, "", spec)
    raise TypeError(
        f"a series is a frame key, a function of a frame or framecast.distance(a, b); "
        f"got {type(spec).__name__}"
    )
