"""What the notebook viewer draws of a frame, and how those fields travel to the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["DRAWN_FIELDS", "drawn_buffers"]

#: Fields the browser draws; the others stay in the kernel.
DRAWN_FIELDS = (
    "particle.positions",
    "particle.elements",
    "bond.pairs",
    "system.box.vectors",
    "particle.residues",
    "residue.chains",
)


def drawn_buffers(
    fields: Mapping[str, Any], *, skip_positions: bool = False
) -> tuple[dict[str, Any], list[memoryview]]:
    """The drawn fields of ``fields`` as a frame message's ``fields`` (dtype, shape and
    buffer number of each) and its binary buffers, never copied; positions are left out
    with ``skip_positions`` (the page holds them)."""
    meta: dict[str, Any] = {}
    buffers: list[memoryview] = []
    for key in DRAWN_FIELDS:
        value = fields.get(key)
        if skip_positions and key == "particle.positions":
            continue
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            shape = list(array.shape)
            meta[key] = {"dtype": array.dtype.str, "shape": shape, "buffer": len(buffers)}
            buffers.append(array.reshape(-1).view(np.uint8).data)
    return meta, buffers
