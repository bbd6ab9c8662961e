"""What a plot costs: the kernel per broadcast of a live simulation, the bytes per point, and
a 100,000-frame trajectory's first plot and seek in Chromium.

Three measurements, one run:

1. A live argon simulation (a real ``Session``, its engine not in step with the broadcast)
   plotted with three series: the kernel's CPU time per appended point (the plot's thread,
   from ``/proc``), and the bytes of each ``plot-points`` message per series.
2. A 100,000-frame trajectory (two particles, a time and an energy per frame): the kernel's
   time to compute the whole plot (``Plot(...)``, every frame read once) and the bytes sent.
3. The same 100,000 points in the plot widget in Debian's Chromium (software GL), in a page
   that holds the plot module and its data (``export_html(plot=...)``): time to the first
   plot drawn, and from a click to the playhead at that frame.

Aims (issue 30): under 0.2 ms of kernel time and under 100 bytes per series per frame; the
first plot of 100,000 frames in under 1 s.

Usage::

    python benchmarks/plot.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import framecast
from framecast.jupyter.plot import Plot
from framecast.testing.browser import CHROMIUM_FLAGS, chromium_path


def live(seconds: float) -> tuple[float, float, int]:
    """(µs of the plot's CPU per broadcast, bytes per series per point, points)."""
    sent: list[tuple[dict[str, Any], Any]] = []
    with framecast.Session(framecast.demo.argon(500), port=0) as session:
        plot = Plot(session, "energy.potential", "energy.kinetic", "system.temperature")
        plot.send = lambda content, buffers=None: sent.append((content, buffers))
        # The plot's work per broadcast, timed on its own thread (CPU, not wall time).
        cpu: list[float] = []
        append = plot._append

        def timed(index: int, fields: Any) -> None:
            start = time.thread_time()
            append(index, fields)
            cpu.append(time.thread_time() - start)

        plot._append = timed  # type: ignore[method-assign]
        threading.Event().wait(seconds)
        plot.close()
    points = [content for content, _ in sent if content.get("type") == "plot-points"]
    size = float(np.mean([len(json.dumps(p)) for p in points])) if points else float("nan")
    return float(np.mean(cpu)) * 1e6 if cpu else float("nan"), size / 3, len(points)


def whole(frames: int) -> tuple[float, int, framecast.Trajectory]:
    """(s to compute the whole plot, bytes sent, the trajectory)."""
    positions = np.zeros((frames, 2, 3), dtype=np.float32)
    positions[:, 1, 0] = np.sin(np.arange(frames) / 500)
    trajectory = framecast.Trajectory(positions, {"particle.elements": np.array([18, 18])})
    sent: list[int] = []
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        start = time.perf_counter()
        plot = Plot(session, framecast.distance([0], [1]), "system.simulation.time", progress=False)
        elapsed = time.perf_counter() - start
        plot.send = lambda content, buffers=None: sent.append(
            sum(memoryview(b).nbytes for b in buffers or [])
        )
        plot._send_all()
        plot.close()
    return elapsed, sent[-1], trajectory


def browser(trajectory: framecast.Trajectory) -> tuple[float, float]:
    """(s from page load to the first plot of every point, s from a click to the playhead)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as root:
        path = framecast.export_html(
            trajectory,
            Path(root) / "plot.html",
            plot=[framecast.distance([0], [1])],
            autoplay=False,
            representations=None,
        )
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_FLAGS
            )
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            start = time.monotonic()
            page.goto(path.as_uri())
            count = trajectory.frame_count
            page.wait_for_selector(f".fc-plot[data-points='{count}']", timeout=120_000)
            first = time.monotonic() - start
            box = page.locator(".fc-plot .u-over").bounding_box()
            assert box is not None
            x, y = box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            start = time.monotonic()
            page.mouse.click(x, y)
            page.wait_for_function(
                "() => { const p = document.querySelector('.fc-plot').dataset;"
                " return p.went !== undefined && p.playhead === p.went; }",
                timeout=60_000,
            )
            seek = time.monotonic() - start
            chromium.close()
    return first, seek


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args(argv)
    print("measuring a live simulation", file=sys.stderr, flush=True)
    per_point, per_series, points = live(args.seconds)
    print(f"computing a {args.frames:,}-frame plot", file=sys.stderr, flush=True)
    computed, size, trajectory = whole(args.frames)
    print("drawing it in Chromium", file=sys.stderr, flush=True)
    first, seek = browser(trajectory)
    print("| measure | value | aim |")
    print("|---|---|---|")
    print(
        f"| kernel CPU per live point, 3 series ({points} points) | {per_point:.0f} µs | < 200 µs |"
    )
    print(f"| bytes per series per live point | {per_series:.0f} B | < 100 B |")
    print(f"| kernel: whole plot of {args.frames:,} frames, 2 series | {computed:.2f} s | |")
    print(f"| bytes of that plot (float64 buffers) | {size / 1e6:.1f} MB | |")
    print(f"| Chromium: page load to {args.frames:,} points drawn | {first:.2f} s | < 1 s |")
    print(f"| Chromium: click to the playhead there | {seek * 1000:.0f} ms | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
