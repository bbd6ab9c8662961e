from . import frame_pb2 as _frame_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JoinRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class JoinedEvent(_message.Message):
    __slots__ = ("name", "clients")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    clients: int
    def __init__(self, name: _Optional[str] = ..., clients: _Optional[int] = ...) -> None: ...

class TransitionEvent(_message.Message):
    __slots__ = ("timeline", "transition", "label")
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    timeline: str
    transition: int
    label: str
    def __init__(self, timeline: _Optional[str] = ..., transition: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class SelectionEvent(_message.Message):
    __slots__ = ("particles", "label")
    PARTICLES_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    particles: _containers.RepeatedScalarFieldContainer[int]
    label: str
    def __init__(self, particles: _Optional[_Iterable[int]] = ..., label: _Optional[str] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ("publish_time", "joined", "transition", "selection")
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    JOINED_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    SELECTION_FIELD_NUMBER: _ClassVar[int]
    publish_time: float
    joined: JoinedEvent
    transition: TransitionEvent
    selection: SelectionEvent
    def __init__(self, publish_time: _Optional[float] = ..., joined: _Optional[_Union[JoinedEvent, _Mapping]] = ..., transition: _Optional[_Union[TransitionEvent, _Mapping]] = ..., selection: _Optional[_Union[SelectionEvent, _Mapping]] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SessionInfo(_message.Message):
    __slots__ = ("name", "clients")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    clients: int
    def __init__(self, name: _Optional[str] = ..., clients: _Optional[int] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ("sessions",)
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[SessionInfo]
    def __init__(self, sessions: _Optional[_Iterable[_Union[SessionInfo, _Mapping]]] = ...) -> None: ...

class GetContextRequest(_message.Message):
    __slots__ = ("timeline", "transition", "after")
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    timeline: str
    transition: int
    after: bool
    def __init__(self, timeline: _Optional[str] = ..., transition: _Optional[int] = ..., after: _Optional[bool] = ...) -> None: ...
