"""``LiveEngine``: a playable, timeline target around another library's MD engine.

An adapter (OpenMM, ASE) says how to advance its engine, how to read the current frame, and
how to save and restore the engine's state. This class gives it the rest, as for the built-in
:class:`~framecast.Simulation`: steps run on their own thread (play, pause, step, restart,
run, stop), every frame is checked for non-finite values, and a bounded history of recent
frames makes the run a timeline, so transition links and ``seek`` work on it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Self, TypeVar

import numpy as np

from framecast.frame import FieldValue, FrameData
from framecast.targets.base import Player
from framecast.targets.interactions import Interaction, UserForces, box_lengths
from framecast.timeline import TIMELINE_KEY, TimelineBase

__all__ = ["LiveEngine"]

#: What an engine saves to resume from: its own state object.
EngineState = TypeVar("EngineState")


@dataclass(frozen=True)
class _Kept(Generic[EngineState]):
    """One frame of the history: what was shown, and the engine state to resume from."""

    frame: int
    fields: dict[str, FieldValue]
    state: EngineState


class LiveEngine(Player, TimelineBase, Generic[EngineState]):
    """Plays an external engine: ``steps_per_frame`` engine steps per frame.

    Subclasses implement :meth:`_engine_step`, :meth:`_engine_fields`,
    :meth:`_engine_save` and :meth:`_engine_load`, and call :meth:`_start` at the end of
    their ``__init__`` with the topology.
    """

    def __init__(self, *, steps_per_frame: int, interval: float, history: int, name: str) -> None:
        if isinstance(steps_per_frame, bool) or not isinstance(steps_per_frame, int):
            raise TypeError(f"steps_per_frame must be an int, got {steps_per_frame!r}")
        if steps_per_frame < 1:
            raise ValueError(f"steps_per_frame must be >= 1, got {steps_per_frame}")
        if isinstance(history, bool) or not isinstance(history, int) or history < 0:
            raise ValueError(f"history must be an int >= 0 frames, got {history!r}")
        super().__init__(interval=interval, name=name)
        self.steps_per_frame = steps_per_frame
        self._history: deque[_Kept[EngineState]] = deque(maxlen=history)
        self._history_lock = threading.Lock()
        self._frame = FrameData()
        self._frame_index = 0
        self._topology: dict[str, FieldValue] = {}
        self._callbacks: list[Callable[[Any], None]] = []
        self._callbacks_lock = threading.Lock()
        self._user = UserForces()
        self._user_lock = threading.Lock()
        self._masses: np.ndarray[Any, np.dtype[np.float64]] | None = None

    # -- to implement -----------------------------------------------------------------------------
    def _engine_step(self, steps: int) -> None:
        """Advance the engine by ``steps`` integration steps."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _engine_fields(self) -> Mapping[str, object]:
        """The current frame's fields: ``particle.positions`` in nm, energies, time."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _engine_save(self) -> EngineState:
        """A copy of everything needed to resume from now (positions, velocities, time)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _engine_load(self, state: EngineState) -> None:
        """Put the engine back in a state returned by :meth:`_engine_save`."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _engine_masses(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Every particle's mass in amu (read once, for interactive forces)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _engine_push(self, forces: np.ndarray[Any, np.dtype[np.float64]] | None) -> None:
        """Add ``forces`` ((N, 3), kJ/(mol nm)) to the engine's own over the next steps;
        None removes them."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- setup ------------------------------------------------------------------------------------
    def _start(self, topology: Mapping[str, object]) -> None:
        """Validate the topology, remember the starting state, and publish frame 0."""
        frame = FrameData(topology)
        frame[TIMELINE_KEY] = self.timeline_id
        self._topology = frame.snapshot()
        self._initial = self._engine_save()
        # Validated and frozen above: merged as they are, so that the frame, the history's
        # contexts and the clients share one copy of the topology.
        self._frame.merge(self._topology, index=0)
        self._publish()

    # -- public state -----------------------------------------------------------------------------
    @property
    def frame(self) -> FrameData:
        """The latest frame; the session broadcasts it."""
        return self._frame

    @property
    def frame_index(self) -> int:
        """The index of the latest frame (0 at the start or after a restart)."""
        return self._frame_index

    @property
    def history_size(self) -> int:
        """How many recent frames are kept at most."""
        return self._history.maxlen or 0

    def on_step(self, callback: Callable[[Self], None], *, remove: bool = False) -> None:
        """Call ``callback(engine)`` after every frame, on the engine's thread.

        An exception raised by a callback stops the engine and is re-raised by
        ``health_check()`` (of the engine or of the session showing it).
        """
        with self._callbacks_lock:
            if remove:
                self._callbacks.remove(callback)
            else:
                self._callbacks.append(callback)

    # -- interactive forces -------------------------------------------------------------------
    def set_interactions(self, interactions: Mapping[str, Interaction]) -> None:
        """Apply these interactions (id -> :class:`~framecast.targets.interactions.Interaction`)
        from the next frame on, replacing the previous ones; an empty mapping stops them.

        The session calls this with the ``interaction.*`` keys of its shared state.
        """
        with self._user_lock:
            self._user.set(interactions)

    @property
    def interactions(self) -> dict[str, Interaction]:
        """The interactions applied now."""
        with self._user_lock:
            return self._user.active

    def interaction_work(self, key: str) -> float | None:
        """The work interaction ``key`` has done (kJ/mol), or None if it is not applied."""
        with self._user_lock:
            return self._user.work(key)

    def _push_user_forces(self) -> None:
        """Compute the interactions' forces at the current positions and hand them to the
        engine for this frame's steps (once they stop, the engine's forces are cleared)."""
        with self._user_lock:
            if not self._user.active and not self._user.used:
                return
            if self._masses is None:
                self._masses = np.asarray(self._engine_masses(), dtype=float)
            positions = np.asarray(self._frame["particle.positions"], dtype=float)
            forces = self._user.forces(positions, self._masses, box_lengths(self._frame))
        self._engine_push(forces)

    # -- Player -----------------------------------------------------------------------------------
    def _advance(self) -> None:
        self._push_user_forces()
        self._engine_step(self.steps_per_frame)
        self._frame_index += 1
        self._publish()
        with self._callbacks_lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(self)

    def _rewind(self) -> None:
        with self._history_lock:
            self._history.clear()
        self._engine_load(self._initial)
        with self._user_lock:
            self._user.reset()
        self._frame_index = 0
        self._publish()

    def _publish(self) -> None:
        """Read the engine, refuse a frame that is not finite, show it and keep it."""
        engine_fields = dict(self._engine_fields())
        with self._user_lock:
            if self._user.used:
                positions = np.asarray(engine_fields["particle.positions"], dtype=float)
                self._user.account(positions, box_lengths(engine_fields))
                engine_fields.update(self._user.fields())
        fields = FrameData(engine_fields).snapshot()  # validated before anything
        _check_finite(type(self).__name__, self._frame_index, fields)
        if self._history.maxlen:
            kept = _Kept(self._frame_index, fields, self._engine_save())
            with self._history_lock:
                self._history.append(kept)
        # Validated and frozen above: merge stores them as they are, without a second copy.
        self._frame.merge(fields, index=self._frame_index)

    # -- history and timeline ---------------------------------------------------------------------
    def seek(self, frame: int) -> None:
        """Resume from kept frame ``frame``; later frames leave the history.

        Raises ``IndexError`` when the frame is not kept.
        """
        with self._advance_lock:
            kept = self._kept(frame)
            with self._history_lock:
                while self._history and self._history[-1].frame > frame:
                    self._history.pop()
            self._engine_load(kept.state)
            self._frame_index = frame
            self._frame.merge(kept.fields, index=frame)

    def step_back(self) -> None:
        """Pause, then resume from the kept frame before the one on show; later frames
        leave the history, as with :meth:`seek`.

        Raises ``IndexError`` when no earlier frame is kept (``history=0``, or the first
        kept frame is on show).
        """
        self.pause()
        with self._advance_lock:
            try:
                self.seek(self._frame_index - 1)
            except IndexError as error:
                raise IndexError(
                    f"cannot step back from frame {self._frame_index}: {error} "
                    f"(history={self.history_size} frames)"
                ) from None

    @property
    def can_step_back(self) -> bool:
        """True when an earlier frame is kept, so :meth:`step_back` can go to it."""
        with self._history_lock:
            return bool(self._history) and self._history[0].frame < self._frame_index

    def _kept(self, frame: int) -> _Kept[EngineState]:
        with self._history_lock:
            first = self._history[0].frame if self._history else 0
            offset = frame - first
            if self._history and 0 <= offset < len(self._history):
                kept = self._history[offset]
                if kept.frame == frame:
                    return kept
            span = f"{first}..{self._history[-1].frame}" if self._history else "none"
        raise IndexError(f"frame {frame} is not in the history (kept: {span})")

    def to_file(self, path: str | os.PathLike[str], *, frames: Sequence[int] | None = None) -> Path:
        """Write the kept history (default: every frame in it) to ``path`` in the format
        its name gives (XTC, DCD, TRR, PDB, GRO, ...), through MDAnalysis (the
        ``mdanalysis`` extra)."""
        from framecast.export.files import to_file

        return to_file(self, path, frames=frames)

    def _frame_range(self) -> range:
        with self._history_lock:
            if not self._history:
                return range(0)
            return range(self._history[0].frame, self._history[-1].frame + 1)

    def _context(self, frame: int) -> FrameData:
        context = FrameData(index=frame)
        context.merge({**self._topology, **self._kept(frame).fields}, index=frame, reset=True)
        return context

    def _transition_label(self, n: int) -> str:
        before = self._kept(n).fields.get("system.simulation.time")
        after = self._kept(n + 1).fields.get("system.simulation.time")
        if isinstance(before, float) and isinstance(after, float):
            return f"t = {before:.3f} \u2192 {after:.3f} ps"
        return super()._transition_label(n)


def _check_finite(engine: str, frame: int, fields: Mapping[str, FieldValue]) -> None:
    """Raise ``FloatingPointError`` naming the engine, the frame and the bad field."""
    for key, value in fields.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            bad = ~np.isfinite(value)
            if bad.any():
                rows = np.flatnonzero(
                    bad.reshape(len(value), -1).any(axis=1) if value.ndim else bad
                )
                shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
                raise FloatingPointError(
                    f"{engine}: non-finite {key!r} at frame {frame} (rows {shown}); the "
                    "simulation has blown up: check the time step and the starting structure"
                )
        elif isinstance(value, float) and not np.isfinite(value):
            raise FloatingPointError(
                f"{engine}: {key!r} is {value} at frame {frame}; the simulation has blown up"
            )
