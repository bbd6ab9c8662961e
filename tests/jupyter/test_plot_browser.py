"""Plots that are transitions, in a real JupyterLab in Chromium: a live simulation's energy
grows on the plot, and a click sends the session and a listener process there."""

from __future__ import annotations

from typing import Any

import pytest

from framecast.testing import ListenerProcess, wait_until
from framecast.testing.browser import ARTIFACTS, Lab, run_all_cells, run_in_kernel

pytestmark = pytest.mark.slow


def test_a_click_on_a_live_plot_sends_the_session_and_a_listener_there(page: Any, lab: Lab) -> None:
    lab.write_notebook(
        "plot.ipynb",
        "import framecast\n"
        "simulation = framecast.demo.argon(200)\n"
        "session = framecast.Session(simulation, port=0)\n"
        "open('port.txt', 'w').write(str(session.port))",
        "plot = session.plot('energy.potential', 'energy.kinetic')\nplot",
    )
    lab.open(page, "plot.ipynb")
    run_all_cells(page)
    plot = page.locator(".fc-plot")
    plot.wait_for(timeout=60_000)
    # It grows: live frames arrive as points (the engine keeps its last 100 frames, and
    # the plot those), and the playhead follows the session.
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-plot')?.dataset.points) > 10", timeout=60_000
    )
    playhead = int(plot.get_attribute("data-playhead") or 0)
    page.wait_for_function(
        f"() => Number(document.querySelector('.fc-plot').dataset.playhead) > {playhead + 5}",
        timeout=30_000,
    )
    assert page.locator(".fc-plot .fc-plot-playhead").is_visible()
    # uPlot drew the lines: its canvas has opaque pixels (it is transparent elsewhere).
    drawn = plot.locator("canvas").evaluate(
        "(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
    )
    assert drawn > 500, f"the plot's canvas is nearly blank: {drawn} pixels drawn"
    legend = plot.locator(".u-legend").inner_text()
    assert "energy.potential (kJ/mol)" in legend
    assert "energy.kinetic (kJ/mol)" in legend
    ARTIFACTS.mkdir(exist_ok=True)
    plot.screenshot(path=str(ARTIFACTS / "plot-live.png"))

    port = (lab.root / "port.txt").read_text()
    with ListenerProcess(f"127.0.0.1:{port}", {"default": 1}) as listener:
        over = plot.locator(".u-over")
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.wait_for_function(
            "() => document.querySelector('.fc-plot').dataset.went !== undefined",
            timeout=30_000,
        )
        went = int(plot.get_attribute("data-went") or -1)
        events = listener.wait_for(lambda evs: bool(evs[0][1]))
        assert [event[2] for event in events[0][1]] == [went]
    # The session went there and waits there (a live engine resumes from that kept frame
    # when played), and the plot says whom it reached.
    reply = run_in_kernel(
        page,
        f"assert session.frame_index == {went}, session.frame_index\nassert not session.playing",
    )
    assert reply[0] == "ok", reply
    status = plot.locator(".fc-plot-status").inner_text()
    assert f"frame {went}: went there, sent to" in status, status
    wait_until(lambda: plot.get_attribute("data-sent") not in (None, "error"), what="a reply")
    assert int(plot.get_attribute("data-sent") or 0) >= 1


def test_the_playhead_follows_the_page_while_the_kernel_is_busy(page: Any, lab: Lab) -> None:
    """A trajectory cached in the page plays from the viewer's own play bar while a cell
    keeps the kernel busy: the plot's playhead follows the page, not the kernel."""
    lab.write_notebook(
        "busy-plot.ipynb",
        "import framecast\n"
        "trajectory = framecast.demo.argon_trajectory(n=30, frames=90)\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        # The plot as a strip under the view: one output.
        "viewer = session.view(plot='system.simulation.time')\nviewer",
    )
    lab.open(page, "busy-plot.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-local='true']", timeout=60_000)
    page.wait_for_selector(".fc-plot[data-points='90']", timeout=60_000)
    # The cell holds the kernel until the test releases it (or a minute passes).
    hold = (
        "import os, time\n"
        "open('busy', 'w').close()\n"
        "deadline = time.monotonic() + 60\n"
        "while not os.path.exists('release') and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        "open('done', 'w').close()\n"
    )
    page.evaluate(
        "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code}); }",
        hold,
    )
    wait_until(lambda: (lab.root / "busy").exists(), timeout=20, what="the kernel is busy")
    page.locator(".fc-viewer .fc-playbar .fc-toggle").click()  # play, in the page
    page.wait_for_function(
        "() => { const p = document.querySelector('.fc-plot').dataset.playhead;"
        " (window.fcHeads = window.fcHeads || new Set()).add(p);"
        " return window.fcHeads.size >= 5; }",
        timeout=20_000,
    )
    # It moved while the kernel, held in a cell, could not have moved it.
    assert not (lab.root / "done").exists()
    (lab.root / "release").touch()
    wait_until((lab.root / "done").exists, timeout=30, what="the cell let go of the kernel")
    output = page.locator(".jp-OutputArea-output", has=page.locator(".fc-plot"))
    assert output.locator(".fc-viewer").count() == 1  # the view and its strip, one output
    ARTIFACTS.mkdir(exist_ok=True)
    output.screenshot(path=str(ARTIFACTS / "viewer-with-plot-strip.png"))


def test_a_plot_in_notebook_7(page: Any, notebook7: Lab) -> None:
    notebook7.write_notebook(
        "plot7.ipynb",
        "import framecast\n"
        "trajectory = framecast.demo.argon_trajectory(n=20, frames=40)\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        "viewer = session.view()\nviewer",
        "plot = session.plot('system.simulation.time')\nplot",
    )
    notebook7.open(page, "plot7.ipynb")
    run_all_cells(page)
    plot = page.locator(".fc-plot")
    page.wait_for_selector(".fc-plot[data-points='40']", timeout=60_000)
    plot.locator(".u-over").scroll_into_view_if_needed()
    box = plot.locator(".u-over").bounding_box()
    x, y = box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    wait_until(lambda: plot.get_attribute("data-sent") is not None, timeout=30, what="a reply")
    assert plot.get_attribute("data-sent") == "1"  # the notebook's viewer
    went = plot.get_attribute("data-went")
    page.wait_for_selector(f".fc-viewer[data-frame='{went}']", timeout=30_000)
    reply = run_in_kernel(page, f"assert session.frame_index == {went}")
    assert reply[0] == "ok", reply
    # From the keyboard: arrows move along the points, Enter goes there.
    plot.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    page.wait_for_selector(f".fc-plot[data-went='{int(went or 0) - 3}']", timeout=30_000)
    page.wait_for_selector(f".fc-viewer[data-frame='{int(went or 0) - 3}']", timeout=30_000)
