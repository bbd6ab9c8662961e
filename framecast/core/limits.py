"""What one client may ask of a server: every limit a setting, with a safe default.

A client over a limit gets ``RESOURCE_EXHAUSTED`` (too many streams, a message too large)
or ``INVALID_ARGUMENT`` (a value too deep or too large, a name too long) with a message
that names the limit and its setting; every other client keeps its service, and nothing of
a refused request is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from framecast._support.names import MAX_NAME_LENGTH
from framecast.errors import LimitExceededError

__all__ = ["DEFAULT_LIMITS", "LimitExceededError", "Limits", "json_depth"]


@dataclass(frozen=True)
class Limits:
    """Per-server limits. Pass ``Session(limits=Limits(...))`` to change one.

    ``max_request_bytes``
        The largest message a client may send (a state update, command arguments). gRPC
        refuses a larger one with ``RESOURCE_EXHAUSTED``. Frames go the other way and
        are not limited.
    ``max_frame_subscribers``, ``max_session_listeners``, ``max_state_subscribers``
        Streams open at once, over all clients. Each holds a server thread.
    ``max_streams_per_client``
        Streams of each kind (frames, state, sessions) that one client, one connection,
        may hold open at once; below each limit above, so that no client takes every slot.
    ``max_streams_per_host``
        The same over all the connections of one process on this machine (a loopback
        peer, told apart by the process that owns its socket) or of one host elsewhere: a
        process opening many connections still leaves slots for everyone else.
    ``max_nanover_clients``
        NanoVer connections at once: the NanoVer door's own budget, so that its clients
        never take every frame and state slot that gRPC clients need too.
    ``max_keys_per_client``
        Shared-state keys that one client (one access token) created and nobody else
        wrote: a client that leaves junk behind cannot fill the state for everyone.
    ``max_sessions``
        Named sessions the server knows. A name with no listener that Python neither
        tracks nor uses is forgotten, oldest first, before a join is refused; names the
        server's Python uses are never refused.
    ``max_json_depth``, ``max_json_bytes``, ``max_json_containers``
        Nesting, encoded size and objects plus arrays of one shared-state value or one
        command's arguments (or one NanoVer message). Size and containers are checked on the
        bytes, before anything is parsed: a refused value costs no more than its own size.
    ``max_state_keys``
        Keys in the shared state: an update that would make more is refused whole. Also
        the locks all clients may hold together.
    ``max_state_bytes``
        Bytes of every key and value of the shared state together: an update that would
        make more is refused whole.
    ``max_locks_per_client``
        Locks one client (one access token) may hold at once.
    ``max_name_length``
        Characters in a session name, a state key, a command name, a lock token.
    """

    max_request_bytes: int = 4 * 1024 * 1024
    max_frame_subscribers: int = 64
    max_session_listeners: int = 128
    max_sessions: int = 1024
    max_state_subscribers: int = 64
    max_streams_per_client: int = 32
    max_streams_per_host: int = 48
    max_nanover_clients: int = 32
    max_keys_per_client: int = 2_500
    max_json_depth: int = 32
    max_json_bytes: int = 1024 * 1024
    max_json_containers: int = 100_000
    max_state_keys: int = 10_000
    max_state_bytes: int = 64 * 1024 * 1024
    max_locks_per_client: int = 1_000
    max_name_length: int = MAX_NAME_LENGTH

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{field.name} must be an int >= 1, got {value!r}")

    @property
    def streams(self) -> int:
        """How many streams may be open at once, over every kind."""
        return self.max_frame_subscribers + self.max_session_listeners + self.max_state_subscribers

    def check_json_bytes(self, data: bytes, *, what: str) -> None:
        """Raise ``ValueError`` naming ``what`` if encoded JSON is too large, or holds more
        objects and arrays than allowed, before it is parsed (parsing a million empty
        objects costs 28 MB; counting their braces costs nothing)."""
        # Openers in a row, deeper than allowed: the nesting attack, named as such.
        run = re.compile(rb"[\[{](?:\s*[\[{]){%d}" % self.max_json_depth)
        if run.search(data, 0, 64 * 1024 * 1024) is not None:
            raise ValueError(
                f"{what} is nested too deeply: deeper than {self.max_json_depth} levels "
                "(Limits.max_json_depth)"
            )
        if len(data) > self.max_json_bytes:
            raise ValueError(
                f"{what} is {len(data)} bytes; the limit is {self.max_json_bytes} "
                "(Limits.max_json_bytes)"
            )
        # An upper bound: braces inside strings count too, which only errs towards refusing
        # a value that is almost at the limit anyway.
        containers = data.count(b"{") + data.count(b"[")
        if containers > self.max_json_containers:
            raise ValueError(
                f"{what} holds up to {containers} objects and arrays; the limit is "
                f"{self.max_json_containers} (Limits.max_json_containers)"
            )

    def check_json(self, value: object, encoded_size: int, *, what: str) -> None:
        """Raise ``ValueError`` naming ``what`` if a decoded JSON value is too deep or large."""
        if encoded_size > self.max_json_bytes:
            raise ValueError(
                f"{what} is {encoded_size} bytes; the limit is {self.max_json_bytes} "
                "(Limits.max_json_bytes)"
            )
        depth = json_depth(value, self.max_json_depth + 1)
        if depth > self.max_json_depth:
            raise ValueError(
                f"{what} is nested deeper than {self.max_json_depth} levels (Limits.max_json_depth)"
            )


def json_depth(value: object, stop: int) -> int:
    """The nesting depth of a decoded JSON value (a scalar is 0), counted up to ``stop``.

    Iterative, so that a hostile value cannot exhaust the interpreter's stack.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            depth += 1
            if depth >= stop:
                return depth
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth) for child in children)
    return deepest


DEFAULT_LIMITS = Limits()
