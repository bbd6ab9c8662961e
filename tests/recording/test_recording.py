"""Recording: what a session sends, kept in a crash-safe file, read back whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import framecast
from framecast import Client, Session
from framecast.recording.file import (
    FORMAT_VERSION,
    MAGIC,
    Kind,
    NotARecordingError,
    RecordingFile,
    RecordingTruncatedWarning,
)
from framecast.testing import wait_until

WRITER = textwrap.dedent(
    """\
    import sys
    from framecast import Client
    with Client(sys.argv[1]) as client:
        for value in range(3):
            client.shared_state["written.by.another.process"] = value
        client.shared_state.wait_for(lambda s: s.get("written.by.another.process") == 2)
    """
)


def _frames(recording: RecordingFile) -> list[framecast.FrameUpdate]:
    return [recording.frame(record) for record in recording.of_kind(Kind.FRAME)]


def _merged_positions(updates: list[framecast.FrameUpdate]) -> list[np.ndarray]:
    """The positions after each recorded update, applying them in order."""
    current: dict[str, object] = {}
    shown = []
    for update in updates:
        current = dict(update.fields) if update.reset else {**current, **update.fields}
        shown.append(np.array(current["particle.positions"]))
    return shown


def test_a_session_records_frames_state_transitions_and_commands(
    no_leaks: None, tmp_path: Path
) -> None:
    trajectory = framecast.demo.argon_trajectory(n=30, frames=50)
    path = tmp_path / "run.fcrec"
    with Session(trajectory, port=0, autoplay=False) as session:
        session.app.register_command("mark", lambda label="": None)
        with session.record(path, keyframe_interval=0.2) as recorder:
            subprocess.run(
                [sys.executable, "-c", WRITER, f"127.0.0.1:{session.port}"],
                check=True,
                timeout=60,
            )
            session.sessions.tracked = "default"
            session.sessions.publish_transition(trajectory.transition(7))
            session.app.commands.run("mark", {"label": "here"})
            for _ in range(12):
                session.step()  # each step is one frame: every one is recorded
                wait_until(
                    lambda: (
                        recorder.frames_written >= trajectory.frame_index + 1 or recorder.merged > 0
                    ),
                    what="the step recorded",
                )
        assert not recorder.recording
    with RecordingFile(path) as recording:
        assert recording.header["format"] == FORMAT_VERSION
        assert recording.dropped_bytes == 0
        updates = _frames(recording)
        assert updates[0].reset, "the recording starts with a keyframe"
        assert any(u.reset for u in updates[1:]), "a keyframe at least every 0.2 s"
        assert any(not u.reset for u in updates), "deltas between keyframes"
        # Bitwise: every recorded frame is the trajectory's frame at its index.
        for update, positions in zip(updates, _merged_positions(updates), strict=True):
            expected = trajectory.context_before(update.frame_index)["particle.positions"]
            assert np.array_equal(positions, expected)
        assert [u.frame_index for u in updates][-1] == 12
        states = [recording.json(r) for r in recording.of_kind(Kind.STATE)]
        written = [s["changes"].get("written.by.another.process") for s in states]
        assert written[-1] == 2
        events = [recording.json(r) for r in recording.of_kind(Kind.EVENT)]
        assert events == [
            {
                "sessions": ["default"],
                "label": trajectory.transition(7).label,
                "kind": "transition",
                "timeline": trajectory.timeline_id,
                "transition": 7,
            }
        ]
        commands = [recording.json(r) for r in recording.of_kind(Kind.COMMAND)]
        assert {"name": "mark", "arguments": {"label": "here"}} in commands
        # Queued records are written before the frame they waited with: in time order.
        times = [r.time for r in recording.records]
        assert times == sorted(times)
        note = recording.json(list(recording.of_kind(Kind.NOTE))[-1])
        assert note["frames"] == len(updates)
        assert note["dropped"] == 0


def test_closing_the_session_stops_its_recording(no_leaks: None, tmp_path: Path) -> None:
    session = Session(framecast.demo.argon(20), port=0)
    recorder = session.record(tmp_path / "live.fcrec")
    wait_until(lambda: recorder.frames_written > 3, what="frames recorded")
    session.close()
    assert not recorder.recording
    with RecordingFile(tmp_path / "live.fcrec") as recording:
        assert len(list(recording.of_kind(Kind.FRAME))) == recorder.frames_written
    with Session(framecast.demo.argon(20), port=0) as other, pytest.raises(FileExistsError):
        other.record(tmp_path / "live.fcrec")


def test_a_client_records_a_remote_session(no_leaks: None, tmp_path: Path) -> None:
    trajectory = framecast.demo.argon_trajectory(n=20, frames=30)
    with (
        Session(trajectory, port=0, autoplay=False) as session,
        Client(f"127.0.0.1:{session.port}") as client,
    ):
        session.shared_state["before"] = "the recording"
        recorder = client.record(tmp_path / "remote.fcrec", sessions=["default", "other"])
        # The stream starts with the whole frame; a step after it is a delta.
        wait_until(lambda: recorder.frames_written >= 1, what="the first frame recorded")
        session.step()
        session.shared_state["after"] = [1, 2]
        session.sessions.tracked = "other"
        assert session.sessions.publish_selection([1, 2, 3])
        wait_until(lambda: recorder.frames_written >= 2, what="two frames recorded")
        recorder.stop()
    with RecordingFile(tmp_path / "remote.fcrec") as recording:
        states = [recording.json(r) for r in recording.of_kind(Kind.STATE)]
        assert states[0]["reset"]
        assert states[0]["changes"] == {"before": "the recording"}
        assert any(s["changes"].get("after") == [1, 2] for s in states)
        events = [recording.json(r) for r in recording.of_kind(Kind.EVENT)]
        assert [e["kind"] for e in events] == ["selection"]
        assert events[0]["particles"] == [1, 2, 3]
        assert events[0]["sessions"] == ["other"]
        assert _frames(recording)[0].reset


def test_a_recorder_killed_mid_run_leaves_a_file_that_opens(tmp_path: Path) -> None:
    """framecast record in another process, SIGKILLed while frames stream in: the file
    opens with every whole record, and says how many bytes of the tail it dropped."""
    path = tmp_path / "killed.fcrec"
    with Session(framecast.demo.argon(300), port=0) as session:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "framecast.cli",
                "record",
                f"127.0.0.1:{session.port}",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: path.exists() and path.stat().st_size > 200_000,
                timeout=60,
                what="frames recorded by the other process",
            )
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingTruncatedWarning)
        recording = RecordingFile(path)
    with recording:
        assert recording.dropped_bytes < 20_000  # at most the update in progress
        updates = _frames(recording)
        assert len(updates) > 10
        assert updates[0].reset
        keyframes = [u.fields["particle.positions"] for u in updates if u.reset]
        assert all(isinstance(p, np.ndarray) and p.shape == (300, 3) for p in keyframes)


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "good.fcrec"
    with Session(framecast.demo.argon_trajectory(n=10, frames=5), port=0) as session:
        recorder = session.record(path)
        wait_until(lambda: recorder.frames_written > 2, what="frames")
        recorder.stop()
    return path


def test_bad_files_get_a_clear_error_or_a_warning_with_the_bytes_dropped(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.fcrec"
    empty.write_bytes(b"")
    with pytest.raises(NotARecordingError, match="is empty: not a framecast recording"):
        RecordingFile(empty)
    random = tmp_path / "random.fcrec"
    random.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(NotARecordingError, match="is not a framecast recording"):
        RecordingFile(random)
    good = _recording(tmp_path)
    data = good.read_bytes()
    newer = tmp_path / "newer.fcrec"
    newer.write_bytes(MAGIC + (FORMAT_VERSION + 1).to_bytes(2, "little") + data[10:])
    with pytest.raises(NotARecordingError, match=r"newer framecast.*upgrade framecast"):
        RecordingFile(newer)
    cut = tmp_path / "cut.fcrec"
    cut.write_bytes(data[: len(data) - 7])
    with pytest.warns(RecordingTruncatedWarning, match=r"the last \d+ bytes are not a whole"):
        truncated = RecordingFile(cut)
    with truncated, RecordingFile(good) as whole:
        assert len(truncated.records) == len(whole.records) - 1
        assert truncated.dropped_bytes == whole.records[-1].length + 17 - 7
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.fcrec"
    corrupt.write_bytes(bytes(flipped))
    with pytest.warns(RecordingTruncatedWarning):
        damaged = RecordingFile(corrupt)
    with damaged:
        assert damaged.dropped_bytes > 0
        for record in damaged.of_kind(Kind.FRAME):
            damaged.frame(record)  # every record kept checks out
    header_cut = tmp_path / "header.fcrec"
    header_cut.write_bytes(data[:12])
    with pytest.raises(NotARecordingError, match="header is cut short"):
        RecordingFile(header_cut)


def test_a_replay_plays_seeks_and_republishes_what_was_recorded(
    no_leaks: None, tmp_path: Path
) -> None:
    trajectory = framecast.demo.argon_trajectory(n=20, frames=40)
    path = tmp_path / "steps.fcrec"
    with (
        Session(trajectory, port=0, autoplay=False) as session,
        session.record(path, keyframe_interval=0.05) as recorder,
    ):
        wait_until(lambda: recorder.frames_written == 1, what="the first frame")
        for step in range(15):
            session.step()
            wait_until(lambda: recorder.frames_written >= trajectory.frame_index + 1, what="step")
            if step == 5:
                session.shared_state["mark"] = "five"
                session.sessions.tracked = "default"
                session.sessions.publish_transition(trajectory.transition(6))
    replay = framecast.replay(path, speed=50)
    try:
        assert replay.frame_count == 16
        assert [time for time, _, _ in replay.events] == sorted(t for t, _, _ in replay.events)
        assert [kind for _, kind, _ in replay.events][-2:] == ["state", "transition"]
        # Sequential play applies the recorded deltas; bitwise the trajectory's frames.
        sequential = []
        for frame in range(replay.frame_count):
            assert replay.frame_index == frame
            positions = np.array(replay.frame["particle.positions"])
            assert np.array_equal(positions, trajectory.context_before(frame)["particle.positions"])
            sequential.append(positions)
            replay.step()
        assert replay.frame_index == 0  # looped
        # A seek (keyframe + deltas) lands on the same frame as sequential play.
        for frame in np.random.default_rng(1).permutation(replay.frame_count):
            replay.seek(int(frame))
            assert np.array_equal(replay.frame["particle.positions"], sequential[frame])
        replay.seek(9)
        replay.step_back()
        assert replay.frame_index == 8
        assert np.array_equal(replay.frame["particle.positions"], sequential[8])
        # Its frames are a timeline: transitions and contexts, as a trajectory's.
        context = replay.transition(3).context_after()
        assert np.array_equal(context["particle.positions"], sequential[4])
        assert replay.frame_at_time(replay.times[7] + 1e-6) == 7
        replay.seek_time(replay.times[11])
        assert replay.frame_index == 11
        # Shown by a session: the recorded transition and state come back at their time.
        replay.seek(0)
        with (
            Session(replay, port=0, autoplay=False) as replaying,
            Client(f"127.0.0.1:{replaying.port}") as viewer,
        ):
            listener = viewer.join("default")
            replaying.sessions.tracked = "default"
            replaying.play()
            listener.wait_for_events(1, timeout=20)
            event = listener.selected_transition
            assert event is not None
            assert event.timeline == replay.timeline_id
            assert 5 <= event.transition <= 8, event
            wait_until(lambda: replaying.shared_state.get("mark") == "five", what="the state")
    finally:
        replay.close()


def test_a_replay_refuses_what_it_cannot_play(tmp_path: Path) -> None:
    empty = tmp_path / "no-frames.fcrec"
    from framecast.recording.file import RecordWriter

    RecordWriter(empty, {"source": "nothing"}).close()
    with pytest.raises(NotARecordingError, match="holds no frame"):
        framecast.replay(empty)
    with pytest.raises(NotARecordingError, match="is not a framecast recording"):
        framecast.replay(Path(framecast.__file__))


def test_a_record_nested_too_deeply_is_refused_by_name(tmp_path: Path) -> None:
    from framecast.recording.file import Kind, RecordingFile, RecordWriter

    path = tmp_path / "deep.fcrec"
    writer = RecordWriter(path, {"framecast": "test", "source": "test"})
    writer.write(Kind.STATE, 0.0, b"[" * 100_000 + b"]" * 100_000)
    writer.close()
    with RecordingFile(path) as recording:
        (record,) = list(recording.of_kind(Kind.STATE))
        with pytest.raises(ValueError, match="nested too deeply"):
            recording.json(record)


def test_crafted_records_with_valid_checksums_are_refused_as_the_recording_opens(
    tmp_path: Path,
) -> None:
    from framecast.recording.file import Kind, NotARecordingError, RecordWriter
    from framecast.wire.codec import assemble_update, encode_entry_parts

    def frame(reset: bool) -> bytes:
        entry = encode_entry_parts("particle.positions", np.zeros((2, 3), np.float32))
        return assemble_update(0, reset, 0.0, [entry])

    cases = {
        "garbage-frame": (
            [(Kind.FRAME, 0.0, frame(True)), (Kind.FRAME, 0.1, b"\xff" * 9)],
            "frame record at byte",
        ),
        "no-keyframe": ([(Kind.FRAME, 0.0, frame(False))], "not a whole frame"),
        "backwards": (
            [(Kind.FRAME, 1.0, frame(True)), (Kind.FRAME, 0.5, frame(False))],
            "runs backwards",
        ),
        "not-json": (
            [(Kind.FRAME, 0.0, frame(True)), (Kind.STATE, 0.0, b"{nope")],
            "state record at byte",
        ),
    }
    for name, (records, problem) in cases.items():
        path = tmp_path / f"{name}.fcrec"
        writer = RecordWriter(path, {"framecast": "test", "source": "crafted"})
        for kind, time, payload in records:
            writer.write(kind, time, payload)
        writer.close()
        with pytest.raises(NotARecordingError, match=problem) as refused:
            framecast.replay(path)
        assert str(path) in str(refused.value), name
