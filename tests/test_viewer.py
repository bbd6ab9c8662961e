"""The viewer's kernel side: what it sends to the browser, and that it is a client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import framecast
from framecast import Session
from framecast.jupyter.viewer import Viewer
from framecast.testing import wait_until


class Recorder:
    """Stands in for the widget's comm send: the transport only, not the logic."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[dict[str, Any], list[bytes]]] = []

    def __call__(self, content: dict[str, Any], buffers: Any = None) -> None:
        with self.lock:
            self.messages.append((content, [bytes(b) for b in buffers or []]))

    def frames(self) -> list[tuple[dict[str, Any], list[bytes]]]:
        with self.lock:
            return [m for m in self.messages if m[0]["type"] == "frame"]


@pytest.fixture
def session(no_leaks: None) -> Iterator[Session]:
    simulation = framecast.demo.argon(100, density=5.0)
    with Session(simulation, port=0, frame_interval=1 / 100) as running:
        yield running


def _viewer(source: Any, **kwargs: Any) -> tuple[Viewer, Recorder]:
    recorder = Recorder()
    viewer = Viewer(source, **kwargs)
    viewer.send = recorder
    return viewer, recorder


def test_frames_are_binary_buffers_and_deltas_after_the_first(session: Session) -> None:
    viewer, sent = _viewer(session)
    try:
        viewer._hello({"type": "hello"})  # what a freshly drawn view asks for
        wait_until(lambda: len(sent.frames()) > 3, what="frames sent")
        frames = sent.frames()
        first = next(content for content, _ in frames if content["reset"])
        assert set(first["fields"]) == {
            "particle.positions",
            "particle.elements",
            "system.box.vectors",
        }
        later, buffers = frames[-1]
        assert not later["reset"]
        assert set(later["fields"]) == {"particle.positions"}  # elements are not resent
        meta = later["fields"]["particle.positions"]
        assert meta["dtype"] == "<f4"
        assert meta["shape"] == [100, 3]
        positions = np.frombuffer(buffers[meta["buffer"]], dtype="<f4").reshape(100, 3)
        assert np.all(np.isfinite(positions))
        assert viewer.particle_count == 100
        assert viewer.frame_index == later["index"]
    finally:
        viewer.close()


def test_the_kernel_merges_updates_to_at_most_max_rate(session: Session) -> None:
    viewer, sent = _viewer(session, max_rate=10)
    try:
        start = time.monotonic()
        wait_until(lambda: time.monotonic() - start > 1.5, what="1.5 s of playing")
        elapsed = time.monotonic() - start
        count = len(sent.frames())
    finally:
        viewer.close()
    assert session.fps > 40  # the session broadcast far more often than the viewer sent
    assert 3 <= count <= 10 * elapsed + 2


def test_the_viewer_is_a_client_of_the_notebook_session(session: Session) -> None:
    viewer, sent = _viewer(session)
    try:
        assert repr(list(session.sessions.active())) == "[Session('notebook', 1)]"
        simulation = session.target
        assert isinstance(simulation, framecast.Simulation)
        wait_until(lambda: simulation.transition_count > 5, what="some history")
        session.pause()
        session.sessions.tracked = "notebook"
        n = simulation.last_transition.id - 2
        assert session.sessions.publish_transition(simulation.transition(n))
        wait_until(
            lambda: any(c["index"] == n and c["reset"] for c, _ in sent.frames()),
            what="the transition's frame sent",
        )
        assert session.sessions.publish_selection([1, 2, 3])
        wait_until(
            lambda: {"type": "selection", "particles": [1, 2, 3]} in [c for c, _ in sent.messages],
            what="selection sent",
        )
    finally:
        viewer.close()
    wait_until(lambda: session.sessions["notebook"].clients == 0, what="left on close")


def test_a_remote_viewer_uses_a_client(session: Session) -> None:
    viewer, sent = _viewer(f"127.0.0.1:{session.port}", listen="remote")
    try:
        assert not viewer.in_process
        wait_until(lambda: len(sent.frames()) > 2, what="frames over gRPC")
        assert session.sessions["remote"].clients == 1
        assert session.clients == 1  # it subscribed to frames like any client
    finally:
        viewer.close()


def test_bad_sources_and_rates_are_refused() -> None:
    with pytest.raises(TypeError, match=r"framecast\.Session or a 'host:port'"):
        Viewer(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rate"):
        Viewer("127.0.0.1:1", max_rate=0)
