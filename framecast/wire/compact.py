"""A compact encoding of positions, for links where bytes cost more than a little CPU.

Float32 positions are 12 bytes a particle: 1.2 MB a frame at 100k particles, past NATS's
default payload limit. This encoding stores them as integers at a stated precision (XTC's
0.001 nm by default), takes each coordinate's difference to the previous particle's
(neighbours in a molecule sit close, so the differences are small), splits the integers
into byte planes (the high bytes are then mostly zeros) and compresses them with zstd at
a fast level. ``precision=None`` keeps the float32 values exactly (byte planes and zstd
only). Decoding checks everything it reads: a malformed or hostile blob raises
``ValueError`` and never allocates more than the header's particle count allows, and that
count must fit the blob's own size at a sane compression ratio.

Needs ``zstandard`` (the ``compact`` extra), imported when first used.
"""

from __future__ import annotations

import math
import struct
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from framecast._support.extras import require

__all__ = ["DEFAULT_PRECISION", "MAX_PARTICLES", "decode_positions", "encode_positions"]

#: XTC's precision: 0.001 nm, a thousandth of a bond length.
DEFAULT_PRECISION = 0.001
#: A blob naming more particles than this is refused before anything is allocated.
MAX_PARTICLES = 50_000_000
#: Most bytes a blob may decompress to per byte it holds, past ``RATIO_FREE_BYTES``: a
#: perfect lattice of 100k particles compresses 138 times, random positions under 2 times,
#: so a blob claiming more is a bomb (zeros compress 15,000 times).
MAX_RATIO = 4096
#: Decompressed bytes any blob may hold whatever its ratio (1.4M particles at rest).
RATIO_FREE_BYTES = 16 * 1024 * 1024
#: zstd level: 1 is the fastest; higher levels buy little on positions.
LEVEL = 1

_MAGIC = b"FCP1"
# magic, mode (0 exact float32, 1 fixed point), precision (nm), particle count
_HEADER = struct.Struct("<4sBdI")
_EXACT, _FIXED = 0, 1


def _zstd() -> ModuleType:
    return require("zstandard", "compact", "compact positions")


def _planes(data: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """The bytes of ``data`` grouped by their place in each element (byte shuffle)."""
    width = data.dtype.itemsize
    source = np.ascontiguousarray(data).view(np.uint8).reshape(-1, width)
    planes = np.empty((width, len(source)), dtype=np.uint8)
    for place in range(width):
        planes[place] = source[:, place]
    return planes


def _unplanes(data: bytes, dtype: str, count: int) -> npt.NDArray[Any]:
    """Undo :func:`_planes`: ``count`` elements of ``dtype`` from their byte planes."""
    width = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype=np.uint8).reshape(width, count)
    # Row by row into a preallocated array: a third of the time of a transposed copy.
    out = np.empty((count, width), dtype=np.uint8)
    for place in range(width):
        out[:, place] = planes[place]
    return out.view(dtype).reshape(count)


def encode_positions(
    positions: npt.ArrayLike, precision: float | None = DEFAULT_PRECISION
) -> bytes:
    """Positions (N, 3) in nm as a compact blob; ``precision`` in nm, or None for exact.

    ``ValueError`` for positions that are not finite or not (N, 3), a precision that is not
    a positive number, or a coordinate too large for the precision (2**31 steps).
    """
    array = np.asarray(positions, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {array.shape}")
    count = len(array)
    if count > MAX_PARTICLES:
        raise ValueError(f"{count} particles is more than the {MAX_PARTICLES} a blob may hold")
    if not np.isfinite(array).all():
        raise ValueError("positions must be finite to be encoded")
    if precision is None:
        mode, step, payload = _EXACT, 0.0, _planes(array.reshape(-1))
    else:
        step = float(precision)
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"precision must be a positive number of nm, got {precision!r}")
        # Coordinate-major (every x, then every y, then every z), computed in place: the
        # differences below then run along contiguous rows.
        scaled = np.empty((3, count), dtype=np.float64)
        np.divide(array.T, step, out=scaled, dtype=np.float64)
        np.rint(scaled, out=scaled)
        if count and max(scaled.max(), -scaled.min()) >= 2**30:
            raise ValueError(
                f"a coordinate of {np.abs(array).max():g} nm is too large for a precision "
                f"of {step:g} nm; use a coarser precision or precision=None"
            )
        fixed = scaled.astype(np.int32)
        # Differences along the particles, so that a molecule's neighbours give small ints;
        # wraparound int32 arithmetic keeps the round trip exact.
        deltas = np.empty_like(fixed)
        deltas[:, :1] = fixed[:, :1]
        np.subtract(fixed[:, 1:], fixed[:, :-1], out=deltas[:, 1:])
        mode, payload = _FIXED, _planes(deltas.reshape(-1))
    compressed: bytes = _zstd().ZstdCompressor(level=LEVEL).compress(payload)
    return _HEADER.pack(_MAGIC, mode, step, count) + compressed


def decode_positions(blob: bytes | memoryview) -> npt.NDArray[np.float32]:
    """The positions (N, 3) float32 in nm of a blob from :func:`encode_positions`.

    ``ValueError`` names what is wrong with a malformed blob.
    """
    data = memoryview(blob).cast("B")
    if len(data) < _HEADER.size:
        raise ValueError(f"a compact positions blob has a {_HEADER.size}-byte header")
    magic, mode, step, count = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a compact positions blob (bad magic)")
    if mode not in (_EXACT, _FIXED):
        raise ValueError(f"unknown compact positions mode {mode}")
    if count > MAX_PARTICLES:
        raise ValueError(f"a blob of {count} particles is more than {MAX_PARTICLES}")
    if mode == _FIXED and not (math.isfinite(step) and step > 0):
        raise ValueError(f"a compact positions blob has a bad precision {step!r}")
    expected = count * 12
    allowed = max(RATIO_FREE_BYTES, (len(data) - _HEADER.size) * MAX_RATIO)
    if expected > allowed:
        raise ValueError(
            f"a compact positions blob of {len(data)} bytes claims {count} particles; at most "
            f"{allowed // 12} fit a compression ratio of {MAX_RATIO} (compact.MAX_RATIO)"
        )
    try:
        payload = (
            _zstd().ZstdDecompressor().decompress(data[_HEADER.size :], max_output_size=expected)
        )
    except _zstd().ZstdError as error:
        raise ValueError(f"compact positions do not decompress: {error}") from None
    if len(payload) != expected:
        raise ValueError(
            f"compact positions hold {len(payload)} bytes, {expected} expected for {count}"
        )
    if mode == _EXACT:
        return _unplanes(payload, "<f4", count * 3).reshape(count, 3)
    # Coordinate-major (x of every particle, then y, then z): sums along contiguous rows.
    deltas = _unplanes(payload, "<i4", count * 3).reshape(3, count)
    fixed = np.cumsum(deltas, axis=1, dtype=np.int32)
    positions: npt.NDArray[np.float32] = np.empty((count, 3), dtype=np.float32)
    # Multiplied in float64 (as encoded), rounded once into the float32 result.
    np.multiply(fixed.T, step, out=positions, casting="unsafe")
    return positions
