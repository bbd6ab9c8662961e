"""Interactive forces: NanoVer's interactions, applied by the live engines and started from
``Session.interact``; their forces checked against NanoVer's own reference implementation."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.targets.interactions import Interaction, UserForces, interaction_force
from framecast.testing.extras import peptide_simulation, require
from framecast.testing.nanover import run_nanover

# -- the interaction value -------------------------------------------------------------------------


def test_interaction_round_trips_nanover_values() -> None:
    value = {
        "position": [1.0, 2.0, 3.0],
        "particles": [5, 2, 2],
        "interaction_type": "spring",
        "scale": 3.0,
        "mass_weighted": False,
        "reset_velocities": False,
        "max_force": math.inf,
        "owner.id": "someone",
    }
    interaction = Interaction.from_state(value)
    assert interaction.particles == (2, 5)  # unique and sorted, as NanoVer does
    assert interaction.kind == "spring"
    assert interaction.scale == 3.0
    assert interaction.extra == {"owner.id": "someone"}
    again = interaction.to_state()
    assert again["owner.id"] == "someone"
    assert again["particles"] == [2, 5]
    assert Interaction.from_state(again) == interaction


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"position": [math.nan, 0, 0], "particles": [0]}, "finite"),
        ({"position": [0, 0], "particles": [0]}, "3 numbers"),
        ({"position": [0, 0, 0], "particles": []}, "at least one particle"),
        ({"position": [0, 0, 0], "particles": [-1]}, ">= 0"),
        ({"position": [0, 0, 0], "particles": [0.5]}, "integers"),
        ({"position": [0, 0, 0], "particles": [0], "interaction_type": "x"}, "kind"),
        ({"position": [0, 0, 0], "particles": [0], "scale": math.inf}, "scale"),
        ({"position": [0, 0, 0], "particles": [0], "max_force": -1}, "max_force"),
        ({"particles": [0]}, "position"),
        ([1, 2, 3], "map"),
    ],
)
def test_bad_interactions_are_refused_with_the_field_named(value: Any, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Interaction.from_state(value)


def test_forces_match_nanover_reference_implementation() -> None:
    """Our potentials, caps and mass weighting give NanoVer's numbers, to float32."""
    rng = np.random.default_rng(3)
    positions = rng.random((12, 3)) * 4
    masses = rng.random(12) * 10 + 1
    masses[7] = 0.0
    box = np.array([4.0, 4.0, 4.0])
    cases = [
        {"position": [0.5, 1.0, 1.5], "particles": [3], "interaction_type": "gaussian"},
        {"position": [3.9, 0.1, 2.0], "particles": [1, 4, 7], "interaction_type": "spring"},
        {
            "position": [1.0, 1.0, 1.0],
            "particles": [0, 2],
            "interaction_type": "spring",
            "scale": 40.0,
            "max_force": 5.0,
            "mass_weighted": False,
        },
        {"position": [2.0, 2.0, 2.0], "particles": [5, 6], "interaction_type": "constant"},
        {"position": [0.0, 0.0, 0.0], "particles": [8], "scale": 0.1, "max_force": 0.01},
    ]
    script = """
import json, sys
import numpy as np
from nanover.imd.imd_force import calculate_imd_force
from nanover.imd.imd_state import dict_to_interaction
data = json.loads(sys.argv[1])
out = []
for case in data["cases"]:
    for box in (None, np.array(data["box"])):
        energy, forces = calculate_imd_force(
            np.array(data["positions"]), np.array(data["masses"]),
            [dict_to_interaction(case)], box)
        out.append([float(energy), forces.tolist()])
print(json.dumps(out))
"""
    payload = {
        "cases": cases,
        "positions": positions.tolist(),
        "masses": masses.tolist(),
        "box": box.tolist(),
    }
    theirs = iter(run_nanover(script, json.dumps(payload)))
    for case in cases:
        interaction = Interaction.from_state(case)
        for periodic in (None, box):
            energy, force = interaction_force(interaction, positions, masses, periodic)
            their_energy, their_forces = next(theirs)
            ours = np.zeros((12, 3))
            ours[list(interaction.particles)] = force
            assert energy == pytest.approx(their_energy, rel=1e-5, abs=1e-9), case
            np.testing.assert_allclose(ours, their_forces, rtol=1e-4, atol=1e-6, err_msg=str(case))


def test_user_forces_report_nanover_fields_and_work() -> None:
    user = UserForces()
    assert user.fields() == {}  # nothing until an interaction applies
    positions = np.zeros((4, 3))
    masses = np.ones(4)
    pull = Interaction(position=(1.0, 0.0, 0.0), particles=(2,), kind="spring")
    user.set({"interaction.a": pull})
    forces = user.forces(positions, masses, None)
    assert forces is not None
    np.testing.assert_allclose(forces[2], [2.0, 0.0, 0.0])  # -k (x - g), k = 2
    moved = positions.copy()
    moved[2] = [0.25, 0.0, 0.0]
    user.account(moved, None)
    fields = user.fields()
    assert fields["forces.user.work_done"] == pytest.approx(0.5)  # 2 kJ/(mol nm) x 0.25 nm
    assert list(fields["forces.user.index"]) == [2]  # type: ignore[call-overload]
    assert list(fields["forces.user.interactions"]) == ["interaction.a"]  # type: ignore[call-overload]
    assert fields["energy.user.total"] == pytest.approx(1.0)  # k d^2 / 2 at the start
    user.set({})
    assert user.forces(positions, masses, None) is None
    assert user.fields()["forces.user.work_done"] == pytest.approx(0.5)  # kept, as NanoVer


# -- engines -------------------------------------------------------------------------------------
def _distance(engine: Any, particle: int, point: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(engine.frame["particle.positions"])[particle] - point))


def _pulled(engine: Any, particle: int, point: np.ndarray, frames: int, **options: Any) -> float:
    """How far ``particle`` ends from ``point`` after ``frames`` frames of a pull."""
    pull = Interaction(position=tuple(point), particles=(particle,), **options)
    engine.set_interactions({"interaction.test": pull})
    for _ in range(frames):
        engine.step()
    return _distance(engine, particle, point)


def test_simulation_is_pulled_and_released() -> None:
    free = framecast.demo.argon(64)
    pulled = framecast.demo.argon(64)
    start = np.asarray(pulled.frame["particle.positions"])[0].astype(float)
    point = start + np.array([0.6, 0.0, 0.0])
    for _ in range(40):
        free.step()
    without = _distance(free, 0, point)
    with_pull = _pulled(pulled, 0, point, 40, kind="spring", scale=200.0)
    assert with_pull < 0.5 * without
    assert pulled.frame["forces.user.work_done"] > 0  # type: ignore[operator]
    assert pulled.interaction_work("interaction.test") == pulled.frame["forces.user.work_done"]
    pulled.set_interactions({})
    pulled.step()
    assert len(pulled.frame["forces.user.index"]) == 0  # type: ignore[arg-type]
    pulled.restart()
    assert pulled.frame["forces.user.work_done"] == 0.0


def test_openmm_peptide_is_pulled() -> None:
    data = require("MDAnalysisTests.datafiles")
    free = framecast.OpenMMSimulation(peptide_simulation(data.PDB_helix), steps_per_frame=20)
    pulled = framecast.OpenMMSimulation(peptide_simulation(data.PDB_helix), steps_per_frame=20)
    atom = 30
    start = np.asarray(pulled.frame["particle.positions"])[atom].astype(float)
    point = start + np.array([1.0, 0.0, 0.0])
    potential_before = pulled.frame["energy.potential"]
    for _ in range(15):
        free.step()
    without = _distance(free, atom, point)
    with_pull = _pulled(pulled, atom, point, 15, kind="spring", scale=3000.0)
    assert with_pull < without - 0.2
    # The user force's own group stays out of the reported energies.
    assert abs(pulled.frame["energy.potential"] - potential_before) < 5000  # type: ignore[operator]
    assert pulled.frame["forces.user.work_done"] > 0  # type: ignore[operator]


def test_ase_dynamics_is_pulled() -> None:
    require("ase")
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.verlet import VelocityVerlet
    from ase.units import fs

    def dynamics() -> Any:
        atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
        atoms.calc = EMT()
        return framecast.ASEDynamics(VelocityVerlet(atoms, timestep=2 * fs), steps_per_frame=5)

    free, pulled = dynamics(), dynamics()
    start = np.asarray(pulled.frame["particle.positions"])[0].astype(float)
    point = start + np.array([0.15, 0.0, 0.0])
    for _ in range(20):
        free.step()
    without = _distance(free, 0, point)
    with_pull = _pulled(pulled, 0, point, 20, kind="spring", scale=20000.0)
    assert with_pull < without - 0.05
    assert type(pulled.atoms.calc).__name__ == "_PushedForces"
    assert pulled.atoms.calc.results  # the wrapped calculator still answers


# -- Session.interact ----------------------------------------------------------------------------
def test_session_interact_moves_and_stops(no_leaks: None) -> None:
    simulation = framecast.demo.argon(64)
    with framecast.Session(simulation, port=0, autoplay=False) as session:
        start = np.asarray(simulation.frame["particle.positions"])[1].astype(float)
        with session.interact([1], start + 0.5, kind="spring", scale=100.0) as pull:
            key = pull.key
            assert key.startswith("interaction.")
            assert session.shared_state[key]["interaction_type"] == "spring"  # type: ignore[index]
            assert simulation.interactions[key].particles == (1,)
            for _ in range(5):
                session.step()
            assert pull.work is not None
            assert pull.work > 0
            pull.move(start - 0.5)
            assert simulation.interactions[key].position == pytest.approx(tuple(start - 0.5))
            with pytest.raises(ValueError, match="finite"):
                pull.move([math.nan, 0, 0])
            assert simulation.interactions[key].position == pytest.approx(tuple(start - 0.5))
        assert not pull.active
        assert key not in session.shared_state
        assert not simulation.interactions
        with pytest.raises(RuntimeError, match="stopped"):
            pull.move(start)
        with pytest.raises(ValueError, match="out of range"):
            session.interact(64, start)


def test_interactions_refused_on_a_non_live_target(no_leaks: None) -> None:
    trajectory = framecast.Trajectory(np.zeros((3, 4, 3)))
    with framecast.Session(trajectory, port=0) as session:
        with pytest.raises(TypeError, match="not a live simulation"):
            session.interact([0], [0, 0, 0])
        with pytest.raises(ValueError, match="not a live simulation"):
            session.shared_state["interaction.x"] = {"position": [0, 0, 0], "particles": [0]}
        assert "interaction.x" not in session.shared_state


@pytest.fixture
def remote(no_leaks: None) -> Iterator[tuple[Any, framecast.Session, framecast.Client]]:
    """A paused argon box of 64 atoms, its session, and a gRPC client of it."""
    simulation = framecast.demo.argon(64)
    with (
        framecast.Session(simulation, port=0, autoplay=False) as session,
        framecast.Client(f"127.0.0.1:{session.port}") as client,
    ):
        yield simulation, session, client


def test_a_client_interaction_reaches_the_engine_and_bad_ones_are_refused(
    remote: tuple[Any, framecast.Session, framecast.Client],
) -> None:
    simulation, session, client = remote
    good = {"position": [0.1, 0.2, 0.3], "particles": [4], "interaction_type": "gaussian"}
    client.shared_state.change({"interaction.c": good, "other": 1})
    framecast.testing.wait_until(lambda: "interaction.c" in simulation.interactions)
    bad = {"position": [0.1, 0.2, 0.3], "particles": [64]}
    with pytest.raises(ValueError, match="out of range"):
        client.shared_state.change({"interaction.d": bad, "other": 2})
    assert "interaction.d" not in session.shared_state
    assert session.shared_state["other"] == 1  # the whole change was refused
    client.shared_state.change(removals=["interaction.c"])
    framecast.testing.wait_until(lambda: not simulation.interactions)


def test_absurd_interactions_from_a_client_are_refused_and_cannot_blow_up_the_simulation(
    remote: tuple[Any, framecast.Session, framecast.Client],
) -> None:
    from framecast.targets.interactions import MAX_FORCE, MAX_SCALE

    simulation, session, client = remote
    at = {"position": [50.0, 50.0, 50.0], "particles": [3]}
    hostile = [
        ({**at, "interaction_type": "spring", "scale": 1e300}, "MAX_SCALE"),
        ({**at, "interaction_type": "gaussian", "scale": -1e300}, "MAX_SCALE"),
        ({**at, "interaction_type": "spring", "max_force": 1e300}, "MAX_FORCE"),
    ]
    for value, bound in hostile:
        with pytest.raises(ValueError, match=bound):
            client.shared_state.change({"interaction.evil": value})
        assert "interaction.evil" not in session.shared_state
    # The strongest pull allowed, 50 nm away: the cap holds the force, and the
    # simulation stays finite.
    strongest = {
        **at,
        "interaction_type": "spring",
        "scale": MAX_SCALE,
        "max_force": MAX_FORCE,
    }
    client.shared_state.change({"interaction.strong": strongest})
    framecast.testing.wait_until(lambda: "interaction.strong" in simulation.interactions)
    for _ in range(30):
        session.step()
    kinetic = float(simulation.frame["energy.kinetic"])
    assert math.isfinite(kinetic)
    session.health_check()  # raises what a background thread raised
    interaction = Interaction.from_state(strongest)
    positions = np.asarray(simulation.frame["particle.positions"], dtype=float)
    _, force = interaction_force(interaction, positions, np.ones(len(positions)))
    assert np.linalg.norm(force) <= MAX_FORCE * (1 + 1e-9)
    # NanoVer's "no cap of its own" (infinity) gets the session's cap too.
    uncapped = Interaction.from_state({**strongest, "max_force": math.inf})
    _, force = interaction_force(uncapped, positions, np.ones(len(positions)))
    assert np.linalg.norm(force) <= MAX_FORCE * (1 + 1e-9)
