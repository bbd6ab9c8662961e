"""A viewer widget with its comm's send stood in for: the transport only, never the logic."""

from __future__ import annotations

import threading
from typing import Any

from framecast.jupyter.viewer import Viewer

__all__ = ["Recorder", "make_viewer"]


class Recorder:
    """Stands in for the widget's comm send: the transport only, not the logic. Like a
    page, it acknowledges each frame, unless ``acknowledge`` is False."""

    def __init__(self, acknowledge: bool = True) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []
        self.acknowledge = acknowledge
        self.viewer: Viewer | None = None

    def __call__(self, content: dict[str, Any], buffers: Any = None) -> None:
        with self.lock:
            self.messages.append((content, [bytes(b) for b in buffers or []]))
        if content["type"] == "frame" and self.acknowledge and self.viewer is not None:
            self.viewer._receive({"kind": "ack", "widget": self.viewer._widget_id})

    def frames(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self.lock:
            return [m for m in self.messages if m[0]["type"] == "frame"]


def make_viewer(source: Any, acknowledge: bool = True, **kwargs: Any) -> tuple[Viewer, Recorder]:
    """A viewer of ``source`` whose sends a :class:`Recorder` takes, with a view drawn."""
    recorder = Recorder(acknowledge)
    viewer = Viewer(source, **kwargs)
    recorder.viewer = viewer
    viewer.send = recorder
    viewer._receive({"kind": "hello"})  # a view is drawn: nothing in flight
    return viewer, recorder
