from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import framecast
from framecast import Simulation, Trajectory
from framecast.testing import wait_until


def _trajectory(frames: int = 5, **kwargs: object) -> Trajectory:
    positions = np.arange(frames, dtype=float)[:, None, None] * np.ones((frames, 2, 3))
    return Trajectory(positions, {"particle.elements": [1, 8]}, **kwargs)  # type: ignore[arg-type]


def test_trajectory_shows_frames_with_topology() -> None:
    trajectory = _trajectory(times=np.arange(5) * 0.5)
    frame = trajectory.frame
    assert frame.index == 0
    assert frame["particle.elements"].tolist() == [1, 8]  # type: ignore[union-attr]
    trajectory.seek(3)
    assert frame.index == 3
    assert frame["particle.positions"][0, 0] == 3.0  # type: ignore[index]
    assert frame["system.simulation.time"] == 1.5
    with pytest.raises(IndexError, match="out of range"):
        trajectory.seek(5)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("loop", [1, 2, 0, 1, 2, 0]),
        ("bounce", [1, 2, 1, 0, 1, 2]),
        ("once", [1, 2, 2, 2, 2, 2]),
    ],
)
def test_trajectory_end_modes(mode: str, expected: list[int]) -> None:
    trajectory = _trajectory(3, mode=mode)
    seen = []
    for _ in expected:
        trajectory.step()
        seen.append(trajectory.frame_index)
    assert seen == expected


def test_trajectory_step_back_and_restart() -> None:
    trajectory = _trajectory(4)
    trajectory.step_back()
    assert trajectory.frame_index == 3  # loop mode wraps
    trajectory.restart()
    assert trajectory.frame_index == 0


def test_trajectory_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(T, N, 3\)"):
        Trajectory(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="fps"):
        _trajectory(fps=0)
    with pytest.raises(ValueError, match="mode"):
        _trajectory(mode="sideways")
    with pytest.raises(ValueError, match=r"'bond\.pairs'"):
        Trajectory(np.zeros((2, 2, 3)), {"bond.pairs": [[0, 1, 2]]})


def test_trajectory_npz_round_trip(tmp_path: Path) -> None:
    original = framecast.demo.argon_trajectory(n=20, frames=6)
    path = tmp_path / "run.npz"
    original.save_npz(path)
    loaded = Trajectory.from_npz(path, fps=10)
    assert loaded.frame_count == 6
    assert loaded.fps == 10
    np.testing.assert_array_equal(loaded.positions, original.positions)
    assert loaded.frame["particle.elements"].tolist() == [18] * 20  # type: ignore[union-attr]


def test_trajectory_plays_on_its_thread_and_pauses(no_leaks: None) -> None:
    trajectory = _trajectory(50, fps=200)
    trajectory.play()
    try:
        assert trajectory.is_playing
        wait_until(lambda: trajectory.frame_index >= 5, what="trajectory advanced")
        trajectory.pause()
        assert trajectory.is_running
        assert not trajectory.is_playing
        paused_at = trajectory.frame_index
        trajectory.step()
        assert trajectory.frame_index == paused_at + 1
    finally:
        trajectory.stop()
    assert not trajectory.is_running


def test_run_block_returns_when_stopped_from_another_thread(no_leaks: None) -> None:
    trajectory = _trajectory(10, fps=500)

    def stop_when_playing() -> None:
        wait_until(lambda: trajectory.frame_index >= 3, what="playing")
        trajectory.stop()

    stopper = threading.Thread(target=stop_when_playing)
    stopper.start()
    trajectory.run(block=True)
    stopper.join()
    assert not trajectory.is_running


def test_simulation_conserves_energy_without_thermostat() -> None:
    simulation = framecast.demo.argon(256, thermostat=False)
    start = simulation.kinetic_energy() + simulation.potential_energy()
    for _ in range(100):
        simulation.step()
    end = simulation.kinetic_energy() + simulation.potential_energy()
    assert simulation.step_count == 500
    # Velocity Verlet with a shifted potential: drift well under 0.1 % of |E|.
    assert abs(end - start) < 1e-3 * abs(start)


def test_simulation_thermostat_reaches_the_target_temperature() -> None:
    simulation = framecast.demo.argon(256, temperature=60.0)
    simulation.temperature_target = 150.0
    for _ in range(150):
        simulation.step()
    assert 120.0 < simulation.temperature() < 180.0


def test_simulation_forces_match_the_energy_gradient() -> None:
    simulation = framecast.demo.argon(64, density=10.0)
    forces, _ = simulation._forces()
    h = 1e-6
    for atom, axis in [(0, 0), (5, 1), (17, 2)]:
        energies = []
        for sign in (+1, -1):
            simulation._x[atom, axis] += sign * h
            energies.append(simulation._forces()[1])
            simulation._x[atom, axis] -= sign * h
        numeric = -(energies[0] - energies[1]) / (2 * h)
        assert forces[atom, axis] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_simulation_marks_positions_and_energies_dirty_but_not_topology() -> None:
    simulation = framecast.demo.argon(50, density=5.0)
    simulation.frame.take_changes()
    simulation.step()
    changed = set(simulation.frame.take_changes().fields)
    assert {"particle.positions", "energy.kinetic", "energy.potential"} <= changed
    assert "particle.elements" not in changed
    assert "system.box.vectors" not in changed


def test_simulation_restart_returns_to_the_initial_state() -> None:
    simulation = framecast.demo.argon(50, density=5.0)
    initial = simulation.positions
    for _ in range(3):
        simulation.step()
    assert not np.allclose(simulation.positions, initial)
    simulation.restart()
    np.testing.assert_allclose(simulation.positions, initial)
    assert simulation.step_count == 0


def test_a_live_engine_steps_back_through_the_frames_it_keeps() -> None:
    simulation = framecast.demo.argon(50, density=5.0, history=3)
    assert not simulation.can_step_back  # frame 0 is all it has
    with pytest.raises(IndexError, match="cannot step back from frame 0"):
        simulation.step_back()
    for _ in range(4):
        simulation.step()
    kept = simulation.context_before(2)  # frame 2, as the history keeps it
    assert simulation.can_step_back
    simulation.step_back()
    assert simulation.frame_index == 3
    simulation.step_back()
    assert simulation.frame_index == 2
    np.testing.assert_array_equal(
        simulation.frame["particle.positions"], kept["particle.positions"]
    )
    # Only frames 2..4 are kept (history=3): nothing is behind frame 2.
    assert not simulation.can_step_back
    with pytest.raises(IndexError, match="history=3 frames"):
        simulation.step_back()
    assert simulation.frame_index == 2  # a refused step back changes nothing


def test_a_single_frame_trajectory_is_not_sent_again_and_again() -> None:
    trajectory = _trajectory(1)
    assert repr(trajectory).startswith("Trajectory(1 frame, 2 particles,")
    trajectory.frame.take_all()
    for _ in range(3):
        trajectory.step()  # loop mode: frame 0 again, which is on show
    assert not trajectory.frame.take_changes().fields


def test_exception_in_a_step_stops_the_loop_and_is_reraised(no_leaks: None) -> None:
    simulation = framecast.demo.argon(50, density=5.0, interval=0.0)

    def explode(sim: Simulation) -> None:
        if sim.step_count >= 10:
            raise ArithmeticError("boom at step 10")

    simulation.on_step(explode)
    simulation.play()
    wait_until(lambda: not simulation.is_running, what="simulation loop ended")
    with pytest.raises(ArithmeticError, match="boom"):
        simulation.health_check()
    simulation.stop()


def test_simulation_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="box_length"):
        Simulation(np.zeros((4, 3)), 1.0)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        Simulation(np.zeros((4, 2)), 5.0)
    with pytest.raises(ValueError, match="at least 2"):
        framecast.demo.argon(1)


def test_pause_returns_after_the_frame_in_progress() -> None:
    """After pause() returns nothing changes: a frame being advanced completes first."""
    simulation = framecast.demo.argon(50)
    entered, release, paused = threading.Event(), threading.Event(), threading.Event()

    def hold(sim: framecast.Simulation) -> None:
        entered.set()
        assert release.wait(10)

    simulation.on_step(hold)
    simulation.run()
    try:
        assert entered.wait(10)

        def pause() -> None:
            simulation.pause()
            paused.set()

        pauser = threading.Thread(target=pause)
        pauser.start()
        assert not paused.wait(0.2), "pause() returned while a frame was being advanced"
        release.set()
        assert paused.wait(10)
        pauser.join(10)
        steps = simulation.step_count
        assert steps % simulation.steps_per_frame == 0
        assert not simulation.is_playing
    finally:
        simulation.on_step(hold, remove=True)
        release.set()
        simulation.stop()


def test_the_simulation_is_a_live_engine_whose_contexts_share_the_topology() -> None:
    from framecast.targets.engine import LiveEngine

    simulation = framecast.demo.argon(64, density=5.0)
    assert isinstance(simulation, LiveEngine)
    for _ in range(4):
        simulation.step()
    first, second = simulation.transition(1), simulation.transition(2)
    before, after = first.context_before(), second.context_before()
    elements = simulation.frame["particle.elements"]
    # Built from what the history keeps: the topology is neither validated nor copied again.
    assert before["particle.elements"] is elements
    assert after["particle.elements"] is elements
    assert before["particle.positions"] is not after["particle.positions"]
    assert first.context_after()["particle.positions"] is after["particle.positions"]
    assert before.index == 1
    assert first.label.startswith("t = 0.020 \u2192 0.040 ps")
    # Seeking resumes from the kept state: the same steps follow from the same frame.
    simulation.step()
    reached = np.array(simulation.frame["particle.positions"])
    simulation.seek(4)
    assert simulation.step_count == 4 * simulation.steps_per_frame
    simulation.step()
    np.testing.assert_allclose(simulation.frame["particle.positions"], reached)  # type: ignore[arg-type]


def test_a_simulation_that_blows_up_says_so_with_the_frame() -> None:
    # Two particles on the same spot: the forces are not finite from the start.
    positions = np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    with pytest.raises(
        FloatingPointError, match=r"Simulation: 'energy\.potential' is nan at frame 0"
    ):
        Simulation(positions, box_length=3.0)
    positions[1] += 0.001  # finite at first, thrown apart at the first step
    simulation = Simulation(positions, box_length=3.0, temperature=None)
    with pytest.raises(
        FloatingPointError,
        match=r"Simulation: non-finite 'particle.positions' at frame 1 \(rows \d",
    ):
        simulation.step()


def test_an_npz_whose_header_lies_or_whose_positions_overflow_is_refused(tmp_path: Path) -> None:
    import io
    import zipfile

    # A positions header claiming 10.9 TiB, over 12 bytes of data.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6, 3)}
    )
    lying = tmp_path / "lying.npz"
    with zipfile.ZipFile(lying, "w") as archive:
        archive.writestr("positions.npy", header.getvalue() + bytes(12))
    with pytest.raises(ValueError, match=r"claims an array of shape \(1000000, 1000000, 3\)"):
        Trajectory.from_npz(lying)
    # Finite in float64, infinite as the float32 it is served as.
    huge = tmp_path / "huge.npz"
    np.savez(huge, positions=np.full((2, 3, 3), 1e300))
    with pytest.raises(ValueError, match="positions of frame 0 are not finite"):
        Trajectory.from_npz(huge)


def test_bonds_that_name_particles_not_there_are_refused() -> None:
    positions = np.zeros((2, 3, 3))
    with pytest.raises(ValueError, match="names particle 7, out of range for 3"):
        Trajectory(positions, {"bond.pairs": [[0, 1], [1, 7]]})
    with pytest.raises(ValueError, match="names particle -1"):
        Trajectory(positions, {"bond.pairs": [[0, -1]]})
    assert Trajectory(positions, {"bond.pairs": [[0, 1], [1, 2]]}).frame_count == 2
