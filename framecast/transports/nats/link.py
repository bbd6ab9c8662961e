"""``NatsLink``: one NATS connection, driven from threads.

nats-py is asyncio-only; framecast's sessions and clients are threads. A link runs the
connection in an event loop on its own thread and offers blocking calls to other threads:
publish, request (with replies of several packets, see :mod:`framecast.transports.nats.wire`) and
subscriptions whose handlers run on the loop's thread and must return at once (they hand
messages to a reader's buffer). Reconnection is nats-py's own, without end; ``on_reconnect``
then tells the link's owner to re-sync, since messages may have been lost meanwhile.

Needs ``nats-py`` (the ``nats`` extra), imported when a link is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from framecast._support.extras import require
from framecast.transports.nats.wire import DEFAULT_MAX_PAYLOAD, NatsAddress, Reassembler, packets
from framecast.transports.security import PEM, read_pem

__all__ = ["Handler", "NatsLink", "Subscription", "tls_context"]

log = logging.getLogger(__name__)

#: A subscription's handler: (subject, reply subject or "", payload), on the loop thread.
Handler = Callable[[str, str, bytes], None]

#: Seconds between reconnection attempts (nats-py's default is 2 s; viewers want less).
RECONNECT_WAIT = 0.5
#: Seconds a blocking publish waits for the loop to take its message.
PUBLISH_TIMEOUT = 10.0

#: Seconds between attempts of a request that nobody subscribes to yet.
NO_RESPONDERS_WAIT = 0.05

_T = TypeVar("_T")


class _NoResponders(Exception):
    """NATS says no subscriber took the request."""


_PERMISSION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"', re.I)


def tls_context(tls: bool | PEM | None) -> ssl.SSLContext | None:
    """The TLS context of a client's ``tls=`` argument: None (as the URL says), True (the
    system's authorities) or the PEM certificate of an authority to trust."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return ssl.create_default_context()
    pem = read_pem(tls, what="certificate to trust")
    return ssl.create_default_context(cadata=pem.decode("ascii", "replace"))


class Subscription:
    """A live subscription; :meth:`unsubscribe` ends it (idempotent)."""

    def __init__(self, link: NatsLink, sub: Any) -> None:
        self._link, self._sub = link, sub
        self._done = False

    def unsubscribe(self) -> None:
        if self._done:
            return
        self._done = True
        self._link.run(self._sub.unsubscribe(), quiet=True)


class NatsLink:
    """A NATS connection on its own event-loop thread.

    Raises ``PermissionError`` when the server refuses the credentials, ``ConnectionError``
    when no server answers within ``connect_timeout``, and names the ``nats`` extra when
    nats-py is missing.
    """

    def __init__(
        self,
        address: NatsAddress,
        *,
        name: str,
        connect_timeout: float = 5.0,
        on_reconnect: Callable[[], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._nats = require("nats", "nats", "a NATS link")
        require("zstandard", "nats", "a NATS link")  # positions arrive compact
        self.address = address
        self._on_reconnect = on_reconnect
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"framecast-nats-{name}")
        self._thread.daemon = True
        self._thread.start()
        self._calls: dict[str, tuple[Reassembler, Future[bytes], str]] = {}
        self._call_ids = itertools.count(1)
        self._closed = False
        try:
            self._nc: Any = self.run(self._connect(name, connect_timeout, tls), timeout=None)
            self._inbox: str = self._nc.new_inbox()
            self._inbox_sub = self.run(self._nc.subscribe(self._inbox + ".*", cb=self._on_reply))
        except BaseException:
            self._stop_loop()
            raise

    # -- the loop -------------------------------------------------------------------------------
    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def run(
        self,
        coroutine: Coroutine[Any, Any, _T],
        *,
        timeout: float | None = PUBLISH_TIMEOUT,
        quiet: bool = False,
    ) -> _T:
        """Run ``coroutine`` on the loop and wait for it (not from the loop's thread)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"NATS at {self.address.display()} did not answer") from None
        except Exception:
            if quiet:
                log.debug("NATS call failed", exc_info=True)
                return None  # type: ignore[return-value]
            raise

    async def _connect(self, name: str, timeout: float, tls: ssl.SSLContext | None) -> Any:
        address = self.address
        options: dict[str, Any] = {
            "servers": list(address.servers),
            "name": name,
            "connect_timeout": max(1, round(timeout)),
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": RECONNECT_WAIT,
            "error_cb": self._on_error,
            "reconnected_cb": self._reconnected,
            "disconnected_cb": self._disconnected,
            # Replies come to this user's own inbox, which an account can let it alone read.
            "inbox_prefix": address.inbox_prefix(),
        }
        if address.creds:
            options["user_credentials"] = address.creds
        if address.nkey:
            options["nkeys_seed"] = address.nkey
        if tls is None and address.tls:
            tls = ssl.create_default_context(cafile=address.ca)
        if tls is not None:
            options["tls"] = tls
        errors = self._nats.errors
        refused = PermissionError(f"NATS at {address.display()} refused these credentials")
        self._refused = asyncio.Event()
        self._last_error = ""
        # Made here (not by nats.connect) so that a failed attempt can be closed whole: no
        # socket or task of it is left for the garbage collector to complain of.
        nc = self._nats.aio.client.Client()
        connecting = asyncio.ensure_future(nc.connect(**options))
        # nats-py retries refused credentials without end (reconnection is on): its error
        # callback tells, and the attempt is given up at once.
        watching = asyncio.ensure_future(self._refused.wait())
        done, _ = await asyncio.wait(
            {connecting, watching}, timeout=timeout + 1.0, return_when=asyncio.FIRST_COMPLETED
        )
        watching.cancel()
        if connecting in done and connecting.exception() is None:
            return nc
        connecting.cancel()
        # Cancelled or failed on purpose; what went wrong is reported below.
        with contextlib.suppress(BaseException):
            await connecting
        with contextlib.suppress(BaseException):
            await nc.close()
        error = None if connecting.cancelled() else connecting.exception()
        text = (str(error) or type(error).__name__) if error is not None else self._last_error
        if self._refused.is_set() or isinstance(error, errors.AuthorizationError):
            raise refused
        if "authorization" in text.lower():
            raise refused
        reason = f": {text}" if text else ""
        raise ConnectionError(
            f"cannot reach NATS at {address.display()} within {timeout:g} s{reason}"
        )

    async def _on_error(self, error: Exception) -> None:
        text = str(error) or type(error).__name__
        self._last_error = text
        if (
            isinstance(error, self._nats.errors.AuthorizationError)
            or "authorization" in text.lower()
        ):
            self._refused.set()
        match = _PERMISSION.search(text)
        if match:
            # The server refused a publish: fail the calls waiting for a reply to it now,
            # instead of letting them time out.
            subject = match.group(2)
            for _parts, future, target in list(self._calls.values()):
                # The server's message may come lowercased.
                if target.lower() == subject.lower() and not future.done():
                    future.set_exception(
                        PermissionError(f"NATS refused to let this client publish to {subject}")
                    )
            log.warning("NATS: %s", text)
            return
        if isinstance(error, self._nats.errors.SlowConsumerError):
            # nats-py dropped messages of a subscription whose queue was full: whatever
            # was lost, the owner's streams re-sync.
            log.warning("NATS: %s", text)
            self._tell_owner()
            return
        log.debug("NATS error: %s", text)

    async def _disconnected(self) -> None:
        log.debug("NATS disconnected from %s", self.address.display())

    async def _reconnected(self) -> None:
        log.info("NATS reconnected to %s", self.address.display())
        self._tell_owner()

    def _tell_owner(self) -> None:
        """Messages may have been lost: the owner re-syncs."""
        if self._on_reconnect is not None:
            try:
                self._on_reconnect()
            except Exception:
                log.exception("NATS reconnect hook failed")

    # -- messages -------------------------------------------------------------------------------
    @property
    def max_payload(self) -> int:
        """The largest message the server takes, in bytes."""
        return int(getattr(self._nc, "max_payload", 0) or DEFAULT_MAX_PAYLOAD)

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    def inbox(self) -> str:
        """A new subject of this connection's own, to receive replies on."""
        return str(self._nc.new_inbox())

    def subscribe(self, subject: str, handler: Handler) -> Subscription:
        """Call ``handler`` on the loop thread with each message on ``subject``."""

        async def callback(msg: Any) -> None:
            try:
                handler(msg.subject, msg.reply or "", msg.data)
            except Exception:
                log.exception("handler of %s failed", subject)

        return Subscription(self, self.run(self._nc.subscribe(subject, cb=callback)))

    def publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        """Publish from another thread; returns once the connection buffered it (it waits
        while the connection's buffer is full, so a slow link slows its publisher)."""
        self.run(self._nc.publish(subject, payload, reply=reply))

    def publish_soon(self, subject: str, payload: bytes, reply: str = "") -> None:
        """Publish without waiting, from any thread (the loop's too)."""

        def go() -> None:
            task = self._loop.create_task(self._nc.publish(subject, payload, reply=reply))
            task.add_done_callback(_log_failure)

        self._loop.call_soon_threadsafe(go)

    def publish_packets(self, subject: str, epoch: int, sequence: int, body: bytes) -> int:
        """Publish ``body`` as the packets of one message; returns how many."""
        parts = packets(epoch, sequence, body, self.max_payload)

        async def send() -> None:
            for part in parts:
                await self._nc.publish(subject, part)

        self.run(send())
        return len(parts)

    def request(self, subject: str, payload: bytes, timeout: float) -> bytes:
        """Send a request and wait for its whole reply (every packet of it).

        While nobody subscribes to ``subject`` (NATS answers "no responders": the origin
        has not started, or its interest has not yet crossed a cluster route) the request
        is sent again, until ``timeout``; then ``TimeoutError``. Nobody got those, so
        sending again is safe."""
        deadline = time.monotonic() + timeout
        while True:
            token = str(next(self._call_ids))
            future: Future[bytes] = Future()
            self._calls[token] = (Reassembler(), future, subject)
            try:
                self.run(self._nc.publish(subject, payload, reply=f"{self._inbox}.{token}"))
                return future.result(max(deadline - time.monotonic(), 0.0))
            except FutureTimeout:
                raise TimeoutError(f"no reply to {subject} within {timeout:g} s") from None
            except _NoResponders:
                if time.monotonic() + NO_RESPONDERS_WAIT >= deadline:
                    raise TimeoutError(
                        f"nobody answers on {subject} (no framecast session of that name "
                        "publishes to this NATS)"
                    ) from None
                threading.Event().wait(NO_RESPONDERS_WAIT)
            finally:
                self._calls.pop(token, None)

    async def _on_reply(self, msg: Any) -> None:
        call = self._calls.get(msg.subject.rpartition(".")[2])
        if call is None:
            return
        reassembler, future, _ = call
        if not msg.data:
            # An empty reply is NATS's own "no responders" status (503).
            if not future.done():
                future.set_exception(_NoResponders())
            return
        try:
            whole = reassembler.add(msg.data)
        except ValueError as error:
            if not future.done():
                future.set_exception(ConnectionError(f"malformed reply: {error}"))
            return
        if whole is not None and not future.done():
            future.set_result(bytes(whole[2]))

    def reply_packets(self, reply: str, body: bytes) -> None:
        """Answer a request with ``body``, in packets."""
        self.publish_packets(reply, 0, 0, body)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the server has everything published so far."""
        self.run(self._nc.flush(timeout=timeout), timeout=timeout + 1.0)

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection and end the loop's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for _, future, _ in list(self._calls.values()):
            if not future.done():
                future.set_exception(ConnectionError("the NATS link closed"))
        self.run(self._nc.close(), timeout=5.0, quiet=True)
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Cancel what still runs on the loop (nats-py's own tasks), then end it."""

        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(finish(), self._loop).result(5.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("NATS publish failed: %s", task.exception())
