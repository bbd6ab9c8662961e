"""Frame broadcast: frames/s per client and write-to-screen latency, against bare grpcio.

For N particles and K client processes, a producer thread writes new positions into a
``FrameData`` at 25 or 30 Hz, or flat out. The rows measure three paths side by side:

* ``framecast Session``: what a user runs. A real ``Session`` shows the frame, and its own
  broadcaster sends each change (the producer is not in step with it);
* ``framecast publisher``: the producer publishes each write itself (``take_changes`` and
  ``FramePublisher.publish``), the publisher and transport without the broadcaster;
* ``bare grpcio`` / ``bare grpc.aio``: a server-streaming RPC yielding the same encoded
  bytes to clients that do nothing with them, the transport's ceiling on this machine, and
  ``bare grpcio + producer``: the same with the framecast producer running flat out beside
  it in the process, which shows what sharing the GIL with the producer alone costs.

Each client is a real ``framecast.Client`` in its own process, subscribed with
``interval=0``, that decodes every update. Latency is from the producer's write (a wall-clock
stamp written with the positions) to the decoded update in the client's callback.

Usage::

    python benchmarks/broadcast.py            # the full table (about 10 minutes)
    python benchmarks/broadcast.py --quick    # shorter windows, same rows

Targets (issue 9), through the Session path at 25 Hz: 1k x 1 and 10k x 8, median <= 3 ms
and p95 <= 6 ms; 100k x 8, median <= 8 ms, p95 <= 20 ms and every client >= 24.5 frames/s;
100k x 32, every client >= 24 frames/s; a 1 kHz producer gives <= 31 updates/s at the
default interval. Flat out, framecast >= 70 % of the bare grpcio stream.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import grpc
import numpy as np
from nanover_servers import (
    ENDPOINT,
    NANOVER,
    EndpointUnderTest,
    NanoverUnderTest,
    cpu_seconds,
)
from nanover_servers import client_main as nanover_client_main

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
def _positions(n: int, variants: int = 4) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
    rng = np.random.default_rng(0)
    return [rng.random((n, 3), dtype=np.float32) * 10 for _ in range(variants)]


def _pace(stop: threading.Event, rate: float | None) -> Iterator[int]:
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


class _Producer:
    """A thread writing new positions into a ``FrameData`` at ``rate`` Hz (or flat out)."""

    def __init__(self, frame: Any, particles: int, rate: float | None, after: Any) -> None:
        self.frame = frame
        self.variants = _positions(particles)
        self.after = after  # called after each write (the publisher-only path publishes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(rate,), daemon=True)
        self.thread.start()

    def _produce(self, rate: float | None) -> None:
        for tick in _pace(self.stop, rate):
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


def _initial_frame(particles: int) -> Any:
    from framecast import FrameData

    return FrameData(
        {
            "particle.elements": np.full(particles, 18, dtype=np.uint8),
            "particle.positions": _positions(particles, 1)[0],
            WRITTEN_KEY: time.time(),
        }
    )


class PublisherUnderTest:
    """The producer publishes each write itself (``take_changes`` + ``publish``): the
    publisher and transport without the session's broadcaster."""

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast.session.app import FramecastServer

        self.server = FramecastServer(port=0)
        frame = _initial_frame(particles)
        self.server.frames.publish(frame.take_all())
        self.payload = len(self.server.frames.current_message())
        self.address = self.server.target
        self.producer = _Producer(
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

        frame = _initial_frame(particles)
        interval = DEFAULT_FRAME_INTERVAL if rate is not None else 1e-6
        self.session = Session(frame, port=0, frame_interval=interval)
        self.payload = len(self.session.app.frames.current_message())
        self.address = self.session.app.target
        self.producer = _Producer(frame, particles, rate, lambda: None)

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

        positions = _positions(particles, 1)[0]
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
        for _ in _pace(self.stop, self.rate):
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

        positions = _positions(particles, 1)[0]
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


def _reap(processes: list[Any]) -> None:
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
        _reap(processes)
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
        frame = _initial_frame(scenario.particles)
        server = EndpointUnderTest(scenario.particles, scenario.rate, _Producer, frame)
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
        _reap(processes)
        if finish is not None:
            finish()
        server.close()
    fps = [report[0] for report in reports]
    latencies = [value for report in reports for value in report[1]]
    return Result(scenario, fps, latencies, server.payload, cpu)


# -- the table ------------------------------------------------------------------------------------
def _rate_name(rate: float | None) -> str:
    return "flat out" if rate is None else f"{rate:g} Hz"


def _row(result: Result) -> str:
    s = result.scenario
    lat = result.latencies_ms
    median = statistics.median(lat) if lat else float("nan")
    p95 = float(np.percentile(lat, 95)) if lat else float("nan")
    total_mb = sum(result.fps) * result.payload_bytes / 1e6
    return (
        f"| {s.implementation} | {s.particles:,} | {s.clients} | {_rate_name(s.rate)} | "
        f"{statistics.median(result.fps):.1f} | {min(result.fps):.1f} | {median:.1f} ms | "
        f"{p95:.1f} ms | {total_mb:.0f} | {result.server_cpu:.0f} % |"
    )


#: (particles, clients) measured through the user's path, and the flat-out comparisons.
LATENCY_SHAPES = [(1_000, 1), (10_000, 8), (100_000, 1), (100_000, 8), (100_000, 32)]
FLAT_OUT_SHAPES = [(10_000, 1), (10_000, 8), (100_000, 1), (100_000, 8)]
#: (particles, clients) served to NanoVer-protocol clients at 30 Hz, beside the gRPC Session.
NANOVER_SHAPES = [(10_000, 8), (100_000, 8)]


def _shape(text: str) -> tuple[int, int]:
    particles, _, clients = text.partition("x")
    return int(particles), int(clients)


def _scenarios(
    latency: list[tuple[int, int]],
    flat: list[tuple[int, int]],
    rates: list[float],
    nanover: list[tuple[int, int]],
) -> list[Scenario]:
    out = []
    for particles, clients in nanover:
        for implementation in (SESSION, SESSION_CAPPED, ENDPOINT, NANOVER):
            out.append(Scenario(implementation, particles, clients, 30.0))
    for particles, clients in latency:
        for rate in rates:
            out.append(Scenario(SESSION, particles, clients, rate))
        out.append(Scenario(PUBLISHER, particles, clients, 30.0))
        out.append(Scenario(BARE, particles, clients, 30.0))
    for particles, clients in flat:
        for implementation in (PUBLISHER, SESSION, BARE, BARE_AIO, BARE_BUSY):
            out.append(Scenario(implementation, particles, clients, None))
    return out


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _latency_checks(results: dict[Scenario, Result]) -> list[str]:
    """The issue's targets, through the Session path with a producer at 25 Hz."""
    rows = []
    for (particles, clients), median_max, p95_max, fps_min in [
        ((1_000, 1), 3.0, 6.0, None),
        ((10_000, 8), 3.0, 6.0, None),
        ((100_000, 8), 8.0, 20.0, 24.5),
        ((100_000, 32), None, None, 24.0),
    ]:
        result = results.get(Scenario(SESSION, particles, clients, 25.0))
        if result is None:
            continue
        name = f"Session, 25 Hz, {particles:,} x {clients}"
        lat = result.latencies_ms
        if median_max is not None and lat:
            median = statistics.median(lat)
            rows.append(
                f"| {name}: latency median | {median:.1f} ms | <= {median_max:g} ms "
                f"| {_verdict(median <= median_max)} |"
            )
        if p95_max is not None and lat:
            p95 = float(np.percentile(lat, 95))
            rows.append(
                f"| {name}: latency p95 | {p95:.1f} ms | <= {p95_max:g} ms "
                f"| {_verdict(p95 <= p95_max)} |"
            )
        if fps_min is not None:
            slowest = min(result.fps)
            rows.append(
                f"| {name}: slowest client | {slowest:.1f} fps | >= {fps_min:g} "
                f"| {_verdict(slowest >= fps_min)} |"
            )
    return rows


def _flat_out_checks(results: dict[Scenario, Result]) -> list[str]:
    rows = []
    for particles, clients in FLAT_OUT_SHAPES:
        bare = results.get(Scenario(BARE, particles, clients, None))
        if bare is None:
            continue
        for implementation in (PUBLISHER, SESSION):
            fc = results.get(Scenario(implementation, particles, clients, None))
            if fc is None:
                continue
            ratio = statistics.median(fc.fps) / max(statistics.median(bare.fps), 1e-9)
            rows.append(
                f"| flat out, {particles:,} x {clients}: {implementation} / bare grpcio "
                f"| {ratio:.0%} | >= 70 % | {_verdict(ratio >= 0.7)} |"
            )
        busy = results.get(Scenario(BARE_BUSY, particles, clients, None))
        publisher = results.get(Scenario(PUBLISHER, particles, clients, None))
        if busy is not None and publisher is not None:
            ratio = statistics.median(publisher.fps) / max(statistics.median(busy.fps), 1e-9)
            rows.append(
                f"| flat out, {particles:,} x {clients}: {PUBLISHER} / {BARE_BUSY} "
                f"| {ratio:.0%} | (the send path's own cost) | - |"
            )
    return rows


def _nanover_checks(results: dict[Scenario, Result]) -> list[str]:
    """framecast's NanoVer endpoint against nanover-server serving the same frames."""
    rows = []
    for particles, clients in NANOVER_SHAPES:
        ours = results.get(Scenario(ENDPOINT, particles, clients, 30.0))
        theirs = results.get(Scenario(NANOVER, particles, clients, 30.0))
        if ours is None or theirs is None or not ours.latencies_ms:
            continue
        name = f"30 Hz, {particles:,} x {clients}"
        slowest, their_slowest = min(ours.fps), min(theirs.fps)
        rows.append(
            f"| {name}: {ENDPOINT}, slowest client | {slowest:.1f} fps | >= {NANOVER} "
            f"({their_slowest:.1f}) | {_verdict(slowest >= their_slowest)} |"
        )
        median = statistics.median(ours.latencies_ms)
        their_median = (
            statistics.median(theirs.latencies_ms) if theirs.latencies_ms else float("inf")
        )
        rows.append(
            f"| {name}: {ENDPOINT}, latency median | {median:.1f} ms | <= {NANOVER} "
            f"({their_median:.1f} ms) | {_verdict(median <= their_median)} |"
        )
    return rows


def _rate_cap_check(seconds: float) -> str:
    """A producer writing at 1 kHz into a Session at the default interval: updates/s."""
    from framecast import Client, Session

    frame = _initial_frame(1_000)
    counts: list[float] = []
    with Session(frame, port=0) as session, Client(session.app.target) as client:
        arrivals: list[float] = []
        client.subscribe_frames(lambda update: arrivals.append(time.monotonic()), interval=0)
        producer = _Producer(frame, 1_000, 1000.0, lambda: None)
        try:
            threading.Event().wait(1.0)  # warm up
            begin = time.monotonic()
            threading.Event().wait(seconds)
            end = time.monotonic()
        finally:
            producer.close()
        counts.append(sum(begin <= t < end for t in arrivals) / (end - begin))
    rate = counts[0]
    return (
        f"| rate cap: 1 kHz producer, default interval | {rate:.1f} updates/s | <= 31 "
        f"| {_verdict(rate <= 31)} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurement windows")
    parser.add_argument(
        "--latency",
        type=_shape,
        nargs="*",
        default=LATENCY_SHAPES,
        metavar="NxK",
        help="particles x clients through the Session path (e.g. 1000x1)",
    )
    parser.add_argument(
        "--flat",
        type=_shape,
        nargs="*",
        default=FLAT_OUT_SHAPES,
        metavar="NxK",
        help="particles x clients measured flat out against bare grpcio",
    )
    parser.add_argument(
        "--nanover",
        type=_shape,
        nargs="*",
        default=NANOVER_SHAPES,
        metavar="NxK",
        help="particles x clients at 30 Hz: the gRPC Session, its NanoVer endpoint and "
        "nanover-server",
    )
    parser.add_argument("--rates", type=float, nargs="*", default=[25.0, 30.0])
    parser.add_argument("--listeners", type=int, nargs="*", default=[1, 8, 64])
    args = parser.parse_args(argv)
    warmup, seconds = (1.0, 2.0) if args.quick else (1.5, 5.0)

    results: dict[Scenario, Result] = {}
    for scenario in _scenarios(args.latency, args.flat, args.rates, args.nanover):
        if scenario in results:
            continue  # a shape in two lists is measured once
        print(f"running {scenario} ...", file=sys.stderr, flush=True)
        results[scenario] = run(scenario, warmup, seconds)

    print()
    print(
        "| implementation | particles | clients | producer | frames/s per client (median) "
        "| slowest client | latency median | latency p95 | total MB/s | server CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for result in results.values():
        print(_row(result))

    print()
    print("| check | measured | target | verdict |")
    print("|---|---|---|---|")
    for row in _latency_checks(results) + _flat_out_checks(results) + _nanover_checks(results):
        print(row)
    print(_rate_cap_check(seconds))
    print(
        "\nLatency is from the producer's write to the client's decoded update (bare rows: "
        "from the yield to receipt). NanoVer as shipped, same machine class (anchors.md): "
        "100k x 8 at 30 Hz: 2.4 frames/s, 517 ms median, 971 ms p95."
    )

    print()
    print("| publish_transition to receipt | received | latency median | latency p95 |")
    print("|---|---|---|---|")
    for listeners in args.listeners:
        print(f"running transitions to {listeners} listeners ...", file=sys.stderr, flush=True)
        latencies, expected = run_transitions(listeners)
        median = statistics.median(latencies) if latencies else float("nan")
        p95 = float(np.percentile(latencies, 95)) if latencies else float("nan")
        print(
            f"| {listeners} listening client(s) | {len(latencies)} of {expected} "
            f"| {median:.2f} ms | {p95:.2f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
