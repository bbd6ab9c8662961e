"""MDAnalysis: any topology and trajectory it reads, as a framecast ``Trajectory``.

Needs the ``mdanalysis`` extra. Frames fit in memory up to ``memory_budget`` bytes of
positions and are then read once, up front; a larger trajectory is *streamed*: each frame is
read from the file when it is shown, through a private copy of the universe (so your own
iteration of it is not disturbed), with the last few frames kept decoded.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast._support.extras import quiet_mdanalysis
from framecast._support.progress import progress as progress_bar
from framecast.adapters._common import (
    check_files,
    index_of,
    require,
    topology_fields,
)
from framecast.frame import ANGSTROM, TIME_KEY
from framecast.targets.sequence import LoopMode
from framecast.targets.trajectory import Trajectory

__all__ = ["DEFAULT_MEMORY_BUDGET", "from_mdanalysis"]

log = logging.getLogger(__name__)

#: Bytes of positions (frames x atoms x 12) loaded into memory; a larger trajectory streams.
DEFAULT_MEMORY_BUDGET = 512 * 2**20

_BOX_KEY = "system.box.vectors"


def _mda() -> Any:
    return require("MDAnalysis", "mdanalysis", "framecast.from_mdanalysis")


def from_mdanalysis(
    universe_or_paths: Any,
    selection: str | None = None,
    *,
    fps: float = 30.0,
    mode: LoopMode = "loop",
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    guess_bonds: bool = True,
    progress: bool | None = None,
) -> Trajectory:
    """A trajectory of a ``Universe``, an ``AtomGroup``, or files MDAnalysis reads.

    Parameters
    ----------
    universe_or_paths
        An ``MDAnalysis.Universe`` or ``AtomGroup``, a path, or a sequence of paths: a
        topology followed by trajectory files (``["top.psf", "traj.dcd"]``).
    selection
        An MDAnalysis selection (``"protein"``, ``"not resname SOL"``) of the atoms to show.
    memory_budget
        Bytes of positions loaded into memory at most; a larger trajectory is streamed from
        its file, frame by frame (see the module's docstring).
    guess_bonds
        When the topology has no bonds, guess them from distances and van der Waals radii
        (MDAnalysis' guesser, on the first frame). Skipped, with a log message, when an
        element has no known radius.
    progress
        A bar while the frames are read into memory: True always, False never, None (the
        default) after 2 s of reading where someone watches (a notebook, a terminal).

    Raises ``FileNotFoundError`` naming a missing file, ``ValueError`` naming the files
    MDAnalysis cannot read (an unknown format, atom counts that differ between topology and
    trajectory) or the selection it cannot parse or that matches nothing, and
    ``ImportError`` naming the extra when MDAnalysis is not installed.
    """
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < 0:
        raise ValueError(f"memory_budget must be an int >= 0 bytes, got {memory_budget!r}")
    mda = _mda()
    atoms = _atoms(mda, universe_or_paths, selection)
    universe = atoms.universe
    n_frames = universe.trajectory.n_frames
    topology = _topology(atoms, guess_bonds)
    if n_frames * atoms.n_atoms * 12 <= memory_budget:
        positions, fields = _load(atoms, progress)
        return Trajectory(positions, topology, fields=fields, fps=fps, mode=mode)
    log.info(
        "streaming %d frames of %d atoms (over the %d-byte memory budget)",
        n_frames,
        atoms.n_atoms,
        memory_budget,
    )
    return Trajectory(_StreamReader(atoms), topology, fps=fps, mode=mode)


def _atoms(mda: Any, source: Any, selection: str | None) -> Any:
    """The atoms to show, in a universe of their own."""
    with quiet_mdanalysis():
        if isinstance(source, mda.AtomGroup):
            # A private copy: reading frames moves the copy's cursor, not the caller's.
            atoms = source.universe.copy().atoms[source.indices]
        elif isinstance(source, mda.Universe):
            atoms = source.copy().atoms
        else:
            paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
            atoms = _open(mda, check_files(paths)).atoms
    if selection is not None:
        try:
            atoms = atoms.select_atoms(selection)
        except Exception as error:  # MDAnalysis raises several kinds for a bad selection
            raise ValueError(
                f"MDAnalysis cannot parse the selection {selection!r}: {error}"
            ) from error
        if atoms.n_atoms == 0:
            raise ValueError(f"the selection {selection!r} matches no atom")
    if atoms.n_atoms == 0:
        raise ValueError("there is no atom to show")
    return atoms


def _open(mda: Any, files: Sequence[str]) -> Any:
    names = ", ".join(repr(f) for f in files)
    # A reader that failed to open its file fails again in its __del__ (it closes what it
    # never opened), which Python prints as "Exception ignored in ... __del__" with a
    # traceback. Those readers are freed here, with that report logged instead.
    hook = sys.unraisablehook
    sys.unraisablehook = _log_unraisable
    try:
        try:
            with quiet_mdanalysis():
                return mda.Universe(*files)
        except (ValueError, TypeError, OSError, EOFError, RuntimeError, KeyError, IndexError) as e:
            message = f"MDAnalysis cannot read {names}: {' '.join(str(e).split())}"
        gc.collect()
    finally:
        sys.unraisablehook = hook
    raise ValueError(message)


def _log_unraisable(report: Any) -> None:
    log.debug("MDAnalysis, while freeing a failed reader: %r", report.exc_value)


def _elements(atoms: Any) -> npt.NDArray[np.uint8]:
    """Atomic numbers from the file's elements, or guessed from the atom names by
    MDAnalysis' default guesser where the file gives none."""
    from MDAnalysis.guesser.default_guesser import DefaultGuesser

    from framecast.elements import atomic_number

    given = atoms.elements if hasattr(atoms, "elements") else [""] * atoms.n_atoms
    guesser = DefaultGuesser(None)
    guessed: dict[str, str] = {}
    out = np.empty(atoms.n_atoms, dtype=np.uint8)
    for i, (element, name) in enumerate(zip(given, atoms.names, strict=True)):
        number = atomic_number(element)
        if number == 0:
            if name not in guessed:
                guessed[name] = guesser.guess_atom_element(name)
            number = atomic_number(guessed[name])
        out[i] = number
    return out


def _bonds(atoms: Any, elements: npt.NDArray[np.uint8], guess: bool) -> npt.NDArray[np.int64]:
    """Bonds between shown atoms, as pairs of indices into ``atoms``: the topology's, or
    guessed when it has none."""
    if hasattr(atoms.universe, "bonds"):
        lookup = np.full(atoms.universe.atoms.n_atoms, -1, dtype=np.int64)
        lookup[atoms.indices] = np.arange(atoms.n_atoms)
        pairs = np.asarray(atoms.intra_bonds.indices, dtype=np.int64).reshape(-1, 2)
        return lookup[pairs]
    if not guess:
        return np.empty((0, 2), dtype=np.int64)
    return _guess_bonds(atoms.positions, elements, atoms.universe.dimensions)


def _guess_bonds(
    positions: npt.NDArray[np.float32],
    elements: npt.NDArray[np.uint8],
    box: npt.NDArray[np.float32] | None,
) -> npt.NDArray[np.int64]:
    """MDAnalysis' (and VMD's) rule, vectorised: atoms i and j are bonded when closer than
    0.55 x the sum of their van der Waals radii (Angstrom), and farther than 0.1."""
    from MDAnalysis.guesser import tables
    from MDAnalysis.lib.distances import self_capped_distance

    from framecast.elements import SYMBOLS

    symbols = [SYMBOLS[z].upper() for z in elements]
    missing = sorted({s for s in symbols if s not in tables.vdwradii})
    if missing:
        log.info("no bonds guessed: no van der Waals radius for %s", ", ".join(missing))
        return np.empty((0, 2), dtype=np.int64)
    radii = np.array([tables.vdwradii[s] for s in symbols])
    usable_box = box if box is not None and np.all(np.asarray(box)[:3] > 0) else None
    pairs, distances = self_capped_distance(
        positions, max_cutoff=2.0 * radii.max(), min_cutoff=0.1, box=usable_box
    )
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    bonded = distances < 0.55 * (radii[pairs[:, 0]] + radii[pairs[:, 1]])
    return np.sort(pairs[bonded], axis=1)


def _topology(atoms: Any, guess_bonds: bool) -> dict[str, object]:
    elements = _elements(atoms)
    residues = atoms.residues
    residue_of_particle = np.searchsorted(residues.resindices, atoms.resindices)
    if hasattr(atoms, "chainIDs") and all(atoms.chainIDs):
        # A residue's chain: that of its first shown atom.
        first = np.unique(residue_of_particle, return_index=True)[1]
        residue_chain_names = np.asarray(atoms.chainIDs)[first]
    else:
        residue_chain_names = np.asarray(residues.segids)
    chain_of_residue, chain_names = index_of(residue_chain_names)
    return topology_fields(
        elements=elements,
        names=atoms.names,
        residue_of_particle=residue_of_particle,
        residue_names=residues.resnames,
        residue_ids=residues.resids,
        chain_of_residue=chain_of_residue,
        chain_names=chain_names,
        bonds=_bonds(atoms, elements, guess=guess_bonds),
    )


def _box(dimensions: npt.ArrayLike | None) -> npt.NDArray[np.float64] | None:
    if dimensions is None:
        return None
    dims = np.asarray(dimensions, dtype=float)
    if dims.shape != (6,) or not np.all(dims[:3] > 0):
        return None
    from MDAnalysis.lib.mdamath import triclinic_vectors

    return np.asarray(triclinic_vectors(dims), dtype=float) * ANGSTROM


def _frame_fields(atoms: Any, ts: Any) -> dict[str, object]:
    fields: dict[str, object] = {
        "particle.positions": (atoms.positions * ANGSTROM).astype("<f4"),
        TIME_KEY: float(ts.time),
    }
    box = _box(ts.dimensions)
    if box is not None:
        fields[_BOX_KEY] = box
    return fields


def _load(
    atoms: Any, show: bool | None
) -> tuple[npt.NDArray[np.float32], dict[str, npt.ArrayLike]]:
    """Every frame's positions, times and boxes, read once (with a bar, see ``show``)."""
    trajectory = atoms.universe.trajectory
    positions = np.empty((trajectory.n_frames, atoms.n_atoms, 3), dtype="<f4")
    times = np.empty(trajectory.n_frames)
    boxes: list[npt.NDArray[np.float64] | None] = []
    with quiet_mdanalysis():
        frames = progress_bar(
            trajectory, total=trajectory.n_frames, what="reading frames", show=show
        )
        for i, ts in enumerate(frames):
            positions[i] = atoms.positions * ANGSTROM
            times[i] = ts.time
            boxes.append(_box(ts.dimensions))
        trajectory[0]
    fields: dict[str, npt.ArrayLike] = {TIME_KEY: times}
    if all(box is not None for box in boxes):
        fields[_BOX_KEY] = np.array(boxes)
    return positions, fields


class _StreamReader:
    """Reads frame ``index`` from the file on demand (``Trajectory`` serialises calls)."""

    def __init__(self, atoms: Any) -> None:
        self._atoms = atoms
        self._trajectory = atoms.universe.trajectory

    @property
    def frame_count(self) -> int:
        return int(self._trajectory.n_frames)

    @property
    def particle_count(self) -> int:
        return int(self._atoms.n_atoms)

    def read(self, index: int) -> dict[str, object]:
        return _frame_fields(self._atoms, self._trajectory[index])
