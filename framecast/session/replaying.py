"""A replay's recorded events, re-published by the session as playback passes them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from framecast.core.state import SERVER, SharedState
from framecast.recording.replay import Replay
from framecast.session.named import ClientSessions

__all__ = ["listen_to"]


def listen_to(
    sessions: ClientSessions,
    shared_state: SharedState,
    target: object,
    unlisten: Callable[[], None],
) -> Callable[[], None]:
    """What a session does while it shows ``target``: for a :class:`Replay`, re-publish
    its recorded transitions and selections to the tracked sessions, and apply its recorded
    state changes, as playback passes their time. Returns the undo of that and of
    ``unlisten``."""
    if not isinstance(target, Replay):
        return unlisten

    def replayed(kind: str, value: dict[str, Any]) -> None:
        if kind == "transition":
            sessions.publish_transition(target.transition(target.frame_index))
        elif kind == "selection":
            sessions.publish_selection(value["particles"], label=value.get("label", ""))
        elif kind == "state":
            removed = value.get("removed", [])
            shared_state.update(SERVER, value.get("changes", {}), removed)

    remove = target.on_event(replayed)

    def undo() -> None:
        remove()
        unlisten()

    return undo
