"""The 3D viewer in a real JupyterLab in Chromium: it draws, it moves, it follows."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from framecast.testing import wait_until
from framecast.testing.browser import ARTIFACTS, PIXELS, Lab, run_all_cells, run_in_kernel

pytestmark = pytest.mark.slow


def test_viewer_draws_moves_and_follows_a_transition(page: Any, lab: Lab) -> None:
    lab.write_notebook(
        "viewer.ipynb",
        "import framecast\n"
        "simulation = framecast.demo.argon(500)\n"
        "session = framecast.Session(simulation, port=0, follow_transitions=True)",
        "viewer = session.view()\nviewer",
    )
    lab.open(page, "viewer.ipynb")
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
            "assert session.sessions.publish_transition(simulation.transition(n))",
            "open('target.txt', 'w').write(str(n))",
        ]
    )
    reply = run_in_kernel(page, code)
    assert reply[0] == "ok", reply
    target_file = lab.root / "target.txt"
    wait_until(target_file.exists, timeout=20, what="the transition was published")
    target = int(target_file.read_text())
    page.wait_for_selector(f".fc-viewer[data-frame='{target}']", timeout=10_000)

    # viewer.screenshot() from the kernel: the view answers with a PNG over the channel.
    reply = run_in_kernel(
        page, "shot = viewer.screenshot()\nopen('shot.png', 'wb').write(shot.data)"
    )
    assert reply[0] == "ok", reply
    png = (lab.root / "shot.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 5_000  # a drawn scene, not an empty image


CACHED_SETUP = """\
import json, os, pathlib, threading
import framecast

trajectory = framecast.demo.argon_trajectory(n=300, frames=120)
session = framecast.Session(trajectory, port=0)
session.pause()
status_lock = threading.Lock()

def write_status(change=None):
    # The kernel's side of the playback, for the test (one writer at a time).
    with status_lock:
        data = {"frame": trajectory.frame_index, "playing": session.playing}
        pathlib.Path("status.tmp").write_text(json.dumps(data))
        os.replace("status.tmp", "status.json")

session.observe(write_status, names=["playing", "frame_index"])
write_status()
"""

# Holds the GIL for 20 s: no thread of the kernel runs, so nothing the page does can get an
# answer (the interpreter hands the GIL over only after the switch interval).
FREEZE = """\
import pathlib, sys, time
pathlib.Path("frozen").touch()
sys.setswitchinterval(100.0)
end = time.monotonic() + 20
while time.monotonic() < end:
    pass
sys.setswitchinterval(0.005)
pathlib.Path("thawed").touch()
"""

BOTH_FRAMES = (
    "() => [document.querySelector('.fc-viewer').dataset.frame,"
    " document.querySelector('.fc-controls').dataset.frame]"
)


def test_a_cached_trajectory_plays_and_scrubs_while_the_kernel_is_frozen(
    page: Any, lab: Lab
) -> None:
    import json

    lab.write_notebook(
        "cached.ipynb",
        CACHED_SETUP,
        "session",
        "viewer = session.view()\nviewer",
    )
    for name in ("frozen", "thawed", "status.json", "moved.txt"):
        (lab.root / name).unlink(missing_ok=True)
    lab.open(page, "cached.ipynb")
    run_all_cells(page)
    viewer = page.locator(".fc-viewer")
    page.wait_for_selector(".fc-viewer[data-local='true']", timeout=60_000)
    assert viewer.get_attribute("data-cached") == "120"
    bar = page.locator(".fc-controls").first
    bar.locator(".fc-pause").wait_for(state="attached", timeout=10_000)
    canvas = viewer.locator("canvas")

    page.evaluate(
        "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code}); }",
        FREEZE,
    )
    wait_until((lab.root / "frozen").exists, timeout=20, what="the kernel froze")

    # Play: the page's clock moves the view and the bar together, with no kernel.
    bar.locator(".fc-play").click()
    page.wait_for_function(
        "() => { const f = document.querySelector('.fc-viewer').dataset.frame;"
        " (window.fcSeen = window.fcSeen || new Set()).add(f); return window.fcSeen.size >= 10; }",
        timeout=10_000,
    )
    bar.locator(".fc-pause").click()
    page.wait_for_selector(".fc-controls[data-playing='false']", timeout=5_000)
    view_frame, bar_frame = page.evaluate(BOTH_FRAMES)
    assert view_frame == bar_frame, "the bar and the view are out of step"
    _, paused_pixels, _ = canvas.evaluate(PIXELS)

    # Scrub: the view follows the slider while it is dragged (to a frame far from this one).
    target = (int(view_frame) + 60) % 120
    bar.locator(".fc-scrub").evaluate(
        "(s, frame) => { s.value = String(frame); s.dispatchEvent(new Event('input')); }",
        target,
    )
    page.wait_for_selector(f".fc-viewer[data-frame='{target}']", timeout=5_000)
    bar.locator(".fc-scrub").evaluate("(s) => s.dispatchEvent(new Event('change'))")
    assert page.evaluate(BOTH_FRAMES) == [str(target), str(target)]
    page.wait_for_function(
        f"(canvas) => ({PIXELS})(canvas)[1] !== {paused_pixels}",
        arg=canvas.element_handle(),
        timeout=5_000,
    )
    assert not (lab.root / "thawed").exists(), "the kernel thawed before the checks ended"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Notebook").screenshot(path=str(ARTIFACTS / "viewer-cached.png"))

    # The kernel catches up with what the page did: paused at that frame, like the page.
    wait_until((lab.root / "thawed").exists, timeout=40, what="the kernel thawed")
    status = lab.root / "status.json"
    wait_until(
        lambda: json.loads(status.read_text()) == {"frame": target, "playing": False},
        timeout=15,
        what=f"the session at frame {target}, paused",
    )
    page.wait_for_selector(f".fc-viewer[data-frame='{target}']", timeout=5_000)

    # A transition published while the session plays: the view goes there and stays, even
    # as the kernel's frames move on, until someone acts.
    jump = (target + 45) % 119
    page.evaluate(
        "() => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code: 'session.play()'}); }"
    )
    page.wait_for_selector(".fc-controls[data-playing='true']", timeout=10_000)
    code = "\n".join(
        [
            f"assert session.sessions.publish_transition(trajectory.transition({jump}))",
            "start, moved, deadline = trajectory.frame_index, 0, time.monotonic() + 20",
            "while moved < 75 and time.monotonic() < deadline:",
            "    time.sleep(0.05)  # the kernel waits for its own frames to move on",
            "    moved = (trajectory.frame_index - start) % trajectory.frame_count",
            "open('moved.txt', 'w').write(str(moved))",
        ]
    )
    page.evaluate(
        "(code) => { window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
        ".requestExecute({code: 'import time\\n' + code}); }",
        code,
    )
    page.wait_for_selector(f".fc-viewer[data-frame='{jump}']", timeout=10_000)
    moved = lab.root / "moved.txt"
    wait_until(moved.exists, timeout=30, what="the kernel's frames moved on")
    assert int(moved.read_text()) >= 75
    assert page.evaluate(BOTH_FRAMES) == [str(jump), str(jump)]
    bar.locator(".fc-play").click()  # someone acts: the page plays again
    page.wait_for_function(
        f"() => document.querySelector('.fc-viewer').dataset.frame !== '{jump}'",
        timeout=10_000,
    )


def test_the_viewer_shows_its_cache_filling(page: Any, lab: Lab) -> None:
    # Ten frames per chunk and a pause between chunks, so that the fill is watched.
    lab.write_notebook(
        "caching.ipynb",
        "import framecast\n"
        "from framecast.jupyter import page_cache\n"
        "page_cache.CACHE_CHUNK_BYTES = 300 * 12 * 10\n"
        "page_cache.CACHE_CHUNK_PAUSE = 0.25\n"
        "trajectory = framecast.demo.argon_trajectory(n=300, frames=120)\n"
        "session = framecast.Session(trajectory, port=0, autoplay=False)",
        "session.view()",
    )
    lab.open(page, "caching.ipynb")
    run_all_cells(page)
    viewer = page.locator(".fc-viewer")
    caching = viewer.locator(".fc-viewer-caching")
    caching.wait_for(state="visible", timeout=60_000)
    label = viewer.locator(".fc-viewer-frame")
    text = label.text_content() or ""
    assert re.search(r"caching \d+/120 frames", text), text
    done = int(caching.evaluate("(bar) => bar.value"))
    assert 0 < done < 120
    assert caching.evaluate("(bar) => bar.max") == 120
    ARTIFACTS.mkdir(exist_ok=True)
    viewer.screenshot(path=str(ARTIFACTS / "viewer-caching.png"))
    # Then the page holds every frame: the bar goes, the label says so.
    page.wait_for_selector(".fc-viewer[data-cached='120']", timeout=60_000)
    caching.wait_for(state="hidden", timeout=5_000)
    assert "120/120 frames cached" in (label.text_content() or "")


def test_a_large_system_streams_without_iopub_rate_limits(page: Any, lab: Lab) -> None:
    # 100,000 particles streamed with the page cache off: the heaviest path for IOPub.
    setup = (
        "import numpy as np, framecast\n"
        "rng = np.random.default_rng(0)\n"
        "n = 100_000\n"
        "start = rng.random((n, 3), dtype=np.float32) * (n / 20) ** (1 / 3)\n"
        "steps = rng.normal(0, 0.01, (20, n, 3)).astype(np.float32).cumsum(axis=0)\n"
        "elements = {'particle.elements': np.full(n, 18)}\n"
        "session = framecast.Session(framecast.Trajectory(start + steps, elements), port=0)"
    )
    lab.write_notebook(
        "large.ipynb",
        setup,
        "viewer = session.view(cache_bytes=0)\nviewer",
    )
    lab.open(page, "large.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-style='sprites']", timeout=60_000)
    shown = int(page.locator(".fc-viewer").get_attribute("data-shown"))
    page.wait_for_function(
        f"() => Number(document.querySelector('.fc-viewer').dataset.shown) >= {shown + 5}",
        timeout=30_000,
    )
    lit, _, total = page.locator(".fc-viewer canvas").evaluate(PIXELS)
    assert lit > 0.01 * total, "the 100k view is blank"
    text = page.locator(".jp-Notebook").inner_text()
    assert "rate exceeded" not in text, text
    log = (lab.root.parent / "lab.log").read_text()
    assert "rate exceeded" not in log
    assert "iopub messages resumed" not in log.lower()


# Counts the pixels of each hue family in the canvas: reds (oxygen), blues (nitrogen), greens
# (none among a protein's elements; many in a rainbow of residues).
HUES = """(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const g = copy.getContext('2d'); g.drawImage(canvas, 0, 0);
  const data = g.getImageData(0, 0, copy.width, copy.height).data;
  const counts = {red: 0, blue: 0, green: 0, lit: 0, total: copy.width * copy.height};
  for (let i = 0; i < data.length; i += 4) {
    const [r, gr, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.abs(r - 30) + Math.abs(gr - 30) + Math.abs(b - 30) > 40) counts.lit++;
    if (r > gr + 60 && r > b + 60) counts.red++;
    if (b > r + 60 && b > gr + 20) counts.blue++;
    if (gr > r + 40 && gr > b + 40) counts.green++;
  }
  return counts;
}"""


def test_a_protein_from_files_looks_like_a_protein(page: Any, lab: Lab) -> None:
    """YiiP (8,814 protein atoms, from MDAnalysisTests' GRO and XTC): element colours and
    bonds, then a rainbow by residue."""
    lab.write_notebook(
        "protein.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import GRO_MEMPROT, XTC_MEMPROT\n"
        "files = [GRO_MEMPROT, XTC_MEMPROT]\n"
        "trajectory = framecast.from_mdanalysis(files, 'protein')\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()\n"
        "assert trajectory.particle_count == 8814",
        "viewer = session.view(height=520, default_representation=False)\nviewer",
    )
    lab.open(page, "protein.ipynb")
    run_all_cells(page)
    canvas = page.locator(".fc-viewer canvas")
    canvas.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer').dataset.shown) >= 1", timeout=60_000
    )
    page.wait_for_function(
        f"(c) => {{ const h = ({HUES})(c); return h.red > 200 && h.blue > 100; }}",
        arg=canvas.element_handle(),
        timeout=30_000,
    )
    by_element = canvas.evaluate(HUES)
    # A protein, not a blob: the molecule fills part of the view, with space around and
    # between its helices, and oxygens (red) and nitrogens (blue) are told apart.
    assert 0.05 * by_element["total"] < by_element["lit"] < 0.8 * by_element["total"], by_element
    assert by_element["green"] < 0.1 * by_element["red"], by_element
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".fc-viewer").screenshot(path=str(ARTIFACTS / "protein.png"))

    # Colour by residue from the toolbar: a rainbow along the chain, so greens appear.
    page.locator(".fc-colour-by").select_option("residue")
    page.wait_for_selector(".fc-viewer[data-colour-by='residue']", timeout=10_000)
    page.wait_for_function(
        f"(c) => ({HUES})(c).green > 2000", arg=canvas.element_handle(), timeout=10_000
    )
    page.locator(".fc-viewer").screenshot(path=str(ARTIFACTS / "protein-residues.png"))


def _agreed_frame(page: Any, lab: Lab, what: str) -> int:
    """Wait until the viewer, the bar and the kernel show one frame, paused; that frame.
    On a timeout, say what each showed."""
    import json

    status = lab.root / "status.json"

    def frames() -> tuple[str, str, dict[str, Any]]:
        view, bar = page.evaluate(BOTH_FRAMES)
        return view, bar, json.loads(status.read_text())

    def agree() -> bool:
        view, bar, kernel = frames()
        return view == bar == str(kernel["frame"]) and kernel["playing"] is False

    try:
        wait_until(agree, timeout=10, what=what)
    except TimeoutError as error:
        view, bar, kernel = frames()
        raise TimeoutError(f"{error}: viewer {view}, bar {bar}, kernel {kernel}") from None
    return int(frames()[0])


def test_after_a_control_settles_the_page_and_the_session_agree(page: Any, lab: Lab) -> None:
    """Pause or step a cached trajectory while the kernel plays it too: the page's clock and
    the kernel's differ by a few frames, and the frame the user paused on is the one kept
    (once the page showed frame 10 while the kernel said 15)."""
    import json

    lab.write_notebook(
        "agree.ipynb",
        CACHED_SETUP.replace("session.pause()\n", ""),
        "session",
        "viewer = session.view()\nviewer",
    )
    (lab.root / "status.json").unlink(missing_ok=True)
    lab.open(page, "agree.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-local='true']", timeout=60_000)
    bar = page.locator(".fc-controls").first
    for round in range(3):
        page.wait_for_selector(".fc-controls[data-playing='true']", timeout=10_000)
        # Let both clocks run a while (frames move in the page), then pause.
        start = page.evaluate(BOTH_FRAMES)[0]
        page.wait_for_function(
            f"() => document.querySelector('.fc-viewer').dataset.frame !== '{start}'",
            timeout=10_000,
        )
        bar.locator(".fc-pause").click()
        page.wait_for_selector(".fc-controls[data-playing='false']", timeout=5_000)
        paused_on = page.evaluate(BOTH_FRAMES)[0]
        frame = _agreed_frame(page, lab, f"round {round}: all paused on one frame")
        assert str(frame) == paused_on, "the page moved off the frame the user paused on"
        bar.locator(".fc-step").click()
        stepped = _agreed_frame(page, lab, f"round {round}: all on the stepped frame")
        assert stepped == (frame + 1) % 120
        bar.locator(".fc-play").click()

    # The viewer's own play bar drives the session too.
    playbar = page.locator(".fc-playbar")
    page.wait_for_selector(".fc-playbar[data-playing='true']", timeout=10_000)
    playbar.locator(".fc-toggle").click()
    frame = _agreed_frame(page, lab, "paused from the viewer's play bar")
    assert playbar.get_attribute("data-frame") == str(frame)
    playbar.locator(".fc-step").click()
    assert _agreed_frame(page, lab, "stepped from the viewer's play bar") == (frame + 1) % 120
    playbar.locator(".fc-toggle").click()
    page.wait_for_selector(".fc-controls[data-playing='true']", timeout=10_000)
    wait_until(
        lambda: json.loads((lab.root / "status.json").read_text())["playing"] is True,
        what="the session plays again from the viewer's play bar",
    )


def test_record_movie_writes_the_frames_the_view_draws(page: Any, lab: Lab) -> None:
    """From the cell that asks: the session goes to each frame, the view draws it and sends
    its canvas back on the kernel's subshell, imageio writes the GIF."""
    import imageio.v2 as imageio
    import numpy as np

    lab.write_notebook(
        "movie.ipynb",
        "import framecast\n"
        "trajectory = framecast.demo.argon_trajectory(n=200, frames=40)\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        "import ipywidgets\n"
        "viewer = session.view(cache_bytes=0)\n"
        "out = ipywidgets.Output()\n"
        "display(viewer, out)",
    )
    movie = lab.root / "movie.gif"
    movie.unlink(missing_ok=True)
    lab.open(page, "movie.ipynb")
    run_all_cells(page)
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer')?.dataset.shown) >= 1", timeout=60_000
    )
    # The view's channel opens while the kernel is idle (then it runs on a subshell).
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'idle'",
        timeout=60_000,
    )
    # The progress bar (tqdm's notebook bar, in the Output widget) appears while it records.
    page.evaluate(
        "() => { window.fcSawBar = false; const seen = () => { if (document.querySelector("
        "'.jp-Notebook').textContent.includes('recording the movie')) window.fcSawBar = true; };"
        " new MutationObserver(seen).observe(document.body,"
        " {subtree: true, childList: true, characterData: true}); }"
    )
    reply = run_in_kernel(
        page,
        "with out:\n"
        "    viewer.record_movie('movie.gif', frames=range(0, 40, 8), fps=5, progress=True)",
    )
    assert reply[0] == "ok", reply
    assert page.evaluate("() => window.fcSawBar"), "no progress bar while recording"
    frames = imageio.mimread(movie)
    assert len(frames) == 5
    first, last = (np.asarray(frames[i])[..., :3].astype(int) for i in (0, 4))
    assert (np.abs(first - 30).sum(axis=2) > 40).mean() > 0.01, "a blank frame"
    assert np.abs(first - last).sum() > 0, "the frames of the movie do not differ"


def test_shift_drag_pulls_an_atom_of_a_live_simulation(page: Any, lab: Lab) -> None:
    lab.write_notebook(
        "pull.ipynb",
        "import json, framecast\n"
        "simulation = framecast.demo.argon(500)\n"
        "session = framecast.Session(simulation, port=0)\n"
        "def pulls():\n"
        "    keys = [k for k in session.shared_state if k.startswith('interaction.')]\n"
        "    values = [session.shared_state[k] for k in keys]\n"
        "    open('pulls.json', 'w').write(json.dumps([list(simulation.interactions), values]))",
        "viewer = session.view()\nviewer",
    )
    lab.open(page, "pull.ipynb")
    run_all_cells(page)
    canvas = page.locator(".fc-viewer canvas")
    canvas.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-viewer').dataset.frame) > 2", timeout=30_000
    )
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.keyboard.down("Shift")
    page.mouse.move(x, y)
    page.mouse.down()
    page.wait_for_selector(".fc-viewer[data-pulling][data-spring='shown']", timeout=10_000)
    hint = page.locator(".fc-viewer .fc-viewer-hint").inner_text()
    assert "shift-drag an atom to pull it" in hint
    page.mouse.move(x + 80, y + 30, steps=10)  # a burst: the last move is sent last
    pulled = lab.root / "pulls.json"
    wait_until(
        lambda: (
            run_in_kernel(page, "pulls()")[0] == "ok"
            and len(json.loads(pulled.read_text())[0]) == 1
        ),
        timeout=20,
        what="the engine applies the viewer's pull",
    )
    first = json.loads(pulled.read_text())[1][0]
    assert first["interaction_type"] == "spring"
    page.mouse.move(x + 120, y + 45)
    wait_until(
        lambda: (
            run_in_kernel(page, "pulls()")[0] == "ok"
            and json.loads(pulled.read_text())[1][0]["position"] != first["position"]
        ),
        timeout=20,
        what="the pull follows the pointer",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".fc-viewer").screenshot(path=str(ARTIFACTS / "pull.png"))
    page.mouse.up()
    page.keyboard.up("Shift")
    wait_until(
        lambda: (
            run_in_kernel(page, "pulls()")[0] == "ok" and json.loads(pulled.read_text()) == [[], []]
        ),
        timeout=20,
        what="the pull stops on release",
    )
    # A target that is not live: the view says why it cannot pull. (Its atoms sit
    # elsewhere on screen, so a few spots are tried until one lands on an atom.)
    code = "session.show(framecast.demo.argon_trajectory(n=500, frames=5))"
    assert run_in_kernel(page, code)[0] == "ok"
    refused = ".fc-viewer[data-pull-error*='not a live simulation']"
    for dx, dy in [(0, 0), (30, 0), (-30, 0), (0, 30), (0, -30), (60, 60), (-60, -60)]:
        page.keyboard.down("Shift")
        page.mouse.move(x + dx, y + dy)
        page.mouse.down()
        page.mouse.move(x + dx + 20, y + dy)
        page.mouse.up()
        page.keyboard.up("Shift")
        try:  # the refusal is an answer from the kernel, within a second
            page.wait_for_selector(refused, timeout=1_000)
            break
        except PlaywrightTimeout:
            continue
    page.wait_for_selector(refused, timeout=10_000)
    # Said where the user looks, in the toolbar, not only in a tooltip.
    notice = page.locator(".fc-viewer .fc-notice")
    assert notice.inner_text().startswith("cannot pull:"), notice.inner_text()
    assert "not a live simulation" in notice.inner_text()
    assert notice.is_visible()
    assert page.locator(".fc-viewer[data-spring]").count() == 0  # no spring left drawn


# The JavaScript side of what a view draws: every visible control, by its label.
VISIBLE_CONTROLS = """(root) => [...root.querySelectorAll('button, input, select')]
  .filter((node) => node.offsetParent !== null && getComputedStyle(node).display !== 'none')
  .map((node) => node.getAttribute('aria-label') || node.className)"""


def test_show_replaces_the_old_target_in_the_page(page: Any, lab: Lab) -> None:
    """A protein cached in the page, then ``session.show(argon)``: nothing of the protein is
    left (particles, sprites, box, play bar), and the camera frames the new target."""
    lab.write_notebook(
        "show.ipynb",
        "import framecast\n"
        "from MDAnalysisTests.datafiles import DCD, PSF\n"
        "protein = framecast.from_mdanalysis([PSF, DCD])\n"
        "session = framecast.Session(protein, port=0)\n"
        "session.pause()",
        "viewer = session.view()\nviewer",
    )
    lab.open(page, "show.ipynb")
    run_all_cells(page)
    view = page.locator(".fc-viewer")
    view.wait_for(timeout=60_000)
    page.wait_for_selector(".fc-viewer[data-local='true'][data-particles='3341']", timeout=60_000)
    assert page.locator(".fc-viewer .fc-playbar").is_visible()  # the page plays the protein

    assert run_in_kernel(page, "session.show(framecast.demo.argon(60))")[0] == "ok"
    page.wait_for_selector(".fc-viewer[data-particles='60'][data-style='spheres']", timeout=10_000)
    # The old play bar is gone, not merely emptied, and no other control is dead.
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.fc-viewer .fc-playbar')).display"
        " === 'none'",
        timeout=10_000,
    )
    assert view.evaluate(VISIBLE_CONTROLS) == ["Reset camera", "Colour by"]
    # The camera frames the new system: it fills a fair part of the view.
    page.wait_for_function(
        f"(c) => {{ const [lit, , total] = ({PIXELS})(c); return lit > 0.02 * total; }}",
        arg=page.locator(".fc-viewer canvas").element_handle(),
        timeout=10_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    view.screenshot(path=str(ARTIFACTS / "viewer-after-show.png"))


def test_a_link_moves_the_viewer_beside_it_with_no_setup(page: Any, lab: Lab) -> None:
    """Three cells as a new user writes them: a session, its viewer, a range of links."""
    lab.write_notebook(
        "links.ipynb",
        "import framecast\n"
        "trajectory = framecast.demo.argon_trajectory(n=50, frames=60)\n"
        "session = framecast.Session(trajectory, port=0)",
        "session.view()",
        "trajectory.transitions(20, 24)",
    )
    lab.open(page, "links.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-particles='50']", timeout=60_000)
    link = page.locator(".fc-transition-table a[data-transition='22']")
    link.wait_for(timeout=60_000)
    link.click()
    status = page.locator(".fc-transition-table .fc-link-status").nth(2)
    page.wait_for_function(
        "(node) => /^\\d+ clients?$/.test(node.textContent)",
        arg=status.element_handle(),
        timeout=20_000,
    )
    assert status.inner_text() == "1 client"
    page.wait_for_selector(".fc-viewer[data-frame='22']", timeout=10_000)

    # Nobody on the tracked sessions: the link says how to reach someone.
    assert run_in_kernel(page, "session.sessions.tracked = 'empty-room'")[0] == "ok"
    link.click()
    page.wait_for_function(
        "(node) => node.textContent === \"no listeners on 'empty-room'; viewers listen on"
        " 'default': session.sessions.tracked.append('default')\"",
        arg=status.element_handle(),
        timeout=20_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".fc-transition-table").screenshot(path=str(ARTIFACTS / "no-listeners.png"))
    # Another click of the table: only its answer stands, the older one is cleared.
    page.locator(".fc-transition-table a[data-transition='21']").click()
    page.wait_for_function(
        "(node) => node.textContent.startsWith('no listeners')",
        arg=page.locator(".fc-transition-table .fc-link-status").nth(1).element_handle(),
        timeout=20_000,
    )
    assert status.inner_text() == ""


def test_a_live_simulation_draws_no_control_that_cannot_act(page: Any, lab: Lab) -> None:
    """The bar and viewer of a live engine: no play bar, no scrub, no speed; step back only
    while a kept frame is behind, and it goes there; an error stays until the next action."""
    lab.write_notebook(
        "live.ipynb",
        "import framecast\n"
        "simulation = framecast.demo.argon(60, history=200)\n"
        "session = framecast.Session(simulation, port=0)",
        "session",
        "session.view()",
    )
    lab.open(page, "live.ipynb")
    run_all_cells(page)
    bar = page.locator(".fc-controls")
    view = page.locator(".fc-viewer")
    page.wait_for_selector(".fc-viewer[data-particles='60']", timeout=60_000)
    page.wait_for_function(
        "() => Number(document.querySelector('.fc-controls').dataset.frame) > 3", timeout=30_000
    )
    assert view.evaluate(VISIBLE_CONTROLS) == ["Reset camera", "Colour by"]
    playing = ["Step back", "Pause", "Step forward", "Restart", "Stop"]
    assert bar.evaluate(VISIBLE_CONTROLS) == playing  # Play cannot act while it plays
    bar.locator(".fc-pause").click()
    page.wait_for_selector(".fc-controls[data-playing='false']", timeout=10_000)
    assert bar.evaluate(VISIBLE_CONTROLS) == [
        "Step back",
        "Play",
        "Step forward",
        "Restart",
        "Stop",
    ]
    frame = int(bar.get_attribute("data-frame"))
    bar.locator(".fc-step-back").click()
    page.wait_for_selector(f".fc-controls[data-frame='{frame - 1}']", timeout=10_000)
    assert bar.locator(".fc-notice").inner_text() == ""

    # At the first kept frame there is nothing behind: the button goes.
    bar.locator(".fc-restart").click()
    page.wait_for_selector(".fc-controls[data-frame='0']", timeout=10_000)
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.fc-controls .fc-step-back')).display"
        " === 'none'",
        timeout=10_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    bar.screenshot(path=str(ARTIFACTS / "live-bar.png"))


# Pixels of the colour of "no element" (deep pink, shaded): none may be drawn for TIP4P.
PINK = """(canvas) => {
  const copy = document.createElement('canvas');
  copy.width = canvas.width; copy.height = canvas.height;
  const g = copy.getContext('2d'); g.drawImage(canvas, 0, 0);
  const d = g.getImageData(0, 0, copy.width, copy.height).data;
  let pink = 0, lit = 0;
  for (let i = 0; i < d.length; i += 4) {
    const [r, gr, b] = [d[i], d[i + 1], d[i + 2]];
    if (Math.abs(r - 30) + Math.abs(gr - 30) + Math.abs(b - 30) > 40) lit++;
    if (r > 120 && b > 0.4 * r && gr < 0.35 * r) pink++;
  }
  return [pink, lit];
}"""

TIP4P = """\
import numpy as np
import framecast

def waters(n):
    # TIP4P: O, H, H and the massless site MW (element 0), on a grid 0.31 nm apart.
    grid = np.stack(np.meshgrid(*[np.arange(int(np.ceil(n ** (1 / 3))))] * 3), -1)
    centres = grid.reshape(-1, 3)[:n] * 0.31
    offsets = np.array([[0, 0, 0], [0.0957, 0, 0], [-0.024, 0.0927, 0], [0.009, 0.0125, 0]])
    positions = (centres[:, None, :] + offsets[None]).reshape(-1, 3).astype(np.float32)
    elements = np.tile([8, 1, 1, 0], n)
    bonds = [[4 * i, 4 * i + h] for i in range(n) for h in (1, 2)]
    return framecast.FrameData(
        {"particle.positions": positions, "particle.elements": elements, "bond.pairs": bonds}
    )

session = framecast.Session(waters(27), port=0)
"""


def test_tip4p_virtual_sites_are_not_drawn(page: Any, lab: Lab) -> None:
    """A particle with no element among ones that have one (TIP4P's MW) is not drawn, as
    spheres (a few waters) or as sprites (many)."""
    lab.write_notebook("tip4p.ipynb", TIP4P, "session", "session.view()")
    lab.open(page, "tip4p.ipynb")
    run_all_cells(page)
    canvas = page.locator(".fc-viewer canvas")
    for waters, style in ((27, "spheres"), (1000, "sprites")):
        if waters != 27:
            assert run_in_kernel(page, f"session.show(waters({waters}))")[0] == "ok"
        page.wait_for_selector(
            f".fc-viewer[data-particles='{4 * waters}'][data-style='{style}']"
            f"[data-hidden='{waters}']",
            timeout=60_000,
        )
        page.wait_for_function(
            f"(c) => ({PINK})(c)[1] > 1000", arg=canvas.element_handle(), timeout=10_000
        )
        pink, lit = canvas.evaluate(PINK)
        assert pink < 0.001 * lit, (style, pink, lit)
        # A frame has nothing to play: the bar draws no play control, and says so.
        bar = page.locator(".fc-controls")
        page.wait_for_function(
            "() => document.querySelector('.fc-controls .fc-status').textContent"
            ".endsWith('one frame')",
            timeout=10_000,
        )
        assert bar.evaluate(VISIBLE_CONTROLS) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".fc-viewer").screenshot(path=str(ARTIFACTS / "tip4p.png"))


def test_enter_applies_a_speed_and_a_restart_says_so(page: Any, lab: Lab) -> None:
    """In JupyterLab, which takes Enter for its own commands: a speed typed into the bar
    applies on Enter, and the viewer's bar shows it too. After Kernel > Restart, the bar,
    the viewer and a link say so instead of looking alive."""
    lab.write_notebook(
        "speed.ipynb",
        "import framecast\n"
        "trajectory = framecast.demo.argon_trajectory(n=40, frames=60)\n"
        "session = framecast.Session(trajectory, port=0)\n"
        "session.pause()",
        "session",
        "session.view()",
        "trajectory.transition(10)",
    )
    lab.open(page, "speed.ipynb")
    run_all_cells(page)
    page.wait_for_selector(".fc-viewer[data-local='true']", timeout=60_000)
    field = page.locator(".fc-controls .fc-speed")
    field.click()
    field.fill("12")
    field.press("Enter")
    wait_until(
        lambda: run_in_kernel(page, "assert trajectory.fps == 12")[0] == "ok",
        timeout=20,
        what="the kernel's trajectory plays at 12 fps",
    )
    assert page.locator(".fc-controls .fc-speed").input_value() == "12"  # still focused
    assert page.locator(".fc-viewer .fc-playbar .fc-speed").input_value() == "12"

    page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
    )
    page.wait_for_selector(".fc-controls[data-kernel-lost]", timeout=30_000)
    assert (
        "the kernel restarted: run the cells again"
        in page.locator(".fc-controls .fc-status").inner_text()
    )
    assert page.locator(".fc-controls .fc-play").is_disabled()
    notice = page.locator(".fc-viewer .fc-notice")
    assert notice.inner_text() == "the kernel restarted: run the cells again"
    assert not page.locator(".fc-viewer .fc-playbar").is_visible()
    # The link (drawn by the extension, as a saved one would be) asks the new kernel, where
    # framecast does not run yet, and says what to run; not "Error: Cannot send".
    page.locator("a.fc-transition-link[data-transition='10']").click()
    status = page.locator(".fc-link-status").first
    page.wait_for_function(
        "(node) => node.dataset.state === 'error' && node.textContent.includes('run the cells')",
        arg=status.element_handle(),
        timeout=30_000,
    )
    assert "Cannot send" not in status.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".jp-Notebook").screenshot(path=str(ARTIFACTS / "kernel-restarted.png"))


def test_two_viewers_on_a_page_share_one_three_js(page: Any, lab: Lab) -> None:
    """anywidget imports a module afresh for each widget; the viewer's bundle is evaluated
    once a page all the same (three.js warns when it is loaded twice)."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    lab.write_notebook(
        "two.ipynb",
        "import framecast\nsession = framecast.Session(framecast.demo.argon(30), port=0)",
        "session.view(height=200)",
        "session.view(height=200)",
    )
    lab.open(page, "two.ipynb")
    run_all_cells(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.fc-viewer')]"
        ".filter((v) => Number(v.dataset.shown) > 0).length === 2",
        timeout=60_000,
    )
    assert not [m for m in messages if "Multiple instances of Three.js" in m], messages
    assert page.evaluate("() => Object.keys(globalThis.__framecast__.modules).length") == 1
