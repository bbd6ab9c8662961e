"""A few bytes that claim gigabytes are refused before anything of that size is allocated:
peak memory for a refused input stays within a few times its own size, and the message names
the bound."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from framecast import Limits
from framecast._proto import command_pb2, state_pb2
from framecast.core.cores import Cores
from framecast.testing.extras import require
from framecast.transports.base import CallError, Status
from framecast.transports.calls import UnaryCalls


@contextmanager
def _peak() -> Iterator[Callable[[], int]]:
    """Peak bytes Python allocated inside the block (numpy's buffers included)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_compact_blob_claiming_fifty_million_particles_is_refused_cheaply() -> None:
    zstd = require("zstandard")
    from framecast.wire.compact import MAX_PARTICLES, decode_positions, encode_positions

    count = MAX_PARTICLES
    # 18 KB of zstd that really does inflate to 600 MB of zeros.
    body = zstd.ZstdCompressor(level=19).compress(bytes(count * 12))
    blob = struct.pack("<4sBdI", b"FCP1", 1, 0.001, count) + body
    assert len(blob) < 64 * 1024
    with _peak() as peak, pytest.raises(ValueError, match=r"compact\.MAX_RATIO") as refused:
        decode_positions(blob)
    assert peak() < 10 * len(blob) + 1024 * 1024
    assert f"claims {count} particles" in str(refused.value)
    # What real systems compress to still decodes: a perfect lattice (138 times) and a
    # frame of 100k particles at rest (all zeros, under the ratio-free floor).
    n = 46
    lattice = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3) * 0.35
    decoded = decode_positions(encode_positions(lattice.astype(np.float32)))
    assert np.abs(decoded - lattice).max() <= 0.0005 + 1e-6
    assert decode_positions(encode_positions(np.zeros((100_000, 3), np.float32))).shape == (
        100_000,
        3,
    )


def _calls() -> UnaryCalls:
    return UnaryCalls(Cores.create(Limits()))


def test_json_of_a_million_empty_objects_is_refused_before_it_is_parsed() -> None:
    calls = _calls()
    state = calls._cores.shared_state
    state.update("server", {"keep": 1}, ())
    token = "t" * 8
    big = b"[" + b",".join([b"{}"] * 1_400_000) + b"]"  # 4 MB
    under_size = b"[" + b",".join([b"[]"] * 300_000) + b"]"  # 900 KB, 300k arrays
    for value, limit in ((big, "Limits.max_json_bytes"), (under_size, "max_json_containers")):
        request = state_pb2.UpdateStateRequest(
            access_token=token, change=state_pb2.StateChange(updates={"k": value})
        )
        with _peak() as peak, pytest.raises(CallError) as refused:
            calls.update_state(request)
        assert refused.value.code is Status.INVALID_ARGUMENT
        assert limit in refused.value.message
        assert peak() < 4 * len(value) + 1024 * 1024
    arguments = b'{"a": [' + b",".join([b"{}"] * 200_000) + b"]}"
    with pytest.raises(CallError, match="max_json_containers"):
        calls.run_command(command_pb2.RunCommandRequest(name="playback/play", arguments=arguments))
    assert state.to_dict() == {"keep": 1}  # nothing applied, the server serves on
    ok = state_pb2.UpdateStateRequest(
        access_token=token, change=state_pb2.StateChange(updates={"k": b'[{"a": 1}]'})
    )
    assert calls.update_state(ok).success


def test_a_nanover_message_of_four_million_empty_maps_is_refused_cheaply() -> None:
    msgpack = require("msgpack")
    from framecast.wire.nanover import unpack_bounded

    data = msgpack.packb({"state": {"updates": {"k": [{}] * 4_000_000}}})
    with _peak() as peak, pytest.raises(ValueError, match=r"Limits\.max_json_containers"):
        unpack_bounded(msgpack, data, Limits().max_json_containers, what="a NanoVer message")
    assert peak() < 4 * len(data) + 1024 * 1024
    message = {"state": {"updates": {"selection": list(range(50_000))}}}
    assert unpack_bounded(msgpack, msgpack.packb(message), 100, what="m") == message
