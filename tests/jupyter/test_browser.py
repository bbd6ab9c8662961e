"""The control bar and transition links in a real JupyterLab, clicked in Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from framecast import Client
from framecast.testing import ListenerProcess, wait_until
from framecast.testing.browser import ARTIFACTS, Lab, run_all_cells

pytestmark = pytest.mark.slow

SETUP = """\
import json, os, pathlib, threading
import framecast
from framecast.jupyter import channel

trajectory = framecast.demo.argon_trajectory(n=60, frames=300)
session = framecast.Session(trajectory, port=0)
status = pathlib.Path("status.json")

status_lock = threading.Lock()

def write_status(change=None):
    # Written atomically from whatever thread changed the session, read by the test. The
    # lock keeps two threads from sharing the temporary file (a lost race would raise in
    # the session's broadcaster, which calls this observer).
    with status_lock:
        data = {"playing": session.playing, "frame": trajectory.frame_index,
                "port": session.port, "comms": channel.comms_opened}
        pathlib.Path("status.tmp").write_text(json.dumps(data))
        os.replace("status.tmp", status)

session.observe(write_status, names=["playing", "frame_index"])
write_status()

def keep_writing(stop=threading.Event()):
    # The comm count changes without a session change; refresh the file regularly.
    while not stop.wait(0.2):
        write_status()

threading.Thread(target=keep_writing, daemon=True).start()
"""

CELLS = [
    SETUP,
    "session",
    "trajectory.transition(100)",
    "trajectory.transitions(10, 14)",
    "from framecast.jupyter.controls import SessionControls\n"
    "SessionControls(session, python_version='0.0.0')",
]


def _write_notebook(server: Lab, name: str) -> str:
    return server.write_notebook(name, *CELLS)


@pytest.fixture
def notebook(lab: Lab, request: pytest.FixtureRequest) -> str:
    return _write_notebook(lab, f"{request.node.name}.ipynb")


def _status(lab: Lab) -> dict[str, Any]:
    path = lab.root / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _wait_status(lab: Lab, what: str, page: Any = None, **expected: object) -> dict[str, Any]:
    """Wait until the kernel's status file shows ``expected``. On a timeout, say what the
    kernel and (given ``page``) the first control bar showed, since CI keeps no screenshots."""
    try:
        wait_until(
            lambda: all(_status(lab).get(k) == v for k, v in expected.items()),
            timeout=10,
            what=what,
        )
    except TimeoutError as error:
        shown = _bar_state(page) if page is not None else "no page given"
        raise TimeoutError(f"{error}; kernel status {_status(lab)}; control bar {shown}") from None
    return _status(lab)


def _bar_state(page: Any) -> str:
    return str(
        page.locator(".fc-controls").first.evaluate(
            "(bar) => { const s = bar.querySelector('.fc-scrub');"
            " return JSON.stringify({data: {...bar.dataset},"
            " scrub: s && [s.value, s.max, s.hidden],"
            " status: bar.querySelector('.fc-status')?.textContent}); }"
        )
    )


def _open(page: Any, lab: Lab, notebook: str) -> None:
    """Run the notebook, then keep the kernel busy: every click after this happens while
    another execution runs (controls and links must still work)."""
    for name in ("status.json", "busy"):
        (lab.root / name).unlink(missing_ok=True)
    lab.open(page, notebook)
    run_all_cells(page)
    page.wait_for_selector(".fc-controls .fc-pause", timeout=60_000)
    page.wait_for_selector(".fc-transition-table", timeout=60_000)
    _wait_status(lab, "the session plays", playing=True)
    wait_until(lambda: _status(lab).get("comms") == 1, what="the page opened its channel")
    page.evaluate(
        "() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        '.requestExecute({code: \'open("busy", "w").close()\\nimport time\\n'
        "time.sleep(60)'}); }"
    )
    wait_until(lambda: (lab.root / "busy").exists(), timeout=20, what="the kernel is busy")


def test_control_bar_drives_the_session(page: Any, lab: Lab, notebook: str) -> None:
    _open(page, lab, notebook)
    bar = page.locator(".fc-controls").first

    bar.locator(".fc-pause").click()
    frame = _wait_status(lab, "paused from the bar", page, playing=False)["frame"]

    bar.locator(".fc-step").click()
    _wait_status(lab, "stepped from the bar", page, playing=False, frame=frame + 1)
    bar.locator(".fc-step-back").click()
    _wait_status(lab, "stepped back from the bar", page, frame=frame)

    bar.locator(".fc-scrub").evaluate(
        "(slider) => { slider.value = '150'; slider.dispatchEvent(new Event('change')); }"
    )
    _wait_status(lab, "scrubbed to frame 150", page, frame=150)
    page.wait_for_selector(".fc-controls[data-frame='150']", timeout=5_000)

    bar.locator(".fc-play").click()
    _wait_status(lab, "playing again", page, playing=True)

    # A remote client pauses: the bar shows it (widget updates are throttled to 10/s).
    with Client(f"127.0.0.1:{_status(lab)['port']}") as remote:
        remote.run_command("playback/pause")
    page.wait_for_selector(".fc-controls[data-playing='false']", timeout=2_000)
    status_text = bar.locator(".fc-status").inner_text()
    assert "paused" in status_text
    assert f":{_status(lab)['port']}" in status_text

    ARTIFACTS.mkdir(exist_ok=True)
    bar.screenshot(path=str(ARTIFACTS / "control-bar.png"))

    mismatch = page.locator(".fc-version-mismatch").first
    mismatch.wait_for(timeout=10_000)
    assert "Python package is version 0.0.0" in mismatch.inner_text()
    assert "pip install" in mismatch.inner_text()


def test_transition_link_publishes_to_a_client_in_another_process(
    page: Any, lab: Lab, notebook: str
) -> None:
    _open(page, lab, notebook)
    address = f"127.0.0.1:{_status(lab)['port']}"
    with ListenerProcess(address, {"default": 1}) as listener:
        link = page.locator(".fc-transition-output a.fc-transition-link[data-transition='100']")
        # It looks like a link: underlined, and not the colour of the text beside it.
        style = link.evaluate(
            "(a) => { const s = getComputedStyle(a);"
            " const text = a.parentElement.querySelector('.fc-transition-label');"
            " return [s.textDecorationLine, s.color, getComputedStyle(text).color, s.cursor]; }"
        )
        assert "underline" in style[0]
        assert style[1] != style[2]
        assert style[3] == "pointer"
        link.click()
        events = listener.wait_for(lambda evs: bool(evs[0][1]))
        assert events[0][1] == [("transition", events[0][1][0][1], 100)]
        status = page.locator(".fc-transition-output .fc-link-status").first
        page.wait_for_function(
            "(node) => node.textContent === '1 client'", arg=status.element_handle()
        )

        # A table of links: another link, the same single comm to the kernel.
        page.locator(".fc-transition-table a[data-transition='12']").click()
        listener.wait_for(lambda evs: len(evs[0][1]) == 2)
        assert [event[2] for event in listener.events[0][1]] == [100, 12]
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fc-transition-table .fc-link-status')]"
        ".some((node) => node.textContent === '1 client')"
    )
    assert page.locator(".fc-transition-table tbody tr").count() == 4
    assert "ps" in page.locator(".fc-transition-table tbody tr").first.inner_text()
    page.locator(".fc-controls .fc-pause").click()
    assert _wait_status(lab, "paused", playing=False)["comms"] == 1  # one comm, many links

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Cell").nth(2).screenshot(path=str(ARTIFACTS / "transition-link.png"))
    page.locator(".jp-Cell").nth(3).screenshot(path=str(ARTIFACTS / "transition-table.png"))


def test_links_and_controls_work_in_notebook_7(page: Any, notebook7: Lab) -> None:
    name = _write_notebook(notebook7, "notebook7.ipynb")
    _open(page, notebook7, name)
    address = f"127.0.0.1:{_status(notebook7)['port']}"
    with ListenerProcess(address, {"default": 1}) as listener:
        page.locator("a.fc-transition-link[data-transition='100']").first.click()
        events = listener.wait_for(lambda evs: bool(evs[0][1]))
        assert [event[2] for event in events[0][1]] == [100]
        page.wait_for_function(
            "() => [...document.querySelectorAll('.fc-link-status')]"
            ".some((node) => node.textContent === '1 client')"
        )
    page.locator(".fc-controls .fc-pause").first.click()
    _wait_status(notebook7, "paused from the bar in Notebook 7", playing=False)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notebook7.png"))


def test_links_without_the_extension_fall_back_to_text(tmp_path: Path) -> None:
    """Static renderers (nbconvert, GitHub) get the text/html and text/plain fallbacks."""
    import framecast

    trajectory = framecast.demo.argon_trajectory(n=5, frames=20)
    bundle = trajectory.transition(3)._repr_mimebundle_()
    assert bundle["text/plain"].startswith("<Transition #3 t = ")
    assert "<code>#3 t = " in bundle["text/html"]


def test_a_saved_notebook_shows_its_links_again_without_their_widgets(page: Any, lab: Lab) -> None:
    """Reopened, a saved output has no widget model: the extension draws its MIME type."""
    import framecast

    trajectory = framecast.demo.argon_trajectory(n=5, frames=20)
    saved = [
        trajectory.transition(3)._repr_mimebundle_(),
        trajectory.transitions(4, 7)._repr_mimebundle_(),
    ]
    assert all("application/vnd.jupyter.widget-view+json" in bundle for bundle in saved)
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "cells": [
            {
                "cell_type": "code",
                "id": f"saved{i}",
                "metadata": {},
                "execution_count": 1,
                "source": "trajectory.transition(3)",
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 1,
                        "metadata": {},
                        "data": bundle,
                    }
                ],
            }
            for i, bundle in enumerate(saved)
        ],
    }
    (lab.root / "saved.ipynb").write_text(json.dumps(notebook))
    lab.open(page, "saved.ipynb")
    page.wait_for_selector("a.fc-transition-link[data-transition='3']", timeout=60_000)
    page.wait_for_selector(".fc-transition-table a.fc-transition-link[data-transition='6']")
    assert "Error displaying widget" not in page.locator(".jp-Notebook").inner_text()


RERUN_SETUP = """\
import json, pathlib
import framecast
trajectory = framecast.demo.argon_trajectory(n=20, frames=30)
session = framecast.Session(trajectory, port=0)
pathlib.Path("rerun.json").write_text(
    json.dumps({"port": session.port, "timeline": trajectory.timeline_id})
)
"""


def test_a_saved_link_publishes_again_once_its_session_runs_in_a_new_kernel(
    page: Any, lab: Lab
) -> None:
    """Saved, closed, reopened in a new kernel: running only the cell that loads the data and
    starts the session makes the saved links work (the new timeline has another id; the
    link finds it by the fingerprint of its content)."""
    name = lab.write_notebook("rerun.ipynb", RERUN_SETUP, "trajectory.transition(7)")
    info = lab.root / "rerun.json"
    info.unlink(missing_ok=True)
    lab.open(page, name)
    run_all_cells(page)
    page.wait_for_selector("a.fc-transition-link[data-transition='7']", timeout=60_000)
    wait_until(info.exists, timeout=30, what="the first kernel's session")
    first = json.loads(info.read_text())
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    saved = lab.root / name
    wait_until(
        lambda: "vnd.framecast.transition+json" in saved.read_text(),
        timeout=20,
        what="the notebook saved with its link",
    )

    info.unlink()
    lab.open(page, name)  # a new kernel: the first one is shut down
    page.wait_for_selector("a.fc-transition-link[data-transition='7']", timeout=60_000)
    link = page.locator("a.fc-transition-link[data-transition='7']")
    status = page.locator(".fc-link-status").first
    # Before the session runs again, the click says what to do.
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget; return w.sessionContext"
        ".session?.kernel?.status === 'idle'; }",
        timeout=60_000,
    )
    link.click()
    page.wait_for_function(
        "(node) => node.dataset.state === 'error'", arg=status.element_handle(), timeout=20_000
    )
    assert "run the cells that load" in status.inner_text()

    page.evaluate(
        "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code}); }",
        RERUN_SETUP,
    )
    wait_until(info.exists, timeout=30, what="the second kernel's session")
    second = json.loads(info.read_text())
    assert second["timeline"] != first["timeline"]
    with ListenerProcess(f"127.0.0.1:{second['port']}", {"default": 1}) as listener:
        link.click()
        events = listener.wait_for(lambda evs: bool(evs[0][1]))
        assert events[0][1] == [("transition", second["timeline"], 7)]
        page.wait_for_function(
            "(node) => node.textContent === '1 client'", arg=status.element_handle()
        )
