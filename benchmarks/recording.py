"""Recording: what it costs the clients, what it writes, and how fast a replay seeks.

1. A real ``Session`` at 100k particles with a producer writing at 30 Hz (not in step with
   the session), clients in other processes (``broadcast.py``'s), measured with the
   recording off and on, alternately in one run: the clients' frame rate and latency, and
   the recorder's frames, keyframes and merged updates (merged = an update the disk did not
   keep up with; the target is none) and bytes per frame against the raw positions.
2. A 10,000-frame recording (10k particles, a keyframe every 60 frames, as at 30 frames/s
   with the default 2 s): the time to open it (the index is built by one scan that checks
   every record) and to seek to random frames (keyframe + deltas).

Usage::

    python benchmarks/recording.py [--seconds 60] [--particles 100000] [--clients 2]
        [--rounds 1] [--seek-frames 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import (
    SESSION,
    Scenario,
    percentile,
    run,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _recording_session(root: Path, stats: list[dict[str, Any]]) -> Any:
    """A ``during`` hook for ``broadcast.run``: record the session while the clients run."""

    def start(server: Any) -> Any:
        path = root / f"run-{len(stats)}.fcrec"
        recorder = server.session.record(path)

        def finish() -> None:
            recorder.stop()
            stats.append({**recorder.stats, "file": path.stat().st_size})
            path.unlink()

        return finish

    return start


def measure_clients(args: argparse.Namespace) -> list[str]:
    scenario = Scenario(SESSION, args.particles, args.clients, 30.0)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for round in range(args.rounds):
            for recording in (False, True):
                what = "on" if recording else "off"
                print(f"round {round + 1}: recording {what}", file=sys.stderr, flush=True)
                stats: list[dict[str, Any]] = []
                during = _recording_session(Path(root), stats) if recording else None
                result = run(scenario, 2.0, args.seconds, during)
                raw = args.particles * 12
                written = (
                    f"{stats[0]['frames']} frames, {stats[0]['keyframes']} keyframes, "
                    f"{stats[0]['merged']} merged, {stats[0]['dropped']} dropped; "
                    f"{stats[0]['file'] / max(stats[0]['frames'], 1) / raw:.3f} x raw "
                    "positions per frame"
                    if stats
                    else "-"
                )
                rows.append(
                    f"| {what} | {min(result.fps):.1f} | "
                    f"{statistics.median(result.latencies_ms):.1f} | "
                    f"{percentile(result.latencies_ms, 95):.1f} | {written} |"
                )
    return rows


def measure_seeks(frames: int, particles: int = 10_000, seeks: int = 200) -> str:
    import framecast
    from framecast.recording.file import Kind, RecordWriter
    from framecast.wire.codec import assemble_update, encode_entry_parts

    rng = np.random.default_rng(0)
    start = rng.random((particles, 3), dtype=np.float32) * 20
    elements = np.full(particles, 18, dtype=np.uint8)
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "long.fcrec"
        writer = RecordWriter(path, {"source": "benchmarks/recording.py"})
        for index in range(frames):
            positions = start + np.float32(0.001 * index)
            keyframe = index % 60 == 0
            fields: dict[str, Any] = {"particle.positions": positions}
            if keyframe:
                fields["particle.elements"] = elements
            entries = [encode_entry_parts(key, value) for key, value in fields.items()]
            writer.write(Kind.FRAME, index / 30, assemble_update(index, keyframe, 0.0, entries))
        writer.close()
        size = path.stat().st_size
        began = time.perf_counter()
        replay = framecast.replay(path)
        opened = time.perf_counter() - began
        try:
            times = []
            for frame in rng.integers(0, frames, seeks):
                began = time.perf_counter()
                replay.seek(int(frame))
                times.append((time.perf_counter() - began) * 1000)
                expected = start + np.float32(0.001 * int(frame))
                assert np.array_equal(replay.frame["particle.positions"], expected)
        finally:
            replay.close()
    return (
        f"| {frames:,} | {particles:,} | {size / 1e6:,.0f} MB | {opened:.2f} s | "
        f"{statistics.median(times):.1f} ms | {percentile(times, 95):.1f} ms |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--particles", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seek-frames", type=int, default=10_000)
    args = parser.parse_args(argv)
    rows = measure_clients(args)
    seek = measure_seeks(args.seek_frames)
    print(
        f"\nSession at {args.particles:,} particles, producer 30 Hz, {args.clients} client "
        f"processes, {args.seconds:g} s windows"
    )
    print("| recording | slowest client fps | latency median ms | p95 ms | recorder |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nSeeking a replay (random frames; keyframe every 60 frames)")
    print("| frames | particles | file | open (scan + check) | seek median | seek p95 |")
    print("|---|---|---|---|---|---|")
    print(seek)
    return 0


if __name__ == "__main__":
    sys.exit(main())
