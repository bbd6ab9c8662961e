"""Rich representations in a real JupyterLab in Chromium: a cartoon drawn by Mol*, water
hidden, labels and distances, moving with the session and turning with the camera."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from framecast.testing import wait_until
from framecast.testing.browser import ARTIFACTS, PIXELS, Lab, run_all_cells, run_in_kernel
from framecast.testing.extras import require

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


def _wait_cartoon(page: Any, selector: str = ".fc-viewer[data-molstar='ready']") -> None:
    """Wait until Mol* is ready in the view and its layer has drawn a fair part of it."""
    page.wait_for_selector(selector, timeout=120_000)
    page.wait_for_function(
        f"(c) => ({PIXELS})(c)[0] > 0.02 * ({PIXELS})(c)[2]",
        arg=page.locator(MOLSTAR).element_handle(),
        timeout=60_000,
    )


def _wait_molstar_changes(page: Any, before: int) -> None:
    """Wait until Mol*'s layer shows something other than the checksum ``before``."""
    page.wait_for_function(
        f"([c, before]) => ({PIXELS})(c)[1] !== before",
        arg=[page.locator(MOLSTAR).element_handle(), before],
        timeout=30_000,
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
    _wait_cartoon(page)
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
    _wait_molstar_changes(page, before)

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
    _wait_molstar_changes(page, turned)

    # A published transition moves it too.
    _, stepped, _ = _molstar_pixels(page)
    code = "assert session.sessions.publish_transition(trajectory.transition(8))"
    assert run_in_kernel(page, code)[0] == "ok"
    page.wait_for_selector(".fc-viewer[data-frame='8']", timeout=30_000)
    _wait_molstar_changes(page, stepped)

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


def _png_lit(path: Any) -> float:
    """The share of a PNG's pixels that differ from the view's background."""
    image = require("PIL.Image").open(path).convert("RGB")
    pixels = np.asarray(image, dtype=np.int32)
    return float((np.abs(pixels - 30).sum(axis=2) > 40).mean())


def test_labels_distances_and_a_hidden_selection_from_python(page: Any, lab: Lab) -> None:
    """Adenylate kinase (3,341 atoms, PSF and DCD): a cartoon by secondary structure, a
    licorice side chain, a label and a distance from Python; a hidden selection leaves
    the plain view; ``viewer.screenshot()`` holds what Mol* draws."""
    lab.write_notebook(
        "labels.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import PSF, DCD\n"
        "trajectory = framecast.from_mdanalysis([PSF, DCD])\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        "viewer = session.view(default_representation=False)\nviewer",
    )
    lab.open(page, "labels.ipynb")
    run_all_cells(page)
    view = page.locator(".fc-viewer")
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer')?.dataset.shown) >= 1", timeout=60_000
    )
    assert view.get_attribute("data-molstar") is None  # nothing rich asked: no Mol*
    code = (
        "viewer.add_representation('cartoon', 'protein', colour='secondary-structure')\n"
        "viewer.add_representation('licorice', 'resid 12', colour='#ff8800')\n"
        "viewer.hide('resid 150:214')\n"
        "viewer.label('resid 12 and name CA', text='Lys12')\n"
        "viewer.distance('resid 12 and name CA', 'resid 40 and name CA')\n"
        "assert [r.style for r in viewer.representations] == ['cartoon', 'licorice', 'hidden']"
    )
    assert run_in_kernel(page, code)[0] == "ok"
    _wait_cartoon(page, ".fc-viewer[data-molstar='ready'][data-annotations='2']")
    assert view.get_attribute("data-rich") == "2"
    # Every atom is Mol*'s or hidden: three.js draws none.
    assert view.get_attribute("data-hidden") == "3341"
    view.screenshot(path=str(ARTIFACTS / "labels.png"))

    # The screenshot the kernel gets is the view the user sees, Mol*'s layer included.
    code = "open('shot.png', 'wb').write(viewer.screenshot().data)"
    assert run_in_kernel(page, code)[0] == "ok"
    assert _png_lit(lab.root / "shot.png") > 0.02

    # Cleared: the plain view again, and Mol* let go.
    code = "viewer.clear_representations()\nviewer.clear_annotations()"
    assert run_in_kernel(page, code)[0] == "ok"
    page.wait_for_selector(".fc-viewer[data-hidden='0']", timeout=30_000)
    page.wait_for_function(
        "() => !document.querySelector('.fc-viewer .fc-molstar')", timeout=30_000
    )


def test_shift_drag_pulls_an_atom_under_a_cartoon(page: Any, lab: Lab) -> None:
    """A live OpenMM peptide shows as a cartoon; shift-drag on it still pulls an atom."""
    lab.write_notebook(
        "pull-cartoon.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import PDB_helix\n"
        "from framecast.testing.extras import peptide_simulation\n"
        "engine = framecast.OpenMMSimulation(peptide_simulation(PDB_helix), steps_per_frame=5)\n"
        "session = framecast.Session(engine, port=0)",
        "viewer = session.view()\nviewer",
    )
    lab.open(page, "pull-cartoon.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-molstar='ready']", timeout=120_000)
    view = page.locator(".fc-viewer")
    assert view.get_attribute("data-rich") == "1"
    box = page.locator(THREE).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    pulled = False
    for dx, dy in [(0, 0), (15, 0), (-15, 0), (0, 15), (0, -15), (30, 30), (-30, -30)]:
        page.keyboard.down("Shift")
        page.mouse.move(x + dx, y + dy)
        page.mouse.down()
        try:
            page.wait_for_selector(".fc-viewer[data-pulling]", timeout=1_000)
            pulled = True
        except PlaywrightTimeout:
            page.mouse.up()
            page.keyboard.up("Shift")
            continue
        page.mouse.move(x + dx + 60, y + dy + 20, steps=6)
        break
    assert pulled, "no atom under the cartoon could be picked"
    wait_until(
        lambda: run_in_kernel(page, "assert engine.interactions")[0] == "ok",
        timeout=20,
        what="the engine applies the pull",
    )
    view.screenshot(path=str(ARTIFACTS / "pull-cartoon.png"))
    page.mouse.up()
    page.keyboard.up("Shift")


def test_a_cartoon_in_notebook_7(page: Any, notebook7: Lab) -> None:
    """Notebook 7: the default cartoon of a protein, and a step that moves it."""
    notebook7.write_notebook(
        "cartoon7.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import PSF, DCD\n"
        "trajectory = framecast.from_mdanalysis([PSF, DCD])\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        "viewer = session.view(cache_bytes=0)\nviewer",
    )
    notebook7.open(page, "cartoon7.ipynb")
    run_all_cells(page)
    _wait_cartoon(page)
    view = page.locator(".fc-viewer")
    assert view.get_attribute("data-hidden") == "3341"
    _, before, _ = _molstar_pixels(page)
    frame = int(view.get_attribute("data-frame") or 0)
    assert run_in_kernel(page, "session.step()")[0] == "ok"
    page.wait_for_selector(f".fc-viewer[data-frame='{frame + 1}']", timeout=30_000)
    _wait_molstar_changes(page, before)
    view.screenshot(path=str(ARTIFACTS / "cartoon-notebook7.png"))
