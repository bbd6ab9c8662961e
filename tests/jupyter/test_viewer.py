"""The viewer's kernel side: what it sends to the browser, and that it is a client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from traitlets import TraitError

import framecast
from framecast import Session
from framecast.jupyter.viewer import Viewer
from framecast.testing import wait_until
from framecast.testing.extras import require
from framecast.testing.secure import self_signed
from framecast.testing.widgets import Recorder, make_viewer


@pytest.fixture
def session(no_leaks: None) -> Iterator[Session]:
    simulation = framecast.demo.argon(100, density=5.0)
    with Session(simulation, port=0, frame_interval=1 / 100) as running:
        yield running


def test_frames_are_binary_buffers_and_deltas_after_the_first(session: Session) -> None:
    viewer, sent = make_viewer(session)
    try:
        viewer._hello({"kind": "hello"})  # what a freshly drawn view asks for
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
    viewer, sent = make_viewer(session, max_rate=10)
    try:
        start = time.monotonic()
        first = session.frame_index
        wait_until(lambda: len(sent.frames()) >= 6, timeout=60, what="six frames sent")
        elapsed = time.monotonic() - start
        frames = sent.frames()
        broadcast = session.frame_index - first
    finally:
        viewer.close()
    # At most 10 a second, however the machine keeps up (load only makes it fewer)...
    assert len(frames) <= 10 * elapsed + 2, (len(frames), elapsed)
    # ...and each one the latest: the frames broadcast in between were merged, not queued.
    indices = [content["index"] for content, _ in frames]
    assert indices == sorted(indices)
    assert broadcast > len(frames), (broadcast, len(frames))


def test_the_viewer_is_a_client_of_the_default_session(session: Session) -> None:
    viewer, sent = make_viewer(session)
    try:
        # It listens where the session publishes from the start: no setup.
        assert repr(list(session.sessions.active())) == "[Session('default', 1)]"
        assert repr(session.sessions.tracked) == "[Session('default', 1)]"
        simulation = session.target
        assert isinstance(simulation, framecast.Simulation)
        wait_until(lambda: simulation.transition_count > 5, what="some history")
        session.pause()
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
    wait_until(lambda: session.sessions["default"].clients == 0, what="left on close")


def test_a_viewer_says_when_its_session_closes(no_leaks: None) -> None:
    session = Session(framecast.demo.argon(20, density=5.0), port=0)
    viewer, _ = make_viewer(session)
    try:
        assert viewer.ended == ""
        session.close()
        assert viewer.ended.startswith("the session is closed")  # what the page shows
    finally:
        viewer.close()
    with pytest.raises(RuntimeError, match="the session is closed"):
        Viewer(session)


def test_a_viewer_of_a_remote_server_says_when_it_goes(no_leaks: None) -> None:
    session = Session(framecast.demo.argon(20, density=5.0), port=0)
    viewer, sent = make_viewer(f"127.0.0.1:{session.port}")
    try:
        wait_until(lambda: len(sent.frames()) > 0, what="a frame over gRPC")
        assert viewer.ended == ""
        session.close()
        wait_until(lambda: viewer.ended != "", what="the viewer told")
        assert viewer.ended.startswith(f"the server at 127.0.0.1:{session.port} went away")
    finally:
        viewer.close()


def test_an_in_kernel_viewer_is_not_a_network_client(no_leaks: None) -> None:
    frame = framecast.FrameData({"particle.positions": np.zeros((4, 3), dtype=np.float32)})
    limits = framecast.Limits(max_frame_subscribers=1)
    with Session(frame, port=0, frame_interval=1 / 100, limits=limits) as session:
        viewer, sent = make_viewer(session)
        try:
            with framecast.Client(session.url) as client:
                # The one network stream the limit allows is still free for this client.
                client.wait_for_frame(timeout=10)
                wait_until(lambda: session.clients == 1, what="the client counted")
                assert session.app.frames.subscriber_count == 1
                frame["particle.positions"] = np.ones((4, 3), dtype=np.float32)
                wait_until(
                    lambda: any(
                        not c["reset"] and "particle.positions" in c["fields"]
                        for c, _ in sent.frames()
                    ),
                    what="the change reached the viewer in-process",
                )
            wait_until(lambda: session.clients == 0, what="only the client was counted")
        finally:
            viewer.close()


def test_a_remote_viewer_uses_a_client(session: Session) -> None:
    viewer, sent = make_viewer(f"127.0.0.1:{session.port}", listen="remote")
    try:
        assert not viewer.in_process
        wait_until(lambda: len(sent.frames()) > 2, what="frames over gRPC")
        assert session.sessions["remote"].clients == 1
        # It subscribed to frames like any client (the trait follows within 0.1 s).
        wait_until(lambda: session.clients == 1, what="the viewer counted as a client")
    finally:
        viewer.close()


def test_bad_sources_and_rates_are_refused() -> None:
    with pytest.raises(TypeError, match=r"framecast\.Session or a 'host:port'"):
        Viewer(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_rate"):
        Viewer("127.0.0.1:1", max_rate=0)


def _cache_chunks(sent: Recorder) -> list[tuple[dict[str, Any], bytes]]:
    with sent.lock:
        return [(c, b[0]) for c, b in sent.messages if c["type"] == "cache"]


@pytest.fixture
def trajectory_session(no_leaks: None) -> Iterator[Session]:
    trajectory = framecast.demo.argon_trajectory(n=50, frames=40)
    with Session(trajectory, port=0, frame_interval=1 / 100) as running:
        yield running


def _cached_pass(sent: Recorder, frames: int) -> np.ndarray:
    """The positions of the last complete pass of cache messages, as one (T, N, 3) array."""
    chunks = _cache_chunks(sent)
    start = max(i for i, (c, _) in enumerate(chunks) if c["first"] == 0)
    received = chunks[start:]
    assert [c["first"] for c, _ in received] == sorted(c["first"] for c, _ in received)
    assert sum(c["count"] for c, _ in received) == frames
    data = b"".join(buffer for _, buffer in received)
    return np.frombuffer(data, dtype="<f4").reshape(frames, -1, 3)


def test_a_trajectory_is_cached_in_the_page_then_sent_as_indices(
    trajectory_session: Session,
) -> None:
    trajectory = trajectory_session.target
    assert isinstance(trajectory, framecast.Trajectory)
    viewer, sent = make_viewer(trajectory_session)
    try:
        viewer._hello({"kind": "hello"})
        wait_until(lambda: viewer.cached_frames == 40, what="the whole trajectory cached")
        np.testing.assert_array_equal(_cached_pass(sent, 40), trajectory.positions)
        chunk = _cache_chunks(sent)[-1][0]
        assert chunk["timeline"] == trajectory.timeline_id
        assert chunk["frame_count"] == 40
        assert chunk["particles"] == 50

        # From now on a playing frame is an index: the page has its positions.
        done = len(sent.messages)
        wait_until(lambda: len(sent.frames()) > done + 3, what="more frames")
        with sent.lock:
            later = [c for c, _ in sent.messages[done:] if c["type"] == "frame"]
        assert later
        assert all(c["cached"] and "particle.positions" not in c["fields"] for c in later)
        assert later[-1]["playback"] == {"playing": True, "fps": 30.0, "mode": "loop"}

        # A page that says it holds the cache gets none; one that holds nothing gets it all.
        before = len(_cache_chunks(sent))
        viewer._hello(
            {"kind": "hello", "cache": {"timeline": trajectory.timeline_id, "frames": 40}}
        )
        viewer._hello({"kind": "hello", "cache": {"timeline": "another", "frames": 40}})
        wait_until(lambda: len(_cache_chunks(sent)) > before, what="a second pass")
        wait_until(
            lambda: viewer._cache.holds(trajectory.timeline_id, 39), what="the second pass done"
        )
        np.testing.assert_array_equal(_cached_pass(sent, 40), trajectory.positions)
    finally:
        viewer.close()


def test_the_cache_is_bounded_and_frames_beyond_it_carry_positions(
    trajectory_session: Session,
) -> None:
    trajectory = trajectory_session.target
    assert isinstance(trajectory, framecast.Trajectory)
    frame_bytes = trajectory.positions[0].nbytes
    viewer, sent = make_viewer(trajectory_session, cache_bytes=10 * frame_bytes + 5)
    try:
        viewer._hello({"kind": "hello"})
        wait_until(lambda: viewer.cached_frames == 10, what="ten frames cached")
        np.testing.assert_array_equal(_cached_pass(sent, 10), trajectory.positions[:10])
        done = len(sent.messages)
        wait_until(
            lambda: {c["cached"] for c, _ in sent.frames()[done:]} == {True, False},
            timeout=10,
            what="frames inside and beyond the cache",
        )
        for content, _ in sent.frames()[done:]:
            has_positions = "particle.positions" in content["fields"]
            assert has_positions == (content["index"] >= 10), content
    finally:
        viewer.close()


def test_a_new_trajectory_gets_a_new_cache_and_a_simulation_none(
    trajectory_session: Session,
) -> None:
    viewer, sent = make_viewer(trajectory_session)
    try:
        viewer._hello({"kind": "hello"})
        wait_until(lambda: viewer.cached_frames == 40, what="the first trajectory cached")
        other = framecast.demo.argon_trajectory(n=20, frames=7)
        trajectory_session.show(other)
        wait_until(
            lambda: any(c["timeline"] == other.timeline_id for c, _ in _cache_chunks(sent)),
            what="the new trajectory's cache",
        )
        wait_until(lambda: viewer.cached_frames == 7, what="the new trajectory cached")
        np.testing.assert_array_equal(_cached_pass(sent, 7), other.positions)

        simulation = framecast.demo.argon(30)
        trajectory_session.show(simulation)
        chunks = len(_cache_chunks(sent))
        wait_until(
            lambda: any(c["timeline"] == simulation.timeline_id for c, _ in sent.frames()),
            what="the simulation's first frame",
        )
        viewer._hello({"kind": "hello"})
        assert len(_cache_chunks(sent)) == chunks  # a simulation has no cache
        frames = sent.frames()
        last_reset = max(i for i, (c, _) in enumerate(frames) if c["reset"])
        assert not any(c["cached"] for c, _ in frames[last_reset:])
    finally:
        viewer.close()


def test_bad_cache_budgets_are_refused() -> None:
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="cache_bytes"):
            Viewer("127.0.0.1:1", cache_bytes=bad)  # type: ignore[arg-type]


def test_a_page_that_does_not_keep_up_gets_the_latest_frame_not_a_backlog(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framecast.jupyter import viewer as viewer_module

    # No unacknowledged frame is resent for the test's length, however slow the machine.
    monkeypatch.setattr(viewer_module, "ACK_TIMEOUT", 600.0)
    viewer, sent = make_viewer(session, acknowledge=False)
    try:
        wait_until(lambda: len(sent.frames()) >= viewer_module.MAX_UNACKED, what="the first frames")
        last = sent.frames()[-1][0]["index"]
        wait_until(lambda: session.frame_index > last + 20, what="the session played on")
        held = len(sent.frames())
        assert held == viewer_module.MAX_UNACKED  # nothing more went while none was acked

        viewer._receive(
            {"kind": "ack", "widget": viewer._widget_id}
        )  # the page took one in: one more goes
        wait_until(lambda: len(sent.frames()) == held + 1, what="one frame after one ack")
        newest = sent.frames()[-1][0]
        assert newest["index"] > last + 10  # the latest frame, merged: not the next one
        assert "particle.positions" in newest["fields"]

        # A page that says hello starts afresh; acknowledged frames flow at full rate.
        sent.acknowledge = True
        viewer._receive({"kind": "hello"})
        wait_until(lambda: len(sent.frames()) > held + 10, what="frames flowing again")
    finally:
        viewer.close()


def test_acks_also_come_over_the_framecast_channel(session: Session) -> None:
    from framecast.jupyter.requests import dispatch

    viewer, sent = make_viewer(session, acknowledge=False)
    try:
        wait_until(lambda: len(sent.frames()) >= 2, what="the first frames")
        held = len(sent.frames())
        # Fire and forget: an ack gets no reply.
        assert dispatch({"kind": "ack", "widget": viewer._widget_id}) is None
        wait_until(lambda: len(sent.frames()) == held + 1, what="a frame after the ack")
    finally:
        viewer.close()


def test_a_transition_of_another_timeline_shows_without_resending_the_cache(
    trajectory_session: Session,
) -> None:
    viewer, sent = make_viewer(trajectory_session)
    try:
        wait_until(lambda: viewer.cached_frames == 40, what="the trajectory cached")
        chunks = len(_cache_chunks(sent))
        other = framecast.demo.argon_trajectory(n=20, frames=9)
        assert trajectory_session.sessions.publish_transition(other.transition(4))
        wait_until(
            lambda: any(c["jump"] and c["timeline"] == other.timeline_id for c, _ in sent.frames()),
            what="the other timeline's transition shown",
        )
        assert len(_cache_chunks(sent)) == chunks
        # The live frames after it are still the trajectory's: an index only.
        shown = len(sent.frames())
        wait_until(lambda: len(sent.frames()) > shown + 3, what="live frames after it")
        assert all(c["cached"] for c, _ in sent.frames()[shown:])
    finally:
        viewer.close()


def test_a_streamed_trajectory_is_cached_from_its_file(no_leaks: None) -> None:
    data = require("MDAnalysisTests.datafiles")
    trajectory = framecast.from_mdanalysis([data.PSF, data.DCD], "name CA", memory_budget=0)
    assert trajectory.streamed
    with Session(trajectory, port=0) as session:
        viewer, sent = make_viewer(session)
        try:
            viewer._hello({"kind": "hello"})
            wait_until(lambda: viewer.cached_frames == 98, what="every frame read and sent")
            np.testing.assert_array_equal(_cached_pass(sent, 98), trajectory.frame_positions())
        finally:
            viewer.close()


def test_colour_schemes(session: Session) -> None:
    viewer, _ = make_viewer(session, color_by="chain")
    try:
        assert viewer.color_by == "chain"
        viewer.color_by = "Residue"  # any case
        assert viewer.color_by == "residue"
        with pytest.raises(TraitError, match="rainbow"):
            viewer.color_by = "rainbow"
    finally:
        viewer.close()


def test_a_remote_viewer_of_a_server_that_needs_a_token_over_tls(
    tmp_path: Path, no_leaks: None
) -> None:
    cert, key = self_signed(tmp_path)
    with Session(framecast.demo.argon(50), port=0, token="v1ewer", tls=(cert, key)) as session:
        with pytest.raises(PermissionError, match="needs a token"):
            Viewer(session.app.target, tls=cert)
        for source, token in ((session.url, None), (session.app.target, "v1ewer")):
            viewer, sent = make_viewer(source, listen="remote", token=token, tls=cert)
            try:
                wait_until(lambda: len(sent.frames()) > 2, what="frames over TLS with a token")  # noqa: B023
            finally:
                viewer.close()
