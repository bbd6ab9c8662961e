"""NanoVer's recordings: what framecast writes, NanoVer's own reader opens; what NanoVer's own
writer writes, framecast replays, keys and dtypes converted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import framecast
from framecast import Session
from framecast.recording.nanover import from_nanover, to_nanover
from framecast.testing import wait_until
from framecast.testing.nanover import run_nanover

pytestmark = pytest.mark.slow

READ_WITH_NANOVER = textwrap.dedent(
    """\
    import json, sys
    import numpy as np
    from nanover.recording.reading import NanoverRecordingReader
    frames, states = [], []
    with NanoverRecordingReader.from_path(sys.argv[1]) as reader:
        for entry, frame in reader.iter_frames_full():
            frames.append({
                "timestamp": entry.metadata["timestamp"],
                "positions": np.asarray(frame.particle_positions).tolist(),
                "elements": np.asarray(frame.particle_elements).tolist(),
                "count": frame.particle_count,
            })
        for entry, state in reader.iter_states_full():
            states.append(state)
    print(json.dumps({"frames": frames, "states": states}))
    """
)

WRITE_WITH_NANOVER = textwrap.dedent(
    """\
    import json, sys
    import numpy as np
    from nanover.recording.reading import MessageEvent
    from nanover.recording.writing import NanoverRecordingWriter
    from nanover.trajectory import FrameData
    rng = np.random.default_rng(0)
    positions = rng.random((12, 3), dtype=np.float32)
    with NanoverRecordingWriter.from_path(sys.argv[1]) as writer:
        for index in range(20):
            frame = FrameData()
            if index == 0:
                frame.particle_elements = [6] * 6 + [8] * 6
                frame.particle_count = 12
                frame.bond_pairs = np.array([[0, 1], [2, 3]])
            frame.particle_positions = positions + 0.01 * index
            frame.frame_index = index
            message = {"frame": frame.pack_to_dict()}
            if index == 10:
                message["state"] = {"updates": {"scene": {"scale": 2}}, "removals": []}
            writer.write_message_event(MessageEvent(timestamp=index * 50_000, message=message))
    print(json.dumps({"positions": positions.tolist()}))
    """
)


def test_a_framecast_recording_opens_in_nanover(tmp_path: Path, no_leaks: None) -> None:
    trajectory = framecast.demo.argon_trajectory(n=10, frames=30)
    recording = tmp_path / "run.fcrec"
    with Session(trajectory, port=0, autoplay=False) as session:
        recorder = session.record(recording, keyframe_interval=0.1)
        wait_until(lambda: recorder.frames_written == 1, what="the first frame")
        session.shared_state["scene"] = {"scale": 3}
        for _ in range(8):
            session.step()
            wait_until(lambda: recorder.frames_written >= trajectory.frame_index + 1, what="step")
        recorder.stop()
    path = to_nanover(recording, tmp_path / "run.nanover.zip")
    read = run_nanover(READ_WITH_NANOVER, str(path))
    frames = read["frames"]
    assert len(frames) == 9
    for index, frame in enumerate(frames):
        expected = trajectory.context(index)["particle.positions"]
        assert np.array_equal(np.asarray(frame["positions"], dtype=np.float32), expected)
        assert frame["elements"] == [18] * 10
        assert frame["count"] == 10
    timestamps = [frame["timestamp"] for frame in frames]
    assert timestamps == sorted(timestamps)
    assert read["states"][-1] == {"scene": {"scale": 3}}


def test_a_nanover_recording_replays_in_framecast(tmp_path: Path) -> None:
    nanover = tmp_path / "made-by-nanover.nanover.zip"
    written = run_nanover(WRITE_WITH_NANOVER, str(nanover))
    path = from_nanover(nanover, keyframe_interval=0.2)
    assert path == tmp_path / "made-by-nanover.fcrec"
    replay = framecast.replay(path)
    try:
        assert replay.frame_count == 20
        replay.seek(13)  # a keyframe added on the way, then deltas
        positions = replay.frame["particle.positions"]
        expected = np.asarray(written["positions"], dtype=np.float32) + np.float32(0.01) * 13
        assert np.allclose(positions, expected, atol=1e-6)
        elements = replay.frame["particle.elements"]
        assert isinstance(elements, np.ndarray)
        assert elements.dtype == np.uint8
        assert list(elements) == [6] * 6 + [8] * 6
        bonds = replay.frame["bond.pairs"]
        assert isinstance(bonds, np.ndarray)
        assert bonds.dtype == np.int32
        assert bonds.tolist() == [[0, 1], [2, 3]]
        assert replay.times[1] == pytest.approx(0.05)
        assert [(kind, value["changes"]) for _, kind, value in replay.events] == [
            ("state", {"scene": {"scale": 2}})
        ]
    finally:
        replay.close()


def test_a_file_that_is_not_a_nanover_recording_says_so(tmp_path: Path) -> None:
    fake = tmp_path / "fake.nanover.zip"
    fake.write_text("no zip")
    with pytest.raises(ValueError, match="is not a NanoVer recording"):
        from_nanover(fake)


def _archive(path: Path, index: bytes, messages: bytes) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.msgpack", index)
        archive.writestr("messages.msgpack", messages)
    return path


def test_malformed_and_bomb_archives_are_refused_and_leave_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import msgpack

    import framecast.recording.nanover as nanover

    frame = msgpack.packb({"frame": {"frame.index": 0, "particle.positions": bytes(24)}})
    good_index = [{"offset": 0, "length": len(frame), "metadata": {"timestamp": 1}}]
    cases = {
        "index-not-msgpack": (b"\xc1\xc1", frame),
        "index-not-a-list": (msgpack.packb({"a": 1}), frame),
        "offset-past-the-end": (
            msgpack.packb([{"offset": 10_000, "length": 5, "metadata": {}}]),
            frame,
        ),
        "negative-length": (msgpack.packb([{"offset": 0, "length": -5}]), frame),
        "offset-backwards": (msgpack.packb(good_index + good_index), frame),
        "metadata-not-a-map": (
            msgpack.packb([{"offset": 0, "length": len(frame), "metadata": 7}]),
            frame,
        ),
        "message-not-a-map": (
            msgpack.packb([{"offset": 0, "length": 1, "metadata": {}}]),
            msgpack.packb(3),
        ),
        "truncated-message": (msgpack.packb(good_index), frame[:-4]),
    }
    for name, (index, messages) in cases.items():
        source = _archive(tmp_path / f"{name}.nanover.zip", index, messages)
        with pytest.raises(ValueError, match="is not a NanoVer recording") as refused:
            from_nanover(source)
        assert str(source) in str(refused.value), name
        assert not (tmp_path / f"{name}.fcrec").exists(), name

    # Bombs: an index, or a message, that inflates far past what is ever read at once.
    monkeypatch.setattr(nanover, "MAX_INDEX_BYTES", 1 << 20)
    monkeypatch.setattr(nanover, "MAX_MESSAGE_BYTES", 1 << 20)
    bomb = _archive(tmp_path / "index-bomb.nanover.zip", bytes(8 << 20), frame)
    with pytest.raises(ValueError, match="index is 8388608 bytes; at most 1048576"):
        from_nanover(bomb)
    huge = msgpack.packb([{"offset": 0, "length": 8 << 20, "metadata": {}}])
    bomb = _archive(tmp_path / "message-bomb.nanover.zip", huge, bytes(8 << 20))
    with pytest.raises(ValueError, match="message of 8388608 bytes is over 1048576"):
        from_nanover(bomb)
    assert sorted(p.name for p in tmp_path.glob("*.fcrec")) == []

    # A well-formed one still converts.
    ok = _archive(tmp_path / "ok.nanover.zip", msgpack.packb(good_index), frame)
    converted = from_nanover(ok)
    assert framecast.replay(converted).frame_count == 1


def test_long_conversions_show_progress_only_when_asked_or_watched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from framecast.recording.file import Kind, RecordWriter
    from framecast.wire.codec import assemble_update, encode_entry_parts

    writer = RecordWriter(tmp_path / "run.fcrec", {"framecast": "test", "source": "test"})
    for index in range(12):
        positions = np.full((4, 3), index, np.float32)
        entry = encode_entry_parts("particle.positions", positions)
        writer.write(Kind.FRAME, index / 10, assemble_update(index, True, 0.0, [entry]))
    writer.close()
    capsys.readouterr()
    to_nanover(tmp_path / "run.fcrec", tmp_path / "run.nanover.zip", progress=True)
    shown = capsys.readouterr().err
    assert "to NanoVer" in shown
    assert "100%" in shown or "frame" in shown
    from_nanover(tmp_path / "run.nanover.zip", tmp_path / "back.fcrec", progress=False)
    framecast.replay(tmp_path / "back.fcrec", progress=False).file.close()
    assert capsys.readouterr().err == ""
    # By default: nothing under CI or in a pipe, whatever the length.
    monkeypatch.setenv("CI", "true")
    framecast.replay(tmp_path / "run.fcrec").file.close()
    assert capsys.readouterr().err == ""
    framecast.replay(tmp_path / "run.fcrec", progress=True).file.close()
    assert "reading the recording" in capsys.readouterr().err
