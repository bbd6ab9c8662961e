"""Named client sessions from Python, with the API of REVEN's ``Sessions``.

Two different things are called "session" here, as in the products framecast follows:

- ``framecast.Session`` (narupatools') is the server you start: it owns a port and a target.
- A *client session* (REVEN's) is a name that viewers listen on, inside one server. Viewers
  join ``"default"``, ``"axion"`` and so on; Python *tracks* some of these names, and
  ``session.sessions.publish_transition(tr)`` reaches every viewer listening on a tracked
  one. They print as REVEN prints them, ``Session('axion', 0)`` (a name and how many
  clients are connected now), but their class is :class:`ClientSession`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from framecast.adapters.selection import select
from framecast.core.registry import DEFAULT_SESSION, SessionRegistry, TimelineRegistry
from framecast.timeline import Transition
from framecast.wire.events import encode_selection, encode_transition

__all__ = ["ClientSession", "ClientSessions", "TrackedSessions"]

log = logging.getLogger(__name__)

TransitionHook = Callable[[Transition], None]


class ClientSession:
    """A named session of viewers. ``repr`` reads ``Session('axion', 0)``, as in REVEN."""

    __slots__ = ("_registry", "name")

    def __init__(self, name: str, registry: SessionRegistry) -> None:
        self.name = name
        self._registry = registry

    @property
    def clients(self) -> int:
        """How many clients are connected to this session now."""
        return self._registry.count(self.name)

    def belongs_to(self, registry: SessionRegistry) -> bool:
        """True when this is a session of ``registry`` (of that server)."""
        return self._registry is registry

    def __repr__(self) -> str:
        return f"Session({self.name!r}, {self.clients})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClientSession):
            return NotImplemented
        return self.name == other.name and self._registry is other._registry

    def __hash__(self) -> int:
        return hash(self.name)


SessionLike = str | ClientSession


class TrackedSessions(MutableSequence[ClientSession]):
    """The tracked sessions, as a live list: changes apply to the registry at once.

    It holds the tracked names itself, under its own lock; the :class:`ClientSessions`
    that made it reads them through :meth:`names`. Strings are turned into sessions on the
    way in (``resolve``); client counts are read afresh every time an item is read or
    printed.
    """

    def __init__(
        self,
        names: Iterable[str],
        resolve: Callable[[object], str],
        session: Callable[[str], ClientSession],
    ) -> None:
        self._lock = threading.Lock()
        self._names = _unique(names)
        self._resolve = resolve
        self._session = session

    def names(self) -> list[str]:
        """A copy of the tracked names, in order."""
        with self._lock:
            return list(self._names)

    def replace(self, values: Iterable[object]) -> None:
        """Track exactly ``values`` (names or sessions), in order, each once."""
        names = [self._resolve(value) for value in values]  # all checked before any change
        with self._lock:
            self._names = _unique(names)

    @overload
    def __getitem__(self, index: int) -> ClientSession: ...
    @overload
    def __getitem__(self, index: slice) -> list[ClientSession]: ...
    def __getitem__(self, index: int | slice) -> ClientSession | list[ClientSession]:
        names = self.names()
        if isinstance(index, slice):
            return [self._session(name) for name in names[index]]
        return self._session(names[index])

    @overload
    def __setitem__(self, index: int, value: SessionLike) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[SessionLike]) -> None: ...
    def __setitem__(self, index: int | slice, value: object) -> None:
        if isinstance(index, slice):
            new: str | list[str] = [self._resolve(v) for v in value]  # type: ignore[attr-defined]
        else:
            new = self._resolve(value)
        with self._lock:
            names = list(self._names)
            names[index] = new  # type: ignore[index,assignment]
            self._names = _unique(names)

    def __delitem__(self, index: int | slice) -> None:
        with self._lock:
            del self._names[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)

    def insert(self, index: int, value: SessionLike) -> None:
        """Track ``value`` (a name or a session) at ``index``; already tracked: no change."""
        name = self._resolve(value)
        with self._lock:
            if name not in self._names:
                self._names.insert(index, name)

    def append(self, value: SessionLike) -> None:
        """Track ``value`` (a name or a session) last; already tracked: no change."""
        name = self._resolve(value)
        with self._lock:
            if name not in self._names:
                self._names.append(name)

    def extend(self, values: Iterable[SessionLike]) -> None:
        """Track each of ``values``, in order."""
        for value in list(values):
            self.append(value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (TrackedSessions, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


class ClientSessions:
    """The named client sessions of one server, following REVEN's ``Sessions``.

    Not meant to be constructed directly: use ``session.sessions``.
    """

    def __init__(
        self,
        registry: SessionRegistry,
        timelines: TimelineRegistry,
        *,
        particle_count: Callable[[], int | None] = lambda: None,
        frame_fields: Callable[[], Mapping[str, Any]] = dict,
        on_hook_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._registry = registry
        self._frame_fields = frame_fields
        self._on_hook_error = on_hook_error
        self._timelines = timelines
        self._particle_count = particle_count
        self._lock = threading.Lock()
        self._tracked = TrackedSessions(
            [registry.ensure(DEFAULT_SESSION, pinned=True)], self._name_of, self._session
        )
        self._hooks: list[TransitionHook] = []

    # -- tracked ----------------------------------------------------------------------------
    @property
    def tracked(self) -> TrackedSessions:
        """The list of the currently tracked sessions (a live list).

        Set it to a name, a session, any iterable of those (a generator included), or
        ``None`` to track nothing.
        """
        return self._tracked

    @tracked.setter
    def tracked(self, sessions: SessionLike | Iterable[SessionLike] | None) -> None:
        if sessions is None:
            items: list[object] = []
        elif isinstance(sessions, (str, ClientSession)):
            items = [sessions]
        else:
            try:
                items = list(sessions)
            except TypeError:
                raise TypeError(
                    "tracked takes a session name, a session, an iterable of those, or None; "
                    f"got {type(sessions).__name__}"
                ) from None
        self._tracked.replace(items)

    def _name_of(self, value: object) -> str:
        if isinstance(value, ClientSession):
            if not value.belongs_to(self._registry):
                raise ValueError(f"{value!r} belongs to another server")
            return value.name
        if isinstance(value, str):
            # The server's Python uses this name: it is kept and never refused.
            return self._registry.ensure(value, pinned=True)
        raise TypeError(f"a session is a name (str) or a session, got {type(value).__name__}")

    def _session(self, name: str) -> ClientSession:
        return ClientSession(name, self._registry)

    def __getitem__(self, name: str) -> ClientSession:
        """The session called ``name`` (made known, and kept, if it was not)."""
        return self._session(self._registry.ensure(name, pinned=True))

    # -- listing ------------------------------------------------------------------------------
    def available(self) -> Iterator[ClientSession]:
        """A generator of the sessions known to the server, busiest first.

        Sessions with as many clients keep the order in which the server learnt of them.
        """
        counts = self._registry.counts()
        for name in sorted(counts, key=lambda n: -counts[n]):
            yield self._session(name)

    def active(self) -> Iterator[ClientSession]:
        """A generator of the sessions to which at least one client is currently connected.

        In the order of :meth:`available`, busiest first.
        """
        counts = self._registry.counts()
        for name in sorted(counts, key=lambda n: -counts[n]):
            if counts[name]:
                yield self._session(name)

    # -- publishing -----------------------------------------------------------------------------
    def publish_transition(self, transition: Transition) -> bool:
        """Send the passed transition to all clients listening to the tracked sessions.

        Returns True if there were some clients listening, False otherwise. What a client
        does with it is its own choice: framecast viewers show that moment.
        """
        return self.publish(transition) > 0

    def publish(self, transition: Transition) -> int:
        """Like :meth:`publish_transition`, but return how many clients received it."""
        if not isinstance(transition, Transition):
            raise TypeError(
                f"publish_transition takes a framecast.Transition, got {type(transition).__name__}"
                " (make one with timeline.transition(n))"
            )
        self._timelines.add(transition.timeline)
        event = encode_transition(transition.timeline.timeline_id, transition.id, transition.label)
        received = self._registry.publish(self._tracked.names(), "transition", event)
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            try:
                hook(transition)
            except Exception as error:  # a hook must not undo a publication that was made
                log.exception("a transition hook %r failed", hook)
                if self._on_hook_error is not None:
                    self._on_hook_error(error)
        return received

    def publish_selection(self, particles: npt.ArrayLike | str, *, label: str = "") -> bool:
        """Point viewers on the tracked sessions at these particles of the current frame.

        ``particles`` are indices into the current frame, or a selection string in
        MDAnalysis's language (``"resid 12 and name CA"``, see
        :func:`framecast.adapters.selection.select`). Returns True if there were some
        clients listening. Raises ``ValueError`` for indices that are negative, not
        integers, or beyond the current frame's particle count, and
        :class:`~framecast.adapters.selection.SelectionError` for a bad string.
        """
        return self._publish_selection(particles, label=label) > 0

    def _publish_selection(self, particles: npt.ArrayLike | str, *, label: str = "") -> int:
        """Check and publish a selection; return how many clients received it."""
        if isinstance(particles, str):
            particles = select(particles, self._frame_fields(), allow_empty=True)
        indices = np.asarray(particles)
        if indices.size == 0:
            indices = indices.astype(np.int64)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise ValueError(
                f"a selection is a 1-D sequence of particle indices, got {indices.dtype} "
                f"with shape {indices.shape}"
            )
        if indices.size and int(indices.min()) < 0:
            raise ValueError(f"particle indices must be >= 0, got {int(indices.min())}")
        count = self._particle_count()
        if count is not None and indices.size and int(indices.max()) >= count:
            raise ValueError(
                f"particle {int(indices.max())} is beyond the current frame ({count} particles)"
            )
        event = encode_selection(indices.tolist(), str(label))
        return self._registry.publish(self._tracked.names(), "selection", event)

    def on_transition(self, hook: TransitionHook, *, remove: bool = False) -> None:
        """Call ``hook(transition)`` after each publication (in-process followers).

        A hook that raises is logged and reported by the session's ``health_check()``;
        the publication and the other hooks go on.
        """
        with self._lock:
            if remove:
                self._hooks.remove(hook)
            else:
                self._hooks.append(hook)

    def __repr__(self) -> str:
        return f"<Sessions tracked={self.tracked!r} available={list(self.available())!r}>"
