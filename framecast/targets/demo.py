"""Ready-made targets for demos, tutorials and tests."""

from __future__ import annotations

import numpy as np

from framecast.targets.simulation import BOLTZMANN, LennardJones, Simulation
from framecast.targets.trajectory import Trajectory

__all__ = ["argon", "argon_trajectory"]

#: Number density of liquid argon near its boiling point, particles per nm^3.
LIQUID_ARGON_DENSITY = 21.0


def argon(
    n: int = 500,
    *,
    temperature: float = 100.0,
    thermostat: bool = True,
    density: float = LIQUID_ARGON_DENSITY,
    seed: int = 0,
    **kwargs: object,
) -> Simulation:
    """A box of ``n`` argon atoms on a jittered cubic lattice, ready to play.

    Velocities are drawn from the Maxwell-Boltzmann distribution at ``temperature`` (K)
    with no net momentum; with ``thermostat=False`` the simulation then conserves energy
    (NVE) instead of holding the temperature. The box is sized for ``density`` (particles
    per nm^3), but never
    smaller than the interaction range allows; extra keyword arguments go to
    :class:`~framecast.Simulation`.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    species = LennardJones()
    cutoff, skin = 2.5 * species.sigma, 0.15
    length = max((n / density) ** (1 / 3), 2 * (cutoff + skin) * 1.01)
    rng = np.random.default_rng(seed)
    per_side = int(np.ceil(n ** (1 / 3)))
    spacing = length / per_side
    grid = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    positions = (grid[:n] + 0.5) * spacing + rng.normal(0, 0.02 * spacing, (n, 3))
    velocities = rng.normal(0, np.sqrt(BOLTZMANN * temperature / species.mass), (n, 3))
    velocities -= velocities.mean(axis=0)
    return Simulation(
        positions,
        length,
        velocities=velocities,
        temperature=temperature if thermostat else None,
        species=species,
        **kwargs,  # type: ignore[arg-type]
    )


def argon_trajectory(
    n: int = 200, frames: int = 100, *, seed: int = 0, fps: float = 30.0
) -> Trajectory:
    """A trajectory recorded from :func:`argon`: ``frames`` frames of ``n`` atoms."""
    simulation = argon(n, seed=seed)
    recorded = np.empty((frames, n, 3), dtype=np.float32)
    times = np.empty(frames)
    for index in range(frames):
        recorded[index] = simulation.positions
        times[index] = simulation.time
        simulation.step()
    topology = {
        key: simulation.frame[key]
        for key in ("particle.elements", "particle.names", "system.box.vectors")
    }
    return Trajectory(recorded, topology, times=times, fps=fps)
