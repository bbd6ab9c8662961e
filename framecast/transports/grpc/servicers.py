"""Thin gRPC servicers: streams from the cores, unary calls through :mod:`~framecast.transports.
calls`, and a :class:`~framecast.transports.base.CallError` written as a gRPC status.

No logic lives here beyond translation; the cores know nothing of gRPC and are tested
without sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from typing import Any, NoReturn

import grpc

import framecast.wire.methods as wire
from framecast._proto import frame_pb2, sessions_pb2, state_pb2
from framecast._support.mailbox import paced
from framecast._support.pacing import check_interval
from framecast.core.cores import Cores
from framecast.core.limits import LimitExceededError
from framecast.core.publisher import FramePublisher
from framecast.core.registry import SessionRegistry
from framecast.core.state import STATE_PART_BYTES, SharedState, entry_size
from framecast.transports.base import CallError, Status
from framecast.transports.calls import UnaryCalls, parse_request
from framecast.transports.grpc.peers import principal_of
from framecast.transports.grpc.quota import ClientQuota
from framecast.wire.events import encode_joined

__all__ = ["grpc_status", "handlers"]

Context = grpc.ServicerContext


#: gRPC's status of each of ours (they share their numbers).
_GRPC_STATUS = {
    status: code for code in grpc.StatusCode for status in Status if status == code.value[0]
}


def grpc_status(status: Status) -> grpc.StatusCode:
    """gRPC's status code numbered as ``status``."""
    return _GRPC_STATUS[status]


def _abort(context: Context, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("context.abort returned")  # pragma: no cover - abort always raises


def _parse(method: wire.Method, data: bytes, context: Context) -> Any:
    """Requests arrive as bytes and are parsed here, so that a malformed one gets
    INVALID_ARGUMENT with a message (a failing deserializer gives only INTERNAL)."""
    try:
        return parse_request(method, data)
    except CallError as error:
        _abort(context, grpc_status(error.code), error.message)


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


class _StateServicer:
    def __init__(self, state: SharedState) -> None:
        self._state = state

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


class _SessionsServicer:
    def __init__(self, sessions: SessionRegistry) -> None:
        self._sessions = sessions

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


def _serializer(message: object) -> bytes:
    return message.SerializeToString()  # type: ignore[attr-defined, no-any-return]


def _unary(
    method: wire.Method, implementation: Callable[[Any, Context], Any]
) -> grpc.RpcMethodHandler[Any, Any]:
    """A unary handler that parses its request itself (see :func:`_parse`); a raw method
    returns bytes already serialized."""

    def handle(data: bytes, context: Context) -> Any:
        return implementation(_parse(method, data, context), context)

    serializer = None if method.raw_response else _serializer
    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=serializer
    )


def _streaming(
    method: wire.Method, implementation: Callable[[Any, Context], Iterator[Any]], quota: ClientQuota
) -> grpc.RpcMethodHandler[Any, Any]:
    """A server-streaming handler that parses its request itself and counts the stream
    against its client's quota (a client is a connection: the peer address)."""

    def handle(data: bytes, context: Context) -> Iterator[Any]:
        request = _parse(method, data, context)
        try:
            peer = context.peer()
            with quota.stream(peer, principal_of(peer)):
                yield from implementation(request, context)
        except LimitExceededError as error:  # the quota's: methods map their own
            _exhausted(context, error)

    serializer = None if method.raw_response else _serializer
    return grpc.unary_stream_rpc_method_handler(
        handle, request_deserializer=None, response_serializer=serializer
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
    method_handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
    for method, implementation in implementations.items():
        if method.streaming:
            assert quota is not None, f"{method.path} streams: give the clients' quota"
            method_handlers[method.name] = _streaming(method, implementation, quota)
        else:
            method_handlers[method.name] = _unary(method, implementation)
    return grpc.method_handlers_generic_handler(f"{wire.PACKAGE}.{service}", method_handlers)


def _unary_call(calls: UnaryCalls, method: wire.Method) -> Callable[[Any, Context], Any]:
    """The gRPC implementation of a unary method: the transport-free call, its
    :class:`CallError` written as the call's status."""
    implementation = calls.table[method]

    def call(request: Any, context: Context) -> Any:
        try:
            return implementation(request)
        except CallError as error:
            _abort(context, grpc_status(error.code), error.message)

    return call


def handlers(
    cores: Cores, quotas: Mapping[str, ClientQuota]
) -> list[grpc.GenericRpcHandler[Any, Any]]:
    """The four services over ``cores``; each kind of stream counts against its own quota
    (``quotas`` by service: "Trajectory", "State", "Sessions"). Frame streams and events
    are sent as the bytes the cores encoded once (identity serializer)."""
    calls = UnaryCalls(cores)
    implementations: dict[wire.Method, Callable[[Any, Context], Any]] = {
        method: _unary_call(calls, method) for method in calls.table
    }
    trajectory = _TrajectoryServicer(cores.frames)
    state = _StateServicer(cores.shared_state)
    sessions = _SessionsServicer(cores.sessions)
    implementations[wire.SUBSCRIBE_FRAMES] = trajectory.subscribe_frames
    implementations[wire.SUBSCRIBE_STATE] = state.subscribe_state
    implementations[wire.JOIN] = sessions.join
    return [
        _service({m: implementations[m] for m in wire.methods_of(service)}, quotas.get(service))
        for service in wire.SERVICES
    ]
