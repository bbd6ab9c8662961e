"""``GrpcServer``: framecast's own gRPC door over one bundle of cores.

It listens as soon as it is constructed, on a sync grpcio server whose pool grows on demand
(one thread per open stream, plus ``UNARY_WORKERS`` for unary calls), and stops in
:meth:`close`, which leaves no thread and no listening port.
"""

from __future__ import annotations

from typing import Any

import grpc

from framecast._support.address import host_port
from framecast.core.cores import Cores
from framecast.transports.grpc.auth import TLSFiles, TokenInterceptor, server_credentials
from framecast.transports.grpc.pool import ElasticExecutor
from framecast.transports.grpc.quota import ClientQuota
from framecast.transports.grpc.servicers import handlers
from framecast.transports.ports import PortInUseError, bind_problem

__all__ = ["CLOSE_GRACE", "GrpcServer", "UNARY_WORKERS"]

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


class GrpcServer:
    """The Trajectory, State, Command and Sessions services over ``cores`` at
    ``address:port`` (0 for any free port; :attr:`port` is the one bound).

    With ``token``, every call must carry it (see :mod:`framecast.transports.grpc.auth`); with
    ``tls=(certfile, keyfile)``, the port speaks TLS only. ``PortInUseError`` names the
    problem when it cannot listen.
    """

    def __init__(
        self,
        cores: Cores,
        *,
        address: str,
        port: int,
        token: str = "",
        tls: TLSFiles | None = None,
    ) -> None:
        limits = cores.limits
        credentials = None if tls is None else server_credentials(tls)
        # One quota per kind of stream, so that no client takes every slot of any kind.
        per_client, per_host = limits.max_streams_per_client, limits.max_streams_per_host
        quotas = {
            service: ClientQuota(per_client, what=what, per_host=per_host)
            for service, what in (
                ("Trajectory", "frame streams"),
                ("State", "state streams"),
                ("Sessions", "session streams"),
            )
        }
        max_workers = limits.streams + UNARY_WORKERS
        keepalive_ms = int(KEEPALIVE_SECONDS * 1000)
        self._executor = ElasticExecutor(max_workers, idle=POOL_IDLE, name="framecast-grpc")
        self._server = grpc.server(
            # grpc's stubs ask for a ThreadPoolExecutor; grpc itself only calls submit().
            self._executor,  # type: ignore[arg-type]
            handlers=handlers(cores, quotas),
            interceptors=[TokenInterceptor(token)] if token else None,
            options=_options(keepalive_ms, limits.max_request_bytes),
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

    @property
    def target(self) -> str:
        """``host:port``, the string a client connects to."""
        return host_port(self.address, self.port)

    def close(self, grace: float = CLOSE_GRACE) -> None:
        """Stop listening, end every call after ``grace`` s, and join the pool's threads."""
        self._server.stop(grace).wait(grace + 5.0)
        self._executor.shutdown(wait=True)


def _options(keepalive_ms: int, max_request_bytes: int) -> list[tuple[str, Any]]:
    return [
        # A client that stops answering without closing its connection is found dead
        # within KEEPALIVE_SECONDS + KEEPALIVE_TIMEOUT: its streams end, so its locks and
        # owned keys go and its slots are freed. (A closed or killed client's connection
        # ends at once.) Pings go even when no data flows, for idle state streams.
        ("grpc.keepalive_time_ms", keepalive_ms),
        ("grpc.keepalive_timeout_ms", int(KEEPALIVE_TIMEOUT * 1000)),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_sent_ping_interval_without_data_ms", keepalive_ms),
        # Any unanswered ping (gRPC's own bandwidth probes too, which otherwise wait 60 s
        # and hold back the keepalive ping) ends the connection.
        ("grpc.http2.ping_timeout_ms", int(KEEPALIVE_TIMEOUT * 1000)),
        # gRPC sets SO_REUSEPORT by default, which would let a second server share a port
        # silently; a busy port must be an error that names it.
        ("grpc.so_reuseport", 0),
        ("grpc.max_send_message_length", -1),
        # A larger request is refused by gRPC itself with RESOURCE_EXHAUSTED.
        ("grpc.max_receive_message_length", max_request_bytes),
    ]
