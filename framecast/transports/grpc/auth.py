"""Who may call the server: a shared token, and TLS credentials.

The model is jupyter_server's: loopback needs nothing; a server reachable from other
machines needs a token, generated when none is given; TLS when configured. The token
travels in the ``authorization`` metadata of every call (``Bearer <token>``) and is compared
in constant time. It is never logged: a refused call is told only that the token is
missing or wrong.
"""

from __future__ import annotations

import hmac
import secrets
import ssl
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from framecast._support.address import is_loopback
from framecast.transports.security import PEM, TOKEN_ENV, TOKEN_METADATA_KEY, bearer, read_pem

__all__ = [
    "PEM",
    "TLSFiles",
    "TOKEN_ENV",
    "TOKEN_METADATA_KEY",
    "TokenInterceptor",
    "bearer",
    "choose_token",
    "generate_token",
    "read_pem",
    "server_credentials",
    "server_ssl_context",
]

#: ``(certificate chain, private key)`` of a TLS server.
TLSFiles = tuple[PEM, PEM]


def generate_token() -> str:
    """A fresh random token: 32 bytes from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


# grpc's classes are generic in its type stubs only.
if TYPE_CHECKING:
    _ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.ServerInterceptor


def _deny(message: str) -> grpc.RpcMethodHandler[Any, Any]:
    def refuse(request: object, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    # Every framecast RPC has a unary request; a unary handler ends any of them with the
    # status before a response is sent. Request bytes are not even parsed.
    return grpc.unary_unary_rpc_method_handler(refuse)


class TokenInterceptor(_ServerInterceptor):
    """Refuses, with ``UNAUTHENTICATED``, every call that does not carry the token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the token must not be empty")
        self._expected = bearer(token).encode()
        self._missing = _deny(
            f"this framecast server needs a token: pass token=... to framecast.Client, "
            f"use a framecast:// URL with ?token=..., or set {TOKEN_ENV}"
        )
        self._wrong = _deny("the token is wrong")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        given: str | bytes | None = None
        for key, value in handler_call_details.invocation_metadata or ():
            if key == TOKEN_METADATA_KEY:
                given = value
                break
        if given is None:
            return self._missing
        given_bytes = given.encode("utf-8", "replace") if isinstance(given, str) else given
        # Constant time, so that the time to refuse says nothing about the token.
        if not hmac.compare_digest(given_bytes, self._expected):
            return self._wrong
        return continuation(handler_call_details)


def server_credentials(tls: TLSFiles) -> grpc.ServerCredentials:
    """Server TLS credentials from ``(certificate chain, private key)``, PEM paths or bytes."""
    cert_pem, key_pem = _read_pair(tls)
    _load_pair(cert_pem, key_pem)
    return grpc.ssl_server_credentials([(key_pem, cert_pem)])


def server_ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    """An ``ssl`` server context from ``(certificate chain, private key)`` (the NanoVer
    endpoint's ``wss``), PEM paths or bytes."""
    return _load_pair(*_read_pair(tls))


def _read_pair(tls: TLSFiles) -> tuple[bytes, bytes]:
    if not isinstance(tls, (tuple, list)) or len(tls) != 2:
        raise TypeError(f"tls must be a (certfile, keyfile) pair, got {tls!r}")
    cert, key = tls
    key_pem = read_pem(key, what="TLS private key")
    return read_pem(cert, what="TLS certificate"), key_pem


def _load_pair(cert: bytes, key: bytes) -> ssl.SSLContext:
    """A server context for ``cert`` and ``key``; ``ValueError`` unless they are a usable
    PEM pair.

    Checked with the ``ssl`` module first, because gRPC only fails later, with "cannot
    listen" and log lines that do not say which file is wrong.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        key_path.chmod(0o600)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as error:
            raise ValueError(
                "the TLS certificate and private key are not a valid PEM pair "
                f"({error.reason or error}): check the certificate and key files"
            ) from None
    return context


def choose_token(token: object, address: str) -> tuple[str, bool]:
    """The token a server on ``address`` requires, and whether it was generated.

    None means none on a loopback address and a random one elsewhere; ``""`` turns it off
    (with a warning off loopback); anything else must be printable ASCII.
    """
    if token is None:
        if is_loopback(address):
            return "", False
        return generate_token(), True
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    if not token:
        if not is_loopback(address):
            warnings.warn(
                f"token='' turns authentication off on {address}: any process that reaches "
                "the port may run commands, change the shared state and publish to every "
                "session",
                UserWarning,
                stacklevel=3,
            )
        return "", False
    if not token.isascii() or not token.isprintable():
        raise ValueError("token must be printable ASCII (it travels as gRPC metadata)")
    return token, False
