"""Named client sessions (REVEN's Sessions) over a real server, with clients in other processes."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import numpy as np
import pytest

import framecast
from framecast import Client, Session, Trajectory
from framecast._proto import sessions_pb2
from framecast.testing import ListenerProcess, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def trajectory() -> Trajectory:
    return framecast.demo.argon_trajectory(n=30, frames=150)


@pytest.fixture
def served(trajectory: Trajectory, no_leaks: None) -> Iterator[Session]:
    with Session(trajectory, port=0, autoplay=False) as session:
        yield session


def _address(session: Session) -> str:
    return f"127.0.0.1:{session.port}"


def _transitions(events: list[tuple[str, list[tuple[object, ...]]]]) -> list[list[object]]:
    return [[e[2] for e in evs if e[0] == "transition"] for _, evs in events]


def test_every_seed_example_runs_as_shown(served: Session, trajectory: Trajectory) -> None:
    sessions = served.sessions
    with ListenerProcess(_address(served), {"test": 4, "default": 1}) as listeners:
        # >>> reven_server.sessions.tracked
        assert repr(sessions.tracked) == "[Session('default', 1)]"
        # >>> reven_server.sessions.tracked = 'axion'
        sessions.tracked = "axion"
        assert repr(sessions.tracked) == "[Session('axion', 0)]"
        # >>> reven_server.sessions.tracked.append("default")
        sessions.tracked.append("default")
        assert repr(sessions.tracked) == "[Session('axion', 0), Session('default', 1)]"
        # >>> reven_server.sessions.tracked = reven_server.sessions.available()
        sessions.tracked = sessions.available()
        assert repr(sessions.tracked) == (
            "[Session('test', 4), Session('default', 1), Session('axion', 0)]"
        )
        # >>> reven_server.sessions.publish_transition(reven_server.trace.transition(100))
        assert sessions.publish_transition(trajectory.transition(100)) is True
        events = listeners.wait_for(lambda evs: all(_transitions(evs)))
        assert _transitions(events) == [[100]] * 5
        assert all(e[0][1] == trajectory.timeline_id for _, e in events)
        assert repr(list(sessions.active())) == "[Session('test', 4), Session('default', 1)]"


def test_publish_reaches_all_64_listening_clients(served: Session, trajectory: Trajectory) -> None:
    processes = [ListenerProcess(_address(served), {"default": 16}) for _ in range(4)]
    try:
        assert served.sessions["default"].clients == 64
        assert served.sessions.publish_transition(trajectory.transition(42)) is True
        for process in processes:
            process.wait_for(lambda evs: all(_transitions(evs)))
            assert _transitions(process.events) == [[42]] * 16
    finally:
        for process in processes:
            process.close()
    wait_until(lambda: served.sessions["default"].clients == 0, what="all 64 left")


def test_nobody_on_the_tracked_sessions_returns_false_and_others_get_nothing(
    served: Session, trajectory: Trajectory
) -> None:
    with ListenerProcess(_address(served), {"test": 2}) as listeners:
        assert served.sessions.tracked == [served.sessions["default"]]
        assert served.sessions.publish_transition(trajectory.transition(1)) is False
        served.sessions.tracked = None
        assert served.sessions.publish_transition(trajectory.transition(2)) is False
        # Then publish to 'test': each listener gets exactly that one, so nothing came before.
        served.sessions.tracked = ["test"]
        assert served.sessions.publish_transition(trajectory.transition(3)) is True
        listeners.wait_for(lambda evs: all(_transitions(evs)))
        assert _transitions(listeners.events) == [[3], [3]]


def test_killing_a_listening_client_process_drops_its_count(served: Session) -> None:
    listeners = ListenerProcess(_address(served), {"axion": 3})
    try:
        assert served.sessions["axion"].clients == 3
        listeners.kill()
        wait_until(lambda: served.sessions["axion"].clients == 0, what="count dropped")
    finally:
        listeners.close()
    assert "axion" in [s.name for s in served.sessions.available()]
    assert list(served.sessions.active()) == []


def test_leaving_drops_the_count_at_once(served: Session) -> None:
    with Client(_address(served)) as client:
        listener = client.join("solo")
        assert listener.clients_at_join == 1
        assert served.sessions["solo"].clients == 1
        assert client.sessions()["solo"] == 1
        listener.leave()
        wait_until(lambda: served.sessions["solo"].clients == 0, what="left")


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "must not be empty"), ("x" * 257, "257 characters"), ("bad\nname", "control")],
)
def test_bad_session_names_get_clear_errors(served: Session, name: str, message: str) -> None:
    with Client(_address(served)) as client:
        with pytest.raises(ValueError, match=message):
            client.join(name)
        # The same from a raw gRPC client: INVALID_ARGUMENT with the reason.
        with grpc.insecure_channel(_address(served)) as channel:
            join = channel.unary_stream(
                "/framecast.v1.Sessions/Join",
                request_serializer=sessions_pb2.JoinRequest.SerializeToString,
                response_deserializer=sessions_pb2.SessionEvent.FromString,
            )
            with pytest.raises(grpc.RpcError) as info:
                next(iter(join(sessions_pb2.JoinRequest(name=name))))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in str(info.value.details())
        # The server keeps serving.
        assert client.join("fine").clients_at_join == 1


def test_a_transition_of_another_timeline_is_delivered_and_harms_nothing(
    served: Session, trajectory: Trajectory
) -> None:
    other = framecast.Recording(["a", "b", "c"], labels=["start", "middle", "end"])
    served.follow_transitions = True
    with Client(_address(served)) as client:
        listener = client.join("default")
        assert served.sessions.publish_transition(other.transition(1)) is True
        listener.wait_for_events(1)
        event = listener.selected_transition
        assert event is not None
        assert (event.timeline, event.transition, event.label) == (
            other.timeline_id,
            1,
            "middle \u2192 end",
        )
        assert trajectory.frame_index == 0  # the session does not follow another timeline
        # The server can still serve that timeline's contexts.
        assert client.context(other.timeline_id, 1, after=True)["state.label"] == "end"
        with pytest.raises(LookupError, match="unknown timeline"):
            client.context("no-such-timeline", 0)
        with pytest.raises(IndexError, match="out of range"):
            client.context(other.timeline_id, 7)


def test_publish_rejects_what_is_not_a_transition(served: Session) -> None:
    with pytest.raises(TypeError, match=r"framecast\.Transition, got int"):
        served.sessions.publish_transition(100)  # type: ignore[arg-type]


def test_session_follows_published_transitions(trajectory: Trajectory, no_leaks: None) -> None:
    with Session(trajectory, port=0, follow_transitions=True) as session:
        assert session.playing
        with Client(_address(session)) as client:
            client.subscribe_frames()
            session.sessions.publish_transition(trajectory.transition(77))
            assert not session.playing
            assert trajectory.frame_index == 77
            client.wait_for_frame(lambda f: f.index == 77)
            expected = trajectory.context_before(77)["particle.positions"]
            np.testing.assert_array_equal(client.frame["particle.positions"], expected)


def test_a_following_client_shows_the_transition_context(
    served: Session, trajectory: Trajectory
) -> None:
    with Client(_address(served)) as client:
        client.subscribe_frames()
        client.wait_for_frame()
        client.join("default", follow=True)
        served.sessions.publish_transition(trajectory.transition(120))
        frame = client.wait_for_frame(lambda f: f.index == 120)
        assert trajectory.frame_index == 0  # the session itself did not move
        np.testing.assert_array_equal(
            frame["particle.positions"],
            trajectory.positions[120],
        )
        assert frame["particle.elements"].shape == (30,)  # type: ignore[union-attr]


def test_selection_reaches_listeners_and_bad_indices_are_refused(served: Session) -> None:
    with Client(_address(served)) as client:
        listener = client.join("default")
        got: list[tuple[int, ...]] = []
        listener.on_selection(lambda event: got.append(event.particles))
        assert served.sessions.publish_selection([0, 5, 29], label="ring") is True
        listener.wait_for_events(1)
        assert listener.selection is not None
        assert listener.selection.particles == (0, 5, 29)
        assert listener.selection.label == "ring"
        assert got == [(0, 5, 29)]
        with pytest.raises(ValueError, match="beyond the current frame"):
            served.sessions.publish_selection([30])
        with pytest.raises(ValueError, match=">= 0"):
            served.sessions.publish_selection([-1])
        with pytest.raises(ValueError, match="1-D sequence"):
            served.sessions.publish_selection([[1, 2]])
        with pytest.raises(ValueError, match="1-D sequence"):
            served.sessions.publish_selection([1.5])


def test_listener_iterates_events_until_it_leaves(served: Session, trajectory: Trajectory) -> None:
    with Client(_address(served)) as client:
        listener = client.join("default")
        served.sessions.publish_transition(trajectory.transition(1))
        listener.wait_for_events(1)
        served.sessions.publish_selection([2])
        listener.wait_for_events(2)
        listener.leave()
        kinds = [type(event).__name__ for event in listener]
        assert kinds == ["TransitionEvent", "SelectionEvent"]
        assert not listener.active


def test_watch_prints_session_events(served: Session, trajectory: Trajectory) -> None:
    import io
    import threading

    from framecast.cli.main import main

    out = io.StringIO()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(
            main(
                ["watch", _address(served), "--session", "demo", "--duration", "6"],
                out=out,
            )
        )
    )
    runner.start()
    # As soon as the server counts the client, its events are printed (the callbacks are
    # registered with the join, not after it).
    wait_until(lambda: served.sessions["demo"].clients == 1, timeout=10, what="watch joined")
    served.sessions.tracked = "demo"
    assert served.sessions.publish_transition(trajectory.transition(9))
    served.sessions.publish_selection([1, 2])
    runner.join(30)
    assert result == [0]
    text = out.getvalue()
    assert "session 'demo': transition #9" in text
    assert "session 'demo': selection of 2 particle(s)" in text


def test_tracked_is_a_live_list_facade(served: Session) -> None:
    sessions = served.sessions
    tracked = sessions.tracked
    tracked.append("a")
    tracked.extend(["b", sessions["c"]])
    tracked.append("a")  # already tracked: no duplicate
    assert [s.name for s in sessions.tracked] == ["default", "a", "b", "c"]
    del tracked[0]
    tracked[0] = "z"
    assert [s.name for s in tracked] == ["z", "b", "c"]
    sessions.tracked = (name for name in ["x", "y"])  # any iterable, a generator included
    assert [s.name for s in sessions.tracked] == ["x", "y"]
    sessions.tracked = sessions["solo"]
    assert sessions.tracked == [sessions["solo"]]
    sessions.tracked = None
    assert list(sessions.tracked) == []
    with pytest.raises(TypeError, match="got int"):
        sessions.tracked = 5  # type: ignore[assignment]
    with pytest.raises(TypeError, match="name \\(str\\) or a session"):
        sessions.tracked = [1]  # type: ignore[list-item]
    with pytest.raises(ValueError, match="control characters"):
        sessions.tracked.append("bad\x00")
    # Counts are fresh on every read.
    sessions.tracked = "live"
    with Client(_address(served)) as client:
        client.join("live")
        assert repr(tracked) == "[Session('live', 1)]"
    wait_until(lambda: repr(sessions.tracked) == "[Session('live', 0)]", what="count refreshed")


def test_callbacks_given_to_join_get_events_published_right_after_it(
    served: Session, trajectory: Trajectory
) -> None:
    import threading

    with Client(_address(served)) as client:
        for round_ in range(20):  # the race a callback added after join() could lose
            got = threading.Event()

            def received(event: object, got: threading.Event = got) -> None:
                got.set()

            client.join(f"r{round_}", on_transition=received)
            served.sessions.tracked = f"r{round_}"
            assert served.sessions.publish_transition(trajectory.transition(round_))
            assert got.wait(5), f"round {round_}: the callback missed the transition"


def test_a_failing_transition_hook_is_reported_and_breaks_nothing(
    served: Session, trajectory: Trajectory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def broken(transition: framecast.Transition) -> None:
        raise ValueError("this hook is broken")

    served.sessions.on_transition(broken)
    served.sessions.on_transition(lambda transition: seen.append(transition.id))
    with Client(_address(served)) as client:
        listener = client.join("default")
        assert served.sessions.publish_transition(trajectory.transition(3)) is True
        listener.wait_for_events(1)
    assert seen == [3]  # the next hook ran
    assert "this hook is broken" in caplog.text
    with pytest.raises(RuntimeError, match="a transition hook failed") as info:
        served.health_check()
    assert isinstance(info.value.__cause__, ValueError)
    served.health_check()  # reported once


def test_a_refused_tracked_list_changes_nothing_and_publish_counts_receivers(
    served: Session, trajectory: Trajectory
) -> None:
    sessions = served.sessions
    sessions.tracked = ["a", "b"]
    with pytest.raises(TypeError, match="name \\(str\\) or a session"):
        sessions.tracked = ["c", 1]  # type: ignore[list-item]
    with pytest.raises(TypeError, match="name \\(str\\) or a session"):
        sessions.tracked[0:1] = ["d", 2]  # type: ignore[list-item]
    assert [s.name for s in sessions.tracked] == ["a", "b"]  # all or nothing
    with Client(_address(served)) as first, Client(_address(served)) as second:
        first.join("a")
        second.join("b")
        assert sessions.publish(trajectory.transition(1)) == 2
        sessions.tracked = "b"
        assert sessions.publish(trajectory.transition(1)) == 1
