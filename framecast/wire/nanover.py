"""NanoVer's frame encoding: MessagePack values as NanoVer's own packers make them.

In a NanoVer frame, arrays travel as raw bytes: float32 triples for positions, velocities,
forces and the box, uint8 elements, uint32 residues, chains, bond pairs and user-force
indices; other arrays as lists; ``frame.index`` 0 means "drop everything first". Used by the
NanoVer endpoint and by the NanoVer recording adapter. Needs ``msgpack`` (the ``nanover``
extra), imported when first used.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np

from framecast._support.extras import require
from framecast.frame import FieldValue, validate_field

__all__ = ["FRAME_INDEX", "PACKED", "frame_entry", "frame_message", "msgpack", "pack_value"]

FRAME_INDEX = "frame.index"
SERVER_TIMESTAMP = "server.timestamp"

#: framecast key -> the dtype and shape NanoVer packs it as (its frame_dict packers).
PACKED: dict[str, tuple[str, tuple[int, ...]]] = {
    "particle.positions": ("<f4", (-1, 3)),
    "particle.velocities": ("<f4", (-1, 3)),
    "particle.forces": ("<f4", (-1, 3)),
    "particle.forces.system": ("<f4", (-1, 3)),
    "system.box.vectors": ("<f4", (-1, 3)),
    "particle.elements": ("u1", (-1,)),
    "particle.residues": ("<u4", (-1,)),
    "residue.chains": ("<u4", (-1,)),
    "bond.pairs": ("<u4", (-1, 2)),
    "bond.orders": ("u1", (-1,)),
    "forces.user.index": ("<u4", (-1,)),
    "forces.user.sparse": ("<f4", (-1, 3)),
}


def msgpack(what: str = "NanoVer's protocol") -> ModuleType:
    """The msgpack module, or ``ImportError`` naming ``what`` and the extra to install."""
    return require("msgpack", "nanover", what)


def unpack_bounded(module: ModuleType, data: bytes, max_containers: int, *, what: str) -> object:
    """Unpack MessagePack ``data``, refusing (``ValueError`` naming ``what`` and the bound)
    once it has made more than ``max_containers`` maps and arrays: memory stays a few times
    the message's own size (4 MB of empty maps would otherwise cost 300 MB)."""
    made = 0

    def count(value: Any) -> Any:
        nonlocal made
        made += 1
        if made > max_containers:
            raise _TooMany
        return value

    try:
        return module.unpackb(data, object_hook=count, list_hook=count)
    except _TooMany:
        raise ValueError(
            f"{what} holds more than {max_containers} maps and arrays (Limits.max_json_containers)"
        ) from None


class _TooMany(Exception):
    """Raised inside msgpack's hooks to stop an unpacking that went past its bound."""


def pack_value(key: str, value: FieldValue) -> object:
    """A framecast field as NanoVer's MessagePack value."""
    if key in PACKED and isinstance(value, np.ndarray):
        dtype, _ = PACKED[key]
        return np.ascontiguousarray(value, dtype=dtype).tobytes()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def unpack_value(key: str, value: object) -> FieldValue:
    """A NanoVer frame value as a framecast field (validated: a bad one names its key)."""
    if key in PACKED and isinstance(value, bytes):
        dtype, shape = PACKED[key]
        return validate_field(key, np.frombuffer(value, dtype=dtype).reshape(shape))
    if isinstance(value, list):
        return validate_field(key, np.asarray(value))
    return validate_field(key, value)


def map_header(count: int) -> bytes:
    """The MessagePack header of a map of ``count`` entries."""
    if count < 16:
        return bytes((0x80 | count,))
    if count < 0x10000:
        return b"\xde" + struct.pack(">H", count)
    return b"\xdf" + struct.pack(">I", count)


def frame_entry(key: str, value: FieldValue) -> bytes:
    """One ``key: value`` entry of a NanoVer frame map, encoded once for every client."""
    packb = msgpack().packb
    return bytes(packb(key)) + bytes(packb(pack_value(key, value)))


_FRAME_KEY = b"\xa5frame"


def frame_message(index: int, timestamp: float, entries: Iterable[bytes]) -> bytes:
    """The whole ``{"frame": {...}}`` message: ``frame.index``, ``server.timestamp`` and
    the already-encoded entries, joined without re-encoding them."""
    packb = msgpack().packb
    parts = list(entries)
    head = map_header(len(parts) + 2)
    meta = packb(FRAME_INDEX) + packb(index) + packb(SERVER_TIMESTAMP) + packb(timestamp)
    return b"".join((b"\x81", _FRAME_KEY, head, meta, *parts))
