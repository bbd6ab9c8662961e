"""The commands that write files: ``framecast record`` and ``framecast movie``."""

from __future__ import annotations

import argparse
import time
from typing import Any, TextIO

from framecast.cli.common import UsageError, connect, connection_arguments, describe, open_files

__all__ = ["add_file_commands", "movie", "record"]


def add_file_commands(commands: Any) -> None:
    """Add ``record`` and ``movie`` to the command line's subcommands."""
    record = commands.add_parser(
        "record",
        help="record what a server broadcasts into a file",
        description="Record a framecast server's frames, shared state and published "
        "transitions into FILE (a framecast recording; replay it with framecast serve FILE).",
    )
    record.add_argument("address", help="HOST:PORT of the server, or its framecast:// URL")
    record.add_argument("file", help="the recording to write (it must not exist)")
    record.add_argument(
        "--overwrite", action="store_true", help="replace FILE if it exists already"
    )
    record.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    record.add_argument(
        "--session",
        metavar="NAME",
        action="append",
        help="named session whose events to record (repeat for more; default: default)",
    )
    connection_arguments(record)

    movie = commands.add_parser(
        "movie",
        help="draw a trajectory or a recording into a GIF or MP4, headlessly",
        description="Draw the frames of FILE (as framecast serve reads it: a recording, an "
        ".npz, or files MDAnalysis reads) in software and write them as a movie: OUT's "
        "suffix picks the format (.gif, .mp4, ...). Needs framecast[movie].",
    )
    movie.add_argument("files", nargs="+", metavar="FILE", help="what to draw")
    movie.add_argument("out", metavar="OUT", help="the movie to write (.gif, .mp4, ...)")
    movie.add_argument("--fps", type=float, default=30.0, help="default: %(default)s")
    movie.add_argument("--every", type=int, default=1, help="draw every Nth frame (default: 1)")
    movie.add_argument("--size", default="640x480", help="WIDTHxHEIGHT (default: %(default)s)")
    movie.add_argument("--selection", help="MDAnalysis selection of the atoms to draw")


def record(args: argparse.Namespace, out: TextIO) -> int:
    """Record until ``--duration`` passes, the server goes, or Ctrl-C; print the totals."""
    client = connect(args)
    with client:
        try:
            recorder = client.record(
                args.file, sessions=args.session or ["default"], overwrite=args.overwrite
            )
        except (OSError, ValueError) as error:
            raise UsageError(describe(error)) from None
        print(f"recording {client.address} into {args.file}", file=out, flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            while deadline is None or time.monotonic() < deadline:
                left = 1.0 if deadline is None else deadline - time.monotonic()
                if not recorder.recording or client.frames_ended.wait(max(min(left, 1.0), 0.0)):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            recorder.stop()
    stats = recorder.stats
    print(
        f"recorded {stats['frames']} frames ({stats['keyframes']} keyframes, "
        f"{stats['merged']} merged) in {stats['seconds']:.1f} s, {stats['bytes']:,} bytes",
        file=out,
        flush=True,
    )
    return 0


def movie(args: argparse.Namespace, out: TextIO) -> int:
    """Draw the files' frames into a movie; print where it went."""
    from framecast.export.movie import write_movie

    try:
        width, height = (int(side) for side in args.size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must be WIDTHxHEIGHT, got {args.size!r}") from None
    if width < 16 or height < 16 or args.every < 1:
        raise UsageError("--size must be at least 16x16 and --every at least 1")
    try:
        target = open_files(args.files, args.selection)
        frames = list(target.frame_range)[:: args.every]
        path = write_movie(target, args.out, frames=frames, fps=args.fps, size=(width, height))
    except (ImportError, OSError, ValueError, TypeError) as error:
        raise UsageError(describe(error)) from None
    print(f"wrote {len(frames)} frames to {path}", file=out, flush=True)
    return 0
