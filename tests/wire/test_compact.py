"""Compact positions: fixed point at a stated precision (or exact float32) plus zstd."""

from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from framecast.testing.extras import require

require("zstandard")

from framecast.wire.compact import (  # noqa: E402 - after the extra's check
    DEFAULT_PRECISION,
    MAX_PARTICLES,
    decode_positions,
    encode_positions,
)


def _liquid(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    points: np.ndarray = (rng.random((n, 3)) * (n / 33) ** (1 / 3)).astype(np.float32)
    return points


@pytest.mark.parametrize("precision", [0.001, 0.01, 1e-5])
def test_fixed_point_round_trips_within_half_a_step(precision: float) -> None:
    positions = _liquid(5000) - 3.0  # negative coordinates too
    decoded = decode_positions(encode_positions(positions, precision))
    assert decoded.dtype == np.float32
    assert decoded.shape == positions.shape
    assert np.abs(decoded - positions).max() <= precision / 2 + 1e-6


def test_exact_mode_is_lossless_and_both_are_smaller_than_raw() -> None:
    positions = _liquid(20_000)
    exact = encode_positions(positions, None)
    np.testing.assert_array_equal(decode_positions(exact), positions)
    fixed = encode_positions(positions)
    assert len(fixed) < 0.6 * positions.nbytes
    assert len(exact) < positions.nbytes


def test_a_molecule_compresses_better_than_random_points() -> None:
    data = require("MDAnalysisTests.datafiles")
    mda = require("MDAnalysis")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MDAnalysis's notes about optional readers
        universe = mda.Universe(data.PSF, data.DCD)
    positions = (universe.atoms.positions / 10).astype(np.float32)
    blob = encode_positions(positions, DEFAULT_PRECISION)
    assert len(blob) < 0.45 * positions.nbytes  # neighbours along the chain sit close
    assert np.abs(decode_positions(blob) - positions).max() <= 0.0005 + 1e-6


def test_empty_and_single_particle() -> None:
    for positions in (np.zeros((0, 3)), np.array([[1.5, -2.25, 3.0]])):
        decoded = decode_positions(encode_positions(positions))
        np.testing.assert_allclose(decoded, positions, atol=0.0005)


@pytest.mark.parametrize(
    ("positions", "precision", "message"),
    [
        (np.zeros((4, 2)), 0.001, "shape"),
        (np.array([[np.nan, 0, 0]]), 0.001, "finite"),
        (np.zeros((2, 3)), 0.0, "precision"),
        (np.zeros((2, 3)), float("nan"), "precision"),
        (np.array([[5e6, 0, 0]]), 0.001, "too large"),
    ],
)
def test_bad_input_is_refused(positions: np.ndarray, precision: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_positions(positions, precision)


def test_malformed_blobs_are_refused_without_allocating() -> None:
    good = encode_positions(_liquid(100))
    header = struct.Struct("<4sBdI")
    with pytest.raises(ValueError, match="header"):
        decode_positions(good[:5])
    with pytest.raises(ValueError, match="magic"):
        decode_positions(b"NOPE" + good[4:])
    with pytest.raises(ValueError, match="mode"):
        decode_positions(header.pack(b"FCP1", 9, 0.001, 100) + good[header.size :])
    with pytest.raises(ValueError, match="precision"):
        decode_positions(header.pack(b"FCP1", 1, -1.0, 100) + good[header.size :])
    with pytest.raises(ValueError, match=r"decompress|bytes"):
        decode_positions(good[:-10])  # truncated
    with pytest.raises(ValueError, match="expected"):
        decode_positions(header.pack(b"FCP1", 1, 0.001, 50) + good[header.size :])
    with pytest.raises(ValueError, match="more than"):
        decode_positions(header.pack(b"FCP1", 1, 0.001, MAX_PARTICLES + 1) + good[header.size :])
    # A small blob that would expand to gigabytes: refused at the header's size.
    import zstandard

    bomb = zstandard.ZstdCompressor().compress(bytes(200_000_000))
    with pytest.raises(ValueError, match=r"decompress|expected"):
        decode_positions(header.pack(b"FCP1", 1, 0.001, 100) + bomb)


def test_fixed_point_is_computed_in_float64_as_specified() -> None:
    """Scaling and rounding in float32 would move some values by a step; the result is
    exactly rint(x / precision) * precision in float64, rounded once to float32."""
    positions = np.random.default_rng(5).uniform(-40, 40, (20_000, 3)).astype(np.float32)
    for precision in (0.001, 0.01, 0.0003):
        decoded = decode_positions(encode_positions(positions, precision))
        reference = (np.rint(positions.astype(np.float64) / precision) * precision).astype(
            np.float32
        )
        assert np.array_equal(decoded, reference)
