"""Plain records that travel between server and client, shared by both sides."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommandInfo", "SelectionEvent", "SessionEvent", "TransitionEvent"]


@dataclass(frozen=True)
class CommandInfo:
    """A command as clients see it: its arguments with defaults (None when required)."""

    name: str
    arguments: dict[str, object]
    description: str


@dataclass(frozen=True)
class TransitionEvent:
    """A transition published to a session a client listens on."""

    session: str
    timeline: str
    transition: int
    label: str
    publish_time: float
    receive_time: float


@dataclass(frozen=True)
class SelectionEvent:
    """A set of particles published to a session a client listens on."""

    session: str
    particles: tuple[int, ...]
    label: str
    publish_time: float
    receive_time: float


SessionEvent = TransitionEvent | SelectionEvent
