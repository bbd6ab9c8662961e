"""What the command line's commands share: usage errors, connecting, opening files."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from framecast._support.address import host_port
from framecast.client.client import Client
from framecast.recording.file import RECORDING_SUFFIX
from framecast.recording.replay import Replay
from framecast.session.app import DEFAULT_PORT
from framecast.targets.trajectory import Trajectory
from framecast.transports.security import TOKEN_ENV

__all__ = ["UsageError", "connect", "connection_arguments", "describe", "open_files", "with_port"]


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
