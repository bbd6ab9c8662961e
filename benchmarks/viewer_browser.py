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

Before and after in one run: ``--before REV`` also measures the front end of the git
revision REV (its Python package on ``PYTHONPATH`` and its JupyterLab extension, built once
into ``~/.cache/framecast/viewer-bench/<commit>``, first on ``JUPYTER_PATH``), in a second
JupyterLab, alternating with this checkout's system by system, so both see the same machine.
Issue 16's target: the anywidget viewer draws and shows no fewer frames than the prebuilt
viewer of f08ffa8.

Usage::

    python benchmarks/viewer_browser.py [--seconds 8] [--particles 10000 100000]
        [--before f08ffa8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from framecast.testing.browser import CHROMIUM_FLAGS, Lab, chromium_path, run_all_cells

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "framecast"

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


def revision_environment(revision: str) -> dict[str, str]:
    """The environment in which a JupyterLab and its kernels run ``revision``'s framecast:
    its tree (from ``git archive``) on ``PYTHONPATH`` and its extension, built with npm the
    first time, first on ``JUPYTER_PATH``. Cached by commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    home = CACHE / "viewer-bench" / commit
    tree = home / "tree"
    built = tree / "framecast" / "labextension"
    if not (built / "package.json").exists():
        print(f"building the front end of {commit[:10]} in {home}", file=sys.stderr, flush=True)
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit], cwd=REPO, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        npm = {"cwd": tree / "labextension", "check": True, "timeout": 900}
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], **npm)  # type: ignore[call-overload]
        subprocess.run(["npm", "run", "build:prod"], **npm)  # type: ignore[call-overload]
    extensions = home / "share" / "jupyter" / "labextensions"
    extensions.mkdir(parents=True, exist_ok=True)
    link = extensions / "framecast"
    if not link.exists():
        link.symlink_to(built, target_is_directory=True)
    return {"PYTHONPATH": str(tree), "JUPYTER_PATH": str(home / "share" / "jupyter")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--particles", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--before", metavar="REV", help="also measure this git revision")
    parser.add_argument("--rounds", type=int, default=1, help="measurements per row (median)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    fronts: dict[str, dict[str, str]] = {"this checkout": {}}
    if args.before:
        fronts = {f"before ({args.before})": revision_environment(args.before), **fronts}
    rows: dict[tuple[int, bool, str], list[tuple[float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as root:
        labs: dict[str, Lab] = {}
        try:
            for index, (front, env) in enumerate(fronts.items()):
                (Path(root) / str(index)).mkdir()
                labs[front] = Lab(Path(root) / str(index), env=env)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_FLAGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for particles in args.particles:
                    for cache in (True, False):
                        for _ in range(args.rounds):
                            # Alternate the front ends: both see the machine as it is now.
                            for front, lab in labs.items():
                                print(
                                    f"measuring {front}: {particles:,} particles, "
                                    f"cache {'on' if cache else 'off'}",
                                    file=sys.stderr,
                                    flush=True,
                                )
                                numbers = measure(lab, page, particles, cache, args.seconds)
                                rows.setdefault((particles, cache, front), []).append(numbers)
                browser.close()
        finally:
            for lab in labs.values():
                lab.close()
    print(
        "| particles | page cache | front end | frames drawn/s | frames shown/s | messages/s "
        "| target |"
    )
    print("|---|---|---|---|---|---|---|")
    for (particles, cache, front), measured in rows.items():
        columns = zip(*measured, strict=True)
        drawn, shown, received = (statistics.median(column) for column in columns)
        target = ">= 30 drawn/s" if particles == 10_000 else "interactive"
        if particles == 10_000:
            target += " (met)" if drawn >= 30 else " (MISSED)"
        print(
            f"| {particles:,} | {'on' if cache else 'off'} | {front} | {drawn:.1f} | "
            f"{shown:.1f} | {received:.1f} | {target} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
