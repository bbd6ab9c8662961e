"""OpenMM: a live ``openmm.app.Simulation`` as a playable target. Needs the ``openmm`` extra.

Everything goes through OpenMM's own API, never a file: ``Simulation.step`` advances,
``Context.getState`` reads positions, box, energies and time, and ``Context.setState``
restores a saved ``State`` (restart and seek).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast.adapters._common import index_of, require, topology_fields
from framecast.targets.engine import LiveEngine

__all__ = ["OpenMMSimulation"]


class OpenMMSimulation(LiveEngine[tuple[Any, int]]):
    """Plays an ``openmm.app.Simulation``: ``steps_per_frame`` steps per frame.

    Frames carry ``particle.positions`` (nm), ``system.box.vectors`` (periodic systems),
    ``energy.kinetic``, ``energy.potential``, ``energy.total`` (kJ/mol),
    ``system.temperature`` (K, with OpenMM's count of degrees of freedom) and
    ``system.simulation.time`` (ps), plus the topology of ``simulation.topology``.

    :meth:`restart` goes back to the state the simulation had when wrapped; the last
    ``history`` frames are kept (OpenMM ``State`` objects), so the run is a timeline and
    :meth:`seek` resumes from any kept frame.

    Interactive forces (see :meth:`~framecast.Session.interact`) go through a
    ``CustomExternalForce`` added to the system, in a force group of its own, the first
    time one applies (the context is reinitialised once, keeping its state); its
    parameters change between frames. Reported energies leave that group out.
    """

    def __init__(
        self,
        simulation: Any,
        *,
        steps_per_frame: int = 10,
        interval: float = 1 / 30,
        history: int = 100,
    ) -> None:
        mm = require("openmm", "openmm", "framecast.OpenMMSimulation")
        app = require("openmm.app", "openmm", "framecast.OpenMMSimulation")
        if not isinstance(simulation, app.Simulation):
            raise TypeError(
                f"OpenMMSimulation wraps an openmm.app.Simulation, got {type(simulation).__name__}"
            )
        super().__init__(
            steps_per_frame=steps_per_frame,
            interval=interval,
            history=history,
            name="framecast-openmm",
        )
        self.simulation = simulation
        self._unit = require("openmm.unit", "openmm", "framecast.OpenMMSimulation")
        system = simulation.system
        self._periodic = bool(system.usesPeriodicBoundaryConditions())
        self._dof = _degrees_of_freedom(mm, system)
        self._user_force: Any = None  # the CustomExternalForce, made on first use
        self._user_group = -1
        self._pushed: set[int] = set()  # particles whose user force is not zero now
        self._start(_topology(simulation.topology))

    def _engine_step(self, steps: int) -> None:
        self.simulation.step(steps)

    def _engine_fields(self) -> Mapping[str, object]:
        u = self._unit
        # Energies leave out the group that carries interactive forces.
        groups = {}
        if self._user_force is not None:
            groups["groups"] = 0xFFFFFFFF ^ (1 << self._user_group)
        state = self.simulation.context.getState(getPositions=True, getEnergy=True, **groups)
        kinetic = state.getKineticEnergy().value_in_unit(u.kilojoule_per_mole)
        potential = state.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
        fields: dict[str, object] = {
            "particle.positions": state.getPositions(asNumpy=True).value_in_unit(u.nanometer),
            "energy.kinetic": float(kinetic),
            "energy.potential": float(potential),
            "energy.total": float(kinetic + potential),
            "system.simulation.time": float(state.getTime().value_in_unit(u.picosecond)),
        }
        if self._dof > 0:
            gas_constant = u.MOLAR_GAS_CONSTANT_R.value_in_unit(u.kilojoule_per_mole / u.kelvin)
            fields["system.temperature"] = float(2 * kinetic / (self._dof * gas_constant))
        if self._periodic:
            box = state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(u.nanometer)
            fields["system.box.vectors"] = box
        return fields

    def _engine_masses(self) -> npt.NDArray[np.float64]:
        system, dalton = self.simulation.system, self._unit.dalton
        count = system.getNumParticles()
        return np.array([system.getParticleMass(i).value_in_unit(dalton) for i in range(count)])

    def _engine_push(self, forces: npt.NDArray[np.float64] | None) -> None:
        if forces is None and not self._pushed:
            return
        force = self._user_force if self._user_force is not None else self._add_user_force()
        now = set() if forces is None else set(np.flatnonzero(np.any(forces != 0, axis=1)).tolist())
        for particle in now | self._pushed:
            value = (0.0, 0.0, 0.0) if forces is None else tuple(float(f) for f in forces[particle])
            force.setParticleParameters(particle, particle, value)
        force.updateParametersInContext(self.simulation.context)
        self._pushed = now

    def _add_user_force(self) -> Any:
        """Add the force that carries interactive forces: energy -F.x per particle, so its
        force is F, with F a per-particle parameter; in a group no other force uses."""
        mm = require("openmm", "openmm", "framecast.OpenMMSimulation")
        system = self.simulation.system
        used = {f.getForceGroup() for f in system.getForces()}
        free = [g for g in range(31, -1, -1) if g not in used]
        if not free:
            raise RuntimeError(
                "interactive forces need a free OpenMM force group, and all 32 are used"
            )
        force = mm.CustomExternalForce("-fx*x-fy*y-fz*z")
        for name in ("fx", "fy", "fz"):
            force.addPerParticleParameter(name)
        for particle in range(system.getNumParticles()):
            force.addParticle(particle, (0.0, 0.0, 0.0))
        force.setForceGroup(free[0])
        system.addForce(force)
        self.simulation.context.reinitialize(preserveState=True)
        self._user_force, self._user_group = force, free[0]
        return force

    def _engine_save(self) -> tuple[Any, int]:
        state = self.simulation.context.getState(
            getPositions=True, getVelocities=True, getParameters=True
        )
        return state, int(self.simulation.currentStep)

    def _engine_load(self, saved: tuple[Any, int]) -> None:
        state, step = saved
        self.simulation.context.setState(state)  # positions, velocities, box, time
        self.simulation.currentStep = step

    def __repr__(self) -> str:
        n = self.simulation.topology.getNumAtoms()
        return f"OpenMMSimulation({n} atoms, step {self.simulation.currentStep})"


def _degrees_of_freedom(mm: Any, system: Any) -> int:
    """3 per massive particle, less constraints and the removed centre-of-mass motion,
    as OpenMM's StateDataReporter counts them."""
    massive = [i for i in range(system.getNumParticles()) if system.getParticleMass(i)._value > 0]
    dof = 3 * len(massive)
    massive_set = set(massive)
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        if p1 in massive_set or p2 in massive_set:
            dof -= 1
    if any(isinstance(f, mm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


def _topology(topology: Any) -> dict[str, object]:
    atoms = list(topology.atoms())
    residues = list(topology.residues())
    chain_of_residue, chain_names = index_of([r.chain.id or str(r.chain.index) for r in residues])
    return topology_fields(
        elements=[0 if a.element is None else a.element.atomic_number for a in atoms],
        names=[a.name for a in atoms],
        residue_of_particle=[a.residue.index for a in atoms],
        residue_names=[r.name for r in residues],
        residue_ids=[_number(r.id, r.index) for r in residues],
        chain_of_residue=chain_of_residue,
        chain_names=chain_names,
        bonds=[(bond[0].index, bond[1].index) for bond in topology.bonds()],
    )


def _number(text: str, fallback: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return fallback
