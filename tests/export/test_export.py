"""Export: a trajectory, a replay and a live engine's history, written through MDAnalysis
and read back by MDAnalysis, with positions equal to each format's precision."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np
import pytest

import framecast
from framecast import Session
from framecast.testing import wait_until
from framecast.testing.extras import require

#: Format -> the largest difference it may leave, in nm (XTC keeps 3 decimals of nm; PDB 3 of
#: Angstrom and GRO 3 of nm, as text; DCD and TRR keep float32).
PRECISION = {"xtc": 6e-4, "trr": 1e-6, "dcd": 1e-6, "pdb": 6e-5, "gro": 6e-4}


def _read(path: Path, topology: Path) -> tuple[np.ndarray, list[float], tuple[list[str], Any]]:
    """Every frame's positions (nm) and time (ps), and the atom names, as MDAnalysis reads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MDAnalysis guesses what a file lacks, loudly
        universe = (
            mda.Universe(str(topology), str(path)) if path != topology else mda.Universe(str(path))
        )
        frames = [(universe.atoms.positions * 0.1, ts.time) for ts in universe.trajectory]
        names = list(universe.atoms.names)
        box = universe.trajectory[0].dimensions
    return np.array([f for f, _ in frames]), [t for _, t in frames], (names, box)


@pytest.mark.parametrize("suffix", ["xtc", "trr", "dcd", "pdb", "gro"])
def test_a_trajectory_written_reads_back_within_the_format_precision(
    tmp_path: Path, suffix: str
) -> None:
    trajectory = framecast.demo.argon_trajectory(n=30, frames=8)
    topology = trajectory.to_file(tmp_path / "top.pdb", frames=[0])
    # A GRO file is one frame to MDAnalysis (GROMACS reads more); PDB keeps its MODELs.
    shown = [3] if suffix == "gro" else list(range(8))
    path = trajectory.to_file(tmp_path / f"run.{suffix}", frames=shown)
    positions, times, (names, box) = _read(path, topology if suffix in "xtc trr dcd" else path)
    assert len(positions) == len(shown)
    expected = np.array([trajectory.context(i)["particle.positions"] for i in shown])
    assert np.abs(positions - expected).max() <= PRECISION[suffix]
    assert names[:2] == ["Ar", "Ar"]
    side = float(np.asarray(trajectory.context(0)["system.box.vectors"])[0, 0])
    if suffix != "pdb":  # MDAnalysis reads no box from a PDB of several MODELs
        assert box is not None
        assert abs(box[0] * 0.1 - side) < 1e-3
    if suffix in ("xtc", "trr"):
        expected_times = [float(trajectory.context(i)["system.simulation.time"]) for i in shown]
        assert np.allclose(times, expected_times, atol=1e-3)


def test_a_replay_and_a_live_history_export_their_frames(tmp_path: Path, no_leaks: None) -> None:
    trajectory = framecast.demo.argon_trajectory(n=12, frames=20)
    recording = tmp_path / "run.fcrec"
    with Session(trajectory, port=0, autoplay=False) as session:
        recorder = session.record(recording)
        wait_until(lambda: recorder.frames_written == 1, what="the first frame")
        for _ in range(5):
            session.step()
            wait_until(lambda: recorder.frames_written >= trajectory.frame_index + 1, what="step")
        recorder.stop()
    replay = framecast.replay(recording)
    try:
        path = replay.to_file(tmp_path / "replayed.dcd")
        topology = replay.to_file(tmp_path / "replayed.pdb", frames=[0])
        positions, _, _ = _read(path, topology)
        assert len(positions) == 6
        for frame in range(6):
            expected = trajectory.context(frame)["particle.positions"]
            assert np.abs(positions[frame] - expected).max() <= PRECISION["dcd"]
    finally:
        replay.close()

    simulation = framecast.demo.argon(20)
    for _ in range(6):
        simulation.step()
    history = simulation.frame_range
    path = simulation.to_file(tmp_path / "live.xtc", frames=list(history)[-4:])
    topology = simulation.to_file(tmp_path / "live.pdb", frames=[history.stop - 1])
    positions, _, _ = _read(path, topology)
    assert len(positions) == 4
    last = simulation.context(history.stop - 1)["particle.positions"]
    assert np.abs(positions[-1] - last).max() <= PRECISION["xtc"]


def test_export_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    states = framecast.Recording(["a", "b"])
    with pytest.raises(ValueError, match=r"has no particle\.positions to write"):
        states.to_file(tmp_path / "states.xtc")
    trajectory = framecast.demo.argon_trajectory(n=5, frames=3)
    with pytest.raises(IndexError, match=r"frame 7 is not available: frames are 0\.\.2"):
        trajectory.to_file(tmp_path / "x.xtc", frames=[7])


def test_a_movie_drawn_headlessly_is_a_gif_and_an_mp4_of_every_frame(tmp_path: Path) -> None:
    import imageio.v2 as imageio

    from framecast.export.movie import render_frames, write_movie

    trajectory = framecast.demo.argon_trajectory(n=60, frames=12)
    first, last = render_frames(trajectory, [0, 11], size=(160, 120))
    assert first.shape == (120, 160, 3)
    assert first.dtype == np.uint8
    lit = (np.abs(first.astype(int) - 30).sum(axis=2) > 40).mean()
    assert 0.1 < lit < 0.95, "the particles fill part of the picture"
    assert not np.array_equal(first, last), "the frames differ as the particles move"
    # Argon is drawn in Jmol's argon colour (cyan): blue and green above red.
    mean = first[np.abs(first.astype(int) - 30).sum(axis=2) > 40].mean(axis=0)
    assert mean[2] > mean[0]
    assert mean[1] > mean[0]
    gif = write_movie(trajectory, tmp_path / "argon.gif", fps=10, size=(160, 120))
    shown = imageio.mimread(gif)
    assert len(shown) == 12
    assert shown[0].shape[:2] == (120, 160)
    # Later frames carry their changes only; read back, each is the frame drawn (within the
    # one palette's rounding), the last as well as the first.
    for index, drawn in ((0, first), (11, last)):
        error = np.abs(np.asarray(shown[index])[..., :3].astype(int) - drawn.astype(int)).mean()
        assert error < 6, (index, error)
    for bad in ("x.avi2", "x"):
        with pytest.raises(ValueError, match=r"name it \.gif, or \.mp4"):
            write_movie(trajectory, tmp_path / bad)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        write_movie(trajectory, tmp_path / "nowhere" / "x.gif")
    mp4 = write_movie(trajectory, tmp_path / "argon.mp4", frames=range(0, 12, 2), fps=10)
    reader: Any = imageio.get_reader(mp4)
    with reader:
        assert reader.count_frames() == 6
        assert reader.get_meta_data()["fps"] == 10
    with pytest.raises(ValueError, match="fps must be > 0"):
        write_movie(trajectory, tmp_path / "x.gif", fps=0)


def test_the_element_tables_match_the_viewer() -> None:
    """The headless movie draws with the notebook viewer's colours and radii."""
    import re

    from framecast.elements import JMOL_COLOURS, VDW_RADII

    source = (Path(__file__).parents[2] / "labextension/src/widgets/colours.ts").read_text()
    colours = source.split("const COLOURS")[1].split("};")[0]
    radii = source.split("const VDW")[1].split("};")[0]
    assert {int(k): int(v, 16) for k, v in re.findall(r"(\d+): (0x[0-9a-f]+)", colours)} == (
        JMOL_COLOURS
    )
    assert {int(k): float(v) for k, v in re.findall(r"(\d+): ([\d.]+)", radii)} == VDW_RADII


def test_exports_show_progress_when_asked_and_not_when_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from framecast.export.files import to_file
    from framecast.export.movie import write_movie

    trajectory = framecast.demo.argon_trajectory(n=10, frames=6)
    capsys.readouterr()
    to_file(trajectory, tmp_path / "a.pdb", progress=True)
    assert "writing a.pdb" in capsys.readouterr().err
    to_file(trajectory, tmp_path / "b.pdb", progress=False)
    assert capsys.readouterr().err == ""
    require("imageio")  # the movie extra: a failure in CI, a skip elsewhere
    write_movie(trajectory, tmp_path / "a.gif", size=(64, 48), progress=True)
    assert "drawing a.gif" in capsys.readouterr().err
    write_movie(trajectory, tmp_path / "b.gif", size=(64, 48), progress=False)
    assert capsys.readouterr().err == ""
    framecast.export_html(trajectory, tmp_path / "a.html", progress=True)
    assert "exporting a.html" in capsys.readouterr().err
    framecast.export_html(trajectory, tmp_path / "b.html", progress=False)
    assert capsys.readouterr().err == ""
