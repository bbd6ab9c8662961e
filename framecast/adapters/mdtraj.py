"""MDTraj: an ``mdtraj.Trajectory`` (already in memory, in nm and ps) as a framecast
``Trajectory``. Needs the ``mdtraj`` extra."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from framecast._support.progress import progress as progress_bar
from framecast._support.progress import shown
from framecast.adapters._common import check_files, index_of, require, topology_fields
from framecast.frame import TIME_KEY
from framecast.targets.sequence import LoopMode
from framecast.targets.trajectory import Trajectory

__all__ = ["from_mdtraj"]

#: Frames read at a time from a file (a bar moves once per chunk).
_CHUNK = 100


def from_mdtraj(
    traj: Any,
    *,
    top: str | os.PathLike[str] | None = None,
    fps: float = 30.0,
    mode: LoopMode = "loop",
    progress: bool | None = None,
) -> Trajectory:
    """A trajectory of an ``mdtraj.Trajectory``, or of a file MDTraj loads (with ``top``).

    Positions, box vectors and times are already in nm and ps in MDTraj. Elements come from
    the topology (0 for virtual sites); chains are MDTraj's chain ids, or their indices
    when the file names none. ``progress``: a bar while a file is read (True always, False
    never, None after 2 s where someone watches: a notebook, a terminal).
    """
    md = require("mdtraj", "mdtraj", "framecast.from_mdtraj")
    if isinstance(traj, (str, os.PathLike)):
        files = check_files([traj, *([] if top is None else [top])])
        try:
            traj = _read(md, files[0], files[1] if len(files) > 1 else None, progress)
        except (ValueError, OSError, TypeError, KeyError, IndexError) as error:
            raise ValueError(
                f"MDTraj cannot read {', '.join(map(repr, files))}: {error}"
            ) from error
    if not isinstance(traj, md.Trajectory):
        raise TypeError(
            f"from_mdtraj takes an mdtraj.Trajectory or a path, got {type(traj).__name__}"
        )
    if traj.n_frames == 0 or traj.n_atoms == 0:
        raise ValueError(
            f"the MDTraj trajectory is empty ({traj.n_frames} frames, {traj.n_atoms} atoms)"
        )
    fields: dict[str, Any] = {TIME_KEY: np.asarray(traj.time, dtype=float)}
    boxes = traj.unitcell_vectors
    if boxes is not None and np.all(np.isfinite(boxes)) and np.all(traj.unitcell_lengths > 0):
        fields["system.box.vectors"] = np.asarray(boxes, dtype=float)
    return Trajectory(traj.xyz, _topology(traj.topology), fields=fields, fps=fps, mode=mode)


def _read(md: Any, path: str, top: str | None, show: bool | None) -> Any:
    """The whole file: in one call, or in chunks of frames that a bar counts when one may
    be shown and the format knows its length."""
    if not shown(show):
        return md.load(path, top=top)
    try:  # most trajectory formats know their length without reading every frame
        with md.open(path) as handle:
            total = len(handle)
    except (ValueError, OSError, TypeError, NotImplementedError, AttributeError, KeyError):
        return md.load(path, top=top)
    chunks = md.iterload(path, top=top, chunk=_CHUNK)
    read = list(progress_bar(chunks, total=total, what="reading frames", show=show, size=len))
    if not read:
        raise ValueError(f"MDTraj found no frame in {path!r}")
    return read[0] if len(read) == 1 else md.join(read, check_topology=False)


def _topology(topology: Any) -> dict[str, object]:
    atoms = list(topology.atoms)
    residues = list(topology.residues)
    chain_ids = [getattr(chain, "chain_id", None) or str(chain.index) for chain in topology.chains]
    chain_of_residue, chain_names = index_of([chain_ids[r.chain.index] for r in residues])
    return topology_fields(
        elements=[0 if a.element is None else a.element.atomic_number or 0 for a in atoms],
        names=[a.name for a in atoms],
        residue_of_particle=[a.residue.index for a in atoms],
        residue_names=[r.name for r in residues],
        residue_ids=[r.resSeq for r in residues],
        chain_of_residue=chain_of_residue,
        chain_names=chain_names,
        bonds=[(bond[0].index, bond[1].index) for bond in topology.bonds],
    )
