"""Timelines and transitions (pure data, no server)."""

from __future__ import annotations

import numpy as np
import pytest

import framecast
from framecast import Recording, Simulation, Trajectory, Transition


@pytest.fixture
def trajectory() -> Trajectory:
    positions = np.arange(5, dtype=float)[:, None, None] * np.ones((5, 2, 3))
    return Trajectory(positions, {"particle.elements": [1, 8]}, times=np.arange(5) * 0.5)


def test_trajectory_is_a_timeline(trajectory: Trajectory) -> None:
    assert isinstance(trajectory, framecast.Timeline)
    assert trajectory.transition_count == 4
    assert trajectory.first_transition.id == 0
    assert trajectory.last_transition.id == 3
    tr = trajectory.transition(2)
    assert tr.label == "t = 1.000 \u2192 1.500 ps"
    assert tr.context_before()["particle.positions"][0, 0] == 2.0  # type: ignore[index]
    assert tr.context_after()["particle.positions"][0, 0] == 3.0  # type: ignore[index]
    assert tr.context_before()["particle.elements"].tolist() == [1, 8]  # type: ignore[union-attr]
    assert trajectory.context_before(2).index == 2
    assert [t.id for t in trajectory.transitions(1, 3)] == [1, 2]
    assert [t.id for t in trajectory.transitions()] == [0, 1, 2, 3]
    assert len(trajectory.transitions(2, 4)) == 2
    # A range past the end says so, as one transition past it does.
    with pytest.raises(IndexError, match=r"stop 100 is out of range \(.* has ids 0\.\.3\)"):
        trajectory.transitions(2, 100)
    with pytest.raises(IndexError, match="start 4 is out of range"):
        trajectory.transitions(4)
    with pytest.raises(IndexError, match=r"valid ids are 0\.\.3"):
        trajectory.transition(4)
    with pytest.raises(TypeError, match="int"):
        trajectory.transition(1.5)  # type: ignore[arg-type]


def test_transition_arithmetic_equality_and_hash(trajectory: Trajectory) -> None:
    tr = trajectory.transition(1)
    assert tr + 1 == trajectory.transition(2)
    assert tr - 1 == trajectory.first_transition
    with pytest.raises(IndexError):
        trajectory.last_transition + 1
    with pytest.raises(IndexError):
        trajectory.first_transition - 1
    assert len({trajectory.transition(1), tr, trajectory.transition(2)}) == 2
    other = Trajectory(trajectory.positions)
    assert other.transition(1) != tr  # same id, another timeline
    assert repr(tr) == "<Transition #1 t = 0.500 \u2192 1.000 ps>"


def test_transition_range_is_a_sequence(trajectory: Trajectory) -> None:
    window = trajectory.transitions(1, 4)
    assert len(window) == 3
    assert window[0].id == 1
    assert window[-1].id == 3
    assert [t.id for t in window[1:]] == [2, 3]
    assert trajectory.transitions(3, 1).ids == range(3, 3)


def test_a_recording_of_program_states_is_a_timeline() -> None:
    trace = Recording(
        [{"pc": 16, "regs.rax": 0}, {"pc": 20, "regs.rax": 1}, {"pc": 24, "regs.rax": 1}],
        labels=["mov rax, 1", "call f", "ret"],
    )
    assert trace.transition_count == 2
    tr = trace.transition(0)
    assert tr.label == "mov rax, 1 \u2192 call f"
    assert tr.context_after()["pc"] == 20
    assert tr.context_after()["state.label"] == "call f"
    plain = Recording(["idle", "heating", "boiling"])
    assert plain.context_before(1)["state.value"] == "heating"
    with pytest.raises(ValueError, match="2 labels for 3 states"):
        Recording([1, 2, 3], labels=["a", "b"])


def test_a_single_frame_timeline_has_no_transition() -> None:
    single = Trajectory(np.zeros((1, 2, 3)))
    assert single.transition_count == 0
    with pytest.raises(IndexError, match="no transition"):
        _ = single.first_transition


def test_simulation_history_is_a_bounded_timeline() -> None:
    simulation: Simulation = framecast.demo.argon(40, density=5.0, history=5)
    assert simulation.transition_count == 0  # one frame kept so far
    for _ in range(8):
        simulation.step()
    assert simulation.frame_index == 8
    assert simulation.transition_count == 4  # frames 4..8 kept
    assert simulation.first_transition.id == 4
    with pytest.raises(IndexError, match=r"valid ids are 4\.\.7"):
        simulation.transition(2)
    tr = simulation.transition(6)
    assert tr.label == "t = 0.120 \u2192 0.140 ps"
    after = tr.context_after()
    assert after.index == 7
    assert after["particle.positions"].shape == (40, 3)  # type: ignore[union-attr]
    assert "energy.kinetic" in after


def test_simulation_seek_resumes_from_a_kept_frame() -> None:
    simulation = framecast.demo.argon(40, density=5.0, history=10)
    for _ in range(6):
        simulation.step()
    kept = simulation.context_before(3)["particle.positions"]
    simulation.seek(3)
    assert simulation.frame_index == 3
    np.testing.assert_allclose(simulation.positions, kept, atol=1e-6)  # type: ignore[arg-type]
    assert simulation.last_transition.id == 2  # later frames were dropped
    simulation.step()
    assert simulation.frame_index == 4
    with pytest.raises(IndexError, match="not in the history"):
        simulation.seek(99)


def test_transition_is_exported_and_constructible(trajectory: Trajectory) -> None:
    assert Transition(trajectory, 0) == trajectory.transition(0)
