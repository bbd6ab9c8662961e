"""Rich representations in a real JupyterLab in Chromium: a cartoon drawn by Mol*, water
hidden, labels and distances, moving with the session and turning with the camera."""

from __future__ import annotations

from typing import Any

import pytest

from framecast.testing.browser import ARTIFACTS, PIXELS, Lab, run_all_cells, run_in_kernel

pytestmark = pytest.mark.slow

#: Pixels the three.js canvas draws (alpha > 0): over Mol*, it clears to transparent.
OPAQUE = """(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const g = copy.getContext('2d'); g.drawImage(canvas, 0, 0);
  const data = g.getImageData(0, 0, copy.width, copy.height).data;
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
  return drawn;
}"""

MOLSTAR = ".fc-viewer .fc-molstar canvas"
THREE = ".fc-viewer canvas.fc-viewer-canvas"


def _molstar_pixels(page: Any) -> tuple[int, int, int]:
    lit, checksum, total = page.locator(MOLSTAR).evaluate(PIXELS)
    return int(lit), int(checksum), int(total)


def _wait_molstar_changes(page: Any, before: int, what: str) -> None:
    (
        page.wait_for_function(
            f"([c, before]) => ({PIXELS})(c)[1] !== before",
            arg=[page.locator(MOLSTAR).element_handle(), before],
            timeout=30_000,
        ),
        what,
    )


def test_a_solvated_protein_shows_as_a_cartoon_with_the_water_hidden(page: Any, lab: Lab) -> None:
    """Adenylate kinase in its 47,681-atom water box (MDAnalysisTests' GRO and XTC): the
    default draws the protein as Mol*'s cartoon and no water; a drag turns it, a step and a
    published transition move it, and the toolbar brings the water back."""
    lab.write_notebook(
        "cartoon.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import GRO, XTC\n"
        "trajectory = framecast.from_mdanalysis([GRO, XTC])\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()\n"
        "assert trajectory.particle_count == 47681",
        "viewer = session.view(cache_bytes=0)\nviewer",
    )
    lab.open(page, "cartoon.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-molstar='ready']", timeout=120_000)
    page.wait_for_function(
        f"(c) => ({PIXELS})(c)[0] > 0.02 * ({PIXELS})(c)[2]",
        arg=page.locator(MOLSTAR).element_handle(),
        timeout=60_000,
    )
    view = page.locator(".fc-viewer")
    # The protein is Mol*'s (3,341 atoms), the water and ions are hidden: three.js draws
    # none of the 47,681 particles.
    assert view.get_attribute("data-hidden") == "47681"
    assert view.get_attribute("data-rich") == "1"
    box_only = page.locator(THREE).evaluate(OPAQUE)  # three.js draws the box alone
    lit, before, total = _molstar_pixels(page)
    # A cartoon fills a fair part of the view, with space around it (not a block of water).
    assert 0.02 * total < lit < 0.6 * total, (lit, total)
    ARTIFACTS.mkdir(exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "cartoon.png"))

    # A drag on the view turns the camera, and Mol* follows it.
    box = page.locator(THREE).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 30, steps=8)
    page.mouse.up()
    _wait_molstar_changes(page, before, "a drag turned the cartoon")

    # A step of the session moves the cartoon (Mol*'s coordinates follow the frames).
    _, turned, _ = _molstar_pixels(page)
    updates = int(view.get_attribute("data-molstar-updates") or 0)
    frame = int(view.get_attribute("data-frame") or 0)
    assert run_in_kernel(page, "session.step()")[0] == "ok"
    page.wait_for_selector(f".fc-viewer[data-frame='{frame + 1}']", timeout=30_000)
    page.wait_for_function(
        f"() => Number(document.querySelector('.fc-viewer').dataset.molstarUpdates) > {updates}",
        timeout=30_000,
    )
    _wait_molstar_changes(page, turned, "a step moved the cartoon")

    # A published transition moves it too.
    _, stepped, _ = _molstar_pixels(page)
    code = "assert session.sessions.publish_transition(trajectory.transition(8))"
    assert run_in_kernel(page, code)[0] == "ok"
    page.wait_for_selector(".fc-viewer[data-frame='8']", timeout=30_000)
    _wait_molstar_changes(page, stepped, "a transition moved the cartoon")

    # The toolbar brings back the water (three.js draws it, without the 11,084 virtual
    # sites of its TIP4P molecules); Python hides it again.
    page.get_by_label("Hide water and ions").uncheck()
    page.wait_for_selector(f".fc-viewer[data-hidden='{3341 + 11084}']", timeout=30_000)
    page.wait_for_function(
        f"([c, box]) => ({OPAQUE})(c) > 4 * box",
        arg=[page.locator(THREE).element_handle(), box_only],
        timeout=30_000,
    )
    view.screenshot(path=str(ARTIFACTS / "cartoon-with-water.png"))
    assert run_in_kernel(page, "viewer.hide_solvent = True")[0] == "ok"
    page.wait_for_selector(".fc-viewer[data-hidden='47681']", timeout=30_000)
