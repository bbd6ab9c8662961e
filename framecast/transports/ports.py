"""Listening ports: why a server could not listen, in words."""

from __future__ import annotations

import errno
import socket

from framecast._support.address import host_port

__all__ = ["PortInUseError", "bind_problem"]


class PortInUseError(OSError):
    """The server could not listen on the requested address and port; the message says why."""


def bind_problem(address: str, port: int) -> str | None:
    """Why a server could not listen on ``address:port``, or None if it seems it can."""
    where = host_port(address, port)
    try:
        infos = socket.getaddrinfo(address.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        return f"cannot listen on {where}: the address {address!r} is unknown ({error})"
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            # As gRPC does, so that a port in TIME_WAIT is not reported busy.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as error:
                last = error
                continue
            return None
    if last is not None and last.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: port {port} is in use (another framecast server?); "
            "pass port=0 (--port 0) to pick a free port, or stop the other server"
        )
    if last is not None and last.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: {address!r} is not an address of this machine"
    return f"cannot listen on {where}: {last.strerror if last else 'no usable address'}"
