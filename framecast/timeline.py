"""Timelines and transitions: REVEN's trace model, for any sequence of frames.

A timeline is a sequence of frames (states). Transition ``n`` goes from frame ``n`` to frame
``n + 1``: its ``context_before`` is frame ``n`` and its ``context_after`` is frame
``n + 1``. A trajectory, a recording of program states, or the recent history of a live
simulation are all timelines.

Each timeline has a ``timeline_id`` string that travels on the wire, so viewers can tell
whether a published transition belongs to the timeline they are showing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, overload, runtime_checkable

from framecast._support.display import marimo, mimebundle
from framecast.frame import FrameData

__all__ = ["TIMELINE_KEY", "Timeline", "TimelineBase", "Transition", "TransitionRange"]

#: Frame key that names the timeline a frame belongs to (set by timeline targets).
TIMELINE_KEY = "timeline.id"


@runtime_checkable
class Timeline(Protocol):
    """What ``Transition`` and the session registry need from a timeline."""

    @property
    def timeline_id(self) -> str: ...
    @property
    def transition_count(self) -> int: ...
    def transition(self, n: int) -> Transition: ...
    def context_before(self, n: int) -> FrameData: ...
    def context_after(self, n: int) -> FrameData: ...


class TimelineBase:
    """Implements REVEN's timeline API from three primitives.

    Subclasses provide :meth:`_frame_range` (the frame indices available now),
    :meth:`_context` (a fresh ``FrameData`` for one frame) and may override
    :meth:`_transition_label`. Transition ids are frame indices: a bounded history keeps
    absolute ids, so a transition keeps its id while it stays in the history.
    """

    _timeline_id: str

    @property
    def timeline_id(self) -> str:
        """A string naming this timeline on the wire (unique per timeline object)."""
        try:
            return self._timeline_id
        except AttributeError:
            self._timeline_id = uuid.uuid4().hex
            return self._timeline_id

    @property
    def fingerprint(self) -> str | None:
        """Names the timeline's content, the same in any kernel that holds the same frames,
        so that a saved link finds it again after a restart; None for a timeline whose frames
        are made as it runs (a live simulation's history), which no later run repeats."""
        return None

    def _frame_range(self) -> range:
        raise NotImplementedError  # pragma: no cover - abstract

    def _context(self, frame: int) -> FrameData:
        raise NotImplementedError  # pragma: no cover - abstract

    def _transition_label(self, n: int) -> str:
        return f"frame {n} \u2192 {n + 1}"

    def _transition_range(self) -> range:
        frames = self._frame_range()
        return range(frames.start, max(frames.start, frames.stop - 1))

    def _check(self, n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"a transition id is an int, got {type(n).__name__}")
        valid = self._transition_range()
        if n not in valid:
            if not valid:
                raise IndexError(f"transition {n}: this timeline has no transition yet")
            raise IndexError(
                f"transition {n} is out of range: valid ids are {valid.start}..{valid.stop - 1}"
            )
        return n

    @property
    def transition_count(self) -> int:
        """How many transitions are available now."""
        return len(self._transition_range())

    def transition(self, n: int) -> Transition:
        """Transition ``n`` (from frame ``n`` to frame ``n + 1``); ``IndexError`` if absent."""
        return Transition(self, self._check(n), self._transition_label(n))

    def transitions(self, start: int | None = None, stop: int | None = None) -> TransitionRange:
        """Transitions ``start`` (default: the first) up to ``stop`` (excluded; default: all).

        Raises ``IndexError`` when ``start`` or ``stop`` lies outside the timeline, as
        :meth:`transition` does for one id: a range never quietly holds fewer rows than
        asked. ``stop <= start`` is an empty range.
        """
        valid = self._transition_range()
        for bound, value, last in (("start", start, valid.stop - 1), ("stop", stop, valid.stop)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{bound} is a transition id (an int), got {value!r}")
            if not valid.start <= value <= last:
                have = f"ids {valid.start}..{valid.stop - 1}" if valid else "no transition yet"
                raise IndexError(
                    f"transitions({start}, {stop}): {bound} {value} is out of range "
                    f"(this timeline has {have})"
                )
        low = valid.start if start is None else start
        high = valid.stop if stop is None else stop
        return TransitionRange(self, range(low, max(low, high)))

    @property
    def first_transition(self) -> Transition:
        """The first transition available; ``IndexError`` when there is none."""
        return self.transition(self._transition_range().start)

    @property
    def last_transition(self) -> Transition:
        """The last transition available; ``IndexError`` when there is none."""
        valid = self._transition_range()
        return self.transition(valid.stop - 1 if valid else valid.start)

    @property
    def frame_range(self) -> range:
        """The indices of the frames available now."""
        return self._frame_range()

    def context(self, frame: int) -> FrameData:
        """Frame ``frame`` as a new ``FrameData``; ``IndexError`` if it is not available."""
        frames = self._frame_range()
        if isinstance(frame, bool) or not isinstance(frame, int) or frame not in frames:
            raise IndexError(
                f"frame {frame!r} is not available: frames are {frames.start}..{frames.stop - 1}"
            )
        return self._context(frame)

    def context_before(self, n: int) -> FrameData:
        """The frame before transition ``n`` (frame ``n``), as a new ``FrameData``."""
        return self._context(self._check(n))

    def context_after(self, n: int) -> FrameData:
        """The frame after transition ``n`` (frame ``n + 1``), as a new ``FrameData``."""
        return self._context(self._check(n) + 1)


class Transition:
    """One step of a timeline: from frame ``id`` to frame ``id + 1``.

    Transitions are equal, and hash, by timeline and id. ``tr + 1`` and ``tr - 1`` move
    along the timeline and raise ``IndexError`` past either end.
    """

    __slots__ = ("id", "label", "timeline")

    def __init__(self, timeline: TimelineBase, id: int, label: str = "") -> None:
        self.timeline = timeline
        self.id = id
        self.label = label

    def context_before(self) -> FrameData:
        """The frame this transition starts from."""
        return self.timeline.context_before(self.id)

    def context_after(self) -> FrameData:
        """The frame this transition leads to."""
        return self.timeline.context_after(self.id)

    def __add__(self, steps: int) -> Transition:
        if not isinstance(steps, int):
            return NotImplemented
        return self.timeline.transition(self.id + steps)

    def __sub__(self, steps: int) -> Transition:
        if not isinstance(steps, int):
            return NotImplemented
        return self.timeline.transition(self.id - steps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transition):
            return NotImplemented
        return self.id == other.id and self.timeline.timeline_id == other.timeline.timeline_id

    def __hash__(self) -> int:
        return hash((self.timeline.timeline_id, self.id))

    def __repr__(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"<Transition #{self.id}{label}>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook: a link that publishes this transition when clicked (drawn by
        the notebook layer, through the hook table of :mod:`framecast._support.display`). A dict,
        or ``(data, metadata)`` where the front end needs metadata (Colab)."""
        return mimebundle(self, **kwargs) or {"text/plain": repr(self)}

    def _display_(self) -> Any:
        """In marimo: the same links, as a widget (see :mod:`framecast._support.display`)."""
        return marimo(self)


ContextSpec = str | Callable[[Transition], object] | None
_DEFAULT_CONTEXT = "system.simulation.time"


class TransitionRange(Sequence[Transition]):
    """A lazy sequence of consecutive transitions of one timeline.

    In a notebook it shows as a table of links with a context column: by default the
    simulation time when frames have one; see :meth:`with_context`.
    """

    def __init__(
        self,
        timeline: TimelineBase,
        ids: range,
        context: ContextSpec = _DEFAULT_CONTEXT,
        context_name: str = "",
    ) -> None:
        self.timeline = timeline
        self.ids = ids
        self.context = context
        self.context_name = context_name

    def with_context(self, context: ContextSpec, name: str = "") -> TransitionRange:
        """The same range, showing ``context`` in its table's second column.

        ``context`` is a frame key (read from each transition's ``context_before``, for
        example ``"energy.potential"``), a function of the transition, or None.
        """
        return TransitionRange(self.timeline, self.ids, context, name)

    def shown_context(self) -> tuple[ContextSpec, str]:
        """The context column a table of this range shows, and its heading.

        The default (simulation time) is headed "time (ps)"; a frame key that the first
        frame lacks means no column at all.
        """
        context, name = self.context, self.context_name
        if context == _DEFAULT_CONTEXT and not name:
            name = "time (ps)"
        if (
            isinstance(context, str)
            and self.ids
            and context not in self.timeline.context_before(self.ids[0])
        ):
            context, name = None, ""  # frames without that key: no context column
        return context, name

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """In a notebook: a table of links, one per transition (see :meth:`shown_context`).
        A dict, or ``(data, metadata)`` where the front end needs metadata (Colab)."""
        return mimebundle(self, **kwargs) or {"text/plain": repr(self)}

    def _display_(self) -> Any:
        """In marimo: the same links, as a widget (see :mod:`framecast._support.display`)."""
        return marimo(self)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Transition: ...
    @overload
    def __getitem__(self, index: slice) -> TransitionRange: ...
    def __getitem__(self, index: int | slice) -> Transition | TransitionRange:
        if isinstance(index, slice):
            return TransitionRange(self.timeline, self.ids[index], self.context, self.context_name)
        return self.timeline.transition(self.ids[index])

    def __iter__(self) -> Iterator[Transition]:
        for n in self.ids:
            yield self.timeline.transition(n)

    def __repr__(self) -> str:
        if not self.ids:
            return "<TransitionRange (empty)>"
        return f"<TransitionRange #{self.ids.start}..#{self.ids[-1]} ({len(self.ids)} transitions)>"

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, TransitionRange):
            return NotImplemented
        return self.timeline.timeline_id == other.timeline.timeline_id and self.ids == other.ids

    __hash__ = None  # type: ignore[assignment]
