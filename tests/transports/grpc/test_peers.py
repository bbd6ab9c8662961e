"""Who is behind a loopback connection, and that a reused port is asked again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from framecast.transports.grpc import peers


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="Linux's /proc tells owners")
def test_a_loopback_peer_is_its_process_and_a_reused_port_is_asked_again() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        mine = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        peer_port = mine.getsockname()[1]
        peer = f"ipv4:127.0.0.1:{peer_port}"
        try:
            assert peers.principal_of(peer) == f"process {os.getpid()}"
        finally:
            accepted.close()  # the server's side first: TIME_WAIT stays there, and the
            mine.close()  # client's port is free for another process at once
        # Another process now connects from that very port: the cached answer was for the
        # old socket, and must not be given for the new one.
        code = (
            "import socket, sys\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {peer_port}))\n"
            f"s.connect(('127.0.0.1', {port}))\n"
            "print('connected', flush=True)\n"
            "sys.stdin.read()\n"
        )
        other = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            assert other.stdout is not None
            assert other.stdout.readline().strip() == "connected"
            theirs, _ = server.accept()
            try:
                assert peers.principal_of(peer) == f"process {other.pid}"
            finally:
                theirs.close()
        finally:
            other.communicate("", timeout=30)


def test_other_peers_are_their_host_or_nothing() -> None:
    assert peers.principal_of("ipv4:10.1.2.3:5000") == "host 10.1.2.3"
    assert peers.principal_of("unix:/tmp/sock") is None
    assert peers.principal_of("ipv4:not-an-address:1") is None
