"""The unary calls of a session (state updates, locks, commands, named sessions, frames), free
of any transport: each parses nothing, checks everything, and raises :class:`CallError`.

The gRPC servicers, the NATS relay and the NanoVer endpoint all run these, so their checks,
limits and status codes are the same whichever door a client comes through. Each door only
writes the :class:`CallError` in its own form.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message

import framecast.wire.methods as wire
from framecast._proto import command_pb2, frame_pb2, sessions_pb2, state_pb2
from framecast._support.names import check_name
from framecast.core.cores import Cores
from framecast.errors import (
    AbsentClientError,
    CommandArgumentError,
    LimitExceededError,
    StateLockedError,
    UnknownCommandError,
)
from framecast.transports.base import CallError, Status, status_of
from framecast.wire.codec import (
    assemble_update,
    decode_json,
    decode_json_object,
    encode_entry_parts,
    encode_json,
)

__all__ = ["UnaryCalls", "parse_request"]


def parse_request(method: wire.Method, data: bytes) -> Message:
    """The request of ``method`` in ``data``; INVALID_ARGUMENT, naming the message, when it
    does not parse (a failing deserializer would give only INTERNAL)."""
    try:
        return method.request.FromString(data)
    except DecodeError as error:
        name = method.request.DESCRIPTOR.name
        raise CallError(Status.INVALID_ARGUMENT, f"malformed {name}: {error}") from None


class UnaryCalls:
    """Every unary method of the protocol, served from one :class:`Cores`."""

    def __init__(self, cores: Cores) -> None:
        self._cores = cores
        self._limits = cores.limits
        #: Each unary method and its implementation (what :meth:`run` dispatches on).
        self.table: dict[wire.Method, Callable[[Any], Any]] = {
            wire.GET_FRAME: self.get_frame,
            wire.UPDATE_STATE: self.update_state,
            wire.UPDATE_LOCKS: self.update_locks,
            wire.GET_COMMANDS: self.get_commands,
            wire.RUN_COMMAND: self.run_command,
            wire.LIST_SESSIONS: self.list_sessions,
            wire.GET_CONTEXT: self.get_context,
        }
        self._by_name = {method.name: method for method in self.table}

    def run(self, name: str, data: bytes) -> bytes:
        """Parse a request of the method called ``name``, run it, and serialize its response
        (a raw method's bytes as they are). :class:`CallError` for anything refused."""
        method = self._by_name.get(name)
        if method is None:
            raise CallError(Status.UNIMPLEMENTED, f"no unary method {name!r}")
        if len(data) > self._limits.max_request_bytes:
            raise CallError(
                Status.RESOURCE_EXHAUSTED,
                f"a request of {len(data)} bytes is larger than the "
                f"{self._limits.max_request_bytes} allowed (Limits.max_request_bytes)",
            )
        response = self.table[method](parse_request(method, data))
        if method.raw_response:
            assert isinstance(response, bytes)
            return response
        serialized: bytes = response.SerializeToString()
        return serialized

    # -- Trajectory -------------------------------------------------------------------------
    def get_frame(self, request: frame_pb2.GetFrameRequest) -> bytes:
        """The whole current frame, as one encoded update."""
        return self._cores.frames.current_message()

    # -- State --------------------------------------------------------------------------------
    def update_state(self, request: state_pb2.UpdateStateRequest) -> state_pb2.UpdateStateResponse:
        """Apply a change whole, or refuse it whole (locked keys come back in the response)."""
        state = self._cores.shared_state
        try:
            token = state.check_token(request.access_token)
            # Re-encoding canonicalises the JSON and proves every value parses, before
            # anything is applied: a malformed change is refused whole.
            encoded = {
                key: self._checked_json(key, value) for key, value in request.change.updates.items()
            }
            version = state.apply_encoded(
                token, encoded, request.change.removals, owned=request.owned
            )
        except StateLockedError as error:
            return state_pb2.UpdateStateResponse(success=False, locked_keys=error.keys)
        except (LimitExceededError, AbsentClientError, TypeError, ValueError) as error:
            raise _refused("state update refused", error) from None
        return state_pb2.UpdateStateResponse(success=True, version=version)

    def _checked_json(self, key: str, value: bytes) -> bytes:
        what = f"value of state key {key[:64]!r}"
        self._limits.check_json_bytes(value, what=what)
        decoded = decode_json(value, what=what)
        self._limits.check_json(decoded, len(value), what=what)
        return encode_json(decoded)

    def update_locks(self, request: state_pb2.UpdateLocksRequest) -> state_pb2.UpdateLocksResponse:
        """Take and release locks together, or none (held keys come back in the response)."""
        state = self._cores.shared_state
        try:
            state.update_locks(
                state.check_token(request.access_token), dict(request.acquire), request.release
            )
        except StateLockedError as error:
            return state_pb2.UpdateLocksResponse(success=False, locked_keys=error.keys)
        except (LimitExceededError, AbsentClientError, TypeError, ValueError) as error:
            raise _refused("lock request refused", error) from None
        return state_pb2.UpdateLocksResponse(success=True)

    # -- Command ------------------------------------------------------------------------------
    def get_commands(
        self, request: command_pb2.GetCommandsRequest
    ) -> command_pb2.GetCommandsResponse:
        """Every command, with its arguments and description."""
        return command_pb2.GetCommandsResponse(
            commands=[
                command_pb2.CommandInfo(
                    name=info.name,
                    arguments=encode_json(info.arguments),
                    description=info.description,
                )
                for info in self._cores.commands.list()
            ]
        )

    def run_command(self, request: command_pb2.RunCommandRequest) -> command_pb2.RunCommandResponse:
        """Run one command with its JSON arguments; its JSON result."""
        name = request.name
        try:
            check_name(name, what="command name", max_length=self._limits.max_name_length)
            what = f"arguments of {name!r}"
            self._limits.check_json_bytes(request.arguments, what=what)
            arguments = decode_json_object(request.arguments, what=what)
            self._limits.check_json(arguments, len(request.arguments), what=what)
        except (TypeError, ValueError) as error:
            raise CallError(Status.INVALID_ARGUMENT, str(error)) from None
        try:
            result = self._cores.commands.run(name, arguments)
        except (UnknownCommandError, CommandArgumentError) as error:
            raise CallError(status_of(error), str(error)) from None
        except (TypeError, ValueError, RuntimeError) as error:
            raise CallError(status_of(error), f"command {name!r}: {error}") from None
        except Exception as error:  # noqa: BLE001 - a failing command must not kill the server
            raise CallError(
                Status.UNKNOWN, f"command {name!r} failed: {type(error).__name__}: {error}"
            ) from None
        try:
            return command_pb2.RunCommandResponse(result=encode_json(result))
        except ValueError as error:
            raise CallError(Status.INTERNAL, f"command {name!r} returned {error}") from None

    # -- Sessions -----------------------------------------------------------------------------
    def list_sessions(
        self, request: sessions_pb2.ListSessionsRequest
    ) -> sessions_pb2.ListSessionsResponse:
        """Every named session with its listener count now."""
        return sessions_pb2.ListSessionsResponse(
            sessions=[
                sessions_pb2.SessionInfo(name=name, clients=count)
                for name, count in self._cores.sessions.counts().items()
            ]
        )

    def get_context(self, request: sessions_pb2.GetContextRequest) -> bytes:
        """The frame before (or after) a transition of a known timeline, encoded whole."""
        timeline = self._cores.timelines.get(request.timeline)
        if timeline is None:
            raise CallError(Status.NOT_FOUND, f"unknown timeline {request.timeline!r}")
        try:
            n = request.transition
            frame = timeline.context_after(n) if request.after else timeline.context_before(n)
        except IndexError as error:
            raise CallError(Status.OUT_OF_RANGE, str(error)) from None
        entries = [encode_entry_parts(key, value) for key, value in frame.snapshot().items()]
        return assemble_update(frame.index, True, time.time(), entries)


def _refused(what: str, error: Exception) -> CallError:
    """A refused state change: a limit's message as it is, any other prefixed by ``what``."""
    if isinstance(error, LimitExceededError):
        return CallError(Status.RESOURCE_EXHAUSTED, str(error))
    return CallError(status_of(error), f"{what}: {error}")
