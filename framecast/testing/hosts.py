"""Notebook hosts other than JupyterLab, for the browser tests: a server process for Voila,
marimo or a plain Jupyter server, the session every host test shows, and what every host
must do with it (:func:`drive`).

The kernel's side is read back through a status file that the session's observer writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from framecast.testing import ListenerProcess, wait_until
from framecast.testing.browser import ARTIFACTS, PIXELS

__all__ = ["SETUP", "Host", "drive", "notebook", "read_status"]

#: A session on a 300-frame trajectory, writing whether it plays (and its port) to a
#: status file: format it with ``status=`` a path.
SETUP = """\
import json, os, pathlib, threading
import framecast

trajectory = framecast.demo.argon_trajectory(n=60, frames=300)
session = framecast.Session(trajectory, port=0)
status = pathlib.Path({status!r})
status_lock = threading.Lock()

def write_status(change=None):
    with status_lock:
        data = {{"playing": session.playing, "port": session.port}}
        status.with_suffix(".tmp").write_text(json.dumps(data))
        os.replace(status.with_suffix(".tmp"), status)

session.observe(write_status, names=["playing"])
write_status()
"""


class Host:
    """A Voila or marimo server in its own process group, stopped with all its kernels."""

    def __init__(self, command: list[str], cwd: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/"
        env = {
            **os.environ,
            "JUPYTER_RUNTIME_DIR": str(cwd / "runtime"),
            "IPYTHONDIR": str(cwd / "ipython"),
        }
        self.log = (cwd / "host.log").open("w")
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, timeout=60, what=f"{command[2]} answers {self.url}")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited: {self.process.returncode}")
        try:
            with urllib.request.urlopen(self.url, timeout=2):
                return True
        except OSError:
            return False

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()


def read_status(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def notebook(cells: list[str]) -> dict[str, Any]:
    """A notebook of code cells, not yet run (Voila runs them)."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell{i}",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells)
        ],
    }


def drive(page: Any, status: Path, name: str) -> None:
    """What every front end must do: bar, link, viewer."""
    page.wait_for_selector(".fc-controls [aria-label='Pause']:not([disabled])", timeout=90_000)
    wait_until(lambda: read_status(status).get("playing") is True, timeout=30, what="playing")
    page.locator(".fc-controls [aria-label='Pause']").first.click()
    wait_until(
        lambda: read_status(status).get("playing") is False, timeout=15, what="paused by the bar"
    )
    page.locator(".fc-controls [aria-label='Play']").first.click()
    wait_until(
        lambda: read_status(status).get("playing") is True, timeout=15, what="played by the bar"
    )

    address = f"127.0.0.1:{read_status(status)['port']}"
    with ListenerProcess(address, {"default": 1}) as listener:
        page.locator("a.fc-transition-link[data-transition='100']").first.click()
        events = listener.wait_for(lambda evs: bool(evs[0][1]))
        assert [event[2] for event in events[0][1]] == [100]
        # The listener and the page's own viewer (on `default` too). Locators, not document
        # queries: marimo draws each widget in a shadow root.
        page.locator(".fc-link-status", has_text="2 clients").first.wait_for(timeout=30_000)

    canvas = page.locator(".fc-viewer canvas").first
    canvas.wait_for(timeout=60_000)
    viewer = page.locator(".fc-viewer").first
    wait_until(
        lambda: int(viewer.get_attribute("data-shown") or 0) > 0, timeout=30, what="a frame shown"
    )
    lit, _, total = canvas.evaluate(PIXELS)
    assert lit > 0.01 * total, f"the canvas is blank: {lit} of {total} pixels drawn"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
