"""Thin gRPC servicers: translate messages, delegate to the core, map errors to statuses.

No logic lives here beyond translation; the core classes (publisher, shared state,
commands) know nothing of gRPC and are tested without sockets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

import framecast.wire.methods as wire
from framecast._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2
from framecast._support.names import check_name
from framecast._support.pacing import check_interval
from framecast.core.commands import CommandRegistry
from framecast.core.limits import DEFAULT_LIMITS, LimitExceededError, Limits
from framecast.core.mailbox import paced
from framecast.core.publisher import FramePublisher
from framecast.core.registry import SessionRegistry, TimelineRegistry
from framecast.core.state import STATE_PART_BYTES, SharedState, entry_size
from framecast.errors import (
    AbsentClientError,
    CommandArgumentError,
    StateLockedError,
    UnknownCommandError,
)
from framecast.transports.grpc.quota import ClientQuota
from framecast.wire.codec import (
    assemble_update,
    decode_json,
    decode_json_object,
    encode_entry_parts,
    encode_json,
)
from framecast.wire.events import encode_joined

__all__ = [
    "UnaryCall",
    "command_handler",
    "run_unary",
    "sessions_handler",
    "state_handler",
    "trajectory_handler",
    "unary_calls",
]

Context = grpc.ServicerContext


def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


MessageT = TypeVar("MessageT", bound=Message)


def _parse(message_type: type[MessageT], data: bytes, context: Context) -> MessageT:
    """Requests arrive as bytes and are parsed here, so that a malformed one gets
    INVALID_ARGUMENT with a message (a failing deserializer gives only INTERNAL)."""
    try:
        return message_type.FromString(data)
    except DecodeError as error:
        _abort(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            f"malformed {message_type.DESCRIPTOR.name}: {error}",
        )


def _exhausted(context: Context, error: LimitExceededError) -> NoReturn:
    _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))


def _interval(context: Context, value: float, what: str) -> float:
    try:
        return check_interval(value, what)
    except ValueError as error:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(error))


class _TrajectoryServicer:
    def __init__(self, publisher: FramePublisher) -> None:
        self._publisher = publisher

    def subscribe_frames(
        self, request: frame_pb2.SubscribeFramesRequest, context: Context
    ) -> Iterator[bytes]:
        interval = _interval(context, request.frame_interval, "frame_interval")
        try:
            yield from self._stream_frames(interval, context)
        except LimitExceededError as error:
            _exhausted(context, error)

    def _stream_frames(self, interval: float, context: Context) -> Iterator[bytes]:
        with self._publisher.subscribe() as mailbox:
            if not context.add_callback(mailbox.close):
                return  # the client already left
            # The broadcaster's rule: an update goes as soon as it arrives unless the
            # client's interval says to wait; updates arriving meanwhile merge in the
            # mailbox (latest wins).
            for pending in paced(mailbox, interval):
                yield FramePublisher.message(pending)

    def get_frame(self, request: frame_pb2.GetFrameRequest, context: Context) -> bytes:
        return self._publisher.current_message()


class _StateServicer:
    def __init__(self, state: SharedState, limits: Limits) -> None:
        self._state = state
        self._limits = limits

    def subscribe_state(
        self, request: state_pb2.SubscribeStateRequest, context: Context
    ) -> Iterator[state_pb2.StateChange]:
        interval = _interval(context, request.update_interval, "update_interval")
        try:
            with ExitStack() as stack:
                if request.access_token:
                    # The client is present (its locks and owned keys live) while this
                    # stream is open.
                    stack.enter_context(self._state.client(request.access_token))
                yield from self._stream_state(interval, context)
        except LimitExceededError as error:
            _exhausted(context, error)
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"state stream refused: {error}")

    def _stream_state(self, interval: float, context: Context) -> Iterator[state_pb2.StateChange]:
        with self._state.subscribe() as mailbox:
            if not context.add_callback(mailbox.close):
                return
            while mailbox.wait_pending():
                part = mailbox.take_part(STATE_PART_BYTES, entry_size)
                if part is None:
                    continue
                change = state_pb2.StateChange(version=part.meta, more=part.more)
                for key, value in part.fields.items():
                    if value is None:
                        change.removals.append(key)
                    else:
                        change.updates[key] = value
                yield change
                if not part.more and interval > 0 and mailbox.wait_closed(interval):
                    return

    def update_state(
        self, request: state_pb2.UpdateStateRequest, context: Context
    ) -> state_pb2.UpdateStateResponse:
        try:
            token = self._state.check_token(request.access_token)
            # Re-encoding canonicalises the JSON and proves every value parses, before
            # anything is applied: a malformed change is refused whole.
            encoded = {
                key: self._checked_json(key, value) for key, value in request.change.updates.items()
            }
            version = self._state.apply_encoded(
                token, encoded, request.change.removals, owned=request.owned
            )
        except StateLockedError as error:
            return state_pb2.UpdateStateResponse(success=False, locked_keys=error.keys)
        except LimitExceededError as error:
            _exhausted(context, error)
        except AbsentClientError as error:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"state update refused: {error}")
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"state update refused: {error}")
        return state_pb2.UpdateStateResponse(success=True, version=version)

    def _checked_json(self, key: str, value: bytes) -> bytes:
        what = f"value of state key {key[:64]!r}"
        decoded = decode_json(value, what=what)
        self._limits.check_json(decoded, len(value), what=what)
        return encode_json(decoded)

    def update_locks(
        self, request: state_pb2.UpdateLocksRequest, context: Context
    ) -> state_pb2.UpdateLocksResponse:
        try:
            self._state.update_locks(
                self._state.check_token(request.access_token),
                dict(request.acquire),
                request.release,
            )
        except StateLockedError as error:
            return state_pb2.UpdateLocksResponse(success=False, locked_keys=error.keys)
        except LimitExceededError as error:
            _exhausted(context, error)
        except AbsentClientError as error:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, f"lock request refused: {error}")
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"lock request refused: {error}")
        return state_pb2.UpdateLocksResponse(success=True)


class _CommandServicer:
    def __init__(self, commands: CommandRegistry, limits: Limits) -> None:
        self._commands = commands
        self._limits = limits

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
            check_name(name, what="command name", max_length=self._limits.max_name_length)
            what = f"arguments of {name!r}"
            arguments = decode_json_object(request.arguments, what=what)
            self._limits.check_json(arguments, len(request.arguments), what=what)
        except (TypeError, ValueError) as error:
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
            yield from self._listen(request.name, context)
        except LimitExceededError as error:
            _exhausted(context, error)
        except (TypeError, ValueError) as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"cannot join: {error}")

    def _listen(self, name: str, context: Context) -> Iterator[bytes]:
        with self._sessions.join(name) as mailbox:
            # Closing the mailbox when the RPC ends (the client left, was killed, or the
            # server stops) ends the loop, and leaving the block uncounts the client.
            if not context.add_callback(mailbox.close):
                return
            yield encode_joined(name, self._sessions.count(name))
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


def _unary(
    method: Callable[[Any, Context], Any], request_type: type[Message], *, raw: bool = False
) -> grpc.RpcMethodHandler[Any, Any]:
    """A unary handler that parses its request itself (see :func:`_parse`). ``raw``: the
    method returns bytes already serialized."""

    def handle(data: bytes, context: Context) -> Any:
        return method(_parse(request_type, data, context), context)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=None if raw else _serializer
    )


def _streaming(
    method: Callable[[Any, Context], Iterator[Any]],
    request_type: type[Message],
    quota: ClientQuota,
    *,
    raw: bool = False,
) -> grpc.RpcMethodHandler[Any, Any]:
    """A server-streaming handler that parses its request itself and counts the stream
    against its client's quota (a client is a connection: the peer address)."""

    def handle(data: bytes, context: Context) -> Iterator[Any]:
        request = _parse(request_type, data, context)
        try:
            with quota.stream(context.peer()):
                yield from method(request, context)
        except LimitExceededError as error:  # the quota's: methods map their own
            _exhausted(context, error)

    return grpc.unary_stream_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=None if raw else _serializer
    )


def _service(
    implementations: Mapping[wire.Method, Callable[[Any, Context], Any]],
    quota: ClientQuota | None = None,
) -> grpc.GenericRpcHandler[Any, Any]:
    """The handler of one service, from the wire's method table: every method of the
    service must have its implementation (streams also need the clients' ``quota``)."""
    (service,) = {method.service for method in implementations}
    missing = set(wire.methods_of(service)) - set(implementations)
    if missing:
        raise TypeError(f"{service} lacks {sorted(method.name for method in missing)}")
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method, implementation in implementations.items():
        if method.streaming:
            assert quota is not None, f"{method.path} streams: give the clients' quota"
            handlers[method.name] = _streaming(
                implementation, method.request, quota, raw=method.raw_response
            )
        else:
            handlers[method.name] = _unary(implementation, method.request, raw=method.raw_response)
    return grpc.method_handlers_generic_handler(f"{wire.PACKAGE}.{service}", handlers)


def trajectory_handler(
    publisher: FramePublisher, quota: ClientQuota
) -> grpc.GenericRpcHandler[Any, Any]:
    """The Trajectory service. Frame streams send pre-assembled bytes (identity serializer)."""
    servicer = _TrajectoryServicer(publisher)
    return _service(
        {wire.SUBSCRIBE_FRAMES: servicer.subscribe_frames, wire.GET_FRAME: servicer.get_frame},
        quota,
    )


def state_handler(
    state: SharedState, quota: ClientQuota, limits: Limits = DEFAULT_LIMITS
) -> grpc.GenericRpcHandler[Any, Any]:
    """The State service."""
    servicer = _StateServicer(state, limits)
    return _service(
        {
            wire.SUBSCRIBE_STATE: servicer.subscribe_state,
            wire.UPDATE_STATE: servicer.update_state,
            wire.UPDATE_LOCKS: servicer.update_locks,
        },
        quota,
    )


def command_handler(
    commands: CommandRegistry, limits: Limits = DEFAULT_LIMITS
) -> grpc.GenericRpcHandler[Any, Any]:
    """The Command service."""
    servicer = _CommandServicer(commands, limits)
    return _service(
        {wire.GET_COMMANDS: servicer.get_commands, wire.RUN_COMMAND: servicer.run_command}
    )


def sessions_handler(
    sessions: SessionRegistry, timelines: TimelineRegistry, quota: ClientQuota
) -> grpc.GenericRpcHandler[Any, Any]:
    """The Sessions service. Events are serialized once, when published."""
    servicer = _SessionsServicer(sessions, timelines)
    return _service(
        {
            wire.JOIN: servicer.join,
            wire.LIST_SESSIONS: servicer.list_sessions,
            wire.GET_CONTEXT: servicer.get_context,
        },
        quota,
    )


#: A unary method and its implementation, for front doors other than gRPC's (NATS).
UnaryCall = tuple[wire.Method, Callable[[Any, Context], Any]]


def unary_calls(
    frames: FramePublisher,
    state: SharedState,
    commands: CommandRegistry,
    sessions: SessionRegistry,
    timelines: TimelineRegistry,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, UnaryCall]:
    """Every unary method by name, implemented exactly as the gRPC server does (same
    checks, limits and status codes): another front door calls them with a context whose
    ``abort`` raises."""
    trajectory = _TrajectoryServicer(frames)
    state_servicer = _StateServicer(state, limits)
    command = _CommandServicer(commands, limits)
    session = _SessionsServicer(sessions, timelines)
    implementations: dict[wire.Method, Callable[[Any, Context], Any]] = {
        wire.GET_FRAME: trajectory.get_frame,
        wire.UPDATE_STATE: state_servicer.update_state,
        wire.UPDATE_LOCKS: state_servicer.update_locks,
        wire.GET_COMMANDS: command.get_commands,
        wire.RUN_COMMAND: command.run_command,
        wire.LIST_SESSIONS: session.list_sessions,
        wire.GET_CONTEXT: session.get_context,
    }
    return {method.name: (method, call) for method, call in implementations.items()}


def run_unary(call: UnaryCall, data: bytes, context: Context) -> bytes:
    """Parse a request, run it and serialize the response; errors go to ``context.abort``."""
    method, implementation = call
    response = implementation(_parse(method.request, data, context), context)
    return response if method.raw_response else _serializer(response)
