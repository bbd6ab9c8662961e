"""Who is behind a gRPC connection: the process that owns a loopback peer's socket, or the
host of any other peer. Quotas count streams per connection *and* per such principal, so a
process that opens many connections still leaves slots for everyone else.

Linux tells which process owns a loopback socket (``/proc/net/tcp`` maps the peer's port to
a socket inode, ``/proc/<pid>/fd`` the inode to a process); elsewhere, or when it cannot
tell, a loopback peer counts alone (its connection).
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections import OrderedDict
from pathlib import Path

__all__ = ["principal_of"]

#: Connections whose principal is remembered, with the socket it was found for: a peer's
#: address names a connection only until its port is reused (by another process, perhaps),
#: so an entry counts only while the same socket holds that port.
_CACHE_SIZE = 4096
_cache: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()
_lock = threading.Lock()
_PROC = Path("/proc")


def principal_of(peer: str) -> str | None:
    """``process <pid>`` for a loopback peer whose owner can be told, ``host <address>``
    for any other peer, None when nothing better than the connection itself is known.
    ``peer`` is gRPC's ``ipv4:127.0.0.1:54321`` or ``ipv6:[::1]:54321``."""
    parsed = _parse(peer)
    if parsed is None:
        return None  # unix sockets and the like: the connection alone
    address, number, kind = parsed
    if not address.is_loopback:
        return f"host {address}"
    inode = _inode_of(number, kind)
    with _lock:
        cached = _cache.get(peer)
        if cached is not None and cached[0] == inode:
            _cache.move_to_end(peer)
            return cached[1]
    found = _principal(inode)
    with _lock:
        _cache[peer] = (inode, found)
        _cache.move_to_end(peer)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _parse(peer: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int, str] | None:
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host, _, port = rest.rpartition(":")
    try:
        return ipaddress.ip_address(host.strip("[]")), int(port), kind
    except ValueError:
        return None


def _inode_of(port: int, kind: str) -> str | None:
    """The inode of the socket bound to local ``port`` now, if Linux says."""
    inode = _inode_of_port(port, "tcp6" if kind == "ipv6" else "tcp")
    if inode is None and kind == "ipv4":
        inode = _inode_of_port(port, "tcp6")  # an IPv4 peer on a dual-stack socket
    return inode


def _principal(inode: str | None) -> str | None:
    pid = None if inode is None else _owner_of_inode(inode)
    return None if pid is None else f"process {pid}"


def _owner_of_inode(inode: str) -> int | None:
    """The process that holds the socket ``inode``."""
    target = f"socket:[{inode}]"
    try:
        pids = [entry for entry in os.listdir(_PROC) if entry.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            for fd in os.listdir(_PROC / pid / "fd"):
                if os.readlink(_PROC / pid / "fd" / fd) == target:
                    return int(pid)
        except OSError:
            continue  # gone, or not ours to read
    return None


def _inode_of_port(port: int, table: str) -> str | None:
    try:
        lines = (_PROC / "net" / table).read_text().splitlines()[1:]
    except OSError:
        return None
    suffix = f":{port:04X}"
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[1].endswith(suffix) and fields[9] != "0":
            return fields[9]
    return None
