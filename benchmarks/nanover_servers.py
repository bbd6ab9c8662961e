"""The NanoVer rows of ``broadcast.py``: framecast's NanoVer endpoint, and nanover-server.

Both serve the same frames to the same clients: processes speaking NanoVer's protocol
(``websockets`` and ``msgpack``, as NanoVer's own client does) that unpack every message and
decode the positions. nanover-server runs in its own Python 3.13 virtualenv (the one
``.ci/run`` keeps under ``~/.cache/framecast``), a producer thread in it sending frames at
the same rate; its CPU time is read from ``/proc``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

ENDPOINT = "framecast NanoVer endpoint"
NANOVER = "nanover-server"

#: The key carrying the producer's write time, as in broadcast.py.
WRITTEN_KEY = "bench.written"

_NANOVER_SERVER = r"""
import sys, threading, time
import numpy as np
from nanover.app.imd_app import NanoverImdApplication
from nanover.trajectory import FrameData
from nanover.websocket.server import WebSocketServer

particles, rate = int(sys.argv[1]), float(sys.argv[2])
app = NanoverImdApplication(name="bench")  # no discovery: loopback only
server = WebSocketServer(app)
listening = server.serve(host="127.0.0.1", port=0)
rng = np.random.default_rng(0)
variants = [rng.random((particles, 3), dtype=np.float32) * 10 for _ in range(4)]
topology = FrameData()
topology.particle_count = particles
topology.particle_elements = np.full(particles, 18, dtype=np.uint8)
topology.particle_positions = variants[0]
app.frame_publisher.send_frame(topology)
stop = threading.Event()

def produce():
    tick, next_time = 0, time.monotonic()
    while not stop.is_set():
        frame = FrameData()
        frame.particle_positions = variants[tick % 4]
        frame.kinetic_energy = float(tick)
        frame.frame_dict["bench.written"] = time.time()
        app.frame_publisher.send_frame(frame)
        tick += 1
        next_time += 1 / rate
        stop.wait(max(0.0, next_time - time.monotonic()))

thread = threading.Thread(target=produce, daemon=True)
thread.start()
print(listening.socket.getsockname()[1], flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
stop.set()
thread.join(5)
server.close()
"""


def _cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class EndpointUnderTest:
    """A ``framecast.Session`` with its NanoVer endpoint, showing a ``FrameData`` that a
    producer thread writes (broadcast.py's producer)."""

    def __init__(self, particles: int, rate: float | None, producer: Any, frame: Any) -> None:
        from framecast import Session

        self.session = Session(frame, port=0, nanover_port=0)
        self.address = self.session.nanover_url
        self.payload = len(self.session.app.frames.current_message())
        self.producer = producer(frame, particles, rate, lambda: None)
        self.pid: int | None = None

    def close(self) -> None:
        self.producer.close()
        self.session.health_check()
        self.session.close()


class NanoverUnderTest:
    """nanover-server itself, in its own virtualenv, producing the same frames."""

    def __init__(self, particles: int, rate: float | None) -> None:
        from nanover_env import nanover_python

        self.process = subprocess.Popen(
            [str(nanover_python()), "-c", _NANOVER_SERVER, str(particles), str(rate or 1000.0)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            raise RuntimeError("nanover-server did not start")
        self.address = f"ws://127.0.0.1:{int(line)}"
        self.payload = particles * 12
        self.pid: int | None = self.process.pid

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def client_main(
    address: str,
    warmup: float,
    seconds: float,
    ready: Any,
    start: Any,
    results: Any,
) -> None:
    """A NanoVer-protocol client: unpack every message, decode positions, time them."""
    import msgpack
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    arrivals: list[tuple[float, float]] = []
    lock = threading.Lock()
    with connect(address, max_size=None, compression=None, open_timeout=30) as websocket:

        def consume() -> None:
            try:
                for data in websocket:
                    frame = msgpack.unpackb(data).get("frame")
                    if not frame or WRITTEN_KEY not in frame:
                        continue
                    if "particle.positions" in frame:
                        np.frombuffer(frame["particle.positions"], dtype="<f4").reshape(-1, 3)
                    now = time.time()
                    with lock:
                        arrivals.append((now, now - frame[WRITTEN_KEY]))
            except ConnectionClosed:
                pass

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        ready.put(True)
        start.wait(60)
        begin = time.time() + warmup
        threading.Event().wait(warmup + seconds)
        end = begin + seconds
    reader.join(5)
    with lock:
        window = [latency for received, latency in arrivals if begin <= received < end]
    results.put((len(window) / seconds, [latency * 1000 for latency in window]))


def cpu_seconds(server: Any) -> float:
    """CPU seconds used so far by the process serving ``server``."""
    return _cpu_seconds(getattr(server, "pid", None))
