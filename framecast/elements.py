"""Chemical elements: symbols and atomic numbers, for adapters that read element names.

``particle.elements`` holds atomic numbers (uint8); files and libraries give symbols such as
``"C"``, ``"CL"`` or ``"Cl"``. Atomic number 0 means "unknown" (a virtual site, a dummy atom,
a type that names no element), which viewers draw in a default colour.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["SYMBOLS", "atomic_number", "atomic_numbers"]

_PERIODIC_TABLE = """
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy
Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf
Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
"""

#: Element symbols in order of atomic number; index 0 is the unknown element.
SYMBOLS: tuple[str, ...] = ("X", *_PERIODIC_TABLE.split())

_NUMBERS = {symbol.upper(): number for number, symbol in enumerate(SYMBOLS) if number}


def atomic_number(symbol: object) -> int:
    """The atomic number of an element symbol, whatever its case; 0 when it names none."""
    if not isinstance(symbol, str):
        return 0
    return _NUMBERS.get(symbol.strip().upper(), 0)


def atomic_numbers(symbols: Iterable[object]) -> npt.NDArray[np.uint8]:
    """Atomic numbers (uint8) of a sequence of symbols; 0 for those that name no element."""
    return np.array([atomic_number(symbol) for symbol in symbols], dtype=np.uint8)
