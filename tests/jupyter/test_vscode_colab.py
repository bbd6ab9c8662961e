"""The widgets in VS Code's own widget renderer, and in a Colab-like page of one frame per
output, offline, against a real kernel of a real Jupyter server.

VS Code draws a notebook's widgets in a webview with its npm package
``@vscode/jupyter-ipywidgets8``: a widget manager on a kernel connection, base widgets
registered in requirejs, and a third-party module (anywidget) loaded through requirejs from
the kernel environment's ``nbextensions`` folder. ``labextension/hosts/vscode.ts`` is such a
page (bundled here with esbuild), served by a Jupyter server with its kernel. Colab draws
each output in an iframe of its own, sharing no JavaScript with the others: the same page
in several frames, each with its own copy of everything and its own kernel connection.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jupyter_core.paths import jupyter_path

from framecast.testing import wait_until
from framecast.testing.browser import ARTIFACTS, PIXELS, _free_port, chromium_path
from framecast.testing.hosts import SETUP, Host, drive, read_status

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"
TOKEN = "framecast-hosts"
PAGE = """<!doctype html>
<meta charset="utf-8"><title>framecast in {what}</title>
<style>body {{ font-family: sans-serif; margin: 8px; }} .fc-output {{ margin: 8px 0; }}</style>
<script src="require.js?token={token}"></script>
<script src="vscode.js?token={token}"></script>
<body><div id="outputs"></div></body>
"""
COLAB = """<!doctype html>
<meta charset="utf-8"><title>framecast, one frame per output</title>
<style>iframe { width: 100%; border: 1px solid #ccc; margin: 4px 0; }</style>
<body></body>
"""

pytestmark = pytest.mark.slow


def _nbextension(module: str) -> Path:
    """A module's classic-notebook extension in this environment (VS Code loads it there)."""
    for root in jupyter_path("nbextensions"):
        candidate = Path(root) / module / "index.js"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no nbextensions/{module}/index.js in {jupyter_path()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Host]:
    """A Jupyter server whose root holds the host page, its bundle, require.js and the
    anywidget nbextension."""
    chromium_path()  # fail (in CI) or skip before building anything
    tools = LABEXTENSION / "node_modules" / ".bin"
    # Type-checked (esbuild does not), then bundled.
    subprocess.run(
        [str(tools / "tsc"), "-p", "tsconfig.hosts.json"], cwd=LABEXTENSION, check=True, timeout=120
    )
    esbuild = tools / "esbuild"
    subprocess.run(
        [str(esbuild), "hosts/vscode.ts", "--bundle", "--format=iife", "--log-level=warning",
         f"--outfile={tmp_path / 'vscode.js'}"],
        cwd=LABEXTENSION, check=True, timeout=120,
    )  # fmt: skip
    shutil.copy(LABEXTENSION / "node_modules" / "requirejs" / "require.js", tmp_path)
    anywidget = tmp_path / "nbextensions" / "anywidget"
    anywidget.mkdir(parents=True)
    shutil.copy(_nbextension("anywidget"), anywidget / "index.js")
    (tmp_path / "vscode.html").write_text(
        PAGE.format(what="VS Code's widget renderer", token=TOKEN)
    )
    port = _free_port()
    host = Host(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
         "--ServerApp.allow_root=True",
         # The server sends its files sandboxed (origin "null"), as a webview's origin is
         # not the server's: the page's kernel connection is a cross-origin one.
         "--ServerApp.allow_origin=*",
         # Colab's output frames come from another origin than the notebook around them.
         '--ServerApp.tornado_settings={"headers": {"Content-Security-Policy":'
         ' "frame-ancestors http://127.0.0.1:*"}}'],
        tmp_path,
        port,
    )  # fmt: skip
    try:
        yield host
    finally:
        host.close()


def _run(frame: Any, code: str) -> str:
    result: str = frame.evaluate("(code) => window.fcRun(code)", code)
    return result


def _ready(frame: Any) -> None:
    frame.wait_for_selector(
        "body[data-ready='true'], body[data-failed]", state="attached", timeout=60_000
    )
    failed = frame.evaluate("() => document.body.dataset.failed")
    assert failed is None, f"the host page failed: {failed}"


def test_vscode_renderer_draws_the_bar_the_links_and_the_viewer(
    page: Any, served: Host, tmp_path: Path
) -> None:
    status = tmp_path / "status.json"
    page.goto(f"{served.url}files/vscode.html?token={TOKEN}", timeout=60_000)
    _ready(page)
    _run(page, SETUP.format(status=str(status)))
    for cell in ("session", "trajectory.transition(100)", "session.view()"):
        _run(page, cell)
    log = page.evaluate("() => window.fcLog")
    assert any("anywidget" in line for line in log), log  # loaded as VS Code loads it
    drive(page, status, "vscode")


@pytest.fixture
def notebook_origin(tmp_path: Path) -> Iterator[str]:
    """The page around the output frames, served from an origin of its own (as Colab's
    notebook is), on a server stopped with its thread at the end."""
    root = tmp_path / "notebook"
    root.mkdir()
    (root / "index.html").write_text(COLAB)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="notebook-origin")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_colab_like_frames_each_draw_alone(
    page: Any, served: Host, notebook_origin: str, tmp_path: Path
) -> None:
    status = tmp_path / "status.json"
    page.goto(notebook_origin, timeout=60_000)

    def add_frame(kernel: str | None, height: int) -> Any:
        count = page.evaluate("() => document.querySelectorAll('iframe').length")
        name = f"output{count}"
        url = f"{served.url}files/vscode.html?token={TOKEN}"
        url += f"&kernel={kernel}" if kernel else ""
        page.evaluate(
            "([name, url, height]) => { const f = document.createElement('iframe');"
            " f.name = name; f.src = url; f.style.height = `${height}px`;"
            " document.body.appendChild(f); }",
            [name, url, height],
        )
        # A locator waits while Playwright takes in the frame's events (a sleep would not).
        inside = page.frame_locator(f"iframe[name='{name}']")
        inside.locator("body[data-ready='true'], body[data-failed]").wait_for(
            state="attached", timeout=60_000
        )
        frame = page.frame(name=name)
        assert frame is not None
        _ready(frame)
        return frame

    # The first frame starts the kernel and runs the setup, with no output; each later
    # output is in a frame of its own on the same kernel.
    first = add_frame(None, 40)
    kernel = first.evaluate("() => window.fcKernel")
    _run(first, SETUP.format(status=str(status)))
    _run(first, "session.pause()")
    viewer_frame = add_frame(kernel, 540)
    _run(viewer_frame, "viewer = session.view()\nviewer")
    bar_frame = add_frame(kernel, 80)
    _run(bar_frame, "session")

    # Alone: the viewer's frame holds no control bar, and reaches no other frame's
    # JavaScript (another origin, as Colab's output frames are).
    assert viewer_frame.locator(".fc-controls").count() == 0
    assert (
        viewer_frame.evaluate(
            "() => { try { return typeof window.parent.document; } catch { return 'walled'; } }"
        )
        == "walled"
    )

    # The viewer and its own play bar, alone in their frame: draw, play, pause.
    viewer = viewer_frame.locator(".fc-viewer").first
    wait_until(
        lambda: int(viewer.get_attribute("data-shown") or 0) > 0, timeout=60, what="a frame shown"
    )
    canvas = viewer.locator("canvas").first
    lit, _, total = canvas.evaluate(PIXELS)
    assert lit > 0.01 * total, f"the canvas is blank: {lit} of {total} pixels drawn"
    toggle = viewer_frame.locator(".fc-playbar .fc-toggle").first
    toggle.click()
    wait_until(lambda: read_status(status).get("playing") is True, timeout=30, what="played")
    shown = int(viewer.get_attribute("data-shown") or 0)
    wait_until(
        lambda: int(viewer.get_attribute("data-shown") or 0) > shown + 5,
        timeout=30,
        what="the viewer moves while playing",
    )
    toggle.click()
    wait_until(lambda: read_status(status).get("playing") is False, timeout=30, what="paused")

    # The bar in its own frame drives the same session.
    bar_frame.locator(".fc-controls [aria-label='Play']").first.click()
    wait_until(lambda: read_status(status).get("playing") is True, timeout=30, what="bar played")
    # ... and the viewer's play bar, in its own frame, hears it from the kernel.
    viewer_frame.locator(".fc-playbar .fc-toggle[aria-label='Pause']").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "colab-frames.png"), full_page=True)
    assert json.loads(_run(first, "import json\nprint(json.dumps(session.playing))")) is True
