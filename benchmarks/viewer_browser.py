"""Frames drawn per second by the notebook viewer in Chromium, at 10k and 100k particles.

A real JupyterLab on 127.0.0.1 and Debian's Chromium (software WebGL, no GPU), as in the
browser tests. Each system is a trajectory of N particles playing at 30 frames/s, shown
twice: with the page's trajectory cache (the default: positions are sent once, then the
page plays them) and with the cache off (``cache_bytes=0``: every frame's positions stream
from the kernel). The viewer counts the frames it draws (``data-drawn``), the frames whose
positions it placed in the scene (``data-shown``: what the user sees move) and the messages
it receives from the kernel. The camera spins (``viewer.spin = True``), so the view redraws
every animation frame, as while a user orbits: "drawn" is what the renderer can do.
Target (issue 5): at least 30 frames/s drawn at 10k particles.

Usage::

    python benchmarks/viewer_browser.py [--seconds 8] [--particles 10000 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from browser import CHROMIUM_FLAGS, Lab, chromium_path, run_all_cells

SETUP = """\
import numpy as np
import framecast
rng = np.random.default_rng(0)
n = {n}
box = (n / 20) ** (1 / 3)
start = rng.random((n, 3), dtype=np.float32) * box
steps = rng.normal(0, 0.01, (30, n, 3)).astype(np.float32).cumsum(axis=0)
trajectory = framecast.Trajectory(start + steps, {{"particle.elements": np.full(n, 18)}}, fps=30)
session = framecast.Session(trajectory, port=0)
"""


def measure(
    lab: Lab, page: object, particles: int, cache: bool, seconds: float
) -> tuple[float, float, float]:
    name = f"viewer-{particles}-{'cached' if cache else 'streamed'}.ipynb"
    budget = "" if cache else ", cache_bytes=0"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(SETUP.format(n=particles)),
                new_code_cell(f"viewer = session.view(spin=True{budget})\nviewer"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        lab.root / name,
    )
    lab.open(page, name)
    run_all_cells(page)
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const v = document.querySelector('.fc-viewer');"
        " return v && Number(v.dataset.drawn) > 5"
        + (" && v.dataset.local === 'true'; }" if cache else "; }"),
        timeout=120_000,
    )
    read = (
        "() => { const v = document.querySelector('.fc-viewer');"
        " return [Number(v.dataset.drawn), Number(v.dataset.shown), Number(v.dataset.received)];"
        " }"
    )
    # Two reads only: polling the page during the window would compete with the drawing.
    drawn0, shown0, received0 = page.evaluate(read)  # type: ignore[attr-defined]
    start = time.monotonic()
    page.wait_for_timeout(seconds * 1000)  # type: ignore[attr-defined]
    drawn1, shown1, received1 = page.evaluate(read)  # type: ignore[attr-defined]
    elapsed = time.monotonic() - start
    page.evaluate(  # type: ignore[attr-defined]
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code: 'session.close()'})"
    )
    return (
        (drawn1 - drawn0) / elapsed,
        (shown1 - shown0) / elapsed,
        (received1 - received0) / elapsed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--particles", type=int, nargs="*", default=[10_000, 100_000])
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as root:
        lab = Lab(Path(root))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_FLAGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                rows = []
                for particles in args.particles:
                    for cache in (True, False):
                        print(
                            f"measuring {particles:,} particles, cache {'on' if cache else 'off'}",
                            file=sys.stderr,
                            flush=True,
                        )
                        numbers = measure(lab, page, particles, cache, args.seconds)
                        rows.append((particles, cache, *numbers))
                browser.close()
        finally:
            lab.close()
    print("| particles | page cache | frames drawn/s | frames shown/s | messages/s | target |")
    print("|---|---|---|---|---|---|")
    for particles, cache, drawn, shown, received in rows:
        target = ">= 30 drawn/s" if particles == 10_000 else "interactive"
        verdict = ""
        if particles == 10_000:
            verdict = " (met)" if drawn >= 30 else " (MISSED)"
        print(
            f"| {particles:,} | {'on' if cache else 'off'} | {drawn:.1f} | {shown:.1f} | "
            f"{received:.1f} | {target}{verdict} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
