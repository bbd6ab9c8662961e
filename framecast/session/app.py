"""``FramecastServer``: the gRPC application a session owns (``session.app``)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

import grpc

from framecast._support.address import host_port
from framecast.core.commands import CommandCallback
from framecast.core.cores import Cores
from framecast.core.limits import DEFAULT_LIMITS, Limits
from framecast.transports.grpc.auth import (
    TLSFiles,
    TokenInterceptor,
    server_credentials,
    server_ssl_context,
)
from framecast.transports.grpc.pool import ElasticExecutor
from framecast.transports.grpc.quota import ClientQuota
from framecast.transports.grpc.servicers import (
    command_handler,
    sessions_handler,
    state_handler,
    trajectory_handler,
)
from framecast.transports.ports import PortInUseError, bind_problem

if TYPE_CHECKING:
    import ssl

    from framecast.transports.nanover.endpoint import NanoverEndpoint
    from framecast.transports.nats.relay import Relay

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "FramecastServer",
    "PortInUseError",
    "UNARY_WORKERS",
]

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 38801

#: Pool threads for unary calls (commands, state updates) beside the open streams. The
#: sync gRPC server holds one pool thread per open stream, so the pool is sized from the
#: stream limits plus these; threads are created on demand, so a high cap costs nothing
#: until used, and RPCs past it are refused with RESOURCE_EXHAUSTED instead of queueing.
UNARY_WORKERS = 32

#: Seconds a pool thread may wait for work before it ends (threads return to baseline).
POOL_IDLE = 5.0

#: Seconds between keepalive pings to a client, and seconds to wait for its answer: a
#: client that stops answering (its host vanished, or it is frozen) is dropped within
#: their sum. The answer may queue behind a large frame on a slow link, hence 20 s.
KEEPALIVE_SECONDS = 10.0
KEEPALIVE_TIMEOUT = 20.0

#: Seconds that close() lets in-flight unary calls finish; streams are ended at once.
CLOSE_GRACE = 1.0


class FramecastServer:
    """A gRPC server with the Trajectory, State, Command and Sessions services.

    With ``token``, every call must carry it (see :mod:`framecast.transports.grpc.auth`); with
    ``tls=(certfile, keyfile)``, the port speaks TLS only. ``limits`` bounds what clients
    may ask (see :class:`~framecast.core.limits.Limits`).

    It owns the transport-free cores: :attr:`frames` (a
    :class:`~framecast.core.publisher.FramePublisher`), :attr:`shared_state`,
    :attr:`commands`, :attr:`sessions` (named client sessions) and :attr:`timelines`.
    With ``nanover_port`` (0 for any free port) it also serves them to NanoVer's clients
    (:attr:`nanover`, a :class:`~framecast.transports.nanover.endpoint.NanoverEndpoint`), with the
    same token, TLS and limits, sending frames at most every ``nanover_interval`` s.
    It listens as soon as it is constructed and stops in :meth:`close`, which is
    idempotent and leaves no thread and no listening port.
    """

    def __init__(
        self,
        *,
        address: str = DEFAULT_ADDRESS,
        port: int = DEFAULT_PORT,
        token: str = "",
        tls: TLSFiles | None = None,
        limits: Limits = DEFAULT_LIMITS,
        nanover_port: int | None = None,
        nanover_interval: float = 1 / 30,
    ) -> None:
        for what, number in (("port", port), ("nanover_port", nanover_port)):
            if number is not None and not 0 <= number <= 65535:
                raise ValueError(f"{what} must be in 0..65535, got {number}")
        cores = Cores.create(limits)
        credentials = None if tls is None else server_credentials(tls)
        #: The transport-free cores that every door of this server serves.
        self.cores = cores
        self.limits = limits
        self.nanover: NanoverEndpoint | None = None
        #: The NATS relay, once :meth:`start_relay` ran.
        self.relay: Relay | None = None
        self.frames = cores.frames
        self.shared_state = cores.shared_state
        self.commands = cores.commands
        self.sessions = cores.sessions
        self.timelines = cores.timelines
        # One quota per kind of stream, so that no client takes every slot of any kind.
        per_client = limits.max_streams_per_client
        frame_quota = ClientQuota(per_client, what="frame streams")
        state_quota = ClientQuota(per_client, what="state streams")
        session_quota = ClientQuota(per_client, what="session streams")
        self._close_lock = threading.Lock()
        self._closed = False
        max_workers = limits.streams + UNARY_WORKERS
        keepalive_ms = int(KEEPALIVE_SECONDS * 1000)
        self._executor = ElasticExecutor(max_workers, idle=POOL_IDLE, name="framecast-grpc")
        self._server = grpc.server(
            # grpc's stubs ask for a ThreadPoolExecutor; grpc itself only calls submit().
            self._executor,  # type: ignore[arg-type]
            handlers=[
                trajectory_handler(self.frames, frame_quota),
                state_handler(self.shared_state, state_quota, limits),
                command_handler(self.commands, limits),
                sessions_handler(self.sessions, self.timelines, session_quota),
            ],
            interceptors=[TokenInterceptor(token)] if token else None,
            options=[
                # A client that stops answering without closing its connection is found
                # dead within KEEPALIVE_SECONDS + KEEPALIVE_TIMEOUT: its streams end, so
                # its locks and owned keys go and its slots are freed. (A closed or
                # killed client's connection ends at once.) Pings go even when no data
                # flows, for idle state streams.
                ("grpc.keepalive_time_ms", keepalive_ms),
                ("grpc.keepalive_timeout_ms", int(KEEPALIVE_TIMEOUT * 1000)),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.http2.min_sent_ping_interval_without_data_ms", keepalive_ms),
                # Any unanswered ping (gRPC's own bandwidth probes too, which otherwise
                # wait 60 s and hold back the keepalive ping) ends the connection.
                ("grpc.http2.ping_timeout_ms", int(KEEPALIVE_TIMEOUT * 1000)),
                # gRPC sets SO_REUSEPORT by default, which would let a second server share
                # a port silently; a busy port must be an error that names it.
                ("grpc.so_reuseport", 0),
                ("grpc.max_send_message_length", -1),
                # A larger request is refused by gRPC itself with RESOURCE_EXHAUSTED.
                ("grpc.max_receive_message_length", limits.max_request_bytes),
            ],
            maximum_concurrent_rpcs=max_workers,
        )
        where = host_port(address, port)
        # Checked first with a plain socket, so that the error says what is wrong in
        # words (gRPC's own says only "Failed to bind ... set GRPC_VERBOSITY").
        reason = bind_problem(address, port)
        bound = 0
        if reason is None:
            try:
                if credentials is None:
                    bound = self._server.add_insecure_port(where)
                else:
                    bound = self._server.add_secure_port(where, credentials)
            except RuntimeError:
                reason = f"cannot listen on {where}"
        if bound == 0:
            self._executor.shutdown(wait=False)
            raise PortInUseError(reason or f"cannot listen on {where}")
        self.address = address
        self.port = bound
        self._server.start()
        if nanover_port is not None:
            try:
                self.nanover = self._nanover(nanover_port, nanover_interval, token, tls)
            except BaseException:
                self.close()
                raise

    def _nanover(
        self, port: int, interval: float, token: str, tls: TLSFiles | None
    ) -> NanoverEndpoint:
        """Start the NanoVer endpoint (imported here: its packages are an extra)."""
        from framecast.transports.nanover.endpoint import NanoverEndpoint

        return NanoverEndpoint(
            self.frames,
            self.shared_state,
            self.commands,
            address=self.address,
            port=port,
            limits=self.limits,
            token=token,
            tls=None if tls is None else server_ssl_context(tls),
            frame_interval=interval,
        )

    def start_relay(
        self,
        url: str,
        *,
        session: str,
        precision: float | None = 0.001,
        tls: ssl.SSLContext | None = None,
    ) -> Relay:
        """Publish to NATS at ``url`` as session ``session`` (see
        :class:`~framecast.transports.nats.relay.Relay`), replacing an earlier relay; the relay
        ends with the server. Imported here: NATS is an extra."""
        from framecast.transports.nats.relay import Relay

        with self._close_lock:
            if self._closed:
                raise RuntimeError("this server is closed")
        relay = Relay(
            url,
            session=session,
            frames=self.frames,
            state=self.shared_state,
            commands=self.commands,
            sessions=self.sessions,
            timelines=self.timelines,
            limits=self.limits,
            precision=precision,
            tls=tls,
        )
        old, self.relay = self.relay, relay
        if old is not None:
            old.close()
        return relay

    def stop_relay(self) -> None:
        """Stop publishing to NATS (nothing if no relay runs)."""
        relay, self.relay = self.relay, None
        if relay is not None:
            relay.close()

    def register_command(
        self,
        name: str,
        callback: CommandCallback,
        *,
        description: str | None = None,
        replace: bool = False,
    ) -> None:
        """Make ``callback`` runnable by clients as command ``name`` (see ``CommandRegistry``)."""
        self.commands.register(name, callback, description=description, replace=replace)

    @property
    def target(self) -> str:
        """``host:port``, the string a client connects to."""
        return host_port(self.address, self.port)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    def close(self, grace: float = CLOSE_GRACE) -> None:
        """End every stream, stop listening, and join the server's threads. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        if self.nanover is not None:
            self.nanover.close()
        self.stop_relay()
        self.cores.close()
        self._server.stop(grace).wait(grace + 5.0)
        self._executor.shutdown(wait=True)

    def __enter__(self) -> FramecastServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<FramecastServer {self.target} {state}>"
