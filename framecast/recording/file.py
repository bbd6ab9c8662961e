"""The recording file (``.fcrec``): an append-only log of what a session sent, crash-safe.

Layout, all integers little-endian::

    header  MAGIC (8 bytes) | version u16 | length u32 | JSON (length bytes) | crc32 u32
    record  length u32 | kind u8 | time f64 | payload (length bytes) | crc32 u32

The JSON header says what was recorded (``framecast``, ``source``, ``created``,
``keyframe_interval``). ``time`` is seconds since the recording started (monotonic). Each
record's CRC covers its kind, time and payload. Nothing is written after the last record:
there is no index to lose, since :class:`RecordingFile` builds it by scanning the lengths. A
recorder killed mid-write leaves a tail that fails its length or CRC check; the reader keeps
every record before it and says how many bytes it dropped.

Records:

- ``FRAME``: a serialized ``FrameUpdate`` (the wire's encoding, :mod:`framecast.wire.codec`), the
  fields that changed. One marked as a reset is a *keyframe*: the whole frame. The recorder
  writes one at least every ``keyframe_interval`` seconds, so that the frame at any point is
  one keyframe plus the deltas after it.
- ``STATE``: JSON ``{"reset": bool, "changes": {key: value, ...}}``; a value of None (JSON
  null) with the key in ``"removed"`` removes it.
- ``EVENT``: JSON ``{"kind": "transition" | "selection", "sessions": [...], ...}``.
- ``COMMAND``: JSON ``{"name": ..., "arguments": {...}}``.
- ``NOTE``: JSON the recorder writes at the end (updates merged, events dropped).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
import warnings
import zlib
from collections.abc import Iterator, Mapping
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from framecast.frame import FrameUpdate
from framecast.wire.codec import decode_json, parse_update

__all__ = [
    "DEFAULT_KEYFRAME_INTERVAL",
    "FORMAT_VERSION",
    "MAGIC",
    "Kind",
    "NotARecordingError",
    "Record",
    "RecordingFile",
    "RECORDING_SUFFIX",
    "RecordingTruncatedWarning",
    "RecordWriter",
]

#: The first 8 bytes. The CR LF and the ^Z show a file mangled by a text-mode copy.
MAGIC = b"FCREC\r\n\x1a"
#: The format this framecast writes, and the newest it reads.
FORMAT_VERSION = 1
#: The file name suffix of a recording.
RECORDING_SUFFIX = ".fcrec"
#: Seconds between two keyframes at most, by default: a seek reads one keyframe and at most
#: this many seconds of deltas.
DEFAULT_KEYFRAME_INTERVAL = 2.0

_HEADER = struct.Struct("<HI")
_RECORD = struct.Struct("<IBd")
_CRC = struct.Struct("<I")
#: A record larger than this is a corrupt length, not a frame (4 GiB is the field's limit).
MAX_RECORD = 2**31


class Kind(IntEnum):
    """What a record holds."""

    FRAME = 1
    STATE = 2
    EVENT = 3
    COMMAND = 4
    NOTE = 5


class NotARecordingError(ValueError):
    """The file is not a framecast recording, or one this version cannot read."""


class RecordingTruncatedWarning(UserWarning):
    """The end of a recording did not check out (a recorder stopped mid-write)."""


class Record(NamedTuple):
    """Where one record is: its kind, time, and payload's offset and length in the file."""

    kind: Kind
    time: float
    offset: int
    length: int


class RecordWriter:
    """Appends records to a new recording file. Not thread-safe: one writer thread.

    Raises ``FileExistsError`` for an existing file unless ``overwrite``.
    """

    def __init__(
        self, path: str | os.PathLike[str], header: Mapping[str, Any], *, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        self._file: BinaryIO = open(self.path, "wb" if overwrite else "xb")  # noqa: SIM115
        text = json.dumps({"format": FORMAT_VERSION, **header}).encode()
        self._file.write(MAGIC + _HEADER.pack(FORMAT_VERSION, len(text)) + text)
        self._file.write(_CRC.pack(zlib.crc32(text)))
        self._file.flush()
        self.bytes_written = self._file.tell()

    def write(self, kind: Kind, time: float, *payload: bytes | memoryview) -> None:
        """Append one record whose payload is the parts joined (not copied here)."""
        length = sum(len(part) for part in payload)
        head = _RECORD.pack(length, int(kind), time)
        crc = zlib.crc32(head[4:])
        for part in payload:
            crc = zlib.crc32(part, crc)
        self._file.write(head)
        for part in payload:
            self._file.write(part)
        self._file.write(_CRC.pack(crc))
        self.bytes_written += _RECORD.size + length + _CRC.size

    def write_json(self, kind: Kind, time: float, value: object) -> None:
        """Append one record of JSON (values that JSON cannot hold are written as text)."""
        self.write(kind, time, json.dumps(value, default=repr).encode())

    def flush(self) -> None:
        """Hand what was written to the operating system: a process killed after this
        loses none of it."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close. Idempotent."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()


class RecordingFile:
    """A recording opened for reading: its header and an index built by one scan.

    Raises :class:`NotARecordingError` for a file that is empty, is not a recording, or was
    written by a newer format version. A tail that does not check out (a recorder killed
    mid-write, a truncated copy, corruption) is dropped with a
    :class:`RecordingTruncatedWarning` that says how many bytes; :attr:`dropped_bytes`
    keeps the count. The records before it are all there.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                raise NotARecordingError(f"{self.path} is empty: not a framecast recording")
            self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self.header, start = self._read_header(size)
            self.records, end = self._scan(start, size)
        except BaseException:
            self._map.close()
            raise
        self.dropped_bytes = size - end
        if self.dropped_bytes:
            warnings.warn(
                f"{self.path}: the last {self.dropped_bytes} bytes are not a whole record "
                f"(a recorder stopped mid-write, or the file was cut); kept the "
                f"{len(self.records)} records before them",
                RecordingTruncatedWarning,
                stacklevel=2,
            )

    def _read_header(self, size: int) -> tuple[dict[str, Any], int]:
        data = self._map
        if data[: len(MAGIC)] != MAGIC:
            raise NotARecordingError(
                f"{self.path} is not a framecast recording (it starts with "
                f"{bytes(data[:8])!r}, not {MAGIC!r})"
            )
        fixed = len(MAGIC) + _HEADER.size
        if size < fixed:
            raise NotARecordingError(f"{self.path}: the recording's header is cut short")
        version, length = _HEADER.unpack_from(data, len(MAGIC))
        if version > FORMAT_VERSION:
            raise NotARecordingError(
                f"{self.path} is a recording of format {version}, written by a newer "
                f"framecast; this one reads format {FORMAT_VERSION} and older: upgrade framecast"
            )
        end = fixed + length + _CRC.size
        if size < end:
            raise NotARecordingError(f"{self.path}: the recording's header is cut short")
        text = bytes(data[fixed : fixed + length])
        (crc,) = _CRC.unpack_from(data, fixed + length)
        if zlib.crc32(text) != crc:
            raise NotARecordingError(f"{self.path}: the recording's header is corrupt")
        try:
            header = json.loads(text)
        except (ValueError, RecursionError):
            raise NotARecordingError(f"{self.path}: the recording's header is not JSON") from None
        if not isinstance(header, dict):
            raise NotARecordingError(f"{self.path}: the recording's header is not an object")
        return header, end

    def _scan(self, pos: int, size: int) -> tuple[list[Record], int]:
        """Every whole record from ``pos``; the offset after the last one."""
        with memoryview(self._map) as data:
            return self._scan_view(data, pos, size)

    @staticmethod
    def _scan_view(data: memoryview, pos: int, size: int) -> tuple[list[Record], int]:
        records: list[Record] = []
        while pos + _RECORD.size + _CRC.size <= size:
            length, kind, time = _RECORD.unpack_from(data, pos)
            payload = pos + _RECORD.size
            end = payload + length + _CRC.size
            if length > MAX_RECORD or end > size or kind not in Kind._value2member_map_:
                break
            (crc,) = _CRC.unpack_from(data, payload + length)
            # Every record is checked once, here: a corrupt one anywhere ends the scan, so
            # nothing read later can fail in a player's thread.
            head_crc = zlib.crc32(data[pos + 4 : payload])
            if zlib.crc32(data[payload : payload + length], head_crc) != crc:
                break
            records.append(Record(Kind(kind), time, payload, length))
            pos = end
        return records, pos

    # -- reading ----------------------------------------------------------------------------
    def payload(self, record: Record) -> memoryview:
        """The payload's bytes, a view into the mapped file (valid until :meth:`close`)."""
        return memoryview(self._map)[record.offset : record.offset + record.length]

    def frame(self, record: Record) -> FrameUpdate:
        """A ``FRAME`` record's update. Its arrays are views into the mapped file: copy
        what must outlive :meth:`close`."""
        return parse_update(self.payload(record))

    def json(self, record: Record) -> Any:
        """A JSON record's value; ``ValueError`` naming the record for one that is not JSON
        (or is nested too deeply to parse)."""
        return decode_json(
            bytes(self.payload(record)), what=f"{self.path}: the record at {record.offset}"
        )

    def of_kind(self, kind: Kind) -> Iterator[Record]:
        """The records of one kind, in order."""
        return (record for record in self.records if record.kind is kind)

    def close(self) -> None:
        """Unmap the file. Arrays still viewing it keep it mapped until they go."""
        with contextlib.suppress(BufferError):  # views remain: it closes when they go
            self._map.close()

    def __enter__(self) -> RecordingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
