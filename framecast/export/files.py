"""Export a timeline's frames to the files other tools read, through MDAnalysis' writers.

Needs the ``mdanalysis`` extra. The format comes from the file name (XTC, DCD, TRR, PDB,
GRO, and whatever else MDAnalysis writes). Positions and the box go from framecast's
nanometres to MDAnalysis' Angstrom; names, elements, residues and chains go along where the
frames have them, and the time (``system.simulation.time``, ps) for the formats that keep it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast._support.extras import quiet_mdanalysis, require
from framecast._support.progress import progress as progress_bar
from framecast.elements import SYMBOLS
from framecast.frame import ANGSTROM, TIME_KEY, FrameData
from framecast.timeline import TimelineBase

__all__ = ["to_file"]

_BOX_KEY = "system.box.vectors"


def _universe(mda: Any, first: FrameData, count: int) -> Any:
    """An empty universe of ``count`` atoms with the first frame's topology."""
    residues = first.get("particle.residues")
    resindex = np.asarray(residues, dtype=np.int64) if residues is not None else None
    n_residues = int(resindex.max()) + 1 if resindex is not None and count else 1
    universe = mda.Universe.empty(
        count,
        n_residues=n_residues,
        atom_resindex=resindex if resindex is not None else np.zeros(count, dtype=np.int64),
        trajectory=True,
    )
    elements = first.get("particle.elements")
    symbols = (
        [SYMBOLS[int(z)] if 0 < int(z) < len(SYMBOLS) else "X" for z in np.asarray(elements)]
        if elements is not None
        else ["X"] * count
    )
    names = first.get("particle.names")
    universe.add_TopologyAttr("names", list(np.asarray(names)) if names is not None else symbols)
    universe.add_TopologyAttr("elements", symbols)
    universe.add_TopologyAttr("types", symbols)
    resnames = first.get("residue.names")
    universe.add_TopologyAttr(
        "resnames", list(np.asarray(resnames)) if resnames is not None else ["UNK"] * n_residues
    )
    universe.add_TopologyAttr("resids", np.arange(1, n_residues + 1))
    return universe


def to_file(
    timeline: TimelineBase,
    path: str | os.PathLike[str],
    *,
    frames: Sequence[int] | None = None,
    progress: bool | None = None,
) -> Path:
    """Write ``frames`` of ``timeline`` (default: every frame available) to ``path``;
    returns the path. Raises ``ValueError`` for a timeline without positions, or frames
    whose particle count changes; ``ImportError`` naming the extra without MDAnalysis.
    ``progress``: a bar (see :func:`framecast._support.progress.progress`)."""
    mda = require("MDAnalysis", "mdanalysis", "to_file")
    indices, first, positions = frames_of(timeline, frames, "write")
    count = positions.shape[0]
    target = Path(path)
    # MDAnalysis warns of every attribute a format has and the frames do not (altLocs,
    # occupancies, ...); it writes its defaults, which is what an export wants.
    with quiet_mdanalysis():
        universe = _universe(mda, first, count)
        _write(mda, universe, timeline, indices, first, target, progress)
    return target


def _write(
    mda: Any,
    universe: Any,
    timeline: TimelineBase,
    indices: list[int],
    first: FrameData,
    target: Path,
    show: bool | None,
) -> None:
    count = universe.atoms.n_atoms
    what = f"writing {target.name}"
    with mda.Writer(str(target), n_atoms=count) as writer:
        for index in progress_bar(indices, total=len(indices), what=what, show=show):
            frame = first if index == indices[0] else timeline.context(index)
            shown = frame.positions
            if shown is None or shown.shape[0] != count:
                raise ValueError(
                    f"frame {index} has {0 if shown is None else len(shown)} "
                    f"particles, not {count}: one file holds one system"
                )
            universe.atoms.positions = np.asarray(shown, dtype=np.float64) / ANGSTROM
            box = frame.get(_BOX_KEY)
            if box is not None:
                vectors = np.asarray(box, dtype=np.float64).reshape(3, 3) / ANGSTROM
                universe.dimensions = mda.lib.mdamath.triclinic_box(*vectors)
            time = frame.get(TIME_KEY)
            if isinstance(time, float | int):
                universe.trajectory.ts.time = float(time)
            universe.trajectory.ts.frame = index
            writer.write(universe.atoms)


def frames_of(
    timeline: TimelineBase, frames: Sequence[int] | None, what: str
) -> tuple[list[int], FrameData, npt.NDArray[np.float32]]:
    """The indices of ``frames`` (default: every frame available), the first frame and its
    positions, for an export that ``what`` names ("write", "draw", "show"). ``ValueError``
    when there is no frame or no position; ``IndexError`` for a frame not available."""
    indices = list(timeline.frame_range if frames is None else frames)
    if not indices:
        raise ValueError(f"no frame to {what}: the timeline has none")
    first = timeline.context(indices[0])
    positions = first.positions
    if positions is None:
        raise ValueError(f"{type(timeline).__name__} has no particle.positions to {what}")
    return indices, first, positions
