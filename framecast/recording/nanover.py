"""NanoVer's recordings (``.nanover.zip``), written from and read into framecast's.

A NanoVer recording is a zip of ``messages.msgpack`` (MessagePack maps as NanoVer sends them:
``{"frame": {...}, "state": {"updates": {...}, "removals": [...]}}``, one after another) and
``index.msgpack`` (each message's offset, length and metadata, with its time in
microseconds), written when the recording closes. In a frame, arrays travel as raw bytes:
float32 triples for positions and the box, uint8 elements, uint32 residues, chains and bond
pairs; ``frame.index`` 0 means "drop everything first" (framecast's reset, a keyframe).

Needs the ``nanover`` extra (msgpack). Published transitions and selections have no place in
NanoVer's format and are left out of what :func:`to_nanover` writes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from framecast._support.progress import progress as progress_bar
from framecast._version import __version__
from framecast.frame import FieldValue
from framecast.recording.file import (
    DEFAULT_KEYFRAME_INTERVAL,
    RECORDING_SUFFIX,
    Kind,
    RecordingFile,
    RecordWriter,
)
from framecast.timeline import TIMELINE_KEY
from framecast.wire.codec import assemble_update, encode_entry_parts
from framecast.wire.nanover import FRAME_INDEX, unpack_bounded
from framecast.wire.nanover import msgpack as msgpack_module
from framecast.wire.nanover import pack_value as _pack_value
from framecast.wire.nanover import unpack_value as _unpack_value

__all__ = ["from_nanover", "to_nanover"]

MESSAGES = "messages.msgpack"
INDEX = "index.msgpack"
#: The largest index a recording may have (an entry is about 60 bytes: 4 million messages).
MAX_INDEX_BYTES = 256 * 1024 * 1024
#: The largest one message may be (a frame of 10 million particles is 120 MB).
MAX_MESSAGE_BYTES = 512 * 1024 * 1024


def to_nanover(
    recording: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    progress: bool | None = None,
) -> Path:
    """Write the frames and shared-state changes of a framecast recording (``.fcrec``) as a
    NanoVer recording at ``path``, which NanoVer's own reader opens; returns the path.
    ``progress``: a bar (see :func:`framecast._support.progress.progress`)."""
    msgpack = msgpack_module("NanoVer recordings")
    target = Path(path)
    with RecordingFile(recording) as source, zipfile.ZipFile(target, "w") as archive:
        index: list[dict[str, Any]] = []
        offset = 0
        with archive.open(MESSAGES, "w", force_zip64=True) as messages:
            counter = 0
            # The first message holds the first frame and the state so far, even if empty:
            # NanoVer's reader (under Python 3.13) cannot start at a later message, and it
            # starts its frames and its states each at their first message.
            early: dict[str, Any] = {"updates": {}, "removals": []}
            started = False
            records = source.records
            for record in progress_bar(
                records, total=len(records), what="to NanoVer", show=progress
            ):
                message = _message_of(source, record, counter)
                if message is None:
                    continue
                if not started:
                    if "state" in message:
                        early["updates"].update(message["state"]["updates"])
                        early["removals"].extend(message["state"]["removals"])
                        continue
                    message["state"] = early
                    started = True
                if "frame" in message:
                    counter = int(message["frame"][FRAME_INDEX]) + 1
                data = msgpack.packb(message)
                metadata: dict[str, Any] = {
                    "types": list(message),
                    "timestamp": round(record.time * 1_000_000),
                }
                if "frame" in message:
                    metadata[FRAME_INDEX] = message["frame"][FRAME_INDEX]
                index.append({"offset": offset, "length": len(data), "metadata": metadata})
                messages.write(data)
                offset += len(data)
        with archive.open(INDEX, "w") as written:
            written.write(msgpack.packb(index))
    return target


def _message_of(source: RecordingFile, record: Any, counter: int) -> dict[str, Any] | None:
    """The NanoVer message of one framecast record (None: NanoVer has no place for it)."""
    if record.kind is Kind.FRAME:
        update = source.frame(record)
        frame = {
            key: _pack_value(key, value)
            for key, value in update.fields.items()
            if key != TIMELINE_KEY
        }
        frame[FRAME_INDEX] = 0 if update.reset else max(counter, 1)
        positions = update.fields.get("particle.positions")
        if isinstance(positions, np.ndarray):
            frame["particle.count"] = int(positions.shape[0])
        return {"frame": frame}
    if record.kind is Kind.STATE:
        value = source.json(record)
        return {"state": {"updates": value["changes"], "removals": value["removed"]}}
    return None


def from_nanover(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    keyframe_interval: float = DEFAULT_KEYFRAME_INTERVAL,
    progress: bool | None = None,
) -> Path:
    """Convert a NanoVer recording into a framecast recording at ``out`` (default: beside it,
    ``.fcrec``), which :func:`framecast.replay` plays; returns its path. Keys keep their names
    (NanoVer's and framecast's are the same vocabulary); dtypes become framecast's. A
    keyframe is written at least every ``keyframe_interval`` seconds, so a seek is cheap
    however few resets the NanoVer recording has. Raises ``ValueError`` for a file that is
    not a NanoVer recording."""
    msgpack = msgpack_module("NanoVer recordings")
    source = Path(path)
    stem = source.name.split(".")[0]
    target = Path(out) if out is not None else source.with_name(f"{stem}{RECORDING_SUFFIX}")
    if target.exists():
        raise FileExistsError(f"{target} exists already: choose another name, or remove it")
    header = {
        "framecast": __version__,
        "source": f"NanoVer recording {source.name}",
        "keyframe_interval": keyframe_interval,
    }
    writer: RecordWriter | None = None
    try:
        with zipfile.ZipFile(source) as archive:
            index = _read_index(msgpack, archive)
            writer = RecordWriter(target, header)
            try:
                with archive.open(MESSAGES) as messages:
                    entries = progress_bar(
                        index, total=len(index), what="from NanoVer", show=progress
                    )
                    _convert(msgpack, entries, messages, writer, keyframe_interval)
            finally:
                writer.close()
    except BaseException as error:
        if writer is not None:
            target.unlink(missing_ok=True)  # nothing half-converted stays behind
        malformed = (zipfile.BadZipFile, LookupError, ValueError, TypeError, AttributeError)
        if isinstance(error, (*malformed, EOFError, OverflowError)):
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ValueError(f"{source} is not a NanoVer recording: {reason}") from None
        raise
    return target


def _read_index(msgpack: Any, archive: zipfile.ZipFile) -> list[Mapping[str, Any]]:
    """The archive's index, its size and contents checked before and as it is read."""
    size = archive.getinfo(INDEX).file_size
    if size > MAX_INDEX_BYTES:
        raise ValueError(f"its index is {size} bytes; at most {MAX_INDEX_BYTES} are read")
    with archive.open(INDEX) as stream:
        data = stream.read(MAX_INDEX_BYTES + 1)
    if len(data) > MAX_INDEX_BYTES:
        raise ValueError(f"its index is over {MAX_INDEX_BYTES} bytes")
    index = unpack_bounded(msgpack, data, max(len(data), 16), what="its index")
    if not isinstance(index, list) or not all(isinstance(entry, Mapping) for entry in index):
        raise ValueError("its index is not a list of maps")
    return index


class _Messages:
    """Reads the messages member front to back in bounded pieces (a message is read only
    when its turn comes; a recording is never held whole in memory)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._position = 0

    def read(self, offset: object, length: object) -> bytes:
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length < 0:
            raise ValueError(f"an index entry has offset {offset!r} and length {length!r}")
        if length > MAX_MESSAGE_BYTES:
            raise ValueError(f"a message of {length} bytes is over {MAX_MESSAGE_BYTES}")
        if offset < self._position:
            raise ValueError(f"the index goes back to offset {offset} (messages are in order)")
        while self._position < offset:  # skip, a piece at a time
            skipped = len(self._stream.read(min(offset - self._position, 1 << 20)))
            if not skipped:
                raise ValueError(f"the messages end before offset {offset}")
            self._position += skipped
        data = self._stream.read(length)
        if len(data) != length:
            raise ValueError(f"the messages end inside the one at offset {offset}")
        self._position += length
        return data


def _convert(
    msgpack: Any,
    index: Iterable[Mapping[str, Any]],
    stream: IO[bytes],
    writer: RecordWriter,
    keyframe_interval: float,
) -> None:
    """Write NanoVer's messages as framecast records, with keyframes added on the way."""
    current: dict[str, FieldValue] = {}
    last_keyframe = -float("inf")
    start: int | None = None
    messages = _Messages(stream)
    for entry in index:
        data = messages.read(entry.get("offset"), entry.get("length"))
        message = unpack_bounded(msgpack, data, max(len(data), 16), what="a message")
        if not isinstance(message, Mapping):
            raise ValueError(f"a message is a map, not {type(message).__name__}")
        stamp = int(entry.get("metadata", {}).get("timestamp") or 0)
        start = stamp if start is None else start
        at = (stamp - start) / 1_000_000
        frame = message.get("frame")
        if isinstance(frame, Mapping):
            fields = {k: _unpack_value(k, v) for k, v in frame.items() if k != FRAME_INDEX}
            reset = frame.get(FRAME_INDEX) == 0 or not current
            current = dict(fields) if reset else {**current, **fields}
            keyframe = reset or at - last_keyframe >= keyframe_interval
            written = current if keyframe else fields
            entries = [encode_entry_parts(k, v) for k, v in written.items()]
            number = int(frame.get(FRAME_INDEX, 0) or 0)
            writer.write(Kind.FRAME, at, assemble_update(number, keyframe, 0.0, entries))
            last_keyframe = at if keyframe else last_keyframe
        state = message.get("state")
        if isinstance(state, Mapping):
            change = {
                "reset": False,
                "changes": dict(state.get("updates", {})),
                "removed": list(state.get("removals", [])),
            }
            writer.write_json(Kind.STATE, at, change)
