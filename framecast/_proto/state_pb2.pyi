from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StateChange(_message.Message):
    __slots__ = ("updates", "removals", "version", "more", "snapshot", "reset")
    class UpdatesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    REMOVALS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.ScalarMap[str, bytes]
    removals: _containers.RepeatedScalarFieldContainer[str]
    version: int
    more: bool
    snapshot: bool
    reset: bool
    def __init__(self, updates: _Optional[_Mapping[str, bytes]] = ..., removals: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ..., more: _Optional[bool] = ..., snapshot: _Optional[bool] = ..., reset: _Optional[bool] = ...) -> None: ...

class SubscribeStateRequest(_message.Message):
    __slots__ = ("update_interval", "access_token")
    UPDATE_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    update_interval: float
    access_token: str
    def __init__(self, update_interval: _Optional[float] = ..., access_token: _Optional[str] = ...) -> None: ...

class UpdateStateRequest(_message.Message):
    __slots__ = ("access_token", "change", "owned")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    OWNED_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    change: StateChange
    owned: bool
    def __init__(self, access_token: _Optional[str] = ..., change: _Optional[_Union[StateChange, _Mapping]] = ..., owned: _Optional[bool] = ...) -> None: ...

class UpdateStateResponse(_message.Message):
    __slots__ = ("success", "locked_keys", "version")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    LOCKED_KEYS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    success: bool
    locked_keys: _containers.RepeatedScalarFieldContainer[str]
    version: int
    def __init__(self, success: _Optional[bool] = ..., locked_keys: _Optional[_Iterable[str]] = ..., version: _Optional[int] = ...) -> None: ...

class UpdateLocksRequest(_message.Message):
    __slots__ = ("access_token", "acquire", "release")
    class AcquireEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACQUIRE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    acquire: _containers.ScalarMap[str, float]
    release: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, access_token: _Optional[str] = ..., acquire: _Optional[_Mapping[str, float]] = ..., release: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateLocksResponse(_message.Message):
    __slots__ = ("success", "locked_keys")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    LOCKED_KEYS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    locked_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, success: _Optional[bool] = ..., locked_keys: _Optional[_Iterable[str]] = ...) -> None: ...
