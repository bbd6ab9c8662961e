"""framecast.Client against a real server: state, commands, and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pytest

import framecast
from framecast import Client, Session
from framecast._proto import command_pb2, frame_pb2, state_pb2
from framecast.errors import CommandArgumentError, StateLockedError, UnknownCommandError


def test_connecting_to_nothing_fails_clearly() -> None:
    with pytest.raises(ConnectionError, match="no framecast server"):
        Client("127.0.0.1:1", connect_timeout=0.5)


def test_shared_state_round_trip_between_python_and_a_client(
    session: Session, client: Client
) -> None:
    state = client.shared_state
    state["selection"] = {"atoms": [1, 2, 3], "colour": "red"}
    assert session.shared_state["selection"] == {"atoms": [1, 2, 3], "colour": "red"}
    session.shared_state["from.python"] = 42
    state.wait_for(lambda s: s.get("from.python") == 42)
    del state["selection"]
    state.wait_for(lambda s: "selection" not in s)
    assert "selection" not in session.shared_state


def test_locks_between_two_clients(session: Session) -> None:
    address = f"127.0.0.1:{session.port}"
    with Client(address) as alice, Client(address) as bob:
        alice.shared_state["pen"] = "alice"
        alice.shared_state.lock("pen", 30.0)
        with pytest.raises(StateLockedError, match="'pen'"):
            bob.shared_state.change({"pen": "bob", "paper": "bob"})
        assert "paper" not in session.shared_state  # refused whole
        with pytest.raises(StateLockedError):
            bob.shared_state.lock("pen", 5.0)
        with pytest.raises(StateLockedError, match="'pen'"):
            bob.shared_state.change(removals=["pen"])
        with pytest.raises(StateLockedError, match="'pen'"):
            del bob.shared_state["pen"]
        assert session.shared_state.get("pen") == "alice"  # neither removal went through
        alice.shared_state.unlock("pen")
        bob.shared_state["pen"] = "bob"
        assert session.shared_state["pen"] == "bob"


def test_client_side_bad_state_values_raise_value_error(client: Client) -> None:
    with pytest.raises(ValueError, match=r"'x'.*JSON"):
        client.shared_state["x"] = {1, 2}
    with pytest.raises(ValueError, match="lock duration"):
        client.shared_state.lock("x", -1.0)


def test_commands_list_and_run(session: Session, client: Client) -> None:
    received: list[object] = []

    def greet(name: str, punctuation: str = "!") -> str:
        """Say hello."""
        received.append(name)
        return f"hello {name}{punctuation}"

    session.app.register_command("demo/greet", greet)
    commands = client.commands
    assert {
        "playback/play",
        "playback/pause",
        "playback/step",
        "playback/reset",
        "playback/stop",
    } <= set(commands)
    assert commands["demo/greet"].arguments == {"name": None, "punctuation": "!"}
    assert commands["demo/greet"].description == "Say hello."
    assert client.run_command("demo/greet", name="ada") == "hello ada!"
    assert received == ["ada"]


def test_unknown_command_and_wrong_arguments_get_clear_errors(
    session: Session, client: Client
) -> None:
    with pytest.raises(UnknownCommandError, match="unknown command 'nope'"):
        client.run_command("nope")
    with pytest.raises(CommandArgumentError, match="unexpected keyword argument 'speed'"):
        client.run_command("playback/play", speed=2)
    # The server keeps serving.
    client.run_command("playback/pause")
    assert not session.playing


def test_a_command_that_raises_does_not_break_the_server(session: Session, client: Client) -> None:
    def broken() -> None:
        raise ZeroDivisionError("oops")

    session.app.register_command("demo/broken", broken)
    with pytest.raises(framecast.CommandFailedError, match="ZeroDivisionError: oops") as info:
        client.run_command("demo/broken")
    assert info.value.code == "UNKNOWN"
    session.app.register_command("demo/not_json", lambda: object())
    with pytest.raises(framecast.CommandFailedError, match="not JSON") as info:
        client.run_command("demo/not_json")
    assert info.value.code == "INTERNAL"
    assert client.run_command("playback/pause") is None


@pytest.fixture
def channel(session: Session) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{session.port}") as raw:
        yield raw


def test_raw_protocol_bad_input_gets_statuses_and_others_keep_being_served(
    session: Session, client: Client, channel: grpc.Channel
) -> None:
    """Hand-made malformed requests, as a non-Python client could send."""
    client.subscribe_frames()
    client.wait_for_frame()
    run = channel.unary_unary(
        "/framecast.v1.Command/RunCommand",
        request_serializer=command_pb2.RunCommandRequest.SerializeToString,
        response_deserializer=command_pb2.RunCommandResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        run(command_pb2.RunCommandRequest(name="playback/play", arguments=b"{not json"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not valid UTF-8 JSON" in str(info.value.details())
    with pytest.raises(grpc.RpcError) as info:
        run(command_pb2.RunCommandRequest(name="playback/play", arguments=b"[1, 2]"))
    assert "must be a JSON object" in str(info.value.details())

    update = channel.unary_unary(
        "/framecast.v1.State/UpdateState",
        request_serializer=state_pb2.UpdateStateRequest.SerializeToString,
        response_deserializer=state_pb2.UpdateStateResponse.FromString,
    )
    session.shared_state["keep"] = 1
    bad = state_pb2.UpdateStateRequest(
        access_token="raw",
        change=state_pb2.StateChange(updates={"good": b"2", "bad": b"\xff\xfe"}),
    )
    with pytest.raises(grpc.RpcError) as info:
        update(bad)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'bad'" in str(info.value.details())
    assert session.shared_state.to_dict() == {"keep": 1}  # nothing half-applied
    with pytest.raises(grpc.RpcError) as info:
        update(state_pb2.UpdateStateRequest(change=state_pb2.StateChange(updates={"a": b"1"})))
    assert "access_token" in str(info.value.details())

    subscribe = channel.unary_stream(
        "/framecast.v1.Trajectory/SubscribeFrames",
        request_serializer=frame_pb2.SubscribeFramesRequest.SerializeToString,
        response_deserializer=frame_pb2.FrameUpdate.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        next(iter(subscribe(frame_pb2.SubscribeFramesRequest(frame_interval=-1))))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Everyone else is still served.
    seen = client.updates_received
    client.wait_for_frame(lambda f: client.updates_received > seen)  # predicate may read client
    assert json.loads(json.dumps(session.shared_state.to_dict())) == {"keep": 1}


def test_get_frame_returns_the_whole_frame(session: Session, client: Client) -> None:
    frame = client.get_frame()
    assert {"particle.positions", "particle.elements", "energy.kinetic"} <= set(frame)
    assert frame.positions is not None
    assert frame.positions.shape == (200, 3)


def test_client_is_thread_safe_under_concurrent_use(session: Session, client: Client) -> None:
    import threading

    client.subscribe_frames(interval=0)
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(20):
                client.shared_state[f"w{worker}"] = i
                client.run_command("playback/play")
                _ = client.frame.snapshot()
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert {session.shared_state[f"w{w}"] for w in range(4)} == {19}


def test_a_refused_frame_stream_names_the_limit(no_leaks: None) -> None:
    limits = framecast.Limits(max_frame_subscribers=1)
    with (
        framecast.Session(framecast.demo.argon(8), port=0, limits=limits) as session,
        framecast.Client(f"127.0.0.1:{session.port}") as first,
        framecast.Client(f"127.0.0.1:{session.port}") as second,
    ):
        first.wait_for_frame()
        with pytest.raises(ConnectionError, match=r"Limits\.max_frame_subscribers"):
            second.wait_for_frame(timeout=30)
        first.wait_for_frame()  # the first is served on
