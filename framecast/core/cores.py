"""``Cores``: the one bundle of transport-free cores that every front door is given.

A session's gRPC server, its NanoVer endpoint and its NATS relay are peers: each is handed
the same :class:`Cores` and serves it in its own form, so what one client changes every
other client sees, whichever door it came through.
"""

from __future__ import annotations

from dataclasses import dataclass

from framecast.core.commands import CommandRegistry
from framecast.core.limits import DEFAULT_LIMITS, Limits
from framecast.core.publisher import FramePublisher
from framecast.core.registry import SessionRegistry, TimelineRegistry
from framecast.core.state import SharedState

__all__ = ["Cores"]


@dataclass(frozen=True)
class Cores:
    """The frame publisher, shared state, commands, named sessions, timelines and limits of
    one server. Made with :meth:`create`; :meth:`close` ends every stream they feed."""

    frames: FramePublisher
    shared_state: SharedState
    commands: CommandRegistry
    sessions: SessionRegistry
    timelines: TimelineRegistry
    limits: Limits

    @classmethod
    def create(cls, limits: Limits = DEFAULT_LIMITS) -> Cores:
        """New, empty cores bounded by ``limits``."""
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a framecast.Limits, got {type(limits).__name__}")
        return cls(
            frames=FramePublisher(max_subscribers=limits.max_frame_subscribers),
            shared_state=SharedState(limits=limits),
            commands=CommandRegistry(),
            sessions=SessionRegistry(limits=limits),
            timelines=TimelineRegistry(),
            limits=limits,
        )

    def close(self) -> None:
        """End every frame, state and session stream; later subscribers end at once."""
        self.frames.close()
        self.shared_state.close()
        self.sessions.close()
