from __future__ import annotations

import threading

import numpy as np
import pytest

from framecast import STANDARD_FIELDS, FrameData


def test_standard_keys_are_converted_to_their_dtype() -> None:
    frame = FrameData()
    frame["particle.positions"] = np.zeros((4, 3), dtype=np.float64)
    frame["particle.elements"] = [18, 18, 6, 1]
    frame["bond.pairs"] = np.array([[0, 1], [2, 3]], dtype=np.int64)
    frame["energy.kinetic"] = np.float64(1.5)
    assert frame["particle.positions"].dtype == np.dtype("<f4")  # type: ignore[union-attr]
    assert frame["particle.elements"].dtype == np.dtype("u1")  # type: ignore[union-attr]
    assert frame["bond.pairs"].dtype == np.dtype("<i4")  # type: ignore[union-attr]
    assert frame["energy.kinetic"] == 1.5
    assert isinstance(frame["energy.kinetic"], float)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("particle.positions", np.zeros((4, 2)), r"shape \(N, 3\)"),
        ("particle.positions", np.array([["a", "b", "c"]]), "float dtype"),
        ("particle.elements", np.array([1.5, 2.0]), "int dtype"),
        ("particle.elements", np.array([300]), "fit in"),
        ("bond.pairs", np.zeros((3, 3), dtype=int), r"shape \(N, 2\)"),
        ("system.box.vectors", np.eye(2), r"shape \(3, 3\)"),
        ("energy.kinetic", "hot", "must be a number"),
        ("energy.kinetic", True, "must be a number"),
        ("particle.names", np.array([1, 2]), "array of strings"),
    ],
)
def test_wrong_dtype_or_shape_raises_value_error_naming_the_key(
    key: str, value: object, message: str
) -> None:
    frame = FrameData()
    with pytest.raises(ValueError, match=message) as info:
        frame[key] = value
    assert repr(key) in str(info.value)
    assert key not in frame


def test_non_standard_keys_accept_arrays_and_scalars_but_not_objects() -> None:
    frame = FrameData()
    frame["my.flag"] = True
    frame["my.label"] = "state A"
    frame["my.values"] = np.arange(3, dtype=">i4")  # big-endian becomes little-endian
    assert frame["my.values"].dtype == np.dtype("<i4")  # type: ignore[union-attr]
    with pytest.raises(TypeError, match=r"'my\.object'"):
        frame["my.object"] = {"a": 1}
    with pytest.raises(TypeError, match="non-empty"):
        frame[""] = 1


def test_update_is_all_or_nothing() -> None:
    frame = FrameData({"energy.kinetic": 1.0})
    frame.take_changes()
    with pytest.raises(ValueError, match=r"particle\.positions"):
        frame.update({"energy.kinetic": 2.0, "particle.positions": np.zeros((2, 2))})
    assert frame["energy.kinetic"] == 1.0
    assert frame.dirty == frozenset()


def test_stored_arrays_are_read_only_copies() -> None:
    source = np.zeros((2, 3), dtype=np.float32)
    frame = FrameData({"particle.positions": source})
    source[0, 0] = 99.0
    stored = frame["particle.positions"]
    assert isinstance(stored, np.ndarray)
    assert stored[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        stored[0, 0] = 1.0


def test_take_changes_returns_only_dirty_fields_then_clears() -> None:
    frame = FrameData({"particle.elements": [1, 1], "particle.positions": np.zeros((2, 3))})
    first = frame.take_changes()
    assert set(first.fields) == {"particle.elements", "particle.positions"}
    assert not first.reset
    frame.update({"particle.positions": np.ones((2, 3))}, index=7)
    second = frame.take_changes()
    assert set(second.fields) == {"particle.positions"}
    assert second.frame_index == 7
    assert frame.take_changes().fields == {}


def test_removing_a_key_reports_a_reset_with_the_whole_frame() -> None:
    frame = FrameData({"a": 1, "b": 2})
    frame.take_changes()
    del frame["a"]
    changes = frame.take_changes()
    assert changes.reset
    assert changes.fields == {"b": 2}


def test_concurrent_writers_and_a_reader_lose_no_change() -> None:
    frame = FrameData()
    writers = 4
    per_writer = 500
    seen: dict[str, object] = {}
    stop = threading.Event()

    def write(w: int) -> None:
        for i in range(per_writer):
            frame[f"w{w}"] = i

    def read() -> None:
        while not stop.is_set():
            seen.update(frame.take_changes().fields)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    reader.join()
    seen.update(frame.take_changes().fields)
    assert seen == {f"w{w}": per_writer - 1 for w in range(writers)}


def test_standard_fields_cover_the_anchor_vocabulary() -> None:
    for key in (
        "particle.positions",
        "particle.elements",
        "particle.names",
        "particle.residues",
        "residue.names",
        "residue.chains",
        "chain.names",
        "bond.pairs",
        "particle.count",
        "energy.kinetic",
        "energy.potential",
        "system.box.vectors",
        "system.simulation.time",
        "server.timestamp",
    ):
        assert key in STANDARD_FIELDS


def test_copy_is_independent_and_all_dirty() -> None:
    frame = FrameData({"energy.kinetic": 1.0, "label": "a"}, index=4)
    frame.take_changes()
    duplicate = frame.copy()
    assert duplicate.index == 4
    assert duplicate.dirty == frozenset({"energy.kinetic", "label"})
    duplicate["label"] = "b"
    assert frame["label"] == "a"
    assert frame.dirty == frozenset()


def test_on_change_listeners_hear_every_kind_of_change_until_removed() -> None:
    frame = FrameData({"a": 1})
    heard: list[frozenset[str]] = []
    remove = frame.on_change(lambda: heard.append(frame.dirty))
    frame["b"] = 2
    frame.update({"c": 3}, index=4)
    frame.merge({"d": np.zeros(2)}, index=5)
    del frame["a"]
    frame.clear()
    assert heard == [
        frozenset({"a", "b"}),
        frozenset({"a", "b", "c"}),
        frozenset({"a", "b", "c", "d"}),
        frozenset({"b", "c", "d"}),
        frozenset(),
    ]
    remove()
    remove()  # removing twice is harmless
    frame["e"] = 1
    assert len(heard) == 5


def test_a_refused_update_does_not_notify() -> None:
    frame = FrameData()
    heard: list[int] = []
    frame.on_change(lambda: heard.append(1))
    with pytest.raises(ValueError, match=r"particle\.positions"):
        frame.update({"particle.positions": np.zeros((3, 2))})
    assert heard == []
    assert frame.dirty == frozenset()
