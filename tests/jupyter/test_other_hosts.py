"""The widgets in front ends other than JupyterLab: Voila and marimo, in a real Chromium.

In each: the control bar renders and its "Pause" and "Play" buttons reach the kernel's
session, a link click reaches a listening client in another process and says so, and the
viewer draws (pixels in its canvas) (:func:`framecast.testing.hosts.drive`).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from framecast.testing import wait_until
from framecast.testing.browser import ARTIFACTS, PIXELS, _free_port, chromium_path
from framecast.testing.hosts import SETUP, Host, drive, notebook

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _voila(notebook: str, workdir: Path) -> Host:
    port = _free_port()
    return Host(
        [
            sys.executable,
            "-m",
            "voila",
            notebook,
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
        ],
        workdir,
        port,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    chromium_path()  # fail (in CI) or skip before starting a server for nothing
    return tmp_path


def test_voila_renders_the_bar_the_links_and_the_viewer(page: Any, workdir: Path) -> None:
    status = workdir / "status.json"
    cells = [
        SETUP.format(status=str(status)),
        "session",
        "trajectory.transition(100)",
        "session.view()",
    ]
    (workdir / "app.ipynb").write_text(json.dumps(notebook(cells)))
    host = _voila("app.ipynb", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        drive(page, status, "voila")
    finally:
        host.close()


MARIMO_APP = """\
import marimo

app = marimo.App()


@app.cell
def _():
{setup}
    return session, trajectory


@app.cell
def _(session):
    session
    return


@app.cell
def _(trajectory):
    trajectory.transition(100)
    return


@app.cell
def _(session):
    import marimo as mo

    mo.ui.anywidget(session.view())
    return


if __name__ == "__main__":
    app.run()
"""


def _marimo(app: str, workdir: Path) -> Host:
    """``marimo run`` of ``app``: its cells run when the page loads."""
    port = _free_port()
    command = ["run", app, "--headless", "--host", "127.0.0.1", "--port", str(port)]
    return Host([sys.executable, "-m", "marimo", *command, "--no-token"], workdir, port)


def test_marimo_renders_the_bar_the_links_and_the_viewer(page: Any, workdir: Path) -> None:
    status = workdir / "status.json"
    setup = "\n".join(
        f"    {line}" if line else "" for line in SETUP.format(status=str(status)).splitlines()
    )
    (workdir / "app.py").write_text(MARIMO_APP.format(setup=setup))
    host = _marimo("app.py", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        drive(page, status, "marimo")
    finally:
        host.close()


def test_the_dashboard_notebook_works_in_voila(page: Any, workdir: Path) -> None:
    """The shipped Voilà example: Voilà runs every cell, and the page still works: the bar
    is alive, a link moves the page's own viewer and says so, the viewer draws."""
    shutil.copy(NOTEBOOKS / "09-dashboard.ipynb", workdir / "dashboard.ipynb")
    host = _voila("dashboard.ipynb", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        page.locator(".fc-controls [aria-label='Pause']:not([disabled])").first.wait_for(
            timeout=90_000
        )
        viewer = page.locator(".fc-viewer").first
        viewer.locator("canvas").wait_for(timeout=60_000)
        wait_until(
            lambda: int(viewer.get_attribute("data-shown") or 0) > 0,
            timeout=60,
            what="a frame shown",
        )
        page.locator(".fc-controls [aria-label='Pause']").first.click()
        page.locator("a.fc-transition-link[data-transition='102']").first.click()
        # The page's own viewer listens on the session's default named session.
        page.locator(".fc-link-status", has_text="1 client").first.wait_for(timeout=30_000)
        wait_until(
            lambda: viewer.get_attribute("data-frame") == "102", timeout=30, what="moved there"
        )
        status = page.locator(".fc-controls .fc-status").first.inner_text()
        assert "closed" not in status, status
        assert "restarted" not in status, status
        assert page.get_by_text("model not found").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "voila-dashboard.png"), full_page=True)
    finally:
        host.close()


def test_the_marimo_notebook_runs_and_its_bar_drives_the_session(page: Any, workdir: Path) -> None:
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "05-marimo.py"
    host = _marimo(str(notebook), workdir)
    try:
        page.goto(host.url, timeout=90_000)
        bar = page.locator(".fc-controls").first
        page.locator(".fc-controls [aria-label='Pause']:not([disabled])").first.wait_for(
            timeout=90_000
        )
        # The bar's state is the kernel's, sent back through the widget: a round trip.
        page.locator(".fc-controls [aria-label='Pause']").first.click()
        wait_until(lambda: bar.get_attribute("data-playing") == "false", timeout=15, what="paused")
        assert page.locator(".fc-transition-table tbody tr").count() == 5
        page.locator(".fc-viewer canvas").first.wait_for(timeout=60_000)
        # Its links reach the viewer above them, as its text says, with no setup.
        page.locator("a.fc-transition-link[data-transition='12']").first.click()
        page.locator(".fc-link-status", has_text="1 client").first.wait_for(timeout=30_000)
    finally:
        host.close()


# -- rich representations (Mol*) ---------------------------------------------------------------
CARTOON_SETUP = """\
import framecast
from MDAnalysisTests.datafiles import PSF, DCD
trajectory = framecast.from_mdanalysis([PSF, DCD])
session = framecast.Session(trajectory, port=0)
session.pause()
viewer = session.view(default_representation=False)
viewer.add_representation("cartoon", "protein", colour="secondary-structure")
viewer.hide("resid 150:214")
viewer.label("resid 12 and name CA", text="Lys12")
viewer.distance("resid 12 and name CA", "resid 40 and name CA")
"""


def _lit(canvas: Any) -> tuple[int, int, int]:
    lit, checksum, total = canvas.evaluate(PIXELS)
    return int(lit), int(checksum), int(total)


def _drive_cartoon(page: Any, name: str) -> None:
    """A cartoon drawn by Mol* (its pixels), the hidden part not drawn by three.js, the
    label and the distance built; a drag turns it; a link moves it to frame 50."""
    viewer = page.locator(".fc-viewer[data-molstar='ready'][data-annotations='2']").first
    viewer.wait_for(timeout=180_000)
    molstar = viewer.locator(".fc-molstar canvas")
    wait_until(
        lambda: _lit(molstar)[0] > 0.02 * _lit(molstar)[2], timeout=60, what="a cartoon drawn"
    )
    assert viewer.get_attribute("data-hidden") == "3341"  # Mol*'s or hidden: none in three.js
    _, before, _ = _lit(molstar)
    box = viewer.locator("canvas.fc-viewer-canvas").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 100, y + 20, steps=6)
    page.mouse.up()
    wait_until(lambda: _lit(molstar)[1] != before, timeout=30, what="a drag turned the cartoon")
    _, turned, _ = _lit(molstar)
    page.locator("a.fc-transition-link[data-transition='50']").first.click()
    wait_until(lambda: viewer.get_attribute("data-frame") == "50", timeout=30, what="moved")
    wait_until(lambda: _lit(molstar)[1] != turned, timeout=30, what="the cartoon moved")
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / f"cartoon-{name}.png"))


def test_a_cartoon_with_labels_in_voila(page: Any, workdir: Path) -> None:
    cells = [CARTOON_SETUP + "viewer", "trajectory.transition(50)"]
    (workdir / "cartoon.ipynb").write_text(json.dumps(notebook(cells)))
    host = _voila("cartoon.ipynb", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        _drive_cartoon(page, "voila")
    finally:
        host.close()


MARIMO_CARTOON = """\
import marimo

app = marimo.App()


@app.cell
def _():
{setup}
    return trajectory, viewer


@app.cell
def _(viewer):
    import marimo as mo

    mo.ui.anywidget(viewer)
    return


@app.cell
def _(trajectory):
    trajectory.transition(50)
    return


if __name__ == "__main__":
    app.run()
"""


def test_a_cartoon_with_labels_in_marimo(page: Any, workdir: Path) -> None:
    """In marimo each widget lives in a shadow root, and Mol*'s layer with it."""
    setup = "\n".join(f"    {line}" if line else "" for line in CARTOON_SETUP.splitlines())
    (workdir / "cartoon.py").write_text(MARIMO_CARTOON.format(setup=setup))
    host = _marimo("cartoon.py", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        _drive_cartoon(page, "marimo")
    finally:
        host.close()


# -- plots ------------------------------------------------------------------------------------
PLOT_SETUP = """\
import framecast
trajectory = framecast.demo.argon_trajectory(n=30, frames=60)
session = framecast.Session(trajectory, port=0)
session.pause()
viewer = session.view()
plot = session.plot("system.simulation.time")
"""


def _drive_plot(page: Any, name: str) -> None:
    """The whole timeline drawn; a click goes there and reaches the page's own viewer."""
    plot = page.locator(".fc-plot").first
    wait_until(lambda: plot.get_attribute("data-points") == "60", timeout=90, what="60 points")
    over = plot.locator(".u-over")
    box = over.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_until(lambda: plot.get_attribute("data-sent") is not None, timeout=30, what="a reply")
    assert plot.get_attribute("data-sent") == "1"  # the page's own viewer, on 'default'
    went = plot.get_attribute("data-went")
    viewer = page.locator(".fc-viewer").first
    wait_until(lambda: viewer.get_attribute("data-frame") == went, timeout=30, what="moved")
    wait_until(lambda: plot.get_attribute("data-playhead") == went, timeout=30, what="playhead")
    ARTIFACTS.mkdir(exist_ok=True)
    plot.screenshot(path=str(ARTIFACTS / f"plot-{name}.png"))


def test_a_plot_sends_the_viewer_there_in_voila(page: Any, workdir: Path) -> None:
    cells = [PLOT_SETUP + "plot", "viewer"]
    (workdir / "plot.ipynb").write_text(json.dumps(notebook(cells)))
    host = _voila("plot.ipynb", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        _drive_plot(page, "voila")
    finally:
        host.close()


MARIMO_PLOT = """\
import marimo

app = marimo.App()


@app.cell
def _():
{setup}
    return plot, viewer


@app.cell
def _(plot, viewer):
    import marimo as mo

    mo.vstack([mo.ui.anywidget(plot), mo.ui.anywidget(viewer)])
    return


if __name__ == "__main__":
    app.run()
"""


def test_a_plot_sends_the_viewer_there_in_marimo(page: Any, workdir: Path) -> None:
    setup = "\n".join(f"    {line}" if line else "" for line in PLOT_SETUP.splitlines())
    (workdir / "plot.py").write_text(MARIMO_PLOT.format(setup=setup))
    host = _marimo("plot.py", workdir)
    try:
        page.goto(host.url, timeout=90_000)
        _drive_plot(page, "marimo")
    finally:
        host.close()
