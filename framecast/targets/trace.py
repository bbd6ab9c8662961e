"""``Recording``: any labelled sequence of states (a program trace, an experiment) as a
timeline and a playable target."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from framecast.targets.sequence import LoopMode, SequencePlayer

__all__ = ["Recording"]

#: The frame key that holds a state's label.
LABEL_KEY = "state.label"


def _default_to_frame(state: object) -> Mapping[str, object]:
    if isinstance(state, Mapping):
        return state
    return {"state.value": str(state)}


class Recording(SequencePlayer):
    """A timeline of recorded states, not necessarily molecules.

    Parameters
    ----------
    states
        The recorded states, in order. Each is turned into frame fields by ``to_frame``:
        by default a mapping is used as it is, and anything else becomes
        ``{"state.value": str(state)}``.
    labels
        One label per state (for example the instruction or event that produced it).
        Transition ``n`` is labelled ``"labels[n] -> labels[n + 1]"``. Defaults to
        ``"state 0"``, ``"state 1"``, ...
    to_frame
        Turns one state into frame fields (validated like any frame field).
    fps, mode
        Playback rate and end behaviour, as for a trajectory.

    Examples
    --------
    >>> trace = Recording([{"pc": 0x10}, {"pc": 0x14}], labels=["mov", "call"])
    >>> trace.transition(0).label
    'mov \u2192 call'
    """

    def __init__(
        self,
        states: Sequence[object],
        labels: Sequence[str] | None = None,
        *,
        to_frame: Callable[[object], Mapping[str, object]] = _default_to_frame,
        fps: float = 2.0,
        mode: LoopMode = "once",
    ) -> None:
        self._states = list(states)
        if labels is None:
            labels = [f"state {i}" for i in range(len(self._states))]
        if len(labels) != len(self._states):
            raise ValueError(f"got {len(labels)} labels for {len(self._states)} states")
        self._labels = [str(label) for label in labels]
        self._to_frame = to_frame
        super().__init__(len(self._states), None, fps=fps, mode=mode, name="framecast-recording")

    @property
    def labels(self) -> list[str]:
        """The label of each state."""
        return list(self._labels)

    def state(self, index: int) -> object:
        """The recorded state ``index``, as given."""
        return self._states[index]

    def _fields(self, index: int) -> dict[str, object]:
        fields = dict(self._to_frame(self._states[index]))
        fields[LABEL_KEY] = self._labels[index]
        return fields

    def _transition_label(self, n: int) -> str:
        return f"{self._labels[n]} \u2192 {self._labels[n + 1]}"

    def __repr__(self) -> str:
        return f"Recording({self.frame_count} states, fps={self.fps:g}, mode={self._mode!r})"
