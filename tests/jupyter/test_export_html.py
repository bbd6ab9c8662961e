"""The exported HTML page plays a trajectory in Chromium with no kernel and no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import framecast
from framecast.testing.browser import ARTIFACTS, PIXELS
from framecast.testing.extras import require

pytestmark = pytest.mark.slow


def test_an_exported_page_plays_offline(page: Any, tmp_path: Path) -> None:
    trajectory = framecast.demo.argon_trajectory(n=200, frames=40)
    path = framecast.export_html(trajectory, tmp_path / "argon.html", frames=range(0, 40, 2))
    requests: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        requests.append(url)
        if url.startswith(("file:", "blob:", "data:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_local)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    viewer = page.locator(".fc-viewer")
    page.wait_for_selector(".fc-viewer[data-local='true']", timeout=30_000)
    assert viewer.get_attribute("data-cached") == "20"
    # It plays by itself: the frame moves, and the view draws.
    page.wait_for_function(
        "() => { const f = document.querySelector('.fc-playbar').dataset.frame;"
        " (window.fcSeen = window.fcSeen || new Set()).add(f); return window.fcSeen.size >= 5; }",
        timeout=20_000,
    )
    lit, _, total = page.locator(".fc-viewer canvas").evaluate(PIXELS)
    assert lit > 0.01 * total, f"the canvas is blank: {lit} of {total}"
    # The play bar pauses and steps, in the page alone.
    page.locator(".fc-playbar .fc-toggle").click()
    page.wait_for_selector(".fc-playbar[data-playing='false']", timeout=5_000)
    frame = int(page.locator(".fc-playbar").get_attribute("data-frame"))
    page.locator(".fc-playbar .fc-step").click()
    page.wait_for_selector(f".fc-playbar[data-frame='{(frame + 1) % 20}']", timeout=5_000)
    assert [url for url in requests if not url.startswith(("file:", "blob:", "data:"))] == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exported-page.png"))


def test_an_exported_protein_plays_as_a_cartoon_offline(page: Any, tmp_path: Path) -> None:
    """Adenylate kinase exported with a cartoon and a licorice side chain: the page holds
    Mol* and the structure, draws the cartoon with no network, and plays it."""
    require("MDAnalysis")
    data = require("MDAnalysisTests.datafiles")
    trajectory = framecast.from_mdanalysis([data.PSF, data.DCD])
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        session.representations.add("cartoon", "protein", colour="secondary-structure")
        session.representations.add("licorice", "resid 12")
        reps = session.representations.list()
    path = framecast.export_html(
        trajectory, tmp_path / "adk.html", frames=range(0, 98, 7), representations=reps
    )
    plain = framecast.export_html(
        trajectory, tmp_path / "plain.html", frames=range(2), representations=None
    )
    # Mol* travels inside the page (gzipped, as base64), and only where something is rich.
    assert '"engine": true' in path.read_text()
    assert '"engine"' not in plain.read_text()
    assert path.stat().st_size > plain.stat().st_size + 800_000
    external: list[str] = []

    def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "blob:", "data:")):
            route.continue_()
        else:
            external.append(url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(path.as_uri())
    page.wait_for_selector(".fc-viewer[data-molstar='ready']", timeout=60_000)
    molstar = page.locator(".fc-viewer .fc-molstar canvas")
    page.wait_for_function(
        f"(c) => ({PIXELS})(c)[0] > 0.02 * ({PIXELS})(c)[2]",
        arg=molstar.element_handle(),
        timeout=60_000,
    )
    assert page.locator(".fc-viewer").get_attribute("data-rich") == "2"
    # It plays: Mol* takes in frame after frame.
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer').dataset.molstarUpdates) > 3",
        timeout=30_000,
    )
    assert external == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exported-cartoon.png"))


def test_an_exported_plot_follows_the_view_and_moves_it(page: Any, tmp_path: Path) -> None:
    """A plot under the exported view: its playhead follows the page's playback, and a
    click on it moves the view there, with no kernel."""
    trajectory = framecast.demo.argon_trajectory(n=40, frames=30)
    path = framecast.export_html(
        trajectory, tmp_path / "plot.html", plot=["system.simulation.time"], autoplay=True
    )
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='true']", timeout=30_000)
    plot = page.locator(".fc-plot")
    page.wait_for_selector(".fc-plot[data-points='30']", timeout=30_000)
    # Playing: the plot's playhead follows the view's frames.
    page.wait_for_function(
        "() => { const p = document.querySelector('.fc-plot').dataset.playhead;"
        " (window.fcPlayheads = window.fcPlayheads || new Set()).add(p);"
        " return window.fcPlayheads.size >= 4; }",
        timeout=20_000,
    )
    page.locator(".fc-playbar .fc-toggle").click()  # pause
    page.wait_for_selector(".fc-playbar[data-playing='false']", timeout=5_000)
    box = plot.locator(".u-over").bounding_box()
    x, y = box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_function(
        "() => document.querySelector('.fc-plot').dataset.went !== undefined", timeout=10_000
    )
    went = plot.get_attribute("data-went")
    page.wait_for_selector(f".fc-playbar[data-frame='{went}']", timeout=10_000)
    page.wait_for_selector(f".fc-plot[data-playhead='{went}']", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exported-plot.png"))


def test_export_html_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no particle\.positions to show"):
        framecast.export_html(framecast.Recording(["a", "b"]), tmp_path / "x.html")
    with pytest.raises(ValueError, match="fps must be > 0"):
        framecast.export_html(
            framecast.demo.argon_trajectory(n=3, frames=2), tmp_path / "x.html", fps=0
        )
