"""Connecting a client: the gRPC channel, its credentials, and the first call that checks them.

A client's channel has its own connection (the server counts per-client quotas per
connection), no message size limit on what it receives (a frame of a million particles is
12 MB), and the token on the metadata of every call. :func:`connect` returns only once
the server answers, so an unreachable server or a refused token fails at once, not
mid-stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import grpc

from framecast._proto import sessions_pb2
from framecast.transports.base import rpc_code, rpc_message
from framecast.transports.security import PEM, TOKEN_METADATA_KEY, bearer, read_pem

__all__ = ["check_access", "connect"]

_CHANNEL_OPTIONS = [
    # Frames of a million particles are 12 MB; the default 4 MB limit would refuse them.
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Its own connection: the server counts per-client quotas per connection, and gRPC
    # would otherwise share one between every client of a process.
    ("grpc.use_local_subchannel_pool", 1),
]


# grpc's classes are generic in its type stubs only.
if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor


class _TokenAdder(_UnaryUnary, _UnaryStream):
    """Adds the token to the metadata of every call of a channel."""

    def __init__(self, token: str) -> None:
        self._metadata = (TOKEN_METADATA_KEY, bearer(token))

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._metadata]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


def _open_channel(target: str, token: str, tls: bool | PEM | None) -> grpc.Channel:
    """A channel to ``target``: plain, or TLS trusting the system's CAs (``True``) or the
    given PEM certificate, with ``token`` on every call when there is one."""
    if tls is None or tls is False:
        channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
    else:
        roots = None if tls is True else read_pem(tls, what="TLS certificate to trust")
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        channel = grpc.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
    if not token:
        return channel
    return grpc.intercept_channel(channel, _TokenAdder(token))


def connect(target: str, token: str, tls: bool | PEM | None, timeout: float) -> grpc.Channel:
    """A ready channel to the server at ``target``; ``ConnectionError`` after ``timeout``."""
    channel = _open_channel(target, token, tls)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        hint = " (over TLS: does the server speak TLS, and is its certificate trusted?)"
        raise ConnectionError(
            f"no framecast server answered at {target} within {timeout:g} s" + (hint if tls else "")
        ) from None
    return channel


def check_access(
    list_sessions: Callable[..., Any], address: str, timeout: float, channel: grpc.Channel
) -> None:
    """One cheap call (``list_sessions``), so that a missing or wrong token fails here.

    Closes ``channel`` and raises ``PermissionError`` when the server refuses the token,
    ``ConnectionError`` when it does not answer.
    """
    try:
        list_sessions(sessions_pb2.ListSessionsRequest(), timeout=timeout)
    except grpc.RpcError as error:
        code = rpc_code(error)
        channel.close()
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            raise PermissionError(
                f"the framecast server at {address} refused the connection: {rpc_message(error)}"
            ) from None
        raise ConnectionError(
            f"the framecast server at {address} did not answer: {rpc_message(error)}"
        ) from None
