"""The one harness every benchmark shares: producers on an absolute schedule, the paths under
test (a real ``Session``, the publisher alone, bare grpcio and grpc.aio, framecast's NanoVer
endpoint and nanover-server), clients in other processes, and what measures them (CPU time
from ``/proc``, memory, percentiles, waits). Each benchmark keeps only its scenarios and
tables, and imports nothing but this module of its neighbours.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

import grpc
import numpy as np

_BARE_METHOD = "/bench.Bare/Stream"
_STAMP = struct.Struct("<d")


SESSION = "framecast Session"
#: The same, with clients at the default interval (1/30 s) instead of 0: the per-client
#: rate cap must add no latency to a 30 Hz stream.
SESSION_CAPPED = "framecast Session, clients at 1/30 s"
PUBLISHER = "framecast publisher"
BARE = "bare grpcio"
BARE_AIO = "bare grpc.aio"
BARE_BUSY = "bare grpcio + producer"


@dataclass(frozen=True)
class Scenario:
    implementation: str  # SESSION, PUBLISHER, BARE (sync server), BARE_AIO or BARE_BUSY
    particles: int
    clients: int
    rate: float | None  # producer Hz, None = flat out


@dataclass
class Result:
    scenario: Scenario
    fps: list[float]  # per client
    latencies_ms: list[float]  # all clients pooled
    payload_bytes: int
    server_cpu: float = float("nan")  # % of one core, over the clients' window


# -- producers ----------------------------------------------------------------------------------
def random_positions(n: int, variants: int = 4) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
    rng = np.random.default_rng(0)
    return [rng.random((n, 3), dtype=np.float32) * 10 for _ in range(variants)]


def pace(stop: threading.Event, rate: float | None) -> Iterator[int]:
    """Yield tick numbers on an absolute schedule (or as fast as possible)."""
    tick = 0
    next_time = time.monotonic()
    while not stop.is_set():
        yield tick
        tick += 1
        if rate is not None:
            next_time += 1.0 / rate
            stop.wait(max(0.0, next_time - time.monotonic()))


#: A scalar field carrying the producer's wall-clock write time, so that a client measures
#: latency from the write (not from the publish): the wait for the broadcaster counts.
WRITTEN_KEY = "bench.written"


class FrameProducer:
    """A thread writing new positions into a ``FrameData`` at ``rate`` Hz (or flat out)."""

    def __init__(self, frame: Any, particles: int, rate: float | None, after: Any) -> None:
        self.frame = frame
        self.variants = random_positions(particles)
        self.after = after  # called after each write (the publisher-only path publishes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(rate,), daemon=True)
        self.thread.start()

    def _produce(self, rate: float | None) -> None:
        for tick in pace(self.stop, rate):
            self.frame.update(
                {
                    "particle.positions": self.variants[tick % 4],
                    "energy.kinetic": float(tick),
                    WRITTEN_KEY: time.time(),
                },
                index=tick,
            )
            self.after()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def initial_frame(particles: int) -> Any:
    from framecast import FrameData

    return FrameData(
        {
            "particle.elements": np.full(particles, 18, dtype=np.uint8),
            "particle.positions": random_positions(particles, 1)[0],
            WRITTEN_KEY: time.time(),
        }
    )


class PublisherUnderTest:
    """The producer publishes each write itself (``take_changes`` + ``publish``): the
    publisher and transport without the session's broadcaster."""

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast.session.app import FramecastServer

        self.server = FramecastServer(port=0)
        frame = initial_frame(particles)
        self.server.frames.publish(frame.take_all())
        self.payload = len(self.server.frames.current_message())
        self.address = self.server.target
        self.producer = FrameProducer(
            frame, particles, rate, lambda: self.server.frames.publish(frame.take_changes())
        )

    def close(self) -> None:
        self.producer.close()
        self.server.close()


class SessionUnderTest:
    """What a user runs: a ``framecast.Session`` showing a ``FrameData`` that a producer
    thread writes, not in step with the session's broadcaster (default ``frame_interval``,
    or 1 ms flat out so that the cap is not what is measured)."""

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast import Session
        from framecast.session.session import DEFAULT_FRAME_INTERVAL

        frame = initial_frame(particles)
        interval = DEFAULT_FRAME_INTERVAL if rate is not None else 1e-6
        self.session = Session(frame, port=0, frame_interval=interval)
        self.payload = len(self.session.app.frames.current_message())
        self.address = self.session.app.target
        self.producer = FrameProducer(frame, particles, rate, lambda: None)

    def close(self) -> None:
        self.producer.close()
        self.session.health_check()
        self.session.close()


class BareServerUnderTest:
    """grpcio streaming the same encoded frame bytes, with an 8-byte timestamp in front.

    With ``busy``, a framecast producer runs flat out beside it in the same process (writes,
    ``take_changes``, ``publish`` to one subscriber that never reads): the bare transport
    sharing the GIL with exactly the producer's work, and nothing of framecast's send path.
    """

    def __init__(self, particles: int, rate: float | None, *, busy: bool = False) -> None:
        from framecast.wire.codec import assemble_update, encode_entry_parts

        positions = random_positions(particles, 1)[0]
        self.body = assemble_update(
            0, False, 0.0, [encode_entry_parts("particle.positions", positions)]
        )
        self.rate = rate
        self.stop = threading.Event()
        self.executor = ThreadPoolExecutor(64)
        self.server = grpc.server(
            self.executor,
            handlers=[
                grpc.method_handlers_generic_handler(
                    "bench.Bare",
                    {
                        "Stream": grpc.unary_stream_rpc_method_handler(
                            self._stream, request_deserializer=None, response_serializer=None
                        )
                    },
                )
            ],
            options=[("grpc.so_reuseport", 0), ("grpc.max_send_message_length", -1)],
        )
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        self.payload = len(self.body) + _STAMP.size
        self.busy: PublisherUnderTest | None = None
        if busy:
            self.busy = PublisherUnderTest(particles, None)
            self._idle = self.busy.server.frames.subscribe()
            self._idle.__enter__()

    def _stream(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in pace(self.stop, self.rate):
            if not context.is_active():
                return
            yield _STAMP.pack(time.time()) + self.body

    def close(self) -> None:
        self.stop.set()
        self.server.stop(1).wait(5)
        self.executor.shutdown(wait=True)
        if self.busy is not None:
            self._idle.__exit__(None, None, None)
            self.busy.close()


class BareAioServerUnderTest:
    """The same bare stream served by grpc.aio on a dedicated event-loop thread.

    Measured beside the sync server because DESIGN.md asks which transport to settle on.
    """

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast.wire.codec import assemble_update, encode_entry_parts

        positions = random_positions(particles, 1)[0]
        self.body = assemble_update(
            0, False, 0.0, [encode_entry_parts("particle.positions", positions)]
        )
        self.rate = rate
        self.stopping = False
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server, port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)
        self.address = f"127.0.0.1:{port}"
        self.payload = len(self.body) + _STAMP.size

    async def _start(self) -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(
            options=[("grpc.so_reuseport", 0), ("grpc.max_send_message_length", -1)]
        )
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(
                    "bench.Bare",
                    {
                        "Stream": grpc.unary_stream_rpc_method_handler(
                            self._stream,
                            request_deserializer=None,
                            response_serializer=None,
                        )
                    },
                )
            ]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    async def _stream(self, request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        next_time = time.monotonic()
        while not self.stopping:
            await context.write(_STAMP.pack(time.time()) + self.body)
            if self.rate is not None:
                next_time += 1.0 / self.rate
                await asyncio.sleep(max(0.0, next_time - time.monotonic()))

    def close(self) -> None:
        self.stopping = True
        asyncio.run_coroutine_threadsafe(self.server.stop(1), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# -- client processes -----------------------------------------------------------------------------
def _client_main(
    implementation: str,
    address: str,
    warmup: float,
    seconds: float,
    ready: Any,
    start: ProcessEvent,
    results: Any,
) -> None:
    arrivals: list[tuple[float, float]] = []  # (receive time, latency s)
    lock = threading.Lock()
    stop = threading.Event()
    if implementation.startswith("framecast"):
        from framecast import Client, FrameUpdate

        client = Client(address)

        def record(update: FrameUpdate) -> None:
            # After decoding, from the producer's write: what a viewer would see.
            now = time.time()
            written = update.fields.get(WRITTEN_KEY)
            if isinstance(written, float):
                with lock:
                    arrivals.append((now, now - written))

        client.subscribe_frames(record, interval=1 / 30 if implementation == SESSION_CAPPED else 0)
        closer: Any = client.close
    else:
        channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", -1)])
        stream: Any = channel.unary_stream(
            _BARE_METHOD, request_serializer=None, response_deserializer=None
        )(b"")

        def consume() -> None:
            try:
                for message in stream:
                    now = time.time()
                    (sent,) = _STAMP.unpack_from(message)
                    with lock:
                        arrivals.append((now, now - sent))
            except grpc.RpcError:
                pass

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()

        def closer() -> None:
            stream.cancel()
            reader.join(5)
            channel.close()

    ready.put(True)
    start.wait(60)
    begin = time.time() + warmup
    stop.wait(warmup + seconds)
    end = begin + seconds
    closer()
    with lock:
        window = [latency for received, latency in arrivals if begin <= received < end]
    results.put((len(window) / seconds, [latency * 1000 for latency in window]))


def reap(processes: list[Any]) -> None:
    """Join client processes, killing any that did not end (bounded in time)."""
    for process in processes:
        process.join(10)
        if process.is_alive():
            process.kill()


def _listeners_main(
    address: str, count: int, expected: int, ready: Any, finished: Any, results: Any
) -> None:
    from framecast import Client, TransitionEvent

    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    clients = [Client(address) for _ in range(count)]

    def record(event: TransitionEvent) -> None:
        with lock:
            latencies.append((event.receive_time - event.publish_time) * 1000)
            if len(latencies) >= count * expected:
                done.set()

    for client in clients:
        client.join("default").on_transition(record)
    ready.put(True)
    # Every event, or what came within 5 s of the last publication: a listener that fell
    # more than the spacing behind gets two transitions merged (latest wins, by design),
    # which the row then shows as fewer received, without waiting out a long timeout.
    if finished.wait(120):
        done.wait(5)
    for client in clients:
        client.close()
    results.put(latencies)


def run_transitions(listeners: int, publications: int = 60) -> tuple[list[float], int]:
    """Publish transitions to ``listeners`` clients (in up to 8 processes); latencies in ms."""
    from framecast import demo
    from framecast.session.app import FramecastServer
    from framecast.session.named import ClientSessions

    server = FramecastServer(port=0)
    sessions = ClientSessions(server.sessions, server.timelines)
    timeline = demo.argon_trajectory(n=10, frames=publications + 1)
    processes_count = min(listeners, 8)
    per_process = [listeners // processes_count] * processes_count
    for i in range(listeners % processes_count):
        per_process[i] += 1
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    finished = context.Event()
    processes = [
        context.Process(
            target=_listeners_main,
            args=(server.target, count, publications, ready, finished, results),
            daemon=True,
        )
        for count in per_process
    ]
    try:
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=120)
        pause = threading.Event()
        for n in range(publications):
            sessions.publish_transition(timeline.transition(n))
            pause.wait(0.02)  # spaced, so that latest-wins rarely merges two publications
        finished.set()
        latencies = [value for _ in processes for value in results.get(timeout=120)]
    finally:
        reap(processes)
        server.close()
    return latencies, listeners * publications


def run(
    scenario: Scenario,
    warmup: float,
    seconds: float,
    during: Callable[[Any], Callable[[], None]] | None = None,
) -> Result:
    """Measure ``scenario``'s clients in other processes. ``during(server)``, if given, is
    called once the server runs and returns what to call before it closes (a recording)."""
    if scenario.implementation in (SESSION, SESSION_CAPPED):
        server: Any = SessionUnderTest(scenario.particles, scenario.rate)
    elif scenario.implementation == PUBLISHER:
        server = PublisherUnderTest(scenario.particles, scenario.rate)
    elif scenario.implementation == BARE_BUSY:
        server = BareServerUnderTest(scenario.particles, scenario.rate, busy=True)
    elif scenario.implementation == BARE_AIO:
        server = BareAioServerUnderTest(scenario.particles, scenario.rate)
    elif scenario.implementation == ENDPOINT:
        frame = initial_frame(scenario.particles)
        server = EndpointUnderTest(scenario.particles, scenario.rate, FrameProducer, frame)
    elif scenario.implementation == NANOVER:
        server = NanoverUnderTest(scenario.particles, scenario.rate)
    else:
        server = BareServerUnderTest(scenario.particles, scenario.rate)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    start = context.Event()
    nanover = scenario.implementation in (ENDPOINT, NANOVER)
    target: Callable[..., None] = nanover_client_main if nanover else _client_main
    head = () if nanover else (scenario.implementation,)
    processes = [
        context.Process(
            target=target,
            args=(*head, server.address, warmup, seconds, ready, start, results),
            daemon=True,
        )
        for _ in range(scenario.clients)
    ]
    finish = during(server) if during is not None else None
    try:
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=120)
        cpu_before, wall_before = cpu_seconds(server), time.monotonic()
        start.set()
        reports = [results.get(timeout=warmup + seconds + 60) for _ in processes]
        cpu = (cpu_seconds(server) - cpu_before) / (time.monotonic() - wall_before) * 100
    finally:
        reap(processes)
        if finish is not None:
            finish()
        server.close()
    fps = [report[0] for report in reports]
    latencies = [value for report in reports for value in report[1]]
    return Result(scenario, fps, latencies, server.payload, cpu)


# -- NanoVer's paths (framecast's endpoint, nanover-server) ----------------------------------
ENDPOINT = "framecast NanoVer endpoint"
NANOVER = "nanover-server"


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


def process_cpu_seconds(pid: int | None = None) -> float:
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
        from framecast.testing.nanover import nanover_python

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


def nanover_client_main(
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
    return process_cpu_seconds(getattr(server, "pid", None))


# -- measuring -------------------------------------------------------------------------------
def rss_mb() -> float:
    """This process's resident memory, from Linux's /proc (MB)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def threads() -> int:
    return threading.active_count()


def wait_for(predicate: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until ``predicate()`` held (polled every 10 ms), or None past ``timeout``."""
    start = time.monotonic()
    pause = threading.Event()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        pause.wait(0.01)
    return None


def port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, int(port))) == 0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")
