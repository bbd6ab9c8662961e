"""Encoding frames and JSON values for the wire.

The frame encoding is built for fan-out. In protobuf a map field is a repeated field of
entry messages, and a message may be split at any field boundary, so a ``FrameUpdate`` is
exactly the concatenation of a small header (index, reset, time) and one encoded entry per
field. :func:`encode_entry` encodes a field once; each subscriber's message is then built by
:func:`assemble_update`, which joins bytes and never re-encodes an array.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from framecast._proto import frame_pb2
from framecast.frame import FieldValue, FrameUpdate
from framecast.wire.compact import decode_positions, encode_positions

__all__ = [
    "assemble_update",
    "decode_field",
    "decode_field_bytes",
    "decode_json",
    "decode_update",
    "EntryParts",
    "encode_compact_entry",
    "encode_entry",
    "encode_entry_parts",
    "encode_field",
    "encode_header",
    "encode_json",
    "parse_update",
    "split_update",
]

# Only plain numeric and boolean dtypes may arrive as raw bytes; anything else (objects,
# structured or datetime dtypes) is refused before numpy interprets the buffer.
_WIRE_KINDS = frozenset("biuf")


def encode_field(value: FieldValue) -> frame_pb2.Field:
    """The protobuf ``Field`` for a validated frame value."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            return frame_pb2.Field(strings=frame_pb2.StringArray(values=value.ravel().tolist()))
        array = (
            value if value.dtype.byteorder != ">" else value.astype(value.dtype.newbyteorder("<"))
        )
        return frame_pb2.Field(
            array=frame_pb2.Array(dtype=array.dtype.str, shape=array.shape, data=array.tobytes())
        )
    if isinstance(value, bool):
        return frame_pb2.Field(flag=value)
    if isinstance(value, int):
        return frame_pb2.Field(integer=value)
    if isinstance(value, float):
        return frame_pb2.Field(number=value)
    if isinstance(value, str):
        return frame_pb2.Field(text=value)
    raise TypeError(f"cannot encode a frame value of type {type(value).__name__}")


def _check_array(array: frame_pb2.Array, dtype: np.dtype[Any], size: int) -> None:
    if dtype.kind not in _WIRE_KINDS:
        raise ValueError(f"array dtype {array.dtype!r} is not numeric")
    shape = tuple(int(d) for d in array.shape)
    needed = math.prod(shape) * dtype.itemsize
    if needed != size:
        raise ValueError(
            f"array of shape {shape} and dtype {dtype.str} needs {needed} bytes, got {size}"
        )


def decode_field(field: frame_pb2.Field) -> FieldValue:
    """The frame value of a protobuf ``Field``; raises ``ValueError`` for a malformed one."""
    kind = field.WhichOneof("kind")
    if kind == "array":
        try:
            dtype = np.dtype(field.array.dtype)
        except TypeError as error:
            raise ValueError(f"unknown array dtype {field.array.dtype!r}") from error
        _check_array(field.array, dtype, len(field.array.data))
        return np.frombuffer(field.array.data, dtype=dtype).reshape(tuple(field.array.shape))
    if kind == "strings":
        return np.array(list(field.strings.values), dtype=str)
    if kind == "number":
        return field.number
    if kind == "integer":
        return field.integer
    if kind == "text":
        return field.text
    if kind == "flag":
        return field.flag
    if kind == "compact":
        return decode_positions(field.compact)
    raise ValueError("frame field has no value")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: int, length: int) -> bytes:
    return bytes((tag,)) + _varint(length)


# Wire tags (field number << 3 | wire type) of the messages in proto/framecast/v1/frame.proto.
_TAG_FIELDS_ENTRY = 0x22  # FrameUpdate.fields = 4, length-delimited
_TAG_KEY = 0x0A  # map entry key = 1; also Field.array = 1 and Array.dtype = 1
_TAG_VALUE = 0x12  # map entry value = 2; also Array.shape = 2 (packed)
_TAG_DATA = 0x1A  # Array.data = 3
_TAG_INDEX = 0x08  # FrameUpdate.frame_index = 1, varint
_TAG_RESET = 0x10  # FrameUpdate.reset = 2, varint
_TAG_TIME = 0x19  # FrameUpdate.publish_time = 3, 64-bit
_DOUBLE = struct.Struct("<d")
_COMPACT = 7  # Field.compact


#: One encoded map entry, as pieces to join: whole bytes, or a head and the array's buffer.
EntryParts = tuple[bytes, ...] | tuple[bytes, memoryview]


def encode_entry_parts(key: str, value: FieldValue) -> EntryParts:
    """One field as the pieces of a ``FrameUpdate.fields`` map entry (tag, length, entry).

    Numeric arrays, the large and frequent case, are framed by hand around a view of the
    array's own (read-only) buffer, so that the data is copied once, when a whole message
    is joined, instead of the three times that building and serializing a protobuf message
    costs. Joined, the pieces equal protobuf's own encoding (a test checks).
    """
    if not (isinstance(value, np.ndarray) and value.dtype.kind in _WIRE_KINDS and value.ndim):
        return (frame_pb2.FrameUpdate(fields={key: encode_field(value)}).SerializeToString(),)
    array = value if value.dtype.byteorder != ">" else value.astype(value.dtype.newbyteorder("<"))
    data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    dtype = array.dtype.str.encode()
    shape = b"".join(_varint(dim) for dim in array.shape)
    array_head = _length_delimited(_TAG_KEY, len(dtype)) + dtype
    if shape:
        array_head += _length_delimited(_TAG_VALUE, len(shape)) + shape
    if data.size:
        array_head += _length_delimited(_TAG_DATA, data.size)
    array_length = len(array_head) + data.size
    field_head = _length_delimited(_TAG_KEY, array_length)
    field_length = len(field_head) + array_length
    name = key.encode()
    entry_head = (
        _length_delimited(_TAG_KEY, len(name)) + name + _length_delimited(_TAG_VALUE, field_length)
    )
    entry_length = len(entry_head) + field_length
    head = _length_delimited(_TAG_FIELDS_ENTRY, entry_length) + entry_head + field_head + array_head
    return (head, data.data)


def encode_entry(key: str, value: FieldValue) -> bytes:
    """One field as the bytes of a ``FrameUpdate.fields`` map entry."""
    return b"".join(encode_entry_parts(key, value))


def encode_compact_entry(key: str, positions: FieldValue, precision: float | None) -> bytes:
    """A ``(N, 3)`` float array as a map entry in the compact position encoding (see
    :mod:`framecast.wire.compact`), at ``precision`` (None: exact float32). A reader gets it
    back as a float32 array from :func:`parse_update`, as if it were an ordinary array."""
    blob = encode_positions(positions, precision)
    return frame_pb2.FrameUpdate(fields={key: frame_pb2.Field(compact=blob)}).SerializeToString()


def encode_header(frame_index: int, reset: bool, publish_time: float) -> bytes:
    """The ``FrameUpdate`` fields other than ``fields``, encoded by hand (proto3 omits zeros)."""
    parts = []
    if frame_index:
        parts.append(bytes((_TAG_INDEX,)) + _varint(frame_index))
    if reset:
        parts.append(bytes((_TAG_RESET, 1)))
    if publish_time:
        parts.append(bytes((_TAG_TIME,)) + _DOUBLE.pack(publish_time))
    return b"".join(parts)


def assemble_update(
    frame_index: int, reset: bool, publish_time: float, entries: Iterable[EntryParts]
) -> bytes:
    """A serialized ``FrameUpdate``: a header and already-encoded entries, in one join."""
    parts: list[bytes | memoryview] = [encode_header(frame_index, reset, publish_time)]
    for entry in entries:
        parts.extend(entry)
    return b"".join(parts)


def _read_varint(view: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise ValueError("truncated frame update: a varint runs past the end")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed frame update: a varint is longer than 10 bytes")


def _scan(view: memoryview, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield (field number, wire type, start, stop) for each field in ``view[pos:end]``.

    For varints ``start`` is the value itself and ``stop`` is -1.
    """
    while pos < end:
        key, pos = _read_varint(view, pos, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(view, pos, end)
            yield number, wire, value, -1
            continue
        if wire == 2:
            length, pos = _read_varint(view, pos, end)
            stop = pos + length
        elif wire == 1:
            stop = pos + 8
        elif wire == 5:
            stop = pos + 4
        else:
            raise ValueError(f"malformed frame update: unsupported wire type {wire}")
        if stop > end:
            raise ValueError("truncated frame update: a field runs past the end")
        yield number, wire, pos, stop
        pos = stop


def _parse_array(view: memoryview, pos: int, end: int) -> FieldValue:
    dtype_name, shape, data = "", [], view[0:0]
    for number, wire, start, stop in _scan(view, pos, end):
        if number == 1 and wire == 2:
            dtype_name = bytes(view[start:stop]).decode()
        elif number == 2 and wire == 2:  # packed shape
            at = start
            while at < stop:
                dim, at = _read_varint(view, at, stop)
                shape.append(dim)
        elif number == 2 and wire == 0:  # unpacked shape, also valid protobuf
            shape.append(start)
        elif number == 3 and wire == 2:
            data = view[start:stop]
    message = frame_pb2.Array(dtype=dtype_name, shape=shape)
    try:
        dtype = np.dtype(dtype_name)
    except TypeError as error:
        raise ValueError(f"unknown array dtype {dtype_name!r}") from error
    _check_array(message, dtype, len(data))
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def parse_update(data: bytes | memoryview, *, receive_time: float = 0.0) -> FrameUpdate:
    """Decode a serialized ``FrameUpdate`` with arrays as zero-copy views into ``data``.

    Equivalent to ``decode_update(FrameUpdate.FromString(data))``, which copies every
    array twice (into the message, then out of it). The arrays returned are read-only and
    keep ``data`` alive. Raises ``ValueError`` for a malformed message.
    """
    frame_index, reset, publish_time, fields = split_update(data)
    decoded = {key: decode_field_bytes(value) for key, value in fields.items()}
    return FrameUpdate(frame_index, decoded, reset, publish_time, receive_time)


def split_update(
    data: bytes | memoryview,
) -> tuple[int, bool, float, dict[str, memoryview]]:
    """A serialized ``FrameUpdate``'s index, reset flag, publish time and each field's
    encoded ``Field``, not decoded (:func:`decode_field_bytes` decodes one): a reader that
    merges several updates latest-wins decodes only the values it keeps. ``ValueError``
    for a malformed message."""
    view = memoryview(data)
    frame_index, reset, publish_time = 0, False, 0.0
    fields: dict[str, memoryview] = {}
    for number, wire, start, stop in _scan(view, 0, len(view)):
        if number == 1 and wire == 0:
            frame_index = start
        elif number == 2 and wire == 0:
            reset = bool(start)
        elif number == 3 and wire == 1:
            (publish_time,) = _DOUBLE.unpack_from(view, start)
        elif number == 4 and wire == 2:
            key, value = "", None
            for entry_number, entry_wire, entry_start, entry_stop in _scan(view, start, stop):
                if entry_number == 1 and entry_wire == 2:
                    key = bytes(view[entry_start:entry_stop]).decode()
                elif entry_number == 2 and entry_wire == 2:
                    value = view[entry_start:entry_stop]
            if value is None:
                raise ValueError(f"frame field {key!r} has no value")
            fields[key] = value
    return frame_index, reset, publish_time, fields


def decode_field_bytes(view: memoryview) -> FieldValue:
    """One encoded ``Field`` (from :func:`split_update`) as its value; arrays are
    zero-copy views. ``ValueError`` for a malformed one."""
    return _parse_field(view, 0, len(view))


def _parse_field(view: memoryview, start: int, stop: int) -> FieldValue:
    arrays = [(n, s, e) for n, w, s, e in _scan(view, start, stop) if n in (1, 7) and w == 2]
    if arrays:
        number, first, last = arrays[-1]
        if number == _COMPACT:
            return decode_positions(view[first:last])
        return _parse_array(view, first, last)
    # Strings and scalars are small: let protobuf decode them.
    return decode_field(frame_pb2.Field.FromString(bytes(view[start:stop])))


def decode_update(message: frame_pb2.FrameUpdate) -> FrameUpdate:
    """Decode every field of a ``FrameUpdate``."""
    fields = {key: decode_field(field) for key, field in message.fields.items()}
    return FrameUpdate(message.frame_index, fields, message.reset, message.publish_time)


def encode_json(value: object) -> bytes:
    """UTF-8 JSON for a shared-state value or a command argument; ``ValueError`` if not JSON."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise ValueError(f"value is not JSON-serialisable: {error}") from error


def decode_json(data: bytes, *, what: str) -> object:
    """Parse UTF-8 JSON; ``ValueError`` naming ``what`` when it is malformed."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{what} is not valid UTF-8 JSON: {error}") from error
    except RecursionError:  # json recurses per nesting level
        raise ValueError(f"{what} is nested too deeply to parse") from None


def decode_json_object(data: bytes, *, what: str) -> Mapping[str, object]:
    """Like :func:`decode_json`, but empty means ``{}`` and anything else must be an object."""
    if not data:
        return {}
    value = decode_json(data, what=what)
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value
