"""The viewer's rich representations: what the page draws with Mol*, and Mol* itself.

The kernel evaluates selections (the page has no topology beyond elements and residues) and
sends the page, for each representation, its style, colour, opacity and particle indices as
binary buffers. Where a representation needs Mol* (a cartoon, a surface...), the page asks
once for the structure (a PDB text of the topology: atom and residue names, chains) and,
once per page, for the Mol* bundle, which travels gzipped over the widget's comm. So Mol*
is never part of the viewer's ``_esm`` (anywidget saves that in every notebook), and a view
with no rich representation loads none of it. Coordinates then come from the frames the
viewer already sends: no second stream.
"""

from __future__ import annotations

import functools
import gzip
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast.elements import SYMBOLS
from framecast.jupyter.widget import STATIC
from framecast.session.representations import (
    IONS,
    PREFIX,
    WATER,
    Representation,
    default_representations,
    representations_in,
)

__all__ = [
    "ENGINE",
    "RichView",
    "engine_gzip",
    "pdb_text",
    "representations_message",
    "solvent_of",
    "topology_solvent",
]

#: The Mol* bundle (built from ``labextension/src/molstar``).
ENGINE = STATIC / "molstar.js"

#: nm to Å: Mol* measures (bonds, secondary structure) in Å.
_TO_ANGSTROM = 10.0

Send = Callable[[dict[str, Any], list[Any]], None]


@functools.cache
def engine_gzip() -> bytes:
    """The Mol* bundle, gzipped once per process (about a third of its size)."""
    return gzip.compress(ENGINE.read_bytes(), compresslevel=6, mtime=0)


def pdb_text(fields: Mapping[str, Any], subset: npt.NDArray[np.int32] | None = None) -> bytes:
    """A PDB file of the frame's topology and positions, for Mol* to build its model from:
    of the particles ``subset`` (sorted indices), or all.

    Atom serials and residue numbers wrap as PDB writers do beyond their columns: Mol*
    tells atoms and residues apart by order and change, and the page addresses atoms by
    their place in this file (the frame's particle index when it holds them all).
    """
    positions = np.asarray(fields["particle.positions"], dtype=np.float64) * _TO_ANGSTROM
    count = len(positions)
    elements = np.asarray(fields.get("particle.elements", np.zeros(count)), dtype=np.int64)
    symbols = np.asarray(SYMBOLS, dtype=object)[np.minimum(elements, len(SYMBOLS) - 1)]
    symbols = np.where(elements == 0, "X", symbols)
    names = fields.get("particle.names")
    names = np.asarray(names, dtype=object) if names is not None else symbols
    residue_of = np.asarray(fields.get("particle.residues", np.zeros(count)), dtype=np.int64)
    residue_names = np.asarray(fields.get("residue.names", ["UNK"]), dtype=object)
    residue_ids = np.asarray(
        fields.get("residue.ids", np.arange(1, len(residue_names) + 1)), dtype=np.int64
    )
    chain_of = np.asarray(
        fields.get("residue.chains", np.zeros(len(residue_names))), dtype=np.int64
    )
    chain_names = np.asarray(fields.get("chain.names", ["A"]), dtype=object)
    from framecast.session.representations import NUCLEIC, PROTEIN

    polymer = np.isin(np.char.upper(residue_names.astype(str)), list(PROTEIN | NUCLEIC))
    lines = []
    for serial, i in enumerate(range(count) if subset is None else subset.tolist(), 1):
        r = residue_of[i]
        name = str(names[i])[:4]
        # PDB's rule: a name of fewer than four characters starts in column 14.
        name = name if len(name) == 4 else f" {name:<3}"
        chain = str(chain_names[chain_of[r]])[:1] or "A"
        record = "ATOM  " if polymer[r] else "HETATM"
        x, y, z = positions[i]
        lines.append(
            f"{record}{serial % 100000:5d} {name} {str(residue_names[r])[:3]:>3} {chain}"
            f"{residue_ids[r] % 10000:4d}    {x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00"
            f"          {str(symbols[i])[:2]:>2}"
        )
    lines.append("END")
    return ("\n".join(lines) + "\n").encode()


def solvent_of(fields: Mapping[str, Any]) -> npt.NDArray[np.int32]:
    """The particles of water and ion residues (what the toolbar's "hide water and ions"
    takes away)."""
    names = fields.get("residue.names")
    residue_of = fields.get("particle.residues")
    if names is None or residue_of is None:
        return np.zeros(0, dtype=np.int32)
    upper = np.char.upper(np.char.strip(np.asarray(names, dtype=str)))
    solvent = np.isin(upper, list(WATER | IONS))
    return np.flatnonzero(solvent[np.asarray(residue_of, dtype=np.int64)]).astype(np.int32)


def representations_message(
    reps: list[Representation],
    solvent: npt.NDArray[np.int32],
    structure: int,
    *,
    default: bool,
) -> tuple[dict[str, Any], list[Any]]:
    """The page's ``representations`` message for ``reps`` and its buffers (the solvent's
    particles first, then each representation's)."""
    buffers: list[Any] = [np.ascontiguousarray(solvent, dtype=np.int32).data]
    items = []
    for rep in reps:
        items.append(
            {
                "id": rep.id,
                "style": rep.style,
                "colour": rep.colour,
                "opacity": rep.opacity,
                "selection": rep.selection,
                "buffer": len(buffers),
            }
        )
        buffers.append(np.asarray(rep.particles, dtype=np.int32).data)
    message = {
        "type": "representations",
        "items": items,
        "default": default,
        "solvent": 0,
        "structure": structure,
    }
    return message, buffers


def topology_solvent(fields: Mapping[str, Any]) -> npt.NDArray[np.int32]:
    """The water and ions the viewer hides, or none when they are all there is."""
    solvent = solvent_of(fields)
    return solvent[:0] if solvent.size and solvent.size == _count(fields) else solvent


def _count(fields: Mapping[str, Any]) -> int:
    positions = fields.get("particle.positions")
    return 0 if positions is None else len(positions)


class RichView:
    """Keeps a viewer's page told of the representations on show.

    ``state`` is the session's shared state (or a client's view of it), with ``tap``;
    ``fields`` the frame on show; ``send`` sends a message and its buffers to the page.
    """

    def __init__(self, fields: Callable[[], Mapping[str, Any]], send: Send) -> None:
        self._fields = fields
        self._send = send
        #: Set when the representations changed: the viewer's task sends them (taps run
        #: under the state's lock, where nothing may wait on the page).
        self.changed = threading.Event()
        #: Draw the default representations when the state holds none.
        self.defaults = True
        self._lock = threading.Lock()
        self._annotations: list[
            tuple[str, str, npt.NDArray[np.int32], npt.NDArray[np.int32] | None]
        ] = []
        self._state: dict[str, object] = {}
        self._defaults: (
            tuple[tuple[int, ...], list[Representation], npt.NDArray[np.int32]] | None
        ) = None
        self._held: tuple[object, ...] = ()
        self._topology_id = 0
        self._subset_key: tuple[int, bytes] = (0, b"")
        self._structure_id = 0

    def follow(self, tap: Callable[..., Callable[[], None]]) -> Callable[[], None]:
        """Follow the representation keys of a state through its ``tap``; returns the
        function that stops following."""
        import json

        def initial(values: Mapping[str, bytes]) -> None:
            with self._lock:
                self._state = {
                    key: json.loads(value)
                    for key, value in values.items()
                    if key.startswith(PREFIX)
                }

        def changed(values: Mapping[str, bytes | None], *_: object) -> None:
            touched = False
            with self._lock:
                for key, value in values.items():
                    if not key.startswith(PREFIX):
                        continue
                    touched = True
                    if value is None:
                        self._state.pop(key, None)
                    else:
                        self._state[key] = json.loads(value)
            if touched:
                self.changed.set()

        return tap(changed, initial)

    def _topology(
        self, fields: Mapping[str, Any]
    ) -> tuple[list[Representation], npt.NDArray[np.int32]]:
        """The default representations and the solvent, once per topology."""
        held = tuple(
            fields.get(key) for key in ("residue.names", "particle.residues", "particle.names")
        )
        key = (_count(fields), *map(id, held))
        if self._defaults is None or self._defaults[0] != key:
            self._topology_id += 1
            self._defaults = (key, default_representations(fields), topology_solvent(fields))
            self._held = held
        return self._defaults[1], self._defaults[2]

    def send(self) -> None:
        """Tell the page the representations to draw now: those of the shared state, or
        the default for the topology on show when the state has none."""
        fields = self._fields()
        with self._lock:
            explicit = representations_in(self._state)
            defaults, solvent = self._topology(fields)
            _, structure = self._structure(fields)
        reps = explicit or (defaults if self.defaults else [])
        message, buffers = representations_message(
            reps, solvent, structure, default=not explicit and self.defaults
        )
        self._send(message, buffers)

    def structure(self, with_engine: bool) -> None:
        """Answer the page's request for what Mol* needs: the structure of the particles
        its representations and annotations draw (a protein, not its water box), their
        indices, the number of that structure, and the engine unless the page has it."""
        fields = self._fields()
        if "particle.positions" not in fields:
            return
        with self._lock:
            subset, key = self._structure(fields)
        buffers: list[Any] = [pdb_text(fields, subset), subset.data]
        if with_engine:
            buffers.append(engine_gzip())
        self._send({"type": "structure", "engine": with_engine, "structure": key}, buffers)

    def _structure(self, fields: Mapping[str, Any]) -> tuple[npt.NDArray[np.int32], int]:
        """The particles Mol* needs (lock held), and the number of that set: it changes
        with the topology or the set, and the page builds Mol*'s structure again then."""
        explicit = representations_in(self._state)
        defaults, _ = self._topology(fields)
        reps = explicit or (defaults if self.defaults else [])
        parts = [np.asarray(rep.particles, dtype=np.int32) for rep in reps if not rep.hidden]
        for _kind, _text, a, b in self._annotations:
            parts.extend([a] if b is None else [a, b])
        subset = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int32)
        subset = subset.astype(np.int32)
        key = (self._topology_id, subset.tobytes())
        if key != self._subset_key:
            self._subset_key = key
            self._structure_id += 1
        return subset, self._structure_id

    def annotate(
        self, kind: str, text: str, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64] | None
    ) -> None:
        """Add a label (``text`` on the particles ``a``) or a distance (``a`` to ``b``)."""
        with self._lock:
            self._annotations.append(
                (kind, text, a.astype(np.int32), None if b is None else b.astype(np.int32))
            )
        self.send_annotations()
        self.changed.set()  # Mol*'s structure holds the annotated particles too

    def clear_annotations(self) -> None:
        with self._lock:
            self._annotations.clear()
        self.send_annotations()
        self.changed.set()

    @property
    def annotations(self) -> list[tuple[str, str]]:
        """The labels and distances: (kind, text) of each."""
        with self._lock:
            return [(kind, text) for kind, text, _a, _b in self._annotations]

    def send_annotations(self) -> None:
        """Tell the page this view's labels and distances."""
        with self._lock:
            annotations = list(self._annotations)
        buffers: list[Any] = []
        items = []
        for kind, text, a, b in annotations:
            items.append(
                {
                    "kind": kind,
                    "text": text,
                    "a": len(buffers),
                    "b": None if b is None else len(buffers) + 1,
                }
            )
            buffers.append(a.data)
            if b is not None:
                buffers.append(b.data)
        self._send({"type": "annotations", "items": items}, buffers)
