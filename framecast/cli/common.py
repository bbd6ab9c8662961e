"""What the command line's commands share: usage errors, connecting, opening files."""

from __future__ import annotations

import argparse
import io
import re
from collections.abc import Sequence
from typing import TextIO

from framecast._support.address import host_port
from framecast.client.client import Client
from framecast.recording.file import RECORDING_SUFFIX
from framecast.recording.replay import Replay
from framecast.session.app import DEFAULT_PORT
from framecast.targets.trajectory import Trajectory
from framecast.transports.security import TOKEN_ENV

__all__ = [
    "Escaped",
    "UsageError",
    "connect",
    "connection_arguments",
    "describe",
    "escape_controls",
    "open_files",
    "with_port",
]


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


def connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command that connects to a server as a client."""
    parser.add_argument(
        "--token", default=None, help=f"the server's token (default: the URL's, or {TOKEN_ENV})"
    )
    parser.add_argument(
        "--cafile", help="speak TLS, trusting this PEM certificate (e.g. a self-signed one)"
    )
    parser.add_argument(
        "--tls", action="store_true", help="speak TLS, trusting the system's authorities"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for the server (default: 5)"
    )


def with_port(address: str) -> tuple[str, bool]:
    """``address``, with ``framecast serve``'s default port when it names a host alone
    (``127.0.0.1``, ``localhost``, ``[::1]``); and whether the port was added."""
    if "://" in address:
        return address, False
    bare_ipv6 = address.count(":") > 1 and not address.startswith("[")
    has_port = address.rsplit("]", 1)[-1].count(":") == 1 if not bare_ipv6 else False
    if has_port or not address:
        return address, False
    return host_port(address.strip("[]"), DEFAULT_PORT), True


def connect(args: argparse.Namespace) -> Client:
    """The client that ``args`` describe; ``UsageError`` if it cannot connect."""
    address, defaulted = with_port(args.address)
    try:
        tls: bool | str | None = args.cafile or (True if args.tls else None)
        return Client(address, token=args.token, tls=tls, connect_timeout=args.timeout)
    except (ConnectionError, PermissionError, ValueError, ImportError) as error:
        said = " ".join(str(error).split())
        if defaulted:
            said += f" (no port given: tried {DEFAULT_PORT}, where framecast serve listens)"
        raise UsageError(said) from None


def describe(error: BaseException) -> str:
    """One line for a user: a file that exists or is missing named as ``serve`` names it,
    not as ``[Errno 17] File exists: ...``."""
    if isinstance(error, FileExistsError) and error.filename:
        return f"{error.filename} exists: pass --overwrite or another name"
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"no such file or folder: {error.filename}"
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.strerror.rstrip('.')}: {error.filename}"
    return " ".join(str(error).split())


def open_files(files: Sequence[str], selection: str | None) -> Trajectory | Replay:
    """A target of the files: one .npz, one recording (.fcrec), or what MDAnalysis reads."""
    if len(files) == 1 and files[0].endswith(".npz") and selection is None:
        return Trajectory.from_npz(files[0])
    if len(files) == 1 and files[0].endswith(RECORDING_SUFFIX) and selection is None:
        return Replay(files[0])
    from framecast.adapters.mdanalysis import from_mdanalysis

    return from_mdanalysis(files, selection)


#: Characters a terminal acts on instead of showing (controls, and the invisible format marks
#: that reorder or hide text); a newline and a tab are kept.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``), so that what
    a server sends (keys, labels, messages) is shown, never obeyed, by a terminal."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class Escaped(io.TextIOBase):
    """A text stream that writes to ``stream`` with control characters escaped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
