"""MDTraj: an ``mdtraj.Trajectory`` (already in memory, in nm and ps) as a framecast
``Trajectory``. Needs the ``mdtraj`` extra."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from framecast.adapters._common import check_files, index_of, require, topology_fields
from framecast.frame import TIME_KEY
from framecast.targets.sequence import LoopMode
from framecast.targets.trajectory import Trajectory

__all__ = ["from_mdtraj"]


def from_mdtraj(
    traj: Any,
    *,
    top: str | os.PathLike[str] | None = None,
    fps: float = 30.0,
    mode: LoopMode = "loop",
) -> Trajectory:
    """A trajectory of an ``mdtraj.Trajectory``, or of a file MDTraj loads (with ``top``).

    Positions, box vectors and times are already in nm and ps in MDTraj. Elements come from
    the topology (0 for virtual sites); chains are MDTraj's chain ids, or their indices
    when the file names none.
    """
    md = require("mdtraj", "mdtraj", "framecast.from_mdtraj")
    if isinstance(traj, (str, os.PathLike)):
        files = check_files([traj, *([] if top is None else [top])])
        try:
            traj = md.load(files[0], top=files[1] if len(files) > 1 else None)
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
