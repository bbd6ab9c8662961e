"""Selections of particles: MDAnalysis's selection language over any target's topology keys.

A selection is a string in MDAnalysis's syntax (``"protein and name CA"``, ``"resname SOL
or resname NA"``, ``"around 5 resname LIG"``), or plain indices: an int, a slice, a sequence
of ints, or a boolean mask. Strings are evaluated in this process against the frame's
standard topology keys (``particle.names``, ``particle.elements``, ``particle.residues``,
``residue.names``, ``residue.ids``, ``residue.chains``, ``chain.names``, ``bond.pairs``),
whatever made the frame: the MDAnalysis topology is built from those keys with
``Universe.empty``, once per topology, so a simulation, a recording or an ASE file selects
as an MDAnalysis file does. Indices need no extra; strings need ``framecast[mdanalysis]``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast._support.extras import quiet_mdanalysis, require
from framecast.elements import SYMBOLS

__all__ = [
    "EmptySelectionError",
    "Selection",
    "SelectionError",
    "TOPOLOGY_KEYS",
    "describe",
    "select",
]

#: What a selection may be.
Selection = str | int | slice | Sequence[int] | npt.NDArray[Any]

#: The frame keys a string selection reads.
TOPOLOGY_KEYS = (
    "particle.names",
    "particle.elements",
    "particle.residues",
    "residue.names",
    "residue.ids",
    "residue.chains",
    "chain.names",
    "bond.pairs",
)

#: nm to Å (MDAnalysis's unit, so that ``around 5`` means 5 Å as its users expect).
_TO_ANGSTROM = 10.0


class SelectionError(ValueError):
    """A selection that cannot be evaluated: the message names it and says why."""


class EmptySelectionError(SelectionError):
    """A selection that matches no particle."""


def describe(selection: Selection) -> str:
    """A short text naming ``selection`` in messages and lists."""
    if isinstance(selection, str):
        return selection
    if isinstance(selection, slice):
        parts = [selection.start, selection.stop, selection.step]
        return "[" + ":".join("" if part is None else str(part) for part in parts) + "]"
    if isinstance(selection, (int, np.integer)):
        return f"index {int(selection)}"
    array = np.asarray(selection)
    if array.dtype == bool:
        return f"mask of {int(array.sum())}/{array.size} particles"
    return f"{array.size} indices"


def select(
    selection: Selection,
    fields: Mapping[str, Any],
    *,
    allow_empty: bool = False,
) -> npt.NDArray[np.int64]:
    """The sorted, distinct particle indices ``selection`` picks in the frame ``fields``.

    Raises :class:`SelectionError` naming the selection when it cannot be evaluated (bad
    syntax, a key the frame lacks, an index out of range), :class:`EmptySelectionError`
    when it matches nothing (unless ``allow_empty``), and ``ImportError`` naming the extra
    for a string without MDAnalysis installed.
    """
    count = _particle_count(fields)
    if isinstance(selection, str):
        indices = _select_string(selection, fields, count)
    else:
        indices = _select_indices(selection, count)
    if not allow_empty and indices.size == 0:
        raise EmptySelectionError(
            f"selection {describe(selection)!r} matches no particle of the {count} on show"
        )
    return indices


def _particle_count(fields: Mapping[str, Any]) -> int:
    for key in ("particle.positions", "particle.elements", "particle.names"):
        value = fields.get(key)
        if value is not None:
            return int(np.shape(value)[0])
    count = fields.get("particle.count")
    if count is not None:
        return int(count)
    raise SelectionError("the frame on show has no particles to select from")


def _select_indices(selection: Selection, count: int) -> npt.NDArray[np.int64]:
    if isinstance(selection, slice):
        return np.arange(count, dtype=np.int64)[selection]
    if isinstance(selection, bool):
        raise SelectionError(f"a selection is a string, indices or a mask, got {selection!r}")
    array = np.asarray(selection)
    if array.dtype == bool:
        if array.shape != (count,):
            raise SelectionError(
                f"a mask selects from the {count} particles on show: it has shape "
                f"{array.shape}, not ({count},)"
            )
        return np.flatnonzero(array).astype(np.int64)
    array = array.reshape(-1) if array.ndim == 0 else array
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise SelectionError(
            f"a selection is a string, an int, a slice, indices or a mask; got "
            f"{array.dtype} of shape {array.shape}"
        )
    indices = np.unique(array.astype(np.int64))
    if indices.size and (indices[0] < 0 or indices[-1] >= count):
        bad = int(indices[0] if indices[0] < 0 else indices[-1])
        raise SelectionError(f"particle index {bad} is out of range: {count} particles on show")
    return indices


def _select_string(text: str, fields: Mapping[str, Any], count: int) -> npt.NDArray[np.int64]:
    if not text.strip():
        raise SelectionError("an empty selection string selects nothing: give a selection")
    universe = _universes.get(fields, count)
    positions = fields.get("particle.positions")
    if positions is not None:
        universe.atoms.positions = np.asarray(positions, dtype=np.float32) * _TO_ANGSTROM
    try:
        with quiet_mdanalysis():
            group = universe.select_atoms(text)
    except Exception as error:  # MDAnalysis raises SelectionError, ValueError, KeyError...
        raise SelectionError(f"selection {text!r} is not valid: {error}") from error
    return np.asarray(group.indices, dtype=np.int64)


class _Universes:
    """The MDAnalysis topology of the last frame's topology keys, built once per topology
    (the same arrays: targets send topology keys once, and every frame after shares them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, ...] = ()
        self._held: tuple[object, ...] = ()  # keeps the keyed arrays alive: ids stay theirs
        self._universe: Any = None

    def get(self, fields: Mapping[str, Any], count: int) -> Any:
        held = tuple(fields.get(key) for key in TOPOLOGY_KEYS)
        key = (count, *map(id, held))
        with self._lock:
            if key != self._key or self._universe is None:
                self._universe = build_universe(fields, count)
                self._key, self._held = key, held
            return self._universe


_universes = _Universes()


def build_universe(fields: Mapping[str, Any], count: int) -> Any:
    """An MDAnalysis ``Universe`` (one frame) with the topology the keys of ``fields`` say;
    what they do not say is filled so that selections still work (one residue ``UNK``,
    names from elements)."""
    mda = require("MDAnalysis", "mdanalysis", "a selection string")
    elements = _array(fields, "particle.elements", count, np.uint8, default=0)
    element_symbols = np.asarray(SYMBOLS, dtype=object)[np.minimum(elements, len(SYMBOLS) - 1)]
    names = _strings(fields.get("particle.names"), count, default=element_symbols)
    residue_of = _array(fields, "particle.residues", count, np.int64, default=0)
    n_residues = int(residue_of.max()) + 1 if count else 1
    residue_names = _strings(fields.get("residue.names"), n_residues, default="UNK")
    residue_ids = _array(fields, "residue.ids", n_residues, np.int64, default=None)
    if residue_ids is None:
        residue_ids = np.arange(1, n_residues + 1)
    chain_of = _array(fields, "residue.chains", n_residues, np.int64, default=0)
    chain_names = _strings(fields.get("chain.names"), int(chain_of.max()) + 1, default="A")
    with quiet_mdanalysis():
        universe = mda.Universe.empty(
            count,
            n_residues=n_residues,
            n_segments=len(chain_names),
            atom_resindex=residue_of,
            residue_segindex=chain_of,
            trajectory=True,
        )
        universe.add_TopologyAttr("names", names)
        universe.add_TopologyAttr("types", element_symbols)
        universe.add_TopologyAttr("elements", element_symbols)
        universe.add_TopologyAttr("resnames", residue_names)
        universe.add_TopologyAttr("resids", residue_ids)
        universe.add_TopologyAttr("resnums", residue_ids)
        universe.add_TopologyAttr("segids", chain_names)
        universe.add_TopologyAttr(
            "chainIDs", np.asarray(chain_names, dtype=object)[chain_of][residue_of]
        )
        bonds = fields.get("bond.pairs")
        if bonds is not None and np.size(bonds):
            pairs = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
            universe.add_TopologyAttr("bonds", [tuple(pair) for pair in pairs.tolist()])
    return universe


def _array(
    fields: Mapping[str, Any], key: str, size: int, dtype: Any, *, default: int | None
) -> Any:
    value = fields.get(key)
    if value is None:
        return None if default is None else np.full(size, default, dtype=dtype)
    array = np.asarray(value, dtype=dtype).reshape(-1)
    if array.size != size:
        raise SelectionError(f"the frame's {key!r} has {array.size} values, not {size}")
    if array.size and array.min() < 0:
        raise SelectionError(f"the frame's {key!r} has a negative index")
    return array


def _strings(value: Any, size: int, *, default: object) -> npt.NDArray[np.object_]:
    if value is None:
        return np.broadcast_to(np.asarray(default, dtype=object), (size,)).copy()
    array = np.asarray(value, dtype=object).reshape(-1)
    if array.size < size:
        raise SelectionError(f"the frame has {array.size} names where {size} are needed")
    return array[:size]
