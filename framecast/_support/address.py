"""Addresses: ``host:port`` strings, ``framecast://`` URLs, and what counts as loopback."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import parse_qs, quote, urlsplit

__all__ = ["host_port", "is_loopback", "parse_address", "service_url"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def host_port(address: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    host = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return f"{host}:{port}"


def service_url(scheme: str, address: str, port: int, token: str) -> str:
    """``scheme://host:port``, with ``?token=...`` when ``token``; a server listening on
    every interface is named by this machine's host name."""
    host = socket.gethostname() if address in ("0.0.0.0", "::", "") else address
    url = f"{scheme}://{host_port(host, port)}"
    return f"{url}?token={quote(token, safe='')}" if token else url


def is_loopback(address: str) -> bool:
    """True when ``address`` (a host name or IP, brackets allowed) only reaches this machine.

    ``0.0.0.0`` and ``::`` listen on every interface, so they are not loopback.
    """
    host = address.strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name that could resolve anywhere


def parse_address(address: str) -> tuple[str, str | None]:
    """``(host:port, token or None)`` from ``host:port`` or ``framecast://host:port?token=``.

    Raises ``ValueError`` for a URL of another scheme or without a host and a port.
    """
    if "://" not in address:
        return address, None
    url = urlsplit(address)
    if url.scheme != "framecast":
        raise ValueError(f"not a framecast:// URL: {address!r}")
    try:
        port = url.port
    except ValueError:
        port = None
    if not url.hostname or port is None:
        raise ValueError(f"a framecast URL needs a host and a port: {address!r}")
    tokens = parse_qs(url.query).get("token")
    return host_port(url.hostname, port), (tokens[-1] if tokens else None)
