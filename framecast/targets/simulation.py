"""``Simulation``: the built-in Lennard-Jones argon box, in pure numpy.

Units are those of GROMACS: nm, ps, amu and kJ/mol, so forces divided by masses are
accelerations in nm/ps^2 with no conversion factor. Integration is velocity Verlet in a
cubic periodic box with the minimum-image convention; forces use a shifted Lennard-Jones
potential cut at ``cutoff`` and a Verlet neighbour list rebuilt when any particle has moved
more than half the skin. An optional Berendsen thermostat holds the temperature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from framecast.targets.engine import LiveEngine

__all__ = ["BOLTZMANN", "LennardJones", "Simulation"]

#: Boltzmann's constant in kJ/(mol K).
BOLTZMANN = 0.0083144626

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class LennardJones:
    """Parameters of one Lennard-Jones species (argon by default)."""

    sigma: float = 0.3405  # nm
    epsilon: float = 0.99607  # kJ/mol (119.8 K x k_B)
    mass: float = 39.948  # amu
    element: int = 18
    name: str = "Ar"


class _State(NamedTuple):
    """What the simulation resumes from: its own copies of positions and velocities."""

    x: FloatArray
    v: FloatArray
    steps: int


class Simulation(LiveEngine[_State]):
    """A periodic box of Lennard-Jones particles, integrated with velocity Verlet.

    Use :func:`framecast.demo.argon` for a ready-made box. Each frame advances
    ``steps_per_frame`` integration steps, then updates ``particle.positions`` and the
    energies in :attr:`frame` as one atomic change (the topology never changes, so it is
    sent to clients only once). It is a :class:`~framecast.targets.engine.LiveEngine`,
    whose engine is this numpy integrator: controls, history, ``seek``, transitions and
    the check for a blown-up (non-finite) frame are the engine's.

    Parameters
    ----------
    positions
        Initial positions (N, 3) in nm, inside the box.
    box_length
        Edge of the cubic periodic box in nm; must exceed twice the cutoff plus skin.
    velocities
        Initial velocities (N, 3) in nm/ps; zero when omitted.
    temperature
        Thermostat target in K; ``None`` runs at constant energy (NVE).
    timestep
        Integration step in ps.
    steps_per_frame
        Integration steps between two published frames.
    interval
        Seconds between frames while playing (0: as fast as the machine allows).
    history
        How many recent frames to keep (positions and velocities). They make the
        simulation a timeline: ``transition(n)`` goes from frame ``n`` to ``n + 1`` while
        both are kept, and :meth:`seek` resumes from any kept frame. 0 keeps none.
    """

    def __init__(
        self,
        positions: npt.ArrayLike,
        box_length: float,
        *,
        velocities: npt.ArrayLike | None = None,
        temperature: float | None = 100.0,
        timestep: float = 0.004,
        steps_per_frame: int = 5,
        thermostat_tau: float = 0.5,
        cutoff: float | None = None,
        skin: float = 0.15,
        species: LennardJones = LennardJones(),
        interval: float = 1 / 60,
        history: int = 100,
    ) -> None:
        x = np.array(positions, dtype=float)
        if x.ndim != 2 or x.shape[1] != 3 or len(x) < 2:
            raise ValueError(f"positions must have shape (N, 3) with N >= 2, got {x.shape}")
        self.species = species
        self.cutoff = 2.5 * species.sigma if cutoff is None else float(cutoff)
        self.skin = float(skin)
        if not box_length > 2 * (self.cutoff + self.skin):
            raise ValueError(
                f"box_length {box_length} nm must exceed twice cutoff + skin "
                f"({2 * (self.cutoff + self.skin):.3f} nm); add particles or lower the density"
            )
        if not timestep > 0:
            raise ValueError(f"timestep must be > 0 ps, got {timestep}")
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature must be > 0 K or None, got {temperature}")
        super().__init__(
            steps_per_frame=steps_per_frame,
            interval=interval,
            history=history,
            name="framecast-simulation",
        )
        self.box_length = float(box_length)
        self.timestep = float(timestep)
        self.temperature_target = temperature
        self.thermostat_tau = float(thermostat_tau)
        self._external: FloatArray | None = None  # interactive forces, kJ/(mol nm)
        self._f: FloatArray
        v = np.zeros_like(x) if velocities is None else np.array(velocities, dtype=float)
        if v.shape != x.shape:
            raise ValueError(f"velocities must have shape {x.shape}, got {v.shape}")
        self._engine_load(_State(x % self.box_length, v, 0))
        n = len(x)
        self._start(
            {
                "particle.elements": np.full(n, species.element, dtype=np.uint8),
                "particle.names": np.full(n, species.name),
                "particle.count": n,
                "system.box.vectors": np.eye(3) * self.box_length,
            }
        )

    # -- public state -----------------------------------------------------------------------------
    @property
    def particle_count(self) -> int:
        """The number of particles N."""
        return len(self._x)

    @property
    def step_count(self) -> int:
        """Integration steps since the start (or the last restart)."""
        return self._steps

    @property
    def time(self) -> float:
        """Simulated time in ps."""
        return self._steps * self.timestep

    @property
    def positions(self) -> FloatArray:
        """A copy of the current positions (N, 3) in nm."""
        with self._advance_lock:
            return self._x.copy()

    @property
    def velocities(self) -> FloatArray:
        """A copy of the current velocities (N, 3) in nm/ps."""
        with self._advance_lock:
            return self._v.copy()

    def kinetic_energy(self) -> float:
        """Kinetic energy in kJ/mol."""
        return float(0.5 * self.species.mass * np.sum(self._v * self._v))

    def potential_energy(self) -> float:
        """Potential energy in kJ/mol, of the last force evaluation."""
        return self._potential

    def temperature(self) -> float:
        """Instantaneous temperature in K, with 3N - 3 degrees of freedom."""
        dof = max(3 * len(self._x) - 3, 1)
        return 2.0 * self.kinetic_energy() / (dof * BOLTZMANN)

    # -- the engine of LiveEngine --------------------------------------------------------------
    # numpy's warnings are silenced here: a system that blows up is reported once, by the
    # engine's check of every frame, with the frame and the particles, not as a warning
    # per step.
    def _engine_step(self, steps: int) -> None:
        with np.errstate(all="ignore"):
            for _ in range(steps):
                self._integrate()

    def _engine_fields(self) -> Mapping[str, object]:
        return self._frame_fields(self._x, self.kinetic_energy(), self._potential, self._steps)

    def _engine_masses(self) -> FloatArray:
        return np.full(len(self._x), self.species.mass)

    def _engine_push(self, forces: FloatArray | None) -> None:
        # Added to the force of every step from the next one on (see _forces); the force
        # already computed for the next half-kick gets the change too.
        previous, self._external = self._external, forces
        if previous is not None:
            self._f = self._f - previous
        if forces is not None:
            self._f = self._f + forces

    def _engine_save(self) -> _State:
        return _State(self._x.copy(), self._v.copy(), self._steps)

    def _engine_load(self, state: _State) -> None:
        self._x, self._v, self._steps = state.x.copy(), state.v.copy(), state.steps
        with np.errstate(all="ignore"):
            self._build_neighbours()
            self._f, self._potential = self._forces()

    # -- physics ----------------------------------------------------------------------------------
    def _integrate(self) -> None:
        dt, m = self.timestep, self.species.mass
        self._v += (0.5 * dt / m) * self._f
        self._x += dt * self._v
        self._x %= self.box_length
        if self._needs_rebuild():
            self._build_neighbours()
        self._f, self._potential = self._forces()
        self._v += (0.5 * dt / m) * self._f
        self._thermostat()
        self._steps += 1

    def _thermostat(self) -> None:
        if self.temperature_target is None:
            return
        current = self.temperature()
        if current <= 0:
            return
        ratio = 1.0 + self.timestep / self.thermostat_tau * (
            self.temperature_target / current - 1.0
        )
        self._v *= np.sqrt(max(ratio, 0.0))

    def _minimum_image(self, d: FloatArray) -> FloatArray:
        d -= self.box_length * np.round(d / self.box_length)
        return d

    def _build_neighbours(self) -> None:
        """All pairs i < j within cutoff + skin, by chunked all-pairs distances."""
        n = len(self._x)
        reach2 = (self.cutoff + self.skin) ** 2
        # About 16 MB of float64 differences per chunk keeps memory flat for large N.
        chunk = max(1, 16_000_000 // (24 * n))
        firsts: list[IndexArray] = []
        seconds: list[IndexArray] = []
        for start in range(0, n, chunk):
            block = self._x[start : start + chunk]
            d = self._minimum_image(block[:, None, :] - self._x[None, :, :])
            i, j = np.nonzero(np.einsum("ijk,ijk->ij", d, d) < reach2)
            i += start
            keep = i < j
            firsts.append(i[keep])
            seconds.append(j[keep])
        self._pairs_i = np.concatenate(firsts)
        self._pairs_j = np.concatenate(seconds)
        self._x_at_build = self._x.copy()

    def _needs_rebuild(self) -> bool:
        moved = self._minimum_image(self._x - self._x_at_build)
        return bool(np.max(np.einsum("ij,ij->i", moved, moved)) > (0.5 * self.skin) ** 2)

    def _forces(self) -> tuple[FloatArray, float]:
        sigma, epsilon = self.species.sigma, self.species.epsilon
        i, j = self._pairs_i, self._pairs_j
        d = self._minimum_image(self._x[i] - self._x[j])
        r2 = np.einsum("ij,ij->i", d, d)
        inside = r2 < self.cutoff**2
        d, r2, i, j = d[inside], r2[inside], i[inside], j[inside]
        s6 = (sigma * sigma / r2) ** 3
        sc6 = (sigma / self.cutoff) ** 6
        shift = 4.0 * epsilon * (sc6 * sc6 - sc6)
        potential = float(np.sum(4.0 * epsilon * (s6 * s6 - s6) - shift))
        scale = 24.0 * epsilon * (2.0 * s6 * s6 - s6) / r2
        pair_forces = d * scale[:, None]
        n = len(self._x)
        forces = np.empty((n, 3))
        for axis in range(3):
            forces[:, axis] = np.bincount(i, pair_forces[:, axis], minlength=n) - np.bincount(
                j, pair_forces[:, axis], minlength=n
            )
        if self._external is not None:
            forces += self._external
        return forces, potential

    def _frame_fields(
        self, x: FloatArray, kinetic: float, potential: float, steps: int
    ) -> dict[str, object]:
        dof = max(3 * len(x) - 3, 1)
        return {
            "particle.positions": x,
            "energy.kinetic": kinetic,
            "energy.potential": potential,
            "energy.total": kinetic + potential,
            "system.temperature": 2.0 * kinetic / (dof * BOLTZMANN),
            "system.simulation.time": steps * self.timestep,
        }

    def __repr__(self) -> str:
        return (
            f"Simulation({self.particle_count} {self.species.name}, box {self.box_length:.3f} nm, "
            f"T={self.temperature():.1f} K, step {self._steps})"
        )
