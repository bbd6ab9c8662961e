"""Fixtures for browser tests: a real JupyterLab on 127.0.0.1 and Debian's Chromium.

Never downloads a browser: Playwright drives ``/usr/bin/chromium``. In CI (``CI=true``) a
missing browser fails the run; elsewhere the browser tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from framecast.testing import in_ci, wait_until

TOKEN = "framecast-browser-tests"
#: Where screenshots and failure pictures go: ``test-artifacts`` in the directory the tests
#: run from (the repository's root), unless ``FRAMECAST_TEST_ARTIFACTS`` names another.
ARTIFACTS = Path(os.environ.get("FRAMECAST_TEST_ARTIFACTS", "test-artifacts")).resolve()
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL without a GPU: Chromium's software rasterizer (the 3D viewer draws with it).
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


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


def chromium_path() -> str:
    """Debian's Chromium; fails in CI and skips elsewhere when it is missing."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path is None:
        if in_ci():
            pytest.fail("Chromium is missing: .ci/run installs it with apt-get install chromium")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Lab:
    """A JupyterLab (or, with ``app="notebook"``, a Notebook 7) server in a temporary root;
    ``env`` adds to its environment and its kernels' (``PYTHONPATH``, ``JUPYTER_PATH``)."""

    def __init__(
        self, root: Path, app: str = "jupyterlab", env: dict[str, str] | None = None
    ) -> None:
        self.app = app
        self.root = root / "notebooks"
        self.root.mkdir()
        self.port = _free_port()
        settings = root / "settings"
        notifications = settings / "@jupyterlab" / "apputils-extension"
        notifications.mkdir(parents=True)
        # The news and update toasts would cover the cells.
        (notifications / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(root / "config"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "IPYTHONDIR": str(root / "ipython"),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
            **(env or {}),
        }
        self.log = (root / "lab.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                app,
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
                "--ServerApp.allow_root=True",
                f"--{'LabApp' if app == 'jupyterlab' else 'JupyterNotebookApp'}"
                ".expose_app_in_browser=True",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        wait_until(self._answers, timeout=60, what="JupyterLab answers /api/status")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {self.process.returncode}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/api/status?token={TOKEN}", timeout=2
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def write_notebook(self, name: str, *sources: str) -> str:
        """Write a notebook of code cells (Python 3 kernel) in the lab's root; its name."""
        import nbformat
        from nbformat.v4 import new_code_cell, new_notebook

        nbformat.write(
            new_notebook(
                cells=[new_code_cell(source) for source in sources],
                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            ),
            self.root / name,
        )
        return name

    def url(self, notebook: str) -> str:
        where = "lab/tree" if self.app == "jupyterlab" else "notebooks"
        reset = "&reset" if self.app == "jupyterlab" else ""
        return f"http://127.0.0.1:{self.port}/{where}/{notebook}?token={TOKEN}{reset}"

    def _api(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/{path}?token={TOKEN}", method=method
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            body = response.read()
            return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Shut down every kernel: a test's kernel must not outlive it (its threads would
        keep writing files the next test reads)."""
        for kernel in self._api("GET", "kernels"):
            self._api("DELETE", f"kernels/{kernel['id']}")
        wait_until(lambda: not self._api("GET", "kernels"), timeout=30, what="kernels shut down")

    def open(self, page: Any, notebook: str) -> None:
        """Open ``notebook`` in ``page``, in a server with no kernel of an earlier test."""
        self.shutdown_kernels()
        page.goto(self.url(notebook))

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    chromium_path()  # fail or skip before starting a server for nothing
    server = Lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    chromium_path()
    server = Lab(tmp_path_factory.mktemp("nb7"), app="notebook")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        try:
            yield tab
        finally:
            failed = getattr(request.node, "rep_call", None)
            if failed is not None and failed.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                tab.screenshot(path=str(ARTIFACTS / f"failure-{request.node.name}.png"))
            context.close()
            browser.close()


def run_all_cells(page: Any) -> None:
    """Wait for the notebook and its kernel, then run every cell, as a user would."""
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=60_000,
    )
    # Not awaited: the command's promise resolves only when every cell has finished.
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


def run_in_kernel(page: Any, code: str) -> list[str]:
    """Run ``code`` in the kernel of the notebook on show (JupyterLab); its status, and
    the error's name and value if it raised."""
    reply: list[str] = page.evaluate(
        "async (code) => { const k = window.jupyterapp.shell.currentWidget.sessionContext"
        ".session.kernel; const r = await k.requestExecute({code}).done;"
        " return [r.content.status, r.content.ename || '', r.content.evalue || '']; }",
        code,
    )
    return reply
