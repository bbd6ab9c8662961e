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
