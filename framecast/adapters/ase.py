"""ASE: ``Atoms`` as a frame, a list or trajectory file of them as a ``Trajectory``, and a
live ``MolecularDynamics`` as a playable target. Needs the ``ase`` extra.

ASE works in Angstrom, eV and its own time unit; framecast converts to nm, kJ/mol and ps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast._support.progress import progress as progress_bar
from framecast.adapters._common import EV_TO_KJ_PER_MOL, check_files, require
from framecast.frame import ANGSTROM, FrameData
from framecast.targets.engine import LiveEngine
from framecast.targets.sequence import LoopMode
from framecast.targets.trajectory import Trajectory

__all__ = ["ASEDynamics", "from_ase"]


def _ase() -> Any:
    return require("ase", "ase", "framecast.from_ase")


def _topology(atoms: Any) -> dict[str, object]:
    numbers = np.asarray(atoms.get_atomic_numbers())
    symbols = atoms.get_chemical_symbols()
    fields: dict[str, object] = {
        "particle.count": len(atoms),
        "particle.elements": numbers,
        "particle.names": np.asarray(symbols, dtype=str),
    }
    box = _box(atoms)
    if box is not None:
        fields["system.box.vectors"] = box
    return fields


def _box(atoms: Any) -> npt.NDArray[np.float64] | None:
    """The cell in nm, when the system is periodic in every direction."""
    if not all(atoms.get_pbc()):
        return None
    return np.asarray(atoms.get_cell()[:], dtype=float) * ANGSTROM


def _potential(atoms: Any) -> float | None:
    """The potential energy in kJ/mol the calculator already has, computing nothing."""
    calc = atoms.calc
    if calc is None or "energy" not in getattr(calc, "results", {}):
        return None
    return float(calc.results["energy"]) * EV_TO_KJ_PER_MOL


def from_ase(
    atoms_or_trajectory: Any,
    *,
    fps: float = 30.0,
    mode: LoopMode = "loop",
    progress: bool | None = None,
) -> FrameData | Trajectory:
    """A single ``Atoms`` as a ``FrameData``; a list of ``Atoms``, an ASE ``Trajectory``
    or a path to a file ASE reads (every image of it) as a ``Trajectory``.

    Positions become nm, the cell (when periodic) the box in nm, and a stored energy
    ``energy.potential`` in kJ/mol per frame. Every image must have the same atoms.
    ``progress``: a bar while the images are read (True always, False never, None after
    2 s where someone watches: a notebook, a terminal).
    """
    ase = _ase()
    source = atoms_or_trajectory
    if isinstance(source, ase.Atoms):
        frame = FrameData(_topology(source))
        frame["particle.positions"] = source.get_positions() * ANGSTROM
        energy = _potential(source)
        if energy is not None:
            frame["energy.potential"] = energy
        return frame
    if isinstance(source, (str, os.PathLike)):
        (path,) = check_files([source])
        from ase.io import iread

        try:  # image by image, so that a bar can count them
            images: list[Any] = list(
                progress_bar(
                    iread(path, index=":"), total=None, what="reading images", show=progress
                )
            )
        except Exception as error:  # each ASE format raises its own kinds
            raise ValueError(f"ASE cannot read {path!r}: {error}") from error
    else:
        total = len(source) if hasattr(source, "__len__") else None
        images = list(progress_bar(source, total=total, what="reading images", show=progress))
    return _trajectory(ase, images, fps=fps, mode=mode)


def _trajectory(ase: Any, images: Sequence[Any], *, fps: float, mode: LoopMode) -> Trajectory:
    if not images:
        raise ValueError("there is no image to show")
    for i, image in enumerate(images):
        if not isinstance(image, ase.Atoms):
            raise TypeError(f"image {i} is a {type(image).__name__}, not an ase.Atoms")
    first = images[0]
    for i, image in enumerate(images):
        if len(image) != len(first) or not np.array_equal(
            image.get_atomic_numbers(), first.get_atomic_numbers()
        ):
            raise ValueError(
                f"image {i} has other atoms than image 0 ({len(image)} vs {len(first)} atoms): "
                "a trajectory needs the same atoms in every frame"
            )
    positions = np.array([image.get_positions() for image in images]) * ANGSTROM
    fields: dict[str, npt.ArrayLike] = {}
    energies = [_potential(image) for image in images]
    if all(e is not None for e in energies):
        fields["energy.potential"] = np.array(energies, dtype=float)
    boxes = [box for image in images if (box := _box(image)) is not None]
    topology = _topology(first)
    if len(boxes) == len(images) and any(not np.array_equal(b, boxes[0]) for b in boxes):
        topology.pop("system.box.vectors")  # the box changes: it goes with each frame
        fields["system.box.vectors"] = np.array(boxes)
    return Trajectory(positions, topology, fields=fields, fps=fps, mode=mode)


class ASEDynamics(LiveEngine[dict[str, Any]]):
    """Plays an ASE ``MolecularDynamics`` (``VelocityVerlet``, ``Langevin``, ...).

    Frames carry ``particle.positions`` (nm), ``energy.kinetic``, ``energy.potential``,
    ``energy.total`` (kJ/mol), ``system.temperature`` (K), ``system.simulation.time`` (ps)
    and the box when periodic. :meth:`restart` restores the positions, momenta, cell and
    step count the atoms had when wrapped; ``history`` recent frames are kept for
    :meth:`seek` and transitions.
    """

    def __init__(
        self,
        dynamics: Any,
        *,
        steps_per_frame: int = 5,
        interval: float = 1 / 30,
        history: int = 100,
    ) -> None:
        _ase()
        from ase.md.md import MolecularDynamics
        from ase.units import fs

        if not isinstance(dynamics, MolecularDynamics):
            raise TypeError(
                f"ASEDynamics wraps an ase.md MolecularDynamics, got {type(dynamics).__name__}"
            )
        if dynamics.atoms.calc is None:
            raise ValueError("the dynamics' atoms have no calculator: attach one (e.g. EMT())")
        super().__init__(
            steps_per_frame=steps_per_frame,
            interval=interval,
            history=history,
            name="framecast-ase",
        )
        self.dynamics: Any = dynamics
        self._ps = 1000 * fs  # ASE time units per ps
        self._start(_topology(dynamics.atoms))

    @property
    def atoms(self) -> Any:
        """The ``ase.Atoms`` being simulated."""
        return self.dynamics.atoms

    def _engine_step(self, steps: int) -> None:
        self.dynamics.run(steps)

    def _engine_fields(self) -> Mapping[str, object]:
        atoms = self.atoms
        kinetic = float(atoms.get_kinetic_energy()) * EV_TO_KJ_PER_MOL
        potential = float(atoms.get_potential_energy()) * EV_TO_KJ_PER_MOL
        fields: dict[str, object] = {
            "particle.positions": atoms.get_positions() * ANGSTROM,
            "energy.kinetic": kinetic,
            "energy.potential": potential,
            "energy.total": kinetic + potential,
            "system.temperature": float(atoms.get_temperature()),
            "system.simulation.time": float(self.dynamics.get_time()) / self._ps,
        }
        box = _box(atoms)
        if box is not None:
            fields["system.box.vectors"] = box
        return fields

    def _engine_masses(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.atoms.get_masses(), dtype=float)

    def _engine_push(self, forces: npt.NDArray[np.float64] | None) -> None:
        calc = self.atoms.calc
        if not isinstance(calc, _PushedForces):
            if forces is None:
                return
            calc = _PushedForces(calc)
            self.atoms.calc = calc
        # kJ/(mol nm) to eV/Angstrom
        calc.pushed = None if forces is None else forces * (ANGSTROM / EV_TO_KJ_PER_MOL)

    def _engine_save(self) -> dict[str, Any]:
        atoms = self.atoms
        return {
            "positions": atoms.get_positions(),
            "momenta": atoms.get_momenta(),
            "cell": atoms.get_cell().copy(),
            "nsteps": self.dynamics.nsteps,
        }

    def _engine_load(self, saved: dict[str, Any]) -> None:
        atoms = self.atoms
        atoms.set_cell(saved["cell"])
        atoms.set_positions(saved["positions"])
        atoms.set_momenta(saved["momenta"])
        self.dynamics.nsteps = saved["nsteps"]

    def __repr__(self) -> str:
        return (
            f"ASEDynamics({type(self.dynamics).__name__}, {len(self.atoms)} atoms, "
            f"step {self.dynamics.nsteps})"
        )


class _PushedForces:
    """Stands in for an ASE calculator: its forces plus :attr:`pushed` (eV/Angstrom);
    every other attribute is the wrapped calculator's."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pushed: npt.NDArray[np.float64] | None = None

    def get_forces(self, atoms: Any = None) -> npt.NDArray[np.float64]:
        forces = np.asarray(self.inner.get_forces(atoms), dtype=float)
        pushed = self.pushed
        return forces if pushed is None else forces + pushed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
