from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Array(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class StringArray(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Field(_message.Message):
    __slots__ = ("array", "strings", "number", "integer", "text", "flag", "compact")
    ARRAY_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    INTEGER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    COMPACT_FIELD_NUMBER: _ClassVar[int]
    array: Array
    strings: StringArray
    number: float
    integer: int
    text: str
    flag: bool
    compact: bytes
    def __init__(self, array: _Optional[_Union[Array, _Mapping]] = ..., strings: _Optional[_Union[StringArray, _Mapping]] = ..., number: _Optional[float] = ..., integer: _Optional[int] = ..., text: _Optional[str] = ..., flag: _Optional[bool] = ..., compact: _Optional[bytes] = ...) -> None: ...

class FrameUpdate(_message.Message):
    __slots__ = ("frame_index", "reset", "publish_time", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Field
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Field, _Mapping]] = ...) -> None: ...
    FRAME_INDEX_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    frame_index: int
    reset: bool
    publish_time: float
    fields: _containers.MessageMap[str, Field]
    def __init__(self, frame_index: _Optional[int] = ..., reset: _Optional[bool] = ..., publish_time: _Optional[float] = ..., fields: _Optional[_Mapping[str, Field]] = ...) -> None: ...

class SubscribeFramesRequest(_message.Message):
    __slots__ = ("frame_interval",)
    FRAME_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    frame_interval: float
    def __init__(self, frame_interval: _Optional[float] = ...) -> None: ...

class GetFrameRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
