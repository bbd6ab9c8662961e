"""``Session.record``, and a replay's recorded events re-published by the session.

Frames come from the publisher as an in-process reader (the values themselves, nothing
encoded for it and not counted as a client); shared-state changes, published events and
commands come from taps on the server's cores. The recorder writes on its own thread, so
recording never slows the broadcast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from ._events import decode_event
from .recorder import DEFAULT_KEYFRAME_INTERVAL, Recorder
from .server.state import SERVER
from .targets.replay import Replay

if TYPE_CHECKING:
    from .session import Session

__all__ = ["listen_to", "record_session"]


def record_session(
    session: Session,
    path: str | os.PathLike[str],
    *,
    keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
    overwrite: bool = False,
) -> Recorder:
    """Start recording ``session`` into a new file at ``path``; the recording stops with
    :meth:`Recorder.stop` or when the session closes."""
    if session.closed:
        raise RuntimeError("the session is closed: there is nothing to record")
    app = session.app
    recorder = Recorder(
        path,
        source=f"session {session.name!r} at {session.address}:{session.port}",
        keyframe_interval=keyframe_interval,
        overwrite=overwrite,
    )

    def on_event(names: list[str], event: bytes) -> None:
        decoded = decode_event("", event, time.time())
        if decoded is not None:
            recorder.put_event(decoded, names)

    def connect(stack: ExitStack) -> None:
        stack.callback(
            app.shared_state.tap(
                recorder.put_state, lambda state: recorder.put_state(state, reset=True)
            )
        )
        stack.callback(app.sessions.taps.add(on_event))
        stack.callback(app.commands.taps.add(recorder.put_command))
        stack.enter_context(app.frames.watch(recorder.frames))

    recorder.feed_from(connect)
    session.on_close(recorder.stop)
    return recorder


def listen_to(session: Session, target: object, unlisten: Callable[[], None]) -> Callable[[], None]:
    """What the session does while it shows ``target``: for a :class:`Replay`, re-publish
    its recorded transitions and selections to the tracked sessions, and apply its recorded
    state changes, as playback passes their time. Returns the undo of that and of
    ``unlisten``."""
    if not isinstance(target, Replay):
        return unlisten

    def replayed(kind: str, value: dict[str, Any]) -> None:
        if kind == "transition":
            session.sessions.publish_transition(target.transition(target.frame_index))
        elif kind == "selection":
            session.sessions.publish_selection(value["particles"], label=value.get("label", ""))
        elif kind == "state":
            removed = value.get("removed", [])
            session.shared_state.update(SERVER, value.get("changes", {}), removed)

    remove = target.on_event(replayed)

    def undo() -> None:
        remove()
        unlisten()

    return undo
