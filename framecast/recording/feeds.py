"""Recorders fed from a live source: a server's cores (``Session.record``) or what a client
receives (``Client.record``).

A server's recording takes frames from the publisher as an in-process reader (the values
themselves, nothing encoded for it and not counted as a client), and shared-state changes,
published events and commands from taps on the cores. A client's recording takes frames
from its frame stream (every update: a recording asks for no rate cap), shared-state
changes from its state stream, and published events from the named sessions it joins for
the recording; commands that other clients run are not visible to a client, so a remote
recording has none. Either way the recorder writes on its own thread, so recording never
slows the broadcast.

The client comes in through :class:`RecordedClient`, a ``Protocol``: this row never imports
the client (which sits above it and calls back into here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from typing import Protocol

from framecast.core.cores import Cores
from framecast.frame import FrameUpdate
from framecast.messages import SelectionEvent, SessionEvent, TransitionEvent
from framecast.recording.recorder import DEFAULT_KEYFRAME_INTERVAL, Recorder
from framecast.wire.events import decode_event

__all__ = ["RecordedClient", "record_client", "record_cores"]


class _TappedState(Protocol):
    def tap(
        self,
        tap: Callable[[Mapping[str, bytes | None], bool], None],
        initial: Callable[[Mapping[str, bytes]], None],
    ) -> Callable[[], None]: ...


class _Listener(Protocol):
    def leave(self) -> None: ...


class RecordedClient(Protocol):
    """What a client recording uses of :class:`framecast.Client`."""

    @property
    def address(self) -> str: ...

    @property
    def shared_state(self) -> _TappedState: ...

    @property
    def frame_interval(self) -> float | None: ...

    def join(
        self,
        name: str = ...,
        *,
        on_transition: Callable[[TransitionEvent], None] | None = ...,
        on_selection: Callable[[SelectionEvent], None] | None = ...,
    ) -> _Listener: ...

    def subscribe_frames(
        self,
        callback: Callable[[FrameUpdate], None] | None = ...,
        interval: float = ...,
        *,
        whole: bool = ...,
    ) -> None: ...

    def remove_frame_callback(self, callback: Callable[[FrameUpdate], None]) -> None: ...


def record_cores(
    cores: Cores,
    path: str | os.PathLike[str],
    *,
    source: str,
    keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
    overwrite: bool = False,
) -> Recorder:
    """Start recording what ``cores`` publish into a new file at ``path`` (``source`` names
    them in the file); the recording stops with :meth:`Recorder.stop`."""
    recorder = Recorder(
        path, source=source, keyframe_interval=keyframe_interval, overwrite=overwrite
    )

    def on_event(names: list[str], event: bytes) -> None:
        decoded = decode_event("", event, time.time())
        if decoded is not None:
            recorder.put_event(decoded, names)

    def connect(stack: ExitStack) -> None:
        stack.callback(
            cores.shared_state.tap(
                recorder.put_state, lambda state: recorder.put_state(state, reset=True)
            )
        )
        stack.callback(cores.sessions.taps.add(on_event))
        stack.callback(cores.commands.taps.add(recorder.put_command))
        stack.enter_context(cores.frames.watch(recorder.frames))

    return recorder.feed_from(connect)


def record_client(
    client: RecordedClient,
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
