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

#: Connections whose principal is remembered (a connection's never changes).
_CACHE_SIZE = 4096
_cache: OrderedDict[str, str | None] = OrderedDict()
_lock = threading.Lock()
_PROC = Path("/proc")


def principal_of(peer: str) -> str | None:
    """``process <pid>`` for a loopback peer whose owner can be told, ``host <address>``
    for any other peer, None when nothing better than the connection itself is known.
    ``peer`` is gRPC's ``ipv4:127.0.0.1:54321`` or ``ipv6:[::1]:54321``."""
    with _lock:
        if peer in _cache:
            _cache.move_to_end(peer)
            return _cache[peer]
    found = _lookup(peer)
    with _lock:
        _cache[peer] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _lookup(peer: str) -> str | None:
    kind, _, rest = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None  # unix sockets and the like: the connection alone
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    try:
        address = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        return None
    if not address.is_loopback:
        return f"host {address}"
    pid = _owner_of_port(number, kind)
    return None if pid is None else f"process {pid}"


def _owner_of_port(port: int, kind: str) -> int | None:
    """The process that owns the TCP socket bound to local ``port``, if Linux says."""
    inode = _inode_of_port(port, "tcp6" if kind == "ipv6" else "tcp")
    if inode is None and kind == "ipv4":
        inode = _inode_of_port(port, "tcp6")  # an IPv4 peer on a dual-stack socket
    if inode is None:
        return None
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
