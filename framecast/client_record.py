"""``Client.record``: a recorder fed by what a client receives from a remote session.

Frames come from the client's frame stream (every update: a recording asks for no rate
cap), shared-state changes from its state stream, and published events from the named
sessions it joins for the recording. Commands that other clients run are not visible to a
client, so a remote recording has none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING

from .messages import SessionEvent
from .recorder import DEFAULT_KEYFRAME_INTERVAL, Recorder

if TYPE_CHECKING:
    from .client import Client

__all__ = ["record_client"]


def record_client(
    client: Client,
    path: str | os.PathLike[str],
    *,
    sessions: Iterable[str] = ("default",),
    keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
    overwrite: bool = False,
) -> Recorder:
    """Start recording what ``client`` receives into a new file at ``path``."""
    recorder = Recorder(
        path,
        source=f"client of {client.address}",
        keyframe_interval=keyframe_interval,
        overwrite=overwrite,
    )

    def state_changed(change: Mapping[str, bytes | None], reset: bool) -> None:
        recorder.put_state(change, reset=reset)

    def connect(stack: ExitStack) -> None:
        state = client.shared_state
        stack.callback(
            state.tap(state_changed, lambda snapshot: recorder.put_state(snapshot, reset=True))
        )
        for name in dict.fromkeys(sessions):
            put = _put_event(recorder, name)
            listener = client.join(name, on_transition=put, on_selection=put)
            stack.callback(listener.leave)
        # Last, and as a whole frame first: the file starts with a keyframe. A client
        # already subscribed keeps its own interval (one stream per client).
        interval = client.frame_interval
        client.subscribe_frames(recorder.put_frame, interval or 0.0, whole=True)
        stack.callback(client.remove_frame_callback, recorder.put_frame)

    return recorder.feed_from(connect)


def _put_event(recorder: Recorder, name: str) -> Callable[[SessionEvent], None]:
    """The callback that records the events received on the named session ``name``."""
    return lambda event: recorder.put_event(event, [name])
