"""Representations: how each selection of a session's particles is drawn, in the shared state.

A representation is a style (``cartoon``, ``licorice``, ``surface``...) of a selection, or a
hidden selection. Each is one key of the session's shared state, in NanoVer's own form
(``selection.<id>`` with ``selected.particle_ids`` and ``properties``, the renderer under
``nanover.rendering.renderer`` and hiding under ``nanover.rendering.hide``), so that every
notebook viewer of the session and a NanoVer client through the endpoint draw the same; the
exact framecast description rides along under ``properties["framecast.representation"]``.

Unlike NanoVer, where a particle belongs to the last selection that holds it, framecast's
viewers layer representations (a cartoon of the protein with a licorice of a few side
chains), and a hidden selection takes its particles out of every representation.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from framecast.adapters.selection import Selection, describe, select

__all__ = [
    "COLOURS",
    "NANOVER_RENDERERS",
    "PREFIX",
    "STYLES",
    "Representation",
    "Representations",
    "ServerStore",
    "StateStore",
    "default_representations",
    "representations_in",
]

#: The drawing styles, and the NanoVer renderer preset closest to each (NanoVer's VR client
#: has no surface or points: the closest space-filling and ball-and-stick presets stand in).
NANOVER_RENDERERS: dict[str, str] = {
    "cartoon": "cartoon",
    "licorice": "liquorice",
    "ball-and-stick": "ball and stick",
    "spacefill": "goodsell",
    "surface": "goodsell",
    "points": "ball and stick",
    "lines": "liquorice",
}
STYLES = tuple(NANOVER_RENDERERS)
#: Colour schemes by name; a ``#rrggbb`` colour paints the whole selection.
COLOURS = ("element", "residue", "chain", "secondary-structure")
#: State keys of representations (NanoVer's selections).
PREFIX = "selection."
#: The framecast part of a selection's properties.
_OWN = "framecast.representation"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Residue names by kind, for the default representation (MDAnalysis's and Mol*'s lists).
PROTEIN = _words(
    "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL "
    "HSD HSE HSP HID HIE HIP CYX ASH GLH LYN ACE NME NMA MSE SEC PYL CYM ARN"
)
NUCLEIC = _words("A C G U T DA DC DG DT DU RA RC RG RU ADE CYT GUA URA THY")
WATER = _words("SOL WAT HOH H2O TIP3 TIP4 TIP5 TIP3P TIP4P SPC SPCE T3P T4P DOD")
IONS = _words(
    "NA CL K MG CA ZN MN FE CU CO NI CD LI RB CS BR IOD F SOD CLA POT CAL CES MG2 ZN2 "
    "NA+ CL- K+ NIO CIO"
)


@dataclass(frozen=True)
class Representation:
    """One representation of a session: ``style`` of the particles ``selection`` picks
    (``style`` is ``"hidden"`` for a hidden selection)."""

    id: str
    style: str
    selection: str
    particles: tuple[int, ...]
    colour: str = "element"
    opacity: float = 1.0

    @property
    def hidden(self) -> bool:
        """True for a selection taken out of every representation."""
        return self.style == "hidden"

    def to_state(self) -> dict[str, Any]:
        """This representation as NanoVer's selection dictionary (the state value)."""
        renderer: Any = NANOVER_RENDERERS.get(self.style, "liquorice")
        if _HEX.fullmatch(self.colour):
            renderer = {"render": renderer, "color": self.colour}
        return {
            "id": self.id,
            "name": f"{self.style}: {self.selection}",
            "selected": {"particle_ids": list(self.particles)},
            "properties": {
                "nanover.interaction.method": "single",
                "nanover.interaction.velocity_reset": False,
                "nanover.rendering.renderer": renderer,
                "nanover.rendering.hide": self.hidden,
                _OWN: {
                    "style": self.style,
                    "selection": self.selection,
                    "colour": self.colour,
                    "opacity": self.opacity,
                },
            },
        }

    @classmethod
    def from_state(cls, key: str, value: object) -> Representation | None:
        """The representation a state value describes (NanoVer's or framecast's), or None
        for a value that is not a selection."""
        if not isinstance(value, dict):
            return None
        selected = value.get("selected")
        ids = selected.get("particle_ids") if isinstance(selected, dict) else None
        properties = value.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        own = properties.get(_OWN)
        own = own if isinstance(own, dict) else {}
        if not isinstance(ids, list) or not all(isinstance(i, int) and i >= 0 for i in ids):
            return None
        style = own.get("style")
        if properties.get("nanover.rendering.hide") is True:
            style = "hidden"
        elif style not in STYLES:
            style = _style_of_renderer(properties.get("nanover.rendering.renderer"))
        colour = own.get("colour")
        opacity = own.get("opacity", 1.0)
        return cls(
            id=key,
            style=str(style),
            selection=str(own.get("selection", value.get("name", key))),
            particles=tuple(ids),
            colour=colour if isinstance(colour, str) and _valid_colour(colour) else "element",
            opacity=float(opacity) if isinstance(opacity, (int, float)) else 1.0,
        )


def _style_of_renderer(renderer: object) -> str:
    """framecast's style for a NanoVer renderer (a preset name or ``{"render": ...}``)."""
    if isinstance(renderer, dict):
        renderer = renderer.get("render")
    name = str(renderer).lower()
    for style, preset in NANOVER_RENDERERS.items():
        if preset == name:
            return style
    return {"spline": "cartoon", "noodles": "licorice", "vdw": "spacefill"}.get(name, "licorice")


def _valid_colour(colour: str) -> bool:
    return colour in COLOURS or bool(_HEX.fullmatch(colour))


def representations_in(state: Mapping[str, object]) -> list[Representation]:
    """The representations a shared state holds, in the order they were added (their ids
    count up; NanoVer's root selection first)."""
    found = [
        rep
        for key, value in state.items()
        if key.startswith(PREFIX) and (rep := Representation.from_state(key, value)) is not None
    ]
    return sorted(found, key=lambda rep: _order(rep.id))


def _order(key: str) -> tuple[int, int, str]:
    if key == "selection.root":
        return (0, 0, key)
    number = key.rsplit(".", 1)[-1]
    return (1, int(number), key) if number.isdigit() else (2, 0, key)


class StateStore(Protocol):
    """Where representations live: a session's shared state or a client's view of one."""

    def to_dict(self) -> dict[str, object]: ...

    def change(self, updates: Mapping[str, object], removals: list[str]) -> None: ...


class ServerStore:
    """A session's own shared state as a :class:`StateStore` (changes made as the server)."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def to_dict(self) -> dict[str, object]:
        return dict(self._state.to_dict())

    def change(self, updates: Mapping[str, object], removals: list[str]) -> None:
        from framecast.core.owners import SERVER

        self._state.update(SERVER, updates, removals)


_ids = itertools.count(1)
_ids_lock = threading.Lock()


class Representations:
    """The representations of a session, as every viewer of it draws them.

    ``add`` and ``hide`` evaluate the selection against the frame on show now (a string in
    MDAnalysis's language, or indices) and store the particles it picks.
    """

    def __init__(self, store: StateStore, fields: Callable[[], Mapping[str, Any]]) -> None:
        self._store = store
        self._fields = fields

    def add(
        self,
        style: str,
        selection: Selection = "all",
        *,
        colour: str = "element",
        opacity: float = 1.0,
    ) -> Representation:
        """Draw ``selection`` as ``style`` (one of :data:`STYLES`) on every viewer.

        ``colour`` is ``"element"``, ``"residue"``, ``"chain"``, ``"secondary-structure"``
        or a ``#rrggbb`` colour; ``opacity`` is from 0 (invisible) to 1. Raises
        ``ValueError`` naming a bad style, colour or opacity, and
        :class:`~framecast.adapters.selection.SelectionError` for a bad or empty selection.
        """
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}: choose one of {', '.join(STYLES)}")
        if not isinstance(colour, str) or not _valid_colour(colour):
            raise ValueError(
                f"unknown colour {colour!r}: choose one of {', '.join(COLOURS)} or '#rrggbb'"
            )
        if (
            isinstance(opacity, bool)
            or not isinstance(opacity, (int, float))
            or not (0.0 <= opacity <= 1.0)
        ):
            raise ValueError(f"opacity is from 0 to 1, got {opacity!r}")
        return self._put(style, selection, colour, float(opacity))

    def hide(self, selection: Selection) -> Representation:
        """Hide ``selection``'s particles in every representation and in the plain view."""
        return self._put("hidden", selection, "element", 1.0)

    def _put(self, style: str, selection: Selection, colour: str, opacity: float) -> Representation:
        particles = self.evaluate(selection)
        with _ids_lock:
            key = f"{PREFIX}framecast.{next(_ids)}"
        rep = Representation(
            key, style, describe(selection), tuple(particles.tolist()), colour, opacity
        )
        self._store.change({key: rep.to_state()}, [])
        return rep

    def evaluate(self, selection: Selection) -> npt.NDArray[np.int64]:
        """The particles ``selection`` picks in the frame on show."""
        return select(selection, self._fields())

    def remove(self, representation: Representation | str) -> None:
        """Take one representation away (by itself or its id); ``KeyError`` if unknown."""
        key = representation.id if isinstance(representation, Representation) else representation
        if key not in {rep.id for rep in self.list()}:
            raise KeyError(f"no representation {key!r}: see .representations")
        self._store.change({}, [key])

    def clear(self) -> None:
        """Take every representation away: viewers draw the default again."""
        keys = [rep.id for rep in self.list()]
        if keys:
            self._store.change({}, keys)

    def list(self) -> list[Representation]:
        """The representations, in the order they were added."""
        return representations_in(self._store.to_dict())

    def __iter__(self) -> Iterator[Representation]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __repr__(self) -> str:
        rows = [f"  {rep.style}: {rep.selection} ({len(rep.particles)} particles)" for rep in self]
        return "Representations(\n" + "\n".join(rows) + "\n)" if rows else "Representations()"


def default_representations(fields: Mapping[str, Any]) -> list[Representation]:
    """What to draw when no representation is set and the frame names its residues:
    protein and nucleic acids as cartoon, ligands as ball-and-stick; the rest as spheres,
    as without a topology (water and ions too, which the viewer hides by default: its
    "hide water and ions"). Empty without residue names or without a polymer (a box of
    argon or water stays as it is)."""
    names = fields.get("residue.names")
    residue_of = fields.get("particle.residues")
    if names is None or residue_of is None:
        return []
    residue_names = np.char.upper(np.char.strip(np.asarray(names, dtype=str)))
    kind = np.zeros(len(residue_names), dtype=np.int8)  # 0 other, 1 polymer, 2 solvent
    kind[np.isin(residue_names, list(PROTEIN | NUCLEIC))] = 1
    kind[np.isin(residue_names, list(WATER | IONS))] = 2
    per_particle = kind[np.asarray(residue_of, dtype=np.int64)]
    polymer = np.flatnonzero(per_particle == 1)
    if polymer.size < 3:
        return []
    reps = [
        Representation(
            "default.polymer", "cartoon", "protein or nucleic", tuple(polymer.tolist()), "chain"
        )
    ]
    ligand = np.flatnonzero(per_particle == 0)
    if ligand.size:
        reps.append(
            Representation("default.ligand", "ball-and-stick", "ligands", tuple(ligand.tolist()))
        )
    return reps
