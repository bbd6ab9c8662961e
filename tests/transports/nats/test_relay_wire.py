"""The NATS relay's wire, without a server: packets, reassembly, URLs, replies, and the
state replica's re-sync from a snapshot."""

from __future__ import annotations

import numpy as np
import pytest

from framecast.client.versioned import VersionedView
from framecast.transports.nats.wire import (
    Reassembler,
    Subjects,
    check_subject_name,
    decode_reply,
    encode_reply,
    join_records,
    packets,
    parse_nats_url,
    read_packet,
    records,
)
from framecast.wire.codec import encode_compact_entry, encode_entry, encode_header, parse_update


def test_a_large_message_splits_and_joins_back_in_order() -> None:
    body = bytes(range(256)) * 20_000  # 5 MB
    parts = packets(7, 42, body, 1024 * 1024)
    assert len(parts) == 5
    assert all(len(part) <= 1024 * 1024 for part in parts)
    joiner = Reassembler()
    results = [joiner.add(part) for part in parts]
    assert results[:-1] == [None] * 4
    assert results[-1] == (7, 42, body)
    assert not joiner.lost


def test_a_lost_part_drops_the_message_and_says_so() -> None:
    first = packets(1, 1, b"a" * 3000, 2048)
    second = packets(1, 2, b"b" * 10, 2048)
    joiner = Reassembler()
    assert joiner.add(first[0]) is None
    # first[1] is lost: the next message's packet starts, and the broken one is dropped.
    assert joiner.add(second[0]) == (1, 2, b"b" * 10)
    assert joiner.lost


@pytest.mark.parametrize(
    ("epoch", "sequence"), [(1, 2), (2, 1)], ids=["next message", "another origin"]
)
def test_a_part_of_another_message_is_never_joined(epoch: int, sequence: int) -> None:
    """Message 1's first part, then the second part of another message (of the next
    sequence number, or of another origin's epoch): the two are not joined."""
    mine = packets(1, 1, b"a" * 5000, 2048)
    other = packets(epoch, sequence, b"b" * 5000, 2048)
    joiner = Reassembler()
    assert joiner.add(mine[0]) is None
    assert joiner.add(other[1]) is None
    assert joiner.lost
    # Nor does the rest of either message make a whole one from the mix.
    assert joiner.add(other[2]) is None
    assert joiner.add(mine[1]) is None
    assert joiner.add(mine[2]) is None
    joiner.lost = False
    assert [joiner.add(part) for part in other] == [None, None, (epoch, sequence, b"b" * 5000)]
    assert not joiner.lost


def test_a_part_out_of_order_is_a_gap() -> None:
    parts = packets(1, 1, b"x" * 5000, 2048)
    joiner = Reassembler()
    joiner.add(parts[0])
    assert joiner.add(parts[2]) is None
    assert joiner.lost


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"short", "at least"),
        (b"NOPE" + bytes(24), "magic"),
        (
            packets(1, 1, b"x", 2048)[0][:20]
            + (5).to_bytes(4, "little")
            + (5).to_bytes(4, "little"),
            "out of range",
        ),
    ],
)
def test_a_malformed_packet_is_refused_by_name(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        read_packet(data)


def test_a_message_over_the_size_limit_is_refused() -> None:
    joiner = Reassembler(max_bytes=4096)
    parts = packets(1, 1, b"x" * 10_000, 2048)
    for part in parts[:2]:
        assert joiner.add(part) is None
    with pytest.raises(ValueError, match="larger than"):
        joiner.add(parts[2])


def test_replies_and_records_round_trip() -> None:
    assert decode_reply(encode_reply(5, "not found", b"body")) == (5, "not found", b"body")
    with pytest.raises(ValueError, match="truncated"):
        decode_reply(encode_reply(5, "not found")[:7])
    items = [b"", b"one", b"two" * 100]
    assert list(records(join_records(items))) == items
    with pytest.raises(ValueError, match="truncated"):
        list(records(join_records(items)[:-1]))


def test_nats_urls() -> None:
    address = parse_nats_url(
        "nats://viewer:secret@127.0.0.1:4222,127.0.0.1:4223/demo?creds=/x.creds"
    )
    assert address.servers == (
        "nats://viewer:secret@127.0.0.1:4222",
        "nats://viewer:secret@127.0.0.1:4223",
    )
    assert address.session == "demo"
    assert address.creds == "/x.creds"
    assert not address.tls
    # Credentials never show in what is printed.
    assert address.display() == "nats://127.0.0.1:4222,nats://127.0.0.1:4223"
    secure = parse_nats_url("tls://hub.example.org/demo")
    assert secure.tls
    assert secure.session == "demo"
    assert parse_nats_url("nats://127.0.0.1:4222").session is None
    for bad, problem in [
        ("http://x:1/demo", "not a nats"),
        ("nats:///demo", "needs a host"),
        ("nats://h:1/with.dot", "cannot name NATS subjects"),
        ("nats://h:1/demo?colour=red", "unknown NATS URL option"),
        ("nats://h:99999/demo", "bad NATS server"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_nats_url(bad)


def test_subjects_carry_the_session_and_any_named_session_fits() -> None:
    subjects = Subjects("demo")
    assert subjects.frames == "framecast.demo.frames"
    assert subjects.current == "framecast.demo.frames.current"
    assert subjects.rpc("RunCommand") == "framecast.demo.rpc.RunCommand"
    assert subjects.events("default") == "framecast.demo.events.default"
    odd = subjects.events("my session.*>")
    assert odd.count(".") == 3
    assert "*" not in odd
    assert ">" not in odd
    assert " " not in odd
    assert subjects.events("x1") != subjects.events("x" + b"x1".hex())
    with pytest.raises(ValueError, match="cannot name"):
        check_subject_name("a b")


def test_compact_positions_travel_inside_a_frame_update() -> None:
    positions = np.random.default_rng(1).uniform(0, 5, (1000, 3)).astype(np.float32)
    message = (
        encode_header(3, True, 1.5)
        + encode_compact_entry("particle.positions", positions, 0.001)
        + encode_entry("system.energy", 2.0)
    )
    update = parse_update(message)
    assert update.frame_index == 3
    assert update.reset
    assert update.fields["system.energy"] == 2.0
    decoded = update.fields["particle.positions"]
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == np.float32
    assert decoded.shape == (1000, 3)
    assert np.abs(decoded.astype(np.float32) - positions).max() <= 0.0005 + 1e-6
    exact = parse_update(encode_compact_entry("particle.positions", positions, None))
    assert np.array_equal(exact.fields["particle.positions"], positions)


def test_a_snapshot_removes_what_it_no_longer_carries() -> None:
    view = VersionedView()
    view.receive(1, {"a": b"1", "b": b"2"}, [])
    view.own_write(9, {"mine": b"3"}, [])  # newer than the snapshot: kept
    # Messages were lost (b was removed at 4, c added at 5); the snapshot at 5 re-syncs.
    view.receive(5, {"a": b"1"}, [], more=True, snapshot=True)
    view.receive(5, {"c": b"4"}, [])
    assert view.values == {"a": b"1", "c": b"4", "mine": b"3"}
    assert view.complete == 5


def test_a_reset_forgets_an_old_origins_versions() -> None:
    view = VersionedView()
    view.receive(7, {"old": b"1", "kept": b"1"}, [])
    view.reset()
    # The new origin counts from 1 again: its values apply, and nothing old survives.
    view.receive(1, {"kept": b"2"}, [], snapshot=True)
    assert view.values == {"kept": b"2"}
    assert view.complete == 1
