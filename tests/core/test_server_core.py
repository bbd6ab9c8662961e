"""The transport-free cores: no sockets, no gRPC."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from framecast import Limits
from framecast._proto import frame_pb2
from framecast._support.mailbox import Mailbox
from framecast.core import CommandRegistry, FramePublisher, SharedState
from framecast.core.state import SERVER
from framecast.errors import (
    CommandArgumentError,
    LimitExceededError,
    StateLockedError,
    UnknownCommandError,
)
from framecast.frame import FieldValue, FrameChanges, FrameUpdate
from framecast.wire import codec as _codec


def _decode(message: bytes) -> FrameUpdate:
    return _codec.decode_update(frame_pb2.FrameUpdate.FromString(message))


# -- mailbox -------------------------------------------------------------------------------------
def test_mailbox_merges_latest_wins_and_keeps_every_key() -> None:
    box: Mailbox[int, str] = Mailbox()
    box.put({"a": 1, "b": 1}, reset=False, meta="first")
    box.put({"b": 2, "c": 2}, reset=False, meta="second")
    pending = box.take(timeout=0)
    assert pending is not None
    assert pending.fields == {"a": 1, "b": 2, "c": 2}
    assert pending.meta == "second"
    assert box.take(timeout=0) is None


def test_mailbox_reset_replaces_pending_and_stays_a_reset() -> None:
    box: Mailbox[int, None] = Mailbox()
    box.put({"old": 1}, reset=False, meta=None)
    box.put({"new": 1}, reset=True, meta=None)
    box.put({"later": 1}, reset=False, meta=None)
    pending = box.take(timeout=0)
    assert pending is not None
    assert pending.reset
    assert pending.fields == {"new": 1, "later": 1}


def test_mailbox_close_wakes_a_waiting_taker() -> None:
    box: Mailbox[int, None] = Mailbox()
    result: list[object] = []
    taker = threading.Thread(target=lambda: result.append(box.take()))
    taker.start()
    box.close()
    taker.join(5)
    assert result == [None]


# -- publisher ----------------------------------------------------------------------------------
def _changes(index: int, reset: bool = False, **fields: FieldValue) -> FrameChanges:
    return FrameChanges(index, dict(fields), reset)


def test_new_subscriber_gets_the_whole_current_frame_as_a_reset() -> None:
    publisher = FramePublisher()
    publisher.publish(_changes(1, reset=True, a=1, b="x"))
    publisher.publish(_changes(2, a=2))
    with publisher.subscribe() as box:
        pending = box.take(timeout=0)
        assert pending is not None
        update = _decode(FramePublisher.message(pending))
    assert update.reset
    assert update.frame_index == 2
    assert update.fields == {"a": 2, "b": "x"}


def test_slow_subscriber_keeps_one_merged_update_and_loses_no_field() -> None:
    publisher = FramePublisher()
    with publisher.subscribe() as box:
        box.take(timeout=0)  # the initial (empty) frame
        for index in range(100):
            publisher.publish(FrameChanges(index, {"energy.kinetic": float(index)}, False))
        publisher.publish(_changes(100, label="only once"))
        pending = box.take(timeout=0)
        assert pending is not None
        update = _decode(FramePublisher.message(pending))
    assert update.frame_index == 100
    assert update.fields == {"energy.kinetic": 99.0, "label": "only once"}
    assert not update.reset


def test_reset_drops_stale_keys_for_existing_subscribers() -> None:
    publisher = FramePublisher()
    publisher.publish(_changes(0, reset=True, old=1))
    with publisher.subscribe() as box:
        box.take(timeout=0)
        publisher.publish(_changes(0, reset=True, new=2))
        pending = box.take(timeout=0)
        assert pending is not None
        update = _decode(FramePublisher.message(pending))
    assert update.reset
    assert update.fields == {"new": 2}
    assert _decode(publisher.current_message()).fields == {"new": 2}


def test_each_field_is_encoded_once_whatever_the_subscriber_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from framecast.core import publisher as publisher_module

    calls: list[str] = []
    real = _codec.encode_entry_parts

    def counting(key: str, value: FieldValue) -> _codec.EntryParts:
        calls.append(key)
        return real(key, value)

    monkeypatch.setattr(publisher_module, "encode_entry_parts", counting)
    publisher = FramePublisher()
    with publisher.subscribe() as a, publisher.subscribe() as b, publisher.subscribe() as c:
        publisher.publish(_changes(1, x=np.zeros((10, 3), dtype=np.float32), y=1.0))
        messages = {FramePublisher.message(box.take(timeout=0)) for box in (a, b, c)}  # type: ignore[arg-type]
    assert sorted(calls) == ["x", "y"]
    assert len(messages) == 1  # byte-identical for every subscriber


def test_an_in_process_watcher_gets_the_published_arrays_themselves_merged_latest_wins() -> None:
    publisher = FramePublisher(max_subscribers=1)
    positions = np.zeros((10, 3), dtype=np.float32)
    positions.flags.writeable = False
    publisher.publish(_changes(1, reset=True, positions=positions, label="a"))
    with publisher.subscribe(), publisher.watch() as watch:
        first = watch.take(timeout=0)
        assert first is not None
        update = FramePublisher.update(first)
        assert update == FrameUpdate(
            1, {"positions": positions, "label": "a"}, True, update.publish_time
        )
        assert update.fields["positions"] is positions  # handed over, never encoded
        moved = np.ones((10, 3), dtype=np.float32)
        for index in range(2, 6):
            publisher.publish(_changes(index, label=str(index)))
        publisher.publish(_changes(6, positions=moved))
        pending = watch.take(timeout=0)
        assert pending is not None
        merged = FramePublisher.update(pending)
        assert (merged.frame_index, merged.reset) == (6, False)
        assert merged.fields.keys() == {"label", "positions"}
        assert merged.fields["label"] == "5"
        assert merged.fields["positions"] is moved
        # Not a network subscriber: neither counted nor held to max_subscribers.
        assert publisher.subscriber_count == 1
        current = publisher.current_update()
        assert current.reset
        assert current.fields == {"positions": moved, "label": "5"}
    publisher.close()
    with publisher.watch() as late:
        assert late.closed


def test_unsubscribing_removes_the_mailbox() -> None:
    publisher = FramePublisher()
    with publisher.subscribe():
        assert publisher.subscriber_count == 1
    assert publisher.subscriber_count == 0


# -- codec ----------------------------------------------------------------------------------------
def test_assembled_update_equals_protobuf_encoding() -> None:
    fields = {
        "particle.positions": np.arange(12, dtype="<f4").reshape(4, 3),
        "particle.names": np.array(["C", "O", "N", "H"]),
        "n": 3,
        "t": 1.5,
        "s": "text",
        "b": True,
    }
    entries = [_codec.encode_entry_parts(k, v) for k, v in fields.items()]  # type: ignore[arg-type]
    message = _codec.assemble_update(5, True, 123.25, entries)
    decoded = _decode(message)
    assert decoded.frame_index == 5
    assert decoded.reset
    assert decoded.publish_time == 123.25
    np.testing.assert_array_equal(decoded.fields["particle.positions"], np.arange(12).reshape(4, 3))
    assert decoded.fields["particle.names"].tolist() == ["C", "O", "N", "H"]  # type: ignore[union-attr]
    assert {k: decoded.fields[k] for k in "ntsb"} == {"n": 3, "t": 1.5, "s": "text", "b": True}


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (frame_pb2.Array(dtype="<f4", shape=[2, 3], data=b"\0" * 4), "needs 24 bytes"),
        (frame_pb2.Array(dtype="O", shape=[1], data=b"\0" * 8), "not numeric"),
        (frame_pb2.Array(dtype="nonsense", shape=[1], data=b""), "unknown array dtype"),
    ],
)
def test_malformed_arrays_are_refused(array: frame_pb2.Array, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _codec.decode_field(frame_pb2.Field(array=array))


# -- shared state -------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_update_refused_whole_when_any_key_is_locked_by_someone_else() -> None:
    clock = FakeClock()
    state = SharedState(clock=clock)
    with state.client("alice"):
        state.update("alice", {"a": 1, "b": 1})
        state.update_locks("alice", {"a": 10.0})
        with pytest.raises(StateLockedError, match="'a'") as info:
            state.update("bob", {"a": 2, "b": 2})
        assert info.value.keys == ("a",)
        assert state.to_dict() == {"a": 1, "b": 1}  # b was not applied either
        state.update("alice", {"a": 3})  # the holder may write
        clock.now += 11.0  # the lease expires
        state.update("bob", {"a": 4})
        assert state["a"] == 4


def test_a_removal_of_a_key_locked_by_someone_else_is_refused_whole() -> None:
    clock = FakeClock()
    state = SharedState(clock=clock)
    with state.client("alice"), state.client("bob"):
        state.update("alice", {"a": 1, "b": 1, "c": 1})
        state.update_locks("alice", {"a": 10.0})
        with pytest.raises(StateLockedError, match="'a'"):
            state.update("bob", removals=["a"])
        with pytest.raises(StateLockedError, match="'a'"):
            state.update("bob", {"c": 2}, removals=["b", "a"])
        assert state.to_dict() == {"a": 1, "b": 1, "c": 1}  # nothing removed or written
        state.update("alice", removals=["a"])  # the holder may remove it
        assert "a" not in state


def test_malformed_update_is_refused_whole() -> None:
    state = SharedState()
    state.update("alice", {"a": 1})
    with pytest.raises(ValueError, match="JSON"):
        state.update("alice", {"b": 2, "c": object()})
    with pytest.raises(ValueError, match="control characters"):
        state.update("alice", {"ok": 1, "bad\nkey": 2})
    with pytest.raises(ValueError, match="empty"):
        state.update("", {"x": 1})
    assert state.to_dict() == {"a": 1}


def test_locks_conflict_release_and_bad_durations() -> None:
    state = SharedState(clock=FakeClock())
    with state.client("alice"), state.client("bob"):
        state.update_locks("alice", {"k": 5.0})
        assert state.lock_holder("k") == "alice"
        with pytest.raises(StateLockedError):
            state.update_locks("bob", {"k": 5.0})
        with pytest.raises(StateLockedError):
            state.update_locks("bob", release=["k"])
        for bad in (0.0, -1.0, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="lock duration"):
                state.update_locks("bob", {"other": bad})
        state.update_locks("alice", release=["k"])
        assert state.lock_holder("k") is None


def test_reads_are_copies() -> None:
    state = SharedState()
    state["list"] = [1, 2]
    value = state["list"]
    assert isinstance(value, list)
    value.append(3)
    assert state["list"] == [1, 2]


def test_state_subscribers_get_a_snapshot_then_changes_and_removals() -> None:
    state = SharedState()
    state["a"] = 1
    with state.subscribe() as box:
        first = box.take(timeout=0)
        assert first is not None
        assert first.reset
        assert first.fields == {"a": b"1"}
        state["b"] = "x"
        del state["a"]
        change = box.take(timeout=0)
        assert change is not None
        assert change.fields == {"b": b'"x"', "a": None}


# -- commands -----------------------------------------------------------------------------------
def test_commands_run_with_keyword_arguments_and_describe_themselves() -> None:
    registry = CommandRegistry()

    def scale(factor: float, offset: float = 0.0) -> float:
        """Scale the thing."""
        return factor * 2 + offset

    registry.register("math/scale", scale)
    assert registry.run("math/scale", {"factor": 2}) == 4
    (info,) = registry.list()
    assert info.arguments == {"factor": None, "offset": 0.0}
    assert info.description == "Scale the thing."


def test_command_errors_name_the_problem() -> None:
    registry = CommandRegistry()
    registry.register("one", lambda x: x)
    with pytest.raises(UnknownCommandError, match="unknown command 'two'; available: one"):
        registry.run("two")
    with pytest.raises(CommandArgumentError, match=r"'one'.*missing"):
        registry.run("one")
    with pytest.raises(CommandArgumentError, match="unexpected keyword"):
        registry.run("one", {"x": 1, "y": 2})
    with pytest.raises(ValueError, match="already registered"):
        registry.register("one", lambda: None)
    with pytest.raises(ValueError, match="empty"):
        registry.register("", lambda: None)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype="<f4").reshape(4, 3),
        np.zeros((0, 3), dtype="<f4"),
        np.array([1, 2, 250], dtype="|u1"),
        np.array([True, False]),
        np.arange(6, dtype="<i8").reshape(2, 3),
        np.arange(3, dtype=">f8"),  # big-endian input is sent little-endian
    ],
)
def test_hand_framed_entries_equal_protobuf_encoding(array: np.ndarray[Any, Any]) -> None:
    expected = frame_pb2.FrameUpdate(fields={"k": _codec.encode_field(array)}).SerializeToString()
    assert _codec.encode_entry("k", array) == expected


@pytest.mark.parametrize(
    ("index", "reset", "publish_time"), [(0, False, 0.0), (7, True, 12.5), (2**40, False, 1.7e9)]
)
def test_hand_encoded_header_equals_protobuf_encoding(
    index: int, reset: bool, publish_time: float
) -> None:
    expected = frame_pb2.FrameUpdate(
        frame_index=index, reset=reset, publish_time=publish_time
    ).SerializeToString()
    assert _codec.encode_header(index, reset, publish_time) == expected


def test_subscribers_that_keep_up_share_one_message_and_slow_ones_get_a_merge() -> None:
    publisher = FramePublisher()
    with publisher.subscribe() as fast, publisher.subscribe() as slow:
        fast.take(timeout=0)
        slow.take(timeout=0)
        publisher.publish(_changes(1, a=1.0))
        first_fast = fast.take(timeout=0)
        assert first_fast is not None
        publisher.publish(_changes(2, b=2.0))
        second_fast, merged = fast.take(timeout=0), slow.take(timeout=0)
        assert second_fast is not None
        assert merged is not None
        # The same bytes object, built once by publish(), for a subscriber that keeps up.
        assert FramePublisher.message(first_fast) is first_fast.packed
        assert merged.packed is None
        assert _decode(FramePublisher.message(merged)).fields == {"a": 1.0, "b": 2.0}
        assert _decode(FramePublisher.message(second_fast)).fields == {"b": 2.0}


def _sample_fields() -> dict[str, FieldValue]:
    return {
        "particle.positions": np.arange(30, dtype="<f4").reshape(10, 3),
        "particle.names": np.array(["C", "O"]),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "elements": np.array([1, 8], dtype="|u1"),
        "n": -3,
        "t": 1.5,
        "s": "text",
        "b": True,
    }


def test_zero_copy_parser_agrees_with_protobuf() -> None:
    fields = _sample_fields()
    message = _codec.assemble_update(
        9, True, 4.25, [_codec.encode_entry_parts(k, v) for k, v in fields.items()]
    )
    fast = _codec.parse_update(message)
    slow = _decode(message)
    assert (fast.frame_index, fast.reset, fast.publish_time) == (9, True, 4.25)
    assert (slow.frame_index, slow.reset, slow.publish_time) == (9, True, 4.25)
    assert fast.fields.keys() == slow.fields.keys() == fields.keys()
    for key, value in fields.items():
        np.testing.assert_array_equal(np.asarray(fast.fields[key]), np.asarray(value))
        assert type(fast.fields[key]) is type(slow.fields[key])
    positions = fast.fields["particle.positions"]
    assert isinstance(positions, np.ndarray)
    assert not positions.flags.writeable


def test_zero_copy_parser_reads_protobuf_encoded_messages_too() -> None:
    message = frame_pb2.FrameUpdate(
        frame_index=3,
        fields={k: _codec.encode_field(v) for k, v in _sample_fields().items()},
    ).SerializeToString()
    parsed = _codec.parse_update(message)
    assert parsed.frame_index == 3
    assert parsed.fields["n"] == -3
    assert parsed.fields["particle.positions"].shape == (10, 3)  # type: ignore[union-attr]


@pytest.mark.parametrize("cut", [1, 5, 20, -7, -1])
def test_zero_copy_parser_refuses_truncated_messages(cut: int) -> None:
    message = _codec.assemble_update(
        1, False, 1.0, [_codec.encode_entry_parts("p", np.arange(12, dtype="<f4"))]
    )
    with pytest.raises(ValueError, match=r"truncated|needs|has no value|malformed"):
        _codec.parse_update(message[:cut])


def test_zero_copy_parser_refuses_arrays_whose_size_does_not_match() -> None:
    bad = frame_pb2.FrameUpdate(
        fields={"p": frame_pb2.Field(array=frame_pb2.Array(dtype="<f4", shape=[5], data=b"1234"))}
    ).SerializeToString()
    with pytest.raises(ValueError, match="needs 20 bytes, got 4"):
        _codec.parse_update(bad)


# -- named sessions and quotas ------------------------------------------------------------------
def test_idle_names_are_forgotten_least_recently_used_first_and_pinned_ones_kept() -> None:
    from framecast.core.registry import SessionRegistry

    registry = SessionRegistry(limits=Limits(max_sessions=3))
    registry.ensure("python", pinned=True)
    registry.ensure("a")
    registry.ensure("b")
    registry.ensure("a")  # used again: "b" is now the least recently used idle name
    registry.ensure("c")
    assert list(registry.counts()) == ["python", "a", "c"]
    with registry.join("a"), registry.join("c"):
        with pytest.raises(LimitExceededError, match=r"Limits\.max_sessions"):
            registry.ensure("d")  # every name is busy or pinned
        registry.ensure("tracked", pinned=True)  # the server's Python is never refused
        with registry.join("viewer", pinned=True):
            assert registry.count("viewer") == 1
    assert set(registry.counts()) == {"python", "a", "c", "tracked", "viewer"}
    registry.ensure("e")  # idle names make room again
    assert "e" in registry.counts()
    assert len(registry.counts()) == 5


def test_a_client_quota_counts_streams_per_client() -> None:
    from framecast.transports.grpc.quota import ClientQuota

    quota = ClientQuota(2, what="frame streams")
    with quota.stream("peer-1"), quota.stream("peer-1"):
        third = quota.stream("peer-1")
        with pytest.raises(LimitExceededError, match=r"2 frame streams.*max_streams_per_client"):
            third.__enter__()
        with quota.stream("peer-2"):
            assert quota.open_streams("peer-2") == 1
        assert quota.open_streams("peer-1") == 2
    assert len(quota) == 0


def test_state_versions_order_changes_and_a_departing_client_takes_its_keys() -> None:
    state = SharedState()
    with state.subscribe() as box:
        first = box.take(timeout=0)
        assert first is not None
        assert first.meta == 0
        assert state.update("alice", {"a": 1}) == 1
        assert state.update("bob", removals=["nothing"]) == 1  # no change, no new version
        with state.client("alice"):
            assert state.update("alice", {"mine": 1, "also": 2}, owned=True) == 2
            assert state.update("bob", {"also": 3}) == 3  # bob's write: owned by no one
            assert state.owner_of("mine") == "alice"
            assert state.owner_of("also") is None
        assert "mine" not in state  # removed when alice left, as version 4
        assert state["also"] == 3
        assert state.version == 4
        change = box.take(timeout=0)
        assert change is not None
        assert change.meta == 4
        assert change.fields == {"a": b"1", "mine": None, "also": b"3"}
    with pytest.raises(ValueError, match="belong to no client"):
        state.update(SERVER, {"k": 1}, owned=True)
