"""framecast.Session over a real gRPC server on 127.0.0.1, with real clients."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

import framecast
from framecast import Client, FrameData, Session, Simulation
from framecast.testing import port_is_listening, wait_until, watch_in_subprocess


def test_session_has_the_seed_api() -> None:
    for method in (
        "check_task",
        "health_check",
        "close",
        "pause",
        "play",
        "restart",
        "run",
        "show",
        "start",
        "start_loop",
        "step",
        "stop",
    ):
        assert callable(getattr(Session, method)), method
    for attribute in ("address", "app", "name", "port", "shared_state", "target"):
        assert hasattr(Session, attribute), attribute


def test_defaults_and_kwargs(no_leaks: None) -> None:
    with Session(port=0, name="demo", frame_interval=0.05) as session:
        assert session.address == "127.0.0.1"
        assert session.name == "demo"
        assert session.frame_interval == 0.05
        assert session.port > 0
        assert session.target is None
        assert port_is_listening(session.port)
    with pytest.raises(TypeError, match="colour"):
        Session(port=0, colour="red")  # type: ignore[call-arg]  # mypy catches it too


def test_close_leaves_no_thread_and_no_listening_port() -> None:
    before = set(threading.enumerate())
    session = Session(framecast.demo.argon(100, density=5.0), port=0)
    port = session.port
    client = Client(f"127.0.0.1:{port}")
    client.subscribe_frames()
    client.wait_for_frame()
    _ = client.shared_state
    assert port_is_listening(port)
    client.close()
    session.close()
    session.close()  # idempotent
    wait_until(
        lambda: not [t for t in threading.enumerate() if t not in before],
        what="every thread of the session and client ended",
    )
    assert not port_is_listening(port)
    assert not session.target


def test_close_while_clients_are_still_subscribed_ends_their_streams(no_leaks: None) -> None:
    session = Session(framecast.demo.argon(100, density=5.0), port=0)
    client = Client(f"127.0.0.1:{session.port}")
    client.subscribe_frames()
    client.wait_for_frame()
    session.close()
    with pytest.raises(ConnectionError):
        client.wait_for_frame(timeout=5)
    client.close()


def test_port_in_use_raises_an_error_naming_the_port(session: Session) -> None:
    with pytest.raises(framecast.PortInUseError, match=f"port {session.port}") as info:
        Session(port=session.port)
    assert "port=0" in str(info.value)  # the fix, in words
    assert "GRPC_VERBOSITY" not in str(info.value)  # not gRPC's internal text


def test_an_address_that_cannot_be_bound_is_named_not_blamed_on_the_port(
    no_leaks: None,
) -> None:
    with pytest.raises(framecast.PortInUseError, match="unknown") as info:
        Session(address="no-such-host.invalid", port=0)
    assert "in use" not in str(info.value)


def test_a_client_in_another_process_receives_deltas_at_most_30_a_second(
    session: Session,
) -> None:
    report = watch_in_subprocess(f"127.0.0.1:{session.port}", seconds=3.0)
    assert report["error"] == ""
    updates = report["updates"]
    _, first_reset, first_fields, _ = updates[0]
    assert first_reset
    assert {"particle.positions", "particle.elements", "system.box.vectors"} <= set(first_fields)
    rest = updates[1:]
    assert rest, "no update after the first"
    for _, reset, fields, _ in rest:
        assert not reset
        assert "particle.positions" in fields
        assert "energy.kinetic" in fields
        assert "particle.elements" not in fields
        assert "system.box.vectors" not in fields
    # The broadcaster sends at most 30 a second (the cap: load only makes it fewer). How
    # many it manages on this machine is benchmarks/broadcast.py's to measure.
    assert len(rest) <= 30 * report["seconds"] + 2, (len(rest), report["seconds"])


def test_playback_commands_from_a_client_change_the_simulation_and_traits(
    session: Session, client: Client
) -> None:
    simulation = session.target
    assert isinstance(simulation, Simulation)
    changes: list[bool] = []
    session.observe(lambda change: changes.append(change["new"]), names="playing")
    assert session.playing

    client.run_command("playback/pause")
    assert not session.playing
    assert not simulation.is_playing
    steps = simulation.step_count

    client.run_command("playback/step")
    assert simulation.step_count == steps + simulation.steps_per_frame
    assert session.frame_index == simulation.frame.index
    client.wait_for_frame(lambda f: f.index == session.frame_index)

    client.run_command("playback/play")
    assert session.playing
    stepped_to = simulation.frame.index
    client.wait_for_frame(lambda f: f.index > stepped_to)  # it moves again, by itself
    assert changes[:2] == [False, True]

    client.run_command("playback/reset")
    assert simulation.step_count < steps + 50


def test_traits_show_clients_and_measured_fps(session: Session, client: Client) -> None:
    client.subscribe_frames()
    wait_until(lambda: session.clients == 1, what="one client counted")
    wait_until(lambda: session.fps > 0, what="fps measured")
    assert session.frame_index > 0


def test_a_failing_observer_does_not_stop_the_broadcast(
    session: Session, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    calls = threading.Event()

    def broken(change: object) -> None:
        calls.set()
        raise OSError("status file vanished")

    session.observe(broken, names="frame_index")
    assert calls.wait(5), "the observer was not called"
    session.unobserve(broken, names="frame_index")
    with pytest.raises(RuntimeError, match=r"observer .* failed.*status file vanished"):
        session.health_check()
    session.health_check()  # reported once

    # The broadcaster lives on: a new client still gets moving frames.
    seen: list[int] = []
    client.subscribe_frames(lambda update: seen.append(update.frame_index))
    wait_until(lambda: len(set(seen)) > 3, what="frames after the observer failed")
    assert session.error == ""
    assert "keeps broadcasting" in caplog.text


def test_exception_in_a_simulation_step_comes_back_from_health_check(session: Session) -> None:
    simulation = session.target
    assert isinstance(simulation, Simulation)
    session.health_check()  # healthy: does nothing

    failed = threading.Event()
    session.observe(lambda change: failed.set() if change["new"] else None, names="error")

    def explode(sim: Simulation) -> None:
        raise FloatingPointError("particles overlapped")

    simulation.on_step(explode)
    assert failed.wait(5), "the error trait did not report the failure"
    assert "particles overlapped" in session.error
    with pytest.raises(FloatingPointError, match="particles overlapped"):
        session.health_check()
    assert not session.playing


def test_check_task_reraises_a_failed_future() -> None:
    from concurrent.futures import Future

    future: Future[None] = Future()
    Session.check_task(future)  # not done: nothing
    Session.check_task(None)
    future.set_exception(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        Session.check_task(future)


def test_show_swaps_the_target_and_clients_get_a_reset(session: Session, client: Client) -> None:
    client.subscribe_frames()
    client.wait_for_frame(lambda f: "particle.positions" in f)
    old = session.target
    assert isinstance(old, Simulation)
    frame = FrameData({"particle.positions": np.zeros((3, 3)), "label": "a single frame"})
    session.show(frame)
    assert not old.is_running  # the previous playable is stopped
    # The reset may arrive before a wait_for_frame call could start (it waits for later
    # updates), and a single frame sends no more: wait on the merged frame itself.
    wait_until(lambda: "label" in client.frame, what="the new target's reset")
    assert "particle.elements" not in client.frame  # no stale key survives
    assert client.frame["particle.positions"].shape == (3, 3)  # type: ignore[union-attr]
    assert session.target_kind == "FrameData"
    # A single frame is not playable.
    with pytest.raises(RuntimeError, match="not playable"):
        session.play()
    with pytest.raises(framecast.CommandFailedError, match="not playable") as info:
        client.run_command("playback/play")
    assert info.value.code == "FAILED_PRECONDITION"
    # Editing the frame in place is broadcast as a delta.
    frame["label"] = "edited"
    client.wait_for_frame(lambda f: f.get("label") == "edited")


def test_show_rejects_what_it_cannot_broadcast(session: Session) -> None:
    with pytest.raises(TypeError, match="cannot show int"):
        session.show(42)
    assert isinstance(session.target, Simulation)


def test_trajectory_target_and_step_back(no_leaks: None) -> None:
    trajectory = framecast.demo.argon_trajectory(n=20, frames=10)
    with (
        Session(trajectory, port=0, autoplay=False) as session,
        Client(f"127.0.0.1:{session.port}") as client,
    ):
        assert not session.playing
        session.step()
        session.step()
        assert session.frame_index == 2
        client.run_command("playback/step_back")
        assert trajectory.frame_index == 1
        client.wait_for_frame(lambda f: f.index == 1)


def test_a_closed_session_says_so_for_every_control(no_leaks: None) -> None:
    session = Session(framecast.demo.argon(20, density=5.0), port=0)
    session.close()
    closed = "the session is closed: start a new framecast.Session"
    controls: list[Callable[[], object]] = [
        session.play,
        session.pause,
        session.step,
        session.step_back,
        session.restart,
        session.stop,
        session.run,
        lambda: session.seek(0),
        lambda: session.show(framecast.demo.argon(20, density=5.0)),
        session.view,
    ]
    for control in controls:
        with pytest.raises(RuntimeError, match=closed):
            control()
    assert session.target is None  # nothing was shown after the close


def test_start_is_a_context_manager_that_closes(no_leaks: None) -> None:
    with Session.start(port=0) as session:
        port = session.port
        assert port_is_listening(port)
    assert session.closed
    assert not port_is_listening(port)


def test_start_loop_returns_when_closed_and_raises_background_errors(no_leaks: None) -> None:
    session = Session(framecast.demo.argon(50, density=5.0), port=0)
    closer = threading.Timer(0.2, session.close)
    closer.start()
    session.start_loop()
    closer.join()
    assert session.closed

    with Session(framecast.demo.argon(50, density=5.0, interval=0.0), port=0) as failing:
        simulation = failing.target
        assert isinstance(simulation, Simulation)

        def explode(sim: Simulation) -> None:
            raise OverflowError("too hot")

        simulation.on_step(explode)
        with pytest.raises(OverflowError, match="too hot"):
            failing.start_loop()


def test_a_failing_client_callback_does_not_stop_the_stream(
    session: Session, client: Client
) -> None:
    good: list[int] = []

    def bad(update: framecast.FrameUpdate) -> None:
        raise RuntimeError("callback bug")

    client.subscribe_frames(bad)
    client.subscribe_frames(lambda update: good.append(update.frame_index))
    wait_until(lambda: len(good) >= 3, what="the second callback kept receiving")


def test_many_clients_in_threads_all_receive_frames(session: Session) -> None:
    clients = [Client(f"127.0.0.1:{session.port}") for _ in range(8)]
    try:
        for each in clients:
            each.subscribe_frames(interval=0)
        for each in clients:
            each.wait_for_frame(lambda f: f.index > 3)
        wait_until(lambda: session.clients == 8, what="8 clients counted")
    finally:
        for each in clients:
            each.close()
    wait_until(lambda: session.clients == 0, what="clients gone")


# -- send on change --------------------------------------------------------------------------
def _tiny_frame() -> FrameData:
    return FrameData({"particle.positions": np.zeros((4, 3), np.float32)})


def _record_updates(
    client: Client, interval: float = 0.0
) -> tuple[list[tuple[float, float]], threading.Event]:
    """Subscribe; record (monotonic arrival, energy.kinetic) per update."""
    arrivals: list[tuple[float, float]] = []
    arrived = threading.Event()

    def record(update: framecast.FrameUpdate) -> None:
        value = update.fields.get("energy.kinetic", -1.0)
        arrivals.append((time.monotonic(), float(value)))
        arrived.set()

    client.subscribe_frames(record, interval=interval)
    return arrivals, arrived


def _expect_silence(arrived: threading.Event, seconds: float) -> None:
    """Wait out ``seconds`` on the arrival event: nothing may arrive while nothing changes."""
    arrived.clear()
    assert not arrived.wait(seconds), "an update arrived although the frame did not change"


#: A rate cap far longer than any deadline of these tests: a change that arrives within the
#: deadline was sent when written, not at a tick of the cap (which would be a minute away).
LONG_INTERVAL = 60.0
#: A deadline that a busy machine still meets, far below LONG_INTERVAL.
DEADLINE = 15.0


def test_a_change_after_an_idle_second_is_sent_at_once_not_at_the_next_tick(
    no_leaks: None,
) -> None:
    frame = _tiny_frame()
    with (
        Session(frame, port=0, frame_interval=LONG_INTERVAL) as session,
        Client(f"127.0.0.1:{session.port}") as client,
    ):
        arrivals, arrived = _record_updates(client)
        assert arrived.wait(DEADLINE), "no first frame"
        _expect_silence(arrived, 1.0)
        frame["energy.kinetic"] = 1.0
        assert arrived.wait(DEADLINE), "the change waited for a tick of the cap"
        assert arrivals[-1][1] == 1.0
        # The cap holds after that send: the next change waits its turn (a minute away).
        frame["energy.kinetic"] = 2.0
        _expect_silence(arrived, 1.0)


def test_a_client_paced_at_an_interval_gets_a_change_after_idle_at_once(
    session: Session,
) -> None:
    """Idle for longer than the client's interval, a change goes at once. A stream that sent
    on a tick of the interval from its first frame would send it 3.5 s after the write."""
    interval = 4.0
    frame = _tiny_frame()
    session.show(frame)
    with Client(f"127.0.0.1:{session.port}") as client:
        values: list[float] = []
        arrived = threading.Event()

        def record(update: framecast.FrameUpdate) -> None:
            if "energy.kinetic" in update.fields:
                values.append(float(update.fields["energy.kinetic"]))
            arrived.set()

        client.subscribe_frames(record, interval=interval)
        assert arrived.wait(DEADLINE), "no first frame"
        _expect_silence(arrived, interval + 0.5)
        frame["energy.kinetic"] = 3.0
        # Generous for a loopback message on a busy machine, yet short of the next tick.
        assert arrived.wait(interval - 1.0), "the change waited for a tick of the interval"
        assert values[-1] == 3.0
        frame["energy.kinetic"] = 4.0
        _expect_silence(arrived, 1.0)  # the client's pace holds after that send


def _write_flat_out(frame: FrameData, seconds: float, limit: int = 20_000_000) -> int:
    """Write the frame as fast as possible for ``seconds`` (bounded in count, far above
    what a second allows: a lower bound ended the writing early on a fast run, and the
    window then held too few intervals); return the value written last."""
    deadline = time.monotonic() + seconds
    value = 0
    while time.monotonic() < deadline and value < limit:
        value += 1
        frame.update({"energy.kinetic": float(value)}, index=value)
    return value


@pytest.mark.parametrize("where", ["broadcaster", "client"])
def test_the_rate_cap_holds_and_the_latest_write_wins(no_leaks: None, where: str) -> None:
    """A producer far faster than the cap: the client gets at most one update per interval,
    and the last value written always arrives."""
    interval = 0.1
    frame = _tiny_frame()
    at_broadcaster = where == "broadcaster"
    session_interval, client_interval = (interval, 0.0) if at_broadcaster else (0.001, interval)
    with (
        Session(frame, port=0, frame_interval=session_interval) as session,
        Client(f"127.0.0.1:{session.port}") as client,
    ):
        arrivals, arrived = _record_updates(client, client_interval)
        assert arrived.wait(10), "no first frame"
        start = time.monotonic()
        last = _write_flat_out(frame, seconds=1.0)
        wait_until(lambda: arrivals[-1][1] == last, timeout=5, what="the last write arrived")
        window = [t for t, _ in arrivals if t >= start]
        elapsed = window[-1] - start
        # Sends are at least one interval apart, however late each arrives: so never more
        # than one per interval from the start to the last arrival.
        assert len(window) <= elapsed / interval + 2, (
            f"{len(window)} updates in {elapsed:.2f} s exceeds one per {interval} s"
        )
        # The producer never waited for the network: it wrote far more than was sent.
        assert last > 2 * len(window), f"{last} writes, {len(window)} updates"


def test_the_signature_lists_every_parameter() -> None:
    parameters = inspect.signature(Session).parameters
    assert list(parameters) == [
        "target",
        "autoplay",
        "name",
        "address",
        "port",
        "frame_interval",
        "follow_transitions",
        "token",
        "tls",
        "limits",
        "nanover_port",
        "relay",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(parameters.values())[1:])


def test_seek_pauses_and_shows_the_frame(no_leaks: None) -> None:
    trajectory = framecast.demo.argon_trajectory(n=10, frames=8)
    with Session(trajectory, port=0) as session:
        assert trajectory.is_playing
        session.seek(5)
        assert not trajectory.is_playing
        assert session.frame_index == 5
        with pytest.raises(IndexError, match="out of range"):
            session.seek(80)
        session.show(FrameData())
        with pytest.raises(RuntimeError, match="cannot seek"):
            session.seek(0)


def test_only_the_broadcaster_writes_the_status_and_controls_see_their_effect(
    no_leaks: None,
) -> None:
    writers: set[str] = set()
    with Session(framecast.demo.argon(64, density=5.0), port=0) as session:
        session.observe(
            lambda change: writers.add(threading.current_thread().name),
            names=["playing", "running", "frame_index", "target_kind", "timeline", "fps"],
        )
        session.pause()
        assert not session.playing  # the traits show a control's effect when it returns
        session.step()
        assert session.frame_index == session.target.frame_index  # type: ignore[attr-defined]
        session.play()
        assert session.playing
        trajectory = framecast.demo.argon_trajectory(8, frames=5)
        session.show(trajectory)
        assert session.target_kind == "Trajectory"
        assert session.timeline == trajectory.timeline_id
        session.seek(3)
        assert (session.playing, session.frame_index) == (False, 3)
    assert writers == {"framecast-broadcaster"}
