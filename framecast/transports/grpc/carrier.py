"""``GrpcCarrier``: a session reached over framecast's own gRPC protocol.

A carrier has its own connection (the server counts per-client quotas per connection), no
message size limit on what it receives (a frame of a million particles is 12 MB), and the
token on the metadata of every call. It returns only once the server answers, so an
unreachable server or a refused token fails at once, not mid-stream. Failed calls and
streams raise :class:`~framecast.transports.base.CallError`, as every carrier's do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import grpc
from google.protobuf.message import Message

import framecast.wire.methods as wire
from framecast._proto import frame_pb2, sessions_pb2, state_pb2
from framecast.frame import FrameUpdate
from framecast.transports.base import CALL_TIMEOUT, CallError, Status
from framecast.transports.security import PEM, TOKEN_METADATA_KEY, bearer, read_pem
from framecast.wire.codec import parse_update

__all__ = ["GrpcCarrier"]

_CHANNEL_OPTIONS = [
    # Frames of a million particles are 12 MB; the default 4 MB limit would refuse them.
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Its own connection: the server counts per-client quotas per connection, and gRPC
    # would otherwise share one between every client of a process.
    ("grpc.use_local_subchannel_pool", 1),
]

T = TypeVar("T")

# grpc's classes are generic in its type stubs only.
if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor


class _TokenAdder(_UnaryUnary, _UnaryStream):
    """Adds the token to the metadata of every call of a channel."""

    def __init__(self, token: str) -> None:
        self._metadata = (TOKEN_METADATA_KEY, bearer(token))

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._metadata]
        return details._replace(metadata=metadata)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


def call_error(error: grpc.RpcError) -> CallError:
    """The :class:`CallError` of a failed gRPC call: its status and the server's message."""
    code = getattr(error, "code", None)
    status = code() if callable(code) else None
    details = getattr(error, "details", None)
    message = details() if callable(details) else None
    number = status.value[0] if isinstance(status, grpc.StatusCode) else Status.UNKNOWN
    return CallError(Status.of(number), message or str(error))


class _Stream(Generic[T]):
    """A gRPC stream as a carrier's stream: messages parsed by ``parse``, a cancelled
    stream's end as the end of iteration, any other end as :class:`CallError`."""

    def __init__(self, call: Any, parse: Callable[[Any], T]) -> None:
        self._call, self._parse = call, parse

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        try:
            message = next(self._call)
        except grpc.RpcError as error:
            failure = call_error(error)
            if failure.code is Status.CANCELLED:
                raise StopIteration from None
            raise failure from None
        return self._parse(message)

    def cancel(self) -> None:
        self._call.cancel()


def _open_channel(target: str, token: str, tls: bool | PEM | None) -> grpc.Channel:
    """A channel to ``target``: plain, or TLS trusting the system's CAs (``True``) or the
    given PEM certificate, with ``token`` on every call when there is one."""
    if tls is None or tls is False:
        channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
    else:
        roots = None if tls is True else read_pem(tls, what="TLS certificate to trust")
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        channel = grpc.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
    if not token:
        return channel
    return grpc.intercept_channel(channel, _TokenAdder(token))


def _callable(channel: grpc.Channel, method: wire.Method) -> Any:
    """The channel's callable of ``method``: requests serialized from their message,
    responses parsed, or left as bytes for a raw method (frames, parsed without copies)."""
    serializer = method.request.SerializeToString
    raw = method.raw_response and method is not wire.JOIN
    deserializer = None if raw else method.response.FromString
    if method.streaming:
        return channel.unary_stream(
            method.path, request_serializer=serializer, response_deserializer=deserializer
        )
    return channel.unary_unary(
        method.path, request_serializer=serializer, response_deserializer=deserializer
    )


class GrpcCarrier:
    """Calls and streams of the framecast server at ``target`` (``host:port``).

    Raises ``ConnectionError`` when no server answers within ``timeout`` (whether it takes
    ``token`` is for the first call to say: see :func:`framecast.transports.connect.connect`).
    """

    def __init__(self, target: str, token: str, tls: bool | PEM | None, timeout: float) -> None:
        self.address = target
        channel = _open_channel(target, token, tls)
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            channel.close()
            hint = " (over TLS: does the server speak TLS, and is its certificate trusted?)"
            raise ConnectionError(
                f"no framecast server answered at {target} within {timeout:g} s"
                + (hint if tls else "")
            ) from None
        self._channel = channel
        self._calls = {method: _callable(channel, method) for method in wire.METHODS}

    def unary(self, method: wire.Method, request: Message, timeout: float = CALL_TIMEOUT) -> Any:
        """One unary call: its parsed response (bytes for a raw method)."""
        try:
            return self._calls[method](request, timeout=timeout)
        except grpc.RpcError as error:
            raise call_error(error) from None

    def frames(self, interval: float) -> _Stream[FrameUpdate]:
        """The frame stream, parsed as it arrives (arrays are views into the bytes)."""
        call = self._calls[wire.SUBSCRIBE_FRAMES](
            frame_pb2.SubscribeFramesRequest(frame_interval=interval)
        )
        return _Stream(call, lambda data: parse_update(data, receive_time=time.time()))

    def state(self, access_token: str, interval: float) -> _Stream[state_pb2.StateChange]:
        """Shared-state changes; this client is present while the stream is open."""
        request = state_pb2.SubscribeStateRequest(
            access_token=access_token, update_interval=interval
        )
        return _Stream(self._calls[wire.SUBSCRIBE_STATE](request), _same)

    def join(self, name: str) -> _Stream[sessions_pb2.SessionEvent]:
        """The events of the named session ``name``."""
        return _Stream(self._calls[wire.JOIN](sessions_pb2.JoinRequest(name=name)), _same)

    def close(self) -> None:
        self._channel.close()


def _same(message: T) -> T:
    return message
