"""The NanoVer endpoint: NanoVer's WebSocket protocol served from a real Session.

Most tests speak the protocol with a plain ``websockets`` client and ``msgpack`` (what any
NanoVer client sends); the last ones drive NanoVer's own ``NanoverImdClient`` from its
package, in a Python 3.13 virtualenv of its own (see :mod:`framecast.testing.nanover`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import framecast
from framecast.testing import port_is_listening, wait_until
from framecast.testing.extras import peptide_simulation, require
from framecast.testing.nanover import nanover_python
from framecast.testing.secure import self_signed

msgpack = require("msgpack")
sync_client = require("websockets.sync.client")
closed_error = require("websockets.exceptions").ConnectionClosed


class Peer:
    """A NanoVer client at the protocol level: sends and reads MessagePack maps."""

    def __init__(self, url: str | None, **options: Any) -> None:
        assert url is not None, "the session serves no NanoVer endpoint"
        # Entered as a context manager, as websockets asks since 17.1.
        self._connecting = sync_client.connect(url, max_size=None, open_timeout=60, **options)
        self.ws = self._connecting.__enter__()
        self.frame: dict[str, Any] = {}
        self.frames: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        self.replies: dict[int, dict[str, Any]] = {}

    def send(self, message: object) -> None:
        self.ws.send(msgpack.packb(message))

    def pump(self, timeout: float = 0.2) -> bool:
        """Read one message if one comes within ``timeout``; False otherwise."""
        try:
            data = self.ws.recv(timeout=timeout)
        except (TimeoutError, closed_error):
            return False
        message = msgpack.unpackb(data)
        if "frame" in message:
            frame = message["frame"]
            self.frames.append(frame)
            if frame["frame.index"] == 0:
                self.frame = {}
            self.frame.update(frame)
        if "state" in message:
            self.state.update(message["state"]["updates"])
            for key in message["state"]["removals"]:
                self.state.pop(key, None)
        if "command" in message:
            self.replies[message["command"]["request"]["id"]] = message["command"]
        return True

    def until(self, condition: Any, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting until {what}")
            if self.ws.close_code is not None and not self.pump(0):
                code, reason = self.ws.close_code, self.ws.close_reason
                raise AssertionError(f"closed ({code} {reason}) before {what}")
            self.pump()

    def run(self, name: str, request_id: int, **arguments: Any) -> dict[str, Any]:
        request = {"name": name, "arguments": arguments, "id": request_id}
        self.send({"command": {"request": request}})
        self.until(lambda: request_id in self.replies, f"command {name} answered")
        return self.replies[request_id]

    def close(self) -> None:
        self._connecting.__exit__(None, None, None)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def positions_of(frame: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(frame["particle.positions"], dtype="<f4").reshape(-1, 3)


@pytest.fixture
def served(no_leaks: None) -> Iterator[framecast.Session]:
    simulation = framecast.demo.argon(64)
    with framecast.Session(simulation, port=0, nanover_port=0, autoplay=False) as session:
        yield session


def test_frames_arrive_in_nanover_dtypes_and_deltas(served: framecast.Session) -> None:
    assert served.nanover_url == f"ws://127.0.0.1:{served.nanover_port}"
    with Peer(served.nanover_url) as peer:
        peer.until(lambda: "particle.positions" in peer.frame, "the first frame")
        first = peer.frames[0]
        assert first["frame.index"] == 0  # a reset
        current = served.target.frame  # type: ignore[attr-defined]
        np.testing.assert_array_equal(positions_of(first), current["particle.positions"])
        assert np.frombuffer(first["particle.elements"], dtype="u1").tolist() == [18] * 64
        assert len(first["system.box.vectors"]) == 9 * 4  # float32 triples
        assert first["particle.count"] == 64
        served.step()
        peer.until(lambda: len(peer.frames) >= 2, "a delta")
        delta = peer.frames[-1]
        assert delta["frame.index"] >= 1
        assert "particle.elements" not in delta  # the topology is sent once
        np.testing.assert_array_equal(
            positions_of(delta),
            served.target.frame["particle.positions"],  # type: ignore[attr-defined]
        )
        served.show(framecast.demo.argon(27))  # a new target: a reset
        peer.until(lambda: peer.frame.get("particle.count") == 27, "the new target")
        assert peer.frames[-1]["frame.index"] == 0
        assert served.clients == 1  # a NanoVer client counts as a client


def test_state_goes_both_ways_and_owned_keys_go_with_the_client(
    served: framecast.Session,
) -> None:
    served.shared_state["scene"] = {"scale": 2}
    with Peer(served.nanover_url) as peer, framecast.Client(f"127.0.0.1:{served.port}") as grpc:
        peer.until(lambda: peer.state.get("scene") == {"scale": 2}, "the initial state")
        pull = {"position": [0.1, 0.1, 0.1], "particles": [3], "interaction_type": "spring"}
        peer.send(
            {
                "state": {
                    "updates": {
                        "avatar.u1": {"components": []},
                        "user-origin.u1": [1, 2],
                        "interaction.p1": pull,
                        "selection.mine": {"ids": [1, 2]},
                    },
                    "removals": [],
                }
            }
        )
        grpc.shared_state.wait_for(lambda s: "selection.mine" in s, timeout=10)
        assert grpc.shared_state["interaction.p1"]["particles"] == [3]  # type: ignore[index]
        assert served.target.interactions["interaction.p1"].kind == "spring"  # type: ignore[attr-defined]
        grpc.shared_state["from.grpc"] = 5
        peer.until(lambda: peer.state.get("from.grpc") == 5, "a gRPC client's write")
        peer.send({"state": {"updates": {}, "removals": ["from.grpc"]}})
        peer.until(lambda: "from.grpc" not in peer.state, "the removal echoed")
    # NanoVer's rule: the user's keys (avatar id) and its interactions go when it leaves.
    wait_until(lambda: "avatar.u1" not in served.shared_state, what="owned keys removed")
    assert "user-origin.u1" not in served.shared_state
    assert "interaction.p1" not in served.shared_state
    assert not served.target.interactions  # type: ignore[attr-defined]
    assert served.shared_state["selection.mine"] == {"ids": [1, 2]}  # not owned: it stays


def test_a_refused_change_is_answered_with_the_current_values(served: framecast.Session) -> None:
    served.shared_state["locked"] = "server's"
    served.shared_state.lock("locked", 60)
    with Peer(served.nanover_url) as peer:
        peer.until(lambda: peer.state.get("locked") == "server's", "the initial state")
        peer.send({"state": {"updates": {"locked": "mine", "free": 1}, "removals": ["gone"]}})
        bad = {"position": [0, 0, 0], "particles": [999]}
        peer.send({"state": {"updates": {"interaction.bad": bad}, "removals": []}})
        peer.send({"state": {"updates": {"fine": True}, "removals": []}})
        peer.until(lambda: peer.state.get("fine") is True, "a later change applied")
        assert peer.state["locked"] == "server's"
        assert "free" not in peer.state  # refused whole: the unlocked key too
    assert served.shared_state["locked"] == "server's"
    assert "free" not in served.shared_state
    assert "interaction.bad" not in served.shared_state


def test_commands_by_id_and_registration_refused(served: framecast.Session) -> None:
    with Peer(served.nanover_url) as peer:
        listed = peer.run("commands/list", 1)["response"]
        assert {"playback/play", "playback/pause", "playback/reset"} <= set(listed["list"])
        served.play()
        wait_until(lambda: served.playing, what="the session plays")
        assert "response" in peer.run("playback/pause", 2)
        wait_until(lambda: not served.playing, what="the session paused")
        unknown = peer.run("no/such", 3)
        assert "unknown command" in unknown["exception"]
        assert unknown["request"]["id"] == 3  # the request comes back, as NanoVer matches it
        peer.send({"command": {"register": {"name": "mine/evil", "arguments": {}}}})
        assert "unknown command" in peer.run("mine/evil", 4)["exception"]
        assert "mine/evil" not in {info.name for info in served.app.commands.list()}
        # The old format: a list of requests.
        peer.send({"command": [{"request": {"name": "playback/step", "id": 5}}]})
        peer.until(lambda: 5 in peer.replies, "a request in a list")


def _refusal(url: str, **options: Any) -> str:
    """What a handshake that must be refused raises. A connection dropped before any HTTP
    answer (seen once in seven full runs on a loaded machine, never alone) is tried again,
    at most twice: what is checked is the answer the server gives, never a way in."""
    for attempt in range(3):
        try:
            Peer(url, **options)
        except Exception as error:  # noqa: BLE001 - the message is what the test reads
            if "did not receive a valid HTTP response" in str(error) and attempt < 2:
                continue
            return str(error)
        raise AssertionError(f"{url} was let in")
    raise AssertionError("unreachable")


def test_token_tls_and_limits(no_leaks: None, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert))
    limits = framecast.Limits(max_request_bytes=4096, max_frame_subscribers=2)
    with framecast.Session(
        framecast.demo.argon(27),
        port=0,
        nanover_port=0,
        token="s3cret",
        tls=(cert, key),
        limits=limits,
    ) as session:
        url = session.nanover_url
        assert url is not None
        assert url.startswith("wss://")
        assert url.endswith("?token=s3cret")
        bare = url.split("?")[0]
        for refused in (bare, bare + "?token=wrong"):
            assert "401" in _refusal(refused, ssl=trust)
        with pytest.raises(ssl.SSLError):
            Peer(url)  # the certificate is not trusted by default
        header = {"Authorization": "Bearer s3cret"}
        with (
            Peer(bare, ssl=trust, additional_headers=header) as first,
            Peer(url, ssl=trust) as second,
        ):
            first.until(lambda: "particle.positions" in first.frame, "frames over wss")
            third = Peer(url, ssl=trust)  # past max_frame_subscribers
            third.until(lambda: third.ws.close_code is not None, "the third closed")
            assert third.ws.close_code == 1013
            assert "max_frame_subscribers" in third.ws.close_reason
            second.send({"state": {"updates": {"big": "x" * 8000}, "removals": []}})
            second.until(lambda: second.ws.close_code is not None, "the big one closed")
            assert second.ws.close_code == 1009  # message too big
            session.step()
            first.until(lambda: len(first.frames) >= 2, "the first still served")
        assert "big" not in session.shared_state


def test_close_leaves_no_thread_and_no_port(no_leaks: None) -> None:
    session = framecast.Session(framecast.demo.argon(27), port=0, nanover_port=0)
    port = session.nanover_port
    assert port is not None
    assert port_is_listening(port)
    peer = Peer(f"ws://127.0.0.1:{port}")
    peer.until(lambda: "particle.positions" in peer.frame, "a frame")
    session.close()
    peer.until(lambda: peer.ws.close_code is not None, "the client told")
    assert peer.ws.close_code == 1001
    assert not port_is_listening(port)
    session.close()  # idempotent


def test_without_the_endpoint_there_is_none(session: framecast.Session) -> None:
    assert session.nanover_port is None
    assert session.nanover_url is None


def test_a_busy_port_is_named(no_leaks: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {busy} is in use"):
            framecast.Session(port=0, nanover_port=busy)


# -- fuzzing -----------------------------------------------------------------------------------
HOSTILE: list[tuple[str, bytes | str]] = [
    ("garbage", b"\xc1\xff\x00garbage"),
    ("truncated", msgpack.packb({"state": {"updates": {"a": "b" * 50}}})[:-5]),
    ("text frame", "hello"),
    ("not a map", msgpack.packb([1, 2, 3])),
    ("int keys", msgpack.packb({1: 2}, strict_types=False)),
    ("state not a map", msgpack.packb({"state": [1]})),
    ("updates not a map", msgpack.packb({"state": {"updates": [1], "removals": []}})),
    ("removals not keys", msgpack.packb({"state": {"updates": {}, "removals": [1]}})),
    ("command not a map", msgpack.packb({"command": 7})),
    ("request without id", msgpack.packb({"command": {"request": {"name": "x"}}})),
    ("deep nesting", b"\x91" * 5000 + b"\xc0"),
    ("huge map header", b"\xdf\xff\xff\xff\xff"),
    ("huge array in state", msgpack.packb({"state": {"updates": {"k": list(range(200000))}}})),
    ("ext type", msgpack.packb({"state": {"updates": {"k": msgpack.ExtType(5, b"x")}}})),
    ("bytes value", msgpack.packb({"state": {"updates": {"k": b"\x00\x01"}}})),
    (
        "wrong arguments",
        msgpack.packb(
            {"command": {"request": {"name": "playback/step", "arguments": {"x": 1}, "id": 1}}}
        ),
    ),
    ("bad name", msgpack.packb({"command": {"request": {"name": 5, "id": 2}}})),
    ("client frame", msgpack.packb({"frame": {"frame.index": 0, "particle.count": 1}})),
]


@pytest.mark.parametrize(("what", "data"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_closes_or_is_answered_and_others_are_served(
    served: framecast.Session, what: str, data: bytes | str
) -> None:
    served.shared_state["keep"] = [1, 2, 3]
    with Peer(served.nanover_url) as bystander, Peer(served.nanover_url) as hostile:
        bystander.until(lambda: "particle.positions" in bystander.frame, "the bystander's frame")
        hostile.until(lambda: "particle.positions" in hostile.frame, "the hostile one's frame")
        hostile.ws.send(data)
        with contextlib.suppress(closed_error):  # it may be closed for what it sent
            hostile.send({"command": {"request": {"name": "commands/list", "id": 99}}})
        # Either its connection is closed (with a reason), or it is still answered.
        hostile.until(
            lambda: hostile.ws.close_code is not None or 99 in hostile.replies,
            f"{what}: closed or answered",
        )
        if hostile.ws.close_code is not None:
            assert hostile.ws.close_code in (1007, 1009), what
            assert hostile.ws.close_reason, what
        before = len(bystander.frames)
        served.step()
        bystander.until(lambda: len(bystander.frames) > before, "the bystander still served")
        assert 42 not in bystander.replies
        assert bystander.run("commands/list", 42)["response"]["list"]
    assert served.shared_state["keep"] == [1, 2, 3]
    assert "k" not in served.shared_state
    assert served.frame_index >= 1


# -- NanoVer's own client --------------------------------------------------------------------------
NANOVER_CLIENT = r"""
import json, sys, threading, time
import numpy as np
from nanover.websocket.client.app_client import NanoverImdClient
from nanover.imd.particle_interaction import ParticleInteraction

url, what = sys.argv[1], sys.argv[2]
client = NanoverImdClient.from_url(url)
# Told of every message the client takes in, so waits end on news, never on a fixed sleep.
news = threading.Condition()
take_in = client.recv_message

def recv_message(message):
    take_in(message)
    with news:
        news.notify_all()

client.recv_message = recv_message

def wait_until(condition, what, seconds=20):
    deadline = time.monotonic() + seconds
    with news:
        while not condition():
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting until {what}"
            news.wait(min(left, 1.0))

out = {}
try:
    wait_until(lambda: "particle.positions" in client.current_frame.frame_dict, "positions")
    if what == "basics":
        out["positions"] = client.current_frame.particle_positions.tolist()
        out["commands"] = sorted(client.commands)
        client.run_pause()
        client.set_shared_value("nanover.says", {"hello": [1, 2]})
        wait_until(lambda: client.get_shared_value("nanover.says") is not None, "the echo")
        out["state"] = client.copy_state()
    elif what == "selections":
        # What a NanoVer renderer reads: each selection through NanoVer's own class.
        from nanover.app import RenderingSelection

        wait_until(lambda: any(k.startswith("selection.") for k in client.copy_state()),
                   "the notebook's representations")
        out["selections"] = {
            key: {
                "renderer": sel.renderer,
                "hide": sel.hide,
                "particles": sorted(sel.selected_particle_ids),
            }
            for key, value in client.copy_state().items()
            if key.startswith("selection.")
            for sel in [RenderingSelection.from_dictionary(value)]
        }
        # And a selection made in NanoVer, drawn as a cartoon, for framecast to read.
        mine = client.create_selection("from VR", [0, 1, 2])
        with mine.modify():
            mine.renderer = "cartoon"
        wait_until(lambda: mine.selection_id in client.copy_state(), "the echo")
    else:
        atom, point, scale = json.loads(what)
        pull = ParticleInteraction(position=point, particles=[atom],
                                   interaction_type="spring", scale=scale)
        key = client.start_interaction(pull)
        out["key"] = key
        wait_until(lambda: key in client.copy_state(), "the interaction echoed", 60)
        # The raw frames since then (the merged frame's index stays 0 after a reset).
        seen, last = [], -1

        def twelve_pulled_frames():
            global last
            for frame in client.frames:
                if frame.frame_index > last and "forces.user.work_done" in frame and (
                    "particle.positions" in frame
                ):
                    last = frame.frame_index
                    p = frame.particle_positions[atom]
                    seen.append(float(np.linalg.norm(p - np.array(point))))
            return len(seen) >= 12

        wait_until(twelve_pulled_frames, "12 frames of the pull", 60)
        out["distances"] = seen[:12]
        out["work"] = float(client.current_frame.user_work_done)
        client.stop_interaction(key)
finally:
    client.close()
print(json.dumps(out))
"""


def _nanover_client(url: str, what: str) -> Any:
    result = subprocess.run(
        [str(nanover_python()), "-c", NANOVER_CLIENT, url, what],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_nanover_client_watches_pauses_and_writes_state(no_leaks: None) -> None:
    simulation = framecast.demo.argon(64)
    with (
        framecast.Session(simulation, port=0, nanover_port=0, autoplay=True) as session,
        framecast.Client(f"127.0.0.1:{session.port}") as grpc,
    ):
        wait_until(lambda: session.playing, what="the session plays")
        seen = _nanover_client(session.nanover_url or "", "basics")
        assert "playback/pause" in seen["commands"]
        assert not session.playing  # NanoVer's run_pause paused the session
        kept = [np.asarray(simulation.context(f).positions) for f in simulation.frame_range]
        got = np.asarray(seen["positions"], dtype=np.float32)
        assert any(np.array_equal(got, k) for k in kept), "positions are the session's"
        assert seen["state"]["nanover.says"] == {"hello": [1, 2]}
        grpc.shared_state.wait_for(lambda s: "nanover.says" in s, timeout=10)
        assert grpc.shared_state["nanover.says"] == {"hello": [1, 2]}


@pytest.mark.slow
def test_nanover_client_reads_and_writes_representations(no_leaks: None) -> None:
    """Representations set from a notebook are NanoVer selections its renderer reads (a
    cartoon, a hidden set), and a selection a NanoVer client draws as a cartoon is one
    framecast's viewers draw."""
    simulation = framecast.demo.argon(64)
    with framecast.Session(simulation, port=0, nanover_port=0, autoplay=False) as session:
        cartoon = session.representations.add("cartoon", slice(0, 10))
        hidden = session.representations.hide([60, 61])
        seen = _nanover_client(session.nanover_url or "", "selections")["selections"]
        assert seen[cartoon.id] == {
            "renderer": "cartoon",
            "hide": False,
            "particles": list(range(10)),
        }
        assert seen[hidden.id] == {"renderer": "liquorice", "hide": True, "particles": [60, 61]}
        from_vr = [rep for rep in session.representations if rep.selection == "from VR"]
        assert [(rep.style, rep.particles) for rep in from_vr] == [("cartoon", (0, 1, 2))]


@pytest.mark.slow
def test_nanover_client_pulls_an_openmm_peptide(no_leaks: None) -> None:
    data = require("MDAnalysisTests.datafiles")
    atom = 30

    def run(pull: bool) -> list[float]:
        engine = framecast.OpenMMSimulation(
            peptide_simulation(data.PDB_helix), steps_per_frame=20, interval=0.02
        )
        start = np.asarray(engine.frame["particle.positions"])[atom].astype(float)
        point = (start + np.array([1.0, 0.0, 0.0])).tolist()
        with framecast.Session(engine, port=0, nanover_port=0) as session:
            if pull:
                seen = _nanover_client(session.nanover_url or "", json.dumps([atom, point, 3000.0]))
                assert seen["work"] > 0
                wait_until(lambda: not engine.interactions, what="the interaction stopped")
                return [float(d) for d in seen["distances"]]
            for _ in range(12):
                engine.step()
            final = np.asarray(engine.frame["particle.positions"])[atom]
            return [float(np.linalg.norm(final - point))]

    pulled = run(True)
    free = run(False)
    assert len(pulled) == 12
    assert pulled[-1] < pulled[0] - 0.1  # the distance shrinks over the frames
    assert free[-1] > pulled[-1] + 0.1  # and does not without the interaction


def test_the_token_never_reaches_a_log_and_two_authorization_headers_get_400(
    no_leaks: None, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    caplog.set_level(logging.DEBUG, logger="framecast")
    token = "tok-5f3a9c"
    with framecast.Session(
        framecast.demo.argon(8), port=0, nanover_port=0, token=token, autoplay=False
    ) as session:
        url = session.nanover_url
        assert url is not None
        bare = url.split("?")[0]
        with (
            Peer(url) as by_query,
            Peer(bare, additional_headers={"Authorization": f"Bearer {token}"}) as by_header,
        ):
            by_query.until(lambda: "particle.positions" in by_query.frame, "frames")
            by_header.until(lambda: "particle.positions" in by_header.frame, "frames")
        assert "401" in _refusal(bare + "?token=wrong-" + token)
        # Two Authorization headers: a clear 400, no traceback in the log.
        port = session.nanover_port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(
                (
                    f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n"
                    "Authorization: Bearer other\r\n\r\n"
                ).encode()
            )
            answer = raw.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 400"), answer
        assert "one Authorization header" in answer
        # The session serves on.
        with Peer(url) as after:
            after.until(lambda: "particle.positions" in after.frame, "frames after")
    logged = caplog.text
    assert "GET" in logged  # the request lines were logged, at DEBUG
    assert token not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_nanover_clients_have_a_budget_of_their_own(no_leaks: None) -> None:
    limits = framecast.Limits(max_nanover_clients=2, max_frame_subscribers=4)
    with framecast.Session(
        framecast.demo.argon(8), port=0, nanover_port=0, limits=limits, autoplay=False
    ) as session:
        url = session.nanover_url
        with Peer(url) as first, Peer(url) as second:
            first.until(lambda: "particle.positions" in first.frame, "frames")
            second.until(lambda: "particle.positions" in second.frame, "frames")
            third = Peer(url)
            third.until(lambda: third.ws.close_code is not None, "the third closed")
            assert third.ws.close_code == 1013
            assert "max_nanover_clients" in third.ws.close_reason
            # gRPC clients keep their frame and state slots.
            with framecast.Client(f"127.0.0.1:{session.port}") as grpc_client:
                grpc_client.wait_for_frame(timeout=30)
                session.shared_state["k"] = 1
                assert grpc_client.shared_state["k"] == 1
