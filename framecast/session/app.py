"""``FramecastServer``: the gRPC application a session owns (``session.app``)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING

from framecast.core.commands import CommandCallback
from framecast.core.cores import Cores
from framecast.core.limits import DEFAULT_LIMITS, Limits
from framecast.transports.grpc.auth import TLSFiles, server_ssl_context
from framecast.transports.grpc.server import CLOSE_GRACE, GrpcServer
from framecast.transports.ports import PortInUseError

if TYPE_CHECKING:
    import ssl

    from framecast.transports.nanover.endpoint import NanoverEndpoint
    from framecast.transports.nats.relay import Relay

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_PORT",
    "FramecastServer",
    "PortInUseError",
]

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 38801


class FramecastServer:
    """The server a session owns: one :class:`~framecast.core.cores.Cores` and its doors, a
    gRPC server (:class:`~framecast.transports.grpc.server.GrpcServer`) with the Trajectory,
    State, Command and Sessions services, and optionally NanoVer's endpoint and a NATS relay.

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
        self._close_lock = threading.Lock()
        self._closed = False
        self._grpc = GrpcServer(cores, address=address, port=port, token=token, tls=tls)
        self.address = address
        self.port = self._grpc.port
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
            self.cores,
            address=self.address,
            port=port,
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
        relay = Relay(url, self.cores, session=session, precision=precision, tls=tls)
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
        return self._grpc.target

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
        self._grpc.close(grace)

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
