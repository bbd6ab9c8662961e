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

``--molecules`` measures the rich representations instead (issue 29): adenylate kinase
(3,341 atoms, MDAnalysisTests' PSF and DCD) as Mol*'s cartoon, and the 47,681-atom solvated
system (GRO and XTC) as a cartoon with the water hidden, each streamed from the kernel at
30 frames/s (``cache_bytes=0``), beside the same systems in today's three.js view
(``default_representation=False``), in one run: frames Mol* takes in per second, its cost
per coordinate update, the time to the first cartoon, and how long an orbit drag takes to
show in Mol*'s layer. Aims: >= 20 cartoon frames/s at 3k atoms; a drag answered within
100 ms at 47k.

Usage::

    python benchmarks/viewer_browser.py [--seconds 8] [--particles 10000 100000]
        [--before f08ffa8] [--rounds 2]
    python benchmarks/viewer_browser.py --molecules [--seconds 8]
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


MOLECULES = {
    "AdK 3,341 atoms": "[PSF, DCD]",
    "AdK in water 47,681 atoms": "[GRO, XTC]",
}
MOLECULE_SETUP = """\
import framecast
from MDAnalysisTests.datafiles import PSF, DCD, GRO, XTC
trajectory = framecast.from_mdanalysis({files}, fps=30, mode="loop")
session = framecast.Session(trajectory, port=0)
"""

#: In the page: a drag on the three.js canvas, then the time until Mol*'s layer shows it.
DRAG = """async () => {
  const view = document.querySelector('.fc-viewer');
  const top = view.querySelector('canvas.fc-viewer-canvas');
  const under = view.querySelector('.fc-molstar canvas');
  const sum = () => {
    const copy = document.createElement('canvas');
    copy.width = under.width; copy.height = under.height;
    const g = copy.getContext('2d'); g.drawImage(under, 0, 0);
    const d = g.getImageData(0, 0, copy.width, copy.height).data;
    let s = 0; for (let i = 0; i < d.length; i += 64) s = (s * 31 + d[i]) % 1000000007;
    return s;
  };
  const r = top.getBoundingClientRect();
  const at = (x) => ({clientX: r.left + x, clientY: r.top + r.height / 2, pointerId: 1,
    bubbles: true, button: 0, buttons: 1, pointerType: 'mouse', isPrimary: true});
  const times = [];
  for (let k = 0; k < 5; k++) {
    const before = sum();
    const start = performance.now();
    top.dispatchEvent(new PointerEvent('pointerdown', at(200)));
    top.dispatchEvent(new PointerEvent('pointermove', at(200 + 40)));
    top.dispatchEvent(new PointerEvent('pointerup', {...at(240), buttons: 0}));
    for (let i = 0; i < 200 && sum() === before; i++) {
      await new Promise(requestAnimationFrame);
    }
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[2];
}"""


def measure_molecule(
    lab: Lab, page: object, name: str, files: str, rich: bool, seconds: float
) -> tuple[float, float, float, float]:
    """(frames taken in per second, ms per Mol* update, s to the first drawing, drag ms)."""
    notebook = f"molecule-{len(list(lab.root.glob('molecule-*')))}.ipynb"
    option = "" if rich else ", default_representation=False"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(MOLECULE_SETUP.format(files=files)),
                new_code_cell(f"viewer = session.view(cache_bytes=0{option})\nviewer"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        lab.root / notebook,
    )
    lab.open(page, notebook)
    started = time.monotonic()
    run_all_cells(page)
    ready = "v.dataset.molstar === 'ready' && Number(v.dataset.molstarUpdates) > 2"
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => { const v = document.querySelector('.fc-viewer');"
        f" return v && Number(v.dataset.shown) > 2 && {ready if rich else 'true'}; }}",
        timeout=300_000,
    )
    first = time.monotonic() - started
    key = "molstarUpdates" if rich else "shown"
    read = f"() => Number(document.querySelector('.fc-viewer').dataset.{key})"
    count0 = page.evaluate(read)  # type: ignore[attr-defined]
    start = time.monotonic()
    page.wait_for_timeout(seconds * 1000)  # type: ignore[attr-defined]
    count1 = page.evaluate(read)  # type: ignore[attr-defined]
    rate = (count1 - count0) / (time.monotonic() - start)
    cost = float("nan")
    drag = float("nan")
    if rich:
        cost = float(
            page.evaluate(  # type: ignore[attr-defined]
                "() => Number(document.querySelector('.fc-viewer').dataset.molstarMs)"
            )
        )
        drag = float(page.evaluate(DRAG))  # type: ignore[attr-defined]
    page.evaluate(  # type: ignore[attr-defined]
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code: 'session.close()'})"
    )
    return rate, cost, first, drag


def molecules(seconds: float) -> int:
    """The rich representations' table (``--molecules``)."""
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as root:
        lab = Lab(Path(root))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_FLAGS
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for name, files in MOLECULES.items():
                    for rich in (True, False):
                        view = "Mol* cartoon" if rich else "three.js spheres (today)"
                        print(f"measuring {name}, {view}", file=sys.stderr, flush=True)
                        rows.append(
                            (name, view, *measure_molecule(lab, page, name, files, rich, seconds))
                        )
                browser.close()
        finally:
            lab.close()
    print(
        "| system | view | frames/s (stream 30/s) | ms per Mol* update | s to first view "
        "| drag shown in ms |"
    )
    print("|---|---|---|---|---|---|")
    for name, view, rate, cost, first, drag in rows:
        print(f"| {name} | {view} | {rate:.1f} | {cost:.0f} | {first:.1f} | {drag:.0f} |")
    return 0


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
    parser.add_argument("--molecules", action="store_true", help="Mol*'s rich representations")
    args = parser.parse_args(argv)
    if args.molecules:
        return molecules(args.seconds)
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
