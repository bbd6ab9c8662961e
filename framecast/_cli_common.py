"""What the command line's commands share: usage errors, connecting, opening files."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._credentials import TOKEN_ENV
from .client import Client
from .recfile import RECORDING_SUFFIX
from .targets.replay import Replay
from .targets.trajectory import Trajectory

__all__ = ["UsageError", "connect", "connection_arguments", "open_files"]


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


def connect(args: argparse.Namespace) -> Client:
    """The client that ``args`` describe; ``UsageError`` if it cannot connect."""
    try:
        tls: bool | str | None = args.cafile or (True if args.tls else None)
        return Client(args.address, token=args.token, tls=tls, connect_timeout=args.timeout)
    except (ConnectionError, PermissionError, ValueError, ImportError) as error:
        raise UsageError(str(error)) from None


def open_files(files: Sequence[str], selection: str | None) -> Trajectory | Replay:
    """A target of the files: one .npz, one recording (.fcrec), or what MDAnalysis reads."""
    if len(files) == 1 and files[0].endswith(".npz") and selection is None:
        return Trajectory.from_npz(files[0])
    if len(files) == 1 and files[0].endswith(RECORDING_SUFFIX) and selection is None:
        return Replay(files[0])
    from .adapters.mdanalysis import from_mdanalysis

    return from_mdanalysis(files, selection)
