"""``NatsCarrier``: a framecast session reached through NATS.

Unary calls are requests to the session's subjects (see :mod:`framecast.transports.nats.wire`),
and its streams are those of :mod:`framecast.transports.nats.streams`. They yield the same
typed updates as every carrier and fail with the same
:class:`~framecast.transports.base.CallError`, so the client never asks which carrier it has.

The client's presence (its access token, for locks and owned keys) and the named sessions
it listens on are one *lease* (see :mod:`framecast.transports.nats.requests`), renewed from a
thread every third of its ttl.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import uuid
import weakref
from collections import Counter
from typing import Any, TypeVar

from google.protobuf.message import Message

import framecast.wire.methods as wire
from framecast._support.threads import BackgroundTask
from framecast.transports.base import CALL_TIMEOUT, CallError, Status
from framecast.transports.nats.link import NatsLink
from framecast.transports.nats.streams import FrameStream, JoinStream, StateStream
from framecast.transports.nats.wire import (
    LEASE_TTL,
    Lease,
    NatsAddress,
    Subjects,
    decode_reply,
    encode_lease,
)

__all__ = ["NatsCarrier"]

_S = TypeVar("_S", FrameStream, StateStream, JoinStream)

log = logging.getLogger(__name__)

#: Seconds a lease request may take.
LEASE_TIMEOUT = 5.0


def _call(link: NatsLink, subject: str, payload: bytes, timeout: float) -> bytes:
    """One request and its reply's body; failures as :class:`CallError`."""
    try:
        data = link.request(subject, payload, timeout)
    except TimeoutError:
        raise CallError(
            Status.DEADLINE_EXCEEDED, f"no framecast session answered on {subject} through NATS"
        ) from None
    except PermissionError as error:
        raise CallError(Status.PERMISSION_DENIED, str(error)) from None
    except ConnectionError as error:
        raise CallError(Status.UNAVAILABLE, str(error)) from None
    code, message, body = decode_reply(data)
    if code:
        raise CallError(Status.of(code), message)
    return body


class LeaseKeeper:
    """This client's lease: its access token while a state stream is open, and the
    named sessions it listens on. Changes are sent at once; a refusal undoes them."""

    def __init__(self, link: NatsLink, subjects: Subjects, ttl: float = LEASE_TTL) -> None:
        self._link, self._subjects, self._ttl = link, subjects, ttl
        self.client = uuid.uuid4().hex
        #: Proves this client holds its lease: only it can renew, change or end the lease.
        self.secret = secrets.token_hex(16)
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
            return encode_lease(Lease(client=self.client, secret=self.secret, leave=True))
        lease = Lease(
            client=self.client,
            secret=self.secret,
            ttl=self._ttl,
            token=next(iter(self._tokens), ""),
            sessions=dict(self._sessions),
            frames=self._frames,
        )
        return encode_lease(lease)

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
        except CallError:
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
        except CallError as error:
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
                except CallError as error:
                    log.debug("lease renewal failed: %s", error)

    def close(self) -> None:
        """Stop renewing and give the lease back (best effort: it expires anyway)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.stop()
        payload = encode_lease(Lease(client=self.client, secret=self.secret, leave=True))
        try:
            _call(self._link, self._subjects.lease, payload, 1.0)
        except CallError as error:
            log.debug("lease release failed: %s", error)


class NatsCarrier:
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
        self.address = f"{address.display()}/{address.session}"
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

    def unary(self, method: wire.Method, request: Message, timeout: float = CALL_TIMEOUT) -> Any:
        """One unary call, a request to the session's subject of ``method``."""
        body = _call(
            self.link, self.subjects.rpc(method.name), request.SerializeToString(), timeout
        )
        return body if method.raw_response else method.response.FromString(body)

    def _track(self, stream: _S) -> _S:
        self._streams.add(stream)
        return stream

    def frames(self, interval: float) -> FrameStream:
        """The frame stream; the origin counts this client as a viewer while it is open."""
        stream = FrameStream(self.link, self.subjects, interval)
        leases = self.leases
        leases.watch(1)
        stream.on_cancel.append(lambda: leases.watch(-1))
        return self._track(stream)

    def state(self, access_token: str, interval: float) -> StateStream:
        """Shared-state changes; the lease holds ``access_token`` while the stream is open."""
        leases = self.leases
        stream = StateStream(
            self.link,
            self.subjects,
            (lambda: leases.present(access_token)) if access_token else None,
        )
        if access_token:
            stream.on_cancel.append(lambda: leases.absent(access_token))
        return self._track(stream)

    def join(self, name: str) -> JoinStream:
        """The events of the named session ``name``; the lease counts this listener."""
        leases = self.leases
        stream = JoinStream(
            self.link,
            self.subjects,
            name,
            lambda: leases.join(name),
            lambda: leases.leave(name),
        )
        return self._track(stream)

    def close(self) -> None:
        """Give the lease back and close the NATS connection (which ends every stream)."""
        self.leases.close()
        self.link.close()
