"""What the adapters share: importing an extra, building the standard topology keys, and
checking files before a library gets them."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from framecast._support.extras import require
from framecast.elements import atomic_numbers

__all__ = [
    "EV_TO_KJ_PER_MOL",
    "check_files",
    "index_of",
    "require",
    "topology_fields",
]

#: kJ/mol per eV (CODATA 2018: e * N_A / 1000).
EV_TO_KJ_PER_MOL = 96.48533212331002


def check_files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The paths as strings; ``FileNotFoundError`` naming the first that is not a file."""
    out = []
    for path in paths:
        name = os.fspath(path)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"no such file: {name!r}")
        if name.lower().endswith(_PDB_SUFFIXES):
            _check_pdb_ends_whole(name)
        out.append(name)
    if not out:
        raise ValueError("no file given")
    return out


_PDB_SUFFIXES = (".pdb", ".ent", ".pqr", ".pdbqt")

#: Records a PDB file may end with even without a final newline.
_PDB_LAST_RECORDS = ("END", "ENDMDL", "TER", "CONECT", "MASTER")


def _check_pdb_ends_whole(name: str) -> None:
    """Refuse a PDB file cut in the middle of a record (a copy or download that stopped).

    Readers parse such a file up to the cut and silently drop the rest of the atoms, or
    read half a coordinate. A file that ends at a line boundary cannot be told from a
    complete one without an ``END`` record, which not every writer adds, so that passes.
    """
    with open(name, "rb") as file:
        file.seek(0, os.SEEK_END)
        file.seek(max(0, file.tell() - 512))
        tail = file.read()
    if not tail or tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1].decode("ascii", "replace")
    record = last[:6].strip()
    whole_atom = record in ("ATOM", "HETATM") and len(last) >= 54  # x, y and z complete
    if not whole_atom and record not in _PDB_LAST_RECORDS:
        raise ValueError(
            f"{name!r} ends in the middle of a record ({last[:20]!r}...): the file is truncated"
        )


def topology_fields(
    *,
    elements: Sequence[object] | npt.NDArray[np.generic],
    names: Sequence[str] | npt.NDArray[np.str_],
    residue_of_particle: npt.ArrayLike,
    residue_names: Sequence[str] | npt.NDArray[np.str_],
    residue_ids: npt.ArrayLike,
    chain_of_residue: npt.ArrayLike,
    chain_names: Sequence[str] | npt.NDArray[np.str_],
    bonds: npt.ArrayLike,
) -> dict[str, object]:
    """The standard topology keys, from per-particle, per-residue and per-chain lists.

    ``elements`` are atomic numbers or symbols (symbols that name no element become 0).
    Indices (``residue_of_particle``, ``chain_of_residue``, ``bonds``) count from 0 within
    what is shown.
    """
    element_array = np.asarray(elements)
    if element_array.dtype.kind in "US O":
        element_array = atomic_numbers(element_array.tolist())
    pairs = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    return {
        "particle.count": len(names),
        "particle.elements": element_array.astype(np.uint8),
        "particle.names": np.asarray(names, dtype=str),
        "particle.residues": np.asarray(residue_of_particle, dtype=np.int64),
        "residue.count": len(residue_names),
        "residue.names": np.asarray(residue_names, dtype=str),
        "residue.ids": np.asarray(residue_ids, dtype=np.int64),
        "residue.chains": np.asarray(chain_of_residue, dtype=np.int64),
        "chain.count": len(chain_names),
        "chain.names": np.asarray(chain_names, dtype=str),
        "bond.pairs": pairs,
    }


def index_of(values: npt.ArrayLike) -> tuple[npt.NDArray[np.intp], list[str]]:
    """For each value, the index of its first appearance; and the distinct values in order."""
    array = np.asarray(values, dtype=str)
    distinct, first, inverse = np.unique(array, return_index=True, return_inverse=True)
    order = np.argsort(first)  # number them in order of appearance, not alphabetically
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse], [str(distinct[i]) for i in order]
