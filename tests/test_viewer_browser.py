"""The 3D viewer in a real JupyterLab in Chromium: it draws, it moves, it follows."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from browser import ARTIFACTS, Lab, run_all_cells
from nbformat.v4 import new_code_cell, new_notebook

from framecast.testing import wait_until

pytestmark = pytest.mark.slow

# Counts the pixels that differ from the background, and sums them, from a copy of the
# WebGL canvas (it keeps its drawing buffer for this and for screenshots).
PIXELS = """(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const g = copy.getContext('2d'); g.drawImage(canvas, 0, 0);
  const data = g.getImageData(0, 0, copy.width, copy.height).data;
  let lit = 0, sum = 0;
  for (let i = 0; i < data.length; i += 4) {
    const d = Math.abs(data[i] - 30) + Math.abs(data[i + 1] - 30) + Math.abs(data[i + 2] - 30);
    if (d > 40) {
      lit++;
      sum = (sum + data[i] * 3 + data[i + 1] * 5 + data[i + 2] * 7 + i) % 1000000007;
    }
  }
  return [lit, sum, copy.width * copy.height];
}"""


def test_viewer_draws_moves_and_follows_a_transition(page: Any, lab: Lab) -> None:
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell(
                    "import framecast\n"
                    "simulation = framecast.demo.argon(500)\n"
                    "session = framecast.Session(simulation, port=0, follow_transitions=True)"
                ),
                new_code_cell("viewer = session.view()\nviewer"),
            ],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        ),
        lab.root / "viewer.ipynb",
    )
    page.goto(lab.url("viewer.ipynb"))
    run_all_cells(page)
    canvas = page.locator(".fc-viewer canvas")
    canvas.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer').dataset.frame) > 2", timeout=30_000
    )

    lit, first, total = canvas.evaluate(PIXELS)
    assert lit > 0.01 * total, f"the canvas is blank: {lit} of {total} pixels drawn"
    frame = int(page.locator(".fc-viewer").get_attribute("data-frame"))
    page.wait_for_function(
        f"() => Number(document.querySelector('.fc-viewer').dataset.frame) > {frame + 5}",
        timeout=30_000,
    )
    _, second, _ = canvas.evaluate(PIXELS)
    assert second != first, "the view did not change while the simulation played"

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".fc-viewer").screenshot(path=str(ARTIFACTS / "viewer.png"))

    # Publish a transition from Python: the view moves to that frame (and, following it,
    # the session pauses there, so the live frames agree).
    code = "\n".join(
        [
            "n = max(simulation.first_transition.id, simulation.last_transition.id - 5)",
            "session.sessions.tracked = 'notebook'",
            "assert session.sessions.publish_transition(simulation.transition(n))",
            "open('target.txt', 'w').write(str(n))",
        ]
    )
    reply = page.evaluate(
        "async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext"
        ".session.kernel; const r = await k.requestExecute({code}).done;"
        " return [r.content.status, r.content.ename || '', r.content.evalue || '']; }",
        code,
    )
    assert reply[0] == "ok", reply
    target_file = lab.root / "target.txt"
    wait_until(target_file.exists, timeout=20, what="the transition was published")
    target = int(target_file.read_text())
    page.wait_for_selector(f".fc-viewer[data-frame='{target}']", timeout=10_000)

    # viewer.screenshot() from the kernel: the view answers with a PNG over the channel.
    reply = page.evaluate(
        "async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext"
        ".session.kernel; const r = await k.requestExecute({code}).done;"
        " return [r.content.status, r.content.ename || '', r.content.evalue || '']; }",
        "shot = viewer.screenshot()\nopen('shot.png', 'wb').write(shot.data)",
    )
    assert reply[0] == "ok", reply
    png = (lab.root / "shot.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 5_000  # a drawn scene, not an empty image
