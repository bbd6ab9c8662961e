"""Helpers for the security tests: a self-signed certificate, raw calls to every RPC."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import Any

import grpc

#: Every RPC of the framecast.v1 services, and whether it streams its responses.
RPCS: dict[str, bool] = {
    "/framecast.v1.Trajectory/SubscribeFrames": True,
    "/framecast.v1.Trajectory/GetFrame": False,
    "/framecast.v1.State/SubscribeState": True,
    "/framecast.v1.State/UpdateState": False,
    "/framecast.v1.State/UpdateLocks": False,
    "/framecast.v1.Command/GetCommands": False,
    "/framecast.v1.Command/RunCommand": False,
    "/framecast.v1.Sessions/Join": True,
    "/framecast.v1.Sessions/ListSessions": False,
    "/framecast.v1.Sessions/GetContext": False,
}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "framecast test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def call(
    channel: grpc.Channel,
    method: str,
    request: bytes,
    *,
    metadata: list[tuple[str, str]] | tuple[()] = (),
    timeout: float = 5.0,
) -> tuple[grpc.StatusCode, str]:
    """Call ``method`` with raw request bytes; the status and its message.

    A stream counts as OK once its first message arrives (it is then cancelled).
    """
    try:
        if RPCS[method]:
            stream: Any = channel.unary_stream(
                method, request_serializer=None, response_deserializer=None
            )(request, metadata=tuple(metadata), timeout=timeout)
            try:
                next(stream)
            finally:
                stream.cancel()
        else:
            channel.unary_unary(method, request_serializer=None, response_deserializer=None)(
                request, metadata=tuple(metadata), timeout=timeout
            )
    except grpc.RpcError as error:
        if not isinstance(error, grpc.Call):
            raise
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""
