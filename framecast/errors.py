"""Exceptions shared by the server core and the client."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AbsentClientError",
    "LimitExceededError",
    "CommandArgumentError",
    "CommandError",
    "CommandFailedError",
    "FramecastError",
    "StateLockedError",
    "UnknownCommandError",
]


class FramecastError(Exception):
    """Base class of framecast's own errors."""


class StateLockedError(FramecastError):
    """A shared-state change touched keys that someone else holds a lock on.

    The change was refused whole: nothing was applied.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = tuple(sorted(keys))
        super().__init__(f"refused: locked by another client: {', '.join(map(repr, self.keys))}")


class CommandError(FramecastError):
    """A command could not be run."""


class UnknownCommandError(CommandError, LookupError):
    """No command has that name."""


class CommandArgumentError(CommandError, TypeError):
    """The arguments do not match the command's signature, or are not JSON."""


class CommandFailedError(CommandError):
    """The command ran and raised; ``code`` is the gRPC status name seen by the client."""

    def __init__(self, message: str, code: str = "UNKNOWN") -> None:
        self.code = code
        super().__init__(message)


class LimitExceededError(FramecastError):
    """A request went past one of the server's limits (gRPC ``RESOURCE_EXHAUSTED``).

    The message names the limit and its setting in :class:`~framecast.Limits`.
    """


class AbsentClientError(FramecastError):
    """A lock or an owned key was asked for by a client that is not connected.

    Locks and owned keys end with the client's connection, so only a client with an open
    state stream (``framecast.Client.shared_state`` opens one) may have them. gRPC status
    ``FAILED_PRECONDITION``.
    """
