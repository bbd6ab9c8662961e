"""Tokens, TLS and limits, on 127.0.0.1 with the protections forced on."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

import framecast
from framecast import Client, FrameData, Limits, Session
from framecast._proto import frame_pb2, sessions_pb2, state_pb2
from framecast._support.address import is_loopback, parse_address
from framecast.testing import wait_until
from framecast.testing.extras import require
from framecast.testing.secure import RPCS, call, self_signed
from framecast.transports.grpc.auth import choose_token

websockets_client = require("websockets.sync.client")

TOKEN = "s3cret-token"


def _frame() -> FrameData:
    return FrameData({"particle.positions": np.zeros((5, 3), np.float32)})


@pytest.fixture
def guarded(no_leaks: None) -> Iterator[Session]:
    """A session on 127.0.0.1 that requires a token, as it would off loopback."""
    with Session(_frame(), port=0, token=TOKEN) as session:
        yield session


def _request(method: str) -> bytes:
    """A well-formed request for ``method`` (empty messages are valid for most)."""
    if method.endswith("/Join"):
        return sessions_pb2.JoinRequest(name="default").SerializeToString()
    if method.endswith("/UpdateState"):
        change = state_pb2.StateChange(updates={"k": b"1"})
        return state_pb2.UpdateStateRequest(access_token="t", change=change).SerializeToString()
    return b""


def _setter(event: threading.Event) -> Callable[[framecast.FrameUpdate], None]:
    """A frame callback that sets ``event``."""

    def on_update(update: framecast.FrameUpdate) -> None:
        event.set()

    return on_update


# -- tokens ---------------------------------------------------------------------------------------
def test_loopback_needs_no_token_by_default(session: Session) -> None:
    assert session.token == ""
    assert session.url == f"framecast://127.0.0.1:{session.port}"
    with Client(session.url) as client:
        assert "default" in client.sessions()


@pytest.mark.parametrize("method", sorted(RPCS))
def test_every_rpc_refuses_a_call_without_the_token_or_with_a_wrong_one(
    guarded: Session, method: str
) -> None:
    with grpc.insecure_channel(guarded.app.target) as channel:
        code, message = call(channel, method, _request(method))
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert "needs a token" in message
        wrong = [("authorization", "Bearer not-the-token")]
        code, message = call(channel, method, _request(method), metadata=wrong)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert message == "the token is wrong"
        assert TOKEN not in message
        right = [("authorization", f"Bearer {TOKEN}")]
        code, message = call(channel, method, _request(method), metadata=right)
        # Past the token, the request itself is judged (an empty one may be refused).
        assert code not in (
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.UNKNOWN,
            grpc.StatusCode.INTERNAL,
        ), message
    assert guarded.shared_state.to_dict() in ({}, {"k": 1})


#: Near misses of ``Bearer TOKEN``: each must be refused as the wrong token, or as none.
NEAR_MISSES = [
    f"Bearer {TOKEN}x",  # the token and a suffix (a trailing space is not one: HTTP
    # drops the whitespace around a header's value, so that is the token itself)
    f"Bearer {TOKEN[:-1]}",  # a prefix of it
    "Bearer s",
    "Bearer ",  # empty
    "Bearer",
    "",
    TOKEN,  # without the scheme
    f"bearer {TOKEN}",
    f"Bearer  {TOKEN}",
    f"Bearer {TOKEN.upper()}",
]


@pytest.mark.parametrize("given", NEAR_MISSES)
def test_a_near_miss_of_the_token_is_refused(guarded: Session, given: str) -> None:
    method = "/framecast.v1.State/UpdateState"
    with grpc.insecure_channel(guarded.app.target) as channel:
        code, message = call(channel, method, _request(method), metadata=[("authorization", given)])
    assert code == grpc.StatusCode.UNAUTHENTICATED, (given, message)
    assert guarded.shared_state.to_dict() == {}


def test_a_near_miss_of_the_token_is_refused_by_the_nanover_endpoint(no_leaks: None) -> None:
    with Session(_frame(), port=0, token=TOKEN, nanover_port=0) as session:
        base = f"ws://127.0.0.1:{session.nanover_port}"
        for given in NEAR_MISSES:
            headers = {"Authorization": given} if given else {}
            with pytest.raises(Exception, match="401"):
                websockets_client.connect(base, additional_headers=headers, open_timeout=60)
        for query in (f"{TOKEN}x", TOKEN[:-1], "", TOKEN.upper()):
            with pytest.raises(Exception, match="401"):
                websockets_client.connect(f"{base}?token={query}", open_timeout=60)
        with websockets_client.connect(f"{base}?token={TOKEN}", open_timeout=60) as nanover:
            assert b"frame" in nanover.recv(timeout=60)  # the token itself is let in


def test_a_refused_update_changes_nothing(guarded: Session) -> None:
    with grpc.insecure_channel(guarded.app.target) as channel:
        method = "/framecast.v1.State/UpdateState"
        code, _ = call(channel, method, _request(method))
        assert code == grpc.StatusCode.UNAUTHENTICATED
    assert guarded.shared_state.to_dict() == {}


def test_the_client_takes_the_token_from_the_argument_the_url_or_the_environment(
    guarded: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    address = guarded.app.target
    with pytest.raises(PermissionError, match="needs a token"):
        Client(address)
    with pytest.raises(PermissionError, match="the token is wrong"):
        Client(address, token="nope")
    assert guarded.url == f"framecast://127.0.0.1:{guarded.port}?token={TOKEN}"
    for client in (Client(address, token=TOKEN), Client(guarded.url)):
        with client:
            arrived = threading.Event()
            client.subscribe_frames(_setter(arrived), interval=0)
            assert arrived.wait(10), "no frame over the authenticated stream"
            assert client.get_frame().positions is not None
            client.shared_state["from"] = "a client"
    monkeypatch.setenv("FRAMECAST_TOKEN", TOKEN)
    with Client(address) as client:
        assert "playback/play" in client.commands
    assert guarded.shared_state["from"] == "a client"


def test_a_token_is_generated_off_loopback_and_an_empty_one_is_a_warned_opt_out() -> None:
    token, generated = choose_token(None, "0.0.0.0")
    assert generated
    assert len(token) >= 32
    assert choose_token(None, "0.0.0.0")[0] != token, "tokens must be random"
    assert choose_token(None, "127.0.0.1") == ("", False)
    assert choose_token(None, "::1") == ("", False)
    assert choose_token("mine", "0.0.0.0") == ("mine", False)
    with pytest.warns(UserWarning, match="turns authentication off on 192.168.1.5"):
        assert choose_token("", "192.168.1.5") == ("", False)
    with pytest.raises(ValueError, match="printable ASCII"):
        choose_token("tab\there", "127.0.0.1")
    with pytest.raises(TypeError, match="token must be a string"):
        choose_token(42, "127.0.0.1")


def test_addresses_and_urls() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("localhost")
    assert is_loopback("[::1]")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("::")
    assert not is_loopback("example.org")
    assert parse_address("127.0.0.1:5") == ("127.0.0.1:5", None)
    assert parse_address("framecast://h:7?token=a%2Bb") == ("h:7", "a+b")
    assert parse_address("framecast://[::1]:7") == ("[::1]:7", None)
    with pytest.raises(ValueError, match="not a framecast"):
        parse_address("http://h:7")
    with pytest.raises(ValueError, match="host and a port"):
        parse_address("framecast://h")


def test_off_loopback_a_token_is_generated_printed_and_required(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_leaks: None
) -> None:
    # The server binds 127.0.0.1 as every test does, but believes it is reachable from
    # other machines: the whole off-loopback path, without leaving loopback.
    monkeypatch.setattr(framecast.session.access, "is_loopback", lambda address: False)
    monkeypatch.setattr(framecast.transports.grpc.auth, "is_loopback", lambda address: False)
    monkeypatch.delenv("FRAMECAST_TOKEN", raising=False)
    with pytest.warns(UserWarning, match="token travels in clear text"):
        session = Session(_frame(), port=0, nanover_port=0)
    with session:
        token = session.token
        # The NanoVer endpoint asks for the same token.
        assert session.nanover_url == f"ws://127.0.0.1:{session.nanover_port}?token={token}"
        with pytest.raises(Exception, match="401"):
            websockets_client.connect(f"ws://127.0.0.1:{session.nanover_port}", open_timeout=10)
        with websockets_client.connect(session.nanover_url, open_timeout=10) as nanover:
            assert b"frame" in nanover.recv(timeout=10)
        assert session.token_generated
        assert len(token) >= 32
        assert session.url == f"framecast://127.0.0.1:{session.port}?token={token}"
        assert capsys.readouterr().err.count(session.url) == 1
        with pytest.raises(PermissionError, match="needs a token"):
            Client(session.app.target)
        with Client(session.url) as client:
            assert client.get_frame().positions is not None
    with pytest.warns(UserWarning, match="clear text"):
        given = Session(_frame(), port=0, token=TOKEN)
    with given:
        assert given.token == TOKEN
        assert not given.token_generated
    assert TOKEN not in capsys.readouterr().err  # a token the user chose is not echoed


# -- TLS ------------------------------------------------------------------------------------------
def test_tls_refuses_plain_text_and_serves_a_client_that_trusts_the_certificate(
    tmp_path: Path, no_leaks: None
) -> None:
    cert, key = self_signed(tmp_path)
    with Session(_frame(), port=0, token=TOKEN, tls=(cert, key)) as session:
        with pytest.raises(ConnectionError, match="TLS"):
            Client(session.app.target, token=TOKEN, tls=True, connect_timeout=2)
        with grpc.insecure_channel(session.app.target) as plain:
            code, _ = call(plain, "/framecast.v1.Sessions/ListSessions", b"", timeout=2)
            assert code == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(PermissionError):
            Client(session.app.target, tls=cert)
        with Client(session.url, tls=cert) as client:
            arrived = threading.Event()
            client.subscribe_frames(lambda update: arrived.set(), interval=0)
            assert arrived.wait(10), "no frame over TLS"
            positions = client.frame.positions
            assert positions is not None
            assert positions.shape == (5, 3)


def test_bad_tls_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the TLS private key"):
        Session(port=0, tls=(tmp_path / "cert.pem", tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("not a certificate")
    _, key = self_signed(tmp_path)
    with pytest.raises(ValueError, match="TLS certificate is not PEM"):
        Session(port=0, tls=(tmp_path / "junk.pem", key))
    with pytest.raises(TypeError, match="tls must be a"):
        Session(port=0, tls="cert.pem")  # type: ignore[arg-type]


# -- limits ---------------------------------------------------------------------------------------
def _limited(**limits: int) -> Session:
    return Session(_frame(), port=0, limits=Limits(**limits))


def test_too_many_frame_subscribers_are_refused_and_the_others_keep_their_frames(
    no_leaks: None,
) -> None:
    with _limited(max_frame_subscribers=2) as session:
        frame = session.target
        assert isinstance(frame, FrameData)
        first, second = Client(session.url), Client(session.url)
        got = {id(first): threading.Event(), id(second): threading.Event()}

        def waiter(client: Client) -> Callable[[framecast.FrameUpdate], None]:
            def seen(update: framecast.FrameUpdate) -> None:
                if update.fields.get("energy.kinetic") == 7.0:
                    got[id(client)].set()

            return seen

        with first, second, grpc.insecure_channel(session.app.target) as channel:
            for client in (first, second):
                client.subscribe_frames(waiter(client), interval=0)
            wait_until(lambda: session.app.frames.subscriber_count == 2, what="two subscribers")
            code, message = call(
                channel, "/framecast.v1.Trajectory/SubscribeFrames", b"", timeout=5
            )
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_frame_subscribers" in message
            frame["energy.kinetic"] = 7.0
            for event in got.values():
                assert event.wait(10), "a served client stopped getting frames"


@pytest.mark.parametrize(
    ("method", "setting"),
    [
        ("/framecast.v1.Sessions/Join", "max_session_listeners"),
        ("/framecast.v1.State/SubscribeState", "max_state_subscribers"),
    ],
)
def test_too_many_listeners_are_refused(no_leaks: None, method: str, setting: str) -> None:
    request = _request(method)
    with _limited(**{setting: 1}) as session, grpc.insecure_channel(session.app.target) as ch:
        stream = ch.unary_stream(method, request_serializer=None, response_deserializer=None)
        held: Any = stream(request)
        next(held)  # the first one is served and stays open
        try:
            code, message = call(ch, method, request)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert setting in message
        finally:
            held.cancel()


def _update(channel: grpc.Channel, updates: dict[str, bytes]) -> tuple[grpc.StatusCode, str]:
    change = state_pb2.StateChange(updates=updates)
    request = state_pb2.UpdateStateRequest(access_token="t", change=change)
    return call(channel, "/framecast.v1.State/UpdateState", request.SerializeToString())


def test_state_values_too_deep_or_too_large_and_too_many_keys_are_refused_whole(
    no_leaks: None,
) -> None:
    limits = {"max_json_depth": 8, "max_json_bytes": 1000, "max_state_keys": 3}
    with _limited(**limits) as session, grpc.insecure_channel(session.app.target) as channel:
        state = session.shared_state
        state["kept"] = 1
        cases = [
            ({"a": b"1", "deep": b"[" * 9 + b"]" * 9}, "max_json_depth"),
            ({"a": b"1", "deeper": b"[" * 100_000 + b"]" * 100_000}, "too deeply"),
            ({"a": b"1", "big": json.dumps("x" * 2000).encode()}, "max_json_bytes"),
            ({"a": b"1", "b": b"2", "c": b"3"}, "max_state_keys"),
            ({"a": b"1", "k" * 300: b"2"}, "the limit is 256"),
            ({"a": b"1", "nan": b"NaN"}, "not JSON"),
        ]
        for updates, reason in cases:
            code, message = _update(channel, updates)
            assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert reason in message, message
            assert state.to_dict() == {"kept": 1}, f"half applied: {reason}"
        assert _update(channel, {"a": b"[[1]]", "b": b"2"})[0] == grpc.StatusCode.OK
        assert state.to_dict() == {"kept": 1, "a": [[1]], "b": 2}


def test_a_message_over_the_request_limit_is_refused(no_leaks: None) -> None:
    with _limited(max_request_bytes=64 * 1024) as session, Client(session.url) as client:
        with pytest.raises(framecast.LimitExceededError, match="larger than"):
            client.shared_state["big"] = "x" * 100_000
        client.shared_state["small"] = "fine"
        assert session.shared_state.to_dict() == {"small": "fine"}


def test_malformed_requests_get_invalid_argument_naming_the_message(session: Session) -> None:
    with grpc.insecure_channel(session.app.target) as channel:
        for method in RPCS:
            code, message = call(channel, method, b"\xff\xff\xff")
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, code, message)
            assert message.startswith("malformed "), message


def test_absurd_intervals_are_refused(session: Session) -> None:
    with grpc.insecure_channel(session.app.target) as channel:
        for interval in (float("nan"), float("inf"), -1.0, 1e300):
            request = frame_pb2.SubscribeFramesRequest(frame_interval=interval)
            code, message = call(
                channel, "/framecast.v1.Trajectory/SubscribeFrames", request.SerializeToString()
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (interval, message)
            assert "frame_interval" in message


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_frame_subscribers must be an int >= 1"):
        Limits(max_frame_subscribers=0)
    with pytest.raises(TypeError, match=r"limits must be a framecast\.Limits"):
        Session(port=0, limits={"max_frame_subscribers": 1})  # type: ignore[arg-type]


def test_many_clients_in_threads_are_served_under_the_limits(guarded: Session) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with Client(guarded.url) as client:
                arrived = threading.Event()
                client.subscribe_frames(lambda update: arrived.set(), interval=0)
                assert arrived.wait(10), "no frame"
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
