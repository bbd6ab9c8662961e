"""``connect(url)``: the one way the client reaches a session, whichever carrier it takes.

``host:port`` and ``framecast://host:port[?token=...]`` go over gRPC; ``nats://`` (and
``tls://``) URLs naming a session go through NATS, whose own credentials (in the URL) guard
it, so framecast's token does not apply there and ``tls`` is NATS's TLS.
"""

from __future__ import annotations

import os

import framecast.wire.methods as wire
from framecast._proto import sessions_pb2
from framecast._support.address import parse_address
from framecast.transports.base import CallError, Carrier, Status
from framecast.transports.grpc.carrier import GrpcCarrier
from framecast.transports.nats.channel import NatsCarrier
from framecast.transports.nats.link import tls_context
from framecast.transports.nats.wire import is_nats_url, parse_nats_url
from framecast.transports.security import PEM, TOKEN_ENV

__all__ = ["PEM", "connect"]


def connect(
    address: str,
    *,
    token: str | None = None,
    tls: bool | PEM | None = None,
    timeout: float = 5.0,
) -> Carrier:
    """A carrier to the session at ``address``, ready: the server answered and took the
    token. ``token`` defaults to the URL's, else ``FRAMECAST_TOKEN``, else none.

    Raises ``ConnectionError`` when nothing answers within ``timeout`` s,
    ``PermissionError`` when the server (or NATS) refuses the credentials, and
    ``ValueError`` for an address that names no session.
    """
    carrier: Carrier
    if is_nats_url(address):
        carrier = NatsCarrier(
            parse_nats_url(address), connect_timeout=timeout, tls=tls_context(tls)
        )
    else:
        target, url_token = parse_address(address)
        if token is None:
            token = url_token if url_token is not None else os.environ.get(TOKEN_ENV, "")
        carrier = GrpcCarrier(target, token, tls, timeout)
    _check_access(carrier, timeout)
    return carrier


def _check_access(carrier: Carrier, timeout: float) -> None:
    """One cheap call, so that a missing or wrong token (or no session behind a NATS
    subject) fails here, not mid-stream. Closes the carrier when it fails."""
    try:
        carrier.unary(wire.LIST_SESSIONS, sessions_pb2.ListSessionsRequest(), timeout)
    except CallError as error:
        carrier.close()
        where = f"the framecast server at {carrier.address}"
        if error.code in (Status.UNAUTHENTICATED, Status.PERMISSION_DENIED):
            raise PermissionError(f"{where} refused the connection: {error.message}") from None
        raise ConnectionError(f"{where} did not answer: {error.message}") from None
