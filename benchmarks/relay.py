"""Fan-out through NATS against direct gRPC: the origin's CPU, and each subscriber's
frames/s and latency, for 8, 32 and 64 subscribers at 10k and 100k particles.

Both paths run what a user runs: a real ``framecast.Session`` showing a ``FrameData`` that
a producer thread writes at 30 Hz (not in step with the session's broadcaster). On the
direct path the subscribers are gRPC clients of the session; on the NATS path the session
relays to node A of a two-node NATS cluster (real ``nats-server`` processes joined by a
route) and the subscribers are ``framecast.Client("nats://<node B>/bench")``. Subscribers
run several to a process (``--per-process``), in other processes, each a real
``framecast.Client`` subscribed with ``interval=0`` that decodes every update; latency is
from the producer's write (a wall-clock stamp in the frame) to the decoded update.

The origin's CPU is the session's process (producer, broadcaster, gRPC or the relay); the
NATS nodes' CPU is both ``nats-server`` processes together; a subscriber's CPU per update
is its process's CPU over the window divided by the updates its clients decoded (through
NATS it includes decompressing positions, which a gRPC client never does). Through NATS
the origin's cost must stay flat as subscribers grow: it publishes each update once.

Usage::

    python benchmarks/relay.py            # the full table (about 4 minutes)
    python benchmarks/relay.py --quick    # shorter windows, same rows
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _harness import (
    WRITTEN_KEY,
    FrameProducer,
    initial_frame,
    process_cpu_seconds,
    reap,
)

DIRECT = "direct gRPC"
RELAYED = "NATS, 2 nodes"
SHAPES = [(10_000, 8), (10_000, 32), (10_000, 64), (100_000, 8), (100_000, 32), (100_000, 64)]
RATE = 30.0


@dataclass
class Result:
    path: str
    particles: int
    subscribers: int
    fps: list[float]
    latencies_ms: list[float]
    origin_cpu: float
    nats_cpu: float
    bytes_per_update: int
    client_ms: float  # subscriber processes' CPU per update received


def _clients_main(
    address: str, count: int, warmup: float, seconds: float, ready: Any, start: Any, results: Any
) -> None:
    """``count`` clients in this process; puts (per-client fps, pooled latencies in ms)."""
    from framecast import Client, FrameUpdate

    lock = threading.Lock()
    arrivals: list[list[tuple[float, float]]] = [[] for _ in range(count)]
    clients = [Client(address, connect_timeout=30) for _ in range(count)]

    def recorder(slot: int) -> Any:
        def record(update: FrameUpdate) -> None:
            now = time.time()
            written = update.fields.get(WRITTEN_KEY)
            if isinstance(written, float):
                with lock:
                    arrivals[slot].append((now, now - written))

        return record

    for slot, client in enumerate(clients):
        client.subscribe_frames(recorder(slot), interval=0)
    ready.put(True)
    start.wait(120)
    begin = time.time() + warmup
    threading.Event().wait(warmup)
    cpu_begin = process_cpu_seconds()
    threading.Event().wait(seconds)
    cpu = process_cpu_seconds() - cpu_begin
    end = begin + seconds
    for client in clients:
        client.close()
    with lock:
        windows = [[lat for t, lat in slot if begin <= t < end] for slot in arrivals]
    fps = [len(window) / seconds for window in windows]
    latencies = [lat * 1000 for window in windows for lat in window]
    results.put((fps, latencies, cpu, sum(len(window) for window in windows)))


def run(
    path: str, particles: int, subscribers: int, args: argparse.Namespace, workdir: Path
) -> Result:
    from framecast import Session
    from framecast.testing.nats import NatsServer

    frame = initial_frame(particles)
    nodes: list[NatsServer] = []
    session = Session(frame, port=0, name="bench")
    try:
        if path == RELAYED:
            a = NatsServer(workdir, name="a", cluster=True)
            nodes.append(a)
            b = NatsServer(workdir, name="b", cluster=True, routes=[a.route_url])
            nodes.append(b)
            b.wait_for_log("Route connection created", 10.0)
            session.relay(a.url)
            address = f"{b.url}/bench"
        else:
            address = session.app.target
        producer = FrameProducer(frame, particles, RATE, lambda: None)
        per = args.per_process
        counts = [min(per, subscribers - i) for i in range(0, subscribers, per)]
        context = multiprocessing.get_context("spawn")
        ready, results = context.Queue(), context.Queue()
        start = context.Event()
        processes = [
            context.Process(
                target=_clients_main,
                args=(address, count, args.warmup, args.seconds, ready, start, results),
                daemon=True,
            )
            for count in counts
        ]
        try:
            for process in processes:
                process.start()
            for _ in processes:
                ready.get(timeout=180)
            origin_before = process_cpu_seconds()
            nats_before = sum(process_cpu_seconds(node.pid) for node in nodes)
            wall = time.monotonic()
            start.set()
            reports = [results.get(timeout=args.warmup + args.seconds + 120) for _ in processes]
            elapsed = time.monotonic() - wall
            origin = (process_cpu_seconds() - origin_before) / elapsed * 100
            nats_cpu = (
                (sum(process_cpu_seconds(node.pid) for node in nodes) - nats_before) / elapsed * 100
            )
        finally:
            reap(processes)
            producer.close()
        relay = session.app.relay
        size = (
            len(relay.current_body())
            if relay is not None
            else len(session.app.frames.current_message())
        )
        session.health_check()
    finally:
        session.close()
        for node in nodes:
            node.close()
    fps = [value for report in reports for value in report[0]]
    latencies = [value for report in reports for value in report[1]]
    updates = sum(report[3] for report in reports)
    client_ms = sum(report[2] for report in reports) / updates * 1000 if updates else float("nan")
    return Result(
        path,
        particles,
        subscribers,
        fps,
        latencies,
        origin,
        nats_cpu if nodes else float("nan"),
        size,
        client_ms,
    )


def _row(result: Result) -> str:
    lat = result.latencies_ms
    median = statistics.median(lat) if lat else float("nan")
    p95 = float(np.percentile(lat, 95)) if lat else float("nan")
    nats = "-" if np.isnan(result.nats_cpu) else f"{result.nats_cpu:.0f} %"
    return (
        f"| {result.path} | {result.particles:,} | {result.subscribers} | "
        f"{statistics.median(result.fps):.1f} | {min(result.fps):.1f} | {median:.1f} ms | "
        f"{p95:.1f} ms | {result.origin_cpu:.0f} % | {nats} | {result.client_ms:.2f} ms | "
        f"{result.bytes_per_update / 1e3:,.0f} KB |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows")
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--per-process", type=int, default=8, help="subscribers per process")
    parser.add_argument("--shapes", nargs="*", default=None, help="e.g. 10000x8 100000x64")
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    args.seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 6.0)
    shapes = (
        [tuple(int(x) for x in shape.split("x")) for shape in args.shapes]
        if args.shapes
        else SHAPES
    )
    print(
        f"producer at {RATE:g} Hz into a framecast.Session; subscribers {args.per_process} to "
        f"a process; {args.seconds:g} s windows after {args.warmup:g} s; positions through "
        "NATS at 0.001 nm (compact); latency from the producer's write to the decoded update\n"
    )
    print(
        "| path | particles | subscribers | fps median | fps min | latency median | "
        "latency p95 | origin CPU | NATS nodes CPU | subscriber CPU per update | update |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as workdir:
        for particles, subscribers in shapes:
            for path in (DIRECT, RELAYED):
                result = run(path, particles, subscribers, args, Path(workdir))
                results.append(result)
                print(_row(result), flush=True)
    print()
    for particles in sorted({r.particles for r in results}):
        relayed = [r for r in results if r.path == RELAYED and r.particles == particles]
        if len(relayed) >= 2:
            low, high = relayed[0], relayed[-1]
            ratio = high.origin_cpu / low.origin_cpu if low.origin_cpu else float("nan")
            print(
                f"{particles:,} particles through NATS: origin CPU {low.origin_cpu:.0f} % at "
                f"{low.subscribers} subscribers, {high.origin_cpu:.0f} % at {high.subscribers} "
                f"({ratio:.2f}x for {high.subscribers / low.subscribers:g}x the subscribers)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
