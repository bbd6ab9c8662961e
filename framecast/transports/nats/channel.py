"""``NatsChannel``: a framecast session reached through NATS, shaped like a gRPC channel.

:func:`framecast.wire.methods.call` asks a channel for ``unary_unary`` and ``unary_stream``
callables by method path; this channel answers with requests to the session's subjects
(see :mod:`framecast.transports.nats.wire`) and with the streams of
:mod:`framecast.transports.nats.streams`, which fail with the same status codes as gRPC
calls. So the client, its shared state and its listeners work unchanged over either.

The client's presence (its access token, for locks and owned keys) and the named sessions
it listens on are one *lease* (see :mod:`framecast.transports.nats.requests`), renewed from a
thread every third of its ttl.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from framecast._proto import frame_pb2, sessions_pb2, state_pb2
from framecast._support.threads import BackgroundTask
from framecast.transports.nats.link import NatsLink
from framecast.transports.nats.streams import (
    FrameStream,
    JoinStream,
    RelayRpcError,
    StateStream,
    status_error,
)
from framecast.transports.nats.wire import NatsAddress, Subjects, decode_reply

__all__ = ["LEASE_TTL", "NatsChannel"]

_S = TypeVar("_S", FrameStream, StateStream, JoinStream)

log = logging.getLogger(__name__)

#: Seconds a lease lasts unless renewed (renewed every third of it).
LEASE_TTL = 10.0
#: Seconds a lease request may take.
LEASE_TIMEOUT = 5.0


def _call(link: NatsLink, subject: str, payload: bytes, timeout: float | None) -> bytes:
    """One request and its reply's body; failures as :class:`RelayRpcError`."""
    try:
        data = link.request(subject, payload, timeout if timeout is not None else 10.0)
    except TimeoutError:
        raise RelayRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"no framecast session answered on {subject} through NATS",
        ) from None
    except PermissionError as error:
        raise RelayRpcError(grpc.StatusCode.PERMISSION_DENIED, str(error)) from None
    except ConnectionError as error:
        raise RelayRpcError(grpc.StatusCode.UNAVAILABLE, str(error)) from None
    code, message, body = decode_reply(data)
    if code:
        raise status_error(code, message)
    return body


class _Unary:
    def __init__(
        self,
        link: NatsLink,
        subject: str,
        serializer: Callable[[Any], bytes],
        deserializer: Callable[[bytes], Any] | None,
    ) -> None:
        self._link, self._subject = link, subject
        self._serializer, self._deserializer = serializer, deserializer

    def __call__(self, request: Any, timeout: float | None = None) -> Any:
        body = _call(self._link, self._subject, self._serializer(request), timeout)
        return body if self._deserializer is None else self._deserializer(body)


class LeaseKeeper:
    """This client's lease: its access token while a state stream is open, and the
    named sessions it listens on. Changes are sent at once; a refusal undoes them."""

    def __init__(self, link: NatsLink, subjects: Subjects, ttl: float = LEASE_TTL) -> None:
        self._link, self._subjects, self._ttl = link, subjects, ttl
        self.client = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._tokens: Counter[str] = Counter()
        self._sessions: Counter[str] = Counter()
        self._frames = 0  # open frame streams: the origin counts this client as a viewer
        self._task: BackgroundTask | None = None

    def _held(self) -> bool:
        return bool(self._tokens or self._sessions or self._frames)

    def _payload(self) -> bytes:
        """The lease as it stands (lock held); giving it back when nothing is held."""
        if not self._held():
            return json.dumps({"client": self.client, "leave": True}).encode()
        token = next(iter(self._tokens), "")
        lease = {
            "client": self.client,
            "ttl": self._ttl,
            "token": token,
            "sessions": self._sessions,
            "frames": self._frames,
        }
        return json.dumps(lease).encode()

    def _start(self) -> None:
        """Start renewing (lock held)."""
        if self._task is None:
            self._task = BackgroundTask("framecast-nats-lease", self._renew)
            self._task.start()

    def _send(self) -> dict[str, int]:
        with self._lock:
            payload = self._payload()
        counts: dict[str, int] = json.loads(
            _call(self._link, self._subjects.lease, payload, LEASE_TIMEOUT) or b"{}"
        )
        return counts

    def _change(self, counter: Counter[str], key: str, step: int) -> dict[str, int]:
        with self._lock:
            counter[key] += step
            if counter[key] <= 0:
                del counter[key]
            self._start()
        try:
            return self._send()
        except RelayRpcError:
            if step > 0:
                with self._lock:
                    counter[key] -= step
                    if counter[key] <= 0:
                        del counter[key]
            raise

    def present(self, token: str) -> None:
        self._change(self._tokens, token, 1)

    def absent(self, token: str) -> None:
        self._quietly(self._tokens, token)

    def join(self, name: str) -> int:
        return self._change(self._sessions, name, 1).get(name, 1)

    def leave(self, name: str) -> None:
        self._quietly(self._sessions, name)

    def _quietly(self, counter: Counter[str], key: str) -> None:
        try:
            self._change(counter, key, -1)
        except RelayRpcError as error:
            log.debug("lease update failed: %s", error)  # it expires by itself

    def watch(self, step: int) -> None:
        """A frame stream opened (1) or ended (-1); told without waiting for an answer."""
        with self._lock:
            self._frames = max(self._frames + step, 0)
            self._start()
        self.renew_now()

    def renew_now(self) -> None:
        """Renew at once (a change, or after a reconnection) without waiting: from any
        thread, the loop's too."""
        with self._lock:
            if self._task is None:
                return  # never held anything
            payload = self._payload()
        self._link.publish_soon(self._subjects.lease, payload, reply=self._link.inbox())

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(self._ttl / 3):
            with self._lock:
                held = self._held()
            if held:
                try:
                    self._send()
                except RelayRpcError as error:
                    log.debug("lease renewal failed: %s", error)

    def close(self) -> None:
        """Stop renewing and give the lease back (best effort: it expires anyway)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.stop()
        payload = json.dumps({"client": self.client, "leave": True}).encode()
        try:
            _call(self._link, self._subjects.lease, payload, 1.0)
        except RelayRpcError as error:
            log.debug("lease release failed: %s", error)


class NatsChannel:
    """Calls and streams of one framecast session (``address.session``) through NATS."""

    def __init__(
        self,
        address: NatsAddress,
        *,
        connect_timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if address.session is None:
            raise ValueError(
                "a NATS address names the session to watch: nats://host:4222/<session name>"
            )
        self.address = address
        self.subjects = Subjects(address.session)
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()
        self.link = NatsLink(
            address,
            name="framecast-client",
            connect_timeout=connect_timeout,
            on_reconnect=self._reconnected,
            tls=tls,
        )
        self.leases = LeaseKeeper(self.link, self.subjects)

    def _reconnected(self) -> None:
        self.leases.renew_now()
        for stream in list(self._streams):
            stream.resync()

    def unary_unary(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any] | None = None,
    ) -> _Unary:
        name = path.rpartition("/")[2]
        return _Unary(self.link, self.subjects.rpc(name), request_serializer, response_deserializer)

    def unary_stream(
        self,
        path: str,
        request_serializer: Callable[[Any], bytes],
        response_deserializer: Callable[[bytes], Any] | None = None,
    ) -> Callable[[Any], Any]:
        name = path.rpartition("/")[2]
        if name == "SubscribeFrames":
            return self._frames
        if name == "SubscribeState":
            return self._state
        if name == "Join":
            return lambda request: self._join(request, response_deserializer)
        raise ValueError(f"no stream {name!r} through NATS")

    def _track(self, stream: _S) -> _S:
        self._streams.add(stream)
        return stream

    def _frames(self, request: frame_pb2.SubscribeFramesRequest) -> FrameStream:
        stream = FrameStream(self.link, self.subjects, request.frame_interval)
        leases = self.leases
        leases.watch(1)
        stream.on_cancel.append(lambda: leases.watch(-1))
        return self._track(stream)

    def _state(self, request: state_pb2.SubscribeStateRequest) -> StateStream:
        token = request.access_token
        leases = self.leases
        stream = StateStream(
            self.link, self.subjects, (lambda: leases.present(token)) if token else None
        )
        if token:
            stream.on_cancel.append(lambda: leases.absent(token))
        return self._track(stream)

    def _join(
        self, request: sessions_pb2.JoinRequest, decode: Callable[[bytes], Any] | None
    ) -> JoinStream:
        name = request.name
        leases = self.leases
        stream = JoinStream(
            self.link,
            self.subjects,
            name,
            lambda: leases.join(name),
            lambda: leases.leave(name),
            decode=decode,
        )
        return self._track(stream)

    def close(self) -> None:
        self.leases.close()
        self.link.close()
