"""What a relayed session answers through NATS: unary calls, snapshots and leases.

Requests arrive on the link's loop thread and run on a small pool, so that a slow command
never holds up frames or other requests; past ``MAX_QUEUED`` waiting requests a new one is
refused at once with RESOURCE_EXHAUSTED. Unary calls run the transport-free calls every
door runs (:class:`~framecast.transports.calls.UnaryCalls`), so their checks, limits and
status codes are the same on every door; a :class:`~framecast.transports.base.CallError`
is written as a reply's status.

A NATS client has no connection to the origin whose end would tell it left, so presence
is a *lease*: a client names its access token (its locks and owned keys live while it is
present) and the named sessions it listens on (it is counted there, so that
``publish_transition`` knows it listens), and renews the lease before ``ttl`` runs out.
An expired or dropped lease ends it all, as a closed gRPC stream does.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

from framecast._support.names import check_name
from framecast.core.cores import Cores
from framecast.core.limits import LimitExceededError
from framecast.transports.base import CallError, Status
from framecast.transports.calls import UnaryCalls
from framecast.transports.nats.link import NatsLink, Subscription
from framecast.transports.nats.wire import (
    Subjects,
    decode_lease,
    encode_reply,
    is_inbox,
    packets,
)

__all__ = ["RelayRequests"]

log = logging.getLogger(__name__)

#: Pool threads for requests, and requests that may wait for one.
WORKERS = 4
MAX_QUEUED = 256
#: NATS clients a session keeps leases of. What a lease holds (presence, listening) is
#: bounded by the server's own limits; this bounds the table itself.
MAX_LEASES = 10_000


@dataclass
class _Lease:
    expires: float
    secret: str = ""
    token: str = ""
    frames: int = 0
    presence: ExitStack | None = None
    joins: dict[str, list[ExitStack]] = field(default_factory=dict)

    def close(self) -> None:
        for stacks in self.joins.values():
            for stack in stacks:
                stack.close()
        self.joins.clear()
        if self.presence is not None:
            self.presence.close()
            self.presence = None


class RelayRequests:
    """Serves the requests of one relayed session until :meth:`close`."""

    def __init__(
        self,
        link: NatsLink,
        subjects: Subjects,
        cores: Cores,
        *,
        current_frame: Callable[[str], None],
        state_snapshot: Callable[[], bytes],
    ) -> None:
        self._link, self._subjects, self._calls = link, subjects, UnaryCalls(cores)
        self._state, self._sessions, self._limits = cores.shared_state, cores.sessions, cores.limits
        self._current_frame, self._state_snapshot = current_frame, state_snapshot
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="framecast-relay-req")
        self._lock = threading.Lock()
        self._queued = 0
        self._leases: dict[str, _Lease] = {}
        self._closed = False
        self._subscriptions: list[Subscription] = [
            link.subscribe(subjects.current, self._on_request(self._frame)),
            link.subscribe(subjects.state_current, self._on_request(self._snapshot)),
            link.subscribe(subjects.rpc("*"), self._on_request(self._rpc)),
            link.subscribe(subjects.lease, self._on_request(self._lease)),
        ]

    # -- dispatch ---------------------------------------------------------------------------------
    def _on_request(
        self, work: Callable[[str, str, bytes], None]
    ) -> Callable[[str, str, bytes], None]:
        """A loop-thread handler that queues ``work`` on the pool, or refuses it when full."""

        def handle(subject: str, reply: str, data: bytes) -> None:
            if not reply:
                return  # a request nobody waits for: nothing to do
            if not is_inbox(reply):
                # Answered only into an inbox: a request naming another subject as its reply
                # would make the session publish there (a confused deputy).
                log.warning("ignored a request on %s whose reply subject is no inbox", subject)
                return
            with self._lock:
                busy = self._closed or self._queued >= MAX_QUEUED
                if not busy:
                    self._queued += 1
            if busy:
                message = f"the session has {MAX_QUEUED} requests waiting already; try again"
                answer = encode_reply(Status.RESOURCE_EXHAUSTED, message)
                self._link.publish_soon(reply, _single(answer))
                return
            self._pool.submit(self._run, work, subject, reply, data)

        return handle

    def _run(
        self, work: Callable[[str, str, bytes], None], subject: str, reply: str, data: bytes
    ) -> None:
        try:
            work(subject, reply, data)
        except Exception:
            log.exception("answering %s failed", subject)
        finally:
            with self._lock:
                self._queued -= 1

    def _answer(self, reply: str, code: Status, message: str, body: bytes = b"") -> None:
        self._link.reply_packets(reply, encode_reply(code, message, body))

    # -- the requests -------------------------------------------------------------------------
    def _frame(self, subject: str, reply: str, data: bytes) -> None:
        self._current_frame(reply)

    def _snapshot(self, subject: str, reply: str, data: bytes) -> None:
        try:
            snapshot = self._state_snapshot()
        except LimitExceededError as error:  # a snapshot takes a state subscriber's slot
            self._answer(reply, Status.RESOURCE_EXHAUSTED, str(error))
            return
        self._answer(reply, Status.OK, "", snapshot)

    def _rpc(self, subject: str, reply: str, data: bytes) -> None:
        try:
            body = self._calls.run(subject.rpartition(".")[2], data)
        except CallError as error:
            self._answer(reply, error.code, error.message)
            return
        self._answer(reply, Status.OK, "", body)

    def _lease(self, subject: str, reply: str, data: bytes) -> None:
        try:
            counts = self._renew(data)
        except PermissionError as error:
            self._answer(reply, Status.PERMISSION_DENIED, f"lease refused: {error}")
        except LimitExceededError as error:
            self._answer(reply, Status.RESOURCE_EXHAUSTED, str(error))
        except (TypeError, ValueError) as error:
            self._answer(reply, Status.INVALID_ARGUMENT, f"lease refused: {error}")
        else:
            self._answer(reply, Status.OK, "", json.dumps(counts).encode())

    # -- leases ---------------------------------------------------------------------------------
    def _renew(self, data: bytes) -> dict[str, int]:
        """Apply one lease message; the listener counts of its sessions."""
        request = decode_lease(data)
        client, secret = request["client"], request.get("secret", "")
        if request.get("leave"):
            with self._lock:
                lease = self._leases.get(client)
                if lease is not None:
                    _check_holder(client, lease, secret)
                    del self._leases[client]
            if lease is not None:
                lease.close()
            return {}
        ttl, token = request["ttl"], request["token"]
        counts = {
            check_name(name, what="session name", max_length=self._limits.max_name_length): n
            for name, n in request["sessions"].items()
        }
        if sum(counts.values()) > self._limits.max_streams_per_client:
            raise LimitExceededError(
                f"a client may listen {self._limits.max_streams_per_client} times at most "
                "(Limits.max_streams_per_client)"
            )
        evicted: _Lease | None = None
        with self._lock:
            lease = self._leases.get(client)
            if lease is not None:
                _check_holder(client, lease, secret)
            if token and (lease is None or not lease.token):
                # Presence over NATS stands for a state stream over gRPC: as bounded.
                present = sum(1 for held in self._leases.values() if held.token)
                if present >= self._limits.max_state_subscribers:
                    raise LimitExceededError(
                        f"this session has {present} NATS clients present already "
                        "(Limits.max_state_subscribers)"
                    )
            wanted = sum(counts.values())
            if wanted:
                # The NATS door's own budget: half the listener slots, so NATS clients
                # (which NATS does not tell apart) never take every slot gRPC clients need.
                share = max(1, self._limits.max_session_listeners // 2)
                others = sum(
                    len(stacks)
                    for held in self._leases.values()
                    if held is not lease
                    for stacks in held.joins.values()
                )
                if others + wanted > share:
                    raise LimitExceededError(
                        f"NATS clients listen {others} times already; {wanted} more would pass "
                        f"{share}, half of Limits.max_session_listeners"
                    )
            if lease is None:
                if len(self._leases) >= MAX_LEASES:
                    evicted = self._evict()
                lease = self._leases[client] = _Lease(0.0, secret=secret)
            lease.expires = time.monotonic() + ttl
            lease.frames = request["frames"]
        if evicted is not None:
            evicted.close()
        # Leases of one client arrive in order from one thread of it; the pool may still
        # run two at once, which the registry's and the state's own locks keep consistent.
        self._present(lease, token)
        for name, count in counts.items():
            self._listen(lease, name, count)
        for name in [n for n in lease.joins if n not in counts]:
            self._listen(lease, name, 0)
        return {name: self._sessions.count(name) for name in counts}

    def _evict(self) -> _Lease:
        """Make room (lock held) for a new client in a full table: the lease that holds
        least, nothing but frames, and expires first, goes (its client's frames flow on; it
        is counted again when it renews). A table full of leases that hold a token or a
        session (each bounded by the server's limits) refuses the newcomer."""
        idle = [
            (lease.expires, client)
            for client, lease in self._leases.items()
            if not lease.token and not lease.joins
        ]
        if not idle:
            raise LimitExceededError(f"this session has {MAX_LEASES} NATS clients already")
        _, client = min(idle)
        return self._leases.pop(client)

    def _present(self, lease: _Lease, token: str) -> None:
        if token == lease.token and (lease.presence is not None) == bool(token):
            return
        if lease.presence is not None:
            lease.presence.close()
            lease.presence = None
        lease.token = token
        if token:
            stack = ExitStack()
            stack.enter_context(self._state.client(token))
            lease.presence = stack

    def _listen(self, lease: _Lease, name: str, count: int) -> None:
        stacks = lease.joins.setdefault(name, [])
        while len(stacks) > max(count, 0):
            stacks.pop().close()
        while len(stacks) < count:
            stack = ExitStack()
            stack.enter_context(self._sessions.join(name))
            stacks.append(stack)
        if not stacks:
            del lease.joins[name]

    def expire(self) -> None:
        """End the leases that were not renewed in time."""
        now = time.monotonic()
        with self._lock:
            gone = [c for c, lease in self._leases.items() if lease.expires < now]
            leases = [self._leases.pop(client) for client in gone]
        for lease in leases:
            lease.close()

    @property
    def lease_count(self) -> int:
        """NATS clients holding a lease now."""
        with self._lock:
            return len(self._leases)

    @property
    def watchers(self) -> int:
        """NATS clients with a frame stream open, as of their last lease."""
        with self._lock:
            return sum(1 for lease in self._leases.values() if lease.frames)

    def close(self) -> None:
        """Stop answering, and end every lease."""
        with self._lock:
            self._closed = True
            leases = list(self._leases.values())
            self._leases.clear()
        for subscription in self._subscriptions:
            subscription.unsubscribe()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for lease in leases:
            lease.close()


def _check_holder(client: str, lease: _Lease, secret: str) -> None:
    """Only the holder of a lease (who knows its secret) may renew, change or end it."""
    if not hmac.compare_digest(lease.secret.encode(), secret.encode()):
        raise PermissionError(f"the lease of client {client[:16]!r} is another's")


def _single(answer: bytes) -> bytes:
    """A short answer as its one packet (sent from the loop's thread, which cannot wait)."""
    (packet,) = packets(0, 0, answer, 64 * 1024)
    return packet
