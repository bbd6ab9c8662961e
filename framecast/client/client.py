"""``framecast.Client``: frames, shared state and commands from a framecast server.

A client is thread-safe: callbacks run on the client's stream threads, and every public
method may be called from any thread.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import framecast.wire.methods as wire
from framecast._proto import command_pb2, frame_pb2, sessions_pb2
from framecast._support.names import check_name
from framecast._support.threads import BackgroundTask
from framecast.client.listener import SessionListener
from framecast.client.remote_state import RemoteSharedState
from framecast.errors import (
    CommandArgumentError,
    CommandFailedError,
    FramecastError,
    UnknownCommandError,
)
from framecast.frame import FrameData, FrameUpdate
from framecast.messages import CommandInfo, SelectionEvent, TransitionEvent
from framecast.recording.feeds import record_client
from framecast.recording.recorder import Recorder
from framecast.timeline import TIMELINE_KEY
from framecast.transports.base import CALL_TIMEOUT, CallError, Carrier, Stream, exception_for
from framecast.transports.connect import PEM, connect
from framecast.wire.codec import decode_json, encode_json, parse_update

__all__ = ["Client", "FrameCallback", "FrameUpdate", "RemoteSharedState"]

log = logging.getLogger(__name__)


FrameCallback = Callable[[FrameUpdate], None]


class Client:
    """A connection to a framecast server.

    Parameters
    ----------
    address
        ``"host:port"`` (for example ``"127.0.0.1:38801"``) or a ``framecast://host:port``
        URL, which may carry ``?token=...`` (``session.url``); or a session relayed
        through NATS, ``nats://host:4222/<session name>`` (``session.relay_url``; NATS
        credentials and TLS go in that URL, see
        :func:`framecast.transports.nats.wire.parse_nats_url`).
    token
        The server's token, if it needs one. Default: the URL's, else the
        ``FRAMECAST_TOKEN`` environment variable, else none.
    tls
        Speak TLS: ``True`` to trust the system's certificate authorities, or the PEM
        certificate to trust (a path or bytes), such as a self-signed server certificate.
    connect_timeout
        Seconds to wait for the server; ``ConnectionError`` after that.
    access_token
        Identifies this client for shared-state locks; a random one by default.

    A server that refuses the token raises ``PermissionError`` here, at once.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        tls: bool | PEM | None = None,
        connect_timeout: float = 5.0,
        access_token: str | None = None,
    ) -> None:
        self.access_token = access_token or uuid.uuid4().hex
        self._carrier: Carrier = connect(address, token=token, tls=tls, timeout=connect_timeout)
        self.address = self._carrier.address
        self._listeners: list[SessionListener] = []
        # Reentrant: wait_for_frame evaluates the caller's predicate under this lock, and a
        # predicate may well read client properties.
        self._lock = threading.RLock()
        self._frame_ready = threading.Condition(self._lock)
        self._frame = FrameData()
        self._updates_received = 0
        self._callbacks: list[FrameCallback] = []
        self._frame_interval: float | None = None
        self._frame_call: Stream[FrameUpdate] | None = None
        self._frame_task: BackgroundTask | None = None
        #: Set once the frame stream has ended (the server went, or the client closed).
        self.frames_ended = threading.Event()
        self._state: RemoteSharedState | None = None
        self._closed = False

    # -- frames -----------------------------------------------------------------------------------
    def subscribe_frames(
        self,
        callback: FrameCallback | None = None,
        interval: float = 1 / 30,
        *,
        whole: bool = False,
    ) -> None:
        """Receive frames, at most one every ``interval`` seconds (0: every update).

        ``client.frame`` then follows the server. ``callback(update)`` is called on the
        client's stream thread for each update; one failing callback is logged and does
        not stop the stream or the other callbacks. A second call adds another callback
        to the same stream; asking for a different interval then raises ``ValueError``.
        With ``whole``, a callback added to a running stream first gets the current frame
        as a reset (a new stream's first update is one anyway).
        """
        if not interval >= 0:
            raise ValueError(f"interval must be >= 0 seconds, got {interval}")
        with self._lock:
            self._check_open()
            if callback is not None:
                if whole and self._frame_interval is not None:
                    frame = self._frame
                    callback(FrameUpdate(frame.index, frame.snapshot(), True, 0.0))
                self._callbacks.append(callback)
            if self._frame_interval is not None:
                if interval != self._frame_interval:
                    raise ValueError(
                        f"already subscribed with interval {self._frame_interval}; "
                        "one client has one frame stream"
                    )
                return
            self._frame_interval = interval
            call = self._carrier.frames(interval)
            self._frame_call = call
            self._frame_task = BackgroundTask(
                "framecast-client-frames", lambda stop: self._consume_frames(call)
            )
            self._frame_task.start()

    @property
    def frame_interval(self) -> float | None:
        """The frame stream's minimum interval, None before :meth:`subscribe_frames`."""
        return self._frame_interval

    def remove_frame_callback(self, callback: FrameCallback) -> None:
        """Stop calling ``callback`` with updates (the stream itself goes on)."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def _consume_frames(self, call: Stream[FrameUpdate]) -> None:
        try:
            for update in call:
                with self._lock:
                    self._frame.merge(update.fields, index=update.frame_index, reset=update.reset)
                    self._updates_received += 1
                    self._frame_ready.notify_all()
                    callbacks = list(self._callbacks)
                for callback in callbacks:
                    try:
                        callback(update)
                    except Exception:
                        log.exception("frame callback %r failed", callback)
        except CallError as error:
            raise ConnectionError(
                f"frame stream from {self.address} ended: {error.message}"
            ) from None
        finally:
            self.frames_ended.set()
            with self._lock:
                self._frame_ready.notify_all()

    @property
    def frame(self) -> FrameData:
        """The merged current frame (a live object: it changes as updates arrive)."""
        return self._frame

    @property
    def updates_received(self) -> int:
        """How many frame updates arrived so far."""
        with self._lock:
            return self._updates_received

    def wait_for_frame(
        self,
        predicate: Callable[[FrameData], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> FrameData:
        """Wait for an update after this call, and for ``predicate(frame)`` to hold.

        Returns :attr:`frame`; raises ``TimeoutError`` after ``timeout`` seconds and
        ``ConnectionError`` if the stream ended. Subscribes with the default interval if
        :meth:`subscribe_frames` was not called.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            # Counted before subscribing, so that the first frame of a stream this call
            # opens counts as "after this call" even if it arrives at once.
            seen = self._updates_received
            if self._frame_interval is None:
                self.subscribe_frames()
            while True:
                if self._updates_received > seen and (predicate is None or predicate(self._frame)):
                    return self._frame
                ended = self._frame_stream_end()
                if ended is not None:
                    message, error = ended
                    raise ConnectionError(message) from error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching frame from {self.address} within {timeout:g} s"
                    )
                self._frame_ready.wait(remaining)

    def frame_stream_ended(self, timeout: float = 0.0) -> str | None:
        """Why the frame stream ended (the server's own words when it gave a reason), or
        None while it runs or before :meth:`subscribe_frames`. Waits up to ``timeout``
        seconds for a stream that is ending (:attr:`frames_ended` is set first)."""
        task = self._frame_task
        if task is not None and self.frames_ended.is_set():
            concurrent.futures.wait([task.future], timeout=timeout)
        with self._lock:
            ended = self._frame_stream_end()
        return None if ended is None else ended[0]

    def _frame_stream_end(self) -> tuple[str, BaseException | None] | None:
        task = self._frame_task
        if task is None or not task.future.done():
            return None
        error = task.future.exception() if task.future.done() else None
        # The stream's own error names why (a limit of the server's, say).
        return (str(error) if error else f"frame stream from {self.address} ended"), error

    def get_frame(self) -> FrameData:
        """Fetch the whole current frame once, without subscribing."""
        message = self._carrier.unary(wire.GET_FRAME, frame_pb2.GetFrameRequest())
        decoded = parse_update(message)
        frame = FrameData()
        frame.merge(decoded.fields, index=decoded.frame_index, reset=True)
        return frame

    # -- named sessions -------------------------------------------------------------------------
    def join(
        self,
        name: str = "default",
        *,
        follow: bool = False,
        on_transition: Callable[[TransitionEvent], None] | None = None,
        on_selection: Callable[[SelectionEvent], None] | None = None,
    ) -> SessionListener:
        """Listen on the named session ``name``; returns once the server counts this client.

        With ``follow=True``, a published transition of the timeline this client receives
        frames of (``frame["timeline.id"]``) replaces :attr:`frame` with that transition's
        first frame (its ``context_before``). ``on_transition`` and ``on_selection`` are
        registered before the first event can arrive (a callback added later with
        :meth:`SessionListener.on_transition` misses what came before it; the listener's
        iterator has every event). Raises ``ValueError`` for an unusable name.
        """
        check_name(name, what="session name")
        with self._lock:
            self._check_open()
        call = self._carrier.join(name)
        try:
            first = next(call)
        except StopIteration:
            raise ConnectionError(f"cannot join {name!r}: the stream ended") from None
        except CallError as error:
            raise exception_for(error, ValueError) or ConnectionError(
                f"cannot join {name!r}: {error.message}"
            ) from None
        listener = SessionListener(
            call,
            name,
            first.joined.clients,
            self._follow if follow else None,
            on_transition=on_transition,
            on_selection=on_selection,
        )
        with self._lock:
            self._listeners.append(listener)
        return listener

    def sessions(self) -> dict[str, int]:
        """Every named session the server knows, with its client count now."""
        response = self._carrier.unary(wire.LIST_SESSIONS, sessions_pb2.ListSessionsRequest())
        return {info.name: info.clients for info in response.sessions}

    def context(self, timeline: str, transition: int, *, after: bool = False) -> FrameData:
        """The frame before (or ``after``) a transition of a timeline the server knows.

        Raises ``LookupError`` for an unknown timeline and ``IndexError`` for a transition
        that is not available.
        """
        request = sessions_pb2.GetContextRequest(
            timeline=timeline, transition=transition, after=after
        )
        try:
            message = self._carrier.unary(wire.GET_CONTEXT, request)
        except CallError as error:
            raise exception_for(error, IndexError, LookupError) or error from None
        decoded = parse_update(message)
        frame = FrameData()
        frame.merge(decoded.fields, index=decoded.frame_index, reset=True)
        return frame

    def _follow(self, event: TransitionEvent) -> None:
        if self._frame.get(TIMELINE_KEY) != event.timeline:
            return  # not the timeline this client shows
        context = self.context(event.timeline, event.transition)
        with self._lock:
            self._frame.merge(context.snapshot(), index=context.index, reset=True)
            self._updates_received += 1
            self._frame_ready.notify_all()

    def record(self, path: str | os.PathLike[str], **options: Any) -> Recorder:
        """Record what this client receives into a new file: frames, the shared state and
        the events of the named sessions ``sessions`` (default ``("default",)``);
        ``keyframe_interval``, ``overwrite``: see
        :func:`~framecast.recording.feeds.record_client`. Stop it with ``.stop()`` or a
        ``with`` block."""
        return record_client(self, path, **options)

    # -- shared state -----------------------------------------------------------------------------
    @property
    def shared_state(self) -> RemoteSharedState:
        """The server's shared state, kept in sync; first access waits for a snapshot.

        Raises ``ConnectionError`` with the server's reason when it refuses the state
        stream (a limit, named); a later access tries again.
        """
        with self._lock:
            self._check_open()
            if self._state is None:
                self._state = RemoteSharedState(self._carrier, self.access_token)
            state = self._state
        try:
            state.wait_synced(CALL_TIMEOUT)
        except ConnectionError:
            with self._lock:
                if self._state is state:
                    self._state = None
            state.close()
            raise
        return state

    # -- commands ---------------------------------------------------------------------------------
    @property
    def commands(self) -> dict[str, CommandInfo]:
        """The server's commands by name, with their arguments and descriptions."""
        response = self._carrier.unary(wire.GET_COMMANDS, command_pb2.GetCommandsRequest())
        return {
            info.name: CommandInfo(
                info.name,
                dict(decode_json(info.arguments, what="arguments") or {}),  # type: ignore[call-overload]
                info.description,
            )
            for info in response.commands
        }

    def run_command(self, name: str, /, **arguments: object) -> object:
        """Run a command on the server and return its (JSON) result.

        Raises :class:`UnknownCommandError`, :class:`CommandArgumentError`, or
        :class:`CommandFailedError` carrying the server's message and status code.
        """
        try:
            payload = encode_json(arguments)
        except ValueError as error:
            raise CommandArgumentError(f"arguments of {name!r}: {error}") from None
        request = command_pb2.RunCommandRequest(name=name, arguments=payload)
        try:
            response = self._carrier.unary(wire.RUN_COMMAND, request)
        except CallError as error:
            known = exception_for(error, UnknownCommandError, CommandArgumentError)
            raise known or CommandFailedError(error.message, error.code.name) from None
        return decode_json(response.result, what="command result")

    # -- lifecycle --------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise FramecastError("this client is closed")

    def close(self) -> None:
        """Cancel every stream, join the client's threads and close the channel. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            call, task, state = self._frame_call, self._frame_task, self._state
            listeners = list(self._listeners)
        for listener in listeners:
            listener.leave()
        if call is not None:
            call.cancel()
        if task is not None:
            task.stop()
        if state is not None:
            state.close()
        self._carrier.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<framecast.Client {self.address}{' closed' if self._closed else ''}>"
