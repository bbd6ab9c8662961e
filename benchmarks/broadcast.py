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
import statistics
import sys
import threading
import time

import numpy as np
from _harness import (
    BARE,
    BARE_AIO,
    BARE_BUSY,
    ENDPOINT,
    NANOVER,
    PUBLISHER,
    SESSION,
    SESSION_CAPPED,
    FrameProducer,
    Result,
    Scenario,
    initial_frame,
    run,
    run_transitions,
)


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

    frame = initial_frame(1_000)
    counts: list[float] = []
    with Session(frame, port=0) as session, Client(session.app.target) as client:
        arrivals: list[float] = []
        client.subscribe_frames(lambda update: arrivals.append(time.monotonic()), interval=0)
        producer = FrameProducer(frame, 1_000, 1000.0, lambda: None)
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
