"""``RemoteSharedState``: a client's view of a server's shared state, kept in sync."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from google.protobuf.message import Message

import framecast.wire.methods as wire
from framecast._proto import state_pb2
from framecast._support.taps import Taps
from framecast._support.threads import BackgroundTask
from framecast.client.versioned import VersionedView
from framecast.errors import AbsentClientError, LimitExceededError, StateLockedError
from framecast.transports.base import CallError, Carrier, exception_for
from framecast.wire.codec import encode_json

__all__ = ["RemoteSharedState"]


class RemoteSharedState(MutableMapping[str, object]):
    """A client's view of the shared state: reads are local, writes go to the server.

    A write is applied on the server as one change, or refused whole with
    :class:`~framecast.errors.StateLockedError` when another client holds a lock. The
    server numbers every change (a version): a value in this view is replaced only by one
    of the same or a newer version, so the client's own write never overwrites a newer
    value that another writer's change already brought, and the view converges to the
    server's.

    While this view is open the client is *present*: its locks and the keys it wrote with
    ``owned=True`` last until it closes or its connection ends.
    """

    def __init__(self, carrier: Carrier, token: str) -> None:
        self._token = token
        self._carrier = carrier
        self._changed = threading.Condition()
        self._view = VersionedView()
        self._synced = False
        self._ended: str | None = None
        self._first = True
        #: Called on the stream's thread with each change received (key to JSON bytes,
        #: None for a removed key), and True for the first message (the snapshot starts).
        self.taps: Taps[[Mapping[str, bytes | None], bool]] = Taps()
        self._call = carrier.state(token, 0.0)
        self._task = BackgroundTask("framecast-client-state", lambda stop: self._consume())
        self._task.start()

    def _consume(self) -> None:
        try:
            for change in self._call:
                with self._changed:
                    if change.reset:
                        self._view.reset()
                    self._view.receive(
                        change.version,
                        change.updates,
                        change.removals,
                        more=change.more,
                        snapshot=change.snapshot,
                    )
                    # A new origin's snapshot replaces everything, for taps as at the start.
                    first, self._first = self._first or change.reset, False
                    if not change.more:
                        self._synced = True
                    self._changed.notify_all()
                if self.taps:
                    received: dict[str, bytes | None] = dict(change.updates)
                    received.update(dict.fromkeys(change.removals))
                    self.taps(received, first)
        except CallError as error:
            with self._changed:
                self._ended = error.message
        finally:
            with self._changed:
                self._ended = self._ended or "the server ended it"
                self._changed.notify_all()

    def wait_synced(self, timeout: float) -> None:
        """Wait for the whole first snapshot from the server.

        Raises ``ConnectionError`` with the server's reason (a limit it names, for one)
        if the state stream ended first, and ``TimeoutError`` after ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._synced or self._ended, timeout):
                raise TimeoutError(f"no shared-state snapshot within {timeout:g} s")
            if not self._synced:
                raise ConnectionError(f"the shared-state stream ended: {self._ended}")

    def tap(
        self,
        tap: Callable[[Mapping[str, bytes | None], bool], None],
        initial: Callable[[Mapping[str, bytes]], None],
    ) -> Callable[[], None]:
        """Hand ``initial`` the state as received so far (key to JSON bytes), then ``tap``
        every change received, with none between the two; returns the tap's removal."""
        with self._changed:
            initial({key: encode_json(value) for key, value in self._decoded().items()})
            return self.taps.add(tap)

    def wait_for(
        self, predicate: Callable[[dict[str, object]], bool], *, timeout: float = 5.0
    ) -> dict[str, object]:
        """Wait until ``predicate(state_as_dict)`` holds; ``TimeoutError`` otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._decoded()), timeout):
                raise TimeoutError(f"shared state did not reach the condition within {timeout:g} s")
            return self._decoded()

    def _decoded(self) -> dict[str, object]:
        return {key: json.loads(value) for key, value in self._view.values.items()}

    # -- Mapping ----------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> object:
        with self._changed:
            data = self._view.values[key]
        return json.loads(data)

    def __iter__(self) -> Iterator[str]:
        with self._changed:
            return iter(list(self._view.values))

    def __len__(self) -> int:
        with self._changed:
            return len(self._view.values)

    def to_dict(self) -> dict[str, object]:
        """A copy of the whole state as last received."""
        with self._changed:
            return self._decoded()

    @property
    def version(self) -> int:
        """The server's state version this view is complete up to."""
        with self._changed:
            return self._view.complete

    def __repr__(self) -> str:
        return f"RemoteSharedState({self.to_dict()!r})"

    # -- writes -----------------------------------------------------------------------------------
    def __setitem__(self, key: str, value: object) -> None:
        self.change({key: value})

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.change(removals=[key])

    def change(
        self,
        updates: Mapping[str, object] | None = None,
        removals: list[str] | None = None,
        *,
        owned: bool = False,
    ) -> int:
        """Set ``updates`` and remove ``removals`` on the server, as one change.

        With ``owned``, the updated keys belong to this client: the server removes them
        when it leaves (closes, or its connection ends). Returns the change's version.
        """
        encoded: dict[str, bytes] = {}
        for key, value in (updates or {}).items():
            try:
                encoded[key] = encode_json(value)
            except ValueError as error:
                raise ValueError(f"state key {key!r}: {error}") from None
        request = state_pb2.UpdateStateRequest(
            access_token=self._token,
            change=state_pb2.StateChange(updates=encoded, removals=removals or []),
            owned=owned,
        )
        response = self._unary(wire.UPDATE_STATE, request)
        if not response.success:
            raise StateLockedError(response.locked_keys)
        with self._changed:
            # Applied locally at once, so a read right after a write sees it, unless the
            # stream already brought a newer version of a key.
            self._view.own_write(response.version, encoded, removals or [])
            self._changed.notify_all()
        return int(response.version)

    def lock(self, key: str, duration: float) -> None:
        """Lock ``key`` for ``duration`` seconds; others' writes to it are then refused.

        The lock ends sooner if this client leaves (closes, or its connection ends).
        """
        request = state_pb2.UpdateLocksRequest(access_token=self._token, acquire={key: duration})
        response = self._unary(wire.UPDATE_LOCKS, request)
        if not response.success:
            raise StateLockedError(response.locked_keys)

    def unlock(self, key: str) -> None:
        """Release this client's lock on ``key``."""
        request = state_pb2.UpdateLocksRequest(access_token=self._token, release=[key])
        response = self._unary(wire.UPDATE_LOCKS, request)
        if not response.success:
            raise StateLockedError(response.locked_keys)

    def _unary(self, method: wire.Method, request: Message) -> Any:
        """A state call's response; a refusal as the exception the status table names."""
        try:
            return self._carrier.unary(method, request)
        except CallError as error:
            known = exception_for(error, ValueError, LimitExceededError, AbsentClientError)
            raise known or error from None

    def close(self) -> None:
        """End the state stream (the server then releases this client's locks and keys)."""
        self._call.cancel()
        self._task.stop()
