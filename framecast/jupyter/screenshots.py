"""Screenshots of a viewer: requests sent to its views, answered by the first view to reply."""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from framecast.jupyter import channel

__all__ = ["Screenshots", "screenshot_request"]


class Screenshots:
    """The screenshot requests of one viewer that wait for an answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[bytes]]] = {}

    def take(self, ask: Callable[[str], None], timeout: float) -> bytes:
        """Call ``ask(request_id)`` to ask the views, and return the first PNG answered.

        Raises ``TimeoutError`` when no view answers within ``timeout`` seconds.
        """
        request = uuid.uuid4().hex
        done = threading.Event()
        with self._lock:
            self._waiting[request] = (done, [])
        try:
            ask(request)
            if not done.wait(timeout):
                raise TimeoutError(
                    f"no view answered within {timeout:g} s: display the viewer in JupyterLab "
                    "or Notebook 7 with the framecast extension, then ask again"
                )
            with self._lock:
                return self._waiting[request][1][0]
        finally:
            with self._lock:
                self._waiting.pop(request, None)

    def receive(self, request: str, png: bytes) -> None:
        """A view's answer to ``request``; ``ValueError`` if it is not a PNG."""
        if not png.startswith(b"\x89PNG"):
            raise ValueError("the view sent something that is not a PNG")
        with self._lock:
            waiting = self._waiting.get(request)
            if waiting is None or waiting[1]:
                return  # nobody asks any more, or another view answered first
            waiting[1].append(png)
            waiting[0].set()


def screenshot_request(data: Mapping[str, Any]) -> None:
    """The ``screenshot`` notification: a view's PNG for ``Viewer.screenshot``, to the
    requests of the widget it names (its ``shots``)."""
    shots = getattr(channel.widget(str(data.get("widget", ""))), "shots", None)
    if not isinstance(shots, Screenshots):
        raise LookupError("this viewer is no longer alive in the kernel")
    shots.receive(str(data.get("shot", "")), base64.b64decode(str(data.get("png", ""))))
