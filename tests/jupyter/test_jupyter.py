"""The kernel side of the Jupyter layer, without a browser: bundles, clicks, the widget."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

import framecast
from framecast import Session, Trajectory
from framecast.jupyter import TRANSITION_MIME, TRANSITIONS_MIME
from framecast.jupyter.controls import MAX_UPDATES_PER_SECOND, SessionControls, control_request
from framecast.jupyter.links import handle_click
from framecast.jupyter.viewer import Viewer
from framecast.testing import wait_until


@pytest.fixture
def trajectory() -> Trajectory:
    return framecast.demo.argon_trajectory(n=20, frames=100)


@pytest.fixture
def session(trajectory: Trajectory, no_leaks: None) -> Iterator[Session]:
    with Session(trajectory, port=0, autoplay=False) as running:
        yield running


def test_transition_bundle_has_the_custom_mime_type_and_fallbacks(trajectory: Trajectory) -> None:
    bundle = trajectory.transition(7)._repr_mimebundle_()
    data = bundle[TRANSITION_MIME]
    assert data == {
        "version": framecast.__version__,
        "timeline": trajectory.timeline_id,
        "fingerprint": trajectory.fingerprint,
        "transition": 7,
        "label": trajectory.transition(7).label,
    }
    assert bundle["text/plain"] == repr(trajectory.transition(7))
    assert bundle["text/html"].startswith("<code>#7 t = ")


def test_range_bundle_is_a_table_with_a_context_column(trajectory: Trajectory) -> None:
    bundle = trajectory.transitions(3, 6)._repr_mimebundle_()
    table = bundle[TRANSITIONS_MIME]
    assert table["context_name"] == "time (ps)"
    assert [row["transition"] for row in table["rows"]] == [3, 4, 5]
    assert table["rows"][0]["context"] == "0.06"
    assert "<table>" in bundle["text/html"]
    assert bundle["text/plain"].splitlines()[0].startswith("#3 t = ")
    custom = trajectory.transitions(3, 5).with_context(lambda tr: tr.id * 10, "tens")
    rows = custom._repr_mimebundle_()[TRANSITIONS_MIME]["rows"]
    assert [row["context"] for row in rows] == ["30", "40"]
    recording = framecast.Recording(["a", "b", "c"])
    plain = recording.transitions()._repr_mimebundle_()[TRANSITIONS_MIME]
    assert plain["context_name"] == ""  # no time in those frames: no context column


def test_a_huge_range_shows_a_bounded_table() -> None:
    long = Trajectory(framecast.demo.argon_trajectory(n=2, frames=1500).positions)
    table = long.transitions()._repr_mimebundle_()[TRANSITIONS_MIME]
    assert len(table["rows"]) == 1000
    assert table["hidden"] == 499


def test_a_click_publishes_through_the_session_showing_the_timeline(
    session: Session, trajectory: Trajectory
) -> None:
    trajectory.transition(1)._repr_mimebundle_()  # displayed: the kernel knows the timeline
    click = {"request": "r1", "timeline": trajectory.timeline_id, "transition": 42}
    reply = handle_click(click)
    assert reply["received"] == 0
    assert reply["request"] == "r1"
    # Where nobody listens, and how to reach someone.
    assert reply["hint"] == "on 'default', nor anywhere: show a viewer with session.view()"
    with framecast.Client(f"127.0.0.1:{session.port}") as viewer:
        listener = viewer.join("default")
        assert handle_click(click) == {"request": "r1", "received": 1}
        listener.wait_for_events(1)
        assert listener.selected_transition is not None
        assert listener.selected_transition.transition == 42


def test_a_link_saved_in_another_kernel_finds_the_same_data_by_its_fingerprint(
    no_leaks: None,
) -> None:
    """The same data loaded again has another timeline id but the same fingerprint: a saved
    link publishes through the session that shows it. Other data, or a live simulation's
    history, has another fingerprint (or none)."""
    saved = framecast.demo.argon_trajectory(n=8, frames=12)
    link = saved.transition(5)._repr_mimebundle_()[TRANSITION_MIME]
    table = saved.transitions(2, 4)._repr_mimebundle_()[TRANSITIONS_MIME]
    assert link["fingerprint"] == table["fingerprint"] == saved.fingerprint
    click = {"request": "r", "timeline": "from-a-kernel-gone", "transition": 5}
    reloaded = framecast.demo.argon_trajectory(n=8, frames=12)
    other = framecast.demo.argon_trajectory(n=8, frames=12, seed=1)
    assert reloaded.timeline_id != saved.timeline_id
    assert reloaded.fingerprint == saved.fingerprint != other.fingerprint
    assert framecast.demo.argon(8).fingerprint is None
    del saved  # the first kernel's timeline is gone
    with Session(other, port=0) as session:
        # Only other data is shown: the link does not publish into it.
        assert (
            "not in the kernel"
            in handle_click({**click, "fingerprint": link["fingerprint"]})["error"]
        )
        session.show(reloaded)
        with framecast.Client(f"127.0.0.1:{session.port}") as viewer:
            listener = viewer.join("default")
            reply = handle_click({**click, "fingerprint": link["fingerprint"]})
            assert reply == {"request": "r", "received": 1}
            listener.wait_for_events(1)
            assert listener.selected_transition is not None
            assert listener.selected_transition.timeline == reloaded.timeline_id
            assert listener.selected_transition.transition == 5
        assert "error" in handle_click({**click, "fingerprint": None})


def test_bad_clicks_get_an_error_sentence(session: Session, trajectory: Trajectory) -> None:
    trajectory.transition(1)._repr_mimebundle_()
    assert (
        "run the cells that load it"
        in handle_click({"request": 1, "timeline": "gone", "transition": 1})["error"]
    )
    reply = handle_click({"request": 2, "timeline": trajectory.timeline_id, "transition": 500})
    assert "out of range" in reply["error"]
    reply = handle_click({"request": 3, "timeline": trajectory.timeline_id, "transition": "x"})
    assert "bad transition" in reply["error"]


def test_session_displays_as_its_control_bar(session: Session) -> None:
    bundle = session._repr_mimebundle_()
    assert bundle is not None
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_controls_perform_every_action(session: Session, trajectory: Trajectory) -> None:
    controls = SessionControls(session)
    try:
        assert controls.frame_count == 100
        assert controls.mode == "loop"
        assert controls.can_step_back
        assert controls.timeline == session.timeline == trajectory.timeline_id
        assert controls.state == "paused"  # autoplay=False: waiting for play, not stopped
        assert controls.playable
        controls.handle("play")
        assert session.playing
        assert controls.state == "playing"
        controls.handle("stop")
        assert controls.state == "stopped"
        controls.handle("play")
        controls.handle("pause")
        assert controls.state == "paused"
        frame = trajectory.frame_index
        controls.handle("step")
        assert trajectory.frame_index == frame + 1
        controls.handle("step_back")
        assert trajectory.frame_index == frame
        controls.handle("seek", {"frame": 60})
        assert trajectory.frame_index == 60
        controls.handle("restart")
        assert trajectory.frame_index == 0
        controls.speed = 12.0
        assert trajectory.fps == 12.0
        controls.mode = "bounce"
        assert trajectory.mode == "bounce"
        with pytest.raises(ValueError, match="unknown control"):
            controls.handle("explode")
        # The front end's message path: a click arrives as a custom message.
        controls._receive({"kind": "control", "widget": controls._widget_id, "action": "play"})
        assert controls.last_action == "play"
        controls._receive({"kind": "control", "widget": controls._widget_id, "action": "explode"})
        assert controls.last_action.startswith("explode failed")
        # Another trajectory: the bar names its timeline (the page's cache is keyed by it).
        session.pause()
        other = framecast.demo.argon_trajectory(n=10, frames=5)
        session.show(other)
        wait_until(lambda: controls.timeline == other.timeline_id, what="the new timeline")
        session.show(framecast.FrameData({"particle.positions": np.zeros((2, 3), np.float32)}))
        wait_until(lambda: controls.state == "one frame", what="a frame: nothing plays")
        assert not controls.playable  # so the bar draws no play control
        assert not controls.can_step_back
        session.show(framecast.demo.argon_trajectory(n=4, frames=1))
        wait_until(lambda: controls.frame_count == 1, what="a trajectory of one frame")
        assert (controls.state, controls.playable) == ("one frame", False)
        session.show(trajectory)
    finally:
        controls.close()
        session.pause()


def test_a_control_goes_to_the_frame_the_page_shows_and_says_where_it_is(
    session: Session, trajectory: Trajectory
) -> None:
    """Pause and the steps carry the frame the page shows after them (its clock and the
    kernel's differ by a few frames); the reply says where the session is, for the page."""
    controls = SessionControls(session)
    try:

        def control(**content: object) -> dict[str, object]:
            return control_request({"widget": controls._widget_id, **content})

        session.play()
        assert control(action="pause", frame=42) == {"done": "pause", "frame": 42, "playing": False}
        assert trajectory.frame_index == 42
        assert not session.playing
        assert control(action="step", frame=43)["frame"] == 43
        assert control(action="step_back", frame=10)["frame"] == 10
        assert control(action="step")["frame"] == 11  # no frame: the kernel's own step
        reply = control(action="play")
        assert reply["playing"] is True
        assert session.playing
        assert control(action="speed", fps=12)["done"] == "speed"
        assert trajectory.fps == 12.0
        with pytest.raises(ValueError, match="whole frame number, got 'x'"):
            control(action="pause", frame="x")
        with pytest.raises(ValueError, match="frames per second > 0, got 0"):
            control(action="speed", fps=0)
        with pytest.raises(IndexError):
            control(action="seek", frame=100)
        assert session.playing, "a refused control changed the session"
        assert "error" in control_request({"widget": "gone", "action": "play"})
    finally:
        controls.close()
        session.pause()


def test_a_viewer_play_bar_drives_its_session_and_a_remote_one_does_not(
    session: Session, trajectory: Trajectory
) -> None:
    viewer = Viewer(session)
    try:
        session.play()
        reply = control_request({"widget": viewer._widget_id, "action": "pause", "frame": 5})
        assert reply == {"done": "pause", "frame": 5, "playing": False}
        assert trajectory.frame_index == 5
    finally:
        viewer.close()
    remote = Viewer(f"127.0.0.1:{session.port}")
    try:
        reply = control_request({"widget": remote._widget_id, "action": "play"})
        assert reply == {"error": "these controls no longer drive a session of this kernel"}
    finally:
        remote.close()
    assert not session.playing


def test_widget_updates_are_throttled_and_merged(session: Session) -> None:
    controls = SessionControls(session)
    sent: list[int] = []
    controls.observe(lambda change: sent.append(change["new"]), names="frame_index")
    try:
        session.frame_interval = 1 / 100  # the session changes frame_index ~100 times/s
        session.play()
        start = time.monotonic()
        wait_until(lambda: time.monotonic() - start > 1.0 and len(sent) > 3, what="updates")
        elapsed = time.monotonic() - start
        session.pause()
        wait_until(lambda: controls.frame_index == session.frame_index, what="last update")
    finally:
        controls.close()
    # At most 10 per second (plus the one in flight), whatever the session's rate.
    assert len(sent) <= MAX_UPDATES_PER_SECOND * elapsed + 2


def test_a_failed_background_thread_shows_in_the_bar(no_leaks: None) -> None:
    simulation = framecast.demo.argon(40, density=5.0, interval=0.0)
    with Session(simulation, port=0) as session:
        controls = SessionControls(session)
        try:
            failed = threading.Event()
            controls.observe(lambda change: failed.set(), names="error")

            def explode(sim: framecast.Simulation) -> None:
                raise RuntimeError("lost the box")

            simulation.on_step(explode)
            assert failed.wait(5)
            assert "RuntimeError: lost the box" in controls.error
            assert "Traceback" in controls.error
        finally:
            controls.close()
