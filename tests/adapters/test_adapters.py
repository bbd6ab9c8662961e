"""Adapters on real files shipped inside installed packages (MDAnalysisTests, OpenMM) and on
real engines, checked against the libraries themselves."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.elements import SYMBOLS, atomic_number
from framecast.testing import wait_until
from framecast.testing.extras import peptide_simulation, require


def get(frame: framecast.FrameData, key: str) -> Any:
    """A field, typed loosely: each test knows what kind of value it reads."""
    return frame[key]


@pytest.fixture(scope="module")
def data() -> Any:
    require("MDAnalysis")
    return require("MDAnalysisTests.datafiles")


def _universe(*files: str) -> Any:
    mda = require("MDAnalysis")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mda.Universe(*files)


# -- MDAnalysis ------------------------------------------------------------------------------------
def test_psf_dcd_matches_mdanalysis(data: Any) -> None:
    u = _universe(data.PSF, data.DCD)
    trajectory = framecast.from_mdanalysis([data.PSF, data.DCD])
    assert not trajectory.streamed
    assert trajectory.frame_count == u.trajectory.n_frames == 98
    assert trajectory.particle_count == u.atoms.n_atoms == 3341
    frame = trajectory.frame
    # Positions in nm, frame by frame, equal the library's in Angstrom / 10.
    for index in (0, 41, 97):
        u.trajectory[index]
        trajectory.seek(index)
        np.testing.assert_allclose(
            get(frame, "particle.positions"), u.atoms.positions / 10, rtol=1e-6
        )
        assert get(frame, "system.simulation.time") == pytest.approx(u.trajectory.time)
    # Topology: the PSF has bonds, residues and segments, but no elements (guessed by names).
    assert len(get(frame, "bond.pairs")) == len(u.bonds) == 3365
    assert list(get(frame, "residue.names")) == list(u.residues.resnames)
    assert list(get(frame, "residue.ids")) == list(u.residues.resids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the DCD reader's notice about its timesteps
        guessed = u.copy()
    guessed.guess_TopologyAttrs(to_guess=["elements"])
    expected = Counter(str(e).capitalize() for e in guessed.atoms.elements)
    counts = Counter(SYMBOLS[z] for z in get(frame, "particle.elements"))
    assert counts == expected
    assert counts["C"] > 1000
    assert counts["H"] > 1000
    assert counts["S"] > 0
    assert list(get(frame, "chain.names")) == ["4AKE"]
    assert "system.box.vectors" not in frame  # a DCD of a protein in vacuum has no box


def test_gro_xtc_selection_streamed(data: Any) -> None:
    """Over the memory budget, frames are read from the file when shown."""
    u = _universe(data.GRO, data.XTC)
    protein = u.select_atoms("protein")
    trajectory = framecast.from_mdanalysis([data.GRO, data.XTC], "protein", memory_budget=0)
    assert trajectory.streamed
    assert trajectory.frame_count == 10
    assert trajectory.particle_count == protein.n_atoms == 3341
    with pytest.raises(RuntimeError, match="streamed"):
        trajectory.positions  # noqa: B018 - the property is what is tested
    block = trajectory.frame_positions(3, 6)
    for row, index in enumerate(range(3, 6)):
        u.trajectory[index]
        np.testing.assert_allclose(block[row], protein.positions / 10, rtol=1e-6)
        assert get(trajectory.context_before(index), "system.simulation.time") == pytest.approx(
            u.trajectory.time
        )
    assert trajectory.transition(3).label == "t = 300.000 \u2192 400.000 ps"
    # The GRO's box (a truncated octahedron, lengths and angles) becomes vectors in nm.
    from MDAnalysis.lib.mdamath import triclinic_vectors

    u.trajectory[0]  # the frame on show
    box = get(trajectory.frame, "system.box.vectors")
    np.testing.assert_allclose(box, triclinic_vectors(u.dimensions) / 10, rtol=1e-5)
    # No bonds in a GRO: guessed like MDAnalysis' guesser, about one per atom for a protein.
    pairs = get(trajectory.frame, "bond.pairs")
    assert 3300 < len(pairs) < 3450
    residues = Counter(get(trajectory.frame, "residue.names"))
    assert residues == Counter(protein.residues.resnames)
    assert set(get(trajectory.frame, "particle.elements")) == {1, 6, 7, 8, 16}


def test_the_callers_universe_keeps_its_frame(data: Any) -> None:
    u = _universe(data.PSF, data.DCD)
    u.trajectory[5]
    trajectory = framecast.from_mdanalysis(u.select_atoms("name CA"), memory_budget=0)
    trajectory.seek(50)
    assert u.trajectory.frame == 5
    assert trajectory.particle_count == 214
    assert len(get(trajectory.frame, "bond.pairs")) == 0


def test_mdanalysis_bad_input_names_the_problem(data: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.xtc"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.xtc"):
        framecast.from_mdanalysis([data.GRO, missing])
    junk = tmp_path / "junk.pdb.nonsense"
    junk.write_text("this is not a molecule\n")
    with pytest.raises(ValueError, match=r"junk\.pdb\.nonsense"):
        framecast.from_mdanalysis(junk)
    # A topology of 3341 atoms with a trajectory of 47681.
    with pytest.raises(ValueError, match=r"adk\.psf.*adk_oplsaa\.xtc"):
        framecast.from_mdanalysis([data.PSF, data.XTC])
    with pytest.raises(ValueError, match="cannot parse the selection 'protein and and'"):
        framecast.from_mdanalysis([data.PSF, data.DCD], "protein and and")
    with pytest.raises(ValueError, match="'resname XYZ' matches no atom"):
        framecast.from_mdanalysis([data.PSF, data.DCD], "resname XYZ")
    with pytest.raises(ValueError, match="memory_budget"):
        framecast.from_mdanalysis([data.PSF, data.DCD], memory_budget=-1)


def test_a_bad_file_leaves_the_session_serving(data: Any, session: framecast.Session) -> None:
    with framecast.Client(f"127.0.0.1:{session.port}") as client:
        client.wait_for_frame(lambda f: f.particle_count == 200)
        with pytest.raises(ValueError, match=r"adk\.psf"):
            session.show(framecast.from_mdanalysis([data.PSF, data.XTC]))
        start = client.frame.index
        wait_until(lambda: client.frame.index > start + 3, what="the argon box keeps playing")
        assert client.frame.particle_count == 200
        session.health_check()


def test_a_session_serves_a_protein_to_a_client(data: Any, session: framecast.Session) -> None:
    trajectory = framecast.from_mdanalysis([data.PSF, data.DCD], mode="once")
    session.show(trajectory)
    session.pause()
    with framecast.Client(f"127.0.0.1:{session.port}") as client:
        frame = client.wait_for_frame(lambda f: f.particle_count == 3341)
        assert get(frame, "residue.names")[0] == "MET"
        assert get(frame, "bond.pairs").shape == (3365, 2)
        shown = trajectory.frame_index  # autoplay may have moved on before the pause
        session.step()
        wait_until(lambda: client.frame.index == shown + 1, what="the step reached the client")
        np.testing.assert_allclose(
            get(client.frame, "particle.positions"), trajectory.frame_positions(shown + 1)[0]
        )


# -- MDTraj ----------------------------------------------------------------------------------------
def test_mdtraj_matches_mdtraj(data: Any) -> None:
    md = require("mdtraj")
    traj = md.load(data.XTC, top=data.GRO)
    trajectory = framecast.from_mdtraj(traj)
    assert trajectory.frame_count == traj.n_frames == 10
    trajectory.seek(7)
    frame = trajectory.frame
    np.testing.assert_allclose(get(frame, "particle.positions"), traj.xyz[7], rtol=1e-6)
    assert get(frame, "system.simulation.time") == pytest.approx(float(traj.time[7]))
    np.testing.assert_allclose(
        get(frame, "system.box.vectors"), traj.unitcell_vectors[7], rtol=1e-6
    )
    assert len(get(frame, "bond.pairs")) == traj.topology.n_bonds > 0
    assert list(get(frame, "residue.names")) == [r.name for r in traj.topology.residues]
    counts = Counter(int(z) for z in get(frame, "particle.elements"))
    assert counts == Counter(a.element.atomic_number for a in traj.topology.atoms)
    assert counts[8] > 10000  # the water's oxygens
    # The same files through the path form.
    assert framecast.from_mdtraj(data.XTC, top=data.GRO).frame_count == 10
    with pytest.raises(FileNotFoundError, match=r"missing\.gro"):
        framecast.from_mdtraj(data.XTC, top="missing.gro")
    with pytest.raises(TypeError, match=r"mdtraj\.Trajectory"):
        framecast.from_mdtraj(42)


def test_reading_files_shows_progress_when_asked(
    data: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    md = require("mdtraj")
    from framecast.adapters import mdtraj as mdtraj_adapter

    capsys.readouterr()
    framecast.from_mdanalysis([data.PSF, data.DCD], progress=True)
    shown = capsys.readouterr().err
    assert "reading frames" in shown
    assert "/98" in shown  # the bar knows the total
    # MDTraj reads in chunks that the bar counts; what it reads is what md.load reads.
    monkeypatch.setattr(mdtraj_adapter, "_CHUNK", 3)
    chunked = framecast.from_mdtraj(data.XTC, top=data.GRO, progress=True)
    shown = capsys.readouterr().err
    assert "reading frames" in shown
    assert "/10" in shown
    whole = md.load(data.XTC, top=data.GRO)
    assert chunked.frame_count == whole.n_frames == 10
    for index in (0, 4, 9):  # frames from the first, a middle and the last chunk
        chunked.seek(index)
        np.testing.assert_allclose(
            get(chunked.frame, "particle.positions"), whole.xyz[index], rtol=1e-6
        )
        assert get(chunked.frame, "system.simulation.time") == pytest.approx(whole.time[index])
    # Off when told, and by default under CI (this suite runs with CI=true or in a pipe).
    monkeypatch.setenv("CI", "true")
    framecast.from_mdanalysis([data.PSF, data.DCD], progress=False)
    framecast.from_mdanalysis([data.PSF, data.DCD])
    framecast.from_mdtraj(data.XTC, top=data.GRO)
    assert capsys.readouterr().err == ""


# -- ASE -------------------------------------------------------------------------------------------
def _copper(temperature: float = 300.0) -> Any:
    require("ase")
    from ase.build import bulk
    from ase.calculators.emt import EMT

    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.calc = EMT()
    from ase.md.velocitydistribution import thermalize_momenta

    thermalize_momenta(atoms, temperature_K=temperature, rng=np.random.default_rng(0))
    return atoms


def _langevin(atoms: Any) -> Any:
    from ase import units
    from ase.md.langevin import Langevin

    return Langevin(
        atoms, 5 * units.fs, temperature_K=300, friction=0.02, fixcm=False,
        rng=np.random.default_rng(1),
    )  # fmt: skip


def test_ase_atoms_frames_and_trajectory_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    atoms = _copper()
    frame = framecast.from_ase(atoms)
    assert isinstance(frame, framecast.FrameData)
    np.testing.assert_allclose(
        get(frame, "particle.positions"), atoms.get_positions() / 10, rtol=1e-6
    )
    assert set(get(frame, "particle.elements")) == {29}
    np.testing.assert_allclose(get(frame, "system.box.vectors"), atoms.cell[:] / 10, rtol=1e-6)

    from ase.io import Trajectory as AseTrajectory

    path = tmp_path / "copper.traj"
    dynamics = _langevin(atoms)
    energies = []
    with AseTrajectory(str(path), "w") as writer:
        for _ in range(4):
            dynamics.run(2)
            energies.append(atoms.get_potential_energy())
            writer.write(atoms)
    capsys.readouterr()
    trajectory = framecast.from_ase(path, progress=True)
    assert "reading images" in capsys.readouterr().err
    assert isinstance(trajectory, framecast.Trajectory)
    assert trajectory.frame_count == 4
    trajectory.seek(3)
    np.testing.assert_allclose(
        get(trajectory.frame, "particle.positions"), atoms.get_positions() / 10, rtol=1e-6
    )
    assert get(trajectory.frame, "energy.potential") == pytest.approx(energies[3] * 96.485332, 1e-6)
    assert isinstance(framecast.from_ase([atoms, atoms]), framecast.Trajectory)
    with pytest.raises(ValueError, match="image 1 has other atoms"):
        framecast.from_ase([atoms, atoms[:3]])
    with pytest.raises(FileNotFoundError, match=r"no\.traj"):
        framecast.from_ase(tmp_path / "no.traj")


def test_ase_dynamics_controls_and_history() -> None:
    atoms = _copper()
    start = atoms.get_positions()
    engine = framecast.ASEDynamics(_langevin(atoms), steps_per_frame=2, history=5)
    try:
        for _ in range(7):
            engine.step()
        assert engine.frame_index == 7
        frame = engine.frame
        assert get(frame, "system.simulation.time") == pytest.approx(7 * 2 * 5 / 1000)  # 70 fs
        total = get(frame, "energy.kinetic") + get(frame, "energy.potential")
        assert get(frame, "energy.total") == pytest.approx(total)
        assert get(frame, "system.temperature") == pytest.approx(atoms.get_temperature())
        # The last five frames are a timeline: transitions 3..6.
        assert engine.transitions().ids == range(3, 7)
        assert engine.transition(4).context_after().index == 5
        engine.seek(4)
        assert engine.dynamics.nsteps == 8
        np.testing.assert_allclose(
            get(engine.frame, "particle.positions"), atoms.get_positions() / 10, rtol=1e-6
        )
        with pytest.raises(IndexError, match=r"kept: 3\.\.4"):
            engine.seek(1)
        engine.restart()
        assert engine.frame_index == 0
        np.testing.assert_allclose(atoms.get_positions(), start)
        engine.run()
        wait_until(lambda: engine.frame_index >= 3, what="the dynamics plays on its thread")
        engine.health_check()
    finally:
        engine.stop()


def test_a_blown_up_engine_stops_with_a_clear_error(session: framecast.Session) -> None:
    atoms = _copper()
    engine = framecast.ASEDynamics(_langevin(atoms), steps_per_frame=1)
    session.show(engine)
    wait_until(lambda: engine.frame_index >= 2, what="the dynamics runs")
    positions = atoms.get_positions()
    positions[3] = np.nan
    atoms.set_positions(positions)
    wait_until(lambda: not engine.is_running, what="the dynamics stops on the NaN")
    with pytest.raises(FloatingPointError, match=r"ASEDynamics: non-finite 'particle.positions'"):
        session.health_check()
    # The last good frame is still served; nothing non-finite went out.
    with framecast.Client(f"127.0.0.1:{session.port}") as client:
        frame = client.wait_for_frame(lambda f: f.particle_count == 32)
        assert np.isfinite(get(frame, "particle.positions")).all()


def test_missing_extras_name_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, call, extra in [
        ("MDAnalysis", lambda: framecast.from_mdanalysis("x.pdb"), "mdanalysis"),
        ("mdtraj", lambda: framecast.from_mdtraj("x.pdb"), "mdtraj"),
        ("ase", lambda: framecast.from_ase("x.traj"), "ase"),
        ("openmm", lambda: framecast.OpenMMSimulation(None), "openmm"),
    ]:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, module, None)  # import now raises ImportError
            with pytest.raises(ImportError, match=rf"pip install 'framecast\[{extra}\]'"):
                call()


def test_importing_framecast_imports_no_extra() -> None:
    code = (
        "import sys, framecast; "
        "print([m for m in ('MDAnalysis', 'mdtraj', 'ase', 'openmm') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_elements() -> None:
    assert atomic_number("CL") == atomic_number("Cl") == 17
    assert atomic_number("Xx") == atomic_number(None) == 0
    assert SYMBOLS[118] == "Og"
    assert len(SYMBOLS) == 119


# -- OpenMM ----------------------------------------------------------------------------------------
@pytest.fixture
def openmm_simulation(data: Any) -> Any:
    return peptide_simulation(data.PDB_helix)


def test_openmm_frames_match_openmm(openmm_simulation: Any) -> None:
    from openmm import unit

    simulation = openmm_simulation
    engine = framecast.OpenMMSimulation(simulation, steps_per_frame=5, history=10)
    start = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)
    try:
        frame = engine.frame
        assert frame.particle_count == 137
        assert len(get(frame, "bond.pairs")) == simulation.topology.getNumBonds()
        residues = [r.name for r in simulation.topology.residues()]
        assert list(get(frame, "residue.names")) == residues
        engine.step()
        engine.step()
        state = simulation.context.getState(getPositions=True, getEnergy=True)
        np.testing.assert_allclose(
            get(frame, "particle.positions"),
            state.getPositions(asNumpy=True).value_in_unit(unit.nanometer),
            rtol=1e-5,
        )
        assert get(frame, "energy.potential") == pytest.approx(
            state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        )
        assert get(frame, "system.simulation.time") == pytest.approx(0.010)
        assert simulation.currentStep == 10
        assert engine.transition(0).label == "t = 0.000 \u2192 0.005 ps"
        engine.seek(1)
        assert simulation.currentStep == 5
        assert get(engine.frame, "system.simulation.time") == pytest.approx(0.005)
        engine.restart()
        back = simulation.context.getState(getPositions=True).getPositions(asNumpy=True)
        np.testing.assert_allclose(back._value, start._value)
        assert simulation.currentStep == 0
        assert engine.frame_index == 0
    finally:
        engine.stop()
    with pytest.raises(TypeError, match=r"openmm\.app\.Simulation"):
        framecast.OpenMMSimulation(object())
    with pytest.raises(ValueError, match="steps_per_frame"):
        framecast.OpenMMSimulation(simulation, steps_per_frame=0)


_REMOTE_CONTROLLER = textwrap.dedent(
    """
    # Runs commands read from stdin ("pause", "step N", "play N") against a framecast server,
    # and answers each on stdout once its effect has reached this client's frame.
    import json, sys, threading, time
    import framecast

    changed = threading.Condition()

    def on_update(update):
        with changed:
            changed.notify_all()

    def wait(condition, what):
        deadline = time.monotonic() + 30
        with changed:
            while not condition(client.frame):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit("timed out waiting for " + what)
                changed.wait(min(left, 0.05))

    keys = ("energy.kinetic", "energy.potential", "energy.total", "system.simulation.time")
    with framecast.Client(sys.argv[1]) as client:
        client.subscribe_frames(on_update, interval=0)
        wait(lambda f: "energy.potential" in f, "a frame with energies")
        for line in sys.stdin:
            command, *argument = line.split()
            if command == "pause":
                client.run_command("playback/pause")
            elif command == "step":
                client.run_command("playback/step")
                wait(lambda f: f.index == int(argument[0]), "the step")
            elif command == "play":
                client.run_command("playback/play")
                wait(lambda f: f.index >= int(argument[0]), "playing again")
            reply = {"index": client.frame.index, **{k: client.frame[k] for k in keys}}
            print(json.dumps(reply), flush=True)
    """
)


def test_openmm_steered_from_a_client_in_another_process(
    openmm_simulation: Any, session: framecast.Session
) -> None:
    engine = framecast.OpenMMSimulation(openmm_simulation, steps_per_frame=5)
    session.show(engine)
    controller = subprocess.Popen(
        [sys.executable, "-c", _REMOTE_CONTROLLER, f"127.0.0.1:{session.port}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdin, stdout, stderr = controller.stdin, controller.stdout, controller.stderr
    assert stdin is not None
    assert stdout is not None
    assert stderr is not None

    def ask(command: str) -> dict[str, Any]:
        stdin.write(command + "\n")
        stdin.flush()
        line = stdout.readline()
        assert line, stderr.read()
        reply: dict[str, Any] = json.loads(line)
        return reply

    try:
        ask("pause")
        assert not engine.is_playing
        assert not session.playing
        paused = engine.frame_index
        stepped = ask(f"step {paused + 1}")
        assert engine.frame_index == paused + 1  # exactly one frame, and still paused
        assert not engine.is_playing
        assert stepped["energy.kinetic"] > 0
        assert stepped["energy.total"] == pytest.approx(
            stepped["energy.kinetic"] + stepped["energy.potential"]
        )
        assert stepped["system.simulation.time"] == pytest.approx((paused + 1) * 0.005)
        assert stepped["energy.potential"] == get(engine.frame, "energy.potential")
        played = ask(f"play {paused + 6}")
        assert played["index"] >= paused + 6
        assert session.playing
    finally:
        stdin.close()
        controller.wait(timeout=30)
        stdout.close()
        stderr.close()
    assert controller.returncode == 0
    session.health_check()
