"""What every door and every carrier shares, with no transport library: status codes, the one
error a call fails with, the one table between statuses and exceptions, and the shape of a
carrier (what the client reads a session through).

A unary call's implementation (:mod:`framecast.transports.calls`) raises :class:`CallError`;
each door writes it in its own form (a gRPC status, a NATS reply, a NanoVer answer). On the
client side every carrier raises :class:`CallError` too, and the client turns it into the
exception a user catches through :func:`exception_for`, whichever carrier it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message

from framecast._proto import sessions_pb2, state_pb2
from framecast.errors import (
    AbsentClientError,
    CommandArgumentError,
    LimitExceededError,
    UnknownCommandError,
)
from framecast.frame import FrameUpdate
from framecast.wire.methods import Method

__all__ = [
    "CALL_TIMEOUT",
    "STATUS_TABLE",
    "CallError",
    "Carrier",
    "Status",
    "Stream",
    "exception_for",
    "status_of",
]

#: Seconds a unary call (state update, command) may take before it fails.
CALL_TIMEOUT = 10.0


class Status(IntEnum):
    """The status of a call, numbered as gRPC numbers them (so every door can carry it)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def of(cls, number: int) -> Status:
        """The status numbered ``number``; UNKNOWN for a number no status has."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNKNOWN


class CallError(Exception):
    """A call that failed with ``code`` and the server's ``message`` (a sentence)."""

    def __init__(self, code: Status, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


#: The one table between exceptions and statuses, the most specific exception first. A door
#: answers an exception with the status of its first row that it is an instance of; the
#: client raises, for a status, the first of the exceptions a call names (see
#: :func:`exception_for`) whose row carries that status.
STATUS_TABLE: tuple[tuple[type[Exception], Status], ...] = (
    (UnknownCommandError, Status.NOT_FOUND),
    (CommandArgumentError, Status.INVALID_ARGUMENT),
    (LimitExceededError, Status.RESOURCE_EXHAUSTED),
    (AbsentClientError, Status.FAILED_PRECONDITION),
    (PermissionError, Status.PERMISSION_DENIED),
    (IndexError, Status.OUT_OF_RANGE),
    (LookupError, Status.NOT_FOUND),
    (TypeError, Status.INVALID_ARGUMENT),
    (ValueError, Status.INVALID_ARGUMENT),
    (TimeoutError, Status.DEADLINE_EXCEEDED),
    (ConnectionError, Status.UNAVAILABLE),
    (RuntimeError, Status.FAILED_PRECONDITION),
)


def status_of(error: BaseException) -> Status:
    """The status a door answers ``error`` with (UNKNOWN for one the table lacks)."""
    for kind, status in STATUS_TABLE:
        if isinstance(error, kind):
            return status
    return Status.UNKNOWN


def exception_for(error: CallError, *kinds: type[Exception]) -> Exception | None:
    """The first of ``kinds`` whose status (in :data:`STATUS_TABLE`) is ``error``'s, made
    with the server's message; None when none of them has it (the caller decides)."""
    statuses = dict(STATUS_TABLE)
    for kind in kinds:
        if statuses.get(kind) == error.code:
            return kind(error.message)
    return None


T_co = TypeVar("T_co", covariant=True)


class Stream(Protocol[T_co]):
    """What a carrier streams: an iterator that ends when cancelled (from any thread) and
    raises :class:`CallError` when the server ends it with an error."""

    def __iter__(self) -> Iterator[T_co]: ...

    def __next__(self) -> T_co: ...

    def cancel(self) -> None: ...


class Carrier(Protocol):
    """A session reached by one transport (gRPC, NATS). Every carrier yields the same typed
    updates and fails with :class:`CallError`, so the client never asks which it has."""

    #: Where the session is, as the user would write it (no credentials).
    address: str

    def unary(self, method: Method, request: Message, timeout: float = CALL_TIMEOUT) -> Any:
        """Run one unary ``method``: its parsed response, or its bytes for a method whose
        response is raw (frames and contexts, parsed without copies by the caller)."""
        ...

    def frames(self, interval: float) -> Stream[FrameUpdate]:
        """The frame stream, at most one update every ``interval`` s, starting whole."""
        ...

    def state(self, access_token: str, interval: float) -> Stream[state_pb2.StateChange]:
        """Shared-state changes, the first ones a whole snapshot; with ``access_token`` the
        client is present (its locks and owned keys live) while the stream is open."""
        ...

    def join(self, name: str) -> Stream[sessions_pb2.SessionEvent]:
        """The events of the named session ``name``, after a first "joined" one."""
        ...

    def close(self) -> None:
        """End every stream and the connection. Idempotent."""
        ...
