"""Compact positions: bytes per frame and encode + decode time, against raw float32.

Rows: a liquid-density box of random points (the worst case: neighbours in the array are
not neighbours in space) at 10k, 100k and 1M particles, and real systems from
MDAnalysisTests (a solvated protein and a protein in vacuum), each at XTC's 0.001 nm, at
0.01 nm, and exact (float32, byte planes and zstd only). Times are medians of several
rounds on one core.

Usage::

    python benchmarks/compact.py            # about a minute
    python benchmarks/compact.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from framecast.wire.compact import decode_positions, encode_positions

#: NATS's default payload limit.
NATS_DEFAULT_MAX = 1024 * 1024


def _systems() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
    rng = np.random.default_rng(0)
    for n in (10_000, 100_000, 1_000_000):
        yield f"random liquid, {n:,}", (rng.random((n, 3)) * (n / 33) ** (1 / 3)).astype(np.float32)
    import MDAnalysis as mda
    from MDAnalysisTests.datafiles import DCD, GRO, PSF, XTC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, files in (
            ("solvated protein (GRO/XTC)", (GRO, XTC)),
            ("protein (PSF/DCD)", (PSF, DCD)),
        ):
            universe = mda.Universe(*files)
            positions = (universe.atoms.positions / 10).astype(np.float32)
            yield f"{name}, {len(positions):,}", positions


def _timed(function: Any, rounds: int) -> tuple[Any, float]:
    times = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        "| system | encoding | bytes per frame | of raw | under 1 MiB | encode | decode "
        "| max error |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, positions in _systems():
        raw = positions.nbytes
        fits = "yes" if raw <= NATS_DEFAULT_MAX else "no"
        print(f"| {name} | raw float32 | {raw:,} | 100 % | {fits} | - | - | 0 |")
        for label, precision in (("0.001 nm", 0.001), ("0.01 nm", 0.01), ("exact", None)):
            blob, encode_ms = _timed(partial(encode_positions, positions, precision), args.rounds)
            decoded, decode_ms = _timed(partial(decode_positions, blob), args.rounds)
            error = float(np.abs(decoded - positions).max())
            fits = "yes" if len(blob) <= NATS_DEFAULT_MAX else "no"
            print(
                f"| {name} | {label} | {len(blob):,} | {len(blob) / raw:.0%} | {fits} "
                f"| {encode_ms:.1f} ms | {decode_ms:.1f} ms | {error:.1e} nm |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
