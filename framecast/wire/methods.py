"""The wire's method table: every RPC of ``framecast.v1``, its path and its message types.

The carriers, the calls and the servicers all build on this one table, so a method's path
and types are written once; nothing here depends on a transport. ``raw_response``: the
response is sent or read as raw bytes (frames and contexts are assembled by hand, see
:mod:`framecast.wire.codec`; event streams are serialized once when published).
"""

from __future__ import annotations

from typing import NamedTuple

from google.protobuf.message import Message

from framecast._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2

__all__ = ["METHODS", "PACKAGE", "SERVICES", "Method", "methods_of"]

#: The protobuf package of every service.
PACKAGE = "framecast.v1"


class Method(NamedTuple):
    """One RPC: its service, name, request type, response type (None: raw bytes on the
    server side) and whether the server streams responses."""

    service: str
    name: str
    request: type[Message]
    response: type[Message]
    streaming: bool = False
    raw_response: bool = False

    @property
    def path(self) -> str:
        """The gRPC method path, ``/framecast.v1.Service/Method``."""
        return f"/{PACKAGE}.{self.service}/{self.name}"


SUBSCRIBE_FRAMES = Method(
    "Trajectory",
    "SubscribeFrames",
    frame_pb2.SubscribeFramesRequest,
    frame_pb2.FrameUpdate,
    streaming=True,
    raw_response=True,
)
GET_FRAME = Method(
    "Trajectory", "GetFrame", frame_pb2.GetFrameRequest, frame_pb2.FrameUpdate, raw_response=True
)
SUBSCRIBE_STATE = Method(
    "State",
    "SubscribeState",
    state_pb2.SubscribeStateRequest,
    state_pb2.StateChange,
    streaming=True,
)
UPDATE_STATE = Method(
    "State", "UpdateState", state_pb2.UpdateStateRequest, state_pb2.UpdateStateResponse
)
UPDATE_LOCKS = Method(
    "State", "UpdateLocks", state_pb2.UpdateLocksRequest, state_pb2.UpdateLocksResponse
)
GET_COMMANDS = Method(
    "Command", "GetCommands", command_pb2.GetCommandsRequest, command_pb2.GetCommandsResponse
)
RUN_COMMAND = Method(
    "Command", "RunCommand", command_pb2.RunCommandRequest, command_pb2.RunCommandResponse
)
JOIN = Method(
    "Sessions",
    "Join",
    sessions_pb2.JoinRequest,
    sessions_pb2.SessionEvent,
    streaming=True,
    raw_response=True,
)
LIST_SESSIONS = Method(
    "Sessions", "ListSessions", sessions_pb2.ListSessionsRequest, sessions_pb2.ListSessionsResponse
)
GET_CONTEXT = Method(
    "Sessions",
    "GetContext",
    sessions_pb2.GetContextRequest,
    frame_pb2.FrameUpdate,
    raw_response=True,
)

#: Every method, in the order of the .proto files.
METHODS = (
    SUBSCRIBE_FRAMES,
    GET_FRAME,
    SUBSCRIBE_STATE,
    UPDATE_STATE,
    UPDATE_LOCKS,
    GET_COMMANDS,
    RUN_COMMAND,
    JOIN,
    LIST_SESSIONS,
    GET_CONTEXT,
)


#: Every service, in the order of the .proto files.
SERVICES = ("Trajectory", "State", "Command", "Sessions")


def methods_of(service: str) -> list[Method]:
    """The methods of one service."""
    return [method for method in METHODS if method.service == service]
