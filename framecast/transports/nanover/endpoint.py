"""The NanoVer front door: NanoVer's WebSocket protocol over the same cores as gRPC.

NanoVer's clients (iMD in VR, its web client, its Python ``NanoverImdClient``) speak one
WebSocket carrying MessagePack maps with ``frame``, ``state`` and ``command`` keys. This
endpoint serves them the session's frames, shared state and commands, as just another
subscriber of the publisher, the state and the command registry:

* frames: the deltas gRPC clients get, encoded once per update for every NanoVer client in
  NanoVer's dtypes (see :mod:`framecast.wire.nanover`), merged latest-wins per client and
  sent at most once per ``frame_interval``; ``frame.index`` is 0 on a reset;
* state: ``updates``/``removals`` both ways. A client's change is applied whole or not at
  all (a key locked by someone else, a value that is not JSON, a bad interaction, a limit):
  a refused change is answered with the current values of its keys, so the client's view
  goes back to the server's, and NanoVer's own clients, which never apply a change before
  the server echoes it, see nothing change. Keys a client owns (``interaction.*`` keys it
  wrote, and keys naming its avatar id, as NanoVer decides) go when it disconnects;
* commands: ``request``/``response`` by id on the command registry, ``commands/list`` as
  NanoVer answers it; a client's attempt to register a command of its own is ignored (and
  logged), so running that name later is an unknown command.

Malformed input (not MessagePack, not a map, wrong types) closes that connection with
code 1007 and a reason; everyone else keeps being served. Needs ``websockets`` and
``msgpack`` (the ``nanover`` extra).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import ssl
import threading
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from framecast._proto import command_pb2
from framecast._support.extras import require
from framecast._support.mailbox import paced
from framecast.core.cores import Cores
from framecast.core.limits import LimitExceededError
from framecast.core.publisher import ChannelMeta, ChannelSubscription
from framecast.core.state import STATE_PART_BYTES, entry_size
from framecast.errors import StateLockedError
from framecast.frame import FieldValue
from framecast.transports.base import CallError
from framecast.transports.calls import UnaryCalls
from framecast.transports.ports import PortInUseError, bind_problem
from framecast.wire.codec import decode_json, encode_json
from framecast.wire.nanover import frame_entry, frame_message, msgpack, unpack_bounded

__all__ = ["NanoverCodec", "NanoverEndpoint"]

log = logging.getLogger(__name__)
#: What websockets logs of a connection (its request line and headers, at DEBUG): the
#: token is redacted from it before any handler sees it.
_protocol_log = logging.getLogger(f"{__name__}.protocol")

_SECRETS = re.compile(r"(?i)(token=|bearer\s+)[^\s&'\"]+")


class _Redact(logging.Filter):
    """Takes the token out of a record: ``?token=...`` and ``Bearer ...`` become ``<redacted>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRETS.sub(r"\1<redacted>", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_protocol_log.addFilter(_Redact())

#: The channel of :class:`~framecast.core.publisher.FramePublisher` NanoVer clients read.
CHANNEL = "nanover"
#: Close codes: the data was invalid; the server is at a limit; the server goes away.
INVALID_DATA, TRY_AGAIN_LATER, GOING_AWAY = 1007, 1013, 1001
#: Seconds a connection's handler waits for its sender threads, and close() for the server.
JOIN_SECONDS = 5.0
#: Seconds a closing handshake may take before the socket is dropped (a client that does
#: not read cannot hold a thread longer).
CLOSE_SECONDS = 2.0


def _websockets() -> ModuleType:
    return require("websockets.sync.server", "nanover", "the NanoVer endpoint")


class NanoverCodec:
    """Frames as NanoVer sends them (a :class:`~framecast.core.publisher.FrameCodec`).

    NanoVer's clients show a frame only once it has bonds (``bond.pairs``), so a reset of a
    frame that has none (the argon box) carries an empty list of them.
    """

    def __init__(self) -> None:
        self._no_bonds = frame_entry("bond.pairs", np.zeros((0, 2), dtype=np.uint32))

    def entry(self, key: str, value: FieldValue) -> bytes:
        return frame_entry(key, value)

    def message(self, meta: ChannelMeta, reset: bool, entries: Mapping[str, bytes]) -> bytes:
        parts = list(entries.values())
        if reset and "bond.pairs" not in entries:
            parts.append(self._no_bonds)
        return frame_message(0 if reset else meta.sequence, meta.publish_time, parts)


class _Refused(Exception):
    """A client's message that is malformed: its connection is closed with this reason."""


def _reason(text: str) -> str:
    """A close reason fits in 123 bytes of UTF-8."""
    data = text.encode()[:120]
    return data.decode(errors="ignore")


class NanoverEndpoint:
    """A WebSocket server speaking NanoVer's protocol, listening as soon as it is made.

    ``token`` (if not empty) must come with every connection, as ``?token=`` in the URL or
    an ``Authorization: Bearer`` header; ``tls`` makes it ``wss``. :meth:`close` ends every
    connection and joins every thread; it is idempotent.
    """

    def __init__(
        self,
        cores: Cores,
        *,
        address: str,
        port: int,
        token: str = "",
        tls: ssl.SSLContext | None = None,
        frame_interval: float = 1 / 30,
    ) -> None:
        server_module = _websockets()
        msgpack()  # fail now, naming the extra, not at the first client
        self.frames, self.state, self.commands = cores.frames, cores.shared_state, cores.commands
        #: The unary calls every door runs: a NanoVer command runs as a gRPC one does.
        self.calls = UnaryCalls(cores)
        self.limits = cores.limits
        self.frame_interval = frame_interval
        self._token = token
        self._codec = NanoverCodec()
        self._lock = threading.Lock()
        self._connections: set[_Connection] = set()
        self._closed = False
        reason = bind_problem(address, port)
        if reason is not None:
            raise PortInUseError(reason.replace("framecast server", "server"))
        self._server = server_module.serve(
            self._handle,
            address,
            port,
            ssl=tls,
            process_request=self._authorize if token else None,
            compression=None,  # NanoVer measured deflate 20x slower for 8 % less data
            max_size=self.limits.max_request_bytes,
            close_timeout=CLOSE_SECONDS,
            logger=_protocol_log,
        )
        self.address = address
        self.port: int = self._server.socket.getsockname()[1]
        self.scheme = "wss" if tls is not None else "ws"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="framecast-nanover", daemon=True
        )
        self._thread.start()

    # -- connections --------------------------------------------------------------------------
    def _authorize(self, connection: Any, request: Any) -> Any:
        """Refuse a handshake without the token (compared in constant time); 400 for a
        request with more than one ``Authorization`` header."""
        headers = request.headers.get_all("Authorization")
        if len(headers) > 1:
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "framecast: one Authorization header, not several\n"
            )
        given = headers[0] if headers else ""
        given = given[7:] if given.startswith("Bearer ") else ""
        if not given:
            given = (parse_qs(urlsplit(request.path).query).get("token") or [""])[-1]
        if given and hmac.compare_digest(given.encode(), self._token.encode()):
            return None
        text = "missing token" if not given else "wrong token"
        return connection.respond(
            HTTPStatus.UNAUTHORIZED,
            f"framecast: {text}; pass ?token=<the session's token> or an Authorization header\n",
        )

    def _handle(self, websocket: Any) -> None:
        connection = _Connection(self, websocket)
        budget = self.limits.max_nanover_clients
        with self._lock:
            if self._closed:
                websocket.close(GOING_AWAY, "the session is closing")
                return
            full = len(self._connections) >= budget
            if not full:
                self._connections.add(connection)
        if full:
            # This door's own budget: NanoVer clients never take every frame or state slot
            # that gRPC clients need too.
            reason = f"this session has {budget} NanoVer clients already"
            websocket.close(TRY_AGAIN_LATER, _reason(f"{reason} (Limits.max_nanover_clients)"))
            return
        try:
            connection.run()
        finally:
            with self._lock:
                self._connections.discard(connection)

    @property
    def connection_count(self) -> int:
        """NanoVer clients connected now."""
        with self._lock:
            return len(self._connections)

    @property
    def url(self) -> str:
        """``ws://host:port`` (or ``wss://``), without the token."""
        from framecast._support.address import host_port

        return f"{self.scheme}://{host_port(self.address, self.port)}"

    def close(self) -> None:
        """Stop listening, end every connection, and join their threads. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # Stops accepting, closes every connection (1001) and waits for their handlers,
        # which join their sender threads.
        self._server.shutdown()
        self._thread.join(JOIN_SECONDS)


class _Connection:
    """One NanoVer client: a frame sender, a state sender, and this thread reading."""

    def __init__(self, endpoint: NanoverEndpoint, websocket: Any) -> None:
        self._endpoint = endpoint
        self._ws = websocket
        self._msgpack = msgpack()
        # Its identity in the shared state: never sent, and no client can present it.
        self._token = f"nanover-{uuid.uuid4().hex}"
        self._user_id: str | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self) -> None:
        endpoint = self._endpoint
        try:
            with (
                endpoint.state.client(self._token),
                endpoint.frames.subscribe_channel(CHANNEL, endpoint._codec) as frames,
                endpoint.state.subscribe() as changes,
            ):
                self._spawn(self._send_frames, frames)
                self._spawn(self._send_state, changes)
                self._receive()
                frames.close()
                changes.close()
                for thread in self._threads:
                    thread.join(JOIN_SECONDS)
        except LimitExceededError as error:
            self._close(TRY_AGAIN_LATER, str(error))

    def _spawn(self, target: Any, box: Any) -> None:
        thread = threading.Thread(target=target, args=(box,), name="framecast-nanover-send")
        thread.daemon = True
        self._threads.append(thread)
        thread.start()

    def _close(self, code: int, reason: str) -> None:
        try:
            self._ws.close(code, _reason(reason))
        except Exception:  # already closed or broken: nothing left to tell it
            log.debug("closing a NanoVer connection failed", exc_info=True)

    def _send(self, data: bytes) -> bool:
        """Send one message; False once the connection is gone."""
        try:
            self._ws.send(data)
        except Exception:  # noqa: BLE001 - ConnectionClosed or a broken socket: it left
            return False
        return True

    # -- frames and state out -----------------------------------------------------------------
    def _send_frames(self, box: ChannelSubscription) -> None:
        codec = self._endpoint._codec
        for pending in paced(box, self._endpoint.frame_interval):
            message = pending.packed
            if message is None:
                message = codec.message(pending.meta, pending.reset, pending.fields)
            if not self._send(message):
                return

    def _send_state(self, box: Any) -> None:
        interval = self._endpoint.frame_interval
        while box.wait_pending():
            part = box.take_part(STATE_PART_BYTES, entry_size)
            if part is None:
                continue
            updates = {k: json.loads(v) for k, v in part.fields.items() if v is not None}
            removals = [k for k, v in part.fields.items() if v is None]
            if not self._send(self._pack({"state": {"updates": updates, "removals": removals}})):
                return
            if not part.more and box.wait_closed(interval):
                return

    def _pack(self, message: object) -> bytes:
        return bytes(self._msgpack.packb(message))

    # -- messages in --------------------------------------------------------------------------
    def _receive(self) -> None:
        try:
            for data in self._ws:
                if isinstance(data, str):
                    raise _Refused("NanoVer messages are binary MessagePack, got text")
                try:
                    message = unpack_bounded(
                        self._msgpack,
                        data,
                        self._endpoint.limits.max_json_containers,
                        what="a NanoVer message",
                    )
                except Exception as error:  # noqa: BLE001 - msgpack raises several kinds
                    raise _Refused(f"not MessagePack: {error or type(error).__name__}") from None
                if not isinstance(message, dict):
                    raise _Refused(f"a message is a map, got {type(message).__name__}")
                self._handle(message)
        except _Refused as refusal:
            log.info("closing a NanoVer connection: %s", refusal)
            self._close(INVALID_DATA, str(refusal))
        except Exception:  # ConnectionClosed and socket errors: the client left
            log.debug("a NanoVer connection ended", exc_info=True)

    def _handle(self, message: Mapping[str, Any]) -> None:
        if "state" in message:
            self._state_change(message["state"])
        if "command" in message:
            command = message["command"]
            for part in command if isinstance(command, list) else [command]:
                self._command(part)
        if "frame" in message:
            # Frames come from the session's target only; NanoVer lets clients publish.
            log.info("a NanoVer client sent a frame; frames come from the session only")

    def _state_change(self, change: object) -> None:
        if not isinstance(change, dict):
            raise _Refused("state must be a map of updates and removals")
        updates = change.get("updates") or {}
        removals = change.get("removals") or []
        if not isinstance(updates, dict) or not all(isinstance(k, str) for k in updates):
            raise _Refused("state updates must be a map of string keys")
        if not isinstance(removals, list) or not all(isinstance(k, str) for k in removals):
            raise _Refused("state removals must be a list of keys")
        keys = [*updates, *removals]
        if self._user_id is None:
            self._user_id = _avatar_id(updates)
        try:
            encoded = {key: self._json(key, value) for key, value in updates.items()}
            self._endpoint.state.apply_encoded(
                self._token, encoded, removals, owned=self._owned(updates)
            )
        except (StateLockedError, LimitExceededError, TypeError, ValueError) as error:
            log.info("refused a NanoVer client's state change: %s", error)
            self._correct(keys)

    def _json(self, key: str, value: object) -> bytes:
        encoded = encode_json(value)
        self._endpoint.limits.check_json(value, len(encoded), what=f"value of {key[:64]!r}")
        return encoded

    def _owned(self, updates: Mapping[str, object]) -> frozenset[str]:
        """The keys of a change that go when this client leaves: its interactions, and
        keys naming its user id (NanoVer's rule)."""
        user = self._user_id
        return frozenset(
            key
            for key in updates
            if key.startswith("interaction.") or (user is not None and f".{user}" in key)
        )

    def _correct(self, keys: Iterable[str]) -> None:
        """Answer a refused change with the current values of its keys."""
        state = self._endpoint.state
        updates: dict[str, object] = {}
        removals: list[str] = []
        for key in dict.fromkeys(keys):
            try:
                updates[key] = state[key]
            except KeyError:
                removals.append(key)
        self._send(self._pack({"state": {"updates": updates, "removals": removals}}))

    def _command(self, part: object) -> None:
        if not isinstance(part, dict):
            raise _Refused("a command message is a map")
        if "register" in part:
            log.warning(
                "a NanoVer client tried to register command %r: clients cannot add commands",
                str(part["register"])[:80],
            )
            return
        if "response" in part or "exception" in part:
            return  # answers to requests; this server sends none
        request = part.get("request")
        if not isinstance(request, dict) or "id" not in request:
            raise _Refused("a command request is a map with an id")
        try:
            result = self._run(request.get("name"), request.get("arguments") or {})
            reply = self._pack({"command": {"request": request, "response": result}})
        except CallError as error:  # refused or failed, as every door says it
            reply = self._pack({"command": {"request": request, "exception": error.message}})
        except Exception as error:  # noqa: BLE001 - a command's failure goes to its caller
            reply = self._pack({"command": {"request": request, "exception": str(error)}})
        self._send(reply)

    def _run(self, name: object, arguments: object) -> object:
        if not isinstance(name, str):
            raise TypeError(f"a command name is a string, got {type(name).__name__}")
        if not isinstance(arguments, dict):
            raise TypeError("command arguments are a map")
        if name == "commands/list":
            self._json("arguments", arguments)
            commands = self._endpoint.commands
            listed = commands.list()
            return {
                "list": {info.name: info.arguments for info in listed},
                "commands": [
                    {"name": info.name, "label": info.description, "arguments": info.arguments}
                    for info in listed
                ],
            }
        request = command_pb2.RunCommandRequest(name=name, arguments=encode_json(arguments))
        response = self._endpoint.calls.run_command(request)
        return decode_json(response.result, what=f"result of {name!r}")


def _avatar_id(updates: Mapping[str, object]) -> str | None:
    """The user id of a client, from its first ``avatar.<id>`` key (NanoVer's rule)."""
    for key in updates:
        if key.startswith("avatar.") and len(key) > len("avatar."):
            return key[len("avatar.") :]
    return None
