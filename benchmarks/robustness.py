"""Faults and load: does a framecast server stay bounded and clean up after its clients?

Rows (clients are real processes; the server is a real ``framecast.Session`` in this one):

* stalled readers: 20 clients subscribe to 100k-particle frames at 30 Hz and never read.
  The server's memory must stay bounded: RSS sampled over the window.
* SIGKILL: 8 clients (frames, shared state and a named session each) are killed mid-stream;
  every count must return to its baseline.
* 500 subscriptions: 500 frame streams opened at once from 5 processes, then closed;
  threads and memory must return to their baseline.
* close() under load: 50 clients streaming; time for ``close()`` to return, and no thread
  or listening port left.
* soak: 8 clients at 30 Hz; RSS and threads at the start and the end.
* state memory: 64 MB of shared state and 16 state subscribers that never read; RSS
  before, at the peak and after they leave.
* one key, 4 writers: 4 client processes write one fresh key at once, round after round;
  how many of their views end up different from the server's (must be 0).
* a lock holder killed with SIGKILL, or frozen with SIGSTOP (its connection stays open
  and nothing answers): seconds until its lock (taken for 24 h) is free.
* 1,100 junk session names joined by one client: a new viewer still joins, and Python
  still tracks a new name.

Usage::

    python benchmarks/robustness.py            # 60 s stalled window, 5-minute soak
    python benchmarks/robustness.py --quick    # 10 s and 30 s
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
from _harness import (
    port_open,
    rss_mb,
    threads,
    wait_for,
)

_FRAMES = "/framecast.v1.Trajectory/SubscribeFrames"
_STATE = "/framecast.v1.State/SubscribeState"


# -- the server side -------------------------------------------------------------------------------
class Producer:
    """A session showing ``particles`` that a thread moves at ``rate`` Hz."""

    def __init__(self, particles: int, rate: float = 30.0, **session: Any) -> None:
        from framecast import FrameData, Session

        rng = np.random.default_rng(0)
        self.variants = [rng.random((particles, 3), dtype=np.float32) for _ in range(4)]
        self.frame = FrameData({"particle.positions": self.variants[0]})
        self.session = Session(self.frame, port=0, **session)
        self.stop = threading.Event()
        self.rate = rate
        self.thread = threading.Thread(target=self._run, name="bench-producer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        tick = 0
        next_time = time.monotonic()
        while not self.stop.is_set() and tick < 10_000_000:
            tick += 1
            self.frame.update({"particle.positions": self.variants[tick % 4]}, index=tick)
            next_time += 1 / self.rate
            self.stop.wait(max(0.0, next_time - time.monotonic()))

    @property
    def address(self) -> str:
        return self.session.app.target

    def close(self) -> float:
        """Stop, and return how long ``Session.close()`` took."""
        self.stop.set()
        self.thread.join(5)
        start = time.monotonic()
        self.session.close()
        return time.monotonic() - start


# -- the client processes -------------------------------------------------------------------------
def _clients_main(mode: str, address: str, count: int, ready: Any, stop: Any, out: Any) -> None:
    """``count`` clients of one kind in this process, until ``stop`` is set (or a kill)."""
    received = [0] * count
    held: list[Any] = []
    refused = 0
    if mode == "read":  # framecast.Client: frames, state and a named session
        from framecast import Client

        for i in range(count):
            client = Client(address)

            def count_frame(update: Any, i: int = i) -> None:
                received[i] += 1

            client.subscribe_frames(count_frame, interval=0)
            client.shared_state.to_dict()
            client.join("robustness")
            held.append(client)
    elif mode == "lock":  # one client that takes a 24-hour lock, then waits to be killed
        from framecast import Client

        client = Client(address)
        client.shared_state.lock("pen", 86_400.0)
        held.append(client)
    else:  # raw streams: "stall" and "state-stall" never read; "open" reads the first only
        channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", -1),
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        held.append(channel)
        method = _STATE if mode == "state-stall" else _FRAMES
        for _ in range(count):
            stream: Any = channel.unary_stream(
                method, request_serializer=None, response_deserializer=None
            )(b"")
            if mode == "open":
                try:
                    next(stream)
                except grpc.RpcError:
                    refused += 1
            held.append(stream)
    ready.put(refused)
    stop.wait(900)
    for item in reversed(held):
        (item.cancel if hasattr(item, "cancel") else item.close)()
    out.put(received)


class Clients:
    """Client processes of one kind, started and ready."""

    def __init__(self, mode: str, address: str, processes: int, per_process: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.ready, self.out, self.stop = context.Queue(), context.Queue(), context.Event()
        self.processes = [
            context.Process(
                target=_clients_main,
                args=(mode, address, per_process, self.ready, self.stop, self.out),
                daemon=True,
            )
            for _ in range(processes)
        ]
        for process in self.processes:
            process.start()
        self.refused = sum(self.ready.get(timeout=120) for _ in self.processes)

    def kill(self) -> None:
        for process in self.processes:
            process.kill()  # SIGKILL: no goodbye to the server

    def reap(self) -> None:
        for process in self.processes:
            process.join(10)

    def finish(self) -> list[int]:
        self.stop.set()
        received = [n for _ in self.processes for n in self.out.get(timeout=60)]
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
        return received


# -- the rows -------------------------------------------------------------------------------------
Row = tuple[str, str, str, str]


def stalled(seconds: float) -> Row:
    server = Producer(100_000)
    base = rss_mb()
    clients = Clients("stall", server.address, 4, 5)
    samples = []
    pause = threading.Event()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(rss_mb())
        pause.wait(0.5)
    clients.finish()
    server.close()
    half = samples[len(samples) // 2 :]
    growth = max(half) - min(half)
    held = growth < 50  # MB over the second half: bounded, not growing with time
    return (
        f"20 clients never read 100k frames, {seconds:g} s",
        f"RSS {base:.0f} MB before, {max(samples):.0f} MB peak, {samples[-1]:.0f} MB at the end; "
        f"{growth:.0f} MB spread over the second half",
        "bounded",
        "held" if held else "GREW",
    )


def killed() -> Row:
    server = Producer(10_000)
    app = server.session.app

    def counts() -> tuple[int, int, int]:
        return (
            app.frames.subscriber_count,
            app.sessions.count("robustness"),
            app.shared_state.subscriber_count,
        )

    base_threads = threads()
    clients = Clients("read", server.address, 8, 1)
    up = wait_for(lambda: counts() == (8, 8, 8), 30)
    peak_threads = threads()
    killed_at = time.monotonic()
    clients.kill()
    back = wait_for(lambda: counts() == (0, 0, 0), 60)
    back_after = time.monotonic() - killed_at
    clients.reap()
    settled = wait_for(lambda: threads() <= base_threads, 30)
    end_threads = threads()
    server.close()
    ok = up is not None and back is not None and settled is not None
    return (
        "8 clients killed with SIGKILL mid-stream",
        f"counts (frames, session, state) {counts_text(up)} -> 0 in {back_after:.2f} s; "
        f"threads {base_threads} -> {peak_threads} -> {end_threads}",
        "back to baseline",
        "held" if ok else "LEAKED",
    )


def counts_text(up: float | None) -> str:
    return "8" if up is not None else "never all 8"


def many() -> Row:
    """Two bursts of 500 subscriptions: the second must reuse what the first freed."""
    from framecast import Limits

    # 100 streams from each of 5 connections: both limits raised for the burst.
    limits = Limits(max_frame_subscribers=500, max_streams_per_client=100)
    server = Producer(1_000, limits=limits)
    app = server.session.app
    base_threads, base_rss = threads(), rss_mb()
    report = []
    ok = True
    for _ in range(2):
        clients = Clients("open", server.address, 5, 100)
        opened = app.frames.subscriber_count
        peak_threads, peak_rss = threads(), rss_mb()
        clients.finish()
        back = wait_for(lambda: app.frames.subscriber_count == 0, 60)
        settled = wait_for(lambda: threads() <= base_threads, 60)
        end_rss = rss_mb()
        report.append((opened, clients.refused, peak_threads, threads(), peak_rss, end_rss))
        ok = ok and opened == 500 and back is not None and settled is not None
    server.close()
    first, second = report
    ok = ok and second[5] <= first[5] + 5  # the second burst reuses the first's memory
    text = "; ".join(
        f"{opened} open ({refused} refused), threads {base_threads} -> {peak} -> {end}, "
        f"RSS {base_rss:.0f} -> {peak_rss:.0f} -> {end_rss:.0f} MB"
        for opened, refused, peak, end, peak_rss, end_rss in report
    )
    return (
        "500 frame subscriptions opened at once, then closed (twice)",
        text,
        "threads back to baseline; the second burst grows nothing",
        "held" if ok else "LEAKED",
    )


def close_under_load() -> Row:
    server = Producer(10_000)
    before = set(threading.enumerate())
    clients = Clients("read", server.address, 5, 10)
    took = server.close()
    left = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    port = port_open(server.address)
    clients.finish()
    ok = took < 3 and not left and not port
    return (
        "close() with 50 clients streaming",
        f"returned in {took * 1000:.0f} ms; threads left: {len(left)}; port open: {port}",
        "< 3 s, nothing left",
        "held" if ok else "MISSED",
    )


def soak(seconds: float) -> Row:
    server = Producer(10_000)
    clients = Clients("read", server.address, 8, 1)
    pause = threading.Event()
    pause.wait(2)  # warm up: the first RSS after every client is served
    start_rss, start_threads = rss_mb(), threads()
    pause.wait(seconds)
    end_rss, end_threads = rss_mb(), threads()
    received = clients.finish()
    server.session.health_check()
    server.close()
    rate = statistics.median(received) / (seconds + 2)
    ok = end_threads <= start_threads and end_rss - start_rss < 50 and rate > 25
    return (
        f"soak: 8 clients at 30 Hz for {seconds:g} s",
        f"RSS {start_rss:.0f} -> {end_rss:.0f} MB; threads {start_threads} -> {end_threads}; "
        f"{rate:.1f} frames/s per client",
        "flat",
        "held" if ok else "DRIFTED",
    )


def state_memory() -> Row:
    """64 MB of state, 16 subscribers that never read: what the server holds for them."""
    server = Producer(1_000)
    state = server.session.shared_state
    value = "x" * 1_000_000  # 1 MB of JSON each, under Limits.max_json_bytes
    for i in range(63):
        state[f"blob{i}"] = value
    base = rss_mb()
    clients = Clients("state-stall", server.address, 4, 4)
    subscribed = wait_for(lambda: state.subscriber_count == 16, 30)
    samples = []
    pause = threading.Event()
    for _ in range(20):  # 10 s
        samples.append(rss_mb())
        pause.wait(0.5)
    clients.finish()
    gone = wait_for(lambda: state.subscriber_count == 0, 30)
    pause.wait(2)
    after = rss_mb()
    server.close()
    peak = max(samples)
    # Before parts, each subscriber held its own serialized copy: 141 -> 3,369 MB.
    ok = subscribed is not None and gone is not None and peak - base < 200
    return (
        f"16 state subscribers that never read {state.size / 1e6:.0f} MB of shared state",
        f"RSS {base:.0f} MB before, {peak:.0f} MB peak, {after:.0f} MB after they left",
        "peak < before + 200 MB",
        "held" if ok else "GREW",
    )


def one_key_many_writers(writers: int = 4, rounds: int = 100) -> Row:
    from framecast.testing import one_key_race

    server = Producer(1_000)
    stale = one_key_race(
        server.session.shared_state, server.address, writers=writers, rounds=rounds
    )
    server.close()
    return (
        f"{writers} client processes write one fresh key at once, {rounds} rounds",
        f"views that diverge from the server: {stale} of {writers * rounds}",
        "0",
        "held" if stale == 0 else "DIVERGED",
    )


def lock_holder_gone(how: str) -> Row:
    """A client holding a 24-hour lock is killed (its connection closes) or frozen with
    SIGSTOP (the connection stays open, but nothing answers): seconds until it is free."""
    from framecast.transports.grpc.server import KEEPALIVE_SECONDS, KEEPALIVE_TIMEOUT

    server = Producer(1_000)
    state = server.session.shared_state
    clients = Clients("lock", server.address, 1, 1)
    locked = state.lock_holder("pen") is not None
    start = time.monotonic()
    kill = how == "SIGKILL"
    if kill:
        clients.kill()
        bound, target = 1.0, "at once (its connection closes)"
    else:
        for process in clients.processes:
            assert process.pid is not None
            os.kill(process.pid, signal.SIGSTOP)
        bound = KEEPALIVE_SECONDS + KEEPALIVE_TIMEOUT + 2.0
        target = f"within keepalive + timeout ({KEEPALIVE_SECONDS + KEEPALIVE_TIMEOUT:g} s)"
    freed = wait_for(lambda: state.lock_holder("pen") is None, 60)
    took = time.monotonic() - start
    clients.kill()
    clients.reap()
    server.close()
    ok = locked and freed is not None and took <= bound
    return (
        "a client holding a 24-hour lock, "
        + ("killed with SIGKILL" if kill else "frozen with SIGSTOP"),
        f"lock free after {took:.2f} s" if freed is not None else "lock still held after 60 s",
        target,
        "held" if ok else "HELD THE LOCK",
    )


def junk_session_names(count: int = 1_100) -> Row:
    from framecast import Client, LimitExceededError

    server = Producer(1_000)
    app = server.session.app
    start = time.monotonic()
    refused = 0
    with Client(server.address) as junk:
        for i in range(count):
            try:
                junk.join(f"junk-{i}").leave()
            except ConnectionError:
                refused += 1
    took = time.monotonic() - start
    with Client(server.address) as viewer:
        try:
            listener = viewer.join("a-new-viewer")
        except ConnectionError:
            joined = False
        else:
            joined = listener.clients_at_join == 1
            listener.leave()
    with contextlib.suppress(LimitExceededError):
        server.session.sessions.tracked = "axion"
    tracked = "axion" in app.sessions.counts()
    known = len(app.sessions.counts())
    server.close()
    ok = joined and tracked and refused == 0 and known <= app.limits.max_sessions
    return (
        f"one client joins {count:,} junk session names, one after another",
        f"{refused} refused in {took:.1f} s; then a new viewer joined: {joined}; Python "
        f"tracked a new name: {tracked}; names known: {known}",
        "a new viewer still joins",
        "held" if ok else "USED UP",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 s stalled window, 30 s soak")
    parser.add_argument(
        "--only", nargs="+", metavar="ROW", help="run only these rows (names as printed)"
    )
    args = parser.parse_args(argv)
    stalled_seconds, soak_seconds = (10.0, 30.0) if args.quick else (60.0, 300.0)
    rows = []
    runs: list[tuple[str, Callable[[], Row]]] = [
        ("stalled readers", lambda: stalled(stalled_seconds)),
        ("SIGKILL", killed),
        ("500 subscriptions", many),
        ("close under load", close_under_load),
        ("soak", lambda: soak(soak_seconds)),
        ("state memory", state_memory),
        ("one key, many writers", one_key_many_writers),
        ("killed lock holder", lambda: lock_holder_gone("SIGKILL")),
        ("frozen lock holder", lambda: lock_holder_gone("SIGSTOP")),
        ("junk session names", junk_session_names),
    ]
    for name, run in runs:
        if args.only and name not in args.only:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.append(run())
    print()
    print("| fault or load | measured | target | verdict |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
