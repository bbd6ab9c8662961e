"""The plot's kernel side: values over the timeline, gaps, live growth, a click's effect."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.jupyter.plot import Plot, plot_request
from framecast.jupyter.series import distance, series_of
from framecast.testing import wait_until
from framecast.testing.widgets import Recorder


def _sent(recorder: Recorder, kind: str) -> list[tuple[dict[str, Any], list[bytes]]]:
    with recorder.lock:
        return [(m, b) for m, b in recorder.messages if m.get("type") == kind]


def _recorded(plot: Plot) -> Recorder:
    """The plot's sends, taken by a recorder (the comm only: the logic is the plot's)."""
    recorder = Recorder()
    plot.send = recorder
    return recorder


def test_a_trajectory_is_plotted_whole_with_gaps_where_a_key_is_missing(no_leaks: None) -> None:
    positions = np.zeros((6, 2, 3), dtype=np.float32)
    positions[:, 1, 0] = np.arange(6)  # the second particle moves 1 nm a frame
    trajectory = framecast.Trajectory(positions, {"particle.elements": np.array([18, 18])})
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        plot = Plot(session, distance([0], [1]), lambda f: f["missing.key"])
        recorder = _recorded(plot)
        try:
            plot._send_all()
            message, buffers = _sent(recorder, "plot-data")[-1]
            frames, _x, gaps_free, gaps = (np.frombuffer(b, dtype="<f8") for b in buffers)
            assert frames.tolist() == [0, 1, 2, 3, 4, 5]
            assert gaps_free.tolist() == pytest.approx([0, 1, 2, 3, 4, 5])
            assert np.isnan(gaps).all()  # a gap, not a zero
            assert [s["unit"] for s in message["series"]] == ["nm", ""]
            assert plot.points == 6
        finally:
            plot.close()


def test_whole_columns_agree_with_frame_by_frame(no_leaks: None) -> None:
    """A trajectory held in memory is plotted column by column (fast); the values are the
    ones a frame-by-frame read gives."""
    rng = np.random.default_rng(1)
    positions = rng.random((8, 3, 3), dtype=np.float32)
    energy = np.arange(8.0) * 2
    topology = {"particle.elements": np.array([18, 18, 18])}
    trajectory = framecast.Trajectory(
        positions, topology, times=np.arange(8) * 0.5, fields={"energy.potential": energy}
    )
    apart = distance([0], [1, 2])
    specs: list[object] = [apart, "energy.potential", "particle.count", "system.simulation.time"]
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        fast = Plot(session, *specs)
        slow = Plot(session, *specs, lambda f: 0.0)  # a function: frame by frame
        try:
            assert fast._columns(trajectory) is not None
            assert slow._columns(trajectory) is None
            for name in ("energy.potential", "particle.count", "system.simulation.time"):
                np.testing.assert_allclose(fast.values[name], slow.values[name])
            np.testing.assert_allclose(fast.values[apart.name], slow.values[apart.name], rtol=1e-6)
            np.testing.assert_allclose(fast.values["energy.potential"], energy)
        finally:
            fast.close()
            slow.close()


def test_a_live_simulation_grows_point_by_point(no_leaks: None) -> None:
    with framecast.Session(framecast.demo.argon(30), port=0) as session:
        plot = Plot(session, "energy.potential")
        recorder = _recorded(plot)
        try:
            wait_until(lambda: len(_sent(recorder, "plot-points")) >= 3, what="live points")
            points = [m for m, _ in _sent(recorder, "plot-points")]
            frames = [m["frame"][0] for m in points]
            assert frames == sorted(frames)
            assert len(set(frames)) == len(frames)
            assert all(len(m["y"]) == 1 and isinstance(m["y"][0][0], float) for m in points)
            assert plot.frame >= frames[0]
        finally:
            plot.close()


def test_a_click_seeks_the_session_and_publishes(no_leaks: None) -> None:
    trajectory = framecast.demo.argon_trajectory(n=20, frames=30)
    with framecast.Session(trajectory, port=0, autoplay=False) as session:
        plot = Plot(session, "energy.potential")
        try:
            with framecast.Client(f"127.0.0.1:{session.port}") as client:
                seen: list[Any] = []
                client.join("default", on_transition=seen.append)
                reply = plot_request({"kind": "plot", "widget": plot._widget_id, "frame": 12})
                assert reply["frame"] == 12
                assert reply["received"] == 1
                wait_until(lambda: bool(seen), what="the transition arrived")
                assert seen[0].transition == 12
            assert session.frame_index == 12
            only = plot_request(
                {"kind": "plot", "widget": plot._widget_id, "frame": 20, "move": False}
            )
            assert only["frame"] == 12  # published only: the session stays
            bad = plot_request({"kind": "plot", "widget": plot._widget_id, "frame": 99})
            assert "frame 99 is not kept" in bad["error"]
            plot.selected = [3, 7]
            selected = plot.selected_range
            assert selected is not None
            assert [t.id for t in selected] == [3, 4, 5, 6, 7]
        finally:
            plot.close()


def test_bad_series_and_sources_are_named(no_leaks: None) -> None:
    with pytest.raises(TypeError, match="a series is a frame key"):
        series_of(3)
    assert math.isnan(series_of("energy.potential").value({}))
    with framecast.Session(framecast.demo.argon(5), port=0) as session:
        with pytest.raises(ValueError, match="give at least one series"):
            Plot(session)
        with pytest.raises(ValueError, match="x is 'index' or 'time'"):
            Plot(session, "energy.potential", x="date")
    with pytest.raises(TypeError, match=r"a Plot shows a framecast\.Session"):
        Plot("127.0.0.1:1", "energy.potential")  # type: ignore[arg-type]


def test_a_viewer_with_a_plot_strip_shows_and_closes_both(no_leaks: None) -> None:
    with framecast.Session(framecast.demo.argon_trajectory(n=10, frames=12), port=0) as session:
        viewer = session.view(plot="system.simulation.time")
        try:
            (strip,) = viewer.below
            assert isinstance(strip, Plot)
            assert strip.height == 160
            bundle = viewer._repr_mimebundle_()
            assert isinstance(bundle, dict)
            shown = bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
            assert shown not in (viewer.model_id, strip.model_id)  # one box holding both
            assert "Viewer(" in bundle["text/plain"]
        finally:
            viewer.close()
        assert strip._closed  # closed with the viewer
        with pytest.raises(TypeError, match="a series is a frame key"):
            session.view(plot=[3])
