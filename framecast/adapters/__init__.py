"""Adapters from other libraries' molecules, files and engines to framecast targets.

One module per library, each imported only when its function is called, so framecast
itself needs none of them. A missing library raises ``ImportError`` that names the extra to
install (``pip install 'framecast[mdanalysis]'``).

Every adapter gives the standard keys: ``particle.positions`` in nm, ``particle.elements``
(atomic numbers, guessed from names when the source has none), ``particle.names``,
``particle.residues``, ``residue.names``, ``residue.ids``, ``residue.chains``,
``chain.names``, ``bond.pairs``, ``system.box.vectors`` in nm and
``system.simulation.time`` in ps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ASEDynamics", "OpenMMSimulation", "from_ase", "from_mdanalysis", "from_mdtraj"]

if TYPE_CHECKING:
    from framecast.adapters.ase import ASEDynamics, from_ase
    from framecast.adapters.mdanalysis import from_mdanalysis
    from framecast.adapters.mdtraj import from_mdtraj
    from framecast.adapters.openmm import OpenMMSimulation

_WHERE = {
    "from_mdanalysis": "mdanalysis",
    "from_mdtraj": "mdtraj",
    "from_ase": "ase",
    "ASEDynamics": "ase",
    "OpenMMSimulation": "openmm",
}


def __getattr__(name: str) -> Any:
    # Lazy: importing framecast must not import MDAnalysis, MDTraj, ASE or OpenMM.
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
