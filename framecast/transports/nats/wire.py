"""What a session and its clients say to each other through NATS: subjects, packets,
replies and ``nats://`` addresses. Pure data, no connection (see
:mod:`framecast.transports.nats.link`).

Subjects all start ``framecast.<session>.``, so that a NATS account can allow a session's
subjects and nothing else (see the README's NATS section):

================================  ============  ==========================================
subject                           published by  carries
================================  ============  ==========================================
``frames``                        the origin    each broadcast update once, in packets
``frames.current``                viewers       a request for the whole current frame
``state``                         the origin    each shared-state change, in packets
``state.current``                 viewers       a request for a whole state snapshot
``events.<name>``                 the origin    named session ``<name>``'s events
``rpc.<Method>``                  viewers       unary calls (state writes, commands, ...)
``lease``                         viewers       who is present and listening where
================================  ============  ==========================================

A *packet* is one NATS message: a fixed header (the stream's epoch, the message's sequence
number, which part of how many) and a chunk of the message's body. A message larger than
the server's payload limit travels as several packets, reassembled in order by
:class:`Reassembler`; a missing part or a jump in sequence numbers is a *gap*, after which a
reader re-syncs from a whole snapshot. The epoch is random per origin link, so a restarted
origin is never taken for the same stream.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator
from typing import NamedTuple, Required, TypedDict
from urllib.parse import parse_qs, unquote, urlsplit

from framecast._support.names import check_name

__all__ = [
    "INBOX",
    "LEASE_TTL",
    "is_inbox",
    "Lease",
    "decode_lease",
    "encode_lease",
    "MAX_MESSAGE_BYTES",
    "MAX_PARTS",
    "NatsAddress",
    "Packet",
    "Reassembler",
    "Subjects",
    "check_subject_name",
    "is_nats_url",
    "decode_reply",
    "encode_reply",
    "packets",
    "parse_nats_url",
    "read_packet",
    "records",
    "join_records",
]

#: The prefix of every framecast subject.
ROOT = "framecast"
#: A reassembled message larger than this is refused (256 MB: 20M particles, compact).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Parts a message may have (a part is at least 1 KB: see :func:`packets`).
MAX_PARTS = 1 << 18
#: NATS's own default payload limit, used until a connection reports the server's.
DEFAULT_MAX_PAYLOAD = 1024 * 1024

_MAGIC = b"FCR1"
# magic, epoch, sequence, part, parts
_PACKET = struct.Struct("<4sQQII")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REPLY = struct.Struct("<BI")
_RECORD = struct.Struct("<I")


def check_subject_name(name: str, *, what: str = "session name") -> str:
    """``name`` if it can be one token of a NATS subject (letters, digits, ``_`` and
    ``-``, at most 128); otherwise ``ValueError`` naming ``what``."""
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} cannot name NATS subjects: use 1 to 128 letters, digits, '_' or '-'"
        )
    return name


def _event_token(name: str) -> str:
    """A named session's name as a subject token: itself when it can be one, else ``x``
    and its UTF-8 in hex (names may hold dots, spaces, any text)."""
    return (
        name if _TOKEN.fullmatch(name) and not name.startswith("x") else "x" + name.encode().hex()
    )


class Subjects(NamedTuple):
    """The subjects of one session (see the module's table)."""

    session: str

    @property
    def prefix(self) -> str:
        return f"{ROOT}.{self.session}"

    @property
    def frames(self) -> str:
        return f"{self.prefix}.frames"

    @property
    def current(self) -> str:
        return f"{self.prefix}.frames.current"

    @property
    def state(self) -> str:
        return f"{self.prefix}.state"

    @property
    def state_current(self) -> str:
        return f"{self.prefix}.state.current"

    @property
    def lease(self) -> str:
        return f"{self.prefix}.lease"

    def rpc(self, method: str) -> str:
        """The subject of unary method ``method`` (``"RunCommand"``; ``"*"`` for all)."""
        return f"{self.prefix}.rpc.{method}"

    def events(self, name: str) -> str:
        """The subject of named session ``name``'s events."""
        return f"{self.prefix}.events.{_event_token(name)}"


class Packet(NamedTuple):
    """One NATS message of a stream: a chunk of message ``sequence`` of stream ``epoch``."""

    epoch: int
    sequence: int
    part: int
    parts: int
    chunk: memoryview


def packets(epoch: int, sequence: int, body: bytes, max_payload: int) -> list[bytes]:
    """``body`` as the packets of one message, each at most ``max_payload`` bytes."""
    room = max_payload - _PACKET.size
    if room < 1024:
        raise ValueError(f"a NATS payload limit of {max_payload} bytes is too small")
    count = max(1, -(-len(body) // room))
    view = memoryview(body)
    return [
        _PACKET.pack(_MAGIC, epoch, sequence, index, count)
        + view[index * room : (index + 1) * room]
        for index in range(count)
    ]


def read_packet(data: bytes) -> Packet:
    """The header and chunk of a packet; ``ValueError`` for anything else."""
    if len(data) < _PACKET.size:
        raise ValueError(f"a framecast packet is at least {_PACKET.size} bytes, got {len(data)}")
    magic, epoch, sequence, part, parts = _PACKET.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError("not a framecast packet (bad magic)")
    if not 0 <= part < parts:
        raise ValueError(f"packet part {part} of {parts} is out of range")
    return Packet(epoch, sequence, part, parts, memoryview(data)[_PACKET.size :])


class Reassembler:
    """Joins the packets of one stream back into messages, in order.

    :meth:`add` returns ``(epoch, sequence, body)`` when a message's last part arrives,
    None while it is incomplete. A part out of order (one was lost) drops the message and
    sets :attr:`lost`, which the reader clears once it has re-synced.
    """

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._key: tuple[int, int] | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self.lost = False

    def add(self, data: bytes) -> tuple[int, int, bytes | memoryview] | None:
        packet = read_packet(data)
        if packet.parts > MAX_PARTS:
            raise ValueError(f"a message of {packet.parts} parts; at most {MAX_PARTS} are taken")
        key = (packet.epoch, packet.sequence)
        if packet.part == 0:
            if self._key is not None:
                self.lost = True  # the previous message never completed
            self._key, self._chunks, self._size = key, [], 0
        elif key != self._key or packet.part != len(self._chunks):
            self.lost = True
            self._key, self._chunks, self._size = None, [], 0
            return None
        if packet.parts == 1:
            # Whole in one packet, the common case: a view, not a copy.
            self._key, self._chunks, self._size = None, [], 0
            return packet.epoch, packet.sequence, packet.chunk
        self._size += len(packet.chunk)
        if self._size > self._max_bytes:
            self._key, self._chunks, self._size = None, [], 0
            raise ValueError(f"a message is larger than {self._max_bytes} bytes")
        self._chunks.append(bytes(packet.chunk))
        if packet.part + 1 < packet.parts:
            return None
        body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._key, self._chunks, self._size = None, [], 0
        return packet.epoch, packet.sequence, body


class Lease(TypedDict, total=False):
    """A NATS client's lease, the one message both ends of it use (see
    :mod:`framecast.transports.nats.requests`): who (``client``), for how long (``ttl`` s),
    its access token while a state stream is open, the named sessions it listens on (with how
    many listeners each), its open frame streams; or ``leave`` to give it back."""

    client: Required[str]
    #: Known to the holder alone: a lease is renewed, changed or given back only with it.
    secret: str
    ttl: float
    token: str
    sessions: dict[str, int]
    frames: int
    leave: bool


#: Seconds a lease lasts unless renewed (a client renews every third of it), and the
#: range a client may ask for.
LEASE_TTL = 10.0
LEASE_TTL_RANGE = (1.0, 120.0)
#: Longest client id of a lease.
MAX_LEASE_CLIENT = 128


def encode_lease(lease: Lease) -> bytes:
    """A lease as the JSON a client sends."""
    return json.dumps(lease).encode()


def decode_lease(data: bytes) -> Lease:
    """The lease in ``data``, its types and ranges checked (``ValueError`` or ``TypeError``
    naming the problem); session names are checked by the origin, against its limits."""
    request = json.loads(data)
    if not isinstance(request, dict):
        raise ValueError("a lease is a JSON object")
    client = check_name(request.get("client"), what="lease client id", max_length=MAX_LEASE_CLIENT)
    secret = request.get("secret") or ""
    if not isinstance(secret, str) or len(secret) > MAX_LEASE_CLIENT:
        raise TypeError(f"a lease's secret is a string of at most {MAX_LEASE_CLIENT} characters")
    if request.get("leave"):
        return Lease(client=client, secret=secret, leave=True)
    ttl = float(request.get("ttl", LEASE_TTL))
    low, high = LEASE_TTL_RANGE
    if not low <= ttl <= high:
        raise ValueError(f"ttl must be in {low:g}..{high:g} s, got {ttl}")
    token = request.get("token") or ""
    sessions = request.get("sessions") or {}
    frames = int(request.get("frames") or 0)
    if not isinstance(token, str) or not isinstance(sessions, dict):
        raise TypeError("a lease's token is a string and its sessions an object")
    counts = {name: int(n) for name, n in sessions.items()}
    if any(n < 0 for n in counts.values()):
        raise ValueError("a lease's session counts must not be negative")
    return Lease(
        client=client,
        secret=secret,
        ttl=ttl,
        token=token,
        sessions=counts,
        frames=max(frames, 0),
    )


def encode_reply(code: int, message: str, body: bytes = b"") -> bytes:
    """A reply to a request: a status (gRPC's code number, 0 for OK), its message, and the
    response (a serialized protobuf message or a whole frame)."""
    text = message.encode()
    return _REPLY.pack(code, len(text)) + text + body


def decode_reply(data: bytes) -> tuple[int, str, bytes]:
    """``(code, message, body)`` of :func:`encode_reply`; ``ValueError`` if malformed."""
    if len(data) < _REPLY.size:
        raise ValueError("truncated framecast reply")
    code, length = _REPLY.unpack_from(data)
    end = _REPLY.size + length
    if end > len(data):
        raise ValueError("truncated framecast reply message")
    return code, data[_REPLY.size : end].decode("utf-8", "replace"), data[end:]


def join_records(items: list[bytes]) -> bytes:
    """Several messages in one body, each after its length."""
    return b"".join(_RECORD.pack(len(item)) + item for item in items)


def records(body: bytes) -> Iterator[bytes]:
    """The messages of :func:`join_records`; ``ValueError`` if truncated."""
    at = 0
    while at < len(body):
        if at + _RECORD.size > len(body):
            raise ValueError("truncated record")
        (length,) = _RECORD.unpack_from(body, at)
        at += _RECORD.size
        if at + length > len(body):
            raise ValueError("truncated record")
        yield body[at : at + length]
        at += length


class NatsAddress(NamedTuple):
    """Where a NATS server is, how to log in, and which session (a client's URL's path).

    ``servers`` keep their credentials (``nats://user:password@host:port``,
    ``nats://token@host:port``), which the NATS client reads itself; ``creds`` is a
    ``.creds`` file (JWT and nkey seed), ``nkey`` a seed file, ``ca`` a PEM file of
    authorities to trust for TLS (``tls://`` URLs, or any URL with ``ca``).
    """

    servers: tuple[str, ...]
    session: str | None
    creds: str | None = None
    nkey: str | None = None
    ca: str | None = None
    tls: bool = False
    #: The prefix of this connection's reply subjects (``?inbox=``), if given.
    inbox: str | None = None

    def inbox_prefix(self) -> str:
        """Where replies to this connection go: ``?inbox=`` if given, else ``_INBOX_<user>``
        for a ``user:password@`` login (an account can then let each user read its own
        replies only), else NATS's ``_INBOX``."""
        if self.inbox:
            return self.inbox
        first = urlsplit(self.servers[0])
        if first.username and first.password is not None:
            user = re.sub(r"[^A-Za-z0-9_-]", "_", unquote(first.username))
            return f"{INBOX}_{user}"
        return INBOX

    def display(self) -> str:
        """The servers without credentials, for messages and logs."""
        hosts = []
        for server in self.servers:
            url = urlsplit(server)
            hosts.append(f"{url.scheme}://{url.hostname}:{url.port or 4222}")
        return ",".join(hosts)


#: NATS's own prefix of reply subjects; a user's own is ``_INBOX_<user>``.
INBOX = "_INBOX"
_INBOX_PREFIX = re.compile(r"_INBOX(_[A-Za-z0-9_-]{1,64})?")
_REPLY_SUBJECT = re.compile(r"_INBOX(_[A-Za-z0-9_-]{1,64})?(\.[A-Za-z0-9_-]{1,64}){1,4}")


def is_inbox(subject: str) -> bool:
    """True for a reply subject in an inbox (``_INBOX.x.y`` or ``_INBOX_<user>.x.y``): the
    only subjects a session answers on, so no request can make it publish anywhere else."""
    return _REPLY_SUBJECT.fullmatch(subject) is not None


def is_nats_url(address: object) -> bool:
    """True for a ``nats://`` or ``tls://`` URL (what :func:`parse_nats_url` takes)."""
    return isinstance(address, str) and address.split("://", 1)[0] in ("nats", "tls")


def parse_nats_url(url: str) -> NatsAddress:
    """``nats://[user:password@|token@]host[:port][,host:port...][/session][?creds=F&nkey=F&ca=F&inbox=P]``.

    ``tls://`` instead of ``nats://`` speaks TLS. Several servers (a cluster) are separated
    by commas and share the scheme and the credentials of the first. ``ValueError`` names
    what is wrong.
    """
    if not is_nats_url(url):
        raise ValueError(f"not a nats:// or tls:// URL: {url!r}")
    scheme, rest = url.split("://", 1)
    location, _, query = rest.partition("?")
    hosts, _, path = location.partition("/")
    if not hosts:
        raise ValueError(f"a NATS URL needs a host: {url!r}")
    login, _, hosts = hosts.rpartition("@")
    servers = []
    for host in hosts.split(","):
        if not host:
            raise ValueError(f"empty host in NATS URL {url!r}")
        server = f"{scheme}://{login + '@' if login else ''}{host}"
        try:
            split = urlsplit(server)
            split.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as error:
            raise ValueError(f"bad NATS server {host!r}: {error}") from None
        if not split.hostname:
            raise ValueError(f"bad NATS server {host!r} in {url!r}")
        servers.append(server)
    session = unquote(path.strip("/")) or None
    if session is not None:
        check_subject_name(session)
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    unknown = set(options) - {"creds", "nkey", "ca", "inbox"}
    if unknown:
        raise ValueError(
            f"unknown NATS URL option(s) {sorted(unknown)}; known: creds, nkey, ca, inbox"
        )
    inbox = options.get("inbox")
    if inbox is not None and _INBOX_PREFIX.fullmatch(inbox) is None:
        raise ValueError(
            f"an inbox is _INBOX or _INBOX_<name> (letters, digits, _ -), got {inbox!r}"
        )
    return NatsAddress(
        tuple(servers),
        session,
        creds=options.get("creds"),
        nkey=options.get("nkey"),
        ca=options.get("ca"),
        tls=scheme == "tls" or "ca" in options,
        inbox=inbox,
    )
