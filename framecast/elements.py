"""Chemical elements: symbols and atomic numbers, for adapters that read element names.

``particle.elements`` holds atomic numbers (uint8); files and libraries give symbols such as
``"C"``, ``"CL"`` or ``"Cl"``. Atomic number 0 means "unknown" (a virtual site, a dummy atom,
a type that names no element), which viewers draw in a default colour.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["JMOL_COLOURS", "SYMBOLS", "VDW_RADII", "atomic_number", "atomic_numbers"]

_PERIODIC_TABLE = """
H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy
Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf
Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og
"""

#: Element symbols in order of atomic number; index 0 is the unknown element.
SYMBOLS: tuple[str, ...] = ("X", *_PERIODIC_TABLE.split())

#: Jmol's element colours (0xRRGGBB) by atomic number, as the notebook viewer draws them
#: (``labextension/src/widgets/colours.ts``; a test keeps the two tables equal).
JMOL_COLOURS: dict[int, int] = {
    1: 0xFFFFFF,
    2: 0xD9FFFF,
    3: 0xCC80FF,
    5: 0xFFB5B5,
    6: 0x909090,
    7: 0x3050F8,
    8: 0xFF0D0D,
    9: 0x90E050,
    10: 0xB3E3F5,
    11: 0xAB5CF2,
    12: 0x8AFF00,
    13: 0xBFA6A6,
    14: 0xF0C8A0,
    15: 0xFF8000,
    16: 0xFFFF30,
    17: 0x1FF01F,
    18: 0x80D1E3,
    19: 0x8F40D4,
    20: 0x3DFF00,
    25: 0x9C7AC7,
    26: 0xE06633,
    27: 0xF090A0,
    28: 0x50D050,
    29: 0xC88033,
    30: 0x7D80B0,
    34: 0xFFA100,
    35: 0xA62929,
    47: 0xC0C0C0,
    53: 0x940094,
    78: 0xD0D0E0,
    79: 0xFFD123,
}

#: Van der Waals radii (nm; Bondi and Alvarez) of common elements, as the viewer's.
VDW_RADII: dict[int, float] = {
    1: 0.12,
    2: 0.14,
    3: 0.182,
    5: 0.192,
    6: 0.17,
    7: 0.155,
    8: 0.152,
    9: 0.147,
    10: 0.154,
    11: 0.227,
    12: 0.173,
    13: 0.184,
    14: 0.21,
    15: 0.18,
    16: 0.18,
    17: 0.175,
    18: 0.188,
    19: 0.275,
    20: 0.231,
    26: 0.204,
    29: 0.14,
    30: 0.139,
    34: 0.19,
    35: 0.185,
    47: 0.172,
    53: 0.198,
    78: 0.175,
    79: 0.166,
}

_NUMBERS = {symbol.upper(): number for number, symbol in enumerate(SYMBOLS) if number}


def atomic_number(symbol: object) -> int:
    """The atomic number of an element symbol, whatever its case; 0 when it names none."""
    if not isinstance(symbol, str):
        return 0
    return _NUMBERS.get(symbol.strip().upper(), 0)


def atomic_numbers(symbols: Iterable[object]) -> npt.NDArray[np.uint8]:
    """Atomic numbers (uint8) of a sequence of symbols; 0 for those that name no element."""
    return np.array([atomic_number(symbol) for symbol in symbols], dtype=np.uint8)
