"""Thin gRPC servicers: translate messages, delegate to the core, map errors to statuses.

No logic lives here beyond translation; the core classes (publisher, shared state,
commands) know nothing of gRPC and are tested without sockets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc

from .._codec import (
    assemble_update,
    decode_json,
    decode_json_object,
    encode_entry_parts,
    encode_json,
)
from .._names import check_name
from .._pacing import Pacer
from .._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2
from ..errors import CommandArgumentError, StateLockedError, UnknownCommandError
from .commands import CommandRegistry
from .publisher import FramePublisher
from .sessions import SessionRegistry, TimelineRegistry
from .state import SharedState

__all__ = ["command_handler", "sessions_handler", "state_handler", "trajectory_handler"]

Context = grpc.ServicerContext


def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _interval(context: Context, value: float, what: str) -> float:
    if not (math.isfinite(value) and value >= 0):
        _abort(
            context, grpc.StatusCode.INVALID_ARGUMENT, f"{what} must be >= 0 seconds, got {value}"
        )
    return value


class _TrajectoryServicer:
    def __init__(self, publisher: FramePublisher) -> None:
        self._publisher = publisher

    def subscribe_frames(
        self, request: frame_pb2.SubscribeFramesRequest, context: Context
    ) -> Iterator[bytes]:
        interval = _interval(context, request.frame_interval, "frame_interval")
        with self._publisher.subscribe() as mailbox:
            if not context.add_callback(mailbox.close):
                return  # the client already left
            pacer = Pacer(interval)
            while (pending := mailbox.take()) is not None:
                pacer.spend(time.monotonic())
                yield FramePublisher.message(pending)
                # The broadcaster's rule: an update is sent as soon as it arrives if
                # `interval` has passed since the last send, else by last send + interval.
                # Updates arriving meanwhile merge in the mailbox (latest wins).
                wait = pacer.delay(time.monotonic())
                if wait > 0 and mailbox.wait_closed(wait):
                    return

    def get_frame(self, request: frame_pb2.GetFrameRequest, context: Context) -> bytes:
        return self._publisher.current_message()


class _StateServicer:
    def __init__(self, state: SharedState) -> None:
        self._state = state

    def subscribe_state(
        self, request: state_pb2.SubscribeStateRequest, context: Context
    ) -> Iterator[state_pb2.StateChange]:
        interval = _interval(context, request.update_interval, "update_interval")
        with self._state.subscribe() as mailbox:
            if not context.add_callback(mailbox.close):
                return
            while (pending := mailbox.take()) is not None:
                change = state_pb2.StateChange()
                for key, value in pending.fields.items():
                    if value is None:
                        change.removals.append(key)
                    else:
                        change.updates[key] = value
                yield change
                if interval > 0 and mailbox.wait_closed(interval):
                    return

    def update_state(
        self, request: state_pb2.UpdateStateRequest, context: Context
    ) -> state_pb2.UpdateStateResponse:
        try:
            # Re-encoding canonicalises the JSON and proves every value parses, before
            # anything is applied: a malformed change is refused whole.
            encoded = {
                key: encode_json(decode_json(value, what=f"value of state key {key!r}"))
                for key, value in request.change.updates.items()
            }
            self._state.apply_encoded(
                _checked_token(request.access_token), encoded, request.change.removals
            )
        except StateLockedError as error:
            return state_pb2.UpdateStateResponse(success=False, locked_keys=error.keys)
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"state update refused: {error}")
        return state_pb2.UpdateStateResponse(success=True)

    def update_locks(
        self, request: state_pb2.UpdateLocksRequest, context: Context
    ) -> state_pb2.UpdateLocksResponse:
        try:
            self._state.update_locks(
                _checked_token(request.access_token), dict(request.acquire), request.release
            )
        except StateLockedError as error:
            return state_pb2.UpdateLocksResponse(success=False, locked_keys=error.keys)
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"lock request refused: {error}")
        return state_pb2.UpdateLocksResponse(success=True)


def _checked_token(token: str) -> str:
    if not token:
        raise ValueError("access_token must not be empty")
    return token


class _CommandServicer:
    def __init__(self, commands: CommandRegistry) -> None:
        self._commands = commands

    def get_commands(
        self, request: command_pb2.GetCommandsRequest, context: Context
    ) -> command_pb2.GetCommandsResponse:
        return command_pb2.GetCommandsResponse(
            commands=[
                command_pb2.CommandInfo(
                    name=info.name,
                    arguments=encode_json(info.arguments),
                    description=info.description,
                )
                for info in self._commands.list()
            ]
        )

    def run_command(
        self, request: command_pb2.RunCommandRequest, context: Context
    ) -> command_pb2.RunCommandResponse:
        name = request.name
        try:
            arguments = decode_json_object(request.arguments, what=f"arguments of {name!r}")
        except ValueError as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            result = self._commands.run(name, arguments)
        except UnknownCommandError as error:
            _abort(context, grpc.StatusCode.NOT_FOUND, str(error))
        except CommandArgumentError as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"command {name!r}: {error}")
        except RuntimeError as error:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"command {name!r}: {error}")
        except Exception as error:  # noqa: BLE001 - a failing command must not kill the server
            _abort(
                context,
                grpc.StatusCode.UNKNOWN,
                f"command {name!r} failed: {type(error).__name__}: {error}",
            )
        try:
            return command_pb2.RunCommandResponse(result=encode_json(result))
        except ValueError as error:
            _abort(context, grpc.StatusCode.INTERNAL, f"command {name!r} returned {error}")


class _SessionsServicer:
    def __init__(self, sessions: SessionRegistry, timelines: TimelineRegistry) -> None:
        self._sessions = sessions
        self._timelines = timelines

    def join(self, request: sessions_pb2.JoinRequest, context: Context) -> Iterator[bytes]:
        try:
            name = check_name(request.name, what="session name")
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"cannot join: {error}")
        with self._sessions.join(name) as mailbox:
            # Closing the mailbox when the RPC ends (the client left, was killed, or the
            # server stops) ends the loop, and leaving the block uncounts the client.
            if not context.add_callback(mailbox.close):
                return
            joined = sessions_pb2.SessionEvent(
                publish_time=time.time(),
                joined=sessions_pb2.JoinedEvent(name=name, clients=self._sessions.count(name)),
            )
            yield joined.SerializeToString()
            while (pending := mailbox.take()) is not None:
                yield from pending.fields.values()

    def list_sessions(
        self, request: sessions_pb2.ListSessionsRequest, context: Context
    ) -> sessions_pb2.ListSessionsResponse:
        return sessions_pb2.ListSessionsResponse(
            sessions=[
                sessions_pb2.SessionInfo(name=name, clients=count)
                for name, count in self._sessions.counts().items()
            ]
        )

    def get_context(self, request: sessions_pb2.GetContextRequest, context: Context) -> bytes:
        timeline = self._timelines.get(request.timeline)
        if timeline is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"unknown timeline {request.timeline!r}")
        try:
            n = request.transition
            frame = timeline.context_after(n) if request.after else timeline.context_before(n)
        except IndexError as error:
            _abort(context, grpc.StatusCode.OUT_OF_RANGE, str(error))
        entries = [encode_entry_parts(key, value) for key, value in frame.snapshot().items()]
        return assemble_update(frame.index, True, time.time(), entries)


def _serializer(message: object) -> bytes:
    return message.SerializeToString()  # type: ignore[attr-defined, no-any-return]


def trajectory_handler(publisher: FramePublisher) -> grpc.GenericRpcHandler[Any, Any]:
    """The Trajectory service. Frame streams send pre-assembled bytes (identity serializer)."""
    servicer = _TrajectoryServicer(publisher)
    return grpc.method_handlers_generic_handler(
        "framecast.v1.Trajectory",
        {
            "SubscribeFrames": grpc.unary_stream_rpc_method_handler(
                servicer.subscribe_frames,
                request_deserializer=frame_pb2.SubscribeFramesRequest.FromString,
                response_serializer=None,
            ),
            "GetFrame": grpc.unary_unary_rpc_method_handler(
                servicer.get_frame,
                request_deserializer=frame_pb2.GetFrameRequest.FromString,
                response_serializer=None,
            ),
        },
    )


def state_handler(state: SharedState) -> grpc.GenericRpcHandler[Any, Any]:
    """The State service."""
    servicer = _StateServicer(state)
    return grpc.method_handlers_generic_handler(
        "framecast.v1.State",
        {
            "SubscribeState": grpc.unary_stream_rpc_method_handler(
                servicer.subscribe_state,
                request_deserializer=state_pb2.SubscribeStateRequest.FromString,
                response_serializer=_serializer,
            ),
            "UpdateState": grpc.unary_unary_rpc_method_handler(
                servicer.update_state,
                request_deserializer=state_pb2.UpdateStateRequest.FromString,
                response_serializer=_serializer,
            ),
            "UpdateLocks": grpc.unary_unary_rpc_method_handler(
                servicer.update_locks,
                request_deserializer=state_pb2.UpdateLocksRequest.FromString,
                response_serializer=_serializer,
            ),
        },
    )


def command_handler(commands: CommandRegistry) -> grpc.GenericRpcHandler[Any, Any]:
    """The Command service."""
    servicer = _CommandServicer(commands)
    return grpc.method_handlers_generic_handler(
        "framecast.v1.Command",
        {
            "GetCommands": grpc.unary_unary_rpc_method_handler(
                servicer.get_commands,
                request_deserializer=command_pb2.GetCommandsRequest.FromString,
                response_serializer=_serializer,
            ),
            "RunCommand": grpc.unary_unary_rpc_method_handler(
                servicer.run_command,
                request_deserializer=command_pb2.RunCommandRequest.FromString,
                response_serializer=_serializer,
            ),
        },
    )


def sessions_handler(
    sessions: SessionRegistry, timelines: TimelineRegistry
) -> grpc.GenericRpcHandler[Any, Any]:
    """The Sessions service. Events are serialized once, when published."""
    servicer = _SessionsServicer(sessions, timelines)
    return grpc.method_handlers_generic_handler(
        "framecast.v1.Sessions",
        {
            "Join": grpc.unary_stream_rpc_method_handler(
                servicer.join,
                request_deserializer=sessions_pb2.JoinRequest.FromString,
                response_serializer=None,
            ),
            "ListSessions": grpc.unary_unary_rpc_method_handler(
                servicer.list_sessions,
                request_deserializer=sessions_pb2.ListSessionsRequest.FromString,
                response_serializer=_serializer,
            ),
            "GetContext": grpc.unary_unary_rpc_method_handler(
                servicer.get_context,
                request_deserializer=sessions_pb2.GetContextRequest.FromString,
                response_serializer=None,
            ),
        },
    )
