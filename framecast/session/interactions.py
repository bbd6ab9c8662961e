"""Interactive forces on a session: its shared state's ``interaction.<id>`` keys (NanoVer's
vocabulary) drive the live target, whoever writes them: Python through
:meth:`~framecast.Session.interact`, a gRPC client, a NanoVer client or the notebook viewer.

Every new value of such a key is checked before it is applied (a malformed interaction, a
NaN position, a particle past the system's, or a target that is not a live simulation
refuse the whole change), and the target gets the current set after every change and
whenever it is replaced.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import numpy.typing as npt

from framecast.core.state import SERVER, SharedState
from framecast.targets.engine import LiveEngine
from framecast.targets.interactions import INTERACTION_PREFIX, Interaction, as_position, sequence_of

__all__ = ["InteractionHandle", "SessionInteractions"]

log = logging.getLogger(__name__)


def _refusal(target: object) -> str | None:
    """Why ``target`` cannot be pulled, or None if it can."""
    if isinstance(target, LiveEngine):
        return None
    what = "nothing" if target is None else f"a {type(target).__name__}"
    return (
        f"the session shows {what}, not a live simulation: interactive forces apply to a "
        "Simulation, an OpenMMSimulation or an ASEDynamics while it runs"
    )


class SessionInteractions:
    """The interactions of one session: the validator and the tap on its shared state.

    ``target`` returns what the session shows now, ``particle_count`` its particle count.
    """

    def __init__(
        self,
        state: SharedState,
        target: Callable[[], object],
        particle_count: Callable[[], int | None],
    ) -> None:
        self._target = target
        self._particle_count = particle_count
        self._state = state
        self._lock = threading.Lock()
        self._current: dict[str, Interaction] = {}
        self._state.validators[INTERACTION_PREFIX] = self._check
        self._untap = self._state.tap(self._changed, self._changed)

    def _check(self, key: str, value: object) -> None:
        """Refuse a new interaction value that could not be applied (runs before a change)."""
        reason = _refusal(self._target())
        if reason is not None:
            raise ValueError(reason)
        interaction = Interaction.from_state(value)
        count = self._particle_count()
        if count:
            interaction.check_particles(count)

    def _changed(self, change: Mapping[str, bytes | None]) -> None:
        """A change of the shared state (under its lock): keep the interactions current."""
        touched = [key for key in change if key.startswith(INTERACTION_PREFIX)]
        if not touched:
            return
        with self._lock:
            for key in touched:
                value = change[key]
                self._current.pop(key, None)
                if value is None:
                    continue
                try:
                    self._current[key] = Interaction.from_state(json.loads(value))
                except (TypeError, ValueError) as error:  # written before the check existed
                    log.warning("interaction %r is not applied: %s", key, error)
            current = dict(self._current)
        self._apply(self._target(), current)

    def target_changed(self, target: object) -> None:
        """Hand a new target the current interactions."""
        with self._lock:
            current = dict(self._current)
        self._apply(target, current)

    @staticmethod
    def _apply(target: object, current: dict[str, Interaction]) -> None:
        if isinstance(target, LiveEngine):
            target.set_interactions(current)

    def interact(
        self,
        particles: int | Sequence[int] | npt.ArrayLike,
        position: Sequence[float] | npt.ArrayLike,
        **options: Any,
    ) -> InteractionHandle:
        """Start an interaction from Python (see :meth:`framecast.Session.interact`)."""
        reason = _refusal(self._target())
        if reason is not None:
            raise TypeError(f"cannot interact: {reason}")
        chosen = (particles,) if isinstance(particles, int) else sequence_of(particles)
        interaction = Interaction(position=as_position(position), particles=chosen, **options)
        key = f"{INTERACTION_PREFIX}{uuid.uuid4()}"
        handle = InteractionHandle(self._state, self._target, key, interaction)
        handle._write(interaction)
        return handle

    def close(self) -> None:
        """Remove the tap and the validator."""
        self._untap()
        self._state.validators.pop(INTERACTION_PREFIX, None)


class InteractionHandle:
    """One interaction started from Python: :meth:`move` it, :meth:`stop` it.

    It lives in the shared state under :attr:`key`, so every client sees it (NanoVer's
    clients draw it); a ``with`` block stops it at the end.
    """

    def __init__(
        self,
        state: SharedState,
        target: Callable[[], object],
        key: str,
        interaction: Interaction,
    ) -> None:
        self._state = state
        self._target = target
        self.key = key
        self._interaction = interaction
        self._stopped = False

    @property
    def interaction(self) -> Interaction:
        """The interaction as last written."""
        return self._interaction

    @property
    def active(self) -> bool:
        """True until :meth:`stop` (or until someone removed its key)."""
        return not self._stopped and self.key in self._state

    @property
    def work(self) -> float | None:
        """The work it has done on the system so far (kJ/mol), or None if not applied."""
        target = self._target()
        return target.interaction_work(self.key) if isinstance(target, LiveEngine) else None

    def move(self, position: Sequence[float] | npt.ArrayLike) -> None:
        """Pull toward ``position`` (nm) from the next frame on; a NaN is refused."""
        self.update(position=as_position(position))

    def update(self, **changes: Any) -> None:
        """Change any field of the interaction (``position``, ``scale``, ``kind``, ...)."""
        if self._stopped:
            raise RuntimeError(f"interaction {self.key} was stopped; start a new one")
        self._write(dataclasses.replace(self._interaction, **changes))

    def _write(self, interaction: Interaction) -> None:
        self._state[self.key] = interaction.to_state()
        self._interaction = interaction

    def stop(self) -> None:
        """Stop pulling (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._state.update(SERVER, removals=[self.key])

    def __enter__(self) -> InteractionHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "active" if self.active else "stopped"
        i = self._interaction
        return f"<InteractionHandle {i.kind} {list(i.particles)} -> {list(i.position)} {state}>"
