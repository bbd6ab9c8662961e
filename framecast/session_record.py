"""``Session.record``: a recorder fed by the session's own cores, in this process.

Frames come from the publisher as an in-process reader (the values themselves, nothing
encoded for it and not counted as a client); shared-state changes, published events and
commands come from taps on the server's cores. The recorder writes on its own thread, so
recording never slows the broadcast.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING

from ._events import decode_event
from .recorder import DEFAULT_KEYFRAME_INTERVAL, Recorder

if TYPE_CHECKING:
    from .session import Session

__all__ = ["record_session"]


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
    stack = ExitStack()

    def on_event(names: list[str], event: bytes) -> None:
        decoded = decode_event("", event, time.time())
        if decoded is not None:
            recorder.put_event(decoded, names)

    try:
        stack.callback(
            app.shared_state.tap(
                recorder.put_state, lambda state: recorder.put_state(state, reset=True)
            )
        )
        stack.callback(app.sessions.taps.add(on_event))
        stack.callback(app.commands.taps.add(recorder.put_command))
        stack.enter_context(app.frames.watch(recorder.frames))
    except BaseException:
        stack.close()
        recorder.stop()
        raise
    recorder.on_stop(stack.close)
    session.on_close(recorder.stop)
    return recorder
