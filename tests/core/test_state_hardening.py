"""Shared state and edges that no client can exhaust, take over or leave inconsistent.

Each test reproduces one defect of the adversarial review (issue 14) against a real server
on 127.0.0.1, with clients in other threads or processes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

import grpc
import numpy as np
import pytest

from framecast import Client, FrameData, Limits, Session
from framecast._proto import sessions_pb2, state_pb2
from framecast.core.state import SERVER
from framecast.errors import AbsentClientError, LimitExceededError, StateLockedError
from framecast.testing import ListenerProcess, one_key_race, wait_until
from framecast.wire import methods as wire


def _frame() -> FrameData:
    return FrameData({"particle.positions": np.zeros((4, 3), np.float32)})


def _session(**limits: int) -> Session:
    return Session(_frame(), port=0, limits=Limits(**limits))


@pytest.fixture
def small(no_leaks: None) -> Iterator[Session]:
    with Session(_frame(), port=0) as session:
        yield session


def _raw(channel: grpc.Channel, method: wire.Method) -> Any:
    """A raw gRPC callable of ``method``, as a client in another language would make."""
    make = channel.unary_stream if method.streaming else channel.unary_unary
    return make(
        method.path,
        request_serializer=method.request.SerializeToString,
        response_deserializer=method.response.FromString,
    )


def _state_stream(channel: grpc.Channel, token: str = "") -> Any:
    return _raw(channel, wire.SUBSCRIBE_STATE)(state_pb2.SubscribeStateRequest(access_token=token))


def _update(channel: grpc.Channel, request: state_pb2.UpdateStateRequest) -> Any:
    return _raw(channel, wire.UPDATE_STATE)(request, timeout=10)


def _locks(channel: grpc.Channel, request: state_pb2.UpdateLocksRequest) -> Any:
    return _raw(channel, wire.UPDATE_LOCKS)(request, timeout=10)


# -- 1. memory through the state --------------------------------------------------------------
def test_the_state_has_a_total_size_limit_and_a_refused_change_applies_nothing(
    no_leaks: None,
) -> None:
    with _session(max_state_bytes=10_000) as session, Client(session.app.target) as client:
        state = client.shared_state
        state["a"] = "x" * 4_000
        state["b"] = "y" * 4_000
        with pytest.raises(LimitExceededError, match=r"Limits\.max_state_bytes"):
            state.change({"c": "z" * 4_000, "d": 1})
        assert set(session.shared_state) == {"a", "b"}  # not even "d"
        with pytest.raises(LimitExceededError, match=r"Limits\.max_state_bytes"):
            session.shared_state["c"] = "z" * 4_000  # the server's Python too
        state["a"] = "small"  # replacing with less always fits
        state["c"] = "z" * 4_000  # and frees room for others
        assert session.shared_state.size <= 10_000


def test_a_large_snapshot_arrives_in_bounded_parts_and_whole(small: Session) -> None:
    value = "v" * 200_000  # 20 keys of 200 kB: 4 MB, sent in parts of about 1 MiB
    for i in range(20):
        small.shared_state[f"k{i}"] = value
    with grpc.insecure_channel(small.app.target) as channel:
        stream = _state_stream(channel)
        parts = []
        for message in stream:
            parts.append(message)
            if not message.more:
                break
        stream.cancel()
    assert len(parts) >= 4
    assert all(p.ByteSize() <= 1024 * 1024 + 300_000 for p in parts)
    assert all(p.more for p in parts[:-1])
    keys = [key for part in parts for key in part.updates]
    assert sorted(keys) == sorted(f"k{i}" for i in range(20))
    assert {p.version for p in parts} == {small.shared_state.version}
    # A client is synced only once the whole snapshot arrived.
    with Client(small.app.target) as client:
        assert len(client.shared_state) == 20


def test_a_subscriber_that_does_not_read_holds_the_latest_values_not_a_copy() -> None:
    from framecast.core.state import SharedState, entry_size

    state = SharedState()
    for i in range(10):
        state[f"k{i}"] = "a" * 500_000
    with state.subscribe() as box:
        first = box.take_part(1024 * 1024, entry_size)
        assert first is not None
        assert first.reset
        assert first.more
        sent = set(first.fields)
        for i in range(10):
            state[f"k{i}"] = "b"  # every value replaced while the rest is pending
        rest = box.take_part(10**9, entry_size)
        assert rest is not None
        assert not rest.more
        assert not rest.reset
        assert set(rest.fields) == {f"k{i}" for i in range(10)}  # sent keys come again
        assert all(value == b'"b"' for value in rest.fields.values())  # only the latest
        assert sent <= set(rest.fields)


# -- 2. a client's view never diverges ----------------------------------------------------------
def test_an_own_write_answered_after_a_newer_write_arrived_does_not_overwrite_it(
    small: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = small.shared_state
    original = state.apply_encoded
    with Client(small.app.target) as alice, Client(small.app.target) as bob:
        view = alice.shared_state
        assert len(bob.shared_state) == 0  # synced before the race starts

        def apply_then_let_bob_win(owner: Any, encoded: Any, removals: Any, **kw: Any) -> int:
            version = original(owner, encoded, removals, **kw)
            if owner == alice.access_token:
                # Forced interleaving: the server applied A's write; B's newer write comes
                # next, and reaches A's view, all before A gets its answer.
                bob.shared_state["pen"] = "B"
                view.wait_for(lambda d: d.get("pen") == "B", timeout=5)
            return version

        monkeypatch.setattr(state, "apply_encoded", apply_then_let_bob_win)
        view["pen"] = "A"
        assert state["pen"] == "B"
        assert view["pen"] == "B"  # before the fix: "A", for good
        state["other"] = 1  # anything later: the view is complete past both writes
        view.wait_for(lambda d: "other" in d, timeout=5)
        assert view["pen"] == "B"
        assert view.version == state.version


@pytest.mark.slow
def test_two_processes_writing_one_fresh_key_at_once_leave_no_view_stale(small: Session) -> None:
    # Before versions: 2 of 60 views stale.
    assert one_key_race(small.shared_state, small.app.target, writers=2, rounds=60) == 0


# -- 3. no one can act as the server's lock owner -----------------------------------------------
def test_a_client_cannot_act_as_the_server_lock_owner(small: Session) -> None:
    small.shared_state["key"] = "server's"
    small.shared_state.lock("key", 60.0)
    for token in ("framecast-server", "<the server>", "SERVER"):
        with Client(small.app.target, access_token=token) as impostor:
            with pytest.raises(StateLockedError):
                impostor.shared_state["key"] = "mine"
            with pytest.raises(StateLockedError):
                impostor.shared_state.unlock("key")
    assert small.shared_state["key"] == "server's"
    assert small.shared_state.lock_holder("key") is SERVER
    small.shared_state["key"] = "still the server's"  # the holder may write
    small.shared_state.unlock("key")


# -- 4. session names cannot be used up ---------------------------------------------------------
def test_joined_names_are_forgotten_when_idle_and_python_names_are_never_refused(
    no_leaks: None,
) -> None:
    with _session(max_sessions=8) as session, Client(session.app.target) as client:
        for i in range(30):  # many more names than the limit, one after the other
            client.join(f"junk{i}").leave()
        listener = client.join("viewer")  # a new viewer still joins
        assert listener.clients_at_join == 1
        session.sessions.tracked = "axion"  # and the server's Python is never refused
        assert "axion" in session.app.sessions.counts()
        assert len(session.app.sessions.counts()) <= 8
        # default, axion, viewer and these: 8 names, each listened on or pinned.
        held = [client.join(f"busy{i}") for i in range(5)]
        with pytest.raises(ConnectionError, match=r"Limits\.max_sessions"):
            client.join("one-too-many")
        session.sessions.tracked = ["axion", "beyond-the-limit"]  # pinned names go past it
        assert "beyond-the-limit" in session.app.sessions.counts()
        for kept in held:
            kept.leave()
        listener.leave()


# -- 5. quotas per client, and leases that end with the client ---------------------------------
def test_one_client_cannot_take_every_lock_and_the_server_is_never_refused(
    no_leaks: None,
) -> None:
    with (
        _session(max_locks_per_client=5, max_state_keys=8) as session,
        Client(session.app.target) as greedy,
        Client(session.app.target) as other,
    ):
        for i in range(5):
            greedy.shared_state.lock(f"k{i}", 3600.0)
        with pytest.raises(LimitExceededError, match=r"Limits\.max_locks_per_client"):
            greedy.shared_state.lock("k5", 3600.0)
        other.shared_state.lock("o0", 3600.0)  # another client still locks
        for i in range(10):  # the server's Python is never refused by the client limits
            session.shared_state.lock(f"s{i}", 60.0)
        other.shared_state.lock("o1", 3600.0)  # clients now hold 7 of 8
        other.shared_state.lock("o2", 3600.0)
        with pytest.raises(LimitExceededError, match=r"Limits\.max_state_keys"):
            other.shared_state.lock("o3", 3600.0)


def test_a_lock_needs_a_connected_client(small: Session) -> None:
    with grpc.insecure_channel(small.app.target) as channel:
        request = state_pb2.UpdateLocksRequest(access_token="raw", acquire={"k": 86_400.0})
        with pytest.raises(grpc.RpcError) as info:
            _locks(channel, request)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "SubscribeState" in str(info.value.details())
        owned = state_pb2.UpdateStateRequest(
            access_token="raw", change=state_pb2.StateChange(updates={"k": b"1"}), owned=True
        )
        with pytest.raises(grpc.RpcError) as info:
            _update(channel, owned)
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert small.shared_state.lock_holder("k") is None
        assert "k" not in small.shared_state
        # With its state stream open, the same client may.
        stream = _state_stream(channel, "raw")
        next(stream)
        assert _locks(channel, request).success
        assert small.shared_state.lock_holder("k") == "raw"
        stream.cancel()
        wait_until(lambda: small.shared_state.lock_holder("k") is None, what="lock released")


def _hold_lock_and_key(address: str, ready: Any) -> None:
    client = Client(address)
    client.shared_state.lock("pen", 86_400.0)
    client.shared_state.change({"cursor.me": [1, 2, 3]}, owned=True)
    client.shared_state["kept"] = "shared"
    ready.set()
    threading.Event().wait(120)  # until killed


@pytest.mark.slow
def test_a_killed_client_loses_its_locks_and_owned_keys_at_once(small: Session) -> None:
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    process = context.Process(target=_hold_lock_and_key, args=(small.app.target, ready))
    process.start()
    try:
        assert ready.wait(60)
        state = small.shared_state
        assert state.lock_holder("pen") is not None
        assert "cursor.me" in state
        with Client(small.app.target) as watcher:
            view = watcher.shared_state
            assert "cursor.me" in view
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            # The bound: its connection closes with the process, so its state stream ends
            # and everything it held goes, well within a second on one machine.
            wait_until(lambda: state.lock_holder("pen") is None, timeout=5, what="lock freed")
            assert "cursor.me" not in state
            view.wait_for(lambda d: "cursor.me" not in d, timeout=5)  # others are told
            assert state["kept"] == "shared"  # a key it did not own stays
            watcher.shared_state.lock("pen", 5.0)  # and anyone may take the lock
    finally:
        process.kill()
        process.join(10)


def test_a_client_that_closes_releases_its_locks_and_owned_keys(small: Session) -> None:
    with Client(small.app.target) as alice:
        alice.shared_state.lock("pen", 3600.0)
        alice.shared_state.change({"alice.cursor": 1}, owned=True)
        alice.shared_state["alice.cursor.copy"] = 1
        assert small.shared_state.owner_of("alice.cursor") == alice.access_token
    state = small.shared_state
    wait_until(lambda: state.lock_holder("pen") is None, what="the lock released")
    assert "alice.cursor" not in state
    assert "alice.cursor.copy" in state


def test_one_client_cannot_take_every_stream_slot(no_leaks: None) -> None:
    with (
        _session(max_streams_per_client=3, max_session_listeners=10) as session,
        Client(session.app.target) as greedy,
        Client(session.app.target) as other,
    ):
        held = [greedy.join(f"s{i}") for i in range(3)]
        with pytest.raises(ConnectionError, match=r"Limits\.max_streams_per_client"):
            greedy.join("s3")
        joined = other.join("s0")  # another client is still served
        assert joined.clients_at_join == 2
        for listener in [*held, joined]:
            listener.leave()
        greedy.join("s3").leave()  # and a slot freed is a slot again


# -- 6. a refused state stream says so ---------------------------------------------------------
def test_a_refused_state_stream_raises_naming_the_limit(no_leaks: None) -> None:
    with (
        _session(max_state_subscribers=1) as session,
        Client(session.app.target) as first,
        Client(session.app.target) as second,
    ):
        session.shared_state["exists"] = 1
        assert first.shared_state["exists"] == 1
        with pytest.raises(ConnectionError, match=r"Limits\.max_state_subscribers"):
            _ = second.shared_state  # before the fix: returned, and reads raised KeyError
        first.shared_state.close()
        wait_until(lambda: session.shared_state.subscriber_count == 0, what="a slot freed")
        assert second.shared_state["exists"] == 1  # a later access tries again


# -- 7. and 8. -----------------------------------------------------------------------------------
@pytest.mark.parametrize("interval", [1e10, 3601.0, float("inf"), float("nan"), 0.0, -1.0])
def test_a_frame_interval_the_broadcaster_cannot_keep_is_refused_at_once(
    no_leaks: None, interval: float
) -> None:
    with pytest.raises(ValueError, match="frame_interval"):
        Session(_frame(), port=0, frame_interval=interval)


def test_every_token_and_name_is_checked_alike(small: Session) -> None:
    hostile = "\x01" * 100_000
    with grpc.insecure_channel(small.app.target) as channel:
        for request in (
            state_pb2.UpdateStateRequest(
                access_token=hostile, change=state_pb2.StateChange(updates={"k": b"1"})
            ),
            state_pb2.UpdateStateRequest(
                access_token="\x01", change=state_pb2.StateChange(updates={"k": b"1"})
            ),
        ):
            with pytest.raises(grpc.RpcError) as info:
                _update(channel, request)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "access_token" in str(info.value.details())
        with pytest.raises(grpc.RpcError) as info:
            next(_state_stream(channel, hostile))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "k" not in small.shared_state


def test_the_core_refuses_an_absent_client(small: Session) -> None:
    state = small.shared_state
    with pytest.raises(AbsentClientError, match="connected client"):
        state.update_locks("nobody", {"k": 1.0})
    with state.client("somebody"):
        state.update_locks("somebody", {"k": 1.0})
        assert state.is_present("somebody")
    assert not state.is_present("somebody")
    assert state.lock_holder("k") is None


def _left(session: Session, name: str) -> bool:
    return session.app.sessions.count(name) == 0


def test_join_a_session_by_raw_request_counts_against_the_name_limit(no_leaks: None) -> None:
    with _session(max_sessions=2) as session, grpc.insecure_channel(session.app.target) as ch:
        join = ch.unary_stream(
            "/framecast.v1.Sessions/Join",
            request_serializer=sessions_pb2.JoinRequest.SerializeToString,
            response_deserializer=sessions_pb2.SessionEvent.FromString,
        )
        for i in range(10):  # each joins, is counted, leaves: the names never run out
            name = f"n{i}"
            call: Any = join(sessions_pb2.JoinRequest(name=name))
            assert next(call).joined.clients == 1
            call.cancel()
            wait_until(partial(_left, session, name), what=f"{name} left")


def test_one_process_cannot_take_every_slot_over_many_connections(no_leaks: None) -> None:
    with _session(max_streams_per_host=4, max_session_listeners=10) as session:
        address = session.app.target
        greedy = [Client(address) for _ in range(5)]
        try:
            held = [client.join("room") for client in greedy[:4]]
            with pytest.raises(ConnectionError, match=r"Limits\.max_streams_per_host"):
                greedy[4].join("room")  # a fifth connection of this process
            # Another process is still served, and counted.
            with ListenerProcess(address, {"room": 2}):
                assert session.app.sessions.count("room") == 6
            for listener in held:
                listener.leave()
            greedy[4].join("room").leave()  # a slot freed is a slot again
        finally:
            for client in greedy:
                client.close()


def test_a_client_cannot_fill_the_state_with_keys_nobody_else_wrote(no_leaks: None) -> None:
    limits = Limits(max_keys_per_client=3)
    with Session(_frame(), port=0, limits=limits) as session:
        state = session.app.shared_state
        state.update("junk", {"a": 1, "b": 2, "c": 3})
        with pytest.raises(LimitExceededError, match=r"Limits\.max_keys_per_client"):
            state.update("junk", {"d": 4})
        assert "d" not in state
        state.update("junk", {"a": 10})  # rewriting its own keys is no new key
        state.update("bystander", {"d": 4})  # another client is served
        state.update("bystander", {"a": 11})  # written by another: no longer junk's alone
        state.update("junk", {"e": 5})
        state.update("junk", {}, removals=["b"])  # a removed key frees its place
        state.update("junk", {"f": 6})
        state.update(SERVER, {f"python.{i}": i for i in range(10)})  # Python is not bounded
        assert {"c", "e", "f", "d"} <= set(state.to_dict())
