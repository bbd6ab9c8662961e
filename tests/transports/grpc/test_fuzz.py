"""Property-based fuzzing of every RPC, while a healthy client keeps receiving frames.

Each example sends one hostile request: arbitrary bytes, or a well-typed message with
absurd values (NaN and inf, huge numbers, unicode and control characters, huge or deep
JSON). The server must answer every one with a status that names the problem (never
UNKNOWN or INTERNAL), keep serving the healthy client, leave no thread behind, and never
apply part of a refused state update. Examples are bounded, so CI runs them all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from framecast import Client, FrameData, Session
from framecast._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2
from framecast.testing import wait_until
from framecast.testing.secure import RPCS, call

#: Statuses that name a problem with the request. UNKNOWN and INTERNAL would mean the
#: server failed on it; UNAVAILABLE or DEADLINE_EXCEEDED that it stopped answering.
ANSWERS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples in every CI run: a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

names = st.one_of(
    st.text(max_size=20),
    st.text(min_size=250, max_size=300),
    st.sampled_from(["default", "playback/play", "kept", "", "\x00", "名前", "a/b"]),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1.0, 3600.0, 3600.1]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
json_bytes = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"NaN", b"Infinity", b"[" * 5000 + b"]" * 5000, b'"\\ud800"', b"{}"]),
    st.integers(min_value=0, max_value=3_000_000).map(lambda n: b'"' + b"x" * n + b'"'),
)


@st.composite
def typed_requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """A well-typed request with hostile contents, for a random RPC."""
    method = draw(st.sampled_from(sorted(RPCS)))
    message: Message
    if method.endswith("/SubscribeFrames"):
        message = frame_pb2.SubscribeFramesRequest(frame_interval=draw(numbers))
    elif method.endswith("/SubscribeState"):
        message = state_pb2.SubscribeStateRequest(update_interval=draw(numbers))
    elif method.endswith("/UpdateState"):
        change = state_pb2.StateChange(
            updates=draw(st.dictionaries(names, json_bytes, max_size=4)),
            removals=draw(st.lists(names, max_size=3)),
        )
        message = state_pb2.UpdateStateRequest(access_token=draw(names), change=change)
    elif method.endswith("/UpdateLocks"):
        message = state_pb2.UpdateLocksRequest(
            access_token=draw(names),
            acquire=draw(st.dictionaries(names, numbers, max_size=3)),
            release=draw(st.lists(names, max_size=3)),
        )
    elif method.endswith("/RunCommand"):
        message = command_pb2.RunCommandRequest(name=draw(names), arguments=draw(json_bytes))
    elif method.endswith("/Join"):
        message = sessions_pb2.JoinRequest(name=draw(names))
    elif method.endswith("/GetContext"):
        message = sessions_pb2.GetContextRequest(
            timeline=draw(names),
            transition=draw(st.integers(min_value=0, max_value=2**64 - 1)),
            after=draw(st.booleans()),
        )
    else:
        return method, draw(st.binary(max_size=32))
    return method, message.SerializeToString()


class Healthy:
    """A session whose frame a producer keeps writing, and a client that must keep up."""

    def __init__(self) -> None:
        self.frame = FrameData({"particle.positions": np.zeros((100, 3), np.float32)})
        self.session = Session(self.frame, port=0, frame_interval=0.01)
        self.session.shared_state["kept"] = {"a": 1}
        self.stop = threading.Event()
        self.producer = threading.Thread(target=self._produce, name="fuzz-producer")
        self.producer.start()
        self.client = Client(self.session.app.target)
        self.client.subscribe_frames(interval=0)
        self.channel = grpc.insecure_channel(
            self.session.app.target, options=[("grpc.max_send_message_length", -1)]
        )

    def _produce(self) -> None:
        tick = 0
        while not self.stop.wait(0.005) and tick < 1_000_000:
            tick += 1
            self.frame["energy.kinetic"] = float(tick)

    def still_served(self) -> None:
        seen = self.client.updates_received
        wait_until(
            lambda: self.client.updates_received > seen + 2,
            timeout=10,
            what="the healthy client keeps receiving frames",
        )
        self.session.health_check()

    def close(self) -> None:
        self.channel.close()
        self.client.close()
        self.stop.set()
        self.producer.join(5)
        self.session.close()


@pytest.fixture
def healthy(no_leaks: None) -> Iterator[Healthy]:
    served = Healthy()
    try:
        yield served
    finally:
        served.close()


def _check(healthy: Healthy, method: str, request: bytes) -> None:
    before = healthy.session.shared_state.to_dict()
    code, message = call(healthy.channel, method, request, timeout=10)
    assert code in ANSWERS, f"{method}: {code.name} {message!r}"
    if code != grpc.StatusCode.OK:
        assert message, f"{method}: {code.name} without a message"
    if method.endswith("/UpdateState") and code != grpc.StatusCode.OK:
        assert healthy.session.shared_state.to_dict() == before, "a refused update applied"


def test_arbitrary_bytes_to_every_rpc(healthy: Healthy) -> None:
    @FUZZ
    @given(method=st.sampled_from(sorted(RPCS)), request=st.binary(max_size=256))
    def fuzz(method: str, request: bytes) -> None:
        tried.add(method)
        _check(healthy, method, request)

    tried: set[str] = set()
    fuzz()
    assert tried == set(RPCS)
    healthy.still_served()


_DEEP = b"[" * 5000 + b"]" * 5000


def _state_update(value: bytes) -> tuple[str, bytes]:
    change = state_pb2.StateChange(updates={"a": b"1", "b": value})
    request = state_pb2.UpdateStateRequest(access_token="t", change=change)
    return "/framecast.v1.State/UpdateState", request.SerializeToString()


def test_well_typed_hostile_messages_to_every_rpc(healthy: Healthy) -> None:
    @FUZZ
    @given(request=typed_requests())
    # The worst cases always run, whatever the search finds on its own.
    @example(request=_state_update(_DEEP))
    @example(request=_state_update(b'"' + b"x" * 2_000_000 + b'"'))
    @example(request=_state_update(b"NaN"))
    @example(
        request=(
            "/framecast.v1.Command/RunCommand",
            command_pb2.RunCommandRequest(name="play", arguments=_DEEP).SerializeToString(),
        )
    )
    @example(
        request=(
            "/framecast.v1.Trajectory/SubscribeFrames",
            frame_pb2.SubscribeFramesRequest(frame_interval=1e300).SerializeToString(),
        )
    )
    def fuzz(request: tuple[str, bytes]) -> None:
        tried.append(request[0])
        _check(healthy, *request)

    tried: list[str] = []
    fuzz()
    assert len(tried) >= 100, f"only {len(tried)} examples"
    assert set(tried) == set(RPCS)
    healthy.still_served()
    state = healthy.session.shared_state
    assert len(state) <= state._limits.max_state_keys
    json.dumps(state.to_dict())  # whatever was applied is whole, valid JSON


def test_messages_of_the_wrong_type_and_huge_repeated_fields(healthy: Healthy) -> None:
    @FUZZ
    @given(built=typed_requests(), target=st.sampled_from(sorted(RPCS)))
    @example(
        built=(
            "/framecast.v1.State/UpdateState",
            state_pb2.UpdateStateRequest(
                access_token="t",
                change=state_pb2.StateChange(removals=[f"k{i}" for i in range(100_000)]),
            ).SerializeToString(),
        ),
        target="/framecast.v1.State/UpdateState",
    )
    def fuzz(built: tuple[str, bytes], target: str) -> None:
        _check(healthy, target, built[1])  # one RPC's message sent to another

    fuzz()
    healthy.still_served()


def test_truncated_real_requests(healthy: Healthy) -> None:
    change = state_pb2.StateChange(updates={"x": b"[1,2,3]", "y": b'{"z": 1}'}, removals=["kept"])
    valid = {
        "/framecast.v1.State/UpdateState": state_pb2.UpdateStateRequest(
            access_token="t", change=change
        ).SerializeToString(),
        "/framecast.v1.Sessions/Join": sessions_pb2.JoinRequest(name="fuzz").SerializeToString(),
        "/framecast.v1.Command/RunCommand": command_pb2.RunCommandRequest(
            name="playback/play", arguments=b"{}"
        ).SerializeToString(),
        "/framecast.v1.Trajectory/SubscribeFrames": frame_pb2.SubscribeFramesRequest(
            frame_interval=0.5
        ).SerializeToString(),
    }
    deadline = time.monotonic() + 60
    for method, request in valid.items():
        for cut in range(len(request)):
            assert time.monotonic() < deadline, "truncation took too long"
            _check(healthy, method, request[:cut])
    healthy.still_served()
