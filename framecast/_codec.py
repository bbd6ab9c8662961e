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
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np

from ._proto import frame_pb2
from .frame import FieldValue

__all__ = [
    "DecodedUpdate",
    "assemble_update",
    "decode_field",
    "decode_json",
    "decode_update",
    "encode_entry",
    "encode_field",
    "encode_header",
    "encode_json",
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


def decode_field(field: frame_pb2.Field) -> FieldValue:
    """The frame value of a protobuf ``Field``; raises ``ValueError`` for a malformed one."""
    kind = field.WhichOneof("kind")
    if kind == "array":
        try:
            dtype = np.dtype(field.array.dtype)
        except TypeError as error:
            raise ValueError(f"unknown array dtype {field.array.dtype!r}") from error
        if dtype.kind not in _WIRE_KINDS:
            raise ValueError(f"array dtype {field.array.dtype!r} is not numeric")
        shape = tuple(int(d) for d in field.array.shape)
        count = math.prod(shape)
        if count * dtype.itemsize != len(field.array.data):
            raise ValueError(
                f"array of shape {shape} and dtype {dtype.str} needs "
                f"{count * dtype.itemsize} bytes, got {len(field.array.data)}"
            )
        return np.frombuffer(field.array.data, dtype=dtype).reshape(shape)
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


def encode_entry(key: str, value: FieldValue) -> bytes:
    """One field as the bytes of a ``FrameUpdate.fields`` map entry (tag, length, entry).

    Numeric arrays, the large and frequent case, are framed by hand around the array's
    own buffer: one copy of the data instead of the three that building and serializing a
    protobuf message makes. The bytes equal protobuf's own encoding (a test checks).
    """
    if not (isinstance(value, np.ndarray) and value.dtype.kind in _WIRE_KINDS and value.ndim):
        return frame_pb2.FrameUpdate(fields={key: encode_field(value)}).SerializeToString()
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
    return b"".join((head, data.data))


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
    frame_index: int, reset: bool, publish_time: float, entries: Iterable[bytes]
) -> bytes:
    """A serialized ``FrameUpdate`` made of a header and already-encoded field entries."""
    return b"".join((encode_header(frame_index, reset, publish_time), *entries))


class DecodedUpdate(NamedTuple):
    """A frame update as the client sees it."""

    frame_index: int
    reset: bool
    publish_time: float
    fields: dict[str, FieldValue]


def decode_update(message: frame_pb2.FrameUpdate) -> DecodedUpdate:
    """Decode every field of a ``FrameUpdate``."""
    fields = {key: decode_field(field) for key, field in message.fields.items()}
    return DecodedUpdate(message.frame_index, message.reset, message.publish_time, fields)


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


def decode_json_object(data: bytes, *, what: str) -> Mapping[str, object]:
    """Like :func:`decode_json`, but empty means ``{}`` and anything else must be an object."""
    if not data:
        return {}
    value = decode_json(data, what=what)
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value
