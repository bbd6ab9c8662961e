"""The exported HTML page plays a trajectory in Chromium with no kernel and no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import framecast
from framecast.testing.browser import ARTIFACTS, PIXELS

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


def test_export_html_refuses_what_it_cannot_show(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has no particle\.positions to show"):
        framecast.export_html(framecast.Recording(["a", "b"]), tmp_path / "x.html")
    with pytest.raises(ValueError, match="fps must be > 0"):
        framecast.export_html(
            framecast.demo.argon_trajectory(n=3, frames=2), tmp_path / "x.html", fps=0
        )
