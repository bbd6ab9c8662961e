"""Frame broadcast: frames/s per client and publish-to-receive latency, against bare grpcio.

For N particles and K client processes, a producer thread changes the positions at 30 Hz
or flat out; each change goes through the real path (``FrameData.update``, then
``take_changes`` and ``FramePublisher.publish``, as the session's broadcaster does), and
each client is a real ``framecast.Client`` in its own process that decodes every update.
The baseline is a bare grpcio server-streaming RPC that yields the same bytes (an encoded
frame) to clients that do nothing with them: the transport's ceiling on this machine.

Usage::

    python benchmarks/broadcast.py            # the full table (about 3 minutes)
    python benchmarks/broadcast.py --quick    # shorter windows, same rows

Both are measured in the same run, side by side, so the ratios hold on a noisy machine.
Targets (from the issue): at 100k particles, 8 clients, 30 Hz: >= 29 frames/s per client,
median latency <= 10 ms, p95 <= 30 ms; flat out, framecast >= 70 % of the bare stream.
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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

import grpc
import numpy as np

_BARE_METHOD = "/bench.Bare/Stream"
_STAMP = struct.Struct("<d")


@dataclass(frozen=True)
class Scenario:
    implementation: str  # "framecast", "bare grpcio" (sync server) or "bare grpc.aio"
    particles: int
    clients: int
    rate: float | None  # producer Hz, None = flat out


@dataclass
class Result:
    scenario: Scenario
    fps: list[float]  # per client
    latencies_ms: list[float]  # all clients pooled
    payload_bytes: int


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


class FramecastServerUnderTest:
    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast import FrameData
        from framecast.server import FramecastServer

        self.server = FramecastServer(port=0)
        self.frame = FrameData(
            {
                "particle.elements": np.full(particles, 18, dtype=np.uint8),
                "particle.positions": _positions(particles, 1)[0],
            }
        )
        self.server.frames.publish(self.frame.take_all())
        self.variants = _positions(particles)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(rate,), daemon=True)
        self.thread.start()
        self.address = self.server.target
        self.payload = len(self.server.frames.current_message())

    def _produce(self, rate: float | None) -> None:
        for tick in _pace(self.stop, rate):
            self.frame.update(
                {"particle.positions": self.variants[tick % 4], "energy.kinetic": float(tick)},
                index=tick,
            )
            self.server.frames.publish(self.frame.take_changes())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


class BareServerUnderTest:
    """grpcio streaming the same encoded frame bytes, with an 8-byte timestamp in front."""

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast._codec import assemble_update, encode_entry_parts

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

    def _stream(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in _pace(self.stop, self.rate):
            if not context.is_active():
                return
            yield _STAMP.pack(time.time()) + self.body

    def close(self) -> None:
        self.stop.set()
        self.server.stop(1).wait(5)
        self.executor.shutdown(wait=True)


class BareAioServerUnderTest:
    """The same bare stream served by grpc.aio on a dedicated event-loop thread.

    Measured beside the sync server because DESIGN.md asks which transport to settle on.
    """

    def __init__(self, particles: int, rate: float | None) -> None:
        from framecast._codec import assemble_update, encode_entry_parts

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
    if implementation == "framecast":
        from framecast import Client, FrameUpdate

        client = Client(address)

        def record(update: FrameUpdate) -> None:
            with lock:
                arrivals.append((update.receive_time, update.receive_time - update.publish_time))

        client.subscribe_frames(record, interval=0)
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


def _listeners_main(address: str, count: int, expected: int, ready: Any, results: Any) -> None:
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
    done.wait(120)
    for client in clients:
        client.close()
    results.put(latencies)


def run_transitions(listeners: int, publications: int = 60) -> tuple[list[float], int]:
    """Publish transitions to ``listeners`` clients (in up to 8 processes); latencies in ms."""
    from framecast import demo
    from framecast.server import FramecastServer
    from framecast.sessions import ClientSessions

    server = FramecastServer(port=0)
    sessions = ClientSessions(server.sessions, server.timelines)
    timeline = demo.argon_trajectory(n=10, frames=publications + 1)
    processes_count = min(listeners, 8)
    per_process = [listeners // processes_count] * processes_count
    for i in range(listeners % processes_count):
        per_process[i] += 1
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    processes = [
        context.Process(
            target=_listeners_main,
            args=(server.target, count, publications, ready, results),
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
            pause.wait(0.02)  # spaced, so that latest-wins never merges two publications
        latencies = [value for _ in processes for value in results.get(timeout=120)]
    finally:
        _reap(processes)
        server.close()
    return latencies, listeners * publications


def run(scenario: Scenario, warmup: float, seconds: float) -> Result:
    if scenario.implementation == "framecast":
        server: Any = FramecastServerUnderTest(scenario.particles, scenario.rate)
    elif scenario.implementation == "bare grpc.aio":
        server = BareAioServerUnderTest(scenario.particles, scenario.rate)
    else:
        server = BareServerUnderTest(scenario.particles, scenario.rate)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    start = context.Event()
    processes = [
        context.Process(
            target=_client_main,
            args=(
                scenario.implementation,
                server.address,
                warmup,
                seconds,
                ready,
                start,
                results,
            ),
            daemon=True,
        )
        for _ in range(scenario.clients)
    ]
    try:
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=120)
        start.set()
        reports = [results.get(timeout=warmup + seconds + 60) for _ in processes]
    finally:
        _reap(processes)
        server.close()
    fps = [report[0] for report in reports]
    latencies = [value for report in reports for value in report[1]]
    return Result(scenario, fps, latencies, server.payload)


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
        f"{p95:.1f} ms | {total_mb:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurement windows")
    parser.add_argument("--particles", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--listeners", type=int, nargs="*", default=[1, 8, 64])
    args = parser.parse_args(argv)
    warmup, seconds = (1.0, 2.0) if args.quick else (1.5, 5.0)

    results: dict[Scenario, Result] = {}
    for particles in args.particles:
        for clients in args.clients:
            for rate in (30.0, None):
                implementations = ["framecast", "bare grpcio"]
                if rate is None:
                    implementations.append("bare grpc.aio")
                for implementation in implementations:
                    scenario = Scenario(implementation, particles, clients, rate)
                    print(f"running {scenario} ...", file=sys.stderr, flush=True)
                    results[scenario] = run(scenario, warmup, seconds)

    print()
    print(
        "| implementation | particles | clients | producer | frames/s per client (median) "
        "| slowest client | latency median | latency p95 | total MB/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results.values():
        print(_row(result))

    print()
    print("| check | measured | target | verdict |")
    print("|---|---|---|---|")
    for particles in args.particles:
        for clients in args.clients:
            fc = results[Scenario("framecast", particles, clients, None)]
            bare = results[Scenario("bare grpcio", particles, clients, None)]
            ratio = statistics.median(fc.fps) / max(statistics.median(bare.fps), 1e-9)
            verdict = "met" if ratio >= 0.7 else "MISSED"
            print(
                f"| flat out, {particles:,} x {clients}: framecast / bare | {ratio:.0%} "
                f"| >= 70 % | {verdict} |"
            )
    key = Scenario("framecast", 100_000, 8, 30.0)
    if key in results:
        r = results[key]
        median = statistics.median(r.latencies_ms)
        p95 = float(np.percentile(r.latencies_ms, 95))
        slowest = min(r.fps)
        print(
            f"| 100k x 8 at 30 Hz: slowest client | {slowest:.1f} fps | >= 29 | "
            f"{'met' if slowest >= 29 else 'MISSED'} |"
        )
        print(
            f"| 100k x 8 at 30 Hz: latency median | {median:.1f} ms | <= 10 ms | "
            f"{'met' if median <= 10 else 'MISSED'} |"
        )
        print(
            f"| 100k x 8 at 30 Hz: latency p95 | {p95:.1f} ms | <= 30 ms | "
            f"{'met' if p95 <= 30 else 'MISSED'} |"
        )
    print(
        "\nNanoVer as shipped, same machine class (anchors.md): 100k x 8 at 30 Hz: "
        "2.4 frames/s, 517 ms median, 971 ms p95."
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
