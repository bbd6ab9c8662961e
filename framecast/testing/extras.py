"""The optional libraries the adapter tests use (the ``all`` extra).

CI installs them all, so there a missing one is a failure; on a developer's machine without
them, the tests that need one are skipped with the command that installs it.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from framecast.testing import in_ci


def require(module: str) -> Any:
    """Import ``module``; skip the test when it is missing, except in CI, where it fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if in_ci():
            raise
        pytest.skip(f"{module} is not installed (pip install '.[test,all]')")


def peptide_simulation(pdb_path: str) -> Any:
    """An ``openmm.app.Simulation`` of the PDB at ``pdb_path`` (MDAnalysisTests' 137-atom
    helical peptide), Amber14 in vacuum, Langevin at 300 K, minimised a little."""
    openmm = require("openmm")
    from openmm import app, unit

    pdb = app.PDBFile(pdb_path)
    forcefield = app.ForceField("amber14-all.xml")
    system = forcefield.createSystem(pdb.topology, nonbondedMethod=app.NoCutoff)
    integrator = openmm.LangevinMiddleIntegrator(
        300 * unit.kelvin, 1 / unit.picosecond, 0.001 * unit.picoseconds
    )
    integrator.setRandomNumberSeed(7)
    simulation = app.Simulation(
        pdb.topology, system, integrator, openmm.Platform.getPlatformByName("Reference")
    )
    simulation.context.setPositions(pdb.positions)
    simulation.minimizeEnergy(maxIterations=100)
    return simulation
